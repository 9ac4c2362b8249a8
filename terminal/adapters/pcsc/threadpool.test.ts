/**
 * The threadpool facts threadpool.ts relies on, measured in child processes: a FIFO opened for
 * reading with no writer blocks its pool thread exactly like a transmit to a mute card does.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { threadpoolSize } from "./threadpool.js";

const run = promisify(execFile);
let dir: string;

/**
 * An ESM program: optionally sets UV_THREADPOOL_SIZE itself or calls ensureThreadpool(), then hangs
 * 4 pool threads and times an fs.promises.readFile. Prints JSON; unblocks the FIFOs before exiting.
 */
const PROGRAM = `
import fs from "node:fs";
import { ensureThreadpool } from "./threadpool.mjs";
const mode = process.argv[2];
if (mode === "set-env-inside") process.env.UV_THREADPOOL_SIZE = "16";
if (mode === "ensure" && !ensureThreadpool(16)) { /* the child does the work */ }
else {
  const dir = process.argv[3];
  const fifos = [1, 2, 3, 4].map((i) => dir + "/fifo" + i);
  for (const f of fifos) fs.open(f, "r", () => {});
  await new Promise((r) => setTimeout(r, 50));
  const t = performance.now();
  const done = await Promise.race([
    fs.promises.readFile(dir + "/data.txt", "utf8").then(() => performance.now() - t),
    new Promise((r) => setTimeout(() => r(null), 1000).unref()),
  ]);
  console.log(JSON.stringify({ pid: process.pid, pool: process.env.UV_THREADPOOL_SIZE ?? null, readFileMs: done }));
  // Release the blocked opens so that the process can exit (a blocked pool thread prevents exit).
  for (const f of fifos) fs.closeSync(fs.openSync(f, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
}
`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tapwallet-threadpool-"));
  const source = readFileSync(new URL("./threadpool.ts", import.meta.url), "utf8");
  const js = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  writeFileSync(join(dir, "threadpool.mjs"), js);
  writeFileSync(join(dir, "program.mjs"), PROGRAM);
  writeFileSync(join(dir, "data.txt"), "hello");
  for (const i of [1, 2, 3, 4]) await run("mkfifo", [join(dir, `fifo${i}`)]);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function program(mode: string, env: Record<string, string> = {}) {
  const childEnv = { ...process.env, ...env };
  if (!("UV_THREADPOOL_SIZE" in env)) delete childEnv.UV_THREADPOOL_SIZE;
  const { stdout } = await run(process.execPath, [join(dir, "program.mjs"), mode, dir], {
    env: childEnv,
    timeout: 10_000,
  });
  return JSON.parse(stdout.trim()) as { pid: number; pool: string | null; readFileMs: number | null };
}

const nodeMajor = Number(process.versions.node.split(".")[0]);

describe("libuv threadpool with hung PC/SC calls", () => {
  it("four hung pool threads stall fs.promises in a default process", async () => {
    expect((await program("plain")).readFileMs).toBeNull();
  });

  // Node 20 starts the pool while it loads an ESM program, before its first line runs; Node 24 starts
  // it at the first use. ensureThreadpool() sets the size before the process starts, right on both.
  it(`setting UV_THREADPOOL_SIZE inside an ESM program is ${nodeMajor < 24 ? "too late on Node 20" : "in time on Node 24"}`, async () => {
    const { readFileMs } = await program("set-env-inside");
    if (nodeMajor < 24) expect(readFileMs).toBeNull();
    else expect(readFileMs).not.toBeNull();
  });

  it("UV_THREADPOOL_SIZE in the environment at start works", async () => {
    const r = await program("plain", { UV_THREADPOOL_SIZE: "16" });
    expect(r.readFileMs).not.toBeNull();
    expect(r.readFileMs!).toBeLessThan(100);
  });

  it("ensureThreadpool() re-runs the program with a larger pool: file I/O stays prompt", async () => {
    const r = await program("ensure");
    expect(r.pool).toBe("16");
    expect(r.readFileMs).not.toBeNull();
    expect(r.readFileMs!).toBeLessThan(100);
  });

  it("threadpoolSize() reads the variable as libuv does", () => {
    expect(threadpoolSize({})).toBe(4);
    expect(threadpoolSize({ UV_THREADPOOL_SIZE: "16" })).toBe(16);
    expect(threadpoolSize({ UV_THREADPOOL_SIZE: "0" })).toBe(4);
    expect(threadpoolSize({ UV_THREADPOOL_SIZE: "5000" })).toBe(1024);
  });
});
