import * as core from "@actions/core";
import path from "node:path";
import { ulid } from "ulid";
import { z } from "zod";
import { loadRepoConfig } from "../app/repo-config.js";
import { REPO_CONFIG_PATH } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { InputError } from "../core/errors.js";
import { FIX_ARTIFACT_NAME, FIX_BUNDLE_VERSION, fixBundleFiles } from "../core/recovery/fix-bundle.js";
import { classify } from "../core/recovery/classify.js";
import type { SwitchyardIdentity } from "../core/recovery/guards.js";
import {
  nextAction,
  type LadderAction,
  type LadderEntry,
  type LadderResult,
} from "../core/recovery/ladder.js";
import { compileRules } from "../core/recovery/rules.js";
import type { Classification, Evidence } from "../core/recovery/schema.js";
import { gatherRunEvidence } from "../github/failed-run-evidence.js";
import { deliverFix, type DeliveryResult } from "../github/fix-delivery.js";
import { createOctokit, type CreateOctokitOptions, type SwitchyardOctokitClient } from "../github/octokit.js";
import {
  parseRecoveryDispatch,
  planRecovery,
  recordRecovery,
  reportStepResult,
  rerunFailedJobs,
  type RecoveryCi,
  type RecoveryDispatch,
  type RecoveryOutcome,
  type StateAuthor,
} from "../github/recovery-flow.js";
import { bundleParts, writeBundleDir } from "../runner/bundle-dir.js";
import { GitCommandManager } from "../runner/git.js";
import { GitBlobReader } from "../runner/patch.js";
import {
  runRecoveryFix,
  type FixAction,
  type FixProgress,
  type RecoveryFixContext,
  type RecoveryFixResult,
} from "../runner/recover-fix.js";
import { toolSecrets } from "../runner/tool-env.js";
import { readJobContext, runPageUrl, type JobContextFor } from "./job-context.js";

/**
 * mode: recover. Two ways in:
 *
 * - workflow_dispatch with the `recovery` input: the app (or a previous recover job) planned the
 *   rung and dispatched it. 1 parse the dispatch -> 2 config -> 3 the failed run's evidence ->
 *   4 run the fixers or the AI tool on the checkout of the failing head -> 5 deliver the fix
 *   (commit onto Switchyard's PR branch, or a fix PR) -> 6 report the step's result to the
 *   ladder, which carries out what comes next (waiting for CI, a next rung, a quarantine).
 * - workflow_run (a repository without the app): the failed run is the event. 1 plan with the
 *   guards, the evidence and the ladder -> 2 carry the action out here: rerun the failed jobs,
 *   or run the rung and deliver; a rung that made no fix goes straight on to the next one in
 *   this job (at most MAX_RUNGS_PER_JOB) -> 3 record (check run, status comment, labels).
 *
 * The configuration is read from the default branch through the API, as the app reads it, never
 * from the checkout: the checkout is the failing commit, and on a pull request from a branch of
 * this repository its .github/switchyard.yml is the author's, who could otherwise widen the
 * forbidden paths or pick the fixers that run with this job's write token. The checkout is only
 * where the fixers run.
 *
 * The job concludes success when it reported what happened, whatever the recovery's outcome; it
 * fails only when Switchyard itself broke or was set up wrong.
 */

/** Rungs one workflow_run job may climb when each makes no fix (the attempt cap still applies). */
export const MAX_RUNGS_PER_JOB = 4;

export interface RecoverOptions {
  githubToken: string;
  /**
   * Accepted only as .github/switchyard.yml (or unset): mode recover reads that file from the
   * default branch through the API, as the app does.
   */
  configPath?: string;
  /** The workflow_dispatch `recovery` input (JSON); absent: the workflow_run event is read. */
  recovery?: string | undefined;
  /** Who Switchyard's commits and comments come from; default: the Actions token's bot. */
  identity?: SwitchyardIdentity;
  stateAuthor?: StateAuthor;
  /**
   * `commit` (default): commit the fix with this job's token and report the step to the ladder.
   * `artifact` (the app's dispatch; the job's token is read-only): write the fix bundle
   * (core/recovery/fix-bundle.ts) to a directory, set the `artifact-path` output for
   * actions/upload-artifact, and leave committing and recording the step to the app.
   */
  deliver?: "commit" | "artifact";
}

export interface RecoverDeps {
  /** Extra Octokit options; tests turn throttling and retries off. */
  octokit?: Pick<CreateOctokitOptions, "throttle" | "retries" | "fetch">;
  /** Milliseconds since the epoch; default Date.now. */
  now?: () => number;
}

export interface RecoverOutcome {
  via: "dispatch" | "workflow_run";
  /** The ladder's action this job carried out last, or null when there was none. */
  action: LadderAction | null;
  /** What the ladder does next (wait for CI, done, quarantine...), when this job asked it. */
  next: LadderAction | null;
  fix: RecoveryFixResult | null;
  delivery: DeliveryResult | null;
  recorded: RecoveryOutcome | null;
  /** deliver: artifact: the directory holding the fix bundle. */
  artifactPath?: string;
  /** Markdown for the job summary. */
  summary: string;
  /** Set when the job must fail: Switchyard broke, not the recovery. */
  failed: string | null;
}

const DEFAULT_IDENTITY: SwitchyardIdentity = { bot_login: "github-actions[bot]" };
const DEFAULT_AUTHOR: StateAuthor = { login: "github-actions[bot]" };

/** The job's context, with the key of its files and commits (a ULID outside Actions). */
type JobContext = JobContextFor<"required", "optional"> & { runId: string };

/** The fields of a workflow_run event the recovery reads; the rest of the payload is ignored. */
const WorkflowRunEventSchema = z.looseObject({
  workflow_run: z.looseObject({
    id: z.number().int().positive(),
    run_attempt: z.number().int().min(1).default(1),
    conclusion: z.string().nullable(),
    head_sha: z.string(),
    head_branch: z.string().min(1, "the run has no head branch (a tag push?)"),
    head_repository: z.looseObject({ full_name: z.string() }).nullable(),
    name: z.string().nullish(),
    path: z.string().nullish(),
    html_url: z.string().nullish(),
    pull_requests: z.array(z.looseObject({ number: z.number().int().positive() })).default([]),
  }),
  repository: z.looseObject({ default_branch: z.string().min(1) }),
});

interface WorkflowRunFailure {
  ci: RecoveryCi;
  defaultBranch: string;
}

function ciFromEvent(ctx: JobContext): WorkflowRunFailure {
  const parsed = WorkflowRunEventSchema.safeParse(ctx.payload);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const why = ctx.payloadProblem ?? `${issue?.path.join(".") || "(root)"}: ${issue?.message}`;
    throw new InputError(
      "mode: recover needs a workflow_run event or the `recovery` input; the event payload is not a " +
        `workflow run (${why})`,
    );
  }
  const run = parsed.data.workflow_run;
  return {
    defaultBranch: parsed.data.repository.default_branch,
    ci: {
      run_id: run.id,
      run_attempt: run.run_attempt,
      conclusion: run.conclusion,
      head_sha: run.head_sha,
      head_branch: run.head_branch,
      head_repo_full_name: run.head_repository?.full_name ?? null,
      ...(run.name ? { workflow_name: run.name } : {}),
      ...(run.path ? { workflow_path: run.path } : {}),
      pull_requests: run.pull_requests.map((p) => p.number),
      html_url: run.html_url ?? null,
    },
  };
}

async function defaultBranchOf(octokit: SwitchyardOctokitClient, ctx: JobContext): Promise<string> {
  if (ctx.defaultBranch !== null) return ctx.defaultBranch;
  return (await octokit.rest.repos.get({ owner: ctx.owner, repo: ctx.repo })).data.default_branch;
}

function fixProgress(): (p: FixProgress) => void {
  let open = false;
  return (p) => {
    switch (p.type) {
      case "fixer_started":
        core.startGroup(`Fixer: ${p.tool}`);
        open = true;
        break;
      case "fixer_output":
        process.stdout.write(p.text);
        break;
      case "fixer_finished":
        if (open) core.endGroup();
        open = false;
        core.info(`${p.run.tool}: ${p.run.status} - ${p.run.reason}`);
        break;
      case "ai_progress":
        if (p.progress.type === "tool_output") process.stdout.write(p.progress.text);
        else if (p.progress.type === "attempt_finished") {
          core.info(
            `${p.progress.attempt.tool}: ${p.progress.attempt.outcome} - ${p.progress.attempt.reason}`,
          );
        }
        break;
    }
  };
}

/** Everything one rung needs besides the action. */
interface RungInput {
  octokit: SwitchyardOctokitClient;
  ctx: JobContext;
  config: Config;
  env: NodeJS.ProcessEnv;
  context: RecoveryFixContext;
  evidence: Evidence | null;
  classification: Classification | null;
  defaultBranch: string;
  failedRunUrl: string | null;
  now: () => number;
  secrets: string[];
  /** false: leave a fixed patch in the work tree for the bundle (deliver: artifact). */
  deliver?: boolean;
}

interface RungOutcome {
  fix: RecoveryFixResult;
  delivery: DeliveryResult | null;
  /** The step result for the ladder; null when the run was cancelled (nothing is reported). */
  step: { result: "committed" | "no_fix" | "unavailable"; commit_sha?: string; reason: string } | null;
}

/** Runs a fixers or AI rung on the checkout and delivers what it made. */
async function runRung(action: FixAction, r: RungInput): Promise<RungOutcome> {
  if (action.kind === "run_ai" && r.evidence === null) {
    const reason = "the failed run's evidence could not be read, and an AI tool is never run without it";
    return {
      fix: emptyFix(action, reason),
      delivery: null,
      step: { result: "unavailable", reason },
    };
  }
  const fix = await runRecoveryFix({
    action,
    context: r.context,
    config: r.config,
    evidence: r.evidence,
    classification: r.classification,
    checkout: r.ctx.workspace,
    env: r.env,
    tempDir: r.ctx.tempDir,
    runId: r.ctx.runId,
    now: r.now,
    secrets: r.secrets,
    onProgress: fixProgress(),
  });
  if (fix.result === "cancelled") return { fix, delivery: null, step: null };
  if (fix.result !== "fixed" || r.deliver === false)
    return {
      fix,
      delivery: null,
      step: { result: fix.result === "fixed" ? "no_fix" : fix.result, reason: fix.reason },
    };
  const delivery = await deliverFix({
    octokit: r.octokit,
    owner: r.ctx.owner,
    repo: r.ctx.repo,
    context: r.context,
    fix,
    config: r.config,
    defaultBranch: r.defaultBranch,
    blobs: new GitBlobReader(new GitCommandManager(r.ctx.workspace)),
    runId: r.ctx.runId,
    evidence: r.evidence,
    classification: r.classification,
    failedRunUrl: r.failedRunUrl,
    runUrl: r.ctx.runUrl,
  });
  if (!delivery.ok) {
    return {
      fix,
      delivery,
      step: { result: "no_fix", reason: `the fix could not land: ${delivery.reason}` },
    };
  }
  const where = delivery.pr ? `fix PR #${delivery.pr.number}` : delivery.branch;
  return {
    fix,
    delivery,
    step: {
      result: "committed",
      commit_sha: delivery.commit_sha,
      reason: `${fix.reason}; committed ${delivery.commit_sha.slice(0, 12)} (${where})`,
    },
  };
}

function emptyFix(action: FixAction, reason: string): RecoveryFixResult {
  return {
    step: action.kind === "run_ai" ? "ai" : "mechanical",
    result: "unavailable",
    reason,
    tools: action.kind === "run_ai" ? [action.tool] : action.tools,
    patch: null,
    fixers: [],
    execution: null,
    evidenceFile: null,
  };
}

/** Masks every key a tool of the rung could receive, before any tool prints anything. */
function maskSecrets(config: Config, env: NodeJS.ProcessEnv, token: string): string[] {
  const secrets = new Set<string>([token]);
  for (const profile of config.tools) for (const s of toolSecrets(profile, env)) secrets.add(s);
  for (const s of secrets) core.setSecret(s);
  return [...secrets];
}

export async function recoverMode(
  options: RecoverOptions,
  env: NodeJS.ProcessEnv,
  deps: RecoverDeps = {},
): Promise<RecoverOutcome> {
  if (typeof options.githubToken !== "string" || options.githubToken.trim() === "") {
    throw new InputError(
      "github-token is empty; pass a token that may write contents, pull requests and checks",
    );
  }
  if (options.configPath !== undefined && options.configPath !== REPO_CONFIG_PATH) {
    throw new InputError(
      `config-path is "${options.configPath}", but mode recover reads ${REPO_CONFIG_PATH} from the default ` +
        "branch through the API, as the app does (the checkout is the failing commit, whose file a pull " +
        "request may have changed); leave config-path unset",
    );
  }
  const now = deps.now ?? Date.now;
  const job = await readJobContext(env, { workspace: "required" });
  const ctx: JobContext = { ...job, runId: job.runKey ?? ulid() };
  // What to recover is checked before any request: a bad input costs nothing.
  const wayIn: { dispatch: RecoveryDispatch } | { failure: WorkflowRunFailure } =
    options.recovery !== undefined && options.recovery.trim() !== ""
      ? { dispatch: parseRecoveryDispatch(options.recovery) }
      : { failure: ciFromEvent(ctx) };
  const deliver = options.deliver ?? "commit";
  if (deliver === "artifact" && "failure" in wayIn) {
    throw new InputError(
      "deliver: artifact is for the app's dispatch (the `recovery` input): nothing would read the bundle " +
        "of a workflow_run job; use deliver: commit there",
    );
  }
  // The app matches the bundle to the run GitHub reports, so it needs this job's run id.
  if (deliver === "artifact" && ctx.run === null) {
    throw new InputError(
      "deliver: artifact needs GITHUB_RUN_ID and GITHUB_RUN_ATTEMPT: run it as a step of a GitHub Actions job",
    );
  }
  const octokit = createOctokit({
    auth: options.githubToken,
    env,
    log: { debug: core.debug, info: core.debug, warn: core.warning, error: core.debug },
    ...deps.octokit,
  });
  const config = await defaultBranchConfig(octokit, ctx);
  const secrets = maskSecrets(config, env, options.githubToken);
  const author = options.stateAuthor ?? DEFAULT_AUTHOR;
  const shared: Shared = { octokit, ctx, config, env, now, secrets, author };
  const outcome =
    "dispatch" in wayIn
      ? await fromDispatch(wayIn.dispatch, shared, deliver)
      : await fromWorkflowRun({
          ...shared,
          failure: wayIn.failure,
          identity: options.identity ?? DEFAULT_IDENTITY,
        });

  if (env.GITHUB_STEP_SUMMARY) await core.summary.addRaw(outcome.summary).write();
  if (outcome.artifactPath !== undefined) core.setOutput("artifact-path", outcome.artifactPath);
  core.setOutput("recovery-action", outcome.action?.kind ?? "");
  core.setOutput("recovery-result", outcome.fix?.result ?? "");
  core.setOutput("fix-commit", outcome.delivery?.ok ? outcome.delivery.commit_sha : "");
  core.setOutput("fix-branch", outcome.delivery?.ok ? outcome.delivery.branch : "");
  core.setOutput(
    "fix-pr-number",
    outcome.delivery?.ok && outcome.delivery.pr ? String(outcome.delivery.pr.number) : "",
  );
  return outcome;
}

/** The repository's configuration as the app reads it: the default branch's file over the defaults. */
async function defaultBranchConfig(octokit: SwitchyardOctokitClient, ctx: JobContext): Promise<Config> {
  const loaded = await loadRepoConfig(octokit, { owner: ctx.owner, repo: ctx.repo });
  if (!loaded.ok) throw loaded.error;
  core.info(
    loaded.source === null
      ? "Configuration: Switchyard's defaults (no .github/switchyard.yml on the default branch)"
      : `Configuration: ${loaded.source.file} from the default branch, over Switchyard's defaults`,
  );
  return loaded.loaded.config;
}

interface Shared {
  octokit: SwitchyardOctokitClient;
  ctx: JobContext;
  config: Config;
  env: NodeJS.ProcessEnv;
  now: () => number;
  secrets: string[];
  author: StateAuthor;
}

async function fromDispatch(
  dispatch: RecoveryDispatch,
  s: Shared,
  deliver: "commit" | "artifact",
): Promise<RecoverOutcome> {
  const { octokit, ctx, config } = s;
  const defaultBranch = await defaultBranchOf(octokit, ctx);
  core.info(`Recovery ${dispatch.key}, attempt ${dispatch.attempt}: ${describe(dispatch.action)}`);
  const gathered = await gatherRunEvidence(octokit, {
    owner: ctx.owner,
    repo: ctx.repo,
    run_id: dispatch.run_id,
    rules: compileRules(config.recovery.rules),
  });
  for (const gap of gathered.gaps) core.warning(gap);
  const classification = classify(gathered.evidence, { rules: compileRules(config.recovery.rules) });
  const context: RecoveryFixContext = {
    key: dispatch.key,
    run_id: dispatch.run_id,
    head_sha: dispatch.head_sha,
    head_ref: dispatch.head_ref,
    pr_number: dispatch.pr_number,
    category: dispatch.category,
    signature: classification.signature.slice(0, 300),
    attempt: dispatch.attempt,
  };
  const rung = await runRung(dispatch.action, {
    octokit,
    ctx,
    config,
    env: s.env,
    context,
    evidence: gathered.evidence,
    classification,
    defaultBranch,
    failedRunUrl: runPageUrl(ctx, dispatch.run_id),
    now: s.now,
    secrets: s.secrets,
    deliver: deliver === "commit",
  });
  if (deliver === "artifact") {
    const dir = path.join(ctx.tempDir, "switchyard-fix");
    await writeFixBundle(dir, ctx, dispatch, rung.fix);
    core.info(`The fix bundle is in ${dir}; upload it as the ${FIX_ARTIFACT_NAME} artifact.`);
    return {
      via: "dispatch",
      action: dispatch.action,
      next: null,
      fix: rung.fix,
      delivery: null,
      recorded: null,
      artifactPath: dir,
      summary: renderSummary(dispatch.key, [rung], null, null),
      failed: null,
    };
  }
  let recorded: RecoveryOutcome | null = null;
  if (rung.step !== null) {
    recorded = await reportStepResult(octokit, {
      owner: ctx.owner,
      repo: ctx.repo,
      default_branch: defaultBranch,
      dispatch,
      ...rung.step,
      config,
      author: s.author,
      now: new Date(s.now()).toISOString(),
    });
  }
  return {
    via: "dispatch",
    action: dispatch.action,
    next: recorded?.action ?? null,
    fix: rung.fix,
    delivery: rung.delivery,
    recorded,
    summary: renderSummary(dispatch.key, [rung], recorded, null),
    failed: recorded?.problem
      ? `Switchyard could not take the recovery's next step: ${recorded.problem}`
      : null,
  };
}

async function fromWorkflowRun(
  s: Shared & { failure: WorkflowRunFailure; identity: SwitchyardIdentity },
): Promise<RecoverOutcome> {
  const { octokit, ctx, config } = s;
  const { ci, defaultBranch } = s.failure;
  const nowIso = () => new Date(s.now()).toISOString();
  const plan = await planRecovery(octokit, {
    owner: ctx.owner,
    repo: ctx.repo,
    default_branch: defaultBranch,
    ci,
    config,
    identity: s.identity,
    author: s.author,
    now: nowIso(),
  });
  if (plan.kind !== "decided") {
    const recorded = await recordRecovery(octokit, plan, { config, now: nowIso() });
    const why = plan.reason;
    core.info(`No recovery: ${why}`);
    return {
      via: "workflow_run",
      action: null,
      next: null,
      fix: null,
      delivery: null,
      recorded,
      summary: renderSummary(plan.kind === "ignored" ? null : plan.target.key, [], recorded, why),
      failed: null,
    };
  }

  const t = plan.target;
  let result: LadderResult = plan.result;
  const entries: LadderEntry[] = [...result.entries];
  const done: string[] = [];
  const rungs: RungOutcome[] = [];
  const advance = (event: Parameters<typeof nextAction>[1]["event"]) => {
    result = nextAction(result.state, { key: t.key, event, now: nowIso(), config });
    entries.push(...result.entries);
  };
  let last: LadderAction | null = null;
  for (let step = 0; step < MAX_RUNGS_PER_JOB + 1; step++) {
    const action = result.action;
    if (action.kind === "rerun_failed_jobs") {
      last = action;
      const rerun = await rerunFailedJobs(octokit, { owner: t.owner, repo: t.repo, run_id: t.ci.run_id });
      if (rerun.ok) {
        done.push(`reran the failed jobs of run ${t.ci.run_id}`);
        break;
      }
      done.push(`could not rerun run ${t.ci.run_id}: ${rerun.reason}`);
      advance({ kind: "step_result", result: "unavailable", reason: rerun.reason.slice(0, 2000) });
      continue;
    }
    if (action.kind !== "run_fixers" && action.kind !== "run_ai") break;
    if (rungs.length >= MAX_RUNGS_PER_JOB) {
      done.push(`left ${describe(action)} for the next run: ${MAX_RUNGS_PER_JOB} rungs ran in this job`);
      break;
    }
    last = action;
    const state = result.state!;
    const rung = await runRung(action, {
      octokit,
      ctx,
      config,
      env: s.env,
      context: {
        key: t.key,
        run_id: t.ci.run_id,
        head_sha: t.head_sha,
        head_ref: t.head_branch,
        pr_number: t.pr?.number ?? null,
        category: state.category,
        ...(state.signature ? { signature: state.signature } : {}),
        attempt: Math.max(1, state.attempts),
      },
      evidence: plan.evidence,
      classification: plan.classification,
      defaultBranch,
      failedRunUrl: t.ci.html_url ?? runPageUrl(ctx, t.ci.run_id),
      now: s.now,
      secrets: s.secrets,
    });
    rungs.push(rung);
    if (rung.step === null) break;
    done.push(`${describe(action)}: ${rung.step.result}`);
    advance({
      kind: "step_result",
      result: rung.step.result,
      ...(action.kind === "run_ai" ? { tool: action.tool } : { tools: action.tools }),
      ...(rung.step.commit_sha !== undefined ? { commit_sha: rung.step.commit_sha } : {}),
      reason: rung.step.reason.slice(0, 2000),
    });
  }
  const recorded = await recordRecovery(
    octokit,
    { ...plan, result: { ...result, entries } },
    { config, now: nowIso(), done },
  );
  const lastRung = rungs.at(-1) ?? null;
  return {
    via: "workflow_run",
    action: last,
    next: result.action,
    fix: lastRung?.fix ?? null,
    delivery: rungs.findLast((r) => r.delivery !== null)?.delivery ?? null,
    recorded,
    summary: renderSummary(t.key, rungs, recorded, null),
    failed: null,
  };
}

function describe(action: LadderAction): string {
  switch (action.kind) {
    case "run_fixers":
      return `fixers ${action.tools.join(", ")}`;
    case "run_ai":
      return `AI tool ${action.tool}`;
    case "rerun_failed_jobs":
      return "rerun of the failed jobs";
    default:
      return action.kind;
  }
}

/** The job summary: what ran, what came of it, what the ladder does next. */
function renderSummary(
  key: string | null,
  rungs: RungOutcome[],
  recorded: RecoveryOutcome | null,
  skipped: string | null,
): string {
  const lines = [`## Switchyard recovery${key ? ` of \`${key}\`` : ""}`, ""];
  if (skipped !== null) lines.push(`Nothing ran: ${skipped}`, "");
  for (const r of rungs) {
    lines.push(
      `### ${r.fix.step === "ai" ? `AI tool ${r.fix.tools[0]}` : `Fixers ${r.fix.tools.join(", ")}`}`,
      "",
    );
    lines.push(`**${r.fix.result}**: ${r.fix.reason}`, "");
    for (const f of r.fix.fixers) lines.push(`- ${f.tool}: ${f.status}: ${f.reason}`);
    if (r.fix.fixers.length > 0) lines.push("");
    if (r.delivery?.ok) {
      const where = r.delivery.pr
        ? `[fix PR #${r.delivery.pr.number}](${r.delivery.pr.url})`
        : `\`${r.delivery.branch}\``;
      lines.push(`Committed ${r.delivery.commit_sha.slice(0, 12)} to ${where}.`, "");
    } else if (r.delivery) lines.push(`Not committed: ${r.delivery.reason}`, "");
  }
  if (recorded) {
    for (const d of recorded.done) lines.push(`- ${d}`);
    if (recorded.problem) lines.push("", `**Problem:** ${recorded.problem}`);
  }
  lines.push("");
  return lines.join("\n");
}

/**
 * The fix bundle as files under `dir`: the step's result for the ladder and, when fixed, the patch
 * with every blob it writes, read from the checkout's object database where the capture put them.
 * A cancelled run writes no bundle: the app records the run's own conclusion instead.
 */
async function writeFixBundle(
  dir: string,
  ctx: JobContext,
  dispatch: RecoveryDispatch,
  fix: RecoveryFixResult,
): Promise<void> {
  if (fix.result === "cancelled") return;
  const parts = await bundleParts(
    new GitCommandManager(ctx.workspace),
    fix.result === "fixed" ? fix.patch : null,
  );
  const files = fixBundleFiles({
    manifest: {
      version: FIX_BUNDLE_VERSION,
      kind: "recovery",
      key: dispatch.key,
      run_id: ctx.run!.id,
      run_attempt: ctx.run!.attempt,
      failed_run_id: dispatch.run_id,
      head_sha: dispatch.head_sha,
      attempt: dispatch.attempt,
      action: dispatch.action,
      category: dispatch.category,
      result: fix.result,
      reason: fix.reason.slice(0, 2000) || fix.result,
      fixers: fix.fixers.map((f) => ({ ...f, reason: f.reason.slice(0, 2000) })),
      patch: parts.patch,
    },
    diff: parts.diff,
    blobs: parts.blobs,
  });
  await writeBundleDir(dir, files);
}
