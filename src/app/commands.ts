import { z } from "zod";
import { COMMAND_USAGE, parseCommand, type ParsedCommand } from "../core/commands.js";
import { ConfigError, InputError } from "../core/errors.js";
import { renderDecisionTable } from "../core/routing/render.js";
import { route } from "../core/routing/route.js";
import { buildTask } from "../core/task/build.js";
import { GitHubApiError, gitHubApiError } from "../github/errors.js";
import type { GitHubClient } from "../github/octokit.js";
import { canTrigger } from "../github/permissions.js";
import { COMMENT_LIMIT } from "../github/status-comment.js";
import { loadRepoConfig } from "./repo-config.js";
import { renderProblems, type RouteContext, type RouteDeps } from "./route-issue.js";

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
 * 5. The command. `explain` routes the task again with the current configuration and replies
 *    with every candidate and its reason. It replies rather than editing the status comment: the
 *    status comment says what is running, and a decision made now may differ from the one that
 *    started the run. `help` replies with what went wrong and the usage.
 *    `route`, `retry` and `stop` are recognised but not handled here yet: they are logged and
 *    left alone, without a reply, until their GitHub side exists.
 */

export type CommandOutcome =
  | { action: "ignored"; reason: string }
  | { action: "refused"; reason: string; replied: boolean }
  | { action: "replied"; command: ParsedCommand["name"] }
  | { action: "not-handled"; command: ParsedCommand["name"] };

/** The commands this handler carries out; the others are recognised and logged. */
const HANDLED: ReadonlySet<ParsedCommand["name"]> = new Set(["explain", "help"]);

const CommentPayloadSchema = z.looseObject({
  action: z.string(),
  comment: z.looseObject({
    id: z.number().int(),
    body: z.string().nullish(),
    user: z.looseObject({ login: z.string(), type: z.string() }).nullish(),
    performed_via_github_app: z.looseObject({ id: z.number().int() }).nullish(),
  }),
  issue: z.looseObject({ number: z.number().int().min(1) }),
  repository: z.looseObject({
    name: z.string().min(1),
    owner: z.looseObject({ login: z.string().min(1) }),
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

  if (!HANDLED.has(command.name)) {
    log(`not handled: /switchyard ${command.name} is not available in the app yet`, {
      command: command.name,
    });
    return { action: "not-handled", command: command.name };
  }

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
  const task = buildTask(payload, cfg.loaded.config);
  const decision = route(task, cfg.loaded.config, { now: deps.now().toISOString() });
  await reply(
    context.octokit,
    where,
    [
      `**Switchyard** · how ${where.key} would be routed now${decision.tool === null ? "" : `: **${decision.tool}**`}.`,
      "",
      renderDecisionTable(decision),
      "",
      "In-flight runs, recent outcomes and the previous tool are not read back from GitHub yet, so the " +
        "strategies that use them decide as if there were none.",
    ].join("\n"),
  );
  log("explained", { tool: decision.tool });
  return { action: "replied", command: "explain" };
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
