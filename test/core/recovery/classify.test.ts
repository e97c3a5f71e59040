import { describe, expect, it } from "@jest/globals";
import { classify, FLAKY_HINT_CONFIDENCE } from "../../../src/core/recovery/classify.js";
import { InputError } from "../../../src/core/errors.js";
import { compileRules, MIN_SCORE } from "../../../src/core/recovery/rules.js";
import type { EvidenceInput, EvidenceLine } from "../../../src/core/recovery/schema.js";

/** Evidence as the extractor would build it: one excerpt per step, lines numbered from 100. */
function evidence(
  steps: Record<string, (string | [string, EvidenceLine["kind"]])[]>,
  extra: Partial<EvidenceInput> = {},
): EvidenceInput {
  let n = 100;
  const excerpts = Object.entries(steps).map(([step, lines]) => ({
    step,
    lines: lines.map((l) => {
      const [text, kind] = typeof l === "string" ? [l, "context" as const] : l;
      return { n: n++, text, kind };
    }),
  }));
  const errors = excerpts.flatMap((e) => e.lines).filter((l) => l.kind === "error").length;
  return {
    source: "test.log",
    bytes: 1000,
    lines: n,
    steps: Object.keys(steps),
    failed_step: excerpts.find((e) => e.lines.some((l) => l.kind === "error"))?.step ?? null,
    excerpts,
    error_lines: errors,
    no_error_lines: errors === 0,
    truncated: false,
    dropped_lines: 0,
    binary: false,
    long_lines: 0,
    notes: [],
    ...extra,
  };
}

const EXIT_1: [string, "error"] = ["Process completed with exit code 1.", "error"];

describe("classify", () => {
  it("scores rules per category, with the exact confidence formula", () => {
    const c = classify(
      evidence({
        "Run pytest": [
          "FAILED tests/test_a.py::test_x - assert 1 == 2",
          "=== 1 failed, 3 passed in 0.10s ===",
          EXIT_1,
        ],
      }),
    );
    // pytest-failed 8 + pytest-summary 6 + test-step 2 = 16; nothing else fired.
    expect(c.category).toBe("test");
    expect(c.scores).toEqual({ test: 16 });
    expect(c.confidence).toBe(Math.round((1 - Math.exp(-16 / 8)) * 100) / 100);
    expect(c.rules.map((r) => [r.id, r.score])).toEqual([
      ["pytest-failed", 8],
      ["pytest-summary", 6],
      ["test-step", 2],
    ]);
    expect(c.signature).toBe("test:FAILED tests/test_a.py::test_x - assert <n> == <n>");
    expect(c.reason).toBe("test (16): pytest-failed, pytest-summary, test-step");
    expect(c.lines).toEqual([
      { n: 100, text: "FAILED tests/test_a.py::test_x - assert 1 == 2", rule: "pytest-failed" },
      { n: 101, text: "=== 1 failed, 3 passed in 0.10s ===", rule: "pytest-summary" },
    ]);
  });

  it("counts repeats of one rule at 1, ½ and ¼ of its weight, no more", () => {
    const lines = Array.from(
      { length: 10 },
      (_, i) => `src/a${i}.ts(1,1): error TS2304: Cannot find name 'x'.`,
    );
    const c = classify(evidence({ "Run build": [...lines, EXIT_1] }));
    expect(c.rules.find((r) => r.id === "tsc-error")).toEqual({
      id: "tsc-error",
      category: "type",
      weight: 8,
      matches: 10,
      score: 14,
    });
  });

  it("lets one runner message outweigh any amount of test output", () => {
    const tests = Array.from({ length: 5 }, (_, i) => `FAILED tests/t.py::test_${i} - assert 0`);
    const c = classify(
      evidence({
        "Run pytest": [
          ...tests,
          "=== 5 failed in 1s ===",
          ["The runner has received a shutdown signal.", "error"],
        ],
      }),
    );
    expect(c.category).toBe("infra");
    expect(c.scores).toEqual({ infra: 40, test: 22 });
    expect(c.reason).toBe("infra (40): runner-shutdown; next: test (22)");
  });

  it("breaks a tie in favour of the earlier stage", () => {
    const rules = compileRules(
      {
        add: [
          { id: "t", category: "test", pattern: "^same$", weight: 5 },
          { id: "d", category: "dependency", pattern: "^same$", weight: 5 },
        ],
      },
      { base: [] },
    );
    const c = classify(evidence({ "Run x": ["same", EXIT_1] }), { rules });
    expect(c.category).toBe("dependency");
    expect(c.confidence).toBe(Math.round((1 - Math.exp(-5 / 8)) * 0.5 * 100) / 100);
  });

  it("says unknown, with confidence 0, below MIN_SCORE or with nothing recognised", () => {
    const weak = classify(evidence({ "Run npm test": ["something odd", EXIT_1] }));
    expect(weak).toMatchObject({ category: "unknown", confidence: 0, scores: { test: 2 } });
    expect(weak.reason).toBe(
      `the evidence is too weak: test scored 2, below ${MIN_SCORE}; first error: Process completed with exit code 1.`,
    );
    expect(weak.signature).toBe("unknown:Run npm test: Process completed with exit code <n>.");

    const none = classify(evidence({ "": ["all good"] }));
    expect(none.category).toBe("unknown");
    expect(none.reason).toBe(
      "the log has no ##[error] line (no step reported a failure) and no rule recognised a failure",
    );
  });

  it("only applies error rules to ##[error] lines and step rules to failed steps", () => {
    // "The operation was canceled." printed by a tool is not the runner cancelling the job.
    const printed = classify(evidence({ "Run lint": ["The operation was canceled.", EXIT_1] }));
    expect(printed.rules.map((r) => r.id)).toEqual(["lint-step"]);
    const runner = classify(evidence({ "Run lint": [["The operation was canceled.", "error"]] }));
    expect(runner.category).toBe("infra");
    // A step that did not fail does not vote.
    const passed = classify(evidence({ "Run npm run lint": ["ok"], "Run make": [EXIT_1] }));
    expect(passed.rules.map((r) => r.id)).toEqual(["build-step"]);
  });

  it("reads failing JUnit cases and failure annotations", () => {
    const c = classify(
      evidence(
        { "Run tests": [EXIT_1] },
        {
          tests: [
            {
              suite: "Cart",
              name: "adds an item",
              classname: "CartTest",
              kind: "failure",
              message: "expected 2",
            },
          ],
          annotations: [
            {
              path: "src/a.ts",
              line: 3,
              level: "failure",
              message: "Type 'string' is not assignable (TS2322)",
              title: null,
            },
          ],
        },
      ),
    );
    expect(c.category).toBe("test");
    expect(c.lines).toContainEqual({
      n: 0,
      text: "CartTest.adds an item: expected 2",
      rule: "junit-failed-case",
    });
    expect(c.signature).toBe("test:CartTest.adds an item: expected <n>");
  });

  describe("with history", () => {
    const testFailure = evidence({
      "Run go test ./...": ["--- FAIL: TestTicker (1.01s)", "FAIL\tgithub.com/a/b\t1.02s", EXIT_1],
    });

    it("calls a failure that passed on the same commit or on a rerun flaky, saying what it looked like", () => {
      const sameSha = classify(testFailure, { history: { sameShaPassed: true } });
      expect(sameSha).toMatchObject({
        category: "flaky",
        confidence: 0.9,
        underlying: "test",
        signature: "flaky:--- FAIL: TestTicker (<dur>)",
      });
      expect(sameSha.reason).toMatch(
        /^the same job passed on the same commit; the failure looked like test: test \(/,
      );
      expect(classify(testFailure, { history: { passedOnRerun: true } }).confidence).toBe(0.95);
      expect(
        classify(testFailure, { history: { passedOnRerun: true, sameShaPassed: true } }).confidence,
      ).toBe(0.97);
      expect(
        classify(testFailure, { history: { passedOnRerun: false, sameShaPassed: false } }).category,
      ).toBe("test");
    });

    it("keeps infrastructure failures infra, as they are expected to pass on a rerun", () => {
      const c = classify(
        evidence({ "Run x": [["The hosted runner encountered an error while running your job.", "error"]] }),
        {
          history: { passedOnRerun: true },
        },
      );
      expect(c.category).toBe("infra");
      expect(c.reason).toMatch(/; the job passed on a rerun, as infrastructure failures do$/);
    });

    it("turns an unknown failure that passed on a rerun into flaky", () => {
      const c = classify(evidence({ "Run ./check.sh": ["odd", EXIT_1] }), {
        history: { sameShaPassed: true },
      });
      expect(c).toMatchObject({ category: "flaky", underlying: "unknown", confidence: 0.9 });
    });
  });

  it("caps the confidence of flaky read from retry markers alone", () => {
    const c = classify(
      evidence({
        "Run npx playwright test": [
          "  ✘  12 [chromium] › a.spec.ts:3:5 › checkout › applies a coupon (5.1s)",
          "  ✓  13 [chromium] › a.spec.ts:3:5 › checkout › applies a coupon (retry #1) (1.4s)",
          "  1 flaky",
          EXIT_1,
        ],
      }),
    );
    // flaky 10 + 3 against test 4 + 2: (1 − e^(−13/8)) × (½ + ½ × 7/13).
    expect(c).toMatchObject({ category: "flaky", confidence: 0.62, scores: { flaky: 13, test: 6 } });
    // Named after the test that flaked, not after the "1 flaky" summary.
    expect(c.signature).toBe(
      "flaky:✘ <n> [chromium] › a.spec.ts:<n>:<n> › checkout › applies a coupon (<dur>)",
    );

    const strong = classify(
      evidence({ "Run e2e": ["  3 flaky", "ok (retry #1)", "ok (retry #2)", "ok (retry #1)", EXIT_1] }),
    );
    // Uncapped it would be (1 − e^(−15.25/8)) ≈ 0.85.
    expect(strong).toMatchObject({
      category: "flaky",
      confidence: FLAKY_HINT_CONFIDENCE,
      scores: { flaky: 15.25 },
    });
  });

  it("refuses evidence or history of the wrong shape with an InputError that names the field", () => {
    expect(() => classify({ source: "x" } as EvidenceInput)).toThrow(InputError);
    expect(() => classify({ ...evidence({}), lines: -1 })).toThrow(/^evidence: lines: /);
    expect(() => classify(evidence({}), { history: { passedOnRerun: "yes" } as never })).toThrow(
      /^history: passedOnRerun: /,
    );
  });
});
