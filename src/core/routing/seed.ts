/**
 * Seeded randomness for the core. Routing and retry decisions must be reproducible from their
 * inputs (the same task and signals give the same decision when replayed from GitHub's history),
 * so instead of Math.random they draw from a hash of a caller-chosen seed string.
 */

/**
 * FNV-1a over the string's UTF-16 code units, finished with murmur3's fmix32. FNV-1a alone mixes
 * its last characters poorly, and seeds here often differ only at the end ("owner/repo#12" vs
 * "owner/repo#13"); the finaliser spreads that difference over every bit.
 */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A number in [0, 1), uniform over seeds and fixed for one seed. */
export function unitInterval(seed: string): number {
  return hash32(seed) / 0x1_0000_0000;
}
