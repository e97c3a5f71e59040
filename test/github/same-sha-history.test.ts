import { afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import nock from "nock";
import { loadConfig } from "../../src/config/load.js";
import type { Config } from "../../src/config/schema.js";
import { createOctokit } from "../../src/github/octokit.js";
import { planRecovery } from "../../src/github/recovery-flow.js";
import { sameShaHistory } from "../../src/github/same-sha-history.js";
import { blockNetwork, githubApi, resetGithubApi, type GithubApi } from "../support/github-contract.js";

/** Flaky = the same job passed on the same commit (issue #5), asked of GitHub in one request. */

const R = "/repos/octo/repo";
const HEAD = "a".repeat(40);
const LOGS = "https://pipelines.actions.githubusercontent.example";
const NOW = "2025-03-01T12:00:00Z";
const silent = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const octokit = (gh: GithubApi) =>
  createOctokit({ auth: "test", baseUrl: gh.baseUrl, retries: 0, throttle: false, log: silent });

let config: Config;
beforeAll(async () => {
  blockNetwork();
  config = (await loadConfig()).config;
});
afterEach(() => {
  resetGithubApi();
  nock.cleanAll();
});

const base = {
  owner: "octo",
  repo: "repo",
  run_id: 9,
  head_sha: HEAD,
  workflow_path: ".github/workflows/ci.yml",
  failed_jobs: ["test"],
};

function runsOfHead(gh: GithubApi, runs: object[]) {
  gh.scope
    .get(`${R}/actions/runs`)
    .query({ head_sha: HEAD, status: "success", per_page: "20" })
    .reply(200, { total_count: runs.length, workflow_runs: runs });
}

describe("sameShaHistory", () => {
  it("finds a successful run of the same workflow on the same commit", async () => {
    const gh = githubApi();
    runsOfHead(gh, [
      { id: 9, path: ".github/workflows/ci.yml", conclusion: "success" },
      { id: 11, path: ".github/workflows/lint.yml", conclusion: "success" },
      { id: 12, path: ".github/workflows/ci.yml@refs/heads/main", conclusion: "success" },
    ]);
    const h = await sameShaHistory(octokit(gh), { ...base, run_attempt: 1 });
    gh.done();
    expect(h).toEqual({
      history: { sameShaPassed: true },
      note: "run 12 of .github/workflows/ci.yml passed on aaaaaaa, the commit this run failed on",
      gap: null,
    });
  });

  it("does not count another workflow's pass, nor the failed run itself", async () => {
    const gh = githubApi();
    runsOfHead(gh, [
      { id: 9, path: ".github/workflows/ci.yml", conclusion: "success" },
      { id: 11, path: ".github/workflows/lint.yml", conclusion: "success" },
    ]);
    const h = await sameShaHistory(octokit(gh), { ...base, run_attempt: 1 });
    gh.done();
    expect(h).toEqual({ history: {}, note: null, gap: null });
  });

  it("asks the previous attempt on a re-run, and counts only the jobs that failed now", async () => {
    const gh = githubApi();
    gh.scope
      .get(`${R}/actions/runs/9/attempts/2/jobs`)
      .query({ per_page: "100" })
      .reply(200, {
        total_count: 2,
        jobs: [
          { name: "lint", conclusion: "success" },
          { name: "test", conclusion: "success" },
        ],
      });
    const h = await sameShaHistory(octokit(gh), { ...base, run_attempt: 3 });
    gh.done();
    expect(h).toEqual({
      history: { sameShaPassed: true },
      note: "test passed in attempt 2 of run 9 on aaaaaaa",
      gap: null,
    });
  });

  it("reads nothing when the previous attempt failed the same job", async () => {
    const gh = githubApi();
    gh.scope
      .get(`${R}/actions/runs/9/attempts/1/jobs`)
      .query(true)
      .reply(200, { total_count: 1, jobs: [{ name: "test", conclusion: "failure" }] });
    const h = await sameShaHistory(octokit(gh), { ...base, run_attempt: 2 });
    gh.done();
    expect(h).toEqual({ history: {}, note: null, gap: null });
  });

  it("turns a refused request into a gap, not an error", async () => {
    const gh = githubApi();
    gh.scope
      .get(`${R}/actions/runs`)
      .query(true)
      .reply(403, { message: "Resource not accessible by integration" });
    const h = await sameShaHistory(octokit(gh), { ...base, run_attempt: 1 });
    gh.done();
    expect(h).toEqual({
      history: {},
      note: null,
      gap: "the runs of aaaaaaa: Resource not accessible by integration",
    });
  });

  it("makes no request without a failed job", async () => {
    const gh = githubApi();
    const h = await sameShaHistory(octokit(gh), { ...base, run_attempt: 1, failed_jobs: [] });
    gh.done();
    expect(gh.requests).toEqual([]);
    expect(h).toEqual({ history: {}, note: null, gap: null });
  });
});

describe("planRecovery with history", () => {
  it("classifies a test failure that passed on the same commit as flaky, and reruns it", async () => {
    const gh = githubApi();
    gh.scope.get(`${R}/pulls/7`).reply(200, {
      number: 7,
      state: "open",
      draft: false,
      labels: [],
      head: { sha: HEAD, ref: "feature/parser" },
      base: { ref: "main" },
    });
    gh.scope.get(`${R}/issues/7/comments`).query(true).reply(200, []);
    gh.scope.get(`${R}/commits`).query(true).reply(200, []);
    gh.scope
      .get(`${R}/actions/runs/9/jobs`)
      .query(true)
      .reply(200, {
        total_count: 1,
        jobs: [
          {
            id: 1,
            name: "test",
            conclusion: "failure",
            steps: [{ name: "Run npm test", conclusion: "failure", number: 1 }],
          },
        ],
      });
    gh.scope.get(`${R}/actions/jobs/1/logs`).reply(302, "", { Location: `${LOGS}/1.txt` });
    nock(LOGS)
      .get("/1.txt")
      .reply(
        200,
        "##[group]Run npm test\n● Ticker › fires every second\nTests:       1 failed, 41 passed, 42 total\n##[error]Process completed with exit code 1.\n",
        { "content-type": "text/plain" },
      );
    gh.scope.get(`${R}/check-runs/1/annotations`).query(true).reply(200, []);
    gh.scope.get(`${R}/actions/runs/9/artifacts`).query(true).reply(200, { total_count: 0, artifacts: [] });
    runsOfHead(gh, [{ id: 12, path: ".github/workflows/ci.yml", conclusion: "success" }]);

    const plan = await planRecovery(octokit(gh), {
      owner: "octo",
      repo: "repo",
      default_branch: "main",
      ci: {
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
      },
      config,
      identity: { bot_login: "switchyard[bot]", app_slug: "switchyard" },
      author: { app_id: 42 },
      now: NOW,
    });
    gh.done();
    expect(plan.kind).toBe("decided");
    if (plan.kind !== "decided") return;
    expect(plan.classification?.category).toBe("flaky");
    expect(plan.classification?.confidence).toBe(0.9);
    expect(plan.classification?.reason).toMatch(
      /; run 12 of \.github\/workflows\/ci\.yml passed on aaaaaaa, the commit this run failed on$/,
    );
    expect(plan.result.action).toEqual({ kind: "rerun_failed_jobs" });
  });
});
