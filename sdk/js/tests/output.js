// Emitters, output fields and partition names, formatted exactly as the Rust SDK's.

import assert from "node:assert/strict";
import { test } from "node:test";
import { asciiWords, Emitter, escape, i64Key, Output, Partition, unescape } from "../index.js";

const text = (bytes) => new TextDecoder().decode(bytes);

test("the emitter keeps pairs in order, as strings' UTF-8 or bytes", () => {
  const out = new Emitter();
  out.emit("a", Uint8Array.of(1));
  out.emit("", "");
  out.emit(Uint8Array.of(9, 9), "z\u00e9");
  for (let i = 0; i < 20000; i++) out.emit(`key${i}`, "v");
  const pairs = [...out.pairs()];
  assert.equal(out.length, 20003);
  assert.deepEqual(pairs.slice(0, 3), [
    [Uint8Array.of(0x61), Uint8Array.of(1)],
    [new Uint8Array(0), new Uint8Array(0)],
    [Uint8Array.of(9, 9), Uint8Array.of(0x7a, 0xc3, 0xa9)],
  ]);
  assert.equal(text(pairs[20002][0]), "key19999");
  assert.throws(() => out.emit(7, "x"), /strings or Uint8Arrays, not a number/);
});

test("fields are TAB-separated with decimal integers", () => {
  const out = new Output();
  out.fields(new TextEncoder().encode("word"), 12n);
  out.fields("user", -3, 0, -0);
  out.fields("x", "y");
  out.record("as-is");
  assert.deepEqual([...out.records()].map(text), ["word\t12", "user\t-3\t0\t0", "x\ty", "as-is"]);
  assert.deepEqual(out.routes, [], "no routes while everything is at the top level");
  assert.throws(() => out.fields("x", 1.5), /field 2 is the number 1.5/);
  assert.throws(() => out.fields(true), /field 1 is a boolean/);
});

test("records can be routed to partitions", () => {
  const out = new Output();
  out.record("top");
  out.fieldsIn("date=2026-03-22", "a", 1);
  out.recordIn(new Partition().key("date", "2026-03-23"), "b");
  out.recordIn("date=2026-03-22", "c");
  out.record("top again");
  assert.deepEqual([...out.recordRoutes()], [undefined, "date=2026-03-22", "date=2026-03-23", "date=2026-03-22", undefined]);
  assert.deepEqual(out.routes, [0, 1, 2, 1, 0]);
});

test("partition values are escaped as the Rust SDK escapes them", () => {
  for (const [value, escaped] of [
    ["2026-03-22", "2026-03-22"],
    ["S\u00e3o Paulo, BR", "S%C3%A3o%20Paulo%2C%20BR"],
    ["a,b", "a%2Cb"],
    ["k=v/w", "k%3Dv%2Fw"],
    ["100%", "100%25"],
    ["10:30", "10%3A30"],
    ["\"#'*?\\{[]^", "%22%23%27%2A%3F%5C%7B%5B%5D%5E"],
    ["tab\there\n", "tab%09here%0A"],
    ["\u007f", "%7F"],
    ["v1.2+3_x-y", "v1.2+3_x-y"],
    ["", ""],
    [".", "%2E"],
    ["..", "%2E."],
    ["_hidden", "%5Fhidden"],
    ["a_b.c", "a_b.c"],
    ["part-00000", "%70art-00000"],
    ["parts", "parts"],
    ["part", "part"],
    ["\u20ac", "%E2%82%AC"],
    ["\u{1f600}", "%F0%9F%98%80"],
  ]) {
    assert.equal(escape(value), escaped, JSON.stringify(value));
    assert.equal(unescape(escaped), value, escaped);
  }
  assert.equal(unescape("a b,c"), "a b,c");
  assert.equal(unescape("%c3%a3"), "\u00e3");
  for (const bad of ["%", "%4", "%zz", "a%2", "%+1", "%C3", "%FF"]) {
    assert.throws(() => unescape(bad), /cannot unescape/, bad);
  }
  const p = new Partition().key("date", "2026-03-22").key("city", "S\u00e3o Paulo, BR");
  assert.equal(String(p), "date=2026-03-22/city=S%C3%A3o%20Paulo%2C%20BR");
  assert.deepEqual(Partition.parse(p.toString()), [["date", "2026-03-22"], ["city", "S\u00e3o Paulo, BR"]]);
  assert.equal(new Partition().key("k", "a,b").key("part-id", "7").toString(), "k=a%2Cb/%70art-id=7");
  assert.throws(() => Partition.parse("no-equals"), /not of the form key=value/);
});

test("emitAsciiWords emits exactly the words of asciiWords", () => {
  // Every byte value, at random, in lines of every length up to 300: runs of letters, digits,
  // separators, non-ASCII and invalid UTF-8.
  let seed = 7;
  const random = (n) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const alphabet = [0x41, 0x5a, 0x61, 0x7a, 0x30, 0x39, 0x20, 0x09, 0x00, 0x2d, 0x5f, 0xc3, 0xa9, 0xe2, 0x84, 0xaa, 0xff, 0x80];
  for (let round = 0; round < 500; round++) {
    const line = new Uint8Array(random(300));
    for (let i = 0; i < line.length; i++) line[i] = random(4) === 0 ? random(256) : alphabet[random(alphabet.length)];
    for (const value of [i64Key(1), new Uint8Array(0), Uint8Array.of(5)]) {
      const fast = new Emitter();
      fast.emit("before", "x");
      fast.emitAsciiWords(line, value);
      const slow = new Emitter();
      slow.emit("before", "x");
      for (const word of asciiWords(line)) slow.emit(word, value);
      assert.deepEqual([...fast.pairs()], [...slow.pairs()], `line ${Buffer.from(line).toString("hex")}`);
    }
  }
  // Enough words to grow the buffers many times over.
  const big = new Emitter();
  const line = new TextEncoder().encode("ab ".repeat(100_000));
  big.emitAsciiWords(line, i64Key(1));
  big.emitAsciiWords(line, i64Key(1));
  assert.equal(big.length, 200_000);
  const pairs = [...big.pairs()];
  assert.deepEqual(pairs[199_999], [Uint8Array.of(0x61, 0x62), i64Key(1)]);
});
