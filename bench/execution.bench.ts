import { gitDataCommitBenchResults } from "./git-data-commit.bench.js";
import type { BenchResult } from "./harness.js";
import { benchOutputRss, benchRunnerOverhead } from "./runner.bench.js";

/** The Execution issue's targets: runner overhead, memory under a flood, Git Data API requests. */
export async function benchExecution(): Promise<BenchResult[]> {
  const overhead = await benchRunnerOverhead();
  const rss = await benchOutputRss();
  const single = (name: string, figure: number, unit: string, target: string, ok: boolean): BenchResult => ({
    name,
    runs: 1,
    unit,
    p50: figure,
    p99: figure,
    mean: figure,
    figure,
    target,
    ok,
  });
  return [
    {
      name: "runner overhead around a tool that exits at once",
      runs: overhead.runs,
      unit: "ms",
      p50: overhead.p50,
      p99: overhead.p99,
      mean: overhead.p50,
      figure: overhead.p50,
      target: "< 150 ms",
      ok: overhead.p50 < 150,
    },
    single(
      `peak RSS streaming ${Math.round(rss.bytes / 2 ** 20)} MiB of tool output`,
      rss.peakRssMb,
      "MB",
      "< 150 MB",
      rss.peakRssMb < 150,
    ),
    ...(await gitDataCommitBenchResults()),
  ];
}
