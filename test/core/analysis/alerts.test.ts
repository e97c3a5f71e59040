import { describe, expect, it } from "@jest/globals";
import { analyzeEvents } from "../../../src/core/analysis/aggregate.js";
import {
  encodeAlertMarker,
  planAlerts,
  readAlertMarker,
  renderAlertsSection,
  type Activity,
  type AlertAction,
  type AlertState,
  type AlertThresholds,
  type OpenAlertIssue,
} from "../../../src/core/analysis/alerts.js";
import { buildMetrics } from "../../../src/core/analysis/metrics-file.js";
import { InputError } from "../../../src/core/errors.js";
import type { Metrics, ToolMetrics } from "../../../src/core/metrics/schema.js";
import { daysAgo, LogBuilder, NOW, runs, WEEK } from "./fixtures.js";

const THRESHOLDS: AlertThresholds = {
  tool_success_below: 0.5,
  min_attempts: 5,
  quarantines_above: 3,
  flaky_rate_above: 0.1,
  heartbeat_days: 7,
  remind_days: 7,
};

function tool(name: string, attempts: number, successes: number): ToolMetrics {
  return {
    tool: name,
    attempts,
    successes,
    success_rate: attempts > 0 ? successes / attempts : null,
    ci_low: attempts > 0 ? 0.1 : null,
    ci_high: attempts > 0 ? 0.6 : null,
    p50_ms: null,
    p95_ms: null,
    tokens: null,
    cost: null,
  };
}

function metrics(over: Partial<Metrics> = {}): Metrics {
  return {
    schema_version: 1,
    repository: "acme/widgets",
    generated_at: NOW,
    window: { from: daysAgo(7), to: NOW },
    tools: [],
    recovery: [],
    recovery_summary: {
      steps: 0,
      greens: 0,
      steps_to_green_mean: null,
      steps_to_green_max: null,
      quarantines: 0,
      flaky: 0,
    },
    workflows: [],
    flaky_tests: [],
    signatures: [],
    gaps: [],
    ...over,
  };
}

const quiet: Activity = { last_at: daysAgo(1), read_from: daysAgo(14), open_tasks: 2 };

/** `activity` given as undefined means "not counted"; left out, a quiet repository. */
function plan(m: Metrics, open: OpenAlertIssue[] = [], ...activity: [Activity | undefined] | []) {
  return planAlerts({
    metrics: m,
    thresholds: THRESHOLDS,
    now: NOW,
    open,
    activity: activity.length === 0 ? quiet : activity[0],
  });
}

function issue(number: number, state: Omit<AlertState, "notified_at" | "since"> & Partial<AlertState>) {
  return {
    number,
    body: `${encodeAlertMarker({ since: daysAgo(3), notified_at: daysAgo(3), ...state })}\nold text`,
  };
}

const of = (p: ReturnType<typeof plan>, kind: string) => p.actions.filter((a) => a.kind === kind);
const only = (p: ReturnType<typeof plan>, kind: string): AlertAction => {
  const found = of(p, kind);
  expect(found).toHaveLength(1);
  return found[0]!;
};

describe("the alert marker", () => {
  it("round-trips its state on the first line, with the kind in clear", () => {
    const state: AlertState = {
      kind: "heartbeat",
      since: daysAgo(2),
      notified_at: daysAgo(1),
      fingerprint: "x",
    };
    const line = encodeAlertMarker(state);
    expect(line).toMatch(/^<!-- switchyard:alert heartbeat v1 [A-Za-z0-9_-]+ -->$/);
    expect(readAlertMarker(`${line}\r\nbody`)).toEqual({ kind: "heartbeat", state });
  });

  it("counts only on the first line, and a damaged state keeps its kind", () => {
    const line = encodeAlertMarker({ kind: "quarantines", since: NOW, notified_at: NOW, fingerprint: "" });
    expect(readAlertMarker(`quoted:\n${line}`)).toBeNull();
    expect(readAlertMarker("<!-- switchyard:alert quarantines v1 bm90IGpzb24 -->")).toEqual({
      kind: "quarantines",
      state: null,
    });
    expect(readAlertMarker("<!-- switchyard:alert bogus v1 e30 -->")).toBeNull();
    // The state must be for the kind the line names.
    const other = line.replace("quarantines v1", "heartbeat v1");
    expect(readAlertMarker(other)).toEqual({ kind: "heartbeat", state: null });
  });

  it("refuses a state that does not fit, with a message", () => {
    expect(() =>
      encodeAlertMarker({ kind: "heartbeat", since: "yesterday", notified_at: NOW, fingerprint: "" }),
    ).toThrow(new InputError("cannot write the alert marker: since: Invalid ISO datetime"));
  });
});

describe("planAlerts: tool success", () => {
  const low = metrics({
    tools: [tool("aider", 10, 2), tool("claude", 20, 18), tool("gemini", 6, 2), tool("codex", 4, 0)],
  });

  it("opens one alert naming every judged tool below the threshold, with its body", () => {
    const p = planAlerts({
      metrics: low,
      thresholds: THRESHOLDS,
      now: NOW,
      open: [],
      activity: quiet,
      dashboard_url: "https://github.com/acme/widgets/issues/1",
      run_url: "https://github.com/acme/widgets/actions/runs/9",
    });
    const action = only(p, "tool_success");
    expect(action.type).toBe("open");
    if (action.type !== "open") return;
    expect(action.title).toBe("Switchyard alert: a tool's success rate is low");
    expect(action.state).toEqual({
      kind: "tool_success",
      since: NOW,
      notified_at: NOW,
      fingerprint: "aider,gemini",
    });
    expect(action.body).toBe(
      [
        encodeAlertMarker(action.state),
        "**2 tools succeed less than 50% of the time: aider (20% of 10), gemini (33.3% of 6).**",
        "",
        "| tool | attempts | success | 95% CI |",
        "| --- | ---: | ---: | ---: |",
        "| aider | 10 | 20% | 10%–60% |",
        "| gemini | 6 | 33.3% | 10%–60% |",
        "",
        "Threshold: `analysis.thresholds.tool_success_below` = 50%, for tools with at least 5 attempts (`min_attempts`) in the window.",
        "",
        "acme/widgets · window 2026-02-22 12:00 UTC – 2026-03-01 12:00 UTC · firing since 2026-03-01 12:00 UTC, " +
          "checked 2026-03-01 12:00 UTC. [Dashboard](https://github.com/acme/widgets/issues/1) · " +
          "[analysis run](https://github.com/acme/widgets/actions/runs/9)",
        "",
        "<sub>Switchyard's scheduled analysis keeps this issue up to date: it comments when the alert changes or " +
          "every 7 days while it lasts, and closes the issue when the figure is healthy again. Thresholds are under " +
          "`analysis.thresholds` in `.github/switchyard.yml`.</sub>",
        "",
      ].join("\n"),
    );
    expect(action.evaluation.values).toEqual({
      threshold: 0.5,
      min_attempts: 5,
      tools_below: ["aider", "gemini"],
    });
  });

  it.each([
    ["the same tools within remind_days: nothing", 3, "aider,gemini", "none", null],
    ["the same tools after remind_days: a reminder", 7, "aider,gemini", "comment", "reminder"],
    ["other tools: a comment that it changed", 1, "aider", "comment", "changed"],
  ])("while open, %s", (_name, daysSince, fingerprint, type, reason) => {
    const p = plan(low, [issue(12, { kind: "tool_success", fingerprint, notified_at: daysAgo(daysSince) })]);
    const action = only(p, "tool_success");
    expect(action.type).toBe(type);
    if (action.type === "comment") {
      expect(action.reason).toBe(reason);
      expect(action.number).toBe(12);
      // The episode keeps its start; the last word is now.
      expect(action.state).toEqual({
        kind: "tool_success",
        since: daysAgo(3),
        notified_at: NOW,
        fingerprint: "aider,gemini",
      });
      expect(readAlertMarker(action.body)?.state).toEqual(action.state);
      expect(action.comment.split("\n")[0]).toBe(
        `${reason === "changed" ? "The alert changed" : "Still firing"} as of 2026-03-01 12:00 UTC: ` +
          "2 tools succeed less than 50% of the time: aider (20% of 10), gemini (33.3% of 6).",
      );
    } else if (action.type === "none") {
      expect(action.reason).toBe(
        "still firing; the last word was 2026-02-26 12:00 UTC, the next reminder after 7 days",
      );
    }
  });

  it("closes the open alert with a comment when every judged tool is healthy", () => {
    const p = plan(metrics({ tools: [tool("aider", 10, 8)] }), [
      issue(12, { kind: "tool_success", fingerprint: "aider" }),
    ]);
    expect(only(p, "tool_success")).toMatchObject({
      type: "close",
      number: 12,
      comment:
        "Healthy again as of 2026-03-01 12:00 UTC: every tool with 5 or more attempts succeeds at least 50% of the time.\n\n" +
        "Switchyard closes this alert; it opens a new one if the threshold is crossed again.",
    });
  });

  it("keeps the alert open while a tool that fired has too few runs to tell", () => {
    const p = plan(metrics({ tools: [tool("aider", 2, 0), tool("claude", 9, 9)] }), [
      issue(12, { kind: "tool_success", fingerprint: "aider" }),
    ]);
    expect(only(p, "tool_success")).toMatchObject({
      type: "none",
      number: 12,
      reason: "not enough runs to tell whether aider recovered (fewer than 5 attempts in the window)",
    });
  });

  it("judges no tool below min_attempts and ignores per-capability rows", () => {
    const p = plan(
      metrics({ tools: [tool("aider", 4, 0), { ...tool("claude", 9, 0), capability: "testing" }] }),
    );
    expect(only(p, "tool_success")).toMatchObject({
      type: "none",
      number: null,
      reason: "healthy: no tool had 5 or more attempts in the window",
    });
  });
});

describe("planAlerts: quarantines, flaky rate, heartbeat", () => {
  const summary = (quarantines: number, flaky: number, steps: number) => ({
    steps,
    greens: 1,
    steps_to_green_mean: 1,
    steps_to_green_max: 1,
    quarantines,
    flaky,
  });

  it.each([
    [4, "open", "4 quarantines in the last 7 days, more than 3"],
    [3, "none", "healthy: 3 quarantines in the last 7 days, at most 3"],
  ])("%i quarantines: %s", (n, type, headline) => {
    const action = only(plan(metrics({ recovery_summary: summary(n, 0, 10) })), "quarantines");
    expect(action.type).toBe(type);
    if (action.type === "open") expect(action.evaluation.headline).toBe(headline);
    if (action.type === "none") expect(action.reason).toBe(headline);
  });

  it("cannot judge quarantines without recovery figures", () => {
    const m = metrics();
    delete m.recovery_summary;
    expect(only(plan(m), "quarantines")).toMatchObject({
      type: "none",
      reason: "the analysis had no recovery figures",
    });
  });

  it.each([
    [
      "per failed CI run",
      summary(0, 4, 30),
      [{ name: "ci", runs: 50, failures: 20, failure_rate: 0.4 }],
      "open",
      "flaky failures: 4 of 20 failed CI runs (20%), above 10%",
    ],
    [
      "per recovery step without CI runs",
      summary(0, 1, 10),
      [],
      "none",
      "healthy: flaky failures: 1 of 10 recovery steps (10%), at most 10%",
    ],
    [
      "with too few failures",
      summary(0, 2, 3),
      [],
      "none",
      "too few failures to judge: 2 of 3 recovery steps (66.7%), fewer than 5",
    ],
  ])("flaky rate %s", (_name, recovery_summary, workflows, type, text) => {
    const action = only(plan(metrics({ recovery_summary, workflows })), "flaky_rate");
    expect(action.type).toBe(type);
    expect(
      action.type === "none" ? action.reason : action.type === "open" ? action.evaluation.headline : "",
    ).toBe(text);
  });

  it.each<[string, Activity | undefined, string, string]>([
    [
      "quiet for 9 days with tasks open",
      { last_at: daysAgo(9), read_from: daysAgo(14), open_tasks: 2 },
      "open",
      "the last Switchyard activity was 2026-02-20 12:00 UTC (9 days ago) while 2 open tasks wait",
    ],
    [
      "quiet for 9 days, nothing open",
      { last_at: daysAgo(9), read_from: daysAgo(14), open_tasks: 0 },
      "none",
      "healthy: no open tasks; the last Switchyard activity was 2026-02-20 12:00 UTC (9 days ago)",
    ],
    [
      "nothing in the 14 days read, 1 task open",
      { last_at: null, read_from: daysAgo(14), open_tasks: 1 },
      "open",
      "no Switchyard activity in the 14 days read, while 1 open task waits",
    ],
    [
      "nothing in the 3 days read",
      { last_at: null, read_from: daysAgo(3), open_tasks: 1 },
      "none",
      "no Switchyard activity in the 3 days read, fewer than the 7 days the heartbeat needs",
    ],
    ["the tasks not counted", undefined, "none", "the open tasks could not be counted"],
  ])("heartbeat: %s", (_name, activity, type, text) => {
    const action = only(plan(metrics(), [], activity), "heartbeat");
    expect(action.type).toBe(type);
    expect(
      action.type === "none" ? action.reason : action.type === "open" ? action.evaluation.headline : "",
    ).toBe(text);
  });

  it("closes the heartbeat alert once Switchyard is active again", () => {
    const p = plan(metrics(), [issue(30, { kind: "heartbeat", fingerprint: "heartbeat" })]);
    expect(only(p, "heartbeat")).toMatchObject({ type: "close", number: 30 });
  });
});

describe("planAlerts: the issues", () => {
  it("keeps the oldest of two open issues of a kind and closes the other as its duplicate", () => {
    const p = plan(metrics(), [
      issue(41, { kind: "quarantines", fingerprint: "quarantines" }),
      issue(40, { kind: "quarantines", fingerprint: "quarantines" }),
    ]);
    expect(of(p, "quarantines")).toEqual([
      expect.objectContaining({ type: "close", number: 40 }),
      {
        type: "close_duplicate",
        kind: "quarantines",
        number: 41,
        keep: 40,
        comment: "Duplicate of #40, which follows this alert; two analyses opened it at once.",
      },
    ]);
  });

  it("rewrites an unreadable marker with a comment while the alert fires", () => {
    const m = metrics({ recovery_summary: { ...metrics().recovery_summary!, quarantines: 9 } });
    const p = plan(m, [{ number: 5, body: "<!-- switchyard:alert quarantines v1 e30 -->\nedited by hand" }]);
    const action = only(p, "quarantines");
    expect(action).toMatchObject({ type: "comment", number: 5, reason: "unreadable" });
    if (action.type === "comment") expect(action.state.since).toBe(NOW);
  });

  it("ignores issues without the marker and plans the four kinds in order", () => {
    const p = plan(metrics(), [
      { number: 3, body: "Switchyard alert: too many quarantines (a person's notes)" },
    ]);
    expect(p.actions.map((a) => [a.kind, a.type])).toEqual([
      ["tool_success", "none"],
      ["quarantines", "none"],
      ["flaky_rate", "none"],
      ["heartbeat", "none"],
    ]);
  });

  it("works on metrics built from event logs: an empty window raises nothing", async () => {
    const log = new LogBuilder();
    await runs(log, "aider", 10, 1, daysAgo(20));
    const m = buildMetrics(analyzeEvents(log.events, { now: NOW, window_ms: WEEK }), {});
    const p = plan(m, [], { last_at: daysAgo(20), read_from: daysAgo(14), open_tasks: 0 });
    expect(p.evaluations.map((e) => e.status)).toEqual(["healthy", "healthy", "unknown", "healthy"]);
    expect(p.actions.every((a) => a.type === "none")).toBe(true);
  });

  it("refuses input that is not what it expects, saying where", () => {
    expect(() => planAlerts({ metrics: {}, thresholds: THRESHOLDS, now: NOW, open: [] })).toThrow(
      "cannot plan the alerts: the metrics are not a metrics.json document (schema_version: Invalid input: expected 1)",
    );
    expect(() =>
      planAlerts({ metrics: metrics(), thresholds: { ...THRESHOLDS, min_attempts: 0 }, now: NOW, open: [] }),
    ).toThrow(InputError);
    expect(() => planAlerts({ metrics: metrics(), thresholds: THRESHOLDS, now: "today", open: [] })).toThrow(
      "cannot plan the alerts: now: Invalid ISO datetime",
    );
  });
});

describe("renderAlertsSection", () => {
  it("lists every kind with its verdict and issue", () => {
    const p = plan(metrics({ tools: [tool("aider", 10, 2)] }), [], undefined);
    expect(renderAlertsSection(p.evaluations, { tool_success: 12 })).toBe(
      [
        "## Alerts",
        "",
        "| alert | status | | issue |",
        "| --- | --- | --- | --- |",
        "| tool success | 🔴 firing | 1 tool succeeds less than 50% of the time: aider (20% of 10) | #12 |",
        "| quarantines | 🟢 healthy | 0 quarantines in the last 7 days, at most 3 |  |",
        "| flaky rate | ⚪ not enough data | too few failures to judge: 0 of 0 recovery steps, fewer than 5 |  |",
        "| heartbeat | ⚪ not enough data | the open tasks could not be counted |  |",
        "",
      ].join("\n"),
    );
  });
});
