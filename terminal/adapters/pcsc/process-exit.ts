/**
 * Ending a posd process that used a PC/SC reader. A transmit to a card that stopped answering never
 * returns (PC/SC has no timeout); the transport gives up on it after its per-APDU timeout, but the
 * native call keeps one libuv threadpool thread until the card leaves the field — and a process
 * with such a thread cannot exit: `process.exit()` (and a natural exit) wait for the pool forever.
 * Measured on Node 20 (terminal/adapters/pcsc/threadpool.ts): with no SIGTERM listener installed,
 * `process.kill(process.pid, "SIGTERM")` ends the process at once.
 *
 * So exitProcess(): a normal process.exit(code) when no transmit is hung; otherwise the exit code is
 * reported to the ensureThreadpool() parent (fd $TAPWALLET_EXIT_CODE_FD, which then exits with it)
 * and the process ends itself with SIGTERM. Without that parent (UV_THREADPOOL_SIZE already set, as
 * in the systemd unit) the status is "killed by SIGTERM" (143 in a shell), which systemd counts as
 * a clean stop.
 */
import { writeSync } from "node:fs";
import { EXIT_CODE_FD_ENV } from "./threadpool.js";
import { hungTransmitCount } from "./transport.js";

/** True when a timed-out transmit still holds a threadpool thread (a normal exit would hang). */
export function exitWouldHang(): boolean {
  return hungTransmitCount() > 0;
}

/** End the process with `code`, also when a hung transmit would make process.exit() hang. */
export function exitProcess(code: number): never {
  if (!exitWouldHang()) process.exit(code);
  reportExitCode(code);
  // Every listener goes, so that SIGTERM's default action (terminate) applies.
  process.removeAllListeners("SIGTERM");
  process.kill(process.pid, "SIGTERM");
  // Delivery is immediate; this thread waits for it without running anything else, and should it
  // somehow not come, SIGKILL ends the process.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2_000);
  process.kill(process.pid, "SIGKILL");
  throw new Error("unreachable: the process was killed");
}

function reportExitCode(code: number, env: NodeJS.ProcessEnv = process.env): void {
  const fd = Number.parseInt(env[EXIT_CODE_FD_ENV] ?? "", 10);
  if (!Number.isInteger(fd) || fd < 3) return;
  try {
    writeSync(fd, `${code}\n`);
  } catch {
    // No parent listening: the exit status is SIGTERM's.
  }
}
