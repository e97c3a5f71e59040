import { InputError, SwitchyardError } from "../core/errors.js";
import { WORKFLOW_PERMISSION_HINT } from "../core/policy/patch-policy.js";

/**
 * Errors of the GitHub port. Octokit's RequestError says "Not Found" or "Validation Failed" and
 * little else; these say what Switchyard was doing, what GitHub answered, and what to do next.
 */

/** What an Octokit RequestError carries, read structurally so any Octokit build's errors work. */
interface RequestErrorLike {
  status: number;
  message: string;
  response?: { data?: unknown; headers?: Record<string, string | number | undefined> };
}

export function isRequestError(error: unknown): error is RequestErrorLike {
  return (
    typeof error === "object" &&
    error !== null &&
    typeof (error as { status?: unknown }).status === "number" &&
    typeof (error as { message?: unknown }).message === "string"
  );
}

export function statusOf(error: unknown): number | null {
  return isRequestError(error) ? error.status : null;
}

/**
 * GitHub's own words: the top-level message plus every `errors[].message` (422s put the useful
 * part there, e.g. "A pull request already exists for o:branch.").
 */
export function apiErrorText(error: unknown): string {
  if (!isRequestError(error)) return error instanceof Error ? error.message : String(error);
  const data = error.response?.data as { message?: unknown; errors?: unknown } | undefined;
  const parts: string[] = [];
  if (typeof data?.message === "string") parts.push(data.message);
  if (Array.isArray(data?.errors)) {
    for (const e of data.errors) {
      if (typeof e === "string") parts.push(e);
      else if (typeof (e as { message?: unknown })?.message === "string")
        parts.push((e as { message: string }).message);
      else if (typeof (e as { code?: unknown })?.code === "string") {
        const { field, code } = e as { field?: unknown; code: string };
        parts.push(typeof field === "string" ? `${field}: ${code}` : code);
      }
    }
  }
  if (parts.length === 0) parts.push(error.message);
  return parts.join("; ");
}

export class GitHubApiError extends SwitchyardError {
  override name = "GitHubApiError";
  constructor(
    message: string,
    /** GitHub's HTTP status, or null when GitHub was not reached. */
    readonly status: number | null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface ApiErrorContext {
  /** What Switchyard was doing, e.g. "creating the blob for src/a.ts in o/r". */
  doing: string;
  /** The permission the call needs, e.g. "contents: write", named when GitHub refuses access. */
  permission?: string;
  /** What the failure left behind, e.g. "the branch was not changed". */
  consequence?: string;
}

/** Turns whatever a request threw into a GitHubApiError a person can act on. */
export function gitHubApiError(error: unknown, context: ApiErrorContext): GitHubApiError {
  const status = statusOf(error);
  const said = apiErrorText(error);
  const needs = context.permission ? ` (it needs \`${context.permission}\`)` : "";
  let advice: string;
  if (status === null) {
    advice = `GitHub could not be reached: ${said}`;
  } else if (status === 401) {
    advice = `GitHub answered 401 (${said}): the token is invalid or has expired`;
  } else if (status === 403 && /rate limit/i.test(said)) {
    advice = `GitHub answered 403 (${said}): the rate limit is exhausted; try again later`;
  } else if (status === 403) {
    advice = `GitHub answered 403 (${said}): the token is not allowed to do this${needs}`;
  } else if (status === 404) {
    advice = `GitHub answered 404 (${said}): it does not exist, or the token cannot see it${needs}`;
  } else if (status === 409 || status === 422) {
    advice = `GitHub refused it with ${status}: ${said}`;
  } else if (status >= 500) {
    advice = `GitHub answered ${status} (${said}), an error on GitHub's side; try again in a few minutes`;
  } else {
    advice = `GitHub answered ${status}: ${said}`;
  }
  const after = context.consequence ? `; ${context.consequence}` : "";
  return new GitHubApiError(`${context.doing} failed: ${advice}${after}`, status, { cause: error });
}

/**
 * A patch that touches `.github/workflows/**` while workflow changes are not allowed. Raised
 * before any request, because GitHub refuses such a commit only at the very end (the ref update),
 * after every blob, tree and commit was written.
 */
export class WorkflowChangeRefusedError extends InputError {
  override name = "WorkflowChangeRefusedError";
  constructor(readonly paths: string[]) {
    super(
      `refusing to commit changes to workflow files (${paths.join(", ")}): ${WORKFLOW_PERMISSION_HINT} ` +
        "(for a GitHub App the `workflows: write` permission, for a personal access token the `workflow` scope); " +
        "nothing was sent to GitHub",
    );
  }
}
