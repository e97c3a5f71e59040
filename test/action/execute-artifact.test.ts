import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from "@jest/globals";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { executeMode } from "../../src/action/execute.js";
import type { ActionInputs } from "../../src/action/inputs.js";
import { TaskMarkerSchema } from "../../src/app/route-issue.js";
import { gitBlobId, readBundle } from "../../src/core/execution/bundle.js";
import { readMarker } from "../../src/core/status-marker.js";
import { GITHUB_ACTIONS_APP_ID } from "../../src/github/task-outcome.js";
import { blockNetwork, githubApi, resetGithubApi, type GithubApi } from "../support/github-contract.js";
import { makeRepo, type TestRepo } from "../support/git-repo.js";
import { webhookExample } from "../support/webhooks.js";

const FIXTURES = path.resolve(import.meta.dirname, "../fixtures/tools");
const API = "/repos/acme/widgets";
const HELLO = new TextEncoder().encode("hello\n");

const config = (chain: string) =>
  [
    "routing:",
    "  chains:",
    `    code_generation: ${chain}`,
    "retry:",
    "  base_delay_ms: 0",
    "tools:",
    ...["crasher", "editor"].flatMap((name) => [
      `  - name: ${name}`,
      `    command: ${path.join(FIXTURES, name === "crasher" ? "crash.mjs" : "edit.mjs")}`,
      ...(name === "editor" ? ["    args: [src/greeting.txt, --text, hello]"] : []),
      "    prompt_via: stdin",
      "    capabilities: [code_generation]",
      "    availability: { command: node, args: [--version] }",
    ]),
    "",
  ].join("\n");

let repo: TestRepo;
let temp: string;
let summaryDir: string;
const savedEnv = { ...process.env };

function inputs(extra: Partial<ActionInputs> = {}): ActionInputs {
  return {
    mode: "execute",
    "github-token": "ghs_readonly",
    "issue-number": 5,
    task: undefined,
    decision: undefined,
    tool: undefined,
    "config-path": ".github/switchyard.yml",
    "dry-run": false,
    ...extra,
  } as ActionInputs;
}

async function jobEnv(): Promise<NodeJS.ProcessEnv> {
  const event = webhookExample("workflow_dispatch");
  event.repository.default_branch = "main";
  await writeFile(path.join(temp, "event.json"), JSON.stringify(event));
  await writeFile(path.join(temp, "output"), "");
  Object.assign(process.env, {
    GITHUB_REPOSITORY: "acme/widgets",
    GITHUB_WORKSPACE: repo.dir,
    GITHUB_REF: "refs/heads/main",
    GITHUB_RUN_ID: "4242",
    GITHUB_RUN_ATTEMPT: "2",
    GITHUB_SERVER_URL: "https://github.com",
    GITHUB_API_URL: "https://api.github.com",
    GITHUB_EVENT_PATH: path.join(temp, "event.json"),
    GITHUB_OUTPUT: path.join(temp, "output"),
    GITHUB_STEP_SUMMARY: path.join(summaryDir, "summary.md"),
    RUNNER_TEMP: temp,
  });
  return process.env;
}

async function outputs(): Promise<Record<string, string>> {
  const text = await readFile(path.join(temp, "output"), "utf8");
  const out: Record<string, string> = {};
  const re = /^([\w-]+)<<(\S+)\n([\s\S]*?)\n\2$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) out[m[1]!] = m[3]!;
  return out;
}

function serveIssue(gh: GithubApi, labels: string[]): void {
  const issue = webhookExample("issues", "labeled").issue;
  Object.assign(issue, {
    number: 5,
    title: "Add a greeting",
    body: "Implement it.",
    labels: labels.map((name) => ({ ...issue.labels![0]!, name })),
  });
  gh.scope.get(`${API}/issues/5`).reply(200, issue);
}

async function filesUnder(dir: string): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    files.set(path.relative(dir, full).split(path.sep).join("/"), new Uint8Array(await readFile(full)));
  }
  return files;
}

const FAST = { octokit: { throttle: false, retries: 0 } } as const;

beforeAll(async () => {
  blockNetwork();
  summaryDir = await mkdtemp(path.join(os.tmpdir(), "switchyard-summary-"));
  await writeFile(path.join(summaryDir, "summary.md"), "");
  repo = await makeRepo({
    files: {
      "src/greeting.txt": "",
      ".github/switchyard.yml": config("[crasher, editor]"),
      ".github/only-crasher.yml": config("[crasher]"),
    },
  });
});
afterAll(async () => {
  await rm(summaryDir, { recursive: true, force: true });
  await repo.cleanup();
});
beforeEach(async () => {
  temp = await mkdtemp(path.join(os.tmpdir(), "switchyard-artifact-"));
  jest.spyOn(process.stdout, "write").mockImplementation(() => true);
});
afterEach(async () => {
  jest.restoreAllMocks();
  resetGithubApi();
  process.env = { ...savedEnv };
  await repo.git.exec(["checkout", "--quiet", "--force", "main"]);
  await repo.git.exec(["clean", "-ffdq"]);
  await rm(temp, { recursive: true, force: true });
});

describe("mode execute, deliver: artifact", () => {
  it("writes the patch bundle for the app and sends nothing but the issue read", async () => {
    const env = await jobEnv();
    const gh = githubApi();
    serveIssue(gh, ["switchyard"]);

    const outcome = await executeMode(inputs(), env, { ...FAST, deliver: "artifact" });
    gh.done();
    expect(gh.requests.map((r) => r.operationId)).toEqual(["issues/get"]);
    expect(outcome.failed).toBeNull();
    expect(outcome.result).toMatchObject({
      outcome: "success",
      tool: "editor",
      branch: null,
      commit_sha: null,
    });

    const out = await outputs();
    expect(out["artifact-path"]).toBe(path.join(temp, "switchyard", "4242-2", "patch-bundle"));
    const files = await filesUnder(out["artifact-path"]!);
    const blob = gitBlobId(HELLO);
    expect([...files.keys()].sort()).toEqual([`blobs/${blob}`, "manifest.json", "patch.diff"]);
    const bundle = readBundle(files);
    expect(bundle.manifest).toMatchObject({
      version: 1,
      task_key: "acme/widgets#5",
      run_id: 4242,
      run_attempt: 2,
      base_sha: repo.baseSha,
    });
    expect(bundle.patch?.entries).toEqual([
      { path: "src/greeting.txt", deleted: false, mode: "100644", blob },
    ]);
    expect(new TextDecoder().decode(bundle.patch?.diff)).toContain("+hello");
    expect(await bundle.blobs.readBlob(blob)).toEqual(HELLO);
  });

  it("writes a bundle without a patch when every tool failed, so the app can say why", async () => {
    const env = await jobEnv();
    const gh = githubApi();
    serveIssue(gh, ["switchyard"]);

    await executeMode(inputs({ "config-path": ".github/only-crasher.yml" }), env, {
      ...FAST,
      deliver: "artifact",
    });
    gh.done();
    const bundle = readBundle(await filesUnder((await outputs())["artifact-path"]!));
    expect(bundle.patch).toBeNull();
    expect(bundle.result.outcome).toBe("tool_failed");
  });

  it("refuses to write a bundle the app could not match to a run", async () => {
    const env = await jobEnv();
    delete env.GITHUB_RUN_ID;
    await expect(executeMode(inputs(), env, { ...FAST, deliver: "artifact" })).rejects.toThrow(
      "deliver: artifact needs GITHUB_RUN_ID and GITHUB_RUN_ATTEMPT: run it as a step of a GitHub Actions job",
    );
  });
});

describe("mode execute, deliver: commit with reportOutcome", () => {
  it("labels the task failed and writes its status comment as github-actions when no tool could do it", async () => {
    const env = await jobEnv();
    const gh = githubApi();
    serveIssue(gh, ["switchyard", "switchyard:running"]);
    gh.scope
      .get(`${API}/commits/${repo.baseSha}/check-runs`)
      .query(true)
      .reply(200, { total_count: 0, check_runs: [] });
    gh.scope.post(`${API}/check-runs`).reply(201, { id: 78, html_url: "https://github.com/x/runs/78" });
    gh.scope.get(`${API}/issues/5/comments`).query(true).reply(200, []);
    gh.scope.post(`${API}/issues/5/labels`).reply(200, []);
    gh.scope.delete(`${API}/issues/5/labels/switchyard%3Arunning`).reply(200, []);
    gh.scope.post(`${API}/issues/5/comments`).reply(201, { id: 1, html_url: "https://github.com/x#c1" });

    await executeMode(inputs({ "config-path": ".github/only-crasher.yml" }), env, {
      ...FAST,
      reportOutcome: true,
    });
    gh.done();
    expect(gh.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET ${API}/issues/5`,
      `GET ${API}/commits/${repo.baseSha}/check-runs`,
      `POST ${API}/check-runs`,
      `GET ${API}/issues/5/comments`,
      `POST ${API}/issues/5/labels`,
      `DELETE ${API}/issues/5/labels/switchyard%3Arunning`,
      `POST ${API}/issues/5/comments`,
    ]);
    expect(gh.requests[4]?.body).toEqual({ labels: ["switchyard:failed"] });
    const body = (gh.requests[6]?.body as { body: string }).body;
    const [markerLine, head] = body.split("\n");
    expect(head).toBe("**Switchyard** · acme/widgets#5 -> **crasher** failed.");
    expect(body).toContain("[The run](https://github.com/acme/widgets/actions/runs/4242) has the details.");
    expect(readMarker(markerLine!, "task", TaskMarkerSchema)).toEqual({
      ok: true,
      value: {
        task_key: "acme/widgets#5",
        phase: "failed",
        tool: "crasher",
        routed_at: expect.any(String),
        completed_at: expect.any(String),
        run_id: 4242,
        run_attempt: 2,
      },
    });
    expect(GITHUB_ACTIONS_APP_ID).toBe(15368);
  });
});
