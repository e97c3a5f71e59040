import { z } from "zod";
import { InputError } from "../core/errors.js";
import { GitHubApiError, gitHubApiError, statusOf } from "./errors.js";
import type { GitHubClient } from "./octokit.js";

/**
 * The execute workflow's runs for one task. The runs API does not return a dispatch's inputs, so
 * the shipped workflow names its runs `run-name: switchyard #<issue>` and a run is matched to its
 * task by that display title. A workflow copied without `run-name` has runs titled after the
 * workflow: none of them match, so nothing is found and nothing is cancelled by mistake.
 */

/** The display title the shipped execute workflow gives a run for `issue_number`. */
export function runTitle(issue_number: number): string {
  return `switchyard #${issue_number}`;
}

/** Runs looked at, newest first: the in-flight ones of a task are among the latest dispatches. */
const PER_PAGE = 100;

export interface WorkflowRunsInput {
  owner: string;
  repo: string;
  /** The workflow's file name or numeric id, as dispatchExecute's `workflow_id`. */
  workflow_id: string;
  issue_number: number;
}

export interface InFlightRun {
  id: number;
  status: string;
  url: string | null;
}

const InputSchema = z.strictObject({
  owner: z.string().min(1),
  repo: z.string().min(1),
  workflow_id: z.string().min(1),
  issue_number: z.number().int().min(1),
});

const RunsSchema = z.looseObject({
  workflow_runs: z.array(
    z.looseObject({
      id: z.number().int(),
      status: z.string().nullish(),
      display_title: z.string().nullish(),
      html_url: z.string().nullish(),
    }),
  ),
});

function checked(input: WorkflowRunsInput, doing: string): z.infer<typeof InputSchema> {
  const parsed = InputSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(`cannot ${doing}: ${issue.path.join(".") || "(input)"}: ${issue.message}`);
  }
  return parsed.data;
}

/**
 * The task's dispatched runs that have not completed (queued, waiting on the concurrency group,
 * in progress), in one request. A workflow GitHub does not know (404) has no runs.
 */
export async function findInFlightRuns(
  octokit: GitHubClient,
  input: WorkflowRunsInput,
): Promise<InFlightRun[]> {
  const i = checked(input, "list the execute workflow's runs");
  let data: unknown;
  try {
    ({ data } = await octokit.request("GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs", {
      owner: i.owner,
      repo: i.repo,
      workflow_id: i.workflow_id,
      event: "workflow_dispatch",
      per_page: PER_PAGE,
    }));
  } catch (error) {
    if (statusOf(error) === 404) return [];
    throw gitHubApiError(error, {
      doing: `listing the runs of ${i.workflow_id} in ${i.owner}/${i.repo}`,
      permission: "actions: read",
    });
  }
  const runs = RunsSchema.safeParse(data);
  if (!runs.success)
    throw new GitHubApiError("GitHub's list of workflow runs is not what its API documents", null);
  const title = runTitle(i.issue_number);
  return runs.data.workflow_runs
    .filter((r) => r.display_title === title && r.status !== "completed")
    .map((r) => ({ id: r.id, status: r.status ?? "unknown", url: r.html_url ?? null }));
}

/**
 * Asks GitHub to cancel a run. True when it was asked; false when the run had already finished
 * (409) or is gone (404), which is what cancelling wanted.
 */
export async function cancelRun(
  octokit: GitHubClient,
  where: { owner: string; repo: string; run_id: number },
): Promise<boolean> {
  if (!Number.isInteger(where.run_id) || where.run_id < 1) {
    throw new InputError(`cannot cancel a workflow run: run_id ${where.run_id} is not a run id`);
  }
  try {
    // Only the path's parameters: anything else would be sent as a body, which GitHub refuses.
    await octokit.request("POST /repos/{owner}/{repo}/actions/runs/{run_id}/cancel", {
      owner: where.owner,
      repo: where.repo,
      run_id: where.run_id,
    });
    return true;
  } catch (error) {
    const status = statusOf(error);
    if (status === 409 || status === 404) return false;
    throw gitHubApiError(error, {
      doing: `cancelling run ${where.run_id} in ${where.owner}/${where.repo}`,
      permission: "actions: write",
    });
  }
}
