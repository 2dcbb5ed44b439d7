// The component's exports: the adapter between the flat WIT batches and a job's `map`,
// `combine` and `reduce`. `sandmill build` generates the module that calls `exportJob` with the
// job and the `sandmill:job/host` import; the native test runner calls it with a stand-in host.
//
// Every export returns a WIT `result` object: nothing a job throws escapes, so an exception
// never traps the component (a trap shows little of what went wrong). See `errors.js`.

import { Emitter, Output } from "./emit.js";
import { jobError } from "./errors.js";
import { useHost } from "./host.js";
import { Params } from "./params.js";
import { Record, parseHeader } from "./record.js";
import { Values } from "./values.js";

/** The merge policies the host runs natively. */
const POLICIES = new Set(["sum", "min", "max", "count", "first", "last", "append"]);

const preview = new TextDecoder();

/** A short, quoted preview of `bytes` for an error message. */
function show(bytes) {
  const text = preview.decode(bytes.subarray(0, 60));
  return JSON.stringify(text) + (bytes.length > 60 ? "..." : "");
}

/** The job's combiner as the WIT `combiner` variant, or a TypeError saying what is allowed. */
function combinerOf(job) {
  let c = typeof job.combiner === "function" ? job.combiner() : job.combiner;
  if (c === undefined || c === null) c = { tag: "none" };
  const ok =
    c !== null &&
    typeof c === "object" &&
    (c.tag === "none" || c.tag === "plugin" || (c.tag === "merge" && POLICIES.has(c.val)));
  if (!ok) {
    throw new TypeError(
      `the job's combiner is ${JSON.stringify(c)}: use Combiner.none, Combiner.plugin or Combiner.merge(Merge.sum) (or min, max, count, first, last, append)`,
    );
  }
  if (c.tag === "plugin" && typeof job.combine !== "function") {
    throw new TypeError("the job's combiner is Combiner.plugin but it has no combine(key, values, out)");
  }
  return c.tag === "merge" ? { tag: "merge", val: c.val } : { tag: c.tag };
}

/**
 * One batch of input records, for a job's optional `mapBatch(batch, out)` hook: iterate it
 * (`for (const record of batch)`) or read `batch.record(i)` for `i < batch.length`. `data` and
 * `ends` are the raw WIT layout (record `i` is `data[ends[i - 1]..ends[i]]`).
 */
export class Batch {
  constructor(format, header, data, ends) {
    this.format = format;
    this.header = header;
    this.data = data;
    this.ends = ends;
    this.length = ends.length;
    /** The index of the record most recently handed out: the one an error is about. */
    this.current = 0;
  }

  /** Record `i`. */
  record(i) {
    this.current = i;
    return new Record(this.data.subarray(i === 0 ? 0 : this.ends[i - 1], this.ends[i]), this.format, this.header);
  }

  *[Symbol.iterator]() {
    for (let i = 0; i < this.length; i++) yield this.record(i);
  }
}

/**
 * The four exports of the `sandmill:job/job` world for `Job`: a class (a fresh instance per task,
 * made by `configure`) or a plain object. `host` is the `sandmill:job/host` import, or
 * undefined to record logs and counters natively.
 */
export function exportJob(Job, host) {
  if (host !== undefined && typeof host.log === "function") useHost(host);
  let job = null;

  /** Calls `f(job)` and wraps its value or whatever it throws as a WIT result. */
  function guarded(where, f) {
    if (job === null) return { tag: "err", val: { tag: "failed", val: `internal: ${where} called before configure` } };
    try {
      return { tag: "ok", val: f(job) };
    } catch (e) {
      if (e instanceof Thrown) return { tag: "err", val: jobError(e.thrown, e.index, e.where) };
      return { tag: "err", val: jobError(e, 0, where) };
    }
  }

  function configure(params) {
    try {
      if (Job === null || (typeof Job !== "function" && typeof Job !== "object")) {
        throw new TypeError(
          `job.js exports ${Job === undefined ? "no default" : `the default ${typeof Job}`}: \`export default class MyJob { map(record, out) {...} reduce(key, values, out) {...} }\``,
        );
      }
      const made = typeof Job === "function" ? new Job() : Job;
      if (typeof made.map !== "function" && typeof made.mapBatch !== "function") {
        throw new TypeError("the job has neither map(record, out) nor mapBatch(batch, out)");
      }
      if (typeof made.reduce !== "function") throw new TypeError("the job has no reduce(key, values, out)");
      const p = new Params(params);
      if (typeof made.configure === "function") made.configure(p);
      else p.expectOnly([]);
      const combiner = combinerOf(made);
      job = made;
      // A JavaScript job declares no input fields: it gets every record as it is.
      return { tag: "ok", val: { combiner, fields: [] } };
    } catch (e) {
      return { tag: "err", val: jobError(e, 0, "in configure") };
    }
  }

  function mapBatch(batch) {
    return guarded("in map", (job) => {
      const header = batch.format === "csv" ? parseHeader(batch.header) : null;
      const { data, ends } = batch.records;
      const out = new Emitter();
      if (typeof job.mapBatch === "function") {
        const b = new Batch(batch.format, header, data, ends);
        try {
          job.mapBatch(b, out);
        } catch (e) {
          const where = b.length === 0 ? "in mapBatch" : `in mapBatch, on the record ${show(b.record(b.current).bytes)}`;
          throw new Thrown(e, b.current, where);
        }
      } else {
        let start = 0;
        for (let i = 0; i < ends.length; i++) {
          const end = ends[i];
          const record = new Record(data.subarray(start, end), batch.format, header);
          start = end;
          try {
            job.map(record, out);
          } catch (e) {
            throw new Thrown(e, i, `in map, on the record ${show(record.bytes)}`);
          }
        }
      }
      return out.buffer.flat();
    });
  }

  /** Calls `f(index, key, values)` for every group of `batch`, pulling the last one's rest. */
  function forEachGroup(batch, where, f) {
    const { keys, values, groupEnds } = batch;
    const pull = () => (host === undefined ? undefined : host.nextValues());
    let keyStart = 0;
    let first = 0;
    for (let i = 0; i < groupEnds.length; i++) {
      const key = keys.data.subarray(keyStart, keys.ends[i]);
      keyStart = keys.ends[i];
      const last = batch.lastContinues && i + 1 === groupEnds.length;
      const vals = new Values(values.data, values.ends, first, groupEnds[i], last ? pull : null);
      first = groupEnds[i];
      try {
        f(i, key, vals);
      } catch (e) {
        throw new Thrown(e, i, `${where}, on the key ${show(key)}`);
      }
    }
  }

  function combineGroups(batch) {
    return guarded("in combine", (job) => {
      const out = new Emitter();
      forEachGroup(batch, "in combine", (_, key, values) => job.combine(key, values, out));
      return out.buffer.flat();
    });
  }

  function reduceGroups(batch) {
    return guarded("in reduce", (job) => {
      const out = new Output();
      const groupEnds = new Uint32Array(batch.groupEnds.length);
      forEachGroup(batch, "in reduce", (i, key, values) => {
        job.reduce(key, values, out);
        // Which records each group wrote, so that the host can name a bad one's key.
        groupEnds[i] = out.length;
      });
      return {
        records: out.buffer.flat(),
        partitions: out.partitions,
        routes: Uint32Array.from(out.routes),
        groupEnds,
      };
    });
  }

  return { configure, mapBatch, combineGroups, reduceGroups };
}

/** What a job threw about item `index` of a batch, and where: kept apart from the value itself. */
class Thrown {
  constructor(thrown, index, where) {
    this.thrown = thrown;
    this.index = index;
    this.where = where;
  }
}
