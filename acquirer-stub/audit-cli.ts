/**
 * The operator audit log on the command line (registered from cli.ts):
 *
 *   acquirer-stub audit [--since ISO-date] [--limit N] [--json] [--db F]
 *
 * and who a CLI operator is: `--operator <name>` when given, else the OS user name. Every
 * operator command (block, unblock, revoke-terminal, wallet report-lost | release | set-params)
 * takes `--operator` and writes its row in its own transaction (db/audit.ts).
 */
import { userInfo } from "node:os";
import { type Command, Option } from "commander";
import type { AuditEntry, OperatorActor } from "./db/audit.js";
import { iso } from "./db/columns.js";
import type { AcquirerStore } from "./db/store.js";
import { isCalendarDate } from "./domain/settle.js";
import { AcquirerError } from "./errors.js";

const usage = (message: string) => new AcquirerError("ACQ_ERR_USAGE", message);

export const operatorOption = () =>
  new Option("--operator <name>", "who you are, for the audit log (default: your OS user name)");

/** The CLI's operator: `--operator`, else the OS user name (else $USER, else the uid). */
export function cliActor(operator: string | undefined): OperatorActor {
  if (operator !== undefined) {
    if (operator.trim() === "") throw usage("--operator is empty");
    return { via: "cli", who: operator, address: null };
  }
  let who: string;
  try {
    who = userInfo().username;
  } catch {
    // No passwd entry for this uid (some containers): say what is known.
    who = process.env.USER || `uid ${process.getuid?.() ?? "?"}`;
  }
  return { via: "cli", who, address: null };
}

/** `--since`: a date (YYYY-MM-DD, UTC midnight) or an ISO 8601 time with its zone; unix seconds. */
function sinceSeconds(text: string): number {
  const shape = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/.test(text);
  const ms = shape && isCalendarDate(text.slice(0, 10)) ? Date.parse(text) : Number.NaN;
  if (!Number.isFinite(ms))
    throw usage(
      `--since must be an ISO date or a time with its zone (2026-11-24, 2026-11-24T08:00:00Z), got ${JSON.stringify(text)}`,
    );
  return Math.floor(ms / 1000);
}

function limitOption(text: string): number {
  if (!/^[1-9]\d{0,5}$/.test(text)) throw usage(`--limit must be 1..999999, got ${JSON.stringify(text)}`);
  return Number(text);
}

const actorText = (e: AuditEntry) => (e.address ? `${e.who} from ${e.address}` : e.who) + ` (${e.via})`;

const outcomeText = (outcome: Readonly<Record<string, unknown>>) =>
  Object.entries(outcome)
    .filter(([, v]) => v !== null && !(Array.isArray(v) && v.length === 0))
    .map(([k, v]) => `${k} ${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
    .join(", ");

export function renderAudit(entries: readonly AuditEntry[]): string[] {
  if (entries.length === 0) return ["no operator actions recorded"];
  return entries.flatMap((e) => [
    `${iso(e.at)}  ${e.action.padEnd(15)} ${e.subject.padEnd(16)} by ${actorText(e)}`,
    `    why: ${e.reason ?? "(not given)"};  outcome: ${outcomeText(e.outcome) || "none"}`,
  ]);
}

export interface AuditCliSupport {
  dbOption(): Option;
  withStore<T>(db: string, fn: (store: AcquirerStore) => Promise<T>): Promise<T>;
  printJson(value: unknown): void;
}

export function registerAuditCommand(program: Command, cli: AuditCliSupport): void {
  program
    .command("audit")
    .description(
      "the operator audit log, newest first: who (the HTTP operator token or open routes and the remote\n" +
        "address, or the CLI operator), when, what (block, unblock, report-lost, release, set-params,\n" +
        "revoke-terminal), on which wallet or terminal, why, and what came of it",
    )
    .option("--since <ISO-date>", "only actions at or after this date (UTC) or time")
    .option("--limit <N>", "at most N actions (the newest)")
    .option("--json", "print JSON")
    .addOption(cli.dbOption())
    .action(async (o: { since?: string; limit?: string; json?: boolean; db: string }) => {
      const query = {
        ...(o.since !== undefined ? { since: sinceSeconds(o.since) } : {}),
        ...(o.limit !== undefined ? { limit: limitOption(o.limit) } : {}),
      };
      const entries = await cli.withStore(o.db, (s) => s.operatorAudit(query));
      if (o.json) return cli.printJson({ entries: entries.map((e) => ({ ...e, at: iso(e.at) })) });
      process.stdout.write(`${renderAudit(entries).join("\n")}\n`);
    });
}
