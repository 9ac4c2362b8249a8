/**
 * Byte helpers. `Uint8Array` everywhere inside protocol/; Node `Buffer` only at I/O edges.
 */
import { timingSafeEqual } from "node:crypto";
import { ProtocolError } from "./errors.js";

const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;

/** Lower-case hex of bytes, no separators. */
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/** Parse hex; spaces are allowed between bytes ("00 A4 04 00"). */
export function fromHex(text: string): Uint8Array {
  const compact = text.replace(/\s+/g, "");
  if (!HEX_RE.test(compact))
    throw new ProtocolError("PROTO_ERR_HEX", `not hexadecimal: ${text.slice(0, 40)}`);
  return new Uint8Array(Buffer.from(compact, "hex"));
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export function u8(n: number): Uint8Array {
  return Uint8Array.of(n & 0xff);
}

export function u16be(n: number): Uint8Array {
  return Uint8Array.of((n >>> 8) & 0xff, n & 0xff);
}

export function u32be(n: number): Uint8Array {
  return Uint8Array.of((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

export function readU16be(b: Uint8Array, offset = 0): number {
  return (b[offset]! << 8) | b[offset + 1]!;
}

export function readU32be(b: Uint8Array, offset = 0): number {
  return ((b[offset]! << 24) >>> 0) + ((b[offset + 1]! << 16) | (b[offset + 2]! << 8) | b[offset + 3]!);
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Constant-time comparison for MACs, hashes and anything secret-derived. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Decode UTF-8; returns undefined for invalid sequences instead of replacing them. */
export function fromUtf8(bytes: Uint8Array): string | undefined {
  try {
    return decoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/** View bytes as a Buffer without copying (for node APIs). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Overwrite secret material in place (session keys, shared secrets) once it is no longer needed. */
export function zeroize(...buffers: Uint8Array[]): void {
  for (const b of buffers) b.fill(0);
}
