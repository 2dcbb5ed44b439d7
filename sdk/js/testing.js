// Runs a job natively, in Node, without Sandmill or a component: map, sort, combine and reduce
// as Sandmill does on one map task and one reducer, through the same adapter the component
// uses. For `node --test`.

import { exportJob } from "./adapter.js";
import { decodeI64, i64Key } from "./codec.js";
import { FlatBuffer } from "./emit.js";
import { takeCounters, takeLogs } from "./host.js";
import { Record, parseHeader } from "./record.js";
import { Values } from "./values.js";

export { takeCounters, takeLogs };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `item` (a string or a Uint8Array) as bytes. */
function bytesOf(item) {
  return typeof item === "string" ? encoder.encode(item) : item;
}

/** Items as the WIT `records` layout. */
function flatten(items) {
  const b = new FlatBuffer();
  for (const item of items) {
    b.write(bytesOf(item));
    b.end();
  }
  return b.flat();
}

/** Byte order of two Uint8Arrays. */
export function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** The error a test sees when the job returned a WIT `job-error`. */
export class JobFailed extends Error {
  constructor(error) {
    const text = error.tag === "invalid-record" ? `record ${error.val.index}: ${error.val.message}` : error.val;
    super(`${error.tag}: ${text}`);
    this.name = "JobFailed";
    /** The WIT `job-error`: `{tag: "invalid-record" | "invalid-params" | "failed", val}`. */
    this.jobError = error;
  }
}

function ok(result) {
  if (result.tag === "err") throw new JobFailed(result.val);
  return result.val;
}

/** A record for a test of `map`: `format` "lines", "jsonl" or "csv" (with its `header` line). */
export function record(bytes, format = "lines", header = null) {
  return new Record(bytesOf(bytes), format, header === null ? null : parseHeader(bytesOf(header)));
}

/** Values for a test of `reduce`: strings or Uint8Arrays. */
export function values(items) {
  const { data, ends } = flatten(items);
  return new Values(data, ends, 0, ends.length, null);
}

/** The host's native merges, as a plain reference. */
function merge(policy, vals) {
  switch (policy) {
    case "sum":
    case "count": {
      const lanes = vals[0].length / 8;
      const total = new Array(lanes).fill(0n);
      for (const v of vals) {
        if (v.length !== lanes * 8) throw new Error(`${policy} merge: values have different lengths`);
        for (let i = 0; i < lanes; i++) total[i] = BigInt.asIntN(64, total[i] + decodeI64(v.subarray(8 * i, 8 * i + 8)));
      }
      const out = new Uint8Array(8 * lanes);
      total.forEach((t, i) => out.set(i64Key(t), 8 * i));
      return out;
    }
    case "min":
    case "first":
      return vals.reduce((a, b) => (compareBytes(a, b) <= 0 ? a : b));
    case "max":
    case "last":
      return vals.reduce((a, b) => (compareBytes(a, b) >= 0 ? a : b));
    case "append": {
      const out = new Uint8Array(vals.reduce((n, v) => n + v.length, 0));
      let at = 0;
      for (const v of vals) {
        out.set(v, at);
        at += v.length;
      }
      return out;
    }
    default:
      throw new Error(`unknown merge policy ${policy}`);
  }
}

/** Sorted `[key, value]` pairs grouped by key: `[key, values[]]`. */
function group(pairs) {
  pairs.sort((a, b) => compareBytes(a[0], b[0]) || compareBytes(a[1], b[1]));
  const groups = [];
  for (const [k, v] of pairs) {
    const last = groups[groups.length - 1];
    if (last !== undefined && compareBytes(last[0], k) === 0) last[1].push(v);
    else groups.push([k, [v]]);
  }
  return groups;
}

/** The pairs of a WIT `pairs` result. */
function pairsOf({ data, ends }) {
  const out = [];
  for (let i = 0; i + 1 < ends.length; i += 2) {
    out.push([data.slice(i === 0 ? 0 : ends[i - 1], ends[i]), data.slice(ends[i], ends[i + 1])]);
  }
  return out;
}

/**
 * Runs `job` (a class or an object, as the job module exports it) on `records` (strings or
 * Uint8Arrays) as Sandmill would with one map task and one reducer: configure with `params`, map
 * every record, sort the pairs by key and value, combine them (natively, or with the job's
 * `combine`), then reduce each key. Returns the output lines as strings, in order; records routed
 * to a partition come as `partition<TAB>line`.
 *
 * Options: `format` ("lines", "jsonl", "csv"), `header` (the CSV header line), `params`
 * (`[[key, value], ...]`), and `stream` (a number n: each group's values reach `reduce` n at a
 * time through the host's `next-values`, as a large group does in Sandmill).
 *
 * A `job-error` is thrown as a {@link JobFailed}.
 */
export function run(job, records, { format = "lines", header = "", params = [], stream = 0 } = {}) {
  const chunks = [];
  const host = { nextValues: () => chunks.shift() };
  const exports = exportJob(job, host);
  const { combiner } = ok(exports.configure(params));
  const batch = { format, header: bytesOf(header), records: flatten(records) };
  let groups = group(pairsOf(ok(exports.mapBatch(batch))));
  if (combiner.tag === "merge") {
    groups = groups.map(([k, vs]) => [k, [merge(combiner.val, vs)]]);
  } else if (combiner.tag === "plugin") {
    const combined = [];
    for (const [k, vs] of groups) combined.push(...pairsOf(ok(exports.combineGroups(groupBatch(k, vs, 0, chunks)))));
    groups = group(combined);
  }
  const lines = [];
  for (const [k, vs] of groups) {
    const out = ok(exports.reduceGroups(groupBatch(k, vs, stream, chunks)));
    const { data, ends } = out.records;
    for (let i = 0; i < ends.length; i++) {
      const line = decoder.decode(data.subarray(i === 0 ? 0 : ends[i - 1], ends[i]));
      const route = out.routes.length === 0 ? 0 : out.routes[i];
      lines.push(route === 0 ? line : `${out.partitions[route - 1]}\t${line}`);
    }
  }
  return lines;
}

/** One group as a WIT `groups` batch: with `stream` > 0, only its first values come in the batch. */
function groupBatch(key, vals, stream, chunks) {
  const inBatch = stream > 0 ? vals.slice(0, stream) : vals;
  chunks.length = 0;
  for (let i = inBatch.length; i < vals.length; i += stream) chunks.push(flatten(vals.slice(i, i + stream)));
  return {
    keys: flatten([key]),
    values: flatten(inBatch),
    groupEnds: Uint32Array.of(inBatch.length),
    lastContinues: chunks.length > 0,
  };
}

/** Calls the job's `map` on each record and returns the emitted `[key, value]` pairs as Uint8Arrays. */
export function map(job, records, { format = "lines", header = "", params = [] } = {}) {
  const exports = exportJob(job, { nextValues: () => undefined });
  ok(exports.configure(params));
  return pairsOf(ok(exports.mapBatch({ format, header: bytesOf(header), records: flatten(records) })));
}
