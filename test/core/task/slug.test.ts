import { describe, expect, it } from "@jest/globals";
import { branchSlug, taskBranchName } from "../../../src/core/task/slug.js";

describe("branchSlug", () => {
  it("makes lower-case ASCII words joined by hyphens", () => {
    expect(branchSlug("Fix: the `parser` crashes on empty input!")).toBe(
      "fix-the-parser-crashes-on-empty-input",
    );
  });

  it("folds accents and drops what has no ASCII form", () => {
    expect(branchSlug("Café déjà vu — 日本語")).toBe("cafe-deja-vu");
  });

  it("stays within 40 characters, cutting at a word boundary", () => {
    const slug = branchSlug("Refactor the configuration loader so that merging is done in one place");
    expect(slug).toBe("refactor-the-configuration-loader-so");
    expect(branchSlug("a".repeat(100))).toBe("a".repeat(40));
  });

  it("is never empty and never starts or ends with a hyphen", () => {
    expect(["", "!!!", "日本語", "\u200B", "--x--"].map(branchSlug)).toEqual([
      "task",
      "task",
      "task",
      "task",
      "x",
    ]);
  });
});

describe("taskBranchName", () => {
  it("names issue and PR branches by number and slug under the prefix", () => {
    expect(taskBranchName({ kind: "issue", number: 12, title: "Fix the login page!" })).toBe(
      "switchyard/issue-12-fix-the-login-page",
    );
    expect(taskBranchName({ kind: "pull_request", number: 3, title: "Café" }, "bots/")).toBe(
      "bots/pr-3-cafe",
    );
  });
});
