// Buffers a job writes into: `Emitter` for key/value pairs, `Output` for output lines. Both are
// laid out as they cross the boundary (one byte buffer plus end offsets, as typed arrays), so
// the host receives them with one copy each and a job is testable natively.

import { isBytes, WORD_BYTE } from "./text.js";

const encoder = new TextEncoder();

/** A growable byte buffer with its end offsets. */
class Buffer {
  constructor() {
    this.bytes = new Uint8Array(1 << 16);
    this.length = 0;
    this.ends = new Uint32Array(1 << 12);
    this.count = 0;
  }

  /** Makes room for `n` more bytes. */
  reserve(n) {
    const need = this.length + n;
    if (need <= this.bytes.length) return;
    if (need > 0xffffffff) {
      throw new RangeError(`one batch produced ${need} bytes of output, more than the 4 GiB a batch may hold`);
    }
    let size = this.bytes.length * 2;
    while (size < need) size *= 2;
    const bytes = new Uint8Array(Math.min(size, 0xffffffff));
    bytes.set(this.bytes.subarray(0, this.length));
    this.bytes = bytes;
  }

  /** Appends `item`: a string (as UTF-8) or a Uint8Array. */
  write(item) {
    if (typeof item === "string") {
      const n = item.length;
      this.reserve(n);
      // ASCII, the usual case for keys, is copied char by char; anything else is encoded.
      const bytes = this.bytes;
      let at = this.length;
      let i = 0;
      for (; i < n; i++) {
        const c = item.charCodeAt(i);
        if (c >= 0x80) break;
        bytes[at++] = c;
      }
      this.length = at;
      if (i < n) {
        const rest = item.slice(i);
        this.reserve(3 * rest.length);
        this.length += encoder.encodeInto(rest, this.bytes.subarray(this.length)).written;
      }
    } else if (isBytes(item)) {
      this.reserve(item.length);
      this.bytes.set(item, this.length);
      this.length += item.length;
    } else {
      throw new TypeError(`keys, values and records are strings or Uint8Arrays, not ${describeType(item)}`);
    }
  }

  /** Makes room for `n` more end offsets. */
  reserveEnds(n) {
    if (this.count + n <= this.ends.length) return;
    let size = this.ends.length * 2;
    while (size < this.count + n) size *= 2;
    const ends = new Uint32Array(size);
    ends.set(this.ends.subarray(0, this.count));
    this.ends = ends;
  }

  /** Ends the current item. */
  end() {
    if (this.count === this.ends.length) this.reserveEnds(1);
    this.ends[this.count++] = this.length;
  }

  /** The items as the WIT `records`/`pairs` record: views, not copies. */
  flat() {
    return { data: this.bytes.subarray(0, this.length), ends: this.ends.subarray(0, this.count) };
  }

  /** Item `i`. */
  item(i) {
    return this.bytes.subarray(i === 0 ? 0 : this.ends[i - 1], this.ends[i]);
  }
}

function describeType(v) {
  if (v === null) return "null";
  if (typeof v === "object") return v.constructor ? `a ${v.constructor.name}` : "an object";
  return `a ${typeof v}`;
}

/** Collects the key/value pairs that `map` (or `combine`) emits. */
export class Emitter {
  constructor() {
    this.buffer = new Buffer();
  }

  /** Emits one pair; `key` and `value` are strings (written as UTF-8) or Uint8Arrays. */
  emit(key, value) {
    const b = this.buffer;
    b.write(key);
    b.end();
    b.write(value);
    b.end();
  }

  /**
   * Emits `(word, value)` for every word of `line` (a Uint8Array), the words being exactly those
   * of `asciiWords(line)`, but as bytes, in one pass over the line: about three times faster
   * than emitting `asciiWords`' strings one by one, since no string is made.
   */
  emitAsciiWords(line, value) {
    if (!isBytes(line) || !isBytes(value)) throw new TypeError("emitAsciiWords(line, value) takes two Uint8Arrays");
    const b = this.buffer;
    const len = line.length;
    const vlen = value.length;
    // At most one word per two bytes (a word and its separator), each with its value.
    const most = (len + 1) >>> 1;
    b.reserve(len + most * vlen);
    b.reserveEnds(2 * most);
    // Locals only in the loop: in SpiderMonkey's interpreter an imported binding costs a
    // lookup per use (a third of the loop's time).
    const table = WORD_BYTE;
    const bytes = b.bytes;
    const ends = b.ends;
    let at = b.length;
    let n = b.count;
    let start = at;
    for (let i = 0; i < len; i++) {
      const c = table[line[i]];
      if (c !== 0) {
        bytes[at++] = c;
      } else if (at !== start) {
        ends[n++] = at;
        bytes.set(value, at);
        at += vlen;
        ends[n++] = at;
        start = at;
      }
    }
    if (at !== start) {
      ends[n++] = at;
      bytes.set(value, at);
      at += vlen;
      ends[n++] = at;
    }
    b.length = at;
    b.count = n;
  }

  /** How many pairs were emitted. */
  get length() {
    return this.buffer.count >>> 1;
  }

  /** The pairs emitted so far, as `[key, value]` Uint8Arrays. */
  *pairs() {
    for (let i = 0; i + 1 < this.buffer.count; i += 2) yield [this.buffer.item(i), this.buffer.item(i + 1)];
  }
}

/**
 * Writes `fields` TAB-separated into `buffer`, as the Rust SDK's `Fields`: strings and
 * Uint8Arrays as they are, bigints and integer numbers in plain decimal.
 */
function writeFields(buffer, fields) {
  for (let i = 0; i < fields.length; i++) {
    if (i > 0) buffer.write("\t");
    const f = fields[i];
    if (typeof f === "string" || isBytes(f)) buffer.write(f);
    else if (typeof f === "bigint") buffer.write(f.toString());
    else if (typeof f === "number" && Number.isInteger(f) && Math.abs(f) <= Number.MAX_SAFE_INTEGER) {
      buffer.write(Object.is(f, -0) ? "0" : f.toString());
    } else {
      throw new TypeError(
        `field ${i + 1} is ${typeof f === "number" ? `the number ${f}` : describeType(f)}: a field is a string, a Uint8Array, a bigint or a safe integer; format other values yourself (for example x.toFixed(2))`,
      );
    }
  }
}

/**
 * Collects the output records `reduce` writes: one line each in the output, at the top level or
 * in a named output partition (a subdirectory such as `date=2026-03-22/`).
 */
export class Output {
  constructor() {
    this.buffer = new Buffer();
    /** Partition names used so far. */
    this.partitions = [];
    this.index = new Map();
    /** Per record: 1 + its partition's index, or 0 for the top level; empty while all are at the top level. */
    this.routes = [];
  }

  /** Writes one output record as it is (a string or a Uint8Array, without `\n`). */
  record(bytes) {
    this.buffer.write(bytes);
    this.endRecord(0);
  }

  /** Writes one record of TAB-separated fields: `out.fields(word, 3n)` writes `word\t3`. */
  fields(...fields) {
    writeFields(this.buffer, fields);
    this.endRecord(0);
  }

  /** Like {@link Output#record}, into the output partition `partition` (a `Partition` or its name). */
  recordIn(partition, bytes) {
    this.buffer.write(bytes);
    this.endRecord(this.route(partition));
  }

  /** Like {@link Output#fields}, into the output partition `partition`. */
  fieldsIn(partition, ...fields) {
    writeFields(this.buffer, fields);
    this.endRecord(this.route(partition));
  }

  route(partition) {
    const name = String(partition);
    let route = this.index.get(name);
    if (route === undefined) {
      this.partitions.push(name);
      route = this.partitions.length;
      this.index.set(name, route);
    }
    return route;
  }

  endRecord(route) {
    this.buffer.end();
    if (route !== 0 && this.routes.length === 0) {
      // The records so far went to the top level.
      for (let i = 0; i < this.buffer.count - 1; i++) this.routes.push(0);
    }
    if (route !== 0 || this.routes.length !== 0) this.routes.push(route);
  }

  /** How many records were written. */
  get length() {
    return this.buffer.count;
  }

  /** The records written so far, as Uint8Arrays. */
  *records() {
    for (let i = 0; i < this.buffer.count; i++) yield this.buffer.item(i);
  }

  /** The partition of each record so far (`undefined`: the top level). */
  *recordRoutes() {
    for (let i = 0; i < this.buffer.count; i++) {
      const r = this.routes[i] ?? 0;
      yield r === 0 ? undefined : this.partitions[r - 1];
    }
  }
}

// The flat buffer, for the native test runner (not a public API).
export { Buffer as FlatBuffer };
