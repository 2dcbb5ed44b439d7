// A job through the adapter, natively: configure, combiners, streamed values, logs and
// counters, and every thrown value becoming a WIT job-error.

import assert from "node:assert/strict";
import { test } from "node:test";
import { exportJob } from "../adapter.js";
import { describe } from "../errors.js";
import { Combiner, counter, decodeI64, i64Key, log, ParamsError, RecordError } from "../index.js";
import { JobFailed, run, takeCounters, takeLogs, values } from "../testing.js";

/** Counts each distinct line, with a combine that pre-counts. */
class LineCount {
  configure(params) {
    params.expectOnly(["min"]);
    this.min = params.integer("min", 1);
  }
  combiner() {
    return Combiner.plugin;
  }
  map(line, out) {
    out.emit(line.bytes, i64Key(1));
  }
  combine(key, vals, out) {
    out.emit(key, i64Key(vals.sumI64()));
  }
  reduce(line, counts, out) {
    const n = counts.sumI64();
    if (n >= this.min) out.fields(line, n);
    log("info", `line ${new TextDecoder().decode(line)}`);
    counter("lines", 1);
  }
}

test("a job with a plugin combiner runs as Sandmill runs it", () => {
  takeLogs();
  takeCounters();
  assert.deepEqual(run(LineCount, ["b", "a", "b"]), ["a\t1", "b\t2"]);
  assert.deepEqual(run(LineCount, ["b", "a", "b"], { params: [["min", "2"]] }), ["b\t2"]);
  assert.deepEqual(takeLogs().length, 4);
  assert.deepEqual(takeCounters(), new Map([["lines", 4n]]));
});

test("parameters are checked", () => {
  assert.throws(() => run(LineCount, [], { params: [["mni", "2"]] }), (e) => e instanceof JobFailed && e.jobError.tag === "invalid-params" && e.jobError.val === 'unknown parameter "mni": this job takes min');
  assert.throws(() => run(LineCount, [], { params: [["min", "x"]] }), /--param min=x: not an integer/);
  const plain = { map() {}, reduce() {} };
  assert.throws(() => run(plain, [], { params: [["a", "1"]] }), /this job takes none/);
});

test("values stream through next-values and are read once", () => {
  /** Sums every value, keeping the order it saw them in. */
  class Collect {
    map(line, out) {
      out.emit("k", line.bytes);
    }
    reduce(key, vals, out) {
      const seen = [];
      for (const v of vals) seen.push(new TextDecoder().decode(v));
      assert.equal(vals.nextValue(), undefined, "exhausted values stay exhausted");
      out.record(seen.join(","));
    }
  }
  const lines = Array.from({ length: 10 }, (_, i) => `v${i}`);
  for (const stream of [0, 1, 3, 10, 11]) {
    assert.deepEqual(run(Collect, lines, { stream }), [lines.join(",")], `stream ${stream}`);
  }
  const v = values([i64Key(2), i64Key(-5)]);
  assert.equal(v.sumI64(), -3n);
  assert.deepEqual([...values(["a", "bc"]).decode((b) => b.length)], [1, 2]);
  assert.equal(values(["a", "b", "c"]).count(), 3);
  // Sums wrap as the host's sum merge does.
  assert.equal(values([i64Key(2n ** 63n - 1n), i64Key(1)]).sumI64(), -(2n ** 63n));
  assert.equal(decodeI64(i64Key(-7)), -7n);
});

/** A job that throws `thrown()` in map on the record `bad`, and in reduce on the key `worse`. */
function throwing(thrown) {
  return {
    map(line, out) {
      if (line.text() === "bad") throw thrown();
      out.emit(line.bytes, "");
    },
    reduce(key, _values, out) {
      if (new TextDecoder().decode(key) === "worse") throw thrown();
      out.record(key);
    },
  };
}

test("every thrown value becomes a job-error, never an exception out of the component", () => {
  const cases = [
    [() => new Error("plain"), "failed", /^Error: plain \[in map, on the record "bad"\]\nstack:\n  at /],
    [() => new RangeError("range", { cause: new Error("deeper") }), "failed", /^RangeError: range \(caused by Error: deeper\)/],
    [() => "a string", "failed", /^thrown value \(not an Error, so it has no stack\): "a string" \[in map/],
    [() => 42, "failed", /^thrown value .*: 42 /],
    [() => undefined, "failed", /^thrown value .*: undefined /],
    [() => null, "failed", /^thrown value .*: null /],
    [() => ({ code: 7, big: 1n }), "failed", /^thrown value .*: \{"code":7,"big":"1n"\}/],
    [() => Symbol("s"), "failed", /^thrown value .*: Symbol\(s\)/],
    [() => ({ toString() { throw new Error("no"); }, toJSON() { throw new Error("no"); } }), "failed", /^thrown value .*: \[object Object\]/],
    [() => new RecordError("not a record"), "invalid-record", null],
    [() => new ParamsError("bad params"), "invalid-params", null],
  ];
  for (const [thrown, tag, pattern] of cases) {
    const job = exportJob(throwing(thrown), { nextValues: () => undefined });
    assert.equal(job.configure([]).tag, "ok");
    const records = { data: new TextEncoder().encode("goodbad"), ends: Uint32Array.of(4, 7) };
    const result = job.mapBatch({ format: "lines", header: new Uint8Array(0), records });
    assert.equal(result.tag, "err", String(thrown));
    assert.equal(result.val.tag, tag, String(thrown));
    if (tag === "invalid-record") assert.deepEqual(result.val.val, { index: 1, message: "not a record" });
    if (pattern !== null) assert.match(result.val.val, pattern);
  }
  // In reduce, the error names the key.
  const err = (() => {
    try {
      run(throwing(() => new TypeError("nope")), ["a", "worse"]);
    } catch (e) {
      return e;
    }
  })();
  assert.equal(err.jobError.tag, "failed");
  assert.match(err.jobError.val, /^TypeError: nope \[in reduce, on the key "worse"\]\nstack:/);
});

test("a job's mistakes are explained when it is configured", () => {
  for (const [job, message] of [
    [undefined, /job.js exports no default/],
    [{ reduce() {} }, /neither map\(record, out\) nor mapBatch/],
    [{ map() {} }, /no reduce\(key, values, out\)/],
    [{ map() {}, reduce() {}, combiner: "sum" }, /the job's combiner is "sum": use Combiner.none/],
    [{ map() {}, reduce() {}, combiner: Combiner.plugin }, /Combiner.plugin but it has no combine/],
  ]) {
    const result = exportJob(job, { nextValues: () => undefined }).configure([]);
    assert.equal(result.tag, "err");
    assert.match(result.val.val, message);
  }
});

test("error messages are bounded however long the message or deep the stack", () => {
  const deep = (n) => (n === 0 ? new Error("x".repeat(100_000)) : deep(n - 1));
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 5000;
  const error = deep(2000);
  Error.stackTraceLimit = limit;
  const text = describe(error, "in map");
  assert.ok(new TextEncoder().encode(text).length <= 3072, `${text.length}`);
  assert.match(text, /\[\.\.\. 98976 characters left out\]/);
  assert.match(text, /\[\.\.\. \d+ more frames\]$/);
  const wide = describe(new Error("\u20ac".repeat(5000)));
  assert.ok(new TextEncoder().encode(wide).length <= 3072);
});

test("a mapBatch hook sees the whole batch, and errors name its record", () => {
  const job = {
    mapBatch(batch, out) {
      for (const record of batch) {
        if (record.text() === "stop") throw new RecordError("stop here");
        out.emit(record.bytes, String(batch.length));
      }
    },
    reduce(key, vals, out) {
      out.fields(key, new TextDecoder().decode(vals.nextValue()));
    },
  };
  assert.deepEqual(run(job, ["a", "b"]), ["a\t2", "b\t2"]);
  assert.throws(() => run(job, ["a", "stop", "c"]), (e) => e.jobError.tag === "invalid-record" && e.jobError.val.index === 1);
});
