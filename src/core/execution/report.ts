import type { RoutingDecision } from "../routing/schema.js";
import type { Task } from "../task/schema.js";
import { errorKind, FAILURE_PRECEDENCE, finalOutcome, ERROR_REASON_PREFIX } from "./outcome.js";
import type { Attempt, ExecutionResult, FileChange, GateResult, OutcomeKind } from "./schema.js";

/**
 * An execution result for people: markdown for the job summary, the pull request body and the
 * check run (`renderExecutionReport`), and one plain line for logs (`renderExecutionLine`).
 *
 * The report reads top to bottom as: what happened and where the patch went; every attempt in a
 * table; why each failed attempt failed; the files changed; the end of the output of what failed
 * (folded); what to do next. Tool output and reasons are outside text, so inline text is escaped
 * (no markup, no @mentions that would ping someone from a PR body) and output goes in fenced
 * blocks whose fence is longer than any run of backticks inside.
 *
 * Check runs take at most 65,535 characters; the report stays under MAX_REPORT_CHARS by dropping
 * the folded output blocks last-first, then cutting, and says so.
 */

export const MAX_REPORT_CHARS = 60_000;
export const MAX_FILE_ROWS = 50;
/** Characters of output shown per failed tool or gate; the event log has more. */
export const MAX_TAIL_CHARS = 4_000;
const MAX_TAIL_LINES = 80;

export interface ReportContext {
  task?: Task;
  decision?: RoutingDecision;
  /** The Actions run (or any page) with the full log. */
  runUrl?: string;
}

const OUTCOME_WORDS: Record<OutcomeKind, string> = {
  success: "success",
  no_changes: "no changes",
  policy_violation: "policy violation",
  tool_failed: "tool failed",
  tool_unavailable: "tool unavailable",
  timed_out: "timed out",
  gate_failed: "gate failed",
  error: "error",
};

export function outcomeWords(outcome: OutcomeKind): string {
  return OUTCOME_WORDS[outcome];
}

/** Folds whitespace (newlines included) to single spaces. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/**
 * Outside text as inert inline markdown: markup characters escaped, HTML turned into text, and a
 * zero-width space after "@" so a name in a tool's output never notifies anyone.
 */
export function escapeInline(text: string): string {
  return oneLine(text)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/[\\`*_[\]|~]/g, (c) => `\\${c}`)
    .replace(/@/g, "@\u200b");
}

/** A code span that holds any text, backticks included; `|` escaped for table cells. */
function codeSpan(text: string, inTable = false): string {
  const flat = oneLine(text);
  const longest = Math.max(0, ...(flat.match(/`+/g) ?? []).map((run) => run.length));
  const ticks = "`".repeat(longest + 1);
  const pad = flat.startsWith("`") || flat.endsWith("`") ? " " : "";
  const body = inTable ? flat.replace(/\|/g, "\\|") : flat;
  return `${ticks}${pad}${body}${pad}${ticks}`;
}

/** A fenced block that nothing inside can close early. */
function fenced(text: string): string {
  const longest = Math.max(0, ...(text.match(/`{3,}/g) ?? []).map((run) => run.length));
  const fence = "`".repeat(Math.max(3, longest + 1));
  return `${fence}text\n${text.replace(/\s+$/, "")}\n${fence}`;
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  // 59.95 s and up would print as "60.0 s": minutes from there.
  if (ms < 59_950) return `${(ms / 1000).toFixed(1)} s`;
  const totalSeconds = Math.round(ms / 1000);
  const minutes = Math.floor(totalSeconds / 60);
  const seconds = totalSeconds % 60;
  if (minutes < 60) return seconds === 0 ? `${minutes} min` : `${minutes} min ${seconds} s`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest === 0 ? `${hours} h` : `${hours} h ${rest} min`;
}

export function formatCost(usd: number): string {
  return usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

function formatCount(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function diffstat(files: number, additions: number, deletions: number): string {
  return `${plural(files, "file")} (+${additions} −${deletions})`;
}

function gatePassed(g: GateResult): boolean {
  return g.exit_code === 0 && !g.timed_out;
}

function gateState(g: GateResult): string {
  if (gatePassed(g)) return "passed";
  if (g.timed_out) return "timed out";
  if (g.exit_code === null) return "did not finish";
  return `failed (exit ${g.exit_code})`;
}

function gatesCell(gates: readonly GateResult[]): string {
  return gates.length === 0 ? "—" : gates.map((g) => `${g.name} ${gateState(g)}`).join(", ");
}

/** The reason without the executor's "cancelled: " (and similar) prefix. */
function errorDetail(reason: string): string {
  for (const prefix of Object.values(ERROR_REASON_PREFIX)) {
    if (reason.startsWith(`${prefix}: `)) return reason.slice(prefix.length + 2);
  }
  return reason;
}

function failedGate(attempt: Attempt): GateResult | undefined {
  return attempt.gates.find((g) => !gatePassed(g));
}

function headline(result: ExecutionResult, deciding: Attempt | null, ctx: ReportContext): string {
  const tried = result.attempts.length;
  const noneSucceeded = tried === 0 ? "" : ` (${plural(tried, "attempt")}, none succeeded)`;
  const tool = deciding?.tool ?? "the tool";
  switch (result.outcome) {
    case "success": {
      const d = result.diffstat;
      const gates =
        deciding && deciding.gates.length > 0 ? " and the gates passed" : "; no gates are configured";
      return `${tool} changed ${diffstat(d.files, d.additions, d.deletions)}${gates}.`;
    }
    case "no_changes":
      return `${tool} ran and changed no file${noneSucceeded}.`;
    case "policy_violation":
      return `${tool}'s patch touches paths the policy forbids${noneSucceeded}.`;
    case "gate_failed": {
      const gate = deciding ? failedGate(deciding) : undefined;
      return `${tool}'s patch failed the gate ${gate?.name ?? "checks"}${noneSucceeded}.`;
    }
    case "timed_out":
      return `${tool} did not finish within its time limit${noneSucceeded}.`;
    case "tool_failed":
      return `${tool} failed${noneSucceeded}.`;
    case "tool_unavailable":
      if (tried === 0) {
        return ctx.decision
          ? `no tool was chosen: ${escapeInline(ctx.decision.summary)}`
          : "no tool was chosen for this task.";
      }
      return `no tool in the chain could run here (${plural(tried, "attempt")}).`;
    case "error": {
      const kind = errorKind(result);
      if (kind === "cancelled") return "the run was cancelled before it finished.";
      if (kind === "branch_moved") return "the branch moved while the run worked, so nothing was committed.";
      const detail = deciding ? errorDetail(deciding.reason) : "no detail was recorded";
      return `Switchyard itself failed: ${escapeInline(detail)}`;
    }
  }
}

function landing(result: ExecutionResult): string {
  if (result.outcome === "success") {
    if (result.branch !== null && result.commit_sha !== null) {
      return `Committed to ${codeSpan(result.branch)} as ${codeSpan(result.commit_sha.slice(0, 12))}.`;
    }
    return "The patch was not committed by this run (a dry run, or it is handed on as an artifact).";
  }
  return "Nothing was committed.";
}

function attemptsTable(attempts: readonly Attempt[]): string {
  const rows = attempts.map((a) =>
    [
      String(a.n),
      a.tool,
      outcomeWords(a.outcome),
      a.exit_code === null ? "—" : String(a.exit_code),
      formatDuration(a.duration_ms),
      gatesCell(a.gates),
      a.tokens === null ? "—" : formatCount(a.tokens),
      a.cost_usd === null ? "—" : formatCost(a.cost_usd),
    ].join(" | "),
  );
  const lines = [
    "| # | Tool | Outcome | Exit | Duration | Gates | Tokens | Cost |",
    "|---:|---|---|---:|---:|---|---:|---:|",
    ...rows.map((r) => `| ${r} |`),
  ];
  const total = attempts.reduce((ms, a) => ms + a.duration_ms, 0);
  const tokens = attempts.filter((a) => a.tokens !== null);
  const costs = attempts.filter((a) => a.cost_usd !== null);
  const parts = [formatDuration(total)];
  if (tokens.length > 0) parts.push(`${formatCount(tokens.reduce((n, a) => n + a.tokens!, 0))} tokens`);
  if (costs.length > 0) parts.push(formatCost(costs.reduce((n, a) => n + a.cost_usd!, 0)));
  // A sum that leaves out a tool which ran without reporting is a lower bound, and says so.
  const ran = attempts.filter((a) => a.outcome !== "tool_unavailable");
  const incomplete = (known: Attempt[]) => known.length > 0 && ran.some((a) => !known.includes(a));
  const note = incomplete(tokens) || incomplete(costs) ? " (where reported)" : "";
  return `${lines.join("\n")}\n\nTotal: ${parts.join(", ")}${note}.`;
}

function reasons(attempts: readonly Attempt[]): string | null {
  const failed = attempts.filter((a) => a.outcome !== "success");
  if (failed.length === 0) return null;
  return failed
    .map((a) => `- **#${a.n} ${a.tool}** (${outcomeWords(a.outcome)}): ${escapeInline(a.reason)}`)
    .join("\n");
}

const STATUS_WORDS: Record<FileChange["status"], string> = {
  added: "added",
  modified: "modified",
  deleted: "deleted",
  renamed: "renamed",
  mode_changed: "mode changed",
};

function filesTable(title: string, files: readonly FileChange[]): string {
  const shown = files.slice(0, MAX_FILE_ROWS).map((f) => {
    const path =
      f.old_path !== undefined && f.old_path !== f.path
        ? `${codeSpan(f.old_path, true)} → ${codeSpan(f.path, true)}`
        : codeSpan(f.path, true);
    const plus = f.binary ? "binary" : `+${f.additions}`;
    const minus = f.binary ? "" : `−${f.deletions}`;
    return `| ${path} | ${STATUS_WORDS[f.status]} | ${plus} | ${minus} |`;
  });
  const more = files.length - shown.length;
  return [
    `#### ${title}`,
    "",
    "| File | Change | + | − |",
    "|---|---|---:|---:|",
    ...shown,
    ...(more > 0 ? ["", `…and ${plural(more, "more file")}.`] : []),
  ].join("\n");
}

function refusedPaths(attempt: Attempt): string {
  const paths = attempt.offending_paths.slice(0, MAX_FILE_ROWS).map((p) => `- ${codeSpan(p)}`);
  const more = attempt.offending_paths.length - paths.length;
  return [
    `#### Refused by the policy (#${attempt.n} ${attempt.tool})`,
    "",
    ...(paths.length > 0 ? paths : ["- the patch as a whole (see the reason above)"]),
    ...(more > 0 ? [`- …and ${plural(more, "more path")}`] : []),
  ].join("\n");
}

function tail(text: string): string {
  let lines = text.replace(/\s+$/, "").split("\n");
  if (lines.length > MAX_TAIL_LINES) lines = lines.slice(-MAX_TAIL_LINES);
  let out = lines.join("\n");
  if (out.length > MAX_TAIL_CHARS) out = out.slice(out.length - MAX_TAIL_CHARS);
  return out;
}

/** Folded output of what failed: the failing gate of an attempt, or a tool that crashed or hung. */
function outputBlocks(attempts: readonly Attempt[]): string[] {
  const blocks: string[] = [];
  for (const a of attempts) {
    const gate = a.outcome === "gate_failed" ? failedGate(a) : undefined;
    let summary: string;
    let text: string;
    if (gate !== undefined) {
      summary = `#${a.n} ${a.tool}: gate ${gate.name} ${gateState(gate)}, end of its output`;
      text = gate.output_tail;
    } else if (a.outcome === "tool_failed" || a.outcome === "timed_out") {
      summary = `#${a.n} ${a.tool}: ${outcomeWords(a.outcome)}, end of its output`;
      text = a.output_tail;
    } else continue;
    const body = text.trim() === "" ? "(no output)" : fenced(tail(text));
    blocks.push(`<details><summary>${summary}</summary>\n\n${body}\n\n</details>`);
  }
  return blocks;
}

const NEXT_STEPS: Record<Exclude<OutcomeKind, "success" | "tool_unavailable" | "error">, string> = {
  policy_violation:
    "Ask for a change that stays inside the allowed paths, or, if the change is " +
    "intended, widen the task's scope or adjust `execution.forbidden_paths` (workflow files also need " +
    "`execution.allow_workflow_changes`).",
  gate_failed:
    "The folded output above shows why the gate failed. If the gate fails on the base branch too, fix " +
    "it there first; otherwise make the issue more precise and comment `/switchyard retry`.",
  no_changes:
    "Make the issue more specific (name the files and the expected behaviour) or add the files to the " +
    "task's scope, then comment `/switchyard retry`.",
  timed_out:
    "Raise the tool's `timeout_seconds` (or the task's timeout, up to `limits.max_timeout_seconds`), " +
    "or split the task into smaller issues.",
  tool_failed:
    "The folded output above shows how the tool failed; a failure at start usually means a missing or " +
    "invalid API key or model name. Comment `/switchyard retry` once it is fixed.",
};

function unavailableStep(attempt: Attempt): string {
  const tool = attempt.tool;
  const needs = /^needs (?:one of )?(.+?) \((?:not set|none is set)\)$/.exec(attempt.reason);
  if (needs) {
    const names = needs[1]!
      .split(", ")
      .map((n) => codeSpan(n))
      .join(attempt.reason.startsWith("needs one of") ? " or " : " and ");
    return (
      `Set ${names} as a repository secret and pass it to the execute job's environment, ` +
      `or remove ${tool} from the chain.`
    );
  }
  if (/is not installed|does not exist/.test(attempt.reason)) {
    return `Install ${tool} on the runner (a setup step in the execute workflow), or remove it from the chain.`;
  }
  if (attempt.reason.startsWith("disabled in the configuration")) {
    return `${tool} is disabled (\`enabled: false\`); enable it or take it out of the routing chains.`;
  }
  return `Make ${tool} runnable here (see its reason above), or remove it from the chain.`;
}

function nextSteps(result: ExecutionResult, ctx: ReportContext): string[] {
  if (result.outcome === "success") return [];
  const steps: string[] = [];
  if (result.outcome === "error") {
    const kind = errorKind(result);
    steps.push(
      kind === "cancelled"
        ? "The run was stopped; comment `/switchyard retry` to run the task again."
        : kind === "branch_moved"
          ? "Someone pushed to the branch while this run worked and the patch conflicts with it; " +
            "comment `/switchyard retry` to start again from the branch's new tip."
          : "This is a fault in Switchyard, not in the task: the run log has the details. Retry with " +
            "`/switchyard retry`, and report a bug if it happens again.",
    );
    return steps;
  }
  for (const kind of FAILURE_PRECEDENCE) {
    if (kind === "error" || kind === "tool_unavailable") continue;
    if (result.attempts.some((a) => a.outcome === kind)) steps.push(NEXT_STEPS[kind]);
  }
  const seen = new Set<string>();
  for (const a of result.attempts) {
    if (a.outcome !== "tool_unavailable" || seen.has(a.tool)) continue;
    seen.add(a.tool);
    steps.push(unavailableStep(a));
  }
  if (result.attempts.length === 0) {
    steps.push(
      "Check the routing decision: give a tool this capability (`capabilities` in its profile) or " +
        "make one available on the runner.",
    );
  }
  const attempted = new Set(result.attempts.map((a) => a.tool));
  const chain = ctx.decision?.tool ? [ctx.decision.tool, ...ctx.decision.fallback] : [];
  const untried = [...new Set(chain)].filter((t) => !attempted.has(t));
  if (result.attempts.length > 0 && untried.length > 0) {
    steps.push(
      `Not tried: ${untried.join(", ")}; the attempt budget (\`retry.max_attempts\`) ran out first.`,
    );
  }
  return steps;
}

/** A URL that cannot end the markdown link early (encodeURIComponent leaves parentheses alone). */
function linkTarget(url: string): string {
  return url
    .trim()
    .replace(/[()<>\s]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`);
}

interface Section {
  text: string;
  /** Dropped, last first, when the report is too long. */
  droppable: boolean;
}

function assemble(sections: Section[], max: number): string {
  const join = (list: Section[]) => list.map((s) => s.text).join("\n\n");
  let kept = [...sections];
  let out = join(kept);
  let dropped = 0;
  while (out.length > max && kept.some((s) => s.droppable)) {
    const i = kept.findLastIndex((s) => s.droppable);
    kept = [...kept.slice(0, i), ...kept.slice(i + 1)];
    dropped++;
    out = join(kept);
  }
  const note = "_The report was shortened to fit; the full result is in the run's event log and artifacts._";
  if (dropped > 0) out = `${out}\n\n${note}`;
  if (out.length > max) out = `${out.slice(0, max - note.length - 3).trimEnd()}\n\n${note}`;
  return out;
}

/** The markdown report; see the module comment. At most MAX_REPORT_CHARS characters. */
export function renderExecutionReport(result: ExecutionResult, ctx: ReportContext = {}): string {
  const { attempt: deciding } = finalOutcome(result.attempts);
  const sections: Section[] = [];
  const add = (text: string | null, droppable = false) => {
    if (text !== null && text !== "") sections.push({ text, droppable });
  };

  if (ctx.task) add(`### Switchyard: #${ctx.task.number} ${escapeInline(ctx.task.title)}`);
  add(
    `**Outcome: ${outcomeWords(result.outcome)}** — ${headline(result, deciding, ctx)}\n${landing(result)}`,
  );
  if (result.attempts.length > 0) add(attemptsTable(result.attempts));
  add(reasons(result.attempts));

  const winner = result.outcome === "success" ? deciding : null;
  if (winner && winner.files.length > 0) add(filesTable("Changes", winner.files));
  if (result.outcome === "policy_violation" && deciding) add(refusedPaths(deciding));

  for (const block of outputBlocks(result.attempts)) add(block, true);
  const steps = nextSteps(result, ctx);
  if (steps.length > 0) add(["#### What to do next", "", ...steps.map((s) => `- ${s}`)].join("\n"));
  if (ctx.runUrl) add(`[Run log](${linkTarget(ctx.runUrl)})`);

  return assemble(sections, MAX_REPORT_CHARS);
}

/** One line for logs and terminals: the outcome, what it did, and each attempt's outcome. */
export function renderExecutionLine(result: ExecutionResult): string {
  const { attempt: deciding } = finalOutcome(result.attempts);
  const total = result.attempts.reduce((ms, a) => ms + a.duration_ms, 0);
  let what: string;
  if (result.outcome === "success" && deciding) {
    const d = result.diffstat;
    const where = result.branch !== null ? ` -> ${result.branch}` : " (not committed)";
    what = `${deciding.tool} changed ${diffstat(d.files, d.additions, d.deletions)}${where}`;
  } else if (deciding) {
    what = oneLine(deciding.reason);
  } else {
    what = "no tool was chosen";
  }
  const attempts =
    result.attempts.length === 0
      ? "no attempts"
      : result.attempts.map((a) => `${a.tool} ${outcomeWords(a.outcome)}`).join(", ");
  return `${result.task_key}: ${outcomeWords(result.outcome)}: ${what} [${attempts}; ${formatDuration(total)}]`;
}
