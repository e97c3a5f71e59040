import { z } from "zod";
import type { Config } from "../config/schema.js";
import type { BlobReader, CapturedPatch } from "../core/execution/commit-port.js";
import { InputError } from "../core/errors.js";
import { recoveryTrailer } from "../core/recovery/guards.js";
import { renderEvidence } from "../core/recovery/render.js";
import type { Classification, Evidence } from "../core/recovery/schema.js";
import { branchSlug } from "../core/task/slug.js";
import type { RecoveryFixContext, RecoveryFixResult } from "../runner/recover-fix.js";
import { GitDataCommitPort } from "./git-data-commit.js";
import type { GitHubClient } from "./octokit.js";
import { PR_BODY_LIMIT, cutAt, upsertDraftPullRequest } from "./pull-request.js";

/**
 * Where a recovery's fix lands, and landing it:
 * - Switchyard's own PR (its head branch starts with execution.branch_prefix): the fix commit
 *   goes onto that branch, which is Switchyard's to change.
 * - A person's PR: a fix PR from `<prefix>fix-<pr>-<attempt>` into the PR's head branch, for its
 *   author to merge or not. Their branch is pushed to only with recovery.push_to_pr_branch.
 * - A branch without a PR (the default branch, usually): a fix PR from
 *   `<prefix>fix-<branch>-<attempt>` into it. The default branch itself is never committed to
 *   (the commit port refuses it too).
 * Commits go through the Git Data API (GitDataCommitPort) with the `Switchyard-Recovery` trailer
 * the loop guard counts. A fix PR is created as a draft once and edited in place afterwards,
 * found by its head branch, so a redelivered dispatch never opens a second one.
 */

export type FixTarget =
  | { kind: "pr_branch"; branch: string; why: string }
  | { kind: "fix_pr"; branch: string; base: string; why: string };

/** Characters of rendered evidence in a fix PR's body. */
export const BODY_EVIDENCE_CHARS = 8 * 1024;
const MAX_FILES_LISTED = 50;

/** Where the fix for `context` goes. Pure. */
export function fixTarget(
  context: Pick<RecoveryFixContext, "head_ref" | "pr_number" | "attempt">,
  config: Pick<Config, "execution" | "recovery">,
  defaultBranch: string,
): FixTarget {
  const prefix = config.execution.branch_prefix;
  const ref = context.head_ref;
  if (ref === defaultBranch || context.pr_number === null) {
    return {
      kind: "fix_pr",
      branch: `${prefix}fix-${branchSlug(ref)}-${context.attempt}`,
      base: ref,
      why:
        ref === defaultBranch
          ? `${ref} is the default branch, which Switchyard never pushes to`
          : `${ref} has no pull request, so the fix is proposed as one`,
    };
  }
  if (ref.startsWith(prefix)) {
    return { kind: "pr_branch", branch: ref, why: `${ref} is Switchyard's own branch (${prefix}…)` };
  }
  if (pushToPrBranch(config)) {
    return {
      kind: "pr_branch",
      branch: ref,
      why: `recovery.push_to_pr_branch is on, so the fix goes onto #${context.pr_number}'s branch`,
    };
  }
  return {
    kind: "fix_pr",
    branch: `${prefix}fix-${context.pr_number}-${context.attempt}`,
    base: ref,
    why: `#${context.pr_number} is a person's pull request: the fix is offered as a pull request into ${ref}`,
  };
}

/** recovery.push_to_pr_branch: a person opted in to fixes on their own branch. */
function pushToPrBranch(config: Pick<Config, "recovery">): boolean {
  return config.recovery.push_to_pr_branch;
}

export interface FixReportInput {
  context: RecoveryFixContext;
  fix: Pick<RecoveryFixResult, "step" | "tools" | "reason" | "fixers">;
  patch: CapturedPatch;
  target: FixTarget;
  evidence?: Evidence | null | undefined;
  classification?: Classification | null | undefined;
  /** The failed workflow run, for a link. */
  failedRunUrl?: string | null | undefined;
  /** This recovery run, for a link. */
  runUrl?: string | null | undefined;
  maxAttempts?: number | undefined;
}

/** The fix PR's body (and the report of a commit onto a PR branch): bounded to GitHub's limit. */
export function renderFixReport(input: FixReportInput): string {
  const { context: c, fix, patch, target, classification: cls } = input;
  const run = input.failedRunUrl
    ? `[workflow run ${c.run_id}](${input.failedRunUrl})`
    : `workflow run ${c.run_id}`;
  const on = c.pr_number !== null ? `\`${c.head_ref}\` (#${c.pr_number})` : `\`${c.head_ref}\``;
  const by =
    fix.step === "mechanical"
      ? `${changedBy(fix)} (mechanical fixer${changedBy(fix).includes(",") ? "s" : ""})`
      : `${fix.tools[0]} (AI tool, given the evidence below)`;
  const lines = [
    `## Switchyard's fix for a ${c.category} failure`,
    "",
    `${run} failed on ${on} at ${c.head_sha.slice(0, 12)}. ` +
      (target.kind === "fix_pr"
        ? `Merging this pull request into \`${target.base}\` applies the fix; ${target.why}.`
        : `The fix was committed onto \`${target.branch}\`: ${target.why}.`),
    "",
    "| | |",
    "|---|---|",
    `| Failure class | ${c.category}${cls ? ` (confidence ${cls.confidence.toFixed(2)})` : ""} |`,
  ];
  const signature = cls?.signature ?? c.signature;
  if (signature) lines.push(`| Signature | \`${tableCell(signature)}\` |`);
  if (input.evidence?.failed_step)
    lines.push(`| Failed step | \`${tableCell(input.evidence.failed_step)}\` |`);
  lines.push(
    `| Attempt | ${c.attempt}${input.maxAttempts ? ` of ${input.maxAttempts}` : ""} |`,
    `| Fixed by | ${tableCell(by)} |`,
    `| Recovery | \`${c.key}\` |`,
  );
  if (cls) lines.push("", `Why this class: ${cls.reason}`);

  lines.push(
    "",
    "### What changed",
    "",
    fix.reason,
    "",
    `${patch.stats.files} file${patch.stats.files === 1 ? "" : "s"}, +${patch.stats.additions} −${patch.stats.deletions}:`,
    "",
  );
  for (const f of patch.files.slice(0, MAX_FILES_LISTED)) {
    const from = f.old_path ? ` (from \`${tableCell(f.old_path)}\`)` : "";
    lines.push(
      `- \`${tableCell(f.path)}\`${from}: ${f.status}${f.binary ? ", binary" : ""}, +${f.additions} −${f.deletions}`,
    );
  }
  if (patch.files.length > MAX_FILES_LISTED)
    lines.push(`- … and ${patch.files.length - MAX_FILES_LISTED} more`);
  if (fix.step === "mechanical" && fix.fixers.length > 0) {
    lines.push("", "Fixers, in the order they ran:", "");
    for (const r of fix.fixers) lines.push(`- ${r.tool}: ${r.status}: ${r.reason}`);
  }
  if (input.evidence) {
    const doc = renderEvidence(input.evidence, { maxChars: BODY_EVIDENCE_CHARS }).replace(/^# .*\n/, "");
    lines.push(
      "",
      "<details><summary>Evidence from the failed job</summary>",
      "",
      doc.trim(),
      "",
      "</details>",
    );
  }
  lines.push("", `<sub>Switchyard recovery${input.runUrl ? ` · [this run](${input.runUrl})` : ""}</sub>`, "");
  const body = lines.join("\n");
  if (body.length <= PR_BODY_LIMIT) return body;
  const note = `\n\n_The report was cut to fit GitHub's limit of ${PR_BODY_LIMIT} characters._\n`;
  return cutAt(body, PR_BODY_LIMIT - note.length) + note;
}

function changedBy(fix: Pick<RecoveryFixResult, "tools" | "fixers">): string {
  const changed = fix.fixers.filter((r) => r.status === "changed").map((r) => r.tool);
  return (changed.length > 0 ? changed : fix.tools).join(", ");
}

function tableCell(text: string): string {
  return text
    .replace(/[\r\n]+/g, " ")
    .replace(/\|/g, "\\|")
    .replace(/`/g, "'");
}

/** The fix commit's message: a subject, the reason, and the trailers the loop guard and analysis read. */
export function fixCommitMessage(
  context: Pick<RecoveryFixContext, "key" | "category">,
  fix: Pick<RecoveryFixResult, "step" | "tools" | "reason" | "fixers">,
  runId: string,
): string {
  const by = fix.step === "mechanical" ? changedBy(fix) : fix.tools[0]!;
  const subject = `switchyard: fix the ${context.category} failure (${by})`;
  const trailers = [
    recoveryTrailer(context.key),
    `Switchyard-Tool: ${by.replace(/, /g, ",")}`,
    `Switchyard-Run: ${runId.replace(/\s+/g, " ").trim()}`,
  ];
  return `${cutAt(subject, 72)}\n\n${fix.reason.replace(/\s+$/, "")}\n\n${trailers.join("\n")}\n`;
}

export interface DeliverFixInput {
  octokit: GitHubClient;
  owner: string;
  repo: string;
  context: RecoveryFixContext;
  fix: RecoveryFixResult;
  config: Config;
  defaultBranch: string;
  /** Where the patch's new blobs are read from (the runner's object database). */
  blobs: BlobReader;
  runId: string;
  evidence?: Evidence | null;
  classification?: Classification | null;
  failedRunUrl?: string | null;
  runUrl?: string | null;
}

export type DeliveryResult =
  | {
      ok: true;
      target: FixTarget;
      branch: string;
      commit_sha: string;
      /** The fix PR, for a fix_pr target. */
      pr: { number: number; url: string; created: boolean; draft: boolean } | null;
      report: string;
      notes: string[];
    }
  | {
      ok: false;
      target: FixTarget;
      /** Why nothing landed (the branch moved and the patch conflicts): for the ladder's no_fix. */
      reason: string;
      report: string;
    };

const NAME = /^[A-Za-z0-9_.-]+$/;
const DeliverInputSchema = z.object({
  owner: z.string().regex(NAME, "a GitHub account name"),
  repo: z.string().regex(NAME, "a repository name"),
  defaultBranch: z.string().min(1, "the repository's default branch is required"),
  runId: z.string().trim().min(1, "a run id is required"),
});

/** Commits a fixed patch where fixTarget says, and opens or updates the fix PR when there is one. */
export async function deliverFix(input: DeliverFixInput): Promise<DeliveryResult> {
  const parsed = DeliverInputSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(`Cannot deliver the fix: ${issue.path.join(".") || "(input)"}: ${issue.message}`);
  }
  const { fix, context } = input;
  if (fix.result !== "fixed" || fix.patch === null) {
    throw new InputError(`Cannot deliver the fix: there is none (the run's result was ${fix.result})`);
  }
  const patch = fix.patch;
  if (patch.base_sha !== context.head_sha) {
    throw new InputError(
      `Cannot deliver the fix: it was made on ${patch.base_sha.slice(0, 12)}, not on the failing commit ${context.head_sha.slice(0, 12)}`,
    );
  }
  const target = fixTarget(context, input.config, input.defaultBranch);
  const report = renderFixReport({
    context,
    fix,
    patch,
    target,
    evidence: input.evidence,
    classification: input.classification,
    failedRunUrl: input.failedRunUrl,
    runUrl: input.runUrl,
    maxAttempts: input.config.recovery.max_attempts,
  });
  const port = new GitDataCommitPort({
    octokit: input.octokit,
    owner: input.owner,
    repo: input.repo,
    blobs: input.blobs,
    allowWorkflowChanges: input.config.execution.allow_workflow_changes,
    defaultBranch: input.defaultBranch,
  });
  const committed = await port.commitPatch({
    branch: target.branch,
    baseSha: context.head_sha,
    message: fixCommitMessage(context, fix, input.runId),
    patch,
  });
  if (!committed.ok) return { ok: false, target, reason: committed.message, report };
  const notes: string[] = [];
  if (committed.rebasedOnto !== null) {
    notes.push(`the branch had moved on; the fix was laid over ${committed.rebasedOnto.slice(0, 12)}`);
  }
  if (target.kind === "pr_branch") {
    return {
      ok: true,
      target,
      branch: target.branch,
      commit_sha: committed.commitSha,
      pr: null,
      report,
      notes,
    };
  }
  const where = context.pr_number !== null ? `#${context.pr_number}` : context.head_ref;
  // Created or edited like a task's PR, but closing no issue: its base is usually a person's branch.
  const pr = await upsertDraftPullRequest(input.octokit, {
    owner: input.owner,
    repo: input.repo,
    head: target.branch,
    base: target.base,
    title: `switchyard: fix the ${context.category} failure on ${where} (attempt ${context.attempt})`,
    body: report,
  });
  if (pr.note) notes.push(pr.note);
  return {
    ok: true,
    target,
    branch: target.branch,
    commit_sha: committed.commitSha,
    pr: { number: pr.number, url: pr.url, created: pr.created, draft: pr.draft },
    report,
    notes,
  };
}
