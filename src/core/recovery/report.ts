import type { GuardName, GuardVerdict } from "./guards.js";
import type { LadderAction, LadderState, LadderTransition } from "./ladder.js";
import type { Classification } from "./schema.js";

/**
 * What a recovery says where people look: the switchyard/recover check run's title and summary,
 * the PR's recovery status comment, and the quarantine alert. Pure text from plain data, so the
 * app and `mode: recover` say the same thing in the same words.
 *
 * Reasons, signatures, step and job names come from CI logs and workflow files, so they are
 * flattened to one line and kept out of Markdown's reach (inline code, no backticks) before they
 * are shown.
 */

export interface ReportJob {
  name: string;
  failed_steps: string[];
  html_url?: string | null;
}

export interface RecoveryReport {
  key: string;
  head_sha: string;
  /** The CI run the report is about. */
  run: { id: number; html_url?: string | null; workflow?: string };
  /** Every guard's verdict, in order; absent when the guards were not reached. */
  guards?: { guard: GuardName; verdict: GuardVerdict }[];
  classification?: Classification | null;
  failed_jobs?: ReportJob[];
  /** What could not be read (gone logs, a failure without a failed step). */
  gaps?: string[];
  /** The ladder's step; absent when a guard stopped the recovery. */
  transition?: LadderTransition;
  action?: LadderAction;
  state: LadderState | null;
  max_attempts: number;
  /** Something that went wrong carrying the action out (a refused dispatch). */
  problem?: string;
}

const MAX_LIST = 20;

/** The check run's title: what Switchyard is doing about this failure, in a few words. */
export function recoveryTitle(r: RecoveryReport): string {
  const rejected = r.guards?.find((g) => !g.verdict.ok);
  if (r.problem) return "Recovery could not start";
  if (!r.action) return rejected ? `Recovery skipped: ${rejected.guard.replace("_", " ")}` : "Recovery";
  const a = r.action;
  const category = r.state?.category ?? r.classification?.category ?? "unknown";
  switch (a.kind) {
    case "rerun_failed_jobs":
      return `Rerunning the failed jobs (${category})`;
    case "run_fixers":
      return `Running the fixers for the ${category} failure: ${a.tools.join(", ")}`;
    case "run_ai":
      return `Asking ${a.tool} to fix the ${category} failure`;
    case "quarantine":
      return "Quarantined: a person takes over";
    case "wait":
      return "Fix committed: waiting for CI";
    case "done":
      return "Recovered";
    case "stop":
      return "Nothing to do";
  }
}

/** The switchyard/recover check run's summary (GitHub caps it; the caller cuts). */
export function renderRecoverySummary(r: RecoveryReport): string {
  const out: string[] = [];
  const reason = r.problem ?? r.transition?.reason ?? r.guards?.find((g) => !g.verdict.ok)?.verdict;
  if (typeof reason === "string") out.push(flat(reason), "");
  else if (reason && !reason.ok) out.push(flat(reason.reason), "");
  out.push(
    `- Recovery: \`${code(r.key)}\` on \`${r.head_sha.slice(0, 12)}\``,
    `- CI run: ${r.run.html_url ? `[${r.run.id}](${r.run.html_url})` : String(r.run.id)}${r.run.workflow ? ` (${code(r.run.workflow)})` : ""}`,
  );
  if (r.state) {
    out.push(`- Attempts used: ${r.state.attempts} of ${r.max_attempts}`);
  }
  const c = r.classification;
  if (c) {
    out.push(
      `- Classified as **${c.category}** (confidence ${c.confidence.toFixed(2)}): ${flat(c.reason)}`,
      `- Signature: \`${code(c.signature)}\``,
    );
  }
  if (r.failed_jobs && r.failed_jobs.length > 0) {
    out.push("", "### Failed jobs", "");
    for (const job of r.failed_jobs.slice(0, MAX_LIST)) {
      const name = job.html_url ? `[${code(job.name)}](${job.html_url})` : `\`${code(job.name)}\``;
      const steps = job.failed_steps.length
        ? job.failed_steps.map((s) => `\`${code(s)}\``).join(", ")
        : "no failed step";
      out.push(`- ${name}: ${steps}`);
    }
  }
  if (r.gaps && r.gaps.length > 0) {
    out.push("", "### Not read", "");
    for (const gap of r.gaps.slice(0, MAX_LIST)) out.push(`- ${flat(gap)}`);
  }
  if (r.guards) {
    out.push("", "### Guards", "", "| Guard | Verdict |", "| --- | --- |");
    for (const g of r.guards) {
      out.push(`| ${g.guard} | ${g.verdict.ok ? "passed" : `**stopped**: ${cell(g.verdict.reason)}`} |`);
    }
  }
  const history = historyTable(r.state);
  if (history.length > 0) out.push("", "### Ladder", "", ...history);
  return out.join("\n");
}

/** The PR's recovery status comment (the marker is added by the caller). */
export function renderRecoveryComment(r: RecoveryReport): string {
  return [`### Switchyard recovery: ${flat(recoveryTitle(r))}`, "", renderRecoverySummary(r)].join("\n");
}

/** The one-time alert when a recovery is quarantined: the evidence, the attempts, what to do. */
export function renderQuarantineAlert(r: RecoveryReport, reason: string): string {
  const out = [
    "### Switchyard stopped recovering this pull request",
    "",
    flat(reason),
    "",
    `It made ${r.state?.attempts ?? 0} of ${r.max_attempts} attempts; the steps are listed below.`,
    "",
    "**Next step for a person:** fix the failure by hand, or comment `/switchyard retry` to give " +
      "Switchyard a fresh budget of attempts (it also removes the `switchyard:quarantined` label).",
    "",
  ];
  const c = r.classification;
  if (c) {
    out.push(`Last failure: **${c.category}**, \`${code(c.signature)}\`: ${flat(c.reason)}`, "");
  }
  const history = historyTable(r.state);
  if (history.length > 0) out.push(...history, "");
  return out.join("\n");
}

function historyTable(state: LadderState | null): string[] {
  if (!state || state.history.length === 0) return [];
  const rows = ["| When | Step | Tool | On | Outcome | Why |", "| --- | --- | --- | --- | --- | --- |"];
  for (const e of state.history) {
    const tool = e.tools ? e.tools.join(", ") : (e.tool ?? "");
    const on = e.commit_sha
      ? `${e.head_sha.slice(0, 7)} → ${e.commit_sha.slice(0, 7)}`
      : e.head_sha.slice(0, 7);
    rows.push(`| ${e.at} | ${e.step} | ${cell(tool)} | ${on} | ${e.outcome} | ${cell(e.reason)} |`);
  }
  return rows;
}

/** One line of untrusted text. */
function flat(text: string): string {
  return text.replace(/[\r\n]+/g, " ").replace(/<!--/g, "&lt;!--");
}

/** Text for inside single backticks: one line, no backticks to break out with. */
function code(text: string): string {
  return flat(text).replace(/`/g, "'");
}

/** Text for a table cell: no pipes or line breaks. */
function cell(text: string): string {
  return flat(text).replace(/\|/g, "\\|");
}
