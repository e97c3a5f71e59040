import { z } from "zod";
import { InputError } from "../core/errors.js";
import { readMarker } from "../core/status-marker.js";
import { setStateLabel } from "../github/labels.js";
import type { GitHubClient } from "../github/octokit.js";
import { findStatusComment, upsertStatusComment } from "../github/status-comment.js";
import { cancelRun, findInFlightRuns } from "../github/workflow-runs.js";
import { onBlockerClosed } from "./release-blocked.js";
import { TaskMarkerSchema, type RouteContext, type RouteDeps } from "./route-issue.js";

/**
 * issues.closed -> stop the task's in-flight run (stopTask, shared with `/switchyard stop`). Only
 * a task whose status comment says `running` is touched: its execute runs that have not completed
 * (matched by the run title `switchyard #<issue>`) are cancelled, the state label becomes
 * `switchyard:stopped` and the status comment says why. Any other issue costs the one comment
 * lookup and writes nothing.
 *
 * Then the held tasks the closed issue was the last open blocker of are routed
 * (app/release-blocked.ts): one more request (the list of held tasks) when it blocks nothing.
 */

export type ClosedOutcome = (
  { action: "ignored"; reason: string } | { action: "stopped"; cancelled: number[] }
) & {
  /** The held tasks routed because this issue closed; absent when none was. */
  released?: number[];
};

const ClosedPayloadSchema = z.looseObject({
  action: z.literal("closed"),
  issue: z.looseObject({
    number: z.number().int().min(1),
    labels: z.array(z.looseObject({ name: z.string() })).nullish(),
  }),
  repository: z.looseObject({
    name: z.string().min(1),
    owner: z.looseObject({ login: z.string().min(1) }),
  }),
});

/**
 * The handler: never throws; a failure is logged with the delivery and the task. Null when the
 * stop failed; the held tasks are released either way, since they do not depend on the stop.
 */
export async function onIssueClosed(context: RouteContext, deps: RouteDeps): Promise<ClosedOutcome | null> {
  let outcome: ClosedOutcome | null;
  try {
    outcome = await stopClosedIssue(context, deps);
  } catch (error) {
    context.log.error(
      { err: error, delivery: context.id },
      "switchyard could not stop the closed issue's run",
    );
    outcome = null;
  }
  const release = await onBlockerClosed(context, deps);
  const released = (release?.routed ?? []).map((r) => r.issue);
  return outcome === null || released.length === 0 ? outcome : { ...outcome, released };
}

export async function stopClosedIssue(context: RouteContext, deps: RouteDeps): Promise<ClosedOutcome> {
  const parsed = ClosedPayloadSchema.safeParse(context.payload);
  if (!parsed.success) throw new InputError("the issues.closed payload is not what GitHub documents");
  const payload = parsed.data;
  const result = await stopTask(context.octokit, {
    owner: payload.repository.owner.login,
    repo: payload.repository.name,
    issue_number: payload.issue.number,
    labels: (payload.issue.labels ?? []).map((l) => l.name),
    appId: await deps.appId(),
    delivery: context.id,
    now: deps.now(),
    cause: { kind: "issue-closed" },
  });
  const task = `${payload.repository.owner.login}/${payload.repository.name}#${payload.issue.number}`;
  if (result.action === "not-running") {
    context.log.info({ delivery: context.id, task }, `ignored: ${result.reason}`);
    return { action: "ignored", reason: result.reason };
  }
  context.log.info(
    { delivery: context.id, task, cancelled: result.cancelled },
    "stopped: the issue was closed",
  );
  return result;
}

/** Why a task is stopped: the status comment and the marker say it. */
export type StopCause = { kind: "issue-closed" } | { kind: "command"; login: string };

export interface StopTaskInput {
  owner: string;
  repo: string;
  issue_number: number;
  /** The issue's labels now, so the state label change is computed without a request. */
  labels: string[];
  appId: number;
  /** The webhook delivery that asked: recorded in the marker. */
  delivery: string;
  now: Date;
  cause: StopCause;
}

export type StopResult =
  { action: "not-running"; reason: string } | { action: "stopped"; cancelled: number[] };

/**
 * Stops a running task: cancels its execute runs that have not completed, sets the
 * `switchyard:stopped` label and rewrites the status comment with who or what stopped it. A task
 * that is not `running` (or has no status comment) costs the one comment lookup and writes
 * nothing; the result says why, so a command can answer with it.
 */
export async function stopTask(octokit: GitHubClient, input: StopTaskInput): Promise<StopResult> {
  const where = { owner: input.owner, repo: input.repo, issue_number: input.issue_number };
  const key = `${where.owner}/${where.repo}#${where.issue_number}`;
  const comment = await findStatusComment(octokit, { ...where, appId: input.appId });
  if (comment === null) return { action: "not-running", reason: "Switchyard has no task on this issue" };
  const read = readMarker(comment.body, "task", TaskMarkerSchema);
  if (read === null || !read.ok) {
    return { action: "not-running", reason: "the status comment holds no readable task state" };
  }
  const state = read.value;
  if (state.phase !== "running")
    return { action: "not-running", reason: `the task is ${state.phase}, not running` };

  // A marker from before runs were recorded names no workflow: nothing can be matched to cancel,
  // but the task is still marked stopped so nobody waits for it.
  const runs =
    state.workflow === undefined
      ? []
      : await findInFlightRuns(octokit, { ...where, workflow_id: state.workflow });
  const cancelled: number[] = [];
  for (const run of runs) if (await cancelRun(octokit, { ...where, run_id: run.id })) cancelled.push(run.id);

  await setStateLabel(octokit, { ...where, state: "stopped", current: input.labels });
  const runs_text =
    cancelled.length === 0
      ? "No run of it was still going."
      : `Cancelled ${cancelled.length === 1 ? "run" : "runs"} ${cancelled.join(", ")}.`;
  const why = input.cause.kind === "command" ? ` by @${input.cause.login}` : ": the issue was closed";
  await upsertStatusComment(octokit, {
    ...where,
    body: [`**Switchyard** · ${key} stopped${why}.`, "", runs_text].join("\n"),
    state: {
      ...state,
      phase: "stopped",
      delivery: input.delivery,
      stopped_at: input.now.toISOString(),
      ...(input.cause.kind === "command" ? { stopped_by: input.cause.login } : {}),
    },
    appId: input.appId,
  });
  return { action: "stopped", cancelled };
}
