import { describe, expect, it } from "@jest/globals";
import { ConfigSchema } from "../../../src/config/schema.js";
import { InputError } from "../../../src/core/errors.js";
import type { FileChange } from "../../../src/core/execution/schema.js";
import {
  checkPatchPolicy,
  policyFromConfig,
  unsafePathReason,
  type PatchPolicy,
} from "../../../src/core/policy/patch-policy.js";

const defaults = ConfigSchema.parse({}).execution;
const policy = (over: Partial<PatchPolicy> = {}): PatchPolicy => ({
  ...policyFromConfig(defaults, []),
  ...over,
});

function change(path: string, over: Partial<FileChange> = {}): FileChange {
  return { path, status: "modified", mode: "100644", binary: false, additions: 1, deletions: 1, ...over };
}

const WORKFLOW_MESSAGE =
  "is a workflow file; changing workflow files needs the `workflows` permission and " +
  "`execution.allow_workflow_changes: true`";

describe("policyFromConfig", () => {
  it("takes the execution limits and the task's scope", () => {
    expect(policyFromConfig(defaults, ["src/**"])).toEqual({
      forbidden: [".github/workflows/**", ".git/**", "**/*.pem", "**/.env*"],
      scope: ["src/**"],
      maxFiles: 200,
      maxChangedLines: 5000,
      allowWorkflowChanges: false,
    });
  });
});

describe("checkPatchPolicy", () => {
  it("accepts an ordinary patch under the defaults", () => {
    expect(
      checkPatchPolicy([change("src/app.ts"), change("README.md", { status: "deleted" })], policy()),
    ).toEqual({
      ok: true,
    });
    expect(checkPatchPolicy([], policy())).toEqual({ ok: true });
  });

  it("refuses a workflow change and names the permission it would need", () => {
    const result = checkPatchPolicy([change(".github/workflows/ci.yml"), change("src/a.ts")], policy());
    expect(result).toEqual({
      ok: false,
      offendingPaths: [".github/workflows/ci.yml"],
      violations: [
        {
          path: ".github/workflows/ci.yml",
          rule: "workflow_change",
          message: `.github/workflows/ci.yml ${WORKFLOW_MESSAGE}`,
        },
      ],
    });
  });

  it("matches the workflow rule whatever the case, as a case-insensitive file system would", () => {
    const result = checkPatchPolicy([change(".GitHub/Workflows/x.yml")], policy());
    expect(result.ok === false && result.violations.map((v) => [v.path, v.rule])).toEqual([
      [".GitHub/Workflows/x.yml", "workflow_change"],
    ]);
  });

  it("lets allow_workflow_changes lift the workflow rule and its default glob, but not a broader glob", () => {
    const allowed = policy({ allowWorkflowChanges: true });
    expect(checkPatchPolicy([change(".github/workflows/ci.yml")], allowed)).toEqual({ ok: true });
    const broader = policy({
      allowWorkflowChanges: true,
      forbidden: [...defaults.forbidden_paths, ".github/**"],
    });
    expect(checkPatchPolicy([change(".github/workflows/ci.yml")], broader)).toEqual({
      ok: false,
      offendingPaths: [".github/workflows/ci.yml"],
      violations: [
        {
          path: ".github/workflows/ci.yml",
          rule: "forbidden_path",
          message:
            '.github/workflows/ci.yml matches the forbidden pattern ".github/**" (execution.forbidden_paths)',
        },
      ],
    });
  });

  it("refuses .env files, keys and anything in .git, at any depth", () => {
    const files = [
      change(".env.production", { status: "added" }),
      change("config/.env"),
      change("certs/server.pem", { status: "added", binary: true, additions: 0, deletions: 0 }),
      change("key.PEM"),
      change("src/ok.ts"),
    ];
    const result = checkPatchPolicy(files, policy());
    expect(result).toEqual({
      ok: false,
      offendingPaths: [".env.production", "certs/server.pem", "config/.env", "key.PEM"],
      violations: [
        {
          path: ".env.production",
          rule: "forbidden_path",
          message: '.env.production matches the forbidden pattern "**/.env*" (execution.forbidden_paths)',
        },
        {
          path: "config/.env",
          rule: "forbidden_path",
          message: 'config/.env matches the forbidden pattern "**/.env*" (execution.forbidden_paths)',
        },
        {
          path: "certs/server.pem",
          rule: "forbidden_path",
          message: 'certs/server.pem matches the forbidden pattern "**/*.pem" (execution.forbidden_paths)',
        },
        {
          path: "key.PEM",
          rule: "forbidden_path",
          message: 'key.PEM matches the forbidden pattern "**/*.pem" (execution.forbidden_paths)',
        },
      ],
    });
  });

  it("never lifts the .git rule, even with an empty forbidden list", () => {
    const result = checkPatchPolicy(
      [change(".git/hooks/pre-push"), change("vendor/.GIT/config"), change(".gitignore")],
      policy({ forbidden: [], allowWorkflowChanges: true }),
    );
    expect(result).toEqual({
      ok: false,
      offendingPaths: [".git/hooks/pre-push", "vendor/.GIT/config"],
      violations: [
        {
          path: ".git/hooks/pre-push",
          rule: "forbidden_path",
          message: ".git/hooks/pre-push is inside .git; Switchyard never changes git's own files",
        },
        {
          path: "vendor/.GIT/config",
          rule: "forbidden_path",
          message: "vendor/.GIT/config is inside .git; Switchyard never changes git's own files",
        },
      ],
    });
  });

  it("refuses paths outside the task's scope, deletions included; an empty scope allows everything", () => {
    const files = [
      change("src/app.ts"),
      change("src/deep/x.ts", { status: "added" }),
      change("docs/guide.md"),
      change("package.json", { status: "deleted" }),
    ];
    expect(checkPatchPolicy(files, policy({ scope: [] }))).toEqual({ ok: true });
    const result = checkPatchPolicy(files, policy({ scope: ["src/**"] }));
    expect(result).toEqual({
      ok: false,
      offendingPaths: ["docs/guide.md", "package.json"],
      violations: [
        {
          path: "docs/guide.md",
          rule: "out_of_scope",
          message: "docs/guide.md is outside the task's file scope (src/**)",
        },
        {
          path: "package.json",
          rule: "out_of_scope",
          message: "package.json is outside the task's file scope (src/**)",
        },
      ],
    });
  });

  it("reads a scope entry without glob characters as a directory, and keeps the scope case-sensitive", () => {
    const p = policy({ scope: ["src", "docs/"] });
    expect(checkPatchPolicy([change("src/a/b.ts"), change("docs/x.md"), change("src")], p)).toEqual({
      ok: true,
    });
    const result = checkPatchPolicy([change("srcx/a.ts"), change("SRC/a.ts")], p);
    expect(result.ok === false && result.offendingPaths).toEqual(["SRC/a.ts", "srcx/a.ts"]);
  });

  it("checks both ends of a rename: moving a file out of a forbidden directory changes it too", () => {
    const renamed = change("ci.yml", {
      status: "renamed",
      old_path: ".github/workflows/ci.yml",
      additions: 0,
      deletions: 0,
    });
    expect(checkPatchPolicy([renamed], policy())).toEqual({
      ok: false,
      offendingPaths: [".github/workflows/ci.yml"],
      violations: [
        {
          path: ".github/workflows/ci.yml",
          rule: "workflow_change",
          message: `.github/workflows/ci.yml (renamed to ci.yml) ${WORKFLOW_MESSAGE}`,
        },
      ],
    });
    const intoScope = change("src/moved.ts", { status: "renamed", old_path: "lib/moved.ts" });
    const result = checkPatchPolicy([intoScope], policy({ scope: ["src/**"] }));
    expect(result.ok === false && result.violations).toEqual([
      {
        path: "lib/moved.ts",
        rule: "out_of_scope",
        message: "lib/moved.ts (renamed to src/moved.ts) is outside the task's file scope (src/**)",
      },
    ]);
  });

  it("refuses too many files and too many changed lines with the numbers and the setting to change", () => {
    const files = Array.from({ length: 4 }, (_, i) =>
      change(`src/f${i}.ts`, { additions: 30, deletions: 5 }),
    );
    const result = checkPatchPolicy(files, policy({ maxFiles: 3, maxChangedLines: 139 }));
    expect(result).toEqual({
      ok: false,
      offendingPaths: [],
      violations: [
        {
          rule: "too_many_files",
          message: "the patch changes 4 files; the limit is 3 (execution.max_files)",
        },
        {
          rule: "too_many_lines",
          message:
            "the patch changes 140 lines (120 added, 20 deleted); the limit is 139 (execution.max_changed_lines)",
        },
      ],
    });
    expect(checkPatchPolicy(files, policy({ maxFiles: 4, maxChangedLines: 140 }))).toEqual({ ok: true });
  });

  it("refuses path traversal, absolute paths and other unsafe names before any glob runs", () => {
    const files = [
      change("../outside.txt"),
      change("/etc/passwd"),
      change("src/../../x"),
      change("a\\b"),
      change("C:/x"),
    ];
    const result = checkPatchPolicy(files, policy({ scope: ["**"] }));
    expect(result.ok === false && result.violations).toEqual([
      {
        path: "../outside.txt",
        rule: "unsafe_path",
        message: `"../outside.txt" is not a safe repository path: it climbs out of the repository with '..'`,
      },
      {
        path: "/etc/passwd",
        rule: "unsafe_path",
        message: `"/etc/passwd" is not a safe repository path: it is absolute`,
      },
      {
        path: "src/../../x",
        rule: "unsafe_path",
        message: `"src/../../x" is not a safe repository path: it climbs out of the repository with '..'`,
      },
      {
        path: "a\\b",
        rule: "unsafe_path",
        message: `"a\\\\b" is not a safe repository path: it contains a backslash`,
      },
      { path: "C:/x", rule: "unsafe_path", message: `"C:/x" is not a safe repository path: it is absolute` },
    ]);
  });

  it("rejects malformed input with an InputError a person can read", () => {
    expect(() => checkPatchPolicy([{ path: "a" } as FileChange], policy())).toThrow(InputError);
    expect(() => checkPatchPolicy([{ path: "a" } as FileChange], policy())).toThrow(
      /^invalid change list: 0\.status: /,
    );
    expect(() => checkPatchPolicy([], policy({ maxFiles: 0 }))).toThrow(/^invalid patch policy: maxFiles: /);
  });
});

describe("unsafePathReason", () => {
  it("accepts ordinary repository paths and names what is wrong with the rest", () => {
    expect(unsafePathReason("src/a b/ü.ts")).toBeNull();
    expect(unsafePathReason(".github/workflows/x.yml")).toBeNull();
    expect(unsafePathReason("")).toBe("it is empty");
    expect(unsafePathReason("a//b")).toBe("it has an empty or '.' segment");
    expect(unsafePathReason("./a")).toBe("it has an empty or '.' segment");
    expect(unsafePathReason("a/\nb")).toBe("it contains a control character");
  });
});
