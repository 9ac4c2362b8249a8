import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { packageRoot } from "./paths.js";
import Database, { SQLITE_BINDING } from "./sqlite.js";

describe("the SQLite binding", () => {
  it("is better-sqlite3 13 (Node-API) from Node 22 on, and 12 on Node 20", () => {
    const major = Number(process.versions.node.split(".")[0]);
    expect(SQLITE_BINDING).toBe(major >= 22 ? "better-sqlite3-napi" : "better-sqlite3");
    const db = new Database(":memory:");
    expect(db.prepare("SELECT 1 + 1 AS two").get()).toEqual({ two: 2 });
    db.close();
  });

  it("survives the garbage collector finalizing thousands of statements and databases in normal operation", () => {
    // On Node 24 with better-sqlite3 12 this aborted the process ("Assertion failed: (env) != nullptr")
    // within a second: statements dropped while timers keep allocating are finalized from a platform
    // task. The soak runs in its own process so that an abort is seen as an exit code.
    const module = pathToFileURL(join(packageRoot(), "dist", "protocol", "sqlite.js")).href;
    const script = `
      const { default: Database } = await import(${JSON.stringify(module)});
      let rounds = 0;
      await new Promise((resolve) => {
        const timer = setInterval(() => {
          const db = new Database(":memory:");
          db.exec("CREATE TABLE t (a INTEGER)");
          for (let i = 0; i < 5000; i++) db.prepare("INSERT INTO t VALUES (?)").run(i);
          db.close();
          const junk = [];
          for (let i = 0; i < 100000; i++) junk.push({ i });
          if (++rounds === 30) { clearInterval(timer); resolve(); }
        }, 1);
      });
      process.stdout.write("rounds " + rounds);
    `;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    expect(r.stderr).not.toMatch(/Assertion failed/);
    expect({ status: r.status, signal: r.signal, stdout: r.stdout }).toEqual({
      status: 0,
      signal: null,
      stdout: "rounds 30",
    });
  });
});
