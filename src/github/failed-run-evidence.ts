import { z } from "zod";
import { InputError } from "../core/errors.js";
import { parseJUnitFailures } from "../core/recovery/junit.js";
import type { RuleSet } from "../core/recovery/rules.js";
import type { Annotation, Evidence, Excerpt, TestFailure } from "../core/recovery/schema.js";
import { DEFAULT_EVIDENCE_BYTES, EvidenceCollector } from "../runner/evidence.js";
import { ArtifactGoneError, downloadArtifact, listRunArtifacts, type ArtifactInfo } from "./artifacts.js";
import { GitHubApiError, apiErrorText, gitHubApiError, statusOf } from "./errors.js";
import type { GitHubClient } from "./octokit.js";

/**
 * The evidence of a failed workflow run, read from the Actions API: which jobs and steps failed,
 * each failed job's log reduced to what explains the failure, the jobs' check-run annotations
 * (`path:line`), and failing test cases from JUnit XML the workflow uploaded as artifacts.
 *
 * Everything read here was written by the failed run, so none of it is trusted: logs are streamed
 * through the evidence collector (bounded memory whatever their size, binary data and cut lines
 * noted), downloads stop at a byte cap, and artifacts are size-checked before they are fetched.
 * Anything that cannot be read — a log gone after the retention period (410), a missing log, an
 * artifact too large — becomes a `gap`, a sentence for the report, never an exception: a
 * recovery with part of its evidence is better than no recovery, and the report says what is
 * missing.
 */

/** Failed jobs whose logs are read; a run with more is usually one root cause repeated. */
export const MAX_FAILED_JOBS = 5;
/** Bytes of one job log read before the rest is skipped (the collector keeps memory bounded). */
export const DEFAULT_MAX_LOG_BYTES = 64 * 1024 * 1024;
/** Annotations kept per job. */
export const MAX_ANNOTATIONS_PER_JOB = 50;
/** JUnit artifacts opened, their size cap, and failing tests kept. */
export const MAX_JUNIT_ARTIFACTS = 3;
export const MAX_JUNIT_ARTIFACT_BYTES = 10 * 1024 * 1024;
export const MAX_TESTS = 100;
/** Artifact names that hold JUnit reports by convention. */
export const JUNIT_ARTIFACT_RE = /junit|test[-_ ]?(?:results?|reports?)|surefire/i;

const JOB_CONCLUSIONS_FAILED = ["failure", "timed_out"];

export interface GatherRunEvidenceInput {
  owner: string;
  repo: string;
  run_id: number;
  /** Cap on the evidence's kept text, shared by the failed jobs (default 64 KiB). */
  maxBytes?: number;
  /** Bytes read of each job log (default 64 MiB). */
  maxLogBytes?: number;
  /** The repository's compiled rules (compileRules), so its own patterns are kept as evidence. */
  rules?: RuleSet;
  /** Whether to look for JUnit artifacts (default true). */
  junit?: boolean;
}

export interface FailedJob {
  id: number;
  name: string;
  conclusion: string;
  /** Names of the steps that failed, in order. */
  failed_steps: string[];
  html_url: string | null;
}

export interface RunEvidence {
  evidence: Evidence;
  /** Sentences saying what could not be read, for the report. */
  gaps: string[];
  failed_jobs: FailedJob[];
}

const InputSchema = z.strictObject({
  owner: z.string().min(1),
  repo: z.string().min(1),
  run_id: z.number().int().positive(),
  maxBytes: z
    .number()
    .int()
    .min(1024)
    .max(16 * 1024 * 1024)
    .optional(),
  maxLogBytes: z
    .number()
    .int()
    .min(1)
    .max(1024 * 1024 * 1024)
    .optional(),
  rules: z.unknown().optional(),
  junit: z.boolean().optional(),
});

const JobsSchema = z.looseObject({
  total_count: z.number().int().min(0),
  jobs: z.array(
    z.looseObject({
      id: z.number().int(),
      name: z.string(),
      conclusion: z.string().nullable(),
      html_url: z.string().nullish(),
      steps: z
        .array(z.looseObject({ name: z.string(), conclusion: z.string().nullable(), number: z.number() }))
        .nullish(),
    }),
  ),
});

const AnnotationsSchema = z.array(
  z.looseObject({
    path: z.string(),
    start_line: z.number().int().nullish(),
    annotation_level: z.string().nullish(),
    message: z.string().nullish(),
    title: z.string().nullish(),
  }),
);

/**
 * Gathers the evidence of run `run_id` (its latest attempt). Throws InputError on malformed input
 * and GitHubApiError when the run's jobs cannot be listed at all (without them there is nothing
 * to recover from); everything after that degrades into `gaps`.
 */
export async function gatherRunEvidence(
  octokit: GitHubClient,
  input: GatherRunEvidenceInput,
): Promise<RunEvidence> {
  const parsed = InputSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(
      `cannot gather the run's evidence: ${issue.path.join(".") || "(input)"}: ${issue.message}`,
    );
  }
  const i = parsed.data;
  const where = `${i.owner}/${i.repo}`;
  const gaps: string[] = [];
  const jobs = await failedJobs(octokit, i.owner, i.repo, i.run_id);
  const failed = jobs.slice(0, MAX_FAILED_JOBS);
  if (jobs.length === 0) gaps.push(`run ${i.run_id} has no failed job: there is no log to read`);
  if (jobs.length > MAX_FAILED_JOBS) {
    gaps.push(`${jobs.length} jobs failed; the logs of the first ${MAX_FAILED_JOBS} were read`);
  }

  const budget = i.maxBytes ?? DEFAULT_EVIDENCE_BYTES;
  const perJob = Math.max(1024, Math.floor(budget / Math.max(1, failed.length)));
  const parts: { job: FailedJob; evidence: Evidence }[] = [];
  const annotations: Annotation[] = [];
  for (const job of failed) {
    if (job.failed_steps.length === 0) {
      gaps.push(
        `job '${job.name}' ${job.conclusion === "timed_out" ? "timed out" : "failed"} without a failed step ` +
          "(a job-level timeout, a lost runner, or a failed service container)",
      );
    }
    const log = await jobLog(octokit, where, i, job, perJob, gaps);
    if (log) parts.push({ job, evidence: log });
    annotations.push(...(await jobAnnotations(octokit, i.owner, i.repo, job, gaps)));
  }

  const tests = i.junit === false ? [] : await junitFailures(octokit, i.owner, i.repo, i.run_id, gaps);
  const evidence = mergeEvidence(`${where} run ${i.run_id}`, parts, perJob, i.rules as RuleSet | undefined);
  evidence.annotations = annotations;
  evidence.tests = tests;
  if (evidence.failed_step === null) {
    const first = failed.find((j) => j.failed_steps.length > 0);
    if (first) evidence.failed_step = first.failed_steps[0]!;
  }
  return { evidence, gaps, failed_jobs: failed };
}

async function failedJobs(octokit: GitHubClient, owner: string, repo: string, run_id: number) {
  const found: FailedJob[] = [];
  for (let page = 1; page <= 5; page++) {
    let data: unknown;
    try {
      ({ data } = await octokit.request("GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs", {
        owner,
        repo,
        run_id,
        filter: "latest",
        per_page: 100,
        page,
      }));
    } catch (error) {
      throw gitHubApiError(error, {
        doing: `listing the jobs of run ${run_id} in ${owner}/${repo}`,
        permission: "actions: read",
      });
    }
    const list = JobsSchema.safeParse(data);
    if (!list.success) throw new GitHubApiError("GitHub's list of jobs is not what its API documents", null);
    for (const job of list.data.jobs) {
      if (!JOB_CONCLUSIONS_FAILED.includes(job.conclusion ?? "")) continue;
      found.push({
        id: job.id,
        name: job.name,
        conclusion: job.conclusion!,
        failed_steps: (job.steps ?? [])
          .filter((s) => JOB_CONCLUSIONS_FAILED.includes(s.conclusion ?? ""))
          .map((s) => s.name),
        html_url: job.html_url ?? null,
      });
    }
    if (list.data.jobs.length < 100 || page * 100 >= list.data.total_count) break;
  }
  return found;
}

/**
 * One job's log, streamed into the collector. The logs endpoint answers 302 to a short-lived
 * plain-text URL on another host; fetch follows it and drops the Authorization header there.
 */
async function jobLog(
  octokit: GitHubClient,
  where: string,
  i: z.infer<typeof InputSchema>,
  job: FailedJob,
  maxBytes: number,
  gaps: string[],
): Promise<Evidence | null> {
  let body: unknown;
  try {
    ({ data: body } = await octokit.request("GET /repos/{owner}/{repo}/actions/jobs/{job_id}/logs", {
      owner: i.owner,
      repo: i.repo,
      job_id: job.id,
      request: { parseSuccessResponseBody: false },
    }));
  } catch (error) {
    const status = statusOf(error);
    if (status === 410) {
      gaps.push(`the log of job '${job.name}' is gone (410): GitHub deletes logs after the retention period`);
    } else if (status === 404) {
      gaps.push(`the log of job '${job.name}' was not found (404): it was deleted, or never uploaded`);
    } else {
      gaps.push(`the log of job '${job.name}' could not be read: ${apiErrorText(error)}`);
    }
    return null;
  }
  const collector = new EvidenceCollector({
    maxBytes,
    source: `${where} job ${job.id} (${job.name})`,
    ...(i.rules ? { rules: i.rules as RuleSet } : {}),
  });
  const cap = i.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES;
  let read = 0;
  let got = false;
  try {
    for await (const chunk of chunksOf(body)) {
      got = true;
      const room = cap - read;
      if (chunk.length > room) {
        collector.push(chunk.subarray(0, room));
        read = cap;
        gaps.push(`the log of job '${job.name}' is larger than ${cap} bytes; the rest was not read`);
        break;
      }
      collector.push(chunk);
      read += chunk.length;
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (!got) {
      gaps.push(`the log of job '${job.name}' could not be read: ${message}`);
      return null;
    }
    collector.readFailed(message);
  }
  return collector.finish();
}

/** The body as byte chunks, whatever Octokit handed back (a stream, or text when parsed). */
async function* chunksOf(body: unknown): AsyncGenerator<Uint8Array> {
  if (typeof body === "string") {
    yield new TextEncoder().encode(body);
    return;
  }
  if (body instanceof ArrayBuffer) {
    yield new Uint8Array(body);
    return;
  }
  if (body instanceof Uint8Array) {
    yield body;
    return;
  }
  if (body instanceof ReadableStream) {
    const reader = (body as ReadableStream<Uint8Array>).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield value;
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
  }
  throw new Error("GitHub's answer had no log to read");
}

async function jobAnnotations(
  octokit: GitHubClient,
  owner: string,
  repo: string,
  job: FailedJob,
  gaps: string[],
): Promise<Annotation[]> {
  let data: unknown;
  try {
    // An Actions job is a check run with the same id.
    ({ data } = await octokit.request("GET /repos/{owner}/{repo}/check-runs/{check_run_id}/annotations", {
      owner,
      repo,
      check_run_id: job.id,
      per_page: MAX_ANNOTATIONS_PER_JOB,
    }));
  } catch (error) {
    gaps.push(`the annotations of job '${job.name}' could not be read: ${apiErrorText(error)}`);
    return [];
  }
  const list = AnnotationsSchema.safeParse(data);
  if (!list.success) {
    gaps.push(`the annotations of job '${job.name}' are not what GitHub's API documents`);
    return [];
  }
  return list.data.slice(0, MAX_ANNOTATIONS_PER_JOB).map((a) => ({
    path: a.path,
    line: a.start_line ?? null,
    level:
      a.annotation_level === "warning" || a.annotation_level === "notice" ? a.annotation_level : "failure",
    message: (a.message ?? "").slice(0, 2000),
    title: a.title ?? null,
  }));
}

async function junitFailures(
  octokit: GitHubClient,
  owner: string,
  repo: string,
  run_id: number,
  gaps: string[],
): Promise<TestFailure[]> {
  let artifacts: ArtifactInfo[];
  try {
    artifacts = await listRunArtifacts(octokit, { owner, repo, run_id });
  } catch (error) {
    gaps.push(
      `the run's artifacts could not be listed: ${error instanceof Error ? error.message : String(error)}`,
    );
    return [];
  }
  const reports = artifacts.filter((a) => JUNIT_ARTIFACT_RE.test(a.name)).slice(0, MAX_JUNIT_ARTIFACTS);
  const tests: TestFailure[] = [];
  for (const artifact of reports) {
    let files: Map<string, Uint8Array>;
    try {
      files = await downloadArtifact(octokit, {
        owner,
        repo,
        artifact,
        maxBytes: MAX_JUNIT_ARTIFACT_BYTES,
      });
    } catch (error) {
      const why =
        error instanceof ArtifactGoneError
          ? "it has expired"
          : error instanceof Error
            ? error.message
            : String(error);
      gaps.push(`the test report artifact '${artifact.name}' could not be read: ${why}`);
      continue;
    }
    for (const [name, bytes] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
      if (!name.toLowerCase().endsWith(".xml")) continue;
      try {
        tests.push(...parseJUnitFailures(new TextDecoder().decode(bytes)));
      } catch (error) {
        gaps.push(
          `${artifact.name}/${name} is not a JUnit report: ${error instanceof Error ? error.message : ""}`,
        );
      }
      if (tests.length >= MAX_TESTS) break;
    }
  }
  return tests.slice(0, MAX_TESTS);
}

/**
 * One Evidence for several job logs: sizes and counts add up, excerpts keep their order with the
 * job named on their step, and the flags hold when any job's do. No job log at all gives the
 * empty evidence of an empty log, so annotations and tests can still be classified.
 */
function mergeEvidence(
  source: string,
  parts: { job: FailedJob; evidence: Evidence }[],
  maxBytes: number,
  rules: RuleSet | undefined,
): Evidence {
  if (parts.length === 0) {
    const empty = new EvidenceCollector({ maxBytes, source, ...(rules ? { rules } : {}) }).finish();
    return { ...empty, notes: [] };
  }
  if (parts.length === 1) return { ...parts[0]!.evidence, source: parts[0]!.evidence.source };
  const named = (job: FailedJob, step: string | null) => `${job.name} › ${step ?? "(no step)"}`;
  const excerpts: Excerpt[] = [];
  for (const { job, evidence } of parts) {
    for (const e of evidence.excerpts) excerpts.push({ step: named(job, e.step), lines: e.lines });
  }
  const first = parts.find((p) => p.evidence.failed_step !== null);
  const sum = (f: (e: Evidence) => number) => parts.reduce((n, p) => n + f(p.evidence), 0);
  return {
    source: `${source}: ${parts.map((p) => p.job.name).join(", ")}`,
    bytes: sum((e) => e.bytes),
    lines: sum((e) => e.lines),
    steps: parts.flatMap((p) => p.evidence.steps.map((s) => named(p.job, s))).slice(0, 100),
    failed_step: first ? named(first.job, first.evidence.failed_step) : null,
    excerpts,
    error_lines: sum((e) => e.error_lines),
    no_error_lines: parts.every((p) => p.evidence.no_error_lines),
    truncated: parts.some((p) => p.evidence.truncated),
    dropped_lines: sum((e) => e.dropped_lines),
    binary: parts.some((p) => p.evidence.binary),
    long_lines: sum((e) => e.long_lines),
    notes: parts.flatMap((p) => p.evidence.notes.map((n) => `${p.job.name}: ${n}`)),
    annotations: [],
    tests: [],
  };
}
