// Sandmill's JavaScript SDK: write a map/reduce job as a class with `map` and `reduce`, test it
// with `node --test`, and build it into a component with `sandmill build`. See README.md.

export { Batch } from "./adapter.js";
export { decodeI64, decodeI64Lanes, decodeU64, i64, i64Key, i64Lanes, u64Key } from "./codec.js";
export { Emitter, Output } from "./emit.js";
export { ParamsError, RecordError } from "./errors.js";
export { counter, log, LogLevel } from "./host.js";
export { parseJson } from "./json.js";
export { Params } from "./params.js";
export { escape, Partition, unescape, UNESCAPED } from "./partition.js";
export { Format, Record } from "./record.js";
export { asciiWords, encodeUtf8, utf8 } from "./text.js";
export { Values } from "./values.js";

/** A merge the host runs natively to combine the values of one key, without calling the job. */
export const Merge = Object.freeze({
  /** Lane-wise wrapping sum of values in the `i64Lanes` encoding. */
  sum: "sum",
  /** The smallest value in byte order. */
  min: "min",
  /** The largest value in byte order. */
  max: "max",
  /** Sum of one-lane `i64Key` counts. */
  count: "count",
  /** The first value in byte order. */
  first: "first",
  /** The last value in byte order. */
  last: "last",
  /** All values concatenated, in byte order. */
  append: "append",
});

/** How the values of one key may be combined before they reach `reduce`. */
export const Combiner = Object.freeze({
  /** Never combine (the default). */
  none: Object.freeze({ tag: "none" }),
  /** Call the job's `combine(key, values, out)`. */
  plugin: Object.freeze({ tag: "plugin" }),
  /** Let the host merge values natively with `policy` (a `Merge`): much faster than `combine`. */
  merge: (policy) => Object.freeze({ tag: "merge", val: policy }),
});
