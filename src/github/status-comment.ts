import { z } from "zod";
import { InputError } from "../core/errors.js";
import { findMarker, replaceMarker } from "../core/status-marker.js";
import { GitHubApiError, gitHubApiError, statusOf } from "./errors.js";
import type { GitHubClient } from "./octokit.js";

/**
 * The task's one status comment on its issue: found among the issue's comments and edited in
 * place, or created. Ours means all of: written by a bot account, through this GitHub App
 * (`performed_via_github_app.id`, which nobody else can forge), and carrying a switchyard:task
 * marker. A marker pasted into anyone else's comment is just text.
 */

/** Pages of 100 comments searched before creating one; an issue rarely has more. */
const MAX_PAGES = 10;
const PER_PAGE = 100;

export interface UpsertStatusCommentInput {
  owner: string;
  repo: string;
  issue_number: number;
  /** The comment for people; the marker is written at its top. */
  body: string;
  /** The machine-readable task state carried by the switchyard:task marker. */
  state: unknown;
  /** The GitHub App's id: only comments it wrote are edited. */
  appId: number;
  /**
   * The status comment as the caller found it moments ago in the same delivery (findStatusComment),
   * or null when there was none: saves the lookup. A comment another replica creates in between
   * is then missed and a second one made, so a caller passing this must read back and resolve
   * (the oldest comment is the task's), as the route handler's claim does.
   */
  existing?: { id: number } | null;
}

export interface UpsertStatusCommentResult {
  id: number;
  url: string | null;
  created: boolean;
}

const InputSchema = z.strictObject({
  owner: z.string().min(1),
  repo: z.string().min(1),
  issue_number: z.number().int().min(1),
  body: z.string(),
  state: z.unknown(),
  appId: z.number().int().min(1),
  existing: z
    .strictObject({ id: z.number().int().min(1) })
    .nullable()
    .optional(),
});

const CommentSchema = z.looseObject({
  id: z.number().int(),
  body: z.string().nullish(),
  user: z.looseObject({ type: z.string() }).nullish(),
  performed_via_github_app: z.looseObject({ id: z.number().int() }).nullish(),
});
const CommentListSchema = z.array(CommentSchema);
const CreatedSchema = z.looseObject({ id: z.number().int(), html_url: z.string().nullish() });

/** GitHub's limit on a comment body. */
export const COMMENT_LIMIT = 65_536;

function isOurs(comment: z.infer<typeof CommentSchema>, appId: number): boolean {
  return (
    comment.user?.type === "Bot" &&
    comment.performed_via_github_app?.id === appId &&
    findMarker(comment.body ?? "", "task") !== null
  );
}

/** Our status comment on the issue, or null. The oldest wins if a race left two. */
export async function findStatusComment(
  octokit: GitHubClient,
  where: { owner: string; repo: string; issue_number: number; appId: number },
): Promise<{ id: number; body: string } | null> {
  for (let page = 1; page <= MAX_PAGES; page++) {
    let data: unknown;
    try {
      ({ data } = await octokit.request("GET /repos/{owner}/{repo}/issues/{issue_number}/comments", {
        owner: where.owner,
        repo: where.repo,
        issue_number: where.issue_number,
        per_page: PER_PAGE,
        page,
      }));
    } catch (error) {
      throw gitHubApiError(error, {
        doing: `listing the comments of ${where.owner}/${where.repo}#${where.issue_number}`,
        permission: "issues: read",
      });
    }
    const list = CommentListSchema.safeParse(data);
    if (!list.success)
      throw new GitHubApiError("GitHub's list of comments is not what its API documents", null);
    const ours = list.data.find((c) => isOurs(c, where.appId));
    if (ours) return { id: ours.id, body: ours.body ?? "" };
    if (list.data.length < PER_PAGE) break;
  }
  return null;
}

export async function upsertStatusComment(
  octokit: GitHubClient,
  input: UpsertStatusCommentInput,
): Promise<UpsertStatusCommentResult> {
  const parsed = InputSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(
      `cannot write the status comment: ${issue.path.join(".") || "(input)"}: ${issue.message}`,
    );
  }
  const { owner, repo, issue_number, appId } = parsed.data;
  const body = replaceMarker(parsed.data.body, "task", parsed.data.state);
  if (body.length > COMMENT_LIMIT) {
    throw new InputError(
      `the status comment has ${body.length} characters, more than GitHub's ${COMMENT_LIMIT}; shorten what it quotes`,
    );
  }
  const known = parsed.data.existing;
  const existing =
    known !== undefined ? known : await findStatusComment(octokit, { owner, repo, issue_number, appId });
  const where = `${owner}/${repo}#${issue_number}`;
  try {
    const { data } =
      existing !== null
        ? await octokit.request("PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}", {
            owner,
            repo,
            comment_id: existing.id,
            body,
          })
        : await octokit.request("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", {
            owner,
            repo,
            issue_number,
            body,
          });
    const comment = CreatedSchema.safeParse(data);
    if (!comment.success) throw new GitHubApiError("GitHub's answer is not a comment", null);
    return { id: comment.data.id, url: comment.data.html_url ?? null, created: existing === null };
  } catch (error) {
    if (error instanceof GitHubApiError) throw error;
    // The comment the caller knew of was deleted since: look again, as without `existing`.
    if (known != null && statusOf(error) === 404) {
      return upsertStatusComment(octokit, { ...input, existing: undefined });
    }
    throw gitHubApiError(error, {
      doing: existing !== null ? `editing comment ${existing.id} on ${where}` : `commenting on ${where}`,
      permission: "issues: write",
    });
  }
}
