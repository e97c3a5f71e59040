import { z } from "zod";
import { InputError } from "../errors.js";
import { MetricsSchema, type Metrics } from "../metrics/schema.js";
import { MetricsAccumulator, parseTime, type AnalysisEvent } from "./aggregate.js";
import { buildMetrics, MAX_LISTED, type InputFigures } from "./metrics-file.js";

/**
 * CI health from the repository's workflow runs: failure rate per workflow, flaky jobs and the top
 * error signatures of failed jobs, for the window and the one before it. Pure: the runs and the
 * failed jobs come in as data (src/github/analysis-source.ts reads them from the API), the
 * window's end as an argument.
 *
 * What counts, and why:
 * - A run counts once, with the conclusion of its latest attempt, in the window its creation time
 *   falls in: a run re-run into the next window is still the run people pushed for.
 * - Failure rate: failures over runs with a verdict. Failures are `failure`, `timed_out` and
 *   `startup_failure`; `success` is the other verdict. Cancelled, skipped, neutral, stale and
 *   action_required runs say nothing about the code and are left out, as are runs not completed.
 * - Flaky: a job that failed and then passed on the same commit. Two shapes show it: a run whose
 *   latest attempt succeeded while an earlier attempt of it had failed jobs (a re-run), and a
 *   failed run followed by a successful run of the same workflow on the same head SHA. Each failed
 *   job of the failed attempt is one flip of `workflow / job`; when its jobs are not known (the
 *   request budget ran out first), the flip is the workflow's.
 * - Signatures: one count per failed job whose log was classified, at the job's completion time.
 */

export const FAILED_CONCLUSIONS: ReadonlySet<string> = new Set(["failure", "timed_out", "startup_failure"]);

const Iso = z.string().datetime({ offset: true });

export const CiRunSchema = z.strictObject({
  id: z.number().int().positive(),
  /** The workflow's name (or its file path when it has no name). */
  workflow: z.string().min(1),
  workflow_id: z.number().int().nullable(),
  head_sha: z.string().min(1),
  event: z.string(),
  status: z.string().nullable(),
  /** The latest attempt's conclusion; null while it runs. */
  conclusion: z.string().nullable(),
  run_attempt: z.number().int().min(1),
  created_at: Iso,
  display_title: z.string().nullable(),
});
export type CiRun = z.infer<typeof CiRunSchema>;

export const CiFailedJobSchema = z.strictObject({
  run_id: z.number().int().positive(),
  /** The attempt the job ran in: an earlier one than the run's latest means the run was re-run. */
  run_attempt: z.number().int().min(1),
  job_id: z.number().int().positive(),
  name: z.string(),
  completed_at: Iso.nullable(),
  /** From the job's log (classify); absent when the log was not read. */
  signature: z.string().optional(),
  category: z.string().optional(),
});
export type CiFailedJob = z.infer<typeof CiFailedJobSchema>;

export const CiHealthOptionsSchema = z.strictObject({
  now: Iso,
  window_ms: z
    .number()
    .int()
    .positive()
    .max(3650 * 86_400_000),
  /** Rows kept in each list (workflows, flaky jobs, signatures). */
  max_rows: z.number().int().min(1).default(50),
});
export type CiHealthOptions = z.input<typeof CiHealthOptionsSchema>;

export interface WorkflowHealth {
  name: string;
  runs: number;
  failures: number;
  failure_rate: number | null;
  previous: { runs: number; failures: number; failure_rate: number | null };
}

export interface FlakyJob {
  /** `workflow / job`, or the workflow alone when its failed jobs are not known. */
  name: string;
  flips: number;
  first_seen: string;
  last_seen: string;
}

export interface CiSignature {
  signature: string;
  category: string;
  count: number;
  first_seen: string;
  last_seen: string;
  /** The same signature's count in the window before: the trend. */
  previous_count: number;
}

export interface CiHealth {
  window: { from: string; to: string; previous: { from: string; to: string } };
  /** Runs with a verdict, in this window and the one before. */
  runs: number;
  failures: number;
  previous: { runs: number; failures: number; flips: number };
  /** Busiest first, then by name. */
  workflows: WorkflowHealth[];
  flips: number;
  flaky: FlakyJob[];
  /** Most frequent first. */
  signatures: CiSignature[];
  /** Runs created outside both windows, in progress, or without a verdict. */
  ignored: number;
  notes: string[];
}

function invalid(what: string, error: z.ZodError): InputError {
  const issue = error.issues[0];
  return new InputError(
    `invalid ${what}: ${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "invalid"}`,
  );
}

const round4 = (x: number) => Math.round(x * 10_000) / 10_000;
const rate = (failures: number, runs: number) => (runs > 0 ? round4(failures / runs) : null);

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

interface Span {
  first: number;
  last: number;
}

function widen(map: Map<string, Span & { count: number }>, key: string, at: number): void {
  const v = map.get(key);
  if (v === undefined) map.set(key, { first: at, last: at, count: 1 });
  else {
    v.count++;
    v.first = Math.min(v.first, at);
    v.last = Math.max(v.last, at);
  }
}

export function analyzeCiHealth(
  runs: readonly CiRun[],
  jobs: readonly CiFailedJob[],
  options: CiHealthOptions,
): CiHealth {
  const opts = CiHealthOptionsSchema.safeParse(options);
  if (!opts.success) throw invalid("CI health options", opts.error);
  const parsedRuns = z.array(CiRunSchema).safeParse(runs);
  if (!parsedRuns.success) throw invalid("workflow runs", parsedRuns.error);
  const parsedJobs = z.array(CiFailedJobSchema).safeParse(jobs);
  if (!parsedJobs.success) throw invalid("failed jobs", parsedJobs.error);
  const { now, window_ms, max_rows } = opts.data;
  const to = Date.parse(now);
  const from = to - window_ms;
  const prevFrom = from - window_ms;
  const windowOf = (at: number): "current" | "previous" | null =>
    at >= from && at <= to ? "current" : at >= prevFrom && at < from ? "previous" : null;

  // A run listed twice (pages shift while new runs arrive) counts once.
  const byId = new Map<number, CiRun>();
  for (const run of parsedRuns.data) byId.set(run.id, run);
  const jobsByRun = new Map<number, CiFailedJob[]>();
  const seenJobs = new Set<string>();
  for (const job of parsedJobs.data) {
    const key = `${job.job_id}#${job.run_attempt}`;
    if (seenJobs.has(key)) continue;
    seenJobs.add(key);
    const list = jobsByRun.get(job.run_id) ?? [];
    list.push(job);
    jobsByRun.set(job.run_id, list);
  }

  const workflows = new Map<string, WorkflowHealth>();
  const totals = {
    current: { runs: 0, failures: 0, flips: 0 },
    previous: { runs: 0, failures: 0, flips: 0 },
  };
  let ignored = 0;
  const decided: { run: CiRun; at: number; failed: boolean; window: "current" | "previous" }[] = [];
  for (const run of byId.values()) {
    const at = parseTime(run.created_at);
    const window = windowOf(at);
    const verdict =
      run.status === "completed" && run.conclusion !== null
        ? FAILED_CONCLUSIONS.has(run.conclusion)
          ? "failed"
          : run.conclusion === "success"
            ? "passed"
            : null
        : null;
    if (window === null || verdict === null) {
      ignored++;
      continue;
    }
    const failed = verdict === "failed";
    decided.push({ run, at, failed, window });
    let row = workflows.get(run.workflow);
    if (row === undefined) {
      row = {
        name: run.workflow,
        runs: 0,
        failures: 0,
        failure_rate: null,
        previous: { runs: 0, failures: 0, failure_rate: null },
      };
      workflows.set(run.workflow, row);
    }
    const target = window === "current" ? row : row.previous;
    target.runs++;
    if (failed) target.failures++;
    totals[window].runs++;
    if (failed) totals[window].failures++;
  }
  for (const row of workflows.values()) {
    row.failure_rate = rate(row.failures, row.runs);
    row.previous.failure_rate = rate(row.previous.failures, row.previous.runs);
  }

  // Flips, each at the time the job passed (the successful run's creation).
  const flaky = new Map<string, Span & { count: number }>();
  const flip = (workflow: string, failedJobs: readonly CiFailedJob[], at: number, window: string) => {
    const names =
      failedJobs.length > 0 ? [...new Set(failedJobs.map((j) => `${workflow} / ${j.name}`))] : [workflow];
    for (const name of names) {
      if (window === "current") widen(flaky, name, at);
      totals[window === "current" ? "current" : "previous"].flips++;
    }
  };
  for (const { run, at, failed, window } of decided) {
    if (failed || run.run_attempt < 2) continue;
    const earlier = (jobsByRun.get(run.id) ?? []).filter((j) => j.run_attempt < run.run_attempt);
    if (earlier.length > 0) flip(run.workflow, earlier, at, window);
  }
  const bySha = new Map<string, typeof decided>();
  for (const d of decided) {
    const key = `${d.run.workflow_id ?? d.run.workflow}\n${d.run.head_sha}`;
    const list = bySha.get(key) ?? [];
    list.push(d);
    bySha.set(key, list);
  }
  for (const group of bySha.values()) {
    if (group.length < 2) continue;
    group.sort((a, b) => a.at - b.at || a.run.id - b.run.id);
    let pending: (typeof decided)[number] | null = null;
    for (const d of group) {
      if (d.failed) pending ??= d;
      else if (pending !== null) {
        const failedJobs = (jobsByRun.get(pending.run.id) ?? []).filter(
          (j) => j.run_attempt === pending!.run.run_attempt,
        );
        flip(d.run.workflow, failedJobs, d.at, d.window);
        pending = null;
      }
    }
  }

  const sightings: SignatureSighting[] = [];
  let unclassified = 0;
  for (const [runId, list] of jobsByRun) {
    if (!byId.has(runId)) continue;
    for (const job of list) {
      if (job.signature === undefined) {
        unclassified++;
        continue;
      }
      sightings.push({
        signature: job.signature,
        category: job.category ?? "unknown",
        at: job.completed_at ?? byId.get(runId)!.created_at,
      });
    }
  }
  const tallied = tally(sightings, windowOf, max_rows);

  const iso = (ms: number) => new Date(ms).toISOString();
  const notes: string[] = [];
  if (unclassified > 0) {
    notes.push(
      `error signatures: ${unclassified} failed ${unclassified === 1 ? "job" : "jobs"} without a classified log`,
    );
  }
  return {
    window: { from: iso(from), to: iso(to), previous: { from: iso(prevFrom), to: iso(from) } },
    runs: totals.current.runs,
    failures: totals.current.failures,
    previous: totals.previous,
    workflows: [...workflows.values()]
      .sort((a, b) => b.runs - a.runs || compare(a.name, b.name))
      .slice(0, max_rows),
    flips: totals.current.flips,
    flaky: [...flaky]
      .sort((a, b) => b[1].count - a[1].count || compare(a[0], b[0]))
      .slice(0, max_rows)
      .map(([name, v]) => ({ name, flips: v.count, first_seen: iso(v.first), last_seen: iso(v.last) })),
    signatures: tallied.signatures,
    ignored,
    notes,
  };
}

/**
 * One failed job's log reduced to its signature, at the time it failed: a job's completion time
 * for the API, a log file's first timestamp (else its modification time) for local logs.
 */
export const SignatureSightingSchema = z.strictObject({
  signature: z.string().min(1),
  category: z.string().min(1),
  at: Iso,
});
export type SignatureSighting = z.infer<typeof SignatureSightingSchema>;

export interface SignatureTally {
  /** Sightings in the window, most frequent first, with the window before's count as the trend. */
  signatures: CiSignature[];
  inWindow: number;
  inPreviousWindow: number;
  outsideWindows: number;
}

/**
 * Counts sightings per signature over the window ending at `now` (and the one before it, for
 * the trend): what analyzeCiHealth does with classified jobs, for logs read any other way.
 */
export function countSignatures(
  sightings: readonly SignatureSighting[],
  options: CiHealthOptions,
): SignatureTally {
  const opts = CiHealthOptionsSchema.safeParse(options);
  if (!opts.success) throw invalid("signature options", opts.error);
  const parsed = z.array(SignatureSightingSchema).safeParse(sightings);
  if (!parsed.success) throw invalid("signature sightings", parsed.error);
  const to = Date.parse(opts.data.now);
  const from = to - opts.data.window_ms;
  const prevFrom = from - opts.data.window_ms;
  const windowOf = (at: number): "current" | "previous" | null =>
    at >= from && at <= to ? "current" : at >= prevFrom && at < from ? "previous" : null;
  return tally(parsed.data, windowOf, opts.data.max_rows);
}

function tally(
  sightings: readonly SignatureSighting[],
  windowOf: (at: number) => "current" | "previous" | null,
  maxRows: number,
): SignatureTally {
  const current = new Map<string, Span & { count: number; category: string }>();
  const previous = new Map<string, number>();
  const counts = { current: 0, previous: 0, outside: 0 };
  for (const s of sightings) {
    const at = parseTime(s.at);
    const window = windowOf(at);
    if (window === null) {
      counts.outside++;
    } else if (window === "previous") {
      counts.previous++;
      previous.set(s.signature, (previous.get(s.signature) ?? 0) + 1);
    } else {
      counts.current++;
      const v = current.get(s.signature);
      if (v === undefined) current.set(s.signature, { first: at, last: at, count: 1, category: s.category });
      else {
        v.count++;
        v.first = Math.min(v.first, at);
        v.last = Math.max(v.last, at);
      }
    }
  }
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    signatures: [...current]
      .sort((a, b) => b[1].count - a[1].count || compare(a[0], b[0]))
      .slice(0, maxRows)
      .map(([signature, v]) => ({
        signature,
        category: v.category,
        count: v.count,
        first_seen: iso(v.first),
        last_seen: iso(v.last),
        previous_count: previous.get(signature) ?? 0,
      })),
    inWindow: counts.current,
    inPreviousWindow: counts.previous,
    outsideWindows: counts.outside,
  };
}

/** Signatures merged into metrics.json's: the same signature's counts added, first and last seen widened. */
function mergeSignatures(known: Metrics["signatures"], added: readonly CiSignature[]): Metrics["signatures"] {
  const signatures = new Map(known.map((s) => [s.signature, { ...s }]));
  for (const s of added) {
    const row = signatures.get(s.signature);
    if (row === undefined) {
      signatures.set(s.signature, {
        signature: s.signature,
        category: s.category,
        count: s.count,
        first_seen: s.first_seen,
        last_seen: s.last_seen,
      });
    } else {
      row.count += s.count;
      if (Date.parse(s.first_seen) < Date.parse(row.first_seen)) row.first_seen = s.first_seen;
      if (Date.parse(s.last_seen) > Date.parse(row.last_seen)) row.last_seen = s.last_seen;
    }
  }
  return [...signatures.values()]
    .sort((a, b) => b.count - a.count || compare(a.signature, b.signature))
    .slice(0, MAX_LISTED);
}

function validMetrics(merged: Metrics, what: string): Metrics {
  const parsed = MetricsSchema.safeParse(merged);
  if (!parsed.success) {
    // Both inputs were validated when they were built: a failure here is a bug.
    throw new Error(
      `${what} made metrics that do not match MetricsSchema: ${parsed.error.issues[0]?.message}`,
    );
  }
  return parsed.data;
}

/** metrics.json with error signatures from job logs added to the ones the event logs gave. */
export function withSignatures(
  metrics: Metrics,
  signatures: readonly CiSignature[],
  gaps: readonly string[] = [],
): Metrics {
  return validMetrics(
    {
      ...metrics,
      signatures: mergeSignatures(metrics.signatures, signatures),
      gaps: [...metrics.gaps, ...gaps],
    },
    "job log signatures",
  );
}

/**
 * metrics.json with CI health in it: the workflows table filled, flaky jobs and CI error
 * signatures merged with the ones the event logs gave (same name or signature: counts added,
 * first and last seen widened). The result is validated against MetricsSchema.
 */
export function withCiHealth(metrics: Metrics, health: CiHealth): Metrics {
  const flaky = new Map(metrics.flaky_tests.map((f) => [f.name, f.flips]));
  for (const f of health.flaky) flaky.set(f.name, (flaky.get(f.name) ?? 0) + f.flips);
  return validMetrics(
    {
      ...metrics,
      workflows: health.workflows.map((w) => ({
        name: w.name,
        runs: w.runs,
        failures: w.failures,
        failure_rate: w.failure_rate,
        previous: { ...w.previous },
      })),
      flaky_tests: [...flaky]
        .sort((a, b) => b[1] - a[1] || compare(a[0], b[0]))
        .slice(0, MAX_LISTED)
        .map(([name, flips]) => ({ name, flips })),
      signatures: mergeSignatures(metrics.signatures, health.signatures),
      gaps: [...metrics.gaps, ...health.notes],
    },
    "CI health",
  );
}

export interface RepositoryAnalysisInput {
  /** owner/name. */
  repository: string;
  /** Oldest first within each task, as the accumulator wants. */
  events: Iterable<AnalysisEvent>;
  runs: readonly CiRun[];
  jobs: readonly CiFailedJob[];
  input: InputFigures;
  /** Recovery status comments whose ladder state was read; their steps are among `events`. */
  recovery?: { markers: number };
  /** What the reading could not cover (budget, expired artifacts and logs). */
  gaps: readonly string[];
}

export interface RepositoryAnalysis {
  metrics: Metrics;
  health: CiHealth;
}

/**
 * The whole analysis of a repository read through the API (readRepositoryHistory's answer):
 * the event logs through the accumulator, the runs through analyzeCiHealth, one metrics.json.
 */
export function analyzeRepository(
  source: RepositoryAnalysisInput,
  options: { now: string; window_ms: number; generatedAt?: string },
): RepositoryAnalysis {
  const accumulator = new MetricsAccumulator({ now: options.now, window_ms: options.window_ms });
  for (const event of source.events) accumulator.add(event);
  const health = analyzeCiHealth(source.runs, source.jobs, {
    now: options.now,
    window_ms: options.window_ms,
  });
  const metrics = buildMetrics(accumulator.result(), {
    repository: source.repository,
    input: {
      ...source.input,
      ...(source.recovery !== undefined ? { recovery_markers: source.recovery.markers } : {}),
    },
    gaps: source.gaps,
    ...(options.generatedAt !== undefined ? { generatedAt: options.generatedAt } : {}),
  });
  return { metrics: withCiHealth(metrics, health), health };
}
