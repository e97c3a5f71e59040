import { z } from "zod";
import { GitHubApiError, gitHubApiError } from "./errors.js";
import type { GitHubClient } from "./octokit.js";

const IssueSchema = z.looseObject({
  number: z.number().int(),
  state: z.string(),
  labels: z.array(z.union([z.string(), z.looseObject({ name: z.string().nullish() })])).nullish(),
  pull_request: z.unknown().optional(),
});

export interface ReadIssue {
  /** GitHub's answer as it came, for the task builder (which validates what it reads). */
  raw: unknown;
  state: string;
  /** Label names; GitHub lists a label as a string or as an object. */
  labels: string[];
  /** The number is a pull request's (the issues API answers for both). */
  isPullRequest: boolean;
}

/** One issue as the app needs it when no webhook payload carries it (completion, release). */
export async function readIssue(
  octokit: GitHubClient,
  where: { owner: string; repo: string; issue_number: number },
): Promise<ReadIssue> {
  let data: unknown;
  try {
    ({ data } = await octokit.request("GET /repos/{owner}/{repo}/issues/{issue_number}", where));
  } catch (error) {
    throw gitHubApiError(error, {
      doing: `reading ${where.owner}/${where.repo}#${where.issue_number}`,
      permission: "issues: read",
    });
  }
  const issue = IssueSchema.safeParse(data);
  if (!issue.success) throw new GitHubApiError("GitHub's issue is not what its API documents", null);
  return {
    raw: data,
    state: issue.data.state,
    labels: (issue.data.labels ?? []).flatMap((l) => (typeof l === "string" ? [l] : l.name ? [l.name] : [])),
    isPullRequest: issue.data.pull_request != null,
  };
}
