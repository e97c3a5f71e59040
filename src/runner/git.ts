import { existsSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { execa } from "execa";
import { InputError, SwitchyardError } from "../core/errors.js";

/**
 * Every git call Switchyard makes on a checkout goes through this one small manager (the shape of
 * peter-evans/create-pull-request's GitCommandManager): argument arrays only, never a shell
 * string, no pager, no prompts, stable C-locale messages.
 *
 * The checkout is not a trust boundary: the tool that just ran could write anything into it,
 * including `.git/hooks` and `.git/config`. So hooks are switched off for every call (a hook
 * written by the tool would otherwise run with the push token) and so is `core.fsmonitor` (a
 * command git runs on `status`). That is defence in depth, not a sandbox: where it matters, the
 * patch is re-checked and committed by the app, away from the runner.
 */

const GLOBAL_ARGS = [
  "--no-pager",
  "-c",
  "core.quotepath=false",
  "-c",
  "core.hooksPath=/dev/null",
  "-c",
  "core.fsmonitor=false",
  "-c",
  "color.ui=false",
];

/** Inherited variables that would silently point git at another repository or index. */
const STRIPPED_ENV = ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_PREFIX"];

const DEFAULT_TIMEOUT_MS = 10 * 60_000;
const DEFAULT_MAX_BUFFER = 64 * 1024 * 1024;
const STDERR_TAIL_LINES = 12;

export interface GitExecOptions {
  /** Extra environment for this call (e.g. GIT_INDEX_FILE); `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
  input?: string | Uint8Array;
  /** Exit codes that are answers rather than failures (1 for `merge-base --is-ancestor`). */
  okExitCodes?: number[];
  /** Largest stdout accepted, in bytes. */
  maxBuffer?: number;
  timeoutMs?: number;
}

export interface GitResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface GitBytesResult {
  exitCode: number;
  stdout: Buffer;
  stderr: string;
}

/** A git command that failed: the arguments it was given, its exit code and the end of its stderr. */
export class GitError extends SwitchyardError {
  override name = "GitError";
  constructor(
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
    readonly reason: "exit" | "timeout" | "max_buffer" | "spawn" = "exit",
  ) {
    super(formatGitError(args, exitCode, stderr, reason));
  }
}

function formatGitError(
  args: readonly string[],
  exitCode: number | null,
  stderr: string,
  reason: GitError["reason"],
): string {
  const command = scrubCredentials(
    ["git", ...args].map((a) => (a.length > 80 ? a.slice(0, 77) + "..." : a)).join(" "),
  );
  const why =
    reason === "timeout"
      ? "timed out"
      : reason === "max_buffer"
        ? "produced more output than allowed"
        : reason === "spawn"
          ? "could not start (is git installed and on PATH?)"
          : `failed (exit ${exitCode})`;
  const tail = scrubCredentials(stderr.trim()).split("\n").slice(-STDERR_TAIL_LINES).join("\n");
  return tail ? `${command} ${why}: ${tail}` : `${command} ${why}`;
}

/** Remote URLs can carry a token (`https://x-access-token:...@host`); keep it out of messages. */
export function scrubCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s'"]+@/gi, "$1***@");
}

/** One line of `git status --porcelain=v1 -z`. */
export interface StatusEntry {
  /** Index (staged) state letter, " " when unchanged, "?" for untracked. */
  index: string;
  /** Worktree state letter. */
  worktree: string;
  path: string;
  /** The source of a rename or copy. */
  origPath?: string;
}

export function parseStatus(output: string): StatusEntry[] {
  const tokens = output.split("\0");
  const entries: StatusEntry[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.length < 4) continue;
    const entry: StatusEntry = { index: token[0]!, worktree: token[1]!, path: token.slice(3) };
    // A rename or copy is the only record that spends the next NUL-terminated field on its source.
    if (entry.index === "R" || entry.index === "C") entry.origPath = tokens[++i];
    entries.push(entry);
  }
  return entries;
}

/** Where HEAD was when a run started: the commit, and the branch it was on (null when detached). */
export interface HeadState {
  sha: string;
  ref: string | null;
}

export class GitCommandManager {
  private readonly env: Record<string, string | undefined>;
  private readonly timeoutMs: number;

  /** Use `open()` for a checkout given by a user; the constructor trusts `dir` to be a top level. */
  constructor(
    readonly dir: string,
    options: { env?: Record<string, string | undefined>; timeoutMs?: number } = {},
  ) {
    this.env = {
      ...Object.fromEntries(STRIPPED_ENV.map((k) => [k, undefined])),
      GIT_TERMINAL_PROMPT: "0",
      GIT_OPTIONAL_LOCKS: "0",
      LC_ALL: "C",
      ...options.env,
    };
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** A manager for the work tree that contains `dir`, rooted at its top level. */
  static async open(dir: string, options: { timeoutMs?: number } = {}): Promise<GitCommandManager> {
    const probe = new GitCommandManager(resolve(dir), options);
    const result = await probe.exec(["rev-parse", "--show-toplevel"], { okExitCodes: [0, 128] });
    const top = result.stdout.trim();
    if (result.exitCode !== 0 || !top) {
      throw new InputError(`${resolve(dir)} is not inside a git work tree; run Switchyard from a clone`);
    }
    return new GitCommandManager(top, options);
  }

  /** The same repository seen through another index file, so the real index is never touched. */
  withIndex(indexFile: string): GitCommandManager {
    return new GitCommandManager(this.dir, {
      env: { ...this.env, GIT_INDEX_FILE: indexFile },
      timeoutMs: this.timeoutMs,
    });
  }

  async exec(args: string[], options: GitExecOptions = {}): Promise<GitResult> {
    const result = await this.execBytes(args, options);
    return { exitCode: result.exitCode, stdout: result.stdout.toString("utf8"), stderr: result.stderr };
  }

  async execBytes(args: string[], options: GitExecOptions = {}): Promise<GitBytesResult> {
    const result = await execa("git", [...GLOBAL_ARGS, ...args], {
      cwd: this.dir,
      env: { ...this.env, ...options.env },
      extendEnv: true,
      reject: false,
      encoding: "buffer",
      stripFinalNewline: false,
      input: options.input,
      maxBuffer: options.maxBuffer ?? DEFAULT_MAX_BUFFER,
      timeout: options.timeoutMs ?? this.timeoutMs,
    });
    const stderr = Buffer.from(result.stderr).toString("utf8");
    if (result.timedOut) throw new GitError(args, null, stderr, "timeout");
    if (result.isMaxBuffer) throw new GitError(args, null, stderr, "max_buffer");
    if (result.exitCode === undefined) {
      throw new GitError(args, null, result.originalMessage ?? stderr, "spawn");
    }
    const ok = options.okExitCodes ?? [0];
    if (!ok.includes(result.exitCode)) throw new GitError(args, result.exitCode, stderr);
    const out = result.stdout;
    return {
      exitCode: result.exitCode,
      stdout: Buffer.from(out.buffer, out.byteOffset, out.byteLength),
      stderr,
    };
  }

  /** The object id `rev` names; throws when it names nothing. */
  async revParse(rev: string): Promise<string> {
    const found = await this.tryRevParse(rev);
    if (found === null) throw new GitError(["rev-parse", "--verify", rev], 128, `unknown revision ${rev}`);
    return found;
  }

  async tryRevParse(rev: string): Promise<string | null> {
    const r = await this.exec(["rev-parse", "--verify", "--quiet", "--end-of-options", rev], {
      okExitCodes: [0, 1, 128],
    });
    return r.exitCode === 0 ? r.stdout.trim() : null;
  }

  /** The branch HEAD is on (`refs/heads/...`), or null when HEAD is detached. */
  async headRef(): Promise<string | null> {
    const r = await this.exec(["symbolic-ref", "--quiet", "HEAD"], { okExitCodes: [0, 1] });
    return r.exitCode === 0 ? r.stdout.trim() : null;
  }

  async readHead(): Promise<HeadState> {
    return { sha: await this.revParse("HEAD"), ref: await this.headRef() };
  }

  /** Changes git would show, untracked files included (each file, not each directory). */
  async status(): Promise<StatusEntry[]> {
    const r = await this.exec(["status", "--porcelain=v1", "-z", "--untracked-files=all"]);
    return parseStatus(r.stdout);
  }

  async isClean(): Promise<boolean> {
    return (await this.status()).length === 0;
  }

  /**
   * Paths the index tells git to look away from (assume-unchanged, skip-worktree): status does
   * not show their local changes, so neither a clean status nor a stat check can be trusted there.
   */
  async hiddenIndexEntries(): Promise<string[]> {
    const r = await this.exec(["ls-files", "-v", "-z"]);
    return r.stdout
      .split("\0")
      .filter((line) => line.length > 2 && (line[0] === "S" || /[a-z]/.test(line[0]!)))
      .map((line) => line.slice(2));
  }

  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    const r = await this.exec(["merge-base", "--is-ancestor", ancestor, descendant], { okExitCodes: [0, 1] });
    return r.exitCode === 0;
  }

  async hasObject(sha: string, type: "commit" | "tree" | "blob"): Promise<boolean> {
    const r = await this.exec(["cat-file", "-e", `${sha}^{${type}}`], { okExitCodes: [0, 1, 128] });
    return r.exitCode === 0;
  }

  async treeOf(commit: string): Promise<string> {
    return this.revParse(`${commit}^{tree}`);
  }

  /** `git rev-parse --git-path`, made absolute (it answers relative to the top level). */
  async gitPath(name: string): Promise<string> {
    const p = (await this.exec(["rev-parse", "--git-path", name])).stdout.trim();
    return isAbsolute(p) ? p : resolve(this.dir, p);
  }

  async configBool(key: string): Promise<boolean> {
    const r = await this.exec(["config", "--type=bool", "--get", key], { okExitCodes: [0, 1] });
    return r.exitCode === 0 && r.stdout.trim() === "true";
  }

  async resetHard(sha: string): Promise<void> {
    await this.exec(["reset", "--quiet", "--hard", sha]);
  }

  /**
   * Removes untracked files and directories (nested repositories too, hence the second -f) but
   * keeps ignored ones: in a developer's checkout those are node_modules, .env and build caches
   * they need, and a tool's own ignored leftovers cannot reach a patch anyway.
   */
  async cleanUntracked(): Promise<void> {
    await this.exec(["clean", "-ffdq"]);
  }

  async commitTree(
    tree: string,
    parents: string[],
    message: string,
    env?: Record<string, string | undefined>,
  ): Promise<string> {
    const args = ["commit-tree", tree, ...parents.flatMap((p) => ["-p", p]), "-F", "-"];
    const r = await this.exec(args, { input: message, env });
    return r.stdout.trim();
  }

  /** Moves `ref` to `sha` only if it still points at `expected` (null: only if it does not exist). */
  async updateRef(ref: string, sha: string, expected: string | null, reason: string): Promise<void> {
    await this.exec(["update-ref", "-m", reason, ref, sha, expected ?? ""]);
  }

  /** Branches checked out in this repository's work trees, as full ref names. */
  async checkedOutBranches(): Promise<string[]> {
    const r = await this.exec(["worktree", "list", "--porcelain", "-z"]);
    return r.stdout
      .split("\0")
      .filter((line) => line.startsWith("branch "))
      .map((line) => line.slice("branch ".length));
  }

  async isValidBranchName(name: string): Promise<boolean> {
    const r = await this.exec(["check-ref-format", "--branch", name], { okExitCodes: [0, 1, 128] });
    return r.exitCode === 0 && r.stdout.trim() === name;
  }

  /**
   * The remote's tip of `ref` and the branch its HEAD points at, in one round trip; a missing
   * branch is null.
   */
  async lsRemote(remote: string, ref: string): Promise<{ sha: string | null; defaultBranch: string | null }> {
    const r = await this.exec(["ls-remote", "--symref", "--", remote, "HEAD", ref]);
    let sha: string | null = null;
    let defaultBranch: string | null = null;
    for (const line of r.stdout.split("\n")) {
      const symref = /^ref: (refs\/heads\/\S+)\tHEAD$/.exec(line);
      if (symref) defaultBranch = symref[1]!;
      const [id, name] = line.split("\t");
      if (name === ref && id && /^[0-9a-f]{40,64}$/.test(id)) sha = id;
    }
    return { sha, defaultBranch };
  }

  async fetch(remote: string, refspecs: string[]): Promise<void> {
    await this.exec(["fetch", "--quiet", "--no-tags", "--", remote, ...refspecs]);
  }

  /**
   * Pushes without force, ever. A rejected push is returned, not thrown, because a branch that
   * moved under us is an expected answer the caller handles (by replaying, never by forcing).
   */
  async push(remote: string, refspec: string): Promise<GitResult> {
    if (refspec.startsWith("+")) throw new Error(`refusing a forced refspec ${refspec}`);
    return this.exec(["push", "--quiet", "--porcelain", "--", remote, refspec], { okExitCodes: [0, 1, 128] });
  }
}

/**
 * Refuses a checkout with uncommitted changes: Switchyard resets the tree between attempts, which
 * would destroy them. Untracked files count; ignored files do not (nothing Switchyard does
 * touches them).
 */
export async function assertCleanCheckout(git: GitCommandManager): Promise<void> {
  const paths = [...new Set((await git.status()).map((e) => e.path))];
  if (paths.length > 0) {
    throw new InputError(
      `the checkout at ${git.dir} has uncommitted changes (${listFiles(paths)}); commit or stash them first, ` +
        "Switchyard resets the tree between attempts",
    );
  }
  // Marked files can hold local edits that status does not show; a reset would lose them and a
  // capture would take them for the tool's.
  const hidden = await git.hiddenIndexEntries();
  if (hidden.length > 0) {
    throw new InputError(
      `the checkout at ${git.dir} marks files assume-unchanged or skip-worktree (${listFiles(hidden)}); ` +
        "clear the marks (git update-index --no-assume-unchanged --no-skip-worktree <file>) first, " +
        "Switchyard cannot tell their local changes from a tool's",
    );
  }
}

function listFiles(paths: string[]): string {
  const shown = paths.slice(0, 5).join(", ") + (paths.length > 5 ? ", …" : "");
  return `${paths.length === 1 ? "1 file" : `${paths.length} files`}: ${shown}`;
}

/**
 * Puts the checkout back where a run started, for the next tool in the chain: HEAD on the same
 * branch (a tool may have switched or committed), index and tracked files at the start commit,
 * untracked files gone, no half-finished rebase left behind. Ignored files stay (see
 * cleanUntracked).
 */
export async function resetToBase(git: GitCommandManager, start: HeadState): Promise<void> {
  for (const dir of ["rebase-merge", "rebase-apply"]) {
    if (existsSync(await git.gitPath(dir))) {
      await git.exec(["rebase", "--quit"], { okExitCodes: [0, 1, 128] });
      break;
    }
  }
  const current = await git.headRef();
  if (start.ref !== null && current !== start.ref) {
    await git.exec(["symbolic-ref", "HEAD", start.ref]);
  } else if (start.ref === null && current !== null) {
    await git.exec(["update-ref", "--no-deref", "HEAD", start.sha]);
  }
  await git.resetHard(start.sha);
  await git.cleanUntracked();
}
