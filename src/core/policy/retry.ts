import type { Config } from "../../config/schema.js";
import { InputError } from "../errors.js";
import { unitInterval } from "../routing/seed.js";

/**
 * Retry policy: exponential backoff with jitter and a cap, and a bound on attempts. Pure and
 * seeded, so a retry scheduled by one job can be recomputed by another (or by a test) from the
 * attempt number and a seed such as the task key and tool.
 *
 * Delay after failed attempt n (1-based): d = min(max_delay_ms, base_delay_ms * factor^(n-1)),
 * then jitter drawn downwards only: uniform in [(1 - jitter) * d, d]. jitter 1 is "full jitter"
 * (uniform in [0, d]), 0.5 is "equal jitter", 0 is none. Drawing downwards keeps every delay
 * within the cap and never negative, and still spreads retries of many tasks that failed
 * together (a rate limit, an outage) so they do not all come back in the same second.
 */

export type RetryConfig = Config["retry"];

export type RetryDecision =
  | {
      retry: true;
      /** The number of the attempt to make next. */ attempt: number;
      delay_ms: number;
      reason: string;
    }
  | { retry: false; reason: string };

export interface RetryOptions {
  /** A delay the server asked for (GitHub's `retry-after`, or a rate limit's reset), in ms. */
  retryAfterMs?: number;
}

/** Milliseconds to wait after failed attempt `attempt` (1-based) before the next one. */
export function backoffDelay(attempt: number, cfg: RetryConfig, seed: string): number {
  checkAttempt(attempt);
  const exponential = cfg.base_delay_ms * Math.pow(cfg.factor, attempt - 1);
  // min() also absorbs Infinity when a large attempt number overflows the power.
  const capped = Math.min(cfg.max_delay_ms, exponential);
  const draw = unitInterval(`${seed}|attempt:${attempt}`);
  return Math.max(0, Math.floor(capped * (1 - cfg.jitter * draw)));
}

/**
 * Whether to try again after failed attempt `attempt`, and after how long. Stops at
 * `max_attempts` whatever the server says. A server-given delay is honoured when it is longer than
 * the backoff; one longer than `max_delay_ms` ends the retries instead, with a reason the caller
 * can report (waiting out an hour-long rate limit inside a job is not a retry, it is a reschedule).
 */
export function nextRetry(
  attempt: number,
  cfg: RetryConfig,
  seed: string,
  options: RetryOptions = {},
): RetryDecision {
  checkAttempt(attempt);
  if (attempt >= cfg.max_attempts) {
    return {
      retry: false,
      reason: `gave up after ${attempt} attempt${attempt === 1 ? "" : "s"} (retry.max_attempts is ${cfg.max_attempts})`,
    };
  }
  const backoff = backoffDelay(attempt, cfg, seed);
  const { retryAfterMs } = options;
  if (retryAfterMs === undefined) {
    return {
      retry: true,
      attempt: attempt + 1,
      delay_ms: backoff,
      reason: `backoff after attempt ${attempt}`,
    };
  }
  if (!Number.isFinite(retryAfterMs) || retryAfterMs < 0) {
    throw new InputError(`retry-after must be a number of milliseconds from 0, got ${String(retryAfterMs)}`);
  }
  if (retryAfterMs > cfg.max_delay_ms) {
    return {
      retry: false,
      reason: `the server asked to wait ${formatMs(retryAfterMs)}, longer than retry.max_delay_ms (${formatMs(cfg.max_delay_ms)})`,
    };
  }
  if (retryAfterMs > backoff) {
    return {
      retry: true,
      attempt: attempt + 1,
      delay_ms: Math.ceil(retryAfterMs),
      reason: `the server asked to wait ${formatMs(retryAfterMs)}`,
    };
  }
  return { retry: true, attempt: attempt + 1, delay_ms: backoff, reason: `backoff after attempt ${attempt}` };
}

function checkAttempt(attempt: number): void {
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new InputError(
      `An attempt number is a whole number from 1 (the first try), got ${String(attempt)}`,
    );
  }
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.ceil(ms)} ms` : `${Number((ms / 1000).toFixed(1))} s`;
}
