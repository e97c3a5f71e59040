import { afterEach, beforeAll, beforeEach, describe, expect, it, jest } from "@jest/globals";
import { strToU8, zipSync } from "fflate";
import nock from "nock";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Probot } from "probot";
import { analyzeMode } from "../../src/action/analyze.js";
import switchyardApp from "../../src/app/index.js";
import { RoutingDecisionSchema, type RoutingDecision } from "../../src/core/routing/schema.js";
import { blockNetwork, githubApi, resetGithubApi, type GithubApi } from "../support/github-contract.js";
import { webhookExample, withInstallation } from "../support/webhooks.js";
import { daysAgo, LogBuilder, NOW, runs } from "../core/analysis/fixtures.js";
import {
  APP_ID,
  REPO,
  REPO_CONFIG,
  TEST_PRIVATE_KEY,
  TestOctokit,
  commentStore,
  installationToken,
} from "./probot-fixtures.js";

/**
 * The loop issue #6 asks to close, through the doors: mode analyze reads the event logs the
 * execute runs uploaded and writes metrics.json; the workflow uploads it as its run's
 * `switchyard-metrics` artifact; the app's next route with the metrics strategy reads it and
 * sends the task elsewhere when the first tool of the chain has been failing more and more.
 * The same route with a week where that tool did well keeps it: the file is what decides.
 */

const SHA = "a".repeat(40);
const BLOB = "https://pipelines.blob.example.net";
// error_fix's chain is [aider, claude, codex, gemini]; no exploration, so the measure alone decides.
const CONFIG = "version: 1\nrouting:\n  strategy: metrics\n  metrics:\n    exploration_rate: 0\n";

let temp: string;
const savedEnv = { ...process.env };

beforeAll(() => blockNetwork());
beforeEach(async () => {
  temp = await mkdtemp(path.join(os.tmpdir(), "switchyard-loop-"));
  jest.spyOn(process.stdout, "write").mockImplementation(() => true);
  const event = webhookExample("workflow_dispatch");
  await writeFile(path.join(temp, "event.json"), JSON.stringify(event));
  await writeFile(path.join(temp, "output"), "");
  Object.assign(process.env, {
    GITHUB_REPOSITORY: "Codertocat/Hello-World",
    GITHUB_WORKSPACE: temp,
    GITHUB_REF: "refs/heads/master",
    GITHUB_SHA: SHA,
    GITHUB_RUN_ID: "77",
    GITHUB_RUN_ATTEMPT: "1",
    GITHUB_SERVER_URL: "https://github.com",
    GITHUB_API_URL: "https://api.github.com",
    GITHUB_EVENT_PATH: path.join(temp, "event.json"),
    GITHUB_OUTPUT: path.join(temp, "output"),
    RUNNER_TEMP: temp,
  });
  delete process.env.GITHUB_STEP_SUMMARY;
});
afterEach(async () => {
  jest.restoreAllMocks();
  resetGithubApi();
  process.env = { ...savedEnv };
  await rm(temp, { recursive: true, force: true });
});

function config(gh: GithubApi): void {
  gh.scope.get(REPO_CONFIG).reply(200, CONFIG);
}

/** The repository as mode analyze reads it: one execute run, its events artifact, no recovery comment. */
function history(gh: GithubApi, events: string): void {
  const zip = zipSync({ "events.jsonl": strToU8(events) });
  gh.scope
    .get(`${REPO}/actions/runs`)
    .query({ per_page: "100", page: "1", exclude_pull_requests: "true" })
    .reply(200, {
      total_count: 1,
      workflow_runs: [
        {
          id: 5,
          name: "switchyard-execute",
          path: ".github/workflows/switchyard-execute.yml",
          workflow_id: 30,
          head_sha: SHA,
          event: "workflow_dispatch",
          status: "completed",
          conclusion: "success",
          run_attempt: 1,
          created_at: daysAgo(1),
          display_title: "switchyard #3",
        },
      ],
    });
  gh.scope
    .get(`${REPO}/actions/artifacts`)
    .query({ name: "switchyard-events", per_page: "100", page: "1" })
    .reply(200, {
      total_count: 1,
      artifacts: [
        {
          id: 71,
          name: "switchyard-events",
          size_in_bytes: zip.length,
          expired: false,
          created_at: daysAgo(1),
          workflow_run: { id: 5, head_sha: SHA },
        },
      ],
    });
  gh.scope.get(`${REPO}/actions/artifacts/71/zip`).reply(302, "", { Location: `${BLOB}/events.zip` });
  nock(BLOB).get("/events.zip").reply(200, Buffer.from(zip));
  gh.scope
    .get(`${REPO}/issues/comments`)
    .query({
      sort: "updated",
      direction: "desc",
      since: daysAgo(14),
      per_page: "100",
      page: "1",
    })
    .reply(200, []);
  for (const label of ["switchyard", "switchyard:alert"]) {
    gh.scope
      .get(`${REPO}/issues`)
      .query({ labels: label, state: "open", sort: "created", direction: "asc", per_page: "100", page: "1" })
      .reply(200, []);
  }
}

/** Door 1: the scheduled analysis (a dry run: the loop needs only its metrics.json). */
async function analyze(events: string): Promise<Buffer> {
  const gh = githubApi();
  config(gh);
  history(gh, events);
  const result = await analyzeMode({ token: "ghs_token", dryRun: true }, process.env, {
    octokit: { throttle: false, retries: 0 },
    now: () => new Date(NOW),
  });
  gh.done();
  return readFile(result.metricsPath);
}

/** A run that uploaded a `switchyard-metrics` artifact. */
interface Uploader {
  id: number;
  path: string;
  event: string;
  created_at: string;
}
const SCHEDULED_ANALYSIS: Uploader = {
  id: 78,
  path: ".github/workflows/switchyard-analyze.yml",
  event: "schedule",
  created_at: daysAgo(1),
};

/**
 * Door 2: the app routes issue #1 (labelled `bug`: error_fix) with that file uploaded by the
 * newest successful analysis run (78), behind any newer successful runs in `before`, which the
 * route passes over unasked.
 */
async function route(
  metricsJson: Buffer,
  before: Uploader[] = [],
): Promise<{ gh: GithubApi; decision: RoutingDecision }> {
  const gh = githubApi();
  installationToken(gh);
  config(gh);
  gh.scope
    .get(`${REPO}/collaborators/Codertocat/permission`)
    .reply(200, { permission: "write", role_name: "triage", user: { login: "Codertocat" } });
  const zip = zipSync({ "metrics.json": new Uint8Array(metricsJson) });
  gh.scope
    .get(`${REPO}/actions/workflows/switchyard-analyze.yml/runs`)
    .query({ status: "success", exclude_pull_requests: "true", per_page: "10" })
    .reply(200, {
      total_count: before.length + 1,
      workflow_runs: [...before, SCHEDULED_ANALYSIS].map((run) => ({
        ...run,
        name: "switchyard-analyze",
        status: "completed",
        conclusion: "success",
        head_sha: SHA,
      })),
    });
  gh.scope
    .get(`${REPO}/actions/runs/78/artifacts`)
    .query({ per_page: "100", page: "1" })
    .reply(200, {
      total_count: 1,
      artifacts: [
        {
          id: 90,
          name: "switchyard-metrics",
          size_in_bytes: zip.length,
          expired: false,
          created_at: daysAgo(1),
          workflow_run: { id: 78, head_sha: SHA },
        },
      ],
    });
  gh.scope.get(`${REPO}/actions/artifacts/90/zip`).reply(302, "", { Location: `${BLOB}/metrics.zip` });
  nock(BLOB).get("/metrics.zip").reply(200, Buffer.from(zip));
  // No recent event log: the circuit breaker has nothing to say, so the choice is the metrics'.
  gh.scope
    .get(`${REPO}/actions/artifacts`)
    .query({ name: "switchyard-events", per_page: "11" })
    .reply(200, { total_count: 0, artifacts: [] });
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
  commentStore(gh, APP_ID, { list: 2, create: 1 });

  const payload = withInstallation(webhookExample("issues", "labeled"));
  payload.label = { ...payload.label!, name: "switchyard" };
  payload.issue.labels = [...(payload.issue.labels ?? []), { ...payload.label }];
  const probot = new Probot({
    appId: APP_ID,
    privateKey: TEST_PRIVATE_KEY,
    Octokit: TestOctokit,
    logLevel: "fatal",
  });
  probot.load(switchyardApp);
  await probot.receive({ id: "delivery-1", name: "issues", payload } as never);
  gh.done();
  const dispatch = gh.requests.find((r) => r.path.endsWith("/dispatches"))!.body as {
    inputs: { decision: string };
  };
  return { gh, decision: RoutingDecisionSchema.parse(JSON.parse(dispatch.inputs.decision)) };
}

async function week(aiderNow: number): Promise<string> {
  const log = new LogBuilder();
  const capability = "error_fix";
  // The week before: aider did well.
  await runs(log, "aider", 10, 9, daysAgo(10), { capability, duration_ms: 60_000 });
  await runs(log, "aider", 10, aiderNow, daysAgo(3), { capability, duration_ms: 60_000 });
  await runs(log, "claude", 10, 7, daysAgo(3), { capability, duration_ms: 60_000 });
  return log.lines.join("");
}

describe("metrics.json closes the loop from the analysis to the router", () => {
  it("sends an error fix to claude once aider's success rate has fallen, read through both doors", async () => {
    const metrics = await analyze(await week(2));
    const written = JSON.parse(metrics.toString("utf8")) as { tools: Record<string, unknown>[] };
    expect(
      written.tools
        .filter((t) => t.capability === "error_fix")
        .map((t) => [
          t.tool,
          t.attempts,
          t.successes,
          (t.previous as { success_rate: number } | undefined)?.success_rate,
        ]),
    ).toEqual([
      ["aider", 10, 2, 0.9],
      ["claude", 10, 7, undefined],
    ]);

    const { gh, decision } = await route(metrics);
    expect(decision.strategy).toBe("metrics");
    expect(decision.tool).toBe("claude");
    // aider falls to the end: its 2 of 10 weigh less than the prior of tools with no runs yet.
    expect(decision.fallback).toEqual(["codex", "gemini"]);
    expect(decision.candidates.find((c) => c.tool === "aider")?.reason).toContain(
      "0.286 success (2/10 on 'error_fix', prior 2/4)",
    );
    // The signals cost four requests: the analysis workflow's successful runs, the newest one's
    // artifacts, the metrics download, the event logs' list.
    expect(
      gh.requests.filter((r) => r.path.includes("/actions/")).map((r) => `${r.method} ${r.path}`),
    ).toEqual([
      `GET ${REPO}/actions/workflows/switchyard-analyze.yml/runs`,
      `GET ${REPO}/actions/runs/78/artifacts`,
      `GET ${REPO}/actions/artifacts/90/zip`,
      `GET ${REPO}/actions/artifacts`,
      `POST ${REPO}/actions/workflows/switchyard-execute.yml/dispatches`,
    ]);
  });

  it("a newer pull_request artifact does not hide the analysis run's metrics", async () => {
    const metrics = await analyze(await week(2));
    // A pull request that rewrote the analysis workflow (same path, started by pull_request) ran
    // after the scheduled analysis and uploaded a switchyard-metrics artifact of its own.
    const { gh, decision } = await route(metrics, [
      { id: 79, path: ".github/workflows/switchyard-analyze.yml", event: "pull_request", created_at: NOW },
    ]);
    expect(decision.strategy).toBe("metrics");
    // The scheduled analysis's 2 of 10 still decide: aider is passed over for claude.
    expect(decision.tool).toBe("claude");
    expect(decision.summary).not.toContain("Signals:");
    expect(gh.requests.map((r) => r.path)).not.toContain(`${REPO}/actions/runs/79/artifacts`);
  });

  it("keeps aider first when the same analysis saw it doing well", async () => {
    const { decision } = await route(await analyze(await week(9)));
    expect(decision.strategy).toBe("metrics");
    expect(decision.tool).toBe("aider");
  });
});
