// The values of one key, as `reduce` and `combine` see them: the part that came with the batch,
// then chunks pulled from the host (`host.next-values`) while the group continues.

import { decodeI64Lanes } from "./codec.js";

/**
 * The values of one key, in byte order, each a Uint8Array. A key may have more values than fit in
 * memory: they arrive in chunks as you read them, so read them once, in order, with `for ... of`
 * (or {@link Values#nextValue}), and keep only what you need.
 */
export class Values {
  /**
   * Values `first..end` of a batch whose items end at `ends` in `data`; `pull` (or null) returns
   * the next chunk `{data, ends}` of the group, or undefined once it has no more.
   */
  constructor(data, ends, first, end, pull) {
    this.data = data;
    this.ends = ends;
    this.next_ = first;
    this.end = end;
    this.start = first === 0 ? 0 : ends[first - 1];
    this.pull = pull;
  }

  /** The next value, or `undefined` once every value of the key was read. */
  nextValue() {
    while (this.next_ === this.end) {
      if (this.pull === null) return undefined;
      const chunk = this.pull();
      if (chunk === undefined || chunk === null) {
        this.pull = null;
        return undefined;
      }
      this.data = chunk.data;
      this.ends = chunk.ends;
      this.next_ = 0;
      this.end = chunk.ends.length;
      this.start = 0;
    }
    const end = this.ends[this.next_++];
    const value = this.data.subarray(this.start, end);
    this.start = end;
    return value;
  }

  /** The iterator protocol: `for (const v of values)`. */
  next() {
    const value = this.nextValue();
    return value === undefined ? { value: undefined, done: true } : { value, done: false };
  }

  [Symbol.iterator]() {
    return this;
  }

  /** Counts the remaining values. */
  count() {
    let n = 0;
    while (this.nextValue() !== undefined) n++;
    return n;
  }

  /** Adds up the remaining values in the `i64Key` encoding, wrapping as the host's `sum` does: a bigint. */
  sumI64() {
    return this.sumI64Lanes(1)[0];
  }

  /** Adds up the remaining values of `n` lanes (`i64Lanes`), lane by lane: `n` bigints. */
  sumI64Lanes(n) {
    const total = new Array(n).fill(0n);
    for (let v = this.nextValue(); v !== undefined; v = this.nextValue()) {
      const lanes = decodeI64Lanes(v, n);
      for (let i = 0; i < n; i++) total[i] = BigInt.asIntN(64, total[i] + lanes[i]);
    }
    return total;
  }

  /** The remaining values decoded with `decode` (for example `decodeI64`), one at a time. */
  *decode(decode) {
    for (let v = this.nextValue(); v !== undefined; v = this.nextValue()) yield decode(v);
  }
}
