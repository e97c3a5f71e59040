import { describe, expect, it } from "@jest/globals";
import { QuantileSketch, RecentMap, TopKeys, wilsonInterval } from "../../../src/core/analysis/stats.js";
import { prng } from "../../support/prng.js";

/** The nearest-rank quantile of the exact values, as the sketch defines it. */
function exactQuantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
}

describe("wilsonInterval", () => {
  it.each([
    // Reference values from the closed form (z = 1.96), as published in Newcombe (1998), table I.
    { s: 81, n: 263, low: 0.2553, high: 0.3662 },
    { s: 15, n: 148, low: 0.0624, high: 0.1605 },
    { s: 0, n: 20, low: 0, high: 0.1611 },
    { s: 1, n: 29, low: 0.0061, high: 0.1718 },
    { s: 29, n: 29, low: 0.883, high: 1 },
  ])("gives [$low, $high] for $s of $n", ({ s, n, low, high }) => {
    const ci = wilsonInterval(s, n)!;
    expect(ci.low).toBeCloseTo(low, 4);
    expect(ci.high).toBeCloseTo(high, 4);
  });

  it("has no interval without attempts, and narrows as attempts grow", () => {
    expect(wilsonInterval(0, 0)).toBeNull();
    const small = wilsonInterval(9, 10)!;
    const large = wilsonInterval(900, 1000)!;
    expect(small.high - small.low).toBeGreaterThan(large.high - large.low);
    expect(large.low).toBeLessThan(0.9);
    expect(large.high).toBeGreaterThan(0.9);
  });
});

describe("QuantileSketch", () => {
  it("is within 1% of the exact nearest-rank quantile over a skewed sample", () => {
    const random = prng(7);
    const sketch = new QuantileSketch();
    const values: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      // Log-normal-ish durations from 50 ms to several hours.
      const v = Math.exp(4 + 10 * random() * random()) + random();
      values.push(v);
      sketch.add(v);
    }
    for (const q of [0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1]) {
      const exact = exactQuantile(values, q);
      const estimate = sketch.quantile(q)!;
      expect(Math.abs(estimate - exact) / exact).toBeLessThanOrEqual(QuantileSketch.RELATIVE_ACCURACY);
    }
    expect(sketch.count).toBe(20_000);
  });

  it("reports a single value and small values exactly, and nothing when empty", () => {
    const empty = new QuantileSketch();
    expect(empty.quantile(0.5)).toBeNull();
    const one = new QuantileSketch();
    one.add(1234);
    expect(one.quantile(0.5)).toBe(1234);
    expect(one.quantile(0.95)).toBe(1234);
    const tiny = new QuantileSketch();
    for (const v of [0, 0, 0.5]) tiny.add(v);
    expect(tiny.quantile(0.5)).toBe(0);
    expect(tiny.quantile(1)).toBe(0.5);
  });

  it("ignores values that are not durations and clamps beyond the tracked range", () => {
    const s = new QuantileSketch();
    for (const v of [Number.NaN, -5, Infinity]) s.add(v);
    expect(s.count).toBe(0);
    s.add(5e10);
    s.add(100);
    expect(s.quantile(1)).toBe(5e10);
    expect(s.quantile(0.5)).toBeCloseTo(100, -0.1);
  });

  it("merges two sketches as if every value went into one", () => {
    const a = new QuantileSketch();
    const b = new QuantileSketch();
    const all = new QuantileSketch();
    for (let i = 1; i <= 1000; i++) {
      (i % 2 ? a : b).add(i * 37);
      all.add(i * 37);
    }
    a.merge(b);
    expect(a.count).toBe(1000);
    for (const q of [0.5, 0.95]) expect(a.quantile(q)).toBe(all.quantile(q));
  });
});

describe("TopKeys", () => {
  it("counts exactly while there are no more keys than counters", () => {
    const top = new TopKeys<{ first: number; last: number }>(3);
    const seen = (at: number) => (v: { first: number; last: number } | undefined) =>
      v ? { first: Math.min(v.first, at), last: Math.max(v.last, at) } : { first: at, last: at };
    ["b", "a", "b", "c", "b", "a"].forEach((k, i) => top.add(k, seen(i)));
    expect(top.exact).toBe(true);
    expect(top.top().map((e) => [e.key, e.count, e.overcount, e.value])).toEqual([
      ["b", 3, 0, { first: 0, last: 4 }],
      ["a", 2, 0, { first: 1, last: 5 }],
      ["c", 1, 0, { first: 3, last: 3 }],
    ]);
  });

  it("keeps every key seen more than total/capacity times, never under-counting", () => {
    const random = prng(3);
    const capacity = 20;
    const top = new TopKeys<null>(capacity);
    const truth = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) {
      // A few heavy keys among a long tail of one-offs.
      const key = random() < 0.4 ? `heavy-${Math.floor(random() * 4)}` : `tail-${i}`;
      truth.set(key, (truth.get(key) ?? 0) + 1);
      top.add(key, () => null);
    }
    expect(top.exact).toBe(false);
    expect(top.size).toBe(capacity);
    const kept = new Map(top.top().map((e) => [e.key, e]));
    for (const [key, count] of truth) {
      if (count > top.total / capacity) expect(kept.has(key)).toBe(true);
      const e = kept.get(key);
      if (e) {
        expect(e.count).toBeGreaterThanOrEqual(count);
        expect(e.count - e.overcount).toBeLessThanOrEqual(count);
        expect(e.overcount).toBeLessThanOrEqual(top.total / capacity);
      }
    }
    expect(
      top
        .top(4)
        .map((e) => e.key)
        .sort(),
    ).toEqual(["heavy-0", "heavy-1", "heavy-2", "heavy-3"]);
  });
});

describe("RecentMap", () => {
  it("forgets the least recently used entry beyond its capacity", () => {
    const m = new RecentMap<number>(2);
    m.set("a", 1);
    m.set("b", 2);
    expect(m.get("a")).toBe(1);
    m.set("c", 3);
    expect(m.get("b")).toBeUndefined();
    expect(m.get("a")).toBe(1);
    expect(m.get("c")).toBe(3);
    expect(m.size).toBe(2);
    expect(m.evicted).toBe(1);
  });
});
