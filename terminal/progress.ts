/**
 * Upload progress: a bar on a terminal (cli-progress, a well-kept progress library), plain log
 * lines otherwise (daemons, pipes, CI).
 */
import { Presets, SingleBar } from "cli-progress";
import type { Logger } from "../protocol/logger.js";
import type { UploadProgress } from "./application/upload.js";

export function uploadProgress(o: { tty: boolean; logger: Logger }): UploadProgress & { stop(): void } {
  let bar: SingleBar | undefined;
  let done = 0;
  let total = 0;
  return {
    start(records, batches) {
      total = records;
      if (records === 0) return;
      if (o.tty) {
        bar = new SingleBar(
          {
            format: "upload [{bar}] {value}/{total} records | {batches} batches | {eta_formatted} left",
            hideCursor: true,
          },
          Presets.shades_classic,
        );
        bar.start(records, 0, { batches });
      } else o.logger.info({ records, batches }, "uploading");
    },
    batch(records, result) {
      done += records;
      if (bar) bar.update(done);
      else o.logger.info({ done, total, batchId: result.batchId, status: result.status }, "batch uploaded");
    },
    stop() {
      bar?.stop();
    },
  };
}
