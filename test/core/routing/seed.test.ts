import { describe, expect, it } from "@jest/globals";
import { hash32, unitInterval } from "../../../src/core/routing/seed.js";

describe("hash32", () => {
  // Known answers, computed with an independent implementation of FNV-1a 32 + murmur3 fmix32.
  it.each([
    ["", 2872998923],
    ["a", 444641715],
    ["octo/repo#12", 2584894926],
  ])("hash32(%j) = %d", (text, expected) => {
    expect(hash32(text)).toBe(expected);
  });

  it("separates seeds that differ only in their last character", () => {
    const hashes = new Set(Array.from({ length: 1000 }, (_, i) => hash32(`octo/repo#${i}`)));
    expect(hashes.size).toBe(1000);
  });
});

describe("unitInterval", () => {
  it("stays in [0, 1) and spreads evenly over ten buckets", () => {
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 10_000; i++) {
      const u = unitInterval(`explore|octo/repo#${i}|0`);
      expect(u >= 0 && u < 1).toBe(true);
      buckets[Math.floor(u * 10)]! += 1;
    }
    // Binomial(10000, 0.1) has a standard deviation of 30: five of them either side.
    for (const count of buckets) {
      expect(count).toBeGreaterThan(850);
      expect(count).toBeLessThan(1150);
    }
  });

  it("is a function of the seed alone", () => {
    expect(unitInterval("octo/repo#12")).toBe(2584894926 / 2 ** 32);
  });
});
