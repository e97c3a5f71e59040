import { ulid } from "ulid";
import { z } from "zod";
import type { Config } from "../config/schema.js";
import { InputError } from "../core/errors.js";
import type { SwitchyardEvent } from "../core/events/schema.js";
import { classify } from "../core/recovery/classify.js";
import {
  evaluateGuards,
  QUARANTINE_LABEL,
  recoveryTrailer,
  type GuardEvent,
  type GuardName,
  type GuardVerdict,
  type RecentCommit,
  type SwitchyardIdentity,
} from "../core/recovery/guards.js";
import {
  LadderCategorySchema,
  LadderStateSchema,
  nextAction,
  recoveryKey,
  RecoveryKeySchema,
  settleSuggestion,
  MAX_FIXERS,
  type LadderAction,
  type LadderDispatch,
  type LadderEntry,
  type LadderEvent,
  type LadderResult,
  type LadderState,
  type ToolAvailability,
  type ToolCircuit,
} from "../core/recovery/ladder.js";
import { renderEvidence } from "../core/recovery/render.js";
import {
  recoveryTitle,
  renderQuarantineAlert,
  renderRecoveryComment,
  renderRecoverySummary,
  type RecoveryReport,
} from "../core/recovery/report.js";
import { compileRules } from "../core/recovery/rules.js";
import type { Classification, Evidence } from "../core/recovery/schema.js";
import { readMarker, replaceMarker } from "../core/status-marker.js";
import { CHECK_OUTPUT_LIMIT, upsertCheckRun, type CheckRunConclusion } from "./check-runs.js";
import { workflowId } from "./dispatch.js";
import { GitHubApiError, apiErrorText, gitHubApiError, statusOf } from "./errors.js";
import { gatherRunEvidence, type FailedJob } from "./failed-run-evidence.js";
import type { GitHubClient } from "./octokit.js";
import { sameShaHistory } from "./same-sha-history.js";
import { cutAt } from "./pull-request.js";

/**
 * Failure recovery on GitHub, for both doors: the app (src/app/recover-run.ts, on
 * workflow_run / check_suite events) and the Action's `mode: recover` (which runs the fixers and
 * AI tools the app dispatched, then reports back with `reportStepResult`).
 *
 *   planRecovery   read what is needed (the PR, the stored ladder state, the branch's latest
 *                  commits, the run's evidence), run the guards, classify, ask the ladder.
 *   applyRecovery  carry the ladder's action out (rerun the failed jobs, dispatch the recover
 *                  workflow, quarantine), then recordRecovery.
 *   recordRecovery the switchyard/recover check run on the failing head, the PR's recovery status
 *                  comment with its marker, and on quarantine the label and the alert.
 *
 * Where the ladder state lives: in the PR's recovery status comment (one per PR, found by its
 * switchyard:recovery marker and its author). A failure on the default branch has no PR: its
 * state rides in the switchyard/recover check run of the failing head, so there the attempt cap
 * counts per head, not across pushes (the loop guard and the cool-down still hold).
 *
 * Nothing here throws for a reason a run could cause (gone logs, odd payloads, refused reruns):
 * those are reported. What throws is a GitHubApiError for the API failing on Switchyard itself
 * (the caller logs it), or an InputError for a malformed input from the caller.
 */

export const RECOVER_CHECK = "switchyard/recover";

const ShaSchema = z
  .string()
  .regex(/^[0-9a-f]{40}(?:[0-9a-f]{24})?$/, "a full commit SHA (40 or 64 hex digits)");
const NameSchema = z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, "a tool name");
const RepoNameSchema = z
  .string()
  .max(200)
  .regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, "a repository's full name (owner/name)");

/** The ladder actions the recover workflow carries out. */
export const DispatchedActionSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("run_fixers"), tools: z.array(NameSchema).min(1).max(MAX_FIXERS) }),
  z.strictObject({ kind: z.literal("run_ai"), tool: NameSchema }),
]);
export type DispatchedAction = z.infer<typeof DispatchedActionSchema>;

/**
 * The `recovery` input of the recover workflow (workflow_dispatch), as JSON. `key` names the
 * recovery (and its status comment's PR); `head_sha` is the failing commit the fix must be made
 * on top of (refuse to push if `head_ref` moved past it); `attempt` counts this PR's attempts.
 *
 * `suggest` (with `head_repository`, the fork's full name) marks a fork's suggestion step
 * (recovery.fork_suggestions): the workflow checks out the fork's head, runs the fixers with no
 * secrets and a read-only token, and the app posts their diff on the PR instead of committing it.
 * Only fixers are ever suggested, so a suggestion with an AI tool is refused here.
 */
export const RecoveryDispatchSchema = z
  .strictObject({
    key: RecoveryKeySchema,
    run_id: z.number().int().positive(),
    head_sha: ShaSchema,
    head_ref: z.string().min(1).max(255),
    pr_number: z.number().int().positive().nullable(),
    base_ref: z.string().min(1).max(255),
    action: DispatchedActionSchema,
    category: LadderCategorySchema,
    attempt: z.number().int().min(1).max(1000),
    suggest: z.literal(true).optional(),
    head_repository: RepoNameSchema.optional(),
  })
  .superRefine((d, ctx) => {
    if (d.suggest === true && d.action.kind !== "run_fixers") {
      ctx.addIssue({ code: "custom", path: ["action"], message: "a fork's suggestion runs fixers only" });
    }
    if ((d.suggest === true) !== (d.head_repository !== undefined)) {
      ctx.addIssue({
        code: "custom",
        path: ["head_repository"],
        message: "a suggestion names the fork's repository, and only a suggestion does",
      });
    }
  });
export type RecoveryDispatch = z.infer<typeof RecoveryDispatchSchema>;

/** Parses the workflow's `recovery` input; InputError with the first problem named otherwise. */
export function parseRecoveryDispatch(json: string): RecoveryDispatch {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new InputError(
      "The recovery input is not JSON: the recover workflow is dispatched by Switchyard with a `recovery` input; run it from there, not by hand.",
    );
  }
  const parsed = RecoveryDispatchSchema.safeParse(value);
  if (!parsed.success) {
    throw new InputError(`The recovery input is not valid: ${firstIssue(parsed.error)}`);
  }
  return parsed.data;
}

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

export interface PlanRecoveryInput {
  owner: string;
  repo: string;
  default_branch: string;
  ci: RecoveryCi;
  config: Config;
  identity: SwitchyardIdentity;
  author: StateAuthor;
  /** ISO time of the decision. */
  now: string;
  circuit?: (tool: string) => ToolCircuit;
  available?: (tool: string) => ToolAvailability;
  /** Cap on the evidence's kept text (default 64 KiB). */
  maxEvidenceBytes?: number;
}

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

export type GuardReport = { guard: GuardName; verdict: GuardVerdict }[];

export type RecoveryPlan =
  /** Not Switchyard's to look at (a passed run with nothing in progress, another app's suite, …). */
  | { kind: "ignored"; reason: string }
  /** The stored state is there but cannot be read: nothing runs automatically. */
  | { kind: "unreadable"; target: RecoveryTarget; reason: string }
  /** A guard stopped the recovery; `quarantine`: say that Switchyard gave up. */
  | {
      kind: "rejected";
      target: RecoveryTarget;
      guards: GuardReport;
      guard: GuardName;
      reason: string;
      quarantine: boolean;
    }
  | {
      kind: "decided";
      target: RecoveryTarget;
      guards: GuardReport | null;
      evidence: Evidence | null;
      gaps: string[];
      failed_jobs: FailedJob[];
      classification: Classification | null;
      result: LadderResult;
      /**
       * A fork's head (recovery.fork_suggestions): the fixers run on the fork's code without
       * secrets and their diff is posted, never committed.
       */
      suggest?: { head_repository: string };
    };

const CiSchema = z.strictObject({
  run_id: z.number().int().positive(),
  run_attempt: z.number().int().min(1),
  conclusion: z.string().nullable(),
  head_sha: ShaSchema,
  head_branch: z.string().min(1).max(255),
  head_repo_full_name: z.string().nullable(),
  workflow_name: z.string().optional(),
  workflow_path: z.string().optional(),
  app_slug: z.string().optional(),
  pull_requests: z.array(z.number().int().positive()).max(100),
  html_url: z.string().nullish(),
});

const PlanInputSchema = z.object({
  owner: z.string().min(1),
  repo: z.string().min(1),
  default_branch: z.string().min(1),
  ci: CiSchema,
  now: z.string().datetime({ offset: true }),
});

/** The guards that say whether an event is Switchyard's to look at at all. */
const SCOPE_GUARDS: readonly GuardName[] = ["disabled", "not_failed", "own_workflow", "not_watched"];

export async function planRecovery(octokit: GitHubClient, input: PlanRecoveryInput): Promise<RecoveryPlan> {
  const parsed = PlanInputSchema.safeParse(input);
  if (!parsed.success) throw new InputError(`Cannot plan the recovery: ${firstIssue(parsed.error)}`);
  const ci = parsed.data.ci as RecoveryCi;
  const { owner, repo, default_branch } = parsed.data;
  const base = `${owner}/${repo}`;
  const passed = ci.conclusion === "success";

  // Guards 1-4 need nothing from GitHub: an unrelated run costs no request.
  const scope = evaluateGuards({
    event: guardEvent(ci, base, null),
    recent_commits: [],
    state: null,
    in_flight: false,
    config: input.config,
    now: input.now,
    identity: input.identity,
  }).find((g) => SCOPE_GUARDS.includes(g.guard) && !g.verdict.ok);
  if (scope && !(passed && scope.guard === "not_failed")) {
    return { kind: "ignored", reason: (scope.verdict as { reason: string }).reason };
  }

  const located = await locate(octokit, owner, repo, default_branch, ci, input.config);
  if ("ignored" in located) return { kind: "ignored", reason: located.ignored };
  const { pr, key } = located;
  const stored = await readState(octokit, {
    owner,
    repo,
    key,
    pr,
    head_sha: ci.head_sha,
    author: input.author,
  });
  const target: RecoveryTarget = {
    owner,
    repo,
    key,
    head_sha: ci.head_sha,
    head_branch: ci.head_branch,
    default_branch,
    pr,
    ci,
    ci_id: `${ci.run_id}:${ci.run_attempt}`,
    comment: stored.comment,
    state: stored.state,
  };
  if (stored.problem !== null) return { kind: "unreadable", target, reason: stored.problem };
  const step = (from: LadderState | null, event: LadderEvent) =>
    nextAction(from, {
      key,
      event,
      now: input.now,
      config: input.config,
      circuit: input.circuit,
      available: input.available,
    });

  // The rerun's verdict is the rerun run's, not another workflow's that failed on the same head.
  const rerunOf = awaitedRerun(stored.state, ci.head_sha);
  if (rerunOf !== null && (ci.run_id !== rerunOf.run_id || ci.run_attempt <= rerunOf.attempt)) {
    return {
      kind: "ignored",
      reason: `waiting for the rerun of run ${rerunOf.run_id} on ${short(ci.head_sha)}`,
    };
  }

  // The commits are needed by the loop guard, and to recognise a fix whose job did not report.
  const fixing = stored.state?.pending === "tool" && stored.state.head_sha !== ci.head_sha;
  const commits =
    !passed || fixing
      ? await recentCommits(
          octokit,
          owner,
          repo,
          ci.head_sha,
          Math.max(2, input.config.recovery.loop_guard_commits),
        )
      : [];
  const landed = fixing ? fixLanded(stored.state!, commits, key) : null;
  const state = landed ? step(stored.state, landed).state : stored.state;
  const before = landed ? step(stored.state, landed).entries : [];
  const ladder = (event: LadderEvent): LadderResult => {
    const result = step(state, event);
    return before.length === 0
      ? result
      : { ...result, entries: [...before, ...result.entries], changed: true };
  };

  if (passed) {
    if (state === null || state.pending === null) {
      return { kind: "ignored", reason: "CI passed, and no recovery is in progress" };
    }
    const pending = await otherRunsPending(octokit, owner, repo, ci, input.config);
    if (pending !== null) return { kind: "ignored", reason: pending };
    return {
      kind: "decided",
      target,
      guards: null,
      evidence: null,
      gaps: [],
      failed_jobs: [],
      classification: null,
      result: ladder({ kind: "passed", head_sha: ci.head_sha, ci_id: target.ci_id }),
    };
  }

  const guards = evaluateGuards({
    event: guardEvent(ci, base, pr),
    recent_commits: commits.map(({ parent: _parent, ...c }) => c),
    state,
    in_flight: inFlight(state, ci.head_sha, input.now, input.config),
    config: input.config,
    now: input.now,
    identity: input.identity,
  });
  const rejected = guards.find((g) => !g.verdict.ok);
  // A fork's head may still get a suggestion: every other guard must pass, and only once per head.
  const suggestFrom =
    rejected?.guard === "fork" &&
    !rejected.verdict.ok &&
    rejected.verdict.suggest_patch_comment === true &&
    pr !== null &&
    ci.head_repo_full_name !== null &&
    guards.every((g) => g.guard === "fork" || g.verdict.ok)
      ? suggestionRefused(state, ci.head_sha)
      : undefined;
  if (rejected && !rejected.verdict.ok && suggestFrom !== null) {
    if (suggestFrom !== undefined) {
      return forkRejection(target, guards, `${rejected.verdict.reason}; ${suggestFrom}`);
    }
    // A second failing workflow of a head whose fix is running: the fix's own verdict decides.
    if (rejected.guard === "in_flight") return { kind: "ignored", reason: rejected.verdict.reason };
    return {
      kind: "rejected",
      target,
      guards,
      guard: rejected.guard,
      reason: rejected.verdict.reason,
      quarantine: rejected.verdict.quarantine === true,
    };
  }

  const rules = compileRules(input.config.recovery.rules);
  const gathered = await gatherRunEvidence(octokit, {
    owner,
    repo,
    run_id: ci.run_id,
    rules,
    ...(input.maxEvidenceBytes !== undefined ? { maxBytes: input.maxEvidenceBytes } : {}),
  });
  // Flaky is a fact about history, not about one log: the same job passing on this commit.
  const past = await sameShaHistory(octokit, {
    owner,
    repo,
    run_id: ci.run_id,
    run_attempt: ci.run_attempt,
    head_sha: ci.head_sha,
    workflow_path: ci.workflow_path,
    failed_jobs: gathered.failed_jobs.map((j) => j.name),
  });
  const classification = classify(gathered.evidence, { rules, history: past.history });
  if (past.note !== null) classification.reason = `${classification.reason}; ${past.note}`;
  const gaps = past.gap === null ? gathered.gaps : [...gathered.gaps, past.gap];
  const result = ladder({
    kind: "failed",
    head_sha: ci.head_sha,
    category: classification.category,
    signature: classification.signature.slice(0, 300),
    ci_id: target.ci_id,
  });
  if (suggestFrom === null) {
    // Only the mechanical rung is ever offered to a fork: a rerun, an AI tool or a quarantine is not.
    const fork = guards.find((g) => g.guard === "fork")!.verdict as { reason: string };
    const category = classification.category;
    const why =
      !SUGGESTED_CATEGORIES.includes(category) ||
      (input.config.recovery.mechanical[category]?.length ?? 0) === 0
        ? `a ${category} failure has no mechanical fixers to suggest`
        : result.action.kind !== "run_fixers"
          ? `the fixers cannot run now (${"reason" in result.action ? result.action.reason : result.action.kind})`
          : null;
    if (why !== null) return forkRejection(target, guards, `${fork.reason}; no suggestion: ${why}`);
  }
  return {
    kind: "decided",
    target,
    guards,
    evidence: gathered.evidence,
    gaps,
    failed_jobs: gathered.failed_jobs,
    classification,
    result,
    ...(suggestFrom === null ? { suggest: { head_repository: ci.head_repo_full_name! } } : {}),
  };
}

/** The fork guard's skip, with the reason saying why no suggestion is made either. */
function forkRejection(target: RecoveryTarget, guards: GuardReport, reason: string): RecoveryPlan {
  return {
    kind: "rejected",
    target,
    guards: guards.map((g) =>
      g.guard === "fork" && !g.verdict.ok ? { ...g, verdict: { ...g.verdict, reason } } : g,
    ),
    guard: "fork",
    reason,
    quarantine: false,
  };
}

/** The categories a fork may get a suggestion for: those with mechanical fixers. */
const SUGGESTED_CATEGORIES: readonly string[] = ["format", "lint"];

/**
 * Why a fork's head gets no suggestion from the stored state (null: it may get one). Once per
 * head: a step already recorded on this head (running, or settled) is the head's only one.
 */
function suggestionRefused(state: LadderState | null, head: string): string | null {
  if (state === null) return null;
  if (state.head_sha === head || state.history.some((e) => e.head_sha === head)) {
    return `a suggestion was already made for ${short(head)}`;
  }
  return null;
}

// --- carrying the decision out ---------------------------------------------------------------

export interface ApplyRecoveryDeps {
  config: Config;
  now: string;
  circuit?: (tool: string) => ToolCircuit;
  available?: (tool: string) => ToolAvailability;
}

export interface RecoveryOutcome {
  plan: RecoveryPlan["kind"];
  /** The ladder's last action, when the ladder was asked. */
  action: LadderAction | null;
  /** What was done on GitHub, in order, for the log. */
  done: string[];
  /** A step that could not be carried out (a refused dispatch); the state was not advanced. */
  problem: string | null;
  /** One recovery_step event per ladder entry added or settled (and per quarantine). */
  events: SwitchyardEvent[];
  state: LadderState | null;
}

/**
 * Carries a plan out and records it. A refused rerun is fed back to the ladder (which moves on);
 * a refused dispatch is reported and the state is left as it was, so no attempt is spent on a
 * workflow that is missing or misconfigured.
 */
export async function applyRecovery(
  octokit: GitHubClient,
  plan: RecoveryPlan,
  deps: ApplyRecoveryDeps,
): Promise<RecoveryOutcome> {
  if (plan.kind !== "decided") return recordRecovery(octokit, plan, { config: deps.config, now: deps.now });
  let result = plan.result;
  const entries: LadderEntry[] = [...result.entries];
  const done: string[] = [];
  let problem: string | null = null;
  const t = plan.target;
  // A refused rerun moves the ladder on at most once per call: the next rung is a dispatch.
  for (let step = 0; step < 3; step++) {
    const action = result.action;
    if (action.kind === "rerun_failed_jobs") {
      const rerun = await rerunFailedJobs(octokit, { owner: t.owner, repo: t.repo, run_id: t.ci.run_id });
      if (rerun.ok) {
        done.push(`reran the failed jobs of run ${t.ci.run_id}`);
        break;
      }
      done.push(`could not rerun run ${t.ci.run_id}: ${rerun.reason}`);
      result = nextAction(result.state, {
        key: t.key,
        event: { kind: "step_result", result: "unavailable", reason: rerun.reason.slice(0, 2000) },
        now: deps.now,
        config: deps.config,
        circuit: deps.circuit,
        available: deps.available,
      });
      entries.push(...result.entries);
      continue;
    }
    if (action.kind === "run_fixers" || action.kind === "run_ai") {
      const dispatch: RecoveryDispatch = {
        key: t.key,
        run_id: t.ci.run_id,
        head_sha: t.head_sha,
        head_ref: t.head_branch,
        pr_number: t.pr?.number ?? null,
        base_ref: t.pr?.base_ref ?? t.default_branch,
        action,
        category: result.state!.category,
        attempt: Math.max(1, result.state!.attempts),
        ...(plan.suggest && action.kind === "run_fixers"
          ? { suggest: true as const, head_repository: plan.suggest.head_repository }
          : {}),
      };
      const sent = await dispatchRecovery(octokit, {
        owner: t.owner,
        repo: t.repo,
        workflow: deps.config.recovery.workflow,
        ref: t.default_branch,
        dispatch,
      });
      if (sent.ok) {
        done.push(`dispatched ${sent.workflow_id} (${describeAction(action)})`);
        // What the app will check the recover run against when it completes (recover-complete.ts).
        const record: LadderDispatch = {
          workflow: deps.config.recovery.workflow,
          at: deps.now,
          ref: t.default_branch,
          ...(dispatch.suggest ? { suggest: true as const } : {}),
        };
        result = { ...result, state: { ...result.state!, dispatch: record } };
      } else problem = sent.reason;
    }
    break;
  }
  return recordRecovery(
    octokit,
    { ...plan, result: { ...result, entries } },
    { config: deps.config, now: deps.now, problem, done },
  );
}

export interface RecordOptions {
  config: Config;
  now: string;
  /** A step that could not be carried out: reported, and the state is not advanced. */
  problem?: string | null;
  /** What applyRecovery did, carried into the outcome. */
  done?: string[];
}

/**
 * Writes a plan's result where people look: the switchyard/recover check run on the failing
 * head, the PR's recovery status comment with the ladder state in its marker, and for a
 * quarantine the label and the alert comment (once). An ignored plan writes nothing.
 */
export async function recordRecovery(
  octokit: GitHubClient,
  plan: RecoveryPlan,
  options: RecordOptions,
): Promise<RecoveryOutcome> {
  const done = [...(options.done ?? [])];
  const problem = options.problem ?? null;
  if (plan.kind === "ignored") {
    return { plan: plan.kind, action: null, done, problem: null, events: [], state: null };
  }
  const t = plan.target;
  const max = options.config.recovery.max_attempts;
  const run = {
    id: t.ci.run_id,
    html_url: t.ci.html_url ?? null,
    ...(t.ci.workflow_name ? { workflow: t.ci.workflow_name } : {}),
  };

  if (plan.kind === "unreadable") {
    const summary =
      `The recovery state stored for ${t.key} cannot be read (${plan.reason}), so nothing runs ` +
      "automatically: reading it as empty would hand out a fresh budget of attempts. Comment " +
      "`/switchyard retry` to start over.";
    await checkRun(octokit, t, {
      conclusion: "neutral",
      title: "Recovery state unreadable",
      summary,
      now: options.now,
    });
    done.push("reported the unreadable recovery state");
    return { plan: plan.kind, action: null, done, problem: null, events: [], state: t.state };
  }

  if (plan.kind === "rejected") {
    const report: RecoveryReport = {
      key: t.key,
      head_sha: t.head_sha,
      run,
      guards: plan.guards,
      state: t.state,
      max_attempts: max,
    };
    await checkRun(octokit, t, {
      conclusion: "skipped",
      title: recoveryTitle(report),
      summary: renderRecoverySummary(report),
      now: options.now,
    });
    done.push(`reported guard ${plan.guard}`);
    const events: SwitchyardEvent[] = [];
    if (plan.quarantine && t.pr) {
      await quarantinePr(octokit, t, renderQuarantineAlert(report, plan.reason));
      done.push(`quarantined #${t.pr.number}`);
      events.push(
        stepEvent(t, options.now, {
          step: "quarantine",
          category: t.state?.category ?? "unknown",
          ok: false,
          reason: plan.reason,
        }),
      );
    }
    return { plan: plan.kind, action: null, done, problem: null, events, state: t.state };
  }

  const result = plan.result;
  const action = result.action;
  // A refused dispatch leaves the stored state alone: the attempt was never made.
  const state = problem === null ? result.state : t.state;
  const report: RecoveryReport = {
    key: t.key,
    head_sha: t.head_sha,
    run,
    ...(plan.guards ? { guards: plan.guards } : {}),
    classification: plan.classification,
    failed_jobs: plan.failed_jobs,
    gaps: plan.gaps,
    transition: result.transition,
    action,
    state,
    max_attempts: max,
    ...(problem !== null ? { problem: `the recover workflow could not be dispatched: ${problem}` } : {}),
  };
  const events = problem === null ? result.entries.map((e) => entryEvent(t, state, e)) : [];
  if (problem === null && action.kind === "quarantine") {
    events.push(
      stepEvent(t, options.now, {
        step: "quarantine",
        category: state?.category ?? "unknown",
        ok: false,
        reason: action.reason,
      }),
    );
  }
  if (action.kind === "stop" && problem === null) {
    // A duplicate, a stale result, a held quarantine: nothing changed, nothing to write.
    return {
      plan: plan.kind,
      action,
      done: [...done, `nothing to do: ${action.reason}`],
      problem,
      events,
      state,
    };
  }

  const text = plan.evidence
    ? renderEvidence(plan.evidence, plan.classification ? { classification: plan.classification } : {})
    : undefined;
  const branchMarker = t.pr === null && state !== null && problem === null ? state : undefined;
  await checkRun(octokit, t, {
    ...checkState(action, problem, t),
    title: recoveryTitle(report),
    summary: renderRecoverySummary(report),
    ...(text !== undefined ? { text } : {}),
    ...(branchMarker !== undefined ? { marker: branchMarker } : {}),
    now: options.now,
  });
  done.push(`published ${RECOVER_CHECK} on ${short(t.head_sha)}`);

  if (t.pr && state !== null && problem === null && result.changed) {
    await upsertRecoveryComment(octokit, t, renderRecoveryComment(report), state);
    done.push(`updated the recovery comment on #${t.pr.number}`);
  }
  if (t.pr && problem === null && action.kind === "quarantine") {
    await quarantinePr(octokit, t, renderQuarantineAlert(report, action.reason));
    done.push(`quarantined #${t.pr.number}`);
  }
  return { plan: plan.kind, action, done, problem, events, state };
}

// --- the recover job's report ----------------------------------------------------------------

export interface StepResultInput {
  owner: string;
  repo: string;
  default_branch: string;
  dispatch: RecoveryDispatch;
  result: "committed" | "no_fix" | "unavailable";
  commit_sha?: string;
  reason: string;
  config: Config;
  author: StateAuthor;
  now: string;
  circuit?: (tool: string) => ToolCircuit;
  available?: (tool: string) => ToolAvailability;
}

/**
 * For `mode: recover`: feeds what the fixers or the AI tool did back to the ladder and carries
 * out what comes next (a commit waits for CI; no fix moves on to the next rung, which may be
 * another dispatch or a quarantine). The state is read from where the app stored it.
 */
export async function reportStepResult(
  octokit: GitHubClient,
  input: StepResultInput,
): Promise<RecoveryOutcome> {
  const d = RecoveryDispatchSchema.safeParse(input.dispatch);
  if (!d.success) throw new InputError(`Cannot report the recovery step: dispatch: ${firstIssue(d.error)}`);
  const dispatch = d.data;
  const pr =
    dispatch.pr_number === null ? null : await readPr(octokit, input.owner, input.repo, dispatch.pr_number);
  const stored = await readState(octokit, {
    owner: input.owner,
    repo: input.repo,
    key: dispatch.key,
    pr,
    head_sha: dispatch.head_sha,
    author: input.author,
  });
  const ci: RecoveryCi = {
    run_id: dispatch.run_id,
    run_attempt: 1,
    conclusion: "failure",
    head_sha: dispatch.head_sha,
    head_branch: dispatch.head_ref,
    head_repo_full_name: `${input.owner}/${input.repo}`,
    pull_requests: dispatch.pr_number === null ? [] : [dispatch.pr_number],
  };
  const target: RecoveryTarget = {
    owner: input.owner,
    repo: input.repo,
    key: dispatch.key,
    head_sha: dispatch.head_sha,
    head_branch: dispatch.head_ref,
    default_branch: input.default_branch,
    pr,
    ci,
    ci_id: `${dispatch.run_id}:step`,
    comment: stored.comment,
    state: stored.state,
  };
  if (stored.problem !== null) {
    return recordRecovery(octokit, { kind: "unreadable", target, reason: stored.problem }, input);
  }
  const action = dispatch.action;
  const event: LadderEvent = {
    kind: "step_result",
    result: input.result,
    ...(action.kind === "run_ai" ? { tool: action.tool } : { tools: action.tools }),
    ...(input.commit_sha !== undefined ? { commit_sha: input.commit_sha } : {}),
    reason: input.reason.slice(0, 2000) || "no reason given",
  };
  const result = nextAction(stored.state, {
    key: dispatch.key,
    event,
    now: input.now,
    config: input.config,
    circuit: input.circuit,
    available: input.available,
  });
  const plan: RecoveryPlan = {
    kind: "decided",
    target,
    guards: null,
    evidence: null,
    gaps: [],
    failed_jobs: [],
    classification: null,
    result,
  };
  return applyRecovery(octokit, plan, input);
}

// --- the app's side of a dispatched step (app mode, deliver: artifact) ---------------------------

/**
 * The title the recover workflow gives a run (its `run-name`), from the dispatch's own input: the
 * runs API does not return dispatch inputs, so the title is how the app ties a completed run to
 * the recovery, the attempt and the failing head it dispatched it for. Keep the two in step:
 * .github/workflows/switchyard-recover.yml spells the same text with fromJSON(inputs.recovery).
 */
export function recoverRunTitle(d: Pick<RecoveryDispatch, "key" | "attempt" | "head_sha">): string {
  return `switchyard recover ${d.key} (attempt ${d.attempt}) at ${d.head_sha}`;
}

const RECOVER_TITLE =
  /^switchyard recover (\S+) \(attempt ([1-9]\d{0,3})\) at ([0-9a-f]{40}(?:[0-9a-f]{24})?)$/;

/** The recovery a run title names, or null for any other title (not a recover run of the app's). */
export function parseRecoverRunTitle(
  title: string | null | undefined,
): { key: string; attempt: number; head_sha: string } | null {
  const m = RECOVER_TITLE.exec(title ?? "");
  if (m === null || !RecoveryKeySchema.safeParse(m[1]).success) return null;
  return { key: m[1]!, attempt: Number(m[2]), head_sha: m[3]! };
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
    throw new InputError("Cannot load the recovery: head_sha: a full commit SHA (40 or 64 hex digits)");
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

export interface DispatchedStepInput {
  result: "committed" | "no_fix" | "unavailable";
  commit_sha?: string;
  reason: string;
  /** The recover run the app accepted for the step: recorded, so no other run can replace it. */
  run: { id: number; attempt: number };
  config: Config;
  now: string;
  circuit?: (tool: string) => ToolCircuit;
  available?: (tool: string) => ToolAvailability;
}

/**
 * The step the app dispatched has an answer (the recover run's fix bundle, or its failure): fed
 * to the ladder as the step's result, with the accepted run recorded in the state's dispatch
 * record, then carried out and recorded like any other plan (the next rung may be dispatched).
 * The step's tools are the state's own, not the run's: the run is only believed about its result.
 */
export async function finishDispatchedStep(
  octokit: GitHubClient,
  target: RecoveryTarget,
  input: DispatchedStepInput,
): Promise<RecoveryOutcome> {
  const state = target.state;
  if (state === null || state.pending !== "tool") {
    throw new InputError(`Cannot record the step of ${target.key}: no step of it is waiting for a run`);
  }
  const event: LadderEvent = {
    kind: "step_result",
    result: input.result,
    ...(state.step === "mechanical" && state.tools ? { tools: state.tools } : { tool: state.tool! }),
    ...(input.commit_sha !== undefined ? { commit_sha: input.commit_sha } : {}),
    reason: input.reason.slice(0, 2000) || "no reason given",
  };
  let result = nextAction(state, {
    key: target.key,
    event,
    now: input.now,
    config: input.config,
    circuit: input.circuit,
    available: input.available,
  });
  if (result.state !== null && state.dispatch !== undefined) {
    const accepted = { ...state.dispatch, run_id: input.run.id, run_attempt: input.run.attempt };
    result = { ...result, state: { ...result.state, dispatch: accepted } };
  }
  const plan: RecoveryPlan = {
    kind: "decided",
    target,
    guards: null,
    evidence: null,
    gaps: [],
    failed_jobs: [],
    classification: null,
    result,
  };
  return applyRecovery(octokit, plan, input);
}

export interface SuggestionInput {
  /** The recover run the app accepted for the suggestion step. */
  run: { id: number; attempt: number };
  /** Why the step ended (posted, or why there is nothing to post), for the history. */
  reason: string;
  /** The Markdown section with the fixers' diff, or null when there is none to post. */
  suggestion: string | null;
  config: Config;
  now: string;
}

/**
 * A fork's suggestion step has its answer (recover-complete.ts): never a commit. The ladder stops
 * for this head (settleSuggestion: no retry, no AI tool), and the PR's recovery status comment,
 * its one comment, is edited to carry the suggested diff under the report. The check run turns
 * neutral: the fork's author decides whether to apply it.
 */
export async function finishSuggestion(
  octokit: GitHubClient,
  target: RecoveryTarget,
  input: SuggestionInput,
): Promise<RecoveryOutcome> {
  const state = target.state;
  if (state === null || state.dispatch?.suggest !== true || target.pr === null) {
    throw new InputError(`Cannot record the suggestion of ${target.key}: no suggestion step is waiting`);
  }
  const settled = settleSuggestion(state, input.reason);
  const next: LadderState = {
    ...settled.state,
    dispatch: { ...state.dispatch, run_id: input.run.id, run_attempt: input.run.attempt },
  };
  const report: RecoveryReport = {
    key: target.key,
    head_sha: target.head_sha,
    run: { id: target.ci.run_id, html_url: target.ci.html_url ?? null },
    state: next,
    max_attempts: input.config.recovery.max_attempts,
  };
  const said = input.suggestion === null ? "No patch to suggest" : "Suggested a patch to the fork's author";
  await checkRun(octokit, target, {
    conclusion: "neutral",
    title: said,
    summary: `${input.reason}\n\n${renderRecoverySummary(report)}`,
    now: input.now,
  });
  const done = [`published ${RECOVER_CHECK} on ${short(target.head_sha)}`];
  const body = `${renderRecoveryComment(report)}\n\n${input.suggestion ?? `_${said}: ${input.reason}_`}`;
  await upsertRecoveryComment(octokit, target, body, next);
  done.push(
    input.suggestion === null
      ? `recorded that nothing was suggested on #${target.pr.number}`
      : `posted the suggested patch on #${target.pr.number}`,
  );
  return {
    plan: "decided",
    action: { kind: "stop", reason: input.reason },
    done,
    problem: null,
    events: settled.entries.map((e) => entryEvent(target, next, e)),
    state: next,
  };
}

/**
 * A run that claims to be the dispatched step's and is not (another workflow, a hand-made
 * dispatch, a fork, an older run): said on the switchyard/recover check run, which stays in
 * progress because the step still waits for its real run. The stored state is not touched (on a
 * branch it rides in the check run's text, so it is written back unchanged).
 */
export async function reportRefusedRun(
  octokit: GitHubClient,
  target: RecoveryTarget,
  input: { run_id: number; reason: string; now: string },
): Promise<void> {
  const state = target.state;
  await checkRun(octokit, target, {
    status: "in_progress",
    title: `Refused recover run ${input.run_id}`,
    summary:
      `Switchyard refused the result of run ${input.run_id}: ${input.reason}. Nothing was committed; ` +
      "the recovery still waits for the run the app dispatched.",
    ...(target.pr === null && state !== null ? { marker: state } : {}),
    now: input.now,
  });
}

// --- a person's reset -------------------------------------------------------------------------

export interface ResetRecoveryInput {
  owner: string;
  repo: string;
  pr_number: number;
  /** Who asked, for the history: "alice commented /switchyard retry". */
  reason: string;
  config: Config;
  author: StateAuthor;
  now: string;
}

export interface ResetOutcome {
  /** reset: the ladder was reset; cleared: an unreadable state was removed; none: nothing stored. */
  result: "reset" | "cleared" | "none";
  /** Whether the quarantine label was taken off. */
  unquarantined: boolean;
  /** One sentence for the reply. */
  message: string;
  state: LadderState | null;
  events: SwitchyardEvent[];
}

/**
 * `/switchyard retry` on a pull request: the ladder's `reset` (attempts back to zero, no
 * cool-down, the step in progress superseded), stored in the recovery comment, and the quarantine
 * label removed, since the quarantine alert tells people to do exactly this. An unreadable stored
 * state is deleted with its comment (the app's own), which is the only way past it. The next CI
 * failure of the PR then starts a fresh climb.
 */
export async function resetRecovery(octokit: GitHubClient, input: ResetRecoveryInput): Promise<ResetOutcome> {
  const parsed = z
    .object({
      owner: z.string().min(1),
      repo: z.string().min(1),
      pr_number: z.number().int().positive(),
      reason: z.string().min(1).max(2000),
      now: z.string().datetime({ offset: true }),
    })
    .safeParse(input);
  if (!parsed.success) throw new InputError(`Cannot reset the recovery: ${firstIssue(parsed.error)}`);
  const { owner, repo, pr_number } = parsed.data;
  const read = await readPr(octokit, owner, repo, pr_number);
  const { state: _s, head_sha, ...pr } = read;
  const key = recoveryKey({ repository: `${owner}/${repo}`, pull_request: pr_number, branch: pr.head_ref });
  const stored = await readState(octokit, { owner, repo, key, pr, head_sha, author: input.author });
  const target: RecoveryTarget = {
    owner,
    repo,
    key,
    head_sha,
    head_branch: pr.head_ref,
    default_branch: pr.base_ref,
    pr,
    ci: {
      run_id: 1,
      run_attempt: 1,
      conclusion: null,
      head_sha,
      head_branch: pr.head_ref,
      head_repo_full_name: `${owner}/${repo}`,
      pull_requests: [pr_number],
    },
    ci_id: "reset",
    comment: stored.comment,
    state: stored.state,
  };
  const unquarantined = await removeQuarantineLabel(octokit, target);
  const budget = input.config.recovery.max_attempts;
  if (stored.problem !== null && stored.comment !== null) {
    await deleteComment(octokit, target, stored.comment.id);
    return {
      result: "cleared",
      unquarantined,
      message: `the stored recovery state could not be read (${stored.problem}), so it was removed; the next CI failure starts with ${budget} attempts`,
      state: null,
      events: [],
    };
  }
  const result = nextAction(stored.state, {
    key,
    event: { kind: "reset", reason: parsed.data.reason },
    now: input.now,
    config: input.config,
  });
  if (result.state === null || !result.changed) {
    return {
      result: "none",
      unquarantined,
      message: unquarantined
        ? `no recovery state was stored; the ${QUARANTINE_LABEL} label was removed`
        : "no recovery has run on this pull request, so there was nothing to reset",
      state: null,
      events: [],
    };
  }
  const report: RecoveryReport = {
    key,
    head_sha,
    run: { id: target.ci.run_id },
    transition: result.transition,
    action: result.action,
    state: result.state,
    max_attempts: budget,
  };
  await upsertRecoveryComment(octokit, target, renderRecoveryComment(report), result.state);
  return {
    result: "reset",
    unquarantined,
    message: result.transition.reason,
    state: result.state,
    events: result.entries.map((e) => entryEvent(target, result.state, e)),
  };
}

async function removeQuarantineLabel(octokit: GitHubClient, t: RecoveryTarget): Promise<boolean> {
  if (!t.pr!.labels.some((l) => l.toLowerCase() === QUARANTINE_LABEL)) return false;
  try {
    await octokit.request("DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}", {
      owner: t.owner,
      repo: t.repo,
      issue_number: t.pr!.number,
      name: QUARANTINE_LABEL,
    });
    return true;
  } catch (error) {
    // Someone removed it in between: the wanted state is reached.
    if (statusOf(error) === 404) return false;
    throw gitHubApiError(error, {
      doing: `removing ${QUARANTINE_LABEL} from ${t.owner}/${t.repo}#${t.pr!.number}`,
      permission: "issues: write",
    });
  }
}

async function deleteComment(octokit: GitHubClient, t: RecoveryTarget, comment_id: number): Promise<void> {
  try {
    await octokit.request("DELETE /repos/{owner}/{repo}/issues/comments/{comment_id}", {
      owner: t.owner,
      repo: t.repo,
      comment_id,
    });
  } catch (error) {
    if (statusOf(error) === 404) return;
    throw gitHubApiError(error, {
      doing: `removing the unreadable recovery comment of ${t.owner}/${t.repo}#${t.pr!.number}`,
      permission: "issues: write",
    });
  }
}

// --- GitHub operations -------------------------------------------------------------------------

export type RerunResult = { ok: true } | { ok: false; status: number | null; reason: string };

/**
 * POST rerun-failed-jobs. GitHub refuses a rerun of a run older than 30 days, one still running,
 * or one whose workflow file changed; those are answers to report, not errors, so they come
 * back as `ok: false` with GitHub's words. It needs `actions: write`.
 */
export async function rerunFailedJobs(
  octokit: GitHubClient,
  input: { owner: string; repo: string; run_id: number },
): Promise<RerunResult> {
  try {
    await octokit.request("POST /repos/{owner}/{repo}/actions/runs/{run_id}/rerun-failed-jobs", {
      owner: input.owner,
      repo: input.repo,
      run_id: input.run_id,
    });
    return { ok: true };
  } catch (error) {
    const status = statusOf(error);
    const advice = status === 403 ? " (the app needs `actions: write`)" : "";
    return {
      ok: false,
      status,
      reason: `GitHub answered ${status ?? "nothing"}: ${apiErrorText(error)}${advice}`,
    };
  }
}

export type DispatchRecoveryResult =
  { ok: true; workflow_id: string } | { ok: false; workflow_id: string; reason: string };

/** Dispatches the recover workflow with the `recovery` input; a missing workflow is reported. */
export async function dispatchRecovery(
  octokit: GitHubClient,
  input: { owner: string; repo: string; workflow: string; ref: string; dispatch: RecoveryDispatch },
): Promise<DispatchRecoveryResult> {
  const parsed = RecoveryDispatchSchema.safeParse(input.dispatch);
  if (!parsed.success) throw new InputError(`Cannot dispatch the recovery: ${firstIssue(parsed.error)}`);
  const dispatch = parsed.data;
  let workflow_id: string;
  try {
    workflow_id = workflowId(input.workflow);
  } catch (error) {
    return {
      ok: false,
      workflow_id: input.workflow,
      reason: (error as Error).message.replace("execution.workflow", "recovery.workflow"),
    };
  }
  try {
    await octokit.request("POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches", {
      owner: input.owner,
      repo: input.repo,
      workflow_id,
      ref: input.ref,
      inputs: { recovery: JSON.stringify(dispatch) },
    });
    return { ok: true, workflow_id };
  } catch (error) {
    const status = statusOf(error);
    const hint =
      status === 404
        ? `: add ${input.workflow} to ${input.ref} (docs/recovery.md has one), or set recovery.workflow`
        : status === 422
          ? ": the workflow needs a workflow_dispatch trigger with a `recovery` input"
          : "";
    return {
      ok: false,
      workflow_id,
      reason: `dispatching ${workflow_id} on ${input.ref}: ${apiErrorText(error)}${hint}`,
    };
  }
}

const PrSchema = z.looseObject({
  number: z.number().int(),
  state: z.string(),
  draft: z.boolean().nullish(),
  labels: z.array(z.looseObject({ name: z.string() })),
  head: z.looseObject({ sha: z.string(), ref: z.string() }),
  base: z.looseObject({ ref: z.string() }),
});

async function readPr(octokit: GitHubClient, owner: string, repo: string, pull_number: number) {
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

function toPr(pr: z.infer<typeof PrSchema>): RecoveryPr & { state: string; head_sha: string } {
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

/** The PR the failure is on, or the default branch; anything else is not Switchyard's. */
async function locate(
  octokit: GitHubClient,
  owner: string,
  repo: string,
  default_branch: string,
  ci: RecoveryCi,
  config: Config,
): Promise<{ pr: RecoveryPr | null; key: string } | { ignored: string }> {
  const repository = `${owner}/${repo}`;
  const number = ci.pull_requests[0];
  if (number !== undefined) {
    const pr = await readPr(octokit, owner, repo, number);
    if (pr.state !== "open") return { ignored: `#${number} is ${pr.state}` };
    if (pr.head_sha !== ci.head_sha) {
      return {
        ignored: `#${number} has moved on to ${short(pr.head_sha)}; the failure of ${short(ci.head_sha)} is stale`,
      };
    }
    const { state: _s, head_sha: _h, ...rest } = pr;
    return { pr: rest, key: recoveryKey({ repository, pull_request: number, branch: ci.head_branch }) };
  }
  const fromFork =
    ci.head_repo_full_name === null || ci.head_repo_full_name.toLowerCase() !== repository.toLowerCase();
  if (
    fromFork &&
    ci.head_repo_full_name !== null &&
    config.recovery.fork_suggestions &&
    config.recovery.enabled
  ) {
    // A suggestion is posted on the fork's PR, so it is looked for (forks' PRs are not on the event).
    const pr = await forkPr(octokit, owner, repo, ci);
    if (pr !== null) {
      return { pr, key: recoveryKey({ repository, pull_request: pr.number, branch: ci.head_branch }) };
    }
  }
  if (ci.head_branch === default_branch || fromFork) {
    // A fork's PR is not listed on the event; the fork guard reports it under the branch's key.
    return { pr: null, key: recoveryKey({ repository, branch: ci.head_branch }) };
  }
  return {
    ignored: `${ci.head_branch} is neither a pull request's head nor the default branch (${default_branch})`,
  };
}

/**
 * The open PR whose head is the fork's branch at the failing commit, or null (closed, moved on,
 * or none): `head=<fork owner>:<branch>` is how the pulls API names another repository's branch.
 */
async function forkPr(
  octokit: GitHubClient,
  owner: string,
  repo: string,
  ci: RecoveryCi,
): Promise<RecoveryPr | null> {
  const forkOwner = ci.head_repo_full_name!.split("/")[0]!;
  let data: unknown;
  try {
    ({ data } = await octokit.request("GET /repos/{owner}/{repo}/pulls", {
      owner,
      repo,
      state: "open",
      head: `${forkOwner}:${ci.head_branch}`,
      per_page: 10,
    }));
  } catch (error) {
    throw gitHubApiError(error, {
      doing: `finding the pull request of ${forkOwner}:${ci.head_branch} in ${owner}/${repo}`,
      permission: "pull_requests: read",
    });
  }
  const list = z.array(PrSchema).safeParse(data);
  if (!list.success)
    throw new GitHubApiError("GitHub's list of pull requests is not what its API documents", null);
  const found = list.data.map(toPr).find((p) => p.state === "open" && p.head_sha === ci.head_sha);
  if (found === undefined) return null;
  const { state: _s, head_sha: _h, ...rest } = found;
  return rest;
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
async function readState(
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

const CommitsSchema = z.array(
  z.looseObject({
    sha: z.string(),
    parents: z.array(z.looseObject({ sha: z.string() })).nullish(),
    author: z.looseObject({ login: z.string() }).nullish(),
    commit: z.looseObject({
      message: z.string(),
      committer: z.looseObject({ email: z.string().nullish() }).nullish(),
    }),
  }),
);

async function recentCommits(
  octokit: GitHubClient,
  owner: string,
  repo: string,
  sha: string,
  count: number,
): Promise<(RecentCommit & { parent: string | null })[]> {
  let data: unknown;
  try {
    ({ data } = await octokit.request("GET /repos/{owner}/{repo}/commits", {
      owner,
      repo,
      sha,
      per_page: count,
    }));
  } catch (error) {
    throw gitHubApiError(error, {
      doing: `listing the commits before ${short(sha)} in ${owner}/${repo}`,
      permission: "contents: read",
    });
  }
  const list = CommitsSchema.safeParse(data);
  if (!list.success) throw new GitHubApiError("GitHub's list of commits is not what its API documents", null);
  return list.data
    .filter((c) => ShaSchema.safeParse(c.sha).success)
    .slice(0, count)
    .map((c) => ({
      sha: c.sha,
      author_login: c.author?.login ?? null,
      committer_email: c.commit.committer?.email ?? null,
      message: c.commit.message.slice(0, 100_000),
      parent: c.parents?.[0]?.sha ?? null,
    }));
}

const RunsSchema = z.looseObject({
  workflow_runs: z.array(
    z.looseObject({
      id: z.number().int(),
      status: z.string().nullable(),
      conclusion: z.string().nullable(),
      path: z.string().nullish(),
      name: z.string().nullish(),
    }),
  ),
});

/**
 * Why a pass of one workflow is not yet CI's verdict on the head (another watched workflow still
 * runs or failed), or null when every one passed. The ladder takes one verdict per head.
 */
async function otherRunsPending(
  octokit: GitHubClient,
  owner: string,
  repo: string,
  ci: RecoveryCi,
  config: Config,
): Promise<string | null> {
  let data: unknown;
  try {
    ({ data } = await octokit.request("GET /repos/{owner}/{repo}/actions/runs", {
      owner,
      repo,
      head_sha: ci.head_sha,
      per_page: 100,
    }));
  } catch (error) {
    throw gitHubApiError(error, {
      doing: `listing the runs of ${short(ci.head_sha)} in ${owner}/${repo}`,
      permission: "actions: read",
    });
  }
  const list = RunsSchema.safeParse(data);
  if (!list.success)
    throw new GitHubApiError("GitHub's list of workflow runs is not what its API documents", null);
  const own = [config.execution.workflow, config.recovery.workflow].map(barePath);
  for (const run of list.data.workflow_runs) {
    if (run.id === ci.run_id || (run.path && own.includes(barePath(run.path)))) continue;
    if (run.status !== "completed")
      return `waiting for ${run.name ?? `run ${run.id}`} on ${short(ci.head_sha)} to finish`;
    if (run.conclusion !== "success" && run.conclusion !== "skipped" && run.conclusion !== "neutral") {
      return `${run.name ?? `run ${run.id}`} concluded ${run.conclusion ?? "nothing"} on ${short(ci.head_sha)}`;
    }
  }
  return null;
}

interface CheckOptions {
  status?: "in_progress" | "completed";
  conclusion?: CheckRunConclusion;
  title: string;
  summary: string;
  text?: string;
  marker?: LadderState;
  now: string;
}

async function checkRun(octokit: GitHubClient, t: RecoveryTarget, o: CheckOptions): Promise<void> {
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

/**
 * The check run's state for an action. Work under way is in progress; a quarantine asks a person
 * to act on a PR, but on the default branch it is neutral (a task's failure never paints the
 * default branch red); a refused dispatch is Switchyard's own fault on a PR, neutral elsewhere.
 */
function checkState(
  action: LadderAction,
  problem: string | null,
  t: RecoveryTarget,
): Pick<CheckOptions, "status" | "conclusion"> {
  if (problem !== null) return { conclusion: t.pr ? "failure" : "neutral" };
  switch (action.kind) {
    case "rerun_failed_jobs":
    case "run_fixers":
    case "run_ai":
      return { status: "in_progress" };
    case "done":
      return { conclusion: "success" };
    case "quarantine":
      return { conclusion: t.pr && t.ci.html_url ? "action_required" : "neutral" };
    default:
      return { conclusion: "neutral" };
  }
}

async function upsertRecoveryComment(
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

/** The quarantine label and the alert comment. Once: the quarantined guard answers after this. */
async function quarantinePr(octokit: GitHubClient, t: RecoveryTarget, alert: string): Promise<void> {
  const pr = t.pr!;
  const where = `${t.owner}/${t.repo}#${pr.number}`;
  try {
    if (!pr.labels.some((l) => l.toLowerCase() === QUARANTINE_LABEL)) {
      await octokit.request("POST /repos/{owner}/{repo}/issues/{issue_number}/labels", {
        owner: t.owner,
        repo: t.repo,
        issue_number: pr.number,
        labels: [QUARANTINE_LABEL],
      });
    }
    await octokit.request("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", {
      owner: t.owner,
      repo: t.repo,
      issue_number: pr.number,
      body: cutAt(alert, 60_000),
    });
  } catch (error) {
    throw gitHubApiError(error, { doing: `quarantining ${where}`, permission: "issues: write" });
  }
}

// --- helpers ---------------------------------------------------------------------------------------

function guardEvent(ci: RecoveryCi, base: string, pr: RecoveryPr | null): GuardEvent {
  return {
    head_sha: ci.head_sha,
    head_branch: ci.head_branch,
    head_repo_full_name: ci.head_repo_full_name,
    base_repo_full_name: base,
    conclusion: ci.conclusion,
    ...(ci.workflow_name !== undefined ? { workflow_name: ci.workflow_name.slice(0, 500) } : {}),
    ...(ci.workflow_path !== undefined ? { workflow_path: ci.workflow_path.slice(0, 500) } : {}),
    ...(ci.app_slug !== undefined ? { app_slug: ci.app_slug.slice(0, 100) } : {}),
    pr: pr ? { number: pr.number, draft: pr.draft, labels: pr.labels.slice(0, 1000) } : null,
  };
}

/**
 * The step result a fix's own commit stands for, when the head CI ran on is that commit: it
 * carries this recovery's trailer and sits right on the head the fix ran on. The recover job may
 * not be able to write the state (in app mode its token is not the app's), so the app recognises
 * the fix by its commit instead of waiting for a report that may never come.
 */
function fixLanded(state: LadderState, commits: (RecentCommit & { parent: string | null })[], key: string) {
  const head = commits[0];
  if (!head || head.parent !== state.head_sha) return null;
  if (!head.message.split("\n").some((line) => line.trim() === recoveryTrailer(key))) return null;
  const event: LadderEvent = {
    kind: "step_result",
    result: "committed",
    ...(state.step === "mechanical" && state.tools ? { tools: state.tools } : { tool: state.tool! }),
    commit_sha: head.sha,
    reason: `its commit ${short(head.sha)} is on ${short(state.head_sha)}`,
  };
  return event;
}

/**
 * A fixer or AI run dispatched for this head within recovery.in_flight_minutes has not reported:
 * another failure of the head now is a second workflow's, not the fix's verdict.
 */
function inFlight(state: LadderState | null, head: string, now: string, config: Config): boolean {
  if (
    state === null ||
    state.pending !== "tool" ||
    state.head_sha !== head ||
    state.last_attempt_at === null
  ) {
    return false;
  }
  return Date.parse(now) - Date.parse(state.last_attempt_at) < config.recovery.in_flight_minutes * 60_000;
}

/**
 * The run whose rerun the ladder awaits on `head`: the CI id recorded when the rerun was decided
 * (`<run_id>:<attempt>`, the last one seen), or null when no rerun is awaited there.
 */
function awaitedRerun(state: LadderState | null, head: string): { run_id: number; attempt: number } | null {
  if (state === null || state.step !== "rerun" || state.head_sha !== head) return null;
  const m = /^(\d+):(\d+)$/.exec(state.seen_ci.at(-1) ?? "");
  return m ? { run_id: Number(m[1]), attempt: Number(m[2]) } : null;
}

function entryEvent(t: RecoveryTarget, state: LadderState | null, e: LadderEntry): SwitchyardEvent {
  const ok =
    e.outcome === "fixed" ? true : e.outcome === "started" ? null : e.outcome === "superseded" ? null : false;
  return stepEvent(t, e.at, {
    step: e.outcome === "skipped" ? "skipped" : e.step,
    category: state?.category ?? "unknown",
    ...(state?.signature !== undefined ? { signature: state.signature } : {}),
    ...(e.tool !== undefined ? { tool: e.tool } : {}),
    ok,
    reason: e.tools ? `${e.outcome}: ${e.tools.join(", ")}: ${e.reason}` : `${e.outcome}: ${e.reason}`,
  });
}

function stepEvent(
  t: RecoveryTarget,
  at: string,
  fields: {
    step: "rerun" | "mechanical" | "ai" | "quarantine" | "skipped";
    category: string;
    signature?: string;
    tool?: string;
    ok: boolean | null;
    reason: string;
  },
): SwitchyardEvent {
  return {
    id: ulid(Date.parse(at)),
    at,
    task_key: t.key,
    run_id: String(t.ci.run_id),
    type: "recovery_step",
    ...fields,
  };
}

function describeAction(action: DispatchedAction): string {
  return action.kind === "run_ai" ? `AI tool ${action.tool}` : `fixers ${action.tools.join(", ")}`;
}

function barePath(path: string): string {
  return path.replace(/^\.\//, "").split("@")[0]!;
}

function short(sha: string): string {
  return sha.slice(0, 7);
}

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.map(String).join(".")}: ` : "";
  return `${where}${issue?.message ?? "invalid"}`;
}
