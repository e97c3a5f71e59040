import { z } from "zod";
import {
  readAlertMarker,
  type AlertAction,
  type AlertKind,
  type AlertPlan,
  type OpenAlertIssue,
} from "../core/analysis/alerts.js";
import { InputError } from "../core/errors.js";
import { commentOnIssue, createOnce, listLabeledIssues, updateIssue } from "./marked-issues.js";
import type { GitHubClient } from "./octokit.js";

/**
 * Alert issues on GitHub: the open ones read for planAlerts, and the plan carried out. One list
 * request covers every kind (they share the alert label; the marker on the first line says which
 * alert an issue is), so a healthy run costs one request.
 */

export interface AlertIssuesWhere {
  owner: string;
  repo: string;
  /** config analysis.alert_label. */
  label: string;
}

const WhereSchema = z.strictObject({
  owner: z.string().min(1),
  repo: z.string().min(1),
  label: z.string().min(1).max(50),
});

function checkedWhere(where: AlertIssuesWhere, what: string): AlertIssuesWhere {
  const parsed = WhereSchema.safeParse(where);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new InputError(`cannot ${what}: ${issue.path.join(".") || "(input)"}: ${issue.message}`);
}

/** The open issues with the alert label whose first line is an alert marker. */
export async function listAlertIssues(
  octokit: GitHubClient,
  where: AlertIssuesWhere,
): Promise<OpenAlertIssue[]> {
  const { owner, repo, label } = checkedWhere(where, "list the alert issues");
  const open = await listLabeledIssues(octokit, { owner, repo, label, state: "open" });
  return open
    .filter((i) => readAlertMarker(i.body) !== null)
    .map((i) => ({ number: i.number, body: i.body }));
}

export type AppliedType = "opened" | "commented" | "closed" | "closed_duplicate" | "none";

export interface AppliedAlert {
  kind: AlertKind;
  type: AppliedType;
  /** The alert issue, when there is one. */
  number: number | null;
  url: string | null;
  action: AlertAction;
}

/**
 * Carries out the plan in order. A comment is posted before the body (which holds the state) is
 * edited: if the edit fails the next run says it again, rather than believing it said something
 * it did not.
 */
export async function applyAlertPlan(
  octokit: GitHubClient,
  where: AlertIssuesWhere,
  plan: AlertPlan,
): Promise<AppliedAlert[]> {
  const { owner, repo, label } = checkedWhere(where, "update the alert issues");
  const applied: AppliedAlert[] = [];
  for (const action of plan.actions) {
    switch (action.type) {
      case "none":
        applied.push({ kind: action.kind, type: "none", number: action.number, url: null, action });
        break;
      case "open": {
        const made = await createOnce(octokit, {
          owner,
          repo,
          title: action.title,
          body: action.body,
          label,
          isSame: (i) => readAlertMarker(i.body)?.kind === action.kind,
          duplicateComment: (keep) =>
            `Duplicate of #${keep.number}, which follows this alert; two analyses opened it at once.`,
        });
        // When another run won the race it opened the alert and tells people; this one stays quiet.
        applied.push({
          kind: action.kind,
          type: made.created ? "opened" : "none",
          number: made.issue.number,
          url: made.issue.url,
          action,
        });
        break;
      }
      case "comment": {
        await commentOnIssue(octokit, { owner, repo, issue_number: action.number, body: action.comment });
        const updated = await updateIssue(octokit, {
          owner,
          repo,
          issue_number: action.number,
          body: action.body,
        });
        applied.push({
          kind: action.kind,
          type: "commented",
          number: action.number,
          url: updated.url,
          action,
        });
        break;
      }
      case "close":
      case "close_duplicate": {
        await commentOnIssue(octokit, { owner, repo, issue_number: action.number, body: action.comment });
        const closed = await updateIssue(octokit, {
          owner,
          repo,
          issue_number: action.number,
          state: "closed",
          state_reason: action.type === "close" ? "completed" : "not_planned",
        });
        applied.push({
          kind: action.kind,
          type: action.type === "close" ? "closed" : "closed_duplicate",
          number: action.number,
          url: closed.url,
          action,
        });
        break;
      }
    }
  }
  return applied;
}
