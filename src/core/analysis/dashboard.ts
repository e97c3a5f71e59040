import type { Metrics, ToolMetrics } from "../metrics/schema.js";
import { formatDuration } from "../routing/strategies.js";

/**
 * The dashboard: metrics.json as GitHub-flavoured markdown for the dashboard issue (edited in
 * place, found again by its marker) and the job summary. Pure, and rendered from the metrics
 * document alone, so any door that has a metrics.json can show the same page.
 *
 * Charts are mermaid `xychart-beta` and `pie`, which GitHub renders (xychart-beta needs mermaid
 * 10.5 or later; 11 still accepts the -beta name). Everything a chart shows is also in a table,
 * for readers whose client draws no mermaid.
 *
 * Signatures, categories and steps come from CI logs and other people's text: they are shown as
 * inline code, so an @mention, an HTML tag or a link in them renders as text and pings no one.
 */

export const DASHBOARD_MARKER = "<!-- switchyard:dashboard -->";

export interface DashboardOptions {
  /** The issue's title, shown as the heading (config: analysis.dashboard_title). */
  title?: string;
  /** Rows of the signature and flaky test tables. */
  maxRows?: number;
}

const DEFAULT_TITLE = "Switchyard dashboard";
const MAX_BARS = 12;

export function renderDashboard(metrics: Metrics, options: DashboardOptions = {}): string {
  const title = oneLine(options.title ?? DEFAULT_TITLE);
  const maxRows = options.maxRows ?? 10;
  const { window } = metrics;
  const overall = metrics.tools.filter((t) => t.capability === undefined);
  const out: string[] = [DASHBOARD_MARKER, `# ${escapeText(title)}`, ""];
  out.push(
    `**${escapeText(metrics.repository)}** · ${formatTime(window.from)} – ${formatTime(window.to)} ` +
      `(${formatSpan(Date.parse(window.to) - Date.parse(window.from))}) · generated ${formatTime(metrics.generated_at)}`,
    "",
  );

  if (isEmpty(metrics)) {
    out.push(`> No Switchyard activity between ${formatTime(window.from)} and ${formatTime(window.to)}.`);
    const before = sum(overall, (t) => t.previous?.attempts ?? 0);
    if (window.previous && before > 0) {
      out.push(
        ">",
        `> The previous window (${formatTime(window.previous.from)} – ${formatTime(window.previous.to)}) ` +
          `had ${plural(before, "run")}.`,
      );
    }
    out.push("");
    out.push(...gapsSection(metrics));
    return out.join("\n").trimEnd() + "\n";
  }

  if (hasSwitchyardActivity(metrics)) {
    out.push(...summarySection(metrics, overall));
    out.push(...toolsSection(metrics, overall));
    out.push(...recoverySection(metrics));
  } else {
    out.push(
      `> No Switchyard activity between ${formatTime(window.from)} and ${formatTime(window.to)}; ` +
        "the repository's CI health is below.",
      "",
    );
  }
  out.push(...listSections(metrics, maxRows));
  out.push(...gapsSection(metrics));
  return out.join("\n").trimEnd() + "\n";
}

/**
 * Nothing happened in the window: no Switchyard event and no workflow run. A window with CI runs
 * but no Switchyard events is not empty: its CI health is the news.
 */
function isEmpty(m: Metrics): boolean {
  if (m.workflows.some((w) => w.runs > 0)) return false;
  if (m.input) return m.input.in_window === 0;
  const ran = m.tools.some((t) => t.attempts > 0 || Object.values(t.outcomes ?? {}).some((n) => n > 0));
  return !ran && m.recovery.length === 0 && m.signatures.length === 0;
}

/** Whether the window holds any Switchyard event (tool runs or recovery steps). */
function hasSwitchyardActivity(m: Metrics): boolean {
  if (m.input) return m.input.in_window > 0;
  const ran = m.tools.some((t) => t.attempts > 0 || Object.values(t.outcomes ?? {}).some((n) => n > 0));
  return ran || m.recovery.length > 0;
}

function summarySection(m: Metrics, overall: ToolMetrics[]): string[] {
  const attempts = sum(overall, (t) => t.attempts);
  const successes = sum(overall, (t) => t.successes);
  const hasPrevious = m.window.previous !== undefined;
  const prevAttempts = sum(overall, (t) => t.previous?.attempts ?? 0);
  const prevSuccesses = sum(overall, (t) => t.previous?.successes ?? 0);
  const runs = sum(overall, (t) => sum(Object.values(t.outcomes ?? {}), (n) => n));
  const unavailable = sum(overall, (t) => t.outcomes?.tool_unavailable ?? 0);
  const tokens = nullableSum(overall.map((t) => t.tokens));
  const cost = nullableSum(overall.map((t) => t.cost_total ?? null));
  const rows: string[][] = [
    [
      "tool attempts",
      String(attempts),
      hasPrevious ? String(prevAttempts) : "—",
      countTrend(attempts, prevAttempts, hasPrevious),
    ],
    [
      "success rate",
      percent(ratio(successes, attempts)),
      hasPrevious ? percent(ratio(prevSuccesses, prevAttempts)) : "—",
      rateTrend(ratio(successes, attempts), ratio(prevSuccesses, prevAttempts)),
    ],
  ];
  if (unavailable > 0) rows.push(["runs skipped: tool unavailable", `${unavailable} of ${runs}`, "", ""]);
  if (tokens !== null) rows.push(["tokens (reported)", formatInteger(tokens), "", ""]);
  if (cost !== null) rows.push(["cost (reported)", formatUsd(cost), "", ""]);
  const r = m.recovery_summary;
  if (r) {
    const p = r.previous;
    rows.push(
      ["recovery steps", String(r.steps), p ? String(p.steps) : "—", countTrend(r.steps, p?.steps ?? 0, !!p)],
      [
        "turned green",
        String(r.greens),
        p ? String(p.greens) : "—",
        countTrend(r.greens, p?.greens ?? 0, !!p),
      ],
      [
        "quarantines",
        String(r.quarantines),
        p ? String(p.quarantines) : "—",
        countTrend(r.quarantines, p?.quarantines ?? 0, !!p),
      ],
      [
        "flaky failures rerun",
        String(r.flaky),
        p ? String(p.flaky) : "—",
        countTrend(r.flaky, p?.flaky ?? 0, !!p),
      ],
    );
  }
  return ["## Summary", "", ...table(["", "this window", "previous window", "change"], rows, "lrrr"), ""];
}

function toolsSection(m: Metrics, overall: ToolMetrics[]): string[] {
  const out = ["## Tools", ""];
  // A bar chart stays readable up to a dozen bars: the busiest tools, in name order.
  const ran = overall.filter((t) => t.attempts > 0).length;
  const charted = overall
    .filter((t) => t.attempts > 0)
    .sort((a, b) => b.attempts - a.attempts || compare(a.tool, b.tool))
    .slice(0, MAX_BARS)
    .sort((a, b) => compare(a.tool, b.tool));
  if (charted.length > 0) {
    out.push(
      "```mermaid",
      "xychart-beta",
      charted.length < ran
        ? `  title "Success rate of the ${charted.length} busiest tools (%)"`
        : '  title "Success rate by tool (%)"',
      `  x-axis [${charted.map((t) => `"${t.tool}"`).join(", ")}]`,
      '  y-axis "success %" 0 --> 100',
      `  bar [${charted.map((t) => round1(100 * (t.success_rate ?? 0))).join(", ")}]`,
      "```",
      "",
    );
  }
  const rows = orderRows(m.tools).map((t) => [
    t.capability === undefined ? `**${t.tool}**` : "",
    t.capability === undefined ? "all" : t.capability,
    String(t.attempts),
    t.success_rate === null ? "—" : percent(t.success_rate),
    t.ci_low === null || t.ci_high === null ? "—" : `${percent(t.ci_low)}–${percent(t.ci_high)}`,
    t.previous ? rateTrend(t.success_rate, t.previous.success_rate) : "—",
    t.p50_ms === null ? "—" : formatDuration(t.p50_ms),
    t.p95_ms === null ? "—" : formatDuration(t.p95_ms),
    t.tokens === null ? "—" : formatInteger(t.tokens),
    t.cost === null ? "—" : formatUsd(t.cost),
  ]);
  out.push(
    ...table(
      [
        "tool",
        "capability",
        "attempts",
        "success",
        "95% CI",
        "vs previous",
        "p50",
        "p95",
        "tokens",
        "cost / run",
      ],
      rows,
      "llrrrrrrrr",
    ),
    "",
    "<sub>Attempts are runs that reached a verdict on the tool; runs it could not start (unavailable) " +
      "or that were cancelled are left out. The interval is Wilson's; p50 and p95 are within 1%.</sub>",
    "",
  );

  const outcomes = new Map<string, number>();
  for (const t of overall) {
    for (const [kind, n] of Object.entries(t.outcomes ?? {}))
      outcomes.set(kind, (outcomes.get(kind) ?? 0) + n);
  }
  const slices = [...outcomes].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1] || compare(a[0], b[0]));
  if (slices.length > 1) {
    out.push(
      "```mermaid",
      "pie title Outcomes of all runs",
      ...slices.map(([k, n]) => `  "${k}" : ${n}`),
      "```",
      "",
    );
  }
  return out;
}

/** Each tool's all-capabilities row first, then its capabilities. */
function orderRows(tools: ToolMetrics[]): ToolMetrics[] {
  return [...tools].sort(
    (a, b) =>
      compare(a.tool, b.tool) ||
      (a.capability === undefined
        ? -1
        : b.capability === undefined
          ? 1
          : compare(a.capability, b.capability)),
  );
}

function recoverySection(m: Metrics): string[] {
  const r = m.recovery_summary;
  if (m.recovery.length === 0 && (!r || r.steps === 0)) return [];
  const out = ["## Recovery", ""];
  if (r && r.greens > 0) {
    out.push(
      `${plural(r.greens, "failure")} turned green after ${r.steps_to_green_mean === 1 ? "1 step" : `${r.steps_to_green_mean} steps`} ` +
        `on average (at most ${r.steps_to_green_max}); ${plural(r.quarantines, "quarantine")}.`,
      "",
    );
  } else if (r) {
    out.push(`Nothing turned green; ${plural(r.quarantines, "quarantine")}.`, "");
  }
  const rows = m.recovery.map((x) => [
    code(x.category),
    code(x.step),
    String(x.attempts),
    x.attempts > 0 ? percent(x.successes / x.attempts) : "—",
    String(x.undecided ?? 0),
  ]);
  out.push(...table(["category", "step", "attempts", "success", "undecided"], rows, "llrrr"), "");
  return out;
}

function listSections(m: Metrics, maxRows: number): string[] {
  const out: string[] = [];
  if (m.flaky_tests.length > 0) {
    out.push("## Flaky tests", "", "Failed, then passed when rerun on the same commit.", "");
    out.push(
      ...table(
        ["test or signature", "flips"],
        m.flaky_tests.slice(0, maxRows).map((f) => [code(f.name), String(f.flips)]),
        "lr",
      ),
      "",
    );
  }
  if (m.signatures.length > 0) {
    out.push("## Top error signatures", "");
    out.push(
      ...table(
        ["signature", "category", "count", "first seen", "last seen"],
        m.signatures
          .slice(0, maxRows)
          .map((s) => [
            code(s.signature),
            code(s.category),
            String(s.count),
            formatTime(s.first_seen),
            formatTime(s.last_seen),
          ]),
        "llrll",
      ),
      "",
    );
  }
  if (m.workflows.length > 0) {
    out.push("## CI health", "");
    const trend = m.workflows.some((w) => w.previous !== undefined);
    out.push(
      ...table(
        ["workflow", "runs", "failures", "failure rate", ...(trend ? ["previous window", "change"] : [])],
        m.workflows.map((w) => [
          escapeText(w.name),
          String(w.runs),
          String(w.failures),
          w.failure_rate === null ? "—" : percent(w.failure_rate),
          ...(trend
            ? [
                w.previous
                  ? `${w.previous.failure_rate === null ? "—" : percent(w.previous.failure_rate)} of ${w.previous.runs}`
                  : "—",
                // Failure rate going up is the bad direction: the arrow shows the rate's own move.
                w.previous ? rateTrend(w.failure_rate, w.previous.failure_rate) : "—",
              ]
            : []),
        ]),
        trend ? "lrrrrr" : "lrrr",
      ),
      "",
    );
  }
  return out;
}

function gapsSection(m: Metrics): string[] {
  const out: string[] = [];
  if (m.gaps.length > 0) {
    out.push(
      "## Gaps",
      "",
      "Not in these figures:",
      "",
      ...m.gaps.map((g) => `- ${escapeText(oneLine(g))}`),
      "",
    );
  }
  if (m.input) {
    const i = m.input;
    const markers =
      i.recovery_markers !== undefined
        ? `, the ladder state of ${plural(i.recovery_markers, "recovery comment")}`
        : "";
    out.push(
      `<sub>Read ${plural(i.files, "file")}, ${plural(i.lines, "line")}, ${plural(i.events, "event")}${markers} ` +
        `(${i.in_window} in this window, ${i.in_previous_window} in the previous one, ${i.outside_windows} outside); ` +
        `${plural(i.skipped, "corrupt line")} skipped.</sub>`,
      "",
    );
  }
  return out;
}

function table(header: string[], rows: string[][], align: string): string[] {
  const rule = [...align].map((a) => (a === "r" ? "---:" : "---"));
  return [header, rule, ...rows].map((cells) => `| ${cells.join(" | ")} |`);
}

/** Outside text as inline code: nothing in it renders, and a pipe cannot end the table cell. */
export function code(text: string, max = 120): string {
  let t = oneLine(text);
  if (t.length > max) t = t.slice(0, max - 1) + "…";
  t = t.replace(/\|/g, "\\|");
  if (t === "") return "";
  const longest = Math.max(0, ...(t.match(/`+/g) ?? []).map((s) => s.length));
  const fence = "`".repeat(longest + 1);
  const pad = t.startsWith("`") || t.endsWith("`") ? " " : "";
  return `${fence}${pad}${t}${pad}${fence}`;
}

/** Plain text in a table or a list: markup characters escaped, mentions kept from pinging. */
function escapeText(text: string): string {
  return text.replace(/[\\`*_[\]<>|#]/g, (c) => `\\${c}`).replace(/@/g, "@\u200b");
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

function rateTrend(now: number | null, before: number | null): string {
  if (now === null || before === null) return "—";
  const points = round1(100 * (now - before));
  if (points === 0) return "= 0 pts";
  return `${points > 0 ? "▲" : "▼"} ${Math.abs(points)} pts`;
}

function countTrend(now: number, before: number, known: boolean): string {
  if (!known) return "—";
  const d = now - before;
  return d === 0 ? "=" : `${d > 0 ? "▲" : "▼"} ${Math.abs(d)}`;
}

function ratio(a: number, b: number): number | null {
  return b > 0 ? a / b : null;
}

function percent(x: number | null): string {
  return x === null ? "—" : `${round1(100 * x)}%`;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10 + 0;
}

function sum<T>(items: readonly T[], f: (t: T) => number): number {
  let total = 0;
  for (const t of items) total += f(t);
  return total;
}

function nullableSum(values: (number | null)[]): number | null {
  const known = values.filter((v): v is number => v !== null);
  return known.length === 0 ? null : known.reduce((a, b) => a + b, 0);
}

function formatInteger(n: number): string {
  return n.toLocaleString("en-US");
}

function formatUsd(x: number): string {
  if (x === 0) return "$0";
  if (x < 0.01) return `$${Number(x.toPrecision(2))}`;
  return `$${x.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

/** 2026-03-01 12:00 UTC: minutes are enough for a window, and UTC is what Actions logs show. */
export function formatTime(iso: string): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return escapeText(iso);
  return new Date(t).toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

function formatSpan(msSpan: number): string {
  const hours = msSpan / 3_600_000;
  if (hours >= 24 && Number.isInteger(hours / 24)) return plural(hours / 24, "day");
  if (hours >= 1 && Number.isInteger(hours)) return plural(hours, "hour");
  return plural(Math.round(msSpan / 60_000), "minute");
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
