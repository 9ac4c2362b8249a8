/**
 * nfc-pcsc runs every SCardTransmit / SCardConnect / SCardControl on libuv's threadpool (4 threads
 * by default). A transmit to a mute card never returns, and while it hangs it holds its thread; with
 * four held, every fs call, dns.lookup and async crypto of the process waits. (better-sqlite3 is
 * synchronous and does not use the pool.) posd therefore wants a bigger pool.
 *
 * Measured on Node 20.20 and 24.21 (terminal/adapters/pcsc/threadpool.test.ts keeps it honest):
 * - libuv reads UV_THREADPOOL_SIZE once, when the pool starts.
 * - On Node 20 an ESM entry point starts the pool while it is being loaded (the ESM loader reads files
 *   through fs/promises), so `process.env.UV_THREADPOOL_SIZE = "16"` anywhere in an ESM program —
 *   even its first line — changes nothing. Node 24 starts the pool at its first use, so there it
 *   would be in time; ensureThreadpool() does not rely on either.
 * - What works: the variable in the environment before node starts (a systemd unit's
 *   `Environment=UV_THREADPOOL_SIZE=16`, or `#!/usr/bin/env -S UV_THREADPOOL_SIZE=16 node`), or set
 *   from a CommonJS entry / a `--require` preload before the ESM program is imported — or
 *   ensureThreadpool() below, which re-runs the program once with the variable set.
 * - A process with a hung pool thread cannot exit: process.exit() (and a natural exit) waits for the
 *   pool's threads forever (measured with a real hung SCardTransmit too). Removing the card ends the
 *   transmit; otherwise only a signal ends the process: with no SIGTERM listener installed,
 *   `process.kill(process.pid, "SIGTERM")` exits at once (status 143). PcscService.hungTransmits()
 *   tells when that is needed; terminal/adapters/pcsc/process-exit.ts does it. So that such an exit still
 *   ends with the intended exit code, ensureThreadpool() gives its child a pipe on fd 3 (named in
 *   $TAPWALLET_EXIT_CODE_FD): a child that writes its exit code there before ending itself with
 *   SIGTERM makes the parent exit with that code.
 */
import { spawn } from "node:child_process";
import { Socket } from "node:net";
import type { Readable } from "node:stream";

/** Room for a hung transmit per reader plus the pool's normal work. */
export const PCSC_THREADPOOL_SIZE = 16;

/** Names the child's file descriptor on which it may report its exit code (see above). */
export const EXIT_CODE_FD_ENV = "TAPWALLET_EXIT_CODE_FD";

/**
 * Names the child's file descriptor that the parent holds open and never writes: it reaches end of
 * file when the parent dies, even by SIGKILL, and the child then stops as on SIGTERM (watchParent).
 * Without it, `kill -9` of the posd a user started left the daemon running, holding the API port
 * and the reader.
 */
export const PARENT_FD_ENV = "TAPWALLET_PARENT_FD";

/** libuv's default pool size. */
const LIBUV_DEFAULT = 4;

/** The pool size this process started with (UV_THREADPOOL_SIZE as libuv reads it, else 4). */
export function threadpoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number.parseInt(env.UV_THREADPOOL_SIZE ?? "", 10);
  if (!Number.isFinite(n) || n < 1) return LIBUV_DEFAULT;
  return Math.min(n, 1024);
}

/**
 * Make sure this process runs with a threadpool of at least `size` threads. Call it first thing in
 * the CLI entry:
 *
 *   if (ensureThreadpool()) program.parse();   // false: a child with the bigger pool does the work
 *
 * Returns true when UV_THREADPOOL_SIZE was already set (to any value: an operator's explicit
 * choice is kept) — nothing else happens then. Otherwise it re-runs the same program (same node,
 * flags and arguments, stdio inherited) with UV_THREADPOOL_SIZE=size, forwards SIGINT / SIGTERM /
 * SIGHUP to it, ends this process with the child's exit code or signal, and returns false: the caller
 * must do nothing else. Setting the variable in the environment avoids the extra process.
 */
export function ensureThreadpool(size = PCSC_THREADPOOL_SIZE): boolean {
  if (process.env.UV_THREADPOOL_SIZE !== undefined) return true;
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: ["inherit", "inherit", "inherit", "pipe", "pipe"],
    env: {
      ...process.env,
      UV_THREADPOOL_SIZE: String(size),
      [EXIT_CODE_FD_ENV]: "3",
      [PARENT_FD_ENV]: "4",
    },
  });
  // Held open, never written: its end of file tells the child that this process is gone.
  child.stdio[4]?.on("error", () => {});
  let reported = "";
  const channel = child.stdio[3] as Readable | null | undefined;
  channel?.setEncoding("utf8");
  channel?.on("data", (text: string) => {
    reported = (reported + text).slice(-64);
  });
  channel?.on("error", () => {});
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal);
  };
  for (const s of signals) process.on(s, forward);
  child.on("error", (e) => {
    process.stderr.write(
      `cannot start ${process.argv[1] ?? "node"} with a larger threadpool: ${e.message}\n`,
    );
    process.exitCode = 1;
  });
  // "close", not "exit": the exit code the child may have written to fd 3 has been read by then.
  child.on("close", (code, signal) => {
    for (const s of signals) process.off(s, forward);
    const intended = /(\d{1,3})\s*$/.exec(reported);
    if (signal === "SIGTERM" && intended) process.exitCode = Number(intended[1]);
    else if (signal) process.kill(process.pid, signal);
    else process.exitCode = code ?? 1;
  });
  return false;
}

/**
 * In the child of ensureThreadpool(): when the parent is gone (its end of the $TAPWALLET_PARENT_FD
 * pipe closed, which the kernel does however it died), stop this process the way SIGTERM does, so
 * that nothing of posd goes on answering on the API port or holding the reader. Does nothing in a
 * process that was not started by ensureThreadpool(). The watch does not keep the process alive.
 */
export function watchParent(onGone: () => void = () => process.kill(process.pid, "SIGTERM")): void {
  const fd = Number.parseInt(process.env[PARENT_FD_ENV] ?? "", 10);
  if (!Number.isInteger(fd) || fd < 3) return;
  delete process.env[PARENT_FD_ENV];
  let socket: Socket;
  try {
    socket = new Socket({ fd, readable: true, writable: false });
  } catch {
    return;
  }
  let gone = false;
  const fire = () => {
    if (gone) return;
    gone = true;
    onGone();
  };
  socket.on("data", () => {});
  socket.on("end", fire);
  socket.on("close", fire);
  socket.on("error", fire);
  socket.unref();
}
