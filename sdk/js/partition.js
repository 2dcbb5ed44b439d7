// Output partition names: `key=value` directories escaped as Hive and Spark write them, exactly
// as the Rust SDK's `partition` module (see its docs for the rules the host enforces).

import { RecordError } from "./errors.js";

/** The characters besides ASCII letters and digits that {@link escape} keeps as they are. */
export const UNESCAPED = "-_.+";

const encoder = new TextEncoder();
const strict = new TextDecoder("utf-8", { fatal: true });
const HEX = "0123456789ABCDEF";

/** Whether `escape` keeps the byte `b` as it is (anywhere but at the start). */
function keeps(b) {
  return (
    (b >= 0x30 && b <= 0x39) ||
    (b >= 0x41 && b <= 0x5a) ||
    (b >= 0x61 && b <= 0x7a) ||
    b === 0x2d || b === 0x5f || b === 0x2e || b === 0x2b
  );
}

/**
 * `value` escaped for a partition name: ASCII letters, digits and `-_.+` as they are, every other
 * byte of its UTF-8 as `%XX`; a leading `.` or `_`, or the `p` of a leading `part-`, is escaped
 * too. The result never contains `/` or `=`.
 *
 *     escape("São Paulo, BR") // "S%C3%A3o%20Paulo%2C%20BR"
 */
export function escape(value) {
  const bytes = encoder.encode(String(value));
  const part = String(value).startsWith("part-");
  let out = "";
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    const leading = i === 0 && (b === 0x2e || b === 0x5f || part);
    out += keeps(b) && !leading ? String.fromCharCode(b) : `%${HEX[b >> 4]}${HEX[b & 15]}`;
  }
  return out;
}

/**
 * `text` with every `%XX` decoded, read as UTF-8: the value `escape` was given. A `%` without
 * two hex digits, or bytes that are not UTF-8, is a {@link RecordError}.
 */
export function unescape(text) {
  const bytes = [];
  for (let i = 0; i < text.length; ) {
    const c = text.charCodeAt(i);
    if (c !== 0x25) {
      if (c < 0x80) bytes.push(c);
      else {
        const cp = text.codePointAt(i);
        bytes.push(...encoder.encode(String.fromCodePoint(cp)));
        i += cp > 0xffff ? 2 : 1;
        continue;
      }
      i++;
      continue;
    }
    const hex = text.slice(i + 1, i + 3);
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) {
      throw new RecordError(
        `cannot unescape the partition name ${JSON.stringify(text)}: \`%\` at byte ${i} is not followed by two hex digits`,
      );
    }
    bytes.push(parseInt(hex, 16));
    i += 3;
  }
  try {
    return strict.decode(new Uint8Array(bytes));
  } catch {
    throw new RecordError(
      `cannot unescape the partition name ${JSON.stringify(text)}: the bytes it escapes are not UTF-8`,
    );
  }
}

/**
 * A partition name built from `key=value` levels, each key and value escaped: pass it (or its
 * `toString()`) to `Output.recordIn` or `Output.fieldsIn`.
 *
 *     new Partition().key("date", "2026-03-22").key("city", "Lima").toString()
 *     // "date=2026-03-22/city=Lima"
 */
export class Partition {
  /** A partition of no levels yet (an empty name, which the host does not accept). */
  constructor(name = "") {
    this.name = name;
  }

  /** A new partition with the level `key=value` added, both escaped. */
  key(key, value) {
    const level = `${escape(key)}=${escape(value)}`;
    return new Partition(this.name === "" ? level : `${this.name}/${level}`);
  }

  /** The partition name. */
  toString() {
    return this.name;
  }

  /** The unescaped `[key, value]` pairs of a partition name such as `date=2026-03-22/city=Lima`. */
  static parse(name) {
    return name.split("/").map((segment) => {
      const eq = segment.indexOf("=");
      if (eq < 0) {
        throw new RecordError(`the partition segment ${JSON.stringify(segment)} is not of the form key=value`);
      }
      return [unescape(segment.slice(0, eq)), unescape(segment.slice(eq + 1))];
    });
  }
}
