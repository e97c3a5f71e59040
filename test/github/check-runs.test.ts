import { afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { InputError } from "../../src/core/errors.js";
import { CHECK_OUTPUT_LIMIT, upsertCheckRun, type UpsertCheckRunInput } from "../../src/github/check-runs.js";
import { createOctokit } from "../../src/github/octokit.js";
import { blockNetwork, githubApi, resetGithubApi, type GithubApi } from "../support/github-contract.js";

beforeAll(() => blockNetwork());
afterEach(() => resetGithubApi());

const silent = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const API = "/repos/octo/app";
const SHA = "0123456789abcdef0123456789abcdef01234567";
const TASK = "octo/app#12";
const INPUT: UpsertCheckRunInput = {
  owner: "octo",
  repo: "app",
  name: "switchyard/execute",
  head_sha: SHA,
  external_id: TASK,
  status: "completed",
  conclusion: "success",
  title: "aider changed 3 files",
  summary: "All gates passed.",
  details_url: "https://github.com/octo/app/actions/runs/5",
  completed_at: "2025-01-02T03:04:05Z",
};

function client(gh: GithubApi) {
  return createOctokit({ auth: "test", baseUrl: gh.baseUrl, retries: 0, throttle: false, log: silent });
}

function serveList(
  gh: GithubApi,
  runs: { id: number; name: string; external_id: string | null }[],
  page = 1,
  total?: number,
) {
  gh.scope
    .get(`${API}/commits/${SHA}/check-runs`)
    .query({ check_name: "switchyard/execute", filter: "all", per_page: "100", page: String(page) })
    .reply(200, { total_count: total ?? runs.length, check_runs: runs });
}

describe("upsertCheckRun", () => {
  it("creates the check run when the commit has none for this task", async () => {
    const gh = githubApi();
    serveList(gh, [{ id: 5, name: "switchyard/execute", external_id: "octo/app#99" }]);
    gh.scope
      .post(`${API}/check-runs`)
      .reply(201, { id: 77, html_url: "https://github.com/octo/app/runs/77" });

    const result = await upsertCheckRun(client(gh), INPUT);

    gh.done();
    expect(result).toEqual({
      id: 77,
      url: "https://github.com/octo/app/runs/77",
      created: true,
      truncated: false,
    });
    expect(gh.requests[1]?.body).toEqual({
      name: "switchyard/execute",
      head_sha: SHA,
      external_id: TASK,
      status: "completed",
      conclusion: "success",
      details_url: "https://github.com/octo/app/actions/runs/5",
      completed_at: "2025-01-02T03:04:05Z",
      output: { title: "aider changed 3 files", summary: "All gates passed." },
    });
  });

  it("updates the task's own check run, found by external_id, the newest if there are two", async () => {
    const gh = githubApi();
    serveList(gh, [
      { id: 40, name: "switchyard/execute", external_id: TASK },
      { id: 41, name: "switchyard/execute", external_id: "octo/app#99" },
      { id: 42, name: "switchyard/execute", external_id: TASK },
    ]);
    gh.scope
      .patch(`${API}/check-runs/42`)
      .reply(200, { id: 42, html_url: "https://github.com/octo/app/runs/42" });

    const result = await upsertCheckRun(client(gh), {
      ...INPUT,
      status: "in_progress",
      conclusion: undefined,
      completed_at: undefined,
      text: "attempt 2 of 3",
    });

    gh.done();
    expect(result).toEqual({
      id: 42,
      url: "https://github.com/octo/app/runs/42",
      created: false,
      truncated: false,
    });
    expect(gh.requests.map((r) => r.operationId)).toEqual(["checks/list-for-ref", "checks/update"]);
    expect(gh.requests[1]?.body).toEqual({
      name: "switchyard/execute",
      external_id: TASK,
      status: "in_progress",
      details_url: "https://github.com/octo/app/actions/runs/5",
      output: { title: "aider changed 3 files", summary: "All gates passed.", text: "attempt 2 of 3" },
    });
  });

  it("looks through every page of check runs before creating one", async () => {
    const gh = githubApi();
    const others = Array.from({ length: 100 }, (_, i) => ({
      id: i + 1,
      name: "switchyard/execute",
      external_id: `octo/app#${1000 + i}`,
    }));
    serveList(gh, others, 1, 101);
    serveList(gh, [{ id: 500, name: "switchyard/execute", external_id: TASK }], 2, 101);
    gh.scope.patch(`${API}/check-runs/500`).reply(200, { id: 500, html_url: null });

    const result = await upsertCheckRun(client(gh), INPUT);

    gh.done();
    expect(result).toEqual({ id: 500, url: null, created: false, truncated: false });
  });

  it("cuts a summary and text longer than GitHub allows, with a note", async () => {
    const gh = githubApi();
    serveList(gh, []);
    gh.scope.post(`${API}/check-runs`).reply(201, { id: 78, html_url: null });

    const result = await upsertCheckRun(client(gh), {
      ...INPUT,
      summary: "s".repeat(70_000),
      text: "t".repeat(CHECK_OUTPUT_LIMIT),
    });

    gh.done();
    expect(result.truncated).toBe(true);
    const output = (gh.requests[1]?.body as { output: { summary: string; text: string } }).output;
    expect(output.summary.length).toBe(CHECK_OUTPUT_LIMIT);
    expect(
      output.summary.endsWith(
        "\n\n---\n_The summary was cut to fit GitHub's limit of 65,535 characters (it had 70,000); " +
          "the full report is in the run's job summary._",
      ),
    ).toBe(true);
    // Exactly at the limit is left alone.
    expect(output.text).toBe("t".repeat(CHECK_OUTPUT_LIMIT));
  });

  it.each([
    [{ conclusion: undefined }, "conclusion: a completed check run needs a conclusion"],
    [
      { status: "in_progress", completed_at: undefined },
      'conclusion: a conclusion completes the check run; the status cannot be "in_progress"',
    ],
    [
      { conclusion: "stale" },
      'conclusion: Invalid option: expected one of "action_required"|"cancelled"|"failure"|"neutral"|"success"|"skipped"|"timed_out"',
    ],
    [{ head_sha: "abc" }, "head_sha: a full commit or object id (40 or 64 lower-case hex digits)"],
    [{ details_url: "javascript:alert(1)" }, "details_url: Invalid URL"],
  ])("refuses %j before any request", async (change, message) => {
    const gh = githubApi();
    const error = await upsertCheckRun(client(gh), { ...INPUT, ...change } as UpsertCheckRunInput).catch(
      (e: unknown) => e,
    );
    gh.done();
    expect(gh.requests).toHaveLength(0);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toBe(`cannot publish the check run: ${message}`);
  });
});
