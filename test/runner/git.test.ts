import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InputError } from "../../src/core/errors.js";
import {
  assertCleanCheckout,
  GitCommandManager,
  GitError,
  parseStatus,
  resetToBase,
  scrubCredentials,
  type HeadState,
} from "../../src/runner/git.js";
import { makeRepo, type TestRepo } from "../support/git-repo.js";

describe("parseStatus", () => {
  it("reads porcelain v1 -z records, with the source of a rename in the following field", () => {
    const out = " M src/a.ts\0R  new name.md\0old name.md\0?? notes/tab\there.txt\0";
    expect(parseStatus(out)).toEqual([
      { index: " ", worktree: "M", path: "src/a.ts" },
      { index: "R", worktree: " ", path: "new name.md", origPath: "old name.md" },
      { index: "?", worktree: "?", path: "notes/tab\there.txt" },
    ]);
    expect(parseStatus("")).toEqual([]);
  });
});

describe("scrubCredentials", () => {
  it("hides the user and token part of remote URLs", () => {
    expect(
      scrubCredentials("fatal: unable to access 'https://x-access-token:ghs_abc123@github.com/o/r.git/'"),
    ).toBe("fatal: unable to access 'https://***@github.com/o/r.git/'");
    expect(scrubCredentials("ssh://git@host/x and https://github.com/o/r")).toBe(
      "ssh://***@host/x and https://github.com/o/r",
    );
  });
});

describe("GitCommandManager", () => {
  let repo: TestRepo;
  let start: HeadState;

  beforeAll(async () => {
    repo = await makeRepo({
      files: { "a.txt": "a\n", "src/b.txt": "b\n", ".gitignore": "*.log\nnode_modules/\n" },
      withRemote: true,
    });
    start = await repo.git.readHead();
  });
  afterAll(() => repo.cleanup());
  beforeEach(() => resetToBase(repo.git, start));

  it("opens a checkout at its top level from a subdirectory", async () => {
    const git = await GitCommandManager.open(join(repo.dir, "src"));
    expect(git.dir).toBe(repo.dir);
    expect(await git.revParse("HEAD")).toBe(repo.baseSha);
  });

  it("refuses a directory that is not a work tree with a message naming it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "switchyard-not-git-"));
    try {
      await expect(GitCommandManager.open(dir)).rejects.toThrow(
        new InputError(`${dir} is not inside a git work tree; run Switchyard from a clone`),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("throws a GitError naming the command, exit code and stderr", async () => {
    const error = await repo.git.exec(["cat-file", "-p", "no-such-object"]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GitError);
    const gitError = error as GitError;
    expect(gitError.args).toEqual(["cat-file", "-p", "no-such-object"]);
    expect(gitError.exitCode).toBe(128);
    expect(gitError.message).toBe(
      "git cat-file -p no-such-object failed (exit 128): fatal: Not a valid object name no-such-object",
    );
  });

  it("answers questions with exit codes instead of throwing", async () => {
    expect(await repo.git.tryRevParse("no-such-branch")).toBeNull();
    expect(await repo.git.isAncestor(repo.baseSha, repo.baseSha)).toBe(true);
    expect(await repo.git.headRef()).toBe("refs/heads/main");
    expect(await repo.git.hasObject(repo.baseSha, "commit")).toBe(true);
    expect(await repo.git.hasObject(repo.baseSha, "blob")).toBe(false);
    expect(await repo.git.isValidBranchName("switchyard/issue-1-x")).toBe(true);
    expect(await repo.git.isValidBranchName("bad..name")).toBe(false);
    expect(await repo.git.checkedOutBranches()).toEqual(["refs/heads/main"]);
    expect(await repo.git.lsRemote("origin", "refs/heads/main")).toEqual({
      sha: repo.baseSha,
      defaultBranch: "refs/heads/main",
    });
    expect(await repo.git.lsRemote("origin", "refs/heads/absent")).toEqual({
      sha: null,
      defaultBranch: "refs/heads/main",
    });
  });

  it("never pushes with force", async () => {
    await expect(repo.git.push("origin", "+HEAD:refs/heads/x")).rejects.toThrow(
      "refusing a forced refspec +HEAD:refs/heads/x",
    );
  });

  it("does not run hooks the checkout contains (a tool could have written them)", async () => {
    const marker = join(repo.dir, "..", "hook-ran");
    const hook = join(repo.dir, ".git/hooks/pre-push");
    await writeFile(hook, `#!/bin/sh\ntouch '${marker}'\n`);
    await chmod(hook, 0o755);
    try {
      const pushed = await repo.git.push("origin", `${repo.baseSha}:refs/heads/hook-test`);
      expect(pushed.exitCode).toBe(0);
      expect(existsSync(marker)).toBe(false);
    } finally {
      await rm(hook, { force: true });
    }
  });
});

describe("assertCleanCheckout", () => {
  let repo: TestRepo;
  let start: HeadState;

  beforeAll(async () => {
    repo = await makeRepo({ files: { "a.txt": "a\n", "b.txt": "b\n", ".gitignore": "*.log\n" } });
    start = await repo.git.readHead();
  });
  afterAll(() => repo.cleanup());
  beforeEach(() => resetToBase(repo.git, start));

  it("accepts a clean checkout, ignored files included", async () => {
    await repo.write({ "debug.log": "ignored\n" });
    await expect(assertCleanCheckout(repo.git)).resolves.toBeUndefined();
  });

  it("refuses modified, staged and untracked files, naming them", async () => {
    await repo.write({ "a.txt": "changed\n", "new.txt": "new\n", "b.txt": "staged\n" });
    await repo.git.exec(["add", "b.txt"]);
    await expect(assertCleanCheckout(repo.git)).rejects.toThrow(
      new InputError(
        `the checkout at ${repo.dir} has uncommitted changes (3 files: a.txt, b.txt, new.txt); ` +
          "commit or stash them first, Switchyard resets the tree between attempts",
      ),
    );
  });

  it("refuses files marked assume-unchanged or skip-worktree, whose edits status hides", async () => {
    await repo.git.exec(["update-index", "--skip-worktree", "b.txt"]);
    try {
      await expect(assertCleanCheckout(repo.git)).rejects.toThrow(
        new InputError(
          `the checkout at ${repo.dir} marks files assume-unchanged or skip-worktree (1 file: b.txt); ` +
            "clear the marks (git update-index --no-assume-unchanged --no-skip-worktree <file>) first, " +
            "Switchyard cannot tell their local changes from a tool's",
        ),
      );
    } finally {
      await repo.git.exec(["update-index", "--no-skip-worktree", "b.txt"]);
    }
    await expect(assertCleanCheckout(repo.git)).resolves.toBeUndefined();
  });

  it("shortens a long list and counts a single file in the singular", async () => {
    await repo.write(Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`n${i}.txt`, "x\n"])));
    await expect(assertCleanCheckout(repo.git)).rejects.toThrow(
      "(7 files: n0.txt, n1.txt, n2.txt, n3.txt, n4.txt, …);",
    );
    await resetToBase(repo.git, start);
    await repo.write({ "a.txt": "changed\n" });
    await expect(assertCleanCheckout(repo.git)).rejects.toThrow("uncommitted changes (1 file: a.txt);");
  });
});

describe("resetToBase", () => {
  let repo: TestRepo;
  let start: HeadState;

  beforeAll(async () => {
    repo = await makeRepo({ files: { "a.txt": "a\n", "dir/b.txt": "b\n", ".gitignore": "cache/\n" } });
    start = await repo.git.readHead();
  });
  afterAll(() => repo.cleanup());

  async function expectPristine() {
    expect(await repo.git.status()).toEqual([]);
    expect(await repo.git.readHead()).toEqual({ sha: repo.baseSha, ref: "refs/heads/main" });
    expect((await repo.read("a.txt")).toString()).toBe("a\n");
    expect((await repo.read("dir/b.txt")).toString()).toBe("b\n");
  }

  it("restores edits and deletions, removes new files and directories, keeps ignored files", async () => {
    await repo.write({ "a.txt": "edited\n", "new/deep/file.txt": "x\n", "cache/keep.bin": "cached\n" });
    await repo.remove("dir/b.txt");
    await repo.git.exec(["add", "a.txt"]);

    await resetToBase(repo.git, start);

    await expectPristine();
    expect(existsSync(join(repo.dir, "new"))).toBe(false);
    expect((await repo.read("cache/keep.bin")).toString()).toBe("cached\n");
  });

  it("undoes commits the tool made and brings HEAD back from another branch", async () => {
    await repo.write({ "a.txt": "tool commit on main\n" });
    await repo.commitAll("tool commit");
    await repo.git.exec(["switch", "--quiet", "-c", "tool-branch"]);
    await repo.write({ "a.txt": "tool commit on its branch\n" });
    await repo.commitAll("tool commit 2");

    await resetToBase(repo.git, start);

    await expectPristine();
    expect(await repo.git.revParse("refs/heads/main")).toBe(repo.baseSha);
  });

  it("leaves no rebase in progress behind", async () => {
    await repo.git.exec(["switch", "--quiet", "-c", "side"]);
    await repo.write({ "a.txt": "side\n" });
    await repo.commitAll("side");
    await repo.git.exec(["switch", "--quiet", "main"]);
    await repo.write({ "a.txt": "main\n" });
    await repo.commitAll("main");
    const rebase = await repo.git.exec(["rebase", "side"], { okExitCodes: [0, 1] });
    expect(rebase.exitCode).toBe(1);
    expect(existsSync(join(repo.dir, ".git/rebase-merge"))).toBe(true);

    await resetToBase(repo.git, start);

    await expectPristine();
    expect(existsSync(join(repo.dir, ".git/rebase-merge"))).toBe(false);
  });

  it("returns a detached checkout to its detached commit", async () => {
    await repo.git.exec(["switch", "--quiet", "--detach", repo.baseSha]);
    const detached = await repo.git.readHead();
    expect(detached).toEqual({ sha: repo.baseSha, ref: null });
    await repo.git.exec(["switch", "--quiet", "main"]);
    await repo.write({ "x.txt": "x\n" });

    await resetToBase(repo.git, detached);

    expect(await repo.git.readHead()).toEqual({ sha: repo.baseSha, ref: null });
    expect(await repo.git.status()).toEqual([]);
    await resetToBase(repo.git, start);
    await expectPristine();
  });
});
