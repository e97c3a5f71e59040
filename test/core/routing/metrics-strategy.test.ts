import { describe, expect, it } from "@jest/globals";
import { route } from "../../../src/core/routing/route.js";
import type { Signals } from "../../../src/core/routing/schema.js";
import { unitInterval } from "../../../src/core/routing/seed.js";
import { figuresFor, smoothedSuccess } from "../../../src/core/routing/strategies.js";
import { makeConfig, makeTask, NOW, tool } from "./fixtures.js";

type MetricsEntry = NonNullable<Signals["metrics"]>[number];

const quiet = { latency_weight: 0, cost_weight: 0, exploration_rate: 0 };

function metricsConfig(metrics: Record<string, number> = {}, chain = ["lucky", "steady"]) {
  return makeConfig(
    { strategy: "metrics", chains: { testing: chain }, metrics: { ...quiet, ...metrics } },
    chain.map((name) => tool(name)),
  );
}

function scores(metrics: MetricsEntry[], config = metricsConfig()) {
  const decision = route(makeTask(), config, { now: NOW, metrics });
  return Object.fromEntries(decision.candidates.map((c) => [c.tool, c.score]));
}

describe("metrics strategy: smoothing", () => {
  it("ranks 95 successes of 100 above 1 of 1 (posterior means 0.9327 and 0.6)", () => {
    const config = metricsConfig();
    const decision = route(makeTask(), config, {
      now: NOW,
      metrics: [
        { tool: "lucky", attempts: 1, successes: 1 },
        { tool: "steady", attempts: 100, successes: 95 },
      ],
    });
    expect(decision.tool).toBe("steady");
    expect(decision.candidates.map((c) => [c.tool, c.score])).toEqual([
      ["steady", 0.9327],
      ["lucky", 0.6],
    ]);
    expect(decision.summary).toBe("Routed 'testing' to steady by metrics; fallback: lucky.");
  });

  it.each([
    { attempts: 0, successes: 0, prior: [2, 2], expected: 0.5 },
    { attempts: 1, successes: 1, prior: [2, 2], expected: 0.6 },
    { attempts: 100, successes: 95, prior: [2, 2], expected: 97 / 104 },
    { attempts: 10, successes: 0, prior: [1, 9], expected: 1 / 20 },
    { attempts: 4, successes: 3, prior: [0, 0], expected: 0.75 },
    { attempts: 0, successes: 0, prior: [0, 0], expected: 0.5 },
  ])(
    "smoothedSuccess($successes/$attempts, prior $prior) = $expected",
    ({ attempts, successes, prior, expected }) => {
      const weights = metricsConfig({ prior_successes: prior[0]!, prior_failures: prior[1]! }).routing
        .metrics;
      expect(smoothedSuccess(attempts, successes, weights)).toBeCloseTo(expected, 12);
    },
  );

  it("treats a tool with no figures as the prior alone", () => {
    expect(scores([{ tool: "steady", attempts: 20, successes: 10 }])).toEqual({ steady: 0.5, lucky: 0.5 });
  });
});

describe("metrics strategy: which figures", () => {
  const entries: MetricsEntry[] = [
    { tool: "steady", attempts: 100, successes: 50 },
    { tool: "steady", capability: "testing", attempts: 20, successes: 18 },
    { tool: "steady", capability: "documentation", attempts: 50, successes: 0 },
  ];

  it("prefers the capability's own figures when they have min_samples runs", () => {
    expect(figuresFor("steady", "testing", entries, 5)).toEqual({
      attempts: 20,
      successes: 18,
      p50_ms: null,
      cost: null,
      scope: "capability",
    });
    expect(scores(entries).steady).toBe(0.8333);
  });

  it("falls back to the tool-wide figures when the capability has too few runs", () => {
    expect(figuresFor("steady", "testing", entries, 21).scope).toBe("tool");
    expect(scores(entries, metricsConfig({ min_samples: 21 })).steady).toBe(0.5);
  });

  it("uses thin capability figures when there is nothing else, and none for an unknown tool", () => {
    const thin: MetricsEntry[] = [{ tool: "lucky", capability: "testing", attempts: 2, successes: 2 }];
    expect(figuresFor("lucky", "testing", thin, 5).scope).toBe("capability");
    expect(figuresFor("steady", "testing", thin, 5)).toEqual({
      attempts: 0,
      successes: 0,
      p50_ms: null,
      cost: null,
      scope: "none",
    });
  });
});

describe("metrics strategy: latency and cost", () => {
  const fastCheap: MetricsEntry = { tool: "lucky", attempts: 10, successes: 10, p50_ms: 1000, cost: 1 };
  const slowDear: MetricsEntry = { tool: "steady", attempts: 10, successes: 10, p50_ms: 4000, cost: 2 };

  it("subtracts each weight times the figure's share of the largest among the candidates", () => {
    const config = metricsConfig({ latency_weight: 0.1, cost_weight: 0.2 });
    const decision = route(makeTask(), config, { now: NOW, metrics: [fastCheap, slowDear] });
    // Both 12/14 = 0.857143; lucky pays 0.1 * 1/4 + 0.2 * 1/2, steady 0.1 + 0.2.
    expect(decision.candidates).toEqual([
      {
        tool: "lucky",
        score: 0.7321,
        status: "chosen",
        reason:
          "metrics: 0.857 success (10/10 on all capabilities, prior 2/4) - 0.025 latency (p50 1 s) - 0.100 cost (1)",
      },
      {
        tool: "steady",
        score: 0.5571,
        status: "fallback",
        reason:
          "metrics: 0.857 success (10/10 on all capabilities, prior 2/4) - 0.100 latency (p50 4 s) - 0.200 cost (2)",
      },
    ]);
  });

  it("can let a faster tool beat a slightly more successful one", () => {
    const config = metricsConfig({ latency_weight: 0.5 });
    const result = scores(
      [
        { tool: "lucky", attempts: 100, successes: 90, p50_ms: 400_000 },
        { tool: "steady", attempts: 100, successes: 85, p50_ms: 100_000 },
      ],
      config,
    );
    // lucky 92/104 - 0.5 * 1 = 0.3846; steady 87/104 - 0.5 * 0.25 = 0.7115.
    expect(result).toEqual({ lucky: 0.3846, steady: 0.7115 });
  });

  it("counts an unknown figure as half the weight", () => {
    const config = metricsConfig({ latency_weight: 0.1, cost_weight: 0.1 });
    const result = scores([{ tool: "steady", attempts: 10, successes: 10, p50_ms: 2000, cost: 1 }], config);
    // lucky has no figures: 0.5 - 0.05 - 0.05; steady 12/14 - 0.1 - 0.1.
    expect(result).toEqual({ lucky: 0.4, steady: 0.6571 });
  });

  it("describes thin and missing records in the reason", () => {
    const decision = route(makeTask(), metricsConfig({ latency_weight: 0.1, cost_weight: 0.1 }), {
      now: NOW,
      metrics: [
        {
          tool: "steady",
          capability: "testing",
          attempts: 30,
          successes: 27,
          p50_ms: 150_000,
          cost: 0.01234,
        },
      ],
    });
    expect(decision.candidates.map((c) => c.reason)).toEqual([
      "metrics: 0.853 success (27/30 on 'testing', prior 2/4) - 0.100 latency (p50 2.5 min) - 0.100 cost (0.0123)",
      "metrics: 0.500 success (no runs yet, prior 2/4) - 0.050 latency (p50 unknown) - 0.050 cost (unknown)",
    ]);
  });
});

describe("metrics strategy: exploration", () => {
  const proven: MetricsEntry = { tool: "steady", attempts: 100, successes: 95 };
  const config = metricsConfig({ exploration_rate: 0.1 }, ["steady", "fresh", "newer"]);
  const metrics: MetricsEntry[] = [proven, { tool: "newer", attempts: 2, successes: 2 }];
  const taskFor = (n: number) => makeTask({ key: `octo/repo#${n}`, number: n });

  it("gives an under-sampled tool the top spot in about exploration_rate of tasks", () => {
    const chosen = Array.from(
      { length: 1000 },
      (_, i) => route(taskFor(i + 1), config, { now: NOW, metrics }).tool,
    );
    const share = chosen.filter((t) => t !== "steady").length / 1000;
    expect(share).toBeGreaterThanOrEqual(0.07);
    expect(share).toBeLessThanOrEqual(0.13);
    // The one explored is the least known: fresh (0 runs) before newer (2 runs).
    expect(new Set(chosen)).toEqual(new Set(["steady", "fresh"]));
  });

  it("draws afresh for each routed task of the same issue", () => {
    const chosen = Array.from(
      { length: 1000 },
      (_, routed_count) => route(taskFor(12), config, { now: NOW, metrics, routed_count }).tool,
    );
    const share = chosen.filter((t) => t === "fresh").length / 1000;
    expect(share).toBeGreaterThanOrEqual(0.07);
    expect(share).toBeLessThanOrEqual(0.13);
  });

  it("decides from a hash of the task key and routed count, the same way every time", () => {
    const explored = (n: number) =>
      route(taskFor(n), config, { now: NOW, metrics, routed_count: 3 }).tool === "fresh";
    for (let n = 1; n <= 200; n++) {
      expect(explored(n)).toBe(unitInterval(`explore|octo/repo#${n}|3`) < 0.1);
      expect(explored(n)).toBe(explored(n));
    }
  });

  it("says it is exploring, and keeps the computed scores", () => {
    const n = Array.from({ length: 100 }, (_, i) => i + 1).find(
      (i) => unitInterval(`explore|octo/repo#${i}|0`) < 0.1,
    )!;
    const decision = route(taskFor(n), config, { now: NOW, metrics });
    expect(decision.tool).toBe("fresh");
    expect(decision.fallback).toEqual(["steady", "newer"]);
    expect(decision.candidates[0]).toEqual({
      tool: "fresh",
      score: 0.5,
      status: "chosen",
      reason:
        "exploring: only 0 samples (min_samples 5); metrics: 0.500 success (no runs yet, prior 2/4)" +
        " - 0.000 latency (p50 unknown) - 0.000 cost (unknown)",
    });
    expect(decision.summary).toBe(
      "Routed 'testing' to fresh by metrics (exploring: only 0 samples); fallback: steady, newer.",
    );
  });

  it.each([
    { name: "exploration_rate is 0", rate: 0, minSamples: 5, expected: 0 },
    { name: "exploration_rate is 1", rate: 1, minSamples: 5, expected: 200 },
    { name: "every tool has min_samples runs", rate: 1, minSamples: 0, expected: 0 },
  ])("never or always explores when $name", ({ rate, minSamples, expected }) => {
    const c = metricsConfig({ exploration_rate: rate, min_samples: minSamples }, [
      "steady",
      "fresh",
      "newer",
    ]);
    const explored = Array.from(
      { length: 200 },
      (_, i) => route(taskFor(i + 1), c, { now: NOW, metrics }).tool,
    );
    expect(explored.filter((t) => t !== "steady").length).toBe(expected);
  });
});
