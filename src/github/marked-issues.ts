import { z } from "zod";
import { InputError } from "../core/errors.js";
import { GitHubApiError, gitHubApiError } from "./errors.js";
import type { GitHubClient } from "./octokit.js";
import { cutAt } from "./pull-request.js";

/**
 * Issues Switchyard keeps one of (the dashboard, one alert per kind): found by a label and a
 * marker on the body's first line, created once, edited in place.
 *
 * Why label + marker is enough to call an issue ours: a label can only be put on an issue by
 * someone with triage rights (labels sent by others when creating an issue are dropped), and the
 * marker is in the body, which only its author and people with write access can edit. An issue
 * with both was made or vouched for by Switchyard or a collaborator, never by a passer-by.
 *
 * GitHub has no "create unless it exists", so two analyses running at once can both find nothing
 * and both create. Each creator therefore reads the list again after creating: the lowest number
 * wins, and a creator that lost closes its own issue as a duplicate. Both racers make the same
 * choice from the same list, so one stays open; the lost one remains, closed, in the history. If
 * GitHub's list lags behind a write, two may stay open until the next run, which keeps the
 * oldest and closes the others (see `findKeeper`).
 */

/** GitHub's limit on an issue or comment body. */
export const ISSUE_BODY_LIMIT = 65_536;
const PER_PAGE = 100;
const MAX_PAGES = 10;

export interface MarkedIssue {
  number: number;
  title: string;
  body: string;
  state: "open" | "closed";
  url: string | null;
  labels: string[];
}

const IssueSchema = z.looseObject({
  number: z.number().int(),
  title: z.string(),
  body: z.string().nullish(),
  state: z.string(),
  html_url: z.string().nullish(),
  pull_request: z.unknown().optional(),
  labels: z.array(z.union([z.string(), z.looseObject({ name: z.string().nullish() })])).optional(),
});
const ListSchema = z.array(IssueSchema);

function toIssue(data: z.infer<typeof IssueSchema>): MarkedIssue {
  return {
    number: data.number,
    title: data.title,
    body: data.body ?? "",
    state: data.state === "closed" ? "closed" : "open",
    url: data.html_url ?? null,
    labels: (data.labels ?? [])
      .map((l) => (typeof l === "string" ? l : (l.name ?? "")))
      .filter((name) => name !== ""),
  };
}

export interface Where {
  owner: string;
  repo: string;
}

const WhereSchema = z.strictObject({ owner: z.string().min(1), repo: z.string().min(1) });
const LabelSchema = z.string().min(1).max(50);

function checked<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new InputError(`${what}: ${issue?.path.join(".") || "(input)"}: ${issue?.message ?? "invalid"}`);
}

/** Issues (not pull requests) with `label` in `state`, lowest number first. */
export async function listLabeledIssues(
  octokit: GitHubClient,
  where: Where & { label: string; state: "open" | "all" },
): Promise<MarkedIssue[]> {
  const { owner, repo } = checked(
    WhereSchema,
    { owner: where.owner, repo: where.repo },
    "cannot list issues",
  );
  const label = checked(LabelSchema, where.label, "cannot list issues: label");
  const found: MarkedIssue[] = [];
  for (let page = 1; page <= MAX_PAGES; page++) {
    let data: unknown;
    try {
      ({ data } = await octokit.request("GET /repos/{owner}/{repo}/issues", {
        owner,
        repo,
        labels: label,
        state: where.state,
        sort: "created",
        direction: "asc",
        per_page: PER_PAGE,
        page,
      }));
    } catch (error) {
      throw gitHubApiError(error, {
        doing: `listing the issues labelled ${label} in ${owner}/${repo}`,
        permission: "issues: read",
      });
    }
    const list = ListSchema.safeParse(data);
    if (!list.success)
      throw new GitHubApiError("GitHub's list of issues is not what its API documents", null);
    for (const issue of list.data) if (issue.pull_request === undefined) found.push(toIssue(issue));
    if (list.data.length < PER_PAGE) break;
  }
  return found.sort((a, b) => a.number - b.number);
}

/** The issue to keep among ours: the oldest open one, and the other open ones to close. */
export function findKeeper(ours: readonly MarkedIssue[]): { keep: MarkedIssue | null; extra: MarkedIssue[] } {
  const open = ours.filter((i) => i.state === "open").sort((a, b) => a.number - b.number);
  return { keep: open[0] ?? null, extra: open.slice(1) };
}

/** The body as sent: cut to GitHub's limit with a visible note. */
export function fitBody(body: string, fullReportAt = "the run's job summary"): string {
  if (body.length <= ISSUE_BODY_LIMIT) return body;
  const note =
    `\n\n---\n_Cut to fit GitHub's limit of ${ISSUE_BODY_LIMIT.toLocaleString("en-US")} characters ` +
    `(it had ${body.length.toLocaleString("en-US")}); the full report is in ${fullReportAt}._\n`;
  return cutAt(body, ISSUE_BODY_LIMIT - note.length) + note;
}

function answer(data: unknown, what: string): MarkedIssue {
  const issue = IssueSchema.safeParse(data);
  if (!issue.success) throw new GitHubApiError(`GitHub's answer is not ${what}`, null);
  return toIssue(issue.data);
}

export async function createIssue(
  octokit: GitHubClient,
  input: Where & { title: string; body: string; labels: string[] },
): Promise<MarkedIssue> {
  const { owner, repo } = input;
  try {
    const { data } = await octokit.request("POST /repos/{owner}/{repo}/issues", {
      owner,
      repo,
      title: input.title,
      body: fitBody(input.body),
      labels: input.labels,
    });
    return answer(data, "an issue");
  } catch (error) {
    if (error instanceof GitHubApiError) throw error;
    throw gitHubApiError(error, {
      doing: `opening the issue "${input.title}" in ${owner}/${repo}`,
      permission: "issues: write",
    });
  }
}

export async function updateIssue(
  octokit: GitHubClient,
  input: Where & {
    issue_number: number;
    title?: string;
    body?: string;
    state?: "open" | "closed";
    state_reason?: "completed" | "not_planned" | "reopened";
  },
): Promise<MarkedIssue> {
  const { owner, repo, issue_number } = input;
  try {
    const { data } = await octokit.request("PATCH /repos/{owner}/{repo}/issues/{issue_number}", {
      owner,
      repo,
      issue_number,
      ...(input.title !== undefined ? { title: input.title } : {}),
      ...(input.body !== undefined ? { body: fitBody(input.body) } : {}),
      ...(input.state !== undefined ? { state: input.state } : {}),
      ...(input.state_reason !== undefined ? { state_reason: input.state_reason } : {}),
    });
    return answer(data, "an issue");
  } catch (error) {
    if (error instanceof GitHubApiError) throw error;
    throw gitHubApiError(error, {
      doing: `editing issue #${issue_number} in ${owner}/${repo}`,
      permission: "issues: write",
    });
  }
}

export async function commentOnIssue(
  octokit: GitHubClient,
  input: Where & { issue_number: number; body: string },
): Promise<{ id: number; url: string | null }> {
  const { owner, repo, issue_number } = input;
  try {
    const { data } = await octokit.request("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", {
      owner,
      repo,
      issue_number,
      body: fitBody(input.body),
    });
    const comment = z.looseObject({ id: z.number().int(), html_url: z.string().nullish() }).safeParse(data);
    if (!comment.success) throw new GitHubApiError("GitHub's answer is not a comment", null);
    return { id: comment.data.id, url: comment.data.html_url ?? null };
  } catch (error) {
    if (error instanceof GitHubApiError) throw error;
    throw gitHubApiError(error, {
      doing: `commenting on ${owner}/${repo}#${issue_number}`,
      permission: "issues: write",
    });
  }
}

export interface CreateOnceResult {
  issue: MarkedIssue;
  /** False when another run's issue won the race and ours was closed as its duplicate. */
  created: boolean;
  /** Our own issue, closed as a duplicate of `issue`, when another run won. */
  closedDuplicate: number | null;
}

/**
 * Creates the issue, then reads the open issues of its label again: when another issue that
 * `isSame` says is the same thing has a lower number, ours is closed as its duplicate and the
 * other one is returned.
 */
export async function createOnce(
  octokit: GitHubClient,
  input: Where & {
    title: string;
    body: string;
    label: string;
    isSame: (issue: MarkedIssue) => boolean;
    duplicateComment?: (keep: MarkedIssue) => string;
  },
): Promise<CreateOnceResult> {
  const created = await createIssue(octokit, {
    owner: input.owner,
    repo: input.repo,
    title: input.title,
    body: input.body,
    labels: [input.label],
  });
  const open = await listLabeledIssues(octokit, {
    owner: input.owner,
    repo: input.repo,
    label: input.label,
    state: "open",
  });
  const winner = open.find((i) => i.number < created.number && input.isSame(i));
  if (!winner) return { issue: created, created: true, closedDuplicate: null };
  if (input.duplicateComment) {
    await commentOnIssue(octokit, {
      owner: input.owner,
      repo: input.repo,
      issue_number: created.number,
      body: input.duplicateComment(winner),
    });
  }
  await updateIssue(octokit, {
    owner: input.owner,
    repo: input.repo,
    issue_number: created.number,
    state: "closed",
    state_reason: "not_planned",
  });
  return { issue: winner, created: false, closedDuplicate: created.number };
}
