import type { Attempt, ExecutionResult, OutcomeKind } from "./schema.js";

/**
 * From attempts to one outcome, and from that outcome to what GitHub shows.
 *
 * A run's outcome is `success` when any attempt succeeded. Otherwise it is the most informative
 * failure among the attempts, in FAILURE_PRECEDENCE order:
 *
 * 1. `error`: the run stopped there (cancelled, the branch moved, Switchyard broke), so nothing
 *    after it was tried and every other failure is beside the point.
 * 2. `policy_violation`: a tool wrote what the policy forbids. A safety refusal is what a person
 *    must see first, even when another tool merely failed the tests.
 * 3. `gate_failed`: the nearest miss, a patch that only the gates refused.
 * 4. `no_changes`: a tool ran cleanly and changed nothing, which says the task is unclear.
 * 5. `timed_out`, then `tool_failed`: the tool itself did not get through.
 * 6. `tool_unavailable`: nothing could even start.
 *
 * Between attempts of the same kind the latest wins: it is the freshest evidence.
 */

export const FAILURE_PRECEDENCE: readonly Exclude<OutcomeKind, "success">[] = [
  "error",
  "policy_violation",
  "gate_failed",
  "no_changes",
  "timed_out",
  "tool_failed",
  "tool_unavailable",
];

/**
 * What stopped a run with the outcome `error`, read from the reason of the attempt that carries it.
 * The executor writes these prefixes (ERROR_REASON_PREFIX) because the result's schema has no
 * field for it, and the difference matters: only an internal error is Switchyard's own fault.
 */
export type ErrorKind = "cancelled" | "branch_moved" | "internal";

export const ERROR_REASON_PREFIX: Readonly<Record<ErrorKind, string>> = {
  cancelled: "cancelled",
  branch_moved: "branch moved",
  internal: "internal error",
};

/** `cancelled: the run was stopped`, and so on: the form errorKind reads back. */
export function errorReason(kind: ErrorKind, detail: string): string {
  return `${ERROR_REASON_PREFIX[kind]}: ${detail}`;
}

export interface FinalOutcome {
  outcome: OutcomeKind;
  /** The attempt that decided the outcome; null when there was none. */
  attempt: Attempt | null;
}

/**
 * The run's outcome from its attempts. No attempt at all means no tool could be given the task
 * (the router found none), which is `tool_unavailable`.
 */
export function finalOutcome(attempts: readonly Attempt[]): FinalOutcome {
  const success = attempts.find((a) => a.outcome === "success");
  if (success) return { outcome: "success", attempt: success };
  for (const kind of FAILURE_PRECEDENCE) {
    const last = attempts.findLast((a) => a.outcome === kind);
    if (last) return { outcome: kind, attempt: last };
  }
  return { outcome: "tool_unavailable", attempt: null };
}

/**
 * Why a result with the outcome `error` stopped, or null for any other outcome. An error attempt
 * whose reason has none of the known prefixes (a result written by an older version, or by hand)
 * counts as internal: when in doubt, a fault is Switchyard's to look at.
 */
export function errorKind(result: Pick<ExecutionResult, "outcome" | "attempts">): ErrorKind | null {
  if (result.outcome !== "error") return null;
  const attempt = result.attempts.findLast((a) => a.outcome === "error");
  if (attempt === undefined) return "internal";
  for (const kind of ["cancelled", "branch_moved", "internal"] as const) {
    if (attempt.reason.startsWith(`${ERROR_REASON_PREFIX[kind]}:`)) return kind;
  }
  return "internal";
}

export type CheckConclusion = "success" | "failure" | "neutral";

export interface ConclusionContext {
  /**
   * The check run goes on a commit Switchyard did not make: the default branch's head or the base
   * commit a task started from, rather than the head of Switchyard's own branch.
   */
  onDefaultBranch: boolean;
}

/**
 * The `switchyard/execute` check run's conclusion (DESIGN, "Where results show"):
 * - success is success;
 * - a task's own failure (every tool failed, no changes, policy refused, the branch moved under
 *   the run) is `neutral` on a commit Switchyard did not make, because it says nothing about that
 *   commit, and `failure` on Switchyard's own branch, where reviewers must not take it for done;
 * - a cancelled run is `neutral` everywhere: someone chose to stop it;
 * - Switchyard's own break is `failure` everywhere, so it is seen and fixed.
 */
export function checkConclusion(
  result: Pick<ExecutionResult, "outcome" | "attempts">,
  context: ConclusionContext,
): CheckConclusion {
  if (result.outcome === "success") return "success";
  const kind = errorKind(result);
  if (kind === "internal") return "failure";
  if (kind === "cancelled") return "neutral";
  return context.onDefaultBranch ? "neutral" : "failure";
}

/**
 * Whether the execute job itself should fail. It concludes success whenever it reported the
 * task's outcome, however bad; only Switchyard's own break fails it, so a red job always means
 * something for Switchyard's maintainers to look at. A cancelled run is ended by the runner anyway.
 */
export function jobShouldFail(result: Pick<ExecutionResult, "outcome" | "attempts">): boolean {
  return errorKind(result) === "internal";
}
