import { describe, expect, it } from "@jest/globals";
import {
  analyzeEvents,
  MetricsAccumulator,
  parseTime,
  type AnalysisEvent,
} from "../../../src/core/analysis/aggregate.js";
import { InputError } from "../../../src/core/errors.js";
import { daysAgo, LogBuilder, NOW, runs, WEEK } from "./fixtures.js";

const week = { now: NOW, window_ms: WEEK };

describe("MetricsAccumulator: tools", () => {
  it("counts attempts and successes per tool and per capability, leaving out unavailable and errored runs", async () => {
    const log = new LogBuilder();
    await log.run(daysAgo(1), { tool: "claude", capability: "testing", duration_ms: 1000 });
    await log.run(daysAgo(1), {
      tool: "claude",
      capability: "testing",
      outcome: "gate_failed",
      duration_ms: 3000,
    });
    await log.run(daysAgo(2), { tool: "claude", capability: "documentation", duration_ms: 2000 });
    await log.run(daysAgo(2), {
      tool: "claude",
      capability: "testing",
      outcome: "tool_unavailable",
      duration_ms: 0,
    });
    await log.run(daysAgo(2), { tool: "claude", capability: "testing", outcome: "error", duration_ms: 50 });
    await log.run(daysAgo(3), {
      tool: "aider",
      capability: "testing",
      outcome: "timed_out",
      duration_ms: 9000,
    });

    const { current } = analyzeEvents(log.events, week);
    expect(current.tools.map((t) => [t.tool, t.capability, t.attempts, t.successes])).toEqual([
      ["aider", undefined, 1, 0],
      ["aider", "testing", 1, 0],
      ["claude", undefined, 3, 2],
      ["claude", "documentation", 1, 1],
      ["claude", "testing", 2, 1],
    ]);
    const claude = current.tools.find((t) => t.tool === "claude" && t.capability === undefined)!;
    expect(claude.outcomes).toEqual({ error: 1, gate_failed: 1, success: 2, tool_unavailable: 1 });
    // Durations of the three attempts only: 1000, 2000, 3000 (within the sketch's 1%).
    expect(claude.p50_ms).toBeCloseTo(2000, -2);
    expect(Math.abs(claude.p50_ms! - 2000)).toBeLessThanOrEqual(20);
    expect(claude.p95_ms).toBe(3000);
  });

  it("sums reported tokens and cost over every run that reported them", async () => {
    const log = new LogBuilder();
    await log.run(daysAgo(1), { tool: "codex", tokens: 1000, cost_usd: 0.5 });
    await log.run(daysAgo(1), { tool: "codex", outcome: "tool_failed", tokens: 500, cost_usd: 0.25 });
    await log.run(daysAgo(1), { tool: "codex", tokens: null, cost_usd: null });
    await log.run(daysAgo(1), { tool: "aider" });
    const { current } = analyzeEvents(log.events, week);
    const [aider, codex] = current.tools;
    expect(codex).toMatchObject({ tokens: 1500, cost_total: 0.75, cost_runs: 2, attempts: 3 });
    expect(aider).toMatchObject({ tokens: null, cost_total: null, cost_runs: 0 });
  });

  it("takes the capability from task_created when the run does not carry one", async () => {
    const log = new LogBuilder();
    await log.add(daysAgo(10), {
      type: "task_created",
      task_key: "acme/widgets#5",
      capability: "refactoring",
      source: "label",
    });
    await log.run(daysAgo(1), { tool: "aider", task_key: "acme/widgets#5" });
    await log.run(daysAgo(1), { tool: "aider", task_key: "acme/widgets#6" });
    const result = analyzeEvents(log.events, week);
    expect(result.current.tools.map((t) => [t.capability, t.attempts])).toEqual([
      [undefined, 2],
      ["refactoring", 1],
    ]);
    expect(result.notes).toEqual([
      "capability: 1 run without a known capability (no capability on the event and no task_created for the task " +
        "among the recent ones) count for their tool on all capabilities only",
    ]);
  });

  it("forgets task capabilities beyond limits.tasks, least recent first", async () => {
    const log = new LogBuilder();
    for (const n of [1, 2, 3]) {
      await log.add(daysAgo(2), {
        type: "task_created",
        task_key: `acme/widgets#${n}`,
        capability: `cap${n}`,
        source: "label",
      });
    }
    for (const n of [1, 2, 3]) await log.run(daysAgo(1), { tool: "aider", task_key: `acme/widgets#${n}` });
    const { current } = analyzeEvents(log.events, { ...week, limits: { tasks: 2 } });
    expect(current.tools.map((t) => t.capability)).toEqual([undefined, "cap2", "cap3"]);
  });
});

describe("MetricsAccumulator: windows", () => {
  it("puts events in [now - w, now], the previous window [now - 2w, now - w) or outside", async () => {
    const log = new LogBuilder();
    const w = Date.parse(NOW) - WEEK;
    const at = (ms: number) => new Date(ms).toISOString();
    await log.run(NOW, { tool: "a" }); // the window's end: in
    await log.run(at(w), { tool: "a" }); // its start: in
    await log.run(at(w - 1), { tool: "a", outcome: "gate_failed" }); // just before: previous
    await log.run(at(w - WEEK), { tool: "a" }); // the previous window's start: previous
    await log.run(at(w - WEEK - 1), { tool: "a" }); // outside
    await log.run(at(Date.parse(NOW) + 1), { tool: "a" }); // the future: outside
    const result = analyzeEvents(log.events, week);
    expect(result.current.tools[0]).toMatchObject({ attempts: 2, successes: 2 });
    expect(result.previous.tools[0]).toMatchObject({ attempts: 2, successes: 1 });
    expect([result.current.events, result.previous.events, result.outside_windows]).toEqual([2, 2, 2]);
    expect(result.current.from).toBe("2026-02-22T12:00:00.000Z");
    expect(result.previous.from).toBe("2026-02-15T12:00:00.000Z");
    expect(result.earliest_at).toBe(at(w - WEEK - 1));
    expect(result.latest_at).toBe(at(Date.parse(NOW) + 1));
  });

  it("gives a clearly empty result for an empty window", () => {
    const result = analyzeEvents([], week);
    expect(result.current.tools).toEqual([]);
    expect(result.current.events).toBe(0);
    expect(result.earliest_at).toBeNull();
    expect(result.signatures).toEqual([]);
    expect(result.notes).toEqual([]);
  });

  it("reads times with offsets and counts unreadable ones as outside", () => {
    const events: AnalysisEvent[] = [
      { type: "task_held", at: "2026-03-01T14:00:00+02:00", task_key: "o/r#1" },
      { type: "task_held", at: "yesterday", task_key: "o/r#1" },
    ];
    const result = analyzeEvents(events, week);
    expect(result.current.events).toBe(1);
    expect(result.outside_windows).toBe(1);
    expect(result.notes).toEqual(["1 event with an unreadable time left out"]);
  });

  it("refuses options it cannot use with a message", () => {
    expect(() => new MetricsAccumulator({ now: "tomorrow", window_ms: WEEK })).toThrow(InputError);
    expect(() => new MetricsAccumulator({ now: NOW, window_ms: 0 })).toThrow(
      "Invalid analysis options: window_ms: Too small: expected number to be >0",
    );
  });
});

describe("MetricsAccumulator: recovery", () => {
  it("counts a quarantine whatever its ok says, but not an undecided one", async () => {
    const log = new LogBuilder();
    // The recovery flow logs its quarantines with ok false (the recovery failed).
    await log.step(daysAgo(2), { task_key: "o/r#1", step: "quarantine", category: "build", ok: false });
    await log.step(daysAgo(2), { task_key: "o/r#2", step: "quarantine", category: "build", ok: true });
    await log.step(daysAgo(2), { task_key: "o/r#3", step: "quarantine", category: "build", ok: null });
    const c = analyzeEvents(log.events, week).current;
    expect(c.quarantines).toBe(2);
    expect(c.recovery).toEqual([
      { category: "build", step: "quarantine", attempts: 2, successes: 1, undecided: 1 },
    ]);
  });

  it("counts steps per category and step, episodes to green, quarantines and flaky reruns", async () => {
    const log = new LogBuilder();
    // #1: a test failure fixed by the second step (rerun failed, ai fixed it).
    await log.step(daysAgo(3), {
      task_key: "o/r#1",
      step: "rerun",
      category: "tests",
      ok: false,
      signature: "E1",
    });
    await log.step(daysAgo(3), { task_key: "o/r#1", step: "skipped", category: "tests", ok: null });
    await log.step(daysAgo(3), {
      task_key: "o/r#1",
      step: "ai",
      category: "tests",
      ok: true,
      signature: "E1",
    });
    // #2: a flaky failure that passed on rerun.
    await log.step(daysAgo(2), {
      task_key: "o/r#2",
      step: "rerun",
      category: "flaky",
      ok: true,
      signature: "T1",
    });
    // #3: three failed steps, then quarantined.
    for (const step of ["rerun", "mechanical", "ai"] as const) {
      await log.step(daysAgo(2), { task_key: "o/r#3", step, category: "build", ok: false, signature: "E2" });
    }
    await log.step(daysAgo(1), { task_key: "o/r#3", step: "quarantine", category: "build", ok: true });
    // #4: started in the previous window, green in this one after 3 decided steps.
    await log.step(daysAgo(9), { task_key: "o/r#4", step: "rerun", category: "types", ok: false });
    await log.step(daysAgo(8), { task_key: "o/r#4", step: "mechanical", category: "types", ok: false });
    await log.step(daysAgo(1), { task_key: "o/r#4", step: "ai", category: "types", ok: true });

    const result = analyzeEvents(log.events, week);
    const c = result.current;
    expect(c.recovery.map((r) => [r.category, r.step, r.attempts, r.successes, r.undecided])).toEqual([
      ["build", "ai", 1, 0, 0],
      ["build", "mechanical", 1, 0, 0],
      ["build", "quarantine", 1, 1, 0],
      ["build", "rerun", 1, 0, 0],
      ["flaky", "rerun", 1, 1, 0],
      ["tests", "ai", 1, 1, 0],
      ["tests", "rerun", 1, 0, 0],
      ["tests", "skipped", 0, 0, 1],
      ["types", "ai", 1, 1, 0],
    ]);
    expect(c.recovery_steps).toBe(9);
    // Greens: #1 after 2, #2 after 1, #4 after 3.
    expect([c.greens, c.steps_to_green_total, c.steps_to_green_max]).toEqual([3, 6, 3]);
    expect([c.quarantines, c.flaky]).toEqual([1, 1]);
    expect(result.previous.recovery_steps).toBe(2);
    expect(result.flaky_tests).toEqual([{ name: "T1", flips: 1 }]);
    expect(result.signatures).toEqual([
      {
        signature: "E2",
        category: "build",
        count: 3,
        first_seen: daysAgo(2),
        last_seen: daysAgo(2),
      },
      { signature: "E1", category: "tests", count: 2, first_seen: daysAgo(3), last_seen: daysAgo(3) },
      { signature: "T1", category: "flaky", count: 1, first_seen: daysAgo(2), last_seen: daysAgo(2) },
    ]);
  });

  it("says when signatures outnumber their counters", async () => {
    const log = new LogBuilder();
    for (const signature of ["E0", "E0", "E0", "E1", "E2", "E3"]) {
      await log.step(daysAgo(1), { step: "ai", category: "tests", ok: false, signature });
    }
    const result = analyzeEvents(log.events, { ...week, limits: { signatures: 2 } });
    // E0 is exact; E3 took over E2's counter, which had taken over E1's: an upper bound.
    expect(result.signatures.map((s) => [s.signature, s.count])).toEqual([
      ["E0", 3],
      ["E3", 3],
    ]);
    expect(result.notes).toEqual([
      "signatures: more than 2 distinct error signatures; counts are upper bounds, each over by at most 3, " +
        "and first seen may be late",
    ]);
  });
});

describe("MetricsAccumulator: bounds", () => {
  it("stops breaking runs down beyond limits.rows and says how many", async () => {
    const log = new LogBuilder();
    await runs(log, "aider", 2, 1, daysAgo(2), { capability: "testing" });
    await runs(log, "codex", 2, 2, daysAgo(2), { capability: "testing" });
    const result = analyzeEvents(log.events, { ...week, limits: { rows: 3 } });
    expect(result.current.tools.map((t) => [t.tool, t.capability, t.attempts])).toEqual([
      ["aider", undefined, 2],
      ["aider", "testing", 2],
      ["codex", undefined, 2],
    ]);
    expect(result.notes[0]).toBe(
      "tools: 2 runs in this window not broken down by tool and capability (more than 3 tool x capability rows)",
    );
  });

  it("names the repositories of the task keys", async () => {
    const log = new LogBuilder();
    await log.run(daysAgo(1), { tool: "a", task_key: "acme/widgets#1" });
    await log.run(daysAgo(1), { tool: "a", task_key: "acme/gadgets#2" });
    await log.run(daysAgo(1), { tool: "a", task_key: "acme/widgets#3" });
    await log.step(daysAgo(1), {
      task_key: "acme/tools@feature/x",
      step: "rerun",
      category: "infra",
      ok: true,
    });
    await log.run(daysAgo(1), { tool: "a", task_key: "local task" });
    expect(analyzeEvents(log.events, week).repositories).toEqual([
      "acme/gadgets",
      "acme/tools",
      "acme/widgets",
    ]);
  });
});

describe("parseTime", () => {
  it("agrees with Date.parse on the writer's format and on everything else", () => {
    for (const iso of [
      "2026-03-01T12:00:00.000Z",
      "2024-02-29T23:59:59.999Z",
      "1999-12-31T00:00:00.001Z",
      "2026-02-30T00:00:00.000Z",
      "2026-03-01T12:00:00Z",
      "2026-03-01T14:00:00.5+02:00",
    ]) {
      expect(parseTime(iso)).toBe(Date.parse(iso));
    }
    expect(parseTime("2026-03-01T1x:00:00.000Z")).toBeNaN();
    expect(parseTime("not a time")).toBeNaN();
  });
});
