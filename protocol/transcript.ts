/**
 * The APDU transcript text format (ledgerjs RecordStore style): what RecordingTransport writes and
 * ReplayTransport replays, and what fixtures/transcripts/*.apdu hold.
 *
 *   # tapwallet apdu transcript v1
 *   # card: emulator 0.1          metadata: "# key: value" lines before the first exchange
 *   => 00a4040008f054415057414c0100
 *   <= 6f1a...9000  # 0.152 ms     response, with an optional timing comment
 *
 * Parsing: blank lines and other `#` lines are ignored (after the first exchange every `#` line is a
 * plain comment); a `#` after the hex on a `=>` / `<=` line starts a comment. Every `=>` is followed
 * by exactly one `<=`; a response has at least the two status bytes. Hex may be in any case and
 * may have spaces between bytes. Anything else → PROTO_ERR_TRANSCRIPT_FORMAT naming the line.
 * Formatting writes lower-case hex.
 */
import { hex } from "./bytes.js";
import { ProtocolError } from "./errors.js";

export const TRANSCRIPT_HEADER = "# tapwallet apdu transcript v1";

export interface TranscriptExchange {
  readonly command: Uint8Array;
  readonly response: Uint8Array;
  /** Time the exchange took, from the `# 0.152 ms` comment, when present. */
  readonly durationMs?: number | undefined;
}

export interface ParsedExchange extends TranscriptExchange {
  /** 1-based line numbers of the `=>` and `<=` lines. */
  readonly commandLine: number;
  readonly responseLine: number;
}

export interface Transcript {
  readonly meta: Readonly<Record<string, string>>;
  readonly exchanges: readonly ParsedExchange[];
}

const META_KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const HEX_DIGITS = /^[0-9a-fA-F]*$/;
const TIMING = /^\s*([0-9]+(?:\.[0-9]+)?)\s*ms\s*$/;

function formatError(line: number, why: string, text?: string): ProtocolError {
  const shown = text === undefined ? "" : `: ${JSON.stringify(text.slice(0, 60))}`;
  return new ProtocolError("PROTO_ERR_TRANSCRIPT_FORMAT", `transcript line ${line}: ${why}${shown}`, {
    details: { line },
  });
}

/** Hex of a `=>` / `<=` line after the arrow, and the comment after `#` if any. */
function parseHexField(rest: string, line: number, raw: string): { bytes: Uint8Array; comment?: string } {
  const hash = rest.indexOf("#");
  const field = (hash < 0 ? rest : rest.slice(0, hash)).replace(/\s+/g, "");
  if (!HEX_DIGITS.test(field) || field.length % 2 !== 0)
    throw formatError(line, "not hexadecimal bytes", raw);
  if (field.length === 0) throw formatError(line, "no bytes", raw);
  const bytes = new Uint8Array(Buffer.from(field, "hex"));
  return hash < 0 ? { bytes } : { bytes, comment: rest.slice(hash + 1) };
}

/** Parse transcript text; PROTO_ERR_TRANSCRIPT_FORMAT with the line number on the first bad line. */
export function parseTranscript(text: string): Transcript {
  if (typeof text !== "string") throw formatError(0, "transcript must be text");
  const meta: Record<string, string> = {};
  const exchanges: ParsedExchange[] = [];
  let pending: { command: Uint8Array; line: number } | undefined;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i]!.endsWith("\r") ? lines[i]!.slice(0, -1) : lines[i]!;
    const line = raw.trim();
    if (line === "") continue;
    if (line.startsWith("#")) {
      if (exchanges.length > 0 || pending) continue;
      const colon = line.indexOf(":");
      if (colon < 0) continue;
      const key = line.slice(1, colon).trim();
      if (!META_KEY.test(key)) continue;
      if (Object.hasOwn(meta, key)) throw formatError(lineNo, `metadata key "${key}" repeated`);
      meta[key] = line.slice(colon + 1).trim();
      continue;
    }
    if (line.startsWith("=>")) {
      if (pending) throw formatError(pending.line, "command without a response");
      pending = { command: parseHexField(line.slice(2), lineNo, raw).bytes, line: lineNo };
      continue;
    }
    if (line.startsWith("<=")) {
      if (!pending) throw formatError(lineNo, "response without a command");
      const { bytes, comment } = parseHexField(line.slice(2), lineNo, raw);
      if (bytes.length < 2) throw formatError(lineNo, "response shorter than the 2 status bytes", raw);
      const timing = comment === undefined ? null : TIMING.exec(comment);
      exchanges.push({
        command: pending.command,
        response: bytes,
        durationMs: timing ? Number(timing[1]) : undefined,
        commandLine: pending.line,
        responseLine: lineNo,
      });
      pending = undefined;
      continue;
    }
    throw formatError(lineNo, "expected '=> hex', '<= hex', '#' or a blank line", raw);
  }
  if (pending) throw formatError(pending.line, "command without a response");
  return { meta: Object.freeze(meta), exchanges };
}

export interface FormatTranscriptOptions {
  /** Write the `# 0.152 ms` comments (default true); off for fixtures that must not churn. */
  timings?: boolean;
}

/** Render a transcript: header, `# key: value` metadata, then `=>` / `<=` lines in lower-case hex. */
export function formatTranscript(
  transcript: { meta?: Readonly<Record<string, string>>; exchanges: readonly TranscriptExchange[] },
  options?: FormatTranscriptOptions,
): string {
  const out = [TRANSCRIPT_HEADER];
  for (const [key, value] of Object.entries(transcript.meta ?? {})) {
    if (!META_KEY.test(key) || /[\r\n]/.test(value)) {
      throw new ProtocolError(
        "PROTO_ERR_TRANSCRIPT_FORMAT",
        `metadata ${JSON.stringify(key)} cannot be written (key [A-Za-z0-9_.-], value on one line)`,
        { details: { key } },
      );
    }
    out.push(`# ${key}: ${value}`);
  }
  const timings = options?.timings ?? true;
  for (const [i, e] of transcript.exchanges.entries()) {
    if (e.command.length === 0 || e.response.length < 2) {
      throw new ProtocolError(
        "PROTO_ERR_TRANSCRIPT_FORMAT",
        `exchange ${i + 1} cannot be written: empty command or response without status word`,
        { details: { exchange: i + 1 } },
      );
    }
    out.push(`=> ${hex(e.command)}`);
    out.push(
      timings && e.durationMs !== undefined
        ? `<= ${hex(e.response)}  # ${e.durationMs.toFixed(3)} ms`
        : `<= ${hex(e.response)}`,
    );
  }
  return `${out.join("\n")}\n`;
}
