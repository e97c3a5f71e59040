import { afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { InputError } from "../../src/core/errors.js";
import { GitHubApiError } from "../../src/github/errors.js";
import { createOctokit } from "../../src/github/octokit.js";
import {
  PR_BODY_LIMIT,
  pullRequestBody,
  upsertDraftPullRequest,
  type UpsertPullRequestInput,
} from "../../src/github/pull-request.js";
import { blockNetwork, githubApi, resetGithubApi, type GithubApi } from "../support/github-contract.js";

beforeAll(() => blockNetwork());
afterEach(() => resetGithubApi());

const silent = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const API = "/repos/octo/app";
const BRANCH = "switchyard/issue-12-fix-login";
const INPUT: UpsertPullRequestInput = {
  owner: "octo",
  repo: "app",
  head: BRANCH,
  base: "main",
  title: "Fix the login counter",
  body: "## Switchyard report\n\naider succeeded on the first attempt.",
  issueNumber: 12,
};
const BODY = "Closes #12\n\n## Switchyard report\n\naider succeeded on the first attempt.";

function client(gh: GithubApi) {
  return createOctokit({ auth: "test", baseUrl: gh.baseUrl, retries: 0, throttle: false, log: silent });
}

function pr(number: number, draft: boolean) {
  return { number, html_url: `https://github.com/octo/app/pull/${number}`, draft, state: "open" };
}

function serveLookup(gh: GithubApi, found: unknown[]): void {
  gh.scope
    .get(`${API}/pulls`)
    .query({ head: `octo:${BRANCH}`, state: "open" })
    .reply(200, found);
}

describe("upsertDraftPullRequest", () => {
  it("opens a draft that closes the issue when there is none", async () => {
    const gh = githubApi();
    serveLookup(gh, []);
    gh.scope.post(`${API}/pulls`).reply(201, pr(31, true));

    const result = await upsertDraftPullRequest(client(gh), INPUT);

    gh.done();
    expect(result).toEqual({
      number: 31,
      url: "https://github.com/octo/app/pull/31",
      created: true,
      draft: true,
      note: null,
    });
    expect(gh.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET ${API}/pulls`,
      `POST ${API}/pulls`,
    ]);
    expect(gh.requests[1]?.body).toEqual({
      head: BRANCH,
      base: "main",
      title: "Fix the login counter",
      body: BODY,
      draft: true,
    });
  });

  it("edits the open pull request of the branch instead of opening a second one", async () => {
    const gh = githubApi();
    serveLookup(gh, [pr(31, true)]);
    gh.scope.patch(`${API}/pulls/31`).reply(200, pr(31, true));

    const result = await upsertDraftPullRequest(client(gh), {
      ...INPUT,
      title: "Fix the login counter (attempt 2)",
    });

    gh.done();
    expect(result).toEqual({
      number: 31,
      url: "https://github.com/octo/app/pull/31",
      created: false,
      draft: true,
      note: null,
    });
    expect(gh.requests.map((r) => r.operationId)).toEqual(["pulls/list", "pulls/update"]);
    expect(gh.requests[1]?.body).toEqual({ title: "Fix the login counter (attempt 2)", body: BODY });
  });

  it("opens a ready pull request, and says so, where drafts are not supported", async () => {
    const gh = githubApi();
    serveLookup(gh, []);
    gh.scope.post(`${API}/pulls`).reply(422, {
      message: "Validation Failed",
      errors: [
        {
          resource: "PullRequest",
          code: "custom",
          message: "Draft pull requests are not supported in this repository.",
        },
      ],
    });
    gh.scope.post(`${API}/pulls`).reply(201, pr(32, false));

    const result = await upsertDraftPullRequest(client(gh), INPUT);

    gh.done();
    expect(result).toEqual({
      number: 32,
      url: "https://github.com/octo/app/pull/32",
      created: true,
      draft: false,
      note: "this repository does not support draft pull requests, so it was opened ready for review",
    });
    expect(
      gh.requests.filter((r) => r.method === "POST").map((r) => (r.body as { draft: boolean }).draft),
    ).toEqual([true, false]);
  });

  it("edits the pull request a concurrent run opened between the look and the create", async () => {
    const gh = githubApi();
    serveLookup(gh, []);
    gh.scope.post(`${API}/pulls`).reply(422, {
      message: "Validation Failed",
      errors: [
        {
          resource: "PullRequest",
          code: "custom",
          message: `A pull request already exists for octo:${BRANCH}.`,
        },
      ],
    });
    serveLookup(gh, [pr(33, true)]);
    gh.scope.patch(`${API}/pulls/33`).reply(200, pr(33, true));

    const result = await upsertDraftPullRequest(client(gh), INPUT);

    gh.done();
    expect(result).toMatchObject({ number: 33, created: false });
    expect(gh.requests.map((r) => r.operationId)).toEqual([
      "pulls/list",
      "pulls/create",
      "pulls/list",
      "pulls/update",
    ]);
  });

  it("keeps a closing reference the report already has", async () => {
    const gh = githubApi();
    serveLookup(gh, []);
    gh.scope.post(`${API}/pulls`).reply(201, pr(34, true));

    await upsertDraftPullRequest(client(gh), { ...INPUT, body: "Fixes #12 by counting once." });

    gh.done();
    expect((gh.requests[1]?.body as { body: string }).body).toBe("Fixes #12 by counting once.");
  });

  it("explains 'no commits between' instead of passing GitHub's 422 on", async () => {
    const gh = githubApi();
    serveLookup(gh, []);
    gh.scope.post(`${API}/pulls`).reply(422, {
      message: "Validation Failed",
      errors: [{ resource: "PullRequest", code: "custom", message: `No commits between main and ${BRANCH}` }],
    });

    const error = await upsertDraftPullRequest(client(gh), INPUT).catch((e: unknown) => e);

    gh.done();
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toBe(
      `cannot open a pull request from ${BRANCH} into main: GitHub says there are no commits between them ` +
        "(was the commit made on another branch, or is the branch already merged?)",
    );
  });

  it("names the permission when the token may not open pull requests", async () => {
    const gh = githubApi();
    serveLookup(gh, []);
    gh.scope.post(`${API}/pulls`).reply(403, { message: "Resource not accessible by integration" });

    const error = await upsertDraftPullRequest(client(gh), INPUT).catch((e: unknown) => e);

    gh.done();
    expect(error).toBeInstanceOf(GitHubApiError);
    expect((error as Error).message).toBe(
      `opening a pull request from ${BRANCH} into main in octo/app failed: GitHub answered 403 (Resource not ` +
        "accessible by integration): the token is not allowed to do this (it needs `pull_requests: write`)",
    );
  });

  it("refuses input it cannot use, before any request", async () => {
    const gh = githubApi();
    const error = await upsertDraftPullRequest(client(gh), { ...INPUT, issueNumber: 0 }).catch(
      (e: unknown) => e,
    );
    gh.done();
    expect(gh.requests).toHaveLength(0);
    expect((error as Error).message).toBe(
      "cannot open the pull request: issueNumber: Too small: expected number to be >0",
    );
  });
});

describe("pullRequestBody", () => {
  it("adds the closing reference first and leaves a short report alone", () => {
    expect(pullRequestBody("report", 7)).toEqual({ body: "Closes #7\n\nreport", truncated: false });
    // A fix PR closes no issue.
    expect(pullRequestBody("report")).toEqual({ body: "report", truncated: false });
    expect(pullRequestBody("Resolves #7", 7)).toEqual({ body: "Resolves #7", truncated: false });
    // #70 is another issue.
    expect(pullRequestBody("Closes #70", 7)).toEqual({ body: "Closes #7\n\nCloses #70", truncated: false });
  });

  it("cuts a long report to GitHub's limit with a visible note, keeping the closing reference", () => {
    const report = "x".repeat(70_000);
    const { body, truncated } = pullRequestBody(report, 12);
    expect(truncated).toBe(true);
    expect(body.length).toBe(PR_BODY_LIMIT);
    expect(body.startsWith("Closes #12\n\nxxx")).toBe(true);
    expect(
      body.endsWith(
        "\n\n---\n_This report was cut to fit GitHub's limit of 65,536 characters (it had 70,000); " +
          "the full report is in the run's job summary._",
      ),
    ).toBe(true);
  });

  it("puts a closing reference back when the cut removed the report's own", () => {
    const report = "y".repeat(70_000) + "\n\nCloses #12";
    const { body } = pullRequestBody(report, 12);
    expect(body.length).toBe(PR_BODY_LIMIT);
    expect(body.startsWith("Closes #12\n\nyyy")).toBe(true);
  });

  it("never splits a character made of two UTF-16 units", () => {
    const report = "😀".repeat(40_000);
    const { body } = pullRequestBody(report, 1);
    expect(body.length).toBeLessThanOrEqual(PR_BODY_LIMIT);
    expect(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/.test(body)).toBe(false);
  });
});
