import { afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { execa } from "execa";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { repositoryFromRemote, statusCommand } from "../../src/cli/commands/status.js";
import { UsageError, type CliIO } from "../../src/cli/io.js";
import { encodeMarker } from "../../src/core/status-marker.js";
import { readTaskStatus } from "../../src/github/task-status.js";
import { Octokit } from "@octokit/rest";
import { blockNetwork, githubApi, resetGithubApi, type GithubApi } from "../support/github-contract.js";

const STATES = ["running", "queued", "blocked", "pr-open", "quarantined", "failed"];
const SHA = "d".repeat(40);

beforeAll(() => blockNetwork());
afterEach(() => resetGithubApi());

function io(env: NodeJS.ProcessEnv = { GITHUB_TOKEN: "t0ken" }) {
  const out = { stdout: "", stderr: "" };
  const cli: CliIO = {
    stdout: (t) => void (out.stdout += t),
    stderr: (t) => void (out.stderr += t),
    cwd: "/",
    env,
    isTTY: false,
  };
  return { cli, out };
}

function listings(gh: GithubApi, found: Record<string, object[]>) {
  for (const state of STATES) {
    gh.scope
      .get("/repos/o/r/issues")
      .query({ state: "open", labels: `switchyard:${state}`, per_page: "100", page: "1" })
      .reply(200, found[state] ?? []);
  }
}

const marker = (state: object) => `${encodeMarker(state, "task")}\n### Switchyard\nRouted to **aider**.`;

function fixture(gh: GithubApi) {
  listings(gh, {
    running: [
      {
        number: 12,
        title: "Fix the \u001b[31mlogin\u001b[0m bug",
        html_url: "https://github.com/o/r/issues/12",
        comments: 2,
      },
    ],
    "pr-open": [
      {
        number: 14,
        title: "Add retries",
        html_url: "https://github.com/o/r/pull/14",
        comments: 0,
        pull_request: { url: "https://api.github.com/repos/o/r/pulls/14" },
      },
    ],
    failed: [{ number: 9, title: "Old task", comments: 1 }],
  });
  gh.scope
    .get("/repos/o/r/issues/12/comments")
    .query({ per_page: "100", page: "1" })
    .reply(200, [
      // A person pasting a marker is not Switchyard.
      { body: marker({ phase: "stopped", tool: "codex", routed_at: "x" }), user: { type: "User" } },
      {
        body: marker({
          task_key: "o/r#12",
          phase: "running",
          tool: "aider",
          routed_at: "2026-03-01T10:00:00.000Z",
          dispatched_at: "2026-03-01T10:00:01.000Z",
          extra_field: 1,
        }),
        user: { type: "Bot" },
      },
    ]);
  gh.scope
    .get("/repos/o/r/issues/9/comments")
    .query({ per_page: "100", page: "1" })
    .reply(200, [{ body: "<!-- switchyard:task v1 !!! -->\nbroken", user: { type: "Bot" } }]);
  gh.scope.get("/repos/o/r/pulls/14").reply(200, { number: 14, head: { sha: SHA } });
  gh.scope
    .get(`/repos/o/r/commits/${SHA}/check-runs`)
    .query({ filter: "latest", per_page: "100" })
    .reply(200, {
      total_count: 2,
      check_runs: [
        {
          name: "switchyard/recover",
          status: "in_progress",
          conclusion: null,
          html_url: "https://github.com/o/r/runs/2",
        },
        { name: "build", status: "completed", conclusion: "failure", html_url: null },
      ],
    });
}

describe("readTaskStatus", () => {
  it("lists open tasks by state label with their marker and a pull request's switchyard checks", async () => {
    const gh = githubApi();
    fixture(gh);
    const octokit = new Octokit({ auth: "t", log: { debug() {}, info() {}, warn() {}, error() {} } });
    const result = await readTaskStatus(octokit, { owner: "o", repo: "r" });
    gh.done();
    expect(result.requests).toBe(10);
    expect(result.gaps).toEqual([]);
    expect(result.tasks).toEqual([
      {
        number: 9,
        kind: "issue",
        title: "Old task",
        url: null,
        states: ["failed"],
        updated_at: null,
        marker: null,
        marker_problem: 'the switchyard:task marker is damaged: expected "v<version> <base64url payload>"',
        checks: [],
      },
      {
        number: 12,
        kind: "issue",
        title: "Fix the \u001b[31mlogin\u001b[0m bug",
        url: "https://github.com/o/r/issues/12",
        states: ["running"],
        updated_at: null,
        marker: {
          phase: "running",
          tool: "aider",
          routed_at: "2026-03-01T10:00:00.000Z",
          dispatched_at: "2026-03-01T10:00:01.000Z",
        },
        marker_problem: null,
        checks: [],
      },
      {
        number: 14,
        kind: "pull_request",
        title: "Add retries",
        url: "https://github.com/o/r/pull/14",
        states: ["pr-open"],
        updated_at: null,
        marker: null,
        marker_problem: null,
        checks: [
          {
            name: "switchyard/recover",
            status: "in_progress",
            conclusion: null,
            url: "https://github.com/o/r/runs/2",
          },
        ],
      },
    ]);
  });

  it("stops at the budget and says what it did not read", async () => {
    const gh = githubApi();
    listings(gh, { running: [{ number: 3, title: "t", comments: 1 }] });
    const octokit = new Octokit({ auth: "t", log: { debug() {}, info() {}, warn() {}, error() {} } });
    const result = await readTaskStatus(octokit, { owner: "o", repo: "r", maxRequests: 6 });
    gh.done();
    expect(result.tasks.map((t) => [t.number, t.marker])).toEqual([[3, null]]);
    expect(result.gaps).toEqual(["1 task's status comment or checks not read (budget of 6 requests)"]);
  });
});

describe("switchyard status", () => {
  it("prints one line per task, with other people's control characters taken out of titles", async () => {
    const gh = githubApi({ scopeOptions: { reqheaders: { authorization: "token t0ken" } } });
    fixture(gh);
    const { cli, out } = io({ GITHUB_TOKEN: "t0ken", GITHUB_REPOSITORY: "o/r" });
    expect(await statusCommand.run([], cli)).toBe(0);
    gh.done();
    expect(out.stdout).toBe(
      [
        "3 open tasks in o/r:",
        "",
        "task      state    phase / tool         checks               title",
        "#9        failed   (unreadable marker)  -                    Old task",
        "#12       running  running / aider      -                    Fix the [31mlogin [0m bug",
        "#14 (PR)  pr-open  -                    recover:in_progress  Add retries",
        "",
      ].join("\n"),
    );
    expect(out.stderr).toBe("");
  });

  it("says so when there is nothing in flight, and asks for a repository when it has none", async () => {
    const gh = githubApi();
    listings(gh, {});
    const { cli, out } = io();
    expect(await statusCommand.run(["--repo", "o/r"], cli)).toBe(0);
    gh.done();
    expect(out.stdout).toBe("No open Switchyard tasks in o/r.\n");
    await expect(statusCommand.run([], io({}).cli)).rejects.toThrow(
      new UsageError(
        "which repository? Give --repo owner/name (or set GITHUB_REPOSITORY, or run it in a checkout whose origin is on GitHub)",
      ),
    );
  });

  it("takes the repository from the checkout's origin remote when nothing else names one", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "switchyard-status-"));
    try {
      await execa("git", ["init", "--quiet"], { cwd: dir });
      await execa("git", ["remote", "add", "origin", "git@github.com:o/r.git"], { cwd: dir });
      const gh = githubApi();
      listings(gh, {});
      const { cli, out } = io();
      expect(await statusCommand.run([], { ...cli, cwd: dir })).toBe(0);
      gh.done();
      expect(out.stdout).toBe("No open Switchyard tasks in o/r.\n");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("repositoryFromRemote", () => {
  it.each([
    ["https://github.com/o/r.git", "o/r"],
    ["https://github.com/o/r", "o/r"],
    ["https://x-access-token:abc@github.com/o/r.git", "o/r"],
    ["git@github.com:o/my.repo.git", "o/my.repo"],
    ["ssh://git@github.com/o/r.git", "o/r"],
    ["https://gitlab.com/o/r.git", null],
    ["/srv/git/r.git", null],
    ["https://github.com/o/r/extra", null],
  ])("%s -> %s", (url, expected) => {
    expect(repositoryFromRemote(url)).toBe(expected);
  });

  it("reads an Enterprise Server host", () => {
    expect(repositoryFromRemote("https://ghe.example.com/o/r.git", "ghe.example.com")).toBe("o/r");
    expect(repositoryFromRemote("https://github.com/o/r.git", "ghe.example.com")).toBeNull();
  });
});
