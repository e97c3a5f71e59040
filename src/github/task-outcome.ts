import { z } from "zod";
import { renderStatusComment, TaskMarkerSchema, type TaskMarker } from "../app/route-issue.js";
import { InputError } from "../core/errors.js";
import { readMarker } from "../core/status-marker.js";
import { setStateLabel, type SetStateLabelResult } from "./labels.js";
import type { GitHubClient } from "./octokit.js";
import { findStatusComment, upsertStatusComment, type UpsertStatusCommentResult } from "./status-comment.js";

/**
 * How a finished task shows on its issue: the state label (`switchyard:pr-open` or
 * `switchyard:failed`, the other state labels removed) and the status comment, rewritten for the
 * outcome with its switchyard:task marker updated. The app's completion (app/complete-task.ts)
 * and the Action's execute in commit mode both end here, so the issue reads the same whichever
 * door ran the task.
 */

/**
 * The GitHub App behind every workflow's GITHUB_TOKEN on github.com ("github-actions"). The
 * Action writes the status comment with that token, so this is the id its comments carry in
 * `performed_via_github_app`. GitHub Enterprise Server installs its own copy with another id.
 */
export const GITHUB_ACTIONS_APP_ID = 15368;

export type TaskOutcome =
  | {
      phase: "pr-open";
      tool: string | null;
      pr: { number: number; url: string };
      commit_sha: string;
      /** One line on what the run did (core/execution/report.ts renderExecutionLine). */
      line: string;
      runUrl: string | null;
      /** The workflow run that completed the task, recorded so no other run can replace it. */
      run?: { id: number; attempt: number };
    }
  | {
      phase: "failed";
      tool: string | null;
      /** Why, in words a person can act on; shown on the issue. */
      reason: string;
      runUrl: string | null;
      /** Set when the run was the task's own (accepted); unset when the run itself was refused. */
      run?: { id: number; attempt: number };
    };

export interface ReportTaskOutcomeInput {
  owner: string;
  repo: string;
  issue_number: number;
  /** The issue's label names now. */
  labels: readonly string[];
  /** Whose comments are Switchyard's: the app's id, or GITHUB_ACTIONS_APP_ID for the Action. */
  appId: number;
  /** The task state read before (readTaskState); null when the task has no status comment yet. */
  previous: TaskMarker | null;
  task_key: string;
  outcome: TaskOutcome;
  /** ISO 8601, from the caller's clock. */
  now: string;
  /** The webhook delivery that reported it, when there is one. */
  delivery?: string;
  /** The status comment found by readTaskState, which saves a second lookup. */
  existing?: { id: number } | null;
}

export interface ReportTaskOutcomeResult {
  labels: SetStateLabelResult;
  comment: UpsertStatusCommentResult;
  state: TaskMarker;
}

const RunSchema = z.strictObject({ id: z.number().int().min(1), attempt: z.number().int().min(1) });

const InputSchema = z.strictObject({
  owner: z.string().min(1),
  repo: z.string().min(1),
  issue_number: z.number().int().min(1),
  labels: z.array(z.string()),
  appId: z.number().int().min(1),
  previous: TaskMarkerSchema.nullable(),
  task_key: z.string().min(1),
  outcome: z.discriminatedUnion("phase", [
    z.strictObject({
      phase: z.literal("pr-open"),
      tool: z.string().nullable(),
      pr: z.strictObject({ number: z.number().int().min(1), url: z.string().min(1) }),
      commit_sha: z.string().min(1),
      line: z.string(),
      runUrl: z.string().nullable(),
      run: RunSchema.optional(),
    }),
    z.strictObject({
      phase: z.literal("failed"),
      tool: z.string().nullable(),
      reason: z.string().trim().min(1, "say why the task failed"),
      runUrl: z.string().nullable(),
      run: RunSchema.optional(),
    }),
  ]),
  now: z.iso.datetime({ offset: true }),
  delivery: z.string().min(1).optional(),
  existing: z
    .strictObject({ id: z.number().int().min(1) })
    .nullable()
    .optional(),
});

/** The marker the outcome leaves: what dispatch recorded, plus how and by which run it ended. */
export function outcomeState(input: ReportTaskOutcomeInput): TaskMarker {
  const { previous, outcome } = input;
  const base: TaskMarker = previous ?? {
    task_key: input.task_key,
    phase: outcome.phase,
    tool: outcome.tool,
    routed_at: input.now,
  };
  // A failure's leftovers from an earlier completion would misdescribe this one.
  const { commit_sha: _c, pr_number: _p, ...kept } = base;
  return {
    ...kept,
    phase: outcome.phase,
    tool: outcome.tool,
    completed_at: input.now,
    ...(outcome.run ? { run_id: outcome.run.id, run_attempt: outcome.run.attempt } : {}),
    ...(outcome.phase === "pr-open" ? { commit_sha: outcome.commit_sha, pr_number: outcome.pr.number } : {}),
    ...(input.delivery === undefined ? {} : { delivery: input.delivery }),
  };
}

export async function reportTaskOutcome(
  octokit: GitHubClient,
  input: ReportTaskOutcomeInput,
): Promise<ReportTaskOutcomeResult> {
  const parsed = InputSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(
      `cannot report the task's outcome: ${issue.path.join(".") || "(input)"}: ${issue.message}`,
    );
  }
  const i = parsed.data;
  const where = { owner: i.owner, repo: i.repo, issue_number: i.issue_number };
  const state = outcomeState(input);
  const outcome = input.outcome;
  const body = renderStatusComment(
    outcome.phase === "pr-open"
      ? {
          phase: "pr-open",
          key: i.task_key,
          tool: outcome.tool,
          pr: outcome.pr,
          line: outcome.line,
          runUrl: outcome.runUrl,
        }
      : {
          phase: "failed",
          key: i.task_key,
          tool: outcome.tool,
          reason: outcome.reason,
          runUrl: outcome.runUrl,
        },
  );
  const labels = await setStateLabel(octokit, { ...where, state: outcome.phase, current: i.labels });
  const comment = await upsertStatusComment(octokit, {
    ...where,
    body,
    state,
    appId: i.appId,
    ...(i.existing === undefined ? {} : { existing: i.existing }),
  });
  return { labels, comment, state };
}

export interface TaskState {
  /** Our status comment, or null when the task has none. */
  comment: { id: number } | null;
  /** Its marker; null when there is no comment, or its marker cannot be read (see `problem`). */
  marker: TaskMarker | null;
  problem: string | null;
}

/** The task's status comment and its marker, in one lookup. */
export async function readTaskState(
  octokit: GitHubClient,
  where: { owner: string; repo: string; issue_number: number; appId: number },
): Promise<TaskState> {
  const comment = await findStatusComment(octokit, where);
  if (comment === null) return { comment: null, marker: null, problem: null };
  const read = readMarker(comment.body, "task", TaskMarkerSchema);
  if (read === null) return { comment: { id: comment.id }, marker: null, problem: null };
  if (!read.ok) return { comment: { id: comment.id }, marker: null, problem: read.reason };
  return { comment: { id: comment.id }, marker: read.value, problem: null };
}
