import * as core from "@actions/core";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { ulid } from "ulid";
import type { z } from "zod";
import { loadConfig } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { InputError, SwitchyardError } from "../core/errors.js";
import { EventLogWriter } from "../core/events/log.js";
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
import { executeTask, type ProgressEvent } from "../runner/execute.js";
import { GitCommandManager } from "../runner/git.js";
import { GitBlobReader } from "../runner/patch.js";
import { toolSecrets } from "../runner/tool-env.js";
import type { ActionInputs } from "./inputs.js";

/** What GitHub's runner tells every job, read once and checked. */
interface RunnerContext {
  owner: string;
  repo: string;
  workspace: string;
  tempDir: string;
  /** The branch the job runs on, which the pull request targets. */
  refBranch: string | null;
  /** From the event payload, which saves asking the API for it. */
  defaultBranch: string | null;
  runUrl: string | null;
}

async function defaultBranchFromEvent(eventPath: string | undefined): Promise<string | null> {
  if (!eventPath) return null;
  try {
    const payload = JSON.parse(await readFile(eventPath, "utf8")) as {
      repository?: { default_branch?: unknown };
    };
    const branch = payload.repository?.default_branch;
    return typeof branch === "string" && branch !== "" ? branch : null;
  } catch {
    return null;
  }
}

async function runnerContext(env: NodeJS.ProcessEnv): Promise<RunnerContext> {
  const [owner, repo] = (env.GITHUB_REPOSITORY ?? "").split("/");
  if (!owner || !repo)
    throw new SwitchyardError(
      "GITHUB_REPOSITORY is not set: run Switchyard as a step of a GitHub Actions job",
    );
  const workspace = env.GITHUB_WORKSPACE;
  if (!workspace)
    throw new SwitchyardError("GITHUB_WORKSPACE is not set: add actions/checkout before Switchyard");
  const server = env.GITHUB_SERVER_URL ?? "https://github.com";
  return {
    owner,
    repo,
    workspace,
    tempDir: env.RUNNER_TEMP ?? path.join(workspace, "..", "_switchyard_tmp"),
    refBranch: env.GITHUB_REF?.startsWith("refs/heads/") ? env.GITHUB_REF.slice("refs/heads/".length) : null,
    runUrl: env.GITHUB_RUN_ID ? `${server}/${owner}/${repo}/actions/runs/${env.GITHUB_RUN_ID}` : null,
    defaultBranch: await defaultBranchFromEvent(env.GITHUB_EVENT_PATH),
  };
}

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
  const ctx = await runnerContext(env);
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

  const runId = env.GITHUB_RUN_ID ? `${env.GITHUB_RUN_ID}-${env.GITHUB_RUN_ATTEMPT ?? "1"}` : ulid();
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
    ...(inputs["dry-run"]
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
    report = renderExecutionReport(final, { task, decision, ...(ctx.runUrl ? { runUrl: ctx.runUrl } : {}) });
    if (pr.note) core.notice(pr.note);
  }

  if (!inputs["dry-run"]) {
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

  const resultPath = path.join(outDir, "result.json");
  await writeFile(resultPath, JSON.stringify(final, null, 2) + "\n");
  await writeFile(path.join(outDir, "events.jsonl"), eventLines.join(""));
  await writeFile(path.join(outDir, "report.md"), report);
  // Job summaries need GITHUB_STEP_SUMMARY (older GitHub Enterprise Server runners lack it); the
  // report is also in the check run and in report.md, so a missing summary is not a failure.
  if (env.GITHUB_STEP_SUMMARY) await core.summary.addRaw(report).write();
  else core.info("No job summary: this runner does not set GITHUB_STEP_SUMMARY; the report is in report.md.");
  core.setOutput("conclusion", final.outcome);
  core.setOutput("branch", final.branch ?? "");
  core.setOutput("pr-number", final.pr_number === null ? "" : String(final.pr_number));
  core.setOutput("result-path", resultPath);
  core.info(renderExecutionLine(final));
  return {
    result: final,
    failed: jobShouldFail(final)
      ? `Switchyard could not finish the task: ${final.attempts.at(-1)?.reason ?? final.outcome}`
      : null,
  };
}
