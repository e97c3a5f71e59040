import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from "@jest/globals";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { renderRefusal } from "../../src/app/commands.js";
import { TaskMarkerSchema } from "../../src/app/route-issue.js";
import {
  GITHUB_ACTIONS_APP_ID,
  ROUTE_EVENTS,
  describeOutcome,
  resolveAppId,
  routeMode,
} from "../../src/action/route.js";
import { loadDefaultSources, parseConfigSources } from "../../src/config/load.js";
import { ConfigError, InputError, SwitchyardError } from "../../src/core/errors.js";
import { renderDecisionTable } from "../../src/core/routing/render.js";
import { route } from "../../src/core/routing/route.js";
import { encodeMarker, readMarker } from "../../src/core/status-marker.js";
import { buildTask } from "../../src/core/task/build.js";
import { blockNetwork, githubApi, resetGithubApi, type GithubApi } from "../support/github-contract.js";
import { webhookExample } from "../support/webhooks.js";
import { ORG_CONFIG, REPO, REPO_CONFIG, commentStore, noConfig } from "../app/probot-fixtures.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const SHA = "a".repeat(40);
const NOW = new Date("2025-01-02T03:04:05.000Z");
const TOKEN = "ghs_routetoken";
const DELIVERY = "actions-run-4242";
/** No write spacing or retries in tests: every answer is mocked. */
const DEPS = { octokit: { throttle: false, retries: 0 }, now: () => NOW };

let temp: string;
let stdout: string;
// @actions/core's summary keeps the first path it was given for the life of the process.
let summaryDir: string;
let summaryFile: string;
const savedEnv = { ...process.env };

/** The runner's environment for a job started by `event`, with `payload` as its event file. */
async function jobEnv(event: string, payload: object, extra: Record<string, string> = {}) {
  await writeFile(path.join(temp, "event.json"), JSON.stringify(payload));
  await writeFile(path.join(temp, "output"), "");
  await writeFile(summaryFile, "");
  Object.assign(process.env, {
    GITHUB_EVENT_NAME: event,
    GITHUB_EVENT_PATH: path.join(temp, "event.json"),
    GITHUB_RUN_ID: "4242",
    GITHUB_RUN_ATTEMPT: "2",
    GITHUB_REPOSITORY: "Codertocat/Hello-World",
    GITHUB_SERVER_URL: "https://github.com",
    GITHUB_API_URL: "https://api.github.com",
    GITHUB_OUTPUT: path.join(temp, "output"),
    GITHUB_STEP_SUMMARY: summaryFile,
    ...extra,
  });
  return process.env;
}

async function outputs(): Promise<Record<string, string>> {
  const text = await readFile(path.join(temp, "output"), "utf8");
  const out: Record<string, string> = {};
  const re = /^([\w-]+)<<(\S+)\n([\s\S]*?)\n\2$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) out[m[1]!] = m[3]!;
  return out;
}

function labeled(label = "switchyard", sender?: { login: string; type: string }) {
  const payload = webhookExample("issues", "labeled");
  payload.label = { ...payload.label!, name: label };
  payload.issue.labels = [...(payload.issue.labels ?? []), { ...payload.label }];
  if (sender) payload.sender = { ...payload.sender, ...sender } as typeof payload.sender;
  return payload;
}

function commented(body: string, sender?: { login: string; type: string }) {
  const payload = webhookExample("issue_comment", "created");
  payload.comment.body = body;
  if (sender) {
    payload.sender = { ...payload.sender, ...sender } as typeof payload.sender;
    payload.comment.user = { ...payload.comment.user, ...sender } as typeof payload.comment.user;
  }
  return payload;
}

/** The contract harness, also checking that every request carries the job's token. */
function api(): GithubApi {
  return githubApi({ scopeOptions: { reqheaders: { authorization: `token ${TOKEN}` } } });
}

function permission(gh: GithubApi, login: string, level: string) {
  gh.scope
    .get(`${REPO}/collaborators/${login}/permission`)
    .reply(200, { permission: level, role_name: level, user: { login } });
}

const ops = (gh: GithubApi) => gh.requests.map((r) => `${r.method} ${r.path}`);
const bodyOf = (gh: GithubApi, method: string, suffix: string) =>
  gh.requests.find((r) => r.method === method && r.path.endsWith(suffix))?.body as Record<string, unknown>;

/** What the router decides for the example issue with the shipped defaults, computed apart. */
async function expectedDecision(payload: object) {
  const { config } = parseConfigSources(await loadDefaultSources(), []);
  return route(buildTask(payload, config), config, { now: NOW.toISOString() });
}

beforeAll(async () => {
  blockNetwork();
  summaryDir = await mkdtemp(path.join(os.tmpdir(), "switchyard-route-summary-"));
  summaryFile = path.join(summaryDir, "summary.md");
});
afterAll(async () => {
  await rm(summaryDir, { recursive: true, force: true });
});
beforeEach(async () => {
  temp = await mkdtemp(path.join(os.tmpdir(), "switchyard-route-"));
  stdout = "";
  jest.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  });
});
afterEach(async () => {
  jest.restoreAllMocks();
  resetGithubApi();
  process.env = { ...savedEnv };
  await rm(temp, { recursive: true, force: true });
});

describe("mode route, issues.labeled", () => {
  it("publishes the check run, claims the status comment, dispatches and labels, as the app does", async () => {
    const gh = api();
    noConfig(gh);
    permission(gh, "Codertocat", "write");
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
    // The idempotency read finds the comment the claim writes to; the read-back follows the claim.
    commentStore(gh, GITHUB_ACTIONS_APP_ID, { list: 2, create: 1 });

    const payload = labeled();
    const result = await routeMode({ token: TOKEN }, await jobEnv("issues", payload), DEPS);
    gh.done();

    expect(ops(gh)).toEqual([
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

    const decision = await expectedDecision(payload);
    expect(decision.tool).toBe("aider");
    expect(result).toEqual({
      event: "issues",
      outcome: { action: "dispatched", decision, decisionSent: true },
      failed: null,
    });
    const dispatch = bodyOf(gh, "POST", "/dispatches");
    expect(dispatch).toEqual({
      ref: "master",
      inputs: { "issue-number": "1", decision: JSON.stringify(decision) },
    });
    expect(bodyOf(gh, "POST", "/check-runs")).toEqual({
      name: "switchyard/route",
      head_sha: SHA,
      external_id: "Codertocat/Hello-World#1",
      status: "completed",
      conclusion: "success",
      completed_at: NOW.toISOString(),
      output: {
        title: "Codertocat/Hello-World#1 -> aider",
        summary: renderDecisionTable(decision),
        text: encodeMarker(
          {
            task_key: "Codertocat/Hello-World#1",
            phase: "running",
            tool: "aider",
            routed_at: NOW.toISOString(),
            decision,
          },
          "task",
        ),
      },
    });
    expect(bodyOf(gh, "POST", "/issues/1/labels")).toEqual({ labels: ["switchyard:running"] });

    // The claim carries the run's delivery id, without the attempt: a re-run is a redelivery.
    const comment = bodyOf(gh, "POST", "/issues/1/comments").body as string;
    const [markerLine, ...rest] = comment.split("\n");
    expect(readMarker(markerLine!, "task", TaskMarkerSchema)).toEqual({
      ok: true,
      value: {
        task_key: "Codertocat/Hello-World#1",
        phase: "running",
        tool: "aider",
        routed_at: NOW.toISOString(),
        decision,
        delivery: DELIVERY,
        dispatched_at: NOW.toISOString(),
        workflow: "switchyard-execute.yml",
        base_sha: SHA,
        branch: "switchyard/issue-1-spelling-error-in-the-readme-file",
      },
    });
    expect(rest.join("\n")).toBe(
      [
        "**Switchyard** · Codertocat/Hello-World#1 -> **aider**, running.",
        "",
        renderDecisionTable(decision),
        "",
        "Started `switchyard-execute.yml` on `master`.",
      ].join("\n"),
    );

    expect(await outputs()).toEqual({
      action: "dispatched",
      tool: "aider",
      decision: JSON.stringify(decision),
    });
    expect(await readFile(summaryFile, "utf8")).toBe(
      [
        "### Switchyard · route",
        "",
        "Routed to aider; the execute workflow was started.",
        "",
        renderDecisionTable(decision),
        "",
      ].join("\n"),
    );
    expect(stdout).toContain("::notice::Switchyard: Routed to aider; the execute workflow was started.");
  });

  it("treats a re-run of the job as a redelivery: nothing is written twice", async () => {
    const gh = api();
    noConfig(gh);
    permission(gh, "Codertocat", "write");
    const state = {
      task_key: "Codertocat/Hello-World#1",
      phase: "running",
      tool: "aider",
      routed_at: NOW.toISOString(),
      delivery: DELIVERY,
      dispatched_at: NOW.toISOString(),
      workflow: "switchyard-execute.yml",
    };
    commentStore(gh, GITHUB_ACTIONS_APP_ID, { list: 1 }, [
      {
        id: 3,
        body: `${encodeMarker(state, "task")}\nrunning`,
        user: { type: "Bot" },
        performed_via_github_app: { id: GITHUB_ACTIONS_APP_ID },
      },
    ]);

    const result = await routeMode({ token: TOKEN }, await jobEnv("issues", labeled()), DEPS);
    gh.done();
    expect(gh.requests).toHaveLength(4);
    expect(result).toEqual({
      event: "issues",
      outcome: { action: "ignored", reason: "this delivery was already handled" },
      failed: null,
    });
    expect(await outputs()).toEqual({ action: "ignored", tool: "", decision: "" });
  });

  it("ignores another label without a single request when trigger-label is given", async () => {
    const gh = api();
    const result = await routeMode(
      { token: TOKEN, triggerLabel: "switchyard" },
      await jobEnv("issues", labeled("enhancement")),
      DEPS,
    );
    gh.done();
    expect(gh.requests).toEqual([]);
    expect(result).toEqual({
      event: "issues",
      outcome: { action: "ignored", reason: 'label "enhancement" is not the trigger label "switchyard"' },
      failed: null,
    });
    expect(await outputs()).toEqual({ action: "ignored", tool: "", decision: "" });
    expect(stdout).toContain(
      '::notice::Switchyard: Nothing to do: label "enhancement" is not the trigger label "switchyard".',
    );
  });

  it("without trigger-label, asks the configuration which label triggers, then does nothing", async () => {
    const gh = api();
    noConfig(gh);
    const result = await routeMode({ token: TOKEN }, await jobEnv("issues", labeled("enhancement")), DEPS);
    gh.done();
    expect(ops(gh)).toEqual([`GET ${REPO_CONFIG}`, `GET ${ORG_CONFIG}`]);
    expect(result.outcome).toEqual({
      action: "ignored",
      reason: 'label "enhancement" is not the trigger label "switchyard"',
    });
  });

  it("ignores Switchyard's own labels and other issue activity without a request", async () => {
    const gh = api();
    const own = await routeMode(
      { token: TOKEN },
      await jobEnv("issues", labeled("switchyard:running")),
      DEPS,
    );
    expect(own.outcome).toEqual({ action: "ignored", reason: 'label "switchyard:running" is not a trigger' });
    const opened = await routeMode(
      { token: TOKEN },
      await jobEnv("issues", webhookExample("issues", "opened")),
      DEPS,
    );
    expect(opened).toEqual({
      event: "issues",
      outcome: {
        action: "ignored",
        reason: "this is issues.opened; mode route acts on issues.labeled and issues.closed",
      },
      failed: null,
    });
    gh.done();
    expect(gh.requests).toEqual([]);
  });

  it("does not route for a sender below triage, and writes nothing on GitHub", async () => {
    const gh = api();
    noConfig(gh);
    permission(gh, "Codertocat", "read");
    const result = await routeMode({ token: TOKEN }, await jobEnv("issues", labeled()), DEPS);
    gh.done();
    expect(gh.requests.every((r) => r.method === "GET")).toBe(true);
    expect(gh.requests).toHaveLength(3);
    expect(result).toEqual({
      event: "issues",
      outcome: {
        action: "denied",
        reason: "Codertocat has read access to Codertocat/Hello-World; triage or more is needed",
      },
      failed: null,
    });
    expect(await outputs()).toEqual({ action: "denied", tool: "", decision: "" });
  });

  it("fails the job for an invalid configuration, after the check run and the status comment", async () => {
    const gh = api();
    gh.scope.get(REPO_CONFIG).reply(200, "version: 1\nrouting:\n  strategy: fastest\n");
    permission(gh, "Codertocat", "write");
    gh.scope
      .get(`${REPO}/git/ref/heads%2Fmaster`)
      .reply(200, { ref: "refs/heads/master", object: { sha: SHA } });
    gh.scope
      .get(`${REPO}/commits/${SHA}/check-runs`)
      .query(true)
      .reply(200, { total_count: 0, check_runs: [] });
    gh.scope.post(`${REPO}/check-runs`).reply(201, { id: 7, html_url: "https://github.com/x/runs/7" });
    commentStore(gh, GITHUB_ACTIONS_APP_ID, { list: 2, create: 1 });

    const result = await routeMode({ token: TOKEN }, await jobEnv("issues", labeled()), DEPS);
    gh.done();
    expect(bodyOf(gh, "POST", "/check-runs").conclusion).toBe("failure");
    expect(result.outcome?.action).toBe("invalid-config");
    const problems = result.outcome?.action === "invalid-config" ? result.outcome.problems : [];
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ file: ".github/switchyard.yml", line: 3, path: "routing.strategy" });
    expect(result.failed).toBe(
      "Switchyard's configuration is invalid:\n" +
        `${new ConfigError(problems).message}\n` +
        "Fix .github/switchyard.yml on the default branch, then add the label again.",
    );
    expect(await outputs()).toEqual({ action: "invalid-config", tool: "", decision: "" });
  });

  it("fails the job with GitHub's answer when the handler stops on an API error", async () => {
    const gh = api();
    noConfig(gh);
    gh.scope.get(`${REPO}/collaborators/Codertocat/permission`).reply(500, { message: "Server Error" });
    const result = await routeMode({ token: TOKEN }, await jobEnv("issues", labeled()), DEPS);
    gh.done();
    expect(result.outcome).toBeNull();
    expect(result.failed).toMatch(/^Switchyard could not route the issue: .*Server Error/);
    expect(await outputs()).toEqual({ action: "failed", tool: "", decision: "" });
  });
});

describe("mode route, issues.closed", () => {
  it("cancels the task's run, labels it stopped and says so, as the app does", async () => {
    const gh = api();
    const running = encodeMarker(
      {
        task_key: "Codertocat/Hello-World#1",
        phase: "running",
        tool: "aider",
        routed_at: "x",
        delivery: "actions-run-4000",
        workflow: "switchyard-execute.yml",
      },
      "task",
    );
    const comments = commentStore(gh, GITHUB_ACTIONS_APP_ID, { list: 2, edit: 1 }, [
      {
        id: 3,
        body: `${running}\nrunning`,
        user: { type: "Bot" },
        performed_via_github_app: { id: GITHUB_ACTIONS_APP_ID },
      },
    ]);
    gh.scope
      .get(`${REPO}/actions/workflows/switchyard-execute.yml/runs`)
      .query({ event: "workflow_dispatch", per_page: "100" })
      .reply(200, {
        total_count: 1,
        workflow_runs: [{ id: 60, status: "in_progress", display_title: "switchyard #1" }],
      });
    gh.scope.post(`${REPO}/actions/runs/60/cancel`).reply(202, {});
    gh.scope.post(`${REPO}/issues/1/labels`).reply(200, []);
    gh.scope.delete(`${REPO}/issues/1/labels/switchyard%3Arunning`).reply(200, []);
    // The release of held tasks (app/release-blocked.ts): none is held.
    gh.scope.get(`${REPO}/issues`).query(true).reply(200, []);

    // @octokit/webhooks-examples has no issues.closed example: the reopened one, closed again.
    const example = webhookExample("issues", "reopened");
    const payload = {
      ...example,
      action: "closed",
      issue: { ...example.issue, state: "closed", labels: [{ id: 1, name: "switchyard:running" }] },
    };
    const result = await routeMode({ token: TOKEN }, await jobEnv("issues", payload), DEPS);
    gh.done();
    expect(result).toEqual({
      event: "issues",
      outcome: { action: "stopped", cancelled: [60] },
      failed: null,
    });
    expect(gh.requests).toHaveLength(8);
    expect(comments[0]!.body.split("\n").slice(1).join("\n")).toBe(
      "**Switchyard** · Codertocat/Hello-World#1 stopped: the issue was closed.\n\nCancelled run 60.",
    );
    expect(await outputs()).toEqual({ action: "stopped", tool: "", decision: "" });
    expect(stdout).toContain("::notice::Switchyard: Stopped the task; asked GitHub to cancel run 60.");
  });
});

describe("mode route, issue_comment.created", () => {
  it("answers `/switchyard explain` with every candidate, and writes nothing else", async () => {
    const gh = api();
    noConfig(gh);
    permission(gh, "Codertocat", "write");
    gh.scope.post(`${REPO}/issues/1/comments`).reply(201, { id: 99, html_url: "https://github.com/x#c99" });

    const payload = commented("/switchyard explain");
    const result = await routeMode({ token: TOKEN }, await jobEnv("issue_comment", payload), DEPS);
    gh.done();

    expect(ops(gh)).toEqual([
      `GET ${REPO_CONFIG}`,
      `GET ${ORG_CONFIG}`,
      `GET ${REPO}/collaborators/Codertocat/permission`,
      `POST ${REPO}/issues/1/comments`,
    ]);
    const decision = await expectedDecision(payload);
    expect(bodyOf(gh, "POST", "/issues/1/comments")).toEqual({
      body: [
        `**Switchyard** · how Codertocat/Hello-World#1 would be routed now: **${decision.tool}**.`,
        "",
        renderDecisionTable(decision),
      ].join("\n"),
    });
    expect(result).toEqual({
      event: "issue_comment",
      outcome: { action: "replied", command: "explain" },
      failed: null,
    });
    expect(await outputs()).toEqual({ action: "replied", tool: "", decision: "" });
  });

  it("refuses a sender without write access once, politely, as the app does", async () => {
    const gh = api();
    noConfig(gh);
    permission(gh, "octocat", "triage");
    gh.scope.post(`${REPO}/issues/1/comments`).reply(201, { id: 99, html_url: "https://github.com/x#c99" });

    const result = await routeMode(
      { token: TOKEN },
      await jobEnv(
        "issue_comment",
        commented("/switchyard route claude", { login: "octocat", type: "User" }),
      ),
      DEPS,
    );
    gh.done();
    expect(gh.requests).toHaveLength(4);
    const reason = "octocat has triage access to Codertocat/Hello-World; write or more is needed";
    expect(bodyOf(gh, "POST", "/issues/1/comments")).toEqual({
      body: renderRefusal("octocat", "route", reason),
    });
    expect(result).toEqual({
      event: "issue_comment",
      outcome: { action: "refused", reason, replied: true },
      failed: null,
    });
    expect(await outputs()).toEqual({ action: "refused", tool: "", decision: "" });
  });

  it("ignores a comment without a command, and the token's own comments, without a request", async () => {
    const gh = api();
    const chat = await routeMode(
      { token: TOKEN },
      await jobEnv("issue_comment", commented("Thanks! `/switchyard stop` is in the docs.")),
      DEPS,
    );
    expect(chat.outcome).toEqual({ action: "ignored", reason: "no command in the comment" });

    const own = commented("/switchyard stop");
    (own.comment as unknown as Record<string, unknown>).performed_via_github_app = { id: 15368 };
    const ours = await routeMode({ token: TOKEN }, await jobEnv("issue_comment", own), DEPS);
    expect(ours.outcome).toEqual({ action: "ignored", reason: "the comment is Switchyard's own" });
    gh.done();
    expect(gh.requests).toEqual([]);
  });
});

describe("mode route, refusals before any request", () => {
  it("names the events it supports when started by another one", async () => {
    const gh = api();
    const env = await jobEnv("push", webhookExample("push"));
    const run = routeMode({ token: TOKEN }, env, DEPS);
    await expect(run).rejects.toThrow(InputError);
    await expect(run).rejects.toThrow(
      'mode route handles the issues (types: [labeled, closed]) and issue_comment (types: [created]) events; this job was started by "push".',
    );
    gh.done();
    expect(gh.requests).toEqual([]);
  });

  it("asks for app-id on GitHub Enterprise Server, where the Actions app's id is not known", async () => {
    const env = await jobEnv("issues", labeled(), { GITHUB_SERVER_URL: "https://ghe.example.com" });
    await expect(routeMode({ token: TOKEN }, env, DEPS)).rejects.toThrow(
      /^mode route needs app-id on https:\/\/ghe\.example\.com: /,
    );
    expect(resolveAppId(undefined, { GITHUB_SERVER_URL: "https://github.com/" })).toBe(15368);
    expect(resolveAppId(77, { GITHUB_SERVER_URL: "https://ghe.example.com" })).toBe(77);
  });

  it("refuses a config-path other than the file it reads through the API", async () => {
    const env = await jobEnv("issues", labeled());
    await expect(routeMode({ token: TOKEN, configPath: "ci/switchyard.yml" }, env, DEPS)).rejects.toThrow(
      'config-path is "ci/switchyard.yml", but mode route reads .github/switchyard.yml',
    );
  });

  it("refuses a trigger-label in Switchyard's own namespace and an empty token", async () => {
    const env = await jobEnv("issues", labeled());
    await expect(routeMode({ token: TOKEN, triggerLabel: "switchyard:go" }, env, DEPS)).rejects.toThrow(
      'mode route: triggerLabel: trigger-label must not start with "switchyard:"',
    );
    await expect(routeMode({ token: "" }, env, DEPS)).rejects.toThrow(
      "mode route: token: github-token is empty",
    );
  });

  it("says it must run in a GitHub Actions job when the runner's variables are missing", async () => {
    const env = await jobEnv("issues", labeled());
    delete env.GITHUB_EVENT_PATH;
    delete env.GITHUB_RUN_ID;
    const run = routeMode({ token: TOKEN }, env, DEPS);
    await expect(run).rejects.toThrow(SwitchyardError);
    await expect(run).rejects.toThrow(
      "GITHUB_EVENT_PATH, GITHUB_RUN_ID are not set as GitHub Actions sets them: run mode route as a step",
    );
  });
});

// --- the example workflow ----------------------------------------------------------------------

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a YAML document, probed by the assertions
type Yaml = any;
const readYaml = (file: string): Yaml => parse(readFileSync(path.join(ROOT, file), "utf8"));
/** Inputs mode route adds to action.yml (the lead wires them in; see the report). */
const ROUTE_INPUTS = ["app-id", "trigger-label"];

describe("docs/examples/workflows/switchyard-route.yml", () => {
  const wf = readYaml("docs/examples/workflows/switchyard-route.yml");
  const text = readFileSync(path.join(ROOT, "docs/examples/workflows/switchyard-route.yml"), "utf8");

  it("runs on the events mode route handles, and no others", () => {
    expect(wf.on).toEqual({
      issues: { types: [...ROUTE_EVENTS.issues] },
      issue_comment: { types: [...ROUTE_EVENTS.issue_comment] },
    });
  });

  it("grants nothing at the top and exactly what each job uses", () => {
    expect(wf.permissions).toEqual({});
    expect(Object.keys(wf.jobs)).toEqual(["route"]);
    expect(wf.jobs.route.permissions).toEqual({
      actions: "write",
      checks: "write",
      contents: "read",
      issues: "write",
    });
  });

  it("skips unrelated events in `if:`, before a runner starts", () => {
    expect(wf.jobs.route.if.split(" || ")).toEqual([
      "(github.event_name == 'issues' && github.event.action == 'labeled' && github.event.label.name == 'switchyard')",
      // Every close: the job itself finds the held tasks a closed issue releases.
      "(github.event_name == 'issues' && github.event.action == 'closed')",
      "(github.event_name == 'issue_comment' && contains(github.event.comment.body, '/switchyard'))",
    ]);
  });

  it("routes one event per issue at a time, never cancelling a route half-way", () => {
    expect(wf.jobs.route.concurrency).toEqual({
      group: "switchyard-route-${{ github.event.issue.number }}",
      "cancel-in-progress": false,
    });
    expect(wf.jobs.route["timeout-minutes"]).toBeGreaterThan(0);
  });

  it("exposes no secret and never puts event text in a shell", () => {
    expect(text).not.toMatch(/secrets\./);
    for (const step of wf.jobs.route.steps) {
      if (step.run) expect(step.run).not.toMatch(/\$\{\{/);
      expect(step.uses ?? "").not.toMatch(/^actions\/checkout@/);
    }
  });

  it("passes the Action only inputs action.yml declares, with mode route", () => {
    const action = readYaml("action.yml");
    const known = [...Object.keys(action.inputs), ...ROUTE_INPUTS];
    const steps = wf.jobs.route.steps.filter((s: { uses?: string }) =>
      /^(\.\/|[^/]+\/switchyard@)/.test(s.uses ?? ""),
    );
    expect(steps).toHaveLength(1);
    expect(steps[0].with.mode).toBe("route");
    for (const key of Object.keys(steps[0].with)) expect(known).toContain(key);
  });
});

describe("describeOutcome", () => {
  it("says which held tasks a close released, beside what it did for the closed issue", () => {
    expect(
      describeOutcome({ action: "ignored", reason: "the task was not running", released: [4, 9] }),
    ).toMatchObject({
      action: "ignored",
      line: "Nothing to do: the task was not running. Routed the held tasks #4, #9.",
    });
    expect(describeOutcome({ action: "stopped", cancelled: [], released: [4] }).line).toBe(
      "Stopped the task. Routed the held task #4.",
    );
    expect(describeOutcome({ action: "stopped", cancelled: [] }).line).toBe("Stopped the task.");
  });
});
