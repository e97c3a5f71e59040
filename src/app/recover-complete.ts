import { z } from "zod";
import type { Config } from "../config/schema.js";
import { checkRunOrigin, RunFactsSchema, type RunFacts } from "../core/execution/provenance.js";
import { InputError } from "../core/errors.js";
import { checkPatchPolicy, policyFromConfig } from "../core/policy/patch-policy.js";
import { FIX_ARTIFACT_NAME, readFixBundle, type ReadFixBundle } from "../core/recovery/fix-bundle.js";
import type { LadderState } from "../core/recovery/ladder.js";
import {
  ArtifactGoneError,
  ArtifactRejectedError,
  downloadArtifact,
  listRunArtifacts,
} from "../github/artifacts.js";
import { deliverFix } from "../github/fix-delivery.js";
import type { GitHubClient } from "../github/octokit.js";
import {
  finishDispatchedStep,
  finishSuggestion,
  loadRecovery,
  parseRecoverRunTitle,
  recoverRunTitle,
  reportRefusedRun,
  type RecoveryOutcome,
} from "../github/recovery-flow.js";
import { loadRepoConfig } from "./repo-config.js";
import type { RecoverContext } from "./recover-run.js";

/**
 * workflow_run.completed of Switchyard's recover workflow -> the step the app dispatched gets
 * its answer (DESIGN, "Trust": with the app installed the job that runs fixers and AI tools holds
 * a read-only token and uploads its fix; the app checks where it came from and commits it as the
 * app). The same shape as the execute completion (complete-task.ts):
 *
 * 1. Only runs titled `switchyard recover <key> (attempt <n>) at <sha>` (recoverRunTitle) are
 *    looked at further, without a request; any other run is `not-mine`, for recovery proper.
 * 2. The configuration and the recovery: the PR (from the key) and the ladder state the app
 *    stored, with the dispatch record it wrote when it dispatched the step.
 * 3. Is the recovery waiting for this run? Only a step in progress on the titled head and
 *    attempt is; a run already accepted for it (a redelivery) or any later run is ignored.
 * 4. Provenance (core/execution/provenance.ts checkRunOrigin): this repository, not a fork, the
 *    dispatched workflow, workflow_dispatch, the expected title, created after the dispatch, on
 *    the branch the app dispatched it on, started by the app's bot. A refused run is reported on
 *    the check run and the step keeps waiting for its real run.
 * 5. A run that did not succeed, a missing or forged bundle, a bundle that answers another step,
 *    a patch the policy refuses, a commit that cannot land: the step's result is no_fix with the
 *    reason and the run's link, so the ladder moves on; nothing is dropped.
 * 6. A fixed result is committed through deliverFix (Git Data API, as the app: onto Switchyard's
 *    own PR branch, or a fix branch and draft fix PR), then recorded as committed. no_fix and
 *    unavailable are recorded as the bundle says.
 *
 * A fork's suggestion step (the dispatch record says `suggest`, recovery.fork_suggestions) goes
 * through 1-5 the same way, then is never committed: the fixers' diff is posted in the PR's
 * recovery comment (renderSuggestion) and the ladder stops for that head (finishSuggestion), with
 * no retry and no AI tool. The fork's code made that diff, so it is shown as data, bounded.
 *
 * Why the head commit of the run is not compared: the recover workflow is dispatched on the
 * default branch, so its head_sha is whatever that branch pointed to when GitHub created the run,
 * which a push in between changes; the branch is checked instead, and the commit the fix is made
 * on is bound by the title (set from the app's own dispatch input, by the app's bot), the bundle's
 * manifest and the patch's base, which must all be the stored failing head.
 */

export interface RecoverCompleteDeps {
  appId: () => Promise<number>;
  /** The app's slug; its bot `<slug>[bot]` must have started the run. */
  appSlug: () => Promise<string>;
  now: () => Date;
  maxArtifactBytes?: number;
  maxEntryBytes?: number;
}

export type RecoverCompleteOutcome =
  | { action: "not-mine"; reason: string }
  | { action: "ignored"; reason: string }
  | { action: "refused"; rule: string; reason: string; run_id: number }
  /** A fork's suggestion step ended: its diff posted on the PR (or why not); nothing committed. */
  | { action: "suggested"; posted: boolean; reason: string; run_id: number; outcome: RecoveryOutcome }
  | {
      action: "recorded";
      result: "committed" | "no_fix" | "unavailable";
      reason: string;
      run_id: number;
      commit_sha: string | null;
      outcome: RecoveryOutcome;
    };

const PayloadSchema = z.looseObject({
  action: z.string(),
  workflow_run: z.looseObject({
    conclusion: z.string().nullish(),
    display_title: z.string().nullish(),
  }),
  repository: z.looseObject({
    id: z.number().int(),
    full_name: z.string().min(1),
    name: z.string().min(1),
    owner: z.looseObject({ login: z.string().min(1) }),
    default_branch: z.string().min(1),
  }),
});

/** True when the run's title names a recovery step: the caller hands it to completeRecoverRun. */
export function isRecoverRunTitle(title: string | null | undefined): boolean {
  return parseRecoverRunTitle(title) !== null;
}

/** Throws only for the API failing on Switchyard itself; the caller logs it (a redelivery retries). */
export async function completeRecoverRun(
  context: RecoverContext,
  deps: RecoverCompleteDeps,
): Promise<RecoverCompleteOutcome> {
  const parsed = PayloadSchema.safeParse(context.payload);
  if (!parsed.success) throw new InputError("the workflow_run payload is not what GitHub documents");
  const payload = parsed.data;
  if (payload.action !== "completed") return { action: "ignored", reason: `action ${payload.action}` };

  // 1
  const title = parseRecoverRunTitle(payload.workflow_run.display_title);
  if (title === null) return { action: "not-mine", reason: "the run is not titled switchyard recover <key>" };
  const facts = RunFactsSchema.safeParse(payload.workflow_run);
  if (!facts.success) throw new InputError("the workflow_run payload's run is not what GitHub documents");
  const run = facts.data;
  const owner = payload.repository.owner.login;
  const repo = payload.repository.name;
  const log = (msg: string, extra: object = {}) =>
    context.log.info({ delivery: context.id, recovery: title.key, run: run.id, ...extra }, msg);

  // 2
  const cfg = await loadRepoConfig(context.octokit, { owner, repo });
  if (!cfg.ok) {
    // The route check run reports a broken configuration; without it no policy can be checked.
    const reason = `the configuration cannot be used: ${cfg.error.message.split("\n")[0]}`;
    log(`ignored: ${reason}`);
    return { action: "ignored", reason };
  }
  const config = cfg.loaded.config;
  const [appId, slug] = await Promise.all([deps.appId(), deps.appSlug()]);
  const now = deps.now().toISOString();
  const loaded = await loadRecovery(context.octokit, {
    owner,
    repo,
    default_branch: payload.repository.default_branch,
    key: title.key,
    head_sha: title.head_sha,
    author: { app_id: appId },
    run: { id: run.id, attempt: run.run_attempt, html_url: run.html_url ?? null },
  });
  if (!loaded.ok) {
    log(`ignored: ${loaded.reason}`);
    return { action: "ignored", reason: loaded.reason };
  }
  const target = loaded.target;
  const state = target.state;

  // 3
  const waiting = notWaiting(state, title, run);
  if (waiting !== null) {
    log(`ignored: ${waiting}`);
    return { action: "ignored", reason: waiting };
  }
  const s = state!;

  // 4
  const verdict = checkRunOrigin(run, {
    repository: { id: payload.repository.id, full_name: payload.repository.full_name },
    workflowPath: s.dispatch?.workflow ?? config.recovery.workflow,
    workflowLabel: "the recover workflow",
    displayTitle: recoverRunTitle({ key: s.key, attempt: title.attempt, head_sha: s.head_sha }),
    botLogin: `${slug}[bot]`,
    dispatch: {
      ...(s.dispatch ? { at: s.dispatch.at, head_branch: s.dispatch.ref } : {}),
      missing:
        `the app has no record of dispatching the step of ${s.key} in progress; ` +
        "comment `/switchyard retry` on the pull request to start the recovery over",
    },
  });
  if (verdict.verdict !== "accepted") {
    const rule = verdict.verdict === "rejected" ? verdict.rule : verdict.verdict;
    log(`refused: ${verdict.reason}`, { rule });
    await reportRefusedRun(context.octokit, target, { run_id: run.id, reason: verdict.reason, now });
    return { action: "refused", rule, reason: verdict.reason, run_id: run.id };
  }

  const link = run.html_url ? ` ([run ${run.id}](${run.html_url}))` : "";
  const record = async (
    result: "committed" | "no_fix" | "unavailable",
    reason: string,
    commit_sha?: string,
  ): Promise<RecoverCompleteOutcome> => {
    const outcome = await finishDispatchedStep(context.octokit, target, {
      result,
      ...(commit_sha !== undefined ? { commit_sha } : {}),
      reason,
      run: { id: run.id, attempt: run.run_attempt },
      config,
      now,
    });
    log(`recorded ${result}`, { action: outcome.action?.kind ?? null, done: outcome.done });
    return { action: "recorded", result, reason, run_id: run.id, commit_sha: commit_sha ?? null, outcome };
  };

  const conclusion = payload.workflow_run.conclusion ?? "unknown";
  if (s.dispatch?.suggest === true) {
    // 5f: a fork's code ran; its diff is shown to the fork's author, never committed.
    const suggest = async (reason: string, suggestion: string | null): Promise<RecoverCompleteOutcome> => {
      const outcome = await finishSuggestion(context.octokit, target, {
        run: { id: run.id, attempt: run.run_attempt },
        reason,
        suggestion,
        config,
        now,
      });
      log(suggestion === null ? "suggestion: none" : "suggestion posted", { done: outcome.done });
      return { action: "suggested", posted: suggestion !== null, reason, run_id: run.id, outcome };
    };
    if (conclusion !== "success") return suggest(`${runFailure(run.id, conclusion)}${link}`, null);
    const bundle = await fetchFixBundle(context.octokit, { owner, repo, run }, deps);
    if (typeof bundle === "string") return suggest(`${bundle}${link}`, null);
    const mismatch = bundleMismatch(bundle, s, title.attempt, run);
    if (mismatch !== null) return suggest(`Switchyard refused the fix bundle: ${mismatch}${link}`, null);
    const m = bundle.manifest;
    if (m.result !== "fixed" || bundle.patch === null) return suggest(m.reason, null);
    const refusal = policyRefusal(bundle, config);
    if (refusal !== null) return suggest(`${refusal}${link}`, null);
    const tools = m.action.kind === "run_fixers" ? m.action.tools : [m.action.tool];
    return suggest(
      `suggested the diff of ${tools.join(", ")} to the fork's author${link}`,
      renderSuggestion({ diff: bundle.patch.diff, fixers: m.fixers, runUrl: run.html_url ?? null }),
    );
  }

  // 5

  if (conclusion !== "success") return record("no_fix", `${runFailure(run.id, conclusion)}${link}`);
  const bundle = await fetchFixBundle(context.octokit, { owner, repo, run }, deps);
  if (typeof bundle === "string") return record("no_fix", `${bundle}${link}`);
  const mismatch = bundleMismatch(bundle, s, title.attempt, run);
  if (mismatch !== null) return record("no_fix", `Switchyard refused the fix bundle: ${mismatch}${link}`);
  const m = bundle.manifest;
  if (m.result !== "fixed" || bundle.patch === null)
    return record(m.result === "fixed" ? "no_fix" : m.result, m.reason);
  const refusal = policyRefusal(bundle, config);
  if (refusal !== null) return record("no_fix", `${refusal}${link}`);

  // 6
  const delivery = await deliverFix({
    octokit: context.octokit,
    owner,
    repo,
    context: {
      key: s.key,
      run_id: m.failed_run_id,
      head_sha: s.head_sha,
      head_ref: target.head_branch,
      pr_number: target.pr?.number ?? null,
      category: s.category,
      ...(s.signature !== undefined ? { signature: s.signature } : {}),
      attempt: title.attempt,
    },
    fix: {
      step: m.action.kind === "run_fixers" ? "mechanical" : "ai",
      result: "fixed",
      reason: m.reason,
      tools: m.action.kind === "run_fixers" ? m.action.tools : [m.action.tool],
      patch: bundle.patch,
      fixers: m.fixers,
      execution: null,
      evidenceFile: null,
    },
    config,
    defaultBranch: target.default_branch,
    blobs: bundle.blobs,
    runId: `${run.id}-${run.run_attempt}`,
    runUrl: run.html_url ?? null,
  });
  if (!delivery.ok) return record("no_fix", `the fix could not land: ${delivery.reason}`);
  const where = delivery.pr ? `fix PR #${delivery.pr.number}` : delivery.branch;
  return record(
    "committed",
    `${m.reason}; committed ${delivery.commit_sha.slice(0, 12)} (${where})`,
    delivery.commit_sha,
  );
}

/** Why the recovery is not waiting for this run, or null when it is. */
function notWaiting(
  state: LadderState | null,
  title: { key: string; attempt: number; head_sha: string },
  run: RunFacts,
): string | null {
  if (state === null) return `${title.key} has no recovery state: the run was not dispatched by the app`;
  const accepted = state.dispatch?.run_id;
  if (accepted === run.id && run.run_attempt <= (state.dispatch?.run_attempt ?? 1)) {
    return `run ${run.id} (attempt ${run.run_attempt}) was already handled`;
  }
  if (accepted !== undefined)
    return `run ${accepted} already answered this step; run ${run.id} cannot replace it`;
  if (state.pending !== "tool") return `${state.key} is not waiting for a fix (${state.step})`;
  if (state.head_sha !== title.head_sha || Math.max(1, state.attempts) !== title.attempt) {
    return `${state.key} waits for attempt ${Math.max(1, state.attempts)} on ${state.head_sha.slice(0, 7)}, not for attempt ${title.attempt} on ${title.head_sha.slice(0, 7)}`;
  }
  return null;
}

/** What a recover run's conclusion means for the step. */
function runFailure(runId: number, conclusion: string): string {
  switch (conclusion) {
    case "cancelled":
      return `recover run ${runId} was cancelled before it delivered a fix`;
    case "timed_out":
      return `recover run ${runId} hit the job's time limit (\`timeout-minutes\`) before it delivered a fix`;
    case "startup_failure":
      return `recover run ${runId} could not start: the recover workflow file is invalid or not allowed to run`;
    default:
      return `recover run ${runId} concluded ${conclusion} without delivering a fix; its log says why`;
  }
}

/** The run's fix bundle, verified blob by blob, or why there is none usable (a sentence). */
async function fetchFixBundle(
  octokit: GitHubClient,
  where: { owner: string; repo: string; run: RunFacts },
  deps: RecoverCompleteDeps,
): Promise<ReadFixBundle | string> {
  const { owner, repo, run } = where;
  const artifacts = await listRunArtifacts(octokit, { owner, repo, run_id: run.id });
  const artifact = artifacts.find(
    (a) => a.name === FIX_ARTIFACT_NAME && (a.workflow_run === null || a.workflow_run.id === run.id),
  );
  if (artifact === undefined) {
    return (
      `recover run ${run.id} succeeded but uploaded no \`${FIX_ARTIFACT_NAME}\` artifact: the recover workflow ` +
      "must run Switchyard with `deliver: artifact` and upload its `artifact-path` output under that name"
    );
  }
  try {
    const files = await downloadArtifact(octokit, {
      owner,
      repo,
      artifact,
      ...(deps.maxArtifactBytes === undefined ? {} : { maxBytes: deps.maxArtifactBytes }),
      ...(deps.maxEntryBytes === undefined ? {} : { maxEntryBytes: deps.maxEntryBytes }),
    });
    return readFixBundle(files);
  } catch (error) {
    if (error instanceof ArtifactGoneError || error instanceof ArtifactRejectedError) return error.message;
    if (error instanceof InputError)
      return `Switchyard refused the fix artifact of run ${run.id}: ${error.message}`;
    throw error;
  }
}

/** The bundle must answer the step the app dispatched, made by this run: why not, or null. */
function bundleMismatch(
  bundle: ReadFixBundle,
  state: LadderState,
  attempt: number,
  run: RunFacts,
): string | null {
  const m = bundle.manifest;
  const differs = (what: string, got: string | number, want: string | number) =>
    `it names ${what} ${got}, not ${want}; it was not made by run ${run.id} for this step`;
  if (m.key !== state.key) return differs("the recovery", m.key, state.key);
  if (m.run_id !== run.id) return differs("run", m.run_id, run.id);
  if (m.run_attempt !== run.run_attempt) return differs("attempt", m.run_attempt, run.run_attempt);
  if (m.head_sha !== state.head_sha) return differs("the head", m.head_sha, state.head_sha);
  if (m.attempt !== attempt) return differs("recovery attempt", m.attempt, attempt);
  const asked = state.step === "mechanical" ? `fixers ${state.tools?.join(", ")}` : `AI tool ${state.tool}`;
  const ran =
    m.action.kind === "run_fixers" ? `fixers ${m.action.tools.join(", ")}` : `AI tool ${m.action.tool}`;
  if (asked !== ran) return differs("the step", ran, asked);
  return null;
}

/** The repository's policy over every path the patch reports and every path it writes. */
function policyRefusal(bundle: ReadFixBundle, config: Config): string | null {
  const patch = bundle.patch!;
  const written = patch.entries.map((e) => ({
    path: e.path,
    status: e.deleted ? ("deleted" as const) : ("modified" as const),
    binary: false,
    additions: 0,
    deletions: 0,
    ...(!e.deleted && e.mode !== "160000" ? { mode: e.mode } : {}),
  }));
  const result = checkPatchPolicy([...patch.files, ...written], policyFromConfig(config.execution, []));
  if (result.ok) {
    const gitlink = patch.entries.find((e) => !e.deleted && e.mode === "160000");
    return gitlink === undefined
      ? null
      : `the fix adds a submodule (${gitlink.path}), which Switchyard never commits`;
  }
  const reasons = [...new Set(result.violations.map((v) => v.message))];
  return `the fix was refused by the repository's policy: ${reasons.join("; ")}`;
}

/** The suggested diff's cap in characters: the comment also carries the report (60,000 in all). */
export const SUGGESTION_DIFF_CHARS = 40_000;

/**
 * The suggestion section of the PR's recovery comment: which fixers changed something, their diff
 * in a ```diff block (cut at a line end past SUGGESTION_DIFF_CHARS, with a note), and how to apply
 * it. The diff was made by a fork's code, so it is fenced longer than any backtick run inside it
 * and shown as data: Markdown in it cannot close the block.
 */
export function renderSuggestion(input: {
  diff: Uint8Array;
  fixers: { tool: string; status: string }[];
  runUrl: string | null;
}): string {
  let text = new TextDecoder("utf-8", { fatal: false }).decode(input.diff).replace(/\r\n/g, "\n");
  let note = "";
  if (text.length > SUGGESTION_DIFF_CHARS) {
    const cut = text.lastIndexOf("\n", SUGGESTION_DIFF_CHARS);
    const kept = text.slice(0, cut > 0 ? cut + 1 : SUGGESTION_DIFF_CHARS);
    const dropped = text
      .slice(kept.length)
      .split("\n")
      .filter((l) => l !== "").length;
    note =
      `\n_The diff was cut: ${dropped} more line${dropped === 1 ? "" : "s"} not shown, so this part does not ` +
      `apply on its own; run the fixers yourself${input.runUrl ? ` or take the whole patch from the [run](${input.runUrl})` : ""}._\n`;
    text = kept;
  }
  if (!text.endsWith("\n")) text += "\n";
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((r) => r[0].length));
  const fence = "`".repeat(longest + 1);
  const changed = input.fixers.filter((f) => f.status === "changed").map((f) => `\`${f.tool}\``);
  const who = changed.length > 0 ? changed.join(", ") : "the fixers";
  return [
    "### Suggested fix",
    "",
    `This pull request comes from a fork, so Switchyard does not push to it. ${who} would change ` +
      "the following; to apply it, save the block below as `fix.diff` in your checkout of this branch " +
      "and run `git apply fix.diff`, then commit and push.",
    "",
    `${fence}diff`,
    text + fence,
    note,
  ].join("\n");
}
