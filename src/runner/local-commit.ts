import {
  checkCommitInput,
  type CapturedPatch,
  type CommitPatchInput,
  type CommitPatchResult,
  type CommitPort,
} from "../core/execution/commit-port.js";
import { InputError } from "../core/errors.js";
import { GitError, type GitCommandManager } from "./git.js";
import { replayPatch } from "./patch.js";

/**
 * The CommitPort on a local repository, for the CLI and the tests. It writes objects and moves a
 * ref (`commit-tree` + `update-ref`), so it never checks anything out: the user's branch, index
 * and files stay as they are.
 *
 * With `pushTo`, the remote branch is the truth. The patch is replayed on the remote tip when the
 * branch moved (someone pushed a review fix, another run finished first), the push is a plain
 * fast-forward push, and a push that loses a race is retried from the new tip a bounded number
 * of times. Nothing here can force a push: a replay that conflicts is answered `branch_moved`.
 */

export interface LocalCommitOptions {
  /** Remote to push the branch to (e.g. "origin"); omitted = the local branch only. */
  pushTo?: string;
  /** Author and committer of Switchyard's commits; omitted = git's configured identity. */
  identity?: { name: string; email: string };
  /** Pushes that lost a race to retry from the new tip before answering `branch_moved`. */
  maxRaces?: number;
}

export class LocalGitCommitPort implements CommitPort {
  private readonly maxRaces: number;

  constructor(
    private readonly git: GitCommandManager,
    private readonly options: LocalCommitOptions = {},
  ) {
    this.maxRaces = options.maxRaces ?? 3;
  }

  async commitPatch(input: CommitPatchInput): Promise<CommitPatchResult> {
    const { branch, baseSha, message, patch } = checkCommitInput(input);
    if (!(await this.git.isValidBranchName(branch))) {
      throw new InputError(`"${branch}" is not a valid branch name`);
    }
    const ref = `refs/heads/${branch}`;
    if ((await this.git.checkedOutBranches()).includes(ref)) {
      throw new InputError(
        `branch ${branch} is checked out in a work tree of ${this.git.dir}; switch to another branch first, ` +
          "Switchyard commits to its branch without checking it out",
      );
    }
    if ((await this.git.tryRevParse(`${baseSha}^{commit}`)) === null) {
      throw new InputError(`base commit ${baseSha} is not in the repository at ${this.git.dir}`);
    }
    const ourTree = await this.verifiedTree(patch);

    for (let race = 0; race <= this.maxRaces; race++) {
      const remoteTip = await this.remoteTip(branch, ref);
      const localTip = await this.git.tryRevParse(ref);
      const parent = await this.chooseParent(remoteTip, localTip);
      const previous = this.options.pushTo !== undefined ? remoteTip : localTip;

      let tree = ourTree;
      if (parent !== null && parent !== baseSha) {
        const replay = await replayPatch(this.git, patch, parent);
        if (replay.status === "conflict") {
          const why = conflictReason(parent, replay.conflictingPaths, replay.detail);
          return moved(branch, parent, replay.conflictingPaths, why);
        }
        tree = replay.tree;
      }
      const head = parent ?? baseSha;
      const commitSha =
        parent !== null && tree === (await this.git.treeOf(parent))
          ? parent
          : await this.git.commitTree(tree, [head], normalizeMessage(message), this.identityEnv());

      if (this.options.pushTo !== undefined && commitSha !== remoteTip) {
        const pushed = await this.git.push(this.options.pushTo, `${commitSha}:${ref}`);
        if (pushed.exitCode !== 0) {
          // Rejected because the branch moved since we looked, or for another reason (auth,
          // network, a protected branch)? Only the first is worth another round.
          const now = await this.git.lsRemote(this.options.pushTo, ref);
          if (now.sha === remoteTip) {
            throw new GitError(["push", this.options.pushTo, ref], pushed.exitCode, pushed.stderr);
          }
          continue;
        }
      }
      await this.advanceLocalBranch(ref, localTip, commitSha);
      return {
        ok: true,
        branch,
        commitSha,
        created: previous === null,
        updated: previous !== null && commitSha !== previous,
        rebasedOnto: parent !== null && parent !== baseSha ? parent : null,
      };
    }
    const tip = (await this.remoteTip(branch, ref)) ?? baseSha;
    return moved(branch, tip, [], `it changed again during each of ${this.maxRaces + 1} pushes`);
  }

  /**
   * The tree the diff produces on the base, checked against the tree the capture recorded: a
   * patch read back from an artifact must say the same thing in its diff and its manifest.
   */
  private async verifiedTree(patch: CapturedPatch): Promise<string> {
    const replay = await replayPatch(this.git, patch, patch.base_sha);
    if (replay.status === "conflict") {
      throw new InputError(`the patch does not apply to its own base ${patch.base_sha}: ${replay.detail}`);
    }
    if (replay.tree !== patch.tree_sha) {
      throw new InputError(
        `the patch's diff produces tree ${replay.tree} but its manifest says ${patch.tree_sha}; refusing an inconsistent patch`,
      );
    }
    return replay.tree;
  }

  /** The remote branch's tip, fetched so it can be replayed on; null without a remote or branch. */
  private async remoteTip(branch: string, ref: string): Promise<string | null> {
    const remote = this.options.pushTo;
    if (remote === undefined) return null;
    const { sha, defaultBranch } = await this.git.lsRemote(remote, ref);
    if (defaultBranch === ref) {
      throw new InputError(`refusing to commit to ${branch}: it is the default branch of ${remote}`);
    }
    if (sha !== null && !(await this.git.hasObject(sha, "commit"))) {
      // A remote-tracking ref may be overwritten freely: it is our copy, not anyone's branch.
      await this.git.fetch(remote, [`+${ref}:refs/remotes/${remote}/${branch}`]);
    }
    return sha;
  }

  /**
   * The commit to build on. The remote tip when there is one, unless the local branch is ahead of
   * it (an earlier push failed), so that local work is pushed rather than dropped.
   */
  private async chooseParent(remoteTip: string | null, localTip: string | null): Promise<string | null> {
    if (remoteTip === null) return localTip;
    if (localTip !== null && localTip !== remoteTip && (await this.git.isAncestor(remoteTip, localTip))) {
      return localTip;
    }
    return remoteTip;
  }

  /**
   * Local refs only ever fast-forward: a local branch that diverged from what was pushed keeps
   * its commits (and stays behind) rather than being silently rewritten.
   */
  private async advanceLocalBranch(ref: string, localTip: string | null, commitSha: string): Promise<void> {
    if (localTip === commitSha) return;
    if (localTip !== null && !(await this.git.isAncestor(localTip, commitSha))) return;
    await this.git.updateRef(ref, commitSha, localTip, "switchyard: commit patch");
  }

  private identityEnv(): Record<string, string> | undefined {
    const id = this.options.identity;
    if (!id) return undefined;
    return {
      GIT_AUTHOR_NAME: id.name,
      GIT_AUTHOR_EMAIL: id.email,
      GIT_COMMITTER_NAME: id.name,
      GIT_COMMITTER_EMAIL: id.email,
    };
  }
}

/** What `git commit` would store: no trailing blank lines, one final newline. */
function normalizeMessage(message: string): string {
  return message.replace(/\s+$/, "") + "\n";
}

function moved(branch: string, theirSha: string, conflictingPaths: string[], why: string): CommitPatchResult {
  return {
    ok: false,
    reason: "branch_moved",
    branch,
    theirSha,
    conflictingPaths,
    message: `branch ${branch} moved under us: ${why}; nothing was pushed, start a new attempt from ${theirSha.slice(0, 12)}`,
  };
}

function conflictReason(theirSha: string, conflictingPaths: string[], detail: string): string {
  const short = theirSha.slice(0, 12);
  if (conflictingPaths.length > 0)
    return `the patch conflicts with ${short} in ${conflictingPaths.join(", ")}`;
  return `the patch does not apply on ${short}` + (detail ? ` (${detail.replace(/\n/g, "; ")})` : "");
}
