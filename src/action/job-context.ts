import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { InputError, SwitchyardError } from "../core/errors.js";

/**
 * What GitHub's runner tells every job through its environment, read and checked in one place for
 * all the Action's modes. A variable GitHub Actions always sets but that is missing or malformed
 * means Switchyard is not running as a step of a job: that is reported with what to do, never
 * papered over, so a misplaced step fails before it makes a request.
 */

export const DEFAULT_SERVER_URL = "https://github.com";
const DEFAULT_HINT = "run Switchyard as a step of a GitHub Actions job";

type Need = "required" | "optional";

export interface JobContextOptions<W extends Need = Need, E extends Need = Need> {
  /** `required`: the mode works on a checkout, so GITHUB_WORKSPACE must be set. */
  workspace: W;
  /**
   * `required`: the mode acts on the event that started the job, so GITHUB_EVENT_NAME,
   * GITHUB_EVENT_PATH and GITHUB_RUN_ID must be set and the payload must be a JSON object.
   * `optional` (default): the payload is only a hint (the default branch, a workflow run); one
   * that cannot be read is null, and `payloadProblem` says why.
   */
  event?: E;
  /** What to tell a user whose job lacks the runner's variables; default: run it as a step of a job. */
  hint?: string;
}

export interface WorkflowRunRef {
  id: number;
  attempt: number;
}

export interface JobContext {
  owner: string;
  repo: string;
  workspace: string | null;
  /** RUNNER_TEMP; outside Actions a directory beside the workspace, else the system's temp. */
  tempDir: string;
  /** GITHUB_SERVER_URL without a trailing slash. */
  serverUrl: string;
  /** The job's workflow run; null outside Actions (a local run has none). */
  run: WorkflowRunRef | null;
  /** `<run id>-<attempt>`, the key of this job's files and commits; null without a run. */
  runKey: string | null;
  /** The job's run page, for links in reports; null without a run. */
  runUrl: string | null;
  /** GITHUB_SHA when it is a full commit id. */
  sha: string | null;
  /** The branch the job runs on, from GITHUB_REF; null on a tag or a pull request ref. */
  refBranch: string | null;
  eventName: string | null;
  eventPath: string | null;
  payload: Record<string, unknown> | null;
  /** Why `payload` is null although GITHUB_EVENT_PATH is set (only with `event: "optional"`). */
  payloadProblem: string | null;
  /** From the event payload, which saves asking the API for it. */
  defaultBranch: string | null;
}

/** The context, with what the options made required typed as present. */
export type JobContextFor<W extends Need, E extends Need> = JobContext &
  (W extends "required" ? { workspace: string } : unknown) &
  (E extends "required"
    ? { eventName: string; eventPath: string; payload: Record<string, unknown>; run: WorkflowRunRef }
    : unknown);

const POSITIVE_INT = /^[1-9]\d*$/;
const REPOSITORY = /^[^/\s]+\/[^/\s]+$/;
const EventPayloadSchema = z.looseObject({});

/** GITHUB_SERVER_URL without a trailing slash, github.com when unset. Pure. */
export function serverUrlOf(env: NodeJS.ProcessEnv): string {
  return (env.GITHUB_SERVER_URL || DEFAULT_SERVER_URL).replace(/\/+$/, "");
}

/** The page of a workflow run. Pure. */
export function runPageUrl(ctx: Pick<JobContext, "serverUrl" | "owner" | "repo">, runId: number): string {
  return `${ctx.serverUrl}/${ctx.owner}/${ctx.repo}/actions/runs/${runId}`;
}

/** Names of the variables that are missing or not as GitHub Actions sets them. Pure. */
function missingVariables(env: NodeJS.ProcessEnv, options: JobContextOptions): string[] {
  const bad: string[] = [];
  if (!REPOSITORY.test(env.GITHUB_REPOSITORY ?? "")) bad.push("GITHUB_REPOSITORY");
  if (options.workspace === "required" && !env.GITHUB_WORKSPACE) bad.push("GITHUB_WORKSPACE");
  const eventRequired = options.event === "required";
  if (eventRequired && !env.GITHUB_EVENT_NAME) bad.push("GITHUB_EVENT_NAME");
  if (eventRequired && !env.GITHUB_EVENT_PATH) bad.push("GITHUB_EVENT_PATH");
  const runId = env.GITHUB_RUN_ID;
  if (runId === undefined || runId === "" ? eventRequired : !POSITIVE_INT.test(runId))
    bad.push("GITHUB_RUN_ID");
  const attempt = env.GITHUB_RUN_ATTEMPT;
  if (attempt !== undefined && attempt !== "" && !POSITIVE_INT.test(attempt)) bad.push("GITHUB_RUN_ATTEMPT");
  return bad;
}

function missingError(bad: string[], hint: string): SwitchyardError {
  // A job without a checkout is the one common case with a more precise fix than "run it in a job".
  if (bad.length === 1 && bad[0] === "GITHUB_WORKSPACE")
    return new SwitchyardError("GITHUB_WORKSPACE is not set: add actions/checkout before Switchyard");
  const names = bad.join(", ");
  const many = bad.length > 1;
  return new SwitchyardError(
    `${names} ${many ? "are" : "is"} not set as GitHub Actions sets ${many ? "them" : "it"}: ${hint}`,
  );
}

/** Strict: a payload that cannot be used throws, naming the file. */
async function readPayloadStrict(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new SwitchyardError(
      `cannot read the event payload at GITHUB_EVENT_PATH (${file}): ${(error as Error).message}`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new InputError(`the event payload at GITHUB_EVENT_PATH (${file}) is not JSON`);
  }
  const parsed = EventPayloadSchema.safeParse(raw);
  if (!parsed.success)
    throw new InputError(`the event payload at GITHUB_EVENT_PATH (${file}) is not an object`);
  return parsed.data;
}

/** Lenient: the payload, or null with the reason the strict reader would have thrown. */
async function readPayloadLenient(
  file: string,
): Promise<{ payload: Record<string, unknown> | null; problem: string | null }> {
  try {
    return { payload: await readPayloadStrict(file), problem: null };
  } catch (error) {
    if (error instanceof SwitchyardError) return { payload: null, problem: error.message };
    throw error;
  }
}

function defaultBranchOf(payload: Record<string, unknown> | null): string | null {
  const repository = payload?.repository;
  if (typeof repository !== "object" || repository === null) return null;
  const branch = (repository as { default_branch?: unknown }).default_branch;
  return typeof branch === "string" && branch !== "" ? branch : null;
}

/**
 * Reads the job's context from the runner's environment. Throws a SwitchyardError naming every
 * missing variable (with `hint`), or, with `event: "required"`, an error naming an event payload
 * that cannot be read (SwitchyardError) or is not a JSON object (InputError).
 */
export async function readJobContext<W extends Need, E extends Need = "optional">(
  env: NodeJS.ProcessEnv,
  options: JobContextOptions<W, E>,
): Promise<JobContextFor<W, E>> {
  const bad = missingVariables(env, options);
  if (bad.length > 0) throw missingError(bad, options.hint ?? DEFAULT_HINT);

  const [owner, repo] = env.GITHUB_REPOSITORY!.split("/") as [string, string];
  const workspace = env.GITHUB_WORKSPACE || null;
  const serverUrl = serverUrlOf(env);
  const run = env.GITHUB_RUN_ID
    ? { id: Number(env.GITHUB_RUN_ID), attempt: Number(env.GITHUB_RUN_ATTEMPT || "1") }
    : null;
  const eventPath = env.GITHUB_EVENT_PATH || null;
  let payload: Record<string, unknown> | null = null;
  let payloadProblem: string | null = null;
  if (eventPath !== null && options.event === "required") payload = await readPayloadStrict(eventPath);
  else if (eventPath !== null) ({ payload, problem: payloadProblem } = await readPayloadLenient(eventPath));

  const ctx: JobContext = {
    owner,
    repo,
    workspace,
    tempDir:
      env.RUNNER_TEMP ||
      // Beside the checkout, not in it: nothing Switchyard writes may end up in a patch.
      (workspace !== null ? path.join(workspace, "..", "_switchyard_tmp") : os.tmpdir()),
    serverUrl,
    run,
    runKey: run === null ? null : `${run.id}-${run.attempt}`,
    runUrl: run === null ? null : runPageUrl({ serverUrl, owner, repo }, run.id),
    sha: env.GITHUB_SHA && /^[0-9a-f]{40}$/.test(env.GITHUB_SHA) ? env.GITHUB_SHA : null,
    refBranch: env.GITHUB_REF?.startsWith("refs/heads/") ? env.GITHUB_REF.slice("refs/heads/".length) : null,
    eventName: env.GITHUB_EVENT_NAME || null,
    eventPath,
    payload,
    payloadProblem,
    defaultBranch: defaultBranchOf(payload),
  };
  return ctx as JobContextFor<W, E>;
}
