import { afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { ACTIVE_WINDOW_MS, onIssueLabeled, type RouteContext } from "../../src/app/route-issue.js";
import { encodeMarker } from "../../src/core/status-marker.js";
import { createOctokit } from "../../src/github/octokit.js";
import { blockNetwork, githubApi, resetGithubApi, type GithubApi } from "../support/github-contract.js";
import { webhookExample } from "../support/webhooks.js";
import { commentStore, type FakeComment } from "./probot-fixtures.js";

const APP_ID = 4242;
const SHA = "b".repeat(40);
const REPO = "/repos/Codertocat/Hello-World";
const NOW = new Date("2025-03-01T12:00:00.000Z");
const silent = { debug() {}, info() {}, warn() {}, error() {} };

function labeled() {
  const payload = webhookExample("issues", "labeled");
  payload.label = { ...payload.label!, name: "switchyard" };
  payload.issue.labels = [{ ...payload.label }];
  return payload;
}

function context(gh: GithubApi, id: string): RouteContext {
  const octokit = createOctokit({ auth: "t", baseUrl: gh.baseUrl, retries: 0, throttle: false, log: silent });
  return { id, payload: labeled(), octokit, log: silent };
}
const deps = (now = NOW) => ({ appId: async () => APP_ID, now: () => now });

/** Config (absent) and the sender's permission, `times` deliveries' worth. */
function approved(gh: GithubApi, times: number) {
  gh.scope.get(`${REPO}/contents/.github%2Fswitchyard.yml`).times(times).reply(404, { message: "Not Found" });
  gh.scope
    .get("/repos/Codertocat/.github/contents/.github%2Fswitchyard.yml")
    .times(times)
    .reply(404, { message: "Not Found" });
  gh.scope
    .get(`${REPO}/collaborators/Codertocat/permission`)
    .times(times)
    .reply(200, { permission: "write", role_name: "write", user: { login: "Codertocat" } });
}
/** The route check run on the default branch, `times` deliveries' worth. */
function routeCheck(gh: GithubApi, times: number) {
  gh.scope
    .get(`${REPO}/git/ref/heads%2Fmaster`)
    .times(times)
    .reply(200, { object: { sha: SHA } });
  gh.scope
    .get(`${REPO}/commits/${SHA}/check-runs`)
    .query(true)
    .times(times)
    .reply(200, { total_count: 0, check_runs: [] });
  gh.scope.post(`${REPO}/check-runs`).times(times).reply(201, { id: 7 });
}
const DISPATCH = `${REPO}/actions/workflows/switchyard-execute.yml/dispatches`;
const writes = (gh: GithubApi) => gh.requests.filter((r) => r.method !== "GET");

function runningComment(state: object): FakeComment {
  const marker = encodeMarker(
    { task_key: "Codertocat/Hello-World#1", phase: "running", tool: "aider", routed_at: "x", ...state },
    "task",
  );
  return {
    id: 3,
    body: `${marker}\nrunning`,
    user: { type: "Bot" },
    performed_via_github_app: { id: APP_ID },
  };
}

beforeAll(() => blockNetwork());
afterEach(() => resetGithubApi());

describe("routing the same task twice", () => {
  it("ignores a redelivery of the same webhook with no write at all", async () => {
    const gh = githubApi();
    approved(gh, 2);
    routeCheck(gh, 1);
    commentStore(gh, APP_ID, { list: 3, create: 1 });
    gh.scope.post(DISPATCH).reply(204);
    gh.scope.post(`${REPO}/issues/1/labels`).reply(200, []);

    const first = await onIssueLabeled(context(gh, "d-1"), deps());
    expect(first?.action).toBe("dispatched");
    const before = gh.requests.length;
    const second = await onIssueLabeled(context(gh, "d-1"), deps());
    gh.done();
    expect(second).toEqual({ action: "ignored", reason: "this delivery was already handled" });
    expect(gh.requests.slice(before).map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET ${REPO}/contents/.github%2Fswitchyard.yml`,
      "GET /repos/Codertocat/.github/contents/.github%2Fswitchyard.yml",
      `GET ${REPO}/collaborators/Codertocat/permission`,
      `GET ${REPO}/issues/1/comments`,
    ]);
    expect(writes(gh).filter((r) => r.path.endsWith("/dispatches"))).toHaveLength(1);
  });

  it("does not dispatch again when the label is re-added while the run was just dispatched", async () => {
    const gh = githubApi();
    approved(gh, 1);
    commentStore(gh, APP_ID, { list: 1 }, [
      runningComment({ delivery: "d-1", dispatched_at: new Date(NOW.getTime() - 60_000).toISOString() }),
    ]);
    const outcome = await onIssueLabeled(context(gh, "d-2"), deps());
    gh.done();
    expect(outcome).toEqual({
      action: "already-running",
      reason: "the execute workflow was dispatched at 2025-03-01T11:59:00.000Z",
    });
    expect(writes(gh)).toEqual([]);
  });

  it("asks GitHub for the run once the dispatch is older than the window, and finds it queued", async () => {
    const gh = githubApi();
    approved(gh, 1);
    const old = new Date(NOW.getTime() - ACTIVE_WINDOW_MS - 1).toISOString();
    commentStore(gh, APP_ID, { list: 1 }, [
      runningComment({ delivery: "d-1", dispatched_at: old, workflow: "switchyard-execute.yml" }),
    ]);
    gh.scope
      .get(`${REPO}/actions/workflows/switchyard-execute.yml/runs`)
      .query({ event: "workflow_dispatch", per_page: "100" })
      .reply(200, {
        total_count: 3,
        workflow_runs: [
          { id: 50, status: "in_progress", display_title: "switchyard #12" },
          { id: 51, status: "queued", display_title: "switchyard #1" },
          { id: 52, status: "completed", display_title: "switchyard #1" },
        ],
      });
    const outcome = await onIssueLabeled(context(gh, "d-2"), deps());
    gh.done();
    expect(outcome).toEqual({ action: "already-running", reason: "run 51 is queued" });
    expect(writes(gh)).toEqual([]);
  });

  it("routes again when the running marker is stale: no run of the task is left", async () => {
    const gh = githubApi();
    approved(gh, 1);
    const old = new Date(NOW.getTime() - ACTIVE_WINDOW_MS - 1).toISOString();
    commentStore(gh, APP_ID, { list: 2, edit: 1 }, [
      runningComment({ delivery: "d-1", dispatched_at: old, workflow: "switchyard-execute.yml" }),
    ]);
    gh.scope
      .get(`${REPO}/actions/workflows/switchyard-execute.yml/runs`)
      .query(true)
      .reply(200, {
        total_count: 1,
        workflow_runs: [{ id: 52, status: "completed", display_title: "switchyard #1" }],
      });
    routeCheck(gh, 1);
    gh.scope.post(DISPATCH).reply(204);
    gh.scope.post(`${REPO}/issues/1/labels`).reply(200, []);
    const outcome = await onIssueLabeled(context(gh, "d-2"), deps());
    gh.done();
    expect(outcome?.action).toBe("dispatched");
  });

  it("lets exactly one of two concurrent deliveries dispatch; the other removes the comment it made", async () => {
    const gh = githubApi();
    approved(gh, 2);
    routeCheck(gh, 2);
    const comments = commentStore(gh, APP_ID, { list: 4, create: 2, remove: 1 });
    gh.scope.post(DISPATCH).reply(204);
    gh.scope.post(`${REPO}/issues/1/labels`).reply(200, []);

    const outcomes = await Promise.all([
      onIssueLabeled(context(gh, "d-a"), deps()),
      onIssueLabeled(context(gh, "d-b"), deps()),
    ]);
    gh.done();
    // Both read "no comment", both claimed by creating one; the oldest comment (d-a's) is the
    // task's, so d-b read back d-a's claim, stood down and deleted its own comment.
    expect(outcomes).toEqual([
      expect.objectContaining({ action: "dispatched" }),
      { action: "already-running", reason: "delivery d-a claimed the task first" },
    ]);
    expect(writes(gh).filter((r) => r.path.endsWith("/dispatches"))).toHaveLength(1);
    expect(comments.map((c) => c.id)).toEqual([9]);
    expect(gh.requests.find((r) => r.method === "DELETE")?.path).toBe(`${REPO}/issues/comments/10`);
  });
});
