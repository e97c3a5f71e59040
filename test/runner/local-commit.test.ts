import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { CapturedPatch, CommitPatchResult } from "../../src/core/execution/commit-port.js";
import { InputError } from "../../src/core/errors.js";
import { GitCommandManager, GitError, resetToBase, type HeadState } from "../../src/runner/git.js";
import { LocalGitCommitPort } from "../../src/runner/local-commit.js";
import { capturePatch } from "../../src/runner/patch.js";
import { makeRepo, type FileContent, type TestRepo, type WorkTree } from "../support/git-repo.js";

const FILES = {
  "a.txt": "alpha\n",
  "b.txt": "one\ntwo\nthree\n",
  "c.txt": "charlie\n",
};

/** What a runner does: let the "tool" edit the checkout, capture, and reset for the next attempt. */
async function patchOf(
  repo: TestRepo,
  start: HeadState,
  files: Record<string, FileContent>,
): Promise<CapturedPatch> {
  await resetToBase(repo.git, start);
  await repo.write(files);
  const patch = await capturePatch(repo.git, start.sha);
  await resetToBase(repo.git, start);
  return patch;
}

async function show(git: GitCommandManager, rev: string, path: string): Promise<string> {
  return (await git.exec(["show", `${rev}:${path}`])).stdout;
}

async function parents(git: GitCommandManager, rev: string): Promise<string[]> {
  return (await git.exec(["rev-list", "--parents", "-n", "1", rev])).stdout.trim().split(" ").slice(1);
}

async function remoteTip(repo: TestRepo, branch: string): Promise<string | null> {
  return (await repo.git.lsRemote("origin", `refs/heads/${branch}`)).sha;
}

function committed(result: CommitPatchResult): Extract<CommitPatchResult, { ok: true }> {
  if (!result.ok) throw new Error(`expected a commit, got: ${result.message}`);
  return result;
}

describe("LocalGitCommitPort on a local branch", () => {
  let repo: TestRepo;
  let start: HeadState;
  let port: LocalGitCommitPort;
  const branch = "switchyard/issue-7-greeting";
  let first: string;

  beforeAll(async () => {
    repo = await makeRepo({ files: FILES });
    start = await repo.git.readHead();
    port = new LocalGitCommitPort(repo.git);
  });
  afterAll(() => repo.cleanup());

  it("creates the branch from the base with exactly the captured tree, without checking it out", async () => {
    const patch = await patchOf(repo, start, { "a.txt": "alpha, edited\n", "new.txt": "new\n" });
    const index = await readFile(join(repo.dir, ".git/index"));

    const result = committed(
      await port.commitPatch({ branch, baseSha: repo.baseSha, message: "Fix #7\n\nbody", patch }),
    );

    expect(result).toEqual({
      ok: true,
      branch,
      commitSha: await repo.git.revParse(`refs/heads/${branch}`),
      created: true,
      updated: false,
      rebasedOnto: null,
    });
    expect(await repo.git.treeOf(result.commitSha)).toBe(patch.tree_sha);
    expect(await parents(repo.git, result.commitSha)).toEqual([repo.baseSha]);
    expect((await repo.git.exec(["log", "-1", "--format=%B", result.commitSha])).stdout).toBe(
      "Fix #7\n\nbody\n\n",
    );
    // The user's checkout is where it was.
    expect(await repo.git.readHead()).toEqual(start);
    expect(await repo.git.status()).toEqual([]);
    expect(await readFile(join(repo.dir, ".git/index"))).toEqual(index);
    first = result.commitSha;
  });

  it("updates the existing branch with a new commit on top, keeping history", async () => {
    const patch = await patchOf(repo, start, { "b.txt": "one\ntwo\nthree\nfour\n" });

    const result = committed(
      await port.commitPatch({ branch, baseSha: repo.baseSha, message: "Second", patch }),
    );

    expect(result).toMatchObject({ created: false, updated: true, rebasedOnto: first });
    expect(await parents(repo.git, result.commitSha)).toEqual([first]);
    expect(await show(repo.git, result.commitSha, "a.txt")).toBe("alpha, edited\n");
    expect(await show(repo.git, result.commitSha, "b.txt")).toBe("one\ntwo\nthree\nfour\n");
    expect(await repo.git.revParse(`refs/heads/${branch}`)).toBe(result.commitSha);
    expect((await repo.git.exec(["branch", "--list", "switchyard/*"])).stdout).toBe(`  ${branch}\n`);
  });

  it("makes no new commit when the branch already holds exactly this change", async () => {
    const tip = await repo.git.revParse(`refs/heads/${branch}`);
    const patch = await patchOf(repo, start, { "b.txt": "one\ntwo\nthree\nfour\n" });

    const result = await port.commitPatch({ branch, baseSha: repo.baseSha, message: "Again", patch });

    expect(result).toEqual({
      ok: true,
      branch,
      commitSha: tip,
      created: false,
      updated: false,
      rebasedOnto: tip,
    });
  });

  it("answers branch_moved when the patch conflicts with the branch, and leaves the branch alone", async () => {
    const tip = await repo.git.revParse(`refs/heads/${branch}`);
    const patch = await patchOf(repo, start, { "a.txt": "alpha, edited differently\n" });

    const result = await port.commitPatch({ branch, baseSha: repo.baseSha, message: "Conflict", patch });

    expect(result).toEqual({
      ok: false,
      reason: "branch_moved",
      branch,
      theirSha: tip,
      conflictingPaths: ["a.txt"],
      message:
        `branch ${branch} moved under us: the patch conflicts with ${tip.slice(0, 12)} in a.txt; ` +
        `nothing was pushed, start a new attempt from ${tip.slice(0, 12)}`,
    });
    expect(await repo.git.revParse(`refs/heads/${branch}`)).toBe(tip);
  });

  it("reports a new file the branch already has differently as a conflict on that path", async () => {
    const patch = await patchOf(repo, start, { "new.txt": "another new\n" });
    const result = await port.commitPatch({ branch, baseSha: repo.baseSha, message: "x", patch });
    expect(result.ok === false && result.conflictingPaths).toEqual(["new.txt"]);
  });

  it("commits as the configured identity", async () => {
    const patch = await patchOf(repo, start, { "c.txt": "by the bot\n" });
    const bot = new LocalGitCommitPort(repo.git, {
      identity: { name: "switchyard[bot]", email: "bot@example.invalid" },
    });
    const result = committed(
      await bot.commitPatch({
        branch: "switchyard/issue-8-bot",
        baseSha: repo.baseSha,
        message: "Bot",
        patch,
      }),
    );
    const who = await repo.git.exec(["log", "-1", "--format=%an <%ae>|%cn <%ce>", result.commitSha]);
    expect(who.stdout.trim()).toBe(
      "switchyard[bot] <bot@example.invalid>|switchyard[bot] <bot@example.invalid>",
    );
  });

  it("refuses bad input with messages that say what to do", async () => {
    const patch = await patchOf(repo, start, { "c.txt": "x\n" });
    const empty = await patchOf(repo, start, {});
    const other = "f".repeat(40);
    const commit = (over: Partial<Parameters<LocalGitCommitPort["commitPatch"]>[0]>) =>
      port.commitPatch({
        branch: "switchyard/issue-9-x",
        baseSha: repo.baseSha,
        message: "m",
        patch,
        ...over,
      });

    await expect(commit({ baseSha: other })).rejects.toThrow(
      new InputError(`the patch was captured on ${repo.baseSha}, not on the base commit ${other}`),
    );
    await expect(commit({ patch: empty })).rejects.toThrow(
      new InputError("the patch is empty; an unchanged tree is the outcome no_changes, not a commit"),
    );
    await expect(commit({ branch: "bad..name" })).rejects.toThrow(
      new InputError('"bad..name" is not a valid branch name'),
    );
    await expect(commit({ message: "  " })).rejects.toThrow(
      new InputError("cannot commit the patch: message: a commit message is required"),
    );
    await expect(commit({ branch: "main" })).rejects.toThrow(
      new InputError(
        `branch main is checked out in a work tree of ${repo.dir}; switch to another branch first, ` +
          "Switchyard commits to its branch without checking it out",
      ),
    );
    const forged = { ...patch, tree_sha: await repo.git.treeOf(repo.baseSha) };
    await expect(commit({ patch: forged })).rejects.toThrow(
      /^the patch's diff produces tree [0-9a-f]{40} but its manifest says/,
    );
    expect(await repo.git.tryRevParse("refs/heads/switchyard/issue-9-x")).toBeNull();
  });
});

/** A git whose first push lets someone else push to the same branch just before it. */
class RacingGit extends GitCommandManager {
  pushes = 0;
  constructor(
    dir: string,
    private readonly beforeFirstPush: () => Promise<void>,
  ) {
    super(dir);
  }

  override async push(remote: string, refspec: string) {
    if (this.pushes++ === 0) await this.beforeFirstPush();
    return super.push(remote, refspec);
  }
}

describe("LocalGitCommitPort pushing to a remote", () => {
  let repo: TestRepo;
  let start: HeadState;
  let port: LocalGitCommitPort;
  let other: WorkTree;

  /** Someone else commits `files` on `branch` in their clone and pushes (fast-forward). */
  async function theyPush(branch: string, files: Record<string, FileContent>): Promise<string> {
    await other.git.exec(["fetch", "--quiet", "origin"]);
    const exists = (await other.git.tryRevParse(`refs/remotes/origin/${branch}`)) !== null;
    await other.git.exec([
      "switch",
      "--quiet",
      "--force-create",
      branch,
      exists ? `origin/${branch}` : "origin/main",
    ]);
    await other.write(files);
    const sha = await other.commitAll(`their change on ${branch}`);
    await other.git.exec(["push", "--quiet", "origin", `HEAD:refs/heads/${branch}`]);
    return sha;
  }

  beforeAll(async () => {
    repo = await makeRepo({ files: FILES, withRemote: true });
    // Runners check out a detached commit; that also keeps `main` free for the default-branch test.
    await repo.git.exec(["switch", "--quiet", "--detach", repo.baseSha]);
    start = await repo.git.readHead();
    port = new LocalGitCommitPort(repo.git, { pushTo: "origin" });
    other = await repo.cloneRemote("someone");
  });
  afterAll(() => repo.cleanup());

  it("creates the remote branch with a plain push", async () => {
    const branch = "switchyard/issue-1-push";
    const patch = await patchOf(repo, start, { "a.txt": "pushed\n" });

    const result = committed(
      await port.commitPatch({ branch, baseSha: repo.baseSha, message: "Push", patch }),
    );

    expect(result).toMatchObject({ created: true, updated: false, rebasedOnto: null });
    expect(await remoteTip(repo, branch)).toBe(result.commitSha);
    expect(await repo.git.revParse(`refs/heads/${branch}`)).toBe(result.commitSha);
  });

  it("replays on a branch someone else moved, and pushes without force: their commit stays", async () => {
    const branch = "switchyard/issue-2-moved";
    const ours = await patchOf(repo, start, { "a.txt": "ours\n" });
    const before = committed(
      await port.commitPatch({ branch, baseSha: repo.baseSha, message: "Ours 1", patch: ours }),
    );
    const theirs = await theyPush(branch, { "c.txt": "their review fix\n" });
    const next = await patchOf(repo, start, { "b.txt": "one\ntwo\nthree\nours\n" });

    const result = committed(
      await port.commitPatch({ branch, baseSha: repo.baseSha, message: "Ours 2", patch: next }),
    );

    expect(result).toMatchObject({ created: false, updated: true, rebasedOnto: theirs });
    expect(await remoteTip(repo, branch)).toBe(result.commitSha);
    expect(await parents(repo.git, result.commitSha)).toEqual([theirs]);
    expect(await parents(repo.git, theirs)).toEqual([before.commitSha]);
    expect(await show(repo.git, result.commitSha, "a.txt")).toBe("ours\n");
    expect(await show(repo.git, result.commitSha, "b.txt")).toBe("one\ntwo\nthree\nours\n");
    expect(await show(repo.git, result.commitSha, "c.txt")).toBe("their review fix\n");
    // The local branch fast-forwarded to what was pushed.
    expect(await repo.git.revParse(`refs/heads/${branch}`)).toBe(result.commitSha);
  });

  it("answers branch_moved on a conflict and leaves the remote exactly as they left it", async () => {
    const branch = "switchyard/issue-3-conflict";
    const theirs = await theyPush(branch, { "b.txt": "one\nTWO (theirs)\nthree\n" });
    const patch = await patchOf(repo, start, { "b.txt": "one\ntwo (ours)\nthree\n" });

    const result = await port.commitPatch({ branch, baseSha: repo.baseSha, message: "Ours", patch });

    expect(result).toEqual({
      ok: false,
      reason: "branch_moved",
      branch,
      theirSha: theirs,
      conflictingPaths: ["b.txt"],
      message:
        `branch ${branch} moved under us: the patch conflicts with ${theirs.slice(0, 12)} in b.txt; ` +
        `nothing was pushed, start a new attempt from ${theirs.slice(0, 12)}`,
    });
    expect(await remoteTip(repo, branch)).toBe(theirs);
    expect(await repo.git.tryRevParse(`refs/heads/${branch}`)).toBeNull();
  });

  it("loses a push race, replays on the new tip and pushes again", async () => {
    const branch = "switchyard/issue-4-race";
    let theirs = "";
    const racing = new RacingGit(repo.dir, async () => {
      theirs = await theyPush(branch, { "c.txt": "won the race\n" });
    });
    const patch = await patchOf(repo, start, { "a.txt": "lost the race\n" });

    const result = committed(
      await new LocalGitCommitPort(racing, { pushTo: "origin" }).commitPatch({
        branch,
        baseSha: repo.baseSha,
        message: "Race",
        patch,
      }),
    );

    expect(racing.pushes).toBe(2);
    expect(result).toMatchObject({ created: false, updated: true, rebasedOnto: theirs });
    expect(await remoteTip(repo, branch)).toBe(result.commitSha);
    expect(await parents(repo.git, result.commitSha)).toEqual([theirs]);
    expect(await show(repo.git, result.commitSha, "c.txt")).toBe("won the race\n");
    expect(await show(repo.git, result.commitSha, "a.txt")).toBe("lost the race\n");
  });

  it("throws the push's own error when the remote refuses for another reason", async () => {
    const hook = join(repo.remote!, "hooks/pre-receive");
    await writeFile(hook, "#!/bin/sh\necho 'protected by policy' >&2\nexit 1\n");
    await chmod(hook, 0o755);
    try {
      const patch = await patchOf(repo, start, { "a.txt": "refused\n" });
      const error = await port
        .commitPatch({ branch: "switchyard/issue-5-refused", baseSha: repo.baseSha, message: "x", patch })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GitError);
      expect((error as GitError).message).toMatch(
        /^git push origin refs\/heads\/switchyard\/issue-5-refused failed \(exit 1\): /,
      );
      expect((error as GitError).message).toContain("protected by policy");
      expect(await remoteTip(repo, "switchyard/issue-5-refused")).toBeNull();
    } finally {
      await writeFile(hook, "#!/bin/sh\nexit 0\n");
    }
  });

  it("refuses to commit to the remote's default branch", async () => {
    const patch = await patchOf(repo, start, { "a.txt": "x\n" });
    await expect(
      port.commitPatch({ branch: "main", baseSha: repo.baseSha, message: "x", patch }),
    ).rejects.toThrow(new InputError("refusing to commit to main: it is the default branch of origin"));
    expect(await remoteTip(repo, "main")).toBe(repo.baseSha);
  });
});
