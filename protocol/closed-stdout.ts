/**
 * A closed stdout is a normal end: `posd records | head -1` closes the pipe after one line, and the
 * next write fails with EPIPE. Without a listener that error would end the process with exit 1 and
 * a stack trace. Each CLI calls this once at start; `onClosed` runs once (a one-shot command exits
 * 0, a server keeps running), and later writes to the closed stream are dropped silently.
 */
export function endOnClosedStdout(
  onClosed: () => void,
  stream: NodeJS.WriteStream | NodeJS.WritableStream = process.stdout,
): void {
  let closed = false;
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE" && e.code !== "ERR_STREAM_DESTROYED" && e.code !== "ECONNRESET") throw e;
    if (closed) return;
    closed = true;
    onClosed();
  });
}
