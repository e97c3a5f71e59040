import { z } from "zod";
import { NameSchema, type Strategy } from "../config/schema.js";
import { NOT_ATTEMPTS } from "../core/analysis/aggregate.js";
import { metricsToSignals } from "../core/analysis/metrics-file.js";
import { InputError } from "../core/errors.js";
import { parseEventLine } from "../core/events/log.js";
import type { Outcome, Signals } from "../core/routing/schema.js";
import { readMarker } from "../core/status-marker.js";
import {
  downloadArtifact,
  EVENTS_ARTIFACT,
  listRunArtifacts,
  METRICS_ARTIFACT,
  type ArtifactInfo,
} from "./artifacts.js";
import { workflowId } from "./dispatch.js";
import { apiErrorText, GitHubApiError, gitHubApiError, statusOf } from "./errors.js";
import type { GitHubClient } from "./octokit.js";
import {
  ANALYSIS_RUN_TRIGGERS,
  DEFAULT_ANALYSIS_WORKFLOW,
  DEFAULT_EVENT_WORKFLOWS,
  either,
  EVENT_RUN_TRIGGERS,
  trustedRun,
} from "./trusted-runs.js";

/**
 * The router's signals read back from GitHub, so the app decides on what GitHub records rather
 * than on memory it does not have (it runs as any number of stateless replicas):
 *
 * - previous_tool (sticky): the tool in the task's own status-comment marker, which the route
 *   handler has already read for its idempotency check. No request.
 * - in_flight (least_busy): the execute workflow's runs that have not completed, one request,
 *   each attributed to a tool through the switchyard/route check run its task left on the commit
 *   the run was dispatched on (the run's head_sha is the default branch's head at dispatch, which
 *   is where routing published the decision). One request per distinct commit.
 * - outcomes (the circuit breaker, for least_busy and metrics): the `execute_finished` events in
 *   the newest `switchyard-events` artifacts, the same record the analysis reads. One request to
 *   list them, one per artifact downloaded.
 * - metrics (metrics): metrics.json from the newest successful run of analysis.workflow started
 *   by schedule or workflow_dispatch. Three requests: the workflow's successful runs, that run's
 *   artifacts, the download.
 *
 * Any run in the repository can upload an artifact of either name (a pull request's CI, whose
 * workflow file the pull request can rewrite, or a job running an AI tool), and a forged file
 * would steer the route. So, as the analysis does (trusted-runs.ts), metrics.json is read only
 * from a run of analysis.workflow started by schedule or workflow_dispatch, and event logs only
 * from runs of execution.workflow or recovery.workflow started by workflow_dispatch or
 * workflow_run. metrics.json is found run first (the run, then its artifact), so an artifact of
 * the same name from any other run is never looked at and a newer one cannot hide the real one
 * until the next analysis. Event logs are found artifact first, because the breaker wants the newest few across two
 * workflows: an event log's run is looked up in the execute workflow's dispatched runs, which
 * least_busy lists anyway and the metrics strategy lists once when it has a log to check; a run
 * not found there costs one request. An event log of any other run is skipped and named in the
 * notes: the signal falls back to what a missing one gives.
 *
 * Only what the configured strategy reads is fetched, so the default (priority) route costs no
 * request here. priority, round_robin and sticky therefore judge circuits and concurrency limits
 * without history: the breaker and `max_concurrency` only bite under least_busy and metrics,
 * which pay for the history anyway. round_robin's turn counter is not kept on GitHub yet.
 *
 * Every read is bounded by a request budget, and a read that fails (permissions, an expired
 * artifact, a corrupt file) leaves that signal out with a note saying why: a route never fails
 * because its signals could not be read.
 */

export type SignalName = "previous_tool" | "in_flight" | "outcomes" | "metrics";

/** The signals each strategy's ranking or exclusion checks actually consult. */
export function signalNeeds(strategy: Strategy): SignalName[] {
  switch (strategy) {
    case "priority":
    case "round_robin":
      return [];
    case "sticky":
      return ["previous_tool"];
    case "least_busy":
      return ["in_flight", "outcomes"];
    case "metrics":
      return ["metrics", "outcomes"];
  }
}

/** Requests spent on signals per route, at most: a route stays a handful of requests. */
export const DEFAULT_SIGNAL_BUDGET = 8;
/**
 * Newest event-log artifacts read for outcomes; the breaker's default window is 10 runs per tool.
 * The metrics strategy reads one fewer, so its route (metrics.json 3, the logs' list, the execute
 * runs to check them against, the logs) stays within the default budget.
 */
export const DEFAULT_EVENT_ARTIFACTS = 4;
/** An event log or metrics.json is text; anything larger is not what Switchyard wrote. */
const MAX_SIGNAL_ARTIFACT_BYTES = 5 * 1024 * 1024;

export interface RoutingSignalsInput {
  owner: string;
  repo: string;
  /** The issue being routed: its own run is not counted as load on a tool. */
  issue_number: number;
  strategy: Strategy;
  /** The tool the task's stored marker names, already read by the caller; null when none. */
  previousTool: string | null;
  /** The execute workflow's file name or id, as dispatchExecute's `workflow_id`. */
  workflow_id: string;
  /**
   * The workflows whose runs may upload event logs (config: execution.workflow and
   * recovery.workflow), as paths or file names. Default: `workflow_id` and the default
   * recovery.workflow.
   */
  eventWorkflows?: string[];
  /** The workflow whose runs may upload metrics.json (config: analysis.workflow). */
  metricsWorkflow?: string;
  /** Most API requests to spend. Default DEFAULT_SIGNAL_BUDGET. */
  budget?: number;
  /** Newest `switchyard-events` artifacts to read. Default DEFAULT_EVENT_ARTIFACTS. */
  maxEventArtifacts?: number;
}

export type ReadSignals = Pick<Signals, "in_flight" | "outcomes" | "previous_tool" | "metrics">;

export interface SignalsResult {
  signals: ReadSignals;
  /** One line per signal that was wanted and not (fully) read, for the log and the decision. */
  notes: string[];
  /** API requests spent. */
  requests: number;
}

export interface SignalsLog {
  warn(obj: object, msg: string): void;
}

const InputSchema = z.strictObject({
  owner: z.string().min(1),
  repo: z.string().min(1),
  issue_number: z.number().int().min(1),
  strategy: z.enum(["priority", "round_robin", "least_busy", "sticky", "metrics"]),
  previousTool: z.string().nullable(),
  workflow_id: z.string().min(1),
  eventWorkflows: z.array(z.string().min(1)).min(1).optional(),
  metricsWorkflow: z.string().min(1).optional(),
  budget: z.number().int().min(0).max(100).optional(),
  maxEventArtifacts: z.number().int().min(0).max(50).optional(),
});

type Input = z.infer<typeof InputSchema> & { eventWorkflows: string[]; metricsWorkflow: string };

class BudgetSpent extends Error {}

/**
 * The budget refused a request, thrown as is or wrapped: the artifact helpers turn whatever a
 * request threw into a GitHubApiError, with the refusal as its cause.
 */
function spentBudget(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof BudgetSpent) return true;
  }
  return false;
}

/** A client that counts requests and refuses the one past the budget. */
function metered(octokit: GitHubClient, budget: number) {
  const meter = { used: 0, budget };
  const client: GitHubClient = {
    request: ((...args: Parameters<GitHubClient["request"]>) => {
      if (meter.used >= meter.budget) throw new BudgetSpent();
      meter.used++;
      return octokit.request(...args);
    }) as GitHubClient["request"],
  };
  return { client, meter };
}

export async function readRoutingSignals(
  octokit: GitHubClient,
  input: RoutingSignalsInput,
  log?: SignalsLog,
): Promise<SignalsResult> {
  const parsed = InputSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(
      `cannot read routing signals: ${issue.path.join(".") || "(input)"}: ${issue.message}`,
    );
  }
  const i: Input = {
    ...parsed.data,
    eventWorkflows: parsed.data.eventWorkflows ?? [parsed.data.workflow_id, DEFAULT_EVENT_WORKFLOWS[1]],
    metricsWorkflow: parsed.data.metricsWorkflow ?? DEFAULT_ANALYSIS_WORKFLOW,
  };
  const needs = signalNeeds(i.strategy);
  const { client, meter } = metered(octokit, i.budget ?? DEFAULT_SIGNAL_BUDGET);
  const signals: ReadSignals = {};
  const notes: string[] = [];
  const origins: RunOrigins = { known: new Map(), listed: false };
  const missed = (what: string, error: unknown) => {
    const why = spentBudget(error)
      ? `the budget of ${meter.budget} requests was spent`
      : error instanceof Error
        ? error.message
        : String(error);
    notes.push(`${what} not read: ${why}`);
    log?.warn({ signal: what, err: error }, `routing signal not read: ${what}`);
  };

  if (needs.includes("previous_tool") && i.previousTool !== null) {
    const name = NameSchema.safeParse(i.previousTool);
    if (name.success) signals.previous_tool = name.data;
    else notes.push(`the previous tool "${i.previousTool}" in the task's marker is not a tool name`);
  }
  if (needs.includes("in_flight")) {
    try {
      const found = await readInFlight(client, i, origins);
      signals.in_flight = found.in_flight;
      if (found.unattributed > 0) {
        notes.push(
          `${found.unattributed} in-flight run${found.unattributed === 1 ? "" : "s"} could not be tied to a tool ` +
            "(no switchyard/route check run read for its task)",
        );
      }
    } catch (error) {
      missed("in-flight runs", error);
    }
  }
  if (needs.includes("metrics")) {
    try {
      const metrics = await readMetrics(client, i);
      if (metrics.signals !== null) signals.metrics = metrics.signals;
      else {
        notes.push(`${metrics.missing}: every tool starts from the prior`);
        if (metrics.passedOver)
          log?.warn({ signal: "metrics.json" }, `routing signal ignored: ${metrics.missing}`);
      }
    } catch (error) {
      missed("metrics.json", error);
    }
  }
  if (needs.includes("outcomes")) {
    try {
      const count =
        i.maxEventArtifacts ??
        (i.strategy === "metrics" ? DEFAULT_EVENT_ARTIFACTS - 1 : DEFAULT_EVENT_ARTIFACTS);
      const found = await readOutcomes(client, i, origins, count);
      signals.outcomes = found.outcomes;
      notes.push(...found.notes);
      if (found.ignored > 0) {
        log?.warn(
          { signal: "recent outcomes", ignored: found.ignored },
          "routing signal: event logs ignored",
        );
      }
    } catch (error) {
      missed("recent outcomes", error);
    }
  }
  return { signals, notes, requests: meter.used };
}

// --- in-flight runs ------------------------------------------------------------------------------

const RunWire = z.looseObject({
  id: z.number().int(),
  status: z.string().nullish(),
  display_title: z.string().nullish(),
  head_sha: z.string(),
  path: z.string().nullish(),
  event: z.string(),
});
const RunsSchema = z.looseObject({ workflow_runs: z.array(RunWire) });

const CheckRunsSchema = z.looseObject({
  check_runs: z.array(
    z.looseObject({
      external_id: z.string().nullish(),
      output: z.looseObject({ text: z.string().nullish() }).nullish(),
    }),
  ),
});

/** What routing stores in the switchyard/route check run's marker, as far as this reads it. */
const RouteMarkerSchema = z.looseObject({ task_key: z.string(), tool: z.string().nullable() });

/** The shipped workflow's `run-name`, see workflow-runs.ts runTitle. */
const TITLE = /^switchyard #(\d+)$/;

async function readInFlight(
  octokit: GitHubClient,
  i: Input,
  origins: RunOrigins,
): Promise<{ in_flight: Record<string, number>; unattributed: number }> {
  const runs = await listDispatchedRuns(octokit, i, origins);

  // Task key -> the commit its run was dispatched on, newest run first (GitHub lists newest first).
  const bySha = new Map<string, Set<string>>();
  let pending = 0;
  const seen = new Set<string>();
  for (const run of runs) {
    if (run.status === "completed") continue;
    const issue = TITLE.exec(run.display_title ?? "")?.[1];
    if (issue === undefined || Number(issue) === i.issue_number) continue;
    const key = `${i.owner}/${i.repo}#${issue}`;
    // A task's concurrency group queues a second run behind the first: it is one task's load.
    if (seen.has(key)) continue;
    seen.add(key);
    pending++;
    const tasks = bySha.get(run.head_sha) ?? new Set<string>();
    tasks.add(key);
    bySha.set(run.head_sha, tasks);
  }

  const in_flight: Record<string, number> = {};
  let attributed = 0;
  for (const [sha, tasks] of bySha) {
    let listed: unknown;
    try {
      ({ data: listed } = await octokit.request("GET /repos/{owner}/{repo}/commits/{ref}/check-runs", {
        owner: i.owner,
        repo: i.repo,
        ref: sha,
        check_name: "switchyard/route",
        filter: "all",
        per_page: 100,
      }));
    } catch (error) {
      // What was attributed so far still counts; the rest is reported as unattributed.
      if (spentBudget(error)) break;
      throw gitHubApiError(error, {
        doing: `listing the switchyard/route check runs of ${sha.slice(0, 12)} in ${i.owner}/${i.repo}`,
        permission: "checks: read",
      });
    }
    const list = CheckRunsSchema.safeParse(listed);
    if (!list.success)
      throw new GitHubApiError("GitHub's list of check runs is not what its API documents", null);
    for (const run of list.data.check_runs) {
      if (!run.external_id || !tasks.has(run.external_id)) continue;
      const marker = readMarker(run.output?.text ?? "", "task", RouteMarkerSchema);
      const tool = marker?.ok ? marker.value.tool : null;
      if (tool === null) continue;
      tasks.delete(run.external_id);
      in_flight[tool] = (in_flight[tool] ?? 0) + 1;
      attributed++;
    }
  }
  return { in_flight, unattributed: pending - attributed };
}

// --- metrics.json ----------------------------------------------------------------------------------

/**
 * Successful runs of the analysis workflow read, newest first. Its pull_request runs (of a
 * rewritten copy of the file under the same path) are listed with it and passed over by their
 * event, so a page this size takes that many of them, newer than the last analysis, to hide it.
 */
export const ANALYSIS_RUNS_READ = 10;

type MetricsRead =
  | { signals: ReturnType<typeof metricsToSignals> }
  | {
      signals: null;
      /** Why there is no metrics.json: the start of a note. */
      missing: string;
      /** Successful runs of the workflow were passed over for how they were started: worth a warning. */
      passedOver: boolean;
    };

const AnalysisRunsSchema = z.looseObject({
  workflow_runs: z.array(
    z.looseObject({
      id: z.number().int(),
      path: z.string().nullish(),
      event: z.string(),
      created_at: z.string().nullish(),
    }),
  ),
});

async function readMetrics(octokit: GitHubClient, i: Input): Promise<MetricsRead> {
  let workflow_id: string;
  try {
    workflow_id = workflowId(i.metricsWorkflow);
  } catch {
    throw new InputError(
      `analysis.workflow: "${i.metricsWorkflow}" is not a workflow file; ` +
        `use a path such as ${DEFAULT_ANALYSIS_WORKFLOW}`,
    );
  }
  let data: unknown;
  try {
    ({ data } = await octokit.request("GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs", {
      owner: i.owner,
      repo: i.repo,
      workflow_id,
      status: "success",
      exclude_pull_requests: true,
      per_page: ANALYSIS_RUNS_READ,
    }));
  } catch (error) {
    if (spentBudget(error)) throw error;
    // The analysis is optional: a repository that has not added it yet routes on the prior.
    if (statusOf(error) === 404) {
      return {
        signals: null,
        missing: `no analysis workflow yet (${i.metricsWorkflow} is not in ${i.owner}/${i.repo})`,
        passedOver: false,
      };
    }
    throw gitHubApiError(error, {
      doing: `listing the successful runs of ${workflow_id} in ${i.owner}/${i.repo}`,
      permission: "actions: read",
    });
  }
  const listed = AnalysisRunsSchema.safeParse(data);
  if (!listed.success)
    throw new GitHubApiError("GitHub's list of workflow runs is not what its API documents", null);
  const runs = listed.data.workflow_runs.sort(
    (a, b) => (b.created_at ?? "").localeCompare(a.created_at ?? "") || b.id - a.id,
  );
  const run = runs.find((r) =>
    trustedRun({ path: r.path ?? null, event: r.event }, [i.metricsWorkflow], ANALYSIS_RUN_TRIGGERS),
  );
  if (run === undefined) {
    if (runs.length === 0)
      return { signals: null, missing: `no successful run of ${i.metricsWorkflow} yet`, passedOver: false };
    const newest = runs[0]!;
    const which =
      runs.length === 1
        ? `the only successful run of ${i.metricsWorkflow} was not`
        : `none of the ${runs.length} newest successful runs of ${i.metricsWorkflow} was`;
    return {
      signals: null,
      missing: `${which} started by ${either(ANALYSIS_RUN_TRIGGERS)} (the newest, run ${newest.id}, by ${newest.event})`,
      passedOver: true,
    };
  }

  const artifacts = (await listRunArtifacts(octokit, { owner: i.owner, repo: i.repo, run_id: run.id }))
    .filter((a) => a.name === METRICS_ARTIFACT)
    .sort((a, b) => (b.created_at ?? "").localeCompare(a.created_at ?? "") || b.id - a.id);
  const artifact = artifacts.find((a) => !a.expired);
  if (artifact === undefined) {
    return {
      signals: null,
      missing:
        artifacts.length === 0
          ? `no ${METRICS_ARTIFACT} artifact on run ${run.id} of ${i.metricsWorkflow}`
          : `the ${METRICS_ARTIFACT} artifact of run ${run.id} of ${i.metricsWorkflow} has expired`,
      passedOver: false,
    };
  }
  const files = await downloadArtifact(octokit, {
    owner: i.owner,
    repo: i.repo,
    artifact,
    maxBytes: MAX_SIGNAL_ARTIFACT_BYTES,
  });
  const entry = [...files.keys()].find((name) => name === "metrics.json" || name.endsWith("/metrics.json"));
  if (entry === undefined) {
    throw new InputError(`the ${METRICS_ARTIFACT} artifact (id ${artifact.id}) has no metrics.json`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(files.get(entry)));
  } catch {
    throw new InputError(`metrics.json in the ${METRICS_ARTIFACT} artifact (id ${artifact.id}) is not JSON`);
  }
  return { signals: metricsToSignals(raw) };
}

// --- which run uploaded an event log ------------------------------------------------------------------

interface RunOrigin {
  path: string | null;
  event: string;
}

/**
 * The runs whose workflow and trigger are known, by id; null for a run GitHub no longer has.
 * `listed` once the execute workflow's dispatched runs were listed (or that was tried): a second
 * listing would say the same.
 */
interface RunOrigins {
  known: Map<number, RunOrigin | null>;
  listed: boolean;
}

const SingleRunSchema = z.looseObject({
  id: z.number().int(),
  path: z.string().nullish(),
  event: z.string(),
});

/**
 * The execute workflow's newest dispatched runs, one request, remembered in `origins`: they
 * are both the load least_busy counts and the runs that uploaded the recent event logs.
 */
async function listDispatchedRuns(
  octokit: GitHubClient,
  i: Input,
  origins: RunOrigins,
): Promise<z.infer<typeof RunWire>[]> {
  origins.listed = true;
  let data: unknown;
  try {
    ({ data } = await octokit.request("GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs", {
      owner: i.owner,
      repo: i.repo,
      workflow_id: i.workflow_id,
      event: "workflow_dispatch",
      per_page: 100,
    }));
  } catch (error) {
    if (spentBudget(error)) throw error;
    throw gitHubApiError(error, {
      doing: `listing the runs of ${i.workflow_id} in ${i.owner}/${i.repo}`,
      permission: "actions: read",
    });
  }
  const runs = RunsSchema.safeParse(data);
  if (!runs.success)
    throw new GitHubApiError("GitHub's list of workflow runs is not what its API documents", null);
  for (const run of runs.data.workflow_runs) {
    origins.known.set(run.id, { path: run.path ?? null, event: run.event });
  }
  return runs.data.workflow_runs;
}

/**
 * Which workflow ran `run` and what started it: from what was already read, else from the
 * execute workflow's run list if it was not read yet (one request that answers for every recent
 * event log), else from the run itself (one request).
 */
async function runOrigin(
  octokit: GitHubClient,
  i: Input,
  origins: RunOrigins,
  run: number,
): Promise<RunOrigin | null> {
  if (!origins.known.has(run) && !origins.listed) await listDispatchedRuns(octokit, i, origins);
  if (origins.known.has(run)) return origins.known.get(run)!;
  let data: unknown;
  try {
    ({ data } = await octokit.request("GET /repos/{owner}/{repo}/actions/runs/{run_id}", {
      owner: i.owner,
      repo: i.repo,
      run_id: run,
    }));
  } catch (error) {
    if (spentBudget(error)) throw error;
    // A deleted run vouches for nothing.
    if (statusOf(error) === 404 || statusOf(error) === 410) {
      origins.known.set(run, null);
      return null;
    }
    throw gitHubApiError(error, {
      doing: `reading workflow run ${run} in ${i.owner}/${i.repo}`,
      permission: "actions: read",
    });
  }
  const parsed = SingleRunSchema.safeParse(data);
  if (!parsed.success) throw new GitHubApiError("GitHub's workflow run is not what its API documents", null);
  const origin = { path: parsed.data.path ?? null, event: parsed.data.event };
  origins.known.set(run, origin);
  return origin;
}

// --- outcomes ------------------------------------------------------------------------------------

const ArtifactListSchema = z.looseObject({
  artifacts: z.array(
    z.looseObject({
      id: z.number().int(),
      name: z.string(),
      size_in_bytes: z.number().int().min(0),
      expired: z.boolean(),
      created_at: z.string().nullish(),
      workflow_run: z
        .looseObject({ id: z.number().int().optional(), head_sha: z.string().optional() })
        .nullish(),
    }),
  ),
});

/**
 * The live artifacts of that name, newest first, in one request sized for the newest `count`
 * with room to skip expired ones and ones from runs that may not upload them.
 */
async function newestArtifacts(
  octokit: GitHubClient,
  i: Input,
  name: string,
  count: number,
): Promise<ArtifactInfo[]> {
  let data: unknown;
  try {
    ({ data } = await octokit.request("GET /repos/{owner}/{repo}/actions/artifacts", {
      owner: i.owner,
      repo: i.repo,
      name,
      // Expired ones are listed too; a few spare rows leave room to skip them.
      per_page: Math.min(100, count * 2 + 5),
    }));
  } catch (error) {
    if (spentBudget(error)) throw error;
    throw gitHubApiError(error, {
      doing: `looking for the artifact "${name}" in ${i.owner}/${i.repo}`,
      permission: "actions: read",
    });
  }
  const list = ArtifactListSchema.safeParse(data);
  if (!list.success)
    throw new GitHubApiError("GitHub's list of artifacts is not what its API documents", null);
  return list.data.artifacts
    .filter((a) => a.name === name && !a.expired)
    .map((a) => ({
      id: a.id,
      name: a.name,
      size_in_bytes: a.size_in_bytes,
      expired: a.expired,
      created_at: a.created_at ?? null,
      workflow_run:
        a.workflow_run?.id !== undefined && a.workflow_run.head_sha !== undefined
          ? { id: a.workflow_run.id, head_sha: a.workflow_run.head_sha }
          : null,
    }))
    .sort((a, b) => (b.created_at ?? "").localeCompare(a.created_at ?? "") || b.id - a.id);
}

async function readOutcomes(
  octokit: GitHubClient,
  i: Input,
  origins: RunOrigins,
  count: number,
): Promise<{ outcomes: Outcome[]; notes: string[]; ignored: number }> {
  if (count === 0) return { outcomes: [], notes: [], ignored: 0 };
  const candidates = await newestArtifacts(octokit, i, EVENTS_ARTIFACT, count);
  const outcomes: Outcome[] = [];
  const notes: string[] = [];
  const wanted = Math.min(count, candidates.length);
  const ignored: ArtifactInfo[] = [];
  let skipped = 0;
  let read = 0;
  let tried = 0;
  const spent = () =>
    notes.push(`${read} of the ${wanted} newest event logs read: the request budget was spent`);
  for (const artifact of candidates) {
    if (tried === count) break;
    let trusted = false;
    if (artifact.workflow_run !== null) {
      let origin: RunOrigin | null;
      try {
        origin = await runOrigin(octokit, i, origins, artifact.workflow_run.id);
      } catch (error) {
        if (!spentBudget(error)) throw error;
        spent();
        break;
      }
      trusted = origin !== null && trustedRun(origin, i.eventWorkflows, EVENT_RUN_TRIGGERS);
    }
    // A forged log is passed over for an older one of a trusted run: it takes no place in the window.
    if (!trusted) {
      ignored.push(artifact);
      continue;
    }
    tried++;
    let files: Map<string, Uint8Array>;
    try {
      files = await downloadArtifact(octokit, {
        owner: i.owner,
        repo: i.repo,
        artifact,
        maxBytes: MAX_SIGNAL_ARTIFACT_BYTES,
      });
    } catch (error) {
      if (spentBudget(error)) {
        spent();
        break;
      }
      // One run's log gone or refused: the others still tell the breaker something.
      notes.push(
        `event log artifact ${artifact.id} not read: ${error instanceof Error ? error.message : apiErrorText(error)}`,
      );
      continue;
    }
    read++;
    for (const [name, bytes] of files) {
      if (!name.endsWith(".jsonl")) continue;
      const lines = new TextDecoder().decode(bytes).split("\n");
      lines.forEach((text, n) => {
        if (text.trim() === "") return;
        const line = parseEventLine(text, n + 1);
        if (!line.ok) {
          skipped++;
          return;
        }
        const e = line.event;
        // A tool that never started, or a run Switchyard itself broke, says nothing about the tool.
        if (e.type !== "execute_finished" || NOT_ATTEMPTS.has(e.outcome)) return;
        outcomes.push({ tool: e.tool, ok: e.outcome === "success", at: e.at });
      });
    }
  }
  if (ignored.length > 0) {
    const first = ignored[0]!;
    notes.push(
      `${ignored.length} event log${ignored.length === 1 ? "" : "s"} ignored: not from a run of ` +
        `${either(i.eventWorkflows)} started by ${either(EVENT_RUN_TRIGGERS)} ` +
        `(first: artifact ${first.id}${first.workflow_run ? ` of run ${first.workflow_run.id}` : ""})`,
    );
  }
  if (skipped > 0) notes.push(`${skipped} unreadable event line${skipped === 1 ? "" : "s"} skipped`);
  return { outcomes, notes, ignored: ignored.length };
}
