import { afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { strToU8, zipSync } from "fflate";
import nock from "nock";
import { classify } from "../../src/core/recovery/classify.js";
import { gatherRunEvidence } from "../../src/github/failed-run-evidence.js";
import { createOctokit } from "../../src/github/octokit.js";
import { blockNetwork, githubApi, resetGithubApi, type GithubApi } from "../support/github-contract.js";

const R = "/repos/octo/repo";
const LOGS = "https://pipelines.actions.githubusercontent.example";
const BLOB = "https://artifacts.actions.githubusercontent.example";
const silent = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

const octokit = (gh: GithubApi) =>
  createOctokit({ auth: "test", baseUrl: gh.baseUrl, retries: 0, throttle: false, log: silent });

function job(id: number, name: string, conclusion: string, steps: [string, string][]) {
  return {
    id,
    name,
    conclusion,
    html_url: `https://github.com/octo/repo/actions/runs/9/job/${id}`,
    steps: steps.map(([n, c], i) => ({ name: n, conclusion: c, number: i + 1, status: "completed" })),
  };
}

function jobs(gh: GithubApi, list: object[]) {
  gh.scope
    .get(`${R}/actions/runs/9/jobs`)
    .query({ filter: "latest", per_page: "100", page: "1" })
    .reply(200, { total_count: list.length, jobs: list });
}

/** The logs endpoint's 302 to a plain-text URL on another host, which must not see the token. */
function log(gh: GithubApi, id: number, body: string | Buffer) {
  gh.scope.get(`${R}/actions/jobs/${id}/logs`).reply(302, "", { Location: `${LOGS}/job-${id}.txt?sig=x` });
  return nock(LOGS, { badheaders: ["authorization"] })
    .get(`/job-${id}.txt`)
    .query({ sig: "x" })
    .reply(200, body, { "content-type": "text/plain" });
}

function annotations(gh: GithubApi, id: number, list: object[] = []) {
  gh.scope.get(`${R}/check-runs/${id}/annotations`).query({ per_page: "50" }).reply(200, list);
}

function artifacts(gh: GithubApi, list: object[] = []) {
  gh.scope
    .get(`${R}/actions/runs/9/artifacts`)
    .query(true)
    .reply(200, { total_count: list.length, artifacts: list });
}

const FORMAT_LOG = [
  "2025-03-01T12:00:00.0000000Z ##[group]Run npm ci",
  "2025-03-01T12:00:01.0000000Z added 200 packages",
  "2025-03-01T12:00:02.0000000Z ##[endgroup]",
  "2025-03-01T12:00:03.0000000Z ##[group]Run npx prettier --check .",
  "2025-03-01T12:00:04.0000000Z Checking formatting...",
  "2025-03-01T12:00:05.0000000Z [warn] src/a.ts",
  "2025-03-01T12:00:06.0000000Z [warn] Code style issues found in the above file. Run Prettier with --write to fix.",
  "2025-03-01T12:00:07.0000000Z ##[error]Process completed with exit code 1.",
  "",
].join("\n");

beforeAll(() => blockNetwork());
afterEach(() => resetGithubApi());

describe("gatherRunEvidence", () => {
  it("reads the failed job's 302 log, its annotations and its failed step", async () => {
    const gh = githubApi();
    jobs(gh, [
      job(11, "build", "success", [["Run npm ci", "success"]]),
      job(12, "lint", "failure", [
        ["Run npm ci", "success"],
        ["Run npx prettier --check .", "failure"],
      ]),
    ]);
    const store = log(gh, 12, FORMAT_LOG);
    annotations(gh, 12, [
      {
        path: "src/a.ts",
        start_line: 3,
        end_line: 3,
        annotation_level: "failure",
        message: "Code style issues",
        title: "prettier",
        blob_href: "x",
        start_column: null,
        end_column: null,
        raw_details: null,
      },
    ]);
    artifacts(gh);

    const got = await gatherRunEvidence(octokit(gh), { owner: "octo", repo: "repo", run_id: 9 });
    gh.done();
    expect(store.isDone()).toBe(true);

    expect(got.gaps).toEqual([]);
    expect(got.failed_jobs).toEqual([
      {
        id: 12,
        name: "lint",
        conclusion: "failure",
        failed_steps: ["Run npx prettier --check ."],
        html_url: "https://github.com/octo/repo/actions/runs/9/job/12",
      },
    ]);
    expect(got.evidence).toMatchObject({
      source: "octo/repo job 12 (lint)",
      lines: 8,
      failed_step: "Run npx prettier --check .",
      error_lines: 1,
      binary: false,
      truncated: false,
      annotations: [
        { path: "src/a.ts", line: 3, level: "failure", message: "Code style issues", title: "prettier" },
      ],
      tests: [],
    });
    expect(got.evidence.excerpts.flatMap((e) => e.lines.map((l) => l.text))).toContain("[warn] src/a.ts");
    expect(classify(got.evidence).category).toBe("format");
  });

  it("reports a log that is gone (410) or missing (404) as gaps, and keeps the annotations", async () => {
    const gh = githubApi();
    jobs(gh, [
      job(21, "test", "failure", [["Run npm test", "failure"]]),
      job(22, "types", "failure", [["Run tsc", "failure"]]),
    ]);
    gh.scope.get(`${R}/actions/jobs/21/logs`).reply(410, { message: "Gone" });
    gh.scope.get(`${R}/actions/jobs/22/logs`).reply(404, { message: "Not Found" });
    annotations(gh, 21, [
      { path: "src/b.test.ts", start_line: 10, annotation_level: "failure", message: "expected 1 to be 2" },
    ]);
    annotations(gh, 22);
    artifacts(gh);

    const got = await gatherRunEvidence(octokit(gh), { owner: "octo", repo: "repo", run_id: 9 });
    gh.done();
    expect(got.gaps).toEqual([
      "the log of job 'test' is gone (410): GitHub deletes logs after the retention period",
      "the log of job 'types' was not found (404): it was deleted, or never uploaded",
    ]);
    expect(got.evidence).toMatchObject({
      source: "octo/repo run 9",
      bytes: 0,
      lines: 0,
      failed_step: "Run npm test",
      excerpts: [],
      notes: [],
      annotations: [
        { path: "src/b.test.ts", line: 10, level: "failure", message: "expected 1 to be 2", title: null },
      ],
    });
  });

  it("says so when a job failed without a failed step", async () => {
    const gh = githubApi();
    jobs(gh, [job(31, "e2e", "timed_out", [["Run npm ci", "success"]])]);
    log(gh, 31, "2025-03-01T12:00:00Z ##[group]Run npm ci\n2025-03-01T12:00:01Z ok\n");
    annotations(gh, 31);
    artifacts(gh);
    const got = await gatherRunEvidence(octokit(gh), { owner: "octo", repo: "repo", run_id: 9 });
    gh.done();
    expect(got.gaps).toEqual([
      "job 'e2e' timed out without a failed step (a job-level timeout, a lost runner, or a failed service container)",
    ]);
    expect(got.evidence.no_error_lines).toBe(true);
    expect(got.evidence.failed_step).toBeNull();
  });

  it("reports a run without any failed job", async () => {
    const gh = githubApi();
    jobs(gh, [job(41, "build", "cancelled", [])]);
    artifacts(gh);
    const got = await gatherRunEvidence(octokit(gh), { owner: "octo", repo: "repo", run_id: 9 });
    gh.done();
    expect(got.gaps).toEqual(["run 9 has no failed job: there is no log to read"]);
    expect(got.failed_jobs).toEqual([]);
  });

  it("stops reading a huge log at the cap and says so", async () => {
    const gh = githubApi();
    jobs(gh, [job(51, "flood", "failure", [["Run ./flood", "failure"]])]);
    const line = "2025-03-01T12:00:00Z noise noise noise noise noise noise noise noise\n";
    log(gh, 51, "2025-03-01T12:00:00Z ##[group]Run ./flood\n" + line.repeat(5000));
    annotations(gh, 51);
    artifacts(gh);
    const got = await gatherRunEvidence(octokit(gh), {
      owner: "octo",
      repo: "repo",
      run_id: 9,
      maxLogBytes: 4096,
    });
    gh.done();
    expect(got.gaps).toEqual(["the log of job 'flood' is larger than 4096 bytes; the rest was not read"]);
    expect(got.evidence.bytes).toBe(4096);
  });

  it("notes a binary log instead of failing on it", async () => {
    const gh = githubApi();
    jobs(gh, [job(61, "bin", "failure", [["Run ./bin", "failure"]])]);
    const bytes = Buffer.concat([
      Buffer.from("2025-03-01T12:00:00Z ##[group]Run ./bin\n"),
      Buffer.from([0, 0xff, 0xfe, 0x00, 0x41, 0x0a]),
      Buffer.from("2025-03-01T12:00:02Z ##[error]Process completed with exit code 2.\n"),
    ]);
    log(gh, 61, bytes);
    annotations(gh, 61);
    artifacts(gh);
    const got = await gatherRunEvidence(octokit(gh), { owner: "octo", repo: "repo", run_id: 9 });
    gh.done();
    expect(got.evidence.binary).toBe(true);
    expect(got.evidence.notes).toContain(
      "the log holds binary data (NUL bytes or invalid UTF-8), shown as �",
    );
    expect(got.evidence.error_lines).toBe(1);
  });

  it("reads failing tests from a JUnit artifact", async () => {
    const gh = githubApi();
    jobs(gh, [job(71, "test", "failure", [["Run npm test", "failure"]])]);
    log(gh, 71, "2025-03-01T12:00:00Z ##[group]Run npm test\n2025-03-01T12:00:01Z ##[error]tests failed\n");
    annotations(gh, 71);
    const xml =
      '<testsuites><testsuite name="parser" tests="2" failures="1">' +
      '<testcase classname="parser" name="reads a number"><failure message="expected 1 to be 2">x</failure></testcase>' +
      '<testcase classname="parser" name="reads a word"/></testsuite></testsuites>';
    const zip = Buffer.from(zipSync({ "junit.xml": strToU8(xml), "notes.txt": strToU8("x") }));
    const artifact = {
      id: 5,
      node_id: "A",
      name: "junit-results",
      size_in_bytes: zip.length,
      url: "https://api.github.com/x",
      archive_download_url: "https://api.github.com/x/zip",
      expired: false,
      created_at: "2025-03-01T12:00:00Z",
      updated_at: "2025-03-01T12:00:00Z",
      expires_at: "2025-06-01T12:00:00Z",
      workflow_run: { id: 9, head_sha: "a".repeat(40) },
    };
    artifacts(gh, [artifact, { ...artifact, id: 6, name: "coverage" }]);
    gh.scope.get(`${R}/actions/artifacts/5/zip`).reply(302, "", { Location: `${BLOB}/junit.zip?sig=abc` });
    const blob = nock(BLOB, { badheaders: ["authorization"] })
      .get("/junit.zip")
      .query({ sig: "abc" })
      .reply(200, zip, { "content-type": "application/zip" });

    const got = await gatherRunEvidence(octokit(gh), { owner: "octo", repo: "repo", run_id: 9 });
    gh.done();
    expect(blob.isDone()).toBe(true);
    expect(got.gaps).toEqual([]);
    expect(got.evidence.tests).toEqual([
      {
        suite: "parser",
        name: "reads a number",
        classname: "parser",
        kind: "failure",
        message: "expected 1 to be 2",
      },
    ]);
  });

  it("merges the logs of several failed jobs, each excerpt named by its job", async () => {
    const gh = githubApi();
    jobs(gh, [
      job(81, "lint", "failure", [["Run npx prettier --check .", "failure"]]),
      job(82, "types", "failure", [["Run tsc", "failure"]]),
    ]);
    log(gh, 81, FORMAT_LOG);
    log(
      gh,
      82,
      "2025-03-01T12:00:00Z ##[group]Run tsc\n2025-03-01T12:00:01Z ##[error]src/a.ts(1,1): error TS2322\n",
    );
    annotations(gh, 81);
    annotations(gh, 82);
    artifacts(gh);
    const got = await gatherRunEvidence(octokit(gh), { owner: "octo", repo: "repo", run_id: 9 });
    gh.done();
    expect(got.evidence.source).toBe("octo/repo run 9: lint, types");
    expect(got.evidence.failed_step).toBe("lint › Run npx prettier --check .");
    expect(got.evidence.error_lines).toBe(2);
    expect(got.evidence.lines).toBe(10);
    expect(got.evidence.excerpts.map((e) => e.step)).toEqual([
      "lint › Run npx prettier --check .",
      "types › Run tsc",
    ]);
  });

  it("refuses malformed input with a message to act on", async () => {
    const gh = githubApi();
    await expect(gatherRunEvidence(octokit(gh), { owner: "octo", repo: "repo", run_id: 0 })).rejects.toThrow(
      "cannot gather the run's evidence: run_id: Too small: expected number to be >0",
    );
    gh.done();
  });
});
