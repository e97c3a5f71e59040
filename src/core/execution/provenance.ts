import { z } from "zod";
import { InputError } from "../errors.js";
import { ShaSchema } from "./commit-port.js";

/**
 * Where a patch artifact came from, decided before the app commits anything in its own name.
 *
 * The execute job runs an AI tool, and anyone with write access can start the execute workflow
 * by hand, so "a run of the execute workflow finished and uploaded a patch" proves little. The
 * app accepts a run for a task only when every fact GitHub (not the run) reports fits what the
 * app itself recorded when it dispatched the task:
 *
 * - the run is in this repository and ran this repository's code (head_repository ==
 *   repository: not a fork);
 * - it is the configured execute workflow, started by `workflow_dispatch`, titled for this issue;
 * - it was created after the app's dispatch (less a small allowance for clock skew), so an
 *   older run of the same workflow cannot stand in for it;
 * - it ran on the base commit the app recorded at dispatch;
 * - it was started by the app's own bot account, when the app knows its login;
 * - the first run accepted for a task is recorded, so a second run cannot replace its result,
 *   and the same delivery seen again changes nothing.
 *
 * Then the artifact's own manifest must name the same task, run and base commit. Each refusal
 * says what did not match and what to do, for the status comment.
 */

/** GitHub's and the app's clocks may disagree by a little; a run is never older than this. */
export const DEFAULT_MAX_CLOCK_SKEW_MS = 60_000;

/** What the task marker recorded at dispatch and at completion (see app/route-issue.ts). */
export const DispatchRecordSchema = z.looseObject({
  task_key: z.string().min(1),
  phase: z.string(),
  dispatched_at: z.string().optional(),
  base_sha: z.string().optional(),
  run_id: z.number().int().optional(),
  run_attempt: z.number().int().optional(),
});
export type DispatchRecord = z.infer<typeof DispatchRecordSchema>;

const RepoRefSchema = z.looseObject({ id: z.number().int(), full_name: z.string().min(1) });

/** The facts of a workflow run as a `workflow_run` webhook reports them. */
export const RunFactsSchema = z.looseObject({
  id: z.number().int().min(1),
  run_attempt: z.number().int().min(1).default(1),
  repository: RepoRefSchema,
  head_repository: RepoRefSchema.nullish(),
  path: z.string(),
  event: z.string(),
  display_title: z.string().nullish(),
  created_at: z.string(),
  head_sha: z.string(),
  head_branch: z.string().nullish(),
  html_url: z.string().nullish(),
  actor: z.looseObject({ login: z.string() }).nullish(),
  triggering_actor: z.looseObject({ login: z.string() }).nullish(),
});
export type RunFacts = z.infer<typeof RunFactsSchema>;

export interface ProvenanceExpectations {
  /** The repository the webhook was delivered for. */
  repository: { id: number; full_name: string };
  /** The configured workflow, `execution.workflow` (a path or a bare file name). */
  workflowPath: string;
  /** The title the workflow gives the app's runs (github/workflow-runs.ts runTitle for execute). */
  displayTitle: string;
  /** The app's bot login, `<slug>[bot]`; null when unknown, which skips that one check. */
  botLogin: string | null;
  maxClockSkewMs?: number;
}

export type ProvenanceRule =
  | "repository"
  | "fork"
  | "workflow"
  | "event"
  | "title"
  | "created_before_dispatch"
  | "base_commit"
  | "branch"
  | "actor"
  | "not_dispatched"
  | "manifest";

export type RunVerdict =
  | { verdict: "accepted" }
  /** This run (and attempt) was already handled: a redelivery. Nothing to do. */
  | { verdict: "duplicate"; reason: string }
  /** The task is not waiting for a run (another run completed it, it was stopped): say nothing. */
  | { verdict: "not-waiting"; reason: string }
  /** The run is not the one the app dispatched: report it on the task, commit nothing. */
  | { verdict: "rejected"; rule: ProvenanceRule; reason: string };

export type ManifestVerdict = { ok: true } | { ok: false; rule: "manifest"; reason: string };

/** `execution.workflow` as the run's `path` spells it. */
export function workflowPathOf(configured: string): string {
  const trimmed = configured.trim().replace(/^\.\//, "");
  return trimmed.includes("/") ? trimmed : `.github/workflows/${trimmed}`;
}

function checked<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new InputError(
    `cannot check provenance: ${what}: ${issue.path.join(".") || "(root)"}: ${issue.message}`,
  );
}

const RETRY = "add the label again to route the task anew";

/** Decides whether `run` is the run the app dispatched for the task `record` describes. */
export function checkRunProvenance(
  record: DispatchRecord,
  runInput: RunFacts,
  expected: ProvenanceExpectations,
): RunVerdict {
  const marker = checked(DispatchRecordSchema, record, "the task marker");
  const run = checked(RunFactsSchema, runInput, "the workflow run");

  // Who completed the task first wins; this is checked before anything a forger controls.
  if (marker.run_id !== undefined) {
    if (marker.run_id !== run.id) {
      return {
        verdict: "not-waiting",
        reason: `run ${marker.run_id} already completed ${marker.task_key}; run ${run.id} cannot replace it`,
      };
    }
    if (run.run_attempt <= (marker.run_attempt ?? 1)) {
      return {
        verdict: "duplicate",
        reason: `run ${run.id} (attempt ${run.run_attempt}) was already handled`,
      };
    }
    // A person re-ran the accepted run after it failed: its new attempt may complete the task.
    if (marker.phase !== "failed") {
      return {
        verdict: "not-waiting",
        reason: `${marker.task_key} is ${marker.phase}; a re-run of run ${run.id} does not change it`,
      };
    }
  } else if (marker.phase !== "running" && marker.phase !== "failed") {
    return { verdict: "not-waiting", reason: `${marker.task_key} is ${marker.phase}, not waiting for a run` };
  }

  return checkRunOrigin(run, {
    ...expected,
    dispatch: {
      ...(marker.dispatched_at !== undefined ? { at: marker.dispatched_at } : {}),
      ...(marker.base_sha !== undefined ? { head_sha: marker.base_sha } : {}),
      missing: `the app has no record of dispatching ${marker.task_key} (no dispatch time or base commit); ${RETRY}`,
      commitHint: RETRY,
    },
  });
}

/**
 * What the app recorded when it dispatched a workflow, for checkRunOrigin. The run must have run
 * on `head_sha` (the execute workflow: the base commit the task was routed on) or on the branch
 * `head_branch` (the recover workflow: dispatched on the default branch, whose head may move
 * between the dispatch and the run's creation, so only the branch can be expected).
 */
export interface DispatchFacts {
  at?: string;
  head_sha?: string;
  head_branch?: string;
  /** Why the app cannot vouch for any run (no dispatch time, or nothing to compare the head to). */
  missing: string;
  /** Said after a wrong base commit: what a person can do about it. */
  commitHint?: string;
}

export interface OriginExpectations extends ProvenanceExpectations {
  dispatch: DispatchFacts;
  /** The workflow, for messages; "the execute workflow" unless said. */
  workflowLabel?: string;
}

/**
 * The facts of a run GitHub reports (not the run itself) against what the app recorded at
 * dispatch: same repository and not a fork, the configured workflow, started by
 * workflow_dispatch, titled as the app's dispatch titles it, created after the dispatch (less the
 * clock skew), on the recorded commit or branch, and started by the app's bot. Whether the app
 * still waits for a run (first accepted run wins) is the caller's question, asked before this.
 */
export function checkRunOrigin(runInput: RunFacts, expected: OriginExpectations): RunVerdict {
  const run = checked(RunFactsSchema, runInput, "the workflow run");
  const label = expected.workflowLabel ?? "the execute workflow";
  const d = expected.dispatch;
  const reject = (rule: ProvenanceRule, reason: string): RunVerdict => ({
    verdict: "rejected",
    rule,
    reason,
  });

  if (run.repository.id !== expected.repository.id) {
    return reject(
      "repository",
      `run ${run.id} belongs to ${run.repository.full_name}, not to ${expected.repository.full_name}`,
    );
  }
  if (!run.head_repository || run.head_repository.id !== run.repository.id) {
    return reject(
      "fork",
      `run ${run.id} ran code from ${run.head_repository?.full_name ?? "an unknown repository"}, ` +
        `not from ${run.repository.full_name}; a fork's run is never committed`,
    );
  }
  const wanted = workflowPathOf(expected.workflowPath);
  const actual = run.path.replace(/@.*$/, "");
  if (actual !== wanted) {
    return reject("workflow", `run ${run.id} is of ${actual}, not of ${label} ${wanted}`);
  }
  if (run.event !== "workflow_dispatch") {
    return reject("event", `run ${run.id} was started by ${run.event}, not by the app's workflow_dispatch`);
  }
  if (run.display_title !== expected.displayTitle) {
    return reject(
      "title",
      `run ${run.id} is titled ${JSON.stringify(run.display_title ?? "")}, not "${expected.displayTitle}"; ` +
        `${label} must keep its run-name`,
    );
  }
  if (d.at === undefined || (d.head_sha === undefined && d.head_branch === undefined)) {
    return reject("not_dispatched", d.missing);
  }
  const dispatched = Date.parse(d.at);
  const created = Date.parse(run.created_at);
  const skew = expected.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS;
  if (!Number.isFinite(dispatched) || !Number.isFinite(created) || created < dispatched - skew) {
    return reject(
      "created_before_dispatch",
      `run ${run.id} was created at ${run.created_at}, before the app dispatched ${label === "the execute workflow" ? "the task" : "it"} at ${d.at}`,
    );
  }
  if (d.head_sha !== undefined && run.head_sha !== d.head_sha) {
    return reject(
      "base_commit",
      `run ${run.id} ran on ${run.head_sha}, not on ${d.head_sha}, the commit the app dispatched it for ` +
        `(the default branch moved in between)${d.commitHint ? `; ${d.commitHint}` : ""}`,
    );
  }
  if (d.head_branch !== undefined && run.head_branch !== d.head_branch) {
    return reject(
      "branch",
      `run ${run.id} ran on ${run.head_branch ?? "no branch"}, not on ${d.head_branch}, the branch the app dispatched it on`,
    );
  }
  if (expected.botLogin !== null) {
    const actors = [run.actor?.login, run.triggering_actor?.login].filter(
      (l): l is string => l !== undefined,
    );
    const stranger = actors.find((l) => l !== expected.botLogin);
    if (stranger !== undefined) {
      return reject(
        "actor",
        `run ${run.id} was started by ${stranger}, not by the app (${expected.botLogin})`,
      );
    }
  }
  return { verdict: "accepted" };
}

const ManifestFactsSchema = z.looseObject({
  task_key: z.string(),
  run_id: z.number().int(),
  run_attempt: z.number().int(),
  base_sha: ShaSchema,
});

/** The artifact's manifest must describe the accepted run: same task, run, attempt and base. */
export function checkManifestProvenance(
  manifestInput: { task_key: string; run_id: number; run_attempt: number; base_sha: string },
  runInput: RunFacts,
  recordInput: DispatchRecord,
): ManifestVerdict {
  const manifest = checked(ManifestFactsSchema, manifestInput, "the bundle manifest");
  const run = checked(RunFactsSchema, runInput, "the workflow run");
  const record = checked(DispatchRecordSchema, recordInput, "the task marker");
  const differs = (what: string, got: string | number, want: string | number): ManifestVerdict => ({
    ok: false,
    rule: "manifest",
    reason: `the patch artifact of run ${run.id} names ${what} ${got}, not ${want}; it was not made by this run for this task`,
  });
  if (manifest.task_key !== record.task_key) return differs("the task", manifest.task_key, record.task_key);
  if (manifest.run_id !== run.id) return differs("run", manifest.run_id, run.id);
  if (manifest.run_attempt !== run.run_attempt)
    return differs("attempt", manifest.run_attempt, run.run_attempt);
  if (manifest.base_sha !== run.head_sha) return differs("the base commit", manifest.base_sha, run.head_sha);
  return { ok: true };
}
