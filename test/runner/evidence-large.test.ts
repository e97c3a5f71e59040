import { describe, expect, it } from "@jest/globals";
import { extractEvidence } from "../../src/runner/evidence.js";

/**
 * A 20 MB job log made on the fly, never held whole: the evidence must stay under its cap however
 * much the log holds of errors and recognised lines. Speed is measured by the benchmark
 * (bench/evidence.bench.ts), not here.
 */
async function* bigLog(
  totalBytes: number,
  stats: { bytes: number; lines: number },
): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder();
  let chunk = "";
  let i = 0;
  const add = (text: string) => {
    chunk += `2026-11-20T10:15:32.${String(i % 10_000_000).padStart(7, "0")}Z ${text}\n`;
    stats.lines++;
  };
  add("##[group]Run npm test");
  add("##[endgroup]");
  while (stats.bytes + chunk.length < totalBytes) {
    i++;
    if (i % 997 === 0)
      add(`src/module${i}.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.`);
    else if (i % 4999 === 0) add(`##[error]intermediate failure ${i}`);
    else if (i % 7919 === 0) add(`  \x1b[1m● \x1b[22mSuite ${i} › does a thing`);
    else add(`  \x1b[32m✓\x1b[39m computes the total for cart ${i} (${i % 17} ms) ${"·".repeat(i % 40)}`);
    if (chunk.length >= 65_536) {
      const bytes = encoder.encode(chunk);
      stats.bytes += bytes.length;
      chunk = "";
      yield bytes;
    }
  }
  add("Tests:       312 failed, 4000 passed, 4312 total");
  add("##[error]Process completed with exit code 1.");
  const bytes = encoder.encode(chunk);
  stats.bytes += bytes.length;
  yield bytes;
}

describe("extractEvidence on a 20 MB log", () => {
  it("keeps the evidence under maxBytes, ends with the final error and counts everything it read", async () => {
    const stats = { bytes: 0, lines: 0 };
    const maxBytes = 64 * 1024;
    const ev = await extractEvidence(bigLog(20 * 1024 * 1024, stats), { maxBytes });

    const kept = ev.excerpts.flatMap((e) => e.lines);
    const keptBytes = kept.reduce((sum, l) => sum + Buffer.byteLength(l.text) + 1, 0);
    expect(keptBytes).toBeLessThanOrEqual(maxBytes);
    expect(keptBytes).toBeGreaterThan(maxBytes / 2);
    expect(ev.bytes).toBe(stats.bytes);
    expect(ev.lines).toBe(stats.lines);
    expect(ev.bytes).toBeGreaterThanOrEqual(20 * 1024 * 1024);
    expect(kept[kept.length - 1]).toEqual({
      n: stats.lines,
      text: "Process completed with exit code 1.",
      kind: "error",
    });
    expect(ev.error_lines).toBe(Math.floor((ev.lines - 4) / 4999) + 1);
    expect(ev.truncated).toBe(true);
    expect(ev.failed_step).toBe("Run npm test");
    // Line numbers increase through the excerpts: the evidence reads in log order.
    const numbers = kept.map((l) => l.n);
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    expect(new Set(numbers).size).toBe(numbers.length);
  });
});
