import { z } from "zod";
import { NameSchema, type Strategy } from "../config/schema.js";
import { NOT_ATTEMPTS } from "../core/analysis/aggregate.js";
import { metricsToSignals } from "../core/analysis/metrics-file.js";
import { InputError } from "../core/errors.js";
import { parseEventLine } from "../core/events/log.js";
import type { Outcome, Signals } from "../core/routing/schema.js";
import { readMarker } from "../core/status-marker.js";
import { downloadArtifact, type ArtifactInfo } from "./artifacts.js";
import { apiErrorText, GitHubApiError, gitHubApiError } from "./errors.js";
import type { GitHubClient } from "./octokit.js";

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
 * - metrics (metrics): metrics.json from the newest `switchyard-metrics` artifact. Two requests.
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

export const EVENTS_ARTIFACT = "switchyard-events";
export const METRICS_ARTIFACT = "switchyard-metrics";
/** Requests spent on signals per route, at most: a route stays a handful of requests. */
export const DEFAULT_SIGNAL_BUDGET = 8;
/** Newest event-log artifacts read for outcomes; the breaker's default window is 10 runs per tool. */
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
  budget: z.number().int().min(0).max(100).optional(),
  maxEventArtifacts: z.number().int().min(0).max(50).optional(),
});

type Input = z.infer<typeof InputSchema>;

class BudgetSpent extends Error {}

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
  const i = parsed.data;
  const needs = signalNeeds(i.strategy);
  const { client, meter } = metered(octokit, i.budget ?? DEFAULT_SIGNAL_BUDGET);
  const signals: ReadSignals = {};
  const notes: string[] = [];
  const missed = (what: string, error: unknown) => {
    const why =
      error instanceof BudgetSpent
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
      const found = await readInFlight(client, i);
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
      if (metrics === null)
        notes.push(`no ${METRICS_ARTIFACT} artifact yet: every tool starts from the prior`);
      else signals.metrics = metrics;
    } catch (error) {
      missed("metrics.json", error);
    }
  }
  if (needs.includes("outcomes")) {
    try {
      const found = await readOutcomes(client, i, i.maxEventArtifacts ?? DEFAULT_EVENT_ARTIFACTS);
      signals.outcomes = found.outcomes;
      notes.push(...found.notes);
    } catch (error) {
      missed("recent outcomes", error);
    }
  }
  return { signals, notes, requests: meter.used };
}

// --- in-flight runs ------------------------------------------------------------------------------

const RunsSchema = z.looseObject({
  workflow_runs: z.array(
    z.looseObject({
      id: z.number().int(),
      status: z.string().nullish(),
      display_title: z.string().nullish(),
      head_sha: z.string(),
    }),
  ),
});

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
): Promise<{ in_flight: Record<string, number>; unattributed: number }> {
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
    if (error instanceof BudgetSpent) throw error;
    throw gitHubApiError(error, {
      doing: `listing the runs of ${i.workflow_id} in ${i.owner}/${i.repo}`,
      permission: "actions: read",
    });
  }
  const runs = RunsSchema.safeParse(data);
  if (!runs.success)
    throw new GitHubApiError("GitHub's list of workflow runs is not what its API documents", null);

  // Task key -> the commit its run was dispatched on, newest run first (GitHub lists newest first).
  const bySha = new Map<string, Set<string>>();
  let pending = 0;
  const seen = new Set<string>();
  for (const run of runs.data.workflow_runs) {
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
      if (error instanceof BudgetSpent) break;
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

async function readMetrics(octokit: GitHubClient, i: Input) {
  const artifact = await newestArtifacts(octokit, i, METRICS_ARTIFACT, 1);
  if (artifact.length === 0) return null;
  const files = await downloadArtifact(octokit, {
    owner: i.owner,
    repo: i.repo,
    artifact: artifact[0]!,
    maxBytes: MAX_SIGNAL_ARTIFACT_BYTES,
  });
  const entry = [...files.keys()].find((name) => name === "metrics.json" || name.endsWith("/metrics.json"));
  if (entry === undefined) {
    throw new InputError(`the ${METRICS_ARTIFACT} artifact (id ${artifact[0]!.id}) has no metrics.json`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(files.get(entry)));
  } catch {
    throw new InputError(
      `metrics.json in the ${METRICS_ARTIFACT} artifact (id ${artifact[0]!.id}) is not JSON`,
    );
  }
  return metricsToSignals(raw);
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

/** The newest `count` live artifacts of that name, in one request. */
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
    if (error instanceof BudgetSpent) throw error;
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
    .sort((a, b) => (b.created_at ?? "").localeCompare(a.created_at ?? "") || b.id - a.id)
    .slice(0, count);
}

async function readOutcomes(
  octokit: GitHubClient,
  i: Input,
  count: number,
): Promise<{ outcomes: Outcome[]; notes: string[] }> {
  if (count === 0) return { outcomes: [], notes: [] };
  const artifacts = await newestArtifacts(octokit, i, EVENTS_ARTIFACT, count);
  const outcomes: Outcome[] = [];
  const notes: string[] = [];
  let skipped = 0;
  let read = 0;
  for (const artifact of artifacts) {
    let files: Map<string, Uint8Array>;
    try {
      files = await downloadArtifact(octokit, {
        owner: i.owner,
        repo: i.repo,
        artifact,
        maxBytes: MAX_SIGNAL_ARTIFACT_BYTES,
      });
    } catch (error) {
      if (error instanceof BudgetSpent) {
        notes.push(`${read} of the ${artifacts.length} newest event logs read: the request budget was spent`);
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
  if (skipped > 0) notes.push(`${skipped} unreadable event line${skipped === 1 ? "" : "s"} skipped`);
  return { outcomes, notes };
}
