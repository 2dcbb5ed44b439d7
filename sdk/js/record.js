// Input records as `map` sees them: a line, a JSON document or a CSV row.

import { parseCsvRow } from "./csv.js";
import { RecordError } from "./errors.js";
import { parseJson } from "./json.js";
import { utf8 } from "./text.js";

/** How the host cut the input into records (`sandmill run --format`). */
export const Format = Object.freeze({ lines: "lines", jsonl: "jsonl", csv: "csv" });

/** One input record: a line without its line end. */
export class Record {
  /**
   * A record of `format` ("lines", "jsonl" or "csv"); `header` is the CSV header's column names
   * (an array of strings), or null.
   */
  constructor(bytes, format, header = null) {
    /** The record's bytes, without the line end (a Uint8Array). */
    this.bytes = bytes;
    /** How the input was cut into records: "lines", "jsonl" or "csv". */
    this.format = format;
    this.header = header;
    this.text_ = undefined;
  }

  /** The record as UTF-8 text; invalid UTF-8 is a `RecordError`. */
  text() {
    if (this.text_ === undefined) this.text_ = utf8(this.bytes);
    return this.text_;
  }

  /**
   * The structured record: a JSON Lines document as `JSON.parse` gives it (except that integers
   * past `Number.MAX_SAFE_INTEGER` are bigints, so that no digit is lost), or a CSV row as an
   * object from the header's column names to the fields' text. Invalid JSON, a CSV row whose
   * field count differs from the header's, and `lines` input are `RecordError`s. Read numbers
   * out of either with `i64(value, "name")`.
   */
  parse() {
    if (this.format === "jsonl") {
      const text = this.text();
      try {
        return parseJson(text);
      } catch (e) {
        throw new RecordError(`invalid JSON: ${e.message}`);
      }
    }
    if (this.format === "csv") {
      if (this.header === null) throw new RecordError("CSV input has no header row");
      const row = this.fields();
      const header = this.header;
      if (row.length !== header.length) {
        throw new RecordError(`CSV row has ${row.length} fields but the header has ${header.length}`);
      }
      const out = {};
      for (let i = 0; i < header.length; i++) out[header[i]] = row[i];
      return out;
    }
    throw new Error("parse() needs --format jsonl or --format csv input");
  }

  /** The fields of a CSV row, as text, in column order (RFC 4180 quoting). */
  fields() {
    return parseCsvRow(this.text());
  }
}

/** The column names of a CSV header line (bytes), or a `RecordError`. */
export function parseHeader(bytes) {
  return parseCsvRow(utf8(bytes));
}
