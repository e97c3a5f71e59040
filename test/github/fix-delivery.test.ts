import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { createHash } from "node:crypto";
import { ConfigSchema } from "../../src/config/schema.js";
import type { CapturedPatch } from "../../src/core/execution/commit-port.js";
import { InputError } from "../../src/core/errors.js";
import type { Evidence } from "../../src/core/recovery/schema.js";
import {
  deliverFix,
  fixCommitMessage,
  fixTarget,
  renderFixReport,
  type DeliverFixInput,
} from "../../src/github/fix-delivery.js";
import { createOctokit } from "../../src/github/octokit.js";
import { capturePatch, GitBlobReader } from "../../src/runner/patch.js";
import type { RecoveryFixContext, RecoveryFixResult } from "../../src/runner/recover-fix.js";
import { blockNetwork, githubApi, resetGithubApi } from "../support/github-contract.js";
import { makeRepo, type TestRepo } from "../support/git-repo.js";

const OWNER = "acme";
const REPO = "widgets";
const API = `/repos/${OWNER}/${REPO}`;
const sha = (label: string) => createHash("sha1").update(label).digest("hex");
const BASE_TREE = sha("base tree");
const FIX_COMMIT = sha("fix commit");
const config = ConfigSchema.parse({});

let repo: TestRepo;
let patch: CapturedPatch;

function context(overrides: Partial<RecoveryFixContext> = {}): RecoveryFixContext {
  return {
    key: `${OWNER}/${REPO}#12`,
    run_id: 555,
    head_sha: repo.baseSha,
    head_ref: "alice/greeting",
    pr_number: 12,
    category: "format",
    signature: "format:src/greeting.js",
    attempt: 2,
    ...overrides,
  };
}

function fixed(): RecoveryFixResult {
  return {
    step: "mechanical",
    result: "fixed",
    reason: "prettier changed 1 file (+1 −1)",
    tools: ["prettier", "ruff-format"],
    patch,
    fixers: [
      {
        tool: "prettier",
        status: "changed",
        reason: "changed 1 file",
        exit_code: 0,
        duration_ms: 900,
        files: ["src/greeting.js"],
      },
      {
        tool: "ruff-format",
        status: "unavailable",
        reason: "`ruff` is not installed (not found on PATH)",
        exit_code: null,
        duration_ms: 3,
        files: [],
      },
    ],
    execution: null,
    evidenceFile: null,
  };
}

const EVIDENCE: Evidence = {
  source: "acme/widgets job 9 (lint)",
  bytes: 80,
  lines: 3,
  steps: ["Run npx prettier --check ."],
  failed_step: "Run npx prettier --check .",
  excerpts: [
    {
      step: "Run npx prettier --check .",
      lines: [
        { n: 2, text: "[warn] src/greeting.js", kind: "match" },
        { n: 3, text: "Process completed with exit code 1.", kind: "error" },
      ],
    },
  ],
  error_lines: 1,
  no_error_lines: false,
  truncated: false,
  dropped_lines: 0,
  binary: false,
  long_lines: 0,
  notes: [],
  annotations: [],
  tests: [],
};

beforeAll(async () => {
  blockNetwork();
  repo = await makeRepo({ files: { "src/greeting.js": "const a = {b:1}\n" } });
  await repo.write({ "src/greeting.js": "const a = { b: 1 };\n" });
  patch = await capturePatch(repo.git, repo.baseSha);
});
afterAll(async () => {
  await repo.cleanup();
});
afterEach(() => resetGithubApi());

describe("fixTarget", () => {
  const withPush = ConfigSchema.parse({ recovery: { push_to_pr_branch: true } });
  it.each([
    [
      "a person's PR: a fix PR into their branch",
      { head_ref: "alice/x", pr_number: 12 },
      config,
      { kind: "fix_pr", branch: "switchyard/fix-12-2", base: "alice/x" },
    ],
    [
      "Switchyard's own PR: onto its branch",
      { head_ref: "switchyard/issue-4-add", pr_number: 12 },
      config,
      { kind: "pr_branch", branch: "switchyard/issue-4-add" },
    ],
    [
      "a person's PR with push_to_pr_branch: onto their branch",
      { head_ref: "alice/x", pr_number: 12 },
      withPush,
      { kind: "pr_branch", branch: "alice/x" },
    ],
    [
      "the default branch: a fix PR into it",
      { head_ref: "main", pr_number: null },
      withPush,
      { kind: "fix_pr", branch: "switchyard/fix-main-2", base: "main" },
    ],
    [
      "a branch without a PR: a fix PR into it",
      { head_ref: "release/1.x", pr_number: null },
      config,
      { kind: "fix_pr", branch: "switchyard/fix-release-1-x-2", base: "release/1.x" },
    ],
  ] as const)("%s", (_name, ctx, cfg, expected) => {
    expect(fixTarget({ ...ctx, attempt: 2 }, cfg, "main")).toMatchObject(expected);
  });
});

describe("the fix's commit message and report", () => {
  it("carries the recovery trailer the loop guard counts, and names the fixer that changed something", () => {
    expect(fixCommitMessage(context(), fixed(), "777-1")).toBe(
      "switchyard: fix the format failure (prettier)\n\nprettier changed 1 file (+1 −1)\n\n" +
        "Switchyard-Recovery: acme/widgets#12\nSwitchyard-Tool: prettier\nSwitchyard-Run: 777-1\n",
    );
  });

  it("explains the failure, its class and signature, the evidence and what changed, and stays under GitHub's limit", () => {
    const target = fixTarget(context(), config, "main");
    const body = renderFixReport({
      context: context(),
      fix: fixed(),
      patch,
      target,
      evidence: EVIDENCE,
      failedRunUrl: "https://github.com/acme/widgets/actions/runs/555",
      maxAttempts: 3,
    });
    expect(body).toContain(
      "[workflow run 555](https://github.com/acme/widgets/actions/runs/555) failed on `alice/greeting` (#12) at " +
        `${repo.baseSha.slice(0, 12)}. Merging this pull request into \`alice/greeting\` applies the fix;`,
    );
    expect(body).toContain("| Failure class | format |");
    expect(body).toContain("| Signature | `format:src/greeting.js` |");
    expect(body).toContain("| Failed step | `Run npx prettier --check .` |");
    expect(body).toContain("| Attempt | 2 of 3 |");
    expect(body).toContain("| Fixed by | prettier (mechanical fixer) |");
    expect(body).toContain("- `src/greeting.js`: modified, +1 −1");
    expect(body).toContain("- ruff-format: unavailable: `ruff` is not installed (not found on PATH)");
    expect(body).toContain("[warn] src/greeting.js");

    const huge = {
      ...EVIDENCE,
      excerpts: Array.from({ length: 400 }, (_, i) => ({
        step: `s${i}`,
        lines: [{ n: i + 1, text: "x".repeat(400), kind: "error" as const }],
      })),
    };
    const bounded = renderFixReport({ context: context(), fix: fixed(), patch, target, evidence: huge });
    expect(bounded.length).toBeLessThan(16_000);
  });
});

describe("deliverFix", () => {
  function deliver(overrides: Partial<DeliverFixInput> = {}) {
    const octokit = createOctokit({ auth: "ghs_test", throttle: false, retries: 0 });
    return deliverFix({
      octokit,
      owner: OWNER,
      repo: REPO,
      context: context(),
      fix: fixed(),
      config,
      defaultBranch: "main",
      blobs: new GitBlobReader(repo.git),
      runId: "777-1",
      evidence: EVIDENCE,
      ...overrides,
    });
  }
  const blob = () => (patch.entries[0] as { blob: string }).blob;

  it("offers a person's PR the fix as a draft PR into their branch, from a new fix branch", async () => {
    const gh = githubApi();
    gh.scope
      .get(`${API}/git/commits/${repo.baseSha}`)
      .reply(200, { sha: repo.baseSha, tree: { sha: BASE_TREE } });
    gh.scope.get(`${API}/git/ref/heads/switchyard/fix-12-2`).reply(404, { message: "Not Found" });
    gh.scope.post(`${API}/git/blobs`).reply(201, { sha: blob() });
    gh.scope.post(`${API}/git/trees`).reply(201, { sha: patch.tree_sha, tree: [] });
    gh.scope.post(`${API}/git/commits`).reply(201, { sha: FIX_COMMIT, tree: { sha: patch.tree_sha } });
    gh.scope
      .post(`${API}/git/refs`)
      .reply(201, { ref: "refs/heads/switchyard/fix-12-2", object: { sha: FIX_COMMIT } });
    gh.scope.get(`${API}/pulls`).query({ head: "acme:switchyard/fix-12-2", state: "open" }).reply(200, []);
    gh.scope
      .post(`${API}/pulls`)
      .reply(201, { number: 13, html_url: "https://github.com/acme/widgets/pull/13", draft: true });

    const result = await deliver();
    gh.done();
    expect(result).toMatchObject({
      ok: true,
      branch: "switchyard/fix-12-2",
      commit_sha: FIX_COMMIT,
      pr: { number: 13, created: true, draft: true },
    });
    const body = (op: string) =>
      gh.requests.find((r) => r.operationId === op)!.body as Record<string, unknown>;
    expect(body("git/create-ref")).toEqual({ ref: "refs/heads/switchyard/fix-12-2", sha: FIX_COMMIT });
    expect(body("git/create-commit")).toMatchObject({ tree: patch.tree_sha, parents: [repo.baseSha] });
    expect(body("git/create-commit").message).toContain("\nSwitchyard-Recovery: acme/widgets#12\n");
    expect(body("pulls/create")).toMatchObject({
      head: "switchyard/fix-12-2",
      base: "alice/greeting",
      draft: true,
      title: "switchyard: fix the format failure on #12 (attempt 2)",
    });
    expect(body("pulls/create").body).toBe(result.report);
    expect(body("pulls/create").body).not.toMatch(/closes #/i);
  });

  it("commits onto Switchyard's own PR branch and opens no PR", async () => {
    const gh = githubApi();
    const ctx = context({ head_ref: "switchyard/issue-4-add" });
    gh.scope
      .get(`${API}/git/commits/${repo.baseSha}`)
      .reply(200, { sha: repo.baseSha, tree: { sha: BASE_TREE } });
    gh.scope
      .get(`${API}/git/ref/heads/switchyard/issue-4-add`)
      .reply(200, { ref: "refs/heads/switchyard/issue-4-add", object: { sha: repo.baseSha } });
    gh.scope.post(`${API}/git/blobs`).reply(201, { sha: blob() });
    gh.scope.post(`${API}/git/trees`).reply(201, { sha: patch.tree_sha, tree: [] });
    gh.scope.post(`${API}/git/commits`).reply(201, { sha: FIX_COMMIT, tree: { sha: patch.tree_sha } });
    gh.scope
      .patch(`${API}/git/refs/heads/switchyard/issue-4-add`)
      .reply(200, { ref: "refs/heads/switchyard/issue-4-add", object: { sha: FIX_COMMIT } });

    const result = await deliver({ context: ctx });
    gh.done();
    expect(result).toMatchObject({
      ok: true,
      branch: "switchyard/issue-4-add",
      commit_sha: FIX_COMMIT,
      pr: null,
    });
    expect(gh.requests.at(-1)!.body).toEqual({ sha: FIX_COMMIT, force: false });
  });

  it("edits the fix PR a redelivered dispatch finds open, instead of opening a second", async () => {
    const gh = githubApi();
    gh.scope
      .get(`${API}/git/commits/${repo.baseSha}`)
      .reply(200, { sha: repo.baseSha, tree: { sha: BASE_TREE } });
    // The branch already holds exactly this fix: nothing is written.
    gh.scope
      .get(`${API}/git/ref/heads/switchyard/fix-12-2`)
      .reply(200, { ref: "x", object: { sha: FIX_COMMIT } });
    gh.scope
      .get(`${API}/compare/${repo.baseSha}...${FIX_COMMIT}`)
      .query(true)
      .reply(200, {
        status: "ahead",
        files: [{ filename: "src/greeting.js", status: "modified", sha: blob() }],
      });
    gh.scope
      .get(`${API}/git/commits/${FIX_COMMIT}`)
      .reply(200, { sha: FIX_COMMIT, tree: { sha: patch.tree_sha } });
    gh.scope.post(`${API}/git/trees`).reply(201, { sha: patch.tree_sha, tree: [] });
    gh.scope
      .get(`${API}/pulls`)
      .query(true)
      .reply(200, [{ number: 13, html_url: "https://github.com/acme/widgets/pull/13", draft: true }]);
    gh.scope
      .patch(`${API}/pulls/13`)
      .reply(200, { number: 13, html_url: "https://github.com/acme/widgets/pull/13", draft: true });

    const result = await deliver();
    gh.done();
    expect(result).toMatchObject({ ok: true, commit_sha: FIX_COMMIT, pr: { number: 13, created: false } });
    expect(gh.requests.map((r) => r.operationId)).not.toContain("pulls/create");
  });

  it("refuses a result that holds no fix, and a patch made on another commit", async () => {
    await expect(deliver({ fix: { ...fixed(), result: "no_fix", patch: null } })).rejects.toThrow(
      "Cannot deliver the fix: there is none (the run's result was no_fix)",
    );
    await expect(deliver({ context: context({ head_sha: sha("other") }) })).rejects.toThrow(InputError);
  });
});
