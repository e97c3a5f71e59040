import { copyFile, mkdtemp, rm, stat, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BlobReader, CapturedPatch, PatchEntry } from "../core/execution/commit-port.js";
import { ShaSchema } from "../core/execution/commit-port.js";
import type { FileChange } from "../core/execution/schema.js";
import { InputError } from "../core/errors.js";
import { GitError, type GitCommandManager } from "./git.js";

/**
 * Capturing what a tool changed, and replaying it elsewhere.
 *
 * The change set is the work tree against the base commit, whatever the tool did on the way:
 * edits, new files, deletions, mode changes, symlinks, renames, and commits it made itself (aider
 * commits by default), because the comparison is with the base, not with HEAD or the index. It
 * is built in a temporary index (GIT_INDEX_FILE), so the checkout's real index is never written.
 *
 * What is left out: ignored files (`git add -A` honours .gitignore, so a tool's build output or
 * node_modules never lands in a patch; a change to .gitignore itself does) and anything inside
 * .git. Sparse checkouts are refused, because files outside the sparse cone would read as
 * deleted.
 */

export const DEFAULT_MAX_DIFF_BYTES = 50 * 1024 * 1024;

export class PatchTooLargeError extends InputError {
  override name = "PatchTooLargeError";
  constructor(readonly limitBytes: number) {
    super(
      `the patch is larger than ${Math.round(limitBytes / 1024 / 1024)} MiB; ` +
        "Switchyard refuses patches this large (look for generated or binary files the tool added)",
    );
  }
}

export interface CaptureOptions {
  /** Largest unified diff accepted, in bytes; larger is a PatchTooLargeError. */
  maxDiffBytes?: number;
}

const DIFF_ARGS = ["diff-index", "--cached", "-M", "--no-ext-diff", "--no-textconv"];

const utf8 = new TextDecoder("utf-8", { fatal: true });

function decodePaths(bytes: Buffer): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new InputError(
      "the change set contains a file name that is not valid UTF-8; rename it (GitHub cannot store it either)",
    );
  }
}

/**
 * Runs `fn` against a throwaway index. Seeded from the real index when asked, then reset to
 * `treeish`: git keeps the stat data of entries whose content matches, so `git add -A` only
 * rehashes files that changed instead of the whole repository.
 */
export async function withTempIndex<T>(
  git: GitCommandManager,
  treeish: string,
  fn: (indexed: GitCommandManager) => Promise<T>,
  options: { seedFromRealIndex?: boolean } = {},
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "switchyard-index-"));
  try {
    const indexFile = join(dir, "index");
    if (options.seedFromRealIndex) {
      const real = await git.gitPath("index");
      const copied = await copyFile(real, indexFile).then(
        () => true,
        (error: NodeJS.ErrnoException) => {
          if (error.code !== "ENOENT") throw error;
          return false;
        },
      );
      // Git trusts an entry's cached stat only when the entry is older than the index file
      // ("racy git"). A copy gets a fresh mtime, which would make a same-size edit from the
      // index's last second look clean; the copy must keep the original's times.
      if (copied) {
        const { atime, mtime } = await stat(real);
        await utimes(indexFile, atime, mtime);
      }
    }
    const indexed = git.withIndex(indexFile);
    await indexed.exec(["read-tree", "--reset", treeish]);
    return await fn(indexed);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface RawRecord {
  oldMode: string;
  newMode: string;
  oldSha: string;
  newSha: string;
  status: string;
  path: string;
  oldPath?: string;
}

/** `git diff-index --raw -z`: a ":modes shas status" field, then one path, or two for R and C. */
export function parseRawDiff(output: string): RawRecord[] {
  const tokens = output.split("\0");
  const records: RawRecord[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const header = tokens[i]!;
    if (!header.startsWith(":")) continue;
    const [oldMode, newMode, oldSha, newSha, status] = header.slice(1).split(" ");
    if (!oldMode || !newMode || !oldSha || !newSha || !status) {
      throw new Error(`unexpected git diff --raw record: ${header}`);
    }
    const letter = status[0]!;
    if (letter === "R" || letter === "C") {
      const oldPath = tokens[++i]!;
      records.push({ oldMode, newMode, oldSha, newSha, status: letter, oldPath, path: tokens[++i]! });
    } else {
      records.push({ oldMode, newMode, oldSha, newSha, status: letter, path: tokens[++i]! });
    }
  }
  return records;
}

export interface NumstatRecord {
  binary: boolean;
  additions: number;
  deletions: number;
}

/** `git diff-index --numstat -z`, keyed by the new path; binary files read as "-\t-". */
export function parseNumstat(output: string): Map<string, NumstatRecord> {
  const tokens = output.split("\0");
  const stats = new Map<string, NumstatRecord>();
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    const match = /^(-|\d+)\t(-|\d+)\t(.*)$/s.exec(token);
    if (!match) continue;
    // A rename leaves the path field empty and spends the next two fields on old and new path.
    let path = match[3]!;
    if (path === "") {
      i += 2;
      path = tokens[i]!;
    }
    const binary = match[1] === "-";
    stats.set(path, {
      binary,
      additions: binary ? 0 : Number(match[1]),
      deletions: binary ? 0 : Number(match[2]),
    });
  }
  return stats;
}

const FILE_MODES = new Set(["100644", "100755", "120000"]);

function toFileChange(record: RawRecord, stat: NumstatRecord | undefined): FileChange {
  const change: FileChange = {
    path: record.path,
    status: "modified",
    binary: stat?.binary ?? false,
    additions: stat?.additions ?? 0,
    deletions: stat?.deletions ?? 0,
  };
  switch (record.status) {
    case "A":
      change.status = "added";
      break;
    case "D":
      change.status = "deleted";
      break;
    case "R":
      change.status = "renamed";
      change.old_path = record.oldPath;
      break;
    case "M":
      if (record.oldSha === record.newSha && record.oldMode !== record.newMode)
        change.status = "mode_changed";
      break;
    case "T":
      break;
    default:
      throw new Error(`unexpected change status ${record.status} for ${record.path}`);
  }
  // A gitlink (160000) gets no mode: the schema has none for it, and the policy refuses it.
  if (change.status !== "deleted" && FILE_MODES.has(record.newMode)) {
    change.mode = record.newMode as FileChange["mode"];
  }
  return change;
}

function toEntries(record: RawRecord): PatchEntry[] {
  if (record.status === "D") return [{ path: record.path, deleted: true }];
  const write: PatchEntry = {
    path: record.path,
    deleted: false,
    mode: record.newMode as "100644" | "100755" | "120000" | "160000",
    blob: record.newSha,
  };
  return record.status === "R" ? [{ path: record.oldPath!, deleted: true }, write] : [write];
}

/**
 * The change set of the work tree against `baseSha`. An empty `files` list means the tool changed
 * nothing (the caller's `no_changes`, never `success`).
 */
export async function capturePatch(
  git: GitCommandManager,
  baseSha: string,
  options: CaptureOptions = {},
): Promise<CapturedPatch> {
  if (!ShaSchema.safeParse(baseSha).success) {
    throw new InputError(`base commit "${baseSha}" is not a full commit id`);
  }
  if ((await git.tryRevParse(`${baseSha}^{commit}`)) === null) {
    throw new InputError(`base commit ${baseSha} is not in the repository at ${git.dir}`);
  }
  if (await git.configBool("core.sparseCheckout")) {
    throw new InputError(
      `the checkout at ${git.dir} is sparse; Switchyard needs a full checkout (files outside the sparse ` +
        "cone would be captured as deleted)",
    );
  }
  const maxDiffBytes = options.maxDiffBytes ?? DEFAULT_MAX_DIFF_BYTES;

  return withTempIndex(
    git,
    baseSha,
    async (indexed) => {
      await indexed.exec(["add", "--all"]);
      const treeSha = (await indexed.exec(["write-tree"])).stdout.trim();
      const raw = await indexed.execBytes([...DIFF_ARGS, "--raw", "-z", baseSha]);
      const numstat = await indexed.execBytes([...DIFF_ARGS, "--numstat", "-z", baseSha]);
      let diff: Buffer;
      try {
        const args = [...DIFF_ARGS, "--patch", "--binary", "--full-index", baseSha];
        diff = (await indexed.execBytes(args, { maxBuffer: maxDiffBytes })).stdout;
      } catch (error) {
        if (error instanceof GitError && error.reason === "max_buffer")
          throw new PatchTooLargeError(maxDiffBytes);
        throw error;
      }

      const records = parseRawDiff(decodePaths(raw.stdout));
      const stats = parseNumstat(decodePaths(numstat.stdout));
      const files = records.map((r) => toFileChange(r, stats.get(r.path)));
      return {
        base_sha: baseSha,
        tree_sha: treeSha,
        files,
        entries: records.flatMap(toEntries),
        stats: {
          files: files.length,
          additions: files.reduce((n, f) => n + f.additions, 0),
          deletions: files.reduce((n, f) => n + f.deletions, 0),
        },
        diff,
      };
    },
    // A marked entry (assume-unchanged, skip-worktree) would keep its mark in the copy and hide
    // the tool's edit to that file, so such an index is not reused.
    { seedFromRealIndex: (await git.hiddenIndexEntries()).length === 0 },
  );
}

export type ReplayResult =
  | { status: "applied"; tree: string }
  /** `onto` already holds every path of the patch exactly as the patch leaves it. */
  | { status: "already_applied"; tree: string }
  | { status: "conflict"; conflictingPaths: string[]; detail: string };

/**
 * Replays the patch's diff on another commit, in a temporary index (no checkout is touched):
 * straight when the context matches, else by a three-way merge of each file against the blobs
 * the diff names. The result is the tree a commit on `onto` would hold.
 */
export async function replayPatch(
  git: GitCommandManager,
  patch: CapturedPatch,
  onto: string,
): Promise<ReplayResult> {
  const ontoTree = await git.treeOf(onto);
  if (onto !== patch.base_sha && (await git.hasObject(patch.tree_sha, "tree"))) {
    const differing = await changedPaths(git, patch.tree_sha, ontoTree);
    if (patch.entries.every((e) => !differing.has(e.path)))
      return { status: "already_applied", tree: ontoTree };
  }
  return withTempIndex(git, onto, async (indexed) => {
    const applied = await indexed.exec(
      ["apply", "--cached", "--3way", "--binary", "--whitespace=nowarn", "-"],
      { input: patch.diff, okExitCodes: [0, 1, 128] },
    );
    if (applied.exitCode === 0) {
      return { status: "applied", tree: (await indexed.exec(["write-tree"])).stdout.trim() };
    }
    const unmerged = await indexed.execBytes(["ls-files", "--unmerged", "-z"]);
    const conflicted = new Set(
      decodePaths(unmerged.stdout)
        .split("\0")
        .filter((line) => line.includes("\t"))
        .map((line) => line.slice(line.indexOf("\t") + 1)),
    );
    // Some refusals leave no unmerged entry (a file the patch adds already exists there): then
    // the conflict is every path of the patch that also changed between the base and `onto`.
    if (conflicted.size === 0 && (await git.hasObject(patch.base_sha, "commit"))) {
      const moved = await changedPaths(git, await git.treeOf(patch.base_sha), ontoTree);
      for (const e of patch.entries) if (moved.has(e.path)) conflicted.add(e.path);
    }
    const detail = applied.stderr.trim().split("\n").filter(Boolean).slice(-5).join("\n");
    return { status: "conflict", conflictingPaths: [...conflicted].sort(), detail };
  });
}

async function changedPaths(git: GitCommandManager, fromTree: string, toTree: string): Promise<Set<string>> {
  const r = await git.execBytes(["diff-tree", "-r", "-z", "--no-renames", "--name-only", fromTree, toTree]);
  return new Set(decodePaths(r.stdout).split("\0").filter(Boolean));
}

/** Reads blobs from the local object database (capture wrote every new file's blob there). */
export class GitBlobReader implements BlobReader {
  constructor(private readonly git: GitCommandManager) {}

  async readBlob(sha: string): Promise<Uint8Array> {
    if (!ShaSchema.safeParse(sha).success) throw new InputError(`"${sha}" is not a blob id`);
    return (await this.git.execBytes(["cat-file", "blob", sha])).stdout;
  }
}
