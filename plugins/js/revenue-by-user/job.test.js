// Revenue by user, run natively: `node --test`.

import assert from "node:assert/strict";
import { test } from "node:test";
import { run } from "./sandmill/testing.js";
import RevenueByUser from "./job.js";

const WANT = ["-4\t1\t0", "2\t1\t-30", "10\t2\t150"];

test("JSON Lines", () => {
  const events = [
    '{"user_id":10,"ts":"2026-03-22T10:00:00Z","event":"buy","amount_cents":100}',
    '{"user_id":2,"ts":"2026-03-22T10:00:01Z","event":"refund","amount_cents":-30}',
    '{"user_id":10,"ts":"2026-03-22T10:00:02Z","event":"buy","amount_cents":50}',
    '{"user_id":-4,"ts":"2026-03-22T10:00:03Z","event":"view","amount_cents":0}',
  ];
  assert.deepEqual(run(RevenueByUser, events, { format: "jsonl" }), WANT);
});

test("CSV gives the same answer", () => {
  const rows = [
    "10,2026-03-22T10:00:00Z,buy,100",
    "2,2026-03-22T10:00:01Z,refund,-30",
    '10,2026-03-22T10:00:02Z,"buy, again",50',
    "-4,2026-03-22T10:00:03Z,view,0",
  ];
  const header = "user_id,ts,event,amount_cents";
  assert.deepEqual(run(RevenueByUser, rows, { format: "csv", header }), WANT);
});

test("user ids at the ends of the i64 range keep every digit", () => {
  const events = [
    '{"user_id": -9223372036854775808, "amount_cents": 1}',
    '{"user_id": 9223372036854775807, "amount_cents": -2}',
  ];
  assert.deepEqual(run(RevenueByUser, events, { format: "jsonl" }), [
    "-9223372036854775808\t1\t1",
    "9223372036854775807\t1\t-2",
  ]);
});

test("a record without a user id is a bad record", () => {
  assert.throws(() => run(RevenueByUser, ['{"amount_cents": 1}'], { format: "jsonl" }), (e) => {
    assert.equal(e.jobError.tag, "invalid-record");
    assert.equal(e.jobError.val.message, "user_id: missing");
    return true;
  });
});
