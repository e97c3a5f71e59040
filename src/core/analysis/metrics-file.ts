import { InputError } from "../errors.js";
import { MetricsSchema, type Metrics, type ToolMetrics } from "../metrics/schema.js";
import type { Signals } from "../routing/schema.js";
import type { AnalysisResult, ToolFigures, WindowFigures } from "./aggregate.js";
import { wilsonInterval } from "./stats.js";

/**
 * metrics.json: the analysis as a document. It is uploaded as an artifact, rendered as the
 * dashboard and read back by the router's metrics strategy on the next route, which closes the
 * loop: a tool whose success rate falls gets a lower score and loses traffic.
 */

export interface InputFigures {
  files: number;
  lines: number;
  events: number;
  skipped: number;
  /** Recovery status comments whose ladder state was read, when the door reads them. */
  recovery_markers?: number;
}

export interface BuildMetricsOptions {
  /** owner/name; default: the one repository the task keys name, or "local" when they name none or several. */
  repository?: string;
  /** Default: the window's end, so the same input always gives the same file. */
  generatedAt?: string;
  /** What was read, when the door knows (files, lines, corrupt lines skipped). */
  input?: InputFigures;
  /** What the door could not read: missing artifacts, expired logs, sources it does not look at. */
  gaps?: readonly string[];
}

/** How many signatures and flaky tests metrics.json keeps; the dashboard shows fewer. */
export const MAX_LISTED = 50;

const round = (x: number, places: number) => Math.round(x * 10 ** places) / 10 ** places + 0;
const rate = (successes: number, attempts: number) => (attempts > 0 ? round(successes / attempts, 4) : null);
/** Durations are estimates to within 1% (see QuantileSketch): whole milliseconds are plenty. */
const ms = (x: number | null) => (x === null ? null : x >= 10 ? Math.round(x) : round(x, 2));
const usd = (x: number | null) => (x === null ? null : round(x, 6));

function rowKey(t: { tool: string; capability?: string }): string {
  return t.capability === undefined ? t.tool : `${t.tool}\n${t.capability}`;
}

function toolMetrics(now: ToolFigures | undefined, before: ToolFigures | undefined): ToolMetrics {
  const base = (now ?? before)!;
  const attempts = now?.attempts ?? 0;
  const successes = now?.successes ?? 0;
  const ci = wilsonInterval(successes, attempts);
  const costTotal = now?.cost_total ?? null;
  const row: ToolMetrics = {
    tool: base.tool,
    ...(base.capability !== undefined ? { capability: base.capability } : {}),
    attempts,
    successes,
    success_rate: rate(successes, attempts),
    ci_low: ci ? round(ci.low, 4) : null,
    ci_high: ci ? round(ci.high, 4) : null,
    p50_ms: ms(now?.p50_ms ?? null),
    p95_ms: ms(now?.p95_ms ?? null),
    tokens: now?.tokens ?? null,
    cost: costTotal === null || !now?.cost_runs ? null : usd(costTotal / now.cost_runs),
    cost_total: usd(costTotal),
    outcomes: { ...(now?.outcomes ?? {}) },
  };
  if (before) {
    row.previous = {
      attempts: before.attempts,
      successes: before.successes,
      success_rate: rate(before.successes, before.attempts),
      p50_ms: ms(before.p50_ms),
    };
  }
  return row;
}

function mergeTools(current: WindowFigures, previous: WindowFigures): ToolMetrics[] {
  const before = new Map(previous.tools.map((t) => [rowKey(t), t]));
  const rows = current.tools.map((t) => toolMetrics(t, before.get(rowKey(t))));
  const seen = new Set(current.tools.map(rowKey));
  // A tool that ran before and not now stays listed with no attempts: its drop is the news.
  for (const t of previous.tools) if (!seen.has(rowKey(t))) rows.push(toolMetrics(undefined, t));
  return rows.sort(
    (a, b) =>
      compare(a.tool, b.tool) ||
      (a.capability === undefined
        ? -1
        : b.capability === undefined
          ? 1
          : compare(a.capability, b.capability)),
  );
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The Metrics document for an analysis, validated against MetricsSchema. */
export function buildMetrics(result: AnalysisResult, options: BuildMetricsOptions = {}): Metrics {
  const { current, previous } = result;
  const repository =
    options.repository ?? (result.repositories.length === 1 ? result.repositories[0]! : "local");
  const metrics: Metrics = {
    schema_version: 1,
    repository,
    generated_at: options.generatedAt ?? current.to,
    window: { from: current.from, to: current.to, previous: { from: previous.from, to: previous.to } },
    tools: mergeTools(current, previous),
    recovery: current.recovery.map((r) => ({
      category: r.category,
      step: r.step,
      attempts: r.attempts,
      successes: r.successes,
      undecided: r.undecided,
    })),
    recovery_summary: {
      steps: current.recovery_steps,
      greens: current.greens,
      steps_to_green_mean:
        current.greens > 0 ? round(current.steps_to_green_total / current.greens, 2) : null,
      steps_to_green_max: current.steps_to_green_max,
      quarantines: current.quarantines,
      flaky: current.flaky,
      previous: {
        steps: previous.recovery_steps,
        greens: previous.greens,
        quarantines: previous.quarantines,
        flaky: previous.flaky,
      },
    },
    workflows: [],
    flaky_tests: result.flaky_tests.slice(0, MAX_LISTED),
    signatures: result.signatures.slice(0, MAX_LISTED),
    gaps: [...(options.gaps ?? []), ...result.notes],
  };
  if (options.input) {
    metrics.input = {
      ...options.input,
      in_window: current.events,
      in_previous_window: previous.events,
      outside_windows: result.outside_windows,
    };
  }
  const parsed = MetricsSchema.safeParse(metrics);
  if (!parsed.success) {
    // Every figure above is computed here, so a failure is a bug, not bad input.
    throw new Error(`built metrics that do not match MetricsSchema: ${parsed.error.issues[0]?.message}`);
  }
  return parsed.data;
}

/** Reads a metrics.json document someone else wrote (an artifact, a file), or says what is wrong with it. */
export function parseMetrics(raw: unknown, source = "metrics.json"): Metrics {
  const parsed = MetricsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(
      `${source} is not a Switchyard metrics.json (${issue?.path.join(".") || "root"}: ${issue?.message}); ` +
        "write it with 'switchyard analyze --out'",
    );
  }
  parsed.data.tools.forEach((t, i) => {
    if (t.successes > t.attempts) {
      throw new InputError(
        `${source} is not consistent: tools[${i}] (${t.tool}) has ${t.successes} successes out of ${t.attempts} attempts`,
      );
    }
  });
  return parsed.data;
}

export type MetricsSignals = NonNullable<Signals["metrics"]>;

/**
 * What the router's metrics strategy reads from metrics.json: per tool, over all capabilities
 * and per capability, the attempts and successes of the window, the median duration and the mean
 * cost of one run. A tool listed with no attempts in the window (it only ran before) is passed
 * on as such, which the strategy treats like a tool with no record: the prior, and exploration.
 */
export function metricsToSignals(metrics: unknown): MetricsSignals {
  const parsed = parseMetrics(metrics);
  return parsed.tools.map((t) => ({
    tool: t.tool,
    ...(t.capability !== undefined ? { capability: t.capability } : {}),
    attempts: t.attempts,
    successes: t.successes,
    p50_ms: t.p50_ms,
    cost: t.cost,
  }));
}
