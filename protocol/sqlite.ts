/**
 * The SQLite binding, chosen by the Node version it runs on. Every store opens its database through
 * this module, never through "better-sqlite3" directly.
 *
 * - Node 22 and later: better-sqlite3 13, built on Node-API, with prebuilt binaries in the package.
 *   better-sqlite3 12 subclasses V8's node::ObjectWrap, and on Node 24 a Statement or Database that
 *   the garbage collector finalizes from a platform task (no JavaScript context entered) aborts the
 *   whole process with "Assertion failed: (env) != nullptr" in node::RemoveEnvironmentCleanupHook.
 *   That happens in normal operation, not only at exit, so a long-running posd would die.
 * - Node 20: better-sqlite3 12, compiled at install. 13 segfaults on Node 20 at its first statement.
 *
 * The two have the same JavaScript API (13 is a superset) and the same typings.
 */
import { createRequire } from "node:module";
import type BetterSqlite3 from "better-sqlite3";

const require = createRequire(import.meta.url);
const nodeMajor = Number(process.versions.node.split(".")[0]);

/** The npm package in use: "better-sqlite3" (12, Node 20) or its alias "better-sqlite3-napi" (13). */
export const SQLITE_BINDING = nodeMajor >= 22 ? "better-sqlite3-napi" : "better-sqlite3";

const Database = require(SQLITE_BINDING) as typeof BetterSqlite3;

declare namespace Database {
  export type Database = BetterSqlite3.Database;
  export type Options = BetterSqlite3.Options;
}

export default Database;
