/**
 * mulberry32: a small seeded PRNG for fuzz tests and generated bench data, so a failing case can
 * be reproduced from its seed and a bench writes the same input every run. Not for production:
 * the core takes its seeds as arguments (src/core/routing/seed.ts).
 */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
