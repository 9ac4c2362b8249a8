/**
 * Virtual-card mode: the software wallet in-process, as a Transport. No reader, no pcscd, no
 * native module. The card emulator is loaded lazily so the daemon does not depend on it otherwise.
 */
import type { Transport } from "../../protocol/transport.js";
import { TerminalError } from "../errors.js";

export interface VirtualCardOptions {
  /** The card's state file (card-emulator personalize). */
  readonly statePath: string;
  readonly crypto?: "node" | "noble";
}

export async function openVirtualCard(options: VirtualCardOptions): Promise<Transport> {
  const [{ WalletApplet }, { FileCardStateStore }, { InProcessTransport }] = await Promise.all([
    import("../../card-emulator/applet/applet.js"),
    import("../../card-emulator/applet/state.js"),
    import("../../card-emulator/inprocess.js"),
  ]);
  let applet: InstanceType<typeof WalletApplet>;
  try {
    applet = new WalletApplet(
      new FileCardStateStore(options.statePath),
      options.crypto ? { crypto: options.crypto } : {},
    );
  } catch (cause) {
    throw new TerminalError(
      "TERM_ERR_USAGE",
      `cannot use the virtual card ${options.statePath}: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  return new InProcessTransport(applet);
}
