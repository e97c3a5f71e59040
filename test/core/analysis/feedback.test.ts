import { describe, expect, it } from "@jest/globals";
import { ConfigSchema } from "../../../src/config/schema.js";
import { analyzeEvents } from "../../../src/core/analysis/aggregate.js";
import { renderDashboard } from "../../../src/core/analysis/dashboard.js";
import { buildMetrics, metricsToSignals } from "../../../src/core/analysis/metrics-file.js";
import { route } from "../../../src/core/routing/route.js";
import { makeTask } from "../routing/fixtures.js";
import { DAY, LogBuilder, WEEK } from "./fixtures.js";

/**
 * The loop the analysis closes: runs -> event log -> metrics.json -> the metrics strategy on the
 * next route. A tool whose success rate falls must lose traffic to the one that held up.
 */

const WEEK_1 = "2026-03-01T12:00:00.000Z";
const WEEK_2 = new Date(Date.parse(WEEK_1) + WEEK).toISOString();

// The shipped metrics weights (prior 2/2, latency and cost 0.1, exploration 0.1, min_samples 5);
// both tools have more than min_samples runs, so no task is sent off to explore. `steady` comes
// first in the chain, so `star` winning at first is the metrics' doing, not the chain order.
const config = ConfigSchema.parse({
  tools: ["steady", "star"].map((name) => ({ name, command: name, capabilities: ["testing"] })),
  routing: { strategy: "metrics", chains: { testing: ["steady", "star"] } },
});

/** One week of runs ending at `end`: `rate` of each tool's 40 runs succeed, all equally fast. */
async function week(log: LogBuilder, end: string, rates: Record<string, number>): Promise<void> {
  for (const [tool, rate] of Object.entries(rates)) {
    for (let i = 0; i < 40; i++) {
      await log.run(new Date(Date.parse(end) - 6 * DAY + i * 3_600_000).toISOString(), {
        tool,
        capability: "testing",
        outcome: i < rate * 40 ? "success" : "gate_failed",
        task_key: `acme/widgets#${1000 + i}`,
        duration_ms: 120_000,
        cost_usd: 0.05,
      });
    }
  }
}

/** Routes 200 different tasks with metrics.json as the analysis wrote it; tool -> tasks. */
function traffic(log: LogBuilder, now: string) {
  const metrics = buildMetrics(analyzeEvents(log.events, { now, window_ms: WEEK }));
  const signals = metricsToSignals(JSON.parse(JSON.stringify(metrics)));
  const counts: Record<string, number> = { steady: 0, star: 0 };
  for (let n = 1; n <= 200; n++) {
    const decision = route(makeTask({ key: `acme/widgets#${n}`, number: n }), config, {
      now,
      metrics: signals,
    });
    counts[decision.tool!]!++;
  }
  return { counts, metrics };
}

describe("metrics feedback loop", () => {
  it("sends most tasks to the tool that succeeds more, and moves them when its success rate falls", async () => {
    const log = new LogBuilder();
    await week(log, WEEK_1, { star: 0.9, steady: 0.6 });

    const before = traffic(log, WEEK_1);
    expect(before.counts).toEqual({ star: 200, steady: 0 });

    // A week later star has dropped to 30% while steady held at 60%.
    await week(log, WEEK_2, { star: 0.3, steady: 0.6 });
    const after = traffic(log, WEEK_2);
    expect(after.counts).toEqual({ star: 0, steady: 200 });

    // The dashboard of the second week shows the fall against the first.
    const star = after.metrics.tools.find((t) => t.tool === "star" && t.capability === undefined)!;
    expect([star.success_rate, star.previous?.success_rate]).toEqual([0.3, 0.9]);
    expect(renderDashboard(after.metrics)).toContain(
      "| **star** | all | 40 | 30% | 18.1%–45.4% | ▼ 60 pts | 2 min | 2 min | — | $0.05 |",
    );
  });
});
