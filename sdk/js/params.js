// The job's `--param key=value` pairs.

import { ParamsError } from "./errors.js";

/** The job's parameters, as given with `sandmill run --param key=value`. */
export class Params {
  /** Parameters from `[key, value]` pairs (a later duplicate wins). */
  constructor(pairs = []) {
    this.pairs = pairs.map(([k, v]) => [String(k), String(v)]);
  }

  /** The value of `key`, or `undefined`. */
  get(key) {
    for (let i = this.pairs.length - 1; i >= 0; i--) if (this.pairs[i][0] === key) return this.pairs[i][1];
    return undefined;
  }

  /** The value of `key` as an integer number, or `dflt` if not given; a {@link ParamsError} if not an integer. */
  integer(key, dflt) {
    const v = this.get(key);
    if (v === undefined) return dflt;
    const n = /^[+-]?[0-9]+$/.test(v.trim()) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n)) throw new ParamsError(`--param ${key}=${v}: not an integer`);
    return n;
  }

  /** Throws a {@link ParamsError} if any parameter other than `known` was given, so typos do not pass. */
  expectOnly(known) {
    const unknown = this.pairs.find(([k]) => !known.includes(k));
    if (unknown === undefined) return;
    const takes = known.length === 0 ? "this job takes none" : `this job takes ${known.join(", ")}`;
    throw new ParamsError(`unknown parameter ${JSON.stringify(unknown[0])}: ${takes}`);
  }

  /** All `[key, value]` pairs, in the order given. */
  entries() {
    return this.pairs.slice();
  }
}
