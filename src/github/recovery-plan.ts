import { z } from "zod";
import type { Config } from "../config/schema.js";
import { InputError } from "../core/errors.js";
import { classify } from "../core/recovery/classify.js";
import {
  evaluateGuards,
  recoveryTrailer,
  type GuardEvent,
  type GuardName,
  type GuardVerdict,
  type RecentCommit,
  type SwitchyardIdentity,
} from "../core/recovery/guards.js";
import {
  nextAction,
  recoveryKey,
  type LadderEvent,
  type LadderResult,
  type LadderState,
  type ToolAvailability,
  type ToolCircuit,
} from "../core/recovery/ladder.js";
import { compileRules } from "../core/recovery/rules.js";
import type { Classification, Evidence } from "../core/recovery/schema.js";
import { GitHubApiError, gitHubApiError } from "./errors.js";
import { gatherRunEvidence, type FailedJob } from "./failed-run-evidence.js";
import type { GitHubClient } from "./octokit.js";
import {
  firstIssue,
  PrSchema,
  readPr,
  readState,
  ShaSchema,
  short,
  toPr,
  type RecoveryCi,
  type RecoveryPr,
  type RecoveryTarget,
  type StateAuthor,
} from "./recovery-state.js";
import { sameShaHistory } from "./same-sha-history.js";

/**
 * planRecovery: the read-only half of the flow. It reads what is needed (the PR, the stored ladder
 * state, the branch's latest commits, the run's evidence), runs the guards, classifies, and asks the
 * ladder; it writes nothing, so a plan can be recorded or carried out by recovery-apply.ts.
 */

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

function barePath(path: string): string {
  return path.replace(/^\.\//, "").split("@")[0]!;
}
