import { z } from "zod";
import { InputError } from "../core/errors.js";
import { readMarker } from "../core/status-marker.js";
import { GitHubApiError, gitHubApiError } from "./errors.js";
import type { GitHubClient } from "./octokit.js";

/**
 * The live state of a repository's tasks, read where Switchyard keeps it: the `switchyard:<state>`
 * label on each open issue or pull request, the task marker in its status comment (phase, tool,
 * when it was routed and dispatched), and for pull requests the `switchyard/*` check runs on the
 * head commit. Read-only, for `switchyard status`.
 *
 * The marker is read with a loose schema of the few fields shown, not the app's strict one: a
 * newer app that adds a field must not make an older CLI report every task as unreadable. Only
 * comments written by a bot account are looked at; the app's own id is not known here, so a
 * marker in another bot's comment would be shown too, which for a read-only view is harmless.
 */

/** The labels of tasks still open, in the order they are listed. */
export const LIVE_STATES = ["running", "queued", "blocked", "pr-open", "quarantined", "failed"] as const;
export type LiveState = (typeof LIVE_STATES)[number];

const PER_PAGE = 100;
/** Pages of comments searched per issue for the status comment. */
const MAX_COMMENT_PAGES = 3;

export interface TaskStatus {
  number: number;
  kind: "issue" | "pull_request";
  title: string;
  url: string | null;
  /** Every switchyard state label it carries (one, unless a race left two). */
  states: LiveState[];
  updated_at: string | null;
  /** From the status comment's marker; null when there is none or it cannot be read. */
  marker: {
    phase: string;
    tool: string | null;
    routed_at: string | null;
    dispatched_at: string | null;
  } | null;
  /** Why the marker could not be read, when it could not. */
  marker_problem: string | null;
  /** switchyard/* check runs on a pull request's head commit. */
  checks: { name: string; status: string; conclusion: string | null; url: string | null }[];
}

export interface TaskStatusResult {
  tasks: TaskStatus[];
  requests: number;
  /** What was not read because the budget ran out. */
  gaps: string[];
}

const InputSchema = z.strictObject({
  owner: z.string().min(1),
  repo: z.string().min(1),
  /** Requests this listing may send (default 200). */
  maxRequests: z.number().int().min(1).default(200),
});

const IssueWire = z.looseObject({
  number: z.number().int(),
  title: z.string(),
  html_url: z.string().nullish(),
  comments: z.number().int().nullish(),
  updated_at: z.string().nullish(),
  pull_request: z.looseObject({}).nullish(),
});
const CommentWire = z.looseObject({
  body: z.string().nullish(),
  user: z.looseObject({ type: z.string() }).nullish(),
});
const PullWire = z.looseObject({ head: z.looseObject({ sha: z.string() }) });
const ChecksWire = z.looseObject({
  check_runs: z.array(
    z.looseObject({
      name: z.string(),
      status: z.string(),
      conclusion: z.string().nullish(),
      html_url: z.string().nullish(),
    }),
  ),
});
const MarkerView = z.looseObject({
  phase: z.string(),
  tool: z.string().nullish(),
  routed_at: z.string().nullish(),
  dispatched_at: z.string().nullish(),
});

class Budget {
  used = 0;
  constructor(readonly max: number) {}
  take(): boolean {
    if (this.used >= this.max) return false;
    this.used++;
    return true;
  }
}

export async function readTaskStatus(
  octokit: GitHubClient,
  input: { owner: string; repo: string; maxRequests?: number },
): Promise<TaskStatusResult> {
  const parsed = InputSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(`cannot list the tasks: ${issue.path.join(".") || "(input)"}: ${issue.message}`);
  }
  const { owner, repo, maxRequests } = parsed.data;
  const budget = new Budget(maxRequests);
  const gaps: string[] = [];
  const byNumber = new Map<number, { issue: z.infer<typeof IssueWire>; states: Set<LiveState> }>();

  const get = async (route: string, params: Record<string, unknown>, doing: string, permission: string) => {
    try {
      return (await octokit.request(route, { owner, repo, ...params })).data as unknown;
    } catch (error) {
      throw gitHubApiError(error, { doing, permission });
    }
  };

  // The issues endpoint ANDs its label filter, so each state is one listing.
  for (const state of LIVE_STATES) {
    for (let page = 1; ; page++) {
      if (!budget.take()) {
        gaps.push(`issues labelled switchyard:${state}: not all read (budget of ${maxRequests} requests)`);
        break;
      }
      const data = await get(
        "GET /repos/{owner}/{repo}/issues",
        { state: "open", labels: `switchyard:${state}`, per_page: PER_PAGE, page },
        `listing the open issues labelled switchyard:${state} in ${owner}/${repo}`,
        "issues: read",
      );
      const list = z.array(IssueWire).safeParse(data);
      if (!list.success)
        throw new GitHubApiError("GitHub's list of issues is not what its API documents", null);
      for (const issue of list.data) {
        const entry = byNumber.get(issue.number) ?? { issue, states: new Set<LiveState>() };
        entry.states.add(state);
        byNumber.set(issue.number, entry);
      }
      if (list.data.length < PER_PAGE) break;
    }
  }

  const tasks: TaskStatus[] = [];
  let unread = 0;
  for (const { issue, states } of [...byNumber.values()].sort((a, b) => a.issue.number - b.issue.number)) {
    const task: TaskStatus = {
      number: issue.number,
      kind: issue.pull_request ? "pull_request" : "issue",
      title: issue.title,
      url: issue.html_url ?? null,
      // Listed in LIVE_STATES order, whatever order the listings found them in.
      states: LIVE_STATES.filter((s) => states.has(s)),
      updated_at: issue.updated_at ?? null,
      marker: null,
      marker_problem: null,
      checks: [],
    };
    tasks.push(task);
    if ((issue.comments ?? 1) > 0) {
      for (let page = 1; page <= MAX_COMMENT_PAGES; page++) {
        if (!budget.take()) {
          unread++;
          break;
        }
        const data = await get(
          "GET /repos/{owner}/{repo}/issues/{issue_number}/comments",
          { issue_number: issue.number, per_page: PER_PAGE, page },
          `listing the comments of ${owner}/${repo}#${issue.number}`,
          "issues: read",
        );
        const list = z.array(CommentWire).safeParse(data);
        if (!list.success)
          throw new GitHubApiError("GitHub's list of comments is not what its API documents", null);
        const found = list.data
          .filter((c) => c.user?.type === "Bot")
          .map((c) => readMarker(c.body ?? "", "task", MarkerView))
          .find((m) => m !== null);
        if (found) {
          if (found.ok) {
            task.marker = {
              phase: found.value.phase,
              tool: found.value.tool ?? null,
              routed_at: found.value.routed_at ?? null,
              dispatched_at: found.value.dispatched_at ?? null,
            };
          } else task.marker_problem = found.reason;
          break;
        }
        if (list.data.length < PER_PAGE) break;
      }
    }
    if (task.kind === "pull_request") {
      if (!budget.take()) {
        unread++;
        continue;
      }
      const pull = PullWire.safeParse(
        await get(
          "GET /repos/{owner}/{repo}/pulls/{pull_number}",
          { pull_number: issue.number },
          `reading pull request ${owner}/${repo}#${issue.number}`,
          "pull_requests: read",
        ),
      );
      if (!pull.success)
        throw new GitHubApiError("GitHub's pull request is not what its API documents", null);
      if (!budget.take()) {
        unread++;
        continue;
      }
      const checks = ChecksWire.safeParse(
        await get(
          "GET /repos/{owner}/{repo}/commits/{ref}/check-runs",
          { ref: pull.data.head.sha, filter: "latest", per_page: PER_PAGE },
          `listing the check runs of ${owner}/${repo}#${issue.number}'s head commit`,
          "checks: read",
        ),
      );
      if (!checks.success)
        throw new GitHubApiError("GitHub's list of check runs is not what its API documents", null);
      task.checks = checks.data.check_runs
        .filter((c) => c.name.startsWith("switchyard/"))
        .map((c) => ({
          name: c.name,
          status: c.status,
          conclusion: c.conclusion ?? null,
          url: c.html_url ?? null,
        }))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    }
  }
  if (unread > 0) {
    gaps.push(
      `${unread} ${unread === 1 ? "task's" : "tasks'"} status comment or checks not read (budget of ${maxRequests} requests)`,
    );
  }
  return { tasks, requests: budget.used, gaps };
}
