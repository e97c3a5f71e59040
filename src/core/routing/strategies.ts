import type { Config, Strategy, ToolProfile } from "../../config/schema.js";
import type { ParsedSignals } from "./schema.js";
import { unitInterval } from "./seed.js";

/**
 * The routing strategies. Each one orders the tools that passed every exclusion check and gives
 * each a score (higher is better) and a reason a person can read in `/switchyard explain`.
 * Ties always fall back to chain order, so the order never depends on anything but the inputs.
 *
 * Order-based strategies (priority, round_robin, sticky) score by rank: 1 - i/n for the i-th of n.
 * least_busy scores by free concurrency slots, metrics by a smoothed success rate less penalties.
 */

export interface EligibleTool {
  name: string;
  profile: ToolProfile;
  /** Position in the chain, 0-based: every strategy's tie-breaker. */
  chainIndex: number;
  inFlight: number;
}

export interface RankingContext {
  taskKey: string;
  capability: string;
  /** "#2 in the 'testing' chain" and the like, for priority reasons. */
  describePosition: (chainIndex: number) => string;
  signals: ParsedSignals;
  metrics: MetricsWeights;
}

export type MetricsWeights = Config["routing"]["metrics"];

export interface RankedTool {
  name: string;
  score: number;
  reason: string;
}

export interface Ranking {
  ranked: RankedTool[];
  /** Set when the metrics strategy put an under-sampled tool first to learn about it. */
  exploring?: { tool: string; samples: number };
  /** For sticky: whether the previous tool was eligible and kept. */
  stickyKept?: boolean;
}

export const STRATEGY_LABELS: Record<Strategy, string> = {
  priority: "priority",
  round_robin: "round robin",
  least_busy: "least busy",
  sticky: "stickiness",
  metrics: "metrics",
};

export function rankTools(
  strategy: Strategy,
  eligible: readonly EligibleTool[],
  ctx: RankingContext,
): Ranking {
  const byChain = [...eligible].sort((a, b) => a.chainIndex - b.chainIndex);
  switch (strategy) {
    case "priority":
      return { ranked: byRank(byChain, (t) => `priority: ${ctx.describePosition(t.chainIndex)}`) };
    case "round_robin":
      return roundRobin(byChain, ctx);
    case "least_busy":
      return leastBusy(byChain);
    case "sticky":
      return sticky(byChain, ctx);
    case "metrics":
      return metrics(byChain, ctx);
  }
}

function byRank(
  tools: readonly EligibleTool[],
  reason: (t: EligibleTool, i: number) => string,
): RankedTool[] {
  const n = tools.length;
  return tools.map((t, i) => ({ name: t.name, score: round(1 - i / n), reason: reason(t, i) }));
}

function roundRobin(byChain: readonly EligibleTool[], ctx: RankingContext): Ranking {
  const n = byChain.length;
  if (n === 0) return { ranked: [] };
  const turn = ctx.signals.routed_count;
  const start = turn % n;
  const rotated = [...byChain.slice(start), ...byChain.slice(0, start)];
  return { ranked: byRank(rotated, (_t, i) => `round robin: #${i + 1} of ${n} on turn ${turn}`) };
}

/**
 * Ordered by the share of concurrency slots still free rather than the raw in-flight count: one
 * run of a tool allowed two is busier than two runs of a tool allowed ten.
 */
function leastBusy(byChain: readonly EligibleTool[]): Ranking {
  const scored = byChain.map((t) => ({ t, headroom: 1 - t.inFlight / t.profile.max_concurrency }));
  scored.sort(
    (a, b) => b.headroom - a.headroom || a.t.inFlight - b.t.inFlight || a.t.chainIndex - b.t.chainIndex,
  );
  return {
    ranked: scored.map(({ t, headroom }) => ({
      name: t.name,
      score: round(headroom),
      reason: `least busy: ${t.inFlight} of ${t.profile.max_concurrency} slots in use`,
    })),
  };
}

function sticky(byChain: readonly EligibleTool[], ctx: RankingContext): Ranking {
  const previous = ctx.signals.previous_tool;
  const kept = byChain.find((t) => t.name === previous);
  const order = kept ? [kept, ...byChain.filter((t) => t !== kept)] : byChain;
  const ranked = byRank(order, (t) =>
    t === kept ? "sticky: this task's previous tool" : `priority: ${ctx.describePosition(t.chainIndex)}`,
  );
  return { ranked, stickyKept: kept !== undefined };
}

export interface Figures {
  attempts: number;
  successes: number;
  p50_ms: number | null;
  cost: number | null;
  /** Which entry of metrics.json the figures came from. */
  scope: "capability" | "tool" | "none";
}

/**
 * The figures to judge a tool by: its record on this capability when that has at least
 * `min_samples` runs (a tool can be good at docs and poor at refactoring), else its record over
 * all capabilities, else whatever thin capability record there is, else nothing.
 */
export function figuresFor(
  tool: string,
  capability: string,
  entries: ParsedSignals["metrics"],
  minSamples: number,
): Figures {
  let specific: ParsedSignals["metrics"][number] | undefined;
  let overall: ParsedSignals["metrics"][number] | undefined;
  for (const e of entries) {
    if (e.tool !== tool) continue;
    if (e.capability === capability) specific ??= e;
    else if (e.capability === undefined) overall ??= e;
  }
  const pick =
    specific && specific.attempts >= minSamples
      ? { e: specific, scope: "capability" as const }
      : overall
        ? { e: overall, scope: "tool" as const }
        : specific
          ? { e: specific, scope: "capability" as const }
          : undefined;
  if (!pick) return { attempts: 0, successes: 0, p50_ms: null, cost: null, scope: "none" };
  return {
    attempts: pick.e.attempts,
    successes: pick.e.successes,
    p50_ms: pick.e.p50_ms ?? null,
    cost: pick.e.cost ?? null,
    scope: pick.scope,
  };
}

/**
 * The posterior mean of a Beta(prior_successes, prior_failures) prior after the tool's runs, so a
 * single lucky success (1/1 -> 0.6 with the default 2/2 prior) does not outrank a long record
 * (95/100 -> 0.93). With no prior and no runs there is nothing to go on: 0.5.
 */
export function smoothedSuccess(attempts: number, successes: number, w: MetricsWeights): number {
  const denominator = attempts + w.prior_successes + w.prior_failures;
  return denominator === 0 ? 0.5 : (successes + w.prior_successes) / denominator;
}

/**
 * Score = smoothed success - latency_weight * latency share - cost_weight * cost share, where a
 * share is the tool's figure over the largest among the candidates (0..1, proportional, so a
 * 1% difference costs 1% of the weight, not all of it). An unknown figure counts as 0.5: neither
 * rewarded nor punished for missing data.
 *
 * `cost` is compared as metrics.json gives it, which is the mean cost of one run; only ratios
 * between candidates matter, so the currency does not.
 *
 * Exploration: with probability `exploration_rate`, decided by a hash of the task key and the
 * repository's routed count (so a replay draws the same, and successive tasks draw afresh), the
 * under-sampled tool (fewer than `min_samples` runs; fewest first, then chain order) is put first.
 * Without it a new tool, starting from the prior, might never be tried against a proven one.
 */
function metrics(byChain: readonly EligibleTool[], ctx: RankingContext): Ranking {
  const w = ctx.metrics;
  const rows = byChain.map((t) => {
    const figures = figuresFor(t.name, ctx.capability, ctx.signals.metrics, w.min_samples);
    return {
      t,
      figures,
      success: smoothedSuccess(figures.attempts, figures.successes, w),
      score: 0,
      reason: "",
    };
  });
  let maxLatency: number | null = null;
  let maxCost: number | null = null;
  for (const { figures } of rows) {
    if (figures.p50_ms !== null && (maxLatency === null || figures.p50_ms > maxLatency))
      maxLatency = figures.p50_ms;
    if (figures.cost !== null && (maxCost === null || figures.cost > maxCost)) maxCost = figures.cost;
  }

  for (const r of rows) {
    const { p50_ms, cost } = r.figures;
    const latencyPenalty = w.latency_weight * share(p50_ms, maxLatency);
    const costPenalty = w.cost_weight * share(cost, maxCost);
    r.score = r.success - latencyPenalty - costPenalty;
    r.reason =
      `metrics: ${r.success.toFixed(3)} success (${describeRecord(r.figures, ctx.capability, w)})` +
      ` - ${latencyPenalty.toFixed(3)} latency (p50 ${p50_ms === null ? "unknown" : formatDuration(p50_ms)})` +
      ` - ${costPenalty.toFixed(3)} cost (${cost === null ? "unknown" : String(Number(cost.toPrecision(3)))})`;
  }
  rows.sort((a, b) => b.score - a.score || a.t.chainIndex - b.t.chainIndex);

  let exploring: Ranking["exploring"];
  let pick: (typeof rows)[number] | undefined;
  for (const r of rows) {
    if (r.figures.attempts >= w.min_samples) continue;
    if (
      !pick ||
      r.figures.attempts < pick.figures.attempts ||
      (r.figures.attempts === pick.figures.attempts && r.t.chainIndex < pick.t.chainIndex)
    ) {
      pick = r;
    }
  }
  if (
    pick &&
    w.exploration_rate > 0 &&
    unitInterval(`explore|${ctx.taskKey}|${ctx.signals.routed_count}`) < w.exploration_rate
  ) {
    rows.splice(rows.indexOf(pick), 1);
    rows.unshift(pick);
    const samples = pick.figures.attempts;
    pick.reason = `exploring: only ${samples} sample${samples === 1 ? "" : "s"} (min_samples ${w.min_samples}); ${pick.reason}`;
    exploring = { tool: pick.t.name, samples };
  }

  const ranked = rows.map((r) => ({ name: r.t.name, score: round(r.score), reason: r.reason }));
  return exploring ? { ranked, exploring } : { ranked };
}

function describeRecord(f: Figures, capability: string, w: MetricsWeights): string {
  const prior = `prior ${w.prior_successes}/${w.prior_successes + w.prior_failures}`;
  if (f.scope === "none") return `no runs yet, ${prior}`;
  const on = f.scope === "capability" ? `on '${capability}'` : "on all capabilities";
  return `${f.successes}/${f.attempts} ${on}, ${prior}`;
}

function share(value: number | null, max: number | null): number {
  if (value === null) return 0.5;
  return max === null || max === 0 ? 0 : value / max;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${Number((ms / 1000).toFixed(1))} s`;
  return `${Number((ms / 60_000).toFixed(1))} min`;
}

/** Scores are stored to four places: enough to tell candidates apart, short in logs and JSON. */
function round(x: number): number {
  // + 0 turns -0 into 0, which would otherwise print as "-0.00" and fail deep equality.
  return Math.round(x * 10_000) / 10_000 + 0;
}
