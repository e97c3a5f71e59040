import { describe, expect, it } from "@jest/globals";
import { ConfigSchema } from "../../../src/config/schema.js";
import { InputError } from "../../../src/core/errors.js";
import { circuitState, type CircuitBreakerConfig } from "../../../src/core/policy/circuit-breaker.js";
import type { Outcome } from "../../../src/core/routing/schema.js";

/** window 10, min_samples 4, failure_rate 0.5, cooldown 1800 s: the defaults. */
const defaults = ConfigSchema.parse({}).routing.circuit_breaker;
const cfg = (over: Partial<CircuitBreakerConfig> = {}): CircuitBreakerConfig => ({ ...defaults, ...over });

/** "F" and "S" for failure and success, one a minute from 11:00. */
function runs(pattern: string, tool = "codex", start = "2025-03-01T11:00:00Z"): Outcome[] {
  const t0 = Date.parse(start);
  return [...pattern].map((c, i) => ({ tool, ok: c === "S", at: new Date(t0 + i * 60_000).toISOString() }));
}
const at = (hhmm: string) => `2025-03-01T${hhmm}:00Z`;

describe("circuitState: closed", () => {
  it("is closed with no history", () => {
    expect(circuitState([], "codex", cfg(), at("12:00"))).toEqual({
      state: "closed",
      failures: 0,
      samples: 0,
      failure_rate: 0,
      reason: "closed: no recent runs",
    });
  });

  it("does not judge on fewer than min_samples runs", () => {
    expect(circuitState(runs("FFF"), "codex", cfg(), at("12:00"))).toEqual({
      state: "closed",
      failures: 3,
      samples: 3,
      failure_rate: 1,
      reason: "closed: 3 of 3 recent runs failed, fewer runs than the 4 needed to judge",
    });
  });

  it("stays closed below the failure rate", () => {
    const state = circuitState(runs("SFSSFS"), "codex", cfg(), at("12:00"));
    expect(state).toEqual({
      state: "closed",
      failures: 2,
      samples: 6,
      failure_rate: 1 / 3,
      reason: "closed: 2 of 6 recent runs failed",
    });
  });

  it("is tripped only by a failure, not by a success that completes the sample count", () => {
    expect(circuitState(runs("FFFS"), "codex", cfg(), at("12:00")).state).toBe("closed");
    expect(circuitState(runs("FFFSF"), "codex", cfg(), at("12:00")).opened_at).toBe("2025-03-01T11:04:00Z");
  });

  it("only counts the last `window` runs", () => {
    // Window 4: at the last F the window is S S S F, a quarter failed.
    expect(circuitState(runs("FFFSSSF"), "codex", cfg({ window: 4 }), at("12:00"))).toMatchObject({
      state: "closed",
      failures: 1,
      samples: 4,
    });
  });

  it.each([
    { pattern: "SSSFFFFFFF", state: "open" },
    { pattern: "SSSSFFFFFF", state: "closed" },
  ])("opens at a failure rate reached exactly: $pattern against 0.7", ({ pattern, state }) => {
    const policy = cfg({ min_samples: 10, failure_rate: 0.7 });
    expect(circuitState(runs(pattern), "codex", policy, at("11:10")).state).toBe(state);
  });
});

describe("circuitState: transitions", () => {
  const tripped = runs("FFFF"); // the fourth failure, at 11:03, opens it until 11:33

  it("closed -> open at the failure that reaches the rate", () => {
    expect(circuitState(tripped, "codex", cfg(), at("11:10"))).toEqual({
      state: "open",
      failures: 4,
      samples: 4,
      failure_rate: 1,
      opened_at: "2025-03-01T11:03:00Z",
      retry_at: "2025-03-01T11:33:00Z",
      reason: "open until 2025-03-01T11:33:00Z: 4 of 4 recent runs failed",
    });
  });

  it("open -> half-open once the cooldown has passed", () => {
    expect(circuitState(tripped, "codex", cfg(), "2025-03-01T11:32:59Z").state).toBe("open");
    expect(circuitState(tripped, "codex", cfg(), at("11:33"))).toEqual({
      state: "half_open",
      failures: 4,
      samples: 4,
      failure_rate: 1,
      opened_at: "2025-03-01T11:03:00Z",
      retry_at: "2025-03-01T11:33:00Z",
      reason:
        "half-open: cooldown ended at 2025-03-01T11:33:00Z, one trial run allowed (4 of 4 recent runs failed)",
    });
  });

  it("half-open -> closed after a successful trial, with a fresh window", () => {
    const history = [...tripped, { tool: "codex", ok: true, at: at("11:40") }];
    expect(circuitState(history, "codex", cfg(), at("11:45"))).toEqual({
      state: "closed",
      failures: 0,
      samples: 1,
      failure_rate: 0,
      reason: "closed: 0 of 1 recent runs failed, fewer runs than the 4 needed to judge",
    });
  });

  it("half-open -> open again from a failed trial", () => {
    const history = [...tripped, { tool: "codex", ok: false, at: at("11:40") }];
    expect(circuitState(history, "codex", cfg(), at("11:45"))).toMatchObject({
      state: "open",
      failures: 5,
      samples: 5,
      opened_at: "2025-03-01T11:40:00Z",
      retry_at: "2025-03-01T12:10:00Z",
    });
  });

  it("closes on a success that lands during the cooldown (a run already in flight when it tripped)", () => {
    const history = [...tripped, { tool: "codex", ok: true, at: at("11:05") }];
    expect(circuitState(history, "codex", cfg(), at("11:10")).state).toBe("closed");
  });

  it("restarts the cooldown on a failure that lands while open", () => {
    const history = [...tripped, { tool: "codex", ok: false, at: at("11:20") }];
    expect(circuitState(history, "codex", cfg(), at("11:40"))).toMatchObject({
      state: "open",
      retry_at: "2025-03-01T11:50:00Z",
    });
  });

  it("does not let failures from before a closing count again", () => {
    const history = [...tripped, ...runs("SF", "codex", "2025-03-01T11:40:00Z")];
    expect(circuitState(history, "codex", cfg(), at("12:00"))).toMatchObject({
      state: "closed",
      failures: 1,
      samples: 2,
    });
  });

  it("is half-open at once with no cooldown", () => {
    expect(circuitState(tripped, "codex", cfg({ cooldown_seconds: 0 }), at("11:03")).state).toBe("half_open");
  });
});

describe("circuitState: reading the history", () => {
  it("reads only the tool's own outcomes, in time order whatever the input order", () => {
    const mixed = [...runs("FFFF"), ...runs("SSSS", "claude")].reverse();
    expect(circuitState(mixed, "codex", cfg(), at("11:10")).state).toBe("open");
    expect(circuitState(mixed, "claude", cfg(), at("11:10")).state).toBe("closed");
  });

  it("ignores outcomes after `now`, so a past decision replays as it was", () => {
    const history = [...runs("FFF"), { tool: "codex", ok: false, at: at("12:30") }];
    expect(circuitState(history, "codex", cfg(), at("12:00"))).toMatchObject({ state: "closed", samples: 3 });
    expect(circuitState(history, "codex", cfg(), at("12:30")).state).toBe("open");
  });

  it("reads a success and a failure at the same instant as failure last", () => {
    const tie: Outcome[] = [
      ...runs("FFF"),
      { tool: "codex", ok: false, at: at("11:03") },
      { tool: "codex", ok: true, at: at("11:03") },
    ];
    expect(circuitState(tie, "codex", cfg(), at("11:10")).state).toBe("open");
    expect(circuitState([...tie].reverse(), "codex", cfg(), at("11:10")).state).toBe("open");
  });

  it("understands times with offsets", () => {
    const history = runs("FFFF").map((o) => ({
      ...o,
      at: new Date(Date.parse(o.at) + 3_600_000).toISOString().replace("Z", "+01:00"),
    }));
    expect(circuitState(history, "codex", cfg(), at("11:10")).opened_at).toBe("2025-03-01T11:03:00Z");
  });

  it.each([
    {
      name: "a malformed time",
      outcomes: [{ tool: "codex", ok: false, at: "11:00" }],
      now: at("12:00"),
      where: "outcomes.0.at",
    },
    { name: "a malformed now", outcomes: [], now: "noon", where: "now" },
  ])("refuses $name with an InputError", ({ outcomes, now, where }) => {
    const call = () => circuitState(outcomes as Outcome[], "codex", cfg(), now);
    expect(call).toThrow(InputError);
    expect(call).toThrow(`Cannot compute the circuit state of 'codex': ${where}: `);
  });
});
