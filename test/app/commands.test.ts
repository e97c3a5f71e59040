import { afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { Probot } from "probot";
import { onIssueComment, renderHelp, renderRefusal, type CommandOutcome } from "../../src/app/commands.js";
import { parseCommand } from "../../src/core/commands.js";
import { encodeMarker } from "../../src/core/status-marker.js";
import { blockNetwork, githubApi, resetGithubApi, type GithubApi } from "../support/github-contract.js";
import { webhookExample, withInstallation } from "../support/webhooks.js";
import {
  APP_ID,
  ORG_CONFIG,
  REPO,
  REPO_CONFIG,
  TEST_PRIVATE_KEY,
  TestOctokit,
  commentStore,
  installationToken,
  noConfig,
} from "./probot-fixtures.js";

const NOW = new Date("2025-01-02T03:04:05.000Z");

/** A tiny app that registers only the handler under test, as index.ts will. */
async function receive(payload: object, name = "issue_comment"): Promise<CommandOutcome | null | undefined> {
  let outcome: CommandOutcome | null | undefined;
  const p = new Probot({
    appId: APP_ID,
    privateKey: TEST_PRIVATE_KEY,
    Octokit: TestOctokit,
    logLevel: "fatal",
  });
  await p.load((app) => {
    app.on(["issue_comment.created", "issue_comment.edited"], async (context) => {
      outcome = await onIssueComment(context, { appId: async () => APP_ID, now: () => NOW });
    });
  });
  await p.receive({ id: "delivery-1", name, payload } as never);
  return outcome;
}

type Sender = { login: string; type: string };
function commented(body: string, opts: { sender?: Sender; viaApp?: number; action?: "edited" } = {}) {
  const payload = withInstallation(webhookExample("issue_comment", "created"));
  payload.comment.body = body;
  if (opts.sender) {
    payload.sender = { ...payload.sender, ...opts.sender } as typeof payload.sender;
    payload.comment.user = { ...payload.comment.user, ...opts.sender } as typeof payload.comment.user;
  }
  if (opts.viaApp !== undefined) {
    (payload.comment as unknown as Record<string, unknown>).performed_via_github_app = { id: opts.viaApp };
  }
  if (opts.action) (payload as { action: string }).action = opts.action;
  return payload;
}

function permission(gh: GithubApi, login: string, permission: string) {
  gh.scope
    .get(`${REPO}/collaborators/${login}/permission`)
    .reply(200, { permission, role_name: permission, user: { login } });
}
function replyMock(gh: GithubApi) {
  gh.scope.post(`${REPO}/issues/1/comments`).reply(201, { id: 99, html_url: "https://github.com/x#c99" });
}

const ops = (gh: GithubApi) => gh.requests.map((r) => `${r.method} ${r.path}`);
const replyBody = (gh: GithubApi) =>
  (gh.requests.find((r) => r.method === "POST" && r.path.endsWith("/comments"))?.body as { body: string })
    .body;

beforeAll(() => blockNetwork());
afterEach(() => resetGithubApi());

describe("issue_comment.created", () => {
  it("explains: every candidate with its reason, as one reply, in 5 requests", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    permission(gh, "Codertocat", "write");
    replyMock(gh);

    const outcome = await receive(commented("/switchyard explain"));
    gh.done();
    expect(outcome).toEqual({ action: "replied", command: "explain" });
    expect(ops(gh)).toEqual([
      "POST /app/installations/1/access_tokens",
      `GET ${REPO_CONFIG}`,
      `GET ${ORG_CONFIG}`,
      `GET ${REPO}/collaborators/Codertocat/permission`,
      `POST ${REPO}/issues/1/comments`,
    ]);
    const body = replyBody(gh);
    const lines = body.split("\n");
    // The example issue carries the "bug" label: error_fix, whose chain is aider, claude, codex.
    expect(lines[0]).toBe("**Switchyard** · how Codertocat/Hello-World#1 would be routed now: **aider**.");
    expect(lines).toContain("|---:|---|---|---:|---|");
    const rows = lines.filter((l) => /^\| \d+ \|/.test(l));
    // Every tool of the shipped defaults (config/), each with its status and reason.
    expect(rows.map((r) => r.split(" | ").slice(1, 3))).toEqual([
      ["aider", "chosen"],
      ["claude", "fallback"],
      ["codex", "fallback"],
      ["gemini", "excluded"],
      ["eslint", "excluded"],
      ["gofmt", "excluded"],
      ["prettier", "excluded"],
      ["ruff-format", "excluded"],
      ["ruff", "excluded"],
      ["script", "excluded"],
    ]);
    expect(rows[3]).toBe(
      "| 4 | gemini | excluded | 0.25 | priority: #4 in the 'error_fix' chain; beyond max_fallbacks (2) |",
    );
    expect(parseCommand(body)).toBeNull();
  });

  it("explains with the signals the strategy reads: sticky keeps the tool the status comment records", async () => {
    const gh = githubApi();
    installationToken(gh);
    gh.scope.get(REPO_CONFIG).reply(200, "version: 1\nrouting:\n  strategy: sticky\n");
    permission(gh, "Codertocat", "write");
    const marker = encodeMarker(
      {
        task_key: "Codertocat/Hello-World#1",
        phase: "failed",
        tool: "codex",
        routed_at: "2025-01-01T00:00:00.000Z",
      },
      "task",
    );
    commentStore(gh, APP_ID, { list: 1, create: 1 }, [
      {
        id: 5,
        body: `${marker}\n**Switchyard** · failed`,
        user: { type: "Bot" },
        performed_via_github_app: { id: APP_ID },
      },
    ]);

    const outcome = await receive(commented("/switchyard explain"));
    gh.done();
    expect(outcome).toEqual({ action: "replied", command: "explain" });
    expect(ops(gh)).toEqual([
      "POST /app/installations/1/access_tokens",
      `GET ${REPO_CONFIG}`,
      `GET ${REPO}/collaborators/Codertocat/permission`,
      `GET ${REPO}/issues/1/comments`,
      `POST ${REPO}/issues/1/comments`,
    ]);
    const lines = replyBody(gh).split("\n");
    // Without the signal, sticky ranks by the chain (aider first); with it, codex is kept.
    expect(lines[0]).toBe("**Switchyard** · how Codertocat/Hello-World#1 would be routed now: **codex**.");
    const rows = lines.filter((l) => /^\| \d+ \|/.test(l));
    expect(rows[0]).toBe("| 1 | codex | chosen | 1.00 | sticky: this task's previous tool |");
    expect(replyBody(gh)).not.toContain("not read back");
  });

  it("refuses a person without write access once, politely, and does nothing else", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    permission(gh, "Codertocat", "triage");
    replyMock(gh);

    const outcome = await receive(commented("/switchyard explain"));
    gh.done();
    const reason = "Codertocat has triage access to Codertocat/Hello-World; write or more is needed";
    expect(outcome).toEqual({ action: "refused", reason, replied: true });
    expect(gh.requests).toHaveLength(5);
    expect(replyBody(gh)).toBe(
      "**Switchyard** · sorry @Codertocat, `explain` can only be used by people with write access to this " +
        `repository (${reason}). Ask a maintainer to run it for you.`,
    );
    expect(parseCommand(replyBody(gh))).toBeNull();
  });

  it("answers an unknown command with help, for a writer", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    permission(gh, "Codertocat", "admin");
    replyMock(gh);

    const outcome = await receive(commented("/switchyard deploy"));
    gh.done();
    expect(outcome).toEqual({ action: "replied", command: "help" });
    expect(replyBody(gh)).toBe(renderHelp("`deploy` is not a Switchyard command"));
    expect(parseCommand(replyBody(gh))).toBeNull();
  });

  it("never reacts to its own comments, without a request", async () => {
    const gh = githubApi();
    const outcome = await receive(
      commented("/switchyard explain", { sender: { login: "switchyard[bot]", type: "Bot" }, viaApp: APP_ID }),
    );
    gh.done();
    expect(outcome).toEqual({ action: "ignored", reason: "the comment is Switchyard's own" });
    expect(gh.requests).toEqual([]);
  });

  it("refuses another bot silently: no reply, so two bots cannot answer each other", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    const outcome = await receive(
      commented("/switchyard explain", { sender: { login: "other[bot]", type: "Bot" }, viaApp: 7 }),
    );
    gh.done();
    expect(outcome).toEqual({
      action: "refused",
      reason: "other[bot] is a bot and is not listed in trigger.allow_bots",
      replied: false,
    });
    expect(gh.requests).toHaveLength(3);
  });

  it("ignores a comment without a command, and an edited one, without a request", async () => {
    const gh = githubApi();
    expect(await receive(commented("Thanks, /switchyard explain later?"))).toEqual({
      action: "ignored",
      reason: "no command in the comment",
    });
    expect(await receive(commented("/switchyard explain", { action: "edited" }))).toEqual({
      action: "ignored",
      reason: "the comment was edited",
    });
    gh.done();
    expect(gh.requests).toEqual([]);
  });

  it("refuses route, retry and stop to a person without write access, one reply each, nothing else", async () => {
    for (const name of ["stop", "retry", "route claude"]) {
      const gh = githubApi();
      installationToken(gh);
      noConfig(gh);
      permission(gh, "Codertocat", "read");
      replyMock(gh);
      const outcome = await receive(commented(`/switchyard ${name}`));
      gh.done();
      const reason = "Codertocat has read access to Codertocat/Hello-World; write or more is needed";
      expect(outcome).toEqual({ action: "refused", reason, replied: true });
      expect(gh.requests).toHaveLength(5);
      expect(replyBody(gh)).toBe(renderRefusal("Codertocat", name.split(" ")[0] as "route", reason));
      resetGithubApi();
    }
  });

  it("explains an invalid configuration by quoting its problems", async () => {
    const gh = githubApi();
    installationToken(gh);
    gh.scope.get(REPO_CONFIG).reply(200, "version: 1\nrouting:\n  strategy: fastest\n");
    permission(gh, "Codertocat", "write");
    replyMock(gh);

    expect(await receive(commented("/switchyard explain"))).toEqual({
      action: "replied",
      command: "explain",
    });
    gh.done();
    const body = replyBody(gh);
    expect(body.split("\n")[0]).toBe(
      "**Switchyard** · cannot explain Codertocat/Hello-World#1: the configuration has problems.",
    );
    expect(body).toMatch(/\.github\/switchyard\.yml:3:\d+/);
  });

  it("says in one reply when the command failed after the sender was approved", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    permission(gh, "Codertocat", "write");
    gh.scope.post(`${REPO}/issues/1/comments`).reply(500, { message: "Server Error" });
    replyMock(gh);

    expect(await receive(commented("/switchyard explain"))).toBeNull();
    gh.done();
    const last = gh.requests.at(-1)!.body as { body: string };
    expect(last.body).toBe(
      "**Switchyard** · the command failed: replying on Codertocat/Hello-World#1 failed: GitHub answered 500 " +
        "(Server Error), an error on GitHub's side; try again in a few minutes",
    );
  });
});

describe("renderRefusal", () => {
  it("names the help request as the commands in general", () => {
    expect(renderRefusal("octo", "help", "octo has read access to o/r; write or more is needed")).toBe(
      "**Switchyard** · sorry @octo, Switchyard's commands can only be used by people with write access " +
        "to this repository (octo has read access to o/r; write or more is needed). Ask a maintainer to run it for you.",
    );
  });
});
