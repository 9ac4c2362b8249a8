/**
 * BER-TLV as EMV uses it (ISO 7816-4 annex D, EMV Book 3 annex B), strict enough to walk DER X.509.
 *
 * Decoding is total on untrusted bytes: every malformed input throws a `ProtocolError` with a
 * PROTO_ERR_TLV_* code, lengths are checked before any offset is used, nesting is bounded by
 * `maxDepth`, and values are `subarray` views of the input (nothing is copied).
 *
 * What we accept:
 * - tags of 1 to 3 bytes. Tag numbers are not checked for minimality because EMV itself writes
 *   tag numbers below 31 in the two-byte form (9F02, 9F03); only the shape is checked.
 * - definite lengths in their minimal form: `0..7F`, `81 80..FF`, `82 0100..FFFF`,
 *   `83 010000..FFFFFF`. Indefinite length (`80`), 4+ length bytes and non-minimal forms are refused
 *   (DER forbids them and nothing on our wire needs them).
 * - no padding: EMV allows `00`/`FF` filler between TLVs, our protocol never sends it, so a `00`
 *   byte is read as tag 00 (one byte, primitive) like any other tag.
 */
import { concat } from "./bytes.js";
import { ProtocolError } from "./errors.js";

export interface Tlv {
  /** Identifier bytes as a big-endian number: 0x6F, 0x9F02, 0xDF8101 (1–3 bytes). */
  readonly tag: number;
  /** Bit 0x20 of the first tag byte. */
  readonly constructed: boolean;
  /** Value bytes (a view of the decoded buffer); for a constructed TLV, the encoded children. */
  readonly value: Uint8Array;
  /** Decoded children when constructed, undefined when primitive. */
  readonly children: readonly Tlv[] | undefined;
}

/** Default bound on nesting: top-level TLVs are depth 1, their children depth 2, and so on. */
export const MAX_TLV_DEPTH = 8;

/** Largest maxDepth a caller may ask for. */
export const MAX_TLV_DEPTH_LIMIT = 64;

/** Largest value length we encode or accept (three length bytes). */
export const MAX_TLV_LENGTH = 0xff_ffff;

export interface DecodeTlvOptions {
  /** Deepest nesting level accepted (top level = 1). Default MAX_TLV_DEPTH; DER certificates need ~10. */
  maxDepth?: number;
}

/** "9F02": a tag as upper-case hex of its identifier bytes, for messages. */
export function formatTag(tag: number): string {
  const digits = tag.toString(16).toUpperCase();
  return digits.length % 2 === 0 ? digits : `0${digits}`;
}

/** Number of identifier bytes of a tag number, or 0 when the number is not a well-formed 1–3 byte tag. */
function tagSize(tag: number): number {
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xff_ffff) return 0;
  if (tag <= 0xff) return (tag & 0x1f) === 0x1f ? 0 : 1;
  if (tag <= 0xffff) return ((tag >> 8) & 0x1f) === 0x1f && (tag & 0x80) === 0 ? 2 : 0;
  return ((tag >> 16) & 0x1f) === 0x1f && (tag & 0x8000) !== 0 && (tag & 0x80) === 0 ? 3 : 0;
}

/** Identifier bytes of a tag; PROTO_ERR_TLV_TAG when the number is not a well-formed 1–3 byte tag. */
export function encodeTag(tag: number): Uint8Array {
  const size = tagSize(tag);
  if (size === 1) return Uint8Array.of(tag);
  if (size === 2) return Uint8Array.of(tag >> 8, tag & 0xff);
  if (size === 3) return Uint8Array.of(tag >> 16, (tag >> 8) & 0xff, tag & 0xff);
  throw new ProtocolError(
    "PROTO_ERR_TLV_TAG",
    `not a well-formed 1-3 byte BER tag: ${typeof tag === "number" ? `0x${formatTag(tag)}` : typeof tag}`,
    { details: { tag } },
  );
}

/** Whether a tag number says "constructed" (bit 0x20 of its first byte). */
export function isConstructedTag(tag: number): boolean {
  const size = tagSize(tag);
  if (size === 0) return false;
  return ((tag >> (8 * (size - 1))) & 0x20) !== 0;
}

/** Minimal definite length: short form 0..127, then 81 xx, 82 xxxx, 83 xxxxxx. */
export function encodeLength(length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > MAX_TLV_LENGTH) {
    throw new ProtocolError("PROTO_ERR_TLV_LENGTH", `TLV length out of range 0..0xFFFFFF: ${length}`, {
      details: { length },
    });
  }
  if (length < 0x80) return Uint8Array.of(length);
  if (length <= 0xff) return Uint8Array.of(0x81, length);
  if (length <= 0xffff) return Uint8Array.of(0x82, length >> 8, length & 0xff);
  return Uint8Array.of(0x83, length >> 16, (length >> 8) & 0xff, length & 0xff);
}

/** Encode one TLV: tag | length | value. */
export function tlv(tag: number, value: Uint8Array): Uint8Array {
  return concat(encodeTag(tag), encodeLength(value.length), value);
}

/** Encode one constructed TLV whose value is the given, already encoded, children. */
export function tlvConstructed(tag: number, ...children: Uint8Array[]): Uint8Array {
  if (!isConstructedTag(tag)) {
    throw new ProtocolError("PROTO_ERR_TLV_TAG", `tag ${formatTag(tag)} is not a constructed tag`, {
      details: { tag },
    });
  }
  return tlv(tag, concat(...children));
}

function maxDepthOf(options: DecodeTlvOptions | undefined): number {
  const maxDepth = options?.maxDepth ?? MAX_TLV_DEPTH;
  // The decoder recurses once per level: the cap keeps a hostile, deeply nested buffer from
  // reaching the call stack limit whatever the caller asks for.
  if (!Number.isInteger(maxDepth) || maxDepth < 1 || maxDepth > MAX_TLV_DEPTH_LIMIT) {
    throw new RangeError(`maxDepth must be an integer 1..${MAX_TLV_DEPTH_LIMIT}`);
  }
  return maxDepth;
}

function truncated(what: string, offset: number, base: number): ProtocolError {
  return new ProtocolError("PROTO_ERR_TLV_TRUNCATED", `TLV ${what} truncated at offset ${base + offset}`, {
    details: { offset: base + offset },
  });
}

/**
 * Decode the TLV starting at `offset` of `bytes`; returns it and the offset just after it.
 * `base` is the position of `bytes` inside the outermost buffer, only for error messages.
 *
 * Layout: tag (1–3) | length (1–4) | value (length)
 *   tag:    b0; when b0 & 0x1F = 0x1F, more bytes follow while bit 0x80 is set
 *   length: 0xxxxxxx = the length; 1000 0nnn = n (1..3) big-endian length bytes follow
 */
function decodeAt(
  bytes: Uint8Array,
  offset: number,
  depth: number,
  maxDepth: number,
  base: number,
): { tlv: Tlv; end: number } {
  const start = offset;
  if (depth > maxDepth) {
    throw new ProtocolError(
      "PROTO_ERR_TLV_DEPTH",
      `TLV nesting deeper than ${maxDepth} at offset ${base + start}`,
      { details: { offset: base + start, maxDepth } },
    );
  }
  const end = bytes.length;

  // tag
  if (offset >= end) throw truncated("tag", offset, base);
  const first = bytes[offset++]!;
  let tag = first;
  if ((first & 0x1f) === 0x1f) {
    for (let size = 1; ; size++) {
      if (size === 3) {
        throw new ProtocolError(
          "PROTO_ERR_TLV_TAG",
          `TLV tag longer than 3 bytes at offset ${base + start}`,
          {
            details: { offset: base + start },
          },
        );
      }
      if (offset >= end) throw truncated("tag", offset, base);
      const next = bytes[offset++]!;
      tag = tag * 0x100 + next;
      if ((next & 0x80) === 0) break;
    }
  }

  // length
  if (offset >= end) throw truncated("length", offset, base);
  const lead = bytes[offset++]!;
  let length: number;
  if (lead < 0x80) {
    length = lead;
  } else {
    const count = lead & 0x7f;
    if (count === 0 || count > 3) {
      throw new ProtocolError(
        "PROTO_ERR_TLV_LENGTH",
        count === 0
          ? `indefinite TLV length (80) at offset ${base + offset - 1}`
          : `TLV length with ${count} length bytes at offset ${base + offset - 1} (at most 3)`,
        { details: { offset: base + offset - 1, lengthByte: lead } },
      );
    }
    if (end - offset < count) throw truncated("length", end, base);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 0x100 + bytes[offset++]!;
    const minimal = count === 1 ? length >= 0x80 : length >= 2 ** (8 * (count - 1));
    if (!minimal) {
      throw new ProtocolError(
        "PROTO_ERR_TLV_LENGTH",
        `non-minimal TLV length ${length} in ${count + 1} bytes at offset ${base + offset - count - 1}`,
        { details: { offset: base + offset - count - 1, length } },
      );
    }
  }

  // value
  if (end - offset < length) {
    throw new ProtocolError(
      "PROTO_ERR_TLV_TRUNCATED",
      `TLV ${formatTag(tag)} at offset ${base + start} announces ${length} value bytes, ${end - offset} remain`,
      { details: { offset: base + start, tag, length, remaining: end - offset } },
    );
  }
  const value = bytes.subarray(offset, offset + length);
  const constructed = (first & 0x20) !== 0;
  const children = constructed ? decodeList(value, depth + 1, maxDepth, base + offset) : undefined;
  return { tlv: { tag, constructed, value, children }, end: offset + length };
}

function decodeList(bytes: Uint8Array, depth: number, maxDepth: number, base: number): Tlv[] {
  const out: Tlv[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const next = decodeAt(bytes, offset, depth, maxDepth, base);
    out.push(next.tlv);
    offset = next.end;
  }
  return out;
}

/** Decode a buffer that is entirely a sequence of TLVs (possibly empty). */
export function decodeTlvs(bytes: Uint8Array, options?: DecodeTlvOptions): Tlv[] {
  return decodeList(bytes, 1, maxDepthOf(options), 0);
}

/** Decode exactly one TLV; bytes after it are PROTO_ERR_TLV_TRAILING. */
export function decodeOne(bytes: Uint8Array, options?: DecodeTlvOptions): Tlv {
  const { tlv: one, end } = decodeAt(bytes, 0, 1, maxDepthOf(options), 0);
  if (end !== bytes.length) {
    throw new ProtocolError(
      "PROTO_ERR_TLV_TRAILING",
      `${bytes.length - end} bytes after the TLV ${formatTag(one.tag)} (offset ${end})`,
      { details: { offset: end, trailing: bytes.length - end } },
    );
  }
  return one;
}

/** First TLV with this tag, in document order; `recursive` also searches inside constructed TLVs. */
export function findTag(
  list: readonly Tlv[],
  tag: number,
  options?: { recursive?: boolean },
): Tlv | undefined {
  for (const item of list) {
    if (item.tag === tag) return item;
    if (options?.recursive && item.children) {
      const inner = findTag(item.children, tag, options);
      if (inner) return inner;
    }
  }
  return undefined;
}

/** Every TLV with this tag, in document order; top level only unless `recursive`. */
export function findAllTags(list: readonly Tlv[], tag: number, options?: { recursive?: boolean }): Tlv[] {
  const out: Tlv[] = [];
  const walk = (items: readonly Tlv[]) => {
    for (const item of items) {
      if (item.tag === tag) out.push(item);
      if (options?.recursive && item.children) walk(item.children);
    }
  };
  walk(list);
  return out;
}

export interface RequireTagOptions {
  /** Exact value length. */
  length?: number;
  minLength?: number;
  maxLength?: number;
}

/**
 * The value of the one top-level TLV with this tag. Absent → PROTO_ERR_TLV_MISSING; present more
 * than once, or with a value length outside the bounds → PROTO_ERR_TLV_VALUE. Duplicates are refused
 * because two parsers picking different copies is how data confusion attacks start.
 */
export function requireTag(list: readonly Tlv[], tag: number, options?: RequireTagOptions): Uint8Array {
  const found = findAllTags(list, tag);
  if (found.length === 0) {
    throw new ProtocolError("PROTO_ERR_TLV_MISSING", `required tag ${formatTag(tag)} is missing`, {
      details: { tag: formatTag(tag) },
    });
  }
  if (found.length > 1) {
    throw new ProtocolError("PROTO_ERR_TLV_VALUE", `tag ${formatTag(tag)} appears ${found.length} times`, {
      details: { tag: formatTag(tag), count: found.length },
    });
  }
  const value = found[0]!.value;
  const { length, minLength, maxLength } = options ?? {};
  const problem =
    length !== undefined && value.length !== length
      ? `${length} bytes`
      : minLength !== undefined && value.length < minLength
        ? `at least ${minLength} bytes`
        : maxLength !== undefined && value.length > maxLength
          ? `at most ${maxLength} bytes`
          : undefined;
  if (problem) {
    throw new ProtocolError(
      "PROTO_ERR_TLV_VALUE",
      `tag ${formatTag(tag)} has ${value.length} value bytes, expected ${problem}`,
      { details: { tag: formatTag(tag), length: value.length } },
    );
  }
  return value;
}
