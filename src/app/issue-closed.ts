import { z } from "zod";
import { InputError } from "../core/errors.js";
import { readMarker } from "../core/status-marker.js";
import { setStateLabel } from "../github/labels.js";
import { findStatusComment, upsertStatusComment } from "../github/status-comment.js";
import { cancelRun, findInFlightRuns } from "../github/workflow-runs.js";
import { TaskMarkerSchema, type RouteContext, type RouteDeps } from "./route-issue.js";

/**
 * issues.closed -> stop the task's in-flight run. Only a task whose status comment says
 * `running` is touched: its execute runs that have not completed (matched by the run title
 * `switchyard #<issue>`) are cancelled, the state label becomes `switchyard:stopped` and the
 * status comment says why. Any other issue costs the one comment lookup and writes nothing.
 */

export type ClosedOutcome =
  { action: "ignored"; reason: string } | { action: "stopped"; cancelled: number[] };

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

/** The handler: never throws; a failure is logged with the delivery and the task. */
export async function onIssueClosed(context: RouteContext, deps: RouteDeps): Promise<ClosedOutcome | null> {
  try {
    return await stopClosedIssue(context, deps);
  } catch (error) {
    context.log.error(
      { err: error, delivery: context.id },
      "switchyard could not stop the closed issue's run",
    );
    return null;
  }
}

export async function stopClosedIssue(context: RouteContext, deps: RouteDeps): Promise<ClosedOutcome> {
  const parsed = ClosedPayloadSchema.safeParse(context.payload);
  if (!parsed.success) throw new InputError("the issues.closed payload is not what GitHub documents");
  const payload = parsed.data;
  const where = {
    owner: payload.repository.owner.login,
    repo: payload.repository.name,
    issue_number: payload.issue.number,
  };
  const key = `${where.owner}/${where.repo}#${where.issue_number}`;
  const ignore = (reason: string): ClosedOutcome => {
    context.log.info({ delivery: context.id, task: key }, `ignored: ${reason}`);
    return { action: "ignored", reason };
  };

  const appId = await deps.appId();
  const comment = await findStatusComment(context.octokit, { ...where, appId });
  if (comment === null) return ignore("Switchyard has no task on this issue");
  const read = readMarker(comment.body, "task", TaskMarkerSchema);
  if (read === null || !read.ok) return ignore("the status comment holds no readable task state");
  const state = read.value;
  if (state.phase !== "running") return ignore(`the task is ${state.phase}, not running`);

  // A marker from before runs were recorded names no workflow: nothing can be matched to cancel,
  // but the task is still marked stopped so nobody waits for it.
  const runs =
    state.workflow === undefined
      ? []
      : await findInFlightRuns(context.octokit, { ...where, workflow_id: state.workflow });
  const cancelled: number[] = [];
  for (const run of runs)
    if (await cancelRun(context.octokit, { ...where, run_id: run.id })) cancelled.push(run.id);

  await setStateLabel(context.octokit, {
    ...where,
    state: "stopped",
    current: (payload.issue.labels ?? []).map((l) => l.name),
  });
  const runs_text =
    cancelled.length === 0
      ? "No run of it was still going."
      : `Cancelled ${cancelled.length === 1 ? "run" : "runs"} ${cancelled.join(", ")}.`;
  await upsertStatusComment(context.octokit, {
    ...where,
    body: [`**Switchyard** · ${key} stopped: the issue was closed.`, "", runs_text].join("\n"),
    state: { ...state, phase: "stopped", delivery: context.id, stopped_at: deps.now().toISOString() },
    appId,
  });
  context.log.info({ delivery: context.id, task: key, cancelled }, "stopped: the issue was closed");
  return { action: "stopped", cancelled };
}
