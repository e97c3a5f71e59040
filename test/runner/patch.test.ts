import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { createHash } from "node:crypto";
import { chmod, readFile, rename, symlink } from "node:fs/promises";
import { join } from "node:path";
import { checkPatchPolicy } from "../../src/core/policy/patch-policy.js";
import { InputError } from "../../src/core/errors.js";
import { resetToBase, type HeadState } from "../../src/runner/git.js";
import {
  capturePatch,
  GitBlobReader,
  parseNumstat,
  parseRawDiff,
  PatchTooLargeError,
} from "../../src/runner/patch.js";
import { cloneAt, makeRepo, type TestRepo } from "../support/git-repo.js";

const BINARY = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x00, 0x0d, 0x0a, 0x1a, 0xff, 0x00, 0x01]);
const LATIN1 = Buffer.from("caf\xe9 cr\xe8me\nna\xefve\n", "latin1");
const oldDoc = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`).join("\n") + "\n";

async function blobId(repo: TestRepo, content: string | Buffer): Promise<string> {
  const r = await repo.git.exec(["hash-object", "--stdin"], { input: content });
  return r.stdout.trim();
}

describe("capturePatch", () => {
  let repo: TestRepo;
  let start: HeadState;

  beforeAll(async () => {
    repo = await makeRepo({
      files: {
        "src/app.ts": "export const a = 1;\nexport const b = 2;\n",
        "src/util.ts": "export const util = true;\n",
        "README.md": "# demo\n\nhello\n",
        "scripts/run.sh": "#!/bin/sh\necho hi\n",
        "docs/old-name.md": oldDoc,
        ".gitignore": "dist/\n*.log\n",
        "assets/logo.bin": BINARY,
        "docs/latin1.txt": LATIN1,
      },
      executable: ["scripts/run.sh"],
    });
    start = await repo.git.readHead();
  });
  afterAll(() => repo.cleanup());
  beforeEach(() => resetToBase(repo.git, start));

  it("reports an untouched checkout as an empty change set", async () => {
    const patch = await capturePatch(repo.git, repo.baseSha);
    expect(patch.files).toEqual([]);
    expect(patch.entries).toEqual([]);
    expect(patch.diff.length).toBe(0);
    expect(patch.stats).toEqual({ files: 0, additions: 0, deletions: 0 });
    expect(patch.base_sha).toBe(repo.baseSha);
    expect(patch.tree_sha).toBe(await repo.git.treeOf(repo.baseSha));
  });

  it("captures edits, new files and deletions with exact line counts and blob ids", async () => {
    await repo.write({
      "src/app.ts": "export const a = 1;\nexport const b = 3;\n",
      "src/new.ts": "export const n = 1;\nexport const m = 2;\n",
    });
    await repo.remove("README.md");

    const patch = await capturePatch(repo.git, repo.baseSha);

    expect(patch.files).toEqual([
      { path: "README.md", status: "deleted", binary: false, additions: 0, deletions: 3 },
      { path: "src/app.ts", status: "modified", mode: "100644", binary: false, additions: 1, deletions: 1 },
      { path: "src/new.ts", status: "added", mode: "100644", binary: false, additions: 2, deletions: 0 },
    ]);
    expect(patch.entries).toEqual([
      { path: "README.md", deleted: true },
      {
        path: "src/app.ts",
        deleted: false,
        mode: "100644",
        blob: await blobId(repo, "export const a = 1;\nexport const b = 3;\n"),
      },
      {
        path: "src/new.ts",
        deleted: false,
        mode: "100644",
        blob: await blobId(repo, "export const n = 1;\nexport const m = 2;\n"),
      },
    ]);
    expect(patch.stats).toEqual({ files: 3, additions: 3, deletions: 4 });
    const diff = Buffer.from(patch.diff).toString("utf8");
    expect(diff).toContain("diff --git a/src/app.ts b/src/app.ts\n");
    expect(diff).toContain("-export const b = 2;\n+export const b = 3;\n");
    expect(diff).toContain("deleted file mode 100644\n");

    const reader = new GitBlobReader(repo.git);
    const written = patch.entries.find((e) => e.path === "src/new.ts");
    expect(written?.deleted).toBe(false);
    if (written && !written.deleted) {
      expect(Buffer.from(await reader.readBlob(written.blob)).toString()).toBe(
        "export const n = 1;\nexport const m = 2;\n",
      );
    }
  });

  it("reports a chmod as a mode change in both directions", async () => {
    await chmod(join(repo.dir, "src/util.ts"), 0o755);
    await chmod(join(repo.dir, "scripts/run.sh"), 0o644);

    const patch = await capturePatch(repo.git, repo.baseSha);

    expect(patch.files).toEqual([
      {
        path: "scripts/run.sh",
        status: "mode_changed",
        mode: "100644",
        binary: false,
        additions: 0,
        deletions: 0,
      },
      {
        path: "src/util.ts",
        status: "mode_changed",
        mode: "100755",
        binary: false,
        additions: 0,
        deletions: 0,
      },
    ]);
    expect(Buffer.from(patch.diff).toString()).toContain("old mode 100644\nnew mode 100755\n");
  });

  it("flags binary files and keeps their bytes in the diff", async () => {
    const bytes = Buffer.concat([BINARY, Buffer.from([0x00, 0x42, 0x00, 0xfe])]);
    await repo.write({ "assets/logo.bin": bytes, "assets/new.bin": Buffer.from([0, 1, 2, 3, 0]) });

    const patch = await capturePatch(repo.git, repo.baseSha);

    expect(patch.files).toEqual([
      {
        path: "assets/logo.bin",
        status: "modified",
        mode: "100644",
        binary: true,
        additions: 0,
        deletions: 0,
      },
      { path: "assets/new.bin", status: "added", mode: "100644", binary: true, additions: 0, deletions: 0 },
    ]);
    expect(Buffer.from(patch.diff).toString()).toContain("GIT binary patch");
    const entry = patch.entries[0]!;
    expect(entry.deleted).toBe(false);
    if (!entry.deleted)
      expect(Buffer.from(await new GitBlobReader(repo.git).readBlob(entry.blob))).toEqual(bytes);
  });

  it("represents a symlink with mode 120000 and its target as content", async () => {
    await symlink("docs/old-name.md", join(repo.dir, "latest.md"));

    const patch = await capturePatch(repo.git, repo.baseSha);

    expect(patch.files).toEqual([
      { path: "latest.md", status: "added", mode: "120000", binary: false, additions: 1, deletions: 0 },
    ]);
    const entry = patch.entries[0]!;
    expect(entry).toMatchObject({ path: "latest.md", deleted: false, mode: "120000" });
    if (!entry.deleted) {
      expect(Buffer.from(await new GitBlobReader(repo.git).readBlob(entry.blob)).toString()).toBe(
        "docs/old-name.md",
      );
    }
  });

  it("detects a rename and lists it as a delete plus a write for the commit", async () => {
    await rename(join(repo.dir, "docs/old-name.md"), join(repo.dir, "docs/new-name.md"));
    await repo.write({ "docs/new-name.md": oldDoc + "line 31\n" });

    const patch = await capturePatch(repo.git, repo.baseSha);

    expect(patch.files).toEqual([
      {
        path: "docs/new-name.md",
        old_path: "docs/old-name.md",
        status: "renamed",
        mode: "100644",
        binary: false,
        additions: 1,
        deletions: 0,
      },
    ]);
    expect(patch.entries).toEqual([
      { path: "docs/old-name.md", deleted: true },
      {
        path: "docs/new-name.md",
        deleted: false,
        mode: "100644",
        blob: await blobId(repo, oldDoc + "line 31\n"),
      },
    ]);
  });

  it("leaves ignored files out but captures a change to .gitignore", async () => {
    await repo.write({ "dist/bundle.js": "built\n", "debug.log": "noise\n" });
    expect((await capturePatch(repo.git, repo.baseSha)).files).toEqual([]);

    await repo.write({ ".gitignore": "dist/\n" });
    const patch = await capturePatch(repo.git, repo.baseSha);
    expect(patch.files.map((f) => [f.path, f.status])).toEqual([
      [".gitignore", "modified"],
      ["debug.log", "added"],
    ]);
  });

  it("sees a same-size edit made in the same second the index was written (racy git)", async () => {
    // resetToBase (beforeEach) has just written the real index. An edit that keeps the size, in
    // the same second, is only caught when git re-checks entries not older than the index file;
    // a copied index with a fresh mtime hid it, and a capture a second later found no change.
    await repo.write({ "src/util.ts": "export const util = null;\n".replace("null", "TRUE") });
    await new Promise((r) => setTimeout(r, 1100));
    const patch = await capturePatch(repo.git, repo.baseSha);
    expect(patch.files.map((f) => f.path)).toEqual(["src/util.ts"]);
  });

  it("never writes the real index: status and index bytes are identical after a capture", async () => {
    await repo.write({ "src/app.ts": "staged\n", "src/util.ts": "unstaged\n", "notes.txt": "untracked\n" });
    await repo.git.exec(["add", "src/app.ts"]);
    const indexFile = join(repo.dir, ".git/index");
    const digest = async () =>
      createHash("sha256")
        .update(await readFile(indexFile))
        .digest("hex");
    const statusBefore = await repo.git.status();
    const indexBefore = await digest();

    const patch = await capturePatch(repo.git, repo.baseSha);

    expect(await repo.git.status()).toEqual(statusBefore);
    expect(await digest()).toBe(indexBefore);
    expect(statusBefore).toEqual([
      { index: "M", worktree: " ", path: "src/app.ts" },
      { index: " ", worktree: "M", path: "src/util.ts" },
      { index: "?", worktree: "?", path: "notes.txt" },
    ]);
    // Staged, unstaged and untracked alike: the patch is the work tree against the base.
    expect(patch.files.map((f) => f.path)).toEqual(["notes.txt", "src/app.ts", "src/util.ts"]);
  });

  it("sees edits to files the real index marks assume-unchanged or skip-worktree", async () => {
    await repo.git.exec(["update-index", "--assume-unchanged", "src/util.ts"]);
    await repo.git.exec(["update-index", "--skip-worktree", "src/app.ts"]);
    try {
      await repo.write({ "src/util.ts": "hidden edit\n", "src/app.ts": "another hidden edit\n" });
      expect(await repo.git.status()).toEqual([]);

      const patch = await capturePatch(repo.git, repo.baseSha);

      expect(patch.files.map((f) => [f.path, f.status])).toEqual([
        ["src/app.ts", "modified"],
        ["src/util.ts", "modified"],
      ]);
    } finally {
      await repo.git.exec(["update-index", "--no-assume-unchanged", "src/util.ts"]);
      await repo.git.exec(["update-index", "--no-skip-worktree", "src/app.ts"]);
    }
  });

  it("compares with the base, not HEAD, when the tool committed on its own", async () => {
    await repo.write({ "src/app.ts": "committed by the tool\n" });
    await repo.commitAll("tool commit");
    await repo.write({ "src/util.ts": "left uncommitted\n" });

    const patch = await capturePatch(repo.git, repo.baseSha);

    expect(patch.files.map((f) => [f.path, f.status])).toEqual([
      ["src/app.ts", "modified"],
      ["src/util.ts", "modified"],
    ]);
  });

  it("keeps unicode and spaces in paths exactly", async () => {
    await repo.write({ "docs/naïve file ✓.md": "x\n" });
    const patch = await capturePatch(repo.git, repo.baseSha);
    expect(patch.files.map((f) => f.path)).toEqual(["docs/naïve file ✓.md"]);
  });

  it("records a nested repository as a gitlink without a file mode, which the policy refuses", async () => {
    const nested = join(repo.dir, "vendor/lib");
    await repo.write({ "vendor/lib/x.txt": "x\n" });
    const { GitCommandManager } = await import("../../src/runner/git.js");
    const inner = new GitCommandManager(nested);
    await inner.exec(["init", "--quiet", "-b", "main"]);
    await inner.exec(["add", "--all"]);
    await inner.exec(["commit", "--quiet", "-m", "inner"]);
    const innerSha = await inner.revParse("HEAD");

    const patch = await capturePatch(repo.git, repo.baseSha);

    expect(patch.files).toEqual([
      { path: "vendor/lib", status: "added", binary: false, additions: 1, deletions: 0 },
    ]);
    expect(patch.entries).toEqual([{ path: "vendor/lib", deleted: false, mode: "160000", blob: innerSha }]);
    const verdict = checkPatchPolicy(patch.files, {
      forbidden: [],
      scope: [],
      maxFiles: 10,
      maxChangedLines: 100,
      allowWorkflowChanges: false,
    });
    expect(verdict).toEqual({
      ok: false,
      offendingPaths: ["vendor/lib"],
      violations: [
        {
          path: "vendor/lib",
          rule: "unsupported_file",
          message:
            "vendor/lib is a submodule or nested repository; Switchyard commits files and symlinks only",
        },
      ],
    });
  });

  it("produces a diff that git apply turns into exactly the captured tree on a fresh clone", async () => {
    await repo.write({
      "src/app.ts": "export const a = 10;\nexport const b = 2;\n",
      "assets/logo.bin": Buffer.concat([BINARY, BINARY, Buffer.from([0])]),
      "assets/added.bin": Buffer.from([0, 0, 0, 7, 255]),
      "docs/latin1.txt": Buffer.concat([LATIN1, Buffer.from("\xe0 la carte\n", "latin1")]),
      "no-newline.txt": "no trailing newline",
    });
    await repo.remove("README.md");
    await chmod(join(repo.dir, "src/util.ts"), 0o755);
    await symlink("src/app.ts", join(repo.dir, "app-link.ts"));
    await rename(join(repo.dir, "docs/old-name.md"), join(repo.dir, "docs/moved.md"));

    const patch = await capturePatch(repo.git, repo.baseSha);
    expect(patch.files.map((f) => [f.path, f.status])).toEqual([
      ["README.md", "deleted"],
      ["app-link.ts", "added"],
      ["assets/added.bin", "added"],
      ["assets/logo.bin", "modified"],
      ["docs/latin1.txt", "modified"],
      ["docs/moved.md", "renamed"],
      ["no-newline.txt", "added"],
      ["src/app.ts", "modified"],
      ["src/util.ts", "mode_changed"],
    ]);

    const clone = await cloneAt(repo.dir, repo.baseSha);
    try {
      await clone.git.exec(["apply", "--index", "--whitespace=nowarn", "-"], { input: patch.diff });
      const appliedTree = (await clone.git.exec(["write-tree"])).stdout.trim();
      expect(appliedTree).toBe(patch.tree_sha);
      expect(await clone.read("docs/latin1.txt")).toEqual(await repo.read("docs/latin1.txt"));
    } finally {
      await clone.cleanup();
    }
  });

  it("refuses a diff larger than the limit", async () => {
    await repo.write({ "big.txt": "x".repeat(5000) + "\n" });
    await expect(capturePatch(repo.git, repo.baseSha, { maxDiffBytes: 1000 })).rejects.toThrow(
      PatchTooLargeError,
    );
  });

  it("refuses a base that is not a full id or not in the repository", async () => {
    await expect(capturePatch(repo.git, "HEAD")).rejects.toThrow(
      new InputError('base commit "HEAD" is not a full commit id'),
    );
    const missing = "0123456789abcdef0123456789abcdef01234567";
    await expect(capturePatch(repo.git, missing)).rejects.toThrow(
      new InputError(`base commit ${missing} is not in the repository at ${repo.dir}`),
    );
  });
});

describe("diff output parsers", () => {
  it("parses raw records, renames included", () => {
    const z = "0".repeat(40);
    const a = "a".repeat(40);
    const b = "b".repeat(40);
    const raw =
      `:000000 100644 ${z} ${a} A\0new\tfile.txt\0` + `:100644 100644 ${a} ${b} R087\0old.md\0new.md\0`;
    expect(parseRawDiff(raw)).toEqual([
      { oldMode: "000000", newMode: "100644", oldSha: z, newSha: a, status: "A", path: "new\tfile.txt" },
      {
        oldMode: "100644",
        newMode: "100644",
        oldSha: a,
        newSha: b,
        status: "R",
        oldPath: "old.md",
        path: "new.md",
      },
    ]);
  });

  it("parses numstat with binary files, tabs in names and renames", () => {
    const out = "3\t1\tnew\tfile.txt\0-\t-\tlogo.png\0" + "2\t0\t\0old.md\0new.md\0";
    expect([...parseNumstat(out)]).toEqual([
      ["new\tfile.txt", { binary: false, additions: 3, deletions: 1 }],
      ["logo.png", { binary: true, additions: 0, deletions: 0 }],
      ["new.md", { binary: false, additions: 2, deletions: 0 }],
    ]);
  });
});
