import { ShaSchema } from "../execution/commit-port.js";
import { z } from "zod";
import { NameSchema, type Config } from "../../config/schema.js";
import { InputError } from "../errors.js";

/**
 * The recovery ladder as a pure state machine. Its state rides in the PR's status comment
 * (src/core/status-marker.ts, kind "recovery"), so whichever replica or Action job sees the next
 * CI result continues the climb where the last one left it:
 *
 *   RERUN (infra or flaky: rerun the failed jobs, once per head)
 *   -> MECHANICAL (every fixer configured for the category, in one job, once per climb)
 *   -> AI (recovery.escalation in order, each once, with the evidence)
 *   -> QUARANTINE (a person takes over; nothing runs until a reset)
 *
 * `nextAction(state, input)` takes the stored state and one event and returns the action to take,
 * the new state and the transition. The events are the verdicts of CI on a head (`failed`,
 * `passed`), the result of the step the caller just ran (`step_result`) and a person's reset.
 * The transitions are the rows of LADDER_RULES, tried in order; the first row whose phase, event
 * and condition match decides. Each row is tested.
 *
 * Choices the issue left open, and why:
 * - A recovery is identified by the PR (`owner/repo#<n>`), or by the branch (`owner/repo@<branch>`)
 *   when there is none: attempts are counted per PR across pushes, so the key must outlive a head.
 * - An attempt is a run of the fixers or of one AI tool. Reruns are not attempts (they change no
 *   code and are limited to one per head); a tool the runner then found unavailable is refunded,
 *   since it never ran. `max_attempts` caps attempts over the PR's whole life, across climbs and
 *   pushes; only a reset (a person's /switchyard retry) gives the budget back.
 * - The mechanical rung is ONE action (`run_fixers`) that runs every usable fixer for the
 *   category in one job and commits what they changed together. It counts as one attempt, and
 *   not even that when no fixer changed anything: with one attempt per fixer, three formatters
 *   that find nothing to do used up the default budget (3) before any AI tool could run, and
 *   fixers are cheap and idempotent, so running them together loses nothing.
 * - After a fix commit, CI failing with the SAME failure (category, and signature when both have
 *   one) moves to the next rung. A DIFFERENT failure means the rung removed what it was given and
 *   something else now fails: the rung is recorded as `changed` and a new climb starts for the new
 *   failure (a rerun if it looks flaky, its own fixers, then the AI tools again), still counting
 *   attempts, so two failures taking turns cannot loop past the cap.
 * - An infrastructure failure is never given to a fixer or an AI tool: no code change repairs a
 *   lost runner or a registry outage. It is rerun once; if it persists (or reruns are off) the
 *   ladder quarantines, which tells a person. A flaky failure that fails its rerun goes on to the
 *   tools, which may well stabilise the test.
 * - A CI result for a head the ladder has moved past is stale and ignored; a failure on a head it
 *   has never seen is someone's push, which supersedes the step in progress and starts a new climb.
 * - The caller delivers one verdict per head (and per rerun): with several workflows, it waits
 *   until the watched ones have concluded and merges their evidence. `ci_id` (e.g.
 *   `<run_id>:<run_attempt>`) makes a redelivered webhook a no-op.
 */

export const LADDER_CATEGORIES = [
  "format",
  "lint",
  "type",
  "test",
  "build",
  "dependency",
  "infra",
  "flaky",
  "unknown",
] as const;
export const LadderCategorySchema = z.enum(LADDER_CATEGORIES);
export type LadderCategory = z.infer<typeof LadderCategorySchema>;

export const LADDER_STEPS = ["rerun", "mechanical", "ai", "quarantine", "done"] as const;
export const LadderStepSchema = z.enum(LADDER_STEPS);
export type LadderStep = z.infer<typeof LadderStepSchema>;

/**
 * started: running, or its CI verdict is awaited. fixed: CI passed after it. failed: it made no
 * fix, or CI still fails the same way. changed: CI now fails differently. skipped: it never ran
 * (not configured, disabled, circuit open, unavailable). superseded: a push or a reset overtook it.
 */
export const RungOutcomeSchema = z.enum(["started", "fixed", "failed", "changed", "skipped", "superseded"]);
export type RungOutcome = z.infer<typeof RungOutcomeSchema>;

/** History entries kept in the state; older ones are dropped so the marker stays small. */
export const HISTORY_LIMIT = 20;
/** CI result ids remembered to recognise a redelivered webhook. */
export const SEEN_CI_LIMIT = 10;
/** Reasons are clipped to this many characters when stored. */
export const MAX_REASON_CHARS = 300;
/** Tools one climb may go through; a longer list is treated as exhausted at this point. */
export const TRIED_LIMIT = 100;
/**
 * The state's JSON is kept under this many bytes by dropping the oldest history, so it always
 * fits a status marker (16,384 base64 characters hold 12,288 bytes).
 */
export const MAX_STATE_JSON_BYTES = 12_000;

const TimeSchema = z.string().datetime({ offset: true });
const ReasonSchema = z.string().max(MAX_REASON_CHARS);
/** classify's signatures are `category:text` with up to 200 characters of text. */
const SignatureSchema = z.string().min(1).max(300);
const CiIdSchema = z.string().min(1).max(100);

/** `owner/repo#<pr>` or `owner/repo@<branch>`. */
export const RecoveryKeySchema = z
  .string()
  .max(400)
  .regex(/^[^/\s#@]+\/[^/\s#@]+(?:#[1-9]\d*|@\S+)$/, "owner/repo#<pr number> or owner/repo@<branch>");

/** Fixers one mechanical rung may run together. */
export const MAX_FIXERS = 20;
const FixersSchema = z.array(NameSchema).min(1).max(MAX_FIXERS);

export const LadderEntrySchema = z.strictObject({
  step: z.enum(["rerun", "mechanical", "ai"]),
  /** The AI tool, or a fixer that was skipped on its own. */
  tool: NameSchema.optional(),
  /** The fixers a mechanical rung ran together. */
  tools: FixersSchema.optional(),
  /** The head the step ran on. */
  head_sha: ShaSchema,
  /** The commit the step made, when it made one. */
  commit_sha: ShaSchema.optional(),
  at: TimeSchema,
  outcome: RungOutcomeSchema,
  reason: ReasonSchema,
});
export type LadderEntry = z.infer<typeof LadderEntrySchema>;

/**
 * The recover workflow run the app dispatched for the step in progress (app mode): when, which
 * workflow, on which branch, and the run it accepted for it once one completed (the first
 * accepted run wins). The app checks a completed recover run against it before it commits the
 * run's fix bundle (app/recover-complete.ts). The ladder itself never reads it; a new dispatch
 * replaces it.
 */
export const LadderDispatchSchema = z.strictObject({
  workflow: z.string().min(1).max(500),
  at: TimeSchema,
  ref: z.string().min(1).max(255),
  run_id: z.number().int().positive().optional(),
  run_attempt: z.number().int().min(1).optional(),
  /**
   * A fork's head: the fixers ran without secrets on the fork's code, and their diff is posted as
   * a suggestion on the PR, never committed (recovery.fork_suggestions; settleSuggestion).
   */
  suggest: z.literal(true).optional(),
});
export type LadderDispatch = z.infer<typeof LadderDispatchSchema>;

export const LadderStateSchema = z
  .strictObject({
    version: z.literal(1),
    key: RecoveryKeySchema,
    /** The head the ladder is at: the failing head, or the commit of the fix whose CI it awaits. */
    head_sha: ShaSchema,
    category: LadderCategorySchema,
    signature: SignatureSchema.optional(),
    step: LadderStepSchema,
    /** What the step waits for: the tool's result, CI's verdict, or nothing (done, quarantine). */
    pending: z.enum(["tool", "ci"]).nullable(),
    /** Index of `tool` in recovery.escalation; 0 for a rerun or the fixers. */
    rung: z.number().int().min(0).max(1000),
    /** The AI tool of an ai step. */
    tool: NameSchema.optional(),
    /** The fixers of a mechanical step. */
    tools: FixersSchema.optional(),
    /** Tools tried or skipped in this climb, so each runs at most once per climb. */
    tried: z.array(NameSchema).max(TRIED_LIMIT),
    attempts: z.number().int().min(0).max(1000),
    /** The head whose failed jobs were rerun: at most one rerun per head. */
    rerun_sha: ShaSchema.nullable(),
    last_attempt_at: TimeSchema.nullable(),
    seen_ci: z.array(CiIdSchema).max(SEEN_CI_LIMIT),
    /** Why the ladder is where it is: the last transition's reason. */
    reason: ReasonSchema,
    history: z.array(LadderEntrySchema).max(HISTORY_LIMIT),
    dispatch: LadderDispatchSchema.optional(),
  })
  .superRefine((s, ctx) => {
    const problem = stateProblem(s);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  })
  .describe("The recovery ladder's state, kept in the PR's status comment.");
export type LadderState = z.infer<typeof LadderStateSchema>;

/** The combinations the machine can be in; a hand-edited marker outside them is refused. */
function stateProblem(s: {
  step: LadderStep;
  pending: "tool" | "ci" | null;
  tool?: string;
  tools?: string[];
  history: LadderEntry[];
}): string | null {
  const last = s.history[s.history.length - 1];
  const started = s.history.filter((e) => e.outcome === "started").length;
  const article = s.step === "ai" ? "an" : "a";
  if (s.step !== "ai" && s.tool !== undefined) return `a ${s.step} step has no AI tool (tool must be absent)`;
  if (s.step !== "mechanical" && s.tools !== undefined) {
    return `${article} ${s.step} step runs no fixers (tools must be absent)`;
  }
  if (s.step === "done" || s.step === "quarantine") {
    if (s.pending !== null) return `a ${s.step} ladder waits for nothing (pending must be null)`;
    if (started > 0) return `a ${s.step} ladder has no step in progress`;
    return null;
  }
  if (s.step === "rerun" && s.pending !== "ci") return "a rerun waits for CI (pending must be ci)";
  if (s.step === "ai" && (s.pending === null || s.tool === undefined)) {
    return "an ai step names its tool and what it waits for";
  }
  if (s.step === "mechanical" && (s.pending === null || s.tools === undefined)) {
    return "a mechanical step names its fixers and what it waits for";
  }
  if (
    started !== 1 ||
    last?.outcome !== "started" ||
    last.step !== s.step ||
    last.tool !== s.tool ||
    !sameList(last.tools, s.tools)
  ) {
    return `the step in progress must be the last history entry, marked started`;
  }
  return null;
}

function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

const FailedEventSchema = z.strictObject({
  kind: z.literal("failed"),
  head_sha: ShaSchema,
  category: LadderCategorySchema,
  signature: SignatureSchema.optional(),
  ci_id: CiIdSchema.optional(),
});
const PassedEventSchema = z.strictObject({
  kind: z.literal("passed"),
  head_sha: ShaSchema,
  ci_id: CiIdSchema.optional(),
});
/**
 * What became of the step the caller was told to take. committed: the fix landed as
 * `commit_sha`. no_fix: the tool ran and nothing landed (no changes, it failed, policy or gates
 * refused the patch; for the fixers: none of them changed anything). unavailable: it never
 * started (not installed, no key; for the fixers, none of them was available; for a rerun, the
 * API refused it). `tool` is the AI tool that was asked for, `tools` the fixers as the
 * run_fixers action listed them; both are absent for a rerun.
 */
const StepResultEventSchema = z
  .strictObject({
    kind: z.literal("step_result"),
    result: z.enum(["committed", "no_fix", "unavailable"]),
    tool: NameSchema.optional(),
    tools: FixersSchema.optional(),
    commit_sha: ShaSchema.optional(),
    reason: z.string().min(1).max(2000),
  })
  .refine((e) => (e.result === "committed") === (e.commit_sha !== undefined), {
    message: "commit_sha is given exactly when the result is committed",
    path: ["commit_sha"],
  })
  .refine((e) => e.tool === undefined || e.tools === undefined, {
    message: "a step result names an AI tool or the fixers, not both",
    path: ["tools"],
  });
/** A person gave the PR back to Switchyard (/switchyard retry, or lifted the quarantine). */
const ResetEventSchema = z.strictObject({ kind: z.literal("reset"), reason: z.string().min(1).max(2000) });

export const LadderEventSchema = z.discriminatedUnion("kind", [
  FailedEventSchema,
  PassedEventSchema,
  StepResultEventSchema,
  ResetEventSchema,
]);
export type LadderEvent = z.infer<typeof LadderEventSchema>;
export type LadderEventKind = LadderEvent["kind"];

/** Structurally the router's circuit state (src/core/policy/circuit-breaker.ts, circuitLookup). */
export interface ToolCircuit {
  state: "closed" | "open" | "half_open";
  reason: string;
}
/** Structurally the runner's Availability. */
export type ToolAvailability = { available: true } | { available: false; reason: string };

export interface LadderInput {
  /** The recovery's key (recoveryKey()); must match a stored state's. */
  key: string;
  event: LadderEvent;
  /** ISO time of the decision: the core never reads the clock. */
  now: string;
  config: Config;
  /** Circuit state per tool; a tool whose circuit is open is skipped. Default: all closed. */
  circuit?: (tool: string) => ToolCircuit;
  /** Availability per tool when the caller has checked it; unchecked tools count as available. */
  available?: (tool: string) => ToolAvailability;
}

export type LadderAction =
  | { kind: "rerun_failed_jobs" }
  /** Run every listed fixer in one job and commit what they changed together: one attempt. */
  | { kind: "run_fixers"; tools: string[] }
  | { kind: "run_ai"; tool: string }
  /** Label the PR, post the alert with the evidence and the history; nothing more runs. */
  | { kind: "quarantine"; reason: string }
  /** A fix landed: nothing to do until CI reports on it. */
  | { kind: "wait"; reason: string }
  /** CI passed: report the recovery as finished. */
  | { kind: "done"; reason: string }
  /** Nothing to do for this event (a duplicate, a stale result, a quarantined PR). */
  | { kind: "stop"; reason: string };

export type LadderPosition = LadderStep | "none";

export type LadderPhase = "none" | "idle" | "quarantined" | "rerun_ci" | "fix_running" | "fix_ci";

export interface LadderTransition {
  /** The LADDER_RULES row that decided. */
  rule: LadderRuleId;
  from: LadderPosition;
  to: LadderPosition;
  reason: string;
}

export interface LadderResult {
  action: LadderAction;
  /** The state to store; null only when there was none and the event needs none. */
  state: LadderState | null;
  transition: LadderTransition;
  /** History entries this call added or settled, in order: one recovery_step event each. */
  entries: LadderEntry[];
  /** Whether the marker needs writing. */
  changed: boolean;
}

/** The key a recovery is stored under: the PR when there is one, else the branch. */
export function recoveryKey(input: {
  repository: string;
  pull_request?: number | null;
  branch: string;
}): string {
  const key =
    input.pull_request !== undefined && input.pull_request !== null
      ? `${input.repository}#${input.pull_request}`
      : `${input.repository}@${input.branch}`;
  const parsed = RecoveryKeySchema.safeParse(key);
  if (!parsed.success) {
    throw new InputError(
      `Cannot name the recovery for '${key}': expected owner/repo with a PR number or a branch name.`,
    );
  }
  return parsed.data;
}

/** Whether a CI result on `head_sha` is the verdict the ladder is waiting for. */
export function awaitsVerdict(state: LadderState | null, head_sha: string): boolean {
  return state !== null && state.pending === "ci" && state.head_sha === head_sha;
}

export function ladderPhase(state: LadderState | null): LadderPhase {
  if (state === null) return "none";
  if (state.step === "done") return "idle";
  if (state.step === "quarantine") return "quarantined";
  if (state.step === "rerun") return "rerun_ci";
  return state.pending === "tool" ? "fix_running" : "fix_ci";
}

// --- the table ----------------------------------------------------------------------------------

export interface LadderContext {
  state: LadderState | null;
  phase: LadderPhase;
  event: LadderEvent;
  key: string;
  now: string;
  config: Config;
  circuit?: (tool: string) => ToolCircuit;
  available?: (tool: string) => ToolAvailability;
}

interface Decision {
  action: LadderAction;
  reason: string;
  /** The edited state; absent when the state stays as it was. */
  draft?: Draft;
}

export interface LadderRule {
  id: string;
  from: readonly LadderPhase[];
  on: readonly LadderEventKind[];
  /** The row's condition in words, for the docs and the tests. */
  when: string;
  test?: (ctx: LadderContext) => boolean;
  apply: (ctx: LadderContext) => Decision;
}

const ANY: readonly LadderPhase[] = ["none", "idle", "quarantined", "rerun_ci", "fix_running", "fix_ci"];
const ACTIVE: readonly LadderPhase[] = ["rerun_ci", "fix_running", "fix_ci"];

type Verdict = z.infer<typeof FailedEventSchema> | z.infer<typeof PassedEventSchema>;
type Failure = z.infer<typeof FailedEventSchema>;
type StepResult = z.infer<typeof StepResultEventSchema>;

const verdict = (ctx: LadderContext) => ctx.event as Verdict;
const failure = (ctx: LadderContext) => ctx.event as Failure;
const stepResult = (ctx: LadderContext) => ctx.event as StepResult;
const st = (ctx: LadderContext) => ctx.state as LadderState;
const onHead = (ctx: LadderContext) => verdict(ctx).head_sha === st(ctx).head_sha;
/** The step result names the step in progress: its AI tool, or its fixers as listed. */
const fromRunningStep = (ctx: LadderContext) => {
  const ev = stepResult(ctx);
  const s = st(ctx);
  return s.step === "mechanical"
    ? ev.tool === undefined && sameList(ev.tools, s.tools)
    : ev.tools === undefined && ev.tool === s.tool;
};

export const LADDER_RULES = [
  {
    id: "duplicate",
    from: ANY,
    on: ["failed", "passed"],
    when: "the CI result's ci_id was handled before (a redelivered webhook)",
    test: (ctx) => {
      const id = verdict(ctx).ci_id;
      return ctx.state !== null && id !== undefined && ctx.state.seen_ci.includes(id);
    },
    apply: (ctx) => stop(`already handled CI result ${verdict(ctx).ci_id}`),
  },
  {
    id: "stale",
    from: ANY,
    on: ["failed", "passed"],
    when: "the result is for a head the ladder has moved past",
    test: (ctx) => ctx.state !== null && !onHead(ctx) && knownHeads(st(ctx)).has(verdict(ctx).head_sha),
    apply: (ctx) =>
      stop(
        `stale: the result is for ${short(verdict(ctx).head_sha)}, and the ladder has moved on to ${short(st(ctx).head_sha)}`,
      ),
  },
  {
    id: "reset.none",
    from: ["none"],
    on: ["reset"],
    when: "a reset with no stored state",
    apply: () => stop("nothing to reset: no recovery has run here"),
  },
  {
    id: "reset",
    from: ["idle", "quarantined", "rerun_ci", "fix_running", "fix_ci"],
    on: ["reset"],
    when: "a person resets the ladder: attempts back to zero, no cool-down",
    apply: (ctx) => {
      const d = new Draft(st(ctx), ctx.now);
      const reason = `reset: ${(ctx.event as { reason: string }).reason}`;
      if (d.s.pending !== null) d.settle("superseded", reason);
      finish(d.s, "done");
      d.s.attempts = 0;
      d.s.last_attempt_at = null;
      d.s.tried = [];
      const budget = ctx.config.recovery.max_attempts;
      const full = `${reason}; the next failure starts with ${budget} attempts`;
      return { action: { kind: "stop", reason: full }, reason: full, draft: d };
    },
  },
  {
    id: "quarantined.hold",
    from: ["quarantined"],
    on: ["failed", "passed", "step_result"],
    when: "the ladder is quarantined",
    apply: () => stop("quarantined: nothing runs until a person comments /switchyard retry"),
  },
  {
    id: "idle.passed",
    from: ["none", "idle"],
    on: ["passed"],
    when: "CI passed and no climb is in progress",
    apply: () => stop("CI passed, and no recovery is in progress"),
  },
  {
    id: "start",
    from: ["none", "idle"],
    on: ["failed"],
    when: "CI failed and no climb is in progress: start one",
    apply: (ctx) => {
      const ev = failure(ctx);
      const d = new Draft(ctx.state ?? freshState(ctx.key, ev), ctx.now);
      beginClimb(d.s, ev);
      return climb(d, ctx, `CI failed on ${short(ev.head_sha)} (${describeFailure(ev)})`);
    },
  },
  {
    id: "rerun.passed",
    from: ["rerun_ci"],
    on: ["passed"],
    when: "the rerun passed",
    test: onHead,
    apply: (ctx) => {
      const d = new Draft(st(ctx), ctx.now);
      const reason = `the rerun passed on ${short(d.s.head_sha)}: the ${d.s.category} failure did not recur`;
      d.settle("fixed", reason);
      finish(d.s, "done");
      return { action: { kind: "done", reason }, reason, draft: d };
    },
  },
  {
    id: "rerun.failed",
    from: ["rerun_ci"],
    on: ["failed"],
    when: "the rerun failed too: go on to the tools (infra: quarantine)",
    test: onHead,
    apply: (ctx) => {
      const d = new Draft(st(ctx), ctx.now);
      const ev = failure(ctx);
      const why = `the rerun failed again (${describeFailure(ev)})`;
      d.settle("failed", why);
      takeFailure(d.s, ev);
      return climb(d, ctx, why);
    },
  },
  {
    id: "rerun.not_started",
    from: ["rerun_ci"],
    on: ["step_result"],
    when: "the rerun could not be requested",
    test: (ctx) =>
      stepResult(ctx).tool === undefined &&
      stepResult(ctx).tools === undefined &&
      stepResult(ctx).result !== "committed",
    apply: (ctx) => {
      const d = new Draft(st(ctx), ctx.now);
      const why = `the rerun could not be started: ${stepResult(ctx).reason}`;
      d.settle("skipped", why);
      return climb(d, ctx, why);
    },
  },
  {
    id: "fix.committed",
    from: ["fix_running"],
    on: ["step_result"],
    when: "the running tool committed a fix: wait for CI on it",
    test: (ctx) => {
      const ev = stepResult(ctx);
      return ev.result === "committed" && fromRunningStep(ctx) && ev.commit_sha !== st(ctx).head_sha;
    },
    apply: (ctx) => {
      const d = new Draft(st(ctx), ctx.now);
      const commit = stepResult(ctx).commit_sha as string;
      d.touch((e) => (e.commit_sha = commit));
      d.s.head_sha = commit;
      d.s.pending = "ci";
      const reason = `${stepName(d.s)} committed ${short(commit)}: waiting for CI on it`;
      return { action: { kind: "wait", reason }, reason, draft: d };
    },
  },
  {
    id: "fix.no_fix",
    from: ["fix_running"],
    on: ["step_result"],
    when: "the running tool made no fix: next rung (fixers that changed nothing: the attempt is refunded)",
    test: (ctx) => stepResult(ctx).result === "no_fix" && fromRunningStep(ctx),
    apply: (ctx) => {
      const d = new Draft(st(ctx), ctx.now);
      const fixers = d.s.step === "mechanical";
      const why =
        `${stepName(d.s)} made no fix: ${stepResult(ctx).reason}` +
        (fixers ? " (not counted as an attempt)" : "");
      d.settle("failed", why);
      // Fixers that changed nothing spent no budget worth counting: the AI tools get it.
      if (fixers) d.s.attempts = Math.max(0, d.s.attempts - 1);
      return climb(d, ctx, why);
    },
  },
  {
    id: "fix.unavailable",
    from: ["fix_running"],
    on: ["step_result"],
    when: "the tool (or every fixer) turned out unavailable: refund the attempt, next rung",
    test: (ctx) => stepResult(ctx).result === "unavailable" && fromRunningStep(ctx),
    apply: (ctx) => {
      const d = new Draft(st(ctx), ctx.now);
      const why = `${stepName(d.s)} ${d.s.step === "mechanical" ? "were" : "was"} unavailable: ${stepResult(ctx).reason}`;
      d.settle("skipped", why);
      d.s.attempts = Math.max(0, d.s.attempts - 1);
      return climb(d, ctx, why);
    },
  },
  {
    id: "fix.passed",
    from: ["fix_ci"],
    on: ["passed"],
    when: "CI passed on the fix commit",
    test: onHead,
    apply: (ctx) => {
      const d = new Draft(st(ctx), ctx.now);
      const reason = `CI passed on ${short(d.s.head_sha)}: ${stepName(d.s)} fixed the ${d.s.category} failure`;
      d.settle("fixed", reason);
      finish(d.s, "done");
      return { action: { kind: "done", reason }, reason, draft: d };
    },
  },
  {
    id: "fix.failed_same",
    from: ["fix_ci"],
    on: ["failed"],
    when: "CI on the fix commit fails the same way: next rung",
    test: (ctx) => onHead(ctx) && sameFailure(st(ctx), failure(ctx)),
    apply: (ctx) => {
      const d = new Draft(st(ctx), ctx.now);
      const ev = failure(ctx);
      const why = `CI still fails on ${short(ev.head_sha)}, the commit of ${stepName(d.s)} (${describeFailure(ev)})`;
      d.settle("failed", why);
      takeFailure(d.s, ev);
      return climb(d, ctx, why);
    },
  },
  {
    id: "fix.failed_changed",
    from: ["fix_ci"],
    on: ["failed"],
    when: "CI on the fix commit fails differently: a new climb for the new failure",
    test: onHead,
    apply: (ctx) => {
      const d = new Draft(st(ctx), ctx.now);
      const ev = failure(ctx);
      const why =
        `${short(ev.head_sha)}, the commit of ${stepName(d.s)}, changed the failure ` +
        `from ${describeFailure(d.s)} to ${describeFailure(ev)}`;
      d.settle("changed", why);
      beginClimb(d.s, ev);
      return climb(d, ctx, why);
    },
  },
  {
    id: "active.passed_other",
    from: ACTIVE,
    on: ["passed"],
    when: "CI passed on a newer push, or while the tool was still running",
    apply: (ctx) => {
      const d = new Draft(st(ctx), ctx.now);
      const head = verdict(ctx).head_sha;
      const reason = onHead(ctx)
        ? `CI passed on ${short(head)} before ${stepName(d.s)} reported`
        : `CI passed on a newer push ${short(head)}`;
      d.settle("superseded", reason);
      d.s.head_sha = head;
      finish(d.s, "done");
      return { action: { kind: "done", reason }, reason, draft: d };
    },
  },
  {
    id: "running.failed_same_head",
    from: ["fix_running"],
    on: ["failed"],
    when: "CI failed on the head while no result came from the running tool: take it as failed",
    test: onHead,
    apply: (ctx) => {
      const d = new Draft(st(ctx), ctx.now);
      const why = `no result was recorded for ${stepName(d.s)}, so it counts as failed`;
      d.settle("failed", why);
      takeFailure(d.s, failure(ctx));
      return climb(d, ctx, why);
    },
  },
  {
    id: "active.failed_new_push",
    from: ACTIVE,
    on: ["failed"],
    when: "CI failed on a head the ladder has not seen (someone pushed): a new climb",
    apply: (ctx) => {
      const d = new Draft(st(ctx), ctx.now);
      const ev = failure(ctx);
      const why = `a newer push ${short(ev.head_sha)} replaced ${short(d.s.head_sha)} before ${stepName(d.s)} finished`;
      d.settle("superseded", why);
      beginClimb(d.s, ev);
      return climb(d, ctx, `${why}; CI failed on it (${describeFailure(ev)})`);
    },
  },
  {
    id: "unexpected_result",
    from: ANY,
    on: ["step_result"],
    when: "a step result that matches no running step",
    apply: (ctx) => {
      const { tool, tools } = stepResult(ctx);
      const what = tool ? `'${tool}'` : tools ? fixersName(tools) : "a rerun";
      return stop(`ignored a step result for ${what}: no such step is running`);
    },
  },
] as const satisfies readonly LadderRule[];

export type LadderRuleId = (typeof LADDER_RULES)[number]["id"];

// --- the machine --------------------------------------------------------------------------------

const InputSchema = z.object({
  key: RecoveryKeySchema,
  event: LadderEventSchema,
  now: TimeSchema,
});

/**
 * The ladder's answer to one event. Pure: the same state and input give the same result on any
 * replica. Throws InputError when the state, the event or the time are malformed, or the state
 * belongs to another key; read the state with readMarker(body, "recovery", LadderStateSchema)
 * and decide what an unreadable marker means before calling this.
 */
export function nextAction(state: LadderState | null, input: LadderInput): LadderResult {
  const parsed = InputSchema.safeParse({ key: input.key, event: input.event, now: input.now });
  if (!parsed.success) {
    throw new InputError(`Cannot take the recovery ladder's next step: ${firstIssue(parsed.error)}`);
  }
  let current: LadderState | null = null;
  if (state !== null) {
    const s = LadderStateSchema.safeParse(state);
    if (!s.success) throw new InputError(`The stored recovery state is not valid: ${firstIssue(s.error)}`);
    current = s.data;
    if (current.key !== parsed.data.key) {
      throw new InputError(
        `The stored recovery state is for ${current.key}, not ${parsed.data.key}: it belongs to another pull request or branch.`,
      );
    }
  }

  const ctx: LadderContext = {
    state: current,
    phase: ladderPhase(current),
    event: parsed.data.event,
    key: parsed.data.key,
    now: parsed.data.now,
    config: input.config,
    circuit: input.circuit,
    available: input.available,
  };
  const rule = (LADDER_RULES as readonly LadderRule[]).find(
    (r) =>
      r.from.includes(ctx.phase) && r.on.includes(ctx.event.kind) && (r.test === undefined || r.test(ctx)),
  );
  // The table is total (a test enumerates every phase and event); reaching here is a bug.
  if (!rule) throw new Error(`recovery ladder: no rule for ${ctx.event.kind} in phase ${ctx.phase}`);

  const decision = rule.apply(ctx);
  const from = position(current);
  if (!decision.draft) {
    return {
      action: decision.action,
      state: current,
      transition: { rule: rule.id as LadderRuleId, from, to: from, reason: decision.reason },
      entries: [],
      changed: false,
    };
  }
  const next = decision.draft.s;
  next.reason = clip(decision.reason);
  const ev = ctx.event;
  if ((ev.kind === "failed" || ev.kind === "passed") && ev.ci_id !== undefined) {
    next.seen_ci = [...next.seen_ci.filter((id) => id !== ev.ci_id), ev.ci_id].slice(-SEEN_CI_LIMIT);
  }
  fitState(next);
  return {
    action: decision.action,
    state: next,
    transition: { rule: rule.id as LadderRuleId, from, to: position(next), reason: decision.reason },
    entries: decision.draft.entries,
    changed: true,
  };
}

/**
 * The next rung from where the draft stands: a rerun for an infra or flaky failure whose head has
 * not had one, else the category's fixers (all of them, once per climb), else the next AI tool,
 * else quarantine. Tools that cannot run are recorded as skipped with the reason. `why` says
 * what led here; the reason joins both.
 */
function climb(d: Draft, ctx: LadderContext, why: string): Decision {
  const s = d.s;
  const rec = ctx.config.recovery;
  if ((s.category === "infra" || s.category === "flaky") && rec.rerun_flaky && s.rerun_sha !== s.head_sha) {
    const what = `rerunning the failed jobs on ${short(s.head_sha)} once, as the failure looks ${s.category === "infra" ? "like infrastructure" : "flaky"}`;
    s.step = "rerun";
    s.pending = "ci";
    s.rung = 0;
    delete s.tool;
    delete s.tools;
    s.rerun_sha = s.head_sha;
    d.add({ step: "rerun", head_sha: s.head_sha, at: d.now, outcome: "started", reason: clip(what) });
    return { action: { kind: "rerun_failed_jobs" }, reason: `${why}; ${what}`, draft: d };
  }
  if (s.category === "infra") {
    const rerun = s.history.findLast((e) => e.step === "rerun" && e.head_sha === s.head_sha);
    const cause = !rec.rerun_flaky
      ? "reruns are off (recovery.rerun_flaky)"
      : rerun?.outcome === "skipped"
        ? "its rerun could not be started"
        : "it persisted after a rerun";
    return quarantine(
      d,
      `${why}; an infrastructure failure, and ${cause}: no fixer or AI tool can repair a runner or network fault`,
    );
  }
  if (s.attempts >= rec.max_attempts) {
    return quarantine(
      d,
      `${why}; attempt cap reached: ${s.attempts} of ${rec.max_attempts} attempts used on ${s.key}`,
    );
  }
  const fixers = mechanicalRung(d, ctx);
  if (fixers.length > 0) {
    s.attempts += 1;
    s.last_attempt_at = d.now;
    s.step = "mechanical";
    s.pending = "tool";
    s.rung = 0;
    delete s.tool;
    s.tools = fixers;
    const what = `running ${fixersName(fixers)} (attempt ${s.attempts} of ${rec.max_attempts})`;
    d.add({
      step: "mechanical",
      tools: fixers,
      head_sha: s.head_sha,
      at: d.now,
      outcome: "started",
      reason: clip(what),
    });
    return { action: { kind: "run_fixers", tools: fixers }, reason: `${why}; ${what}`, draft: d };
  }
  for (const [index, tool] of rec.escalation.entries()) {
    if (s.tried.includes(tool)) continue;
    if (s.tried.length >= TRIED_LIMIT) break;
    s.tried.push(tool);
    const refusal = refuse(tool, "ai", ctx);
    if (refusal !== null) {
      d.add({ step: "ai", tool, head_sha: s.head_sha, at: d.now, outcome: "skipped", reason: clip(refusal) });
      continue;
    }
    s.attempts += 1;
    s.last_attempt_at = d.now;
    s.step = "ai";
    s.pending = "tool";
    s.rung = index;
    delete s.tools;
    s.tool = tool;
    const what = `asking AI tool '${tool}' (attempt ${s.attempts} of ${rec.max_attempts})`;
    d.add({ step: "ai", tool, head_sha: s.head_sha, at: d.now, outcome: "started", reason: clip(what) });
    return { action: { kind: "run_ai", tool }, reason: `${why}; ${what}`, draft: d };
  }
  return quarantine(
    d,
    `${why}; every fixer and AI tool for the ${s.category} failure has been tried (${s.attempts} of ${rec.max_attempts} attempts used)`,
  );
}

/**
 * The fixers the category's mechanical rung runs together, in their configured order: those not
 * yet tried in this climb that can run. Each one that cannot is recorded as skipped with its
 * reason. All of them count as tried, so the rung runs at most once per climb.
 */
function mechanicalRung(d: Draft, ctx: LadderContext): string[] {
  const s = d.s;
  const usable: string[] = [];
  for (const tool of ctx.config.recovery.mechanical[s.category] ?? []) {
    if (s.tried.includes(tool) || usable.includes(tool)) continue;
    if (s.tried.length >= TRIED_LIMIT) break;
    s.tried.push(tool);
    const refusal = refuse(tool, "mechanical", ctx);
    if (refusal !== null) {
      d.add({
        step: "mechanical",
        tool,
        head_sha: s.head_sha,
        at: d.now,
        outcome: "skipped",
        reason: clip(refusal),
      });
    } else if (usable.length < MAX_FIXERS) {
      usable.push(tool);
    }
  }
  return usable;
}

/** Why `tool` cannot take a rung, or null when it can. */
function refuse(tool: string, step: "mechanical" | "ai", ctx: LadderContext): string | null {
  const profile = ctx.config.tools.find((t) => t.name === tool);
  if (!profile) return `not configured: no tool profile is named '${tool}'`;
  if (!profile.enabled) return "disabled in its profile";
  if (step === "mechanical" && profile.kind === "ai") {
    return "an AI tool listed as a mechanical fixer: move it to recovery.escalation";
  }
  if (step === "ai" && profile.kind === "mechanical") {
    return "a mechanical fixer listed in recovery.escalation: move it to recovery.mechanical";
  }
  const circuit = ctx.circuit?.(tool);
  if (circuit?.state === "open") return `circuit ${circuit.reason}`;
  const availability = ctx.available?.(tool);
  if (availability && !availability.available) return `unavailable: ${availability.reason}`;
  return null;
}

function quarantine(d: Draft, reason: string): Decision {
  finish(d.s, "quarantine");
  return { action: { kind: "quarantine", reason }, reason, draft: d };
}

function stop(reason: string): Decision {
  return { action: { kind: "stop", reason }, reason };
}

/** A new climb for `ev`: a fresh set of rungs on its head; attempts carry over. */
function beginClimb(s: LadderState, ev: Failure): void {
  takeFailure(s, ev);
  s.head_sha = ev.head_sha;
  s.tried = [];
  s.rung = 0;
  delete s.tool;
  delete s.tools;
}

function takeFailure(s: LadderState, ev: Failure): void {
  s.category = ev.category;
  if (ev.signature === undefined) delete s.signature;
  else s.signature = ev.signature;
}

/**
 * Ends the suggestion step of a fork's head (recovery.fork_suggestions): the fixers' diff was
 * posted for the fork's author to apply, or there was none to post. Either way the ladder stops
 * for this head (`done`, nothing pending): a fork's code gets no second fixer run and no AI tool,
 * and Switchyard cannot push to the fork, so there is no fix of its own whose CI could be awaited.
 * The rung is recorded as `failed`: it did not fix CI, whatever the author then does. A new push
 * to the fork starts a new climb (and a new suggestion), within recovery.max_attempts.
 */
export function settleSuggestion(
  state: LadderState,
  reason: string,
): { state: LadderState; entries: LadderEntry[] } {
  const parsed = LadderStateSchema.safeParse(state);
  if (!parsed.success)
    throw new InputError(`The stored recovery state is not valid: ${firstIssue(parsed.error)}`);
  const s = structuredClone(parsed.data);
  if (s.step !== "mechanical" || s.pending !== "tool" || s.dispatch?.suggest !== true) {
    throw new InputError(`Cannot settle a suggestion for ${s.key}: no suggestion step is in progress`);
  }
  const why = clip(reason || "no reason given");
  const entries: LadderEntry[] = [];
  s.history = s.history.map((e) => {
    if (e.outcome !== "started") return e;
    const settled: LadderEntry = { ...e, outcome: "failed", reason: why };
    entries.push(settled);
    return settled;
  });
  finish(s, "done");
  s.reason = why;
  fitState(s);
  return { state: s, entries };
}

function finish(s: LadderState, step: "done" | "quarantine"): void {
  s.step = step;
  s.pending = null;
  delete s.tool;
  delete s.tools;
}

function freshState(key: string, ev: Failure): LadderState {
  return {
    version: 1,
    key,
    head_sha: ev.head_sha,
    category: ev.category,
    step: "done",
    pending: null,
    rung: 0,
    tried: [],
    attempts: 0,
    rerun_sha: null,
    last_attempt_at: null,
    seen_ci: [],
    reason: "",
    history: [],
  };
}

/** Same category, and the same signature when both sides have one. */
function sameFailure(s: LadderState, ev: Failure): boolean {
  if (s.category !== ev.category) return false;
  if (s.signature !== undefined && ev.signature !== undefined) return s.signature === ev.signature;
  return true;
}

function knownHeads(s: LadderState): Set<string> {
  const heads = new Set<string>();
  for (const e of s.history) {
    heads.add(e.head_sha);
    if (e.commit_sha) heads.add(e.commit_sha);
  }
  if (s.rerun_sha) heads.add(s.rerun_sha);
  return heads;
}

/** Drops the oldest history entries until the state fits MAX_STATE_JSON_BYTES (the last stays). */
function fitState(s: LadderState): void {
  while (s.history.length > 1 && Buffer.byteLength(JSON.stringify(s), "utf8") > MAX_STATE_JSON_BYTES) {
    s.history.shift();
  }
}

function position(s: LadderState | null): LadderPosition {
  return s === null ? "none" : s.step;
}

/** "the rerun", "'aider'" or "the fixers (prettier, gofmt)". */
function stepName(s: LadderState): string {
  if (s.step === "rerun") return "the rerun";
  if (s.step === "mechanical") return fixersName(s.tools ?? []);
  return `'${s.tool}'`;
}

function fixersName(tools: readonly string[]): string {
  return `the fixers (${tools.join(", ")})`;
}

/** "format", or the signature, which usually names its category already ("format:src/a.ts"). */
function describeFailure(f: { category: string; signature?: string }): string {
  if (f.signature === undefined) return f.category;
  return f.signature.startsWith(`${f.category}:`) ? f.signature : `${f.category} ${f.signature}`;
}

function short(sha: string): string {
  return sha.slice(0, 7);
}

function clip(text: string): string {
  return text.length <= MAX_REASON_CHARS ? text : `${text.slice(0, MAX_REASON_CHARS - 1)}…`;
}

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.map(String).join(".")}: ` : "";
  return `${where}${issue?.message ?? "invalid"}`;
}

/**
 * A copy of the state being edited, and the history entries touched on the way. Entries are
 * appended (oldest dropped past HISTORY_LIMIT) or settled: the step in progress is always the
 * last entry, so settling never reaches a dropped one.
 */
class Draft {
  readonly s: LadderState;
  readonly entries: LadderEntry[] = [];
  constructor(
    state: LadderState,
    readonly now: string,
  ) {
    this.s = structuredClone(state);
  }

  add(entry: LadderEntry): void {
    this.s.history.push(entry);
    if (this.s.history.length > HISTORY_LIMIT)
      this.s.history.splice(0, this.s.history.length - HISTORY_LIMIT);
    this.entries.push(entry);
  }

  /** Close the step in progress with its outcome. */
  settle(outcome: RungOutcome, reason: string): void {
    this.touch((e) => {
      e.outcome = outcome;
      e.reason = clip(reason);
    });
  }

  touch(edit: (entry: LadderEntry) => void): void {
    const last = this.s.history[this.s.history.length - 1];
    if (last?.outcome !== "started") throw new Error("recovery ladder: no step in progress to settle");
    edit(last);
    if (!this.entries.includes(last)) this.entries.push(last);
  }
}
