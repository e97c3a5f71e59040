import { ShaSchema } from "../execution/commit-port.js";
import { z } from "zod";
import type { Config } from "../../config/schema.js";
import { InputError } from "../errors.js";
import { LABEL_PREFIX } from "../task/capability.js";
import { awaitsVerdict, LadderStateSchema, type LadderState } from "./ladder.js";

/**
 * Whether Switchyard may try to recover a failed CI run at all, before any evidence is fetched.
 * Each guard is a small function that approves or rejects with a reason a person can read in the
 * switchyard/recover check run. They run in this order, and the first rejection decides:
 *
 *  1. disabled      recovery.enabled is false.
 *  2. not_failed    the run did not fail (only `failure` and `timed_out` are recovered).
 *  3. own_workflow  the run is Switchyard's own execute or recover workflow, or a check suite of
 *                   its app: recovering a recovery is how loops start.
 *  4. not_watched   recovery.workflows is set and does not list the run's workflow.
 *  5. fork          the head lives in a fork: never run tools (with secrets) on a fork's code.
 *                   With recovery.fork_suggestions the caller may still run the fixers without
 *                   secrets and post their diff (src/github/recovery-flow.ts, once per head).
 *  6. draft         a draft PR, unless recovery.include_drafts.
 *  7. quarantined   the PR has the switchyard:quarantined label, or the stored ladder is
 *                   quarantined (which only a person's /switchyard retry lifts).
 *  8. in_flight     a recovery job is already running for this head.
 *  9. loop          the last loop_guard_commits commits on the branch are all recovery commits
 *                   (isRecoveryCommit: the Switchyard-Recovery trailer, or the bot's commit on a
 *                   branch that is not Switchyard's own task branch).
 * 10. attempt_cap   the PR's attempts are used up.
 * 11. cooldown      the last attempt started less than cooldown_seconds ago.
 *
 * Why this order: first whether the event is ours to look at at all (1-4), so an unrelated run
 * is not reported as a "loop"; then the hard safety rules that no state can override (5-6); then
 * a person's stop (7); then the transient and runaway checks (8-11), the ones a caller may see
 * clear on a later event.
 *
 * attempt_cap and cooldown let through the CI verdict the ladder is waiting for (the CI of the
 * fix it just committed, or of its rerun): that verdict is the climb's own next step, paced by CI
 * itself, and dropping it would leave the climb without an end; the ladder caps attempts on its
 * own. The loop guard makes no such exception: it is the backstop for a ladder whose state was
 * lost or edited, so it counts commits, not state. Rejections by `loop` and `attempt_cap` carry
 * `quarantine: true`: Switchyard gave up on this PR, and a person should hear it (once: the
 * quarantined guard answers from then on).
 *
 * An open circuit is not a guard here: which tool would run is only known after classification,
 * so the ladder skips a tool with an open circuit and records the circuit's reason.
 */

export const GUARD_NAMES = [
  "disabled",
  "not_failed",
  "own_workflow",
  "not_watched",
  "fork",
  "draft",
  "quarantined",
  "in_flight",
  "loop",
  "attempt_cap",
  "cooldown",
] as const;
export type GuardName = (typeof GUARD_NAMES)[number];

export type GuardVerdict =
  | { ok: true }
  | {
      ok: false;
      guard: GuardName;
      reason: string;
      /** fork only: post the suggested patch as a comment (recovery.fork_suggestions). */
      suggest_patch_comment?: boolean;
      /** loop, attempt_cap: quarantine the PR so a person hears that Switchyard gave up. */
      quarantine?: boolean;
    };

export const QUARANTINE_LABEL = `${LABEL_PREFIX}quarantined`;
export const RECOVERABLE_CONCLUSIONS = ["failure", "timed_out"] as const;

const RepoSchema = z.string().regex(/^[^/\s]+\/[^/\s]+$/, "owner/repo");

export const GuardEventSchema = z.strictObject({
  head_sha: ShaSchema,
  head_branch: z.string().min(1).max(255),
  /** null when the fork the PR came from was deleted. */
  head_repo_full_name: RepoSchema.nullable(),
  base_repo_full_name: RepoSchema,
  /** workflow_run.conclusion / check_suite.conclusion; null while still running. */
  conclusion: z.string().nullable(),
  /** Absent for a check suite that is not a workflow run (another CI app). */
  workflow_name: z.string().max(500).optional(),
  /** workflow_run.path, e.g. ".github/workflows/ci.yml". */
  workflow_path: z.string().max(500).optional(),
  /** The app that owns the check suite, when the event is a check suite. */
  app_slug: z.string().max(100).optional(),
  pr: z
    .strictObject({
      number: z.number().int().positive(),
      draft: z.boolean(),
      labels: z.array(z.string().max(100)).max(1000),
    })
    .nullable(),
});
export type GuardEvent = z.infer<typeof GuardEventSchema>;

export const RecentCommitSchema = z.strictObject({
  sha: ShaSchema,
  author_login: z.string().max(100).nullable().optional(),
  committer_email: z.string().max(320).nullable().optional(),
  message: z.string().max(100_000),
});
export type RecentCommit = z.infer<typeof RecentCommitSchema>;

/**
 * The trailer every recovery commit carries (`Switchyard-Recovery: <recovery key>`). The loop
 * guard counts these, not the `Switchyard-Task` trailer of the task's own commits: a PR that
 * Switchyard opened is all Switchyard commits, and one fix on it must not trip the guard.
 */
export const RECOVERY_TRAILER = "Switchyard-Recovery";

/** The trailer line a recovery commit's message ends with, e.g. `Switchyard-Recovery: o/r#7`. */
export function recoveryTrailer(key: string): string {
  if (!/^\S+$/.test(key) || key.length > 400) {
    throw new InputError(`Cannot write the recovery trailer: '${key}' is not a recovery key.`);
  }
  return `${RECOVERY_TRAILER}: ${key}`;
}

export const SwitchyardIdentitySchema = z.strictObject({
  /** The login commits made as the app or bot carry, e.g. "switchyard[bot]". */
  bot_login: z.string().min(1).max(100),
  bot_email: z.string().min(3).max(320).optional(),
  app_slug: z.string().min(1).max(100).optional(),
  /** The trailer every recovery commit carries (RECOVERY_TRAILER). */
  trailer: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9-]*$/)
    .default(RECOVERY_TRAILER),
});
export type SwitchyardIdentity = z.input<typeof SwitchyardIdentitySchema>;

export interface GuardInput {
  event: GuardEvent;
  /** The branch's latest commits, newest first; at least recovery.loop_guard_commits of them. */
  recent_commits: RecentCommit[];
  state: LadderState | null;
  /**
   * A recovery job is running for this head right now (e.g. an in-progress switchyard/recover
   * check run). Not the same as the ladder waiting for CI, which is not in flight.
   */
  in_flight: boolean;
  config: Config;
  now: string;
  identity: SwitchyardIdentity;
}

interface GuardContext {
  event: GuardEvent;
  commits: RecentCommit[];
  state: LadderState | null;
  in_flight: boolean;
  config: Config;
  nowMs: number;
  identity: z.output<typeof SwitchyardIdentitySchema>;
}

type Rejection = Extract<GuardVerdict, { ok: false }>;
type Guard = (ctx: GuardContext) => Omit<Rejection, "ok" | "guard"> | null;

const disabled: Guard = (ctx) =>
  ctx.config.recovery.enabled ? null : { reason: "recovery is turned off (recovery.enabled: false)" };

const notFailed: Guard = ({ event }) => {
  const c = event.conclusion;
  if (c !== null && (RECOVERABLE_CONCLUSIONS as readonly string[]).includes(c)) return null;
  if (c === "startup_failure") {
    return {
      reason:
        "the workflow could not start (startup_failure): its file is at fault, and Switchyard does not edit workflows",
    };
  }
  return {
    reason: `the run concluded ${c === null ? "nothing yet" : `'${c}'`}; only failure and timed_out are recovered`,
  };
};

const ownWorkflow: Guard = ({ event, config, identity }) => {
  const path = event.workflow_path === undefined ? undefined : workflowPath(event.workflow_path);
  if (path !== undefined && path === workflowPath(config.execution.workflow)) {
    return { reason: `${path} is Switchyard's own execute workflow (execution.workflow)` };
  }
  if (path !== undefined && path === workflowPath(config.recovery.workflow)) {
    return { reason: `${path} is Switchyard's own recover workflow (recovery.workflow)` };
  }
  if (event.app_slug && identity.app_slug && sameName(event.app_slug, identity.app_slug)) {
    return { reason: `the check suite belongs to Switchyard's own app (${identity.app_slug})` };
  }
  return null;
};

const notWatched: Guard = ({ event, config }) => {
  const watched = config.recovery.workflows;
  if (watched.length === 0) return null;
  const list = watched.join(", ");
  if (event.workflow_name === undefined && event.workflow_path === undefined) {
    return { reason: `the failure is not from a workflow run, and recovery.workflows lists only ${list}` };
  }
  if (watched.some((w) => watchMatches(w, event))) return null;
  const name = event.workflow_name ?? event.workflow_path;
  return { reason: `workflow '${name}' is not in recovery.workflows (${list})` };
};

const fork: Guard = ({ event, config }) => {
  const head = event.head_repo_full_name;
  if (head !== null && sameName(head, event.base_repo_full_name)) return null;
  const where = head === null ? "a fork that was deleted" : `the fork ${head}`;
  const suggest = config.recovery.fork_suggestions;
  return {
    reason:
      `the head is in ${where}: Switchyard never runs tools on a fork's code` +
      (suggest ? "; a suggested patch may be posted as a comment instead" : ""),
    suggest_patch_comment: suggest,
  };
};

const draft: Guard = ({ event, config }) =>
  event.pr?.draft && !config.recovery.include_drafts
    ? { reason: `#${event.pr.number} is a draft; set recovery.include_drafts: true to recover drafts` }
    : null;

const quarantined: Guard = ({ event, state }) => {
  const pr = event.pr;
  if (pr && pr.labels.some((l) => sameName(l, QUARANTINE_LABEL))) {
    return { reason: `#${pr.number} has the ${QUARANTINE_LABEL} label: a person takes it from here` };
  }
  if (state?.step === "quarantine") {
    return {
      reason: `the recovery of ${state.key} is quarantined (${state.reason}); comment /switchyard retry to start over`,
    };
  }
  return null;
};

const inFlight: Guard = ({ event, in_flight }) =>
  in_flight ? { reason: `a recovery is already running for ${short(event.head_sha)}` } : null;

const loop: Guard = ({ event, commits, config, identity }) => {
  const k = config.recovery.loop_guard_commits;
  const last = commits.slice(0, k);
  const prefix = config.execution.branch_prefix;
  // Fewer commits than k cannot be k in a row; the caller is asked for at least k.
  if (last.length < k || !last.every((c) => recoveryCommit(c, identity, event.head_branch, prefix))) {
    return null;
  }
  const shas = last.map((c) => short(c.sha)).join(", ");
  const which =
    k === 1
      ? `the last commit on ${event.head_branch} (${shas}) is`
      : `the last ${k} commits on ${event.head_branch} (${shas}) are`;
  return {
    reason: `${which} Switchyard's recovery commits: stopping so its fixes cannot chase each other`,
    quarantine: true,
  };
};

const attemptCap: Guard = ({ event, state, config }) => {
  const max = config.recovery.max_attempts;
  // With max_attempts 0 nothing is ever spent: the ladder still reruns flaky jobs and quarantines
  // the rest itself.
  if (state === null || state.attempts === 0 || state.attempts < max) return null;
  if (awaitsVerdict(state, event.head_sha)) return null;
  return {
    reason: `${state.attempts} of ${max} recovery attempts are used on ${state.key} (recovery.max_attempts)`,
    quarantine: true,
  };
};

const cooldown: Guard = ({ event, state, config, nowMs }) => {
  if (state === null || state.last_attempt_at === null) return null;
  if (awaitsVerdict(state, event.head_sha)) return null;
  const until = Date.parse(state.last_attempt_at) + config.recovery.cooldown_seconds * 1000;
  if (nowMs >= until) return null;
  return {
    reason:
      `cooling down: the last attempt started at ${state.last_attempt_at}; ` +
      `the next may start at ${isoTime(until)} (recovery.cooldown_seconds)`,
  };
};

/** The guards in the order they run. */
export const GUARDS: readonly { name: GuardName; check: Guard }[] = [
  { name: "disabled", check: disabled },
  { name: "not_failed", check: notFailed },
  { name: "own_workflow", check: ownWorkflow },
  { name: "not_watched", check: notWatched },
  { name: "fork", check: fork },
  { name: "draft", check: draft },
  { name: "quarantined", check: quarantined },
  { name: "in_flight", check: inFlight },
  { name: "loop", check: loop },
  { name: "attempt_cap", check: attemptCap },
  { name: "cooldown", check: cooldown },
];

const GuardInputSchema = z.object({
  event: GuardEventSchema,
  recent_commits: z.array(RecentCommitSchema).max(100),
  in_flight: z.boolean(),
  now: z.string().datetime({ offset: true }),
  identity: SwitchyardIdentitySchema,
});

/** The first guard that rejects, or `{ ok: true }`. Throws InputError on malformed input. */
export function checkGuards(input: GuardInput): GuardVerdict {
  const ctx = context(input);
  for (const guard of GUARDS) {
    const rejection = guard.check(ctx);
    if (rejection) return { ok: false, guard: guard.name, ...rejection };
  }
  return { ok: true };
}

/** Every guard's verdict in order, for a check run that lists them all. */
export function evaluateGuards(input: GuardInput): { guard: GuardName; verdict: GuardVerdict }[] {
  const ctx = context(input);
  return GUARDS.map((guard) => {
    const rejection = guard.check(ctx);
    return {
      guard: guard.name,
      verdict: rejection ? { ok: false as const, guard: guard.name, ...rejection } : { ok: true as const },
    };
  });
}

/**
 * Whether a commit on `branch` is one of Switchyard's recovery fixes, the thing the loop guard
 * counts. Either:
 * - it carries the recovery trailer (`Switchyard-Recovery: owner/repo#7`) on any line, not only
 *   the last paragraph: a squash that kept it is still a fix, and a false match only stops a
 *   recovery; or
 * - it was made as Switchyard's bot (login or e-mail) on a branch that is not a task branch
 *   (`<branch_prefix>issue-<n>-…` / `<branch_prefix>pr-<n>-…`). Off its own task branches the
 *   bot only ever commits fixes, so a fix whose trailer was lost (rewritten, squashed by a tool)
 *   still counts.
 * The task's own commits do not count: they carry `Switchyard-Task`, not the recovery trailer,
 * and they live on the task branch. Counting them (as this guard once did) stopped the first
 * recovery of every PR Switchyard opened, since such a PR is all Switchyard commits.
 */
export function isRecoveryCommit(
  commit: RecentCommit,
  identity: SwitchyardIdentity,
  branch: string,
  branchPrefix: string,
): boolean {
  const id = SwitchyardIdentitySchema.safeParse(identity);
  if (!id.success)
    throw new InputError(`Cannot recognise Switchyard's commits: identity: ${firstIssue(id.error)}`);
  return recoveryCommit(commit, id.data, branch, branchPrefix);
}

/** Whether `branch` is one of Switchyard's task branches (src/core/task/slug.ts taskBranchName). */
export function isTaskBranch(branch: string, branchPrefix: string): boolean {
  if (!branch.startsWith(branchPrefix)) return false;
  return /^(?:issue|pr)-[1-9]\d*(?:-|$)/.test(branch.slice(branchPrefix.length));
}

function recoveryCommit(
  commit: RecentCommit,
  id: GuardContext["identity"],
  branch: string,
  branchPrefix: string,
): boolean {
  if (new RegExp(`^${id.trailer}:[ \\t]*\\S`, "im").test(commit.message)) return true;
  const byBot =
    (commit.author_login != null && sameName(commit.author_login, id.bot_login)) ||
    (commit.committer_email != null &&
      id.bot_email !== undefined &&
      sameName(commit.committer_email, id.bot_email));
  return byBot && !isTaskBranch(branch, branchPrefix);
}

function context(input: GuardInput): GuardContext {
  const parsed = GuardInputSchema.safeParse({
    event: input.event,
    recent_commits: input.recent_commits,
    in_flight: input.in_flight,
    now: input.now,
    identity: input.identity,
  });
  if (!parsed.success) throw new InputError(`Cannot check the recovery guards: ${firstIssue(parsed.error)}`);
  let state: LadderState | null = null;
  if (input.state !== null) {
    const s = LadderStateSchema.safeParse(input.state);
    if (!s.success)
      throw new InputError(`Cannot check the recovery guards: the stored state: ${firstIssue(s.error)}`);
    state = s.data;
  }
  return {
    event: parsed.data.event,
    commits: parsed.data.recent_commits,
    state,
    in_flight: parsed.data.in_flight,
    config: input.config,
    nowMs: Date.parse(parsed.data.now),
    identity: parsed.data.identity,
  };
}

/** A watch entry names a workflow, its path, or its file name. */
function watchMatches(entry: string, event: GuardEvent): boolean {
  if (event.workflow_name !== undefined && entry === event.workflow_name) return true;
  if (event.workflow_path === undefined) return false;
  const path = workflowPath(event.workflow_path);
  if (entry.includes("/")) return workflowPath(entry) === path;
  return path.slice(path.lastIndexOf("/") + 1) === entry;
}

/** workflow_run.path may start with "./" or end with "@<ref>"; compare the bare path. */
function workflowPath(path: string): string {
  return path.replace(/^\.\//, "").split("@")[0]!;
}

/** GitHub logins, repositories and labels are case-insensitive. */
function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function short(sha: string): string {
  return sha.slice(0, 7);
}

function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace(".000Z", "Z");
}

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.map(String).join(".")}: ` : "";
  return `${where}${issue?.message ?? "invalid"}`;
}
