import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { GitCommandManager } from "../../src/runner/git.js";

/**
 * Throwaway git repositories for tests: a work tree with one commit on `main`, optionally pushed
 * to a bare repository standing in for GitHub. Identity and config isolation come from
 * test/support/env.ts (a jest setup file). Everything lives under one temp directory, so
 * `cleanup()` removes the clones other tests made from the remote too.
 */

export type FileContent = string | Buffer;

export interface RepoOptions {
  files: Record<string, FileContent>;
  /** Paths (among `files`) to mark executable. */
  executable?: string[];
  /** Symlinks to create: path -> target. */
  symlinks?: Record<string, string>;
  /** Create a bare repository as `origin` and push `main` to it. */
  withRemote?: boolean;
}

export interface WorkTree {
  dir: string;
  git: GitCommandManager;
  /** Writes files (creating directories); a Buffer is written byte for byte. */
  write(files: Record<string, FileContent>): Promise<void>;
  read(path: string): Promise<Buffer>;
  remove(...paths: string[]): Promise<void>;
  /** `git add -A && git commit`; returns the new commit's id. */
  commitAll(message: string): Promise<string>;
  /** `git rev-parse`. */
  sha(rev?: string): Promise<string>;
}

export interface TestRepo extends WorkTree {
  /** The bare repository acting as `origin`, or null without `withRemote`. */
  remote: string | null;
  /** The first commit, on `main`. */
  baseSha: string;
  /** Another person's clone of the remote, for pushing commits "behind our back". */
  cloneRemote(name: string): Promise<WorkTree>;
  cleanup(): Promise<void>;
}

export async function writeFiles(dir: string, files: Record<string, FileContent>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path);
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, content);
  }
}

function workTree(dir: string): WorkTree {
  const git = new GitCommandManager(dir);
  return {
    dir,
    git,
    write: (files) => writeFiles(dir, files),
    read: (path) => readFile(join(dir, path)),
    remove: async (...paths) => {
      for (const p of paths) await rm(join(dir, p), { recursive: true, force: true });
    },
    commitAll: async (message) => {
      await git.exec(["add", "--all"]);
      await git.exec(["commit", "--quiet", "--no-verify", "-m", message]);
      return git.revParse("HEAD");
    },
    sha: (rev = "HEAD") => git.revParse(rev),
  };
}

export async function makeRepo(options: RepoOptions): Promise<TestRepo> {
  const root = await mkdtemp(join(tmpdir(), "switchyard-git-"));
  try {
    const dir = join(root, "work");
    await mkdir(dir);
    const tree = workTree(dir);
    await tree.git.exec(["init", "--quiet", "-b", "main"]);
    await writeFiles(dir, options.files);
    for (const path of options.executable ?? []) await chmod(join(dir, path), 0o755);
    for (const [path, target] of Object.entries(options.symlinks ?? {})) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await symlink(target, join(dir, path));
    }
    const baseSha = await tree.commitAll("initial");

    let remote: string | null = null;
    if (options.withRemote) {
      remote = join(root, "remote.git");
      await new GitCommandManager(root).exec(["init", "--quiet", "--bare", "-b", "main", remote]);
      await tree.git.exec(["remote", "add", "origin", remote]);
      await tree.git.exec(["push", "--quiet", "origin", "main"]);
    }

    let clones = 0;
    return {
      ...tree,
      remote,
      baseSha,
      cloneRemote: async (name) => {
        if (remote === null) throw new Error("makeRepo({ withRemote: true }) is needed to clone the remote");
        const cloneDir = join(root, `clone-${++clones}-${name}`);
        await new GitCommandManager(root).exec(["clone", "--quiet", remote, cloneDir]);
        return workTree(cloneDir);
      },
      cleanup: () => rm(root, { recursive: true, force: true }),
    };
  } catch (error) {
    await rm(root, { recursive: true, force: true });
    throw error;
  }
}

/** A separate clone of `source` checked out (detached) at `rev`, e.g. to replay a patch elsewhere. */
export async function cloneAt(source: string, rev: string): Promise<WorkTree & { cleanup(): Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), "switchyard-clone-"));
  const dir = join(root, "clone");
  await new GitCommandManager(root).exec(["clone", "--quiet", "--no-checkout", source, dir]);
  const tree = workTree(dir);
  await tree.git.exec(["checkout", "--quiet", "--detach", rev]);
  return { ...tree, cleanup: () => rm(root, { recursive: true, force: true }) };
}
