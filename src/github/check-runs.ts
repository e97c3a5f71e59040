import { z } from "zod";
import { ShaSchema } from "../core/execution/commit-port.js";
import { InputError } from "../core/errors.js";
import { GitHubApiError, gitHubApiError } from "./errors.js";
import type { GitHubClient } from "./octokit.js";
import { cutAt } from "./pull-request.js";

/**
 * A task's check run on a commit: found by name and `external_id` (the task key) and edited in
 * place, or created. Re-running a step, or a webhook delivered twice, updates the one check run
 * instead of stacking copies on the commit.
 */

/** GitHub's limit on a check run's output summary and text, each. */
export const CHECK_OUTPUT_LIMIT = 65_535;
/** Pages of 100 check runs to search for ours before creating one; a commit rarely has more. */
const MAX_PAGES = 10;

export const CHECK_RUN_NAMES = [
  "switchyard/route",
  "switchyard/execute",
  "switchyard/recover",
  "switchyard/analyze",
] as const;
export type CheckRunName = (typeof CHECK_RUN_NAMES)[number];

export type CheckRunStatus = "queued" | "in_progress" | "completed";
/** The conclusions an integration may set (`stale` is GitHub's own, set only by GitHub). */
export type CheckRunConclusion =
  "action_required" | "cancelled" | "failure" | "neutral" | "success" | "skipped" | "timed_out";

const CONCLUSIONS = [
  "action_required",
  "cancelled",
  "failure",
  "neutral",
  "success",
  "skipped",
  "timed_out",
] as const satisfies readonly CheckRunConclusion[];

export interface UpsertCheckRunInput {
  owner: string;
  repo: string;
  name: CheckRunName;
  head_sha: string;
  /** The task key; how the check run is found again. */
  external_id: string;
  status: CheckRunStatus;
  /** Required with status `completed`, refused otherwise. */
  conclusion?: CheckRunConclusion;
  title: string;
  summary: string;
  text?: string;
  details_url?: string;
  /** ISO 8601 timestamps; passed in, since the caller owns the clock. */
  started_at?: string;
  completed_at?: string;
}

export interface UpsertCheckRunResult {
  id: number;
  url: string | null;
  created: boolean;
  /** True when the summary or text was cut to GitHub's limit. */
  truncated: boolean;
}

const IsoTimestamp = z.iso.datetime({ offset: true });

const InputSchema = z
  .strictObject({
    owner: z.string().min(1),
    repo: z.string().min(1),
    name: z.enum(CHECK_RUN_NAMES),
    head_sha: ShaSchema,
    external_id: z.string().min(1),
    status: z.enum(["queued", "in_progress", "completed"]),
    conclusion: z.enum(CONCLUSIONS).optional(),
    title: z.string().trim().min(1, "a check run needs a title"),
    summary: z.string().min(1, "a check run needs a summary"),
    text: z.string().optional(),
    details_url: z.url({ protocol: /^https?$/ }).optional(),
    started_at: IsoTimestamp.optional(),
    completed_at: IsoTimestamp.optional(),
  })
  .superRefine((v, ctx) => {
    if (v.status === "completed" && v.conclusion === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["conclusion"],
        message: "a completed check run needs a conclusion",
      });
    if (v.status !== "completed" && v.conclusion !== undefined)
      ctx.addIssue({
        code: "custom",
        path: ["conclusion"],
        message: `a conclusion completes the check run; the status cannot be "${v.status}"`,
      });
    if (v.status !== "completed" && v.completed_at !== undefined)
      ctx.addIssue({ code: "custom", path: ["completed_at"], message: "only a completed check run has one" });
  });

const ListSchema = z.object({
  total_count: z.number().int(),
  check_runs: z.array(
    z.object({ id: z.number().int(), name: z.string(), external_id: z.string().nullable() }),
  ),
});
const RunSchema = z.object({ id: z.number().int(), html_url: z.string().nullable().optional() });

function capped(text: string, what: string): { text: string; truncated: boolean } {
  if (text.length <= CHECK_OUTPUT_LIMIT) return { text, truncated: false };
  const note =
    `\n\n---\n_The ${what} was cut to fit GitHub's limit of ${CHECK_OUTPUT_LIMIT.toLocaleString("en-US")} ` +
    `characters (it had ${text.length.toLocaleString("en-US")}); the full report is in the run's job summary._`;
  return { text: cutAt(text, CHECK_OUTPUT_LIMIT - note.length) + note, truncated: true };
}

async function findRun(octokit: GitHubClient, i: z.infer<typeof InputSchema>): Promise<number | null> {
  let found: number | null = null;
  for (let page = 1; page <= MAX_PAGES; page++) {
    let data: unknown;
    try {
      ({ data } = await octokit.request("GET /repos/{owner}/{repo}/commits/{ref}/check-runs", {
        owner: i.owner,
        repo: i.repo,
        ref: i.head_sha,
        check_name: i.name,
        // "latest" would hide an older run of ours behind another task's newer one.
        filter: "all",
        per_page: 100,
        page,
      }));
    } catch (error) {
      throw gitHubApiError(error, {
        doing: `listing the ${i.name} check runs of ${i.head_sha.slice(0, 12)} in ${i.owner}/${i.repo}`,
        permission: "checks: read",
      });
    }
    const list = ListSchema.safeParse(data);
    if (!list.success)
      throw new GitHubApiError("GitHub's list of check runs is not what its API documents", null);
    for (const run of list.data.check_runs) {
      // The newest of ours wins if an earlier race left two.
      if (run.name === i.name && run.external_id === i.external_id && (found === null || run.id > found))
        found = run.id;
    }
    if (page * 100 >= list.data.total_count || list.data.check_runs.length === 0) break;
  }
  return found;
}

export async function upsertCheckRun(
  octokit: GitHubClient,
  input: UpsertCheckRunInput,
): Promise<UpsertCheckRunResult> {
  const parsed = InputSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(
      `cannot publish the check run: ${issue.path.join(".") || "(input)"}: ${issue.message}`,
    );
  }
  const i = parsed.data;
  const summary = capped(i.summary, "summary");
  const text = i.text === undefined ? undefined : capped(i.text, "text");
  const fields = {
    owner: i.owner,
    repo: i.repo,
    name: i.name,
    external_id: i.external_id,
    status: i.status,
    ...(i.conclusion !== undefined ? { conclusion: i.conclusion } : {}),
    ...(i.details_url !== undefined ? { details_url: i.details_url } : {}),
    ...(i.started_at !== undefined ? { started_at: i.started_at } : {}),
    ...(i.completed_at !== undefined ? { completed_at: i.completed_at } : {}),
    output: {
      title: i.title,
      summary: summary.text,
      ...(text !== undefined ? { text: text.text } : {}),
    },
  };
  const truncated = summary.truncated || (text?.truncated ?? false);

  const existing = await findRun(octokit, i);
  const where = `${i.owner}/${i.repo}`;
  try {
    const { data } =
      existing !== null
        ? await octokit.request("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", {
            ...fields,
            check_run_id: existing,
          })
        : await octokit.request("POST /repos/{owner}/{repo}/check-runs", { ...fields, head_sha: i.head_sha });
    const run = RunSchema.safeParse(data);
    if (!run.success) throw new GitHubApiError("GitHub's answer is not a check run", null);
    return { id: run.data.id, url: run.data.html_url ?? null, created: existing === null, truncated };
  } catch (error) {
    if (error instanceof GitHubApiError) throw error;
    throw gitHubApiError(error, {
      doing:
        existing !== null
          ? `updating check run ${existing} (${i.name}) in ${where}`
          : `creating the ${i.name} check run on ${i.head_sha.slice(0, 12)} in ${where}`,
      permission: "checks: write",
    });
  }
}
