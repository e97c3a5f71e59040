import { createHash } from "node:crypto";
import { chmod, rm } from "node:fs/promises";
import path from "node:path";
import nock from "nock";
import { GitDataCommitPort } from "../src/github/git-data-commit.js";
import { createOctokit } from "../src/github/octokit.js";
import { GitBlobReader, capturePatch } from "../src/runner/patch.js";
import { makeRepo } from "../test/support/git-repo.js";
import { blockNetwork, contractInfo, githubApi, resetGithubApi } from "../test/support/github-contract.js";
import type { BenchResult } from "./harness.js";

/**
 * Commits a 1,000-file patch through the Git Data API against a stand-in GitHub (nock, with
 * every request checked against GitHub's OpenAPI description) and counts the requests by
 * operation. The target is about requests, not time: blobs only for new contents, at most
 * ceil(files / 100) tree requests, one commit request. Throttling is off here; with it on, the
 * plugin spaces writes a second apart, which is what GitHub asks of integrations but would make
 * this a 15-minute benchmark of a sleep.
 */

export interface GitDataCommitBench {
  files: number;
  requests: Record<string, number>;
  treeRequests: number;
  commitRequests: number;
  blobRequests: number;
  /** Blob requests a correct run makes: one per distinct new content. */
  expectedBlobRequests: number;
  ms: number;
}

const MODIFIED = 900;
const DELETED = 50;
const MODE_ONLY = 10;
const ADDED = 40;
const UNTOUCHED = 500;

const name = (i: number) => `src/module-${String(i).padStart(4, "0")}.ts`;
const fakeSha = (label: string) => createHash("sha1").update(label).digest("hex");
const gitBlobSha = (bytes: Buffer) =>
  createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");

export async function benchGitDataCommit(): Promise<GitDataCommitBench> {
  // makeRepo commits, and a bench machine may have no git identity.
  process.env.GIT_AUTHOR_NAME ??= "Switchyard Bench";
  process.env.GIT_AUTHOR_EMAIL ??= "bench@switchyard.invalid";
  process.env.GIT_COMMITTER_NAME ??= "Switchyard Bench";
  process.env.GIT_COMMITTER_EMAIL ??= "bench@switchyard.invalid";

  const existing = MODIFIED + DELETED + MODE_ONLY + UNTOUCHED;
  const files = Object.fromEntries(
    Array.from({ length: existing }, (_, i) => [name(i), `export const value${i} = ${i};\n`]),
  );
  const repo = await makeRepo({ files });
  try {
    const edits: Record<string, string> = {};
    for (let i = 0; i < MODIFIED; i++) edits[name(i)] = `export const value${i} = ${i * 2}; // changed\n`;
    for (let i = 0; i < ADDED; i++) edits[`src/new/added-${i}.ts`] = `export const added${i} = true;\n`;
    await repo.write(edits);
    for (let i = MODIFIED; i < MODIFIED + DELETED; i++) await rm(path.join(repo.dir, name(i)));
    for (let i = MODIFIED + DELETED; i < MODIFIED + DELETED + MODE_ONLY; i++)
      await chmod(path.join(repo.dir, name(i)), 0o755);
    const patch = await capturePatch(repo.git, repo.baseSha);

    blockNetwork();
    contractInfo(); // loads GitHub's description now, outside the timed part
    const gh = githubApi();
    const api = "/repos/octo/app";
    const branch = "switchyard/issue-1000-big-change";
    gh.scope
      .get(`${api}/git/commits/${repo.baseSha}`)
      .reply(200, { sha: repo.baseSha, tree: { sha: fakeSha("base") } });
    gh.scope.get(`${api}/git/ref/heads/${branch}`).reply(404, { message: "Not Found" });
    gh.scope
      .post(`${api}/git/blobs`)
      .times(MODIFIED + ADDED)
      .reply(201, (_uri, body) => {
        const { content } = (typeof body === "string" ? JSON.parse(body) : body) as { content: string };
        return { sha: gitBlobSha(Buffer.from(content, "base64")), url: "https://api.github.com/blob" };
      });
    let trees = 0;
    const treeCount = Math.ceil(patch.files.length / 100);
    gh.scope
      .post(`${api}/git/trees`)
      .times(treeCount)
      .reply(201, () => ({
        sha: ++trees === treeCount ? patch.tree_sha : fakeSha(`tree ${trees}`),
        tree: [],
      }));
    gh.scope.post(`${api}/git/commits`).reply(201, { sha: fakeSha("commit"), tree: { sha: patch.tree_sha } });
    gh.scope
      .post(`${api}/git/refs`)
      .reply(201, { ref: `refs/heads/${branch}`, object: { sha: fakeSha("commit") } });

    const port = new GitDataCommitPort({
      octokit: createOctokit({ auth: "bench", baseUrl: gh.baseUrl, retries: 0, throttle: false }),
      owner: "octo",
      repo: "app",
      blobs: new GitBlobReader(repo.git),
      defaultBranch: "main",
    });
    const t0 = process.hrtime.bigint();
    const result = await port.commitPatch({ branch, baseSha: repo.baseSha, message: "Big change", patch });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    gh.done();
    if (!result.ok) throw new Error(`the bench commit did not land: ${result.message}`);

    const requests: Record<string, number> = {};
    for (const r of gh.requests)
      requests[r.operationId ?? "unknown"] = (requests[r.operationId ?? "unknown"] ?? 0) + 1;
    return {
      files: patch.files.length,
      requests,
      treeRequests: requests["git/create-tree"] ?? 0,
      commitRequests: requests["git/create-commit"] ?? 0,
      blobRequests: requests["git/create-blob"] ?? 0,
      expectedBlobRequests: MODIFIED + ADDED,
      ms,
    };
  } finally {
    resetGithubApi();
    nock.enableNetConnect();
    await repo.cleanup();
  }
}

/** The same run as rows for the bench table: the request counts against their targets. */
export async function gitDataCommitBenchResults(): Promise<BenchResult[]> {
  const b = await benchGitDataCommit();
  const row = (label: string, figure: number, target: string, ok: boolean, note?: string): BenchResult => ({
    name: `Git Data API commit, ${b.files} files: ${label}`,
    runs: 1,
    unit: "requests",
    p50: figure,
    p99: figure,
    mean: figure,
    figure,
    target,
    ok,
    ...(note ? { note } : {}),
  });
  const maxTrees = Math.ceil(b.files / 100);
  return [
    row("tree requests", b.treeRequests, `≤ ${maxTrees} (ceil(files/100))`, b.treeRequests <= maxTrees),
    row("commit requests", b.commitRequests, "1", b.commitRequests === 1),
    row(
      "blob requests",
      b.blobRequests,
      `${b.expectedBlobRequests} (new contents only)`,
      b.blobRequests === b.expectedBlobRequests,
      `${Math.round(b.ms)} ms against a local stand-in`,
    ),
  ];
}
