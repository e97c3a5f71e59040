import { z } from "zod";
import { InputError } from "../core/errors.js";
import { GitHubApiError, apiErrorText, gitHubApiError, statusOf } from "./errors.js";
import type { GitHubClient } from "./octokit.js";

/**
 * Switchyard's pull request for a task: one per branch, created as a draft the first time and
 * edited in place afterwards (looked up by its head branch before anything is written, so a
 * retried run or a second delivery of the same event never opens a second one).
 */

/** GitHub refuses a pull request body longer than this many characters. */
export const PR_BODY_LIMIT = 65_536;
/** GitHub refuses titles longer than this (the same limit as issue titles). */
export const PR_TITLE_LIMIT = 256;

export interface UpsertPullRequestInput {
  owner: string;
  repo: string;
  /** Switchyard's branch, in the same repository. */
  head: string;
  /** The branch to merge into, usually the default branch. */
  base: string;
  title: string;
  /** The report. With `issueNumber`, `Closes #<issueNumber>` is added when it does not say so already. */
  body: string;
  /** The issue a task's PR closes; a fix PR closes none (its base is usually a person's branch). */
  issueNumber?: number;
}

export interface UpsertPullRequestResult {
  number: number;
  url: string;
  created: boolean;
  draft: boolean;
  /** Something a report should mention (the body was cut, drafts are not supported), or null. */
  note: string | null;
}

const InputSchema = z.strictObject({
  owner: z.string().min(1),
  repo: z.string().min(1),
  head: z.string().min(1),
  base: z.string().min(1),
  title: z.string().trim().min(1, "a pull request needs a title"),
  body: z.string(),
  issueNumber: z.number().int().positive().optional(),
});

const PullSchema = z.object({
  number: z.number().int(),
  html_url: z.string(),
  draft: z.boolean().optional(),
});

function closes(issueNumber: number): RegExp {
  // GitHub's closing keywords, which link the PR to the issue and close it on merge.
  return new RegExp(`\\b(close[sd]?|fix(e[sd])?|resolve[sd]?)\\s*:?\\s+#${issueNumber}(?!\\d)`, "i");
}

/** Cuts `text` to at most `max` UTF-16 units without splitting a surrogate pair. */
export function cutAt(text: string, max: number): string {
  if (text.length <= max) return text;
  const end = /[\uD800-\uDBFF]/.test(text[max - 1] ?? "") ? max - 1 : max;
  return text.slice(0, end);
}

/**
 * The body as sent: the report with a closing reference to the issue, cut to GitHub's limit with
 * a visible note. The reference goes first when it is added, so a cut never removes it.
 */
export function pullRequestBody(report: string, issueNumber?: number): { body: string; truncated: boolean } {
  const closesIssue = (text: string) => issueNumber === undefined || closes(issueNumber).test(text);
  const prefix = closesIssue(report) ? "" : `Closes #${issueNumber}\n\n`;
  if (prefix.length + report.length <= PR_BODY_LIMIT) return { body: prefix + report, truncated: false };
  const note =
    `\n\n---\n_This report was cut to fit GitHub's limit of ${PR_BODY_LIMIT.toLocaleString("en-US")} ` +
    `characters (it had ${report.length.toLocaleString("en-US")}); the full report is in the run's job summary._`;
  let kept = cutAt(report, PR_BODY_LIMIT - prefix.length - note.length);
  // The cut may have removed the only closing reference the report had.
  const lead = prefix === "" && !closesIssue(kept) ? `Closes #${issueNumber}\n\n` : prefix;
  kept = cutAt(kept, PR_BODY_LIMIT - lead.length - note.length);
  return { body: lead + kept + note, truncated: true };
}

function title(text: string): string {
  const oneLine = text.trim().replace(/\s+/g, " ");
  return oneLine.length <= PR_TITLE_LIMIT ? oneLine : `${cutAt(oneLine, PR_TITLE_LIMIT - 1)}…`;
}

function pull(data: unknown, what: string): z.infer<typeof PullSchema> {
  const parsed = PullSchema.safeParse(data);
  if (!parsed.success) throw new GitHubApiError(`GitHub's answer to ${what} is not a pull request`, null);
  return parsed.data;
}

async function findOpen(
  octokit: GitHubClient,
  i: z.infer<typeof InputSchema>,
): Promise<z.infer<typeof PullSchema> | null> {
  try {
    const { data } = await octokit.request("GET /repos/{owner}/{repo}/pulls", {
      owner: i.owner,
      repo: i.repo,
      head: `${i.owner}:${i.head}`,
      state: "open",
    });
    const list = z.array(z.unknown()).safeParse(data);
    if (!list.success) throw new GitHubApiError("GitHub's list of pull requests is not a list", null);
    return list.data.length > 0 ? pull(list.data[0], "GET pulls") : null;
  } catch (error) {
    if (error instanceof GitHubApiError) throw error;
    throw gitHubApiError(error, {
      doing: `looking for an open pull request from ${i.head} in ${i.owner}/${i.repo}`,
      permission: "pull_requests: read",
    });
  }
}

export async function upsertDraftPullRequest(
  octokit: GitHubClient,
  input: UpsertPullRequestInput,
): Promise<UpsertPullRequestResult> {
  const parsed = InputSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(
      `cannot open the pull request: ${issue.path.join(".") || "(input)"}: ${issue.message}`,
    );
  }
  const i = parsed.data;
  const { body, truncated } = pullRequestBody(i.body, i.issueNumber);
  const notes: string[] = truncated ? ["the report was cut to fit GitHub's pull request body limit"] : [];
  const result = (pr: z.infer<typeof PullSchema>, created: boolean): UpsertPullRequestResult => ({
    number: pr.number,
    url: pr.html_url,
    created,
    draft: pr.draft ?? false,
    note: notes.length > 0 ? notes.join("; ") : null,
  });

  const update = async (pr: z.infer<typeof PullSchema>) => {
    try {
      const { data } = await octokit.request("PATCH /repos/{owner}/{repo}/pulls/{pull_number}", {
        owner: i.owner,
        repo: i.repo,
        pull_number: pr.number,
        title: title(i.title),
        body,
      });
      return result(pull(data, "PATCH pulls"), false);
    } catch (error) {
      if (error instanceof GitHubApiError) throw error;
      throw gitHubApiError(error, {
        doing: `updating pull request #${pr.number} in ${i.owner}/${i.repo}`,
        permission: "pull_requests: write",
      });
    }
  };

  const existing = await findOpen(octokit, i);
  if (existing !== null) return update(existing);

  let draft = true;
  for (;;) {
    try {
      const { data } = await octokit.request("POST /repos/{owner}/{repo}/pulls", {
        owner: i.owner,
        repo: i.repo,
        head: i.head,
        base: i.base,
        title: title(i.title),
        body,
        draft,
      });
      return result(pull(data, "POST pulls"), true);
    } catch (error) {
      if (error instanceof GitHubApiError) throw error;
      const said = statusOf(error) === 422 ? apiErrorText(error) : "";
      // Drafts need a paid plan on private repositories; a ready pull request is the next best.
      if (draft && /draft pull requests are not supported/i.test(said)) {
        draft = false;
        notes.push("this repository does not support draft pull requests, so it was opened ready for review");
        continue;
      }
      // Opened by a concurrent run between our look and our create: edit that one instead.
      if (/a pull request already exists/i.test(said)) {
        const now = await findOpen(octokit, i);
        if (now !== null) return update(now);
      }
      if (/no commits between/i.test(said)) {
        throw new InputError(
          `cannot open a pull request from ${i.head} into ${i.base}: GitHub says there are no commits between ` +
            "them (was the commit made on another branch, or is the branch already merged?)",
        );
      }
      throw gitHubApiError(error, {
        doing: `opening a pull request from ${i.head} into ${i.base} in ${i.owner}/${i.repo}`,
        permission: "pull_requests: write",
      });
    }
  }
}
