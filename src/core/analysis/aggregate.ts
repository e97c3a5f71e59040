import { z } from "zod";
import { InputError } from "../errors.js";
import type { EventType, SwitchyardEvent } from "../events/schema.js";
import type { OutcomeKind } from "../execution/schema.js";
import { QuantileSketch, RecentMap, TopKeys } from "./stats.js";

/**
 * The analysis as a fold: events go in one at a time, in any number, and the accumulator keeps
 * only counters, fixed-size histograms and bounded maps, so a year of logs costs the same memory
 * as a day. Pure: the window's end comes in as an argument, never from the clock.
 *
 * What counts, and why:
 * - Attempts of a tool are its execute_finished events that reached a verdict on the tool:
 *   success, no_changes, policy_violation, gate_failed, timed_out, tool_failed. Two outcomes are
 *   left out (and still counted under `outcomes`): tool_unavailable, because the tool never
 *   started, so its absence says nothing about how well it works; and error, because the run was
 *   cancelled or Switchyard itself failed, which is not the tool's doing either.
 * - p50/p95 are over those attempts' durations: a tool that is never found should not look fast.
 * - Tokens and cost are summed over every run that reported them, whatever its outcome; the
 *   cost the router compares is their mean per reporting run.
 * - A run's capability is the one on its execute_finished event (the runner sets it); for older
 *   logs without it, the capability of the task's task_created event, remembered for the most
 *   recent `limits.tasks` tasks. A run with neither counts for its tool on all capabilities only.
 * - Recovery: each recovery_step with ok true or false is an attempt of its (category, step);
 *   ok null (skipped, undecided) is counted apart. An episode is a task's decided steps until one
 *   turns it green (a rerun, mechanical or AI step with ok true) or it is quarantined; steps to
 *   green are counted per episode, for the most recent `limits.tasks` tasks with an open episode.
 *   Episodes are followed in the order events arrive, so feed each task's logs in time order.
 * - Flaky: a rerun step on a failure classified `flaky`. One that passed is a test that failed
 *   and then passed on the same commit; those are listed by signature as flaky tests.
 * - Windows: the current window is [now - window, now], the previous one [now - 2·window,
 *   now - window). Events in neither are counted and otherwise ignored.
 */

type Variant<T extends EventType> = Extract<SwitchyardEvent, { type: T }>;

/** What the analysis reads of each event; a full SwitchyardEvent is one too. */
export type AnalysisEvent =
  | Pick<
      Variant<"execute_finished">,
      "type" | "at" | "task_key" | "tool" | "outcome" | "duration_ms" | "tokens" | "cost_usd" | "capability"
    >
  | Pick<Variant<"task_created">, "type" | "at" | "task_key" | "capability">
  | Pick<Variant<"recovery_step">, "type" | "at" | "task_key" | "step" | "category" | "signature" | "ok">
  | {
      type: Exclude<EventType, "execute_finished" | "task_created" | "recovery_step">;
      at: string;
      task_key: string;
    };

/** The outcomes that are no verdict on the tool, left out of attempts. */
export const NOT_ATTEMPTS: ReadonlySet<OutcomeKind> = new Set<OutcomeKind>(["tool_unavailable", "error"]);

const Limits = z.strictObject({
  /** Tool x capability rows per window; events for further rows are counted, not broken down. */
  rows: z.number().int().min(1).default(512),
  /** (category, step) pairs per window. */
  recovery: z.number().int().min(1).default(256),
  /** Counters for error signatures (Space-Saving; exact up to this many distinct signatures). */
  signatures: z.number().int().min(1).default(1000),
  flaky_tests: z.number().int().min(1).default(200),
  /** Tasks whose capability and open recovery episode are remembered. */
  tasks: z.number().int().min(1).default(10_000),
});

export const AnalysisOptionsSchema = z.strictObject({
  /** The end of the window, as an ISO time with an offset. */
  now: z.string().datetime({ offset: true }),
  window_ms: z
    .number()
    .int()
    .positive()
    .max(3650 * 86_400_000),
  limits: Limits.prefault({}),
});
export type AnalysisOptions = z.input<typeof AnalysisOptionsSchema>;

export interface ToolFigures {
  tool: string;
  /** Undefined: the tool over every capability. */
  capability?: string;
  attempts: number;
  successes: number;
  outcomes: Partial<Record<OutcomeKind, number>>;
  p50_ms: number | null;
  p95_ms: number | null;
  tokens: number | null;
  cost_total: number | null;
  /** Runs that reported a cost: cost_total / cost_runs is the mean the router compares. */
  cost_runs: number;
}

export interface RecoveryFigures {
  category: string;
  step: string;
  attempts: number;
  successes: number;
  undecided: number;
}

export interface WindowFigures {
  from: string;
  to: string;
  events: number;
  tools: ToolFigures[];
  recovery: RecoveryFigures[];
  recovery_steps: number;
  greens: number;
  steps_to_green_total: number;
  steps_to_green_max: number | null;
  quarantines: number;
  flaky: number;
}

export interface SignatureFigures {
  signature: string;
  category: string;
  count: number;
  first_seen: string;
  last_seen: string;
}

export interface AnalysisResult {
  current: WindowFigures;
  previous: WindowFigures;
  /** In the current window, most frequent first. */
  signatures: SignatureFigures[];
  flaky_tests: { name: string; flips: number }[];
  events: number;
  outside_windows: number;
  /** The earliest and latest event time seen in any window or none, to say where the data is. */
  earliest_at: string | null;
  latest_at: string | null;
  /** The owner/repo parts of the task keys seen (the first 20). */
  repositories: string[];
  /** Where a bound made a figure approximate or incomplete; shown as gaps. */
  notes: string[];
}

interface Row {
  tool: string;
  capability: string | undefined;
  attempts: number;
  successes: number;
  outcomes: Map<OutcomeKind, number>;
  durations: QuantileSketch;
  tokens: number;
  tokenRuns: number;
  cost: number;
  costRuns: number;
}

interface SignatureValue {
  category: string;
  first: number;
  last: number;
}

class WindowStats {
  readonly rows = new Map<string, Row>();
  readonly recovery = new Map<string, RecoveryFigures>();
  events = 0;
  droppedRuns = 0;
  droppedSteps = 0;
  recoverySteps = 0;
  greens = 0;
  stepsToGreen = 0;
  stepsToGreenMax: number | null = null;
  quarantines = 0;
  flaky = 0;

  constructor(
    readonly from: number,
    readonly to: number,
    private readonly limits: z.output<typeof Limits>,
  ) {}

  row(tool: string, capability: string | undefined): Row | undefined {
    const key = capability === undefined ? tool : `${tool}\n${capability}`;
    let row = this.rows.get(key);
    if (row === undefined) {
      if (this.rows.size >= this.limits.rows) return undefined;
      row = {
        tool,
        capability,
        attempts: 0,
        successes: 0,
        outcomes: new Map(),
        durations: new QuantileSketch(),
        tokens: 0,
        tokenRuns: 0,
        cost: 0,
        costRuns: 0,
      };
      this.rows.set(key, row);
    }
    return row;
  }

  recoveryRow(category: string, step: string): RecoveryFigures | undefined {
    const key = `${category}\n${step}`;
    let row = this.recovery.get(key);
    if (row === undefined) {
      if (this.recovery.size >= this.limits.recovery) return undefined;
      row = { category, step, attempts: 0, successes: 0, undecided: 0 };
      this.recovery.set(key, row);
    }
    return row;
  }

  figures(): WindowFigures {
    const tools = [...this.rows.values()]
      .sort(
        (a, b) =>
          compare(a.tool, b.tool) ||
          (a.capability === undefined
            ? -1
            : b.capability === undefined
              ? 1
              : compare(a.capability, b.capability)),
      )
      .map((r): ToolFigures => {
        const outcomes: Partial<Record<OutcomeKind, number>> = {};
        for (const [kind, n] of [...r.outcomes].sort((a, b) => compare(a[0], b[0]))) outcomes[kind] = n;
        return {
          tool: r.tool,
          ...(r.capability !== undefined ? { capability: r.capability } : {}),
          attempts: r.attempts,
          successes: r.successes,
          outcomes,
          p50_ms: r.durations.quantile(0.5),
          p95_ms: r.durations.quantile(0.95),
          tokens: r.tokenRuns > 0 ? r.tokens : null,
          cost_total: r.costRuns > 0 ? r.cost : null,
          cost_runs: r.costRuns,
        };
      });
    const recovery = [...this.recovery.values()]
      .sort((a, b) => compare(a.category, b.category) || compare(a.step, b.step))
      .map((r) => ({ ...r }));
    return {
      from: new Date(this.from).toISOString(),
      to: new Date(this.to).toISOString(),
      events: this.events,
      tools,
      recovery,
      recovery_steps: this.recoverySteps,
      greens: this.greens,
      steps_to_green_total: this.stepsToGreen,
      steps_to_green_max: this.stepsToGreenMax,
      quarantines: this.quarantines,
      flaky: this.flaky,
    };
  }
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const NO_SIGNATURE = "(no signature)";
/** owner/repo of a task key (`owner/repo#12`) or a recovery key (`owner/repo@branch`). */
const REPOSITORY = /^([^/#@\s]+\/[^/#@\s]+)[#@]/;

export class MetricsAccumulator {
  private readonly current: WindowStats;
  private readonly previous: WindowStats;
  private readonly limits: z.output<typeof Limits>;
  /** task key -> capability from task_created, for runs logged without one. */
  private readonly capabilities: RecentMap<string>;
  /** task key -> decided recovery steps so far in its open episode. */
  private readonly episodes: RecentMap<number>;
  private readonly signatures: TopKeys<SignatureValue>;
  private readonly flakyTests: TopKeys<null>;
  private readonly repositories = new Set<string>();
  private lastTaskKey = "";
  private events = 0;
  private outside = 0;
  private undated = 0;
  private runsWithoutCapability = 0;
  private earliest = Infinity;
  private latest = -Infinity;

  constructor(options: AnalysisOptions) {
    const parsed = AnalysisOptionsSchema.safeParse(options);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new InputError(
        `Invalid analysis options: ${issue?.path.join(".") || "options"}: ${issue?.message ?? "invalid"}`,
      );
    }
    const { now, window_ms, limits } = parsed.data;
    const to = Date.parse(now);
    this.limits = limits;
    this.current = new WindowStats(to - window_ms, to, limits);
    this.previous = new WindowStats(to - 2 * window_ms, to - window_ms, limits);
    this.capabilities = new RecentMap(limits.tasks);
    this.episodes = new RecentMap(limits.tasks);
    this.signatures = new TopKeys(limits.signatures);
    this.flakyTests = new TopKeys(limits.flaky_tests);
  }

  add(event: AnalysisEvent): void {
    this.events++;
    const at = parseTime(event.at);
    if (Number.isNaN(at)) {
      this.undated++;
      this.outside++;
      return;
    }
    if (at < this.earliest) this.earliest = at;
    if (at > this.latest) this.latest = at;
    // A run's events share their task key: look at each key once, not once per event.
    if (event.task_key !== this.lastTaskKey && this.repositories.size < 20) {
      this.lastTaskKey = event.task_key;
      const repository = REPOSITORY.exec(event.task_key)?.[1];
      if (repository !== undefined) this.repositories.add(repository);
    }
    const window =
      at >= this.current.from && at <= this.current.to
        ? this.current
        : at >= this.previous.from && at < this.previous.to
          ? this.previous
          : undefined;
    if (window) window.events++;
    else this.outside++;

    switch (event.type) {
      case "task_created":
        this.capabilities.set(event.task_key, event.capability);
        return;
      case "execute_finished":
        if (window) this.addRun(window, event);
        return;
      case "recovery_step":
        this.addStep(window, event, at);
        return;
      default:
        return;
    }
  }

  private addRun(window: WindowStats, event: Extract<AnalysisEvent, { type: "execute_finished" }>): void {
    const capability = event.capability ?? this.capabilities.get(event.task_key);
    if (capability === undefined) this.runsWithoutCapability++;
    const overall = window.row(event.tool, undefined);
    const specific = capability === undefined ? undefined : window.row(event.tool, capability);
    if (overall === undefined) {
      window.droppedRuns++;
      return;
    }
    if (specific === undefined && capability !== undefined) window.droppedRuns++;
    for (const row of specific ? [overall, specific] : [overall]) {
      row.outcomes.set(event.outcome, (row.outcomes.get(event.outcome) ?? 0) + 1);
      if (!NOT_ATTEMPTS.has(event.outcome)) {
        row.attempts++;
        if (event.outcome === "success") row.successes++;
        row.durations.add(event.duration_ms);
      }
      if (typeof event.tokens === "number") {
        row.tokens += event.tokens;
        row.tokenRuns++;
      }
      if (typeof event.cost_usd === "number") {
        row.cost += event.cost_usd;
        row.costRuns++;
      }
    }
  }

  private addStep(
    window: WindowStats | undefined,
    event: Extract<AnalysisEvent, { type: "recovery_step" }>,
    at: number,
  ): void {
    // Episodes span windows: the steps before the window still count towards a green inside it.
    let steps = this.episodes.get(event.task_key) ?? 0;
    let greenAfter: number | null = null;
    if (event.ok !== null) {
      steps++;
      if (event.step === "quarantine") this.episodes.delete(event.task_key);
      else if (event.ok && event.step !== "skipped") {
        greenAfter = steps;
        this.episodes.delete(event.task_key);
      } else this.episodes.set(event.task_key, steps);
    }
    if (!window) return;

    window.recoverySteps++;
    const row = window.recoveryRow(event.category, event.step);
    if (row === undefined) window.droppedSteps++;
    else if (event.ok === null) row.undecided++;
    else {
      row.attempts++;
      if (event.ok) row.successes++;
    }
    if (greenAfter !== null) {
      window.greens++;
      window.stepsToGreen += greenAfter;
      window.stepsToGreenMax = Math.max(window.stepsToGreenMax ?? 0, greenAfter);
    }
    // A decided quarantine step is a failure handed to a person, whatever its ok says: writers
    // differ (the recovery flow logs ok false, recovery having failed; others log true).
    if (event.step === "quarantine" && event.ok !== null) window.quarantines++;
    const flakyRerun = event.category === "flaky" && event.step === "rerun";
    if (flakyRerun) window.flaky++;

    if (window !== this.current) return;
    if (event.signature !== undefined) {
      const category = event.category;
      this.signatures.add(event.signature, (v) =>
        v === undefined
          ? { category, first: at, last: at }
          : { category, first: Math.min(v.first, at), last: Math.max(v.last, at) },
      );
    }
    if (flakyRerun && event.ok === true) this.flakyTests.add(event.signature ?? NO_SIGNATURE, () => null);
  }

  result(): AnalysisResult {
    const notes: string[] = [];
    for (const [w, name] of [
      [this.current, "this window"],
      [this.previous, "the previous window"],
    ] as const) {
      if (w.droppedRuns > 0) {
        notes.push(
          `tools: ${plural(w.droppedRuns, "run")} in ${name} not broken down by tool and capability ` +
            `(more than ${this.limits.rows} tool x capability rows)`,
        );
      }
      if (w.droppedSteps > 0) {
        notes.push(
          `recovery: ${plural(w.droppedSteps, "step")} in ${name} not broken down by category and step ` +
            `(more than ${this.limits.recovery} pairs)`,
        );
      }
    }
    if (this.runsWithoutCapability > 0) {
      notes.push(
        `capability: ${plural(this.runsWithoutCapability, "run")} without a known capability (no capability on the ` +
          "event and no task_created for the task among the recent ones) count for their tool on all capabilities only",
      );
    }
    if (!this.signatures.exact) {
      notes.push(
        `signatures: more than ${this.limits.signatures} distinct error signatures; counts are upper bounds, ` +
          `each over by at most ${Math.floor(this.signatures.total / this.limits.signatures)}, and first seen may be late`,
      );
    }
    if (!this.flakyTests.exact) {
      notes.push(`flaky tests: more than ${this.limits.flaky_tests} distinct names; flips are upper bounds`);
    }
    if (this.undated > 0) notes.push(`${plural(this.undated, "event")} with an unreadable time left out`);

    const iso = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString() : null);
    return {
      current: this.current.figures(),
      previous: this.previous.figures(),
      signatures: this.signatures.top().map((e) => ({
        signature: e.key,
        category: e.value.category,
        count: e.count,
        first_seen: new Date(e.value.first).toISOString(),
        last_seen: new Date(e.value.last).toISOString(),
      })),
      flaky_tests: this.flakyTests.top().map((e) => ({ name: e.key, flips: e.count })),
      events: this.events,
      outside_windows: this.outside,
      earliest_at: iso(this.earliest),
      latest_at: iso(this.latest),
      repositories: [...this.repositories].sort(compare),
      notes,
    };
  }
}

/**
 * Milliseconds since the epoch of an ISO time, NaN when unreadable. The shape Date#toISOString
 * writes (every event the writer stamps) is read from its digits, several times faster than
 * Date.parse, which a stream of millions of events feels; any other shape goes to Date.parse.
 */
export function parseTime(iso: string): number {
  if (
    iso.length === 24 &&
    iso.charCodeAt(23) === 90 &&
    iso.charCodeAt(10) === 84 &&
    iso.charCodeAt(19) === 46
  ) {
    const year = digits(iso, 0, 4);
    const month = digits(iso, 5, 2);
    const day = digits(iso, 8, 2);
    const hour = digits(iso, 11, 2);
    const minute = digits(iso, 14, 2);
    const second = digits(iso, 17, 2);
    const ms = digits(iso, 20, 3);
    if (
      year >= 0 &&
      month >= 1 &&
      month <= 12 &&
      day >= 1 &&
      day <= 31 &&
      hour >= 0 &&
      hour < 24 &&
      minute >= 0 &&
      minute < 60 &&
      second >= 0 &&
      second < 60 &&
      ms >= 0 &&
      iso.charCodeAt(4) === 45 &&
      iso.charCodeAt(7) === 45 &&
      iso.charCodeAt(13) === 58 &&
      iso.charCodeAt(16) === 58
    ) {
      return daysFromCivil(year, month, day) * 86_400_000 + ((hour * 60 + minute) * 60 + second) * 1000 + ms;
    }
  }
  return Date.parse(iso);
}

/**
 * Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's days_from_civil), in
 * integer arithmetic. Like Date.UTC it rolls an impossible day over (February 30 is March 2).
 */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** The number written in `count` decimal digits from `from`; -1 when one is not a digit. */
function digits(text: string, from: number, count: number): number {
  let n = 0;
  for (let i = from; i < from + count; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** Folds a whole array or iterable of events; the streaming doors call `add` themselves. */
export function analyzeEvents(events: Iterable<AnalysisEvent>, options: AnalysisOptions): AnalysisResult {
  const acc = new MetricsAccumulator(options);
  for (const event of events) acc.add(event);
  return acc.result();
}
