import * as core from "@actions/core";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { ulid } from "ulid";
import type { z } from "zod";
import { loadConfig } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { InputError, SwitchyardError } from "../core/errors.js";
import { EventLogWriter } from "../core/events/log.js";
import { BUNDLE_VERSION, bundleFiles, PATCH_ARTIFACT_NAME } from "../core/execution/bundle.js";
import { checkConclusion, jobShouldFail } from "../core/execution/outcome.js";
import { renderExecutionLine, renderExecutionReport } from "../core/execution/report.js";
import type { ExecutionResult } from "../core/execution/schema.js";
import { route } from "../core/routing/route.js";
import { RoutingDecisionSchema, type RoutingDecision } from "../core/routing/schema.js";
import { buildTask } from "../core/task/build.js";
import { TaskSchema, type Task } from "../core/task/schema.js";
import { taskBranchName } from "../core/task/slug.js";
import { upsertCheckRun } from "../github/check-runs.js";
import { GitDataCommitPort } from "../github/git-data-commit.js";
import { createOctokit, type CreateOctokitOptions, type SwitchyardOctokitClient } from "../github/octokit.js";
import { upsertDraftPullRequest } from "../github/pull-request.js";
import { GITHUB_ACTIONS_APP_ID, readTaskState, reportTaskOutcome } from "../github/task-outcome.js";
import { executeTask, type ProgressEvent } from "../runner/execute.js";
import { bundleParts, writeBundleDir } from "../runner/bundle-dir.js";
import { GitCommandManager } from "../runner/git.js";
import { capturePatch, GitBlobReader } from "../runner/patch.js";
import { toolSecrets } from "../runner/tool-env.js";
import type { ActionInputs } from "./inputs.js";
import { readJobContext, type JobContextFor, type WorkflowRunRef } from "./job-context.js";

/** The context execute works in: a checkout of the repository is required. */
type RunnerContext = JobContextFor<"required", "optional">;

function parseJsonInput<S extends z.ZodType>(name: string, text: string, schema: S): z.output<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new InputError(`input ${name} is not JSON`);
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new InputError(`input ${name} is not valid: ${issue?.path.join(".") || "(root)"}: ${issue?.message}`);
}

async function loadTask(
  inputs: ActionInputs,
  config: Config,
  ctx: RunnerContext,
  octokit: SwitchyardOctokitClient,
): Promise<Task> {
  if (inputs.task !== undefined) return parseJsonInput("task", inputs.task, TaskSchema);
  const { data: issue } = await octokit.rest.issues.get({
    owner: ctx.owner,
    repo: ctx.repo,
    issue_number: inputs["issue-number"]!,
  });
  return buildTask(issue, config, { repository: { owner: ctx.owner, name: ctx.repo } });
}

function decide(inputs: ActionInputs, task: Task, config: Config): RoutingDecision {
  if (inputs.decision === undefined) {
    return route(task, config, {
      now: new Date().toISOString(),
      ...(inputs.tool !== undefined ? { command_tool: inputs.tool } : {}),
    });
  }
  const decision = parseJsonInput("decision", inputs.decision, RoutingDecisionSchema);
  if (decision.task_key !== task.key) {
    throw new InputError(`input decision is for ${decision.task_key}, but the task is ${task.key}`);
  }
  return decision;
}

/** Each attempt is a folded group in the job log; the tool's output streams into it. */
function actionsProgress(): (p: ProgressEvent) => void {
  let open = false;
  return (p) => {
    switch (p.type) {
      case "attempt_started":
        if (open) core.endGroup();
        core.startGroup(`Attempt ${p.attempt}: ${p.tool}`);
        open = true;
        break;
      case "tool_output":
      case "gate_output":
        process.stdout.write(p.text);
        break;
      case "gate_started":
        core.info(`gate ${p.gate}: running`);
        break;
      case "gate_finished":
        core.info(`gate ${p.gate.name}: ${p.passed ? "passed" : "failed"}`);
        break;
      case "attempt_finished":
        if (open) core.endGroup();
        open = false;
        core.info(`attempt ${p.attempt.n} (${p.attempt.tool}): ${p.attempt.outcome} - ${p.attempt.reason}`);
        break;
      case "backoff":
        core.info(`waiting ${p.delayMs} ms before the next run`);
        break;
      case "committed":
        core.info(`committed ${p.commitSha} to ${p.branch}`);
        break;
      case "stopped":
        core.warning(p.reason);
        break;
    }
  };
}

export interface ModeOutcome {
  result: ExecutionResult;
  /** Set when the job must fail: Switchyard broke, not the task. */
  failed: string | null;
}

export interface ModeDeps {
  /** Extra Octokit options; tests turn throttling and retries off. */
  octokit?: Pick<CreateOctokitOptions, "throttle" | "retries" | "fetch">;
  /**
   * `commit` (default): commit, open the draft PR and write the check run with the job's token.
   * `artifact`: the job's token is read-only (the app is installed); write the patch bundle
   * (core/execution/bundle.ts) to a directory, set the `artifact-path` output for
   * actions/upload-artifact, and leave committing to the app.
   */
  deliver?: "commit" | "artifact";
  /**
   * In commit mode, also set the task's state label and status comment on the issue (the
   * Action-only setup, where no app does it). Needs `issues: write`; only with an issue number.
   */
  reportOutcome?: boolean;
  /** Whose status comments are Switchyard's; default the github-actions app (GITHUB_TOKEN). */
  statusCommentAppId?: number;
}

/**
 * mode: execute. 1 context -> 2 config -> 3 task -> 4 decision -> 5 run the chain and commit
 * through the Git Data API -> 6 draft PR -> 7 check run -> 8 job summary, files and outputs.
 */
export async function executeMode(
  inputs: ActionInputs,
  env: NodeJS.ProcessEnv,
  deps: ModeDeps = {},
): Promise<ModeOutcome> {
  const ctx = await readJobContext(env, { workspace: "required" });
  const deliver = deps.deliver ?? "commit";
  // The app matches the bundle to the run GitHub reports, so without a run id (checked before any
  // tool runs) there is nothing it could accept.
  const runRef = deliver === "artifact" ? workflowRun(ctx) : null;
  const commits = deliver === "commit" && !inputs["dry-run"];
  const octokit = createOctokit({
    auth: inputs["github-token"],
    env,
    // Octokit logs every non-2xx answer, the 404s Switchyard asks for on purpose included; real
    // failures are thrown and reported, so its lines belong in the debug log, not in annotations.
    log: { debug: core.debug, info: core.debug, warn: core.warning, error: core.debug },
    ...deps.octokit,
  });

  const configPath =
    inputs["config-path"] === ".github/switchyard.yml" ? {} : { configPath: inputs["config-path"] };
  const { config } = await loadConfig({ repoDir: ctx.workspace, ...configPath });
  const task = await loadTask(inputs, config, ctx, octokit);
  const decision = decide(inputs, task, config);
  core.info(decision.summary);

  // Mask every credential a tool of the chain may receive, before any tool prints anything.
  const secrets = new Set<string>();
  for (const name of [decision.tool, ...decision.fallback]) {
    const profile = config.tools.find((t) => t.name === name);
    if (profile) for (const secret of toolSecrets(profile, env)) secrets.add(secret);
  }
  for (const secret of secrets) core.setSecret(secret);

  const runId = ctx.runKey ?? ulid();
  const outDir = path.join(ctx.tempDir, "switchyard", runId);
  await mkdir(outDir, { recursive: true });
  const eventLines: string[] = [];
  const events = new EventLogWriter({ write: (line) => void eventLines.push(line) }, { now: Date.now });
  await events.append({ type: "route_decided", task_key: task.key, run_id: runId, decision });

  const git = new GitCommandManager(ctx.workspace);
  const branch = taskBranchName(task, config.execution.branch_prefix);
  const result = await executeTask({
    task,
    decision,
    config,
    checkout: ctx.workspace,
    env,
    runId,
    now: Date.now,
    events,
    tempDir: ctx.tempDir,
    secrets: [inputs["github-token"]],
    onProgress: actionsProgress(),
    ...(!commits
      ? {}
      : {
          commit: {
            branch,
            port: new GitDataCommitPort({
              octokit,
              owner: ctx.owner,
              repo: ctx.repo,
              blobs: new GitBlobReader(git),
              allowWorkflowChanges: config.execution.allow_workflow_changes,
              ...(ctx.defaultBranch ? { defaultBranch: ctx.defaultBranch } : {}),
            }),
          },
        }),
  });

  let report = renderExecutionReport(result, {
    task,
    decision,
    ...(ctx.runUrl ? { runUrl: ctx.runUrl } : {}),
  });
  let final = result;
  let prUrl: string | null = null;
  if (result.commit_sha !== null && result.branch !== null) {
    const base =
      ctx.refBranch ??
      (await octokit.rest.repos.get({ owner: ctx.owner, repo: ctx.repo })).data.default_branch;
    const pr = await upsertDraftPullRequest(octokit, {
      owner: ctx.owner,
      repo: ctx.repo,
      head: result.branch,
      base,
      title: `switchyard: ${task.title}`,
      body: report,
      issueNumber: task.number,
    });
    final = { ...result, pr_number: pr.number };
    prUrl = pr.url;
    report = renderExecutionReport(final, { task, decision, ...(ctx.runUrl ? { runUrl: ctx.runUrl } : {}) });
    if (pr.note) core.notice(pr.note);
  }

  if (commits) {
    // On Switchyard's own commit the check carries the real verdict; on the commit the job ran
    // on, a task's failure is at most neutral (it is not that commit's fault).
    const onOwnCommit = final.commit_sha !== null;
    await upsertCheckRun(octokit, {
      owner: ctx.owner,
      repo: ctx.repo,
      name: "switchyard/execute",
      head_sha: final.commit_sha ?? final.base_sha,
      external_id: task.key,
      status: "completed",
      conclusion: checkConclusion(final, { onDefaultBranch: !onOwnCommit }),
      title: renderExecutionLine(final).slice(0, 250),
      summary: report,
      ...(ctx.runUrl ? { details_url: ctx.runUrl } : {}),
    });
  }

  if (commits && deps.reportOutcome && inputs["issue-number"] !== undefined) {
    await reportOutcome(octokit, {
      ctx,
      task,
      result: final,
      prUrl,
      appId: deps.statusCommentAppId ?? GITHUB_ACTIONS_APP_ID,
      run: ctx.run,
    });
  }
  if (runRef !== null) {
    const bundleDir = path.join(outDir, "patch-bundle");
    await writeBundle(bundleDir, git, task, final, runRef);
    core.setOutput("artifact-path", bundleDir);
    core.info(`The patch bundle is in ${bundleDir}; upload it as the ${PATCH_ARTIFACT_NAME} artifact.`);
  }

  const resultPath = path.join(outDir, "result.json");
  await writeFile(resultPath, JSON.stringify(final, null, 2) + "\n");
  const eventsPath = path.join(outDir, "events.jsonl");
  await writeFile(eventsPath, eventLines.join(""));
  await writeFile(path.join(outDir, "report.md"), report);
  // Job summaries need GITHUB_STEP_SUMMARY (older GitHub Enterprise Server runners lack it); the
  // report is also in the check run and in report.md, so a missing summary is not a failure.
  if (env.GITHUB_STEP_SUMMARY) await core.summary.addRaw(report).write();
  else core.info("No job summary: this runner does not set GITHUB_STEP_SUMMARY; the report is in report.md.");
  core.setOutput("conclusion", final.outcome);
  core.setOutput("branch", final.branch ?? "");
  core.setOutput("pr-number", final.pr_number === null ? "" : String(final.pr_number));
  core.setOutput("result-path", resultPath);
  // The workflow uploads it as a switchyard-events artifact: the analysis and the router's
  // circuit breaker read tool outcomes from there.
  core.setOutput("events-path", eventsPath);
  core.info(renderExecutionLine(final));
  return {
    result: final,
    failed: jobShouldFail(final)
      ? `Switchyard could not finish the task: ${final.attempts.at(-1)?.reason ?? final.outcome}`
      : null,
  };
}

/** The workflow run the job belongs to, which the bundle names so the app can match the two. */
function workflowRun(ctx: RunnerContext): WorkflowRunRef {
  if (ctx.run === null) {
    throw new SwitchyardError(
      "deliver: artifact needs GITHUB_RUN_ID and GITHUB_RUN_ATTEMPT: run it as a step of a GitHub Actions job",
    );
  }
  return ctx.run;
}

/**
 * The patch bundle as files under `dir`. executeTask leaves a successful patch in the work tree,
 * so it is captured again here, exactly as the winning attempt left it; every blob it writes is
 * read from the local object database, where the capture put it.
 */
async function writeBundle(
  dir: string,
  git: GitCommandManager,
  task: Task,
  result: ExecutionResult,
  run: WorkflowRunRef,
): Promise<void> {
  const captured = result.outcome === "success" ? await capturePatch(git, result.base_sha) : null;
  const { patch, diff, blobs } = await bundleParts(git, captured);
  const files = bundleFiles({
    manifest: {
      version: BUNDLE_VERSION,
      task_key: task.key,
      run_id: run.id,
      run_attempt: run.attempt,
      base_sha: result.base_sha,
      result,
      patch,
    },
    diff,
    blobs,
  });
  await writeBundleDir(dir, files);
}

/** The Action-only setup's label and status comment for the task's outcome (commit mode). */
async function reportOutcome(
  octokit: SwitchyardOctokitClient,
  o: {
    ctx: RunnerContext;
    task: Task;
    result: ExecutionResult;
    prUrl: string | null;
    appId: number;
    run: WorkflowRunRef | null;
  },
): Promise<void> {
  const { ctx, task, result } = o;
  const where = { owner: ctx.owner, repo: ctx.repo, issue_number: task.number };
  const stored = await readTaskState(octokit, { ...where, appId: o.appId });
  const run = o.run === null ? {} : { run: o.run };
  await reportTaskOutcome(octokit, {
    ...where,
    labels: task.labels,
    appId: o.appId,
    previous: stored.marker,
    task_key: task.key,
    now: new Date().toISOString(),
    existing: stored.comment,
    outcome:
      result.pr_number !== null && result.commit_sha !== null && o.prUrl !== null
        ? {
            phase: "pr-open",
            tool: result.tool,
            pr: { number: result.pr_number, url: o.prUrl },
            commit_sha: result.commit_sha,
            line: renderExecutionLine(result),
            runUrl: ctx.runUrl,
            ...run,
          }
        : {
            phase: "failed",
            tool: result.tool,
            reason: `${renderExecutionLine(result)}\n\n${result.attempts.at(-1)?.reason ?? result.outcome}`,
            runUrl: ctx.runUrl,
            ...run,
          },
  });
}
