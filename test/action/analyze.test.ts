import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from "@jest/globals";
import { strToU8, zipSync } from "fflate";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import nock from "nock";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { analyzeMode } from "../../src/action/analyze.js";
import { ACTION_INPUT_NAMES } from "../../src/action/inputs.js";
import { readInputs } from "../../src/action/main.js";
import { encodeAlertMarker, readAlertMarker } from "../../src/core/analysis/alerts.js";
import { DASHBOARD_MARKER } from "../../src/core/analysis/dashboard.js";
import { MetricsSchema } from "../../src/core/metrics/schema.js";
import { blockNetwork, githubApi, resetGithubApi, type GithubApi } from "../support/github-contract.js";
import { webhookExample } from "../support/webhooks.js";
import { daysAgo, LogBuilder, NOW, runs } from "../core/analysis/fixtures.js";

const API = "/repos/acme/widgets";
const SHA = "c".repeat(40);
const BLOB = "https://pipelines.blob.example.net";
const FAST = { octokit: { throttle: false, retries: 0 }, now: () => new Date(NOW) };
const GONE_GAP =
  "event logs: 1 switchyard-events artifact has expired (artifacts are kept for the repository's retention period)";

let temp: string;
let summaryFile: string;
let summaryDir: string;
let stdout: string;
let hook: Server;
let hookUrl: string;
let posted: unknown[];
const savedEnv = { ...process.env };

beforeAll(async () => {
  blockNetwork();
  // @actions/core's summary keeps the first path it is given for the whole process.
  summaryDir = await mkdtemp(path.join(os.tmpdir(), "switchyard-summary-"));
  summaryFile = path.join(summaryDir, "summary.md");
  hook = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      posted.push(JSON.parse(body));
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, "127.0.0.1", resolve));
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hooks/secret-room-token-123`;
  // nock must let the local webhook through while it blocks everything else.
  nock.enableNetConnect("127.0.0.1");
});
afterAll(async () => {
  hook.closeAllConnections();
  await new Promise<void>((resolve) => hook.close(() => resolve()));
  await rm(summaryDir, { recursive: true, force: true });
});
beforeEach(async () => {
  temp = await mkdtemp(path.join(os.tmpdir(), "switchyard-analyze-"));
  posted = [];
  stdout = "";
  jest.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  });
  const event = webhookExample("workflow_dispatch");
  event.repository.default_branch = "main";
  await writeFile(path.join(temp, "event.json"), JSON.stringify(event));
  await writeFile(path.join(temp, "output"), "");
  await writeFile(summaryFile, "");
  Object.assign(process.env, {
    GITHUB_REPOSITORY: "acme/widgets",
    GITHUB_WORKSPACE: temp,
    GITHUB_REF: "refs/heads/main",
    GITHUB_SHA: SHA,
    GITHUB_RUN_ID: "77",
    GITHUB_RUN_ATTEMPT: "1",
    GITHUB_SERVER_URL: "https://github.com",
    GITHUB_API_URL: "https://api.github.com",
    GITHUB_EVENT_PATH: path.join(temp, "event.json"),
    GITHUB_OUTPUT: path.join(temp, "output"),
    GITHUB_STEP_SUMMARY: summaryFile,
    RUNNER_TEMP: temp,
  });
});
afterEach(async () => {
  jest.restoreAllMocks();
  resetGithubApi();
  process.env = { ...savedEnv };
  await rm(temp, { recursive: true, force: true });
});

async function outputs(): Promise<Record<string, string>> {
  const text = await readFile(path.join(temp, "output"), "utf8");
  const out: Record<string, string> = {};
  const re = /^([\w-]+)<<(\S+)\n([\s\S]*?)\n\2$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) out[m[1]!] = m[3]!;
  return out;
}

function issue(number: number, body: string, labels: string[], title = "t") {
  return {
    number,
    title,
    body,
    state: "open",
    html_url: `https://github.com/acme/widgets/issues/${number}`,
    labels: labels.map((name) => ({ name })),
  };
}

function listIssues(gh: GithubApi, label: string, issues: unknown[]): void {
  gh.scope
    .get(`${API}/issues`)
    .query({ labels: label, state: "open", sort: "created", direction: "asc", per_page: "100", page: "1" })
    .reply(200, issues);
}

function noConfig(gh: GithubApi): void {
  gh.scope.get(`${API}/contents/.github%2Fswitchyard.yml`).reply(404, { message: "Not Found" });
  gh.scope.get("/repos/acme/.github/contents/.github%2Fswitchyard.yml").reply(404, { message: "Not Found" });
}

/** The repository's history: no CI runs, one events artifact with aider's week, one gone (410). */
async function history(gh: GithubApi): Promise<void> {
  const log = new LogBuilder();
  await runs(log, "aider", 6, 1, daysAgo(2));
  await runs(log, "claude", 5, 5, daysAgo(2));
  const zip = zipSync({ "events.jsonl": strToU8(log.text()) });
  const artifact = (id: number) => ({
    id,
    name: "switchyard-events",
    size_in_bytes: zip.length,
    expired: false,
    created_at: daysAgo(1),
    workflow_run: { id: 5, head_sha: SHA },
  });
  // The execute workflow's dispatched run that uploaded them (the events' trust check), still running.
  const executeRun = {
    id: 5,
    name: "switchyard-execute",
    path: ".github/workflows/switchyard-execute.yml",
    workflow_id: 30,
    head_sha: SHA,
    event: "workflow_dispatch",
    status: "in_progress",
    conclusion: null,
    run_attempt: 1,
    created_at: daysAgo(1),
    display_title: "switchyard #12",
  };
  gh.scope
    .get(`${API}/actions/runs`)
    .query({ per_page: "100", page: "1", exclude_pull_requests: "true" })
    .reply(200, { total_count: 1, workflow_runs: [executeRun] });
  gh.scope
    .get(`${API}/actions/artifacts`)
    .query({ name: "switchyard-events", per_page: "100", page: "1" })
    .reply(200, { total_count: 2, artifacts: [artifact(71), artifact(70)] });
  gh.scope.get(`${API}/actions/artifacts/71/zip`).reply(302, "", { Location: `${BLOB}/a71.zip` });
  nock(BLOB).get("/a71.zip").reply(200, Buffer.from(zip));
  gh.scope.get(`${API}/actions/artifacts/70/zip`).reply(410, { message: "Artifact has expired" });
  // No recovery comment in the two windows read.
  gh.scope
    .get(`${API}/issues/comments`)
    .query({
      sort: "updated",
      direction: "desc",
      since: new Date(Date.parse(NOW) - 14 * 86_400_000).toISOString(),
      per_page: "100",
      page: "1",
    })
    .reply(200, []);
}

function checkRun(gh: GithubApi, existing: number | null): void {
  gh.scope
    .get(`${API}/commits/${SHA}/check-runs`)
    .query({ check_name: "switchyard/analyze", filter: "all", per_page: "100", page: "1" })
    .reply(200, {
      total_count: existing === null ? 0 : 1,
      check_runs:
        existing === null
          ? []
          : [{ id: existing, name: "switchyard/analyze", external_id: "analysis:acme/widgets" }],
    });
  if (existing === null) gh.scope.post(`${API}/check-runs`).reply(201, { id: 500 });
  else gh.scope.patch(`${API}/check-runs/${existing}`).reply(200, { id: existing });
}

const bodyOf = (gh: GithubApi, method: string, p: string) =>
  gh.requests.find((r) => r.method === method && r.path === p)?.body as Record<string, unknown> | undefined;

describe("mode analyze", () => {
  it("first run: opens the alert, creates the dashboard with the 410 gap, a neutral check, posts the webhook", async () => {
    const gh = githubApi();
    noConfig(gh);
    await history(gh);
    listIssues(gh, "switchyard", [
      issue(3, "a task", ["switchyard"]),
      issue(4, "parked", ["switchyard", "switchyard:pr-open"]),
    ]);
    listIssues(gh, "switchyard:alert", []);
    gh.scope
      .post(`${API}/issues`)
      .reply(201, (_uri, body) => issue(21, (body as { body: string }).body, ["switchyard:alert"]));
    listIssues(gh, "switchyard:alert", [issue(21, "x", ["switchyard:alert"])]);
    listIssues(gh, "switchyard:dashboard", []);
    gh.scope
      .post(`${API}/issues`)
      .reply(201, (_uri, body) => issue(20, (body as { body: string }).body, ["switchyard:dashboard"]));
    listIssues(gh, "switchyard:dashboard", [issue(20, DASHBOARD_MARKER, ["switchyard:dashboard"])]);
    checkRun(gh, null);

    const result = await analyzeMode({ token: "ghs_token", webhookUrl: hookUrl }, process.env, FAST);
    gh.done();

    expect(result.firing).toEqual(["tool_success"]);
    expect(result.alerts.filter((a) => a.type !== "none").map((a) => [a.kind, a.type, a.number])).toEqual([
      ["tool_success", "opened", 21],
    ]);
    expect(result.dashboard).toEqual({
      number: 20,
      url: "https://github.com/acme/widgets/issues/20",
      action: "created",
      closedDuplicates: [],
    });
    expect(result.checkRun).toEqual({ id: 500, conclusion: "neutral" });

    // metrics.json: valid, the tool figures, the gone artifact as a gap.
    const metrics = MetricsSchema.parse(JSON.parse(await readFile(result.metricsPath, "utf8")));
    expect(result.metricsPath).toBe(path.join(temp, "switchyard", "analyze-77-1", "metrics.json"));
    expect(metrics.tools.map((t) => [t.tool, t.attempts, t.successes])).toEqual([
      ["aider", 6, 1],
      ["claude", 5, 5],
    ]);
    expect(metrics.gaps).toContain(GONE_GAP);

    // The alert issue: its marker, the tool and the links.
    const alertBody = gh.requests.filter((r) => r.method === "POST" && r.path === `${API}/issues`)[0]!
      .body as {
      title: string;
      body: string;
      labels: string[];
    };
    expect(alertBody.title).toBe("Switchyard alert: a tool's success rate is low");
    expect(alertBody.labels).toEqual(["switchyard:alert"]);
    expect(readAlertMarker(alertBody.body)?.state).toEqual({
      kind: "tool_success",
      since: NOW,
      notified_at: NOW,
      fingerprint: "aider",
    });
    expect(alertBody.body).toContain("| aider | 6 | 16.7% |");
    expect(alertBody.body).toContain("[analysis run](https://github.com/acme/widgets/actions/runs/77)");

    // The dashboard: the report with the gap and the alerts section pointing at the new issue.
    const dashboardBody = gh.requests.filter((r) => r.method === "POST" && r.path === `${API}/issues`)[1]!
      .body as {
      body: string;
      labels: string[];
    };
    expect(dashboardBody.labels).toEqual(["switchyard:dashboard"]);
    expect(dashboardBody.body.startsWith(`${DASHBOARD_MARKER}\n# Switchyard dashboard\n`)).toBe(true);
    expect(dashboardBody.body).toContain(`- ${GONE_GAP.replace(/_/g, "\\_")}`);
    expect(dashboardBody.body).toContain(
      "| tool success | 🔴 firing | 1 tool succeeds less than 50% of the time: aider (16.7% of 6) | #21 |",
    );
    // One task waits (the parked one does not), and Switchyard ran a day ago: healthy.
    expect(dashboardBody.body).toContain("| heartbeat | 🟢 healthy | the last Switchyard activity was");
    expect(await readFile(result.reportPath, "utf8")).toBe(dashboardBody.body);

    const check = bodyOf(gh, "POST", `${API}/check-runs`)!;
    expect(check).toMatchObject({
      name: "switchyard/analyze",
      head_sha: SHA,
      external_id: "analysis:acme/widgets",
      status: "completed",
      conclusion: "neutral",
      completed_at: NOW,
      details_url: "https://github.com/acme/widgets/actions/runs/77",
      output: {
        title: "11 tool attempts, 54.5% success; 1 alert: tool_success",
        summary: dashboardBody.body,
      },
    });

    expect(posted).toEqual([
      expect.objectContaining({
        schema: "switchyard.alert/v1",
        event: "opened",
        kind: "tool_success",
        issue: { number: 21, url: "https://github.com/acme/widgets/issues/21" },
        dashboard_url: "https://github.com/acme/widgets/issues/20",
        text:
          "[acme/widgets] Switchyard alert opened: 1 tool succeeds less than 50% of the time: aider (16.7% of 6) " +
          "(https://github.com/acme/widgets/issues/21)",
      }),
    ]);
    // The URL is masked first thing and appears nowhere else in the log.
    expect(stdout.split(hookUrl).length - 1).toBe(1);
    expect(stdout).toContain(`::add-mask::${hookUrl}`);

    expect(await outputs()).toEqual({
      "metrics-path": result.metricsPath,
      "report-path": result.reportPath,
      "dashboard-issue": "20",
      alerts: '["tool_success"]',
      conclusion: "neutral",
    });
    expect(await readFile(summaryFile, "utf8")).toBe(dashboardBody.body);
  });

  it("next run: edits the dashboard and the check run in place, reminds on the alert a week on", async () => {
    const gh = githubApi();
    noConfig(gh);
    await history(gh);
    listIssues(gh, "switchyard", []);
    const state = {
      kind: "tool_success" as const,
      since: daysAgo(8),
      notified_at: daysAgo(8),
      fingerprint: "aider",
    };
    listIssues(gh, "switchyard:alert", [issue(21, `${encodeAlertMarker(state)}\nold`, ["switchyard:alert"])]);
    gh.scope.post(`${API}/issues/21/comments`).reply(201, { id: 9 });
    gh.scope.patch(`${API}/issues/21`).reply(200, issue(21, "x", ["switchyard:alert"]));
    listIssues(gh, "switchyard:dashboard", [
      issue(20, `${DASHBOARD_MARKER}\nlast week`, ["switchyard:dashboard"], "Switchyard dashboard"),
    ]);
    gh.scope.patch(`${API}/issues/20`).reply(200, issue(20, "x", ["switchyard:dashboard"]));
    checkRun(gh, 500);

    const result = await analyzeMode({ token: "ghs_token", webhookUrl: hookUrl }, process.env, FAST);
    gh.done();

    expect(gh.requests.filter((r) => r.method !== "GET").map((r) => `${r.method} ${r.path}`)).toEqual([
      `POST ${API}/issues/21/comments`,
      `PATCH ${API}/issues/21`,
      `PATCH ${API}/issues/20`,
      `PATCH ${API}/check-runs/500`,
    ]);
    expect((bodyOf(gh, "POST", `${API}/issues/21/comments`)!.body as string).split("\n")[0]).toBe(
      "Still firing as of 2026-03-01 12:00 UTC: 1 tool succeeds less than 50% of the time: aider (16.7% of 6).",
    );
    expect(readAlertMarker(bodyOf(gh, "PATCH", `${API}/issues/21`)!.body as string)?.state).toEqual({
      ...state,
      notified_at: NOW,
    });
    expect(bodyOf(gh, "PATCH", `${API}/issues/20`)).toEqual({
      title: "Switchyard dashboard",
      body: result.report,
    });
    expect(result.dashboard?.action).toBe("updated");
    // No tasks wait: the heartbeat is healthy whatever the activity.
    expect(result.plan.evaluations.find((e) => e.kind === "heartbeat")?.status).toBe("healthy");
    expect(posted).toEqual([
      expect.objectContaining({ event: "still_firing", reason: "reminder", kind: "tool_success" }),
    ]);
  });

  it("an empty window from local event logs: a clearly empty report, the alert closed, a green check", async () => {
    const logs = path.join(temp, "logs");
    await mkdir(logs);
    const log = new LogBuilder();
    await runs(log, "aider", 3, 3, daysAgo(40));
    await writeFile(path.join(logs, "old.jsonl"), log.text());

    const gh = githubApi();
    noConfig(gh);
    listIssues(gh, "switchyard", []);
    const state = {
      kind: "quarantines" as const,
      since: daysAgo(3),
      notified_at: daysAgo(3),
      fingerprint: "quarantines",
    };
    listIssues(gh, "switchyard:alert", [issue(30, `${encodeAlertMarker(state)}\nold`, ["switchyard:alert"])]);
    gh.scope.post(`${API}/issues/30/comments`).reply(201, { id: 10 });
    gh.scope
      .patch(`${API}/issues/30`)
      .reply(200, { ...issue(30, "x", ["switchyard:alert"]), state: "closed" });
    listIssues(gh, "switchyard:dashboard", []);
    gh.scope.post(`${API}/issues`).reply(201, issue(20, "x", ["switchyard:dashboard"]));
    listIssues(gh, "switchyard:dashboard", [issue(20, DASHBOARD_MARKER, ["switchyard:dashboard"])]);
    checkRun(gh, null);

    const result = await analyzeMode({ token: "ghs_token", eventLogs: ["logs"] }, process.env, FAST);
    gh.done();

    expect(result.firing).toEqual([]);
    expect(result.checkRun).toEqual({ id: 500, conclusion: "success" });
    expect(result.metrics.input).toEqual({
      files: 1,
      lines: 3,
      events: 3,
      skipped: 0,
      in_window: 0,
      in_previous_window: 0,
      outside_windows: 3,
    });
    expect(result.report).toContain(
      "> No Switchyard activity between 2026-02-22 12:00 UTC and 2026-03-01 12:00 UTC.",
    );
    expect(bodyOf(gh, "POST", `${API}/issues/30/comments`)).toEqual({
      body:
        "Healthy again as of 2026-03-01 12:00 UTC: 0 quarantines in the last 7 days, at most 3. " +
        "[Dashboard](https://github.com/acme/widgets/issues?q=is%3Aissue%20is%3Aopen%20label%3A%22switchyard%3Adashboard%22) · " +
        "[analysis run](https://github.com/acme/widgets/actions/runs/77)\n\n" +
        "Switchyard closes this alert; it opens a new one if the threshold is crossed again.",
    });
    expect(bodyOf(gh, "PATCH", `${API}/issues/30`)).toEqual({ state: "closed", state_reason: "completed" });
    expect(bodyOf(gh, "POST", `${API}/check-runs`)).toMatchObject({
      conclusion: "success",
      output: { title: "no tool attempts; no alert" },
    });
    expect((await outputs()).alerts).toBe("[]");
  });

  it("dry run: reads and reports, writes nothing to GitHub", async () => {
    const gh = githubApi();
    noConfig(gh);
    await history(gh);
    listIssues(gh, "switchyard", []);
    listIssues(gh, "switchyard:alert", []);
    const result = await analyzeMode(
      { token: "ghs_token", dryRun: true, webhookUrl: hookUrl },
      process.env,
      FAST,
    );
    gh.done();
    expect(gh.requests.every((r) => r.method === "GET")).toBe(true);
    expect(result.dashboard).toBeNull();
    expect(result.checkRun).toBeNull();
    expect(posted).toEqual([]);
    expect(await readFile(summaryFile, "utf8")).toContain("**Dry run:** would open the tool_success alert.");
  });

  it("refuses a webhook URL that is not https before reading anything, without printing it", async () => {
    const secret = "http://hooks.example.com/services/very-secret";
    await expect(analyzeMode({ token: "ghs_token", webhookUrl: secret }, process.env, FAST)).rejects.toThrow(
      "the alert webhook URL must use https (plain http only to localhost); check the secret that holds it",
    );
    expect(stdout).toBe(`::add-mask::${secret}\n`);
  });
});

describe("mode analyze's inputs", () => {
  const inputs = (values: Record<string, string>) => (name: string) =>
    ({ mode: "analyze", "github-token": "t", "config-path": ".github/switchyard.yml", ...values })[name] ??
    "";

  it("reads unset inputs as defaults and splits event-logs", () => {
    expect(readInputs(inputs({}))).toMatchObject({ mode: "analyze", "event-logs": [], "dry-run": false });
    expect(
      readInputs(
        inputs({
          "event-logs": "a.jsonl,\n runs/ ",
          "window-days": "14",
          "dry-run": "true",
          "alert-webhook-url": " https://x/y ",
        }),
      ),
    ).toMatchObject({
      "event-logs": ["a.jsonl", "runs/"],
      "window-days": 14,
      "alert-webhook-url": "https://x/y",
      "dry-run": true,
    });
  });

  it("refuses values it cannot read", () => {
    expect(() => readInputs(inputs({ "window-days": "7d" }))).toThrow(
      "input window-days: window-days must be a whole number of days from 1 to 90",
    );
    expect(() => readInputs(inputs({ "window-days": "91" }))).toThrow(
      "input window-days: window-days must be a whole number of days from 1 to 90",
    );
    expect(() => readInputs(inputs({ "dry-run": "yes" }))).toThrow(
      "input dry-run: dry-run must be true or false",
    );
  });
});

describe("docs/examples/workflows/switchyard-analyze.yml", () => {
  const file = path.resolve(import.meta.dirname, "../../docs/examples/workflows/switchyard-analyze.yml");
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const wf = parse(readFileSync(file, "utf8")) as any;

  it("runs on a schedule and by hand, one at a time", () => {
    expect(Object.keys(wf.on)).toEqual(["schedule", "workflow_dispatch"]);
    expect(wf.concurrency).toEqual({ group: "switchyard-analyze", "cancel-in-progress": false });
  });

  it("grants nothing at the top and only what the analysis uses", () => {
    expect(wf.permissions).toEqual({});
    expect(wf.jobs.analyze.permissions).toEqual({
      actions: "read",
      checks: "write",
      contents: "read",
      issues: "write",
      "pull-requests": "read",
    });
  });

  it("passes only inputs mode analyze reads, and uploads metrics.json as switchyard-metrics", () => {
    const [step, upload] = wf.jobs.analyze.steps;
    const names = Object.keys(step.with).filter((k) => k !== "mode");
    expect(step.with.mode).toBe("analyze");
    for (const name of names) expect(ACTION_INPUT_NAMES).toContain(name);
    expect(step.with["alert-webhook-url"]).toBe("${{ secrets.SWITCHYARD_ALERT_WEBHOOK }}");
    expect(upload.uses).toBe("actions/upload-artifact@v4");
    expect(upload.with).toMatchObject({
      name: "switchyard-metrics",
      path: "${{ steps.analyze.outputs.metrics-path }}",
    });
  });
});
