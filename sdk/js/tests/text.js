// Words, CSV rows and JSON documents, read exactly as the Rust SDK reads them.

import assert from "node:assert/strict";
import { test } from "node:test";
import { asciiWords, parseJson } from "../index.js";
import { parseCsvRow } from "../csv.js";
import { record } from "../testing.js";

test("tokenising follows the Rust SDK's ascii_words", () => {
  const cases = [
    ["", []],
    ["   ", []],
    ["Hello, World!", ["hello", "world"]],
    ["Don't", ["don", "t"]],
    ["a1b2 C3", ["a1b2", "c3"]],
    ["tab\tsep\r", ["tab", "sep"]],
    ["caf\u00e9 \u00c9T\u00c9", ["caf", "t"]],
    ["__x__", ["x"]],
    // Characters whose lowercase is ASCII are still separators: only A-Z are lowercased.
    ["\u212aelvin \u0130x", ["elvin", "x"]],
    ["nul\u0000sep", ["nul", "sep"]],
  ];
  for (const [line, want] of cases) {
    assert.deepEqual(asciiWords(line), want, JSON.stringify(line));
    assert.deepEqual(asciiWords(new TextEncoder().encode(line)), want, `${JSON.stringify(line)} as bytes`);
  }
  // Invalid UTF-8 separates words too.
  assert.deepEqual(asciiWords(Uint8Array.of(0x61, 0xff, 0x42)), ["a", "b"]);
});

test("CSV rows split on commas and honour quotes", () => {
  const cases = [
    ["a,b,c", ["a", "b", "c"]],
    ["", [""]],
    ["1,,3", ["1", "", "3"]],
    ['"x,y",2', ["x,y", "2"]],
    ['"say ""hi""",z', ['say "hi"', "z"]],
    ["x,", ["x", ""]],
  ];
  for (const [line, want] of cases) assert.deepEqual(parseCsvRow(line), want, line);
});

test("CSV rows parse by header name in any column order", () => {
  const header = "event,amount_cents,user_id,extra";
  assert.deepEqual(record("buy,-250,42,ignored", "csv", header).parse(), {
    event: "buy",
    amount_cents: "-250",
    user_id: "42",
    extra: "ignored",
  });
  assert.throws(() => record("1,buy", "csv", header).parse(), /CSV row has 2 fields but the header has 4/);
});

test("JSON keeps every digit of long integers and is JSON.parse otherwise", () => {
  const doc = '{"u": -9223372036854775808, "v": 9007199254740993, "s": 9007199254740991, "f": 1.5e3, "t": "\\u00e9\\/", "a": [true, null, {}]}';
  assert.deepEqual(parseJson(doc), {
    u: -9223372036854775808n,
    v: 9007199254740993n,
    s: 9007199254740991,
    f: 1500,
    t: "\u00e9/",
    a: [true, null, {}],
  });
  for (const text of ['{"a": 1}', '"1234567890123456789"', "[1, 2]", '{"x": "12345678901234567", "y": 2}']) {
    assert.deepEqual(parseJson(text), JSON.parse(text), text);
  }
  for (const bad of ['{"a": 12345678901234567', '{"a": 12345678901234567,}', "[01234567890123456]", "1234567890123456 x"]) {
    assert.throws(() => parseJson(bad), SyntaxError, bad);
  }
});

test("bad structured records are record errors", () => {
  assert.throws(() => record('{"user_id": 1,', "jsonl").parse(), (e) => e.name === "RecordError" && e.message.startsWith("invalid JSON: "));
  assert.throws(() => record(Uint8Array.of(0x7b, 0xff), "jsonl").parse(), (e) => e.name === "RecordError" && e.message.startsWith("invalid UTF-8"));
  assert.throws(() => record("1", "lines").parse(), /parse\(\) needs --format jsonl or --format csv input/);
});
