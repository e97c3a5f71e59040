import { describe, expect, it } from "@jest/globals";
import {
  checkManifestProvenance,
  checkRunProvenance,
  workflowPathOf,
  type DispatchRecord,
  type RunFacts,
} from "../../../src/core/execution/provenance.js";

const BASE = "a".repeat(40);
const REPO = { id: 10, full_name: "octo/app" };

function record(extra: Partial<DispatchRecord> = {}): DispatchRecord {
  return {
    task_key: "octo/app#12",
    phase: "running",
    dispatched_at: "2025-01-01T12:00:00.000Z",
    base_sha: BASE,
    ...extra,
  };
}

function run(extra: Partial<RunFacts> = {}): RunFacts {
  return {
    id: 77,
    run_attempt: 1,
    repository: REPO,
    head_repository: REPO,
    path: ".github/workflows/switchyard-execute.yml",
    event: "workflow_dispatch",
    display_title: "switchyard #12",
    created_at: "2025-01-01T12:00:03Z",
    head_sha: BASE,
    actor: { login: "switchyard[bot]" },
    triggering_actor: { login: "switchyard[bot]" },
    ...extra,
  };
}

const expected = {
  repository: REPO,
  workflowPath: ".github/workflows/switchyard-execute.yml",
  displayTitle: "switchyard #12",
  botLogin: "switchyard[bot]",
};

describe("checkRunProvenance", () => {
  it("accepts the run the app dispatched", () => {
    expect(checkRunProvenance(record(), run(), expected)).toEqual({ verdict: "accepted" });
    // A bare file name in execution.workflow means the same file; clocks may differ by a minute.
    expect(
      checkRunProvenance(record(), run({ created_at: "2025-01-01T11:59:30Z" }), {
        ...expected,
        workflowPath: "switchyard-execute.yml",
      }),
    ).toEqual({ verdict: "accepted" });
  });

  it.each<[string, Partial<RunFacts>, string, string]>([
    [
      "another repository",
      { repository: { id: 11, full_name: "evil/app" } },
      "repository",
      "run 77 belongs to evil/app, not to octo/app",
    ],
    [
      "a fork's code",
      { head_repository: { id: 99, full_name: "evil/app" } },
      "fork",
      "run 77 ran code from evil/app, not from octo/app; a fork's run is never committed",
    ],
    [
      "another workflow",
      { path: ".github/workflows/evil.yml" },
      "workflow",
      "run 77 is of .github/workflows/evil.yml, not of the execute workflow .github/workflows/switchyard-execute.yml",
    ],
    [
      "another event",
      { event: "push" },
      "event",
      "run 77 was started by push, not by the app's workflow_dispatch",
    ],
    [
      "another issue's title",
      { display_title: "switchyard #13" },
      "title",
      'run 77 is titled "switchyard #13", not "switchyard #12"; the execute workflow must keep its run-name',
    ],
    [
      "an older run",
      { created_at: "2025-01-01T11:58:00Z" },
      "created_before_dispatch",
      "run 77 was created at 2025-01-01T11:58:00Z, before the app dispatched the task at 2025-01-01T12:00:00.000Z",
    ],
    [
      "another base commit",
      { head_sha: "f".repeat(40) },
      "base_commit",
      `run 77 ran on ${"f".repeat(40)}, not on ${BASE}, the commit the app dispatched it for ` +
        "(the default branch moved in between); add the label again to route the task anew",
    ],
    [
      "a person's dispatch",
      { actor: { login: "mallory" }, triggering_actor: { login: "mallory" } },
      "actor",
      "run 77 was started by mallory, not by the app (switchyard[bot])",
    ],
    [
      "a person's re-run of the app's run",
      { triggering_actor: { login: "mallory" } },
      "actor",
      "run 77 was started by mallory, not by the app (switchyard[bot])",
    ],
  ])("rejects %s", (_what, change, rule, reason) => {
    expect(checkRunProvenance(record(), run(change), expected)).toEqual({
      verdict: "rejected",
      rule,
      reason,
    });
  });

  it("skips the actor check only when the app's login is unknown", () => {
    const stranger = run({ actor: { login: "mallory" }, triggering_actor: { login: "mallory" } });
    expect(checkRunProvenance(record(), stranger, { ...expected, botLogin: null })).toEqual({
      verdict: "accepted",
    });
  });

  it("rejects a run for a task the app has no dispatch record of", () => {
    expect(checkRunProvenance(record({ base_sha: undefined }), run(), expected)).toMatchObject({
      verdict: "rejected",
      rule: "not_dispatched",
    });
  });

  it("keeps the first accepted run: a second run cannot replace it, a redelivery changes nothing", () => {
    const done = record({ phase: "pr-open", run_id: 77, run_attempt: 1 });
    expect(checkRunProvenance(done, run({ id: 78 }), expected)).toEqual({
      verdict: "not-waiting",
      reason: "run 77 already completed octo/app#12; run 78 cannot replace it",
    });
    expect(checkRunProvenance(done, run(), expected)).toEqual({
      verdict: "duplicate",
      reason: "run 77 (attempt 1) was already handled",
    });
    // A re-run of a run that opened a PR does not reopen the task; one of a failed run may finish it.
    expect(checkRunProvenance(done, run({ run_attempt: 2 }), expected).verdict).toBe("not-waiting");
    expect(checkRunProvenance({ ...done, phase: "failed" }, run({ run_attempt: 2 }), expected)).toEqual({
      verdict: "accepted",
    });
  });

  it("does nothing for a task that is not waiting for a run", () => {
    expect(checkRunProvenance(record({ phase: "stopped" }), run(), expected)).toEqual({
      verdict: "not-waiting",
      reason: "octo/app#12 is stopped, not waiting for a run",
    });
  });

  it("validates what it is given", () => {
    expect(() =>
      checkRunProvenance(record(), { ...run(), id: "77" } as unknown as RunFacts, expected),
    ).toThrow(
      "cannot check provenance: the workflow run: id: Invalid input: expected number, received string",
    );
  });
});

describe("checkManifestProvenance", () => {
  const manifest = { task_key: "octo/app#12", run_id: 77, run_attempt: 1, base_sha: BASE };
  it("accepts a manifest that names the run, the task and the base", () => {
    expect(checkManifestProvenance(manifest, run(), record())).toEqual({ ok: true });
  });
  it.each([
    [{ task_key: "octo/app#13" }, "the task octo/app#13, not octo/app#12"],
    [{ run_id: 76 }, "run 76, not 77"],
    [{ run_attempt: 2 }, "attempt 2, not 1"],
    [{ base_sha: "c".repeat(40) }, `the base commit ${"c".repeat(40)}, not ${BASE}`],
  ])("refuses a manifest that names %j", (change, what) => {
    expect(checkManifestProvenance({ ...manifest, ...change }, run(), record())).toEqual({
      ok: false,
      rule: "manifest",
      reason: `the patch artifact of run 77 names ${what}; it was not made by this run for this task`,
    });
  });
});

describe("workflowPathOf", () => {
  it("spells the configured workflow as a run's path", () => {
    expect(workflowPathOf("switchyard-execute.yml")).toBe(".github/workflows/switchyard-execute.yml");
    expect(workflowPathOf("./.github/workflows/x.yml")).toBe(".github/workflows/x.yml");
  });
});
