/**
 * A small benchmark harness: warm up, time many runs, report percentiles. Benchmarks print
 * figures and compare them with the targets; they never fail CI on a slow machine, which
 * is why speed lives here and not in timed tests.
 */

export interface BenchResult {
  name: string;
  runs: number;
  unit: string;
  p50: number;
  p99: number;
  mean: number;
  /** The figure the target is about (p99, p50, a single measurement...). */
  figure: number;
  target: string;
  ok: boolean;
  note?: string;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export interface TimeOptions {
  warmup?: number;
  runs: number;
}

/** Times fn in milliseconds over `runs` calls after `warmup` calls that are not counted. */
export async function timeRuns(fn: () => unknown, opts: TimeOptions): Promise<number[]> {
  for (let i = 0; i < (opts.warmup ?? Math.min(50, opts.runs)); i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < opts.runs; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return samples.sort((a, b) => a - b);
}

export function summarize(
  name: string,
  samples: number[],
  target: { stat: "p50" | "p99" | "mean"; below: number; label: string },
): BenchResult {
  const p50 = percentile(samples, 50);
  const p99 = percentile(samples, 99);
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  const figure = { p50, p99, mean }[target.stat];
  return {
    name,
    runs: samples.length,
    unit: "ms",
    p50,
    p99,
    mean,
    figure,
    target: target.label,
    ok: figure < target.below,
  };
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return "—";
  if (Number.isInteger(n)) return String(n);
  return n >= 100 ? n.toFixed(0) : n >= 1 ? n.toFixed(2) : n.toFixed(3);
}

export function renderResults(results: BenchResult[]): string {
  const rows = results.map(
    (r) =>
      `| ${r.name} | ${r.runs} | ${fmt(r.p50)} ${r.unit} | ${fmt(r.p99)} ${r.unit} | ${r.target} | ${r.ok ? "met" : "**missed**"} |`,
  );
  // Notes say what a single figure is made of (e.g. the app's CPU breakdown): below the table.
  const notes = results.filter((r) => r.note).map((r) => `- ${r.name}: ${r.note}`);
  return [
    "| benchmark | runs | p50 | p99 | target | result |",
    "| --- | ---: | ---: | ---: | --- | --- |",
    ...rows,
    ...(notes.length > 0 ? ["", ...notes] : []),
  ].join("\n");
}
