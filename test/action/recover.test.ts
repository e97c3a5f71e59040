import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from "@jest/globals";
import { createHash } from "node:crypto";
import { appendFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import nock from "nock";
import { parse as parseYaml } from "yaml";
import { recoverMode } from "../../src/action/recover.js";
import { ConfigSchema } from "../../src/config/schema.js";
import { ConfigError } from "../../src/core/errors.js";
import { nextAction } from "../../src/core/recovery/ladder.js";
import { replaceMarker } from "../../src/core/status-marker.js";
import { blockNetwork, githubApi, resetGithubApi, type GithubApi } from "../support/github-contract.js";
import { makeRepo, type TestRepo } from "../support/git-repo.js";
import { webhookExample } from "../support/webhooks.js";

const OWNER = "acme";
const REPO = "widgets";
const API = `/repos/${OWNER}/${REPO}`;
const RUN_ID = 4711;
const JOB_ID = 9001;
const PR = 12;
const HEAD_REF = "alice/greeting";
const FIX_BRANCH = "switchyard/fix-12-1";
const BLOB_HOST = "https://pipelines.blob.example.net";
const MODULES = path.resolve(import.meta.dirname, "../../node_modules");
const sha = (label: string) => createHash("sha1").update(label).digest("hex");
const BASE_TREE = sha("base tree");
const FIX_COMMIT = sha("fix commit");
/** A file Prettier 3 rewrites, and what it makes of it. */
const UGLY = "const greeting  =  {text:'hello',  to : \"world\"}\nexport default greeting\n";
const PRETTY = 'const greeting = { text: "hello", to: "world" };\nexport default greeting;\n';
/** No write spacing or retries in tests: every answer is mocked. */
const FAST = { octokit: { throttle: false, retries: 0 }, now: () => Date.parse("2026-11-21T18:00:00Z") };

let repo: TestRepo;
let temp: string;
let summaryDir: string;
let summaryFile: string;
let stdout: string;
let uglyLog: string;
/** The tree of the checkout once Prettier has fixed it, as GitHub would compute it. */
let fixedTree: string;
const savedEnv = { ...process.env };

/** A job log as the Actions API serves it: timestamps, groups, the real Prettier output, the error. */
function actionsLog(prettierOutput: string): string {
  const ts = (s: number) =>
    `2026-11-21T17:5${Math.floor(s / 10)}:${String(s % 60).padStart(2, "0")}.0000000Z`;
  const lines = [
    "##[group]Run actions/checkout@v4",
    "Syncing repository: acme/widgets",
    "##[endgroup]",
    "##[group]Run npx prettier --check .",
    "npx prettier --check .",
    "##[endgroup]",
    ...prettierOutput.trimEnd().split("\n"),
    "##[error]Process completed with exit code 1.",
  ];
  return lines.map((l, i) => `${ts(i)} ${l}`).join("\n") + "\n";
}

function workflowRunEvent(headSha: string) {
  const event = webhookExample("workflow_run", "completed");
  Object.assign(event.workflow_run, {
    id: RUN_ID,
    run_attempt: 1,
    name: "CI",
    path: ".github/workflows/ci.yml",
    conclusion: "failure",
    status: "completed",
    head_sha: headSha,
    head_branch: HEAD_REF,
    html_url: `https://github.com/${OWNER}/${REPO}/actions/runs/${RUN_ID}`,
    pull_requests: [{ ...event.workflow_run.pull_requests[0], number: PR }],
  });
  event.workflow_run.head_repository = {
    ...event.workflow_run.head_repository,
    full_name: `${OWNER}/${REPO}`,
  };
  Object.assign(event.repository, { full_name: `${OWNER}/${REPO}`, default_branch: "main" });
  return event;
}

async function jobEnv(event: unknown): Promise<void> {
  await writeFile(path.join(temp, "event.json"), JSON.stringify(event));
  await writeFile(path.join(temp, "output"), "");
  await writeFile(summaryFile, "");
  Object.assign(process.env, {
    GITHUB_REPOSITORY: `${OWNER}/${REPO}`,
    GITHUB_WORKSPACE: repo.dir,
    GITHUB_RUN_ID: "5150",
    GITHUB_RUN_ATTEMPT: "1",
    GITHUB_SERVER_URL: "https://github.com",
    GITHUB_API_URL: "https://api.github.com",
    GITHUB_EVENT_NAME: "workflow_run",
    GITHUB_EVENT_PATH: path.join(temp, "event.json"),
    GITHUB_OUTPUT: path.join(temp, "output"),
    GITHUB_STEP_SUMMARY: summaryFile,
    RUNNER_TEMP: temp,
  });
}

async function outputs(): Promise<Record<string, string>> {
  const text = await readFile(path.join(temp, "output"), "utf8");
  const out: Record<string, string> = {};
  const re = /^([\w-]+)<<(\S+)\n([\s\S]*?)\n\2$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) out[m[1]!] = m[3]!;
  return out;
}

const REPO_CONFIG = `${API}/contents/.github%2Fswitchyard.yml`;
const ORG_CONFIG = `/repos/${OWNER}/.github/contents/.github%2Fswitchyard.yml`;

/** Neither the repository's default branch nor the org's .github repository has a configuration. */
function noConfig(gh: GithubApi): void {
  gh.scope.get(REPO_CONFIG).reply(404, { message: "Not Found" });
  gh.scope.get(ORG_CONFIG).reply(404, { message: "Not Found" });
}

/** The Actions API's view of the failed run: one failed job, its log and its annotation. */
function serveFailedRun(gh: GithubApi): void {
  gh.scope
    .get(`${API}/actions/runs/${RUN_ID}/jobs`)
    .query(true)
    .reply(200, {
      total_count: 1,
      jobs: [
        {
          id: JOB_ID,
          run_id: RUN_ID,
          name: "lint",
          status: "completed",
          conclusion: "failure",
          html_url: `https://github.com/${OWNER}/${REPO}/actions/runs/${RUN_ID}/job/${JOB_ID}`,
          check_run_url: `https://api.github.com${API}/check-runs/${JOB_ID}`,
          steps: [
            { name: "Run actions/checkout@v4", status: "completed", conclusion: "success", number: 1 },
            { name: "Run npx prettier --check .", status: "completed", conclusion: "failure", number: 2 },
          ],
        },
      ],
    });
  gh.scope
    .get(`${API}/actions/jobs/${JOB_ID}/logs`)
    .reply(302, "", { Location: `${BLOB_HOST}/job-${JOB_ID}.txt` });
  nock(BLOB_HOST).get(`/job-${JOB_ID}.txt`).reply(200, uglyLog, { "content-type": "text/plain" });
  gh.scope
    .get(`${API}/check-runs/${JOB_ID}/annotations`)
    .query(true)
    .reply(200, [
      {
        path: ".github",
        start_line: 1,
        end_line: 1,
        annotation_level: "failure",
        message: "Process completed with exit code 1.",
        title: "",
        raw_details: "",
        blob_href: "",
      },
    ]);
  gh.scope
    .get(`${API}/actions/runs/${RUN_ID}/artifacts`)
    .query(true)
    .reply(200, { total_count: 0, artifacts: [] });
}

beforeAll(async () => {
  blockNetwork();
  summaryDir = await mkdtemp(path.join(os.tmpdir(), "switchyard-summary-"));
  summaryFile = path.join(summaryDir, "summary.md");
  repo = await makeRepo({
    files: { ".gitignore": "node_modules\n", "src/greeting.js": UGLY, "README.md": "# Widgets\n" },
  });
  await symlink(MODULES, path.join(repo.dir, "node_modules"));
  // The log CI would have printed: the real `prettier --check` output on this checkout.
  const { execa } = await import("execa");
  const check = await execa("npx", ["--no", "--", "prettier", "--check", "."], {
    cwd: repo.dir,
    reject: false,
  });
  expect(check.exitCode).toBe(1);
  uglyLog = actionsLog(`${check.stdout}\n${check.stderr}`);
  const fixed = await makeRepo({
    files: { ".gitignore": "node_modules\n", "src/greeting.js": PRETTY, "README.md": "# Widgets\n" },
  });
  fixedTree = await fixed.git.revParse("HEAD^{tree}");
  await fixed.cleanup();
});
afterAll(async () => {
  await rm(summaryDir, { recursive: true, force: true });
  await repo.cleanup();
});
beforeEach(async () => {
  temp = await mkdtemp(path.join(os.tmpdir(), "switchyard-recover-"));
  stdout = "";
  jest.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  });
});
afterEach(async () => {
  jest.restoreAllMocks();
  resetGithubApi();
  nock.cleanAll();
  process.env = { ...savedEnv };
  await repo.git.exec(["checkout", "--quiet", "--force", "main"]);
  await repo.git.exec(["clean", "-fdq"]);
  await rm(temp, { recursive: true, force: true });
  await rm(path.join(repo.dir, ".github"), { recursive: true, force: true });
});

describe("mode: recover on a workflow_run failure (no app)", () => {
  it("classifies a Prettier failure, fixes it with the real Prettier, and offers the fix as a PR into the person's branch", async () => {
    await jobEnv(workflowRunEvent(repo.baseSha));
    // The failing commit's own configuration (a PR author's) names other fixers; it is not read.
    // Git ignores it here so that, were it read, it would still stay out of the fix's patch.
    await mkdir(path.join(repo.dir, ".github"), { recursive: true });
    await writeFile(
      path.join(repo.dir, ".github/switchyard.yml"),
      "version: 1\nrecovery:\n  mechanical:\n    format: [gofmt]\n",
    );
    await appendFile(path.join(repo.dir, ".git/info/exclude"), "/.github/\n");
    const gh = githubApi();
    // The default branch's configuration, read through the API as the app reads it.
    gh.scope.get(REPO_CONFIG).reply(200, "version: 1\nrecovery:\n  mechanical:\n    format: [prettier]\n");
    // Planning: the PR, its comments (no stored state), the branch's latest commits, the evidence.
    gh.scope.get(`${API}/pulls/${PR}`).reply(200, {
      number: PR,
      state: "open",
      draft: false,
      labels: [],
      head: { sha: repo.baseSha, ref: HEAD_REF },
      base: { ref: "main" },
    });
    gh.scope.get(`${API}/issues/${PR}/comments`).query(true).reply(200, []);
    gh.scope
      .get(`${API}/commits`)
      .query(true)
      .reply(200, [
        {
          sha: repo.baseSha,
          author: { login: "alice" },
          commit: { message: "Add a greeting", committer: { email: "alice@example.com" } },
        },
      ]);
    serveFailedRun(gh);
    // Flaky history: no other run of the workflow passed on this commit.
    gh.scope
      .get(`${API}/actions/runs`)
      .query((q) => q.status === "success" && q.head_sha === repo.baseSha)
      .reply(200, { total_count: 0, workflow_runs: [] });
    // Delivery: the fix commit through the Git Data API on a new fix branch, then the fix PR.
    const blobSha = createHash("sha1")
      .update(`blob ${Buffer.byteLength(PRETTY)}\0${PRETTY}`)
      .digest("hex");

    gh.scope
      .get(`${API}/git/commits/${repo.baseSha}`)
      .reply(200, { sha: repo.baseSha, tree: { sha: BASE_TREE } });
    gh.scope.get(`${API}/git/ref/heads/${FIX_BRANCH}`).reply(404, { message: "Not Found" });
    gh.scope.post(`${API}/git/blobs`).reply(201, { sha: blobSha });
    gh.scope.post(`${API}/git/trees`).reply(201, { sha: fixedTree, tree: [] });
    gh.scope.post(`${API}/git/commits`).reply(201, { sha: FIX_COMMIT, tree: { sha: fixedTree } });
    gh.scope
      .post(`${API}/git/refs`)
      .reply(201, { ref: `refs/heads/${FIX_BRANCH}`, object: { sha: FIX_COMMIT } });
    gh.scope
      .get(`${API}/pulls`)
      .query({ head: `${OWNER}:${FIX_BRANCH}`, state: "open" })
      .reply(200, []);
    gh.scope
      .post(`${API}/pulls`)
      .reply(201, { number: 13, html_url: `https://github.com/${OWNER}/${REPO}/pull/13`, draft: true });
    // Recording: the switchyard/recover check run on the failing head and the PR's recovery comment.
    gh.scope
      .get(`${API}/commits/${repo.baseSha}/check-runs`)
      .query(true)
      .reply(200, { total_count: 0, check_runs: [] });
    gh.scope.post(`${API}/check-runs`).reply(201, { id: 77, html_url: "https://github.com/x/runs/77" });
    gh.scope.post(`${API}/issues/${PR}/comments`).reply(201, { id: 501, body: "" });

    const outcome = await recoverMode(
      { githubToken: "ghs_test", configPath: ".github/switchyard.yml" },
      process.env,
      FAST,
    );
    gh.done();
    expect(stdout).not.toContain("::error::");

    expect(outcome.action).toEqual({ kind: "run_fixers", tools: ["prettier"] });
    expect(outcome.next).toEqual({
      kind: "wait",
      reason: `the fixers (prettier) committed ${FIX_COMMIT.slice(0, 7)}: waiting for CI on it`,
    });
    expect(outcome.fix!.result).toBe("fixed");
    expect(outcome.fix!.fixers.map((f) => [f.tool, f.status])).toEqual([["prettier", "changed"]]);
    const body = (op: string) =>
      gh.requests.find((r) => r.operationId === op)!.body as Record<string, unknown>;
    // The blob is Prettier's output, byte for byte.
    expect(Buffer.from(body("git/create-blob").content as string, "base64").toString()).toBe(PRETTY);
    expect(body("git/create-tree")).toEqual({
      base_tree: BASE_TREE,
      tree: [{ path: "src/greeting.js", mode: "100644", type: "blob", sha: blobSha }],
    });
    expect(body("git/create-commit")).toMatchObject({ tree: fixedTree, parents: [repo.baseSha] });
    expect(body("git/create-commit").message).toBe(
      "switchyard: fix the format failure (prettier)\n\nprettier changed 1 file (+2 −2)\n\n" +
        "Switchyard-Recovery: acme/widgets#12\nSwitchyard-Tool: prettier\nSwitchyard-Run: 5150-1\n",
    );
    expect(body("git/create-ref")).toEqual({ ref: `refs/heads/${FIX_BRANCH}`, sha: FIX_COMMIT });

    const pr = body("pulls/create");
    expect(pr).toMatchObject({
      head: FIX_BRANCH,
      base: HEAD_REF,
      draft: true,
      title: "switchyard: fix the format failure on #12 (attempt 1)",
    });
    const prBody = pr.body as string;
    expect(prBody).toContain(
      `[workflow run ${RUN_ID}](https://github.com/${OWNER}/${REPO}/actions/runs/${RUN_ID}) failed on \`${HEAD_REF}\` (#12)`,
    );
    expect(prBody).toMatch(/\| Failure class \| format \(confidence \d\.\d\d\) \|/);
    expect(prBody).toContain("| Signature | `format:");
    expect(prBody).toContain("| Failed step | `Run npx prettier --check .` |");
    expect(prBody).toContain("| Attempt | 1 of 3 |");
    expect(prBody).toContain("| Fixed by | prettier (mechanical fixer) |");
    expect(prBody).toContain("- `src/greeting.js`: modified, +2 −2");
    expect(prBody).toContain("[warn] src/greeting.js");

    // The ladder now waits for CI on the fix commit, and says so where people look.
    expect(outcome.recorded!.state).toMatchObject({
      step: "mechanical",
      pending: "ci",
      head_sha: FIX_COMMIT,
      attempts: 1,
    });
    expect(body("checks/create")).toMatchObject({ name: "switchyard/recover", head_sha: repo.baseSha });
    expect(body("issues/create-comment").body).toContain("switchyard:recovery");

    expect(await outputs()).toMatchObject({
      "recovery-action": "run_fixers",
      "recovery-result": "fixed",
      "fix-commit": FIX_COMMIT,
      "fix-branch": FIX_BRANCH,
      "fix-pr-number": "13",
    });
    expect(await readFile(summaryFile, "utf8")).toContain("Committed ");
  }, 60_000);
});

describe("mode: recover on the app's dispatch", () => {
  const OWN = "switchyard/issue-4-add-a-greeting";

  it("runs the dispatched fixers, commits onto Switchyard's own PR branch and tells the ladder, which waits for CI", async () => {
    const key = `${OWNER}/${REPO}#${PR}`;
    const at = "2026-11-21T17:55:00Z";
    // The state the app stored when it dispatched this rung.
    const planned = nextAction(null, {
      key,
      event: { kind: "failed", head_sha: repo.baseSha, category: "format", ci_id: `${RUN_ID}:1` },
      now: at,
      config: ConfigSchema.parse({
        tools: [{ name: "prettier", kind: "mechanical", command: "npx", capabilities: ["linting"] }],
        recovery: { mechanical: { format: ["prettier"] } },
      }),
    });
    expect(planned.action).toEqual({ kind: "run_fixers", tools: ["prettier"] });
    const dispatch = {
      key,
      run_id: RUN_ID,
      head_sha: repo.baseSha,
      head_ref: OWN,
      pr_number: PR,
      base_ref: "main",
      action: planned.action,
      category: "format",
      attempt: 1,
    };
    const event = webhookExample("workflow_dispatch");
    event.repository.default_branch = "main";
    await jobEnv(event);
    process.env.GITHUB_EVENT_NAME = "workflow_dispatch";

    const gh = githubApi();
    noConfig(gh);
    serveFailedRun(gh);
    const blobSha = createHash("sha1")
      .update(`blob ${Buffer.byteLength(PRETTY)}\0${PRETTY}`)
      .digest("hex");
    gh.scope
      .get(`${API}/git/commits/${repo.baseSha}`)
      .reply(200, { sha: repo.baseSha, tree: { sha: BASE_TREE } });
    gh.scope
      .get(`${API}/git/ref/heads/${OWN}`)
      .reply(200, { ref: `refs/heads/${OWN}`, object: { sha: repo.baseSha } });
    gh.scope.post(`${API}/git/blobs`).reply(201, { sha: blobSha });
    gh.scope.post(`${API}/git/trees`).reply(201, { sha: fixedTree, tree: [] });
    gh.scope.post(`${API}/git/commits`).reply(201, { sha: FIX_COMMIT, tree: { sha: fixedTree } });
    gh.scope
      .patch(`${API}/git/refs/heads/${OWN}`)
      .reply(200, { ref: `refs/heads/${OWN}`, object: { sha: FIX_COMMIT } });
    gh.scope.get(`${API}/pulls/${PR}`).reply(200, {
      number: PR,
      state: "open",
      draft: false,
      labels: [],
      head: { sha: repo.baseSha, ref: OWN },
      base: { ref: "main" },
    });
    gh.scope
      .get(`${API}/issues/${PR}/comments`)
      .query(true)
      .reply(200, [
        {
          id: 501,
          body: replaceMarker("Recovery in progress", "recovery", planned.state),
          user: { login: "github-actions[bot]", type: "Bot" },
        },
      ]);
    gh.scope
      .get(`${API}/commits/${repo.baseSha}/check-runs`)
      .query(true)
      .reply(200, { total_count: 0, check_runs: [] });
    gh.scope.post(`${API}/check-runs`).reply(201, { id: 78, html_url: "https://github.com/x/runs/78" });
    gh.scope.patch(`${API}/issues/comments/501`).reply(200, { id: 501, body: "" });

    const outcome = await recoverMode(
      { githubToken: "ghs_test", configPath: ".github/switchyard.yml", recovery: JSON.stringify(dispatch) },
      process.env,
      FAST,
    );
    gh.done();
    expect(outcome.via).toBe("dispatch");
    expect(outcome.failed).toBeNull();
    expect(outcome.delivery).toMatchObject({ ok: true, branch: OWN, commit_sha: FIX_COMMIT, pr: null });
    expect(gh.requests.map((r) => r.operationId)).not.toContain("pulls/create");
    const body = (op: string) =>
      gh.requests.find((r) => r.operationId === op)!.body as Record<string, unknown>;
    expect(body("git/update-ref")).toEqual({ sha: FIX_COMMIT, force: false });
    expect(body("git/create-commit").message).toContain("\nSwitchyard-Recovery: acme/widgets#12\n");
    expect(outcome.next).toMatchObject({ kind: "wait" });
    expect(outcome.recorded!.state).toMatchObject({ pending: "ci", head_sha: FIX_COMMIT, attempts: 1 });
    expect(body("issues/update-comment").body).toContain("switchyard:recovery");
  }, 60_000);

  it("refuses a recovery input that is not the app's, before any request", async () => {
    await jobEnv(webhookExample("workflow_dispatch"));
    const gh = githubApi();
    await expect(
      recoverMode(
        { githubToken: "ghs_test", configPath: ".github/switchyard.yml", recovery: '{"key":"x"}' },
        process.env,
        FAST,
      ),
    ).rejects.toThrow("The recovery input is not valid: key:");
    gh.done();
    expect(gh.requests).toEqual([]);
  });

  it("refuses a config-path other than the default branch's file, before any request", async () => {
    await jobEnv(webhookExample("workflow_dispatch"));
    const gh = githubApi();
    await expect(
      recoverMode(
        { githubToken: "ghs_test", configPath: "ci/switchyard.yml", recovery: "{}" },
        process.env,
        FAST,
      ),
    ).rejects.toThrow(
      'config-path is "ci/switchyard.yml", but mode recover reads .github/switchyard.yml from the default branch',
    );
    gh.done();
    expect(gh.requests).toEqual([]);
  });

  it("fails on an invalid configuration on the default branch, naming the file and line", async () => {
    const event = webhookExample("workflow_dispatch");
    event.repository.default_branch = "main";
    await jobEnv(event);
    const gh = githubApi();
    gh.scope.get(REPO_CONFIG).reply(200, "version: 1\nrecovery:\n  mechanical: [prettier]\n");
    const dispatch = {
      key: `${OWNER}/${REPO}#${PR}`,
      run_id: RUN_ID,
      head_sha: repo.baseSha,
      head_ref: HEAD_REF,
      pr_number: PR,
      base_ref: "main",
      action: { kind: "run_fixers", tools: ["prettier"] },
      category: "format",
      attempt: 1,
    };
    const run = recoverMode(
      { githubToken: "ghs_test", configPath: ".github/switchyard.yml", recovery: JSON.stringify(dispatch) },
      process.env,
      FAST,
    );
    await expect(run).rejects.toThrow(ConfigError);
    await expect(run).rejects.toThrow(".github/switchyard.yml:3");
    gh.done();
    expect(gh.requests.map((r) => r.operationId)).toEqual(["repos/get-content"]);
  });
});

describe("the recover workflows", () => {
  interface Step {
    uses?: string;
    id?: string;
    run?: string;
    with?: Record<string, unknown>;
    env?: Record<string, unknown>;
  }
  interface Workflow {
    on: Record<string, { inputs?: Record<string, unknown>; types?: string[] }>;
    permissions: unknown;
    jobs: Record<string, { if?: string; permissions?: unknown; steps: Step[] }>;
  }
  const read = async (file: string) =>
    parseYaml(await readFile(path.resolve(import.meta.dirname, "../..", file), "utf8")) as Workflow;

  it("the app's workflow takes the recovery input and checks out the failing commit without a stored token", async () => {
    const wf = await read(".github/workflows/switchyard-recover.yml");
    expect(wf.on.workflow_dispatch!.inputs!.recovery).toMatchObject({ required: true, type: "string" });
    expect(wf.permissions).toEqual({});
    const job = wf.jobs.recover!;
    // Read-only: the app commits the fix after checking where the bundle came from.
    expect(job.permissions).toEqual({ contents: "read", actions: "read", checks: "read" });
    const checkout = job.steps.find((s) => s.uses?.startsWith("actions/checkout"))!;
    // A fork's suggestion checks out the fork's head; everything else this repository's.
    expect(checkout.with).toEqual({
      repository: "${{ fromJSON(inputs.recovery).head_repository || github.repository }}",
      ref: "${{ fromJSON(inputs.recovery).head_sha }}",
      "persist-credentials": false,
    });
    const step = job.steps.find((s) => s.id === "switchyard")!;
    expect(step.with).toEqual({ mode: "recover", recovery: "${{ inputs.recovery }}", deliver: "artifact" });
    // The AI keys only for an AI rung: fixers, and so a fork's code, run without secrets.
    expect(step.env).toEqual({
      ANTHROPIC_API_KEY:
        "${{ fromJSON(inputs.recovery).action.kind == 'run_ai' && secrets.ANTHROPIC_API_KEY || '' }}",
      OPENAI_API_KEY:
        "${{ fromJSON(inputs.recovery).action.kind == 'run_ai' && secrets.OPENAI_API_KEY || '' }}",
    });
    for (const s of job.steps.filter((s) => s !== step)) expect(JSON.stringify(s)).not.toContain("secrets.");
    expect(job.steps.at(-1)).toEqual({
      uses: "actions/upload-artifact@v4",
      with: {
        name: "switchyard-fix",
        path: "${{ steps.switchyard.outputs.artifact-path }}",
        "if-no-files-found": "error",
        "retention-days": 1,
      },
    });
    // The input reaches no shell.
    for (const s of job.steps) expect(String(s.run ?? "")).not.toContain("inputs.recovery");
  });

  it("the example keeps a fork's code away from the job before anything is checked out", async () => {
    const wf = await read("docs/examples/workflows/switchyard-recover.yml");
    expect(wf.on.workflow_run!.types).toEqual(["completed"]);
    const job = wf.jobs.recover!;
    expect(job.if).toContain("github.event.workflow_run.head_repository.full_name == github.repository");
    expect(job.if).toContain("github.event.workflow_run.conclusion == 'failure'");
    const checkout = job.steps.find((s) => s.uses?.startsWith("actions/checkout"))!;
    expect(checkout.with).toEqual({
      ref: "${{ github.event.workflow_run.head_sha }}",
      "persist-credentials": false,
    });
    expect(job.steps.at(-1)!.with).toMatchObject({ mode: "recover" });
  });
});

describe("mode: recover with deliver: artifact (the app's dispatch, read-only token)", () => {
  const dispatch = {
    key: "acme/widgets#12",
    run_id: RUN_ID,
    head_sha: "",
    head_ref: "switchyard/issue-3-greeting",
    pr_number: PR,
    base_ref: "main",
    action: { kind: "run_fixers", tools: ["prettier"] },
    category: "format",
    attempt: 1,
  };

  async function bundleOf(dir: string): Promise<Map<string, Uint8Array>> {
    const files = new Map<string, Uint8Array>();
    const { readdir } = await import("node:fs/promises");
    for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const full = path.join(entry.parentPath, entry.name);
      files.set(path.relative(dir, full).split(path.sep).join("/"), await readFile(full));
    }
    return files;
  }

  it("runs the real Prettier, writes a bundle the app can read, and writes nothing to GitHub", async () => {
    const event = webhookExample("workflow_dispatch");
    event.repository.default_branch = "main";
    await jobEnv(event);
    process.env.GITHUB_EVENT_NAME = "workflow_dispatch";
    const gh = githubApi();
    noConfig(gh);
    serveFailedRun(gh);

    const outcome = await recoverMode(
      {
        githubToken: "ghs_read_only",
        recovery: JSON.stringify({ ...dispatch, head_sha: repo.baseSha }),
        deliver: "artifact",
      },
      process.env,
      FAST,
    );
    gh.done();
    // Reads only: the configuration and the failed run's evidence.
    expect(gh.requests.every((r) => r.method === "GET")).toBe(true);
    expect(outcome.recorded).toBeNull();
    expect(outcome.delivery).toBeNull();
    expect(outcome.artifactPath).toBe(path.join(temp, "switchyard-fix"));
    expect((await outputs())["artifact-path"]).toBe(outcome.artifactPath);

    // What actions/upload-artifact would zip and the app would unzip.
    const { zipSync, unzipSync } = await import("fflate");
    const files = new Map(
      Object.entries(unzipSync(zipSync(Object.fromEntries(await bundleOf(outcome.artifactPath!))))),
    );
    const { readFixBundle } = await import("../../src/core/recovery/fix-bundle.js");
    const bundle = readFixBundle(files);
    expect(bundle.manifest).toMatchObject({
      version: 1,
      kind: "recovery",
      key: "acme/widgets#12",
      run_id: 5150,
      run_attempt: 1,
      failed_run_id: RUN_ID,
      head_sha: repo.baseSha,
      attempt: 1,
      action: { kind: "run_fixers", tools: ["prettier"] },
      result: "fixed",
    });
    expect(bundle.manifest.fixers.map((f) => [f.tool, f.status, f.files])).toEqual([
      ["prettier", "changed", ["src/greeting.js"]],
    ]);
    expect(bundle.patch!.files.map((f) => f.path)).toEqual(["src/greeting.js"]);
    const entry = bundle.patch!.entries.find((e) => e.path === "src/greeting.js")!;
    const blob = entry.deleted ? "" : entry.blob;
    expect(new TextDecoder().decode(await bundle.blobs.readBlob(blob))).toBe(PRETTY);
  }, 60_000);

  it("refuses deliver: artifact on a workflow_run event, before any request", async () => {
    await jobEnv(workflowRunEvent(repo.baseSha));
    const gh = githubApi();
    await expect(
      recoverMode({ githubToken: "ghs_test", deliver: "artifact" }, process.env, FAST),
    ).rejects.toThrow("deliver: artifact is for the app's dispatch");
    gh.done();
    expect(gh.requests).toEqual([]);
  });
});
