import {
  ExecutionResultSchema,
  type Attempt,
  type ExecutionResult,
  type OutcomeKind,
} from "../../../src/core/execution/schema.js";

/** Hand-built attempts and results for the pure execution tests. */

export function attempt(
  n: number,
  tool: string,
  outcome: OutcomeKind,
  extra: Partial<Attempt> = {},
): Attempt {
  return {
    n,
    tool,
    outcome,
    reason: `${tool} ${outcome}`,
    exit_code: outcome === "tool_unavailable" ? null : 0,
    duration_ms: 1000,
    gates: [],
    files: [],
    offending_paths: [],
    output_head: "",
    output_tail: "",
    tokens: null,
    cost_usd: null,
    ...extra,
  };
}

export function result(attempts: Attempt[], extra: Partial<ExecutionResult> = {}): ExecutionResult {
  return ExecutionResultSchema.parse({
    task_key: "octo/app#12",
    run_id: "1234",
    outcome: "success",
    tool: null,
    base_sha: "a".repeat(40),
    branch: null,
    commit_sha: null,
    pr_number: null,
    attempts,
    diffstat: { files: 0, additions: 0, deletions: 0 },
    started_at: "2025-01-01T12:00:00.000Z",
    finished_at: "2025-01-01T12:01:00.000Z",
    ...extra,
  });
}
