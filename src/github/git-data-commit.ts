import { z } from "zod";
import {
  checkCommitInput,
  ShaSchema,
  type BlobReader,
  type CapturedPatch,
  type CommitPatchInput,
  type CommitPatchResult,
  type CommitPort,
  type PatchEntry,
} from "../core/execution/commit-port.js";
import type { FileChange } from "../core/execution/schema.js";
import { InputError, SwitchyardError } from "../core/errors.js";
import { checkPatchPolicy } from "../core/policy/patch-policy.js";
import { GitHubApiError, WorkflowChangeRefusedError, gitHubApiError, statusOf } from "./errors.js";
import type { GitHubClient } from "./octokit.js";

/**
 * The CommitPort on GitHub: the patch becomes one commit made through the Git Data API, so
 * GitHub itself writes (and, for an app's token without a custom author, signs) the commit, and
 * the push starts CI like any other.
 *
 * Requests, for N changed files on a new branch: the base commit (for its tree), the branch's
 * ref (404), one blob per distinct new content (contents the repository already holds, such as
 * a pure mode change, are not sent again), ceil(N / treeChunk) trees, one commit, one ref
 * creation. An existing branch adds a compare (and the tip's commit) to see whether the patch
 * can be replayed on its tip without a three-way merge, which the API cannot do.
 *
 * Never forced: the ref is created, or moved with `force: false`, which GitHub refuses unless it
 * is a fast-forward. A branch that moved between looking and writing is looked at again, a
 * bounded number of times.
 */

export const DEFAULT_BLOB_CONCURRENCY = 8;
/**
 * Changed files per tree request. GitHub documents no cap on a tree request's entries; 100 keeps
 * each body modest (a rename adds a second entry, so at most 200).
 */
export const MAX_TREE_CHUNK = 100;
/** GitHub's compare lists at most 300 files; a list that long may be cut short. */
const COMPARE_FILE_LIMIT = 300;

export interface GitDataCommitOptions {
  octokit: GitHubClient;
  owner: string;
  repo: string;
  /** Where new file contents are read from (the runner's object database, an artifact...). */
  blobs: BlobReader;
  /** Blob uploads in flight at once. Default 8. */
  concurrency?: number;
  /** Changed files per tree request, 1..100. Default 100. */
  treeChunk?: number;
  /** Commit `.github/workflows/**` changes (the token must be allowed to). Default false. */
  allowWorkflowChanges?: boolean;
  /**
   * The repository's default branch, which is never committed to. Omitted = asked of the API
   * once (one more request); callers that hold a webhook payload pass
   * `repository.default_branch`.
   */
  defaultBranch?: string;
  /**
   * A custom author. Omitted = the token's identity, which is what lets GitHub sign an app's
   * commits; any custom author or committer leaves the commit unsigned.
   */
  author?: { name: string; email: string };
  /** Ref updates lost to a concurrent push to retry before answering `branch_moved`. Default 3. */
  maxRaces?: number;
}

const NAME = /^[A-Za-z0-9_.-]+$/;

const OptionsSchema = z.strictObject({
  octokit: z.custom<GitHubClient>(
    (v) => typeof (v as { request?: unknown } | null)?.request === "function",
    "an Octokit client (createOctokit())",
  ),
  owner: z.string().regex(NAME, "a GitHub account name"),
  repo: z
    .string()
    .regex(NAME, "a repository name")
    .refine((r) => r !== "." && r !== "..", "a repository name"),
  blobs: z.custom<BlobReader>(
    (v) => typeof (v as { readBlob?: unknown } | null)?.readBlob === "function",
    "a BlobReader",
  ),
  concurrency: z.number().int().min(1).max(32).optional(),
  treeChunk: z.number().int().min(1).max(MAX_TREE_CHUNK).optional(),
  allowWorkflowChanges: z.boolean().optional(),
  defaultBranch: z.string().min(1).optional(),
  author: z.strictObject({ name: z.string().trim().min(1), email: z.string().trim().min(3) }).optional(),
  maxRaces: z.number().int().min(0).max(10).optional(),
});

/**
 * Why `name` cannot be a branch, or null: git's check-ref-format rules for `refs/heads/<name>`,
 * checked here because a bad name would otherwise surface as a 422 after every blob was sent.
 */
export function branchNameProblem(name: string): string | null {
  if (name.length === 0) return "it is empty";
  if (name === "@") return 'it is "@"';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f~^:?*[\\]/.test(name))
    return "it contains a space, a control character or one of ~ ^ : ? * [ \\";
  if (name.includes("..")) return 'it contains ".."';
  if (name.includes("@{")) return 'it contains "@{"';
  if (name.startsWith("-")) return 'it starts with "-"';
  if (name.startsWith("/") || name.endsWith("/") || name.includes("//"))
    return "it has an empty path segment";
  if (name.endsWith(".")) return 'it ends with "."';
  for (const segment of name.split("/")) {
    if (segment.startsWith(".")) return `its segment "${segment}" starts with "."`;
    if (segment.endsWith(".lock")) return `its segment "${segment}" ends with ".lock"`;
  }
  return null;
}

/** A tree entry as the create-tree operation takes it; `sha: null` deletes the path. */
export type TreeItem =
  | { path: string; mode: "100644" | "100755" | "120000"; type: "blob"; sha: string }
  | { path: string; mode: "160000"; type: "commit"; sha: string }
  | { path: string; mode: "100644"; type: "blob"; sha: null };

/**
 * The tree entries of a patch, in the patch's order (a rename's deletion next to its write),
 * except that a deletion making room for a write (a file that becomes a directory, or the other
 * way round) goes first, so the old path is gone before the new one is written whichever tree
 * chunk either lands in.
 */
export function treeItems(entries: PatchEntry[]): TreeItem[] {
  const ancestors = (path: string) =>
    path
      .split("/")
      .slice(0, -1)
      .map((_, i, parts) => parts.slice(0, i + 1).join("/"));
  const writes = new Set(entries.filter((e) => !e.deleted).map((e) => e.path));
  const writeDirs = new Set([...writes].flatMap(ancestors));
  const makesRoom = (path: string) => writeDirs.has(path) || ancestors(path).some((dir) => writes.has(dir));
  const item = (e: PatchEntry): TreeItem =>
    // A deletion's mode is not read by GitHub, but the item must still name one.
    e.deleted
      ? { path: e.path, mode: "100644", type: "blob", sha: null }
      : e.mode === "160000"
        ? { path: e.path, mode: e.mode, type: "commit", sha: e.blob }
        : { path: e.path, mode: e.mode, type: "blob", sha: e.blob };
  const first = entries.filter((e) => e.deleted && makesRoom(e.path));
  const rest = entries.filter((e) => !(e.deleted && makesRoom(e.path)));
  return [...first, ...rest].map(item);
}

/**
 * Splits tree items into requests of `size` changed files each. A rename is one changed file but
 * two items (the old path's deletion rides along for free), so a patch of F files takes
 * ceil(F / size) tree requests whatever it renames.
 */
export function chunkTreeItems(items: TreeItem[], renamedFrom: Set<string>, size: number): TreeItem[][] {
  const chunks: TreeItem[][] = [];
  let current: TreeItem[] = [];
  let weight = 0;
  for (const item of items) {
    const w = item.sha === null && renamedFrom.has(item.path) ? 0 : 1;
    // A full chunk is closed before the next item, even a free one: a rename's deletion then
    // travels with its write.
    if (current.length > 0 && weight + Math.max(w, 1) > size) {
      chunks.push(current);
      current = [];
      weight = 0;
    }
    current.push(item);
    weight += w;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** One file of a compare: its state at the compare's head. */
interface DiffEntry {
  filename: string;
  status: string;
  sha: string | null;
  previous_filename?: string;
}

export interface Overlap {
  /** Paths both sides changed, differently. */
  conflicts: string[];
  /** Deletions the tip already made: sending them again is an error ("file does not exist"). */
  alreadyDeleted: Set<string>;
  /** Blobs the tip's tree already holds, which need no upload. */
  tipBlobs: Set<string>;
}

/**
 * Whether the patch (made on the base) can be laid over the tip's tree as it is. `branchSide`
 * lists what changed from the merge base to the tip, `baseSide` what changed from the merge base
 * to our base (empty when the base is an ancestor of the tip). A path neither side touched is
 * the same at the tip as at the base, so our version of it is exactly what a merge would give. A
 * path the tip already has exactly as the patch leaves it is not a conflict either. Anything
 * else would need a three-way merge, which is not done here: it is reported.
 */
export function findOverlap(entries: PatchEntry[], branchSide: DiffEntry[], baseSide: DiffEntry[]): Overlap {
  const atTip = new Map<string, string | null>();
  for (const f of branchSide) {
    if (f.previous_filename !== undefined && f.status === "renamed") atTip.set(f.previous_filename, null);
    atTip.set(f.filename, f.status === "removed" ? null : f.sha);
  }
  const baseChanged = new Set(baseSide.flatMap((f) => [f.filename, f.previous_filename ?? f.filename]));
  const conflicts: string[] = [];
  const alreadyDeleted = new Set<string>();
  for (const e of entries) {
    const onBranch = atTip.has(e.path);
    if (!onBranch && !baseChanged.has(e.path)) continue;
    const tipHas = atTip.get(e.path);
    if (onBranch && e.deleted && tipHas === null) alreadyDeleted.add(e.path);
    else if (!(onBranch && !e.deleted && tipHas === e.blob)) conflicts.push(e.path);
  }
  const tipBlobs = new Set(
    branchSide.flatMap((f) => (f.status !== "removed" && f.sha !== null ? [f.sha] : [])),
  );
  return { conflicts: [...new Set(conflicts)].sort(), alreadyDeleted, tipBlobs };
}

const RefSchema = z.object({ object: z.object({ sha: ShaSchema }) });
const CommitSchema = z.object({ sha: ShaSchema, tree: z.object({ sha: ShaSchema }) });
const ShaOnlySchema = z.object({ sha: ShaSchema });
const DiffEntrySchema = z.object({
  filename: z.string(),
  status: z.string(),
  sha: z.string().nullable(),
  previous_filename: z.string().optional(),
});
const CompareSchema = z.object({
  status: z.enum(["diverged", "ahead", "behind", "identical"]),
  files: z.array(DiffEntrySchema).optional(),
});
const RepoSchema = z.object({ default_branch: z.string() });

/** A response's fields, checked: a stand-in API or a proxy can answer anything. */
function fields<T>(schema: z.ZodType<T>, data: unknown, what: string): T {
  const parsed = schema.safeParse(data);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new GitHubApiError(
    `GitHub's answer to ${what} is not what its API documents (${issue.path.join(".") || "(root)"}: ${issue.message})`,
    null,
  );
}

/** Runs `fn` over `items` with at most `limit` in flight; stops starting new ones after a failure. */
async function inPool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | null = null;
  const worker = async (): Promise<void> => {
    while (failure === null && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== null) throw (failure as { error: unknown }).error;
}

/** What `git commit` would store: no trailing blank lines, one final newline. */
function normalizeMessage(message: string): string {
  return message.replace(/\s+$/, "") + "\n";
}

/** `heads/<branch>` as a URL path: each segment encoded, the slashes kept (GHES 404s on %2F). */
function refPath(branch: string): string {
  return `heads/${branch.split("/").map(encodeURIComponent).join("/")}`;
}

type Plan =
  | { kind: "write"; parent: string; parentTree: string; items: TreeItem[]; knownBlobs: Set<string> }
  | { kind: "moved"; theirSha: string; conflictingPaths: string[]; why: string };

const UNCHANGED = "nothing was committed and the branch was not changed";

export class GitDataCommitPort implements CommitPort {
  private readonly octokit: GitHubClient;
  private readonly owner: string;
  private readonly repo: string;
  private readonly blobs: BlobReader;
  private readonly concurrency: number;
  private readonly treeChunk: number;
  private readonly allowWorkflowChanges: boolean;
  private readonly author: { name: string; email: string } | undefined;
  private readonly maxRaces: number;
  private defaultBranch: string | undefined;

  constructor(options: GitDataCommitOptions) {
    const parsed = OptionsSchema.safeParse(options);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new InputError(
        `invalid GitDataCommitPort options: ${issue.path.join(".") || "(root)"}: ${issue.message}`,
      );
    }
    const o = parsed.data;
    this.octokit = o.octokit;
    this.owner = o.owner;
    this.repo = o.repo;
    this.blobs = o.blobs;
    this.concurrency = o.concurrency ?? DEFAULT_BLOB_CONCURRENCY;
    this.treeChunk = o.treeChunk ?? MAX_TREE_CHUNK;
    this.allowWorkflowChanges = o.allowWorkflowChanges ?? false;
    this.author = o.author;
    this.maxRaces = o.maxRaces ?? 3;
    this.defaultBranch = o.defaultBranch;
  }

  private get slug(): string {
    return `${this.owner}/${this.repo}`;
  }

  async commitPatch(input: CommitPatchInput): Promise<CommitPatchResult> {
    const { branch, baseSha, message, patch } = this.checkInput(input);
    await this.refuseDefaultBranch(branch);
    const baseTree = (await this.readCommit(baseSha, "the base commit")).tree;
    const uploaded = new Set<string>();
    const renamedFrom = new Set(
      patch.files.flatMap((f) => (f.status === "renamed" && f.old_path !== undefined ? [f.old_path] : [])),
    );

    let tip = await this.readBranch(branch);
    for (let race = 0; race <= this.maxRaces; race++) {
      const plan = await this.plan(patch, baseSha, baseTree, tip);
      if (plan.kind === "moved") return moved(branch, plan.theirSha, plan.conflictingPaths, plan.why);

      await this.uploadBlobs(plan.items, plan.knownBlobs, uploaded);
      const tree = await this.writeTree(plan.parentTree, plan.items, renamedFrom);
      if (plan.parent === baseSha && tree !== patch.tree_sha) {
        throw new InputError(
          `the patch's entries make tree ${tree} on its base, but its manifest says ${patch.tree_sha}; ` +
            "refusing an inconsistent patch (the branch was not changed)",
        );
      }
      const rebasedOnto = plan.parent !== baseSha ? plan.parent : null;
      if (tip !== null && plan.parent === tip && tree === plan.parentTree) {
        return { ok: true, branch, commitSha: tip, created: false, updated: false, rebasedOnto };
      }

      const commitSha = await this.createCommit(normalizeMessage(message), tree, plan.parent);
      const write =
        tip === null ? await this.createRef(branch, commitSha) : await this.moveRef(branch, tip, commitSha);
      if (write.raced) {
        tip = write.tip;
        continue;
      }
      return { ok: true, branch, commitSha, created: tip === null, updated: tip !== null, rebasedOnto };
    }
    const theirs = tip ?? baseSha;
    const rounds = this.maxRaces + 1;
    return moved(
      branch,
      theirs,
      [],
      `it changed again during each of ${rounds} update${rounds === 1 ? "" : "s"}`,
    );
  }

  private checkInput(input: CommitPatchInput): {
    branch: string;
    baseSha: string;
    message: string;
    patch: CapturedPatch;
  } {
    const { branch, baseSha, message, patch } = checkCommitInput(input);
    const problem = branchNameProblem(branch);
    if (problem !== null) throw new InputError(`"${branch}" is not a valid branch name: ${problem}`);
    if (!this.allowWorkflowChanges) {
      const workflowPaths = this.workflowPaths(patch);
      if (workflowPaths.length > 0) throw new WorkflowChangeRefusedError(workflowPaths);
    }
    return { branch, baseSha, message, patch };
  }

  /**
   * Workflow paths among the files and the entries alike, by the patch policy's own rule (which
   * ignores case): an artifact's manifest could list a path in one and not the other.
   */
  private workflowPaths(patch: CapturedPatch): string[] {
    const asChanges: FileChange[] = [
      ...patch.files,
      ...patch.entries.map((e): FileChange => ({
        path: e.path,
        status: e.deleted ? "deleted" : "modified",
        binary: false,
        additions: 0,
        deletions: 0,
        ...(!e.deleted && e.mode !== "160000" ? { mode: e.mode } : {}),
      })),
    ];
    const result = checkPatchPolicy(asChanges, {
      forbidden: [],
      scope: [],
      maxFiles: Number.MAX_SAFE_INTEGER,
      maxChangedLines: Number.MAX_SAFE_INTEGER,
      allowWorkflowChanges: false,
    });
    if (result.ok) return [];
    const paths = result.violations.flatMap((v) => (v.rule === "workflow_change" && v.path ? [v.path] : []));
    return [...new Set(paths)].sort();
  }

  private async refuseDefaultBranch(branch: string): Promise<void> {
    if (this.defaultBranch === undefined) {
      const data = await this.call(
        () => this.octokit.request("GET /repos/{owner}/{repo}", { owner: this.owner, repo: this.repo }),
        {
          doing: `reading the repository ${this.slug}`,
          permission: "metadata: read",
          consequence: UNCHANGED,
        },
      );
      this.defaultBranch = fields(RepoSchema, data, `GET /repos/${this.slug}`).default_branch;
    }
    if (branch === this.defaultBranch) {
      throw new InputError(`refusing to commit to ${branch}: it is the default branch of ${this.slug}`);
    }
  }

  private async call<T>(
    fn: () => Promise<{ data: T }>,
    context: { doing: string; permission?: string; consequence?: string },
  ): Promise<T> {
    try {
      return (await fn()).data;
    } catch (error) {
      throw gitHubApiError(error, context);
    }
  }

  private async readCommit(sha: string, what: string): Promise<{ sha: string; tree: string }> {
    let data: unknown;
    try {
      ({ data } = await this.octokit.request("GET /repos/{owner}/{repo}/git/commits/{commit_sha}", {
        owner: this.owner,
        repo: this.repo,
        commit_sha: sha,
      }));
    } catch (error) {
      if (statusOf(error) === 404 || statusOf(error) === 422) {
        throw new InputError(
          `${what} ${sha} is not in ${this.slug}; was the patch captured in another repository, or was the ` +
            "commit force-pushed away?",
        );
      }
      throw gitHubApiError(error, {
        doing: `reading ${what} ${sha} of ${this.slug}`,
        consequence: UNCHANGED,
      });
    }
    const commit = fields(CommitSchema, data, `GET commit ${sha}`);
    return { sha: commit.sha, tree: commit.tree.sha };
  }

  /** The branch's tip, or null when there is no such branch. */
  private async readBranch(branch: string): Promise<string | null> {
    try {
      const { data } = await this.octokit.request(`GET /repos/{owner}/{repo}/git/ref/${refPath(branch)}`, {
        owner: this.owner,
        repo: this.repo,
      });
      return fields(RefSchema, data, `GET ref heads/${branch}`).object.sha;
    } catch (error) {
      if (error instanceof GitHubApiError) throw error;
      if (statusOf(error) === 404) return null;
      throw gitHubApiError(error, {
        doing: `reading branch ${branch} of ${this.slug}`,
        permission: "contents: read",
        consequence: UNCHANGED,
      });
    }
  }

  private async compare(from: string, to: string): Promise<z.infer<typeof CompareSchema>> {
    const data = await this.call(
      () =>
        this.octokit.request("GET /repos/{owner}/{repo}/compare/{basehead}", {
          owner: this.owner,
          repo: this.repo,
          basehead: `${from}...${to}`,
          // Files come with the first page whatever its size; one commit keeps the answer small.
          per_page: 1,
        }),
      {
        doing: `comparing ${from.slice(0, 12)}...${to.slice(0, 12)} in ${this.slug}`,
        consequence: UNCHANGED,
      },
    );
    return fields(CompareSchema, data, `GET compare ${from}...${to}`);
  }

  /** Where the patch goes on this round: its base, the branch's tip, or nowhere (moved). */
  private async plan(
    patch: CapturedPatch,
    baseSha: string,
    baseTree: string,
    tip: string | null,
  ): Promise<Plan> {
    const all = treeItems(patch.entries);
    const modeOnly = new Set(patch.files.filter((f) => f.status === "mode_changed").map((f) => f.path));
    const baseBlobs = new Set(
      patch.entries.flatMap((e) => (!e.deleted && modeOnly.has(e.path) ? [e.blob] : [])),
    );
    if (tip === null || tip === baseSha) {
      return { kind: "write", parent: baseSha, parentTree: baseTree, items: all, knownBlobs: baseBlobs };
    }

    const branchSide = await this.compare(baseSha, tip);
    // The tip is an ancestor of the base (the branch was cut from an older base and never
    // changed): a commit on the base is a fast-forward of it, and holds everything.
    if (branchSide.status === "behind") {
      return { kind: "write", parent: baseSha, parentTree: baseTree, items: all, knownBlobs: baseBlobs };
    }
    const baseSide = branchSide.status === "diverged" ? await this.compare(tip, baseSha) : { files: [] };
    const branchFiles = branchSide.files ?? [];
    const baseFiles = baseSide.files ?? [];
    if (branchFiles.length >= COMPARE_FILE_LIMIT || baseFiles.length >= COMPARE_FILE_LIMIT) {
      return {
        kind: "moved",
        theirSha: tip,
        conflictingPaths: [],
        why:
          `it differs from the base in ${COMPARE_FILE_LIMIT} or more files, more than GitHub's compare ` +
          "lists, so the patch cannot be checked against it",
      };
    }
    const overlap = findOverlap(patch.entries, branchFiles, baseFiles);
    if (overlap.conflicts.length > 0) {
      return {
        kind: "moved",
        theirSha: tip,
        conflictingPaths: overlap.conflicts,
        why: `the patch conflicts with ${tip.slice(0, 12)} in ${overlap.conflicts.join(", ")}`,
      };
    }
    const tipTree = (await this.readCommit(tip, "the branch tip")).tree;
    return {
      kind: "write",
      parent: tip,
      parentTree: tipTree,
      items: all.filter((item) => !(item.sha === null && overlap.alreadyDeleted.has(item.path))),
      knownBlobs: new Set([...baseBlobs, ...overlap.tipBlobs]),
    };
  }

  /** Sends each distinct new content once; `uploaded` carries over between race rounds. */
  private async uploadBlobs(items: TreeItem[], known: Set<string>, uploaded: Set<string>): Promise<void> {
    const todo = new Map<string, string>();
    for (const item of items) {
      if (item.type !== "blob" || item.sha === null) continue;
      if (known.has(item.sha) || uploaded.has(item.sha) || todo.has(item.sha)) continue;
      todo.set(item.sha, item.path);
    }
    await inPool([...todo], this.concurrency, async ([sha, path]) => {
      let bytes: Uint8Array;
      try {
        bytes = await this.blobs.readBlob(sha);
      } catch (error) {
        throw new SwitchyardError(
          `reading the content of ${path} (blob ${sha}) failed: ${(error as Error).message}; ${UNCHANGED}`,
          { cause: error },
        );
      }
      const content = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
      const data = await this.call(
        () =>
          this.octokit.request("POST /repos/{owner}/{repo}/git/blobs", {
            owner: this.owner,
            repo: this.repo,
            content,
            encoding: "base64",
          }),
        { doing: `uploading ${path} to ${this.slug}`, permission: "contents: write", consequence: UNCHANGED },
      );
      const stored = fields(ShaOnlySchema, data, "POST git/blobs").sha;
      if (stored !== sha) {
        throw new InputError(
          `GitHub stored ${path} as blob ${stored}, but the patch names blob ${sha}: the blob reader returned ` +
            `other content than the patch recorded; ${UNCHANGED}`,
        );
      }
      uploaded.add(sha);
    });
  }

  /** Lays `items` over `baseTree` in chunks, each on the tree the previous chunk made. */
  private async writeTree(baseTree: string, items: TreeItem[], renamedFrom: Set<string>): Promise<string> {
    let tree = baseTree;
    const chunks = chunkTreeItems(items, renamedFrom, this.treeChunk);
    for (const [i, chunk] of chunks.entries()) {
      const data = await this.call(
        () =>
          this.octokit.request("POST /repos/{owner}/{repo}/git/trees", {
            owner: this.owner,
            repo: this.repo,
            base_tree: tree,
            tree: chunk,
          }),
        {
          doing: `writing tree ${i + 1} of ${chunks.length} in ${this.slug}`,
          permission: "contents: write",
          consequence: UNCHANGED,
        },
      );
      tree = fields(ShaOnlySchema, data, "POST git/trees").sha;
    }
    return tree;
  }

  private async createCommit(message: string, tree: string, parent: string): Promise<string> {
    const data = await this.call(
      () =>
        this.octokit.request("POST /repos/{owner}/{repo}/git/commits", {
          owner: this.owner,
          repo: this.repo,
          message,
          tree,
          parents: [parent],
          ...(this.author ? { author: this.author } : {}),
        }),
      { doing: `creating the commit in ${this.slug}`, permission: "contents: write", consequence: UNCHANGED },
    );
    return fields(ShaOnlySchema, data, "POST git/commits").sha;
  }

  private async createRef(
    branch: string,
    sha: string,
  ): Promise<{ raced: false } | { raced: true; tip: string | null }> {
    try {
      await this.octokit.request("POST /repos/{owner}/{repo}/git/refs", {
        owner: this.owner,
        repo: this.repo,
        ref: `refs/heads/${branch}`,
        sha,
      });
      return { raced: false };
    } catch (error) {
      // Someone created the branch since we looked: look again rather than fail.
      if (statusOf(error) === 422) {
        const now = await this.readBranch(branch);
        if (now !== null) return { raced: true, tip: now };
      }
      throw gitHubApiError(error, {
        doing: `creating branch ${branch} in ${this.slug}`,
        permission: "contents: write",
        consequence: `commit ${sha} was written but no branch points to it`,
      });
    }
  }

  private async moveRef(
    branch: string,
    from: string,
    sha: string,
  ): Promise<{ raced: false } | { raced: true; tip: string | null }> {
    try {
      await this.octokit.request(`PATCH /repos/{owner}/{repo}/git/refs/${refPath(branch)}`, {
        owner: this.owner,
        repo: this.repo,
        sha,
        force: false,
      });
      return { raced: false };
    } catch (error) {
      // "Update is not a fast forward": it moved since we looked. Any other refusal (a protected
      // branch, a missing permission) would only repeat, so it is an error, not a race.
      if (statusOf(error) === 422) {
        const now = await this.readBranch(branch);
        if (now !== from) return { raced: true, tip: now };
      }
      throw gitHubApiError(error, {
        doing: `moving branch ${branch} of ${this.slug} to ${sha.slice(0, 12)}`,
        permission: "contents: write",
        consequence: `the branch still points to ${from.slice(0, 12)}`,
      });
    }
  }
}

function moved(branch: string, theirSha: string, conflictingPaths: string[], why: string): CommitPatchResult {
  return {
    ok: false,
    reason: "branch_moved",
    branch,
    theirSha,
    conflictingPaths,
    message: `branch ${branch} moved under us: ${why}; nothing was committed to it, start a new attempt from ${theirSha.slice(0, 12)}`,
  };
}
