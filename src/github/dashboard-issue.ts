import { z } from "zod";
import { DASHBOARD_MARKER } from "../core/analysis/dashboard.js";
import { InputError } from "../core/errors.js";
import {
  commentOnIssue,
  createOnce,
  findKeeper,
  fitBody,
  listLabeledIssues,
  updateIssue,
  type MarkedIssue,
} from "./marked-issues.js";
import type { GitHubClient } from "./octokit.js";

/**
 * The one dashboard issue: found among the open issues with the dashboard label by the marker on
 * its first line (renderDashboard writes it there), edited in place, created when there is none.
 *
 * Cost: one list request and one edit on every run but the first. The label narrows the list to
 * a handful of issues, where a search by marker would go through the search API (its own, much
 * lower rate limit, and an index that lags behind writes, which is the wrong property for "does
 * it exist yet"). A closed dashboard is left closed: closing it is how people retire one, and
 * the next run starts a fresh one (`analysis.dashboard: false` stops it for good).
 */

export interface PublishDashboardInput {
  owner: string;
  repo: string;
  /** config analysis.dashboard_label. */
  label: string;
  /** config analysis.dashboard_title. */
  title: string;
  /** renderDashboard's markdown, which starts with DASHBOARD_MARKER. */
  body: string;
}

export interface PublishDashboardResult {
  number: number;
  url: string | null;
  action: "created" | "updated" | "unchanged";
  /** Other open dashboards closed as duplicates (left by a race). */
  closedDuplicates: number[];
}

const InputSchema = z.strictObject({
  owner: z.string().min(1),
  repo: z.string().min(1),
  label: z.string().min(1).max(50),
  title: z.string().trim().min(1).max(256),
  body: z.string().refine((b) => isDashboardBody(b), {
    message: `the dashboard must start with its marker, ${DASHBOARD_MARKER}`,
  }),
});

/** The marker on the first line, and only there: a dashboard quoted in another issue is not one. */
export function isDashboardBody(body: string): boolean {
  return body.split("\n", 1)[0]!.trimEnd() === DASHBOARD_MARKER;
}

function duplicateNote(keep: MarkedIssue): string {
  return `Duplicate of #${keep.number}, the dashboard Switchyard keeps up to date; two analyses opened one at once.`;
}

export async function publishDashboard(
  octokit: GitHubClient,
  input: PublishDashboardInput,
): Promise<PublishDashboardResult> {
  const parsed = InputSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(
      `cannot publish the dashboard: ${issue.path.join(".") || "(input)"}: ${issue.message}`,
    );
  }
  const { owner, repo, label, title, body } = parsed.data;
  const open = await listLabeledIssues(octokit, { owner, repo, label, state: "open" });
  const { keep, extra } = findKeeper(open.filter((i) => isDashboardBody(i.body)));

  if (keep === null) {
    const made = await createOnce(octokit, {
      owner,
      repo,
      title,
      body,
      label,
      isSame: (i) => isDashboardBody(i.body),
      duplicateComment: duplicateNote,
    });
    return {
      number: made.issue.number,
      url: made.issue.url,
      // Another run's dashboard won the race: it was written from the same data a moment ago.
      action: made.created ? "created" : "unchanged",
      closedDuplicates: made.closedDuplicate === null ? [] : [made.closedDuplicate],
    };
  }

  let action: PublishDashboardResult["action"] = "unchanged";
  let url = keep.url;
  if (keep.body !== fitBody(body) || keep.title !== title) {
    const updated = await updateIssue(octokit, { owner, repo, issue_number: keep.number, title, body });
    url = updated.url ?? url;
    action = "updated";
  }
  for (const dup of extra) {
    await commentOnIssue(octokit, { owner, repo, issue_number: dup.number, body: duplicateNote(keep) });
    await updateIssue(octokit, {
      owner,
      repo,
      issue_number: dup.number,
      state: "closed",
      state_reason: "not_planned",
    });
  }
  return { number: keep.number, url, action, closedDuplicates: extra.map((d) => d.number) };
}
