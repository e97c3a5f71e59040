import { z } from "zod";
import type { SwitchyardIdentity } from "../core/recovery/guards.js";
import {
  applyRecovery,
  planRecovery,
  type RecoveryCi,
  type RecoveryOutcome,
} from "../github/recovery-flow.js";
import { GitHubApiError, gitHubApiError } from "../github/errors.js";
import type { GitHubClient } from "../github/octokit.js";
import { completeRecoverRun, isRecoverRunTitle, type RecoverCompleteOutcome } from "./recover-complete.js";
import { loadRepoConfig } from "./repo-config.js";
import type { RouteLog } from "./route-issue.js";

/**
 * workflow_run.completed and check_suite.completed -> failure recovery (src/github/recovery-flow.ts).
 * Thin: read the event, load the repository's configuration, plan, carry out, log. The steps and
 * the rules are in recovery-flow.ts and src/core/recovery; this file only adapts Probot's events.
 *
 * What is looked at, cheapest refusal first:
 * - only `completed` deliveries concluding failure or timed_out, and passes (success) on a PR
 *   head, which may be the verdict a fix awaits; anything else costs no request;
 * - check suites only of GitHub Actions (`github-actions`): another CI app's suite carries no
 *   job logs Switchyard can read, and its own app's suites are its own check runs;
 * - then the configuration (1-2 requests) and the guards (recovery-flow.ts), which leave out
 *   Switchyard's own execute and recover workflows, unwatched workflows, forks, drafts, …
 *
 * Runs of the recover workflow titled for a step the app dispatched go to recover-complete.ts,
 * which checks where the run came from and commits its fix bundle as the app.
 *
 * When the app receives both events for one Actions run (it subscribes to both), the second is
 * recognised by its CI id (`<run_id>:<attempt>`) once the first has stored its state.
 *
 * Never throws: a failure is logged with the delivery id and the run; the next CI result of the
 * PR (or a person's /switchyard retry) picks the recovery up again.
 */

export interface RecoverDeps {
  /** The GitHub App's id: only its comments and check runs hold recovery state. */
  appId: () => Promise<number>;
  /** The app's slug (GET /app): its bot, `<slug>[bot]`, is how its commits are recognised. */
  appSlug: () => Promise<string>;
  now: () => Date;
}

export interface RecoverContext {
  id: string;
  payload: unknown;
  octokit: GitHubClient;
  log: RouteLog;
}

export type RecoverRunOutcome =
  | { action: "ignored"; reason: string }
  | { action: "invalid-config"; reason: string }
  | { action: "handled"; outcome: RecoveryOutcome }
  /** A run of the recover workflow the app dispatched: its step's answer (recover-complete.ts). */
  | { action: "step"; outcome: RecoverCompleteOutcome }
  | { action: "error"; message: string };

export const ACTIONS_APP_SLUG = "github-actions";
const LOOKED_AT = ["failure", "timed_out", "success"];

const RepositorySchema = z.looseObject({
  id: z.number().int(),
  name: z.string().min(1),
  full_name: z.string().min(1),
  owner: z.looseObject({ login: z.string().min(1) }),
  default_branch: z.string().min(1),
});

const PullRefSchema = z.looseObject({
  number: z.number().int().positive(),
  base: z.looseObject({ repo: z.looseObject({ id: z.number().int() }).nullish() }).nullish(),
});

const WorkflowRunSchema = z.looseObject({
  id: z.number().int().positive(),
  run_attempt: z.number().int().min(1).nullish(),
  name: z.string().nullish(),
  display_title: z.string().nullish(),
  path: z.string().nullish(),
  conclusion: z.string().nullable(),
  head_sha: z.string(),
  head_branch: z.string().nullish(),
  head_repository: z.looseObject({ full_name: z.string() }).nullish(),
  pull_requests: z.array(PullRefSchema).nullish(),
  html_url: z.string().nullish(),
});

const WorkflowRunPayloadSchema = z.looseObject({
  action: z.string(),
  workflow_run: WorkflowRunSchema,
  repository: RepositorySchema,
});

const CheckSuitePayloadSchema = z.looseObject({
  action: z.string(),
  check_suite: z.looseObject({
    id: z.number().int().positive(),
    conclusion: z.string().nullable(),
    head_sha: z.string(),
    head_branch: z.string().nullish(),
    app: z.looseObject({ slug: z.string().nullish() }).nullish(),
  }),
  repository: RepositorySchema,
});

/** workflow_run.completed. The lead routes Switchyard's execute workflow to the completion handler. */
export async function onRecoverableRun(
  context: RecoverContext,
  deps: RecoverDeps,
): Promise<RecoverRunOutcome> {
  const parsed = WorkflowRunPayloadSchema.safeParse(context.payload);
  if (!parsed.success) return ignore(context, "the workflow_run payload is not what GitHub documents");
  const { workflow_run: run, repository } = parsed.data;
  if (parsed.data.action !== "completed") return ignore(context, `workflow_run.${parsed.data.action}`);
  // The recover workflow's own runs answer a step the app dispatched; they are never recovered.
  if (isRecoverRunTitle(run.display_title)) {
    try {
      return { action: "step", outcome: await completeRecoverRun(context, deps) };
    } catch (error) {
      // The step stays in progress: a redelivery of this webhook may still record it.
      return failed(context, error, `the step of recover run ${run.id} in ${repository.full_name}`);
    }
  }
  return recover(context, deps, repository, fromWorkflowRun(run, repository.id, ACTIONS_APP_SLUG));
}

/**
 * check_suite.completed: a GitHub Actions suite is resolved to its workflow run (one request) and
 * recovered like a workflow_run event; any other app's suite is ignored.
 */
export async function onCheckSuiteCompleted(
  context: RecoverContext,
  deps: RecoverDeps,
): Promise<RecoverRunOutcome> {
  const parsed = CheckSuitePayloadSchema.safeParse(context.payload);
  if (!parsed.success) return ignore(context, "the check_suite payload is not what GitHub documents");
  const { check_suite: suite, repository } = parsed.data;
  if (parsed.data.action !== "completed") return ignore(context, `check_suite.${parsed.data.action}`);
  const slug = suite.app?.slug ?? "";
  if (slug !== ACTIONS_APP_SLUG) {
    return ignore(
      context,
      `the check suite belongs to ${slug ? `the app '${slug}'` : "an unknown app"}, not GitHub Actions`,
    );
  }
  if (!LOOKED_AT.includes(suite.conclusion ?? "")) {
    return ignore(context, `the check suite concluded ${suite.conclusion ?? "nothing"}`);
  }
  try {
    const run = await suiteRun(context.octokit, repository.owner.login, repository.name, suite.id);
    if (run === null) return ignore(context, `check suite ${suite.id} has no workflow run`);
    return await recover(context, deps, repository, fromWorkflowRun(run, repository.id, slug));
  } catch (error) {
    return failed(context, error, `check suite ${suite.id}`);
  }
}

/**
 * GitHub sends `workflow_run.completed` and `check_suite.completed` for the same Actions run at
 * the same moment. Handled side by side, both would read "no recovery yet" and both would act (two
 * dispatches, two reruns). So this process handles one recovery decision per head at a time: the
 * second waits, then finds the first's state and its CI id, and stops. Replicas do not share this;
 * with several, the same pair may still land on two of them (docs/recovery.md says so).
 */
const decisions = new Map<string, Promise<unknown>>();

async function oneAtATime<T>(key: string, work: () => Promise<T>): Promise<T> {
  const before = decisions.get(key) ?? Promise.resolve();
  const mine = before.then(work, work);
  const settled = mine.then(
    () => undefined,
    () => undefined,
  );
  decisions.set(key, settled);
  try {
    return await mine;
  } finally {
    if (decisions.get(key) === settled) decisions.delete(key);
  }
}

async function recover(
  context: RecoverContext,
  deps: RecoverDeps,
  repository: z.infer<typeof RepositorySchema>,
  ci: RecoveryCi | string,
): Promise<RecoverRunOutcome> {
  if (typeof ci === "string") return ignore(context, ci);
  return oneAtATime(`${repository.full_name}@${ci.head_sha}`, () => decide(context, deps, repository, ci));
}

async function decide(
  context: RecoverContext,
  deps: RecoverDeps,
  repository: z.infer<typeof RepositorySchema>,
  ci: RecoveryCi,
): Promise<RecoverRunOutcome> {
  if (!LOOKED_AT.includes(ci.conclusion ?? ""))
    return ignore(context, `the run concluded ${ci.conclusion ?? "nothing"}`);
  // A pass matters only as the verdict on a fix, and fixes are awaited on PRs.
  if (ci.conclusion === "success" && ci.pull_requests.length === 0) {
    return ignore(context, "CI passed outside a pull request");
  }
  const owner = repository.owner.login;
  const repo = repository.name;
  try {
    const cfg = await loadRepoConfig(context.octokit, { owner, repo });
    if (!cfg.ok) {
      // The route check run reports a broken configuration; recovery just does not act on it.
      const reason = `the configuration cannot be used: ${cfg.error.message.split("\n")[0]}`;
      context.log.warn({ delivery: context.id, repo: repository.full_name, run: ci.run_id }, reason);
      return { action: "invalid-config", reason };
    }
    const config = cfg.loaded.config;
    const [appId, slug] = await Promise.all([deps.appId(), deps.appSlug()]);
    const identity: SwitchyardIdentity = { bot_login: `${slug}[bot]`, app_slug: slug };
    const now = deps.now().toISOString();
    const plan = await planRecovery(context.octokit, {
      owner,
      repo,
      default_branch: repository.default_branch,
      ci,
      config,
      identity,
      author: { app_id: appId },
      now,
    });
    if (plan.kind === "ignored") return ignore(context, plan.reason, ci.run_id);
    const outcome = await applyRecovery(context.octokit, plan, { config, now });
    context.log.info(
      {
        delivery: context.id,
        repo: repository.full_name,
        run: ci.run_id,
        plan: outcome.plan,
        action: outcome.action?.kind ?? null,
        done: outcome.done,
        problem: outcome.problem,
        events: outcome.events,
      },
      "switchyard recovery",
    );
    return { action: "handled", outcome };
  } catch (error) {
    return failed(context, error, `run ${ci.run_id} in ${repository.full_name}`);
  }
}

/** The CI result of a workflow run, or why it cannot be one. */
function fromWorkflowRun(
  run: z.infer<typeof WorkflowRunSchema>,
  repositoryId: number,
  appSlug: string,
): RecoveryCi | string {
  if (!/^[0-9a-f]{40}$/.test(run.head_sha)) return `run ${run.id} has no commit SHA`;
  if (!run.head_branch) return `run ${run.id} did not run on a branch`;
  // GitHub lists PRs of any repository whose head is this commit; only this repository's count.
  const prs = (run.pull_requests ?? [])
    .filter((p) => p.base?.repo?.id === undefined || p.base.repo.id === repositoryId)
    .map((p) => p.number);
  return {
    run_id: run.id,
    run_attempt: run.run_attempt ?? 1,
    conclusion: run.conclusion,
    head_sha: run.head_sha,
    head_branch: run.head_branch,
    head_repo_full_name: run.head_repository?.full_name ?? null,
    ...(run.name ? { workflow_name: run.name } : {}),
    ...(run.path ? { workflow_path: run.path } : {}),
    app_slug: appSlug,
    pull_requests: prs,
    html_url: run.html_url ?? null,
  };
}

const SuiteRunsSchema = z.looseObject({ workflow_runs: z.array(WorkflowRunSchema) });

async function suiteRun(
  octokit: GitHubClient,
  owner: string,
  repo: string,
  check_suite_id: number,
): Promise<z.infer<typeof WorkflowRunSchema> | null> {
  let data: unknown;
  try {
    ({ data } = await octokit.request("GET /repos/{owner}/{repo}/actions/runs", {
      owner,
      repo,
      check_suite_id,
      per_page: 1,
    }));
  } catch (error) {
    throw gitHubApiError(error, {
      doing: `finding the workflow run of check suite ${check_suite_id} in ${owner}/${repo}`,
      permission: "actions: read",
    });
  }
  const list = SuiteRunsSchema.safeParse(data);
  if (!list.success)
    throw new GitHubApiError("GitHub's list of workflow runs is not what its API documents", null);
  return list.data.workflow_runs[0] ?? null;
}

function ignore(context: RecoverContext, reason: string, run?: number): RecoverRunOutcome {
  context.log.info(
    { delivery: context.id, ...(run !== undefined ? { run } : {}) },
    `recovery ignored: ${reason}`,
  );
  return { action: "ignored", reason };
}

function failed(context: RecoverContext, error: unknown, what: string): RecoverRunOutcome {
  const message = error instanceof Error ? error.message : String(error);
  context.log.error({ err: error, delivery: context.id }, `switchyard could not recover ${what}`);
  return { action: "error", message };
}
