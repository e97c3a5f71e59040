import { afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { ConfigError, InputError } from "../../src/core/errors.js";
import { apiBaseUrlFromEnv, createOctokit } from "../../src/github/octokit.js";
import { blockNetwork, githubApi, resetGithubApi } from "../support/github-contract.js";

beforeAll(() => blockNetwork());
afterEach(() => resetGithubApi());

function recordingLog() {
  const warnings: string[] = [];
  return {
    warnings,
    log: { debug: () => {}, info: () => {}, warn: (m: string) => void warnings.push(m), error: () => {} },
  };
}

async function rejection(promise: Promise<unknown>): Promise<{ status?: number; message: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { status?: number; message: string };
  }
  throw new Error("expected the call to fail");
}

describe("apiBaseUrlFromEnv", () => {
  it.each([
    [{}, "https://api.github.com"],
    [{ GITHUB_API_URL: "https://ghe.example.com/api/v3/" }, "https://ghe.example.com/api/v3"],
    [{ GITHUB_API_URL: "" }, "https://api.github.com"],
    [{ GHE_HOST: "ghe.example.com" }, "https://ghe.example.com/api/v3"],
    [{ GHE_HOST: "ghe.example.com:8443", GHE_PROTOCOL: "http" }, "http://ghe.example.com:8443/api/v3"],
    [{ GITHUB_API_URL: "http://127.0.0.1:3000", GHE_HOST: "ghe.example.com" }, "http://127.0.0.1:3000"],
  ])("%j -> %s", (env, expected) => {
    expect(apiBaseUrlFromEnv(env)).toBe(expected);
  });

  it.each([
    [
      { GHE_HOST: "https://ghe.example.com" },
      'environment: GHE_HOST: "https://ghe.example.com" is not a host name (give the bare host, e.g. ' +
        "GHE_HOST=github.example.com, without a protocol or path (the protocol goes in GHE_PROTOCOL))",
    ],
    [
      { GHE_HOST: "ghe.example.com", GHE_PROTOCOL: "ftp" },
      'environment: GHE_PROTOCOL: "ftp" is not a protocol GitHub is served over (use "https" (the default) or "http")',
    ],
    [
      { GITHUB_API_URL: "api.github.com" },
      'environment: GITHUB_API_URL: "api.github.com" is not an absolute URL (e.g. https://api.github.com)',
    ],
  ])("refuses %j with a message naming the variable", (env, message) => {
    let error: unknown;
    try {
      apiBaseUrlFromEnv(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(message);
  });
});

describe("createOctokit", () => {
  it("sends requests to the base URL the environment names (GitHub Enterprise Server)", async () => {
    const gh = githubApi({ baseUrl: "https://ghe.example.com/api/v3" });
    gh.scope.get("/repos/o/r").reply(200, { default_branch: "main" });
    const octokit = createOctokit({
      auth: "t0ken",
      env: { GHE_HOST: "ghe.example.com" },
      retries: 0,
      throttle: false,
    });

    const { data } = await octokit.request("GET /repos/{owner}/{repo}", { owner: "o", repo: "r" });

    gh.done();
    expect(data).toEqual({ default_branch: "main" });
    expect(gh.requests.map((r) => r.url)).toEqual(["https://ghe.example.com/api/v3/repos/o/r"]);
  });

  it("uses the fetch it is given, with the token and user agent", async () => {
    const seen: { url: string; auth: string | null; agent: string | null }[] = [];
    const fakeFetch = (async (url: string | URL | Request, init?: RequestInit) => {
      const headers = new Headers(init?.headers);
      seen.push({ url: String(url), auth: headers.get("authorization"), agent: headers.get("user-agent") });
      return new Response(JSON.stringify({ ok: 1 }), {
        status: 200,
        headers: { "content-type": "application/json" },
      });
    }) as typeof fetch;
    const octokit = createOctokit({ auth: "t0ken", fetch: fakeFetch, retries: 0, throttle: false });

    await octokit.request("GET /rate_limit");

    expect(seen).toHaveLength(1);
    expect(seen[0]?.url).toBe("https://api.github.com/rate_limit");
    expect(seen[0]?.auth).toBe("token t0ken");
    expect(seen[0]?.agent).toMatch(/^switchyard /);
  });

  it("waits out a secondary rate limit for as long as retry-after says, then retries", async () => {
    const gh = githubApi();
    gh.scope
      .get("/repos/o/r")
      .reply(403, { message: "You have exceeded a secondary rate limit." }, { "retry-after": "3" });
    gh.scope.get("/repos/o/r").reply(200, { default_branch: "main" });
    const { warnings, log } = recordingLog();
    // A second of retry-after is a millisecond here, so the test does not sleep.
    const octokit = createOctokit({ baseUrl: gh.baseUrl, retries: 0, retryAfterBaseMs: 1, log });

    const { data } = await octokit.request("GET /repos/{owner}/{repo}", { owner: "o", repo: "r" });

    gh.done();
    expect(data).toEqual({ default_branch: "main" });
    expect(gh.requests).toHaveLength(2);
    expect(warnings).toEqual([
      "GitHub's secondary rate limit was hit by GET /repos/{owner}/{repo}; retrying in 3s (1 of 2)",
    ]);
  });

  it("waits for the primary rate limit's reset, a bounded number of times", async () => {
    const gh = githubApi();
    const exhausted = {
      "x-ratelimit-remaining": "0",
      "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) - 10),
    };
    gh.scope
      .get("/repos/o/r")
      .times(3)
      .reply(403, { message: "API rate limit exceeded for installation." }, exhausted);
    const { warnings, log } = recordingLog();
    const octokit = createOctokit({ baseUrl: gh.baseUrl, retries: 0, retryAfterBaseMs: 0, log });

    const error = await rejection(octokit.request("GET /repos/{owner}/{repo}", { owner: "o", repo: "r" }));

    gh.done();
    expect(error.status).toBe(403);
    expect(gh.requests).toHaveLength(3);
    expect(warnings).toEqual([
      "GitHub's primary rate limit was hit by GET /repos/{owner}/{repo}; retrying in 0s (1 of 2)",
      "GitHub's primary rate limit was hit by GET /repos/{owner}/{repo}; retrying in 0s (2 of 2)",
      "GitHub's primary rate limit was hit by GET /repos/{owner}/{repo}; giving up after 2 retries",
    ]);
  });

  it("does not wait longer than it is allowed to", async () => {
    const gh = githubApi();
    gh.scope
      .get("/repos/o/r")
      .reply(403, { message: "You have exceeded a secondary rate limit." }, { "retry-after": "900" });
    const { warnings, log } = recordingLog();
    const octokit = createOctokit({ baseUrl: gh.baseUrl, retries: 0, maxRateLimitWaitSeconds: 60, log });

    const error = await rejection(octokit.request("GET /repos/{owner}/{repo}", { owner: "o", repo: "r" }));

    gh.done();
    expect(error.status).toBe(403);
    expect(warnings).toEqual([
      "GitHub's secondary rate limit was hit by GET /repos/{owner}/{repo}; giving up (the wait of 900s is longer than 60s)",
    ]);
  });

  it("does not retry at all with throttling and retries off", async () => {
    const gh = githubApi();
    gh.scope
      .get("/repos/o/r")
      .reply(403, { message: "You have exceeded a secondary rate limit." }, { "retry-after": "0" });
    const octokit = createOctokit({
      baseUrl: gh.baseUrl,
      retries: 0,
      throttle: false,
      log: recordingLog().log,
    });

    const error = await rejection(octokit.request("GET /repos/{owner}/{repo}", { owner: "o", repo: "r" }));

    gh.done();
    expect(error.status).toBe(403);
    expect(gh.requests).toHaveLength(1);
  });

  it("refuses options it does not know or cannot use", () => {
    expect(() => createOctokit({ retries: -1 })).toThrow(InputError);
    expect(() => createOctokit({ retries: -1 })).toThrow(
      "invalid Octokit options: retries: Too small: expected number to be >=0",
    );
    expect(() => createOctokit({ baseUrl: "not a url" })).toThrow(
      'invalid Octokit options: baseUrl: "not a url" is not an absolute URL',
    );
    expect(() => createOctokit({ retry: 1 } as never)).toThrow(
      'invalid Octokit options: (root): Unrecognized key: "retry"',
    );
  });
});

describe("createOctokit with the process environment", () => {
  it("accepts process.env itself, as the Action passes it", () => {
    const saved = process.env.GITHUB_API_URL;
    process.env.GITHUB_API_URL = "https://ghe.example.com/api/v3";
    try {
      const octokit = createOctokit({ auth: "t", env: process.env, retries: 0, throttle: false });
      expect(octokit.request.endpoint.DEFAULTS.baseUrl).toBe("https://ghe.example.com/api/v3");
    } finally {
      if (saved === undefined) delete process.env.GITHUB_API_URL;
      else process.env.GITHUB_API_URL = saved;
    }
  });
});
