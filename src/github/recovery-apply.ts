import { ulid } from "ulid";
import type { Config } from "../config/schema.js";
import type { SwitchyardEvent } from "../core/events/schema.js";
import { QUARANTINE_LABEL } from "../core/recovery/guards.js";
import {
  nextAction,
  type LadderAction,
  type LadderDispatch,
  type LadderEntry,
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
import { apiErrorText, gitHubApiError, statusOf } from "./errors.js";
import type { GitHubClient } from "./octokit.js";
import { cutAt } from "./pull-request.js";
import { dispatchRecovery, type DispatchedAction, type RecoveryDispatch } from "./recovery-dispatch.js";
import type { RecoveryPlan } from "./recovery-plan.js";
import {
  checkRun,
  RECOVER_CHECK,
  short,
  upsertRecoveryComment,
  type CheckOptions,
  type RecoveryTarget,
} from "./recovery-state.js";

/**
 * Carrying a plan out (rerun the failed jobs, dispatch the recover workflow, quarantine) and
 * recording it: the switchyard/recover check run, the recovery comment, the quarantine label and
 * alert, and one recovery_step event per ladder entry.
 */

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

export function entryEvent(t: RecoveryTarget, state: LadderState | null, e: LadderEntry): SwitchyardEvent {
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
