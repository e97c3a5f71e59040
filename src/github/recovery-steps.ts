import { z } from "zod";
import type { Config } from "../config/schema.js";
import { InputError } from "../core/errors.js";
import type { SwitchyardEvent } from "../core/events/schema.js";
import { QUARANTINE_LABEL } from "../core/recovery/guards.js";
import {
  nextAction,
  recoveryKey,
  settleSuggestion,
  type LadderEvent,
  type LadderState,
  type ToolAvailability,
  type ToolCircuit,
} from "../core/recovery/ladder.js";
import {
  renderRecoveryComment,
  renderRecoverySummary,
  type RecoveryReport,
} from "../core/recovery/report.js";
import { gitHubApiError, statusOf } from "./errors.js";
import type { GitHubClient } from "./octokit.js";
import { applyRecovery, entryEvent, recordRecovery, type RecoveryOutcome } from "./recovery-apply.js";
import { RecoveryDispatchSchema, type RecoveryDispatch } from "./recovery-dispatch.js";
import type { RecoveryPlan } from "./recovery-plan.js";
import {
  checkRun,
  firstIssue,
  RECOVER_CHECK,
  readPr,
  readState,
  short,
  upsertRecoveryComment,
  type RecoveryCi,
  type RecoveryTarget,
  type StateAuthor,
} from "./recovery-state.js";

/**
 * What happens after a step was dispatched: its result reported by the recover job
 * (reportStepResult) or picked up by the app (finishDispatchedStep, finishSuggestion,
 * reportRefusedRun), and a person's `/switchyard retry` (resetRecovery).
 */

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
