import { z } from "zod";
import { InputError } from "../core/errors.js";
import { readMarker } from "../core/status-marker.js";
import { GitHubApiError, gitHubApiError } from "../github/errors.js";
import { stateLabel } from "../github/labels.js";
import { readIssue } from "../github/issues.js";
import type { GitHubClient } from "../github/octokit.js";
import { findStatusComment } from "../github/status-comment.js";
import { loadRepoConfig, type RepoConfigResult } from "./repo-config.js";
import {
  DEFAULT_TRIGGER_LABEL,
  holdsTask,
  routeTask,
  TaskMarkerSchema,
  type RouteContext,
  type RouteDeps,
  type RouteOutcome,
} from "./route-issue.js";

/**
 * The dependency gate's release: when an issue (or pull request) closes, the held tasks it was
 * the last open blocker of are routed, as the trigger label would have routed them.
 *
 * 1. One request lists the repository's open issues labelled `switchyard:blocked` (one page of
 *    100, oldest first). Those whose body does not mention the closed number at all are passed
 *    over unread, so a close that blocks nothing costs exactly that request. A held task whose
 *    body no longer mentions it was edited since; adding the label again routes it.
 * 2. For each of the rest (at most MAX_RELEASED per close): the task marker of Switchyard's own
 *    status comment (written by this app, so no one can plant a hold) must say `blocked` with the
 *    closed number among its `blockers`. Its other blockers are looked up, one request each,
 *    stopping at the first open one: then the task stays held and nothing is written.
 * 3. Otherwise the issue is read again (its labels and body now) and handed to routeTask with the
 *    configuration, which re-reads the body's dependencies (new ones may have been added), then
 *    decides, claims the status comment, dispatches and swaps `switchyard:blocked` for
 *    `switchyard:running`. No permission check is made here: the request is the trigger label a
 *    person with triage rights added when the task was held (route-issue.ts step 3), and the hold
 *    only deferred it. Removing the trigger label withdraws it: such a task is not released.
 *
 * Two blockers closed at once: each delivery sees the other's issue closed, or the later one
 * does, so the task is released at least once; if both release it, routeTask's claim (the status
 * comment read back) lets one dispatch, as for two label events.
 */

/** Held tasks read per close; the rest are logged and wait for the label to be added again. */
export const MAX_RELEASED = 20;
const PER_PAGE = 100;

export interface ReleaseInput {
  owner: string;
  repo: string;
  /** The issue or pull request that was closed. */
  closed: number;
  defaultBranch: string;
  /** Tests lower it; MAX_RELEASED otherwise. */
  max?: number;
}

export interface ReleaseResult {
  /** Held tasks handed to routeTask, with what it did (dispatched, no-tool, blocked again, ...). */
  routed: { issue: number; outcome: RouteOutcome }[];
  /** Held by the closed issue and by another that is still open. */
  held: { issue: number; by: number }[];
  /** Not read: beyond the per-close bound. */
  deferred: number[];
  /** Failed part-way (logged); the others were still handled. */
  failed: number[];
}

const ListedIssueSchema = z.looseObject({
  number: z.number().int().min(1),
  body: z.string().nullish(),
  labels: z.array(z.union([z.string(), z.looseObject({ name: z.string().nullish() })])).nullish(),
  pull_request: z.unknown().optional(),
});
const IssueListSchema = z.array(ListedIssueSchema);

const ClosedSchema = z.looseObject({
  action: z.literal("closed"),
  issue: z.looseObject({ number: z.number().int().min(1) }).optional(),
  pull_request: z.looseObject({ number: z.number().int().min(1) }).optional(),
  repository: z.looseObject({
    name: z.string().min(1),
    owner: z.looseObject({ login: z.string().min(1) }),
    default_branch: z.string().min(1),
  }),
});

/**
 * The handler for issues.closed (called by onIssueClosed) and pull_request.closed: never throws,
 * a failure is logged with the delivery. Null when it stopped on an error.
 */
export async function onBlockerClosed(context: RouteContext, deps: RouteDeps): Promise<ReleaseResult | null> {
  try {
    const parsed = ClosedSchema.safeParse(context.payload);
    const closed = parsed.success ? (parsed.data.issue ?? parsed.data.pull_request) : undefined;
    if (!parsed.success || closed === undefined)
      throw new InputError("the closed event's payload is not what GitHub documents");
    return await releaseBlocked(context, deps, {
      owner: parsed.data.repository.owner.login,
      repo: parsed.data.repository.name,
      closed: closed.number,
      defaultBranch: parsed.data.repository.default_branch,
    });
  } catch (error) {
    context.log.error({ err: error, delivery: context.id }, "switchyard could not release the held tasks");
    return null;
  }
}

export async function releaseBlocked(
  context: RouteContext,
  deps: RouteDeps,
  input: ReleaseInput,
): Promise<ReleaseResult> {
  const { owner, repo, closed } = input;
  const result: ReleaseResult = { routed: [], held: [], deferred: [], failed: [] };
  const max = input.max ?? MAX_RELEASED;
  const log = (msg: string, extra: object = {}) =>
    context.log.info({ delivery: context.id, closed: `${owner}/${repo}#${closed}`, ...extra }, msg);

  const listed = await listHeld(context.octokit, owner, repo);
  if (listed.length === PER_PAGE)
    context.log.warn(
      { delivery: context.id, repo: `${owner}/${repo}` },
      `${PER_PAGE} held tasks or more: only the oldest ${PER_PAGE} were looked at`,
    );
  const candidates = listed.filter((i) => i.number !== closed && mentions(i.body ?? "", closed));
  if (candidates.length > max) {
    result.deferred = candidates.slice(max).map((i) => i.number);
    context.log.warn(
      { delivery: context.id, closed: `${owner}/${repo}#${closed}`, deferred: result.deferred },
      `more than ${max} held tasks mention the closed issue: the rest wait for their label to be added again`,
    );
  }
  if (candidates.length === 0) return result;

  const appId = await deps.appId();
  let cfg: RepoConfigResult | undefined;
  for (const candidate of candidates.slice(0, max)) {
    const task = `${owner}/${repo}#${candidate.number}`;
    try {
      const where = { owner, repo, issue_number: candidate.number };
      const comment = await findStatusComment(context.octokit, { ...where, appId });
      const read = comment === null ? null : readMarker(comment.body, "task", TaskMarkerSchema);
      const marker = read?.ok ? read.value : null;
      if (marker?.phase !== "blocked" || !(marker.blockers ?? []).includes(closed)) {
        log("not released: its status comment does not say the closed issue holds it", { task });
        continue;
      }
      const waiting = await firstOpen(context.octokit, owner, repo, marker.blockers!, closed);
      if (waiting !== null) {
        result.held.push({ issue: candidate.number, by: waiting });
        log(`still held: #${waiting} is open`, { task });
        continue;
      }

      cfg ??= await loadRepoConfig(context.octokit, { owner, repo });
      const issue = await readIssue(context.octokit, { owner, repo, issue_number: candidate.number });
      const labels = issue.labels;
      const trigger = cfg.ok ? cfg.loaded.config.trigger.label : DEFAULT_TRIGGER_LABEL;
      if (issue.state !== "open" || issue.isPullRequest) {
        log("not released: the issue is closed", { task });
        continue;
      }
      if (!hasLabel(labels, trigger)) {
        log(`not released: the trigger label "${trigger}" was removed`, { task });
        continue;
      }
      // The approval stands: the permission check was made when the trigger label was added.
      const outcome = await routeTask(context, deps, {
        payload: { issue: issue.raw, repository: { name: repo, owner: { login: owner } } },
        owner,
        repo,
        issue_number: candidate.number,
        labels,
        defaultBranch: input.defaultBranch,
        cfg,
        trigger: "release",
      });
      result.routed.push({ issue: candidate.number, outcome });
      log(`released: ${outcome.action}`, { task });
    } catch (error) {
      result.failed.push(candidate.number);
      context.log.error(
        { err: error, delivery: context.id, task },
        "switchyard could not release the held task; add the label again to route it",
      );
    }
  }
  return result;
}

/** Whether a body refers to issue `n` at all: `#n` or an issue/pull URL. Over-inclusive on purpose. */
export function mentions(body: string, n: number): boolean {
  return new RegExp(`(?:#|/issues/|/pull/)${n}(?!\\d)`).test(body);
}

/** GitHub's label names are case-insensitive. */
function hasLabel(labels: readonly string[], name: string): boolean {
  const wanted = name.toLowerCase();
  return labels.some((l) => l.toLowerCase() === wanted);
}

async function listHeld(octokit: GitHubClient, owner: string, repo: string) {
  const blocked = stateLabel("blocked");
  let data: unknown;
  try {
    ({ data } = await octokit.request("GET /repos/{owner}/{repo}/issues", {
      owner,
      repo,
      state: "open",
      labels: blocked,
      sort: "created",
      direction: "asc",
      per_page: PER_PAGE,
    }));
  } catch (error) {
    throw gitHubApiError(error, {
      doing: `listing the held tasks of ${owner}/${repo}`,
      permission: "issues: read",
    });
  }
  const list = IssueListSchema.safeParse(data);
  if (!list.success) throw new GitHubApiError("GitHub's list of issues is not what its API documents", null);
  // The filter matches labels case-insensitively; pull requests share the list but are no tasks here.
  return list.data.filter((i) => i.pull_request == null);
}

/** The first of the task's other blockers that is still open, or null. */
async function firstOpen(
  octokit: GitHubClient,
  owner: string,
  repo: string,
  blockers: readonly number[],
  closed: number,
): Promise<number | null> {
  for (const n of blockers) {
    if (n === closed) continue;
    if (await holdsTask(octokit, owner, repo, n)) return n;
  }
  return null;
}
