import type { Candidate, RoutingDecision } from "./schema.js";

/**
 * A decision for people: a markdown table for check runs, status comments and job summaries, and
 * plain aligned columns for a terminal. Both put the summary first and list every candidate in
 * the decision's order (chosen, fallbacks, then the excluded), so they read top to bottom as the
 * plan the executor will follow.
 */

const HEADERS = ["#", "Tool", "Status", "Score", "Reason"] as const;

export function renderDecisionTable(decision: RoutingDecision): string {
  const lines = [
    oneLine(decision.summary),
    "",
    `| ${HEADERS.join(" | ")} |`,
    "|---:|---|---|---:|---|",
    ...decision.candidates.map((c, i) => `| ${cells(c, i).map(escapeCell).join(" | ")} |`),
  ];
  return lines.join("\n");
}

export function renderDecisionText(decision: RoutingDecision): string {
  const rows = [HEADERS.map((h) => h.toUpperCase()), ...decision.candidates.map(cells)];
  const widths = HEADERS.map((_h, col) => Math.max(...rows.map((r) => r[col]!.length)));
  const body = rows.map((r) =>
    r
      .map((cell, col) => (col === r.length - 1 ? cell : cell.padEnd(widths[col]!)))
      .join("  ")
      .trimEnd(),
  );
  return [oneLine(decision.summary), "", ...body].join("\n");
}

function cells(c: Candidate, i: number): string[] {
  return [String(i + 1), c.tool, c.status, c.score === null ? "—" : c.score.toFixed(2), oneLine(c.reason)];
}

/** Reasons can quote outside text (an availability probe's message): keep each to one line. */
function oneLine(text: string): string {
  return text.replace(/\s*(?:\r\n|\r|\n)\s*/g, " ");
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, "\\|");
}
