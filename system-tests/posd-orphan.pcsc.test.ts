/**
 * In PC/SC mode `posd run` re-runs itself with a larger libuv threadpool. `kill -9` of the posd a
 * user started must not leave that child running with the API port and the reader: nothing of posd
 * may answer on the port afterwards.
 */
import { describe, expect, it } from "vitest";
import { until } from "../test-support/posd-process.js";
import { systemWorld } from "./world.js";

const world = systemWorld({ name: "posd-orphan", pcsc: true, posd: true });

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function answers(url: string): Promise<boolean> {
  try {
    await fetch(`${url}/v1/status`, { signal: AbortSignal.timeout(1_000) });
    return true;
  } catch {
    return false;
  }
}

describe("posd run with the threadpool wrapper", () => {
  it("kill -9 of the posd the user started stops its child: nothing answers on the port", async () => {
    const d = await world.startDaemon(["--reader", "no such reader"], { wrapped: true });
    const listening = await d.waitForLog((l) => l.msg === "ECR API listening");
    const childPid = Number(listening.pid);
    expect(childPid).not.toBe(d.child.pid); // the work runs in the re-run child
    expect(await answers(d.url)).toBe(true);

    await d.stop("SIGKILL"); // the parent only
    await until(() => !alive(childPid), `posd's child ${childPid} to end`, 10_000);
    expect(await answers(d.url)).toBe(false);
  }, 30_000);
});
