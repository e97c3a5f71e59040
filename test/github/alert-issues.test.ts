import { afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { Octokit } from "@octokit/rest";
import { encodeAlertMarker, planAlerts, type AlertThresholds } from "../../src/core/analysis/alerts.js";
import type { Metrics } from "../../src/core/metrics/schema.js";
import { applyAlertPlan, listAlertIssues } from "../../src/github/alert-issues.js";
import { blockNetwork, githubApi, resetGithubApi, type GithubApi } from "../support/github-contract.js";

const octokit = new Octokit({ auth: "t", log: { debug() {}, info() {}, warn() {}, error() {} } });
const NOW = "2026-03-01T12:00:00.000Z";
const LABEL = "switchyard:alert";
const where = { owner: "o", repo: "r", label: LABEL };
const THRESHOLDS: AlertThresholds = {
  tool_success_below: 0.5,
  min_attempts: 5,
  quarantines_above: 3,
  flaky_rate_above: 0.1,
  heartbeat_days: 7,
  remind_days: 7,
};

function metrics(quarantines: number): Metrics {
  return {
    schema_version: 1,
    repository: "o/r",
    generated_at: NOW,
    window: { from: "2026-02-22T12:00:00.000Z", to: NOW },
    tools: [],
    recovery: [],
    recovery_summary: {
      steps: 10,
      greens: 1,
      steps_to_green_mean: 1,
      steps_to_green_max: 1,
      quarantines,
      flaky: 0,
    },
    workflows: [],
    flaky_tests: [],
    signatures: [],
    gaps: [],
  };
}

const marker = (kind: "quarantines" | "heartbeat") =>
  encodeAlertMarker({ kind, since: NOW, notified_at: NOW, fingerprint: kind });

function issue(number: number, body: string, state = "open") {
  return { number, title: "t", body, state, html_url: `https://github.com/o/r/issues/${number}`, labels: [] };
}

function list(gh: GithubApi, issues: unknown[]): void {
  gh.scope
    .get("/repos/o/r/issues")
    .query({ labels: LABEL, state: "open", sort: "created", direction: "asc", per_page: "100", page: "1" })
    .reply(200, issues);
}

beforeAll(() => blockNetwork());
afterEach(() => resetGithubApi());

describe("alert issues", () => {
  it("lists only the labelled issues whose first line is an alert marker", async () => {
    const gh = githubApi();
    list(gh, [issue(1, "a person's note"), issue(2, `${marker("heartbeat")}\ntext`)]);
    expect(await listAlertIssues(octokit, where)).toEqual([
      { number: 2, body: `${marker("heartbeat")}\ntext` },
    ]);
    gh.done();
  });

  it("closes the healthy alert and the duplicate a race left, each with a comment", async () => {
    const gh = githubApi();
    const open = [
      { number: 40, body: `${marker("quarantines")}\nx` },
      { number: 41, body: `${marker("quarantines")}\nx` },
    ];
    const plan = planAlerts({ metrics: metrics(1), thresholds: THRESHOLDS, now: NOW, open });
    for (const n of [40, 41]) {
      gh.scope.post(`/repos/o/r/issues/${n}/comments`).reply(201, { id: n });
      gh.scope.patch(`/repos/o/r/issues/${n}`).reply(200, issue(n, "x", "closed"));
    }
    const applied = await applyAlertPlan(octokit, where, plan);
    gh.done();
    expect(applied.filter((a) => a.type !== "none").map((a) => [a.type, a.number])).toEqual([
      ["closed", 40],
      ["closed_duplicate", 41],
    ]);
    expect(gh.requests.map((r) => r.body)).toEqual([
      {
        body: expect.stringMatching(
          /^Healthy again as of 2026-03-01 12:00 UTC: 1 quarantine in the last 7 days/,
        ),
      },
      { state: "closed", state_reason: "completed" },
      { body: "Duplicate of #40, which follows this alert; two analyses opened it at once." },
      { state: "closed", state_reason: "not_planned" },
    ]);
  });

  it("stays quiet when another analysis opened the same alert a moment earlier", async () => {
    const gh = githubApi();
    const plan = planAlerts({ metrics: metrics(9), thresholds: THRESHOLDS, now: NOW, open: [] });
    gh.scope.post("/repos/o/r/issues").reply(201, issue(51, "mine"));
    list(gh, [issue(50, `${marker("quarantines")}\ntheirs`), issue(51, `${marker("quarantines")}\nmine`)]);
    gh.scope.post("/repos/o/r/issues/51/comments").reply(201, { id: 1 });
    gh.scope.patch("/repos/o/r/issues/51").reply(200, issue(51, "mine", "closed"));
    const applied = await applyAlertPlan(octokit, where, plan);
    gh.done();
    expect(applied.find((a) => a.kind === "quarantines")).toMatchObject({ type: "none", number: 50 });
    expect(gh.requests.at(-1)?.body).toEqual({ state: "closed", state_reason: "not_planned" });
  });
});
