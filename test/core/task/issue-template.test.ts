import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { ConfigSchema } from "../../../src/config/schema.js";
import { buildTask } from "../../../src/core/task/build.js";

interface FormField {
  type: string;
  attributes: { label: string };
}

const ROOT = path.resolve(import.meta.dirname, "../../..");
const form = parse(readFileSync(path.join(ROOT, ".github/ISSUE_TEMPLATE/switchyard-task.yml"), "utf8")) as {
  labels: string[];
  body: FormField[];
};

/** What GitHub writes into the issue body when a form is submitted: "### Label\n\nvalue" blocks. */
function renderSubmitted(values: Record<string, string>): string {
  return form.body
    .map((f) => `### ${f.attributes.label}\n\n${values[f.attributes.label] ?? "_No response_"}`)
    .join("\n\n");
}

describe("the shipped issue form", () => {
  it("is read field by field by the task builder", () => {
    const body = renderSubmitted({
      "What should change": "Cover the backoff cap in `src/retry.ts`.",
      Capability: "Testing",
      "Files in scope": "src/retry.ts\ntest/retry.test.ts",
      Constraints: "- no new dependencies",
      Risk: "low",
      Tool: "codex",
      Timeout: "20m",
    });
    const task = buildTask(
      { number: 7, title: "[task] Retry tests", body, labels: form.labels, user: { login: "octocat" } },
      ConfigSchema.parse({}),
      { repository: { owner: "acme", name: "widgets" } },
    );
    expect(task.capability).toBe("testing");
    expect(task.capability_source).toBe("form");
    expect(task.scope).toEqual(["src/retry.ts", "test/retry.test.ts"]);
    expect(task.constraints).toEqual(["no new dependencies"]);
    expect(task.risk).toBe("low");
    expect(task.overrides).toEqual({ tool: "codex", timeout_seconds: 1200 });
    expect(task.warnings).toEqual([]);
  });

  it("leaves optional fields unset when they were not answered", () => {
    const body = renderSubmitted({ "What should change": "Document the retry helper in the README." });
    const task = buildTask(
      { number: 8, title: "[task] Docs", body, labels: form.labels, user: { login: "octocat" } },
      ConfigSchema.parse({}),
      { repository: { owner: "acme", name: "widgets" } },
    );
    expect(task.capability).toBe("documentation");
    expect(task.capability_source).toBe("inferred");
    expect(task.scope).toEqual([]);
    expect(task.overrides).toEqual({});
  });
});
