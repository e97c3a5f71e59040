import { afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { Octokit } from "@octokit/rest";
import type { TaskMarker } from "../../src/app/route-issue.js";
import { InputError } from "../../src/core/errors.js";
import { encodeMarker } from "../../src/core/status-marker.js";
import {
  outcomeState,
  readTaskState,
  reportTaskOutcome,
  type ReportTaskOutcomeInput,
} from "../../src/github/task-outcome.js";
import { blockNetwork, githubApi, resetGithubApi } from "../support/github-contract.js";

const octokit = new Octokit({ auth: "t", log: { debug() {}, info() {}, warn() {}, error() {} } });
const NOW = "2025-01-02T00:00:00.000Z";
const previous: TaskMarker = {
  task_key: "o/r#4",
  phase: "running",
  tool: "aider",
  routed_at: "2025-01-01T00:00:00.000Z",
  dispatched_at: "2025-01-01T00:00:00.000Z",
  base_sha: "a".repeat(40),
  branch: "switchyard/issue-4-x",
};

function input(extra: Partial<ReportTaskOutcomeInput> = {}): ReportTaskOutcomeInput {
  return {
    owner: "o",
    repo: "r",
    issue_number: 4,
    labels: ["switchyard", "switchyard:running"],
    appId: 7,
    previous,
    task_key: "o/r#4",
    now: NOW,
    outcome: {
      phase: "pr-open",
      tool: "aider",
      pr: { number: 9, url: "https://github.com/o/r/pull/9" },
      commit_sha: "d".repeat(40),
      line: "success: aider changed 1 file",
      runUrl: "https://github.com/o/r/actions/runs/1",
      run: { id: 1, attempt: 1 },
    },
    ...extra,
  };
}

beforeAll(() => blockNetwork());
afterEach(() => resetGithubApi());

describe("outcomeState", () => {
  it("keeps what dispatch recorded and adds how the task ended", () => {
    expect(outcomeState(input())).toEqual({
      ...previous,
      phase: "pr-open",
      completed_at: NOW,
      run_id: 1,
      run_attempt: 1,
      commit_sha: "d".repeat(40),
      pr_number: 9,
    });
  });

  it("drops a previous PR from a failure's state and starts one when there was none", () => {
    const failed = outcomeState(
      input({
        previous: { ...previous, phase: "failed", pr_number: 3, commit_sha: "e".repeat(40) },
        outcome: { phase: "failed", tool: null, reason: "no", runUrl: null },
      }),
    );
    expect(failed).toEqual({ ...previous, phase: "failed", tool: null, completed_at: NOW });
    expect(outcomeState(input({ previous: null }))).toMatchObject({ task_key: "o/r#4", routed_at: NOW });
  });
});

describe("reportTaskOutcome", () => {
  it("sets the label, then edits the status comment it was handed, in three requests", async () => {
    const gh = githubApi();
    gh.scope.post("/repos/o/r/issues/4/labels").reply(200, []);
    gh.scope.delete("/repos/o/r/issues/4/labels/switchyard%3Arunning").reply(200, []);
    gh.scope.patch("/repos/o/r/issues/comments/12").reply(200, { id: 12 });
    const result = await reportTaskOutcome(octokit, input({ existing: { id: 12 } }));
    gh.done();
    expect(result.labels).toEqual({ added: ["switchyard:pr-open"], removed: ["switchyard:running"] });
    const body = (gh.requests[2]?.body as { body: string }).body.split("\n");
    expect(body.slice(1)).toEqual([
      "**Switchyard** · o/r#4 -> **aider**, pull request #9 is open.",
      "",
      "success: aider changed 1 file",
      "",
      "Review it: https://github.com/o/r/pull/9 · [the run](https://github.com/o/r/actions/runs/1)",
    ]);
    expect(body[0]).toBe(encodeMarker(result.state, "task"));
  });

  it("refuses a failure without a reason before any request", async () => {
    const gh = githubApi();
    await expect(
      reportTaskOutcome(
        octokit,
        input({ outcome: { phase: "failed", tool: null, reason: " ", runUrl: null } }),
      ),
    ).rejects.toThrow(
      new InputError("cannot report the task's outcome: outcome.reason: say why the task failed"),
    );
    gh.done();
  });
});

describe("readTaskState", () => {
  it("reads the marker of the app's own comment only", async () => {
    const gh = githubApi();
    const marker = encodeMarker(previous, "task");
    gh.scope
      .get("/repos/o/r/issues/4/comments")
      .query(true)
      .reply(200, [
        { id: 1, body: marker, user: { type: "User" }, performed_via_github_app: null },
        { id: 2, body: `${marker}\nours`, user: { type: "Bot" }, performed_via_github_app: { id: 7 } },
      ]);
    expect(await readTaskState(octokit, { owner: "o", repo: "r", issue_number: 4, appId: 7 })).toEqual({
      comment: { id: 2 },
      marker: previous,
      problem: null,
    });
    gh.done();
  });
});
