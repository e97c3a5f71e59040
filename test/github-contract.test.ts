import { afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { Octokit } from "@octokit/rest";
import { InputError } from "../src/core/errors.js";
import {
  blockNetwork,
  ContractViolationError,
  contractInfo,
  githubApi,
  resetGithubApi,
  validateRequest,
} from "./support/github-contract.js";

const silent = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

function octokit(baseUrl = "https://api.github.com"): Octokit {
  return new Octokit({ baseUrl, auth: "test-token", log: silent, request: { fetch: globalThis.fetch } });
}

/** The error an awaited call rejected with, so its fields can be asserted exactly. */
async function rejection(promise: Promise<unknown>): Promise<{ status?: number; message: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { status?: number; message: string };
  }
  throw new Error("expected the call to fail");
}

function thrownBy(fn: () => void): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected a throw");
}

const CONCLUSIONS =
  '"action_required", "cancelled", "failure", "neutral", "success", "skipped", "stale", "timed_out"';

beforeAll(() => blockNetwork());
afterEach(() => resetGithubApi());

describe("validateRequest", () => {
  it("loads GitHub's description once and reports what it loaded", () => {
    const info = contractInfo();
    expect(info.operations).toBeGreaterThan(1000);
    expect(info.openapiVersion).toMatch(/^\d+\.\d+\.\d+$/);
    expect(contractInfo().loadMs).toBe(info.loadMs);
  });

  it("rejects a check run with conclusion 'bogus'", () => {
    const result = validateRequest("POST", "/repos/o/r/check-runs", {
      name: "x",
      head_sha: "abc",
      conclusion: "bogus",
    });
    expect(result).toEqual({
      ok: false,
      method: "POST",
      path: "/repos/o/r/check-runs",
      operationId: "checks/create",
      template: "/repos/{owner}/{repo}/check-runs",
      unknownOperation: false,
      errors: [`body/conclusion: must be one of ${CONCLUSIONS} (got "bogus")`],
    });
  });

  it("rejects a check run without head_sha", () => {
    const result = validateRequest("POST", "/repos/o/r/check-runs", { name: "x" });
    expect(result.errors).toEqual(['body: missing required property "head_sha"']);
  });

  it("accepts a valid check run and an ISO 8601 timestamp", () => {
    const result = validateRequest("POST", "/repos/o/r/check-runs", {
      name: "switchyard/route",
      head_sha: "abc",
      status: "completed",
      conclusion: "neutral",
      completed_at: "2024-05-01T10:00:00.000Z",
      output: { title: "t", summary: "s" },
    });
    expect(result.errors).toEqual([]);
    expect(result.ok).toBe(true);
  });

  it("rejects a timestamp GitHub would not parse", () => {
    const result = validateRequest("POST", "/repos/o/r/check-runs", {
      name: "x",
      head_sha: "abc",
      started_at: "yesterday",
    });
    expect(result.errors).toEqual(['body/started_at: must match format "date-time" (got "yesterday")']);
  });

  it("names a misspelled body property and the one it probably meant", () => {
    const result = validateRequest("POST", "/repos/o/r/check-runs", {
      name: "x",
      head_sha: "abc",
      conlusion: "success",
    });
    expect(result.errors).toEqual([
      'body/conlusion: unknown property "conlusion" (did you mean "conclusion"?)',
    ]);
    const lenient = validateRequest(
      "POST",
      "/repos/o/r/check-runs",
      { name: "x", head_sha: "abc", conlusion: "success" },
      { unknownBodyProperties: "ignore" },
    );
    expect(lenient.ok).toBe(true);
  });

  it("rejects an unknown path and suggests a near one", () => {
    expect(validateRequest("POST", "/repos/o/r/frobnicate", {})).toMatchObject({
      ok: false,
      unknownOperation: true,
      operationId: undefined,
      errors: ["no GitHub REST operation matches POST /repos/o/r/frobnicate"],
    });
    expect(validateRequest("POST", "/repos/o/r/check-run", { name: "x" }).errors).toEqual([
      "no GitHub REST operation matches POST /repos/o/r/check-run (did you mean POST /repos/{owner}/{repo}/check-runs?)",
    ]);
  });

  it("rejects a method the path does not have", () => {
    expect(validateRequest("PUT", "/repos/o/r/issues/5/comments", { body: "x" })).toMatchObject({
      ok: false,
      unknownOperation: true,
      errors: [
        "PUT is not an operation on /repos/{owner}/{repo}/issues/{issue_number}/comments (it has GET, POST)",
      ],
    });
  });

  it("accepts an issue comment with a body", () => {
    const result = validateRequest("POST", "/repos/o/r/issues/5/comments", { body: "x" });
    expect([result.ok, result.operationId, result.errors]).toEqual([true, "issues/create-comment", []]);
  });

  it("prefers literal segments over parameters when templates overlap", () => {
    expect(validateRequest("PATCH", "/repos/o/r/issues/comments/7", { body: "x" }).operationId).toBe(
      "issues/update-comment",
    );
    expect(validateRequest("GET", "/repos/o/r/issues/comments/7").operationId).toBe("issues/get-comment");
    expect(validateRequest("GET", "/repos/o/r/issues/7/comments").operationId).toBe("issues/list-comments");
  });

  it("checks path parameters", () => {
    expect(validateRequest("GET", "/repos/o/r/issues/abc").errors).toEqual([
      'path parameter {issue_number}: must be integer (got "abc")',
    ]);
    expect(validateRequest("GET", "/repos/undefined/r/issues/1").errors).toEqual([
      'path parameter {owner} is "undefined": a value was missing when the URL was built',
    ]);
    expect(validateRequest("GET", "/repos/o//issues/1").errors).toEqual(["path parameter {repo} is empty"]);
  });

  it("accepts parameters that hold slashes, encoded or not", () => {
    expect(validateRequest("GET", "/repos/o/r/contents/src/a.ts?ref=main").operationId).toBe(
      "repos/get-content",
    );
    expect(validateRequest("GET", "/repos/o/r/contents/src%2Fa.ts").operationId).toBe("repos/get-content");
    const ref = validateRequest("PATCH", "/repos/o/r/git/refs/heads/switchyard/issue-1-x", { sha: "abc" });
    expect([ref.ok, ref.operationId]).toEqual([true, "git/update-ref"]);
    expect(validateRequest("GET", "/repos/o/r/compare/main...topic").operationId).toBe(
      "repos/compare-commits",
    );
  });

  it("checks required and enumerated query parameters, not unknown ones", () => {
    expect(validateRequest("GET", "/repos/o/r/issues?state=bogus&per_page=x&whatever=1").errors).toEqual([
      'query parameter "state": must be one of "open", "closed", "all" (got "bogus")',
      'query parameter "per_page": must be integer (got "x")',
    ]);
    expect(validateRequest("GET", "/repos/o/r/issues?state=open&per_page=5&labels=a,b").ok).toBe(true);
    expect(validateRequest("GET", "/search/issues").errors).toEqual(['query parameter "q" is required']);
  });

  it("accepts null where GitHub's schema is nullable", () => {
    const result = validateRequest("PATCH", "/repos/o/r/issues/5", { milestone: null, state_reason: null });
    expect(result.errors).toEqual([]);
  });

  it("rejects a body sent to an operation that takes none, and a missing required body", () => {
    expect(validateRequest("GET", "/repos/o/r", { x: 1 }).errors).toEqual([
      'GET /repos/{owner}/{repo} takes no request body, but one was sent: {"x":1}',
    ]);
    expect(validateRequest("POST", "/repos/o/r/issues").errors).toEqual([
      "POST /repos/{owner}/{repo}/issues requires a request body; none was sent",
    ]);
  });

  it("strips the GitHub Enterprise Server prefix", () => {
    const result = validateRequest("GET", "https://ghe.example.com/api/v3/repos/o/r/check-runs/5");
    expect([result.ok, result.path, result.operationId]).toEqual([
      true,
      "/repos/o/r/check-runs/5",
      "checks/get",
    ]);
  });

  it("refuses arguments that are not a request", () => {
    expect(() => validateRequest("", "/repos/o/r")).toThrow(InputError);
    expect(() => validateRequest("GET", "repos/o/r")).toThrow(
      'a URL or a path starting with "/"; got "repos/o/r"',
    );
  });
});

describe("githubApi harness", () => {
  it("accepts a valid check run created through Octokit and records it", async () => {
    const gh = githubApi();
    gh.scope.post("/repos/o/r/check-runs").reply(201, { id: 7 });
    const res = await octokit().rest.checks.create({ owner: "o", repo: "r", name: "x", head_sha: "abc" });
    expect(res.status).toBe(201);
    expect(res.data).toEqual({ id: 7 });
    gh.done();
    expect(gh.violations).toEqual([]);
    expect(gh.requests).toEqual([
      {
        method: "POST",
        path: "/repos/o/r/check-runs",
        query: {},
        url: "https://api.github.com/repos/o/r/check-runs",
        operationId: "checks/create",
        body: { name: "x", head_sha: "abc" },
      },
    ]);
  });

  it("rejects conclusion 'bogus' even though the mock matched, and answers 422 like GitHub", async () => {
    const gh = githubApi();
    gh.scope.post("/repos/o/r/check-runs").reply(201, { id: 7 });
    const error = await rejection(
      octokit().rest.checks.create({
        owner: "o",
        repo: "r",
        name: "x",
        head_sha: "abc",
        conclusion: "bogus" as "success",
      }),
    );
    expect(error.status).toBe(422);
    expect(error.message).toContain("Invalid request.");
    expect(error.message).toContain("body/conclusion: must be one of");
    expect(gh.violations).toEqual([
      {
        method: "POST",
        path: "/repos/o/r/check-runs",
        operationId: "checks/create",
        template: "/repos/{owner}/{repo}/check-runs",
        errors: [`body/conclusion: must be one of ${CONCLUSIONS} (got "bogus")`],
        matched: true,
      },
    ]);
    const thrown = thrownBy(() => gh.done());
    expect(thrown).toBeInstanceOf(ContractViolationError);
    expect((thrown as Error).message).toBe(
      [
        "1 request broke GitHub's API contract (@octokit/openapi):",
        "  POST /repos/o/r/check-runs (checks/create)",
        `    - body/conclusion: must be one of ${CONCLUSIONS} (got "bogus")`,
      ].join("\n"),
    );
  });

  it("keeps the mock's reply with rejectInvalid: false but still fails done()", async () => {
    const gh = githubApi({ rejectInvalid: false });
    gh.scope.post("/repos/o/r/check-runs").reply(201, { id: 7 });
    const res = await octokit().rest.checks.create({ owner: "o", repo: "r", name: "x" } as never);
    expect(res.status).toBe(201);
    expect(() => gh.done()).toThrow('body: missing required property "head_sha"');
  });

  it("rejects an unknown path with 404 even when a mock for it exists", async () => {
    const gh = githubApi();
    gh.scope.post("/repos/o/r/frobnicate").reply(200, { ok: true });
    const res = await fetch("https://api.github.com/repos/o/r/frobnicate", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ x: 1 }),
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      message: "Not Found",
      errors: ["no GitHub REST operation matches POST /repos/o/r/frobnicate"],
      documentation_url: "https://docs.github.com/rest",
      status: "404",
    });
    expect(() => gh.done()).toThrow("no GitHub REST operation matches POST /repos/o/r/frobnicate");
  });

  it("rejects a method the path does not have", async () => {
    const gh = githubApi();
    gh.scope.put("/repos/o/r/issues/5/comments").reply(200, {});
    const error = await rejection(octokit().request("PUT /repos/o/r/issues/5/comments", { body: "x" }));
    expect(error.status).toBe(404);
    expect(gh.violations.map((v) => v.errors)).toEqual([
      ["PUT is not an operation on /repos/{owner}/{repo}/issues/{issue_number}/comments (it has GET, POST)"],
    ]);
  });

  it("accepts an issue comment, a check run update and a GET without body", async () => {
    const gh = githubApi();
    gh.scope.post("/repos/o/r/issues/5/comments", { body: "x" }).reply(201, { id: 1 });
    gh.scope.patch("/repos/o/r/check-runs/9").reply(200, { id: 9 });
    gh.scope.get("/repos/o/r/issues/5").reply(200, { number: 5 });
    const client = octokit();
    await client.rest.issues.createComment({ owner: "o", repo: "r", issue_number: 5, body: "x" });
    await client.rest.checks.update({
      owner: "o",
      repo: "r",
      check_run_id: 9,
      status: "completed",
      conclusion: "success",
      output: { title: "Routed", summary: "aider" },
    });
    const issue = await client.rest.issues.get({ owner: "o", repo: "r", issue_number: 5 });
    expect(issue.data).toEqual({ number: 5 });
    gh.done();
    expect(gh.requests.map((r) => [r.method, r.operationId, r.body])).toEqual([
      ["POST", "issues/create-comment", { body: "x" }],
      [
        "PATCH",
        "checks/update",
        { status: "completed", conclusion: "success", output: { title: "Routed", summary: "aider" } },
      ],
      ["GET", "issues/get", undefined],
    ]);
  });

  it("checks requests to a GitHub Enterprise Server base URL", async () => {
    const gh = githubApi({ baseUrl: "https://ghe.example.com/api/v3" });
    gh.scope.post("/repos/o/r/check-runs").twice().reply(201, { id: 1 });
    const client = octokit(gh.baseUrl);
    await client.rest.checks.create({ owner: "o", repo: "r", name: "x", head_sha: "abc" });
    const error = await rejection(
      client.rest.checks.create({
        owner: "o",
        repo: "r",
        name: "x",
        head_sha: "abc",
        status: "done" as "queued",
      }),
    );
    expect(error.status).toBe(422);
    expect(gh.requests.map((r) => [r.path, r.url])).toEqual([
      ["/repos/o/r/check-runs", "https://ghe.example.com/api/v3/repos/o/r/check-runs"],
      ["/repos/o/r/check-runs", "https://ghe.example.com/api/v3/repos/o/r/check-runs"],
    ]);
    expect(gh.violations.map((v) => v.errors)).toEqual([
      ['body/status: must be one of "queued", "in_progress", "completed" (got "done")'],
    ]);
  });

  it("fails done() for interceptors that were never used", () => {
    const gh = githubApi();
    gh.scope.get("/repos/o/r/issues/5").reply(200, {});
    expect(() => gh.done()).toThrow(
      ["1 interceptor was never used:", "  GET https://api.github.com:443/repos/o/r/issues/5"].join("\n"),
    );
    expect(() => gh.assertValid()).not.toThrow();
  });

  it("remembers requests no interceptor matched, even when the code swallowed the error", async () => {
    const gh = githubApi();
    gh.scope.get("/repos/o/r/issues/5").reply(200, {});
    await octokit()
      .rest.issues.get({ owner: "o", repo: "r", issue_number: 6 })
      .catch(() => undefined);
    await octokit()
      .rest.issues.get({ owner: "o", repo: "r", issue_number: 5 })
      .catch(() => undefined);
    expect(gh.violations).toEqual([
      {
        method: "GET",
        path: "/repos/o/r/issues/6",
        operationId: "issues/get",
        template: "/repos/{owner}/{repo}/issues/{issue_number}",
        errors: ["no interceptor matched this request"],
        matched: false,
      },
    ]);
    expect(() => gh.done()).toThrow("GET /repos/o/r/issues/6 (issues/get) [no interceptor matched]");
  });

  it("replies normally again after rejecting one request on a repeated interceptor", async () => {
    const gh = githubApi();
    gh.scope.post("/repos/o/r/issues/5/comments").times(2).reply(201, { id: 3 });
    const post = (body: unknown): Promise<Response> =>
      fetch("https://api.github.com/repos/o/r/issues/5/comments", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const bad = await post({ body: 5 });
    const good = await post({ body: "ok" });
    expect([bad.status, good.status]).toEqual([422, 201]);
    expect(await good.json()).toEqual({ id: 3 });
    expect(gh.violations.map((v) => v.errors)).toEqual([["body/body: must be string (got 5)"]]);
    expect(gh.requests.map((r) => r.body)).toEqual([{ body: 5 }, { body: "ok" }]);
  });

  it("refuses a base URL that is not absolute", () => {
    expect(() => githubApi({ baseUrl: "api.github.com" })).toThrow(InputError);
  });
});
