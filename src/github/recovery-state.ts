import { ShaSchema } from "../core/execution/commit-port.js";
import { z } from "zod";
import { InputError } from "../core/errors.js";
import { LadderStateSchema, RecoveryKeySchema, type LadderState } from "../core/recovery/ladder.js";
import { readMarker, replaceMarker } from "../core/status-marker.js";
import { CHECK_OUTPUT_LIMIT, upsertCheckRun, type CheckRunConclusion } from "./check-runs.js";
import { GitHubApiError, gitHubApiError } from "./errors.js";
import type { GitHubClient } from "./octokit.js";
import { cutAt } from "./pull-request.js";

/**
 * Where the ladder state lives: in the PR's recovery status comment (one per PR, found by its
 * switchyard:recovery marker and its author). A failure on the default branch has no PR: its
 * state rides in the switchyard/recover check run of the failing head, so there the attempt cap
 * counts per head, not across pushes (the loop guard and the cool-down still hold).
 *
 * This file reads and writes that state, and holds the types every part of the flow shares.
 */

export const RECOVER_CHECK = "switchyard/recover";

// One schema for a commit id across Switchyard; re-exported for the other recovery files.
export { ShaSchema };

/** The CI result a recovery is about, from a workflow_run or a check_suite event. */
export interface RecoveryCi {
  run_id: number;
  run_attempt: number;
  conclusion: string | null;
  head_sha: string;
  head_branch: string;
  /** null when the fork the run came from was deleted. */
  head_repo_full_name: string | null;
  workflow_name?: string;
  workflow_path?: string;
  /** The app of a check suite (github-actions for workflow runs). */
  app_slug?: string;
  /** PRs the event names (same-repository PRs only: GitHub leaves forks' out). */
  pull_requests: number[];
  html_url?: string | null;
}

/**
 * Whose comments and check runs hold Switchyard's state: the app's (by id, or by slug where the
 * id is not known, as in a job the app dispatched), or a bot account's (the Action alone).
 */
export type StateAuthor = { app_id: number } | { app_slug: string } | { login: string };

export interface RecoveryPr {
  number: number;
  draft: boolean;
  labels: string[];
  head_ref: string;
  base_ref: string;
}

export interface RecoveryTarget {
  owner: string;
  repo: string;
  key: string;
  head_sha: string;
  head_branch: string;
  default_branch: string;
  pr: RecoveryPr | null;
  ci: RecoveryCi;
  /** `<run_id>:<run_attempt>`: a redelivered webhook is recognised by it. */
  ci_id: string;
  /** The PR's recovery status comment, when there is one. */
  comment: { id: number; body: string } | null;
  /** The stored state before this event. */
  state: LadderState | null;
}

export interface LoadRecoveryInput {
  owner: string;
  repo: string;
  default_branch: string;
  key: string;
  /** The failing head the step was dispatched for: where a branch's state rides. */
  head_sha: string;
  author: StateAuthor;
  /** The run the report is about (the recover run), for the check run's link and the events. */
  run: { id: number; attempt: number; html_url: string | null };
}

export type LoadedRecovery =
  { ok: true; target: RecoveryTarget } | { ok: false; reason: string; target: RecoveryTarget | null };

/**
 * The recovery a dispatched step belongs to: its PR (from the key) and the stored ladder state,
 * read from the same places planRecovery reads them.
 */
export async function loadRecovery(octokit: GitHubClient, input: LoadRecoveryInput): Promise<LoadedRecovery> {
  const key = RecoveryKeySchema.safeParse(input.key);
  if (!key.success) throw new InputError(`Cannot load the recovery: key: ${firstIssue(key.error)}`);
  if (!ShaSchema.safeParse(input.head_sha).success)
    throw new InputError(
      "Cannot load the recovery: head_sha: a full commit or object id (40 or 64 lower-case hex digits)",
    );
  const { owner, repo } = input;
  const m = /^([^/]+)\/([^#@]+)(?:#(\d+)|@(.+))$/.exec(key.data)!;
  if (`${m[1]}/${m[2]}`.toLowerCase() !== `${owner}/${repo}`.toLowerCase()) {
    return { ok: false, reason: `${key.data} is not a recovery of ${owner}/${repo}`, target: null };
  }
  const pr = m[3] === undefined ? null : await readPr(octokit, owner, repo, Number(m[3]));
  const head_branch = pr === null ? m[4]! : pr.head_ref;
  const stored = await readState(octokit, {
    owner,
    repo,
    key: key.data,
    pr,
    head_sha: input.head_sha,
    author: input.author,
  });
  const { state: _s, head_sha: _h, ...prRef } = pr ?? { state: "", head_sha: "" };
  const target: RecoveryTarget = {
    owner,
    repo,
    key: key.data,
    head_sha: input.head_sha,
    head_branch,
    default_branch: input.default_branch,
    pr: pr === null ? null : (prRef as RecoveryPr),
    ci: {
      run_id: input.run.id,
      run_attempt: input.run.attempt,
      conclusion: null,
      head_sha: input.head_sha,
      head_branch,
      head_repo_full_name: `${owner}/${repo}`,
      pull_requests: pr === null ? [] : [pr.number],
      html_url: input.run.html_url,
    },
    ci_id: `${input.run.id}:${input.run.attempt}`,
    comment: stored.comment,
    state: stored.state,
  };
  if (stored.problem !== null) return { ok: false, reason: stored.problem, target };
  return { ok: true, target };
}

export const PrSchema = z.looseObject({
  number: z.number().int(),
  state: z.string(),
  draft: z.boolean().nullish(),
  labels: z.array(z.looseObject({ name: z.string() })),
  head: z.looseObject({ sha: z.string(), ref: z.string() }),
  base: z.looseObject({ ref: z.string() }),
});

export async function readPr(octokit: GitHubClient, owner: string, repo: string, pull_number: number) {
  let data: unknown;
  try {
    ({ data } = await octokit.request("GET /repos/{owner}/{repo}/pulls/{pull_number}", {
      owner,
      repo,
      pull_number,
    }));
  } catch (error) {
    throw gitHubApiError(error, {
      doing: `reading ${owner}/${repo}#${pull_number}`,
      permission: "pull_requests: read",
    });
  }
  const pr = PrSchema.safeParse(data);
  if (!pr.success) throw new GitHubApiError("GitHub's pull request is not what its API documents", null);
  return toPr(pr.data);
}

export function toPr(pr: z.infer<typeof PrSchema>): RecoveryPr & { state: string; head_sha: string } {
  return {
    number: pr.number,
    draft: pr.draft ?? false,
    labels: pr.labels.map((l) => l.name),
    head_ref: pr.head.ref,
    base_ref: pr.base.ref,
    state: pr.state,
    head_sha: pr.head.sha,
  };
}

const CommentSchema = z.looseObject({
  id: z.number().int(),
  body: z.string().nullish(),
  user: z.looseObject({ login: z.string(), type: z.string() }).nullish(),
  performed_via_github_app: z.looseObject({ id: z.number().int(), slug: z.string().nullish() }).nullish(),
});
const CheckRunListSchema = z.looseObject({
  check_runs: z.array(
    z.looseObject({
      id: z.number().int(),
      name: z.string(),
      external_id: z.string().nullable(),
      app: z.looseObject({ id: z.number().int(), slug: z.string().nullish() }).nullish(),
      output: z.looseObject({ text: z.string().nullish() }).nullish(),
    }),
  ),
});

interface Stored {
  state: LadderState | null;
  comment: { id: number; body: string } | null;
  /** Why a marker that is there cannot be read. */
  problem: string | null;
}

/** The stored ladder: the PR's recovery comment, else the failing head's check run. */
export async function readState(
  octokit: GitHubClient,
  where: {
    owner: string;
    repo: string;
    key: string;
    pr: RecoveryPr | null;
    head_sha: string;
    author: StateAuthor;
  },
): Promise<Stored> {
  const { owner, repo } = where;
  if (where.pr) {
    for (let page = 1; page <= 10; page++) {
      let data: unknown;
      try {
        ({ data } = await octokit.request("GET /repos/{owner}/{repo}/issues/{issue_number}/comments", {
          owner,
          repo,
          issue_number: where.pr.number,
          per_page: 100,
          page,
        }));
      } catch (error) {
        throw gitHubApiError(error, {
          doing: `listing the comments of ${owner}/${repo}#${where.pr.number}`,
          permission: "issues: read",
        });
      }
      const list = z.array(CommentSchema).safeParse(data);
      if (!list.success)
        throw new GitHubApiError("GitHub's list of comments is not what its API documents", null);
      for (const c of list.data) {
        if (!authoredBy(c, where.author)) continue;
        const read = readMarker(c.body ?? "", "recovery", LadderStateSchema);
        if (read === null) continue;
        const comment = { id: c.id, body: c.body ?? "" };
        if (!read.ok) return { state: null, comment, problem: read.reason };
        if (read.value.key !== where.key) continue;
        return { state: read.value, comment, problem: null };
      }
      if (list.data.length < 100) break;
    }
    return { state: null, comment: null, problem: null };
  }
  let data: unknown;
  try {
    ({ data } = await octokit.request("GET /repos/{owner}/{repo}/commits/{ref}/check-runs", {
      owner,
      repo,
      ref: where.head_sha,
      check_name: RECOVER_CHECK,
      filter: "all",
      per_page: 100,
    }));
  } catch (error) {
    throw gitHubApiError(error, {
      doing: `listing the ${RECOVER_CHECK} check runs of ${short(where.head_sha)} in ${owner}/${repo}`,
      permission: "checks: read",
    });
  }
  const list = CheckRunListSchema.safeParse(data);
  if (!list.success)
    throw new GitHubApiError("GitHub's list of check runs is not what its API documents", null);
  const ours = list.data.check_runs
    .filter((r) => r.name === RECOVER_CHECK && r.external_id === where.key && checkRunBy(r.app, where.author))
    .sort((a, b) => b.id - a.id)[0];
  const read = ours ? readMarker(ours.output?.text ?? "", "recovery", LadderStateSchema) : null;
  if (read === null) return { state: null, comment: null, problem: null };
  if (!read.ok) return { state: null, comment: null, problem: read.reason };
  return { state: read.value, comment: null, problem: null };
}

function authoredBy(c: z.infer<typeof CommentSchema>, author: StateAuthor): boolean {
  if (c.user?.type !== "Bot") return false;
  if ("app_id" in author) return c.performed_via_github_app?.id === author.app_id;
  if ("app_slug" in author) return c.performed_via_github_app?.slug === author.app_slug;
  return c.user.login.toLowerCase() === author.login.toLowerCase();
}

function checkRunBy(
  app: { id: number; slug?: string | null } | null | undefined,
  author: StateAuthor,
): boolean {
  if (!app) return false;
  if ("app_id" in author) return app.id === author.app_id;
  if ("app_slug" in author) return app.slug === author.app_slug;
  return app.slug === "github-actions";
}

export interface CheckOptions {
  status?: "in_progress" | "completed";
  conclusion?: CheckRunConclusion;
  title: string;
  summary: string;
  text?: string;
  marker?: LadderState;
  now: string;
}

export async function checkRun(octokit: GitHubClient, t: RecoveryTarget, o: CheckOptions): Promise<void> {
  const status = o.status ?? "completed";
  // The branch's state rides at the top of the text, ahead of the quoted log.
  const text = o.marker !== undefined ? replaceMarker(o.text ?? "", "recovery", o.marker) : o.text;
  await upsertCheckRun(octokit, {
    owner: t.owner,
    repo: t.repo,
    name: RECOVER_CHECK,
    head_sha: t.head_sha,
    external_id: t.key,
    status,
    ...(status === "completed" ? { conclusion: o.conclusion ?? "neutral", completed_at: o.now } : {}),
    title: o.title.slice(0, 200),
    summary: o.summary,
    ...(text !== undefined ? { text: o.marker !== undefined ? cutAt(text, CHECK_OUTPUT_LIMIT) : text } : {}),
    ...(t.ci.html_url ? { details_url: t.ci.html_url } : {}),
  });
}

export async function upsertRecoveryComment(
  octokit: GitHubClient,
  t: RecoveryTarget,
  text: string,
  state: LadderState,
): Promise<void> {
  const body = replaceMarker(cutAt(text, 60_000), "recovery", state);
  const pr = t.pr!;
  try {
    if (t.comment) {
      await octokit.request("PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}", {
        owner: t.owner,
        repo: t.repo,
        comment_id: t.comment.id,
        body,
      });
    } else {
      await octokit.request("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", {
        owner: t.owner,
        repo: t.repo,
        issue_number: pr.number,
        body,
      });
    }
  } catch (error) {
    throw gitHubApiError(error, {
      doing: `writing the recovery comment on ${t.owner}/${t.repo}#${pr.number}`,
      permission: "issues: write",
      consequence: "the ladder's state was not saved",
    });
  }
}

export function short(sha: string): string {
  return sha.slice(0, 7);
}

export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.map(String).join(".")}: ` : "";
  return `${where}${issue?.message ?? "invalid"}`;
}
