import { afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { onIssueClosed } from "../../src/app/issue-closed.js";
import { TaskMarkerSchema } from "../../src/app/route-issue.js";
import { encodeMarker, readMarker } from "../../src/core/status-marker.js";
import { createOctokit } from "../../src/github/octokit.js";
import { blockNetwork, githubApi, resetGithubApi, type GithubApi } from "../support/github-contract.js";
import { webhookExample } from "../support/webhooks.js";
import { commentStore, type FakeComment } from "./probot-fixtures.js";

const APP_ID = 4242;
const REPO = "/repos/Codertocat/Hello-World";
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const deps = { appId: async () => APP_ID, now: () => new Date("2025-03-01T12:00:00.000Z") };

function closed(gh: GithubApi) {
  // @octokit/webhooks-examples has no issues.closed example: the reopened one, closed again.
  const example = webhookExample("issues", "reopened");
  const payload = {
    ...example,
    action: "closed",
    issue: { ...example.issue, state: "closed", labels: [{ id: 1, name: "switchyard:running" }] },
  };
  const octokit = createOctokit({ auth: "t", baseUrl: gh.baseUrl, retries: 0, throttle: false, log: silent });
  return { id: "d-close", payload, octokit, log: silent };
}

/** The release's one request (app/release-blocked.ts): no task is held. */
function nothingHeld(gh: GithubApi) {
  gh.scope.get(`${REPO}/issues`).query(true).reply(200, []);
}

function ours(state: object): FakeComment {
  const marker = encodeMarker(
    { task_key: "Codertocat/Hello-World#1", tool: "aider", routed_at: "x", ...state },
    "task",
  );
  return { id: 3, body: `${marker}\nbody`, user: { type: "Bot" }, performed_via_github_app: { id: APP_ID } };
}

beforeAll(() => blockNetwork());
afterEach(() => resetGithubApi());

describe("issues.closed", () => {
  it("cancels the task's unfinished runs, labels it stopped and says so in the status comment", async () => {
    const gh = githubApi();
    const comments = commentStore(gh, APP_ID, { list: 2, edit: 1 }, [
      ours({ phase: "running", delivery: "d-1", workflow: "switchyard-execute.yml" }),
    ]);
    gh.scope
      .get(`${REPO}/actions/workflows/switchyard-execute.yml/runs`)
      .query({ event: "workflow_dispatch", per_page: "100" })
      .reply(200, {
        total_count: 4,
        workflow_runs: [
          { id: 60, status: "queued", display_title: "switchyard #1" },
          { id: 61, status: "in_progress", display_title: "switchyard #1" },
          { id: 62, status: "completed", display_title: "switchyard #1" },
          { id: 63, status: "in_progress", display_title: "switchyard #10" },
        ],
      });
    gh.scope.post(`${REPO}/actions/runs/60/cancel`).reply(202, {});
    // 61 finished between the listing and the cancel: GitHub answers 409.
    gh.scope
      .post(`${REPO}/actions/runs/61/cancel`)
      .reply(409, { message: "Cannot cancel a workflow run that is completed." });
    gh.scope.post(`${REPO}/issues/1/labels`).reply(200, []);
    gh.scope.delete(`${REPO}/issues/1/labels/switchyard%3Arunning`).reply(200, []);
    nothingHeld(gh);

    const outcome = await onIssueClosed(closed(gh), deps);
    gh.done();
    expect(outcome).toEqual({ action: "stopped", cancelled: [60] });
    expect(gh.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET ${REPO}/issues/1/comments`,
      `GET ${REPO}/actions/workflows/switchyard-execute.yml/runs`,
      `POST ${REPO}/actions/runs/60/cancel`,
      `POST ${REPO}/actions/runs/61/cancel`,
      `POST ${REPO}/issues/1/labels`,
      `DELETE ${REPO}/issues/1/labels/switchyard%3Arunning`,
      `GET ${REPO}/issues/1/comments`,
      `PATCH ${REPO}/issues/comments/3`,
      `GET ${REPO}/issues`,
    ]);
    expect(gh.requests[4]?.body).toEqual({ labels: ["switchyard:stopped"] });
    const body = comments[0]!.body;
    expect(body.split("\n").slice(1).join("\n")).toBe(
      "**Switchyard** · Codertocat/Hello-World#1 stopped: the issue was closed.\n\nCancelled run 60.",
    );
    expect(readMarker(body, "task", TaskMarkerSchema)).toEqual({
      ok: true,
      value: {
        task_key: "Codertocat/Hello-World#1",
        phase: "stopped",
        tool: "aider",
        routed_at: "x",
        delivery: "d-close",
        workflow: "switchyard-execute.yml",
        stopped_at: "2025-03-01T12:00:00.000Z",
      },
    });
  });

  it("writes nothing when the task is not running: one comment lookup", async () => {
    const gh = githubApi();
    commentStore(gh, APP_ID, { list: 1 }, [ours({ phase: "blocked", blockers: [12] })]);
    nothingHeld(gh);
    const outcome = await onIssueClosed(closed(gh), deps);
    gh.done();
    expect(outcome).toEqual({ action: "ignored", reason: "the task is blocked, not running" });
    expect(gh.requests).toHaveLength(2);
  });

  it("writes nothing on an issue Switchyard never commented on", async () => {
    const gh = githubApi();
    commentStore(gh, APP_ID, { list: 1 });
    nothingHeld(gh);
    const outcome = await onIssueClosed(closed(gh), deps);
    gh.done();
    expect(outcome).toEqual({ action: "ignored", reason: "Switchyard has no task on this issue" });
    expect(gh.requests.map((r) => r.path)).toEqual([`${REPO}/issues/1/comments`, `${REPO}/issues`]);
  });

  it("still releases the held tasks when the stop fails", async () => {
    const gh = githubApi();
    gh.scope.get(`${REPO}/issues/1/comments`).query(true).reply(500, { message: "Server Error" });
    nothingHeld(gh);
    const outcome = await onIssueClosed(closed(gh), deps);
    gh.done();
    expect(outcome).toBeNull();
    expect(gh.requests.map((r) => r.path)).toEqual([`${REPO}/issues/1/comments`, `${REPO}/issues`]);
  });
});
