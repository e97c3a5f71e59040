import { afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { strToU8, zipSync } from "fflate";
import nock from "nock";
import { InputError } from "../../src/core/errors.js";
import { encodeMarker } from "../../src/core/status-marker.js";
import { createOctokit } from "../../src/github/octokit.js";
import {
  readRoutingSignals,
  signalNeeds,
  type RoutingSignalsInput,
} from "../../src/github/routing-signals.js";
import { blockNetwork, githubApi, resetGithubApi, type GithubApi } from "../support/github-contract.js";

beforeAll(() => blockNetwork());
afterEach(() => resetGithubApi());

const API = "/repos/octo/app";
const BLOB = "https://pipelines.blob.example.net";
const SHA_A = "a".repeat(40);
const SHA_B = "b".repeat(40);
const silent = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

function client(gh: GithubApi) {
  return createOctokit({ auth: "test", baseUrl: gh.baseUrl, retries: 0, throttle: false, log: silent });
}

function input(extra: Partial<RoutingSignalsInput> = {}): RoutingSignalsInput {
  return {
    owner: "octo",
    repo: "app",
    issue_number: 1,
    strategy: "priority",
    previousTool: "claude",
    workflow_id: "switchyard-execute.yml",
    ...extra,
  };
}

const EXECUTE = ".github/workflows/switchyard-execute.yml";
const ANALYZE = ".github/workflows/switchyard-analyze.yml";

function run(id: number, issue: number, status: string, head_sha: string, title = `switchyard #${issue}`) {
  return {
    id,
    status,
    display_title: title,
    head_sha,
    path: EXECUTE,
    event: "workflow_dispatch",
    html_url: `https://github.com/octo/app/actions/runs/${id}`,
  };
}

/** GET /actions/runs/{id}: the run that uploaded an artifact, as GitHub describes it. */
function serveRun(gh: GithubApi, id: number, path: string, event: string) {
  gh.scope.get(`${API}/actions/runs/${id}`).reply(200, {
    id,
    name: path.slice(path.lastIndexOf("/") + 1),
    path,
    event,
    status: "completed",
    conclusion: "success",
    head_sha: SHA_A,
    display_title: "run",
    html_url: `https://github.com/octo/app/actions/runs/${id}`,
  });
}

function serveRuns(gh: GithubApi, runs: ReturnType<typeof run>[]) {
  gh.scope
    .get(`${API}/actions/workflows/switchyard-execute.yml/runs`)
    .query({ event: "workflow_dispatch", per_page: "100" })
    .reply(200, { total_count: runs.length, workflow_runs: runs });
}

/** switchyard/route check runs as routing leaves them: the decision's tool in the task marker. */
function serveRouteChecks(gh: GithubApi, sha: string, tasks: [number, string | null][]) {
  gh.scope
    .get(`${API}/commits/${sha}/check-runs`)
    .query({ check_name: "switchyard/route", filter: "all", per_page: "100" })
    .reply(200, {
      total_count: tasks.length,
      check_runs: tasks.map(([issue, tool], n) => ({
        id: 100 + n,
        name: "switchyard/route",
        external_id: `octo/app#${issue}`,
        output: {
          title: "t",
          summary: "s",
          text: encodeMarker(
            { task_key: `octo/app#${issue}`, phase: "running", tool, routed_at: "2026-03-01T00:00:00Z" },
            "task",
          ),
        },
      })),
    });
}

function artifactWire(id: number, name: string, created_at: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    node_id: `A${id}`,
    name,
    size_in_bytes: 400,
    url: `https://api.github.com${API}/actions/artifacts/${id}`,
    archive_download_url: `https://api.github.com${API}/actions/artifacts/${id}/zip`,
    expired: false,
    created_at,
    expires_at: "2026-06-01T00:00:00Z",
    updated_at: created_at,
    workflow_run: {
      id: id * 10,
      repository_id: 1,
      head_repository_id: 1,
      head_branch: "main",
      head_sha: SHA_A,
    },
    ...extra,
  };
}

function serveArtifacts(gh: GithubApi, name: string, perPage: number, artifacts: object[]) {
  gh.scope
    .get(`${API}/actions/artifacts`)
    .query({ name, per_page: String(perPage) })
    .reply(200, { total_count: artifacts.length, artifacts });
}

function serveZip(gh: GithubApi, id: number, files: Record<string, string>) {
  const zip = zipSync(Object.fromEntries(Object.entries(files).map(([k, v]) => [k, strToU8(v)])));
  gh.scope
    .get(`${API}/actions/artifacts/${id}/zip`)
    .reply(302, "", { Location: `${BLOB}/artifact-${id}.zip?sig=x` });
  nock(BLOB).get(`/artifact-${id}.zip`).query(true).reply(200, Buffer.from(zip));
  return zip.length;
}

/** A successful run of a workflow, as GET /actions/workflows/{id}/runs lists it. */
function workflowRun(id: number, event: string, created_at: string, path = ANALYZE) {
  return {
    id,
    name: path.slice(path.lastIndexOf("/") + 1).split("@")[0],
    path,
    event,
    status: "completed",
    conclusion: "success",
    head_sha: SHA_A,
    display_title: "Switchyard analysis",
    created_at,
    html_url: `https://github.com/octo/app/actions/runs/${id}`,
  };
}

/** The analysis workflow's successful runs, newest first, exactly as readRoutingSignals asks. */
function serveAnalysisRuns(gh: GithubApi, runs: object[], workflow = "switchyard-analyze.yml") {
  gh.scope
    .get(`${API}/actions/workflows/${workflow}/runs`)
    .query({ status: "success", exclude_pull_requests: "true", per_page: "10" })
    .reply(200, { total_count: runs.length, workflow_runs: runs });
}

function serveRunArtifacts(gh: GithubApi, runId: number, artifacts: object[]) {
  gh.scope
    .get(`${API}/actions/runs/${runId}/artifacts`)
    .query({ per_page: "100", page: "1" })
    .reply(200, { total_count: artifacts.length, artifacts });
}

/** An artifact uploaded by run `runId`. */
function runArtifact(id: number, name: string, runId: number, extra: Record<string, unknown> = {}) {
  return artifactWire(id, name, "2026-03-01T00:00:00Z", {
    workflow_run: {
      id: runId,
      repository_id: 1,
      head_repository_id: 1,
      head_branch: "main",
      head_sha: SHA_A,
    },
    ...extra,
  });
}

/** A metrics.json as mode analyze writes it: aider at 7 of 10. */
const METRICS = {
  schema_version: 1,
  repository: "octo/app",
  generated_at: "2026-03-01T00:00:00Z",
  window: { from: "2026-02-22T00:00:00Z", to: "2026-03-01T00:00:00Z" },
  tools: [
    {
      tool: "aider",
      attempts: 10,
      successes: 7,
      success_rate: 0.7,
      ci_low: 0.4,
      ci_high: 0.9,
      p50_ms: 60000,
      p95_ms: 90000,
      tokens: null,
      cost: 0.25,
    },
  ],
  recovery: [],
  workflows: [],
  flaky_tests: [],
  signatures: [],
  gaps: [],
};

let ulidCounter = 0;
function finished(tool: string, outcome: string, at: string): string {
  // A valid Crockford ULID: 10 time characters, then 16 of randomness.
  const id = `01J${String(ulidCounter++).padStart(23, "0")}`;
  return JSON.stringify({
    id,
    at,
    task_key: "octo/app#9",
    type: "execute_finished",
    tool,
    attempt: 1,
    outcome,
    duration_ms: 1000,
    exit_code: outcome === "success" ? 0 : 1,
  });
}

describe("signalNeeds", () => {
  it("reads nothing for priority and round robin, and only what each other strategy consults", () => {
    expect(signalNeeds("priority")).toEqual([]);
    expect(signalNeeds("round_robin")).toEqual([]);
    expect(signalNeeds("sticky")).toEqual(["previous_tool"]);
    expect(signalNeeds("least_busy")).toEqual(["in_flight", "outcomes"]);
    expect(signalNeeds("metrics")).toEqual(["metrics", "outcomes"]);
  });
});

describe("readRoutingSignals", () => {
  it("costs no request for the default priority strategy", async () => {
    const gh = githubApi();
    const result = await readRoutingSignals(client(gh), input());
    gh.done();
    expect(result).toEqual({ signals: {}, notes: [], requests: 0 });
  });

  it("takes the sticky tool from the marker the caller already read, without a request", async () => {
    const gh = githubApi();
    const result = await readRoutingSignals(client(gh), input({ strategy: "sticky", previousTool: "codex" }));
    gh.done();
    expect(result).toEqual({ signals: { previous_tool: "codex" }, notes: [], requests: 0 });
  });

  it("counts in-flight runs per tool through the route check runs on the commits they were dispatched on", async () => {
    const gh = githubApi();
    serveRuns(gh, [
      run(60, 5, "in_progress", SHA_A),
      run(61, 6, "queued", SHA_A),
      run(62, 7, "in_progress", SHA_B),
      // The task being routed, a finished run, another task's second run and a foreign title.
      run(63, 1, "in_progress", SHA_A),
      run(64, 8, "completed", SHA_A),
      run(65, 5, "pending", SHA_B),
      run(66, 9, "in_progress", SHA_A, "Deploy production"),
    ]);
    serveRouteChecks(gh, SHA_A, [
      [5, "aider"],
      [6, "claude"],
      [8, "codex"],
    ]);
    serveRouteChecks(gh, SHA_B, [[7, "aider"]]);
    serveArtifacts(gh, "switchyard-events", 13, []);

    const result = await readRoutingSignals(client(gh), input({ strategy: "least_busy" }));
    gh.done();
    expect(result).toEqual({
      signals: { in_flight: { aider: 2, claude: 1 }, outcomes: [] },
      notes: [],
      requests: 4,
    });
  });

  it("reads the outcomes of the newest event logs, leaving out runs that say nothing about the tool", async () => {
    const gh = githubApi();
    // The runs that uploaded them are among the execute workflow's dispatched runs: no request more.
    serveRuns(gh, [run(30, 3, "completed", SHA_A), run(40, 4, "completed", SHA_A)]);
    serveArtifacts(gh, "switchyard-events", 9, [
      artifactWire(3, "switchyard-events", "2026-03-01T10:00:00Z"),
      artifactWire(4, "switchyard-events", "2026-03-01T11:00:00Z"),
      artifactWire(2, "switchyard-events", "2026-02-01T11:00:00Z", { expired: true }),
    ]);
    serveZip(gh, 4, {
      "events/run.jsonl": [
        finished("aider", "gate_failed", "2026-03-01T10:50:00Z"),
        finished("claude", "success", "2026-03-01T10:55:00Z"),
        "",
      ].join("\n"),
    });
    serveZip(gh, 3, {
      "run.jsonl": [
        finished("aider", "tool_unavailable", "2026-03-01T09:00:00Z"),
        "{ not json",
        finished("aider", "timed_out", "2026-03-01T09:30:00Z"),
      ].join("\n"),
      "notes.txt": "not an event log",
    });

    const result = await readRoutingSignals(
      client(gh),
      input({ strategy: "least_busy", maxEventArtifacts: 2 }),
    );
    gh.done();
    expect(result.signals.outcomes).toEqual([
      { tool: "aider", ok: false, at: "2026-03-01T10:50:00Z" },
      { tool: "claude", ok: true, at: "2026-03-01T10:55:00Z" },
      { tool: "aider", ok: false, at: "2026-03-01T09:30:00Z" },
    ]);
    expect(result.notes).toEqual(["1 unreadable event line skipped"]);
    expect(result.requests).toBe(4);
  });

  it("reads metrics.json from the newest successful analysis run, run first: three requests", async () => {
    const gh = githubApi();
    serveAnalysisRuns(gh, [
      workflowRun(100, "schedule", "2026-02-22T00:00:00Z"),
      workflowRun(110, "schedule", "2026-03-01T00:00:00Z"),
    ]);
    serveRunArtifacts(gh, 110, [
      runArtifact(13, "analysis-report", 110),
      runArtifact(11, "switchyard-metrics", 110),
    ]);
    serveZip(gh, 11, { "metrics.json": JSON.stringify(METRICS) });
    serveArtifacts(gh, "switchyard-events", 11, []);

    const result = await readRoutingSignals(client(gh), input({ strategy: "metrics" }));
    gh.done();
    expect(result).toEqual({
      signals: {
        metrics: [{ tool: "aider", attempts: 10, successes: 7, p50_ms: 60000, cost: 0.25 }],
        outcomes: [],
      },
      notes: [],
      requests: 4,
    });
    expect(gh.requests.map((r) => ({ path: r.path, query: r.query }))).toEqual([
      {
        path: `${API}/actions/workflows/switchyard-analyze.yml/runs`,
        query: { status: "success", exclude_pull_requests: "true", per_page: "10" },
      },
      { path: `${API}/actions/runs/110/artifacts`, query: { per_page: "100", page: "1" } },
      { path: `${API}/actions/artifacts/11/zip`, query: {} },
      { path: `${API}/actions/artifacts`, query: { name: "switchyard-events", per_page: "11" } },
    ]);
  });

  it("says so when the analysis has not succeeded yet", async () => {
    const gh = githubApi();
    serveAnalysisRuns(gh, []);
    serveArtifacts(gh, "switchyard-events", 11, []);
    const result = await readRoutingSignals(client(gh), input({ strategy: "metrics" }));
    gh.done();
    expect(result).toEqual({
      signals: { outcomes: [] },
      notes: [
        "no successful run of .github/workflows/switchyard-analyze.yml yet: every tool starts from the prior",
      ],
      requests: 2,
    });
  });

  it("says so, without failing the route or warning, when the analysis workflow is not installed", async () => {
    const gh = githubApi();
    gh.scope
      .get(`${API}/actions/workflows/switchyard-analyze.yml/runs`)
      .query(true)
      .reply(404, { message: "Not Found" });
    serveArtifacts(gh, "switchyard-events", 11, []);
    const warnings: string[] = [];
    const result = await readRoutingSignals(client(gh), input({ strategy: "metrics" }), {
      warn: (_obj, msg) => warnings.push(msg),
    });
    gh.done();
    expect(result).toEqual({
      signals: { outcomes: [] },
      notes: [
        "no analysis workflow yet (.github/workflows/switchyard-analyze.yml is not in octo/app): " +
          "every tool starts from the prior",
      ],
      requests: 2,
    });
    expect(warnings).toEqual([]);
  });

  it("says so when the newest successful analysis run uploaded no metrics, and looks no further back", async () => {
    const gh = githubApi();
    serveAnalysisRuns(gh, [
      workflowRun(110, "workflow_dispatch", "2026-03-01T00:00:00Z"),
      workflowRun(100, "schedule", "2026-02-22T00:00:00Z"),
    ]);
    serveRunArtifacts(gh, 110, [runArtifact(13, "analysis-report", 110)]);
    serveArtifacts(gh, "switchyard-events", 11, []);
    const result = await readRoutingSignals(client(gh), input({ strategy: "metrics" }));
    gh.done();
    expect(result.signals).toEqual({ outcomes: [] });
    expect(result.notes).toEqual([
      "no switchyard-metrics artifact on run 110 of .github/workflows/switchyard-analyze.yml: " +
        "every tool starts from the prior",
    ]);
    expect(result.requests).toBe(3);
  });

  it("says so when the newest analysis run's metrics have expired, without downloading them", async () => {
    const gh = githubApi();
    serveAnalysisRuns(gh, [workflowRun(110, "schedule", "2026-03-01T00:00:00Z")]);
    serveRunArtifacts(gh, 110, [runArtifact(11, "switchyard-metrics", 110, { expired: true })]);
    serveArtifacts(gh, "switchyard-events", 11, []);
    const result = await readRoutingSignals(client(gh), input({ strategy: "metrics" }));
    gh.done();
    expect(result.signals).toEqual({ outcomes: [] });
    expect(result.notes).toEqual([
      "the switchyard-metrics artifact of run 110 of .github/workflows/switchyard-analyze.yml has expired: " +
        "every tool starts from the prior",
    ]);
    expect(result.requests).toBe(3);
  });

  it("names a configured analysis workflow that is no workflow file, without a request for it", async () => {
    const gh = githubApi();
    serveArtifacts(gh, "switchyard-events", 11, []);
    const result = await readRoutingSignals(
      client(gh),
      input({ strategy: "metrics", metricsWorkflow: ".github/workflows/analyze" }),
    );
    gh.done();
    expect(result).toEqual({
      signals: { outcomes: [] },
      notes: [
        'metrics.json not read: analysis.workflow: ".github/workflows/analyze" is not a workflow file; ' +
          "use a path such as .github/workflows/switchyard-analyze.yml",
      ],
      requests: 1,
    });
  });

  it("leaves out a signal GitHub refuses, names why, warns, and still reads the others", async () => {
    const gh = githubApi();
    gh.scope
      .get(`${API}/actions/workflows/switchyard-execute.yml/runs`)
      .query(true)
      .reply(403, { message: "Resource not accessible by integration" });
    serveArtifacts(gh, "switchyard-events", 13, []);
    const warnings: string[] = [];
    const result = await readRoutingSignals(client(gh), input({ strategy: "least_busy" }), {
      warn: (_obj, msg) => warnings.push(msg),
    });
    gh.done();
    expect(result.signals).toEqual({ outcomes: [] });
    expect(result.notes).toEqual([
      "in-flight runs not read: listing the runs of switchyard-execute.yml in octo/app failed: GitHub answered 403 " +
        "(Resource not accessible by integration): the token is not allowed to do this (it needs `actions: read`)",
    ]);
    expect(warnings).toEqual(["routing signal not read: in-flight runs"]);
  });

  it("stops at the request budget and says what it left unread", async () => {
    const gh = githubApi();
    serveRuns(gh, [run(60, 5, "in_progress", SHA_A), run(62, 7, "in_progress", SHA_B)]);
    serveRouteChecks(gh, SHA_A, [[5, "aider"]]);
    const result = await readRoutingSignals(client(gh), input({ strategy: "least_busy", budget: 2 }));
    gh.done();
    expect(result).toEqual({
      signals: { in_flight: { aider: 1 } },
      notes: [
        "1 in-flight run could not be tied to a tool (no switchyard/route check run read for its task)",
        "recent outcomes not read: the budget of 2 requests was spent",
      ],
      requests: 2,
    });
  });

  it("counts a request the budget refused inside a download as the budget spent, not as GitHub unreachable", async () => {
    const gh = githubApi();
    serveAnalysisRuns(gh, [workflowRun(110, "schedule", "2026-03-01T00:00:00Z")]);
    serveRunArtifacts(gh, 110, [runArtifact(11, "switchyard-metrics", 110)]);
    const result = await readRoutingSignals(client(gh), input({ strategy: "metrics", budget: 2 }));
    gh.done();
    expect(result).toEqual({
      signals: {},
      notes: [
        "metrics.json not read: the budget of 2 requests was spent",
        "recent outcomes not read: the budget of 2 requests was spent",
      ],
      requests: 2,
    });
  });

  it("stops reading event logs when the budget refuses a download, and says how many it read", async () => {
    const gh = githubApi();
    serveRuns(gh, [run(30, 3, "completed", SHA_A), run(40, 4, "completed", SHA_A)]);
    serveArtifacts(gh, "switchyard-events", 9, [
      artifactWire(4, "switchyard-events", "2026-03-01T11:00:00Z"),
      artifactWire(3, "switchyard-events", "2026-03-01T10:00:00Z"),
    ]);
    serveZip(gh, 4, { "run.jsonl": finished("claude", "success", "2026-03-01T10:55:00Z") });
    const result = await readRoutingSignals(
      client(gh),
      input({ strategy: "least_busy", maxEventArtifacts: 2, budget: 3 }),
    );
    gh.done();
    expect(result).toEqual({
      signals: { in_flight: {}, outcomes: [{ tool: "claude", ok: true, at: "2026-03-01T10:55:00Z" }] },
      notes: ["1 of the 2 newest event logs read: the request budget was spent"],
      requests: 3,
    });
  });

  it("refuses input that is not a routing request", async () => {
    const gh = githubApi();
    await expect(readRoutingSignals(client(gh), input({ issue_number: 0 }))).rejects.toThrow(
      new InputError("cannot read routing signals: issue_number: Too small: expected number to be >=1"),
    );
  });
});

describe("readRoutingSignals: only Switchyard's own runs speak", () => {
  const AIDER_7_OF_10 = [{ tool: "aider", attempts: 10, successes: 7, p50_ms: 60000, cost: 0.25 }];

  it("a newer pull_request artifact does not hide the analysis run's metrics", async () => {
    const gh = githubApi();
    // A pull request rewrote the analysis workflow under its own path; its run succeeded after the
    // scheduled one and uploaded a switchyard-metrics artifact (id 13) of its own. Both runs are
    // listed under the workflow, and the path alone proves nothing: the trigger tells them apart.
    serveAnalysisRuns(gh, [
      workflowRun(130, "pull_request", "2026-03-02T00:00:00Z"),
      workflowRun(120, "schedule", "2026-03-01T00:00:00Z"),
    ]);
    serveRunArtifacts(gh, 120, [runArtifact(12, "switchyard-metrics", 120)]);
    serveZip(gh, 12, { "metrics.json": JSON.stringify(METRICS) });
    serveArtifacts(gh, "switchyard-events", 11, []);
    const warnings: string[] = [];
    const result = await readRoutingSignals(client(gh), input({ strategy: "metrics" }), {
      warn: (_obj, msg) => warnings.push(msg),
    });
    gh.done();
    expect(result).toEqual({ signals: { metrics: AIDER_7_OF_10, outcomes: [] }, notes: [], requests: 4 });
    // Neither the pull request's run nor its artifact is asked about.
    expect(gh.requests.map((r) => r.path)).toEqual([
      `${API}/actions/workflows/switchyard-analyze.yml/runs`,
      `${API}/actions/runs/120/artifacts`,
      `${API}/actions/artifacts/12/zip`,
      `${API}/actions/artifacts`,
    ]);
    expect(warnings).toEqual([]);
  });

  it("passes over successful runs of the analysis workflow a pull request started, says so and warns", async () => {
    const gh = githubApi();
    serveAnalysisRuns(gh, [
      workflowRun(130, "pull_request", "2026-03-02T00:00:00Z"),
      workflowRun(131, "pull_request_target", "2026-03-03T00:00:00Z"),
    ]);
    serveArtifacts(gh, "switchyard-events", 11, []);
    const warnings: string[] = [];
    const result = await readRoutingSignals(client(gh), input({ strategy: "metrics" }), {
      warn: (_obj, msg) => warnings.push(msg),
    });
    gh.done();
    const why =
      "none of the 2 newest successful runs of .github/workflows/switchyard-analyze.yml was started by " +
      "schedule or workflow_dispatch (the newest, run 131, by pull_request_target)";
    expect(result).toEqual({
      signals: { outcomes: [] },
      notes: [`${why}: every tool starts from the prior`],
      requests: 2,
    });
    // Nothing of theirs was listed or downloaded.
    expect(gh.requests.map((r) => r.path)).toEqual([
      `${API}/actions/workflows/switchyard-analyze.yml/runs`,
      `${API}/actions/artifacts`,
    ]);
    expect(warnings).toEqual([`routing signal ignored: ${why}`]);
  });

  it("says so when the only successful run is a pull request's", async () => {
    const gh = githubApi();
    serveAnalysisRuns(gh, [workflowRun(130, "pull_request", "2026-03-02T00:00:00Z")]);
    serveArtifacts(gh, "switchyard-events", 11, []);
    const result = await readRoutingSignals(client(gh), input({ strategy: "metrics" }));
    gh.done();
    expect(result.notes).toEqual([
      "the only successful run of .github/workflows/switchyard-analyze.yml was not started by " +
        "schedule or workflow_dispatch (the newest, run 130, by pull_request): every tool starts from the prior",
    ]);
  });

  it("reads metrics.json from a dispatched run of the configured analysis workflow", async () => {
    const gh = githubApi();
    serveAnalysisRuns(
      gh,
      [
        workflowRun(
          120,
          "workflow_dispatch",
          "2026-03-02T00:00:00Z",
          ".github/workflows/nightly.yml@refs/heads/main",
        ),
      ],
      "nightly.yml",
    );
    serveRunArtifacts(gh, 120, [runArtifact(12, "switchyard-metrics", 120)]);
    serveZip(gh, 12, { "out/metrics.json": JSON.stringify(METRICS) });
    serveArtifacts(gh, "switchyard-events", 11, []);
    const result = await readRoutingSignals(
      client(gh),
      input({ strategy: "metrics", metricsWorkflow: ".github/workflows/nightly.yml" }),
    );
    gh.done();
    expect(result).toEqual({ signals: { metrics: AIDER_7_OF_10, outcomes: [] }, notes: [], requests: 4 });
  });

  it("passes over a forged event log for an older one of a dispatched execute run", async () => {
    const gh = githubApi();
    serveRuns(gh, [run(30, 3, "completed", SHA_A), run(40, 4, "completed", SHA_A)]);
    serveArtifacts(gh, "switchyard-events", 7, [
      artifactWire(5, "switchyard-events", "2026-03-01T12:00:00Z"),
      artifactWire(4, "switchyard-events", "2026-03-01T11:00:00Z"),
      artifactWire(3, "switchyard-events", "2026-03-01T10:00:00Z"),
    ]);
    // Run 50 is no dispatched execute run: GitHub says what it is.
    serveRun(gh, 50, EXECUTE, "pull_request");
    serveZip(gh, 4, { "run.jsonl": finished("claude", "success", "2026-03-01T10:55:00Z") });
    const result = await readRoutingSignals(
      client(gh),
      input({ strategy: "least_busy", maxEventArtifacts: 1 }),
    );
    gh.done();
    expect(result).toEqual({
      signals: { in_flight: {}, outcomes: [{ tool: "claude", ok: true, at: "2026-03-01T10:55:00Z" }] },
      notes: [
        "1 event log ignored: not from a run of switchyard-execute.yml or " +
          ".github/workflows/switchyard-recover.yml started by workflow_dispatch or workflow_run " +
          "(first: artifact 5 of run 50)",
      ],
      requests: 4,
    });
  });

  it("checks the metrics strategy's event logs against one list of execute runs, and a recovery run by itself", async () => {
    const gh = githubApi();
    serveAnalysisRuns(gh, [workflowRun(120, "schedule", "2026-03-02T00:00:00Z")]);
    serveRunArtifacts(gh, 120, [runArtifact(12, "switchyard-metrics", 120)]);
    serveZip(gh, 12, { "metrics.json": JSON.stringify(METRICS) });
    serveArtifacts(gh, "switchyard-events", 11, [
      artifactWire(5, "switchyard-events", "2026-03-01T12:00:00Z"),
      artifactWire(4, "switchyard-events", "2026-03-01T11:00:00Z"),
    ]);
    serveRuns(gh, [run(40, 4, "completed", SHA_A)]);
    serveRun(gh, 50, ".github/workflows/switchyard-recover.yml", "workflow_run");
    serveZip(gh, 5, { "run.jsonl": finished("aider", "gate_failed", "2026-03-01T11:50:00Z") });
    serveZip(gh, 4, { "run.jsonl": finished("claude", "success", "2026-03-01T10:55:00Z") });
    const result = await readRoutingSignals(
      client(gh),
      input({
        strategy: "metrics",
        eventWorkflows: [EXECUTE, ".github/workflows/switchyard-recover.yml"],
      }),
    );
    gh.done();
    expect(result).toEqual({
      signals: {
        metrics: AIDER_7_OF_10,
        outcomes: [
          { tool: "aider", ok: false, at: "2026-03-01T11:50:00Z" },
          { tool: "claude", ok: true, at: "2026-03-01T10:55:00Z" },
        ],
      },
      notes: [],
      requests: 8,
    });
    expect(gh.requests.map((r) => r.path)).toEqual([
      `${API}/actions/workflows/switchyard-analyze.yml/runs`,
      `${API}/actions/runs/120/artifacts`,
      `${API}/actions/artifacts/12/zip`,
      `${API}/actions/artifacts`,
      `${API}/actions/workflows/switchyard-execute.yml/runs`,
      `${API}/actions/runs/50`,
      `${API}/actions/artifacts/5/zip`,
      `${API}/actions/artifacts/4/zip`,
    ]);
  });

  it("fits the default metrics route in the default budget: three newest event logs, one list of runs", async () => {
    const gh = githubApi();
    serveAnalysisRuns(gh, [workflowRun(120, "workflow_dispatch", "2026-03-02T00:00:00Z")]);
    serveRunArtifacts(gh, 120, [runArtifact(12, "switchyard-metrics", 120)]);
    serveZip(gh, 12, { "metrics.json": JSON.stringify(METRICS) });
    serveArtifacts(gh, "switchyard-events", 11, [
      artifactWire(4, "switchyard-events", "2026-03-01T04:00:00Z"),
      artifactWire(3, "switchyard-events", "2026-03-01T03:00:00Z"),
      artifactWire(2, "switchyard-events", "2026-03-01T02:00:00Z"),
      artifactWire(1, "switchyard-events", "2026-03-01T01:00:00Z"),
    ]);
    serveRuns(
      gh,
      [40, 30, 20, 10].map((id) => run(id, id, "completed", SHA_A)),
    );
    for (const id of [4, 3, 2])
      serveZip(gh, id, { "run.jsonl": finished("codex", "success", `2026-03-01T0${id}:00:00Z`) });
    const result = await readRoutingSignals(client(gh), input({ strategy: "metrics" }));
    gh.done();
    expect(result.notes).toEqual([]);
    expect(result.signals.outcomes?.map((o) => o.at)).toEqual([
      "2026-03-01T04:00:00Z",
      "2026-03-01T03:00:00Z",
      "2026-03-01T02:00:00Z",
    ]);
    expect(result.requests).toBe(8);
  });
});
