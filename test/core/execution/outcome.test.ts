import { describe, expect, it } from "@jest/globals";
import {
  checkConclusion,
  errorKind,
  errorReason,
  finalOutcome,
  jobShouldFail,
} from "../../../src/core/execution/outcome.js";
import type { OutcomeKind } from "../../../src/core/execution/schema.js";
import { attempt, result } from "./fixtures.js";

/** The order the module promises, written out here so a change to it shows up as a failing test. */
const MOST_INFORMATIVE_FIRST: OutcomeKind[] = [
  "error",
  "policy_violation",
  "gate_failed",
  "no_changes",
  "timed_out",
  "tool_failed",
  "tool_unavailable",
];

describe("finalOutcome", () => {
  it("is success when any attempt succeeded, whatever failed before", () => {
    const attempts = [attempt(1, "aider", "policy_violation"), attempt(2, "claude", "success")];
    expect(finalOutcome(attempts)).toEqual({ outcome: "success", attempt: attempts[1] });
  });

  it("picks the most informative failure, in either order", () => {
    for (let i = 0; i < MOST_INFORMATIVE_FIRST.length; i++) {
      for (let j = i + 1; j < MOST_INFORMATIVE_FIRST.length; j++) {
        const better = MOST_INFORMATIVE_FIRST[i]!;
        const worse = MOST_INFORMATIVE_FIRST[j]!;
        const forward = [attempt(1, "one", better), attempt(2, "two", worse)];
        const backward = [attempt(1, "one", worse), attempt(2, "two", better)];
        expect([better, worse, finalOutcome(forward).outcome]).toEqual([better, worse, better]);
        expect([better, worse, finalOutcome(backward).outcome]).toEqual([better, worse, better]);
      }
    }
  });

  it("takes the latest attempt among failures of the same kind", () => {
    const attempts = [attempt(1, "aider", "tool_failed"), attempt(2, "codex", "tool_failed")];
    expect(finalOutcome(attempts).attempt?.tool).toBe("codex");
  });

  it("is tool_unavailable with no attempt when nothing was tried", () => {
    expect(finalOutcome([])).toEqual({ outcome: "tool_unavailable", attempt: null });
  });
});

describe("errorKind", () => {
  const failed = (reason: string) => result([attempt(1, "aider", "error", { reason })], { outcome: "error" });

  it("reads the executor's prefixes", () => {
    expect(errorKind(failed(errorReason("cancelled", "the run was stopped")))).toBe("cancelled");
    expect(errorKind(failed(errorReason("branch_moved", "it moved")))).toBe("branch_moved");
    expect(errorKind(failed(errorReason("internal", "git failed")))).toBe("internal");
    expect(errorReason("branch_moved", "x")).toBe("branch moved: x");
  });

  it("counts an unknown error as internal, and is null for other outcomes", () => {
    expect(errorKind(failed("something odd"))).toBe("internal");
    expect(errorKind(failed("cancelled without a colon"))).toBe("internal");
    expect(errorKind(result([], { outcome: "error" }))).toBe("internal");
    expect(errorKind(result([attempt(1, "aider", "success")]))).toBeNull();
  });
});

describe("checkConclusion and jobShouldFail", () => {
  const cases: [
    string,
    OutcomeKind,
    string,
    "success" | "failure" | "neutral",
    "success" | "failure" | "neutral",
    boolean,
  ][] = [
    // label, outcome, reason, on the default branch, on Switchyard's branch, job fails
    ["success", "success", "ok", "success", "success", false],
    ["no changes", "no_changes", "x", "neutral", "failure", false],
    ["policy violation", "policy_violation", "x", "neutral", "failure", false],
    ["gate failed", "gate_failed", "x", "neutral", "failure", false],
    ["tool failed", "tool_failed", "x", "neutral", "failure", false],
    ["timed out", "timed_out", "x", "neutral", "failure", false],
    ["tool unavailable", "tool_unavailable", "x", "neutral", "failure", false],
    ["cancelled", "error", "cancelled: stopped", "neutral", "neutral", false],
    ["branch moved", "error", "branch moved: conflict", "neutral", "failure", false],
    ["Switchyard broke", "error", "internal error: git crashed", "failure", "failure", true],
  ];

  it.each(cases)("%s", (_label, outcome, reason, onDefault, onOwn, fails) => {
    const r = result([attempt(1, "aider", outcome, { reason })], { outcome });
    expect(checkConclusion(r, { onDefaultBranch: true })).toBe(onDefault);
    expect(checkConclusion(r, { onDefaultBranch: false })).toBe(onOwn);
    expect(jobShouldFail(r)).toBe(fails);
  });
});
