import { mkdir, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { MetricsAccumulator } from "../../core/analysis/aggregate.js";
import { renderDashboard } from "../../core/analysis/dashboard.js";
import { buildMetrics } from "../../core/analysis/metrics-file.js";
import { analyzeRepository, countSignatures, withSignatures } from "../../core/analysis/ci-health.js";
import { InputError } from "../../core/errors.js";
import { readRepositoryHistory, type RepositoryHistory } from "../../github/analysis-source.js";
import { FileCache, type ConditionalCache } from "../../github/conditional-cache.js";
import { createOctokit, type GitHubClient } from "../../github/octokit.js";
import type { Metrics } from "../../core/metrics/schema.js";
import type { RuleSet } from "../../core/recovery/rules.js";
import { findLogs, type FoundAnalysisLogs } from "../../runner/find-logs.js";
import { readJobLogSignatures, type JobLogReading } from "../../runner/job-log-signatures.js";
import { readEventLogs, describeError, type EventLogStats } from "../../runner/read-event-logs.js";
import { EXIT, parseCommandArgs, UsageError, type CliIO, type Command } from "../io.js";
import { loadRules } from "./classify.js";

const usage = `Usage: switchyard analyze <path...> [options]
       switchyard analyze --repo <owner/name> [options]

Reads Switchyard event logs (JSONL) and reports, for a window of time, per tool and capability:
attempts, success rate with a 95% interval, p50/p95 duration, tokens and cost; recovery steps and
quarantines; flaky reruns and the top error signatures; with trends against the window before.
GitHub Actions job logs given alongside (downloaded from a run's page or the API) are classified
as 'switchyard classify' does and counted among the top error signatures.

With --repo it reads a repository through the GitHub API instead: its workflow runs (failure
rate per workflow, flaky jobs: failed, then passed on the same commit), the failed jobs' logs
(top error signatures) and the switchyard-events artifacts its runs uploaded. The token is read
from the GITHUB_TOKEN environment variable only (never an argument, which 'ps' would show);
the API's address from GITHUB_API_URL (default https://api.github.com).

Arguments:
  path         a file or a directory. A file is an event log when its name ends in .jsonl or its
               first line is a JSON object, and a job log otherwise. A directory is searched for
               *.jsonl event logs (for example a checkout's .switchyard/runs, where 'switchyard
               run' writes them) and *.log and *.txt job logs; .git and node_modules are skipped.

Job logs are read as a stream, whatever their size. Each counts once under its signature, at the
time of its first line that starts with a timestamp (as Actions writes every line), else at the
file's modification time; only those in the window count. Empty, binary and unreadable files
are skipped with a warning.

Options:
  --repo <owner/name>   analyse this repository through the GitHub API
  --since <time|span>   the window's start: an ISO time, or a span back from --now such as 7d
                        (the same as --window)
  --max-requests <n>    API requests this analysis may send (default: 1000); what is left
                        unread is listed under Gaps
  --max-logs <n>        failed jobs' logs to classify, newest first (default: 100)
  --no-cache            do not use .switchyard/cache (ETags and classified logs kept between runs)
  --window <span>       how far back from --now: 30m, 12h, 7d, 2w (default: 7d)
  --now <time>          the end of the window, an ISO time such as 2026-03-01T12:00:00Z
                        (default: now)
  --out <file>          write metrics.json, which 'switchyard route --metrics' reads
  --markdown <file>     write the dashboard (markdown with mermaid charts)
  --json                print metrics.json instead of the dashboard
  --repository <name>   owner/name for the report (default: the one the task keys name)
  --title <text>        the dashboard's title (default: Switchyard dashboard)
  --full-validation     check every line against the whole event schema (slower)
  --rules <file>        the rules job logs are classified with, added to the shipped ones: a
                        file with 'add:' and 'disable:', or a switchyard.yml ('recovery.rules');
                        default: ./.github/switchyard.yml when there is one
  -h, --help            show this help

Corrupt or truncated lines are counted, skipped and reported as warnings; they never stop the
analysis. Exit codes: 0 analysed (even with skipped lines, skipped files or gaps), 1 no event log
or job log could be read, the rules file is invalid, or GitHub refused the token, 2 usage.`;

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };
const MAX_WINDOW_MS = 3650 * 86_400_000;

/** "7d" -> milliseconds; a plain number is days. */
export function parseWindow(text: string): number {
  const m = /^(\d+)\s*([mhdw]?)$/.exec(text.trim());
  const ms = m ? Number(m[1]) * UNITS[m[2] || "d"]! : NaN;
  if (!(ms > 0) || ms > MAX_WINDOW_MS) {
    throw new UsageError(`--window '${text}' is not a span such as 30m, 12h, 7d or 2w (at most 3650d)`);
  }
  return ms;
}

const IsoTime = z.string().datetime({ offset: true });

export interface LocalAnalysisOptions {
  cwd: string;
  /** ISO time: the window's end. */
  now: string;
  windowMs: number;
  repository?: string | undefined;
  title?: string | undefined;
  validation?: "fast" | "full";
  /**
   * The rules job logs are classified with (default: the shipped ones); called only when there
   * are job logs, so a broken rules file cannot stop an analysis of event logs alone.
   */
  rules?: () => Promise<RuleSet | undefined>;
}

export interface LocalAnalysis {
  metrics: Metrics;
  markdown: string;
  stats: EventLogStats;
  jobLogs: JobLogReading;
  /** Job logs classified but dated outside the window, so not counted. */
  jobLogsOutside: number;
  found: FoundAnalysisLogs;
}

/**
 * The local door of the analysis: find the logs, stream the event logs through the accumulator
 * and the job logs through the classifier (the API door's path for failed jobs' logs), and build
 * metrics.json and the dashboard. Throws InputError when not one log could be read.
 */
export async function analyzeLocal(
  paths: readonly string[],
  opts: LocalAnalysisOptions,
): Promise<LocalAnalysis> {
  const found = await findLogs(paths, opts.cwd);
  const accumulator = new MetricsAccumulator({ now: opts.now, window_ms: opts.windowMs });
  const stats = await readEventLogs(found.eventLogs, (event) => accumulator.add(event), {
    validation: opts.validation ?? "fast",
  });
  const rules = found.jobLogs.length > 0 ? await opts.rules?.() : undefined;
  const jobLogs = await readJobLogSignatures(found.jobLogs, {
    display: (file) => shown(opts.cwd, file),
    ...(rules ? { rules } : {}),
  });
  const readable = stats.files - stats.unreadable.length;
  if (readable === 0 && jobLogs.sightings.length === 0) {
    const reasons = [
      ...found.problems.map((p) => `${p.path}: ${p.error}`),
      ...stats.unreadable.map((u) => `${shown(opts.cwd, u.file)}: ${u.error}`),
      ...jobLogs.skipped.map((s) => `${s.file}: ${s.error}`),
    ];
    throw new InputError(`no event log or job log could be read\n${reasons.map((r) => `  ${r}`).join("\n")}`);
  }
  const tally = countSignatures(
    jobLogs.sightings.map(({ signature, category, at }) => ({ signature, category, at })),
    { now: opts.now, window_ms: opts.windowMs },
  );
  const base = buildMetrics(accumulator.result(), {
    ...(opts.repository !== undefined ? { repository: opts.repository } : {}),
    input: { files: readable, lines: stats.lines, events: stats.events, skipped: stats.skipped },
    gaps: localGaps(found, stats, jobLogs, opts.cwd),
  });
  const outside = jobLogs.sightings.length - tally.inWindow;
  const metrics = withSignatures(
    base,
    tally.signatures,
    outside > 0
      ? [
          `job logs: ${outside} of ${jobLogs.sightings.length} classified dated outside ${base.window.from} to ${base.window.to}, not counted`,
        ]
      : [],
  );
  const markdown = renderDashboard(metrics, opts.title !== undefined ? { title: opts.title } : {});
  return { metrics, markdown, stats, jobLogs, jobLogsOutside: outside, found };
}

/**
 * The rules job logs are classified with: --rules, else the working directory's
 * .github/switchyard.yml when there is one, else undefined (the shipped rules).
 */
export async function rulesForJobLogs(cwd: string, given: string | undefined): Promise<RuleSet | undefined> {
  if (given !== undefined) return loadRules(path.resolve(cwd, given), given);
  const config = path.join(cwd, ".github", "switchyard.yml");
  try {
    await stat(config);
  } catch {
    return undefined;
  }
  return loadRules(config, path.join(".github", "switchyard.yml"));
}

export interface RemoteAnalysisOptions {
  owner: string;
  repo: string;
  /** ISO time: the window's end. */
  now: string;
  windowMs: number;
  maxRequests: number;
  maxLogs?: number;
  cache?: ConditionalCache;
  title?: string | undefined;
}

export interface RemoteAnalysis {
  metrics: Metrics;
  markdown: string;
  history: RepositoryHistory;
}

/**
 * The API door of the analysis: the window and the one before it are read (the older one only
 * as far as its trend needs: runs, not jobs or logs), then analysed like local logs.
 */
export async function analyzeRemote(
  octokit: GitHubClient,
  opts: RemoteAnalysisOptions,
): Promise<RemoteAnalysis> {
  const end = Date.parse(opts.now);
  const history = await readRepositoryHistory(octokit, {
    owner: opts.owner,
    repo: opts.repo,
    since: new Date(end - 2 * opts.windowMs).toISOString(),
    detailSince: new Date(end - opts.windowMs).toISOString(),
    until: opts.now,
    maxRequests: opts.maxRequests,
    ...(opts.maxLogs !== undefined ? { maxLogs: opts.maxLogs } : {}),
    ...(opts.cache !== undefined ? { cache: opts.cache } : {}),
  });
  const { metrics } = analyzeRepository(history, { now: opts.now, window_ms: opts.windowMs });
  const markdown = renderDashboard(metrics, opts.title !== undefined ? { title: opts.title } : {});
  return { metrics, markdown, history };
}

const MAX_LISTED_GAPS = 10;

function localGaps(
  found: FoundAnalysisLogs,
  stats: EventLogStats,
  jobLogs: JobLogReading,
  cwd: string,
): string[] {
  const gaps = [
    "workflow runs: not read (a local analysis reads event logs; CI health needs the GitHub API)",
  ];
  const unread = [
    ...found.problems.map((p) => `${p.path}: not read (${p.error})`),
    ...stats.unreadable.map((u) => `${shown(cwd, u.file)}: not read (${u.error})`),
    ...jobLogs.skipped.map((s) => `${s.file}: not read (${s.error})`),
  ];
  gaps.push(...unread.slice(0, MAX_LISTED_GAPS));
  if (unread.length > MAX_LISTED_GAPS) gaps.push(`${unread.length - MAX_LISTED_GAPS} more paths not read`);
  if (stats.skipped > 0) {
    const first = stats.warnings[0];
    gaps.push(
      `${stats.skipped} corrupt or truncated ${stats.skipped === 1 ? "line" : "lines"} skipped` +
        (first ? ` (first: ${shown(cwd, first.file)}:${first.line}, ${first.error})` : ""),
    );
  }
  return gaps;
}

/** A path to show: relative when it is below the working directory, absolute otherwise. */
function shown(cwd: string, target: string): string {
  const rel = path.relative(cwd, target);
  return rel === "" ? "." : rel.startsWith("..") || path.isAbsolute(rel) ? target : rel;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

async function writeOutput(file: string, text: string, what: string): Promise<void> {
  try {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, text);
  } catch (error) {
    throw new InputError(`cannot write the ${what} to ${file}: ${describeError(error)}`);
  }
}

function warn(io: CliIO, a: LocalAnalysis): void {
  const { stats, found, metrics, jobLogs } = a;
  for (const p of found.problems) io.stderr(`warning: ${p.path}: ${p.error}\n`);
  for (const u of stats.unreadable) io.stderr(`warning: ${shown(io.cwd, u.file)}: ${u.error}\n`);
  for (const s of jobLogs.skipped) io.stderr(`warning: ${s.file}: ${s.error}; skipped\n`);
  for (const w of stats.warnings) io.stderr(`warning: ${shown(io.cwd, w.file)}:${w.line}: ${w.error}\n`);
  if (stats.skipped > stats.warnings.length) {
    io.stderr(
      `warning: ${stats.skipped} corrupt lines skipped in all (the first ${stats.warnings.length} shown)\n`,
    );
  }
  const input = metrics.input;
  if (input && input.events > 0 && input.in_window === 0) {
    io.stderr(
      `note: none of the ${input.events} events falls between ${metrics.window.from} and ${metrics.window.to}; ` +
        "set --now or a longer --window to look elsewhere\n",
    );
  }
  if (a.jobLogsOutside > 0) {
    io.stderr(
      `note: ${a.jobLogsOutside} of ${plural(a.jobLogs.sightings.length, "job log")} ${a.jobLogsOutside === 1 ? "is" : "are"} dated ` +
        `outside ${metrics.window.from} to ${metrics.window.to}; set --now or a longer --window to count them\n`,
    );
  }
}

export const analyzeCommand: Command = {
  name: "analyze",
  summary: "metrics, a dashboard and metrics.json from local event logs or a repository on GitHub",
  usage,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {
      window: { type: "string" },
      now: { type: "string" },
      out: { type: "string" },
      markdown: { type: "string" },
      json: { type: "boolean" },
      repository: { type: "string" },
      title: { type: "string" },
      "full-validation": { type: "boolean" },
      repo: { type: "string" },
      since: { type: "string" },
      "max-requests": { type: "string" },
      "max-logs": { type: "string" },
      "no-cache": { type: "boolean" },
      rules: { type: "string" },
    });
    if (values.help) {
      io.stdout(usage + "\n");
      return EXIT.ok;
    }
    if (values.repo !== undefined && positionals.length > 0) {
      throw new UsageError("give either local logs or --repo, not both");
    }
    if (values.repo !== undefined && values.rules !== undefined) {
      throw new UsageError("--rules goes with local job logs; --repo classifies with the shipped rules");
    }
    if (values.repo === undefined) {
      for (const flag of ["since", "max-requests", "max-logs", "no-cache"] as const) {
        if (values[flag] !== undefined) throw new UsageError(`--${flag} goes with --repo`);
      }
    }
    if (positionals.length === 0 && values.repo === undefined) {
      throw new UsageError("expected at least one event log, job log or directory, or --repo owner/name");
    }
    if (values.now !== undefined && !IsoTime.safeParse(values.now).success) {
      throw new UsageError(`--now '${values.now}' is not an ISO time such as 2026-03-01T12:00:00Z`);
    }
    if (values.since !== undefined && values.window !== undefined) {
      throw new UsageError("give --since or --window, not both");
    }
    if (values.repository !== undefined && !/^[\w.-]+\/[\w.-]+$/.test(values.repository)) {
      throw new UsageError(`--repository '${values.repository}' is not owner/name`);
    }
    const now = values.now ?? new Date().toISOString();
    const windowMs =
      values.since !== undefined ? windowFromSince(values.since, now) : parseWindow(values.window ?? "7d");

    if (values.repo !== undefined) {
      return runRemote(io, values.repo, {
        now,
        windowMs,
        maxRequests: count(values["max-requests"], "--max-requests", 1000, 1),
        maxLogs: count(values["max-logs"], "--max-logs", 100, 0),
        noCache: values["no-cache"] === true,
        title: values.title,
        out: values.out,
        markdown: values.markdown,
        json: values.json === true,
      });
    }

    const analysis = await analyzeLocal(positionals, {
      cwd: io.cwd,
      now,
      windowMs,
      repository: values.repository,
      title: values.title,
      validation: values["full-validation"] ? "full" : "fast",
      rules: () => rulesForJobLogs(io.cwd, values.rules),
    });
    warn(io, analysis);
    const written = await writeOutputs(io, analysis, values);
    if (written !== null) {
      const { input, window } = analysis.metrics;
      const logs = analysis.jobLogs.sightings.length;
      io.stdout(
        `Analysed ${plural(input?.events ?? 0, "event")} from ${plural(input?.files ?? 0, "file")} ` +
          `(${input?.in_window ?? 0} between ${window.from} and ${window.to})` +
          (logs > 0 ? ` and ${plural(logs, "job log")}` : "") +
          `; wrote ${written.join(", ")}.\n`,
      );
    }
    return EXIT.ok;
  },
};

/** metrics.json and the dashboard where asked; null when the result went to stdout instead. */
async function writeOutputs(
  io: CliIO,
  analysis: { metrics: Metrics; markdown: string },
  values: { out?: string | undefined; markdown?: string | undefined; json?: boolean | undefined },
): Promise<string[] | null> {
  const json = JSON.stringify(analysis.metrics, null, 2) + "\n";
  const written: string[] = [];
  if (values.out !== undefined) {
    const file = path.resolve(io.cwd, values.out);
    await writeOutput(file, json, "metrics");
    written.push(shown(io.cwd, file));
  }
  if (values.markdown !== undefined) {
    const file = path.resolve(io.cwd, values.markdown);
    await writeOutput(file, analysis.markdown, "dashboard");
    written.push(shown(io.cwd, file));
  }
  if (values.json) io.stdout(json);
  else if (written.length === 0) io.stdout(analysis.markdown);
  else return written;
  return null;
}

const REPO = /^([\w.-]+)\/([\w.-]+)$/;
/** Where the CLI keeps ETags and classified logs between runs, below the working directory. */
export const CACHE_FILE = path.join(".switchyard", "cache", "github-api.json");

interface RemoteFlags {
  now: string;
  windowMs: number;
  maxRequests: number;
  maxLogs: number;
  noCache: boolean;
  title: string | undefined;
  out: string | undefined;
  markdown: string | undefined;
  json: boolean;
}

async function runRemote(io: CliIO, repository: string, flags: RemoteFlags): Promise<number> {
  const m = REPO.exec(repository);
  if (!m) throw new UsageError(`--repo '${repository}' is not owner/name`);
  const token = io.env.GITHUB_TOKEN?.trim();
  if (!token) {
    io.stderr(
      "note: GITHUB_TOKEN is not set; reading without a token (60 requests an hour, public repositories only, no job logs)\n",
    );
  }
  const octokit = createOctokit({ ...(token ? { auth: token } : {}), env: io.env });
  const cache = flags.noCache ? undefined : await FileCache.open(path.resolve(io.cwd, CACHE_FILE));
  if (cache?.problem) io.stderr(`warning: ${cache.problem}\n`);
  const analysis = await analyzeRemote(octokit, {
    owner: m[1]!,
    repo: m[2]!,
    now: flags.now,
    windowMs: flags.windowMs,
    maxRequests: flags.maxRequests,
    maxLogs: flags.maxLogs,
    ...(cache ? { cache } : {}),
    title: flags.title,
  });
  if (cache) {
    try {
      await cache.save();
    } catch (error) {
      io.stderr(`warning: cannot save the cache ${cache.file}: ${describeError(error)}\n`);
    }
  }
  const { history } = analysis;
  for (const w of history.warnings) io.stderr(`warning: ${w.source}:${w.line}: ${w.error}\n`);
  for (const gap of history.gaps) io.stderr(`gap: ${gap}\n`);
  const written = await writeOutputs(io, analysis, flags);
  if (written !== null) {
    io.stdout(
      `Analysed ${repository}: ${plural(history.runs.length, "workflow run")}, ` +
        `${plural(history.input.events, "event")} from ${plural(history.input.files, "event log")}, ` +
        `${plural(history.requests, "request")} (${history.notModified} answered from the cache); ` +
        `wrote ${written.join(", ")}.\n`,
    );
  }
  return EXIT.ok;
}

/** --since as an ISO time before --now, or a span back from it. */
function windowFromSince(since: string, now: string): number {
  if (IsoTime.safeParse(since).success) {
    const ms = Date.parse(now) - Date.parse(since);
    if (!(ms > 0) || ms > MAX_WINDOW_MS) {
      throw new UsageError(
        `--since '${since}' must be before --now (${now}) and at most 3650 days before it`,
      );
    }
    return ms;
  }
  return parseWindow(since);
}

function count(text: string | undefined, flag: string, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const n = /^\d{1,7}$/.test(text.trim()) ? Number(text) : NaN;
  if (!(n >= min)) throw new UsageError(`${flag} '${text}' is not a whole number of at least ${min}`);
  return n;
}
