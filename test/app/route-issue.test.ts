import { afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { Probot } from "probot";
import switchyardApp from "../../src/app/index.js";
import { TaskMarkerSchema } from "../../src/app/route-issue.js";
import { renderDecisionTable } from "../../src/core/routing/render.js";
import { RoutingDecisionSchema } from "../../src/core/routing/schema.js";
import { readMarker } from "../../src/core/status-marker.js";
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
} from "./probot-fixtures.js";

const SHA = "a".repeat(40);
const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

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

function labeled(opts: { label?: string; body?: string; sender?: { login: string; type: string } } = {}) {
  const payload = withInstallation(webhookExample("issues", "labeled"));
  const label = opts.label ?? "switchyard";
  payload.label = { ...payload.label!, name: label };
  payload.issue.labels = [...(payload.issue.labels ?? []), { ...payload.label }];
  if (opts.body !== undefined) payload.issue.body = opts.body;
  if (opts.sender) payload.sender = { ...payload.sender, ...opts.sender } as typeof payload.sender;
  return payload;
}

async function receive(payload: object): Promise<void> {
  await probot().receive({ id: "delivery-1", name: "issues", payload } as never);
}

function permission(gh: GithubApi, login: string, permission: string, role_name: string) {
  gh.scope
    .get(`${REPO}/collaborators/${login}/permission`)
    .reply(200, { permission, role_name, user: { login } });
}
function head(gh: GithubApi) {
  gh.scope
    .get(`${REPO}/git/ref/heads%2Fmaster`)
    .reply(200, { ref: "refs/heads/master", object: { sha: SHA } });
}
function checkRun(gh: GithubApi) {
  gh.scope
    .get(`/repos/Codertocat/Hello-World/commits/${SHA}/check-runs`)
    .query(true)
    .reply(200, { total_count: 0, check_runs: [] });
  gh.scope.post(`${REPO}/check-runs`).reply(201, { id: 7, html_url: "https://github.com/x/runs/7" });
}
/** The idempotency read, then the status comment's lookup and creation. */
function comment(gh: GithubApi) {
  commentStore(gh, APP_ID, { list: 2, create: 1 });
}

const ops = (gh: GithubApi) => gh.requests.map((r) => `${r.method} ${r.path}`);
const bodyOf = (gh: GithubApi, method: string, suffix: string) =>
  gh.requests.find((r) => r.method === method && r.path.endsWith(suffix))?.body as Record<string, unknown>;

beforeAll(() => blockNetwork());
afterEach(() => resetGithubApi());

describe("issues.labeled", () => {
  it("routes, publishes the check run, claims the comment, dispatches and labels in 12 requests, the token included", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    permission(gh, "Codertocat", "write", "triage");
    head(gh);
    checkRun(gh);
    gh.scope.post(`${REPO}/actions/workflows/switchyard-execute.yml/dispatches`).reply(204);
    gh.scope.post(`${REPO}/issues/1/labels`).reply(200, []);
    // The idempotency read finds the comment the claim writes to; the read-back follows the claim.
    commentStore(gh, APP_ID, { list: 2, create: 1 });

    await receive(labeled());
    gh.done();

    expect(ops(gh)).toEqual([
      "POST /app/installations/1/access_tokens",
      `GET ${REPO_CONFIG}`,
      `GET ${ORG_CONFIG}`,
      `GET ${REPO}/collaborators/Codertocat/permission`,
      `GET ${REPO}/issues/1/comments`,
      `GET ${REPO}/git/ref/heads%2Fmaster`,
      `GET ${REPO}/commits/${SHA}/check-runs`,
      `POST ${REPO}/check-runs`,
      `POST ${REPO}/issues/1/comments`,
      `GET ${REPO}/issues/1/comments`,
      `POST ${REPO}/actions/workflows/switchyard-execute.yml/dispatches`,
      `POST ${REPO}/issues/1/labels`,
    ]);
    expect(gh.requests).toHaveLength(12);

    const dispatch = bodyOf(gh, "POST", "/dispatches") as { ref: string; inputs: Record<string, string> };
    expect(dispatch.ref).toBe("master");
    expect(Object.keys(dispatch.inputs)).toEqual(["issue-number", "decision"]);
    expect(dispatch.inputs["issue-number"]).toBe("1");
    const decision = RoutingDecisionSchema.parse(JSON.parse(dispatch.inputs.decision!));
    // The "bug" label maps to error_fix, whose chain starts with aider (config/switchyard.yml).
    expect(decision).toMatchObject({
      task_key: "Codertocat/Hello-World#1",
      capability: "error_fix",
      tool: "aider",
      fallback: ["claude", "codex"],
    });

    const run = bodyOf(gh, "POST", "/check-runs");
    expect(run).toEqual({
      name: "switchyard/route",
      head_sha: SHA,
      external_id: "Codertocat/Hello-World#1",
      status: "completed",
      conclusion: "success",
      completed_at: ISO,
      output: {
        title: "Codertocat/Hello-World#1 -> aider",
        summary: renderDecisionTable(decision),
        text: expect.stringMatching(/^<!-- switchyard:task v1 [A-Za-z0-9_-]+ -->$/),
      },
    });
    const runMarker = readMarker((run.output as { text: string }).text, "task", TaskMarkerSchema);
    expect(runMarker).toEqual({
      ok: true,
      value: {
        task_key: "Codertocat/Hello-World#1",
        phase: "running",
        tool: "aider",
        routed_at: ISO,
        decision,
      },
    });

    expect(bodyOf(gh, "POST", "/issues/1/labels")).toEqual({ labels: ["switchyard:running"] });
    const body = bodyOf(gh, "POST", "/issues/1/comments").body as string;
    const [markerLine, ...rest] = body.split("\n");
    expect(rest.join("\n")).toBe(
      [
        "**Switchyard** · Codertocat/Hello-World#1 -> **aider**, running.",
        "",
        renderDecisionTable(decision),
        "",
        "Started `switchyard-execute.yml` on `master`.",
      ].join("\n"),
    );
    expect(readMarker(markerLine!, "task", TaskMarkerSchema)).toEqual({
      ok: true,
      value: {
        task_key: "Codertocat/Hello-World#1",
        phase: "running",
        tool: "aider",
        routed_at: ISO,
        decision,
        delivery: "delivery-1",
        dispatched_at: ISO,
        workflow: "switchyard-execute.yml",
        // What the completion's provenance check compares the run with (app/complete-task.ts).
        base_sha: SHA,
        branch: "switchyard/issue-1-spelling-error-in-the-readme-file",
      },
    });
  });

  it("edits its own status comment in place and ignores a planted marker", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    permission(gh, "Codertocat", "admin", "admin");
    head(gh);
    checkRun(gh);
    gh.scope.post(`${REPO}/actions/workflows/switchyard-execute.yml/dispatches`).reply(204);
    gh.scope.post(`${REPO}/issues/1/labels`).reply(200, []);
    const marker = "<!-- switchyard:task v1 e30 -->";
    commentStore(gh, APP_ID, { list: 2, edit: 1 }, [
      { id: 1, body: `${marker}\nplanted`, user: { type: "User" }, performed_via_github_app: null },
      { id: 2, body: `${marker}\nother app`, user: { type: "Bot" }, performed_via_github_app: { id: 1 } },
      { id: 3, body: `${marker}\nours`, user: { type: "Bot" }, performed_via_github_app: { id: APP_ID } },
    ]);

    await receive(labeled());
    gh.done();
    expect(ops(gh).slice(-5, -2)).toEqual([
      `POST ${REPO}/check-runs`,
      `PATCH ${REPO}/issues/comments/3`,
      `GET ${REPO}/issues/1/comments`,
    ]);
  });

  it("ignores Switchyard's own labels without a request", async () => {
    const gh = githubApi();
    await receive(labeled({ label: "switchyard:running" }));
    gh.done();
    expect(gh.requests).toEqual([]);
  });

  it("reads the configuration for another label, then does nothing", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    await receive(labeled({ label: "enhancement" }));
    gh.done();
    expect(gh.requests).toHaveLength(3);
  });

  it("does nothing when the sender has only read access", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    permission(gh, "Codertocat", "read", "read");
    await receive(labeled());
    gh.done();
    expect(gh.requests).toHaveLength(4);
  });

  it("ignores a bot that is not in trigger.allow_bots, without asking for its permission", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    await receive(labeled({ sender: { login: "renovate[bot]", type: "Bot" } }));
    gh.done();
    expect(gh.requests).toHaveLength(3);
  });

  it("reports an invalid configuration as a failed check run and one comment, nothing else", async () => {
    const gh = githubApi();
    installationToken(gh);
    gh.scope.get(REPO_CONFIG).reply(200, "version: 1\nrouting:\n  strategy: fastest\n");
    permission(gh, "Codertocat", "write", "write");
    head(gh);
    checkRun(gh);
    comment(gh);

    await receive(labeled());
    gh.done();
    expect(gh.requests).toHaveLength(9);
    const run = bodyOf(gh, "POST", "/check-runs");
    expect(run.conclusion).toBe("failure");
    const output = run.output as { title: string; summary: string };
    expect(output.title).toBe("1 problem in the Switchyard configuration");
    expect(output.summary).toMatch(/^```text\n\.github\/switchyard\.yml:3:3: routing\.strategy: .+\n```$/);
    const body = bodyOf(gh, "POST", "/issues/1/comments").body as string;
    expect(body.split("\n").slice(1, 3)).toEqual([
      "**Switchyard** · Codertocat/Hello-World#1 was not routed: the configuration has 1 problem.",
      "",
    ]);
    expect(body).toContain(output.summary);
    expect(readMarker(body, "task", TaskMarkerSchema)).toMatchObject({
      ok: true,
      value: { phase: "config-invalid" },
    });
  });

  it("says exactly what to add when the execute workflow is missing, and labels the task failed", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    permission(gh, "Codertocat", "write", "write");
    head(gh);
    checkRun(gh);
    gh.scope
      .post(`${REPO}/actions/workflows/switchyard-execute.yml/dispatches`)
      .reply(404, { message: "Not Found" });
    gh.scope.post(`${REPO}/issues/1/labels`).reply(200, []);
    const comments = commentStore(gh, APP_ID, { list: 3, create: 1, edit: 1 });

    await receive(labeled());
    gh.done();
    expect(bodyOf(gh, "POST", "/issues/1/labels")).toEqual({ labels: ["switchyard:failed"] });
    expect(comments).toHaveLength(1);
    const body = comments[0]!.body;
    expect(body).toContain(
      [
        "The workflow `.github/workflows/switchyard-execute.yml` is not on the default branch. Add it: copy the example",
        "`.github/workflows/switchyard-execute.yml` shipped with Switchyard, or start from this trigger:",
        "",
        "```yaml",
        "on:",
        "  workflow_dispatch:",
        "    inputs:",
        "      issue-number: { required: true, type: string }",
        "      decision: { required: false, type: string }",
        "```",
      ].join("\n"),
    );
    expect(readMarker(body, "task", TaskMarkerSchema)).toMatchObject({
      ok: true,
      value: { phase: "dispatch-failed", tool: "aider" },
    });
  });

  it("holds a task that depends on an open issue: blocked label, blockers listed, no dispatch", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    permission(gh, "Codertocat", "write", "write");
    gh.scope.get(`${REPO}/issues/12`).reply(200, { number: 12, state: "open" });
    gh.scope.get(`${REPO}/issues/13`).reply(200, { number: 13, state: "closed" });
    gh.scope.post(`${REPO}/issues/1/labels`).reply(200, []);
    comment(gh);

    await receive(labeled({ body: "Fix the typo.\n\nDepends on #12, #13 and other/repo#4" }));
    gh.done();
    expect(ops(gh).slice(4)).toEqual([
      `GET ${REPO}/issues/1/comments`,
      `GET ${REPO}/issues/12`,
      `GET ${REPO}/issues/13`,
      `POST ${REPO}/issues/1/labels`,
      `GET ${REPO}/issues/1/comments`,
      `POST ${REPO}/issues/1/comments`,
    ]);
    expect(bodyOf(gh, "POST", "/issues/1/labels")).toEqual({ labels: ["switchyard:blocked"] });
    const body = bodyOf(gh, "POST", "/issues/1/comments").body as string;
    expect(body.split("\n").slice(1).join("\n")).toBe(
      [
        "**Switchyard** · Codertocat/Hello-World#1 is waiting for an open issue.",
        "",
        "- [ ] #12",
        "",
        "Not checked (other repositories): other/repo#4.",
        "",
        "Switchyard routes it when the last one is closed.",
      ].join("\n"),
    );
    expect(readMarker(body, "task", TaskMarkerSchema)).toMatchObject({
      ok: true,
      value: { phase: "blocked", blockers: [12] },
    });
  });

  it("turns a failure after approval into a failed check run instead of a rejection", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    permission(gh, "Codertocat", "write", "write");
    commentStore(gh, APP_ID, { list: 1 });
    head(gh);
    gh.scope
      .get(`/repos/Codertocat/Hello-World/commits/${SHA}/check-runs`)
      .query(true)
      .reply(500, { message: "Server Error" });
    head(gh);
    checkRun(gh);

    await expect(receive(labeled())).resolves.toBeUndefined();
    gh.done();
    const run = bodyOf(gh, "POST", "/check-runs");
    expect(run.conclusion).toBe("failure");
    expect((run.output as { title: string }).title).toBe(
      "Switchyard could not route Codertocat/Hello-World#1",
    );
  });
});
