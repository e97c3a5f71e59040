import { afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { Octokit } from "@octokit/rest";
import { strToU8, zipSync } from "fflate";
import nock from "nock";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { InputError } from "../../src/core/errors.js";
import { classify } from "../../src/core/recovery/classify.js";
import { encodeMarker } from "../../src/core/status-marker.js";
import { readRepositoryHistory } from "../../src/github/analysis-source.js";
import { FileCache, MemoryCache } from "../../src/github/conditional-cache.js";
import { extractEvidence } from "../../src/runner/evidence.js";
import { blockNetwork, githubApi, resetGithubApi, type GithubApi } from "../support/github-contract.js";

const octokit = new Octokit({ auth: "secret-token", log: { debug() {}, info() {}, warn() {}, error() {} } });
const BLOB = "https://pipelines.blob.example.net";
const LOG = path.resolve("test/fixtures/logs/test/pytest-basic.log");
const SINCE = "2026-03-01T00:00:00Z";
const UNTIL = "2026-03-08T00:00:00Z";

beforeAll(() => blockNetwork());
afterEach(() => resetGithubApi());

function wireRun(id: number, created_at: string, over: Record<string, unknown> = {}) {
  return {
    id,
    name: "CI",
    path: ".github/workflows/ci.yml",
    workflow_id: 10,
    head_sha: "a".repeat(40),
    event: "push",
    status: "completed",
    conclusion: "success",
    run_attempt: 1,
    created_at,
    display_title: "a commit",
    ...over,
  };
}

function runsPage(gh: GithubApi, page: number, runs: object[], headers: Record<string, string> = {}) {
  return gh.scope
    .get("/repos/o/r/actions/runs")
    .query({ per_page: "100", page: String(page), exclude_pull_requests: "true" })
    .reply(200, { total_count: 1000, workflow_runs: runs }, headers);
}

function comments(gh: GithubApi, list: object[], since = SINCE) {
  gh.scope
    .get("/repos/o/r/issues/comments")
    .query({ sort: "updated", direction: "desc", since, per_page: "100", page: "1" })
    .reply(200, list);
}

/** A run of Switchyard's execute workflow, which may upload event logs. */
function executeRun(id: number, created_at: string, over: Record<string, unknown> = {}) {
  return wireRun(id, created_at, {
    name: "switchyard-execute",
    path: ".github/workflows/switchyard-execute.yml",
    workflow_id: 30,
    event: "workflow_dispatch",
    display_title: "switchyard #5",
    ...over,
  });
}

function noArtifacts(gh: GithubApi) {
  gh.scope
    .get("/repos/o/r/actions/artifacts")
    .query({ name: "switchyard-events", per_page: "100", page: "1" })
    .reply(200, { total_count: 0, artifacts: [] });
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

function eventLine(id: string, at: string, extra: object): string {
  return JSON.stringify({ id, at, task_key: "o/r#5", ...extra });
}

describe("readRepositoryHistory", () => {
  it("reads runs back to the window's edge, event logs, failed jobs and their logs, and says what is gone", async () => {
    const gh = githubApi();
    // Page 1: a hundred runs, the newest after the window (left out); page 2 reaches past `since`.
    const page1 = [wireRun(1000, "2026-03-09T00:00:00Z")];
    for (let n = 1; n < 100; n++) {
      page1.push(wireRun(1000 - n, `2026-03-07T${String(n % 24).padStart(2, "0")}:00:00Z`));
    }
    page1[1] = wireRun(999, "2026-03-07T23:00:00Z", { conclusion: "failure", head_sha: "b".repeat(40) });
    page1[2] = wireRun(998, "2026-03-07T22:00:00Z", { conclusion: "success", run_attempt: 2 });
    runsPage(gh, 1, page1);
    runsPage(gh, 2, [
      executeRun(5, "2026-03-04T23:59:00Z"),
      wireRun(900, "2026-03-02T00:00:00Z"),
      wireRun(899, "2026-02-20T00:00:00Z"),
    ]);

    const jsonl =
      eventLine("01J00000000000000000000001", "2026-03-05T00:00:00.000Z", {
        type: "execute_finished",
        tool: "aider",
        attempt: 1,
        outcome: "success",
        duration_ms: 1200,
        exit_code: 0,
      }) +
      "\n" +
      '{"id":"01J00000000000000000000002","at":"2026-03-05T00:0' + // cut short by a failed upload
      "\n";
    const zip = zipSync({ "events.jsonl": strToU8(jsonl) });
    const artifact = (id: number, expired: boolean, created_at: string, run = 5) => ({
      id,
      name: "switchyard-events",
      size_in_bytes: zip.length,
      expired,
      created_at,
      workflow_run: { id: run, head_sha: "a".repeat(40) },
    });
    gh.scope
      .get("/repos/o/r/actions/artifacts")
      .query({ name: "switchyard-events", per_page: "100", page: "1" })
      .reply(200, {
        total_count: 3,
        artifacts: [
          // Uploaded by a push run of CI, not by Switchyard's workflow: not read.
          artifact(72, false, "2026-03-07T23:30:00Z", 999),
          artifact(71, false, "2026-03-05T00:01:00Z"),
          artifact(70, true, "2026-03-03T00:00:00Z"),
          artifact(60, false, "2026-02-01T00:00:00Z"),
        ],
      });
    gh.scope.get("/repos/o/r/actions/artifacts/71/zip").reply(302, "", { Location: `${BLOB}/a71.zip` });
    nock(BLOB).get("/a71.zip").reply(200, Buffer.from(zip));
    comments(gh, []);

    // The failed run's latest jobs; the re-run's first attempt.
    gh.scope
      .get("/repos/o/r/actions/runs/999/jobs")
      .query({ filter: "latest", per_page: "100", page: "1" })
      .reply(200, {
        total_count: 2,
        jobs: [
          {
            id: 5001,
            run_id: 999,
            run_attempt: 1,
            name: "test",
            conclusion: "failure",
            completed_at: "2026-03-07T23:10:00Z",
          },
          {
            id: 5002,
            run_id: 999,
            run_attempt: 1,
            name: "lint",
            conclusion: "success",
            completed_at: "2026-03-07T23:05:00Z",
          },
          {
            id: 5003,
            run_id: 999,
            run_attempt: 1,
            name: "e2e",
            conclusion: "failure",
            completed_at: "2026-03-07T23:12:00Z",
          },
        ],
      });
    gh.scope
      .get("/repos/o/r/actions/runs/998/attempts/1/jobs")
      .query({ per_page: "100", page: "1" })
      .reply(200, {
        total_count: 1,
        jobs: [
          { id: 4001, run_id: 998, run_attempt: 1, name: "flaky", conclusion: "failure", completed_at: null },
        ],
      });
    const log = await readFile(LOG);
    gh.scope.get("/repos/o/r/actions/jobs/5001/logs").reply(302, "", { Location: `${BLOB}/log-5001.txt` });
    nock(BLOB).get("/log-5001.txt").reply(200, log, { "content-type": "text/plain" });
    gh.scope.get("/repos/o/r/actions/jobs/5003/logs").reply(410, { message: "Gone" });

    const history = await readRepositoryHistory(octokit, {
      owner: "o",
      repo: "r",
      since: SINCE,
      until: UNTIL,
      maxRequests: 50,
    });
    gh.done();

    expect(history.runs.map((r) => r.id)).toEqual([...page1.slice(1).map((r) => r.id), 5, 900]);
    expect(history.runs[0]).toEqual({
      id: 999,
      workflow: "CI",
      workflow_id: 10,
      head_sha: "b".repeat(40),
      event: "push",
      status: "completed",
      conclusion: "failure",
      run_attempt: 1,
      created_at: "2026-03-07T23:00:00Z",
      display_title: "a commit",
    });
    const expected = classify(await extractEvidence(once(log), { maxBytes: 64 * 1024 }));
    expect(expected.category).toBe("test");
    expect(history.jobs).toEqual([
      {
        run_id: 999,
        run_attempt: 1,
        job_id: 5001,
        name: "test",
        completed_at: "2026-03-07T23:10:00Z",
        signature: expected.signature,
        category: "test",
      },
      { run_id: 999, run_attempt: 1, job_id: 5003, name: "e2e", completed_at: "2026-03-07T23:12:00Z" },
      { run_id: 998, run_attempt: 1, job_id: 4001, name: "flaky", completed_at: null },
    ]);
    expect(history.events).toEqual([
      {
        id: "01J00000000000000000000001",
        at: "2026-03-05T00:00:00.000Z",
        task_key: "o/r#5",
        type: "execute_finished",
        tool: "aider",
        attempt: 1,
        outcome: "success",
        duration_ms: 1200,
        exit_code: 0,
      },
    ]);
    expect(history.input).toEqual({ files: 1, lines: 2, events: 1, skipped: 1 });
    expect(history.warnings).toEqual([
      {
        source: "switchyard-events #71/events.jsonl",
        line: 2,
        error: "not valid JSON (truncated or corrupt line)",
      },
    ]);
    expect(history.gaps).toEqual([
      "event logs: 1 switchyard-events artifact left out: not uploaded by a dispatched or workflow_run run of " +
        ".github/workflows/switchyard-execute.yml or .github/workflows/switchyard-recover.yml created in the " +
        "span read (first: artifact 72 of run 999)",
      "event logs: 1 switchyard-events artifact has expired (artifacts are kept for the repository's retention period)",
      "event logs: 1 corrupt or truncated line skipped (first: switchyard-events #71/events.jsonl:2, not valid JSON (truncated or corrupt line))",
      "job logs: 1 failed job's log is gone (expired or deleted)",
    ]);
    // 2 run pages, 1 artifact list, 1 download, 1 comment list, 2 job lists, 2 logs.
    expect(history.requests).toBe(9);
    expect(history.recovery).toEqual({ comments: 0, markers: 0, steps: 0, duplicates: 0 });
    expect(history.budgetExhausted).toBe(false);
  });

  it("stops at the budget and reports the gap instead of failing", async () => {
    const gh = githubApi();
    const full = Array.from({ length: 100 }, (_, n) =>
      wireRun(5000 - n, `2026-03-07T${String(23 - (n % 24)).padStart(2, "0")}:00:00Z`),
    );
    runsPage(gh, 1, full);
    runsPage(
      gh,
      2,
      full.map((r) => ({ ...r, id: r.id - 100, created_at: "2026-03-06T00:00:00Z" })),
    );
    const history = await readRepositoryHistory(octokit, {
      owner: "o",
      repo: "r",
      since: SINCE,
      until: UNTIL,
      maxRequests: 2,
    });
    gh.done();
    expect(history.runs).toHaveLength(200);
    expect(history.requests).toBe(2);
    expect(history.budgetExhausted).toBe(true);
    expect(history.gaps).toEqual([
      "workflow runs: only those created after 2026-03-06T00:00:00Z were read, not back to 2026-03-01T00:00:00Z " +
        "(the budget of 2 requests was used up; raise it or shorten the window)",
      "event logs: not read (the budget of 2 requests was used up; raise it or shorten the window)",
    ]);
  });

  it("leaves a failed job's log unread when the budget ends before it", async () => {
    const gh = githubApi();
    runsPage(gh, 1, [wireRun(7, "2026-03-03T00:00:00Z", { conclusion: "failure" })]);
    gh.scope
      .get("/repos/o/r/actions/runs/7/jobs")
      .query(true)
      .reply(200, {
        total_count: 1,
        jobs: [
          { id: 70, run_id: 7, run_attempt: 1, name: "test", conclusion: "failure", completed_at: null },
        ],
      });
    const history = await readRepositoryHistory(octokit, {
      owner: "o",
      repo: "r",
      since: SINCE,
      until: UNTIL,
      maxRequests: 2,
      events: false,
      recoveryComments: false,
    });
    gh.done();
    expect(history.jobs).toEqual([
      { run_id: 7, run_attempt: 1, job_id: 70, name: "test", completed_at: null },
    ]);
    expect(history.gaps).toEqual([
      "event logs: not read (tool and recovery figures need the switchyard-events artifacts)",
      "recovery: the recovery status comments were not read (the app's recovery steps are not counted)",
      "job logs: 1 failed job's log not read (the budget of 2 requests was used up; raise it or shorten the window)",
    ]);
  });

  it("gives a clearly empty history for an empty window", async () => {
    const gh = githubApi();
    runsPage(gh, 1, []);
    noArtifacts(gh);
    comments(gh, []);
    const history = await readRepositoryHistory(octokit, {
      owner: "o",
      repo: "r",
      since: SINCE,
      until: UNTIL,
      maxRequests: 10,
    });
    gh.done();
    expect(history).toMatchObject({
      repository: "o/r",
      runs: [],
      jobs: [],
      events: [],
      gaps: [],
      requests: 3,
      input: { files: 0, lines: 0, events: 0, skipped: 0 },
    });
  });

  it("asks again with If-None-Match and reuses what a 304 confirms; a classified job costs nothing the next time", async () => {
    const cache = new MemoryCache();
    const runs = [wireRun(7, "2026-03-03T00:00:00Z", { conclusion: "failure" })];
    const jobs = {
      total_count: 1,
      jobs: [{ id: 70, run_id: 7, run_attempt: 1, name: "test", conclusion: "failure", completed_at: null }],
    };
    const log = await readFile(LOG);
    const input = {
      owner: "o",
      repo: "r",
      since: SINCE,
      until: UNTIL,
      maxRequests: 10,
      events: false,
      recoveryComments: false,
      cache,
    };

    const first = githubApi();
    runsPage(first, 1, runs, { ETag: '"runs-1"' });
    first.scope.get("/repos/o/r/actions/runs/7/jobs").query(true).reply(200, jobs, { ETag: 'W/"jobs-7"' });
    first.scope.get("/repos/o/r/actions/jobs/70/logs").reply(302, "", { Location: `${BLOB}/log-70.txt` });
    nock(BLOB).get("/log-70.txt").reply(200, log);
    const one = await readRepositoryHistory(octokit, input);
    first.done();
    expect(one.requests).toBe(3);
    expect(one.notModified).toBe(0);

    const second = githubApi();
    second.scope
      .get("/repos/o/r/actions/runs")
      .query(true)
      .matchHeader("if-none-match", '"runs-1"')
      .reply(304, "");
    second.scope
      .get("/repos/o/r/actions/runs/7/jobs")
      .query(true)
      .matchHeader("if-none-match", 'W/"jobs-7"')
      .reply(304, "");
    const two = await readRepositoryHistory(octokit, input);
    second.done();
    expect(two.requests).toBe(2);
    expect(two.notModified).toBe(2);
    expect(two.runs).toEqual(one.runs);
    expect(two.jobs).toEqual(one.jobs);
    expect(two.jobs[0]?.category).toBe("test");
  });

  it("reads only event logs uploaded by a dispatched or workflow_run run of Switchyard's own workflows", async () => {
    const gh = githubApi();
    runsPage(gh, 1, [
      executeRun(41, "2026-03-06T00:00:00Z"),
      // A pull request's run of a workflow file at the same path: a fork can write that file.
      executeRun(42, "2026-03-05T00:00:00Z", { event: "pull_request" }),
      // The Action-only recovery runs on workflow_run; the ref GitHub appends is ignored.
      executeRun(43, "2026-03-04T00:00:00Z", {
        name: "switchyard-recover",
        path: ".github/workflows/switchyard-recover.yml@refs/heads/main",
        event: "workflow_run",
      }),
      wireRun(44, "2026-03-03T00:00:00Z"),
    ]);
    const line = (tool: string, at: string) =>
      eventLine(`01J0000000000000000000${tool.length}${at.slice(9, 10)}AB`, at, {
        type: "execute_finished",
        tool,
        attempt: 1,
        outcome: "success",
        duration_ms: 10,
        exit_code: 0,
      }) + "\n";
    const zips: Record<number, Uint8Array> = {
      81: zipSync({ "events.jsonl": strToU8(line("claude", "2026-03-06T01:00:00.000Z")) }),
      82: zipSync({ "events.jsonl": strToU8(line("forged", "2026-03-05T01:00:00.000Z")) }),
      83: zipSync({ "events.jsonl": strToU8(line("aider", "2026-03-04T01:00:00.000Z")) }),
      84: zipSync({ "events.jsonl": strToU8(line("forged", "2026-03-03T01:00:00.000Z")) }),
    };
    const wire = (id: number, run: number | null, created_at: string) => ({
      id,
      name: "switchyard-events",
      size_in_bytes: zips[id]?.length ?? 100,
      expired: false,
      created_at,
      workflow_run: run === null ? null : { id: run, head_sha: "a".repeat(40) },
    });
    gh.scope
      .get("/repos/o/r/actions/artifacts")
      .query({ name: "switchyard-events", per_page: "100", page: "1" })
      .reply(200, {
        total_count: 5,
        artifacts: [
          wire(81, 41, "2026-03-06T02:00:00Z"),
          wire(82, 42, "2026-03-05T02:00:00Z"),
          wire(83, 43, "2026-03-04T02:00:00Z"),
          wire(84, 44, "2026-03-03T02:00:00Z"),
          wire(85, null, "2026-03-02T02:00:00Z"),
        ],
      });
    for (const id of [81, 83]) {
      gh.scope
        .get(`/repos/o/r/actions/artifacts/${id}/zip`)
        .reply(302, "", { Location: `${BLOB}/a${id}.zip` });
      nock(BLOB).get(`/a${id}.zip`).reply(200, Buffer.from(zips[id]!));
    }
    comments(gh, []);
    const history = await readRepositoryHistory(octokit, {
      owner: "o",
      repo: "r",
      since: SINCE,
      until: UNTIL,
      maxRequests: 20,
      maxLogs: 0,
      // As configured: a file name alone matches the file in any folder GitHub reports.
      eventWorkflows: [".github/workflows/switchyard-execute.yml", "switchyard-recover.yml"],
    });
    gh.done();
    expect(history.events.map((e) => (e.type === "execute_finished" ? e.tool : e.type))).toEqual([
      "aider",
      "claude",
    ]);
    expect(history.gaps).toEqual([
      "event logs: 3 switchyard-events artifacts left out: not uploaded by a dispatched or workflow_run run of " +
        ".github/workflows/switchyard-execute.yml or switchyard-recover.yml created in the span read " +
        "(first: artifact 82 of run 42)",
    ]);
    expect(history.requests).toBe(5);
  });

  it("adds the app's recovery steps from the ladder states in bot-written recovery comments", async () => {
    const gh = githubApi();
    runsPage(gh, 1, [
      executeRun(51, "2026-03-06T00:00:00Z", {
        name: "switchyard-recover",
        path: ".github/workflows/switchyard-recover.yml",
      }),
    ]);
    const head = "c".repeat(40);
    const state = (pr: number, over: Record<string, unknown>) => ({
      version: 1,
      key: `o/r#${pr}`,
      head_sha: head,
      category: "lint",
      step: "done",
      pending: null,
      rung: 0,
      tried: [],
      attempts: 1,
      rerun_sha: null,
      last_attempt_at: "2026-03-04T00:00:00.000Z",
      seen_ci: [],
      reason: "fixed",
      history: [
        {
          step: "mechanical",
          tools: ["prettier"],
          head_sha: head,
          at: "2026-03-04T00:00:00.000Z",
          outcome: "fixed",
          reason: "ok",
        },
      ],
      ...over,
    });
    const bot = { login: "switchyard-app[bot]", type: "Bot" };
    const comment = (id: number, pr: number, body: string, user = bot) => ({
      id,
      node_id: "IC_x",
      url: `https://api.github.com/repos/o/r/issues/comments/${id}`,
      html_url: `https://github.com/o/r/pull/${pr}#issuecomment-${id}`,
      issue_url: `https://api.github.com/repos/o/r/issues/${pr}`,
      body,
      user,
      created_at: "2026-03-04T00:00:00Z",
      updated_at: "2026-03-05T00:00:00Z",
      author_association: "NONE",
    });
    // The same mechanical fix is in an uploaded event log: counted once.
    const logged = JSON.stringify({
      id: "01J00000000000000000000009",
      at: "2026-03-04T00:00:00.000Z",
      task_key: "o/r#12",
      run_id: "51",
      type: "recovery_step",
      step: "mechanical",
      category: "lint",
      ok: true,
      reason: "fixed",
    });
    const zip = zipSync({ "events.jsonl": strToU8(logged + "\n") });
    gh.scope
      .get("/repos/o/r/actions/artifacts")
      .query({ name: "switchyard-events", per_page: "100", page: "1" })
      .reply(200, {
        total_count: 1,
        artifacts: [
          {
            id: 91,
            name: "switchyard-events",
            size_in_bytes: zip.length,
            expired: false,
            created_at: "2026-03-06T01:00:00Z",
            workflow_run: { id: 51, head_sha: head },
          },
        ],
      });
    gh.scope.get("/repos/o/r/actions/artifacts/91/zip").reply(302, "", { Location: `${BLOB}/a91.zip` });
    nock(BLOB).get("/a91.zip").reply(200, Buffer.from(zip));
    const quarantined = state(13, {
      category: "test",
      step: "quarantine",
      attempts: 3,
      history: [
        {
          step: "ai",
          tool: "claude",
          head_sha: head,
          at: "2026-03-05T00:00:00.000Z",
          outcome: "failed",
          reason: "still red",
        },
      ],
    });
    comments(gh, [
      comment(1, 12, `${encodeMarker(state(12, {}), "recovery")}\n## Recovery\nFixed by prettier.`),
      comment(2, 13, `${encodeMarker(quarantined, "recovery")}\n## Recovery\nQuarantined.`),
      // A person pasting a marker: text, not state.
      comment(3, 14, encodeMarker(state(14, {}), "recovery"), { login: "mallory", type: "User" }),
      // A bot quoting another PR's state on this one: the key does not name this PR.
      comment(4, 15, encodeMarker(state(12, {}), "recovery")),
      // A damaged marker.
      comment(5, 16, "<!-- switchyard:recovery v1 !!!not-base64 -->"),
      comment(6, 17, "LGTM"),
    ]);
    const history = await readRepositoryHistory(octokit, {
      owner: "o",
      repo: "r",
      since: SINCE,
      until: UNTIL,
      maxRequests: 20,
      maxLogs: 0,
    });
    gh.done();
    expect(gh.requests.at(-1)?.operationId).toBe("issues/list-comments-for-repo");
    expect(history.recovery).toEqual({ comments: 6, markers: 2, steps: 2, duplicates: 1 });
    expect(
      history.events.map((e) =>
        e.type === "recovery_step" ? [e.task_key, e.at, e.step, e.category, e.ok] : e.type,
      ),
    ).toEqual([
      ["o/r#12", "2026-03-04T00:00:00.000Z", "mechanical", "lint", true],
      ["o/r#13", "2026-03-05T00:00:00.000Z", "ai", "test", false],
      ["o/r#13", "2026-03-05T00:00:00Z", "quarantine", "test", true],
    ]);
    expect(history.gaps).toEqual([
      "recovery: 1 recovery comment's switchyard:recovery marker could not be read (edited or damaged)",
    ]);
  });

  it("refuses a window that ends before it starts", async () => {
    await expect(
      readRepositoryHistory(octokit, { owner: "o", repo: "r", since: UNTIL, until: SINCE, maxRequests: 5 }),
    ).rejects.toThrow(
      new InputError("cannot read the repository's history: since: since must not be after until"),
    );
  });

  it("turns a refused token into an error that names the permission", async () => {
    const gh = githubApi();
    gh.scope
      .get("/repos/o/r/actions/runs")
      .query(true)
      .reply(403, { message: "Resource not accessible by integration" });
    await expect(
      readRepositoryHistory(octokit, { owner: "o", repo: "r", since: SINCE, until: UNTIL, maxRequests: 5 }),
    ).rejects.toThrow(
      "listing the workflow runs of o/r failed: GitHub answered 403 (Resource not accessible by integration): " +
        "the token is not allowed to do this (it needs `actions: read`)",
    );
    gh.done();
  });
});

describe("FileCache", () => {
  it("keeps entries across runs and starts empty, saying why, from a corrupt file", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "sy-cache-"));
    const file = path.join(dir, "cache", "github.json");
    const a = await FileCache.open(file);
    expect(a.problem).toBeNull();
    a.set("k", { etag: '"e"', value: { n: 1 } });
    await a.save();
    const b = await FileCache.open(file);
    expect(b.get("k")).toEqual({ etag: '"e"', value: { n: 1 } });

    await writeFile(file, '{"version":1,"entries":[["k",');
    const c = await FileCache.open(file);
    expect(c.size).toBe(0);
    expect(c.problem).toBe(`the cache ${file} is not JSON (a write was cut short?); starting empty`);
  });

  it("forgets the least recently used entry when full", () => {
    const cache = new MemoryCache(2);
    cache.set("a", { etag: null, value: 1 });
    cache.set("b", { etag: null, value: 2 });
    cache.get("a");
    cache.set("c", { etag: null, value: 3 });
    expect(cache.get("b")).toBeUndefined();
    expect(cache.get("a")?.value).toBe(1);
    expect(cache.get("c")?.value).toBe(3);
  });
});
