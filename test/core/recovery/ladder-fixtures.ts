import { ConfigSchema, type Config } from "../../../src/config/schema.js";
import { LadderStateSchema, type LadderEntry, type LadderState } from "../../../src/core/recovery/ladder.js";

/** Shared builders for the ladder and guard tests: each test states only what it is about. */

export const KEY = "octo/repo#7";
export const NOW = "2025-03-01T12:00:00Z";
export const EARLIER = "2025-03-01T11:50:00Z";
export const H1 = "1".repeat(40);
export const H2 = "2".repeat(40);
export const H3 = "3".repeat(40);

const tool = (name: string, kind: "ai" | "mechanical" | "script", extra: Record<string, unknown> = {}) => ({
  name,
  kind,
  command: name,
  capabilities: [kind === "ai" ? "error_fix" : "linting"],
  ...extra,
});

/** The shipped recovery defaults (config/switchyard.yml) with the shipped tools' kinds. */
export function makeConfig(recovery: Record<string, unknown> = {}, tools?: unknown[]): Config {
  return ConfigSchema.parse({
    tools: tools ?? [
      tool("prettier", "mechanical"),
      tool("ruff-format", "mechanical"),
      tool("gofmt", "mechanical"),
      tool("eslint", "mechanical"),
      tool("ruff", "mechanical"),
      tool("aider", "ai"),
      tool("codex", "ai"),
      tool("claude", "ai"),
    ],
    recovery: {
      mechanical: { format: ["prettier", "ruff-format", "gofmt"], lint: ["eslint", "ruff", "prettier"] },
      escalation: ["aider", "codex", "claude"],
      ...recovery,
    },
  });
}

/** The shipped format fixers, which the mechanical rung runs together. */
export const FIXERS = ["prettier", "ruff-format", "gofmt"];

/** A history entry: by default the format fixers' rung, started on H1. */
export function entry(over: Partial<LadderEntry> = {}): LadderEntry {
  const step = over.step ?? "mechanical";
  const fixers = step === "mechanical" && over.tool === undefined ? { tools: [...FIXERS] } : {};
  return {
    step,
    ...fixers,
    head_sha: H1,
    at: EARLIER,
    outcome: "started",
    reason: "running the fixers (prettier, ruff-format, gofmt) (attempt 1 of 3)",
    ...over,
  };
}

/** A valid state; the fields given replace the defaults (an idle ladder on H1). */
export function makeState(over: Partial<LadderState> = {}): LadderState {
  return LadderStateSchema.parse({
    version: 1,
    key: KEY,
    head_sha: H1,
    category: "format",
    step: "done",
    pending: null,
    rung: 0,
    tried: [],
    attempts: 0,
    rerun_sha: null,
    last_attempt_at: null,
    seen_ci: [],
    reason: "",
    history: [],
    ...over,
  });
}

/** Idle: an earlier climb on H1 ended with prettier's fix passing. */
export const idle = () =>
  makeState({
    attempts: 1,
    last_attempt_at: EARLIER,
    head_sha: H2,
    history: [entry({ commit_sha: H2, outcome: "fixed", reason: "CI passed" })],
  });

/** A flaky failure on H1 whose rerun is awaited. */
export const rerunAwaited = (category: "flaky" | "infra" = "flaky") =>
  makeState({
    category,
    step: "rerun",
    pending: "ci",
    rerun_sha: H1,
    history: [{ step: "rerun", head_sha: H1, at: EARLIER, outcome: "started", reason: "rerunning" }],
  });

/** The format fixers are running on H1 (attempt 1). */
export const fixRunning = () =>
  makeState({
    step: "mechanical",
    pending: "tool",
    tools: [...FIXERS],
    tried: [...FIXERS],
    attempts: 1,
    last_attempt_at: EARLIER,
    history: [entry()],
  });

/** The format fixers committed H2 on top of H1; CI on H2 is awaited. */
export const fixAwaited = () =>
  makeState({
    head_sha: H2,
    step: "mechanical",
    pending: "ci",
    tools: [...FIXERS],
    tried: [...FIXERS],
    attempts: 1,
    last_attempt_at: EARLIER,
    history: [entry({ commit_sha: H2 })],
  });

/** An AI tool committed H2 on top of H1; CI on H2 is awaited. */
export const aiAwaited = (tool: string, over: Partial<LadderState> = {}) =>
  makeState({
    head_sha: H2,
    step: "ai",
    pending: "ci",
    tool,
    tried: [...FIXERS, tool],
    attempts: 2,
    last_attempt_at: EARLIER,
    history: [entry({ step: "ai", tool, commit_sha: H2, reason: `asking AI tool '${tool}'` })],
    ...over,
  });

export const quarantined = () =>
  makeState({
    step: "quarantine",
    attempts: 3,
    last_attempt_at: EARLIER,
    reason: "attempt cap reached: 3 of 3 attempts used on octo/repo#7",
    history: [entry({ step: "ai", tool: "codex", outcome: "failed", reason: "CI still fails" })],
  });
