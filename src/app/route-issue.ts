import { z } from "zod";
import type { Config } from "../config/schema.js";
import { ConfigError, formatProblem, InputError, type Problem } from "../core/errors.js";
import { renderDecisionTable } from "../core/routing/render.js";
import { route } from "../core/routing/route.js";
import type { RoutingDecision } from "../core/routing/schema.js";
import { encodeMarker, readMarker } from "../core/status-marker.js";
import { buildTask } from "../core/task/build.js";
import { LABEL_PREFIX } from "../core/task/capability.js";
import type { Task } from "../core/task/schema.js";
import { taskBranchName } from "../core/task/slug.js";
import { upsertCheckRun } from "../github/check-runs.js";
import { dispatchExecute, dispatchInputs, workflowId, type DispatchResult } from "../github/dispatch.js";
import { GitHubApiError, gitHubApiError, statusOf } from "../github/errors.js";
import { setStateLabel, type TaskState } from "../github/labels.js";
import type { GitHubClient } from "../github/octokit.js";
import { canTrigger } from "../github/permissions.js";
import { readRoutingSignals } from "../github/routing-signals.js";
import { findStatusComment, upsertStatusComment } from "../github/status-comment.js";
import { findInFlightRuns } from "../github/workflow-runs.js";
import { loadRepoConfig, type RepoConfigResult } from "./repo-config.js";

/**
 * issues.labeled -> route the issue. The steps, cheapest refusal first:
 *
 * 1. Labels in Switchyard's own namespace (`switchyard:<state|tool|cap/..|risk/..>`) and closed
 *    issues are ignored without a single request: Switchyard sets most of those labels itself.
 *    So a configured trigger label must not start with `switchyard:`.
 * 2. The configuration (repository file, else the org's .github repository, over the defaults):
 *    the trigger label is configurable, so any other label costs this one lookup (1-2 requests).
 *    The label must equal trigger.label; when the file is invalid, only the default label
 *    (`switchyard`) counts, since the configured one cannot be read.
 * 3. The sender: bots unless listed in trigger.allow_bots, and people below triage, are ignored
 *    with a log line and nothing on GitHub (a person without triage rights cannot add labels,
 *    so this is a bot or a role change; answering in public would invite noise).
 * 4. An invalid configuration: a failed switchyard/route check run on the default branch's head
 *    (the file is a fault of that commit) and the status comment quoting every problem with its
 *    file:line. Nothing else.
 * 5. The task, then the dependency gate: each "Depends on #N" in this repository is looked up;
 *    an open one holds the task (label switchyard:blocked, blockers in the status comment).
 *    Dependencies in other repositories are listed as not checked, not waited for.
 * 6. The decision (signals: the time, the tool a `/switchyard route <tool>` command names, and
 *    what the configured strategy reads back from GitHub: see github/routing-signals.ts; a signal
 *    that cannot be read is left out and named in the decision's summary), published as a
 *    completed switchyard/route check run, success or neutral when no tool can take the task,
 *    with the decision in a hidden marker. Steps 4-7 are routeTask, shared with the commands.
 * 7. The claim, the dispatch, the state label: see "Idempotency" below.
 *
 * Idempotency. Right after the sender is approved, the status comment's marker is read (one
 * request) and nothing is written when
 * - it records this delivery (`x-github-delivery`, context.id): GitHub redelivered it;
 * - it says `running` and the run is still live: dispatched less than ACTIVE_WINDOW_MS ago (a
 *   dispatched run takes a while to show in the runs list), or a run of the execute workflow
 *   titled `switchyard #<issue>` has not completed. A `running` marker without a live run is
 *   stale (the run ended or never started) and the label routes the task again.
 * Before dispatching, the status comment is written as `running` with this delivery id (the
 * claim) and read back: the dispatch goes ahead only if the marker read back is this delivery's.
 * When two replicas create the comment at once, the oldest comment is the task's, so exactly one
 * of them dispatches (the other deletes the comment it made). GitHub has no compare-and-swap on
 * comments, so one window remains: when the comment already exists and replica B's whole
 * read-to-claim span encloses replica A's claim and read-back, both dispatch. The execute
 * workflow's `concurrency: switchyard-execute-<issue>` group then queues the second run behind
 * the first instead of running them side by side.
 */

/** How long after a dispatch the task counts as running without its run being visible. */
export const ACTIVE_WINDOW_MS = 10 * 60 * 1000;

export const DEFAULT_TRIGGER_LABEL = "switchyard";

export interface RouteLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** What routeIssue needs of Probot's context; `Context<"issues.labeled">` fits. */
export interface RouteContext {
  id: string;
  payload: unknown;
  octokit: GitHubClient;
  log: RouteLog;
}

export interface RouteDeps {
  /** The GitHub App's id: only its own comments are edited. */
  appId: () => Promise<number>;
  now: () => Date;
}

export type RouteOutcome =
  | { action: "ignored"; reason: string }
  /** `url`: the live run's page, when the run is visible already. */
  | { action: "already-running"; reason: string; url?: string }
  | { action: "denied"; reason: string }
  | { action: "invalid-config"; problems: Problem[] }
  | { action: "blocked"; blockers: number[] }
  | { action: "no-tool"; decision: RoutingDecision }
  | { action: "dispatched"; decision: RoutingDecision; decisionSent: boolean }
  | { action: "dispatch-failed"; decision: RoutingDecision; missing: boolean };

const LabeledPayloadSchema = z.looseObject({
  action: z.literal("labeled"),
  label: z.looseObject({ name: z.string() }).optional(),
  issue: z.looseObject({
    number: z.number().int().min(1),
    state: z.string(),
    labels: z.array(z.looseObject({ name: z.string() })).nullish(),
  }),
  repository: z.looseObject({
    name: z.string().min(1),
    owner: z.looseObject({ login: z.string().min(1) }),
    default_branch: z.string().min(1),
  }),
  sender: z.looseObject({ login: z.string().min(1), type: z.string() }),
});

/** The task state carried by the status comment's and the check run's switchyard:task marker. */
export const TaskMarkerSchema = z.strictObject({
  task_key: z.string(),
  phase: z.enum([
    "config-invalid",
    "blocked",
    "running",
    "no-tool",
    "dispatch-failed",
    "stopped",
    "pr-open",
    "failed",
  ]),
  tool: z.string().nullable(),
  routed_at: z.string(),
  blockers: z.array(z.number().int()).optional(),
  decision: z.unknown().optional(),
  /** The webhook delivery that wrote this state: a redelivery of it is ignored. */
  delivery: z.string().optional(),
  /** When the execute workflow was (about to be) dispatched, and which one. */
  dispatched_at: z.string().optional(),
  workflow: z.string().optional(),
  /** When the task was stopped (app/issue-closed.ts), and who asked when a person did. */
  stopped_at: z.string().optional(),
  stopped_by: z.string().optional(),
  /**
   * Recorded at dispatch for the completion's provenance check (app/complete-task.ts): the commit
   * the run must start from, and the branch its patch is committed to.
   */
  base_sha: z.string().optional(),
  branch: z.string().optional(),
  /** The run whose result completed the task (the first accepted one), and what it left. */
  run_id: z.number().int().optional(),
  run_attempt: z.number().int().optional(),
  commit_sha: z.string().optional(),
  pr_number: z.number().int().optional(),
  completed_at: z.string().optional(),
});
export type TaskMarker = z.infer<typeof TaskMarkerSchema>;

interface Where {
  owner: string;
  repo: string;
  issue_number: number;
  key: string;
  delivery: string;
}

/** The handler: never throws. A failure after the sender was approved becomes a failed check run. */
export async function onIssueLabeled(context: RouteContext, deps: RouteDeps): Promise<RouteOutcome | null> {
  const progress: Progress = { approved: false, where: null, defaultBranch: null };
  try {
    return await routeIssue(context, deps, progress);
  } catch (error) {
    const where = progress.where;
    context.log.error(
      {
        err: error,
        delivery: context.id,
        repo: where ? `${where.owner}/${where.repo}` : null,
        task: where?.key,
      },
      "switchyard could not route the issue",
    );
    if (progress.approved && where !== null && progress.defaultBranch !== null) {
      try {
        await reportCrash(context.octokit, where, progress.defaultBranch, error, deps.now());
      } catch (reportError) {
        context.log.error(
          { err: reportError, delivery: context.id, task: where.key },
          "and could not report it",
        );
      }
    }
    return null;
  }
}

interface Progress {
  approved: boolean;
  where: Where | null;
  defaultBranch: string | null;
}

export async function routeIssue(
  context: RouteContext,
  deps: RouteDeps,
  progress: Progress = { approved: false, where: null, defaultBranch: null },
): Promise<RouteOutcome> {
  const parsed = LabeledPayloadSchema.safeParse(context.payload);
  if (!parsed.success) throw new InputError("the issues.labeled payload is not what GitHub documents");
  const payload = parsed.data;
  const label = payload.label?.name ?? "";
  const owner = payload.repository.owner.login;
  const repo = payload.repository.name;
  const where: Where = {
    owner,
    repo,
    issue_number: payload.issue.number,
    key: `${owner}/${repo}#${payload.issue.number}`,
    delivery: context.id,
  };
  const log = (msg: string, extra: object = {}) =>
    context.log.info({ delivery: context.id, task: where.key, label, ...extra }, msg);
  const ignore = (reason: string): RouteOutcome => {
    log(`ignored: ${reason}`);
    return { action: "ignored", reason };
  };

  // 1
  if (label === "" || label.startsWith(LABEL_PREFIX)) return ignore(`label "${label}" is not a trigger`);
  if (payload.issue.state !== "open") return ignore("the issue is closed");
  progress.where = where;
  progress.defaultBranch = payload.repository.default_branch;

  // 2
  const cfg = await loadRepoConfig(context.octokit, { owner, repo });
  const trigger = cfg.ok ? cfg.loaded.config.trigger.label : DEFAULT_TRIGGER_LABEL;
  if (label !== trigger) return ignore(`label "${label}" is not the trigger label "${trigger}"`);

  // 3
  const verdict = await canTrigger(context.octokit, {
    owner,
    repo,
    username: payload.sender.login,
    senderType: payload.sender.type,
    allowBots: cfg.ok ? cfg.loaded.config.trigger.allow_bots : [],
    minimum: "triage",
  });
  if (!verdict.approved) {
    log(`not routed: ${verdict.reason}`, { sender: payload.sender.login });
    return { action: "denied", reason: verdict.reason };
  }
  progress.approved = true;
  return routeTask(context, deps, {
    payload,
    owner,
    repo,
    issue_number: payload.issue.number,
    labels: (payload.issue.labels ?? []).map((l) => l.name),
    defaultBranch: payload.repository.default_branch,
    cfg,
    trigger: "label",
  });
}

export interface RouteTaskInput {
  /** The webhook payload the task is built from (issues.labeled, issue_comment.created). */
  payload: unknown;
  owner: string;
  repo: string;
  issue_number: number;
  /** The issue's labels now, so the state label change is computed without a request. */
  labels: string[];
  defaultBranch: string;
  /** Already loaded by the caller, which needed it to approve the sender. */
  cfg: RepoConfigResult;
  /**
   * What asked: only logged, the pipeline is the same. `release`: the last blocker of a held task
   * was closed (app/release-blocked.ts).
   */
  trigger: "label" | "command" | "release";
  /** `/switchyard route <tool>`: the router checks it like any override and says if it refuses. */
  commandTool?: string;
}

/**
 * Steps 4 to 7 for an approved request, with the idempotency check first: the label handler and
 * the `route` / `retry` commands share it, so a command cannot start a second run either.
 */
export async function routeTask(
  context: RouteContext,
  deps: RouteDeps,
  input: RouteTaskInput,
): Promise<RouteOutcome> {
  const { payload, owner, repo, cfg } = input;
  const where: Where = {
    owner,
    repo,
    issue_number: input.issue_number,
    key: `${owner}/${repo}#${input.issue_number}`,
    delivery: context.id,
  };
  const log = (msg: string, extra: object = {}) =>
    context.log.info({ delivery: context.id, task: where.key, trigger: input.trigger, ...extra }, msg);
  const now = deps.now().toISOString();
  const appId = await deps.appId();

  // The comment found here is the one the claim (step 7) writes to: no second lookup before it.
  const stored = await readTaskComment(context.octokit, where, appId, context.log);
  const previous = stored.marker;
  if (previous?.delivery === context.id) {
    log("ignored: this delivery was already handled");
    return { action: "ignored", reason: "this delivery was already handled" };
  }
  if (previous?.phase === "running") {
    const workflow = cfg.ok ? cfg.loaded.config.execution.workflow : null;
    const live = await liveRun(context.octokit, where, previous, workflow, deps.now());
    if (live !== null) {
      log(`not dispatched: ${live.reason}`);
      return {
        action: "already-running",
        reason: live.reason,
        ...(live.url === null ? {} : { url: live.url }),
      };
    }
  }

  // 4
  if (!cfg.ok) {
    const problems = cfg.error.problems;
    const headSha = await defaultBranchHead(context.octokit, owner, repo, input.defaultBranch);
    await upsertCheckRun(context.octokit, {
      owner,
      repo,
      name: "switchyard/route",
      head_sha: headSha,
      external_id: where.key,
      status: "completed",
      conclusion: "failure",
      title: `${problemCount(problems)} in the Switchyard configuration`,
      summary: renderProblems(problems),
      completed_at: now,
    });
    await upsertStatusComment(context.octokit, {
      ...pick(where),
      body: renderStatusComment({ phase: "config-invalid", key: where.key, problems }),
      state: { ...marker(where.key, "config-invalid", null, now), delivery: where.delivery },
      appId,
    });
    log("not routed: invalid configuration", { problems: problems.length });
    return { action: "invalid-config", problems };
  }
  const config = cfg.loaded.config;
  const current = input.labels;

  // 5
  const task = buildTask(payload, config);
  const blockers = await openBlockers(context.octokit, task);
  const elsewhere = task.depends_on.filter((d) => d.owner !== owner || d.name !== repo);
  if (blockers.length > 0) {
    await setStateLabel(context.octokit, { ...pick(where), state: "blocked", current });
    await upsertStatusComment(context.octokit, {
      ...pick(where),
      body: renderStatusComment({
        phase: "blocked",
        key: where.key,
        blockers,
        unchecked: elsewhere.map((d) => `${d.owner}/${d.name}#${d.number}`),
      }),
      state: { ...marker(where.key, "blocked", null, now), blockers, delivery: where.delivery },
      appId,
    });
    log("held: waiting for open dependencies", { blockers });
    return { action: "blocked", blockers };
  }

  // 6
  const read = await readRoutingSignals(
    context.octokit,
    {
      owner,
      repo,
      issue_number: where.issue_number,
      strategy: config.routing.strategy,
      previousTool: previous?.tool ?? null,
      workflow_id: workflowId(config.execution.workflow),
      eventWorkflows: [config.execution.workflow, config.recovery.workflow],
      metricsWorkflow: config.analysis.workflow,
    },
    context.log,
  );
  const decision = route(task, config, {
    now,
    ...read.signals,
    ...(input.commandTool === undefined ? {} : { command_tool: input.commandTool }),
  });
  // What could not be read is part of why the route came out as it did.
  if (read.notes.length > 0) decision.summary += ` Signals: ${read.notes.join("; ")}.`;
  const headSha = await defaultBranchHead(context.octokit, owner, repo, input.defaultBranch);
  await upsertCheckRun(context.octokit, {
    owner,
    repo,
    name: "switchyard/route",
    head_sha: headSha,
    external_id: where.key,
    status: "completed",
    conclusion: decision.tool === null ? "neutral" : "success",
    title: decision.tool === null ? `No tool can take ${where.key}` : `${where.key} -> ${decision.tool}`,
    summary: renderDecisionTable(decision),
    text: encodeMarker({ ...marker(where.key, "running", decision.tool, now), decision }, "task"),
    completed_at: now,
  });
  if (decision.tool === null) {
    await finish(
      context.octokit,
      where,
      appId,
      current,
      "failed",
      { phase: "no-tool", key: where.key, decision },
      {
        ...marker(where.key, "no-tool", null, now),
        decision,
      },
    );
    log("not dispatched: no tool can take the task");
    return { action: "no-tool", decision };
  }

  // 7
  const workflow_id = workflowId(config.execution.workflow);
  const ref = input.defaultBranch;
  const claim = await upsertStatusComment(context.octokit, {
    ...pick(where),
    body: renderStatusComment({
      phase: "running",
      key: where.key,
      decision,
      workflow: workflow_id,
      ref,
      decisionSent: dispatchInputs(where.issue_number, decision).decisionSent,
    }),
    state: {
      ...marker(where.key, "running", decision.tool, now),
      decision,
      delivery: where.delivery,
      dispatched_at: now,
      workflow: workflow_id,
      base_sha: headSha,
      branch: taskBranchName(task, config.execution.branch_prefix),
    },
    appId,
    existing: stored.comment,
  });
  const holder = await readTaskMarker(context.octokit, where, appId, context.log);
  if (holder?.delivery !== where.delivery) {
    // Another delivery claimed the task between our read and our write. A comment we created
    // is not the task's (the oldest is), so it goes; an edited one now holds the other's claim.
    if (claim.created) await deleteComment(context.octokit, where, claim.id);
    const reason = `delivery ${holder?.delivery ?? "(unknown)"} claimed the task first`;
    log(`not dispatched: ${reason}`);
    return { action: "already-running", reason };
  }
  const dispatched = await dispatchExecute(context.octokit, {
    owner,
    repo,
    workflow: config.execution.workflow,
    ref,
    issue_number: where.issue_number,
    decision,
  });
  if (!dispatched.ok) {
    await finish(
      context.octokit,
      where,
      appId,
      current,
      "failed",
      { phase: "dispatch-failed", key: where.key, decision, dispatch: dispatched, config },
      { ...marker(where.key, "dispatch-failed", decision.tool, now), decision },
    );
    log("not dispatched", { missing: dispatched.missing, reason: dispatched.reason });
    return { action: "dispatch-failed", decision, missing: dispatched.missing };
  }
  await setStateLabel(context.octokit, { ...pick(where), state: "running", current });
  log("dispatched", { tool: decision.tool, workflow: dispatched.workflow_id });
  return { action: "dispatched", decision, decisionSent: dispatched.decisionSent };
}

/** The task state in our status comment; null when there is none or it cannot be read. */
async function readTaskMarker(
  octokit: GitHubClient,
  where: Where,
  appId: number,
  log: RouteLog,
): Promise<TaskMarker | null> {
  return (await readTaskComment(octokit, where, appId, log)).marker;
}

/** Our status comment (null when there is none) and the task state it carries, in one request. */
async function readTaskComment(
  octokit: GitHubClient,
  where: Where,
  appId: number,
  log: RouteLog,
): Promise<{ comment: { id: number } | null; marker: TaskMarker | null }> {
  const comment = await findStatusComment(octokit, { ...pick(where), appId });
  if (comment === null) return { comment: null, marker: null };
  const read = readMarker(comment.body, "task", TaskMarkerSchema);
  if (read === null) return { comment: { id: comment.id }, marker: null };
  if (!read.ok) {
    // A hand-edited marker: the label is a person's explicit request, so route as if fresh.
    log.warn({ delivery: where.delivery, task: where.key, reason: read.reason }, "unreadable task marker");
    return { comment: { id: comment.id }, marker: null };
  }
  return { comment: { id: comment.id }, marker: read.value };
}

/** Why the task still counts as running (and its run's page), or null when its `running` marker is stale. */
async function liveRun(
  octokit: GitHubClient,
  where: Where,
  previous: TaskMarker,
  workflow: string | null,
  now: Date,
): Promise<{ reason: string; url: string | null } | null> {
  const since = previous.dispatched_at === undefined ? NaN : Date.parse(previous.dispatched_at);
  if (now.getTime() - since < ACTIVE_WINDOW_MS) {
    return { reason: `the execute workflow was dispatched at ${previous.dispatched_at}`, url: null };
  }
  const workflow_id = previous.workflow ?? (workflow === null ? null : workflowId(workflow));
  if (workflow_id === null) return null;
  const runs = await findInFlightRuns(octokit, { ...pick(where), workflow_id });
  const run = runs[0];
  if (run === undefined) return null;
  return { reason: `run ${run.id} is ${run.status}`, url: run.url };
}

async function deleteComment(octokit: GitHubClient, where: Where, comment_id: number): Promise<void> {
  try {
    await octokit.request("DELETE /repos/{owner}/{repo}/issues/comments/{comment_id}", {
      owner: where.owner,
      repo: where.repo,
      comment_id,
    });
  } catch (error) {
    if (statusOf(error) === 404) return;
    throw gitHubApiError(error, {
      doing: `deleting the duplicate status comment ${comment_id} on ${where.key}`,
      permission: "issues: write",
    });
  }
}

async function finish(
  octokit: GitHubClient,
  where: Where,
  appId: number,
  current: string[],
  state: TaskState,
  view: StatusView,
  markerState: TaskMarker,
): Promise<void> {
  await setStateLabel(octokit, { ...pick(where), state, current });
  await upsertStatusComment(octokit, {
    ...pick(where),
    body: renderStatusComment(view),
    state: { ...markerState, delivery: where.delivery },
    appId,
  });
}

function pick(where: Where): { owner: string; repo: string; issue_number: number } {
  return { owner: where.owner, repo: where.repo, issue_number: where.issue_number };
}

function marker(key: string, phase: TaskMarker["phase"], tool: string | null, now: string): TaskMarker {
  return { task_key: key, phase, tool, routed_at: now };
}

const RefSchema = z.looseObject({ object: z.looseObject({ sha: z.string() }) });
const IssueStateSchema = z.looseObject({ state: z.string() });

/** One request: the commit the default branch points at, where routing's check runs land. */
async function defaultBranchHead(octokit: GitHubClient, owner: string, repo: string, branch: string) {
  let data: unknown;
  try {
    ({ data } = await octokit.request("GET /repos/{owner}/{repo}/git/ref/{ref}", {
      owner,
      repo,
      ref: `heads/${branch}`,
    }));
  } catch (error) {
    throw gitHubApiError(error, {
      doing: `reading the head of ${branch} in ${owner}/${repo}`,
      permission: "contents: read",
    });
  }
  const ref = RefSchema.safeParse(data);
  if (!ref.success) throw new GitHubApiError("GitHub's answer is not a git reference", null);
  return ref.data.object.sha;
}

/** The open issues among the task's dependencies in its own repository, one request each. */
async function openBlockers(octokit: GitHubClient, task: Task): Promise<number[]> {
  const { owner, name } = task.repository;
  const open: number[] = [];
  for (const dep of task.depends_on) {
    if (dep.owner !== owner || dep.name !== name) continue;
    if (await holdsTask(octokit, owner, name, dep.number)) open.push(dep.number);
  }
  return open;
}

/** Whether a dependency still holds a task: it is open. One request. */
export async function holdsTask(
  octokit: GitHubClient,
  owner: string,
  repo: string,
  issue_number: number,
): Promise<boolean> {
  let data: unknown;
  try {
    ({ data } = await octokit.request("GET /repos/{owner}/{repo}/issues/{issue_number}", {
      owner,
      repo,
      issue_number,
    }));
  } catch (error) {
    // A deleted or transferred issue cannot be finished: it does not hold the task.
    if (statusOf(error) === 404 || statusOf(error) === 410) return false;
    throw gitHubApiError(error, {
      doing: `reading ${owner}/${repo}#${issue_number}`,
      permission: "issues: read",
    });
  }
  const issue = IssueStateSchema.safeParse(data);
  return issue.success && issue.data.state === "open";
}

async function reportCrash(
  octokit: GitHubClient,
  where: Where,
  branch: string,
  error: unknown,
  now: Date,
): Promise<void> {
  const headSha = await defaultBranchHead(octokit, where.owner, where.repo, branch);
  const message =
    error instanceof ConfigError || error instanceof InputError || error instanceof GitHubApiError
      ? error.message
      : "an unexpected error; the app's log has the details";
  await upsertCheckRun(octokit, {
    owner: where.owner,
    repo: where.repo,
    name: "switchyard/route",
    head_sha: headSha,
    external_id: where.key,
    status: "completed",
    conclusion: "failure",
    title: `Switchyard could not route ${where.key}`,
    summary: `Switchyard stopped while routing ${where.key}: ${message}\n\nAdd the label again to retry.`,
    completed_at: now.toISOString(),
  });
}

// --- the status comment, pure ----------------------------------------------------------------

export type StatusView =
  | { phase: "config-invalid"; key: string; problems: Problem[] }
  | { phase: "blocked"; key: string; blockers: number[]; unchecked: string[] }
  | { phase: "no-tool"; key: string; decision: RoutingDecision }
  | {
      phase: "running";
      key: string;
      decision: RoutingDecision;
      workflow: string;
      ref: string;
      decisionSent: boolean;
    }
  | {
      phase: "dispatch-failed";
      key: string;
      decision: RoutingDecision;
      dispatch: Extract<DispatchResult, { ok: false }>;
      config: Config;
    }
  /** The run's patch is committed and proposed (app/complete-task.ts, the Action's commit mode). */
  | {
      phase: "pr-open";
      key: string;
      tool: string | null;
      pr: { number: number; url: string };
      /** One line on what the run did (core/execution/report.ts renderExecutionLine). */
      line: string;
      runUrl: string | null;
    }
  /** The run ended without a pull request: the tools failed, it was cancelled, or it was refused. */
  | { phase: "failed"; key: string; tool: string | null; reason: string; runUrl: string | null };

function problemCount(problems: readonly Problem[]): string {
  return problems.length === 1 ? "1 problem" : `${problems.length} problems`;
}

/** Problems quoted in a fence no line of theirs can close. */
export function renderProblems(problems: readonly Problem[]): string {
  const lines = problems.map(formatProblem);
  const longest = Math.max(
    2,
    ...lines.map((l) => (l.match(/`+/g) ?? []).reduce((m, r) => Math.max(m, r.length), 0)),
  );
  const fence = "`".repeat(longest + 1);
  return [`${fence}text`, ...lines, fence].join("\n");
}

/** The body of the task's status comment, without its marker (upsertStatusComment adds it). */
export function renderStatusComment(view: StatusView): string {
  const head = (text: string) => `**Switchyard** · ${text}`;
  switch (view.phase) {
    case "config-invalid":
      return [
        head(`${view.key} was not routed: the configuration has ${problemCount(view.problems)}.`),
        "",
        renderProblems(view.problems),
        "",
        "Fix the file, then remove and add the label again.",
      ].join("\n");
    case "blocked":
      return [
        head(`${view.key} is waiting for ${view.blockers.length === 1 ? "an open issue" : "open issues"}.`),
        "",
        ...view.blockers.map((n) => `- [ ] #${n}`),
        ...(view.unchecked.length > 0
          ? ["", `Not checked (other repositories): ${view.unchecked.join(", ")}.`]
          : []),
        "",
        "Switchyard routes it when the last one is closed.",
      ].join("\n");
    case "no-tool":
      return [head(`no tool can take ${view.key}.`), "", renderDecisionTable(view.decision)].join("\n");
    case "running":
      return [
        head(`${view.key} -> **${view.decision.tool ?? "none"}**, running.`),
        "",
        renderDecisionTable(view.decision),
        "",
        `Started \`${view.workflow}\` on \`${view.ref}\`.` +
          (view.decisionSent ? "" : " The decision was too large to send; the run routes the task again."),
      ].join("\n");
    case "dispatch-failed":
      return [
        head(`${view.key} -> **${view.decision.tool ?? "none"}**, but the run could not start.`),
        "",
        ...(view.dispatch.missing
          ? missingWorkflow(view.config.execution.workflow)
          : [`GitHub refused to start \`${view.dispatch.workflow_id}\`: ${view.dispatch.reason}`]),
        "",
        renderDecisionTable(view.decision),
      ].join("\n");
    case "pr-open":
      return [
        head(`${view.key} -> **${view.tool ?? "none"}**, pull request #${view.pr.number} is open.`),
        "",
        view.line,
        "",
        `Review it: ${view.pr.url}` + (view.runUrl === null ? "" : ` · [the run](${view.runUrl})`),
      ].join("\n");
    case "failed":
      return [
        head(`${view.key}${view.tool === null ? "" : ` -> **${view.tool}**`} failed.`),
        "",
        view.reason,
        "",
        (view.runUrl === null ? "" : `[The run](${view.runUrl}) has the details. `) +
          "Add the label again (or comment `/switchyard retry`) to try again.",
      ].join("\n");
  }
}

function missingWorkflow(path: string): string[] {
  return [
    `The workflow \`${path}\` is not on the default branch. Add it: copy the example`,
    "`.github/workflows/switchyard-execute.yml` shipped with Switchyard, or start from this trigger:",
    "",
    "```yaml",
    "on:",
    "  workflow_dispatch:",
    "    inputs:",
    "      issue-number: { required: true, type: string }",
    "      decision: { required: false, type: string }",
    "```",
    "",
    "Then remove and add the label again. (Another path is set with `execution.workflow` in `.github/switchyard.yml`.)",
  ];
}
