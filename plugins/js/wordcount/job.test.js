// The word count, run natively: `node --test`.

import assert from "node:assert/strict";
import { test } from "node:test";
import { run } from "./sandmill/testing.js";
import WordCount from "./job.js";

test("counts lowercased words", () => {
  const lines = ["Don't stop", "DON'T, don't!", "", "x1 x1\tX1"];
  assert.deepEqual(run(WordCount, lines), ["don\t3", "stop\t1", "t\t3", "x1\t3"]);
});

test("non-ASCII characters separate words and are not lowercased", () => {
  assert.deepEqual(run(WordCount, ["caf\u00e9 \u00c9T\u00c9 \u212aelvin"]), ["caf\t1", "elvin\t1", "t\t1"]);
});
