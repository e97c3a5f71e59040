import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { createHash } from "node:crypto";
import { chmod, rm, symlink } from "node:fs/promises";
import { join } from "node:path";
import type { CapturedPatch, CommitPatchResult } from "../../src/core/execution/commit-port.js";
import { InputError } from "../../src/core/errors.js";
import { GitHubApiError, WorkflowChangeRefusedError } from "../../src/github/errors.js";
import {
  GitDataCommitPort,
  branchNameProblem,
  chunkTreeItems,
  treeItems,
  type GitDataCommitOptions,
  type TreeItem,
} from "../../src/github/git-data-commit.js";
import { createOctokit } from "../../src/github/octokit.js";
import { resetToBase, type HeadState } from "../../src/runner/git.js";
import { GitBlobReader, capturePatch } from "../../src/runner/patch.js";
import { makeRepo, type FileContent, type TestRepo } from "../support/git-repo.js";
import { blockNetwork, githubApi, resetGithubApi, type GithubApi } from "../support/github-contract.js";

const OWNER = "octo";
const REPO = "app";
const API = `/repos/${OWNER}/${REPO}`;
const BRANCH = "switchyard/issue-12-fix-login";
const REF_URL = `${API}/git/ref/heads/switchyard/issue-12-fix-login`;
const REFS_URL = `${API}/git/refs/heads/switchyard/issue-12-fix-login`;
const silent = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/** A stand-in object id; the label keeps each one recognisable in a failure. */
function fakeSha(label: string): string {
  return createHash("sha1").update(label).digest("hex");
}
const BASE_TREE = fakeSha("base tree");
const TIP_TREE = fakeSha("tip tree");
const NEW_COMMIT = fakeSha("new commit");

/** Git's blob id of `bytes`, computed here independently of the code under test. */
function gitBlobSha(bytes: Buffer): string {
  return createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
}
const b64 = (content: FileContent) => Buffer.from(content).toString("base64");

// Every edit below changes its file's size. capturePatch seeds its temporary index from a copy
// of the real one, and the copy's fresh mtime hides git's racy-clean marks: a same-size edit made
// in the second of the last reset, captured in a later second, is missed (reported to the lead).
const FILES: Record<string, FileContent> = {
  "README.md": "# demo\n",
  "src/login.ts": "export const login = 1;\n",
  "scripts/run.sh": "#!/bin/sh\necho run\n",
  "old/name.txt": "moving\n",
  "obsolete.txt": "bye\n",
  "docs/guide.md": "guide\n",
};
const LOGO = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff, 0xfe, 0x0a, 0x00]);

let repo: TestRepo;
let start: HeadState;

beforeAll(async () => {
  blockNetwork();
  repo = await makeRepo({ files: FILES });
  start = await repo.git.readHead();
});
afterAll(() => repo.cleanup());
afterEach(() => resetGithubApi());

/** What a runner does: let the "tool" change the checkout, capture, reset for the next test. */
async function patchOf(change: () => Promise<void>): Promise<CapturedPatch> {
  await resetToBase(repo.git, start);
  await change();
  const patch = await capturePatch(repo.git, start.sha);
  await resetToBase(repo.git, start);
  return patch;
}

/** Every kind of change at once: edit, binary add, symlink, mode change, rename, delete, duplicates. */
async function everyKindOfChange(): Promise<void> {
  await repo.write({
    "src/login.ts": "export const login: number = 2;\n",
    "assets/logo.bin": LOGO,
    "copy1.txt": "same\n",
    "copy2.txt": "same\n",
    "new/name.txt": "moving\n",
  });
  await chmod(join(repo.dir, "scripts/run.sh"), 0o755);
  await symlink("README.md", join(repo.dir, "link.md"));
  await rm(join(repo.dir, "old/name.txt"));
  await rm(join(repo.dir, "obsolete.txt"));
}

const smallChange = (files: Record<string, FileContent>) => () => repo.write(files);

function portFor(gh: GithubApi, options: Partial<GitDataCommitOptions> = {}): GitDataCommitPort {
  return new GitDataCommitPort({
    octokit: createOctokit({ auth: "test", baseUrl: gh.baseUrl, retries: 0, throttle: false, log: silent }),
    owner: OWNER,
    repo: REPO,
    blobs: new GitBlobReader(repo.git),
    defaultBranch: "main",
    ...options,
  });
}

/** GitHub's blob endpoint, faithfully: the id it answers is the git id of what was sent. */
function serveBlobs(gh: GithubApi, times: number): void {
  gh.scope
    .post(`${API}/git/blobs`)
    .times(times)
    .reply(201, (_uri, body) => {
      const { content } = (typeof body === "string" ? JSON.parse(body) : body) as { content: string };
      const sha = gitBlobSha(Buffer.from(content, "base64"));
      return { sha, url: `https://api.github.com${API}/git/blobs/${sha}` };
    });
}

function serveBaseCommit(gh: GithubApi): void {
  gh.scope
    .get(`${API}/git/commits/${repo.baseSha}`)
    .reply(200, { sha: repo.baseSha, tree: { sha: BASE_TREE } });
}

function serveNoBranch(gh: GithubApi): void {
  gh.scope.get(REF_URL).reply(404, { message: "Not Found", status: "404" });
}

function serveBranchAt(gh: GithubApi, sha: string): void {
  gh.scope.get(REF_URL).reply(200, { ref: `refs/heads/${BRANCH}`, object: { sha, type: "commit" } });
}

function serveTrees(gh: GithubApi, ...shas: string[]): void {
  for (const sha of shas) gh.scope.post(`${API}/git/trees`).reply(201, { sha, tree: [] });
}

function serveCommit(gh: GithubApi, sha = NEW_COMMIT): void {
  gh.scope.post(`${API}/git/commits`).reply(201, { sha, tree: { sha: fakeSha("any") } });
}

function ops(gh: GithubApi): string[] {
  return gh.requests.map((r) => `${r.method} ${r.path}`);
}

function bodiesOf(gh: GithubApi, operationId: string): unknown[] {
  return gh.requests.filter((r) => r.operationId === operationId).map((r) => r.body);
}

function committed(result: CommitPatchResult): Extract<CommitPatchResult, { ok: true }> {
  if (!result.ok) throw new Error(`expected a commit, got: ${result.message}`);
  return result;
}

const message = "Fix the login counter (#12)\n\nSwitchyard ran aider.\n\n";

describe("GitDataCommitPort on a new branch", () => {
  it("sends each new content once, one tree on the base tree, one commit, and creates the ref", async () => {
    const patch = await patchOf(everyKindOfChange);
    const blobOf = (path: string) => {
      const e = patch.entries.find((x) => x.path === path);
      if (!e || e.deleted) throw new Error(`no write for ${path}`);
      return e.blob;
    };
    const gh = githubApi();
    serveBaseCommit(gh);
    serveNoBranch(gh);
    serveBlobs(gh, 5);
    serveTrees(gh, patch.tree_sha);
    serveCommit(gh);
    gh.scope.post(`${API}/git/refs`).reply(201, { ref: `refs/heads/${BRANCH}`, object: { sha: NEW_COMMIT } });

    const result = await portFor(gh).commitPatch({ branch: BRANCH, baseSha: repo.baseSha, message, patch });

    gh.done();
    expect(result).toEqual({
      ok: true,
      branch: BRANCH,
      commitSha: NEW_COMMIT,
      created: true,
      updated: false,
      rebasedOnto: null,
    });
    expect(ops(gh)).toEqual([
      `GET ${API}/git/commits/${repo.baseSha}`,
      `GET ${REF_URL}`,
      ...Array(5).fill(`POST ${API}/git/blobs`),
      `POST ${API}/git/trees`,
      `POST ${API}/git/commits`,
      `POST ${API}/git/refs`,
    ]);
    // Blobs go up concurrently, so their order is not fixed; their set is. Not sent: the mode
    // change's content (GitHub has it), the deletions, and the second copy of "same\n".
    const blobBodies = bodiesOf(gh, "git/create-blob") as { content: string }[];
    expect(blobBodies.map((b) => b.content).sort()).toEqual(
      [
        b64("export const login: number = 2;\n"),
        b64(LOGO),
        b64("same\n"),
        b64("README.md"),
        b64("moving\n"),
      ].sort(),
    );
    expect(blobBodies.every((b) => Object.keys(b).join() === "content,encoding")).toBe(true);
    expect(new Set(blobBodies.map((b) => (b as unknown as { encoding: string }).encoding))).toEqual(
      new Set(["base64"]),
    );
    expect(bodiesOf(gh, "git/create-tree")).toEqual([
      {
        base_tree: BASE_TREE,
        tree: [
          { path: "assets/logo.bin", mode: "100644", type: "blob", sha: gitBlobSha(LOGO) },
          { path: "copy1.txt", mode: "100644", type: "blob", sha: gitBlobSha(Buffer.from("same\n")) },
          { path: "copy2.txt", mode: "100644", type: "blob", sha: gitBlobSha(Buffer.from("same\n")) },
          { path: "link.md", mode: "120000", type: "blob", sha: gitBlobSha(Buffer.from("README.md")) },
          { path: "old/name.txt", mode: "100644", type: "blob", sha: null },
          { path: "new/name.txt", mode: "100644", type: "blob", sha: gitBlobSha(Buffer.from("moving\n")) },
          { path: "obsolete.txt", mode: "100644", type: "blob", sha: null },
          { path: "scripts/run.sh", mode: "100755", type: "blob", sha: blobOf("scripts/run.sh") },
          {
            path: "src/login.ts",
            mode: "100644",
            type: "blob",
            sha: gitBlobSha(Buffer.from("export const login: number = 2;\n")),
          },
        ],
      },
    ]);
    // The mode-only change reuses the content the base already has.
    expect(blobOf("scripts/run.sh")).toBe(gitBlobSha(Buffer.from(FILES["scripts/run.sh"] as string)));
    expect(bodiesOf(gh, "git/create-commit")).toEqual([
      {
        message: "Fix the login counter (#12)\n\nSwitchyard ran aider.\n",
        tree: patch.tree_sha,
        parents: [repo.baseSha],
      },
    ]);
    expect(bodiesOf(gh, "git/create-ref")).toEqual([{ ref: `refs/heads/${BRANCH}`, sha: NEW_COMMIT }]);
  });

  it("writes ceil(files / chunk) trees, each on the tree the previous one made", async () => {
    const patch = await patchOf(everyKindOfChange);
    // Eight changed files; the rename makes nine entries.
    expect([patch.files.length, patch.entries.length]).toEqual([8, 9]);
    const gh = githubApi();
    serveBaseCommit(gh);
    serveNoBranch(gh);
    serveBlobs(gh, 5);
    const [t1, t2, t3] = ["t1", "t2", "t3"].map(fakeSha) as [string, string, string];
    serveTrees(gh, t1, t2, t3, patch.tree_sha);
    serveCommit(gh);
    gh.scope.post(`${API}/git/refs`).reply(201, { ref: `refs/heads/${BRANCH}`, object: { sha: NEW_COMMIT } });

    committed(
      await portFor(gh, { treeChunk: 2, concurrency: 1 }).commitPatch({
        branch: BRANCH,
        baseSha: repo.baseSha,
        message,
        patch,
      }),
    );

    gh.done();
    const trees = bodiesOf(gh, "git/create-tree") as { base_tree: string; tree: { path: string }[] }[];
    expect(trees.map((t) => t.base_tree)).toEqual([BASE_TREE, t1, t2, t3]);
    expect(trees.map((t) => t.tree.map((e) => e.path))).toEqual([
      ["assets/logo.bin", "copy1.txt"],
      ["copy2.txt", "link.md"],
      ["old/name.txt", "new/name.txt", "obsolete.txt"],
      ["scripts/run.sh", "src/login.ts"],
    ]);
    // With one upload at a time the blobs go in the order of the patch.
    expect((bodiesOf(gh, "git/create-blob") as { content: string }[]).map((b) => b.content)).toEqual([
      b64(LOGO),
      b64("same\n"),
      b64("README.md"),
      b64("moving\n"),
      b64("export const login: number = 2;\n"),
    ]);
    expect((bodiesOf(gh, "git/create-commit")[0] as { tree: string }).tree).toBe(patch.tree_sha);
  });

  it("refuses a patch whose entries do not make the tree its manifest names, before any commit", async () => {
    const patch = await patchOf(smallChange({ "src/login.ts": "export const login: number = 3;\n" }));
    const gh = githubApi();
    serveBaseCommit(gh);
    serveNoBranch(gh);
    serveBlobs(gh, 1);
    serveTrees(gh, fakeSha("some other tree"));

    const error = await portFor(gh)
      .commitPatch({ branch: BRANCH, baseSha: repo.baseSha, message, patch })
      .catch((e: unknown) => e);

    gh.done();
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toBe(
      `the patch's entries make tree ${fakeSha("some other tree")} on its base, but its manifest says ` +
        `${patch.tree_sha}; refusing an inconsistent patch (the branch was not changed)`,
    );
    expect(ops(gh)).not.toContain(`POST ${API}/git/commits`);
  });

  it("looks the default branch up when it was not given, and refuses to commit to it", async () => {
    const patch = await patchOf(smallChange({ "src/login.ts": "export const login: number = 3;\n" }));
    const gh = githubApi();
    gh.scope
      .get(API)
      .reply(200, { id: 1, name: REPO, full_name: `${OWNER}/${REPO}`, default_branch: "trunk" });

    const error = await portFor(gh, { defaultBranch: undefined })
      .commitPatch({ branch: "trunk", baseSha: repo.baseSha, message, patch })
      .catch((e: unknown) => e);

    gh.done();
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toBe(
      `refusing to commit to trunk: it is the default branch of octo/app`,
    );
    expect(ops(gh)).toEqual([`GET ${API}`]);
  });

  it("says so when the base commit is not in the repository", async () => {
    const patch = await patchOf(smallChange({ "src/login.ts": "export const login: number = 3;\n" }));
    const gh = githubApi();
    gh.scope.get(`${API}/git/commits/${repo.baseSha}`).reply(404, { message: "Not Found" });

    const error = await portFor(gh)
      .commitPatch({ branch: BRANCH, baseSha: repo.baseSha, message, patch })
      .catch((e: unknown) => e);

    gh.done();
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toBe(
      `the base commit ${repo.baseSha} is not in octo/app; was the patch captured in another repository, ` +
        "or was the commit force-pushed away?",
    );
  });
});

describe("GitDataCommitPort refusals before any request", () => {
  it("refuses a workflow change, naming the permission it would need, with no request made", async () => {
    const patch = await patchOf(async () => {
      await repo.write({
        ".github/workflows/ci.yml": "on: push\n",
        "src/login.ts": "export const login: number = 4;\n",
      });
    });
    const gh = githubApi();

    const error = await portFor(gh)
      .commitPatch({ branch: BRANCH, baseSha: repo.baseSha, message, patch })
      .catch((e: unknown) => e);

    gh.done();
    expect(gh.requests).toHaveLength(0);
    expect(error).toBeInstanceOf(WorkflowChangeRefusedError);
    expect((error as WorkflowChangeRefusedError).paths).toEqual([".github/workflows/ci.yml"]);
    expect((error as Error).message).toBe(
      "refusing to commit changes to workflow files (.github/workflows/ci.yml): changing workflow files needs " +
        "the `workflows` permission and `execution.allow_workflow_changes: true` (for a GitHub App the " +
        "`workflows: write` permission, for a personal access token the `workflow` scope); nothing was sent to GitHub",
    );
  });

  it("catches a workflow path the manifest lists only among its entries, in any case", async () => {
    const patch = await patchOf(smallChange({ "src/login.ts": "export const login: number = 5;\n" }));
    const sneaky: CapturedPatch = {
      ...patch,
      entries: [...patch.entries, { path: ".GitHub/Workflows/x.yml", deleted: true }],
    };
    const gh = githubApi();

    const error = await portFor(gh)
      .commitPatch({ branch: BRANCH, baseSha: repo.baseSha, message, patch: sneaky })
      .catch((e: unknown) => e);

    gh.done();
    expect(gh.requests).toHaveLength(0);
    expect((error as WorkflowChangeRefusedError).paths).toEqual([".GitHub/Workflows/x.yml"]);
  });

  it("commits a workflow change when it is allowed", async () => {
    const patch = await patchOf(smallChange({ ".github/workflows/ci.yml": "on: push\n" }));
    const gh = githubApi();
    serveBaseCommit(gh);
    serveNoBranch(gh);
    serveBlobs(gh, 1);
    serveTrees(gh, patch.tree_sha);
    serveCommit(gh);
    gh.scope.post(`${API}/git/refs`).reply(201, { ref: `refs/heads/${BRANCH}`, object: { sha: NEW_COMMIT } });

    const result = await portFor(gh, { allowWorkflowChanges: true }).commitPatch({
      branch: BRANCH,
      baseSha: repo.baseSha,
      message,
      patch,
    });

    gh.done();
    expect(committed(result).created).toBe(true);
    expect(bodiesOf(gh, "git/create-tree")).toEqual([
      {
        base_tree: BASE_TREE,
        tree: [
          {
            path: ".github/workflows/ci.yml",
            mode: "100644",
            type: "blob",
            sha: gitBlobSha(Buffer.from("on: push\n")),
          },
        ],
      },
    ]);
  });

  it.each([
    ["main", "refusing to commit to main: it is the default branch of octo/app"],
    ["bad..name", '"bad..name" is not a valid branch name: it contains ".."'],
    [
      "has space",
      '"has space" is not a valid branch name: it contains a space, a control character or one of ~ ^ : ? * [ \\',
    ],
    ["x.lock", '"x.lock" is not a valid branch name: its segment "x.lock" ends with ".lock"'],
  ])("refuses the branch %j with no request made", async (branch, expected) => {
    const patch = await patchOf(smallChange({ "src/login.ts": "export const login: number = 6;\n" }));
    const gh = githubApi();

    const error = await portFor(gh)
      .commitPatch({ branch, baseSha: repo.baseSha, message, patch })
      .catch((e: unknown) => e);

    gh.done();
    expect(gh.requests).toHaveLength(0);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toBe(expected);
  });

  it("refuses a patch captured on another base", async () => {
    const patch = await patchOf(smallChange({ "src/login.ts": "export const login: number = 7;\n" }));
    const gh = githubApi();
    const other = fakeSha("other base");

    const error = await portFor(gh)
      .commitPatch({ branch: BRANCH, baseSha: other, message, patch })
      .catch((e: unknown) => e);

    gh.done();
    expect((error as Error).message).toBe(
      `the patch was captured on ${repo.baseSha}, not on the base commit ${other}`,
    );
  });
});

describe("branchNameProblem", () => {
  it.each([
    ["switchyard/issue-12-fix-login", null],
    ["switchyard/fix-7-2", null],
    ["", "it is empty"],
    ["-x", 'it starts with "-"'],
    ["a//b", "it has an empty path segment"],
    ["a/", "it has an empty path segment"],
    ["a/.hidden", 'its segment ".hidden" starts with "."'],
    ["a@{b", 'it contains "@{"'],
    ["a.", 'it ends with "."'],
    ["@", 'it is "@"'],
  ])("%j -> %j", (name, expected) => {
    expect(branchNameProblem(name)).toBe(expected);
  });
});

describe("treeItems", () => {
  it("deletes a path before writing where it is replaced by a directory, or replaces one", async () => {
    const patch = await patchOf(async () => {
      // docs/guide.md becomes a directory; src becomes a file.
      await rm(join(repo.dir, "docs/guide.md"));
      await rm(join(repo.dir, "src"), { recursive: true });
      await repo.write({ "docs/guide.md/index.md": "guide\n", src: "now a file\n" });
    });

    expect(treeItems(patch.entries).map((i) => `${i.sha === null ? "-" : "+"}${i.path}`)).toEqual([
      "-docs/guide.md",
      "-src/login.ts",
      "+docs/guide.md/index.md",
      "+src",
    ]);
  });
});

describe("chunkTreeItems", () => {
  const write = (path: string): TreeItem => ({ path, mode: "100644", type: "blob", sha: fakeSha(path) });
  const drop = (path: string): TreeItem => ({ path, mode: "100644", type: "blob", sha: null });

  it("counts a rename's deletion as free, so F files take ceil(F / size) requests", () => {
    const items = [drop("a0"), write("b0"), drop("a1"), write("b1"), drop("a2"), write("b2"), drop("gone")];
    const chunks = chunkTreeItems(items, new Set(["a0", "a1", "a2"]), 2);
    expect(chunks.map((c) => c.map((i) => i.path))).toEqual([
      ["a0", "b0", "a1", "b1"],
      ["a2", "b2", "gone"],
    ]);
  });

  it("puts 1,000 files in 10 requests of 100", () => {
    const items = Array.from({ length: 1000 }, (_, i) => write(`f${i}`));
    expect(chunkTreeItems(items, new Set(), 100).map((c) => c.length)).toEqual(Array(10).fill(100));
  });
});

describe("GitDataCommitPort on an existing branch", () => {
  const TIP = fakeSha("their tip");

  it("adds a commit on the branch's tip and moves the ref without force, never a second branch", async () => {
    const patch = await patchOf(smallChange({ "src/login.ts": "export const login: number = 8;\n" }));
    const gh = githubApi();
    serveBaseCommit(gh);
    serveBranchAt(gh, TIP);
    gh.scope
      .get(`${API}/compare/${repo.baseSha}...${TIP}`)
      .query({ per_page: "1" })
      .reply(200, {
        status: "ahead",
        files: [{ filename: "docs/guide.md", status: "modified", sha: fakeSha("guide v2") }],
      });
    gh.scope.get(`${API}/git/commits/${TIP}`).reply(200, { sha: TIP, tree: { sha: TIP_TREE } });
    serveBlobs(gh, 1);
    serveTrees(gh, fakeSha("tree on tip"));
    serveCommit(gh);
    gh.scope.patch(REFS_URL).reply(200, { ref: `refs/heads/${BRANCH}`, object: { sha: NEW_COMMIT } });

    const result = await portFor(gh).commitPatch({ branch: BRANCH, baseSha: repo.baseSha, message, patch });

    gh.done();
    expect(result).toEqual({
      ok: true,
      branch: BRANCH,
      commitSha: NEW_COMMIT,
      created: false,
      updated: true,
      rebasedOnto: TIP,
    });
    expect(ops(gh)).toEqual([
      `GET ${API}/git/commits/${repo.baseSha}`,
      `GET ${REF_URL}`,
      `GET ${API}/compare/${repo.baseSha}...${TIP}`,
      `GET ${API}/git/commits/${TIP}`,
      `POST ${API}/git/blobs`,
      `POST ${API}/git/trees`,
      `POST ${API}/git/commits`,
      `PATCH ${REFS_URL}`,
    ]);
    expect(bodiesOf(gh, "git/create-tree")).toEqual([
      {
        base_tree: TIP_TREE,
        tree: [
          {
            path: "src/login.ts",
            mode: "100644",
            type: "blob",
            sha: gitBlobSha(Buffer.from("export const login: number = 8;\n")),
          },
        ],
      },
    ]);
    expect(bodiesOf(gh, "git/create-commit")).toEqual([
      {
        message: "Fix the login counter (#12)\n\nSwitchyard ran aider.\n",
        tree: fakeSha("tree on tip"),
        parents: [TIP],
      },
    ]);
    expect(bodiesOf(gh, "git/update-ref")).toEqual([{ sha: NEW_COMMIT, force: false }]);
  });

  it("answers branch_moved when the tip changed a file the patch changes, and writes nothing", async () => {
    const patch = await patchOf(
      smallChange({ "src/login.ts": "export const login: number = 9;\n", "README.md": "# x\n" }),
    );
    const gh = githubApi();
    serveBaseCommit(gh);
    serveBranchAt(gh, TIP);
    gh.scope
      .get(`${API}/compare/${repo.baseSha}...${TIP}`)
      .query(true)
      .reply(200, {
        status: "ahead",
        files: [
          { filename: "src/login.ts", status: "modified", sha: fakeSha("their login") },
          { filename: "docs/guide.md", status: "modified", sha: fakeSha("guide v2") },
        ],
      });

    const result = await portFor(gh).commitPatch({ branch: BRANCH, baseSha: repo.baseSha, message, patch });

    gh.done();
    expect(result).toEqual({
      ok: false,
      reason: "branch_moved",
      branch: BRANCH,
      theirSha: TIP,
      conflictingPaths: ["src/login.ts"],
      message:
        `branch ${BRANCH} moved under us: the patch conflicts with ${TIP.slice(0, 12)} in src/login.ts; ` +
        `nothing was committed to it, start a new attempt from ${TIP.slice(0, 12)}`,
    });
    expect(gh.requests.every((r) => r.method === "GET")).toBe(true);
  });

  it("makes no commit when the tip already holds exactly this change", async () => {
    const patch = await patchOf(async () => {
      await repo.write({ "src/login.ts": "export const login: number = 10;\n" });
      await rm(join(repo.dir, "obsolete.txt"));
    });
    const ours = gitBlobSha(Buffer.from("export const login: number = 10;\n"));
    const gh = githubApi();
    serveBaseCommit(gh);
    serveBranchAt(gh, TIP);
    gh.scope
      .get(`${API}/compare/${repo.baseSha}...${TIP}`)
      .query(true)
      .reply(200, {
        status: "ahead",
        files: [
          { filename: "src/login.ts", status: "modified", sha: ours },
          { filename: "obsolete.txt", status: "removed", sha: fakeSha("bye") },
        ],
      });
    gh.scope.get(`${API}/git/commits/${TIP}`).reply(200, { sha: TIP, tree: { sha: TIP_TREE } });
    // The content is on the tip already (no upload) and the deletion is done (not sent again).
    serveTrees(gh, TIP_TREE);

    const result = await portFor(gh).commitPatch({ branch: BRANCH, baseSha: repo.baseSha, message, patch });

    gh.done();
    expect(result).toEqual({
      ok: true,
      branch: BRANCH,
      commitSha: TIP,
      created: false,
      updated: false,
      rebasedOnto: TIP,
    });
    expect(bodiesOf(gh, "git/create-tree")).toEqual([
      { base_tree: TIP_TREE, tree: [{ path: "src/login.ts", mode: "100644", type: "blob", sha: ours }] },
    ]);
  });

  it("fast-forwards a branch that is behind the base by committing on the base", async () => {
    const patch = await patchOf(smallChange({ "src/login.ts": "export const login: number = 11;\n" }));
    const OLD = fakeSha("old base");
    const gh = githubApi();
    serveBaseCommit(gh);
    serveBranchAt(gh, OLD);
    gh.scope
      .get(`${API}/compare/${repo.baseSha}...${OLD}`)
      .query(true)
      .reply(200, { status: "behind", files: [] });
    serveBlobs(gh, 1);
    serveTrees(gh, patch.tree_sha);
    serveCommit(gh);
    gh.scope.patch(REFS_URL).reply(200, { ref: `refs/heads/${BRANCH}`, object: { sha: NEW_COMMIT } });

    const result = await portFor(gh).commitPatch({ branch: BRANCH, baseSha: repo.baseSha, message, patch });

    gh.done();
    expect(result).toEqual({
      ok: true,
      branch: BRANCH,
      commitSha: NEW_COMMIT,
      created: false,
      updated: true,
      rebasedOnto: null,
    });
    expect((bodiesOf(gh, "git/create-tree")[0] as { base_tree: string }).base_tree).toBe(BASE_TREE);
    expect((bodiesOf(gh, "git/create-commit")[0] as { parents: string[] }).parents).toEqual([repo.baseSha]);
  });

  it("treats a file the base changed since the branch diverged as a conflict", async () => {
    const patch = await patchOf(smallChange({ "src/login.ts": "export const login: number = 12;\n" }));
    const gh = githubApi();
    serveBaseCommit(gh);
    serveBranchAt(gh, TIP);
    gh.scope
      .get(`${API}/compare/${repo.baseSha}...${TIP}`)
      .query(true)
      .reply(200, {
        status: "diverged",
        files: [{ filename: "docs/guide.md", status: "modified", sha: fakeSha("g") }],
      });
    gh.scope
      .get(`${API}/compare/${TIP}...${repo.baseSha}`)
      .query(true)
      .reply(200, {
        status: "diverged",
        files: [{ filename: "src/login.ts", status: "modified", sha: fakeSha("l") }],
      });

    const result = await portFor(gh).commitPatch({ branch: BRANCH, baseSha: repo.baseSha, message, patch });

    gh.done();
    expect(result).toMatchObject({ ok: false, reason: "branch_moved", conflictingPaths: ["src/login.ts"] });
  });

  it("replays on the new tip when the ref moved between looking and writing", async () => {
    const patch = await patchOf(smallChange({ "src/login.ts": "export const login: number = 13;\n" }));
    const NEWER = fakeSha("newer tip");
    const gh = githubApi();
    serveBaseCommit(gh);
    serveBranchAt(gh, TIP);
    gh.scope
      .get(`${API}/compare/${repo.baseSha}...${TIP}`)
      .query(true)
      .reply(200, { status: "ahead", files: [] });
    gh.scope.get(`${API}/git/commits/${TIP}`).reply(200, { sha: TIP, tree: { sha: TIP_TREE } });
    serveBlobs(gh, 1);
    serveTrees(gh, fakeSha("tree on tip"));
    serveCommit(gh, fakeSha("lost commit"));
    gh.scope.patch(REFS_URL).reply(422, { message: "Update is not a fast forward", status: "422" });
    // Round two, on the tip someone else pushed meanwhile; the blob is not sent again.
    serveBranchAt(gh, NEWER);
    gh.scope
      .get(`${API}/compare/${repo.baseSha}...${NEWER}`)
      .query(true)
      .reply(200, {
        status: "ahead",
        files: [{ filename: "README.md", status: "modified", sha: fakeSha("r") }],
      });
    gh.scope
      .get(`${API}/git/commits/${NEWER}`)
      .reply(200, { sha: NEWER, tree: { sha: fakeSha("newer tree") } });
    serveTrees(gh, fakeSha("tree on newer"));
    serveCommit(gh);
    gh.scope.patch(REFS_URL).reply(200, { ref: `refs/heads/${BRANCH}`, object: { sha: NEW_COMMIT } });

    const result = await portFor(gh).commitPatch({ branch: BRANCH, baseSha: repo.baseSha, message, patch });

    gh.done();
    expect(result).toEqual({
      ok: true,
      branch: BRANCH,
      commitSha: NEW_COMMIT,
      created: false,
      updated: true,
      rebasedOnto: NEWER,
    });
    expect(gh.requests.filter((r) => r.operationId === "git/create-blob")).toHaveLength(1);
    expect((bodiesOf(gh, "git/create-tree") as { base_tree: string }[]).map((t) => t.base_tree)).toEqual([
      TIP_TREE,
      fakeSha("newer tree"),
    ]);
    expect((bodiesOf(gh, "git/create-commit") as { parents: string[] }[]).map((c) => c.parents)).toEqual([
      [TIP],
      [NEWER],
    ]);
    expect(bodiesOf(gh, "git/update-ref")).toEqual([
      { sha: fakeSha("lost commit"), force: false },
      { sha: NEW_COMMIT, force: false },
    ]);
  });

  it("gives up with branch_moved after a bounded number of lost races", async () => {
    const patch = await patchOf(smallChange({ "src/login.ts": "export const login: number = 14;\n" }));
    const tips = ["race 0", "race 1", "race 2"].map(fakeSha) as [string, string, string];
    const gh = githubApi();
    serveBaseCommit(gh);
    serveBlobs(gh, 1);
    serveBranchAt(gh, tips[0]);
    for (let round = 0; round < 2; round++) {
      const tip = tips[round]!;
      gh.scope
        .get(`${API}/compare/${repo.baseSha}...${tip}`)
        .query(true)
        .reply(200, { status: "ahead", files: [] });
      gh.scope
        .get(`${API}/git/commits/${tip}`)
        .reply(200, { sha: tip, tree: { sha: fakeSha(`tree ${round}`) } });
      serveTrees(gh, fakeSha(`new tree ${round}`));
      serveCommit(gh, fakeSha(`commit ${round}`));
      gh.scope.patch(REFS_URL).reply(422, { message: "Update is not a fast forward" });
      serveBranchAt(gh, tips[round + 1]!);
    }

    const result = await portFor(gh, { maxRaces: 1 }).commitPatch({
      branch: BRANCH,
      baseSha: repo.baseSha,
      message,
      patch,
    });

    gh.done();
    expect(result).toEqual({
      ok: false,
      reason: "branch_moved",
      branch: BRANCH,
      theirSha: tips[2],
      conflictingPaths: [],
      message:
        `branch ${BRANCH} moved under us: it changed again during each of 2 updates; nothing was committed ` +
        `to it, start a new attempt from ${tips[2].slice(0, 12)}`,
    });
    expect(gh.requests.filter((r) => r.operationId === "git/update-ref")).toHaveLength(2);
  });

  it("fails, without retrying, when the ref update is refused for another reason", async () => {
    const patch = await patchOf(smallChange({ "src/login.ts": "export const login: number = 15;\n" }));
    const gh = githubApi();
    serveBaseCommit(gh);
    serveBranchAt(gh, TIP);
    gh.scope
      .get(`${API}/compare/${repo.baseSha}...${TIP}`)
      .query(true)
      .reply(200, { status: "ahead", files: [] });
    gh.scope.get(`${API}/git/commits/${TIP}`).reply(200, { sha: TIP, tree: { sha: TIP_TREE } });
    serveBlobs(gh, 1);
    serveTrees(gh, fakeSha("tree on tip"));
    serveCommit(gh);
    gh.scope.patch(REFS_URL).reply(422, { message: "Repository rule violations found" });
    serveBranchAt(gh, TIP);

    const error = await portFor(gh)
      .commitPatch({ branch: BRANCH, baseSha: repo.baseSha, message, patch })
      .catch((e: unknown) => e);

    gh.done();
    expect(error).toBeInstanceOf(GitHubApiError);
    expect((error as GitHubApiError).status).toBe(422);
    expect((error as Error).message).toBe(
      `moving branch ${BRANCH} of octo/app to ${NEW_COMMIT.slice(0, 12)} failed: GitHub refused it with 422: ` +
        `Repository rule violations found; the branch still points to ${TIP.slice(0, 12)}`,
    );
  });

  it("builds on a branch created by someone else between looking and creating", async () => {
    const patch = await patchOf(smallChange({ "src/login.ts": "export const login: number = 16;\n" }));
    const gh = githubApi();
    serveBaseCommit(gh);
    serveNoBranch(gh);
    serveBlobs(gh, 1);
    serveTrees(gh, patch.tree_sha);
    serveCommit(gh, fakeSha("first try"));
    gh.scope.post(`${API}/git/refs`).reply(422, { message: "Reference already exists" });
    serveBranchAt(gh, TIP);
    gh.scope
      .get(`${API}/compare/${repo.baseSha}...${TIP}`)
      .query(true)
      .reply(200, { status: "ahead", files: [] });
    gh.scope.get(`${API}/git/commits/${TIP}`).reply(200, { sha: TIP, tree: { sha: TIP_TREE } });
    serveTrees(gh, fakeSha("tree on tip"));
    serveCommit(gh);
    gh.scope.patch(REFS_URL).reply(200, { ref: `refs/heads/${BRANCH}`, object: { sha: NEW_COMMIT } });

    const result = await portFor(gh).commitPatch({ branch: BRANCH, baseSha: repo.baseSha, message, patch });

    gh.done();
    expect(result).toEqual({
      ok: true,
      branch: BRANCH,
      commitSha: NEW_COMMIT,
      created: false,
      updated: true,
      rebasedOnto: TIP,
    });
  });
});

describe("GitDataCommitPort when GitHub fails", () => {
  it("reports a server error on a blob clearly, and writes no tree, commit or ref", async () => {
    const patch = await patchOf(
      smallChange({ "src/login.ts": "export const login: number = 17;\n", "new.txt": "n\n" }),
    );
    const gh = githubApi();
    serveBaseCommit(gh);
    serveNoBranch(gh);
    gh.scope.post(`${API}/git/blobs`).reply(502, { message: "Server Error" });

    const error = await portFor(gh, { concurrency: 1 })
      .commitPatch({ branch: BRANCH, baseSha: repo.baseSha, message, patch })
      .catch((e: unknown) => e);

    gh.done();
    expect(error).toBeInstanceOf(GitHubApiError);
    expect((error as GitHubApiError).status).toBe(502);
    expect((error as Error).message).toBe(
      "uploading new.txt to octo/app failed: GitHub answered 502 (Server Error), an error on GitHub's side; " +
        "try again in a few minutes; nothing was committed and the branch was not changed",
    );
    expect(ops(gh)).toEqual([
      `GET ${API}/git/commits/${repo.baseSha}`,
      `GET ${REF_URL}`,
      `POST ${API}/git/blobs`,
    ]);
  });

  it("retries a server error when retries are on", async () => {
    const patch = await patchOf(smallChange({ "src/login.ts": "export const login: number = 18;\n" }));
    const gh = githubApi();
    serveBaseCommit(gh);
    serveNoBranch(gh);
    gh.scope.post(`${API}/git/blobs`).reply(502, { message: "Server Error" });
    serveBlobs(gh, 1);
    serveTrees(gh, patch.tree_sha);
    serveCommit(gh);
    gh.scope.post(`${API}/git/refs`).reply(201, { ref: `refs/heads/${BRANCH}`, object: { sha: NEW_COMMIT } });
    const octokit = createOctokit({
      auth: "test",
      baseUrl: gh.baseUrl,
      retries: 2,
      retryAfterBaseMs: 0,
      throttle: false,
      log: silent,
    });
    const port = new GitDataCommitPort({
      octokit,
      owner: OWNER,
      repo: REPO,
      blobs: new GitBlobReader(repo.git),
      defaultBranch: "main",
    });

    const result = await port.commitPatch({ branch: BRANCH, baseSha: repo.baseSha, message, patch });

    gh.done();
    expect(committed(result).commitSha).toBe(NEW_COMMIT);
    expect(gh.requests.filter((r) => r.operationId === "git/create-blob")).toHaveLength(2);
  });

  it("refuses a blob GitHub stores under another id than the patch names", async () => {
    const patch = await patchOf(smallChange({ "src/login.ts": "export const login: number = 19;\n" }));
    const gh = githubApi();
    serveBaseCommit(gh);
    serveNoBranch(gh);
    gh.scope
      .post(`${API}/git/blobs`)
      .reply(201, { sha: fakeSha("other content"), url: "https://x.invalid/b" });

    const error = await portFor(gh)
      .commitPatch({ branch: BRANCH, baseSha: repo.baseSha, message, patch })
      .catch((e: unknown) => e);

    gh.done();
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^GitHub stored src/login.ts as blob ${fakeSha("other content")}, but the patch names blob `,
      ),
    );
  });

  it("validates its options", () => {
    expect(
      () =>
        new GitDataCommitPort({
          octokit: {} as never,
          owner: "o",
          repo: "r",
          blobs: new GitBlobReader(repo.git),
        }),
    ).toThrow("invalid GitDataCommitPort options: octokit: an Octokit client (createOctokit())");
    const octokit = createOctokit({ retries: 0, throttle: false });
    expect(
      () =>
        new GitDataCommitPort({
          octokit,
          owner: "o",
          repo: "r",
          blobs: new GitBlobReader(repo.git),
          treeChunk: 101,
        }),
    ).toThrow("invalid GitDataCommitPort options: treeChunk: Too big: expected number to be <=100");
  });
});
