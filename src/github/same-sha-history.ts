import { ShaSchema } from "../core/execution/commit-port.js";
import { z } from "zod";
import type { History } from "../core/recovery/schema.js";
import { apiErrorText } from "./errors.js";
import type { GitHubClient } from "./octokit.js";

/**
 * Whether a failed job is known to have passed on the same commit: what makes a failure flaky
 * (issue #5: "the same job passed on the same SHA or on rerun"). One log cannot show it, so
 * before classifying, the recovery asks GitHub, cheaply and at most once:
 *
 * - a re-run attempt (run_attempt > 1): the previous attempt's jobs. A failed job of this attempt
 *   that concluded success in the one before passed on this very commit.
 * - a first attempt: the successful runs of the same workflow on the same head_sha (the same
 *   workflow started by `push` and by `pull_request`, or run again by hand). A run that succeeded
 *   passed every one of its jobs, so no second request is needed for their jobs.
 *
 * What cannot be read is a note, never an error: the classification without history is still
 * right for every failure that is not flaky.
 */

export interface SameShaInput {
  owner: string;
  repo: string;
  run_id: number;
  run_attempt: number;
  head_sha: string;
  /** The run's workflow file (`.github/workflows/ci.yml`); without it only the attempt is asked. */
  workflow_path?: string | undefined;
  /** The names of the jobs that failed in this run. */
  failed_jobs: string[];
}

export interface SameShaHistory {
  history: History;
  /** Why, in a sentence for the check run; null when nothing passed or nothing was asked. */
  note: string | null;
  /** A request that failed, as a gap. */
  gap: string | null;
}

const InputSchema = z.object({
  owner: z.string().min(1),
  repo: z.string().min(1),
  run_id: z.number().int().positive(),
  run_attempt: z.number().int().min(1),
  head_sha: ShaSchema,
  workflow_path: z.string().min(1).optional(),
  failed_jobs: z.array(z.string()).max(100),
});

const JobsSchema = z.looseObject({
  jobs: z.array(z.looseObject({ name: z.string(), conclusion: z.string().nullable() })),
});
const RunsSchema = z.looseObject({
  workflow_runs: z.array(
    z.looseObject({
      id: z.number().int(),
      path: z.string().nullish(),
      conclusion: z.string().nullable(),
      html_url: z.string().nullish(),
    }),
  ),
});

/** Runs of one head listed at most; a commit with more runs of one workflow than this is odd. */
const RUNS_LISTED = 20;

export async function sameShaHistory(octokit: GitHubClient, input: SameShaInput): Promise<SameShaHistory> {
  const parsed = InputSchema.safeParse(input);
  if (!parsed.success || parsed.data.failed_jobs.length === 0) {
    return { history: {}, note: null, gap: null };
  }
  const i = parsed.data;
  const short = i.head_sha.slice(0, 7);
  if (i.run_attempt > 1) {
    const previous = i.run_attempt - 1;
    try {
      const { data } = await octokit.request(
        "GET /repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt_number}/jobs",
        { owner: i.owner, repo: i.repo, run_id: i.run_id, attempt_number: previous, per_page: 100 },
      );
      const jobs = JobsSchema.safeParse(data);
      if (!jobs.success)
        return { history: {}, note: null, gap: "the previous attempt's jobs could not be read" };
      const passed = jobs.data.jobs
        .filter((j) => j.conclusion === "success" && i.failed_jobs.includes(j.name))
        .map((j) => j.name);
      if (passed.length === 0) return { history: {}, note: null, gap: null };
      return {
        history: { sameShaPassed: true },
        note: `${passed.join(", ")} passed in attempt ${previous} of run ${i.run_id} on ${short}`,
        gap: null,
      };
    } catch (error) {
      return {
        history: {},
        note: null,
        gap: `attempt ${previous} of run ${i.run_id}: ${apiErrorText(error)}`,
      };
    }
  }
  if (i.workflow_path === undefined) return { history: {}, note: null, gap: null };
  const path = bare(i.workflow_path);
  try {
    const { data } = await octokit.request("GET /repos/{owner}/{repo}/actions/runs", {
      owner: i.owner,
      repo: i.repo,
      head_sha: i.head_sha,
      status: "success",
      per_page: RUNS_LISTED,
    });
    const runs = RunsSchema.safeParse(data);
    if (!runs.success)
      return { history: {}, note: null, gap: "the runs of the same commit could not be read" };
    const other = runs.data.workflow_runs.find(
      (r) => r.id !== i.run_id && r.conclusion === "success" && r.path != null && bare(r.path) === path,
    );
    if (other === undefined) return { history: {}, note: null, gap: null };
    return {
      history: { sameShaPassed: true },
      note: `run ${other.id} of ${path} passed on ${short}, the commit this run failed on`,
      gap: null,
    };
  } catch (error) {
    return { history: {}, note: null, gap: `the runs of ${short}: ${apiErrorText(error)}` };
  }
}

function bare(path: string): string {
  return path.replace(/^\.\//, "").split("@")[0]!;
}
