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
 * Where each part lives (this file only re-exports them, so importers need not know the cut):
 *
 *   recovery-state.ts     the types the flow shares (RecoveryCi, RecoveryTarget, StateAuthor), the
 *                         stored ladder state (read from the recovery comment or the check run,
 *                         written back with them) and loadRecovery.
 *   recovery-plan.ts      planRecovery, RecoveryPlan, and what planning gathers from GitHub (the PR,
 *                         the branch's commits, the head's other runs).
 *   recovery-dispatch.ts  the recover workflow's contract: its `recovery` input, its run title, and
 *                         dispatching it.
 *   recovery-apply.ts     applyRecovery, recordRecovery, rerunFailedJobs, the quarantine, and the
 *                         recovery_step events.
 *   recovery-steps.ts     the answers to a dispatched step (reportStepResult, finishDispatchedStep,
 *                         finishSuggestion, reportRefusedRun) and a person's resetRecovery.
 *
 * Nothing here throws for a reason a run could cause (gone logs, odd payloads, refused reruns):
 * those are reported. What throws is a GitHubApiError for the API failing on Switchyard itself
 * (the caller logs it), or an InputError for a malformed input from the caller.
 */

export {
  applyRecovery,
  recordRecovery,
  rerunFailedJobs,
  type ApplyRecoveryDeps,
  type RecordOptions,
  type RecoveryOutcome,
  type RerunResult,
} from "./recovery-apply.js";
export {
  DispatchedActionSchema,
  dispatchRecovery,
  parseRecoverRunTitle,
  parseRecoveryDispatch,
  recoverRunTitle,
  RecoveryDispatchSchema,
  type DispatchedAction,
  type DispatchRecoveryResult,
  type RecoveryDispatch,
} from "./recovery-dispatch.js";
export {
  planRecovery,
  type GuardReport,
  type PlanRecoveryInput,
  type RecoveryPlan,
} from "./recovery-plan.js";
export {
  loadRecovery,
  RECOVER_CHECK,
  type LoadedRecovery,
  type LoadRecoveryInput,
  type RecoveryCi,
  type RecoveryPr,
  type RecoveryTarget,
  type StateAuthor,
} from "./recovery-state.js";
export {
  finishDispatchedStep,
  finishSuggestion,
  reportRefusedRun,
  reportStepResult,
  resetRecovery,
  type DispatchedStepInput,
  type ResetOutcome,
  type ResetRecoveryInput,
  type StepResultInput,
  type SuggestionInput,
} from "./recovery-steps.js";
