import { describe, expect, it } from "@jest/globals";
import { ConfigSchema } from "../../../src/config/schema.js";
import { InputError } from "../../../src/core/errors.js";
import { backoffDelay, nextRetry, type RetryConfig } from "../../../src/core/policy/retry.js";

/** base 2 s, factor 2, max 60 s, jitter 0.2, max_attempts 4: the defaults. */
const defaults = ConfigSchema.parse({}).retry;
const cfg = (over: Partial<RetryConfig> = {}): RetryConfig => ({ ...defaults, ...over });
const SEED = "octo/repo#12|claude";

describe("backoffDelay", () => {
  it.each([
    [1, 2_000],
    [2, 4_000],
    [3, 8_000],
    [5, 32_000],
    [6, 60_000],
    [100, 60_000],
    [5_000, 60_000],
  ])("without jitter, attempt %d waits %d ms", (attempt, expected) => {
    expect(backoffDelay(attempt, cfg({ jitter: 0 }), SEED)).toBe(expected);
  });

  it("grows by a fractional factor", () => {
    expect(backoffDelay(3, cfg({ jitter: 0, base_delay_ms: 1_000, factor: 1.5 }), SEED)).toBe(2_250);
  });

  it("draws exact delays from the seed (pinned)", () => {
    // Each is floor(d * (1 - 0.2 * u)), u from the seed and the attempt number.
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n, cfg(), SEED))).toEqual([
      1835, 3708, 6932, 14450, 31610, 54526, 58032,
    ]);
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n, cfg({ jitter: 1 }), SEED))).toEqual([
      1178, 2544, 2663, 8254, 30052, 32634, 50162,
    ]);
  });

  it("stays within [(1 - jitter) * d, d], never above the cap nor below zero", () => {
    for (const jitter of [0, 0.2, 0.5, 1]) {
      for (let attempt = 1; attempt <= 30; attempt++) {
        const d = Math.min(60_000, 2_000 * 2 ** (attempt - 1));
        for (let s = 0; s < 50; s++) {
          const delay = backoffDelay(attempt, cfg({ jitter }), `octo/repo#${s}`);
          expect(Number.isInteger(delay)).toBe(true);
          expect(delay).toBeLessThanOrEqual(d);
          expect(delay).toBeGreaterThanOrEqual(Math.floor((1 - jitter) * d));
          expect(delay).toBeGreaterThanOrEqual(0);
        }
      }
    }
  });

  it("spreads tasks that failed together", () => {
    const delays = new Set(Array.from({ length: 100 }, (_, s) => backoffDelay(3, cfg(), `octo/repo#${s}`)));
    expect(delays.size).toBeGreaterThan(90);
  });

  it("is zero when the base delay is zero", () => {
    expect(backoffDelay(4, cfg({ base_delay_ms: 0 }), SEED)).toBe(0);
  });

  it.each([0, -1, 1.5, Number.NaN])("refuses attempt %p with an InputError", (attempt) => {
    const call = () => backoffDelay(attempt, cfg(), SEED);
    expect(call).toThrow(InputError);
    expect(call).toThrow("An attempt number is a whole number from 1 (the first try), got ");
  });
});

describe("nextRetry", () => {
  it("retries with the backoff delay until max_attempts, then gives up", () => {
    expect(nextRetry(1, cfg(), SEED)).toEqual({
      retry: true,
      attempt: 2,
      delay_ms: 1835,
      reason: "backoff after attempt 1",
    });
    expect(nextRetry(3, cfg(), SEED)).toEqual({
      retry: true,
      attempt: 4,
      delay_ms: 6932,
      reason: "backoff after attempt 3",
    });
    expect(nextRetry(4, cfg(), SEED)).toEqual({
      retry: false,
      reason: "gave up after 4 attempts (retry.max_attempts is 4)",
    });
    expect(nextRetry(9, cfg(), SEED)).toEqual({
      retry: false,
      reason: "gave up after 9 attempts (retry.max_attempts is 4)",
    });
  });

  it("never retries when max_attempts is 1", () => {
    expect(nextRetry(1, cfg({ max_attempts: 1 }), SEED)).toEqual({
      retry: false,
      reason: "gave up after 1 attempt (retry.max_attempts is 1)",
    });
  });

  it("makes exactly max_attempts attempts and waits at most max_delay_ms between them", () => {
    for (const max_attempts of [1, 2, 4, 20]) {
      const policy = cfg({ max_attempts });
      let attempts = 1;
      let waited = 0;
      for (;;) {
        const next = nextRetry(attempts, policy, SEED);
        if (!next.retry) break;
        expect(next.attempt).toBe(attempts + 1);
        waited += next.delay_ms;
        attempts = next.attempt;
      }
      expect(attempts).toBe(max_attempts);
      expect(waited).toBeLessThanOrEqual((max_attempts - 1) * policy.max_delay_ms);
    }
  });

  it("honours a server's retry-after when it is longer than the backoff", () => {
    expect(nextRetry(1, cfg(), SEED, { retryAfterMs: 30_000 })).toEqual({
      retry: true,
      attempt: 2,
      delay_ms: 30_000,
      reason: "the server asked to wait 30 s",
    });
    expect(nextRetry(1, cfg(), SEED, { retryAfterMs: 500 })).toEqual({
      retry: true,
      attempt: 2,
      delay_ms: 1835,
      reason: "backoff after attempt 1",
    });
  });

  it("gives up rather than wait longer than max_delay_ms for a server", () => {
    expect(nextRetry(1, cfg(), SEED, { retryAfterMs: 3_600_000 })).toEqual({
      retry: false,
      reason: "the server asked to wait 3600 s, longer than retry.max_delay_ms (60 s)",
    });
  });

  it("still stops at max_attempts when the server asks for a short wait", () => {
    expect(nextRetry(4, cfg(), SEED, { retryAfterMs: 100 }).retry).toBe(false);
  });

  it.each([-1, Number.POSITIVE_INFINITY, Number.NaN])("refuses a retry-after of %p", (retryAfterMs) => {
    expect(() => nextRetry(1, cfg(), SEED, { retryAfterMs })).toThrow(InputError);
  });
});
