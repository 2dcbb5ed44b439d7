// Types of Sandmill's JavaScript SDK (see README.md).

/** How the host cut the input into records (`sandmill run --format`). */
export type FormatName = "lines" | "jsonl" | "csv";
export declare const Format: { readonly lines: "lines"; readonly jsonl: "jsonl"; readonly csv: "csv" };

/** Bytes a job emits or writes: a string is written as UTF-8. */
export type Bytes = string | Uint8Array;

/** One input record: a line without its line end. */
export declare class Record {
  constructor(bytes: Uint8Array, format: FormatName, header?: string[] | null);
  /** The record's bytes, without the line end. */
  readonly bytes: Uint8Array;
  /** How the input was cut into records. */
  readonly format: FormatName;
  /** The CSV header's column names, or null. */
  readonly header: string[] | null;
  /** The record as UTF-8 text; invalid UTF-8 throws a RecordError. */
  text(): string;
  /**
   * A JSON Lines document (integers past Number.MAX_SAFE_INTEGER as bigints) or a CSV row as an
   * object from column name to field text. Throws a RecordError when the record does not parse.
   */
  parse(): any;
  /** The fields of a CSV row, in column order. */
  fields(): string[];
}

/** One batch of input records, for the optional `mapBatch(batch, out)` hook. */
export declare class Batch implements Iterable<Record> {
  readonly format: FormatName;
  readonly header: string[] | null;
  /** All records' bytes back to back; record `i` ends at `ends[i]`. */
  readonly data: Uint8Array;
  readonly ends: Uint32Array;
  /** How many records the batch holds. */
  readonly length: number;
  /** Record `i` (an error thrown after this is about record `i`). */
  record(i: number): Record;
  [Symbol.iterator](): Iterator<Record>;
}

/** Collects the key/value pairs that `map` or `combine` emits. */
export declare class Emitter {
  /** Emits one pair. Keys are grouped and sorted by their bytes before the reduce. */
  emit(key: Bytes, value: Bytes): void;
  /**
   * Emits `(word, value)` for every word of `asciiWords(line)`, in one pass over the bytes:
   * about three times faster than emitting the strings of `asciiWords`.
   */
  emitAsciiWords(line: Uint8Array, value: Uint8Array): void;
  /** How many pairs were emitted. */
  readonly length: number;
  /** The pairs emitted so far. */
  pairs(): IterableIterator<[Uint8Array, Uint8Array]>;
}

/** One field of an output record: text or bytes as they are, integers in decimal. */
export type Field = string | Uint8Array | bigint | number;

/** The name of an output partition: a Partition or its text. */
export type PartitionName = string | Partition;

/** Collects the output records `reduce` writes, one line each. */
export declare class Output {
  /** Writes one record as it is (without `\n`). */
  record(bytes: Bytes): void;
  /** Writes one record of TAB-separated fields: `out.fields(word, 3n)` writes `word\t3`. */
  fields(...fields: Field[]): void;
  /** Like `record`, into the output partition `partition`. */
  recordIn(partition: PartitionName, bytes: Bytes): void;
  /** Like `fields`, into the output partition `partition`. */
  fieldsIn(partition: PartitionName, ...fields: Field[]): void;
  /** How many records were written. */
  readonly length: number;
  records(): IterableIterator<Uint8Array>;
  recordRoutes(): IterableIterator<string | undefined>;
}

/** The values of one key, in byte order, streamed from the host: read them once, in order. */
export declare class Values implements Iterable<Uint8Array>, Iterator<Uint8Array> {
  /** The next value, or undefined once every value was read. */
  nextValue(): Uint8Array | undefined;
  next(): IteratorResult<Uint8Array>;
  [Symbol.iterator](): Values;
  /** Counts the remaining values. */
  count(): number;
  /** Adds up the remaining `i64Key` values (wrapping, as the host's sum merge). */
  sumI64(): bigint;
  /** Adds up the remaining values of `n` lanes (`i64Lanes`), lane by lane. */
  sumI64Lanes(n: number): bigint[];
  /** The remaining values, decoded one at a time. */
  decode<T>(decode: (value: Uint8Array) => T): IterableIterator<T>;
}

/** The job's `--param key=value` pairs. */
export declare class Params {
  constructor(pairs?: [string, string][]);
  get(key: string): string | undefined;
  /** The value as an integer number, or `dflt`; a ParamsError if it is not an integer. */
  integer(key: string, dflt: number): number;
  /** Throws a ParamsError if any parameter other than `known` was given. */
  expectOnly(known: string[]): void;
  entries(): [string, string][];
}

/** An error about the record or key at hand: reported with its file and line (or key). */
export declare class RecordError extends Error {}
/** An error about the job's `--param` values: the job does not start. */
export declare class ParamsError extends Error {}

export type MergePolicy = "sum" | "min" | "max" | "count" | "first" | "last" | "append";
export declare const Merge: {
  readonly sum: "sum";
  readonly min: "min";
  readonly max: "max";
  readonly count: "count";
  readonly first: "first";
  readonly last: "last";
  readonly append: "append";
};
export type CombinerKind = { tag: "none" } | { tag: "plugin" } | { tag: "merge"; val: MergePolicy };
export declare const Combiner: {
  readonly none: CombinerKind;
  readonly plugin: CombinerKind;
  merge(policy: MergePolicy): CombinerKind;
};

/** What a job module's default export is: a class (one instance per task) or an object. */
export interface Job {
  /** Reads the job's parameters; the default accepts none. */
  configure?(params: Params): void;
  /** How map output may be combined (a method or a property); the default is Combiner.none. */
  combiner?: CombinerKind | (() => CombinerKind);
  /** Maps one record to any number of pairs. */
  map?(record: Record, out: Emitter): void;
  /** Maps a whole batch at once (instead of `map`), for speed. */
  mapBatch?(batch: Batch, out: Emitter): void;
  /** Combines some values of `key` into fewer, emitted under `key` (for Combiner.plugin). */
  combine?(key: Uint8Array, values: Values, out: Emitter): void;
  /** Reduces all values of `key` to output records. */
  reduce(key: Uint8Array, values: Values, out: Output): void;
}

export type LogLevelName = "debug" | "info" | "warn" | "error";
export declare const LogLevel: {
  readonly debug: "debug";
  readonly info: "info";
  readonly warn: "warn";
  readonly error: "error";
};
/** Writes a message to the job's log (bounded by the host; dropped if the task attempt fails). */
export declare function log(level: LogLevelName, message: string): void;
/** Adds `delta` (default 1) to the counter `name`, summed over all tasks. */
export declare function counter(name: string, delta?: number | bigint): void;

/** `v` as 8 big-endian bytes: byte order is numeric order. */
export declare function u64Key(v: number | bigint): Uint8Array;
export declare function decodeU64(bytes: Uint8Array): bigint;
/** `v` as 8 big-endian bytes with the sign bit flipped: byte order is numeric order. */
export declare function i64Key(v: number | bigint): Uint8Array;
export declare function decodeI64(bytes: Uint8Array): bigint;
/** Several i64s as `i64Key`, back to back: what the host's `sum` merge adds lane by lane. */
export declare function i64Lanes(values: (number | bigint)[]): Uint8Array;
export declare function decodeI64Lanes(bytes: Uint8Array, n: number): bigint[];
/** A field of a parsed record as an i64 (number, bigint or decimal text); a RecordError naming `what` if not. */
export declare function i64(value: unknown, what?: string): bigint;

/** JSON.parse, except that integers past Number.MAX_SAFE_INTEGER become bigints. */
export declare function parseJson(text: string): any;

/** The lowercase ASCII words of a line, exactly as the Rust SDK's `text::ascii_words`. */
export declare function asciiWords(line: Bytes): string[];
/** Bytes decoded as UTF-8; invalid UTF-8 throws a RecordError. */
export declare function utf8(bytes: Uint8Array): string;
export declare function encodeUtf8(text: string): Uint8Array;

/** The characters besides ASCII letters and digits that `escape` keeps. */
export declare const UNESCAPED: "-_.+";
/** A value escaped for a partition name (`São Paulo` → `S%C3%A3o%20Paulo`). */
export declare function escape(value: string): string;
/** Undoes `escape`; a RecordError for a broken `%XX` or bytes that are not UTF-8. */
export declare function unescape(text: string): string;
/** A partition name of escaped `key=value` levels. */
export declare class Partition {
  constructor(name?: string);
  /** A new partition with the level `key=value` added. */
  key(key: string, value: string): Partition;
  toString(): string;
  /** The unescaped `[key, value]` pairs of a partition name. */
  static parse(name: string): [string, string][];
}
