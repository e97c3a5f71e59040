import { describe, expect, it } from "@jest/globals";
import { analyzeEvents, type AnalysisEvent } from "../../../src/core/analysis/aggregate.js";
import { buildMetrics } from "../../../src/core/analysis/metrics-file.js";
import {
  recoveryMarkerEvents,
  UNRECORDED_CATEGORY,
  type RecoveryMarker,
} from "../../../src/core/analysis/recovery-markers.js";
import { InputError } from "../../../src/core/errors.js";
import type { LadderEntry, LadderState } from "../../../src/core/recovery/ladder.js";

const SPAN = { since: "2026-02-22T00:00:00.000Z", until: "2026-03-08T00:00:00.000Z" };
const HEAD = "a".repeat(40);

function entry(
  at: string,
  step: LadderEntry["step"],
  outcome: LadderEntry["outcome"],
  tool?: string,
): LadderEntry {
  return { step, head_sha: HEAD, at, outcome, reason: outcome, ...(tool ? { tool } : {}) };
}

function marker(pr: number, updated_at: string, over: Partial<LadderState>): RecoveryMarker {
  return {
    issue_number: pr,
    updated_at,
    state: {
      version: 1,
      key: `o/r#${pr}`,
      head_sha: HEAD,
      category: "test",
      step: "done",
      pending: null,
      rung: 0,
      tried: [],
      attempts: 0,
      rerun_sha: null,
      last_attempt_at: null,
      seen_ci: [],
      reason: "",
      history: [],
      ...over,
    },
  };
}

describe("recoveryMarkerEvents", () => {
  it("turns each ladder history entry into a recovery step, with the climb's category only where it is known", () => {
    const m = marker(7, "2026-03-05T12:00:00.000Z", {
      category: "lint",
      signature: "lint:no-unused-vars",
      step: "done",
      history: [
        // A first climb on a test failure, which the mechanical rung changed into a lint failure.
        entry("2026-03-01T10:00:00.000Z", "mechanical", "changed"),
        // The lint climb: a fixer failed, the AI tool fixed it.
        entry("2026-03-02T10:00:00.000Z", "mechanical", "failed"),
        entry("2026-03-03T10:00:00.000Z", "ai", "skipped", "codex"),
        entry("2026-03-04T10:00:00.000Z", "ai", "fixed", "claude"),
      ],
    });
    const { events, duplicates } = recoveryMarkerEvents([m], [], SPAN);
    expect(duplicates).toBe(0);
    expect(events.map((e) => [e.at.slice(0, 10), e.step, e.category, e.signature ?? null, e.ok])).toEqual([
      ["2026-03-01", "mechanical", UNRECORDED_CATEGORY, null, false],
      ["2026-03-02", "mechanical", "lint", "lint:no-unused-vars", false],
      ["2026-03-03", "skipped", "lint", "lint:no-unused-vars", false],
      ["2026-03-04", "ai", "lint", "lint:no-unused-vars", true],
    ]);
    expect(events.every((e) => e.task_key === "o/r#7")).toBe(true);
  });

  it("counts a quarantined state as one quarantine at the comment's update, and keeps steps inside the span", () => {
    const m = marker(8, "2026-03-06T09:00:00.000Z", {
      category: "build",
      step: "quarantine",
      attempts: 3,
      history: [
        entry("2026-02-10T10:00:00.000Z", "mechanical", "failed"), // before the span
        entry("2026-03-05T10:00:00.000Z", "ai", "failed", "claude"),
      ],
    });
    const { events } = recoveryMarkerEvents([m], [], SPAN);
    expect(events.map((e) => [e.at, e.step, e.category, e.ok])).toEqual([
      ["2026-03-05T10:00:00.000Z", "ai", "build", false],
      ["2026-03-06T09:00:00.000Z", "quarantine", "build", true],
    ]);
    // The recovery flow's own quarantine event (ok false) after the last step is the same one.
    const logged: AnalysisEvent[] = [
      {
        type: "recovery_step",
        at: "2026-03-05T10:00:01.000Z",
        task_key: "o/r#8",
        step: "quarantine",
        category: "build",
        ok: false,
      },
    ];
    const again = recoveryMarkerEvents([m], logged, SPAN);
    expect(again.duplicates).toBe(1);
    expect(again.events.map((e) => e.step)).toEqual(["ai"]);
    // One from an earlier episode (before the state's last step) is not.
    const earlier = recoveryMarkerEvents([m], [{ ...logged[0]!, at: "2026-03-01T00:00:00.000Z" }], SPAN);
    expect(earlier.events.map((e) => e.step)).toEqual(["ai", "quarantine"]);
  });

  it("leaves out the steps the event logs already hold, and counts them", () => {
    const m = marker(9, "2026-03-05T12:00:00.000Z", {
      category: "flaky",
      step: "ai",
      tool: "codex",
      pending: "tool",
      history: [
        entry("2026-03-02T10:00:00.000Z", "rerun", "failed"),
        entry("2026-03-03T10:00:00.000Z", "ai", "failed", "claude"),
        entry("2026-03-04T10:00:00.000Z", "ai", "started", "codex"),
      ],
    });
    const logged: AnalysisEvent[] = [
      // Same step and time with a verdict: the same step.
      {
        type: "recovery_step",
        at: "2026-03-02T10:00:00Z",
        task_key: "o/r#9",
        step: "rerun",
        category: "flaky",
        ok: false,
      },
      // Logged as started only: the marker's verdict is still news.
      {
        type: "recovery_step",
        at: "2026-03-03T10:00:00.000Z",
        task_key: "o/r#9",
        step: "ai",
        category: "flaky",
        ok: null,
      },
      // The marker's started step is logged: the same.
      {
        type: "recovery_step",
        at: "2026-03-04T10:00:00.000Z",
        task_key: "o/r#9",
        step: "ai",
        category: "flaky",
        ok: null,
      },

      // Another task's step at the same time is another step.
      {
        type: "recovery_step",
        at: "2026-03-02T10:00:00.000Z",
        task_key: "o/r#10",
        step: "rerun",
        category: "flaky",
        ok: true,
      },
    ];
    const { events, duplicates } = recoveryMarkerEvents([m], logged, SPAN);
    expect(duplicates).toBe(2);
    expect(events.map((e) => [e.at, e.step, e.ok])).toEqual([["2026-03-03T10:00:00.000Z", "ai", false]]);
  });

  it("keeps the newest state when one key shows up in two comments", () => {
    const older = marker(5, "2026-03-01T00:00:00.000Z", {
      step: "ai",
      tool: "claude",
      pending: "ci",
      history: [entry("2026-02-28T00:00:00.000Z", "ai", "started", "claude")],
    });
    const newer = marker(5, "2026-03-02T00:00:00.000Z", {
      history: [entry("2026-02-28T00:00:00.000Z", "ai", "fixed", "claude")],
    });
    const { events } = recoveryMarkerEvents([newer, older], [], SPAN);
    expect(events.map((e) => e.ok)).toEqual([true]);
  });

  it("gives the accumulator what it needs for success per category and step, greens and quarantines", () => {
    const green = marker(11, "2026-03-04T00:00:00.000Z", {
      category: "format",
      history: [
        entry("2026-03-03T00:00:00.000Z", "mechanical", "failed"),
        entry("2026-03-03T06:00:00.000Z", "ai", "fixed", "claude"),
      ],
    });
    const stuck = marker(12, "2026-03-05T00:00:00.000Z", {
      category: "test",
      step: "quarantine",
      history: [entry("2026-03-04T00:00:00.000Z", "ai", "failed", "claude")],
    });
    const { events } = recoveryMarkerEvents([green, stuck], [], SPAN);
    const metrics = buildMetrics(analyzeEvents(events, { now: SPAN.until, window_ms: 7 * 86_400_000 }), {
      repository: "o/r",
    });
    expect(metrics.recovery).toEqual([
      { category: "format", step: "ai", attempts: 1, successes: 1, undecided: 0 },
      { category: "format", step: "mechanical", attempts: 1, successes: 0, undecided: 0 },
      { category: "test", step: "ai", attempts: 1, successes: 0, undecided: 0 },
      { category: "test", step: "quarantine", attempts: 1, successes: 1, undecided: 0 },
    ]);
    expect(metrics.recovery_summary).toMatchObject({
      steps: 4,
      greens: 1,
      steps_to_green_mean: 2,
      steps_to_green_max: 2,
      quarantines: 1,
    });
  });

  it("refuses a state that is not a ladder state, saying where", () => {
    const bad = marker(3, "2026-03-01T00:00:00.000Z", {});
    (bad.state as { key: string }).key = "not a key";
    expect(() => recoveryMarkerEvents([bad], [], SPAN)).toThrow(InputError);
    expect(() => recoveryMarkerEvents([bad], [], SPAN)).toThrow(/invalid recovery markers: 0\.state\.key/);
  });
});
