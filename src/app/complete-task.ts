import { z } from "zod";
import type { Config } from "../config/schema.js";
import { readBundle, PATCH_ARTIFACT_NAME, type ReadBundle } from "../core/execution/bundle.js";
import { ShaSchema } from "../core/execution/commit-port.js";
import { checkConclusion } from "../core/execution/outcome.js";
import {
  checkManifestProvenance,
  checkRunProvenance,
  RunFactsSchema,
  workflowPathOf,
  type RunFacts,
} from "../core/execution/provenance.js";
import { renderExecutionLine, renderExecutionReport } from "../core/execution/report.js";
import type { ExecutionResult } from "../core/execution/schema.js";
import { InputError, SwitchyardError } from "../core/errors.js";
import { checkPatchPolicy, policyFromConfig } from "../core/policy/patch-policy.js";
import { RoutingDecisionSchema, type RoutingDecision } from "../core/routing/schema.js";
import { buildTask } from "../core/task/build.js";
import type { Task } from "../core/task/schema.js";
import { taskBranchName } from "../core/task/slug.js";
import {
  ArtifactGoneError,
  ArtifactRejectedError,
  downloadArtifact,
  listRunArtifacts,
} from "../github/artifacts.js";
import { upsertCheckRun } from "../github/check-runs.js";
import { GitDataCommitPort } from "../github/git-data-commit.js";
import type { GitHubClient } from "../github/octokit.js";
import { readIssue } from "../github/issues.js";
import { upsertDraftPullRequest } from "../github/pull-request.js";
import { readTaskState, reportTaskOutcome, type TaskOutcome } from "../github/task-outcome.js";
import { runTitle } from "../github/workflow-runs.js";
import { commitMessage } from "../runner/execute.js";
import { loadRepoConfig } from "./repo-config.js";
import type { RouteContext, TaskMarker } from "./route-issue.js";

/**
 * workflow_run.completed -> finish the task the run was dispatched for (DESIGN, "Trust": with
 * the app installed the execute job has a read-only token and uploads its patch; the app checks
 * where it came from and commits it as the app).
 *
 * 1. Only runs titled `switchyard #<n>` are looked at further, without a request; then the
 *    configuration (1-2 requests) says which workflow is the execute workflow. Any other run is
 *    `not-mine`, for the caller to hand to recovery.
 * 2. The task: the status comment of issue #n and its marker (what the app recorded at
 *    dispatch). No task, a stopped task, or one another run completed: nothing is written.
 * 3. Provenance of the run (core/execution/provenance.ts). A run that is not the one the app
 *    dispatched is reported on the issue and commits nothing.
 * 4. A run that did not succeed (failure, cancelled, timed out...) is reported with its reason and
 *    a link to it, never dropped.
 * 5. The `switchyard-patch` artifact of that run: downloaded within bounds, its manifest checked
 *    against the run, every blob checked against its id.
 * 6. The repository's policy, again: the runner's own check is not trusted.
 * 7. The commit, through the Git Data API as the app, on the branch recorded at dispatch; the
 *    draft pull request; the switchyard/execute check run on the commit; the label and comment.
 *
 * A failure to finish is a `failed` outcome on the issue and a `neutral` switchyard/execute check
 * on the base commit (a task's failure never paints a commit Switchyard did not make red).
 */

export interface CompleteDeps {
  /** The GitHub App's id: only its own status comments are read. */
  appId: () => Promise<number>;
  /** The app's slug; its bot `<slug>[bot]` must have started the run. Null skips that check. */
  appSlug: () => Promise<string | null>;
  now: () => Date;
  /** Bounds on the patch artifact (artifacts.ts defaults when omitted). */
  maxArtifactBytes?: number;
  maxEntryBytes?: number;
}

export type CompleteOutcome =
  | { action: "not-mine"; reason: string }
  | { action: "ignored"; reason: string }
  | { action: "pr-open"; pr_number: number; commit_sha: string; run_id: number }
  | { action: "failed"; reason: string; run_id: number };

const RUN_TITLE = /^switchyard #([1-9]\d*)$/;

const PayloadSchema = z.looseObject({
  action: z.string(),
  workflow_run: z.looseObject({
    status: z.string().nullish(),
    conclusion: z.string().nullish(),
    display_title: z.string().nullish(),
  }),
  repository: z.looseObject({
    id: z.number().int(),
    full_name: z.string().min(1),
    name: z.string().min(1),
    owner: z.looseObject({ login: z.string().min(1) }),
    default_branch: z.string().min(1),
  }),
});

interface Ctx {
  owner: string;
  repo: string;
  issue_number: number;
  key: string;
  run: RunFacts;
  runUrl: string | null;
  defaultBranch: string;
  appId: number;
  delivery: string;
  now: string;
  marker: TaskMarker;
  comment: { id: number } | null;
  labels: string[];
}

/** The handler: never throws. A failure once the task is known is reported on the task. */
export async function onWorkflowRunCompleted(
  context: RouteContext,
  deps: CompleteDeps,
): Promise<CompleteOutcome | null> {
  const progress: { ctx: Ctx | null } = { ctx: null };
  try {
    return await completeTask(context, deps, progress);
  } catch (error) {
    const ctx = progress.ctx;
    context.log.error(
      { err: error, delivery: context.id, task: ctx?.key, run: ctx?.run.id },
      "switchyard could not complete the task",
    );
    if (ctx === null) return null;
    const said =
      error instanceof SwitchyardError ? error.message : "an unexpected error; the app's log has the details";
    try {
      // The run is not recorded as the task's: a redelivery of this webhook may then finish it.
      return await fail(context.octokit, ctx, `Switchyard could not finish the task: ${said}`, false);
    } catch (reportError) {
      context.log.error({ err: reportError, delivery: context.id, task: ctx.key }, "and could not report it");
      return null;
    }
  }
}

export async function completeTask(
  context: RouteContext,
  deps: CompleteDeps,
  progress: { ctx: Ctx | null } = { ctx: null },
): Promise<CompleteOutcome> {
  const parsed = PayloadSchema.safeParse(context.payload);
  if (!parsed.success) throw new InputError("the workflow_run payload is not what GitHub documents");
  const payload = parsed.data;
  if (payload.action !== "completed") return { action: "ignored", reason: `action ${payload.action}` };

  // 1
  const title = RUN_TITLE.exec(payload.workflow_run.display_title ?? "");
  if (title === null) return { action: "not-mine", reason: "the run is not titled switchyard #<issue>" };
  const facts = RunFactsSchema.safeParse(payload.workflow_run);
  if (!facts.success) throw new InputError("the workflow_run payload's run is not what GitHub documents");
  const run = facts.data;
  const owner = payload.repository.owner.login;
  const repo = payload.repository.name;
  const issue_number = Number(title[1]);
  const key = `${owner}/${repo}#${issue_number}`;
  const log = (msg: string, extra: object = {}) =>
    context.log.info({ delivery: context.id, task: key, run: run.id, ...extra }, msg);

  const cfg = await loadRepoConfig(context.octokit, { owner, repo });
  // An unreadable configuration still has the default execute workflow, which may be this one.
  const workflowPath = cfg.ok
    ? cfg.loaded.config.execution.workflow
    : ".github/workflows/switchyard-execute.yml";
  if (run.path.replace(/@.*$/, "") !== workflowPathOf(workflowPath)) {
    return {
      action: "not-mine",
      reason: `${run.path} is not the execute workflow ${workflowPathOf(workflowPath)}`,
    };
  }

  // 2
  const appId = await deps.appId();
  const stored = await readTaskState(context.octokit, { owner, repo, issue_number, appId });
  if (stored.marker === null) {
    const reason =
      stored.problem ?? `${key} has no Switchyard status comment: the run was not dispatched by the app`;
    log(`ignored: ${reason}`);
    return { action: "ignored", reason };
  }
  const marker = stored.marker;

  // 3
  const slug = await deps.appSlug();
  const verdict = checkRunProvenance(marker, run, {
    repository: { id: payload.repository.id, full_name: payload.repository.full_name },
    workflowPath,
    displayTitle: runTitle(issue_number),
    botLogin: slug === null ? null : `${slug}[bot]`,
  });
  if (verdict.verdict === "duplicate" || verdict.verdict === "not-waiting") {
    log(`ignored: ${verdict.reason}`);
    return { action: "ignored", reason: verdict.reason };
  }
  const issue = await readIssue(context.octokit, { owner, repo, issue_number });
  const ctx: Ctx = {
    owner,
    repo,
    issue_number,
    key,
    run,
    runUrl: run.html_url ?? null,
    defaultBranch: payload.repository.default_branch,
    appId,
    delivery: context.id,
    now: deps.now().toISOString(),
    marker,
    comment: stored.comment,
    labels: issue.labels,
  };
  progress.ctx = ctx;
  if (verdict.verdict === "rejected") {
    log(`refused: ${verdict.reason}`, { rule: verdict.rule });
    return fail(
      context.octokit,
      ctx,
      `Switchyard refused the result of run ${run.id}: ${verdict.reason}.`,
      false,
    );
  }

  // 4
  const conclusion = payload.workflow_run.conclusion ?? "unknown";
  if (conclusion !== "success") {
    log(`the run concluded ${conclusion}`);
    return fail(context.octokit, ctx, runFailure(run.id, conclusion), true);
  }
  if (!cfg.ok) {
    return fail(
      context.octokit,
      ctx,
      `the configuration has problems, so the patch cannot be checked against its policy: ${cfg.error.message}`,
      true,
    );
  }
  const config = cfg.loaded.config;

  // 5
  const bundle = await fetchBundle(context.octokit, ctx, deps);
  if (typeof bundle === "string") return fail(context.octokit, ctx, bundle, true);
  const provenance = checkManifestProvenance(bundle.manifest, run, marker);
  if (!provenance.ok)
    return fail(context.octokit, ctx, `Switchyard refused the patch: ${provenance.reason}.`, true);

  const task = buildTask(issue.raw, config, { repository: { owner, name: repo } });
  const decision = decisionOf(marker, key);
  const reportOf = (result: ExecutionResult) =>
    renderExecutionReport(result, { task, ...(decision ? { decision } : {}), ...runLink(ctx) });
  if (bundle.patch === null) {
    const result = bundle.result;
    const reason = result.attempts.at(-1)?.reason ?? `the run ended with ${result.outcome}`;
    return fail(context.octokit, ctx, `${renderExecutionLine(result)}\n\n${reason}`, true, reportOf(result));
  }

  // 6
  const refusal = policyRefusal(bundle, config, task);
  if (refusal !== null) return fail(context.octokit, ctx, refusal, true);

  // 7
  const baseSha = marker.base_sha!;
  const branch = marker.branch ?? taskBranchName(task, config.execution.branch_prefix);
  const tool = bundle.result.tool ?? marker.tool ?? "unknown";
  const port = new GitDataCommitPort({
    octokit: context.octokit,
    owner,
    repo,
    blobs: bundle.blobs,
    allowWorkflowChanges: config.execution.allow_workflow_changes,
    defaultBranch: ctx.defaultBranch,
  });
  const committed = await port.commitPatch({
    branch,
    baseSha,
    message: commitMessage(task, tool, `${run.id}-${run.run_attempt}`),
    patch: bundle.patch,
  });
  if (!committed.ok) return fail(context.octokit, ctx, committed.message, true);

  let final: ExecutionResult = { ...bundle.result, branch, commit_sha: committed.commitSha };
  const pr = await upsertDraftPullRequest(context.octokit, {
    owner,
    repo,
    head: branch,
    base: ctx.defaultBranch,
    title: `switchyard: ${task.title}`,
    body: reportOf(final),
    issueNumber: issue_number,
  });
  final = { ...final, pr_number: pr.number };
  const report = reportOf(final);
  await upsertCheckRun(context.octokit, {
    owner,
    repo,
    name: "switchyard/execute",
    head_sha: committed.commitSha,
    external_id: key,
    status: "completed",
    conclusion: checkConclusion(final, { onDefaultBranch: false }),
    title: renderExecutionLine(final).slice(0, 250),
    summary: report,
    ...(ctx.runUrl ? { details_url: ctx.runUrl } : {}),
    completed_at: ctx.now,
  });
  await writeOutcome(context.octokit, ctx, {
    phase: "pr-open",
    tool: final.tool,
    pr: { number: pr.number, url: pr.url },
    commit_sha: committed.commitSha,
    line: renderExecutionLine(final),
    runUrl: ctx.runUrl,
    run: { id: run.id, attempt: run.run_attempt },
  });
  log("pull request open", { pr: pr.number, commit: committed.commitSha });
  return { action: "pr-open", pr_number: pr.number, commit_sha: committed.commitSha, run_id: run.id };
}

/** What a run's conclusion means for the task, for the status comment. */
export function runFailure(runId: number, conclusion: string): string {
  switch (conclusion) {
    case "cancelled":
      return `run ${runId} was cancelled before it reported a result, so nothing was committed.`;
    case "timed_out":
      return `run ${runId} hit the job's time limit (\`timeout-minutes\`) before it reported a result.`;
    case "failure":
      return (
        `run ${runId} failed before it reported a result: Switchyard's execute step (or a step before ` +
        "it, such as installing a tool) broke. Its log says where."
      );
    case "startup_failure":
      return `run ${runId} could not start: the execute workflow file is invalid or not allowed to run.`;
    default:
      return `run ${runId} concluded ${conclusion} without a result.`;
  }
}

/** The run's patch bundle, or why there is none usable (a sentence for the status comment). */
async function fetchBundle(
  octokit: GitHubClient,
  ctx: Ctx,
  deps: CompleteDeps,
): Promise<ReadBundle | string> {
  const artifacts = await listRunArtifacts(octokit, { owner: ctx.owner, repo: ctx.repo, run_id: ctx.run.id });
  const artifact = artifacts.find(
    (a) => a.name === PATCH_ARTIFACT_NAME && (a.workflow_run === null || a.workflow_run.id === ctx.run.id),
  );
  if (artifact === undefined) {
    return (
      `run ${ctx.run.id} succeeded but uploaded no \`${PATCH_ARTIFACT_NAME}\` artifact: the execute workflow ` +
      "must run Switchyard with `deliver: artifact` and upload its `artifact-path` output under that name."
    );
  }
  try {
    const files = await downloadArtifact(octokit, {
      owner: ctx.owner,
      repo: ctx.repo,
      artifact,
      ...(deps.maxArtifactBytes === undefined ? {} : { maxBytes: deps.maxArtifactBytes }),
      ...(deps.maxEntryBytes === undefined ? {} : { maxEntryBytes: deps.maxEntryBytes }),
    });
    return readBundle(files);
  } catch (error) {
    if (error instanceof ArtifactGoneError || error instanceof ArtifactRejectedError)
      return `${error.message}.`;
    if (error instanceof InputError)
      return `Switchyard refused the patch artifact of run ${ctx.run.id}: ${error.message}.`;
    throw error;
  }
}

/** The repository's policy over every path the patch reports and every path it writes. */
function policyRefusal(bundle: ReadBundle, config: Config, task: Task): string | null {
  const patch = bundle.patch!;
  const written = patch.entries.map((e) => ({
    path: e.path,
    status: e.deleted ? ("deleted" as const) : ("modified" as const),
    binary: false,
    additions: 0,
    deletions: 0,
    ...(!e.deleted && e.mode !== "160000" ? { mode: e.mode } : {}),
  }));
  const policy = policyFromConfig(config.execution, task.scope);
  const result = checkPatchPolicy([...patch.files, ...written], policy);
  if (result.ok) {
    // Gitlinks are refused through their file change; an entry-only gitlink is caught here.
    const gitlink = patch.entries.find((e) => !e.deleted && e.mode === "160000");
    return gitlink === undefined
      ? null
      : `the patch adds a submodule (${gitlink.path}), which Switchyard never commits.`;
  }
  const reasons = [...new Set(result.violations.map((v) => v.message))];
  return `the patch was refused by the repository's policy: ${reasons.join("; ")}.`;
}

function decisionOf(marker: TaskMarker, key: string): RoutingDecision | null {
  const parsed = RoutingDecisionSchema.safeParse(marker.decision);
  return parsed.success && parsed.data.task_key === key ? parsed.data : null;
}

function runLink(ctx: Ctx): { runUrl?: string } {
  return ctx.runUrl === null ? {} : { runUrl: ctx.runUrl };
}

/**
 * The task failed: a neutral switchyard/execute check run on the commit the run was dispatched
 * for (when the app recorded one), then the label and the status comment.
 */
async function fail(
  octokit: GitHubClient,
  ctx: Ctx,
  reason: string,
  ownRun: boolean,
  report?: string,
): Promise<CompleteOutcome> {
  const head = ShaSchema.safeParse(ctx.marker.base_sha);
  if (head.success) {
    const link = ctx.runUrl === null ? "" : `\n\n[Run log](${ctx.runUrl})`;
    await upsertCheckRun(octokit, {
      owner: ctx.owner,
      repo: ctx.repo,
      name: "switchyard/execute",
      head_sha: head.data,
      external_id: ctx.key,
      status: "completed",
      conclusion: "neutral",
      title: `${ctx.key} failed`,
      summary: report ?? `${reason}${link}`,
      ...(ctx.runUrl ? { details_url: ctx.runUrl } : {}),
      completed_at: ctx.now,
    });
  }
  await writeOutcome(octokit, ctx, {
    phase: "failed",
    tool: ctx.marker.tool,
    reason,
    runUrl: ctx.runUrl,
    ...(ownRun ? { run: { id: ctx.run.id, attempt: ctx.run.run_attempt } } : {}),
  });
  return { action: "failed", reason, run_id: ctx.run.id };
}

async function writeOutcome(octokit: GitHubClient, ctx: Ctx, outcome: TaskOutcome): Promise<void> {
  await reportTaskOutcome(octokit, {
    owner: ctx.owner,
    repo: ctx.repo,
    issue_number: ctx.issue_number,
    labels: ctx.labels,
    appId: ctx.appId,
    previous: ctx.marker,
    task_key: ctx.key,
    outcome,
    now: ctx.now,
    delivery: ctx.delivery,
    existing: ctx.comment,
  });
}
