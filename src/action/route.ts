import * as core from "@actions/core";
import { z } from "zod";
import { onIssueComment, type CommandOutcome } from "../app/commands.js";
import { onIssueClosed, type ClosedOutcome } from "../app/issue-closed.js";
import {
  onIssueLabeled,
  renderProblems,
  type RouteContext,
  type RouteDeps,
  type RouteLog,
  type RouteOutcome,
} from "../app/route-issue.js";
import { REPO_CONFIG_PATH } from "../config/load.js";
import { ConfigError, InputError, SwitchyardError } from "../core/errors.js";
import { renderDecisionTable } from "../core/routing/render.js";
import type { RoutingDecision } from "../core/routing/schema.js";
import { LABEL_PREFIX } from "../core/task/capability.js";
import { createOctokit, type CreateOctokitOptions } from "../github/octokit.js";
import { DEFAULT_SERVER_URL, readJobContext, serverUrlOf } from "./job-context.js";

/**
 * mode: route — the app's route flow for a repository without the app. A workflow on
 * `issues: [labeled, closed]` and `issue_comment: [created]` runs this step; it hands the event
 * to the very handlers the app registers (src/app/route-issue.ts, commands.ts, issue-closed.ts),
 * so the trigger
 * checks, the idempotency, the check run, the dispatch of the execute workflow and the status
 * comment are the app's, not a copy of them. What differs is only the door:
 *
 * - The event comes from GITHUB_EVENT_NAME / GITHUB_EVENT_PATH instead of a webhook delivery.
 * - The delivery id is `actions-run-<GITHUB_RUN_ID>`, without the attempt: re-running the job
 *   replays the same event, which is what a webhook redelivery is, and the handlers already
 *   refuse to act twice on one delivery.
 * - "Switchyard's own comments" are those made through the token's GitHub App. Comments made with
 *   GITHUB_TOKEN carry `performed_via_github_app.id` of the GitHub Actions app, 15368 on
 *   github.com; on GitHub Enterprise Server that app has another id per instance, so `app-id` must
 *   be given there, as it must when the token is another app's installation token. A personal
 *   access token makes comments that belong to no app, so none of them could be recognised as
 *   Switchyard's status comment: it is not supported here.
 * - The configuration is read through the API, as the app reads it: a job on an issue event has
 *   no checkout, and reading the default branch's file keeps both setups on the same file.
 *
 * The job fails only when the repository's setup is at fault (an invalid configuration, an
 * execute workflow GitHub cannot start) or Switchyard broke; what happened to the task (held,
 * no tool, already running, a refusal) is reported on the issue and the job succeeds.
 */

/** The GitHub Actions app on github.com: the app GITHUB_TOKEN's comments are made through. */
export const GITHUB_ACTIONS_APP_ID = 15368;

/** The events mode route acts on, with the activity types its workflow should subscribe to. */
export const ROUTE_EVENTS = { issues: ["labeled", "closed"], issue_comment: ["created"] } as const;
export type RouteEventName = keyof typeof ROUTE_EVENTS;

export interface RouteModeOptions {
  /** GITHUB_TOKEN, or a GitHub App installation token (then give that app's `appId`). */
  token: string;
  /** Accepted only as .github/switchyard.yml: mode route reads that file through the API. */
  configPath?: string;
  /** The app whose comments are Switchyard's; defaults to GitHub Actions' on github.com. */
  appId?: number;
  /**
   * When set, a label other than this one is ignored before any request. Without it the
   * configuration's trigger.label decides, which costs the configuration lookup (1-2 requests);
   * the workflow's `if:` is what keeps other labels from starting a job at all.
   */
  triggerLabel?: string;
}

export interface RouteModeDeps {
  /** Extra Octokit options; tests turn throttling and retries off. */
  octokit?: Pick<CreateOctokitOptions, "throttle" | "retries" | "fetch">;
  now?: () => Date;
}

export interface RouteModeResult {
  event: RouteEventName;
  /** What the app's handler did; null when it stopped on an error (then `failed` says which). */
  outcome: ModeOutcome | null;
  /** Set when the job must fail, with what to do about it. */
  failed: string | null;
}

const OptionsSchema = z.strictObject({
  token: z.string().min(1, "github-token is empty; pass ${{ github.token }} or an app installation token"),
  configPath: z.string().optional(),
  appId: z.number().int("app-id must be a whole number").min(1, "app-id must be positive").optional(),
  triggerLabel: z
    .string()
    .min(1, "trigger-label is empty; leave it unset to use the configuration's trigger.label")
    .refine((l) => !l.startsWith(LABEL_PREFIX), {
      message: `trigger-label must not start with "${LABEL_PREFIX}": Switchyard sets those labels itself`,
    })
    .optional(),
});

const LabelSchema = z.looseObject({ label: z.looseObject({ name: z.string() }).nullish() });

function parseOptions(options: RouteModeOptions): z.infer<typeof OptionsSchema> {
  const parsed = OptionsSchema.safeParse(options);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new InputError(`mode route: ${issue.path.join(".") || "(options)"}: ${issue.message}`);
}

/** The Actions app's id where it is known; elsewhere the caller must say. Pure. */
export function resolveAppId(appId: number | undefined, env: NodeJS.ProcessEnv): number {
  if (appId !== undefined) return appId;
  const server = serverUrlOf(env);
  if (server === DEFAULT_SERVER_URL) return GITHUB_ACTIONS_APP_ID;
  throw new InputError(
    `mode route needs app-id on ${server}: the GitHub Actions app's id differs per GitHub Enterprise ` +
      "Server. Read it from any comment a workflow made with GITHUB_TOKEN " +
      "(`gh api repos/<owner>/<repo>/issues/comments/<id> --jq .performed_via_github_app.id`) and pass it as app-id.",
  );
}

/** Octokit's and the handlers' log lines go to the job log; the last error is kept for the failure. */
function actionsLog(): RouteLog & { lastError: () => unknown } {
  let last: unknown = undefined;
  const line = (obj: object, msg: string) => {
    const fields = Object.entries(obj)
      .filter(([k, v]) => k !== "err" && v !== undefined && v !== null && typeof v !== "object")
      .map(([k, v]) => `${k}=${String(v)}`);
    return fields.length === 0 ? msg : `${msg} (${fields.join(", ")})`;
  };
  return {
    info: (obj, msg) => core.info(line(obj, msg)),
    warn: (obj, msg) => core.warning(line(obj, msg)),
    error: (obj, msg) => {
      const err = (obj as { err?: unknown }).err;
      if (err !== undefined) last = err;
      core.error(err instanceof Error ? `${line(obj, msg)}: ${err.message}` : line(obj, msg));
      if (err instanceof Error && !(err instanceof SwitchyardError) && err.stack) core.debug(err.stack);
    },
    lastError: () => last,
  };
}

export async function routeMode(
  options: RouteModeOptions,
  env: NodeJS.ProcessEnv,
  deps: RouteModeDeps = {},
): Promise<RouteModeResult> {
  const o = parseOptions(options);
  if (o.configPath !== undefined && o.configPath !== REPO_CONFIG_PATH) {
    throw new InputError(
      `config-path is "${o.configPath}", but mode route reads ${REPO_CONFIG_PATH} from the default branch ` +
        "through the API, as the app does (an issue event's job has no checkout); leave config-path unset",
    );
  }
  // An issue event's job has no checkout: the workspace is not needed.
  const job = await readJobContext(env, {
    workspace: "optional",
    event: "required",
    hint: "run mode route as a step of a workflow job started by an issues or issue_comment event",
  });
  const name = job.eventName;
  if (!isRouteEvent(name)) {
    throw new InputError(
      "mode route handles the issues (types: [labeled, closed]) and issue_comment (types: [created]) " +
        `events; this job was started by "${name}". Use mode route in a workflow triggered by those events ` +
        "(see docs/examples/workflows/switchyard-route.yml).",
    );
  }
  const payload = job.payload;

  // Cheap refusals before any request: an event of another activity type, another label.
  const issueAction = name === "issues" ? ROUTE_EVENTS.issues.find((a) => a === payload.action) : undefined;
  if (name === "issues" && issueAction === undefined) {
    return report(
      name,
      env,
      ignored(
        `this is issues.${String(payload.action)}; mode route acts on issues.labeled and issues.closed`,
      ),
    );
  }
  if (issueAction === "labeled" && o.triggerLabel !== undefined) {
    const label = LabelSchema.safeParse(payload).data?.label?.name ?? "";
    if (label !== o.triggerLabel) {
      return report(name, env, ignored(`label "${label}" is not the trigger label "${o.triggerLabel}"`));
    }
  }

  const appId = resolveAppId(o.appId, env);
  const log = actionsLog();
  const octokit = createOctokit({
    auth: o.token,
    env,
    // As in mode execute: Octokit reports the 404s Switchyard asks for on purpose as errors.
    log: { debug: core.debug, info: core.debug, warn: core.warning, error: core.debug },
    ...deps.octokit,
  });
  const context: RouteContext = { id: `actions-run-${job.run.id}`, payload, octokit, log };
  const routeDeps: RouteDeps = { appId: async () => appId, now: deps.now ?? (() => new Date()) };
  core.info(`delivery ${context.id} (attempt ${job.run.attempt}), event ${name}`);

  const outcome =
    issueAction === "labeled"
      ? await onIssueLabeled(context, routeDeps)
      : issueAction === "closed"
        ? await onIssueClosed(context, routeDeps)
        : await onIssueComment(context, routeDeps);
  if (outcome === null) {
    const what =
      issueAction === "labeled"
        ? "route the issue"
        : issueAction === "closed"
          ? "stop the closed issue's run"
          : "carry out the comment command";
    return report(name, env, null, crashMessage(what, log.lastError()));
  }
  return report(name, env, outcome);
}

function isRouteEvent(name: string): name is RouteEventName {
  return Object.hasOwn(ROUTE_EVENTS, name);
}

function ignored(reason: string): { action: "ignored"; reason: string } {
  return { action: "ignored", reason };
}

type ModeOutcome = RouteOutcome | CommandOutcome | ClosedOutcome;

function crashMessage(what: string, error: unknown): string {
  const why =
    error instanceof SwitchyardError
      ? error.message
      : "an unexpected error; the lines above have the details (this is a bug, please report it)";
  return `Switchyard could not ${what}: ${why}`;
}

type Described = {
  /** The `action` output: what happened, a routed command's route result included. */
  action: string;
  /** One line for the log's notice and the summary's top. */
  line: string;
  /** More for the summary: the decision table, the configuration's problems. */
  details: string | null;
  failed: string | null;
  decision: RoutingDecision | null;
};

const described = (action: string, line: string, rest: Partial<Described> = {}): Described => ({
  action,
  line,
  details: null,
  failed: null,
  decision: null,
  ...rest,
});

/** What the job reports for a handler's result. Pure. */
export function describeOutcome(outcome: ModeOutcome): Described {
  const released = "released" in outcome ? (outcome.released ?? []) : [];
  if (released.length === 0) return describeOne(outcome);
  // A close that let held tasks go says so, whatever it did for the closed issue itself.
  const d = describeOne(outcome);
  return {
    ...d,
    line: `${d.line} Routed the held ${released.length === 1 ? "task" : "tasks"} ${released.map((n) => `#${n}`).join(", ")}.`,
  };
}

function describeOne(outcome: ModeOutcome): Described {
  switch (outcome.action) {
    case "routed":
      return describeOne(outcome.outcome);
    case "refused":
      return described(
        "refused",
        `Refused: ${outcome.reason}${outcome.replied ? " (answered on the issue)" : ""}.`,
      );
    case "replied":
      return described("replied", `Answered \`${outcome.command}\` on the issue.`);
    case "stopped":
      return described(
        "stopped",
        outcome.cancelled.length === 0
          ? "Stopped the task."
          : `Stopped the task; asked GitHub to cancel run ${outcome.cancelled.join(", ")}.`,
      );
    case "ignored":
      return described("ignored", `Nothing to do: ${outcome.reason}.`);
    case "denied":
      return described("denied", `Not routed: ${outcome.reason}.`);
    case "already-running":
      return described(
        "already-running",
        `Not started again: ${outcome.reason}${outcome.url === undefined ? "" : ` (${outcome.url})`}.`,
      );
    case "invalid-config": {
      const n = outcome.problems.length;
      return described(
        "invalid-config",
        `Not routed: the configuration has ${n === 1 ? "1 problem" : `${n} problems`}.`,
        {
          details: renderProblems(outcome.problems),
          failed:
            `Switchyard's configuration is invalid:\n${new ConfigError(outcome.problems).message}\n` +
            `Fix ${REPO_CONFIG_PATH} on the default branch, then add the label again.`,
        },
      );
    }
    case "blocked":
      return described("blocked", `Held: waiting for ${outcome.blockers.map((b) => `#${b}`).join(", ")}.`);
    case "no-tool":
      return described("no-tool", "No tool can take the task.", {
        details: renderDecisionTable(outcome.decision),
        decision: outcome.decision,
      });
    case "dispatched":
      return described(
        "dispatched",
        `Routed to ${outcome.decision.tool}; the execute workflow was started.`,
        {
          details: renderDecisionTable(outcome.decision),
          decision: outcome.decision,
        },
      );
    case "dispatch-failed":
      return described(
        "dispatch-failed",
        `Routed to ${outcome.decision.tool}, but the execute workflow could not start.`,
        {
          details: renderDecisionTable(outcome.decision),
          decision: outcome.decision,
          failed: outcome.missing
            ? "The execute workflow (execution.workflow) is not on the default branch; the status comment on the issue says how to add it."
            : "GitHub refused to start the execute workflow; the status comment on the issue quotes its answer.",
        },
      );
  }
}

async function report(
  event: RouteEventName,
  env: NodeJS.ProcessEnv,
  outcome: ModeOutcome | null,
  crash: string | null = null,
): Promise<RouteModeResult> {
  const d =
    outcome === null
      ? described("failed", crash ?? "Switchyard stopped.", { failed: crash ?? "Switchyard stopped." })
      : describeOutcome(outcome);
  // A failure is reported once, by the caller's setFailed; a notice would repeat it.
  if (d.failed === null) core.notice(`Switchyard: ${d.line}`);
  core.setOutput("action", d.action);
  core.setOutput("tool", d.decision?.tool ?? "");
  core.setOutput("decision", d.decision === null ? "" : JSON.stringify(d.decision));
  // As in mode execute: older GitHub Enterprise Server runners have no job summaries.
  if (env.GITHUB_STEP_SUMMARY) {
    const parts = ["### Switchyard · route", "", d.line, ...(d.details === null ? [] : ["", d.details])];
    await core.summary.addRaw(parts.join("\n") + "\n").write();
  }
  return { event, outcome, failed: d.failed };
}
