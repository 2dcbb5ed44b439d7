// JSON documents whose integers keep every digit: an integer that a number cannot hold exactly
// (past 2^53, as i64 ids often are) becomes a bigint instead of a rounded number.

/** Integer literals that may not fit a number exactly have 16 or more digits. */
const LONG_DIGITS = /[0-9]{16}/;
const WHITESPACE = /[ \t\n\r]*/y;
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;

/**
 * Parses JSON `text` as `JSON.parse` does, except that an integer beyond
 * `Number.MAX_SAFE_INTEGER` becomes a bigint. Throws a `SyntaxError` on invalid JSON.
 */
export function parseJson(text) {
  // The usual case: no long digit run anywhere, so `JSON.parse` (native, fast) is exact.
  if (!LONG_DIGITS.test(text)) return JSON.parse(text);
  const parser = new Parser(text);
  const value = parser.value();
  parser.space();
  if (parser.at !== text.length) parser.fail("unexpected text after the document");
  return value;
}

/** A recursive-descent JSON parser for the documents that hold long integers. */
class Parser {
  constructor(text) {
    this.text = text;
    this.at = 0;
  }

  fail(what) {
    throw new SyntaxError(`${what} at position ${this.at} of the JSON document`);
  }

  space() {
    WHITESPACE.lastIndex = this.at;
    WHITESPACE.test(this.text);
    this.at = WHITESPACE.lastIndex;
  }

  match(re) {
    re.lastIndex = this.at;
    const m = re.exec(this.text);
    if (m === null) return null;
    this.at = re.lastIndex;
    return m;
  }

  value() {
    this.space();
    const c = this.text[this.at];
    if (c === "{") return this.object();
    if (c === "[") return this.array();
    if (c === '"') return this.string();
    for (const [word, value] of [["true", true], ["false", false], ["null", null]]) {
      if (this.text.startsWith(word, this.at)) {
        this.at += word.length;
        return value;
      }
    }
    const m = this.match(NUMBER);
    if (m === null) this.fail(c === undefined ? "unexpected end" : `unexpected ${JSON.stringify(c)}`);
    if (m[1] === undefined && m[2] === undefined) {
      const n = Number(m[0]);
      return Number.isSafeInteger(n) ? n : BigInt(m[0]);
    }
    return Number(m[0]);
  }

  string() {
    const m = this.match(STRING);
    if (m === null) this.fail("invalid string");
    return JSON.parse(m[0]);
  }

  array() {
    this.at++;
    const out = [];
    this.space();
    if (this.text[this.at] === "]") {
      this.at++;
      return out;
    }
    for (;;) {
      out.push(this.value());
      this.space();
      const c = this.text[this.at++];
      if (c === "]") return out;
      if (c !== ",") this.fail("expected , or ]");
    }
  }

  object() {
    this.at++;
    const out = {};
    this.space();
    if (this.text[this.at] === "}") {
      this.at++;
      return out;
    }
    for (;;) {
      this.space();
      if (this.text[this.at] !== '"') this.fail("expected a key");
      const key = this.string();
      this.space();
      if (this.text[this.at++] !== ":") this.fail("expected :");
      const value = this.value();
      // As JSON.parse: a key given twice keeps its last value; `__proto__` is a plain key.
      Object.defineProperty(out, key, { value, writable: true, enumerable: true, configurable: true });
      this.space();
      const c = this.text[this.at++];
      if (c === "}") return out;
      if (c !== ",") this.fail("expected , or }");
    }
  }
}
