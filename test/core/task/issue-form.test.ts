import { describe, expect, it } from "@jest/globals";
import {
  formField,
  formKey,
  listItems,
  parseCount,
  parseDuration,
  parseIssueForm,
  singleValue,
} from "../../../src/core/task/issue-form.js";

/** A body as GitHub renders a submitted issue form (dropdown, textarea with `render: text`, checkboxes). */
const FORM_BODY = [
  "### Task type",
  "",
  "Testing",
  "",
  "### Files in scope",
  "",
  "```text",
  "src/parser/*.ts",
  "test/parser/**",
  "```",
  "",
  "### Constraints",
  "",
  "- Do not change the public API",
  "- Keep Node 20 support",
  "",
  "### Risk",
  "",
  "Low",
  "",
  "### Timeout",
  "",
  "45m",
  "",
  "### Retries",
  "",
  "_No response_",
  "",
  "### Code of conduct",
  "",
  "- [X] I agree to follow this project's Code of Conduct",
].join("\n");

describe("parseIssueForm", () => {
  it("reads every section of a rendered issue form, keyed by the normalised heading", () => {
    expect(parseIssueForm(FORM_BODY)).toEqual({
      task_type: "Testing",
      files_in_scope: "```text\nsrc/parser/*.ts\ntest/parser/**\n```",
      constraints: "- Do not change the public API\n- Keep Node 20 support",
      risk: "Low",
      timeout: "45m",
      retries: "",
      code_of_conduct: "- [X] I agree to follow this project's Code of Conduct",
    });
  });

  it("ignores headings in fenced code, text before the first heading, and repeated headings", () => {
    const body = "Intro text\n### Tool\n\naider\n\n```md\n### Tool\n\nclaude\n```\n### Tool ###\n\ncodex";
    expect(parseIssueForm(body)).toEqual({ tool: "aider\n\n```md\n### Tool\n\nclaude\n```" });
  });

  it("only reads level-3 headings", () => {
    expect(parseIssueForm("## Tool\n\naider\n#### Risk\n\nhigh")).toEqual({});
  });

  it("cannot be polluted through __proto__", () => {
    const form = parseIssueForm("### __proto__\n\nx\n### constructor\n\ny");
    expect(form).toEqual({ proto: "x", constructor: "y" });
    expect(Object.getPrototypeOf(form)).toBe(Object.prototype);
  });
});

describe("form values", () => {
  it("normalises keys", () => {
    expect(formKey("Files in scope (globs)")).toBe("files_in_scope_globs");
    expect(formKey("  Task-Type?  ")).toBe("task_type");
  });

  it("finds the first field that has a value", () => {
    const form = { scope: "_No response_", files_in_scope: "None", files: "src/a.ts" };
    expect(formField(form, ["scope", "files_in_scope", "files"])).toEqual({
      key: "files",
      value: "src/a.ts",
    });
    expect(formField(form, ["paths"])).toBeNull();
  });

  it("splits lists on lines and commas, stripping bullets, boxes, backticks and quotes", () => {
    const value = '- `src/a.ts`, src/b.ts\n* [x] "docs/**"\n1. **lib/c.ts**\n\n- n/a';
    expect(listItems(value, { splitCommas: true, max: 10, maxLength: 100 })).toEqual([
      "src/a.ts",
      "src/b.ts",
      "docs/**",
      "lib/c.ts",
    ]);
    expect(listItems("a, b\nc", { splitCommas: false, max: 10, maxLength: 100 })).toEqual(["a, b", "c"]);
    expect(listItems("a\nb\nc", { splitCommas: false, max: 2, maxLength: 100 })).toEqual(["a", "b"]);
  });

  it("reads a single value from the first meaningful line", () => {
    expect(singleValue("\n`claude`\nmore")).toBe("claude");
    expect(singleValue("```\n30m\n```")).toBe("30m");
  });

  it("parses durations into seconds", () => {
    expect(["900", "30m", "1h", "1h30m", "90 s", "15 minutes", "2 hours"].map(parseDuration)).toEqual([
      900, 1800, 3600, 5400, 90, 900, 7200,
    ]);
    expect(["", "soon", "1 fortnight", "-5m", "1.5h", "30m later"].map(parseDuration)).toEqual([
      null,
      null,
      null,
      null,
      null,
      null,
    ]);
  });

  it("parses retry counts", () => {
    expect(["0", "3", " 2 ", "two", "-1", "1.5"].map(parseCount)).toEqual([0, 3, 2, null, null, null]);
  });
});
