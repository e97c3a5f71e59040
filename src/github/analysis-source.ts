import { z } from "zod";
import { parseTime, type AnalysisEvent } from "../core/analysis/aggregate.js";
import {
  CiFailedJobSchema,
  CiRunSchema,
  FAILED_CONCLUSIONS,
  type CiFailedJob,
  type CiRun,
} from "../core/analysis/ci-health.js";
import type { InputFigures } from "../core/analysis/metrics-file.js";
import { InputError } from "../core/errors.js";
import { readEvents, type ReadStats } from "../core/events/log.js";
import { LadderStateSchema } from "../core/recovery/ladder.js";
import { readMarker } from "../core/status-marker.js";
import {
  RecoveryMarkerSchema,
  recoveryMarkerEvents,
  type RecoveryMarker,
} from "../core/analysis/recovery-markers.js";
import { classifyJobLog } from "../runner/job-log-signatures.js";
import {
  ArtifactGoneError,
  ArtifactRejectedError,
  downloadArtifact,
  type ArtifactInfo,
  EVENTS_ARTIFACT,
} from "./artifacts.js";
import type { ConditionalCache } from "./conditional-cache.js";
import { GitHubApiError, gitHubApiError, statusOf } from "./errors.js";
import { DEFAULT_EVENT_WORKFLOWS, trustedRun } from "./trusted-runs.js";
import type { GitHubClient } from "./octokit.js";

/**
 * The analysis's input, read from a repository through the API: the workflow runs of a time span,
 * the failed jobs of its recent part with their logs reduced to an error signature, and the
 * event logs Switchyard's runs uploaded as `switchyard-events` artifacts.
 *
 * Cost is what decides the shape:
 * - Lists are read newest first, a page of 100 at a time, and stop at the first page that reaches
 *   past `since`. The runs list is read without the `created` filter on purpose: GitHub returns
 *   at most 1,000 runs for a filtered search, and a busy repository has more in a week.
 * - Every request is counted against `maxRequests`. When the budget is used up the reading
 *   stops where it is and says so in `gaps`: a partial analysis that says what it misses is
 *   worth more than none. The order spends the budget on what matters most first: the runs
 *   (failure rates), then event logs (tool figures), then failed jobs (flaky jobs), then logs
 *   (signatures), each newest first.
 * - With a cache, GETs carry `If-None-Match` and a 304 reuses what was kept; a completed job's
 *   classification is kept for good and costs no request at all the next time. A completed
 *   run's jobs never change, so their ETags keep matching; list pages shift whenever a new run
 *   arrives, so theirs match only while nothing new happened (still worth it for a schedule
 *   that runs more often than the repository's CI).
 * - Pages are requested one by one rather than through octokit.paginate, because each page needs
 *   its own conditional header and the reading must be able to stop between any two requests.
 * So requests grow with the runs in the span: one page per 100 runs, one per failed run, one
 * per failed job's log (bounded by `maxLogs`), one per event-log artifact.
 *
 * Nothing here throws for what a repository may simply lack: an expired artifact or log (410),
 * a log GitHub no longer has (404), a corrupt event line: each becomes a gap or a skipped-line
 * count. Errors that make the whole reading pointless (a bad token, no access) are thrown.
 */

const PER_PAGE = 100;
/** Bytes of a job log kept as evidence for its classification. */
const DEFAULT_EVIDENCE_BYTES = 64 * 1024;
/** An events artifact holds one run's JSONL: far below this. */
const DEFAULT_MAX_ARTIFACT_BYTES = 20 * 1024 * 1024;
const MAX_WARNINGS = 20;
const Iso = z.string().datetime({ offset: true });

export const RepositoryHistoryInputSchema = z
  .strictObject({
    owner: z.string().min(1),
    repo: z.string().min(1),
    /** The span read, as ISO times: runs and artifacts created in [since, until]. */
    since: Iso,
    until: Iso,
    /**
     * Failed jobs and logs are read for runs created from here on (default: since). An analysis
     * of a window with a trend passes since = start of the previous window and detailSince =
     * start of the current one, so the older half costs only its list pages.
     */
    detailSince: Iso.optional(),
    /** Requests this reading may send, 304s included. */
    maxRequests: z.number().int().min(1).max(1_000_000),
    /** Read `switchyard-events` artifacts (default true). */
    events: z.boolean().default(true),
    /** Read the recovery status comments' ladder states (default true): the app's recovery steps. */
    recoveryComments: z.boolean().default(true),
    /** Failed jobs' logs to classify, newest first (default 100; 0 reads none). */
    maxLogs: z.number().int().min(0).default(100),
    evidenceBytes: z.number().int().min(1024).default(DEFAULT_EVIDENCE_BYTES),
    maxArtifactBytes: z.number().int().min(1).default(DEFAULT_MAX_ARTIFACT_BYTES),
    /**
     * The workflows whose runs may upload event logs (config: execution.workflow and
     * recovery.workflow), as paths (`.github/workflows/x.yml`) or file names. An events artifact
     * of any other run is left out: see `trustedRun`.
     */
    eventWorkflows: z
      .array(z.string().min(1))
      .min(1)
      .default([...DEFAULT_EVENT_WORKFLOWS]),
  })
  .refine((i) => Date.parse(i.since) <= Date.parse(i.until), {
    path: ["since"],
    message: "since must not be after until",
  });
export type RepositoryHistoryInput = z.input<typeof RepositoryHistoryInputSchema>;

export interface EventLineWarning {
  /** `<artifact name> #<id>/<entry>`. */
  source: string;
  line: number;
  error: string;
}

export interface RepositoryHistory {
  /** owner/name. */
  repository: string;
  since: string;
  until: string;
  /** From the event-log artifacts, oldest artifact first (the order the accumulator wants). */
  events: AnalysisEvent[];
  /** Every run created in [since, until], newest first. */
  runs: CiRun[];
  /** The failed jobs of failed runs (latest attempt) and of re-run runs' earlier attempts. */
  jobs: CiFailedJob[];
  /** What the event logs held: for metrics.json's `input` (files are artifact entries). */
  input: InputFigures;
  /** The recovery status comments read: their markers, and the steps they added to `events`. */
  recovery: { comments: number; markers: number; steps: number; duplicates: number };
  /** The first skipped event lines, with why. */
  warnings: EventLineWarning[];
  /** What is not in the figures and why: budget used up, expired artifacts and logs. */
  gaps: string[];
  /** Requests sent, 304s included. */
  requests: number;
  /** Requests answered 304 from the cache. */
  notModified: number;
  /** True when the budget ran out before everything was read. */
  budgetExhausted: boolean;
}

// ---------------------------------------------------------------------------------------------
// The wire: only the fields read, loosely, so a new field from GitHub never breaks the reading.

const RunWire = z.looseObject({
  id: z.number().int(),
  name: z.string().nullish(),
  path: z.string().nullish(),
  workflow_id: z.number().int().nullish(),
  head_sha: z.string(),
  event: z.string(),
  status: z.string().nullish(),
  conclusion: z.string().nullish(),
  run_attempt: z.number().int().min(1).nullish(),
  created_at: Iso,
  display_title: z.string().nullish(),
});
const RunsPage = z.looseObject({ total_count: z.number().int(), workflow_runs: z.array(RunWire) });

const JobWire = z.looseObject({
  id: z.number().int(),
  run_id: z.number().int(),
  run_attempt: z.number().int().min(1).nullish(),
  name: z.string(),
  conclusion: z.string().nullish(),
  completed_at: Iso.nullish(),
});
const JobsPage = z.looseObject({ total_count: z.number().int(), jobs: z.array(JobWire) });

const ArtifactWire = z.looseObject({
  id: z.number().int(),
  name: z.string(),
  size_in_bytes: z.number().int().min(0),
  expired: z.boolean(),
  created_at: z.string().nullish(),
  workflow_run: z.looseObject({ id: z.number().int().nullish(), head_sha: z.string().nullish() }).nullish(),
});
const ArtifactsPage = z.looseObject({ total_count: z.number().int(), artifacts: z.array(ArtifactWire) });

const CommentWire = z.looseObject({
  id: z.number().int(),
  body: z.string().nullish(),
  issue_url: z.string(),
  updated_at: Iso,
  user: z.looseObject({ login: z.string(), type: z.string() }).nullish(),
});
const CommentsPage = z.array(CommentWire);

// What is kept in the cache, checked again when read back.
const RunOrigin = z.strictObject({ id: z.number().int(), path: z.string().nullable(), event: z.string() });
type RunOrigin = z.infer<typeof RunOrigin>;
const CachedRunsPage = z.strictObject({
  runs: z.array(CiRunSchema),
  /** Every run of the page, in the span or not: where it came from, for the events' trust check. */
  origins: z.array(RunOrigin),
  count: z.number().int(),
});
const CachedJobs = z.strictObject({ jobs: z.array(CiFailedJobSchema), count: z.number().int() });
const CachedClass = z.strictObject({ signature: z.string(), category: z.string() });
const CachedComments = z.strictObject({
  markers: z.array(RecoveryMarkerSchema),
  unreadable: z.number().int(),
  count: z.number().int(),
});

class BudgetExhausted extends Error {}

interface Context {
  octokit: GitHubClient;
  cache: ConditionalCache | undefined;
  owner: string;
  repo: string;
  max: number;
  requests: number;
  notModified: number;
}

function spend(ctx: Context): void {
  if (ctx.requests >= ctx.max) throw new BudgetExhausted();
  ctx.requests++;
}

function headerOf(headers: unknown, name: string): string | null {
  const value = (headers as Record<string, unknown> | undefined)?.[name];
  return typeof value === "string" && value !== "" ? value : null;
}

/**
 * A GET through the cache: with a kept ETag the request is conditional, and a 304 answers with
 * the kept value. `reduce` turns the response into what is kept and returned.
 */
async function cachedGet<T>(
  ctx: Context,
  route: string,
  params: Record<string, unknown>,
  reduce: (data: unknown) => T,
  kept: z.ZodType<T>,
  doing: string,
  permission = "actions: read",
): Promise<T> {
  const key = `${route} ${JSON.stringify(params)}`;
  const entry = ctx.cache?.get(key);
  const cached = entry && entry.etag !== null ? kept.safeParse(entry.value) : undefined;
  const etag = cached?.success ? entry!.etag : null;
  spend(ctx);
  try {
    const response = await ctx.octokit.request(route, {
      owner: ctx.owner,
      repo: ctx.repo,
      ...params,
      ...(etag !== null ? { headers: { "if-none-match": etag } } : {}),
    });
    const value = reduce(response.data);
    const newTag = headerOf(response.headers, "etag");
    if (ctx.cache && newTag !== null) ctx.cache.set(key, { etag: newTag, value });
    return value;
  } catch (error) {
    if (statusOf(error) === 304 && cached?.success) {
      ctx.notModified++;
      return cached.data;
    }
    if (error instanceof GitHubApiError) throw error;
    throw gitHubApiError(error, { doing, permission });
  }
}

function wireError(what: string, error: z.ZodError): GitHubApiError {
  const issue = error.issues[0];
  const where = issue ? ` (${issue.path.join(".") || "(root)"}: ${issue.message})` : "";
  return new GitHubApiError(`GitHub's ${what} is not what its API documents${where}`, null);
}

function toRun(r: z.infer<typeof RunWire>): CiRun {
  return {
    id: r.id,
    workflow: r.name || r.path || `workflow ${r.workflow_id ?? "?"}`,
    workflow_id: r.workflow_id ?? null,
    head_sha: r.head_sha,
    event: r.event,
    status: r.status ?? null,
    conclusion: r.conclusion ?? null,
    run_attempt: r.run_attempt ?? 1,
    created_at: r.created_at,
    display_title: r.display_title ?? null,
  };
}

// ---------------------------------------------------------------------------------------------

export async function readRepositoryHistory(
  octokit: GitHubClient,
  input: RepositoryHistoryInput & { cache?: ConditionalCache },
): Promise<RepositoryHistory> {
  const { cache, ...rest } = input;
  const parsed = RepositoryHistoryInputSchema.safeParse(rest);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(
      `cannot read the repository's history: ${issue.path.join(".") || "(input)"}: ${issue.message}`,
    );
  }
  const i = parsed.data;
  const ctx: Context = {
    octokit,
    cache,
    owner: i.owner,
    repo: i.repo,
    max: i.maxRequests,
    requests: 0,
    notModified: 0,
  };
  const since = Date.parse(i.since);
  const until = Date.parse(i.until);
  const detailSince = i.detailSince !== undefined ? Date.parse(i.detailSince) : since;
  const gaps: string[] = [];
  const budgetGap = (what: string) =>
    `${what} (the budget of ${i.maxRequests} requests was used up; raise it or shorten the window)`;
  let budgetExhausted = false;

  // 1. Runs: the backbone of CI health.
  const runs: CiRun[] = [];
  const seen = new Set<number>();
  // Runs that may upload event logs, among every run listed (also the ones just before `since`,
  // whose artifacts can still fall in the span).
  const eventRuns = new Set<number>();
  let reached: string | null = null;
  try {
    for (let page = 1; ; page++) {
      const got = await cachedGet(
        ctx,
        "GET /repos/{owner}/{repo}/actions/runs",
        { per_page: PER_PAGE, page, exclude_pull_requests: true },
        (data) => {
          const list = RunsPage.safeParse(data);
          if (!list.success) throw wireError("list of workflow runs", list.error);
          return {
            runs: list.data.workflow_runs.map(toRun),
            origins: list.data.workflow_runs.map((r) => ({ id: r.id, path: r.path ?? null, event: r.event })),
            count: list.data.workflow_runs.length,
          };
        },
        CachedRunsPage,
        `listing the workflow runs of ${i.owner}/${i.repo}`,
      );
      for (const origin of got.origins) if (trustedRun(origin, i.eventWorkflows)) eventRuns.add(origin.id);
      let older = false;
      for (const run of got.runs) {
        const at = Date.parse(run.created_at);
        reached = run.created_at;
        if (at < since) older = true;
        else if (at <= until && !seen.has(run.id)) {
          seen.add(run.id);
          runs.push(run);
        }
      }
      if (older || got.count < PER_PAGE) break;
    }
  } catch (error) {
    if (!(error instanceof BudgetExhausted)) throw error;
    budgetExhausted = true;
    gaps.push(
      budgetGap(
        `workflow runs: only those created after ${reached ?? i.until} were read, not back to ${i.since}`,
      ),
    );
  }

  // 2. Event logs.
  const stats: ReadStats = { lines: 0, events: 0, skipped: 0, warnings: [] };
  const warnings: EventLineWarning[] = [];
  const batches: { at: string; events: AnalysisEvent[] }[] = [];
  let files = 0;
  if (i.events && !budgetExhausted) {
    const result = await readEventArtifacts(ctx, i, since, until, eventRuns, stats, warnings);
    files = result.files;
    batches.push(...result.batches);
    gaps.push(...result.gaps);
    if (result.exhausted) {
      budgetExhausted = true;
      gaps.push(
        budgetGap(
          result.unread === null
            ? `event logs: the list of ${EVENTS_ARTIFACT} artifacts was not read to the end, so none were read`
            : `event logs: ${result.unread} of the window's ${EVENTS_ARTIFACT} artifacts not read`,
        ),
      );
    }
  } else if (!i.events) {
    gaps.push("event logs: not read (tool and recovery figures need the switchyard-events artifacts)");
  } else {
    gaps.push(budgetGap("event logs: not read"));
  }
  batches.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  let events = batches.flatMap((b) => b.events);

  // 2b. The app's recovery steps, from the recovery status comments' ladder states.
  const recovery = { comments: 0, markers: 0, steps: 0, duplicates: 0 };
  if (i.recoveryComments && !budgetExhausted) {
    const read = await readRecoveryComments(ctx, i.since);
    recovery.comments = read.comments;
    recovery.markers = read.markers.length;
    if (read.unreadable > 0) {
      gaps.push(
        `recovery: ${read.unreadable} recovery ${read.unreadable === 1 ? "comment's" : "comments'"} ` +
          "switchyard:recovery marker could not be read (edited or damaged)",
      );
    }
    if (read.exhausted) {
      budgetExhausted = true;
      gaps.push(budgetGap("recovery: the comments updated in the span were not all read"));
    }
    const added = recoveryMarkerEvents(read.markers, events, { since: i.since, until: i.until });
    recovery.steps = added.events.length;
    recovery.duplicates = added.duplicates;
    if (added.events.length > 0) {
      // Episodes are followed in time order per task: merge by time, stable for equal times.
      events = [...events, ...added.events]
        .map((e, n) => ({ e, n, at: parseTime(e.at) }))
        .sort((a, b) => a.at - b.at || a.n - b.n)
        .map((x) => x.e);
    }
  } else if (!i.recoveryComments) {
    gaps.push(
      "recovery: the recovery status comments were not read (the app's recovery steps are not counted)",
    );
  }

  // 3. Failed jobs of the detailed part, newest first.
  const jobs: CiFailedJob[] = [];
  const detailed = runs.filter(
    (r) =>
      Date.parse(r.created_at) >= detailSince &&
      r.status === "completed" &&
      r.conclusion !== null &&
      (FAILED_CONCLUSIONS.has(r.conclusion) || (r.conclusion === "success" && r.run_attempt > 1)),
  );
  let jobsRead = 0;
  if (!budgetExhausted) {
    try {
      for (const run of detailed) {
        const failed = FAILED_CONCLUSIONS.has(run.conclusion!);
        jobs.push(...(await failedJobs(ctx, run, failed ? run.run_attempt : run.run_attempt - 1)));
        jobsRead++;
      }
    } catch (error) {
      if (!(error instanceof BudgetExhausted)) throw error;
      budgetExhausted = true;
    }
  }
  if (jobsRead < detailed.length) {
    gaps.push(
      budgetGap(
        `failed jobs: ${detailed.length - jobsRead} of ${detailed.length} failed or re-run runs not read, ` +
          "so their flaky jobs count under the workflow's name",
      ),
    );
  }

  // 4. Logs -> signatures, newest first; only the latest attempt's failures, which are the run's verdict.
  const attempts = new Map(runs.map((r) => [r.id, r.run_attempt]));
  const latestFailures = jobs.filter((j) => j.run_attempt === attempts.get(j.run_id));
  const toClassify = latestFailures.slice(0, i.maxLogs);
  let logsRead = 0;
  let gone = 0;
  if (!budgetExhausted) {
    try {
      for (const job of toClassify) {
        const verdict = await classifyJob(ctx, job, i.evidenceBytes);
        if (verdict === null) gone++;
        else {
          job.signature = verdict.signature;
          job.category = verdict.category;
        }
        logsRead++;
      }
    } catch (error) {
      if (!(error instanceof BudgetExhausted)) throw error;
      budgetExhausted = true;
    }
  }
  if (logsRead < toClassify.length) {
    const left = toClassify.length - logsRead;
    gaps.push(budgetGap(`job logs: ${left} failed ${left === 1 ? "job's log" : "jobs' logs"} not read`));
  }
  if (gone > 0) {
    gaps.push(
      `job logs: ${gone} failed ${gone === 1 ? "job's log is" : "jobs' logs are"} gone (expired or deleted)`,
    );
  }
  if (latestFailures.length > i.maxLogs) {
    gaps.push(
      `job logs: only the newest ${i.maxLogs} of ${latestFailures.length} failed jobs were classified (maxLogs)`,
    );
  }

  return {
    repository: `${i.owner}/${i.repo}`,
    since: i.since,
    until: i.until,
    events,
    runs,
    jobs,
    input: { files, lines: stats.lines, events: stats.events, skipped: stats.skipped },
    recovery,
    warnings,
    gaps,
    requests: ctx.requests,
    notModified: ctx.notModified,
    budgetExhausted,
  };
}

const ISSUE_NUMBER = /\/issues\/(\d+)$/;

/**
 * The ladder states in the recovery status comments updated since `since`: one paginated list
 * of the repository's issue comments (`since` filters on the update time, which any step
 * writing the comment moves), newest first, so a budget that runs out keeps the newest.
 * Checking each PR's check runs or comments instead costs a request per PR.
 *
 * Only comments by a bot account count (the app, or github-actions for the Action alone): a
 * marker in a person's comment is text. A state must name the repository and the PR it is on,
 * so a marker copied to another PR by a bot that quotes text does not count twice.
 */
async function readRecoveryComments(
  ctx: Context,
  since: string,
): Promise<{ markers: RecoveryMarker[]; comments: number; unreadable: number; exhausted: boolean }> {
  const markers: RecoveryMarker[] = [];
  let comments = 0;
  let unreadable = 0;
  const repository = `${ctx.owner}/${ctx.repo}`.toLowerCase();
  try {
    for (let page = 1; ; page++) {
      const got = await cachedGet(
        ctx,
        "GET /repos/{owner}/{repo}/issues/comments",
        { sort: "updated", direction: "desc", since, per_page: PER_PAGE, page },
        (data) => {
          const list = CommentsPage.safeParse(data);
          if (!list.success) throw wireError("list of issue comments", list.error);
          const kept: RecoveryMarker[] = [];
          let bad = 0;
          for (const c of list.data) {
            if (c.user?.type !== "Bot" || !c.body?.includes("switchyard:recovery")) continue;
            const issue = ISSUE_NUMBER.exec(c.issue_url)?.[1];
            if (issue === undefined) continue;
            const read = readMarker(c.body, "recovery", LadderStateSchema);
            if (read === null) continue;
            if (!read.ok) {
              bad++;
              continue;
            }
            if (read.value.key.toLowerCase() !== `${repository}#${issue}`) continue;
            kept.push({ issue_number: Number(issue), updated_at: c.updated_at, state: read.value });
          }
          return { markers: kept, unreadable: bad, count: list.data.length };
        },
        CachedComments,
        `listing the issue comments of ${ctx.owner}/${ctx.repo}`,
        "issues: read",
      );
      comments += got.count;
      markers.push(...got.markers);
      unreadable += got.unreadable;
      if (got.count < PER_PAGE) break;
    }
  } catch (error) {
    if (!(error instanceof BudgetExhausted)) throw error;
    return { markers, comments, unreadable, exhausted: true };
  }
  return { markers, comments, unreadable, exhausted: false };
}

async function failedJobs(ctx: Context, run: CiRun, attempt: number): Promise<CiFailedJob[]> {
  const latest = attempt === run.run_attempt;
  const out: CiFailedJob[] = [];
  for (let page = 1; ; page++) {
    const got = await cachedGet(
      ctx,
      latest
        ? "GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs"
        : "GET /repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt_number}/jobs",
      latest
        ? { run_id: run.id, filter: "latest", per_page: PER_PAGE, page }
        : { run_id: run.id, attempt_number: attempt, per_page: PER_PAGE, page },
      (data) => {
        const list = JobsPage.safeParse(data);
        if (!list.success) throw wireError("list of a run's jobs", list.error);
        const failed = list.data.jobs
          .filter((j) => j.conclusion != null && FAILED_CONCLUSIONS.has(j.conclusion))
          .map((j): CiFailedJob => ({
            run_id: run.id,
            run_attempt: j.run_attempt ?? attempt,
            job_id: j.id,
            name: j.name,
            completed_at: j.completed_at ?? null,
          }));
        return { jobs: failed, count: list.data.jobs.length };
      },
      CachedJobs,
      `listing the jobs of run ${run.id} in ${ctx.owner}/${ctx.repo}`,
    );
    out.push(...got.jobs.map((j) => ({ ...j })));
    if (got.count < PER_PAGE) break;
  }
  return out;
}

/** The job's signature and category from its log; null when GitHub no longer has the log. */
async function classifyJob(
  ctx: Context,
  job: CiFailedJob,
  evidenceBytes: number,
): Promise<{ signature: string; category: string } | null> {
  const key = `classification ${ctx.owner}/${ctx.repo} job ${job.job_id}`;
  const kept = ctx.cache?.get(key);
  if (kept !== undefined) {
    const value = CachedClass.safeParse(kept.value);
    if (value.success) return value.data;
  }
  spend(ctx);
  let body: unknown;
  try {
    ({ data: body } = await ctx.octokit.request("GET /repos/{owner}/{repo}/actions/jobs/{job_id}/logs", {
      owner: ctx.owner,
      repo: ctx.repo,
      job_id: job.job_id,
      // Streamed into the evidence collector: a 50 MB log is never held whole.
      request: { parseSuccessResponseBody: false },
    }));
  } catch (error) {
    const status = statusOf(error);
    if (status === 410 || status === 404) return null;
    throw gitHubApiError(error, {
      doing: `downloading the log of job ${job.job_id} in ${ctx.owner}/${ctx.repo}`,
      permission: "actions: read",
    });
  }
  const { classification: verdict } = await classifyJobLog(chunksOf(body), {
    maxBytes: evidenceBytes,
    source: `${ctx.owner}/${ctx.repo} job ${job.job_id} (${job.name})`,
  });
  const value = { signature: verdict.signature, category: verdict.category };
  // A completed job's log never changes: its classification is kept without an ETag.
  ctx.cache?.set(key, { etag: null, value });
  return value;
}

async function* chunksOf(body: unknown): AsyncIterable<string | Uint8Array> {
  if (typeof body === "string") yield body;
  else if (body instanceof ArrayBuffer) yield new Uint8Array(body);
  else if (body instanceof Uint8Array) yield body;
  else if (body instanceof ReadableStream) {
    const reader = (body as ReadableStream<Uint8Array>).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield value;
      }
    } finally {
      reader.releaseLock();
    }
  }
}

interface ArtifactsResult {
  files: number;
  batches: { at: string; events: AnalysisEvent[] }[];
  gaps: string[];
  exhausted: boolean;
  /** Artifacts left unread when the budget ran out while downloading; null while listing. */
  unread: number | null;
}

async function readEventArtifacts(
  ctx: Context,
  i: z.output<typeof RepositoryHistoryInputSchema>,
  since: number,
  until: number,
  eventRuns: ReadonlySet<number>,
  stats: ReadStats,
  warnings: EventLineWarning[],
): Promise<ArtifactsResult> {
  const result: ArtifactsResult = { files: 0, batches: [], gaps: [], exhausted: false, unread: 0 };
  const found: ArtifactInfo[] = [];
  try {
    for (let page = 1; ; page++) {
      const got = await cachedGet(
        ctx,
        "GET /repos/{owner}/{repo}/actions/artifacts",
        { name: EVENTS_ARTIFACT, per_page: PER_PAGE, page },
        (data) => {
          const list = ArtifactsPage.safeParse(data);
          if (!list.success) throw wireError("list of artifacts", list.error);
          return {
            artifacts: list.data.artifacts.map((a): ArtifactInfo => ({
              id: a.id,
              name: a.name,
              size_in_bytes: a.size_in_bytes,
              expired: a.expired,
              created_at: a.created_at ?? null,
              workflow_run:
                a.workflow_run?.id != null && a.workflow_run.head_sha != null
                  ? { id: a.workflow_run.id, head_sha: a.workflow_run.head_sha }
                  : null,
            })),
            count: list.data.artifacts.length,
          };
        },
        z
          .strictObject({ artifacts: z.array(z.unknown()), count: z.number().int() })
          .transform((v) => ({ artifacts: v.artifacts as ArtifactInfo[], count: v.count })),
        `listing the ${EVENTS_ARTIFACT} artifacts of ${ctx.owner}/${ctx.repo}`,
      );
      let older = false;
      for (const a of got.artifacts) {
        const at = a.created_at === null ? NaN : Date.parse(a.created_at);
        if (at < since) older = true;
        else if (a.name === EVENTS_ARTIFACT && !(at > until)) found.push(a);
      }
      if (older || got.count < PER_PAGE) break;
    }
  } catch (error) {
    if (!(error instanceof BudgetExhausted)) throw error;
    result.exhausted = true;
    result.unread = null;
    return result;
  }

  let expired = 0;
  let refused = 0;
  let firstRefusal = "";
  const untrusted = found.filter((a) => a.workflow_run === null || !eventRuns.has(a.workflow_run.id));
  if (untrusted.length > 0) {
    result.gaps.push(
      `event logs: ${untrusted.length} ${EVENTS_ARTIFACT} ${untrusted.length === 1 ? "artifact" : "artifacts"} ` +
        `left out: not uploaded by a dispatched or workflow_run run of ${i.eventWorkflows.join(" or ")} ` +
        `created in the span read (first: artifact ${untrusted[0]!.id}` +
        `${untrusted[0]!.workflow_run ? ` of run ${untrusted[0]!.workflow_run.id}` : ""})`,
    );
  }
  const trusted = found.filter((a) => !untrusted.includes(a));
  for (let n = 0; n < trusted.length; n++) {
    const artifact = trusted[n]!;
    if (artifact.expired) {
      expired++;
      continue;
    }
    let entries: Map<string, Uint8Array>;
    try {
      spend(ctx);
      entries = await downloadArtifact(ctx.octokit, {
        owner: ctx.owner,
        repo: ctx.repo,
        artifact,
        maxBytes: i.maxArtifactBytes,
      });
    } catch (error) {
      if (error instanceof BudgetExhausted) {
        result.exhausted = true;
        result.unread = trusted.length - n;
        break;
      }
      if (error instanceof ArtifactGoneError) {
        expired++;
        continue;
      }
      if (error instanceof ArtifactRejectedError) {
        refused++;
        firstRefusal ||= error.message;
        continue;
      }
      throw error;
    }
    const events: AnalysisEvent[] = [];
    for (const [name, bytes] of [...entries].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      if (!name.endsWith(".jsonl")) continue;
      result.files++;
      const own: ReadStats = { lines: 0, events: 0, skipped: 0, warnings: [] };
      const reader = readEvents([bytes], own, { maxWarnings: Math.max(0, MAX_WARNINGS - warnings.length) });
      for await (const event of reader) events.push(event);
      stats.lines += own.lines;
      stats.events += own.events;
      stats.skipped += own.skipped;
      for (const w of own.warnings) {
        warnings.push({ source: `${artifact.name} #${artifact.id}/${name}`, line: w.line, error: w.error });
      }
    }
    result.batches.push({ at: artifact.created_at ?? "", events });
  }
  if (expired > 0) {
    result.gaps.push(
      `event logs: ${expired} ${EVENTS_ARTIFACT} ${expired === 1 ? "artifact has" : "artifacts have"} expired ` +
        "(artifacts are kept for the repository's retention period)",
    );
  }
  if (refused > 0) {
    result.gaps.push(
      `event logs: ${refused} ${EVENTS_ARTIFACT} ${refused === 1 ? "artifact was" : "artifacts were"} refused (first: ${firstRefusal})`,
    );
  }
  if (stats.skipped > 0) {
    const first = warnings[0];
    result.gaps.push(
      `event logs: ${stats.skipped} corrupt or truncated ${stats.skipped === 1 ? "line" : "lines"} skipped` +
        (first ? ` (first: ${first.source}:${first.line}, ${first.error})` : ""),
    );
  }
  return result;
}
