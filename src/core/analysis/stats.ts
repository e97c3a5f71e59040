/**
 * Statistics for the analysis, each in bounded memory whatever the number of events: a success
 * rate's confidence interval, duration percentiles from a log-scale histogram, and the most
 * frequent keys of a stream with a fixed number of counters.
 */

/** The normal quantile for a two-sided 95% interval. */
const Z_95 = 1.959963984540054;

export interface Interval {
  low: number;
  high: number;
}

/**
 * The Wilson score interval around successes/attempts. Unlike the textbook p ± z·sqrt(p(1-p)/n),
 * it stays inside [0, 1] and does not collapse to a point at 0/n or n/n, which is exactly where a
 * new tool's record sits. Null when there is nothing to estimate from.
 */
export function wilsonInterval(successes: number, attempts: number, z = Z_95): Interval | null {
  if (attempts <= 0) return null;
  const p = successes / attempts;
  const z2 = z * z;
  const denominator = 1 + z2 / attempts;
  const center = (p + z2 / (2 * attempts)) / denominator;
  const half = (z * Math.sqrt((p * (1 - p)) / attempts + z2 / (4 * attempts * attempts))) / denominator;
  return { low: Math.max(0, center - half), high: Math.min(1, center + half) };
}

/**
 * Quantiles of non-negative values (durations in milliseconds) from a fixed log-scale histogram,
 * in the manner of DDSketch.
 *
 * Bucket i (i >= 1) holds the values in (γ^(i-1), γ^i] with γ = (1 + α) / (1 - α), and a
 * quantile is reported as 2γ^i / (γ + 1), the point whose relative distance to both ends of the
 * bucket is α. So for values between 1 ms and MAX_TRACKED_MS, a reported quantile is within a
 * relative error of α = 1% of the exact nearest-rank quantile (a p95 of 10 minutes is right to
 * within 6 seconds). The minimum and maximum are kept exactly and every estimate is clamped
 * between them. Values of 1 ms or less share bucket 0, reported as the minimum (off by less
 * than 1 ms); values above MAX_TRACKED_MS share the last bucket, reported as the maximum.
 *
 * Memory is fixed: BUCKETS counters (about 9 KB), however many values are added.
 */
export class QuantileSketch {
  static readonly RELATIVE_ACCURACY = 0.01;
  /** About 115 days: far beyond any tool timeout. */
  static readonly MAX_TRACKED_MS = 1e10;
  private static readonly GAMMA =
    (1 + QuantileSketch.RELATIVE_ACCURACY) / (1 - QuantileSketch.RELATIVE_ACCURACY);
  private static readonly LOG_GAMMA = Math.log(QuantileSketch.GAMMA);
  static readonly BUCKETS = Math.ceil(Math.log(QuantileSketch.MAX_TRACKED_MS) / QuantileSketch.LOG_GAMMA) + 1;

  private readonly counts = new Float64Array(QuantileSketch.BUCKETS);
  count = 0;
  min = Infinity;
  max = -Infinity;

  add(value: number): void {
    if (!(value >= 0) || !Number.isFinite(value)) return;
    const i =
      value <= 1
        ? 0
        : Math.min(QuantileSketch.BUCKETS - 1, Math.ceil(Math.log(value) / QuantileSketch.LOG_GAMMA));
    this.counts[i]!++;
    this.count++;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  merge(other: QuantileSketch): void {
    for (let i = 0; i < QuantileSketch.BUCKETS; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
  }

  /**
   * The nearest-rank quantile (the smallest value with at least q of all values at or below it,
   * as bench/harness.ts and most dashboards define it), estimated; null when empty.
   */
  quantile(q: number): number | null {
    if (this.count === 0) return null;
    const rank = Math.max(1, Math.ceil(Math.min(1, Math.max(0, q)) * this.count));
    let seen = 0;
    let bucket = QuantileSketch.BUCKETS - 1;
    for (let i = 0; i < QuantileSketch.BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) {
        bucket = i;
        break;
      }
    }
    // The extremes are kept exactly; so is everything beyond the tracked range, which is the max.
    if (rank === this.count || bucket === QuantileSketch.BUCKETS - 1) return this.max;
    if (rank === 1 || bucket === 0) return this.min;
    const estimate = (2 * Math.pow(QuantileSketch.GAMMA, bucket)) / (QuantileSketch.GAMMA + 1);
    return Math.min(this.max, Math.max(this.min, estimate));
  }
}

export interface TopEntry<V> {
  key: string;
  /** An upper bound of the true count; exact while the counter was never taken over. */
  count: number;
  /** How much `count` may exceed the true count (0 until counters had to be reused). */
  overcount: number;
  value: V;
}

/**
 * The most frequent keys of a stream in `capacity` counters (the Space-Saving algorithm of
 * Metwally, Agrawal and El Abbadi). While there are at most `capacity` distinct keys every count
 * is exact. After that, a new key takes over the counter of the least frequent one and starts
 * from its count, so:
 * - every key seen more than total/capacity times is kept;
 * - a reported count is never below the true count and exceeds it by at most `overcount`,
 *   itself at most total/capacity.
 *
 * Each key carries a value (first and last seen, a category) that `add` folds every occurrence
 * into; when a counter is taken over, the value starts afresh from the new key. Each add costs
 * O(log capacity): the counters are a min-heap, so the least frequent is always at the root.
 */
export class TopKeys<V> {
  private readonly heap: TopEntry<V>[] = [];
  private readonly index = new Map<string, number>();
  total = 0;
  /** True while no counter has been taken over, i.e. while every count is exact. */
  exact = true;

  constructor(readonly capacity: number) {
    if (!(capacity >= 1)) throw new RangeError("TopKeys needs at least one counter");
  }

  /** Counts one occurrence of `key`; `fold` gets the key's value (undefined if new) and returns the next. */
  add(key: string, fold: (value: V | undefined) => V): void {
    this.total++;
    const at = this.index.get(key);
    if (at !== undefined) {
      const entry = this.heap[at]!;
      entry.count++;
      entry.value = fold(entry.value);
      this.siftDown(at);
      return;
    }
    if (this.heap.length < this.capacity) {
      this.heap.push({ key, count: 1, overcount: 0, value: fold(undefined) });
      this.index.set(key, this.heap.length - 1);
      this.siftUp(this.heap.length - 1);
      return;
    }
    this.exact = false;
    const least = this.heap[0]!;
    this.index.delete(least.key);
    this.heap[0] = { key, count: least.count + 1, overcount: least.count, value: fold(undefined) };
    this.index.set(key, 0);
    this.siftDown(0);
  }

  /** The `n` most frequent keys, most frequent first, ties by key. */
  top(n = this.capacity): TopEntry<V>[] {
    return [...this.heap]
      .sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .slice(0, n);
  }

  get size(): number {
    return this.heap.length;
  }

  private siftUp(i: number): void {
    const heap = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.count <= heap[i]!.count) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && heap[left]!.count < heap[smallest]!.count) smallest = left;
      if (right < heap.length && heap[right]!.count < heap[smallest]!.count) smallest = right;
      if (smallest === i) return;
      this.swap(i, smallest);
      i = smallest;
    }
  }

  private swap(a: number, b: number): void {
    const heap = this.heap;
    const x = heap[a]!;
    heap[a] = heap[b]!;
    heap[b] = x;
    this.index.set(heap[a]!.key, a);
    this.index.set(heap[b]!.key, b);
  }
}

/**
 * A map that forgets its least recently used entry beyond `capacity`, for per-task state (the
 * capability a task was created with, an open recovery episode) that must not grow with the input.
 */
export class RecentMap<V> {
  private readonly map = new Map<string, V>();
  evicted = 0;

  constructor(readonly capacity: number) {}

  get(key: string): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  set(key: string, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
      this.evicted++;
    }
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  get size(): number {
    return this.map.size;
  }
}
