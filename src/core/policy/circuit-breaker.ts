import { z } from "zod";
import { NameSchema, type Config } from "../../config/schema.js";
import { InputError } from "../errors.js";
import { OutcomeSchema, type Outcome } from "../routing/schema.js";

/**
 * A circuit breaker per tool, computed from a list of recent outcomes instead of kept in memory:
 * the app runs as many replicas as it likes and the Action starts fresh every job, so the state
 * has to be something any of them can rebuild from GitHub's history (check runs, event logs).
 *
 * The rules, replayed over the tool's outcomes in time order:
 *
 * 1. Closed: outcomes go into a sliding window of the last `window` runs. When a *failure* lands
 *    and the window holds at least `min_samples` runs of which at least `failure_rate` failed,
 *    the circuit opens at that failure's time. Only a failure trips it: a tool whose latest run
 *    succeeded is not shut out because older failures happen to reach the sample count.
 * 2. Open: the tool is not routed to until `cooldown_seconds` after the opening.
 * 3. Half-open: once the cooldown has passed, one trial run is allowed (the router lets the tool
 *    be chosen, but not while a run of it is already in flight).
 * 4. A success at any time after opening closes the circuit and starts a fresh window with that
 *    success, so old failures cannot re-trip it on the next single failure. A failure after
 *    opening (a trial that failed, or a run that was in flight when it tripped) re-opens it from
 *    that failure, restarting the cooldown.
 *
 * Outcomes later than `now` are ignored, so replaying a past decision at its own `now` gives the
 * state it saw. Outcomes at the same instant are taken successes first, so a tie is read the
 * cautious way (the failure is the latest word).
 */

export type CircuitBreakerConfig = Config["routing"]["circuit_breaker"];

export interface CircuitState {
  state: "closed" | "open" | "half_open";
  /** Failures and runs in the current window (since the last closing, at most `window`). */
  failures: number;
  samples: number;
  failure_rate: number;
  /** When the circuit (last) opened; absent while closed. */
  opened_at?: string;
  /** When the cooldown ends (or ended, for half-open); absent while closed. */
  retry_at?: string;
  reason: string;
}

interface TimedOutcome {
  ok: boolean;
  ms: number;
}

const CircuitInputSchema = z.object({
  outcomes: z.array(OutcomeSchema),
  tool: NameSchema,
  now: z.string().datetime({ offset: true }),
});

/**
 * The circuit state of one tool at `now`, from outcomes of any tools in any order. The outcomes
 * and `now` are validated: they are rebuilt from GitHub by the caller.
 */
export function circuitState(
  outcomes: readonly Outcome[],
  tool: string,
  cfg: CircuitBreakerConfig,
  now: string,
): CircuitState {
  const input = CircuitInputSchema.safeParse({ outcomes, tool, now });
  if (!input.success) {
    const issue = input.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.map(String).join(".") : "input";
    throw new InputError(`Cannot compute the circuit state of '${tool}': ${where}: ${issue?.message}`);
  }
  const nowMs = Date.parse(input.data.now);
  const history = timedHistory(input.data.outcomes, input.data.tool, nowMs);
  return evaluateCircuit(history, cfg, nowMs);
}

/**
 * A lookup of circuit states for callers that already validated the outcomes (the router does,
 * through SignalsSchema). Outcomes are grouped once; a tool's state is computed the first time it
 * is asked for, since the router only needs it for tools that passed the cheaper checks.
 */
export function circuitLookup(
  outcomes: readonly Outcome[],
  cfg: CircuitBreakerConfig,
  nowMs: number,
): (tool: string) => CircuitState {
  const byTool = new Map<string, Outcome[]>();
  for (const o of outcomes) {
    const list = byTool.get(o.tool);
    if (list) list.push(o);
    else byTool.set(o.tool, [o]);
  }
  const states = new Map<string, CircuitState>();
  return (tool) => {
    let state = states.get(tool);
    if (!state) {
      state = evaluateCircuit(timedHistory(byTool.get(tool) ?? [], tool, nowMs), cfg, nowMs);
      states.set(tool, state);
    }
    return state;
  };
}

function timedHistory(outcomes: readonly Outcome[], tool: string, nowMs: number): TimedOutcome[] {
  const history: TimedOutcome[] = [];
  for (const o of outcomes) {
    if (o.tool !== tool) continue;
    const ms = Date.parse(o.at);
    if (ms <= nowMs) history.push({ ok: o.ok, ms });
  }
  return history.sort((a, b) => a.ms - b.ms || Number(b.ok) - Number(a.ok));
}

function evaluateCircuit(
  history: readonly TimedOutcome[],
  cfg: CircuitBreakerConfig,
  nowMs: number,
): CircuitState {
  let window: boolean[] = [];
  let openedAt: number | null = null;

  for (const o of history) {
    if (openedAt !== null) {
      if (o.ok) {
        openedAt = null;
        window = [true];
      } else {
        openedAt = o.ms;
        pushBounded(window, false, cfg.window);
      }
      continue;
    }
    pushBounded(window, o.ok, cfg.window);
    if (!o.ok && tripped(window, cfg)) openedAt = o.ms;
  }

  const samples = window.length;
  const failures = window.reduce((n, ok) => (ok ? n : n + 1), 0);
  const failure_rate = samples === 0 ? 0 : failures / samples;
  const counts = { failures, samples, failure_rate };
  const tally = `${failures} of ${samples} recent runs failed`;

  if (openedAt === null) {
    let reason: string;
    if (samples === 0) reason = "closed: no recent runs";
    else if (samples < cfg.min_samples)
      reason = `closed: ${tally}, fewer runs than the ${cfg.min_samples} needed to judge`;
    else reason = `closed: ${tally}`;
    return { state: "closed", ...counts, reason };
  }

  const retryAt = openedAt + cfg.cooldown_seconds * 1000;
  const opened_at = isoTime(openedAt);
  const retry_at = isoTime(retryAt);
  if (nowMs >= retryAt) {
    return {
      state: "half_open",
      ...counts,
      opened_at,
      retry_at,
      reason: `half-open: cooldown ended at ${retry_at}, one trial run allowed (${tally})`,
    };
  }
  return { state: "open", ...counts, opened_at, retry_at, reason: `open until ${retry_at}: ${tally}` };
}

function pushBounded(window: boolean[], ok: boolean, size: number): void {
  window.push(ok);
  if (window.length > size) window.shift();
}

function tripped(window: readonly boolean[], cfg: CircuitBreakerConfig): boolean {
  if (window.length < cfg.min_samples) return false;
  const failures = window.reduce((n, ok) => (ok ? n : n + 1), 0);
  // Division is correctly rounded, so 7 of 10 gives the same double as a configured 0.7: no epsilon.
  return failures / window.length >= cfg.failure_rate;
}

/** ISO time without milliseconds when there are none: "2025-03-01T12:30:00Z" reads better in a reason. */
function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace(".000Z", "Z");
}
