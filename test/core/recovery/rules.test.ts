import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import path from "node:path";
import { ConfigError } from "../../../src/core/errors.js";
import { compileRules, DEFAULT_RULES, requiredLiterals } from "../../../src/core/recovery/rules.js";
import {
  FAILURE_CATEGORIES,
  patternProblem,
  RecoveryRulesSchema,
  RuleSchema,
} from "../../../src/core/recovery/schema.js";
import { EvidenceCollector } from "../../../src/runner/evidence.js";

describe("patternProblem", () => {
  it.each([
    ["(a+)+$", /repeated group holds a repeat/],
    ["(\\w*\\s?)*x", /repeated group holds a repeat/],
    ["(a|ab)*c", /repeated group holds a repeat or an alternation/],
    ["((a|b))+", /repeated group holds a repeat or an alternation/],
    ["(x+){2,}", /repeated group/],
    ["(\\d)\\1", /backreferences/],
    ["(?<n>a)\\k<n>", /backreferences/],
    ["(?<=foo)bar", /lookbehind/],
  ])("refuses %s", (pattern, why) => {
    expect(patternProblem(pattern)).toMatch(why);
  });

  it("refuses a pattern of more than 500 characters", () => {
    expect(patternProblem("x".repeat(501))).toBe("longer than 500 characters");
    expect(patternProblem("x".repeat(500))).toBeNull();
  });

  it.each([
    "^FAILED \\S+\\.py::\\S",
    "(?:ERESOLVE|ETARGET)$",
    "^(?:\\.\\/)?\\S+\\.go:\\d+:\\d+: (?:undefined: |.*imported and not used)",
    "[(+*]+ literal class characters",
    "(?:ab){2}",
    "(a)?(b)?",
  ])("accepts %s", (pattern) => {
    expect(patternProblem(pattern)).toBeNull();
  });
});

describe("the shipped rules", () => {
  it("all pass the schema a repository's rules go through, with unique ids", () => {
    for (const rule of DEFAULT_RULES) expect(RuleSchema.safeParse(rule).success).toBe(true);
    const ids = DEFAULT_RULES.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("cover every failure category", () => {
    expect([...new Set(DEFAULT_RULES.map((r) => r.category))].sort()).toEqual([...FAILURE_CATEGORIES].sort());
  });

  it("have required literals that every line they match in the corpus contains", () => {
    // The extractor skips rules whose literals a line lacks; a wrong literal would silently hide
    // evidence. Check every rule against every line of the corpus it actually matches.
    const dir = path.resolve(import.meta.dirname, "../../fixtures/logs");
    const manifest = JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8")) as {
      logs: Record<string, unknown>;
    };
    const compiled = compileRules().rules.filter((r) => r.applies_to !== "step" && r.applies_to !== "test");
    let checked = 0;
    for (const file of Object.keys(manifest.logs)) {
      const collector = new EvidenceCollector({ maxBytes: 1024 * 1024, contextLines: 500, tailLines: 1000 });
      collector.push(readFileSync(path.join(dir, file)));
      for (const line of collector.finish().excerpts.flatMap((e) => e.lines)) {
        for (const rule of compiled) {
          if (!rule.regex.test(line.text)) continue;
          const literals = requiredLiterals(rule.pattern);
          if (literals === null) continue;
          checked++;
          expect({ rule: rule.id, line: line.text, ok: literals.some((l) => line.text.includes(l)) }).toEqual(
            {
              rule: rule.id,
              line: line.text,
              ok: true,
            },
          );
        }
      }
    }
    expect(checked).toBeGreaterThan(300);
  });
});

describe("requiredLiterals", () => {
  it.each([
    ["^npm (?:ERR!|error) code (?:ERESOLVE|ETARGET)$", ["ERESOLVE", "ETARGET"]],
    ["The runner has received a shutdown signal", ["The runner has received a shutdown signal"]],
    ["\\.(?:[cm]?[jt]sx?|vue)\\(\\d+,\\d+\\): error TS\\d+: ", ["): error TS"]],
    ["^=+ [^=]*\\b\\d+ (?:failed|errors?)\\b", ["failed", "error"]],
    ["ab+cde", ["bcde"]],
    ["abc?def", ["def"]],
    ["foo|x", null],
    ["^\\s+\\d+\\) \\S", null],
    ["(?!abcdef)x", null],
    ["^Diff in \\S+(?: at line \\d+)?:", ["Diff in "]],
  ])("of %s", (pattern, expected) => {
    expect(requiredLiterals(pattern)).toEqual(expected);
  });
});

describe("compileRules", () => {
  it("adds rules after the shipped ones, replaces a shipped rule of the same id and switches rules off", () => {
    const set = compileRules({
      add: [
        { id: "changelog", category: "lint", pattern: "CHANGELOG", weight: 5 },
        { id: "go-test-fail", category: "flaky", pattern: "--- FAIL: ", weight: 1 },
      ],
      disable: ["jest-failed-test"],
    });
    const ids = set.rules.map((r) => r.id);
    expect(ids).not.toContain("jest-failed-test");
    expect(ids[ids.length - 1]).toBe("changelog");
    expect(ids.indexOf("go-test-fail")).toBe(DEFAULT_RULES.findIndex((r) => r.id === "go-test-fail") - 1);
    expect(set.rules.find((r) => r.id === "go-test-fail")).toMatchObject({ category: "flaky", weight: 1 });
    expect(set.byTarget.line.map((r) => r.id)).toContain("changelog");
    expect(set.byTarget.step.every((r) => r.applies_to === "step")).toBe(true);
  });

  it("names the key and suggests the near miss for an unknown rule id", () => {
    let error: unknown;
    try {
      compileRules({ disable: ["jest-faild-test"] }, { file: "repo/.github/switchyard.yml" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      {
        file: "repo/.github/switchyard.yml",
        path: "recovery.rules.disable[0]",
        message: "no rule has the id 'jest-faild-test'",
        hint: "did you mean 'jest-failed-test'?",
      },
    ]);
  });

  it("refuses unsafe or invalid patterns and duplicate ids, naming where", () => {
    expect(() =>
      compileRules({ add: [{ id: "bad", category: "lint", pattern: "(a+)+$", weight: 1 }] }),
    ).toThrow("recovery.rules.add[0].pattern: unsafe pattern: a repeated group holds a repeat");
    expect(() =>
      compileRules({ add: [{ id: "bad", category: "lint", pattern: "([a-", weight: 1 }] }),
    ).toThrow(/recovery\.rules\.add\[0\]\.pattern: not a valid regular expression/);
    const twice = { id: "x", category: "lint", pattern: "x", weight: 1 };
    expect(() => compileRules({ add: [twice, twice] })).toThrow("rule id 'x' is added twice");
    expect(() => compileRules({ add: [{ ...twice, category: "unknown" }] })).toThrow(/add\[0\]\.category/);
    expect(() => compileRules({ add: [], extra: 1 })).toThrow(ConfigError);
  });

  it("has a schema with defaults for an empty section", () => {
    expect(RecoveryRulesSchema.parse({})).toEqual({ add: [], disable: [] });
  });
});
