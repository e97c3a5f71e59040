import { describe, expect, it } from "@jest/globals";
import { ConfigSchema } from "../../../src/config/schema.js";
import {
  inferCapability,
  matchCapability,
  resolveCapability,
  wordsOf,
  type CapabilityInput,
} from "../../../src/core/task/capability.js";

const config = (capabilities: Record<string, unknown> = {}) => ConfigSchema.parse({ capabilities });

function input(fields: Partial<CapabilityInput> & { title?: string; body?: string }): CapabilityInput {
  return {
    labels: fields.labels ?? [],
    form: fields.form ?? {},
    titleWords: fields.titleWords ?? wordsOf(fields.title ?? "", 256),
    bodyWords: fields.bodyWords ?? wordsOf(fields.body ?? "", 20_000),
  };
}

describe("resolveCapability", () => {
  it("takes a switchyard:cap/ label first", () => {
    const r = resolveCapability(
      input({
        labels: ["switchyard", "switchyard:cap/testing"],
        form: { task_type: "Linting" },
        title: "Fix bug",
      }),
      config({ labels: { switchyard: "documentation" } }),
    );
    expect(r).toEqual({
      capability: "testing",
      source: "label",
      reason: 'label "switchyard:cap/testing"',
      warnings: [],
    });
  });

  it("then a label mapped by capabilities.labels, matched case-insensitively", () => {
    const r = resolveCapability(
      input({ labels: ["Bug", "docs"], title: "Add tests" }),
      config({ labels: { bug: "error_fix", docs: "documentation" } }),
    );
    expect(r).toEqual({
      capability: "error_fix",
      source: "config_label",
      reason: 'label "Bug", mapped by capabilities.labels',
      warnings: ['labels "Bug", "docs" name different capabilities; using the first, error_fix'],
    });
  });

  it("then an issue-form field", () => {
    const r = resolveCapability(input({ form: { task_type: "Error fix" }, title: "Add tests" }), config());
    expect(r).toEqual({
      capability: "error_fix",
      source: "form",
      reason: 'form field task_type: "Error fix"',
      warnings: [],
    });
  });

  it("then the words of the title and body, title words weighing more", () => {
    const r = resolveCapability(
      input({ title: "Add unit tests for the tokenizer", body: "Coverage is low." }),
      config(),
    );
    expect(r).toEqual({
      capability: "testing",
      source: "inferred",
      reason: 'inferred from "unit tests" (title), "coverage" (body): testing 8, next code_generation 3',
      warnings: [],
    });
  });

  it("then the configured default", () => {
    const r = resolveCapability(input({ title: "Hmm", body: "" }), config({ default: "refactoring" }));
    expect(r).toEqual({
      capability: "refactoring",
      source: "default",
      reason: "no capability label, form field or keyword; capabilities.default",
      warnings: [],
    });
  });

  it("skips a label naming an unknown capability with a warning, and falls through", () => {
    const r = resolveCapability(
      input({ labels: ["switchyard:cap/securty"], title: "Bump lodash" }),
      config({ extra: ["security"] }),
    );
    expect(r.capability).toBe("dependency_update");
    expect(r.source).toBe("inferred");
    expect(r.warnings).toEqual([
      'label "switchyard:cap/securty" names no known capability; ignored (did you mean "security"?)',
    ]);
  });

  it("lists the known capabilities when nothing is close", () => {
    const r = resolveCapability(input({ labels: ["switchyard:cap/zzz"] }), config());
    expect(r.warnings).toEqual([
      'label "switchyard:cap/zzz" names no known capability; ignored (known: code_generation, refactoring, ' +
        "testing, linting, documentation, error_fix, dependency_update)",
    ]);
  });

  it("warns about conflicting cap labels and uses the first in label order", () => {
    const r = resolveCapability(
      input({ labels: ["switchyard:cap/linting", "switchyard:cap/testing"] }),
      config(),
    );
    expect(r.capability).toBe("linting");
    expect(r.warnings).toEqual([
      'labels "switchyard:cap/linting", "switchyard:cap/testing" name different capabilities; using the first, linting',
    ]);
  });

  it("accepts capabilities added by configuration, spelt with hyphens or spaces", () => {
    const r = resolveCapability(
      input({ labels: ["switchyard:cap/Security-Review"] }),
      config({ extra: ["security_review"] }),
    );
    expect(r.capability).toBe("security_review");
  });

  it("skips an unknown form value with a warning", () => {
    const r = resolveCapability(
      input({ form: { capability: "Magic" }, title: "Refactor the router" }),
      config(),
    );
    expect(r.capability).toBe("refactoring");
    expect(r.warnings).toEqual([
      'form field capability says "Magic", which names no known capability; ignored',
    ]);
  });
});

describe("matchCapability", () => {
  const known = ["code_generation", "testing", "error_fix", "documentation", "dependency_update"];
  it("matches names, aliases and names followed by an explanation", () => {
    expect(
      [
        "Testing",
        "error-fix",
        "Error fix",
        "docs",
        "Bug fix",
        "Testing (add or fix tests)",
        "Dependencies",
        "nope",
      ].map((v) => matchCapability(v, known)),
    ).toEqual([
      "testing",
      "error_fix",
      "error_fix",
      "documentation",
      "error_fix",
      "testing",
      "dependency_update",
      null,
    ]);
  });
});

describe("inferCapability", () => {
  const infer = (title: string, body = "") =>
    inferCapability(wordsOf(title, 256), wordsOf(body, 20_000))?.capability;
  it("reads common issue titles the way a person would", () => {
    expect(
      [
        "Fix typo in README",
        "Crash when uploading a file",
        "Bump lodash from 4.17.20 to 4.17.21",
        "Refactor the config loader",
        "ESLint errors in src/",
        "Implement dark mode",
        "Add unit tests for the parser",
        "Clean up dead code",
      ].map((t) => infer(t)),
    ).toEqual([
      "documentation",
      "error_fix",
      "dependency_update",
      "refactoring",
      "linting",
      "code_generation",
      "testing",
      "refactoring",
    ]);
  });

  it("returns null when no keyword matches", () => {
    expect(inferCapability(wordsOf("Hello there", 256), [])).toBeNull();
  });

  it("counts a keyword once per place, so a long log cannot outvote the title", () => {
    const r = inferCapability(wordsOf("Update the docs", 256), wordsOf("error ".repeat(1000), 20_000));
    expect(r).toEqual({
      capability: "documentation",
      reason: 'inferred from "docs" (title): documentation 6, next error_fix 1',
    });
  });
});
