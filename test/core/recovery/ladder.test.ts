import { describe, expect, it } from "@jest/globals";
import type { Config } from "../../../src/config/schema.js";
import { InputError } from "../../../src/core/errors.js";
import {
  LADDER_CATEGORIES,
  LADDER_RULES,
  LadderStateSchema,
  nextAction,
  recoveryKey,
  type LadderAction,
  type LadderEntry,
  type LadderEvent,
  type LadderPosition,
  type LadderResult,
  type LadderRuleId,
  type LadderState,
  type ToolAvailability,
  type ToolCircuit,
} from "../../../src/core/recovery/ladder.js";
import {
  aiAwaited,
  EARLIER,
  entry,
  FIXERS,
  fixAwaited,
  fixRunning,
  H1,
  H2,
  H3,
  idle,
  KEY,
  makeConfig,
  makeState,
  NOW,
  quarantined,
  rerunAwaited,
} from "./ladder-fixtures.js";

interface Options {
  config?: Config;
  circuit?: (tool: string) => ToolCircuit;
  available?: (tool: string) => ToolAvailability;
  now?: string;
}

function run(state: LadderState | null, event: LadderEvent, opts: Options = {}): LadderResult {
  return nextAction(state, {
    key: KEY,
    event,
    now: opts.now ?? NOW,
    config: opts.config ?? makeConfig(),
    circuit: opts.circuit,
    available: opts.available,
  });
}

const failed = (head: string, category: string, extra: Record<string, unknown> = {}) =>
  ({ kind: "failed", head_sha: head, category, ...extra }) as LadderEvent;
const passed = (head: string, extra: Record<string, unknown> = {}) =>
  ({ kind: "passed", head_sha: head, ...extra }) as LadderEvent;
/** A step result from an AI tool (a name), the fixers (a list) or a rerun (undefined). */
const result = (
  res: "committed" | "no_fix" | "unavailable",
  who: string | string[] | undefined,
  reason: string,
  commit?: string,
) =>
  ({
    kind: "step_result",
    result: res,
    ...(Array.isArray(who) ? { tools: who } : { tool: who }),
    reason,
    commit_sha: commit,
  }) as LadderEvent;
const reset = (reason = "alice commented /switchyard retry"): LadderEvent => ({ kind: "reset", reason });

interface Row {
  name: string;
  state: LadderState | null;
  event: LadderEvent;
  opts?: Options;
  rule: LadderRuleId;
  from: LadderPosition;
  to: LadderPosition;
  action: LadderAction;
  /** The transition's reason; defaults to the action's. */
  reason?: string;
  /** The history entries added or settled, as (step, tool or fixers joined by +, outcome). */
  entries?: [string, string | undefined, string][];
  /** Fields the new state must have. */
  state_has?: Partial<LadderState>;
}

const stop = (reason: string): LadderAction => ({ kind: "stop", reason });
const mark = (e: LadderEntry): [string, string | undefined, string] => [
  e.step,
  e.tools ? e.tools.join("+") : e.tool,
  e.outcome,
];

/** The transition table, one row or more per rule, with the exact action and reason. */
const ROWS: Row[] = [
  {
    name: "a redelivered failure",
    state: makeState({ ...fixAwaited(), seen_ci: ["101:1"] }),
    event: failed(H2, "format", { ci_id: "101:1" }),
    rule: "duplicate",
    from: "mechanical",
    to: "mechanical",
    action: stop("already handled CI result 101:1"),
  },
  {
    name: "a late failure for the head before the fix",
    state: fixAwaited(),
    event: failed(H1, "format"),
    rule: "stale",
    from: "mechanical",
    to: "mechanical",
    action: stop("stale: the result is for 1111111, and the ladder has moved on to 2222222"),
  },
  {
    name: "a late pass for an old head after the climb ended",
    state: idle(),
    event: passed(H1),
    rule: "stale",
    from: "done",
    to: "done",
    action: stop("stale: the result is for 1111111, and the ladder has moved on to 2222222"),
  },
  {
    name: "a reset with no state",
    state: null,
    event: reset(),
    rule: "reset.none",
    from: "none",
    to: "none",
    action: stop("nothing to reset: no recovery has run here"),
  },
  {
    name: "a reset of a quarantined ladder",
    state: quarantined(),
    event: reset(),
    rule: "reset",
    from: "quarantine",
    to: "done",
    action: stop("reset: alice commented /switchyard retry; the next failure starts with 3 attempts"),
    entries: [],
    state_has: { attempts: 0, last_attempt_at: null, tried: [], pending: null },
  },
  {
    name: "a reset while a fixer runs",
    state: fixRunning(),
    event: reset("bob commented /switchyard retry"),
    rule: "reset",
    from: "mechanical",
    to: "done",
    action: stop("reset: bob commented /switchyard retry; the next failure starts with 3 attempts"),
    entries: [["mechanical", "prettier+ruff-format+gofmt", "superseded"]],
    state_has: { attempts: 0 },
  },
  {
    name: "a failure on a quarantined PR",
    state: quarantined(),
    event: failed(H1, "test"),
    rule: "quarantined.hold",
    from: "quarantine",
    to: "quarantine",
    action: stop("quarantined: nothing runs until a person comments /switchyard retry"),
  },
  {
    name: "a pass on a quarantined PR",
    state: quarantined(),
    event: passed(H1),
    rule: "quarantined.hold",
    from: "quarantine",
    to: "quarantine",
    action: stop("quarantined: nothing runs until a person comments /switchyard retry"),
  },
  {
    name: "a pass with no state",
    state: null,
    event: passed(H1),
    rule: "idle.passed",
    from: "none",
    to: "none",
    action: stop("CI passed, and no recovery is in progress"),
  },
  {
    name: "a pass after the climb ended",
    state: idle(),
    event: passed(H3),
    rule: "idle.passed",
    from: "done",
    to: "done",
    action: stop("CI passed, and no recovery is in progress"),
  },
  {
    name: "a first format failure: every fixer in one job",
    state: null,
    event: failed(H1, "format", { signature: "format:[warn] src/a.ts" }),
    rule: "start",
    from: "none",
    to: "mechanical",
    action: { kind: "run_fixers", tools: FIXERS },
    reason:
      "CI failed on 1111111 (format:[warn] src/a.ts); running the fixers (prettier, ruff-format, gofmt) (attempt 1 of 3)",
    entries: [["mechanical", "prettier+ruff-format+gofmt", "started"]],
    state_has: { attempts: 1, tools: FIXERS, tried: FIXERS },
  },
  {
    name: "a first flaky failure: rerun",
    state: null,
    event: failed(H1, "flaky"),
    rule: "start",
    from: "none",
    to: "rerun",
    action: { kind: "rerun_failed_jobs" },
    reason:
      "CI failed on 1111111 (flaky); rerunning the failed jobs on 1111111 once, as the failure looks flaky",
    entries: [["rerun", undefined, "started"]],
    state_has: { rerun_sha: H1, attempts: 0, pending: "ci" },
  },
  {
    name: "a first infra failure: rerun",
    state: null,
    event: failed(H1, "infra"),
    rule: "start",
    from: "none",
    to: "rerun",
    action: { kind: "rerun_failed_jobs" },
    reason:
      "CI failed on 1111111 (infra); rerunning the failed jobs on 1111111 once, as the failure looks like infrastructure",
  },
  {
    name: "a new failure after an earlier climb: attempts carry over",
    state: idle(),
    event: failed(H3, "test"),
    rule: "start",
    from: "done",
    to: "ai",
    action: { kind: "run_ai", tool: "aider" },
    reason: "CI failed on 3333333 (test); asking AI tool 'aider' (attempt 2 of 3)",
    state_has: { attempts: 2, head_sha: H3, tried: ["aider"] },
  },
  {
    name: "the rerun passed",
    state: rerunAwaited(),
    event: passed(H1, { ci_id: "55:2" }),
    rule: "rerun.passed",
    from: "rerun",
    to: "done",
    action: { kind: "done", reason: "the rerun passed on 1111111: the flaky failure did not recur" },
    entries: [["rerun", undefined, "fixed"]],
    state_has: { seen_ci: ["55:2"] },
  },
  {
    name: "the rerun failed again: the AI tools (no fixers for flaky)",
    state: rerunAwaited(),
    event: failed(H1, "flaky"),
    rule: "rerun.failed",
    from: "rerun",
    to: "ai",
    action: { kind: "run_ai", tool: "aider" },
    reason: "the rerun failed again (flaky); asking AI tool 'aider' (attempt 1 of 3)",
    entries: [
      ["rerun", undefined, "failed"],
      ["ai", "aider", "started"],
    ],
  },
  {
    name: "the rerun failed with a lint error: its fixers",
    state: rerunAwaited(),
    event: failed(H1, "lint"),
    rule: "rerun.failed",
    from: "rerun",
    to: "mechanical",
    action: { kind: "run_fixers", tools: ["eslint", "ruff", "prettier"] },
    reason: "the rerun failed again (lint); running the fixers (eslint, ruff, prettier) (attempt 1 of 3)",
    state_has: { category: "lint" },
  },
  {
    name: "the infra failure persisted after its rerun",
    state: rerunAwaited("infra"),
    event: failed(H1, "infra"),
    rule: "rerun.failed",
    from: "rerun",
    to: "quarantine",
    action: {
      kind: "quarantine",
      reason:
        "the rerun failed again (infra); an infrastructure failure, and it persisted after a rerun: " +
        "no fixer or AI tool can repair a runner or network fault",
    },
    entries: [["rerun", undefined, "failed"]],
  },
  {
    name: "the rerun could not be requested",
    state: rerunAwaited(),
    event: result("unavailable", undefined, "HTTP 403: Resource not accessible by integration"),
    rule: "rerun.not_started",
    from: "rerun",
    to: "ai",
    action: { kind: "run_ai", tool: "aider" },
    reason:
      "the rerun could not be started: HTTP 403: Resource not accessible by integration; " +
      "asking AI tool 'aider' (attempt 1 of 3)",
    entries: [
      ["rerun", undefined, "skipped"],
      ["ai", "aider", "started"],
    ],
  },
  {
    name: "the rerun of an infra failure could not be requested",
    state: rerunAwaited("infra"),
    event: result("unavailable", undefined, "HTTP 403"),
    rule: "rerun.not_started",
    from: "rerun",
    to: "quarantine",
    action: {
      kind: "quarantine",
      reason:
        "the rerun could not be started: HTTP 403; an infrastructure failure, and its rerun could not be started: " +
        "no fixer or AI tool can repair a runner or network fault",
    },
  },
  {
    name: "the fixers committed",
    state: fixRunning(),
    event: result("committed", FIXERS, "prettier formatted 3 files", H2),
    rule: "fix.committed",
    from: "mechanical",
    to: "mechanical",
    action: {
      kind: "wait",
      reason: "the fixers (prettier, ruff-format, gofmt) committed 2222222: waiting for CI on it",
    },
    entries: [["mechanical", "prettier+ruff-format+gofmt", "started"]],
    state_has: { head_sha: H2, pending: "ci", attempts: 1 },
  },
  {
    name: "the fixers changed nothing: not an attempt, the first AI tool",
    state: fixRunning(),
    event: result("no_fix", FIXERS, "no changes"),
    rule: "fix.no_fix",
    from: "mechanical",
    to: "ai",
    action: { kind: "run_ai", tool: "aider" },
    reason:
      "the fixers (prettier, ruff-format, gofmt) made no fix: no changes (not counted as an attempt); " +
      "asking AI tool 'aider' (attempt 1 of 3)",
    entries: [
      ["mechanical", "prettier+ruff-format+gofmt", "failed"],
      ["ai", "aider", "started"],
    ],
    state_has: { rung: 0, tried: [...FIXERS, "aider"], attempts: 1, last_attempt_at: NOW },
  },
  {
    name: "an AI tool made no fix: it counts, the next AI tool",
    state: makeState({
      ...fixRunning(),
      step: "ai",
      tools: undefined,
      tool: "aider",
      tried: [...FIXERS, "aider"],
      history: [entry({ step: "ai", tool: "aider" })],
    }),
    event: result("no_fix", "aider", "aider changed nothing"),
    rule: "fix.no_fix",
    from: "ai",
    to: "ai",
    action: { kind: "run_ai", tool: "codex" },
    reason: "'aider' made no fix: aider changed nothing; asking AI tool 'codex' (attempt 2 of 3)",
    state_has: { attempts: 2, rung: 1 },
  },
  {
    name: "no fixer was installed: refunded, the first AI tool",
    state: fixRunning(),
    event: result("unavailable", FIXERS, "none of them is installed in this repository"),
    rule: "fix.unavailable",
    from: "mechanical",
    to: "ai",
    action: { kind: "run_ai", tool: "aider" },
    reason:
      "the fixers (prettier, ruff-format, gofmt) were unavailable: none of them is installed in this repository; " +
      "asking AI tool 'aider' (attempt 1 of 3)",
    entries: [
      ["mechanical", "prettier+ruff-format+gofmt", "skipped"],
      ["ai", "aider", "started"],
    ],
    state_has: { attempts: 1 },
  },
  {
    name: "CI passed on the fix",
    state: fixAwaited(),
    event: passed(H2),
    rule: "fix.passed",
    from: "mechanical",
    to: "done",
    action: {
      kind: "done",
      reason: "CI passed on 2222222: the fixers (prettier, ruff-format, gofmt) fixed the format failure",
    },
    entries: [["mechanical", "prettier+ruff-format+gofmt", "fixed"]],
    state_has: { step: "done", pending: null, attempts: 1 },
  },
  {
    name: "CI still fails the same way after the fixers: the first AI tool",
    state: fixAwaited(),
    event: failed(H2, "format"),
    rule: "fix.failed_same",
    from: "mechanical",
    to: "ai",
    action: { kind: "run_ai", tool: "aider" },
    reason:
      "CI still fails on 2222222, the commit of the fixers (prettier, ruff-format, gofmt) (format); asking AI tool 'aider' (attempt 2 of 3)",
    entries: [
      ["mechanical", "prettier+ruff-format+gofmt", "failed"],
      ["ai", "aider", "started"],
    ],
  },
  {
    name: "the same signature after the fix",
    state: makeState({ ...fixAwaited(), signature: "sig-a" }),
    event: failed(H2, "format", { signature: "sig-a" }),
    rule: "fix.failed_same",
    from: "mechanical",
    to: "ai",
    action: { kind: "run_ai", tool: "aider" },
    reason:
      "CI still fails on 2222222, the commit of the fixers (prettier, ruff-format, gofmt) (format sig-a); asking AI tool 'aider' (attempt 2 of 3)",
  },
  {
    name: "an AI tool's fix still fails: the next AI tool",
    state: aiAwaited("aider"),
    event: failed(H2, "format"),
    rule: "fix.failed_same",
    from: "ai",
    to: "ai",
    action: { kind: "run_ai", tool: "codex" },
    reason:
      "CI still fails on 2222222, the commit of 'aider' (format); asking AI tool 'codex' (attempt 3 of 3)",
    entries: [
      ["ai", "aider", "failed"],
      ["ai", "codex", "started"],
    ],
    state_has: { rung: 1, attempts: 3 },
  },
  {
    name: "the last AI tool failed: quarantine",
    state: aiAwaited("claude", { rung: 2, tried: [...FIXERS, "aider", "codex", "claude"] }),
    event: failed(H2, "format"),
    rule: "fix.failed_same",
    from: "ai",
    to: "quarantine",
    action: {
      kind: "quarantine",
      reason:
        "CI still fails on 2222222, the commit of 'claude' (format); " +
        "every fixer and AI tool for the format failure has been tried (2 of 3 attempts used)",
    },
    entries: [["ai", "claude", "failed"]],
  },
  {
    name: "the attempt cap is reached on the awaited verdict: quarantine",
    state: aiAwaited("aider", { attempts: 3 }),
    event: failed(H2, "format"),
    rule: "fix.failed_same",
    from: "ai",
    to: "quarantine",
    action: {
      kind: "quarantine",
      reason:
        "CI still fails on 2222222, the commit of 'aider' (format); attempt cap reached: 3 of 3 attempts used on octo/repo#7",
    },
  },
  {
    name: "a flaky failure survives the AI fix: one rerun on the fix commit",
    state: aiAwaited("aider", {
      category: "flaky",
      attempts: 1,
      rerun_sha: H1,
      tried: ["aider"],
      history: [
        {
          step: "rerun",
          head_sha: H1,
          at: EARLIER,
          outcome: "failed",
          reason: "the rerun failed again (flaky)",
        },
        entry({ step: "ai", tool: "aider", commit_sha: H2 }),
      ],
    }),
    event: failed(H2, "flaky"),
    rule: "fix.failed_same",
    from: "ai",
    to: "rerun",
    action: { kind: "rerun_failed_jobs" },
    reason:
      "CI still fails on 2222222, the commit of 'aider' (flaky); rerunning the failed jobs on 2222222 once, " +
      "as the failure looks flaky",
    entries: [
      ["ai", "aider", "failed"],
      ["rerun", undefined, "started"],
    ],
    state_has: { rerun_sha: H2, attempts: 1, tried: ["aider"] },
  },
  {
    name: "the fix changed the failure's category: a new climb",
    state: fixAwaited(),
    event: failed(H2, "type"),
    rule: "fix.failed_changed",
    from: "mechanical",
    to: "ai",
    action: { kind: "run_ai", tool: "aider" },
    reason:
      "2222222, the commit of the fixers (prettier, ruff-format, gofmt), changed the failure from format to type; " +
      "asking AI tool 'aider' (attempt 2 of 3)",
    entries: [
      ["mechanical", "prettier+ruff-format+gofmt", "changed"],
      ["ai", "aider", "started"],
    ],
    state_has: { category: "type", tried: ["aider"] },
  },
  {
    name: "the fix changed the signature: the category's fixers again",
    state: makeState({ ...fixAwaited(), signature: "sig-a" }),
    event: failed(H2, "format", { signature: "sig-b" }),
    rule: "fix.failed_changed",
    from: "mechanical",
    to: "mechanical",
    action: { kind: "run_fixers", tools: FIXERS },
    reason:
      "2222222, the commit of the fixers (prettier, ruff-format, gofmt), changed the failure from format sig-a to format sig-b; " +
      "running the fixers (prettier, ruff-format, gofmt) (attempt 2 of 3)",
    state_has: { signature: "sig-b", tried: FIXERS },
  },
  {
    name: "the fix turned into a flaky failure: a rerun on the fix commit",
    state: fixAwaited(),
    event: failed(H2, "flaky"),
    rule: "fix.failed_changed",
    from: "mechanical",
    to: "rerun",
    action: { kind: "rerun_failed_jobs" },
    reason:
      "2222222, the commit of the fixers (prettier, ruff-format, gofmt), changed the failure from format to flaky; " +
      "rerunning the failed jobs on 2222222 once, as the failure looks flaky",
    state_has: { rerun_sha: H2 },
  },
  {
    name: "CI passed on someone's newer push",
    state: fixAwaited(),
    event: passed(H3),
    rule: "active.passed_other",
    from: "mechanical",
    to: "done",
    action: { kind: "done", reason: "CI passed on a newer push 3333333" },
    entries: [["mechanical", "prettier+ruff-format+gofmt", "superseded"]],
    state_has: { head_sha: H3 },
  },
  {
    name: "CI passed on the head while the fixer was running",
    state: fixRunning(),
    event: passed(H1),
    rule: "active.passed_other",
    from: "mechanical",
    to: "done",
    action: {
      kind: "done",
      reason: "CI passed on 1111111 before the fixers (prettier, ruff-format, gofmt) reported",
    },
  },
  {
    name: "CI passed on a newer push during a rerun",
    state: rerunAwaited(),
    event: passed(H3),
    rule: "active.passed_other",
    from: "rerun",
    to: "done",
    action: { kind: "done", reason: "CI passed on a newer push 3333333" },
    entries: [["rerun", undefined, "superseded"]],
  },
  {
    name: "a failure on the head while the fixers never reported",
    state: fixRunning(),
    event: failed(H1, "format"),
    rule: "running.failed_same_head",
    from: "mechanical",
    to: "ai",
    action: { kind: "run_ai", tool: "aider" },
    reason:
      "no result was recorded for the fixers (prettier, ruff-format, gofmt), so it counts as failed; asking AI tool 'aider' (attempt 2 of 3)",
    entries: [
      ["mechanical", "prettier+ruff-format+gofmt", "failed"],
      ["ai", "aider", "started"],
    ],
  },
  {
    name: "someone pushed while CI on the fix ran",
    state: fixAwaited(),
    event: failed(H3, "test"),
    rule: "active.failed_new_push",
    from: "mechanical",
    to: "ai",
    action: { kind: "run_ai", tool: "aider" },
    reason:
      "a newer push 3333333 replaced 2222222 before the fixers (prettier, ruff-format, gofmt) finished; CI failed on it (test); " +
      "asking AI tool 'aider' (attempt 2 of 3)",
    entries: [
      ["mechanical", "prettier+ruff-format+gofmt", "superseded"],
      ["ai", "aider", "started"],
    ],
    state_has: { head_sha: H3, category: "test" },
  },
  {
    name: "someone pushed during a rerun, and it looks flaky too",
    state: rerunAwaited(),
    event: failed(H3, "flaky"),
    rule: "active.failed_new_push",
    from: "rerun",
    to: "rerun",
    action: { kind: "rerun_failed_jobs" },
    reason:
      "a newer push 3333333 replaced 1111111 before the rerun finished; CI failed on it (flaky); " +
      "rerunning the failed jobs on 3333333 once, as the failure looks flaky",
    state_has: { rerun_sha: H3 },
  },
  {
    name: "a result with nothing running",
    state: idle(),
    event: result("no_fix", "aider", "no changes"),
    rule: "unexpected_result",
    from: "done",
    to: "done",
    action: stop("ignored a step result for 'aider': no such step is running"),
  },
  {
    name: "a result from another tool than the running one",
    state: fixRunning(),
    event: result("committed", "codex", "done", H2),
    rule: "unexpected_result",
    from: "mechanical",
    to: "mechanical",
    action: stop("ignored a step result for 'codex': no such step is running"),
  },
  {
    name: "a result for other fixers than the running ones",
    state: fixRunning(),
    event: result("committed", ["prettier"], "done", H2),
    rule: "unexpected_result",
    from: "mechanical",
    to: "mechanical",
    action: stop("ignored a step result for the fixers (prettier): no such step is running"),
  },
  {
    name: "a fixer's name where the fixers' list belongs",
    state: fixRunning(),
    event: result("no_fix", "prettier", "no changes"),
    rule: "unexpected_result",
    from: "mechanical",
    to: "mechanical",
    action: stop("ignored a step result for 'prettier': no such step is running"),
  },
  {
    name: "a second result after the commit",
    state: fixAwaited(),
    event: result("no_fix", FIXERS, "no changes"),
    rule: "unexpected_result",
    from: "mechanical",
    to: "mechanical",
    action: stop(
      "ignored a step result for the fixers (prettier, ruff-format, gofmt): no such step is running",
    ),
  },
  {
    name: "a commit claimed by a rerun",
    state: rerunAwaited(),
    event: result("committed", undefined, "?", H2),
    rule: "unexpected_result",
    from: "rerun",
    to: "rerun",
    action: stop("ignored a step result for a rerun: no such step is running"),
  },
  {
    name: "a result with no state",
    state: null,
    event: result("no_fix", "aider", "no changes"),
    rule: "unexpected_result",
    from: "none",
    to: "none",
    action: stop("ignored a step result for 'aider': no such step is running"),
  },
];

describe("nextAction: the transition table", () => {
  it("has at least one row for every rule", () => {
    const covered = new Set(ROWS.map((r) => r.rule));
    expect(LADDER_RULES.map((r) => r.id).filter((id) => !covered.has(id))).toEqual([]);
  });

  it.each(ROWS)("$rule: $name", (row) => {
    const res = run(row.state, row.event, row.opts);
    const reason = row.reason ?? (row.action as { reason: string }).reason;
    expect(res.transition).toEqual({ rule: row.rule, from: row.from, to: row.to, reason });
    expect(res.action).toEqual(row.action);
    if (row.entries) expect(res.entries.map(mark)).toEqual(row.entries);
    if (row.action.kind === "stop" && row.rule !== "reset") {
      // Nothing happened: the state is the one given, and nothing needs writing.
      expect(res.changed).toBe(false);
      expect(res.state).toEqual(row.state);
      expect(res.entries).toEqual([]);
    } else {
      expect(res.changed).toBe(true);
      expect(LadderStateSchema.parse(res.state)).toEqual(res.state);
      expect(res.state!.reason).toBe(reason);
      expect(res.state).toMatchObject(row.state_has ?? {});
    }
  });
});

describe("nextAction: a new climb's first rung", () => {
  const circuitOpen =
    (name: string) =>
    (tool: string): ToolCircuit =>
      tool === name
        ? { state: "open", reason: "open until 2025-03-01T12:30:00Z: 4 of 4 recent runs failed" }
        : { state: "closed", reason: "closed: no recent runs" };

  it("records the whole state of a first fixers run", () => {
    const res = run(null, failed(H1, "format", { signature: "fmt-1", ci_id: "9:1" }));
    const reason =
      "CI failed on 1111111 (format fmt-1); running the fixers (prettier, ruff-format, gofmt) (attempt 1 of 3)";
    expect(res.state).toEqual({
      version: 1,
      key: KEY,
      head_sha: H1,
      category: "format",
      signature: "fmt-1",
      step: "mechanical",
      pending: "tool",
      rung: 0,
      tools: FIXERS,
      tried: FIXERS,
      attempts: 1,
      rerun_sha: null,
      last_attempt_at: NOW,
      seen_ci: ["9:1"],
      reason,
      history: [
        {
          step: "mechanical",
          tools: FIXERS,
          head_sha: H1,
          at: NOW,
          outcome: "started",
          reason: "running the fixers (prettier, ruff-format, gofmt) (attempt 1 of 3)",
        },
      ],
    });
  });

  it.each<[string, string, Options, LadderAction, [string, string | undefined, string, string][]]>([
    [
      "lint: the lint fixers",
      "lint",
      {},
      { kind: "run_fixers", tools: ["eslint", "ruff", "prettier"] },
      [
        [
          "mechanical",
          "eslint+ruff+prettier",
          "started",
          "running the fixers (eslint, ruff, prettier) (attempt 1 of 3)",
        ],
      ],
    ],
    [
      "test: no fixers, the first AI tool",
      "test",
      {},
      { kind: "run_ai", tool: "aider" },
      [["ai", "aider", "started", "asking AI tool 'aider' (attempt 1 of 3)"]],
    ],
    [
      "unknown: the first AI tool",
      "unknown",
      {},
      { kind: "run_ai", tool: "aider" },
      [["ai", "aider", "started", "asking AI tool 'aider' (attempt 1 of 3)"]],
    ],
    [
      "dependency: the first AI tool",
      "dependency",
      {},
      { kind: "run_ai", tool: "aider" },
      [["ai", "aider", "started", "asking AI tool 'aider' (attempt 1 of 3)"]],
    ],
    [
      "a fixer whose circuit is open is skipped with the circuit's reason",
      "format",
      { circuit: circuitOpen("prettier") },
      { kind: "run_fixers", tools: ["ruff-format", "gofmt"] },
      [
        [
          "mechanical",
          "prettier",
          "skipped",
          "circuit open until 2025-03-01T12:30:00Z: 4 of 4 recent runs failed",
        ],
        [
          "mechanical",
          "ruff-format+gofmt",
          "started",
          "running the fixers (ruff-format, gofmt) (attempt 1 of 3)",
        ],
      ],
    ],
    [
      "an AI tool whose circuit is open is skipped",
      "test",
      { circuit: circuitOpen("aider") },
      { kind: "run_ai", tool: "codex" },
      [
        ["ai", "aider", "skipped", "circuit open until 2025-03-01T12:30:00Z: 4 of 4 recent runs failed"],
        ["ai", "codex", "started", "asking AI tool 'codex' (attempt 1 of 3)"],
      ],
    ],
    [
      "a half-open circuit allows its trial run",
      "test",
      { circuit: () => ({ state: "half_open", reason: "half-open: one trial run allowed" }) },
      { kind: "run_ai", tool: "aider" },
      [["ai", "aider", "started", "asking AI tool 'aider' (attempt 1 of 3)"]],
    ],
    [
      "a tool the caller found unavailable is skipped",
      "format",
      {
        available: (t) =>
          t === "prettier" ? { available: false, reason: "npx: prettier not found" } : { available: true },
      },
      { kind: "run_fixers", tools: ["ruff-format", "gofmt"] },
      [
        ["mechanical", "prettier", "skipped", "unavailable: npx: prettier not found"],
        [
          "mechanical",
          "ruff-format+gofmt",
          "started",
          "running the fixers (ruff-format, gofmt) (attempt 1 of 3)",
        ],
      ],
    ],
    [
      "a fixer with no profile is skipped",
      "format",
      { config: makeConfig({ mechanical: { format: ["black", "prettier"] } }) },
      { kind: "run_fixers", tools: ["prettier"] },
      [
        ["mechanical", "black", "skipped", "not configured: no tool profile is named 'black'"],
        ["mechanical", "prettier", "started", "running the fixers (prettier) (attempt 1 of 3)"],
      ],
    ],
    [
      "an AI tool listed as a fixer is skipped",
      "format",
      { config: makeConfig({ mechanical: { format: ["aider", "gofmt"] } }) },
      { kind: "run_fixers", tools: ["gofmt"] },
      [
        [
          "mechanical",
          "aider",
          "skipped",
          "an AI tool listed as a mechanical fixer: move it to recovery.escalation",
        ],
        ["mechanical", "gofmt", "started", "running the fixers (gofmt) (attempt 1 of 3)"],
      ],
    ],
    [
      "a fixer listed for escalation is skipped",
      "test",
      { config: makeConfig({ escalation: ["eslint", "claude"] }) },
      { kind: "run_ai", tool: "claude" },
      [
        [
          "ai",
          "eslint",
          "skipped",
          "a mechanical fixer listed in recovery.escalation: move it to recovery.mechanical",
        ],
        ["ai", "claude", "started", "asking AI tool 'claude' (attempt 1 of 3)"],
      ],
    ],
    [
      "a script may take an AI rung",
      "test",
      {
        config: makeConfig({ escalation: ["fixit"] }, [
          { name: "fixit", kind: "script", command: "./fix.sh", capabilities: ["error_fix"] },
        ]),
      },
      { kind: "run_ai", tool: "fixit" },
      [["ai", "fixit", "started", "asking AI tool 'fixit' (attempt 1 of 3)"]],
    ],
    [
      "no reruns: a flaky failure goes to the tools",
      "flaky",
      { config: makeConfig({ rerun_flaky: false }) },
      { kind: "run_ai", tool: "aider" },
      [["ai", "aider", "started", "asking AI tool 'aider' (attempt 1 of 3)"]],
    ],
    [
      "max_attempts 0 still reruns a flaky failure",
      "flaky",
      { config: makeConfig({ max_attempts: 0 }) },
      { kind: "rerun_failed_jobs" },
      [
        [
          "rerun",
          undefined,
          "started",
          "rerunning the failed jobs on 1111111 once, as the failure looks flaky",
        ],
      ],
    ],
  ])("%s", (_name, category, opts, action, entries) => {
    const res = run(null, failed(H1, category), opts);
    expect(res.action).toEqual(action);
    const who = (e: LadderEntry) => (e.tools ? e.tools.join("+") : e.tool);
    expect(res.entries.map((e) => [e.step, who(e), e.outcome, e.reason])).toEqual(entries);
    expect(LadderStateSchema.parse(res.state)).toEqual(res.state);
  });

  it("skips a disabled tool", () => {
    const config = makeConfig();
    config.tools = config.tools.map((t) => (t.name === "aider" ? { ...t, enabled: false } : t));
    const res = run(null, failed(H1, "test"), { config });
    expect(res.entries.map((e) => [e.tool, e.outcome, e.reason])).toEqual([
      ["aider", "skipped", "disabled in its profile"],
      ["codex", "started", "asking AI tool 'codex' (attempt 1 of 3)"],
    ]);
  });

  it.each<[string, string, string, Options, LadderState | null, string]>([
    [
      "every tool skipped",
      "test",
      H1,
      { available: () => ({ available: false, reason: "no API key" }) },
      null,
      "CI failed on 1111111 (test); every fixer and AI tool for the test failure has been tried (0 of 3 attempts used)",
    ],
    [
      "max_attempts 0",
      "test",
      H1,
      { config: makeConfig({ max_attempts: 0 }) },
      null,
      "CI failed on 1111111 (test); attempt cap reached: 0 of 0 attempts used on octo/repo#7",
    ],
    [
      "an infra failure with reruns off",
      "infra",
      H1,
      { config: makeConfig({ rerun_flaky: false }) },
      null,
      "CI failed on 1111111 (infra); an infrastructure failure, and reruns are off (recovery.rerun_flaky): " +
        "no fixer or AI tool can repair a runner or network fault",
    ],
    [
      "an infra failure again on a head already rerun",
      "infra",
      H1,
      {},
      makeState({
        rerun_sha: H1,
        head_sha: H1,
        history: [{ step: "rerun", head_sha: H1, at: EARLIER, outcome: "fixed", reason: "passed" }],
      }),
      "CI failed on 1111111 (infra); an infrastructure failure, and it persisted after a rerun: " +
        "no fixer or AI tool can repair a runner or network fault",
    ],
    [
      "attempts used up by earlier climbs",
      "format",
      H3,
      {},
      makeState({ attempts: 3, head_sha: H2, history: [entry({ commit_sha: H2, outcome: "fixed" })] }),
      "CI failed on 3333333 (format); attempt cap reached: 3 of 3 attempts used on octo/repo#7",
    ],
  ])("quarantines: %s", (_name, category, head, opts, state, reason) => {
    const res = run(state, failed(head, category), opts);
    expect(res.action).toEqual({ kind: "quarantine", reason });
    expect(res.state).toMatchObject({ step: "quarantine", pending: null, reason });
    expect(res.state!.tool).toBeUndefined();
  });

  it("does not rerun a flaky failure twice on one head", () => {
    const state = makeState({
      category: "flaky",
      rerun_sha: H1,
      history: [{ step: "rerun", head_sha: H1, at: EARLIER, outcome: "fixed", reason: "passed" }],
    });
    expect(run(state, failed(H1, "flaky")).action).toEqual({ kind: "run_ai", tool: "aider" });
  });
});

/** Carries the state through a status comment between events, as replicas would. */
function persist(state: LadderState | null): LadderState | null {
  if (state === null) return null;
  return LadderStateSchema.parse(JSON.parse(JSON.stringify(state)));
}

function climb(events: LadderEvent[], opts: Options = {}, start: LadderState | null = null) {
  let state = start;
  const steps: { rule: string; action: LadderAction }[] = [];
  for (const event of events) {
    const res = run(persist(state), event, opts);
    steps.push({ rule: res.transition.rule, action: res.action });
    state = res.state;
  }
  return { state: state!, steps };
}

describe("nextAction: whole climbs", () => {
  it("climbs the fixers, then AI, and quarantines at the attempt cap", () => {
    const H4 = "4".repeat(40);
    const { state, steps } = climb([
      failed(H1, "format", { ci_id: "1:1" }),
      result("committed", FIXERS, "prettier formatted 2 files", H2),
      failed(H2, "format", { ci_id: "2:1" }),
      result("unavailable", "aider", "OPENAI_API_KEY is not set"),
      result("committed", "codex", "edited 2 files", H3),
      failed(H3, "format", { ci_id: "3:1" }),
      result("committed", "claude", "edited 1 file", H4),
      failed(H4, "format", { ci_id: "4:1" }),
    ]);
    const wait = (who: string, sha: string) => ({
      kind: "wait",
      reason: `${who} committed ${sha.slice(0, 7)}: waiting for CI on it`,
    });
    expect(steps).toEqual([
      { rule: "start", action: { kind: "run_fixers", tools: FIXERS } },
      { rule: "fix.committed", action: wait("the fixers (prettier, ruff-format, gofmt)", H2) },
      { rule: "fix.failed_same", action: { kind: "run_ai", tool: "aider" } },
      { rule: "fix.unavailable", action: { kind: "run_ai", tool: "codex" } },
      { rule: "fix.committed", action: wait("'codex'", H3) },
      { rule: "fix.failed_same", action: { kind: "run_ai", tool: "claude" } },
      { rule: "fix.committed", action: wait("'claude'", H4) },
      {
        rule: "fix.failed_same",
        action: {
          kind: "quarantine",
          reason:
            "CI still fails on 4444444, the commit of 'claude' (format); attempt cap reached: 3 of 3 attempts used on octo/repo#7",
        },
      },
    ]);
    expect(
      state.history.map((e) => [e.step, e.tools ?? e.tool, e.head_sha, e.commit_sha, e.outcome]),
    ).toEqual([
      ["mechanical", FIXERS, H1, H2, "failed"],
      ["ai", "aider", H2, undefined, "skipped"],
      ["ai", "codex", H2, H3, "failed"],
      ["ai", "claude", H3, H4, "failed"],
    ]);
    expect(state).toMatchObject({
      attempts: 3,
      step: "quarantine",
      seen_ci: ["1:1", "2:1", "3:1", "4:1"],
    });
  });

  it("reaches every AI tool with the defaults when the fixers change nothing", () => {
    // The design problem this fixes: three no-op formatters used to spend the whole budget of 3.
    const { state, steps } = climb([
      failed(H1, "format"),
      result("no_fix", FIXERS, "no changes"),
      result("no_fix", "aider", "no changes"),
      result("no_fix", "codex", "no changes"),
      result("no_fix", "claude", "no changes"),
    ]);
    expect(steps.map((s) => s.action)).toEqual([
      { kind: "run_fixers", tools: FIXERS },
      { kind: "run_ai", tool: "aider" },
      { kind: "run_ai", tool: "codex" },
      { kind: "run_ai", tool: "claude" },
      {
        kind: "quarantine",
        reason: "'claude' made no fix: no changes; attempt cap reached: 3 of 3 attempts used on octo/repo#7",
      },
    ]);
    expect(state.attempts).toBe(3);
  });

  it("finishes when the rerun of a flaky failure passes, and ignores the redelivery", () => {
    const { state, steps } = climb([
      failed(H1, "flaky", { ci_id: "7:1" }),
      failed(H1, "flaky", { ci_id: "7:1" }),
      passed(H1, { ci_id: "7:2" }),
      passed(H1, { ci_id: "7:2" }),
    ]);
    expect(steps.map((s) => s.rule)).toEqual(["start", "duplicate", "rerun.passed", "duplicate"]);
    expect(state).toMatchObject({ step: "done", attempts: 0, rerun_sha: H1 });
    expect(state.history.map((e) => e.outcome)).toEqual(["fixed"]);
  });

  it("counts attempts per PR across pushes", () => {
    // Two attempts went into an earlier climb that ended fixed; a person pushed H3, which fails.
    const earlier = makeState({
      attempts: 2,
      head_sha: H2,
      history: [entry({ commit_sha: H2, outcome: "fixed", at: "2025-03-01T10:00:00Z" })],
    });
    const { steps } = climb(
      [
        failed(H3, "test"),
        result("committed", "aider", "done", "4".repeat(40)),
        failed("4".repeat(40), "test"),
      ],
      {},
      earlier,
    );
    expect(steps.map((s) => s.action.kind)).toEqual(["run_ai", "wait", "quarantine"]);
    expect((steps[2]!.action as { reason: string }).reason).toMatch(/attempt cap reached: 3 of 3 attempts/);
  });

  it("cannot loop past the cap when two failures take turns", () => {
    // Each fix swaps failure A for failure B and back: every verdict is "changed", a new climb.
    const heads = ["a", "b", "c", "d"].map((c) => c.repeat(40));
    let state: LadderState | null = null;
    let res = run(state, failed(H1, "test", { signature: "A" }));
    const kinds = [res.action.kind];
    for (const [i, head] of heads.entries()) {
      if (res.action.kind !== "run_ai") break;
      state = persist(res.state);
      res = run(state, result("committed", res.action.tool, "edited", head));
      kinds.push(res.action.kind);
      res = run(persist(res.state), failed(head, "test", { signature: i % 2 === 0 ? "B" : "A" }));
      kinds.push(res.action.kind);
    }
    expect(kinds).toEqual(["run_ai", "wait", "run_ai", "wait", "run_ai", "wait", "quarantine"]);
    expect(res.state).toMatchObject({ attempts: 3, step: "quarantine" });
    expect(res.state!.history.map((e) => [e.tool, e.outcome])).toEqual([
      ["aider", "changed"],
      ["aider", "changed"],
      ["aider", "changed"],
    ]);
  });
});

describe("nextAction: every phase answers every event", () => {
  const states: [string, LadderState | null][] = [
    ["none", null],
    ["idle", idle()],
    ["quarantined", quarantined()],
    ["rerun", rerunAwaited()],
    ["running", fixRunning()],
    ["awaiting", fixAwaited()],
  ];
  const events: LadderEvent[] = [
    ...[H1, H2, H3].flatMap((h) => [failed(h, "format"), failed(h, "flaky"), failed(h, "infra"), passed(h)]),
    result("committed", "prettier", "x", H3),
    result("committed", "prettier", "x", H1),
    result("no_fix", "prettier", "x"),
    result("unavailable", "prettier", "x"),
    result("unavailable", undefined, "x"),
    reset(),
  ];
  const ids = new Set<string>(LADDER_RULES.map((r) => r.id));

  it.each(states)("%s", (_name, state) => {
    for (const event of events) {
      const res = run(state, event);
      expect(ids.has(res.transition.rule)).toBe(true);
      if (res.state !== null) expect(LadderStateSchema.parse(res.state)).toEqual(res.state);
      expect(res.changed).toBe(JSON.stringify(res.state) !== JSON.stringify(state));
    }
  });

  it("is deterministic and leaves its input alone", () => {
    const state = deepFreeze(fixAwaited());
    const a = run(state, failed(H2, "format"));
    const b = run(state, failed(H2, "format"));
    expect(a).toEqual(b);
    expect(state).toEqual(fixAwaited());
  });
});

describe("nextAction: bounds", () => {
  it("keeps at most 20 history entries, with the step in progress last", () => {
    const many = Array.from({ length: 12 }, (_, i) => `fixer${i}`);
    const config = makeConfig({ mechanical: { format: many } }, [
      ...many.map((name) => ({ name, kind: "mechanical", command: name, capabilities: ["linting"] })),
      { name: "aider", kind: "ai", command: "aider", capabilities: ["error_fix"] },
    ]);
    const old = Array.from({ length: 15 }, (_, i) =>
      entry({
        tool: "prettier",
        outcome: "fixed",
        at: `2025-02-${String(i + 1).padStart(2, "0")}T00:00:00Z`,
      }),
    );
    const state = makeState({ history: old, head_sha: H2 });
    const res = run(state, failed(H3, "format"), {
      config,
      available: (t) => (t === "aider" ? { available: true } : { available: false, reason: "missing" }),
    });
    expect(res.action).toEqual({ kind: "run_ai", tool: "aider" });
    expect(res.entries).toHaveLength(13);
    expect(res.state!.history).toHaveLength(20);
    expect(res.state!.history.at(-1)).toMatchObject({ tool: "aider", outcome: "started" });
    expect(res.state!.history[0]!.at).toBe("2025-02-09T00:00:00Z");
  });

  it("remembers the last 10 CI ids", () => {
    const seen = Array.from({ length: 10 }, (_, i) => `run:${i}`);
    const res = run(makeState({ ...fixAwaited(), seen_ci: seen }), passed(H2, { ci_id: "run:new" }));
    expect(res.state!.seen_ci).toEqual([...seen.slice(1), "run:new"]);
  });

  it("clips long reasons when storing them", () => {
    const res = run(fixRunning(), result("no_fix", FIXERS, "x".repeat(1500)));
    expect(res.state!.history[0]!.reason).toHaveLength(300);
    expect(res.state!.history[0]!.reason.endsWith("x…")).toBe(true);
    expect(res.state!.reason).toHaveLength(300);
    expect(res.transition.reason).toContain("x".repeat(1500));
  });

  it("drops old history until the state fits a status marker", async () => {
    const { encodeMarker } = await import("../../../src/core/status-marker.js");
    const wide = "€".repeat(300);
    const names = Array.from({ length: 20 }, (_, i) => `t${i}-${"x".repeat(58)}`);
    const state = makeState({
      ...fixRunning(),
      signature: "s".repeat(200),
      tried: ["prettier", ...names],
      seen_ci: Array.from({ length: 10 }, (_, i) => `${i}`.repeat(100)),
      history: [
        ...Array.from({ length: 19 }, () =>
          entry({
            outcome: "failed",
            tool: names[0],
            head_sha: "a".repeat(64),
            commit_sha: "b".repeat(64),
            reason: wide,
          }),
        ),
        entry(),
      ],
    });
    const res = run(state, result("committed", FIXERS, wide, H2));
    const bytes = Buffer.byteLength(JSON.stringify(res.state), "utf8");
    expect(bytes).toBeLessThanOrEqual(12_000);
    expect(res.state!.history.length).toBeLessThan(20);
    expect(res.state!.history.at(-1)).toMatchObject({ tools: FIXERS, outcome: "started", commit_sha: H2 });
    expect(() => encodeMarker(res.state, "recovery")).not.toThrow();
  });
});

describe("the dispatch record (app mode)", () => {
  const dispatch = {
    workflow: ".github/workflows/switchyard-recover.yml",
    at: EARLIER,
    ref: "main",
    run_id: 31,
    run_attempt: 1,
  };

  it("is carried through a transition unchanged, for the app to check the next recover run against", () => {
    const next = run({ ...fixRunning(), dispatch }, result("no_fix", [...FIXERS], "nothing changed"));
    expect(next.state!.dispatch).toEqual(dispatch);
    expect(next.state!.step).toBe("ai");
  });

  it("is refused when malformed, like any hand-edited marker", () => {
    const bad = { ...fixRunning(), dispatch: { ...dispatch, at: "yesterday" } };
    expect(LadderStateSchema.safeParse(bad).success).toBe(false);
    expect(LadderStateSchema.safeParse({ ...fixRunning(), dispatch }).success).toBe(true);
  });
});

describe("nextAction: refused input", () => {
  it("refuses a state stored for another PR", () => {
    expect(() => run(makeState({ key: "octo/repo#8" }), failed(H1, "test"))).toThrow(
      new InputError(
        "The stored recovery state is for octo/repo#8, not octo/repo#7: it belongs to another pull request or branch.",
      ),
    );
  });

  it.each<[string, Record<string, unknown>, string]>([
    [
      "a done ladder with a step pending",
      { pending: "tool" },
      "a done ladder waits for nothing (pending must be null)",
    ],
    [
      "a rerun not waiting for CI",
      { step: "rerun", pending: "tool", history: [entry({ step: "rerun", tool: undefined })] },
      "a rerun waits for CI (pending must be ci)",
    ],
    [
      "a fixers step without its fixers",
      { step: "mechanical", pending: "tool", history: [entry()] },
      "a mechanical step names its fixers and what it waits for",
    ],
    [
      "an ai step without its tool",
      { step: "ai", pending: "ci", history: [entry({ step: "ai", tool: "aider" })] },
      "an ai step names its tool and what it waits for",
    ],
    [
      "a fixers step with an AI tool",
      { step: "mechanical", pending: "tool", tool: "aider", tools: FIXERS, history: [entry()] },
      "a mechanical step has no AI tool (tool must be absent)",
    ],
    [
      "an ai step with fixers",
      { step: "ai", pending: "tool", tool: "aider", tools: FIXERS, history: [entry()] },
      "an ai step runs no fixers (tools must be absent)",
    ],
    [
      "fixers that differ from the step in progress",
      { step: "mechanical", pending: "tool", tools: ["prettier"], history: [entry()] },
      "the step in progress must be the last history entry, marked started",
    ],
    [
      "a running step that is not the last entry",
      {
        step: "mechanical",
        pending: "tool",
        tools: FIXERS,
        history: [entry(), entry({ outcome: "failed" })],
      },
      "the step in progress must be the last history entry, marked started",
    ],
    ["a negative attempt count", { attempts: -1 }, "attempts: Too small: expected number to be >=0"],
    ["an unknown field", { admin: true }, 'Unrecognized key: "admin"'],
  ])("refuses a tampered state: %s", (_name, over, message) => {
    const tampered = { ...makeState(), ...over } as LadderState;
    expect(() => run(tampered, failed(H1, "test"))).toThrow(
      `The stored recovery state is not valid: ${message}`,
    );
  });

  it.each<[string, LadderEvent, string]>([
    [
      "a short SHA",
      failed("abc1234", "test"),
      "event.head_sha: a full commit or object id (40 or 64 lower-case hex digits)",
    ],
    ["an unknown category", failed(H1, "weather"), "event.category: Invalid option"],
    [
      "a commit without its SHA",
      result("committed", "prettier", "done"),
      "event.commit_sha: commit_sha is given exactly when the result is committed",
    ],
    [
      "an SHA on a result without a commit",
      result("no_fix", "prettier", "none", H2),
      "event.commit_sha: commit_sha is given exactly when the result is committed",
    ],
  ])("refuses an event: %s", (_name, event, message) => {
    expect(() => run(null, event)).toThrow(
      expect.objectContaining({ name: "InputError", message: expect.stringContaining(message) }),
    );
  });

  it("refuses a time that is not ISO 8601", () => {
    expect(() => run(null, failed(H1, "test"), { now: "yesterday" })).toThrow(
      "Cannot take the recovery ladder's next step: now: Invalid ISO datetime",
    );
  });
});

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}

describe("categories", () => {
  it("are the classifier's categories", async () => {
    const { CATEGORIES } = await import("../../../src/core/recovery/schema.js");
    expect([...LADDER_CATEGORIES].sort()).toEqual([...CATEGORIES].sort());
  });

  it("take the classifier's longest signatures", () => {
    const signature = `dependency:${"x".repeat(200)}`;
    expect(run(null, failed(H1, "test", { signature })).state!.signature).toBe(signature);
  });
});

describe("recoveryKey", () => {
  it("names a recovery by its PR, across pushes", () => {
    expect(recoveryKey({ repository: "octo/repo", pull_request: 7, branch: "feature/x" })).toBe(
      "octo/repo#7",
    );
  });

  it("names a recovery by its branch when there is no PR", () => {
    expect(recoveryKey({ repository: "octo/repo", pull_request: null, branch: "main" })).toBe(
      "octo/repo@main",
    );
    expect(recoveryKey({ repository: "octo/repo", branch: "switchyard/fix-7-1" })).toBe(
      "octo/repo@switchyard/fix-7-1",
    );
  });

  it.each([
    ["a repository without owner", { repository: "repo", pull_request: 7, branch: "x" }, "repo#7"],
    ["PR number 0", { repository: "octo/repo", pull_request: 0, branch: "x" }, "octo/repo#0"],
    ["a branch with a space", { repository: "octo/repo", branch: "a b" }, "octo/repo@a b"],
  ])("refuses %s", (_name, input, key) => {
    expect(() => recoveryKey(input)).toThrow(
      new InputError(
        `Cannot name the recovery for '${key}': expected owner/repo with a PR number or a branch name.`,
      ),
    );
  });
});
