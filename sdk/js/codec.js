// Encodings for keys and values whose byte order is their natural order, as the Rust SDK's
// `codec` module: the host sorts keys (and the values of each key) by their bytes.

import { RecordError } from "./errors.js";
import { isBytes } from "./text.js";

const SIGN = 1n << 63n;
const TWO32 = 4294967296;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;
const U64_MAX = (1n << 64n) - 1n;

/** Writes the i64 `v` (a bigint or a safe integer number) as 8 big-endian bytes, sign flipped. */
function writeI64(bytes, at, v) {
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) {
      throw new RangeError(`${v} is not an integer that a number holds exactly: pass a bigint`);
    }
    const hi = Math.floor(v / TWO32);
    const lo = v - hi * TWO32;
    const h = (hi ^ 0x80000000) >>> 0;
    bytes[at] = h >>> 24;
    bytes[at + 1] = (h >>> 16) & 0xff;
    bytes[at + 2] = (h >>> 8) & 0xff;
    bytes[at + 3] = h & 0xff;
    bytes[at + 4] = lo >>> 24;
    bytes[at + 5] = (lo >>> 16) & 0xff;
    bytes[at + 6] = (lo >>> 8) & 0xff;
    bytes[at + 7] = lo & 0xff;
    return;
  }
  if (typeof v !== "bigint") throw new TypeError(`expected a bigint or an integer number, got ${typeof v}`);
  if (v < I64_MIN || v > I64_MAX) throw new RangeError(`${v} does not fit in an i64`);
  new DataView(bytes.buffer, bytes.byteOffset + at, 8).setBigUint64(0, BigInt.asUintN(64, v) ^ SIGN);
}

/** Checks that `bytes` holds `n` bytes. */
function expectLength(bytes, n, what) {
  if (!isBytes(bytes)) throw new TypeError(`expected a Uint8Array, got ${typeof bytes}`);
  if (bytes.length !== n) throw new RangeError(`expected ${what} (${n} bytes), got ${bytes.length} bytes`);
}

/** `v` (0 to 2^64 - 1) as 8 big-endian bytes: byte order is numeric order. */
export function u64Key(v) {
  const b = BigInt(v);
  if (b < 0n || b > U64_MAX) throw new RangeError(`${v} does not fit in a u64`);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, b);
  return out;
}

/** Decodes {@link u64Key}: a bigint. */
export function decodeU64(bytes) {
  expectLength(bytes, 8, "an 8-byte number");
  return new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0);
}

/**
 * `v` (an i64 as a bigint, or a safe integer number) as 8 big-endian bytes with the sign bit
 * flipped: byte order is numeric order, negative numbers first.
 */
export function i64Key(v) {
  const out = new Uint8Array(8);
  writeI64(out, 0, v);
  return out;
}

/** Decodes {@link i64Key}: a bigint. */
export function decodeI64(bytes) {
  expectLength(bytes, 8, "an 8-byte number");
  return BigInt.asIntN(64, new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0) ^ SIGN);
}

/** Several i64s, each as {@link i64Key}, back to back: the layout the host's `sum` merge adds. */
export function i64Lanes(values) {
  const out = new Uint8Array(8 * values.length);
  for (let i = 0; i < values.length; i++) writeI64(out, 8 * i, values[i]);
  return out;
}

/** Decodes {@link i64Lanes} of `n` lanes: an array of bigints. */
export function decodeI64Lanes(bytes, n) {
  expectLength(bytes, 8 * n, `${n} 8-byte numbers`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const out = new Array(n);
  for (let i = 0; i < n; i++) out[i] = BigInt.asIntN(64, view.getBigUint64(8 * i) ^ SIGN);
  return out;
}

/**
 * `value` as an i64 bigint: an integer number, a bigint, or decimal text (as a CSV field, with
 * surrounding whitespace) in the i64 range. Anything else is a {@link RecordError} naming `what`:
 * use it on a field of a parsed record.
 */
export function i64(value, what = "value") {
  if (typeof value === "bigint") {
    if (value >= I64_MIN && value <= I64_MAX) return value;
  } else if (typeof value === "number") {
    if (Number.isSafeInteger(value)) return BigInt(value);
  } else if (typeof value === "string") {
    const text = value.trim();
    if (/^[+-]?[0-9]+$/.test(text)) {
      const v = BigInt(text);
      if (v >= I64_MIN && v <= I64_MAX) return v;
    }
    throw new RecordError(`${what}: ${JSON.stringify(value)} is not a valid i64`);
  } else if (value === undefined) {
    throw new RecordError(`${what}: missing`);
  }
  let shown;
  try {
    shown = typeof value === "bigint" ? String(value) : JSON.stringify(value);
  } catch {
    shown = typeof value;
  }
  throw new RecordError(`${what}: ${shown} is not a valid i64`);
}
