import { describe, expect, it } from "@jest/globals";
import { InputError } from "../../../src/core/errors.js";
import { route } from "../../../src/core/routing/route.js";
import { RoutingDecisionSchema, type Candidate, type Signals } from "../../../src/core/routing/schema.js";
import { makeConfig, makeTask, NOW, outcomes, tool } from "./fixtures.js";

const order = (candidates: Candidate[]) => candidates.map((c) => [c.tool, c.status]);
const candidate = (candidates: Candidate[], name: string) => candidates.find((c) => c.tool === name);

/** Four failures of codex ending 11:53, so its circuit is open until 12:23 at NOW. */
const codexTripped = outcomes("codex", [false, false, false, false], "2025-03-01T11:50:00Z");
/** Four failures of codex ending 11:03: the cooldown ended at 11:33, so it is half-open at NOW. */
const codexCooledDown = outcomes("codex", [false, false, false, false], "2025-03-01T11:00:00Z");

describe("route: priority", () => {
  it("chooses the chain's first tool, the next ones as fallbacks, and lists every other tool", () => {
    const decision = route(makeTask(), makeConfig(), { now: NOW });
    expect(decision).toEqual({
      task_key: "octo/repo#12",
      capability: "testing",
      strategy: "priority",
      tool: "claude",
      fallback: ["codex", "aider"],
      candidates: [
        { tool: "claude", score: 1, status: "chosen", reason: "priority: #1 in the 'testing' chain" },
        { tool: "codex", score: 0.6667, status: "fallback", reason: "priority: #2 in the 'testing' chain" },
        { tool: "aider", score: 0.3333, status: "fallback", reason: "priority: #3 in the 'testing' chain" },
        {
          tool: "gemini",
          score: null,
          status: "excluded",
          exclusion: "not_capable",
          reason: "not capable of 'testing' (declares documentation)",
        },
      ],
      summary: "Routed 'testing' to claude by priority; fallback: codex, aider.",
    });
    expect(RoutingDecisionSchema.parse(decision)).toEqual(decision);
  });

  it("uses the default chain for a capability without its own", () => {
    const decision = route(makeTask(), makeConfig({ chains: { default: ["codex", "claude"] } }), {
      now: NOW,
    });
    expect(decision.tool).toBe("codex");
    expect(decision.fallback).toEqual(["claude"]);
    expect(decision.candidates[0]!.reason).toBe("priority: #1 in the default chain");
    expect(candidate(decision.candidates, "aider")).toEqual({
      tool: "aider",
      score: null,
      status: "excluded",
      exclusion: "not_in_chain",
      reason: "not in the default chain",
    });
  });

  it("without any chain, orders the enabled capable tools by cost_weight, then name", () => {
    const config = makeConfig({ chains: {} }, [
      tool("claude", ["testing"], { cost_weight: 3 }),
      tool("codex", ["testing"], { cost_weight: 1 }),
      tool("aider", ["testing"], { cost_weight: 1 }),
      tool("legacy", ["testing"], { cost_weight: 0, enabled: false }),
    ]);
    const decision = route(makeTask(), config, { now: NOW });
    expect(order(decision.candidates)).toEqual([
      ["aider", "chosen"],
      ["codex", "fallback"],
      ["claude", "fallback"],
      ["legacy", "excluded"],
    ]);
    expect(decision.candidates[0]!.reason).toBe("priority: #1 by cost_weight (no chain for 'testing')");
    expect(candidate(decision.candidates, "legacy")?.exclusion).toBe("disabled");
  });

  it("lists eligible tools in strategy order, then the chain's excluded ones, then tools outside the chain", () => {
    const config = makeConfig({}, [
      tool("claude"),
      tool("codex"),
      tool("aider"),
      tool("gemini", ["documentation"]),
      tool("spare"),
    ]);
    const decision = route(makeTask(), config, { now: NOW, availability: { codex: "no key" } });
    expect(order(decision.candidates)).toEqual([
      ["claude", "chosen"],
      ["aider", "fallback"],
      ["codex", "excluded"],
      ["gemini", "excluded"],
      ["spare", "excluded"],
    ]);
  });
});

describe("route: round_robin", () => {
  it.each([
    { routed_count: 0, expected: ["claude", "codex", "aider"] },
    { routed_count: 1, expected: ["codex", "aider", "claude"] },
    { routed_count: 2, expected: ["aider", "claude", "codex"] },
    { routed_count: 5, expected: ["aider", "claude", "codex"] },
  ])("turn $routed_count starts at $expected.0", ({ routed_count, expected }) => {
    const decision = route(makeTask(), makeConfig({ strategy: "round_robin" }), { now: NOW, routed_count });
    expect([decision.tool, ...decision.fallback]).toEqual(expected);
    expect(decision.candidates.slice(0, 3).map((c) => c.score)).toEqual([1, 0.6667, 0.3333]);
    expect(decision.candidates[0]!.reason).toBe(`round robin: #1 of 3 on turn ${routed_count}`);
  });

  it("rotates over the eligible tools only", () => {
    const decision = route(makeTask(), makeConfig({ strategy: "round_robin" }), {
      now: NOW,
      routed_count: 1,
      availability: { codex: "no key" },
    });
    expect([decision.tool, ...decision.fallback]).toEqual(["aider", "claude"]);
  });
});

describe("route: least_busy", () => {
  it("orders by the share of free slots and scores by it", () => {
    const decision = route(makeTask(), makeConfig({ strategy: "least_busy" }), {
      now: NOW,
      in_flight: { claude: 1, aider: 1 },
    });
    expect(decision.candidates.slice(0, 3)).toEqual([
      { tool: "codex", score: 1, status: "chosen", reason: "least busy: 0 of 2 slots in use" },
      { tool: "aider", score: 0.75, status: "fallback", reason: "least busy: 1 of 4 slots in use" },
      { tool: "claude", score: 0.5, status: "fallback", reason: "least busy: 1 of 2 slots in use" },
    ]);
  });

  it("breaks a tie on free share by fewer runs in flight, then by chain order", () => {
    const config = makeConfig({ strategy: "least_busy", chains: { testing: ["aider", "claude", "codex"] } });
    // aider (2 of 4) and claude (1 of 2) are both half full: claude has fewer runs in flight.
    const halfFull = route(makeTask(), config, { now: NOW, in_flight: { claude: 1, codex: 2, aider: 2 } });
    expect([halfFull.tool, ...halfFull.fallback]).toEqual(["claude", "aider"]);
    expect(candidate(halfFull.candidates, "codex")?.exclusion).toBe("over_concurrency");
    const idle = route(makeTask(), config, { now: NOW });
    expect([idle.tool, ...idle.fallback]).toEqual(["aider", "claude", "codex"]);
  });
});

describe("route: sticky", () => {
  it("keeps the task's previous tool first and the chain after it", () => {
    const decision = route(makeTask(), makeConfig({ strategy: "sticky" }), {
      now: NOW,
      previous_tool: "aider",
    });
    expect(decision.candidates.slice(0, 3)).toEqual([
      { tool: "aider", score: 1, status: "chosen", reason: "sticky: this task's previous tool" },
      { tool: "claude", score: 0.6667, status: "fallback", reason: "priority: #1 in the 'testing' chain" },
      { tool: "codex", score: 0.3333, status: "fallback", reason: "priority: #2 in the 'testing' chain" },
    ]);
    expect(decision.summary).toBe("Routed 'testing' to aider by stickiness; fallback: claude, codex.");
  });

  it.each([
    {
      name: "unavailable",
      previous_tool: "aider",
      signals: { availability: { aider: "OPENAI_API_KEY not set" } },
      note: "Previous tool aider not kept: unavailable (OPENAI_API_KEY not set).",
    },
    {
      name: "not capable",
      previous_tool: "gemini",
      signals: {},
      note: "Previous tool gemini not kept: not capable of 'testing' (declares documentation).",
    },
    {
      name: "no longer configured",
      previous_tool: "retired",
      signals: {},
      note: "Previous tool retired not kept: no longer configured.",
    },
  ])(
    "falls back to priority and says why when the previous tool is $name",
    ({ previous_tool, signals, note }) => {
      const decision = route(makeTask(), makeConfig({ strategy: "sticky" }), {
        now: NOW,
        previous_tool,
        ...signals,
      });
      expect(decision.tool).toBe("claude");
      expect(decision.candidates[0]!.reason).toBe("priority: #1 in the 'testing' chain");
      expect(decision.summary).toMatch(/^Routed 'testing' to claude by stickiness; fallback: [a-z, ]+\. /);
      expect(decision.summary.endsWith(` ${note}`)).toBe(true);
    },
  );

  it("without a previous tool is plain priority with no note", () => {
    const decision = route(makeTask(), makeConfig({ strategy: "sticky" }), { now: NOW });
    expect(decision.summary).toBe("Routed 'testing' to claude by stickiness; fallback: codex, aider.");
  });
});

describe("route: exclusions", () => {
  it.each([
    {
      name: "a chain entry with no profile",
      routing: { chains: { testing: ["claude", "ghost", "codex"] } },
      signals: {},
      tool: "ghost",
      exclusion: "unknown_tool",
      reason: "no profile with this name in tools",
    },
    {
      name: "a disabled tool",
      tools: [tool("claude"), tool("codex", ["testing"], { enabled: false }), tool("aider")],
      signals: {},
      tool: "codex",
      exclusion: "disabled",
      reason: "disabled (enabled: false)",
    },
    {
      name: "a chain entry that cannot do the capability",
      routing: { chains: { testing: ["claude", "gemini"] } },
      signals: {},
      tool: "gemini",
      exclusion: "not_capable",
      reason: "not capable of 'testing' (declares documentation)",
    },
    {
      name: "an unavailable tool",
      signals: { availability: { codex: "codex: command not found", claude: true } },
      tool: "codex",
      exclusion: "unavailable",
      reason: "unavailable (codex: command not found)",
    },
    {
      name: "a tool whose circuit is open",
      signals: { outcomes: codexTripped },
      tool: "codex",
      exclusion: "circuit_open",
      reason: "circuit open until 2025-03-01T12:23:00Z (4 of 4 recent runs failed)",
    },
    {
      name: "a half-open tool whose trial run is in flight",
      signals: { outcomes: codexCooledDown, in_flight: { codex: 1 } },
      tool: "codex",
      exclusion: "circuit_open",
      reason: "circuit half-open, its one trial run is in flight",
    },
    {
      name: "a tool at its concurrency limit",
      signals: { in_flight: { codex: 2 } },
      tool: "codex",
      exclusion: "over_concurrency",
      reason: "at its concurrency limit (2 of 2 running)",
    },
    {
      name: "a capable tool outside the chain",
      tools: [tool("claude"), tool("codex"), tool("aider"), tool("spare")],
      signals: {},
      tool: "spare",
      exclusion: "not_in_chain",
      reason: "not in the 'testing' chain",
    },
  ])("excludes $name", ({ routing, tools, signals, tool: name, exclusion, reason }) => {
    const decision = route(makeTask(), makeConfig(routing, tools), { now: NOW, ...signals } as Signals);
    expect(candidate(decision.candidates, name)).toEqual({
      tool: name,
      score: null,
      status: "excluded",
      exclusion,
      reason,
    });
    expect(decision.tool).toBe("claude");
    expect(decision.fallback).not.toContain(name);
    RoutingDecisionSchema.parse(decision);
  });

  it("keeps the score of an eligible tool beyond max_fallbacks", () => {
    const decision = route(makeTask(), makeConfig({ max_fallbacks: 1 }), { now: NOW });
    expect(decision.fallback).toEqual(["codex"]);
    expect(candidate(decision.candidates, "aider")).toEqual({
      tool: "aider",
      score: 0.3333,
      status: "excluded",
      exclusion: "beyond_max_fallbacks",
      reason: "priority: #3 in the 'testing' chain; beyond max_fallbacks (1)",
    });
  });

  it("with max_fallbacks 0 chooses one tool and no fallback", () => {
    const decision = route(makeTask(), makeConfig({ max_fallbacks: 0 }), { now: NOW });
    expect(decision.fallback).toEqual([]);
    expect(decision.summary).toBe("Routed 'testing' to claude by priority; no fallback.");
  });

  it.each([
    {
      name: "disabled before not capable",
      tools: [tool("claude"), tool("codex", ["documentation"], { enabled: false }), tool("aider")],
      signals: {},
      exclusion: "disabled",
    },
    {
      name: "unavailable before circuit open and over concurrency",
      signals: { availability: { codex: "no key" }, outcomes: codexTripped, in_flight: { codex: 2 } },
      exclusion: "unavailable",
    },
    {
      name: "circuit open before over concurrency",
      signals: { outcomes: codexTripped, in_flight: { codex: 2 } },
      exclusion: "circuit_open",
    },
  ])("checks in order: $name", ({ tools, signals, exclusion }) => {
    const decision = route(makeTask(), makeConfig({}, tools), { now: NOW, ...signals });
    expect(candidate(decision.candidates, "codex")?.exclusion).toBe(exclusion);
  });

  it("lets a half-open tool take a trial run and says so", () => {
    const decision = route(makeTask(), makeConfig(), { now: NOW, outcomes: codexCooledDown });
    expect(candidate(decision.candidates, "codex")).toEqual({
      tool: "codex",
      score: 0.6667,
      status: "fallback",
      reason: "priority: #2 in the 'testing' chain; half-open: trial run",
    });
  });
});

describe("route: overrides", () => {
  it("accepts a switchyard:<tool> label and puts the displaced choice first among the fallbacks", () => {
    const task = makeTask({ overrides: { tool: "codex" }, labels: ["switchyard", "switchyard:codex"] });
    const decision = route(task, makeConfig(), { now: NOW });
    expect(decision.tool).toBe("codex");
    expect(decision.fallback).toEqual(["claude", "aider"]);
    expect(decision.candidates.slice(0, 2)).toEqual([
      {
        tool: "codex",
        score: 0.6667,
        status: "chosen",
        reason: "overridden by label switchyard:codex (ranked #2 by priority)",
      },
      {
        tool: "claude",
        score: 1,
        status: "fallback",
        reason: "priority: #1 in the 'testing' chain; would have been chosen without the override",
      },
    ]);
    expect(decision.override).toEqual({
      requested: "codex",
      source: "label",
      accepted: true,
      reason: "overridden by label switchyard:codex",
    });
    expect(decision.summary).toBe(
      "Routed 'testing' to codex, overridden by label switchyard:codex; fallback: claude, aider.",
    );
  });

  it("accepts a tool outside the chain and marks the tool it pushed out of the fallbacks as overridden", () => {
    const config = makeConfig({ max_fallbacks: 1 }, [
      tool("claude"),
      tool("codex"),
      tool("aider"),
      tool("spare"),
    ]);
    const task = makeTask({ overrides: { tool: "spare" }, labels: ["switchyard:spare"] });
    const decision = route(task, config, { now: NOW });
    expect(decision.candidates).toEqual([
      {
        tool: "spare",
        score: null,
        status: "chosen",
        reason: "overridden by label switchyard:spare (not in the 'testing' chain)",
      },
      {
        tool: "claude",
        score: 1,
        status: "fallback",
        reason: "priority: #1 in the 'testing' chain; would have been chosen without the override",
      },
      {
        tool: "codex",
        score: 0.6667,
        status: "excluded",
        exclusion: "overridden",
        reason: "priority: #2 in the 'testing' chain; pushed out by the override (max_fallbacks 1)",
      },
      {
        tool: "aider",
        score: 0.3333,
        status: "excluded",
        exclusion: "beyond_max_fallbacks",
        reason: "priority: #3 in the 'testing' chain; beyond max_fallbacks (1)",
      },
    ]);
  });

  it("gives a /switchyard route command precedence over a label", () => {
    const task = makeTask({ overrides: { tool: "codex" }, labels: ["switchyard:codex"] });
    const decision = route(task, makeConfig(), { now: NOW, command_tool: "aider" });
    expect(decision.tool).toBe("aider");
    expect(decision.fallback).toEqual(["claude", "codex"]);
    expect(decision.override).toEqual({
      requested: "aider",
      source: "command",
      accepted: true,
      reason: "overridden by command /switchyard route aider",
    });
  });

  it("names the task itself as the source when no label asked for the tool", () => {
    const decision = route(makeTask({ overrides: { tool: "codex" } }), makeConfig(), { now: NOW });
    expect(decision.override).toEqual({
      requested: "codex",
      source: "task",
      accepted: true,
      reason: "overridden by the task's tool override (codex)",
    });
  });

  it("accepts an override of the tool that would have been chosen anyway", () => {
    const task = makeTask({ overrides: { tool: "claude" }, labels: ["switchyard:claude"] });
    const decision = route(task, makeConfig(), { now: NOW });
    expect(decision.candidates.slice(0, 2).map((c) => c.reason)).toEqual([
      "overridden by label switchyard:claude (ranked #1 by priority)",
      "priority: #2 in the 'testing' chain",
    ]);
  });

  it("accepts a half-open tool for its trial run", () => {
    const task = makeTask({ overrides: { tool: "codex" }, labels: ["switchyard:codex"] });
    const decision = route(task, makeConfig(), { now: NOW, outcomes: codexCooledDown });
    expect(decision.candidates[0]!.reason).toBe(
      "overridden by label switchyard:codex (ranked #2 by priority); half-open: trial run",
    );
  });

  it.each([
    {
      name: "overrides are off",
      routing: { allow_override: false },
      requested: "codex",
      reason: "overrides are turned off (routing.allow_override: false)",
    },
    {
      name: "a near-miss name",
      requested: "claud",
      reason: "no tool named 'claud' in tools (did you mean 'claude'?)",
    },
    { name: "an unknown name", requested: "windsurf", reason: "no tool named 'windsurf' in tools" },
    {
      name: "a disabled tool",
      tools: [tool("claude"), tool("codex", ["testing"], { enabled: false }), tool("aider")],
      requested: "codex",
      reason: "codex disabled (enabled: false)",
    },
    {
      name: "an incapable tool",
      requested: "gemini",
      reason: "gemini not capable of 'testing' (declares documentation)",
    },
    {
      name: "an unavailable tool",
      signals: { availability: { codex: "OPENAI_API_KEY not set" } },
      requested: "codex",
      reason: "codex unavailable (OPENAI_API_KEY not set)",
    },
    {
      name: "an open circuit",
      signals: { outcomes: codexTripped },
      requested: "codex",
      reason: "codex circuit open until 2025-03-01T12:23:00Z (4 of 4 recent runs failed)",
    },
    {
      name: "a full tool",
      signals: { in_flight: { codex: 2 } },
      requested: "codex",
      reason: "codex at its concurrency limit (2 of 2 running)",
    },
  ])("refuses $name and routes as usual", ({ routing, tools, signals, requested, reason }) => {
    const task = makeTask({ overrides: { tool: requested }, labels: [`switchyard:${requested}`] });
    const decision = route(task, makeConfig(routing, tools), { now: NOW, ...signals });
    expect(decision.override).toEqual({ requested, source: "label", accepted: false, reason });
    expect(decision.tool).toBe("claude");
    expect(decision.candidates[0]!.reason).toBe("priority: #1 in the 'testing' chain");
    expect(decision.summary).toMatch(/^Routed 'testing' to claude by priority; fallback: [a-z, ]+\. /);
    expect(decision.summary.endsWith(` Override switchyard:${requested} refused: ${reason}.`)).toBe(true);
  });

  it("names a refused command and a refused task override the way people asked", () => {
    const byCommand = route(makeTask(), makeConfig(), { now: NOW, command_tool: "gemini" });
    expect(byCommand.summary).toBe(
      "Routed 'testing' to claude by priority; fallback: codex, aider." +
        " Override /switchyard route gemini refused: gemini not capable of 'testing' (declares documentation).",
    );
    const byTask = route(makeTask({ overrides: { tool: "gemini" } }), makeConfig(), { now: NOW });
    expect(
      byTask.summary.endsWith(
        " Override to gemini refused: gemini not capable of 'testing' (declares documentation).",
      ),
    ).toBe(true);
  });
});

describe("route: no eligible tool", () => {
  it("chooses nothing and names every chain tool's reason", () => {
    const decision = route(makeTask(), makeConfig(), {
      now: NOW,
      availability: { claude: "ANTHROPIC_API_KEY not set" },
      outcomes: codexTripped,
      in_flight: { aider: 4 },
    });
    expect(decision.tool).toBeNull();
    expect(decision.fallback).toEqual([]);
    expect(decision.candidates.every((c) => c.status === "excluded" && c.score === null)).toBe(true);
    expect(decision.summary).toBe(
      "No tool can take 'testing': claude unavailable (ANTHROPIC_API_KEY not set)," +
        " codex circuit open until 2025-03-01T12:23:00Z (4 of 4 recent runs failed)," +
        " aider at its concurrency limit (4 of 4 running).",
    );
    RoutingDecisionSchema.parse(decision);
  });

  it("says when no tool declares the capability", () => {
    const decision = route(makeTask({ capability: "linting" }), makeConfig(), { now: NOW });
    expect(decision.tool).toBeNull();
    expect(decision.summary).toBe("No tool can take 'linting': no configured tool declares it.");
    expect(decision.candidates.map((c) => c.exclusion)).toEqual([
      "not_capable",
      "not_capable",
      "not_capable",
      "not_capable",
    ]);
  });

  it("says when every tool that declares it is disabled", () => {
    const config = makeConfig({}, [tool("claude"), tool("prettier", ["linting"], { enabled: false })]);
    const decision = route(makeTask({ capability: "linting" }), config, { now: NOW });
    expect(decision.summary).toBe(
      "No tool can take 'linting': every tool declaring it is disabled (prettier).",
    );
  });
});

describe("route: determinism and input checks", () => {
  const busySignals = (): Signals => ({
    now: NOW,
    availability: { aider: "OPENAI_API_KEY not set", claude: true },
    in_flight: { claude: 1 },
    outcomes: [...codexCooledDown, ...outcomes("claude", [true, false, true])],
    routed_count: 7,
    metrics: [{ tool: "claude", attempts: 10, successes: 9, p50_ms: 1000, cost: 0.5 }],
  });

  it.each(["priority", "round_robin", "least_busy", "sticky", "metrics"] as const)(
    "%s gives the same decision for the same inputs, whatever the order of outcomes",
    (strategy) => {
      const config = makeConfig({ strategy });
      const task = makeTask({ overrides: { tool: "codex" }, labels: ["switchyard:codex"] });
      const first = route(task, config, busySignals());
      const shuffled = busySignals();
      shuffled.outcomes = [...shuffled.outcomes!].reverse();
      expect(route(task, config, busySignals())).toEqual(first);
      expect(route(task, config, shuffled)).toEqual(first);
    },
  );

  it("does not change its inputs", () => {
    const config = makeConfig({ strategy: "metrics" });
    const task = makeTask();
    const signals = busySignals();
    const before = structuredClone({ config, task, signals });
    route(task, config, signals);
    expect({ config, task, signals }).toEqual(before);
  });

  it.each([
    {
      name: "a time that is not ISO 8601",
      signals: { now: "yesterday" },
      message: /^Invalid routing signals: now: /,
    },
    {
      name: "a malformed outcome",
      signals: {
        now: NOW,
        outcomes: [
          { tool: "codex", ok: true, at: NOW },
          { tool: "codex", ok: "no", at: NOW },
        ],
      },
      message: /^Invalid routing signals: outcomes\[1\]\.ok: /,
    },
    {
      name: "more successes than attempts",
      signals: { now: NOW, metrics: [{ tool: "claude", attempts: 3, successes: 5 }] },
      message: /^Invalid routing signals: metrics\[0\] \(claude\) has 5 successes out of 3 attempts$/,
    },
    {
      name: "an unknown field",
      signals: { now: NOW, inflight: {} },
      message: /^Invalid routing signals: signals: Unrecognized key: "inflight"$/,
    },
  ])("refuses signals with $name as an InputError", ({ signals, message }) => {
    const call = () => route(makeTask(), makeConfig(), signals as unknown as Signals);
    expect(call).toThrow(InputError);
    expect(call).toThrow(message);
  });
});
