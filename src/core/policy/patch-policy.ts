import picomatch from "picomatch";
import { z } from "zod";
import type { Config } from "../../config/schema.js";
import { InputError } from "../errors.js";
import { FileChangeSchema, type FileChange } from "../execution/schema.js";

/**
 * What a patch may touch. Checked after a tool ran and before anything is committed: a violation
 * is the outcome `policy_violation` with the offending paths, and nothing lands.
 *
 * Matching rules, chosen so that the refusals err on the side of refusing:
 * - Paths are repository-relative POSIX paths. Anything else (absolute, `..`, backslashes,
 *   control characters) is refused outright: git never produces such a path, so one arriving in
 *   a patch is an attack or a bug.
 * - Globs match dotfiles (`**\/.env*` catches `.env.local`). A pattern without glob characters,
 *   or ending in `/`, also covers everything below it, so a scope of `src` means the directory.
 * - Forbidden globs and the workflow rule ignore case: on macOS and Windows `.GitHub/Workflows`
 *   and `.ENV` are the same files as their lower-case spelling. The scope is an allowlist and
 *   stays case-sensitive, so neither rule can be widened by spelling.
 * - A rename is checked at both ends: moving a file out of a forbidden directory changes it too.
 * - `.git` (any directory of that name, any case) can never be lifted, whatever the config says.
 *   `.github/workflows/**` is lifted only by `allow_workflow_changes: true`, which also drops the
 *   default `.github/workflows/**` forbidden entry; a broader entry such as `.github/**` still
 *   applies.
 * - Binary files count as zero changed lines; the capture bounds the patch's bytes.
 */

export const PatchPolicySchema = z.strictObject({
  forbidden: z.array(z.string().min(1)),
  /** Globs of the files the task may change; empty = the whole repository less forbidden paths. */
  scope: z.array(z.string().min(1)),
  maxFiles: z.number().int().min(1),
  maxChangedLines: z.number().int().min(1),
  allowWorkflowChanges: z.boolean(),
});
export type PatchPolicy = z.infer<typeof PatchPolicySchema>;

export type PolicyRule =
  | "unsafe_path"
  | "forbidden_path"
  | "workflow_change"
  | "out_of_scope"
  | "unsupported_file"
  | "too_many_files"
  | "too_many_lines";

export interface PolicyViolation {
  /** The offending path, for rules about one file; absent for the size limits. */
  path?: string;
  rule: PolicyRule;
  message: string;
}

export type PolicyResult =
  { ok: true } | { ok: false; violations: PolicyViolation[]; offendingPaths: string[] };

export const WORKFLOW_PERMISSION_HINT =
  "changing workflow files needs the `workflows` permission and `execution.allow_workflow_changes: true`";

/** The default entries `allow_workflow_changes: true` lifts; anything broader keeps applying. */
const WORKFLOW_DEFAULT_GLOBS = new Set([
  ".github/workflows/**",
  ".github/workflows/*",
  ".github/workflows",
  ".github/workflows/",
]);

export function policyFromConfig(execution: Config["execution"], scope: string[]): PatchPolicy {
  return {
    forbidden: execution.forbidden_paths,
    scope,
    maxFiles: execution.max_files,
    maxChangedLines: execution.max_changed_lines,
    allowWorkflowChanges: execution.allow_workflow_changes,
  };
}

/**
 * Why `path` is not a safe repository-relative POSIX path, or null when it is. Shared with the
 * patch manifest's schema so a patch read from an artifact is held to the same rule.
 */
export function unsafePathReason(path: string): string | null {
  if (path.length === 0) return "it is empty";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) return "it contains a control character";
  if (path.includes("\\")) return "it contains a backslash";
  if (path.startsWith("/") || /^[A-Za-z]:/.test(path)) return "it is absolute";
  for (const segment of path.split("/")) {
    if (segment === "..") return "it climbs out of the repository with '..'";
    if (segment === "" || segment === ".") return "it has an empty or '.' segment";
  }
  return null;
}

/** True for a path inside any directory named `.git`, whatever its case or Windows-trimmed tail. */
function isInsideGitDir(path: string): boolean {
  return path.split("/").some((segment) => segment.replace(/[. ]+$/, "").toLowerCase() === ".git");
}

const isWorkflowPath = picomatch(".github/workflows{,/**}", { dot: true, nocase: true, windows: false });

interface GlobMatcher {
  /** The first pattern that matches, as the user wrote it. */
  match(path: string): string | undefined;
}

function compileGlobs(patterns: string[], options: { nocase: boolean; what: string }): GlobMatcher {
  const compiled = patterns.map((pattern) => {
    const bare = pattern.replace(/\/+$/, "");
    const coversDescendants = pattern.endsWith("/") || !picomatch.scan(pattern).isGlob;
    const globs = coversDescendants ? [bare, `${bare}/**`] : [pattern];
    try {
      return { pattern, test: picomatch(globs, { dot: true, nocase: options.nocase, windows: false }) };
    } catch (error) {
      throw new InputError(
        `${options.what} pattern "${pattern}" is not a valid glob: ${(error as Error).message}`,
      );
    }
  });
  return { match: (path) => compiled.find((c) => c.test(path))?.pattern };
}

function formatIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.join(".") : "(root)"}: ${issue.message}`)
    .join("; ");
}

export function checkPatchPolicy(files: FileChange[], policy: PatchPolicy): PolicyResult {
  const parsedFiles = z.array(FileChangeSchema).safeParse(files);
  if (!parsedFiles.success) throw new InputError(`invalid change list: ${formatIssues(parsedFiles.error)}`);
  const parsedPolicy = PatchPolicySchema.safeParse(policy);
  if (!parsedPolicy.success)
    throw new InputError(`invalid patch policy: ${formatIssues(parsedPolicy.error)}`);
  const p = parsedPolicy.data;

  const forbiddenGlobs = p.allowWorkflowChanges
    ? p.forbidden.filter((g) => !WORKFLOW_DEFAULT_GLOBS.has(g))
    : p.forbidden;
  const forbidden = compileGlobs(forbiddenGlobs, { nocase: true, what: "forbidden" });
  const scope = p.scope.length > 0 ? compileGlobs(p.scope, { nocase: false, what: "scope" }) : null;

  const violations: PolicyViolation[] = [];

  // One violation per path, the most serious first, so a report does not list a workflow file
  // three times for the same reason.
  const checkPath = (path: string, note: string): void => {
    const unsafe = unsafePathReason(path);
    const say = (rule: PolicyRule, message: string) => violations.push({ path, rule, message });
    if (unsafe !== null) {
      say("unsafe_path", `${JSON.stringify(path)}${note} is not a safe repository path: ${unsafe}`);
    } else if (isInsideGitDir(path)) {
      say("forbidden_path", `${path}${note} is inside .git; Switchyard never changes git's own files`);
    } else if (!p.allowWorkflowChanges && isWorkflowPath(path)) {
      say("workflow_change", `${path}${note} is a workflow file; ${WORKFLOW_PERMISSION_HINT}`);
    } else {
      const glob = forbidden.match(path);
      if (glob !== undefined) {
        say(
          "forbidden_path",
          `${path}${note} matches the forbidden pattern "${glob}" (execution.forbidden_paths)`,
        );
      } else if (scope !== null && scope.match(path) === undefined) {
        say("out_of_scope", `${path}${note} is outside the task's file scope (${p.scope.join(", ")})`);
      }
    }
  };

  for (const file of parsedFiles.data) {
    const before = violations.length;
    checkPath(file.path, "");
    if (file.old_path !== undefined && file.old_path !== file.path) {
      checkPath(file.old_path, ` (renamed to ${file.path})`);
    }
    // Capture leaves the mode out only for a gitlink: a nested repository the tool cloned or
    // created, which would commit a pointer to a commit nobody can fetch.
    if (violations.length === before && file.status !== "deleted" && file.mode === undefined) {
      violations.push({
        path: file.path,
        rule: "unsupported_file",
        message: `${file.path} is a submodule or nested repository; Switchyard commits files and symlinks only`,
      });
    }
  }

  const fileCount = parsedFiles.data.length;
  if (fileCount > p.maxFiles) {
    violations.push({
      rule: "too_many_files",
      message: `the patch changes ${fileCount} files; the limit is ${p.maxFiles} (execution.max_files)`,
    });
  }
  const added = parsedFiles.data.reduce((n, f) => n + f.additions, 0);
  const deleted = parsedFiles.data.reduce((n, f) => n + f.deletions, 0);
  if (added + deleted > p.maxChangedLines) {
    violations.push({
      rule: "too_many_lines",
      message:
        `the patch changes ${added + deleted} lines (${added} added, ${deleted} deleted); ` +
        `the limit is ${p.maxChangedLines} (execution.max_changed_lines)`,
    });
  }

  if (violations.length === 0) return { ok: true };
  const offendingPaths = [
    ...new Set(violations.flatMap((v) => (v.path === undefined ? [] : [v.path]))),
  ].sort();
  return { ok: false, violations, offendingPaths };
}
