/**
 * One helper for the many tests that assert which typed error a call throws.
 */
import { TapwalletError } from "../protocol/errors.js";

/** What codeOf returns when the call threw nothing. */
export const NO_ERROR = "no error";

/**
 * The stable code of the TapwalletError `fn` throws, or NO_ERROR. Any other exception is a bug the
 * test should see, so it is rethrown with what it was.
 */
export function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof TapwalletError) return e.code;
    throw new Error(`expected a typed error (TapwalletError), got ${String(e)}`, { cause: e });
  }
  return NO_ERROR;
}
