import { afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { Probot } from "probot";
import switchyardApp from "../../src/app/index.js";
import { mentions, onBlockerClosed, releaseBlocked } from "../../src/app/release-blocked.js";
import { TaskMarkerSchema } from "../../src/app/route-issue.js";
import { renderDecisionTable } from "../../src/core/routing/render.js";
import { RoutingDecisionSchema } from "../../src/core/routing/schema.js";
import { encodeMarker, readMarker } from "../../src/core/status-marker.js";
import { createOctokit } from "../../src/github/octokit.js";
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

const SHA = "b".repeat(40);
const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
const HELD_SINCE = "2025-02-01T00:00:00.000Z";
const LIST_QUERY = {
  state: "open",
  labels: "switchyard:blocked",
  sort: "created",
  direction: "asc",
  per_page: "100",
};

function probot(): Probot {
  const p = new Probot({
    appId: APP_ID,
    privateKey: TEST_PRIVATE_KEY,
    Octokit: TestOctokit,
    logLevel: "fatal",
  });
  p.load(switchyardApp);
  return p;
}

/** #12 closes. @octokit/webhooks-examples has no issues.closed example: the reopened one, closed. */
function closedPayload() {
  const example = withInstallation(webhookExample("issues", "reopened"));
  return {
    ...example,
    action: "closed",
    issue: { ...example.issue, number: 12, state: "closed", labels: [] },
  };
}

async function receiveClose(): Promise<void> {
  await probot().receive({ id: "delivery-close", name: "issues", payload: closedPayload() } as never);
}

/** Issue #1 as the REST API returns it: held, labelled with the trigger label and `bug`. */
function heldIssue(opts: { body?: string; labels?: string[] } = {}) {
  const issue = webhookExample("issues", "labeled").issue;
  const names = opts.labels ?? ["bug", "switchyard", "switchyard:blocked"];
  return {
    ...issue,
    body: opts.body ?? "Fix the typo.\n\nDepends on #12 and #13",
    labels: names.map((name, id) => ({ id, name, color: "ededed", default: false })),
  };
}

function heldMarker(blockers: number[]): string {
  return encodeMarker(
    {
      task_key: "Codertocat/Hello-World#1",
      phase: "blocked",
      tool: null,
      routed_at: HELD_SINCE,
      blockers,
      delivery: "delivery-1",
    },
    "task",
  );
}

function ours(blockers: number[]): FakeComment {
  return {
    id: 3,
    body: `${heldMarker(blockers)}\nwaiting`,
    user: { type: "Bot" },
    performed_via_github_app: { id: APP_ID },
  };
}

/** The closed issue's own stop: Switchyard never commented on #12. */
function noTaskOnClosed(gh: GithubApi) {
  gh.scope.get(`${REPO}/issues/12/comments`).query(true).reply(200, []);
}

function listHeld(gh: GithubApi, issues: object[]) {
  gh.scope.get(`${REPO}/issues`).query(LIST_QUERY).reply(200, issues);
}

function issueState(gh: GithubApi, n: number, state: "open" | "closed", times = 1) {
  gh.scope.get(`${REPO}/issues/${n}`).times(times).reply(200, { number: n, state });
}

const ops = (gh: GithubApi) => gh.requests.map((r) => `${r.method} ${r.path}`);
const bodyOf = (gh: GithubApi, method: string, suffix: string) =>
  gh.requests.find((r) => r.method === method && r.path.endsWith(suffix))?.body as Record<string, unknown>;

/** The head of the close: the token, the closed issue's own stop lookup, the list of held tasks. */
const CLOSE_HEAD = [
  "POST /app/installations/1/access_tokens",
  `GET ${REPO}/issues/12/comments`,
  `GET ${REPO}/issues`,
];

beforeAll(() => blockNetwork());
afterEach(() => resetGithubApi());

describe("issues.closed releases held tasks", () => {
  it("routes the task whose last blocker closed: dispatch, label swap, status comment edited, check run", async () => {
    const gh = githubApi();
    installationToken(gh);
    noTaskOnClosed(gh);
    listHeld(gh, [heldIssue()]);
    // The marker read, routeTask's idempotency read, the claim's read-back.
    const comments = commentStore(gh, APP_ID, { list: 3, edit: 1 }, [ours([12, 13])]);
    issueState(gh, 13, "closed", 2); // the pre-check, then routeTask's own dependency check
    noConfig(gh);
    gh.scope.get(`${REPO}/issues/1`).reply(200, heldIssue());
    issueState(gh, 12, "closed");
    gh.scope
      .get(`${REPO}/git/ref/heads%2Fmaster`)
      .reply(200, { ref: "refs/heads/master", object: { sha: SHA } });
    gh.scope
      .get(`${REPO}/commits/${SHA}/check-runs`)
      .query(true)
      .reply(200, { total_count: 0, check_runs: [] });
    gh.scope.post(`${REPO}/check-runs`).reply(201, { id: 7, html_url: "https://github.com/x/runs/7" });
    gh.scope.post(`${REPO}/actions/workflows/switchyard-execute.yml/dispatches`).reply(204);
    gh.scope.post(`${REPO}/issues/1/labels`).reply(200, []);
    gh.scope.delete(`${REPO}/issues/1/labels/switchyard%3Ablocked`).reply(200, []);

    await receiveClose();
    gh.done();

    expect(ops(gh)).toEqual([
      ...CLOSE_HEAD,
      `GET ${REPO}/issues/1/comments`,
      `GET ${REPO}/issues/13`,
      `GET ${REPO_CONFIG}`,
      `GET ${ORG_CONFIG}`,
      `GET ${REPO}/issues/1`,
      // routeTask, as for the trigger label, from its idempotency read on.
      `GET ${REPO}/issues/1/comments`,
      `GET ${REPO}/issues/12`,
      `GET ${REPO}/issues/13`,
      `GET ${REPO}/git/ref/heads%2Fmaster`,
      `GET ${REPO}/commits/${SHA}/check-runs`,
      `POST ${REPO}/check-runs`,
      `PATCH ${REPO}/issues/comments/3`,
      `GET ${REPO}/issues/1/comments`,
      `POST ${REPO}/actions/workflows/switchyard-execute.yml/dispatches`,
      `POST ${REPO}/issues/1/labels`,
      `DELETE ${REPO}/issues/1/labels/switchyard%3Ablocked`,
    ]);
    expect(gh.requests[2]?.query).toEqual(LIST_QUERY);

    const dispatch = bodyOf(gh, "POST", "/dispatches") as { ref: string; inputs: Record<string, string> };
    expect(dispatch.ref).toBe("master");
    expect(dispatch.inputs["issue-number"]).toBe("1");
    const decision = RoutingDecisionSchema.parse(JSON.parse(dispatch.inputs.decision!));
    // The held issue's `bug` label maps to error_fix, whose chain starts with aider.
    expect(decision).toMatchObject({
      task_key: "Codertocat/Hello-World#1",
      capability: "error_fix",
      tool: "aider",
    });
    expect(bodyOf(gh, "POST", "/issues/1/labels")).toEqual({ labels: ["switchyard:running"] });
    expect(bodyOf(gh, "POST", "/check-runs")).toMatchObject({
      name: "switchyard/route",
      head_sha: SHA,
      external_id: "Codertocat/Hello-World#1",
      conclusion: "success",
      output: { title: "Codertocat/Hello-World#1 -> aider", summary: renderDecisionTable(decision) },
    });

    // The same comment, edited in place: no second status comment.
    expect(comments).toHaveLength(1);
    const body = comments[0]!.body;
    expect(body.split("\n").slice(1).join("\n")).toBe(
      [
        "**Switchyard** · Codertocat/Hello-World#1 -> **aider**, running.",
        "",
        renderDecisionTable(decision),
        "",
        "Started `switchyard-execute.yml` on `master`.",
      ].join("\n"),
    );
    expect(readMarker(body, "task", TaskMarkerSchema)).toEqual({
      ok: true,
      value: {
        task_key: "Codertocat/Hello-World#1",
        phase: "running",
        tool: "aider",
        routed_at: ISO,
        decision,
        delivery: "delivery-close",
        dispatched_at: ISO,
        workflow: "switchyard-execute.yml",
        base_sha: SHA,
        branch: "switchyard/issue-1-spelling-error-in-the-readme-file",
      },
    });
  });

  it("leaves a task held by another open issue alone: no route, nothing written", async () => {
    const gh = githubApi();
    installationToken(gh);
    noTaskOnClosed(gh);
    listHeld(gh, [heldIssue()]);
    const comments = commentStore(gh, APP_ID, { list: 1 }, [ours([12, 13])]);
    issueState(gh, 13, "open");

    await receiveClose();
    gh.done();
    expect(ops(gh)).toEqual([...CLOSE_HEAD, `GET ${REPO}/issues/1/comments`, `GET ${REPO}/issues/13`]);
    expect(comments[0]!.body).toBe(`${heldMarker([12, 13])}\nwaiting`);
  });

  it("ignores a hold claimed by a comment the app did not write", async () => {
    const gh = githubApi();
    installationToken(gh);
    noTaskOnClosed(gh);
    listHeld(gh, [heldIssue()]);
    commentStore(gh, APP_ID, { list: 1 }, [
      { id: 1, body: `${heldMarker([12])}\nplanted`, user: { type: "User" }, performed_via_github_app: null },
      {
        id: 2,
        body: `${heldMarker([12])}\nanother app`,
        user: { type: "Bot" },
        performed_via_github_app: { id: APP_ID + 1 },
      },
    ]);

    await receiveClose();
    gh.done();
    expect(ops(gh)).toEqual([...CLOSE_HEAD, `GET ${REPO}/issues/1/comments`]);
  });

  it("costs one request when nothing is held", async () => {
    const gh = githubApi();
    installationToken(gh);
    noTaskOnClosed(gh);
    listHeld(gh, []);

    await receiveClose();
    gh.done();
    expect(ops(gh)).toEqual(CLOSE_HEAD);
  });

  it("costs one request when the held tasks do not mention the closed issue", async () => {
    const gh = githubApi();
    installationToken(gh);
    noTaskOnClosed(gh);
    listHeld(gh, [heldIssue({ body: "Depends on #120 and #4" })]);

    await receiveClose();
    gh.done();
    expect(ops(gh)).toEqual(CLOSE_HEAD);
  });

  it("does not release a task whose trigger label was removed while it was held", async () => {
    const gh = githubApi();
    installationToken(gh);
    noTaskOnClosed(gh);
    listHeld(gh, [heldIssue()]);
    commentStore(gh, APP_ID, { list: 1 }, [ours([12])]);
    noConfig(gh);
    gh.scope.get(`${REPO}/issues/1`).reply(200, heldIssue({ labels: ["bug", "Switchyard:Blocked"] }));

    await receiveClose();
    gh.done();
    expect(ops(gh)).toEqual([
      ...CLOSE_HEAD,
      `GET ${REPO}/issues/1/comments`,
      `GET ${REPO_CONFIG}`,
      `GET ${ORG_CONFIG}`,
      `GET ${REPO}/issues/1`,
    ]);
  });
});

describe("releaseBlocked", () => {
  const silent = { debug() {}, info() {}, warn() {}, error() {} };
  const deps = { appId: async () => APP_ID, now: () => new Date("2025-03-01T12:00:00.000Z") };
  const octokitFor = (gh: GithubApi) =>
    createOctokit({ auth: "t", baseUrl: gh.baseUrl, retries: 0, throttle: false, log: silent });

  it("reads at most `max` held tasks per close and logs the rest", async () => {
    const gh = githubApi();
    listHeld(gh, [heldIssue(), { ...heldIssue(), number: 2 }, { ...heldIssue(), number: 3 }]);
    commentStore(gh, APP_ID, { list: 1 }, []);
    const warnings: string[] = [];
    const log = { ...silent, warn: (_: object, msg: string) => void warnings.push(msg) };

    const result = await releaseBlocked({ id: "d", payload: {}, octokit: octokitFor(gh), log }, deps, {
      owner: "Codertocat",
      repo: "Hello-World",
      closed: 12,
      defaultBranch: "master",
      max: 1,
    });
    gh.done();
    expect(result).toEqual({ routed: [], held: [], deferred: [2, 3], failed: [] });
    expect(warnings).toEqual([
      "more than 1 held tasks mention the closed issue: the rest wait for their label to be added again",
    ]);
    expect(ops(gh)).toEqual([`GET ${REPO}/issues`, `GET ${REPO}/issues/1/comments`]);
  });

  it("handles pull_request.closed too: a merged blocker is closed", async () => {
    const gh = githubApi();
    listHeld(gh, []);
    const payload = webhookExample("pull_request", "closed");
    const result = await onBlockerClosed({ id: "d", payload, octokit: octokitFor(gh), log: silent }, deps);
    gh.done();
    expect(result).toEqual({ routed: [], held: [], deferred: [], failed: [] });
  });

  it("logs and returns null on a payload it cannot read", async () => {
    const errors: string[] = [];
    const log = { ...silent, error: (_: object, msg: string) => void errors.push(msg) };
    const gh = githubApi();
    const result = await onBlockerClosed(
      { id: "d", payload: { action: "closed" }, octokit: octokitFor(gh), log },
      deps,
    );
    gh.done();
    expect(result).toBeNull();
    expect(errors).toEqual(["switchyard could not release the held tasks"]);
  });
});

describe("mentions", () => {
  it("finds #n and issue or pull URLs, not longer numbers", () => {
    expect(mentions("Depends on #12", 12)).toBe(true);
    expect(mentions("- [ ] other/repo#12", 12)).toBe(true);
    expect(mentions("blocked by https://github.com/o/r/pull/12.", 12)).toBe(true);
    expect(mentions("Depends on #120 and #112", 12)).toBe(false);
    expect(mentions("see issue 12", 12)).toBe(false);
  });
});
