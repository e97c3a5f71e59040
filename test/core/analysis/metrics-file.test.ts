import { describe, expect, it } from "@jest/globals";
import { analyzeEvents } from "../../../src/core/analysis/aggregate.js";
import { buildMetrics, metricsToSignals, parseMetrics } from "../../../src/core/analysis/metrics-file.js";
import { wilsonInterval } from "../../../src/core/analysis/stats.js";
import { InputError } from "../../../src/core/errors.js";
import { MetricsSchema } from "../../../src/core/metrics/schema.js";
import { daysAgo, LogBuilder, NOW, runs, WEEK } from "./fixtures.js";

const week = { now: NOW, window_ms: WEEK };

async function sample() {
  const log = new LogBuilder();
  await runs(log, "claude", 8, 6, daysAgo(5), { capability: "testing", duration_ms: 60_000 });
  await runs(log, "claude", 4, 1, daysAgo(12), { capability: "testing", duration_ms: 30_000 });
  await runs(log, "gemini", 3, 3, daysAgo(12), { capability: "documentation" });
  await log.run(daysAgo(1), { tool: "codex", capability: "testing", tokens: 2000, cost_usd: 0.3 });
  await log.run(daysAgo(1), {
    tool: "codex",
    capability: "testing",
    outcome: "tool_failed",
    tokens: 1000,
    cost_usd: 0.1,
  });
  return log;
}

describe("buildMetrics", () => {
  it("gives rates, Wilson intervals, trends and the mean cost of a run", async () => {
    const log = await sample();
    const metrics = buildMetrics(analyzeEvents(log.events, week), {
      input: { files: 1, lines: log.lines.length, events: log.events.length, skipped: 0 },
      gaps: ["workflow runs: not read"],
    });
    expect(MetricsSchema.parse(metrics)).toEqual(metrics);
    expect(metrics.repository).toBe("acme/widgets");
    expect(metrics.generated_at).toBe("2026-03-01T12:00:00.000Z");
    expect(metrics.window).toEqual({
      from: "2026-02-22T12:00:00.000Z",
      to: "2026-03-01T12:00:00.000Z",
      previous: { from: "2026-02-15T12:00:00.000Z", to: "2026-02-22T12:00:00.000Z" },
    });

    const claude = metrics.tools.find((t) => t.tool === "claude" && t.capability === "testing")!;
    const ci = wilsonInterval(6, 8)!;
    expect(claude).toEqual({
      tool: "claude",
      capability: "testing",
      attempts: 8,
      successes: 6,
      success_rate: 0.75,
      ci_low: Math.round(ci.low * 10_000) / 10_000,
      ci_high: Math.round(ci.high * 10_000) / 10_000,
      p50_ms: 60_000,
      p95_ms: 60_000,
      tokens: null,
      cost: null,
      cost_total: null,
      outcomes: { gate_failed: 2, success: 6 },
      previous: { attempts: 4, successes: 1, success_rate: 0.25, p50_ms: 30_000 },
    });
    const codex = metrics.tools.find((t) => t.tool === "codex" && t.capability === undefined)!;
    expect([codex.tokens, codex.cost, codex.cost_total]).toEqual([3000, 0.2, 0.4]);
    expect(codex.previous).toBeUndefined();

    // gemini only ran in the previous window: listed, with nothing now.
    const gemini = metrics.tools.filter((t) => t.tool === "gemini");
    expect(gemini.map((t) => [t.capability, t.attempts, t.success_rate, t.previous?.attempts])).toEqual([
      [undefined, 0, null, 3],
      ["documentation", 0, null, 3],
    ]);
    expect(metrics.tools.map((t) => `${t.tool}/${t.capability ?? "*"}`)).toEqual([
      "claude/*",
      "claude/testing",
      "codex/*",
      "codex/testing",
      "gemini/*",
      "gemini/documentation",
    ]);
    expect(metrics.input).toEqual({
      files: 1,
      lines: 17,
      events: 17,
      skipped: 0,
      in_window: 10,
      in_previous_window: 7,
      outside_windows: 0,
    });
    expect(metrics.gaps).toEqual(["workflow runs: not read"]);
    expect(metrics.workflows).toEqual([]);
  });

  it("writes a valid, clearly empty document for an empty window", () => {
    const metrics = buildMetrics(analyzeEvents([], week), { repository: "acme/widgets" });
    expect(metrics).toEqual({
      schema_version: 1,
      repository: "acme/widgets",
      generated_at: NOW,
      window: {
        from: "2026-02-22T12:00:00.000Z",
        to: NOW,
        previous: { from: "2026-02-15T12:00:00.000Z", to: "2026-02-22T12:00:00.000Z" },
      },
      tools: [],
      recovery: [],
      recovery_summary: {
        steps: 0,
        greens: 0,
        steps_to_green_mean: null,
        steps_to_green_max: null,
        quarantines: 0,
        flaky: 0,
        previous: { steps: 0, greens: 0, quarantines: 0, flaky: 0 },
      },
      workflows: [],
      flaky_tests: [],
      signatures: [],
      gaps: [],
    });
  });

  it("names the repository 'local' when the task keys name several", async () => {
    const log = new LogBuilder();
    await log.run(daysAgo(1), { tool: "a", task_key: "acme/one#1" });
    await log.run(daysAgo(1), { tool: "a", task_key: "acme/two#1" });
    expect(buildMetrics(analyzeEvents(log.events, week)).repository).toBe("local");
  });
});

describe("metrics.json for the router", () => {
  it("survives a round trip through JSON and gives the strategy its figures", async () => {
    const log = await sample();
    const metrics = buildMetrics(analyzeEvents(log.events, week));
    const signals = metricsToSignals(JSON.parse(JSON.stringify(metrics)));
    expect(signals).toEqual([
      { tool: "claude", attempts: 8, successes: 6, p50_ms: 60_000, cost: null },
      { tool: "claude", capability: "testing", attempts: 8, successes: 6, p50_ms: 60_000, cost: null },
      { tool: "codex", attempts: 2, successes: 1, p50_ms: 1000, cost: 0.2 },
      { tool: "codex", capability: "testing", attempts: 2, successes: 1, p50_ms: 1000, cost: 0.2 },
      { tool: "gemini", attempts: 0, successes: 0, p50_ms: null, cost: null },
      { tool: "gemini", capability: "documentation", attempts: 0, successes: 0, p50_ms: null, cost: null },
    ]);
  });

  it("refuses a document that is not metrics.json, saying where", () => {
    expect(() => metricsToSignals({ schema_version: 2 })).toThrow(InputError);
    expect(() => parseMetrics({ hello: 1 }, "artifact metrics.json")).toThrow(
      /^artifact metrics\.json is not a Switchyard metrics\.json \(schema_version: /,
    );
    const metrics = buildMetrics(analyzeEvents([], week));
    const broken = {
      ...metrics,
      tools: [{ ...emptyTool("claude"), attempts: 1, successes: 2 }],
    };
    expect(() => parseMetrics(broken)).toThrow(
      "metrics.json is not consistent: tools[0] (claude) has 2 successes out of 1 attempts",
    );
  });

  it("still reads a metrics.json written before the optional fields existed", () => {
    const old = {
      schema_version: 1,
      repository: "acme/widgets",
      generated_at: NOW,
      window: { from: daysAgo(7), to: NOW },
      tools: [{ ...emptyTool("aider"), attempts: 10, successes: 7, success_rate: 0.7 }],
      recovery: [],
      workflows: [],
      flaky_tests: [],
      signatures: [],
      gaps: [],
    };
    expect(metricsToSignals(old)).toEqual([
      { tool: "aider", attempts: 10, successes: 7, p50_ms: null, cost: null },
    ]);
  });
});

function emptyTool(tool: string) {
  return {
    tool,
    attempts: 0,
    successes: 0,
    success_rate: null,
    ci_low: null,
    ci_high: null,
    p50_ms: null,
    p95_ms: null,
    tokens: null,
    cost: null,
  };
}
