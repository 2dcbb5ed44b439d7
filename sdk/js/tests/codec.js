// The i64 and u64 codecs: byte order is numeric order, as the Rust SDK's `codec`.

import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeI64, decodeI64Lanes, decodeU64, i64, i64Key, i64Lanes, u64Key } from "../index.js";
import { compareBytes } from "../testing.js";

const hex = (bytes) => Buffer.from(bytes).toString("hex");

test("integer keys sort numerically and round-trip", () => {
  const nums = [-(2n ** 63n), -1_000_000n, -2n, -1n, 0n, 1n, 2n, 255n, 256n, 2n ** 40n, 2n ** 63n - 1n];
  for (let i = 0; i + 1 < nums.length; i++) {
    assert.ok(compareBytes(i64Key(nums[i]), i64Key(nums[i + 1])) < 0, `${nums[i]} < ${nums[i + 1]}`);
    assert.equal(decodeI64(i64Key(nums[i])), nums[i]);
  }
  const unums = [0n, 1n, 255n, 256n, 65_535n, 2n ** 40n, 2n ** 64n - 1n];
  for (let i = 0; i + 1 < unums.length; i++) {
    assert.ok(compareBytes(u64Key(unums[i]), u64Key(unums[i + 1])) < 0);
    assert.equal(decodeU64(u64Key(unums[i + 1])), unums[i + 1]);
  }
});

test("numbers and bigints encode the same bytes as the Rust SDK", () => {
  // Rust: ((v as u64) ^ (1 << 63)).to_be_bytes()
  assert.equal(hex(i64Key(1)), "8000000000000001");
  assert.equal(hex(i64Key(-1)), "7fffffffffffffff");
  assert.equal(hex(i64Key(0)), "8000000000000000");
  for (const n of [-(2 ** 53) + 1, -4294967297, -4294967296, -65536, -1, 0, 7, 4294967295, 4294967296, 2 ** 53 - 1]) {
    assert.equal(hex(i64Key(n)), hex(i64Key(BigInt(n))), `${n}`);
  }
  assert.throws(() => i64Key(2 ** 53), /pass a bigint/);
  assert.throws(() => i64Key(1.5), /pass a bigint/);
  assert.throws(() => i64Key(2n ** 63n), /does not fit in an i64/);
});

test("lanes round-trip and reject bad lengths", () => {
  const bytes = i64Lanes([3, -7n]);
  assert.equal(bytes.length, 16);
  assert.deepEqual(decodeI64Lanes(bytes, 2), [3n, -7n]);
  assert.throws(() => decodeI64Lanes(bytes.subarray(0, 15), 2), /expected 2 8-byte numbers \(16 bytes\), got 15 bytes/);
  assert.throws(() => decodeI64(Uint8Array.of(1, 2, 3)), /got 3 bytes/);
});

test("i64 reads numbers, bigints and CSV text, and names the field when it cannot", () => {
  assert.equal(i64(7), 7n);
  assert.equal(i64(-9223372036854775808n), -9223372036854775808n);
  assert.equal(i64(" -42 "), -42n);
  assert.equal(i64("+5"), 5n);
  assert.equal(i64("9223372036854775807"), 9223372036854775807n);
  for (const [value, message] of [
    ["x", 'user_id: "x" is not a valid i64'],
    ["9223372036854775808", 'user_id: "9223372036854775808" is not a valid i64'],
    [1.5, "user_id: 1.5 is not a valid i64"],
    [null, "user_id: null is not a valid i64"],
    [undefined, "user_id: missing"],
    [2n ** 63n, "user_id: 9223372036854775808 is not a valid i64"],
  ]) {
    assert.throws(() => i64(value, "user_id"), (e) => e.name === "RecordError" && e.message === message);
  }
});
