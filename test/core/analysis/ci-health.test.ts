import { describe, expect, it } from "@jest/globals";
import {
  analyzeCiHealth,
  analyzeRepository,
  withCiHealth,
  type CiFailedJob,
  type CiRun,
} from "../../../src/core/analysis/ci-health.js";
import { buildMetrics } from "../../../src/core/analysis/metrics-file.js";
import { analyzeEvents } from "../../../src/core/analysis/aggregate.js";
import { InputError } from "../../../src/core/errors.js";

const NOW = "2026-03-08T00:00:00.000Z";
const WEEK = 7 * 86_400_000;
const SHA_A = "a".repeat(40);
const SHA_B = "b".repeat(40);

let nextId = 1;
function run(over: Partial<CiRun> & { created_at: string }): CiRun {
  return {
    id: nextId++,
    workflow: "CI",
    workflow_id: 10,
    head_sha: SHA_A,
    event: "push",
    status: "completed",
    conclusion: "success",
    run_attempt: 1,
    display_title: null,
    ...over,
  };
}

function job(r: CiRun, over: Partial<CiFailedJob> = {}): CiFailedJob {
  return {
    run_id: r.id,
    run_attempt: r.run_attempt,
    job_id: r.id * 100 + 1,
    name: "test",
    completed_at: r.created_at,
    ...over,
  };
}

describe("analyzeCiHealth", () => {
  it("gives each workflow's failure rate over runs with a verdict, this window and the previous one", () => {
    const runs = [
      run({ created_at: "2026-03-07T10:00:00Z", conclusion: "failure" }),
      run({ created_at: "2026-03-06T10:00:00Z", conclusion: "success", head_sha: SHA_B }),
      run({ created_at: "2026-03-05T10:00:00Z", conclusion: "timed_out", head_sha: "c".repeat(40) }),
      run({ created_at: "2026-03-05T11:00:00Z", conclusion: "cancelled" }),
      run({ created_at: "2026-03-05T12:00:00Z", status: "in_progress", conclusion: null }),
      run({ created_at: "2026-03-04T12:00:00Z", workflow: "Lint", workflow_id: 11, conclusion: "success" }),
      // The previous window: one failure in two.
      run({ created_at: "2026-02-27T12:00:00Z", conclusion: "failure", head_sha: "d".repeat(40) }),
      run({ created_at: "2026-02-26T12:00:00Z", conclusion: "success", head_sha: "e".repeat(40) }),
      // Before both windows.
      run({ created_at: "2026-02-01T12:00:00Z", conclusion: "failure" }),
    ];
    const health = analyzeCiHealth(runs, [], { now: NOW, window_ms: WEEK });
    expect(health.workflows).toEqual([
      {
        name: "CI",
        runs: 3,
        failures: 2,
        failure_rate: 0.6667,
        previous: { runs: 2, failures: 1, failure_rate: 0.5 },
      },
      {
        name: "Lint",
        runs: 1,
        failures: 0,
        failure_rate: 0,
        previous: { runs: 0, failures: 0, failure_rate: null },
      },
    ]);
    expect(health.runs).toBe(4);
    expect(health.failures).toBe(2);
    expect(health.previous).toEqual({ runs: 2, failures: 1, flips: 0 });
    // Cancelled, in progress, and the run before both windows.
    expect(health.ignored).toBe(3);
    expect(health.window).toEqual({
      from: "2026-03-01T00:00:00.000Z",
      to: NOW,
      previous: { from: "2026-02-22T00:00:00.000Z", to: "2026-03-01T00:00:00.000Z" },
    });
  });

  it("counts a failed run followed by a passing run of the same workflow on the same SHA as flips of its failed jobs", () => {
    const failed = run({ created_at: "2026-03-03T10:00:00Z", conclusion: "failure" });
    const passed = run({ created_at: "2026-03-03T11:00:00Z", conclusion: "success" });
    // Another workflow passing on the same SHA proves nothing about CI's jobs.
    const other = run({ created_at: "2026-03-03T12:00:00Z", workflow: "Lint", workflow_id: 11 });
    const jobs = [job(failed, { name: "unit (node 20)" }), job(failed, { job_id: 999, name: "e2e" })];
    const health = analyzeCiHealth([passed, failed, other], jobs, { now: NOW, window_ms: WEEK });
    expect(health.flaky).toEqual([
      {
        name: "CI / e2e",
        flips: 1,
        first_seen: "2026-03-03T11:00:00.000Z",
        last_seen: "2026-03-03T11:00:00.000Z",
      },
      {
        name: "CI / unit (node 20)",
        flips: 1,
        first_seen: "2026-03-03T11:00:00.000Z",
        last_seen: "2026-03-03T11:00:00.000Z",
      },
    ]);
    expect(health.flips).toBe(2);
  });

  it("counts a re-run that passed as a flip of the jobs that failed in the earlier attempt", () => {
    const rerun = run({ created_at: "2026-03-02T10:00:00Z", conclusion: "success", run_attempt: 2 });
    const health = analyzeCiHealth([rerun], [job(rerun, { run_attempt: 1, name: "integration" })], {
      now: NOW,
      window_ms: WEEK,
    });
    expect(health.flaky.map((f) => [f.name, f.flips])).toEqual([["CI / integration", 1]]);
  });

  it("names the workflow when the failed run's jobs are not known, and counts no flip for a failure that stays", () => {
    const runs = [
      run({ created_at: "2026-03-03T10:00:00Z", conclusion: "failure" }),
      run({ created_at: "2026-03-03T11:00:00Z", conclusion: "success" }),
      run({ created_at: "2026-03-04T10:00:00Z", conclusion: "failure", head_sha: SHA_B }),
      run({ created_at: "2026-03-04T11:00:00Z", conclusion: "failure", head_sha: SHA_B }),
      // Passed first, then failed: not a flip.
      run({ created_at: "2026-03-05T10:00:00Z", conclusion: "success", head_sha: "c".repeat(40) }),
      run({ created_at: "2026-03-05T11:00:00Z", conclusion: "failure", head_sha: "c".repeat(40) }),
    ];
    const health = analyzeCiHealth(runs, [], { now: NOW, window_ms: WEEK });
    expect(health.flaky.map((f) => [f.name, f.flips])).toEqual([["CI", 1]]);
  });

  it("counts error signatures of failed jobs with first and last seen, and their count in the previous window", () => {
    const a = run({ created_at: "2026-03-02T10:00:00Z", conclusion: "failure" });
    const b = run({ created_at: "2026-03-06T10:00:00Z", conclusion: "failure", head_sha: SHA_B });
    const old = run({ created_at: "2026-02-25T10:00:00Z", conclusion: "failure", head_sha: "c".repeat(40) });
    const lint = run({ created_at: "2026-03-04T10:00:00Z", conclusion: "failure", head_sha: "d".repeat(40) });
    const sig = "test:FAILED tests/test_api.py::test_login";
    const jobs = [
      job(a, { signature: sig, category: "test" }),
      job(b, { signature: sig, category: "test", completed_at: "2026-03-06T10:05:00Z" }),
      job(old, { signature: sig, category: "test" }),
      job(lint, { signature: "lint:src/a.ts: no-unused-vars", category: "lint" }),
      job(lint, { job_id: 5, name: "build" }),
    ];
    const health = analyzeCiHealth([a, b, old, lint], jobs, { now: NOW, window_ms: WEEK });
    expect(health.signatures).toEqual([
      {
        signature: sig,
        category: "test",
        count: 2,
        first_seen: "2026-03-02T10:00:00.000Z",
        last_seen: "2026-03-06T10:05:00.000Z",
        previous_count: 1,
      },
      {
        signature: "lint:src/a.ts: no-unused-vars",
        category: "lint",
        count: 1,
        first_seen: "2026-03-04T10:00:00.000Z",
        last_seen: "2026-03-04T10:00:00.000Z",
        previous_count: 0,
      },
    ]);
    expect(health.notes).toEqual(["error signatures: 1 failed job without a classified log"]);
  });

  it("counts a run listed twice once", () => {
    const r = run({ created_at: "2026-03-03T10:00:00Z", conclusion: "failure" });
    const health = analyzeCiHealth([r, { ...r }], [], { now: NOW, window_ms: WEEK });
    expect(health.workflows[0]).toMatchObject({ runs: 1, failures: 1 });
  });

  it("gives a valid, empty answer for an empty window", () => {
    const health = analyzeCiHealth([], [], { now: NOW, window_ms: WEEK });
    expect(health).toMatchObject({
      runs: 0,
      failures: 0,
      workflows: [],
      flaky: [],
      signatures: [],
      ignored: 0,
    });
  });

  it("refuses runs that are not runs, with the field named", () => {
    expect(() =>
      analyzeCiHealth([{ ...run({ created_at: "yesterday" }) }], [], { now: NOW, window_ms: WEEK }),
    ).toThrow(new InputError("invalid workflow runs: 0.created_at: Invalid ISO datetime"));
    expect(() => analyzeCiHealth([], [], { now: "now", window_ms: WEEK })).toThrow(InputError);
  });
});

describe("withCiHealth", () => {
  it("fills the workflows table and merges flaky jobs and signatures with the event logs' ones", () => {
    const events = [
      {
        type: "recovery_step" as const,
        at: "2026-03-05T10:00:00.000Z",
        task_key: "o/r#1",
        step: "rerun" as const,
        category: "flaky",
        signature: "CI / e2e",
        ok: true,
      },
      {
        type: "recovery_step" as const,
        at: "2026-03-01T10:00:00.000Z",
        task_key: "o/r#2",
        step: "ai" as const,
        category: "test",
        signature: "test:boom",
        ok: false,
      },
    ];
    const metrics = buildMetrics(analyzeEvents(events, { now: NOW, window_ms: WEEK }), { repository: "o/r" });
    const failed = run({ created_at: "2026-03-03T10:00:00Z", conclusion: "failure" });
    const passed = run({ created_at: "2026-03-03T11:00:00Z" });
    const health = analyzeCiHealth(
      [failed, passed],
      [job(failed, { name: "e2e", signature: "test:boom", category: "test" })],
      { now: NOW, window_ms: WEEK },
    );
    const merged = withCiHealth(metrics, health);
    expect(merged.workflows).toEqual([
      {
        name: "CI",
        runs: 2,
        failures: 1,
        failure_rate: 0.5,
        previous: { runs: 0, failures: 0, failure_rate: null },
      },
    ]);
    expect(merged.flaky_tests).toEqual([{ name: "CI / e2e", flips: 2 }]);
    expect(merged.signatures).toEqual([
      {
        signature: "test:boom",
        category: "test",
        count: 2,
        first_seen: "2026-03-01T10:00:00.000Z",
        last_seen: "2026-03-03T10:00:00.000Z",
      },
      {
        signature: "CI / e2e",
        category: "flaky",
        count: 1,
        first_seen: "2026-03-05T10:00:00.000Z",
        last_seen: "2026-03-05T10:00:00.000Z",
      },
    ]);
  });
});

describe("analyzeRepository", () => {
  it("builds one metrics.json from event logs and runs, with the reading's gaps first", () => {
    const r = run({ created_at: "2026-03-03T10:00:00Z", conclusion: "failure" });
    const { metrics, health } = analyzeRepository(
      {
        repository: "o/r",
        events: [
          {
            type: "execute_finished",
            at: "2026-03-04T00:00:00.000Z",
            task_key: "o/r#3",
            tool: "aider",
            outcome: "success",
            duration_ms: 1000,
            capability: "bugfix",
          },
        ],
        runs: [r],
        jobs: [],
        input: { files: 1, lines: 2, events: 1, skipped: 1 },
        gaps: ["event logs: 1 corrupt or truncated line skipped"],
      },
      { now: NOW, window_ms: WEEK },
    );
    expect(metrics.repository).toBe("o/r");
    expect(metrics.tools.map((t) => [t.tool, t.capability, t.attempts, t.successes])).toEqual([
      ["aider", undefined, 1, 1],
      ["aider", "bugfix", 1, 1],
    ]);
    expect(metrics.workflows).toEqual([
      {
        name: "CI",
        runs: 1,
        failures: 1,
        failure_rate: 1,
        previous: { runs: 0, failures: 0, failure_rate: null },
      },
    ]);
    expect(metrics.input).toEqual({
      files: 1,
      lines: 2,
      events: 1,
      skipped: 1,
      in_window: 1,
      in_previous_window: 0,
      outside_windows: 0,
    });
    expect(metrics.gaps).toEqual(["event logs: 1 corrupt or truncated line skipped"]);
    expect(health.failures).toBe(1);
  });

  it("carries each workflow's previous window into metrics.json for the trend", () => {
    const runs = [
      run({ created_at: "2026-03-07T10:00:00Z", workflow: "Build", workflow_id: 20, conclusion: "failure" }),
      run({ created_at: "2026-03-06T10:00:00Z", workflow: "Build", workflow_id: 20, head_sha: SHA_B }),
      run({
        created_at: "2026-02-28T10:00:00Z",
        workflow: "Build",
        workflow_id: 20,
        head_sha: "c".repeat(40),
      }),
      run({
        created_at: "2026-02-27T10:00:00Z",
        workflow: "Build",
        workflow_id: 20,
        head_sha: "d".repeat(40),
      }),
      run({
        created_at: "2026-02-26T10:00:00Z",
        workflow: "Build",
        workflow_id: 20,
        head_sha: "e".repeat(40),
        conclusion: "failure",
      }),
    ];
    const { metrics } = analyzeRepository(
      {
        repository: "o/r",
        events: [],
        runs,
        jobs: [],
        input: { files: 0, lines: 0, events: 0, skipped: 0 },
        gaps: [],
      },
      { now: NOW, window_ms: WEEK },
    );
    expect(metrics.workflows).toEqual([
      {
        name: "Build",
        runs: 2,
        failures: 1,
        failure_rate: 0.5,
        previous: { runs: 3, failures: 1, failure_rate: 0.3333 },
      },
    ]);
  });

  it("describes what was read even when no event log was, with the recovery comments' states counted", () => {
    const { metrics } = analyzeRepository(
      {
        repository: "o/r",
        events: [
          {
            type: "recovery_step",
            at: "2026-03-04T00:00:00.000Z",
            task_key: "o/r#9",
            step: "rerun",
            category: "infra",
            ok: true,
          },
        ],
        runs: [],
        jobs: [],
        input: { files: 0, lines: 0, events: 0, skipped: 0 },
        recovery: { markers: 1 },
        gaps: [],
      },
      { now: NOW, window_ms: WEEK },
    );
    expect(metrics.input).toEqual({
      files: 0,
      lines: 0,
      events: 0,
      skipped: 0,
      recovery_markers: 1,
      in_window: 1,
      in_previous_window: 0,
      outside_windows: 0,
    });
    expect(metrics.recovery).toEqual([
      { category: "infra", step: "rerun", attempts: 1, successes: 1, undecided: 0 },
    ]);
  });
});
