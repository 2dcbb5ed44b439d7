// Types of the SDK's native test runner (see README.md, "Testing a job").

import type { Bytes, FormatName, Job, LogLevelName, Record, Values } from "./index.js";

export type JobModule = Job | (new () => Job);

export interface RunOptions {
  format?: FormatName;
  /** The CSV header line. */
  header?: Bytes;
  params?: [string, string][];
  /** Hand each group's values to reduce `stream` at a time through `next-values`. */
  stream?: number;
}

/** Runs the job as Sandmill would on one map task and one reducer; returns the output lines. */
export declare function run(job: JobModule, records: Bytes[], options?: RunOptions): string[];
/** Calls the job's map on each record; returns the emitted pairs. */
export declare function map(job: JobModule, records: Bytes[], options?: Omit<RunOptions, "stream">): [Uint8Array, Uint8Array][];
/** A record for a test of `map`. */
export declare function record(bytes: Bytes, format?: FormatName, header?: Bytes | null): Record;
/** Values for a test of `reduce`. */
export declare function values(items: Bytes[]): Values;
/** Byte order of two byte arrays. */
export declare function compareBytes(a: Uint8Array, b: Uint8Array): number;
/** What `run` and `map` throw when the job returned a WIT job-error. */
export declare class JobFailed extends Error {
  readonly jobError:
    | { tag: "invalid-record"; val: { index: number; message: string } }
    | { tag: "invalid-params"; val: string }
    | { tag: "failed"; val: string };
}
export declare function takeLogs(): [LogLevelName, string][];
export declare function takeCounters(): Map<string, bigint>;
