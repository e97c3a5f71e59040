import { afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { Probot } from "probot";
import { onIssueComment, type CommandOutcome } from "../../src/app/commands.js";
import { TaskMarkerSchema } from "../../src/app/route-issue.js";
import { parseCommand } from "../../src/core/commands.js";
import { RoutingDecisionSchema, type RoutingDecision } from "../../src/core/routing/schema.js";
import { encodeMarker, readMarker } from "../../src/core/status-marker.js";
import { blockNetwork, githubApi, resetGithubApi, type GithubApi } from "../support/github-contract.js";
import { webhookExample, withInstallation } from "../support/webhooks.js";
import {
  APP_ID,
  ORG_CONFIG,
  REPO,
  REPO_CONFIG,
  TEST_PRIVATE_KEY,
  TestOctokit,
  commentStore,
  installationToken,
  noConfig,
  type FakeComment,
} from "./probot-fixtures.js";

/** `/switchyard stop`, `route [tool]` and `retry`: what each does on GitHub, request by request. */

const SHA = "c".repeat(40);
const RUNS = `${REPO}/actions/workflows/switchyard-execute.yml/runs`;
const DISPATCH = `${REPO}/actions/workflows/switchyard-execute.yml/dispatches`;
const NOW = new Date("2025-01-02T03:04:05.000Z");

async function receive(payload: object): Promise<CommandOutcome | null | undefined> {
  let outcome: CommandOutcome | null | undefined;
  const p = new Probot({
    appId: APP_ID,
    privateKey: TEST_PRIVATE_KEY,
    Octokit: TestOctokit,
    logLevel: "fatal",
  });
  await p.load((app) => {
    app.on("issue_comment.created", async (context) => {
      outcome = await onIssueComment(context, { appId: async () => APP_ID, now: () => NOW });
    });
  });
  await p.receive({ id: "d-cmd", name: "issue_comment", payload } as never);
  return outcome;
}

/** A comment by Codertocat; the example issue (#1) carries "bug" and the given state label. */
function commented(body: string, stateLabel?: string) {
  const payload = withInstallation(webhookExample("issue_comment", "created"));
  payload.comment.body = body;
  if (stateLabel !== undefined) {
    payload.issue.labels = [
      ...(payload.issue.labels ?? []),
      { ...payload.issue.labels![0]!, id: 2, name: stateLabel },
    ];
  }
  return payload;
}

/** Token, no configuration file, and write access: the requests before any command runs. */
function approved(gh: GithubApi) {
  installationToken(gh);
  noConfig(gh);
  gh.scope
    .get(`${REPO}/collaborators/Codertocat/permission`)
    .reply(200, { permission: "write", role_name: "write", user: { login: "Codertocat" } });
}
const BEFORE = [
  "POST /app/installations/1/access_tokens",
  `GET ${REPO_CONFIG}`,
  `GET ${ORG_CONFIG}`,
  `GET ${REPO}/collaborators/Codertocat/permission`,
];

/** The route check run on the default branch's head. */
function routeCheck(gh: GithubApi) {
  gh.scope.get(`${REPO}/git/ref/heads%2Fmaster`).reply(200, { object: { sha: SHA } });
  gh.scope
    .get(`${REPO}/commits/${SHA}/check-runs`)
    .query(true)
    .reply(200, { total_count: 0, check_runs: [] });
  gh.scope.post(`${REPO}/check-runs`).reply(201, { id: 7 });
}
// The idempotency read also finds the comment the claim writes to, so no lookup precedes the claim.
const ROUTED = [
  `GET ${REPO}/issues/1/comments`,
  `GET ${REPO}/git/ref/heads%2Fmaster`,
  `GET ${REPO}/commits/${SHA}/check-runs`,
  `POST ${REPO}/check-runs`,
];

function ours(state: object): FakeComment {
  const marker = encodeMarker(
    { task_key: "Codertocat/Hello-World#1", tool: "aider", routed_at: "x", ...state },
    "task",
  );
  return {
    id: 3,
    body: `${marker}\nstatus`,
    user: { type: "Bot" },
    performed_via_github_app: { id: APP_ID },
  };
}

const ops = (gh: GithubApi) => gh.requests.map((r) => `${r.method} ${r.path}`);
const bodyOf = (gh: GithubApi, method: string, suffix: string) =>
  gh.requests.find((r) => r.method === method && r.path.endsWith(suffix))?.body as Record<string, unknown>;
function dispatched(gh: GithubApi): RoutingDecision {
  const body = bodyOf(gh, "POST", "/dispatches") as { inputs: Record<string, string> };
  return RoutingDecisionSchema.parse(JSON.parse(body.inputs.decision!));
}
const textOf = (c: FakeComment) => c.body.split("\n").slice(1).join("\n");

beforeAll(() => blockNetwork());
afterEach(() => resetGithubApi());

describe("/switchyard stop", () => {
  it("cancels the running task's runs, labels it stopped and names who stopped it", async () => {
    const gh = githubApi();
    approved(gh);
    const comments = commentStore(gh, APP_ID, { list: 2, edit: 1 }, [
      ours({ phase: "running", delivery: "d-1", workflow: "switchyard-execute.yml" }),
    ]);
    gh.scope
      .get(RUNS)
      .query({ event: "workflow_dispatch", per_page: "100" })
      .reply(200, {
        total_count: 3,
        workflow_runs: [
          { id: 70, status: "in_progress", display_title: "switchyard #1" },
          { id: 71, status: "completed", display_title: "switchyard #1" },
          { id: 72, status: "queued", display_title: "switchyard #12" },
        ],
      });
    gh.scope.post(`${REPO}/actions/runs/70/cancel`).reply(202, {});
    gh.scope.post(`${REPO}/issues/1/labels`).reply(200, []);
    gh.scope.delete(`${REPO}/issues/1/labels/switchyard%3Arunning`).reply(200, []);

    const outcome = await receive(commented("/switchyard stop", "switchyard:running"));
    gh.done();
    expect(outcome).toEqual({ action: "stopped", cancelled: [70] });
    expect(ops(gh)).toEqual([
      ...BEFORE,
      `GET ${REPO}/issues/1/comments`,
      `GET ${RUNS}`,
      `POST ${REPO}/actions/runs/70/cancel`,
      `POST ${REPO}/issues/1/labels`,
      `DELETE ${REPO}/issues/1/labels/switchyard%3Arunning`,
      `GET ${REPO}/issues/1/comments`,
      `PATCH ${REPO}/issues/comments/3`,
    ]);
    expect(bodyOf(gh, "POST", "/issues/1/labels")).toEqual({ labels: ["switchyard:stopped"] });
    expect(comments).toHaveLength(1);
    expect(textOf(comments[0]!)).toBe(
      "**Switchyard** · Codertocat/Hello-World#1 stopped by @Codertocat.\n\nCancelled run 70.",
    );
    expect(readMarker(comments[0]!.body, "task", TaskMarkerSchema)).toEqual({
      ok: true,
      value: {
        task_key: "Codertocat/Hello-World#1",
        phase: "stopped",
        tool: "aider",
        routed_at: "x",
        delivery: "d-cmd",
        workflow: "switchyard-execute.yml",
        stopped_at: NOW.toISOString(),
        stopped_by: "Codertocat",
      },
    });
  });

  it("replies once that nothing is running, and writes nothing else", async () => {
    const gh = githubApi();
    approved(gh);
    const comments = commentStore(gh, APP_ID, { list: 1, create: 1 }, [
      ours({ phase: "no-tool", delivery: "d-1" }),
    ]);

    const outcome = await receive(commented("/switchyard stop"));
    gh.done();
    expect(outcome).toEqual({ action: "replied", command: "stop" });
    expect(ops(gh)).toEqual([...BEFORE, `GET ${REPO}/issues/1/comments`, `POST ${REPO}/issues/1/comments`]);
    expect(comments.map((c) => c.body)).toEqual([
      expect.stringContaining("status"),
      "**Switchyard** · nothing to stop on Codertocat/Hello-World#1: the task is no-tool, not running.",
    ]);
    expect(parseCommand(comments[1]!.body)).toBeNull();
  });
});

describe("/switchyard route", () => {
  it("routes to the tool the command names: the dispatched decision carries the command's override", async () => {
    const gh = githubApi();
    approved(gh);
    routeCheck(gh);
    const comments = commentStore(gh, APP_ID, { list: 2, create: 1 });
    gh.scope.post(DISPATCH).reply(204);
    gh.scope.post(`${REPO}/issues/1/labels`).reply(200, []);

    const outcome = await receive(commented("/switchyard route Claude"));
    gh.done();
    expect(ops(gh)).toEqual([
      ...BEFORE,
      ...ROUTED,
      `POST ${REPO}/issues/1/comments`,
      `GET ${REPO}/issues/1/comments`,
      `POST ${DISPATCH}`,
      `POST ${REPO}/issues/1/labels`,
    ]);
    const decision = dispatched(gh);
    expect(outcome).toEqual({
      action: "routed",
      command: "route",
      outcome: { action: "dispatched", decision, decisionSent: true },
      replied: false,
    });
    // Without the override the "bug" label's chain (aider, claude, codex) would pick aider.
    expect(decision.tool).toBe("claude");
    expect(decision.override).toEqual({
      requested: "claude",
      source: "command",
      accepted: true,
      reason: "overridden by command /switchyard route claude",
    });
    expect(decision.fallback[0]).toBe("aider");
    expect(bodyOf(gh, "POST", "/issues/1/labels")).toEqual({ labels: ["switchyard:running"] });
    expect(comments).toHaveLength(1);
    expect(textOf(comments[0]!).split("\n")[0]).toBe(
      "**Switchyard** · Codertocat/Hello-World#1 -> **claude**, running.",
    );
  });

  it("shows an unknown tool's refusal in the decision and routes by the chain", async () => {
    const gh = githubApi();
    approved(gh);
    routeCheck(gh);
    const comments = commentStore(gh, APP_ID, { list: 2, create: 1 });
    gh.scope.post(DISPATCH).reply(204);
    gh.scope.post(`${REPO}/issues/1/labels`).reply(200, []);

    const outcome = await receive(commented("/switchyard route nosuchtool"));
    gh.done();
    expect(outcome).toMatchObject({ action: "routed", command: "route", outcome: { action: "dispatched" } });
    const decision = dispatched(gh);
    expect(decision.tool).toBe("aider");
    expect(decision.override).toMatchObject({ requested: "nosuchtool", source: "command", accepted: false });
    expect(decision.override!.reason).toMatch(/^no tool named 'nosuchtool' in tools/);
    expect(decision.summary).toContain(
      `Override /switchyard route nosuchtool refused: ${decision.override!.reason}.`,
    );
    const text = textOf(comments[0]!);
    expect(text.split("\n")[0]).toBe("**Switchyard** · Codertocat/Hello-World#1 -> **aider**, running.");
    expect(text).toContain("Override /switchyard route nosuchtool refused: no tool named 'nosuchtool'");
  });

  it("answers on a closed issue with one reply and routes nothing", async () => {
    const gh = githubApi();
    approved(gh);
    const comments = commentStore(gh, APP_ID, { list: 0, create: 1 });
    const payload = commented("/switchyard route");
    payload.issue.state = "closed";

    const outcome = await receive(payload);
    gh.done();
    expect(outcome).toEqual({ action: "replied", command: "route" });
    expect(ops(gh)).toEqual([...BEFORE, `POST ${REPO}/issues/1/comments`]);
    expect(comments[0]!.body).toBe(
      "**Switchyard** · cannot route Codertocat/Hello-World#1: the issue is closed; reopen it first.",
    );
  });
});

describe("/switchyard retry", () => {
  it("replies once, with the run's link, while the task is still running: no dispatch", async () => {
    const gh = githubApi();
    approved(gh);
    const dispatchedAt = new Date(NOW.getTime() - 60 * 60 * 1000).toISOString();
    const comments = commentStore(gh, APP_ID, { list: 1, create: 1 }, [
      ours({
        phase: "running",
        delivery: "d-1",
        dispatched_at: dispatchedAt,
        workflow: "switchyard-execute.yml",
      }),
    ]);
    gh.scope
      .get(RUNS)
      .query(true)
      .reply(200, {
        total_count: 1,
        workflow_runs: [
          {
            id: 51,
            status: "in_progress",
            display_title: "switchyard #1",
            html_url: "https://github.com/Codertocat/Hello-World/actions/runs/51",
          },
        ],
      });

    const outcome = await receive(commented("/switchyard retry", "switchyard:running"));
    gh.done();
    expect(ops(gh)).toEqual([
      ...BEFORE,
      `GET ${REPO}/issues/1/comments`,
      `GET ${RUNS}`,
      `POST ${REPO}/issues/1/comments`,
    ]);
    expect(outcome).toEqual({
      action: "routed",
      command: "retry",
      outcome: {
        action: "already-running",
        reason: "run 51 is in_progress",
        url: "https://github.com/Codertocat/Hello-World/actions/runs/51",
      },
      replied: true,
    });
    expect(comments[1]!.body).toBe(
      "**Switchyard** · Codertocat/Hello-World#1 is still running (run 51 is in_progress: " +
        "https://github.com/Codertocat/Hello-World/actions/runs/51), so `retry` did not start another run. " +
        "Stop it first with `stop` if it should not finish.",
    );
    expect(parseCommand(comments[1]!.body)).toBeNull();
  });

  it("routes a failed task again, without an override, in its existing status comment", async () => {
    const gh = githubApi();
    approved(gh);
    routeCheck(gh);
    const comments = commentStore(gh, APP_ID, { list: 2, edit: 1 }, [
      ours({ phase: "dispatch-failed", delivery: "d-1" }),
    ]);
    gh.scope.post(DISPATCH).reply(204);
    gh.scope.post(`${REPO}/issues/1/labels`).reply(200, []);
    gh.scope.delete(`${REPO}/issues/1/labels/switchyard%3Afailed`).reply(200, []);

    const outcome = await receive(commented("/switchyard retry", "switchyard:failed"));
    gh.done();
    expect(ops(gh)).toEqual([
      ...BEFORE,
      ...ROUTED,
      `PATCH ${REPO}/issues/comments/3`,
      `GET ${REPO}/issues/1/comments`,
      `POST ${DISPATCH}`,
      `POST ${REPO}/issues/1/labels`,
      `DELETE ${REPO}/issues/1/labels/switchyard%3Afailed`,
    ]);
    expect(outcome).toMatchObject({ action: "routed", command: "retry", replied: false });
    const decision = dispatched(gh);
    expect(decision.tool).toBe("aider");
    expect(decision.override).toBeUndefined();
    expect(comments).toHaveLength(1);
    expect(readMarker(comments[0]!.body, "task", TaskMarkerSchema)).toMatchObject({
      ok: true,
      value: { phase: "running", tool: "aider", delivery: "d-cmd", dispatched_at: NOW.toISOString() },
    });
  });
});
