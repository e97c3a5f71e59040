import { z } from "zod";
import { COMMAND_USAGE, parseCommand, type ParsedCommand } from "../core/commands.js";
import { ConfigError, InputError } from "../core/errors.js";
import { renderDecisionTable } from "../core/routing/render.js";
import { route } from "../core/routing/route.js";
import { readMarker } from "../core/status-marker.js";
import { buildTask } from "../core/task/build.js";
import { workflowId } from "../github/dispatch.js";
import { GitHubApiError, gitHubApiError } from "../github/errors.js";
import type { GitHubClient } from "../github/octokit.js";
import { canTrigger } from "../github/permissions.js";
import { readRoutingSignals, signalNeeds } from "../github/routing-signals.js";
import { COMMENT_LIMIT, findStatusComment } from "../github/status-comment.js";
import { stopTask } from "./issue-closed.js";
import { resetRecovery } from "../github/recovery-flow.js";
import { loadRepoConfig } from "./repo-config.js";
import {
  renderProblems,
  routeTask,
  TaskMarkerSchema,
  type RouteContext,
  type RouteDeps,
  type RouteOutcome,
} from "./route-issue.js";

/**
 * issue_comment.created -> a comment command. The steps, cheapest refusal first:
 *
 * 1. Only `created`: an edited comment is not a new request (editing a typo must not stop a run
 *    twice), and a deleted one asks for nothing. The body is parsed (src/core/commands.ts) before
 *    any request; a comment without a command costs nothing.
 * 2. Switchyard's own comments are ignored: `performed_via_github_app.id` equals our app's id
 *    (read from the app's credentials, no request), which nobody else can forge. Its replies also
 *    never start a line with `/switchyard`, so even a copy of one is not a command.
 * 3. The configuration (1-2 requests), for trigger.allow_bots and for the command itself.
 * 4. The sender needs write permission, asked of the API. A person without it gets one polite
 *    reply, once per command comment; a bot gets nothing at all (a log line): two bots answering
 *    each other is how comment loops start, and a reply to our own comments cannot happen (2).
 * 5. The command. Every command the sender was approved for gets a visible result: a reply, or
 *    the status comment when that is what changed.
 *    - `explain` routes the task again with the current configuration and the routing signals
 *      the strategy reads (as the label's route reads them) and replies with every candidate
 *      and its reason. It replies rather than editing the status comment: the status
 *      comment says what is running, and a decision made now may differ from the one that
 *      started the run.
 *    - `help` replies with what went wrong and the usage.
 *    - `stop` is what closing the issue does (stopTask): runs cancelled, `switchyard:stopped`,
 *      the status comment names who stopped it. When nothing is running it replies so, once.
 *    - `route [tool]` and `retry` go through the label's pipeline (routeTask) with its
 *      idempotency: the result is the status comment (running, blocked, no tool, ...), and a
 *      task that is still running gets one reply saying so instead of a second run. `route
 *      <tool>` passes the tool to the router as the command's override; a refused override is
 *      routed by the chain and the decision table says why. `retry` routes again without an
 *      override. Both need an open issue: a pull request or a closed issue gets a reply.
 */

export type CommandOutcome =
  | { action: "ignored"; reason: string }
  | { action: "refused"; reason: string; replied: boolean }
  | { action: "replied"; command: ParsedCommand["name"] }
  | { action: "stopped"; cancelled: number[] }
  /** `replied`: the outcome was answered with a reply rather than in the status comment. */
  | { action: "routed"; command: "route" | "retry"; outcome: RouteOutcome; replied: boolean };

const CommentPayloadSchema = z.looseObject({
  action: z.string(),
  comment: z.looseObject({
    id: z.number().int(),
    body: z.string().nullish(),
    user: z.looseObject({ login: z.string(), type: z.string() }).nullish(),
    performed_via_github_app: z.looseObject({ id: z.number().int() }).nullish(),
  }),
  issue: z.looseObject({
    number: z.number().int().min(1),
    state: z.string(),
    labels: z.array(z.looseObject({ name: z.string() })).nullish(),
    pull_request: z.unknown().optional(),
  }),
  repository: z.looseObject({
    name: z.string().min(1),
    owner: z.looseObject({ login: z.string().min(1) }),
    default_branch: z.string().min(1),
  }),
  sender: z.looseObject({ login: z.string().min(1), type: z.string() }),
});

interface Where {
  owner: string;
  repo: string;
  issue_number: number;
  key: string;
}

/** The handler: never throws. A failure after the sender was approved is answered in one reply. */
export async function onIssueComment(context: RouteContext, deps: RouteDeps): Promise<CommandOutcome | null> {
  const progress: { approved: Where | null } = { approved: null };
  try {
    return await runCommand(context, deps, progress);
  } catch (error) {
    context.log.error(
      { err: error, delivery: context.id },
      "switchyard could not carry out the comment command",
    );
    const where = progress.approved;
    if (where !== null) {
      const message =
        error instanceof ConfigError || error instanceof InputError || error instanceof GitHubApiError
          ? error.message
          : "an unexpected error; the app's log has the details";
      try {
        await reply(context.octokit, where, `**Switchyard** · the command failed: ${message}`);
      } catch (replyError) {
        context.log.error({ err: replyError, delivery: context.id, task: where.key }, "and could not say so");
      }
    }
    return null;
  }
}

async function runCommand(
  context: RouteContext,
  deps: RouteDeps,
  progress: { approved: Where | null },
): Promise<CommandOutcome> {
  const parsed = CommentPayloadSchema.safeParse(context.payload);
  if (!parsed.success) throw new InputError("the issue_comment payload is not what GitHub documents");
  const payload = parsed.data;
  const owner = payload.repository.owner.login;
  const repo = payload.repository.name;
  const where: Where = {
    owner,
    repo,
    issue_number: payload.issue.number,
    key: `${owner}/${repo}#${payload.issue.number}`,
  };
  const log = (msg: string, extra: object = {}) =>
    context.log.info({ delivery: context.id, task: where.key, comment: payload.comment.id, ...extra }, msg);
  const ignore = (reason: string): CommandOutcome => {
    log(`ignored: ${reason}`);
    return { action: "ignored", reason };
  };

  // 1
  if (payload.action !== "created") return ignore(`the comment was ${payload.action}`);
  const command = parseCommand(payload.comment.body ?? "");
  if (command === null) return ignore("no command in the comment");

  // 2
  const appId = await deps.appId();
  if (payload.comment.performed_via_github_app?.id === appId)
    return ignore("the comment is Switchyard's own");

  // 3
  const cfg = await loadRepoConfig(context.octokit, { owner, repo });

  // 4
  const sender = payload.sender;
  const verdict = await canTrigger(context.octokit, {
    owner,
    repo,
    username: sender.login,
    senderType: sender.type,
    allowBots: cfg.ok ? cfg.loaded.config.trigger.allow_bots : [],
    minimum: "write",
  });
  if (!verdict.approved) {
    log(`refused: ${verdict.reason}`, { sender: sender.login, command: command.name });
    if (sender.type === "Bot") return { action: "refused", reason: verdict.reason, replied: false };
    await reply(context.octokit, where, renderRefusal(sender.login, command.name, verdict.reason));
    return { action: "refused", reason: verdict.reason, replied: true };
  }
  progress.approved = where;

  // 5
  if (command.name === "help") {
    await reply(context.octokit, where, renderHelp(command.reason));
    log("replied with help", { reason: command.reason });
    return { action: "replied", command: "help" };
  }
  const labels = (payload.issue.labels ?? []).map((l) => l.name);
  if (command.name === "stop") {
    const stopped = await stopTask(context.octokit, {
      owner,
      repo,
      issue_number: where.issue_number,
      labels,
      appId,
      delivery: context.id,
      now: deps.now(),
      cause: { kind: "command", login: sender.login },
    });
    if (stopped.action === "not-running") {
      await reply(
        context.octokit,
        where,
        `**Switchyard** · nothing to stop on ${where.key}: ${stopped.reason}.`,
      );
      log(`stop: nothing running (${stopped.reason})`);
      return { action: "replied", command: "stop" };
    }
    log("stopped", { sender: sender.login, cancelled: stopped.cancelled });
    return stopped;
  }
  if (command.name === "route" || command.name === "retry") {
    const onPr = payload.issue.pull_request !== undefined && payload.issue.pull_request !== null;
    // On a pull request, retry is the quarantine alert's way back: the recovery ladder's reset.
    if (command.name === "retry" && onPr && payload.issue.state === "open") {
      if (!cfg.ok) throw cfg.error;
      const reset = await resetRecovery(context.octokit, {
        owner,
        repo,
        pr_number: where.issue_number,
        reason: `${sender.login} commented /switchyard retry`,
        config: cfg.loaded.config,
        author: { app_id: appId },
        now: deps.now().toISOString(),
      });
      await reply(context.octokit, where, `**Switchyard** · recovery of ${where.key}: ${reset.message}.`);
      log(`retry: recovery ${reset.result}`, { sender: sender.login, unquarantined: reset.unquarantined });
      return { action: "replied", command: "retry" };
    }
    const notRoutable =
      payload.issue.pull_request !== undefined && payload.issue.pull_request !== null
        ? "it is a pull request; Switchyard routes issues"
        : payload.issue.state !== "open"
          ? "the issue is closed; reopen it first"
          : null;
    if (notRoutable !== null) {
      await reply(
        context.octokit,
        where,
        `**Switchyard** · cannot ${command.name} ${where.key}: ${notRoutable}.`,
      );
      log(`${command.name}: ${notRoutable}`);
      return { action: "replied", command: command.name };
    }
    const outcome = await routeTask(context, deps, {
      payload,
      owner,
      repo,
      issue_number: where.issue_number,
      labels,
      defaultBranch: payload.repository.default_branch,
      cfg,
      trigger: "command",
      ...(command.name === "route" && command.tool !== undefined ? { commandTool: command.tool } : {}),
    });
    let replied = false;
    if (outcome.action === "already-running") {
      await reply(
        context.octokit,
        where,
        `**Switchyard** · ${where.key} is still running (${outcome.reason}${
          outcome.url === undefined ? "" : `: ${outcome.url}`
        }), so \`${command.name}\` did not start another run. Stop it first with \`stop\` if it should not finish.`,
      );
      replied = true;
    }
    log(`${command.name}: ${outcome.action}`, { sender: sender.login });
    return { action: "routed", command: command.name, outcome, replied };
  }
  if (!cfg.ok) {
    await reply(
      context.octokit,
      where,
      [
        `**Switchyard** · cannot explain ${where.key}: the configuration has problems.`,
        "",
        renderProblems(cfg.error.problems),
      ].join("\n"),
    );
    log("explain: invalid configuration", { problems: cfg.error.problems.length });
    return { action: "replied", command: "explain" };
  }
  const config = cfg.loaded.config;
  const task = buildTask(payload, config);
  // The signals the route would read (github/routing-signals.ts), read the same way, so the
  // explanation is the decision a route made now would be; a signal that cannot be read is left
  // out and named in the summary, as in the route's check run.
  const signalsRead = await readRoutingSignals(
    context.octokit,
    {
      owner,
      repo,
      issue_number: where.issue_number,
      strategy: config.routing.strategy,
      previousTool: signalNeeds(config.routing.strategy).includes("previous_tool")
        ? await storedTool(context, deps, where)
        : null,
      workflow_id: workflowId(config.execution.workflow),
      eventWorkflows: [config.execution.workflow, config.recovery.workflow],
      metricsWorkflow: config.analysis.workflow,
    },
    context.log,
  );
  const decision = route(task, config, { now: deps.now().toISOString(), ...signalsRead.signals });
  if (signalsRead.notes.length > 0) decision.summary += ` Signals: ${signalsRead.notes.join("; ")}.`;
  await reply(
    context.octokit,
    where,
    [
      `**Switchyard** · how ${where.key} would be routed now${decision.tool === null ? "" : `: **${decision.tool}**`}.`,
      "",
      renderDecisionTable(decision),
    ].join("\n"),
  );
  log("explained", { tool: decision.tool });
  return { action: "replied", command: "explain" };
}

/**
 * The tool the task's status comment records (the `sticky` strategy keeps it), or null. Only
 * Switchyard's own comment counts; an unreadable marker is logged and read as none, as the route
 * does.
 */
async function storedTool(context: RouteContext, deps: RouteDeps, where: Where): Promise<string | null> {
  const comment = await findStatusComment(context.octokit, {
    owner: where.owner,
    repo: where.repo,
    issue_number: where.issue_number,
    appId: await deps.appId(),
  });
  if (comment === null) return null;
  const read = readMarker(comment.body, "task", TaskMarkerSchema);
  if (read === null) return null;
  if (!read.ok) {
    context.log.warn({ task: where.key, reason: read.reason }, "unreadable task marker");
    return null;
  }
  return read.value.tool;
}

/** A refusal names who asked, what they asked for and what they lack; it is the only answer. */
export function renderRefusal(login: string, command: ParsedCommand["name"], reason: string): string {
  const what = command === "help" ? "Switchyard's commands" : `\`${command}\``;
  return (
    `**Switchyard** · sorry @${login}, ${what} can only be used by people with write access to this ` +
    `repository (${reason}). Ask a maintainer to run it for you.`
  );
}

export function renderHelp(reason: string): string {
  return [`**Switchyard** · ${reason}.`, "", COMMAND_USAGE].join("\n");
}

async function reply(octokit: GitHubClient, where: Where, body: string): Promise<void> {
  if (body.length > COMMENT_LIMIT) {
    throw new InputError(`the reply has ${body.length} characters, more than GitHub's ${COMMENT_LIMIT}`);
  }
  try {
    await octokit.request("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", {
      owner: where.owner,
      repo: where.repo,
      issue_number: where.issue_number,
      body,
    });
  } catch (error) {
    throw gitHubApiError(error, { doing: `replying on ${where.key}`, permission: "issues: write" });
  }
}
