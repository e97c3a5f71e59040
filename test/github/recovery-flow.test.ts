import { afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import nock from "nock";
import { loadConfig } from "../../src/config/load.js";
import type { Config } from "../../src/config/schema.js";
import { LadderStateSchema, type LadderState } from "../../src/core/recovery/ladder.js";
import { encodeMarker, readMarker } from "../../src/core/status-marker.js";
import { createOctokit } from "../../src/github/octokit.js";
import {
  applyRecovery,
  parseRecoveryDispatch,
  planRecovery,
  reportStepResult,
  type RecoveryCi,
  type RecoveryDispatch,
} from "../../src/github/recovery-flow.js";
import { blockNetwork, githubApi, resetGithubApi, type GithubApi } from "../support/github-contract.js";

const R = "/repos/octo/repo";
const APP = 42;
const HEAD = "a".repeat(40);
const FIX = "c".repeat(40);
const KEY = "octo/repo#7";
const NOW = "2025-03-01T12:00:00Z";
const FIXERS = ["prettier", "ruff-format", "gofmt"];
const silent = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const LOGS = "https://pipelines.actions.githubusercontent.example";

let config: Config;
beforeAll(async () => {
  blockNetwork();
  config = (await loadConfig()).config;
});
afterEach(() => {
  resetGithubApi();
  nock.cleanAll();
});

const octokit = (gh: GithubApi) =>
  createOctokit({ auth: "test", baseUrl: gh.baseUrl, retries: 0, throttle: false, log: silent });

function state(over: Partial<LadderState> = {}): LadderState {
  return LadderStateSchema.parse({
    version: 1,
    key: KEY,
    head_sha: HEAD,
    category: "format",
    step: "mechanical",
    pending: "tool",
    rung: 0,
    tools: FIXERS,
    tried: FIXERS,
    attempts: 1,
    rerun_sha: null,
    last_attempt_at: "2025-03-01T11:58:00Z",
    seen_ci: ["9:1"],
    reason: "running the fixers",
    history: [
      {
        step: "mechanical",
        tools: FIXERS,
        head_sha: HEAD,
        at: "2025-03-01T11:58:00Z",
        outcome: "started",
        reason: "running the fixers (prettier, ruff-format, gofmt) (attempt 1 of 3)",
      },
    ],
    ...over,
  });
}

const dispatch: RecoveryDispatch = {
  key: KEY,
  run_id: 9,
  head_sha: HEAD,
  head_ref: "feature/parser",
  pr_number: 7,
  base_ref: "main",
  action: { kind: "run_fixers", tools: FIXERS },
  category: "format",
  attempt: 1,
};

function pr(gh: GithubApi) {
  gh.scope.get(`${R}/pulls/7`).reply(200, {
    number: 7,
    state: "open",
    draft: false,
    labels: [],
    head: { sha: HEAD, ref: "feature/parser" },
    base: { ref: "main" },
  });
}

function comments(gh: GithubApi, body: string | null) {
  const list =
    body === null
      ? []
      : [
          // A marker pasted by a person is just text: only the app's comment counts.
          {
            id: 5,
            body: `${encodeMarker(state({ attempts: 0 }), "recovery")}`,
            user: { login: "mallory", type: "User" },
            performed_via_github_app: null,
          },
          {
            id: 6,
            body,
            user: { login: "switchyard[bot]", type: "Bot" },
            performed_via_github_app: { id: APP },
          },
        ];
  gh.scope.get(`${R}/issues/7/comments`).query({ per_page: "100", page: "1" }).reply(200, list);
}

function checkRun(gh: GithubApi, sha = HEAD) {
  gh.scope.get(`${R}/commits/${sha}/check-runs`).query(true).reply(200, { total_count: 0, check_runs: [] });
  gh.scope.post(`${R}/check-runs`).reply(201, { id: 3 });
}

/** The fields of the request bodies these tests read. */
interface Sent {
  inputs: { recovery: string };
  output: { title: string; summary: string; text?: string };
  body: string;
  [field: string]: unknown;
}
const ops = (gh: GithubApi) => gh.requests.map((r) => `${r.method} ${r.path}`);
const body = (gh: GithubApi, method: string, suffix: string) =>
  gh.requests.find((r) => r.method === method && r.path.endsWith(suffix))?.body as Sent;

describe("parseRecoveryDispatch", () => {
  it("reads the recover workflow's input", () => {
    expect(parseRecoveryDispatch(JSON.stringify(dispatch))).toEqual(dispatch);
  });

  it.each([
    [
      "text that is not JSON",
      "{not json",
      "The recovery input is not JSON: the recover workflow is dispatched by Switchyard with a `recovery` input; run it from there, not by hand.",
    ],
    [
      "a short SHA",
      JSON.stringify({ ...dispatch, head_sha: "abc" }),
      "The recovery input is not valid: head_sha: a full commit or object id (40 or 64 lower-case hex digits)",
    ],
    [
      "an empty list of fixers",
      JSON.stringify({ ...dispatch, action: { kind: "run_fixers", tools: [] } }),
      "The recovery input is not valid: action.tools: Too small: expected array to have >=1 items",
    ],
    [
      "an unknown field",
      JSON.stringify({ ...dispatch, extra: 1 }),
      'The recovery input is not valid: Unrecognized key: "extra"',
    ],
  ])("refuses %s", (_name, json, message) => {
    expect(() => parseRecoveryDispatch(json)).toThrow(message);
  });
});

describe("reportStepResult (mode: recover)", () => {
  it("records the fixers' commit and waits for CI on it", async () => {
    const gh = githubApi();
    pr(gh);
    comments(gh, `${encodeMarker(state(), "recovery")}\n### Switchyard recovery`);
    checkRun(gh);
    gh.scope.patch(`${R}/issues/comments/6`).reply(200, { id: 6 });

    const outcome = await reportStepResult(octokit(gh), {
      owner: "octo",
      repo: "repo",
      default_branch: "main",
      dispatch,
      result: "committed",
      commit_sha: FIX,
      reason: "prettier formatted 2 files",
      config,
      author: { app_id: APP },
      now: NOW,
    });
    gh.done();
    expect(ops(gh)).toEqual([
      `GET ${R}/pulls/7`,
      `GET ${R}/issues/7/comments`,
      `GET ${R}/commits/${HEAD}/check-runs`,
      `POST ${R}/check-runs`,
      `PATCH ${R}/issues/comments/6`,
    ]);
    expect(outcome.action).toEqual({
      kind: "wait",
      reason: `the fixers (prettier, ruff-format, gofmt) committed ccccccc: waiting for CI on it`,
    });
    expect(body(gh, "POST", "/check-runs")).toMatchObject({
      head_sha: HEAD,
      status: "completed",
      conclusion: "neutral",
      output: { title: "Fix committed: waiting for CI" },
    });
    const stored = readMarker(body(gh, "PATCH", "/comments/6").body, "recovery", LadderStateSchema);
    expect(stored).toMatchObject({ ok: true, value: { head_sha: FIX, pending: "ci", attempts: 1 } });
  });

  it("moves on to the first AI tool when the fixers changed nothing, without spending the attempt", async () => {
    const gh = githubApi();
    pr(gh);
    comments(gh, encodeMarker(state(), "recovery"));
    gh.scope.post(`${R}/actions/workflows/switchyard-recover.yml/dispatches`).reply(204);
    checkRun(gh);
    gh.scope.patch(`${R}/issues/comments/6`).reply(200, { id: 6 });

    const outcome = await reportStepResult(octokit(gh), {
      owner: "octo",
      repo: "repo",
      default_branch: "main",
      dispatch,
      result: "no_fix",
      reason: "no fixer changed a file",
      config,
      author: { app_id: APP },
      now: NOW,
    });
    gh.done();
    expect(outcome.action).toEqual({ kind: "run_ai", tool: "aider" });
    const next = JSON.parse(body(gh, "POST", "/dispatches").inputs.recovery);
    expect(next).toEqual({ ...dispatch, action: { kind: "run_ai", tool: "aider" }, attempt: 1 });
    expect(
      outcome.events.map((e) => [e.type === "recovery_step" && e.step, e.type === "recovery_step" && e.ok]),
    ).toEqual([
      ["mechanical", false],
      ["ai", null],
    ]);
  });

  it("reports an unreadable state and runs nothing", async () => {
    const gh = githubApi();
    pr(gh);
    comments(gh, "<!-- switchyard:recovery v1 !!!not-base64 -->\n### Switchyard recovery");
    checkRun(gh);
    const outcome = await reportStepResult(octokit(gh), {
      owner: "octo",
      repo: "repo",
      default_branch: "main",
      dispatch,
      result: "no_fix",
      reason: "x",
      config,
      author: { app_id: APP },
      now: NOW,
    });
    gh.done();
    expect(outcome.plan).toBe("unreadable");
    expect(body(gh, "POST", "/check-runs")).toMatchObject({
      conclusion: "neutral",
      output: { title: "Recovery state unreadable" },
    });
  });
});

const ci = (over: Partial<RecoveryCi> = {}): RecoveryCi => ({
  run_id: 9,
  run_attempt: 1,
  conclusion: "failure",
  head_sha: HEAD,
  head_branch: "feature/parser",
  head_repo_full_name: "octo/repo",
  workflow_name: "CI",
  workflow_path: ".github/workflows/ci.yml",
  app_slug: "github-actions",
  pull_requests: [7],
  ...over,
});

const identity = { bot_login: "switchyard[bot]", app_slug: "switchyard" };

describe("planRecovery + applyRecovery", () => {
  it("waits for the rerun's own verdict, not another workflow's failure on the same head", async () => {
    const gh = githubApi();
    pr(gh);
    const rerun = state({
      category: "flaky",
      step: "rerun",
      pending: "ci",
      tools: undefined,
      tried: [],
      attempts: 0,
      rerun_sha: HEAD,
      history: [{ step: "rerun", head_sha: HEAD, at: NOW, outcome: "started", reason: "rerunning" }],
    });
    comments(gh, encodeMarker(rerun, "recovery"));
    const plan = await planRecovery(octokit(gh), {
      owner: "octo",
      repo: "repo",
      default_branch: "main",
      ci: ci({ run_id: 10, workflow_name: "e2e" }),
      config,
      identity,
      author: { app_id: APP },
      now: NOW,
    });
    gh.done();
    expect(plan).toEqual({ kind: "ignored", reason: "waiting for the rerun of run 9 on aaaaaaa" });
  });

  it("reports a missing recover workflow and leaves the state alone", async () => {
    const gh = githubApi();
    pr(gh);
    comments(gh, null);
    gh.scope.get(`${R}/commits`).query(true).reply(200, []);
    gh.scope
      .get(`${R}/actions/runs/9/jobs`)
      .query(true)
      .reply(200, {
        total_count: 1,
        jobs: [
          {
            id: 1,
            name: "lint",
            conclusion: "failure",
            steps: [{ name: "Run lint", conclusion: "failure", number: 1 }],
          },
        ],
      });
    gh.scope.get(`${R}/actions/jobs/1/logs`).reply(302, "", { Location: `${LOGS}/1.txt` });
    nock(LOGS)
      .get("/1.txt")
      .reply(
        200,
        "##[group]Run lint\n[warn] src/a.ts\n[warn] Code style issues found in the above file. Run Prettier with --write to fix.\n##[error]Process completed with exit code 1.\n",
        {
          "content-type": "text/plain",
        },
      );
    gh.scope.get(`${R}/check-runs/1/annotations`).query(true).reply(200, []);
    gh.scope.get(`${R}/actions/runs/9/artifacts`).query(true).reply(200, { total_count: 0, artifacts: [] });
    gh.scope
      .get(`${R}/actions/runs`)
      .query({ head_sha: HEAD, status: "success", per_page: "20" })
      .reply(200, { total_count: 0, workflow_runs: [] });
    gh.scope
      .post(`${R}/actions/workflows/switchyard-recover.yml/dispatches`)
      .reply(404, { message: "Not Found" });
    checkRun(gh);

    const plan = await planRecovery(octokit(gh), {
      owner: "octo",
      repo: "repo",
      default_branch: "main",
      ci: ci(),
      config,
      identity,
      author: { app_id: APP },
      now: NOW,
    });
    const outcome = await applyRecovery(octokit(gh), plan, { config, now: NOW });
    gh.done();
    expect(outcome.problem).toBe(
      "dispatching switchyard-recover.yml on main: Not Found: add .github/workflows/switchyard-recover.yml to main " +
        "(docs/recovery.md has one), or set recovery.workflow",
    );
    expect(outcome.events).toEqual([]);
    expect(body(gh, "POST", "/check-runs")).toMatchObject({
      conclusion: "failure",
      output: { title: "Recovery could not start" },
    });
    // No recovery comment: the attempt was never made, so nothing is stored.
    expect(ops(gh).filter((o) => o.includes("/issues/7/comments") && o.startsWith("POST"))).toEqual([]);
  });

  it("keeps a default-branch recovery's state in the head's check run", async () => {
    const gh = githubApi();
    const onMain = state({
      key: "octo/repo@main",
      step: "done",
      pending: null,
      tools: undefined,
      history: [],
      last_attempt_at: "2025-03-01T11:55:00Z",
    });
    gh.scope
      .get(`${R}/commits/${HEAD}/check-runs`)
      .query(true)
      .times(2)
      .reply(200, {
        total_count: 1,
        check_runs: [
          {
            id: 3,
            name: "switchyard/recover",
            external_id: "octo/repo@main",
            app: { id: APP, slug: "switchyard" },
            output: { text: `${encodeMarker(onMain, "recovery")}\n# CI failure evidence` },
          },
        ],
      });
    gh.scope.get(`${R}/commits`).query(true).reply(200, []);
    gh.scope.patch(`${R}/check-runs/3`).reply(200, { id: 3 });
    const plan = await planRecovery(octokit(gh), {
      owner: "octo",
      repo: "repo",
      default_branch: "main",
      ci: ci({ head_branch: "main", pull_requests: [] }),
      config,
      identity,
      author: { app_id: APP },
      now: NOW,
    });
    expect(plan).toMatchObject({ kind: "rejected", guard: "cooldown" });
    await applyRecovery(octokit(gh), plan, { config, now: NOW });
    gh.done();
    expect(body(gh, "PATCH", "/check-runs/3")).toMatchObject({ conclusion: "skipped" });
  });

  it("ignores a failure on a branch that is neither a PR head nor the default branch", async () => {
    const gh = githubApi();
    const plan = await planRecovery(octokit(gh), {
      owner: "octo",
      repo: "repo",
      default_branch: "main",
      ci: ci({ pull_requests: [] }),
      config,
      identity,
      author: { app_id: APP },
      now: NOW,
    });
    gh.done();
    expect(plan).toEqual({
      kind: "ignored",
      reason: "feature/parser is neither a pull request's head nor the default branch (main)",
    });
  });
});
