import { afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { Probot } from "probot";
import { onIssueComment, type CommandOutcome } from "../../src/app/commands.js";
import { LadderStateSchema, type LadderState } from "../../src/core/recovery/ladder.js";
import { encodeMarker, readMarker } from "../../src/core/status-marker.js";
import { blockNetwork, githubApi, resetGithubApi, type GithubApi } from "../support/github-contract.js";
import { webhookExample, withInstallation } from "../support/webhooks.js";
import {
  APP_ID,
  ORG_CONFIG,
  REPO,
  REPO_CONFIG,
  TEST_PRIVATE_KEY,
  TestOctokit,
  installationToken,
  noConfig,
} from "./probot-fixtures.js";

/**
 * `/switchyard retry` on a quarantined pull request: the quarantine alert tells people to use it,
 * so it must reset the recovery ladder (attempts back to zero) and take the quarantine label off.
 */

const HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
const KEY = "Codertocat/Hello-World#1";
const NOW = new Date("2025-03-01T12:00:00.000Z");

beforeAll(() => blockNetwork());
afterEach(() => resetGithubApi());

async function receive(payload: object): Promise<CommandOutcome | null | undefined> {
  let outcome: CommandOutcome | null | undefined;
  const p = new Probot({
    appId: APP_ID,
    privateKey: TEST_PRIVATE_KEY,
    Octokit: TestOctokit,
    logLevel: "fatal",
  });
  await p.load((app) => {
    app.on("issue_comment.created", async (context) => {
      outcome = await onIssueComment(context, { appId: async () => APP_ID, now: () => NOW });
    });
  });
  await p.receive({ id: "d-retry", name: "issue_comment", payload } as never);
  return outcome;
}

/** `/switchyard retry` by Codertocat on pull request #1. */
function retryOnPr() {
  const payload = withInstallation(webhookExample("issue_comment", "created"));
  payload.comment.body = "/switchyard retry";
  Object.assign(payload.issue, {
    pull_request: { url: `https://api.github.com${REPO}/pulls/1` },
    state: "open",
  });
  return payload;
}

function approved(gh: GithubApi) {
  installationToken(gh);
  noConfig(gh);
  gh.scope
    .get(`${REPO}/collaborators/Codertocat/permission`)
    .reply(200, { permission: "write", role_name: "write", user: { login: "Codertocat" } });
}

function pr(gh: GithubApi, labels: string[]) {
  gh.scope.get(`${REPO}/pulls/1`).reply(200, {
    number: 1,
    state: "open",
    draft: false,
    labels: labels.map((name) => ({ name })),
    head: { sha: HEAD, ref: "changes" },
    base: { ref: "master" },
  });
}

const QUARANTINED: LadderState = {
  version: 1,
  key: KEY,
  head_sha: HEAD,
  category: "format",
  step: "quarantine",
  pending: null,
  rung: 3,
  tried: ["prettier", "aider", "codex", "claude"],
  attempts: 3,
  rerun_sha: null,
  last_attempt_at: "2025-03-01T11:00:00.000Z",
  seen_ci: ["9:1"],
  reason: "attempts used up",
  history: [],
};

function storedComment(gh: GithubApi, body: string) {
  gh.scope
    .get(`${REPO}/issues/1/comments`)
    .query({ per_page: "100", page: "1" })
    .reply(200, [
      {
        id: 77,
        body,
        user: { login: "switchyard[bot]", type: "Bot" },
        performed_via_github_app: { id: APP_ID },
      },
    ]);
}

describe("/switchyard retry on a pull request", () => {
  it("resets a quarantined ladder to zero attempts, removes the label and replies", async () => {
    const gh = githubApi();
    approved(gh);
    pr(gh, ["switchyard:quarantined"]);
    storedComment(gh, `${encodeMarker(QUARANTINED, "recovery")}\n### Switchyard recovery`);
    gh.scope.delete(`${REPO}/issues/1/labels/switchyard%3Aquarantined`).reply(200, []);
    gh.scope.patch(`${REPO}/issues/comments/77`).reply(200, { id: 77 });
    gh.scope.post(`${REPO}/issues/1/comments`).reply(201, { id: 78 });

    const outcome = await receive(retryOnPr());
    gh.done();
    expect(outcome).toEqual({ action: "replied", command: "retry" });
    expect(gh.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      "POST /app/installations/1/access_tokens",
      `GET ${REPO_CONFIG}`,
      `GET ${ORG_CONFIG}`,
      `GET ${REPO}/collaborators/Codertocat/permission`,
      `GET ${REPO}/pulls/1`,
      `GET ${REPO}/issues/1/comments`,
      `DELETE ${REPO}/issues/1/labels/switchyard%3Aquarantined`,
      `PATCH ${REPO}/issues/comments/77`,
      `POST ${REPO}/issues/1/comments`,
    ]);
    const body = (gh.requests[7]!.body as { body: string }).body;
    const read = readMarker(body, "recovery", LadderStateSchema);
    expect(read?.ok).toBe(true);
    const state = (read as { ok: true; value: LadderState }).value;
    expect(state).toMatchObject({
      step: "done",
      pending: null,
      attempts: 0,
      tried: [],
      last_attempt_at: null,
    });
    expect(state.reason).toBe(
      "reset: Codertocat commented /switchyard retry; the next failure starts with 3 attempts",
    );
    expect((gh.requests[8]!.body as { body: string }).body).toBe(
      `**Switchyard** · recovery of ${KEY}: reset: Codertocat commented /switchyard retry; the next failure starts with 3 attempts.`,
    );
  });

  it("deletes an unreadable recovery comment, the only way past it", async () => {
    const gh = githubApi();
    approved(gh);
    pr(gh, []);
    storedComment(gh, `${encodeMarker({ version: 1, key: KEY }, "recovery")}\n### Switchyard recovery`);
    gh.scope.delete(`${REPO}/issues/comments/77`).reply(204);
    gh.scope.post(`${REPO}/issues/1/comments`).reply(201, { id: 78 });

    const outcome = await receive(retryOnPr());
    gh.done();
    expect(outcome).toEqual({ action: "replied", command: "retry" });
    expect(gh.requests.map((r) => `${r.method} ${r.path}`).slice(4)).toEqual([
      `GET ${REPO}/pulls/1`,
      `GET ${REPO}/issues/1/comments`,
      `DELETE ${REPO}/issues/comments/77`,
      `POST ${REPO}/issues/1/comments`,
    ]);
    expect((gh.requests[7]!.body as { body: string }).body).toMatch(
      /^\*\*Switchyard\*\* · recovery of Codertocat\/Hello-World#1: the stored recovery state could not be read \(.+\), so it was removed; the next CI failure starts with 3 attempts\.$/,
    );
  });

  it("says so when no recovery ever ran, and writes no state", async () => {
    const gh = githubApi();
    approved(gh);
    pr(gh, []);
    gh.scope.get(`${REPO}/issues/1/comments`).query({ per_page: "100", page: "1" }).reply(200, []);
    gh.scope.post(`${REPO}/issues/1/comments`).reply(201, { id: 78 });

    await receive(retryOnPr());
    gh.done();
    expect((gh.requests.at(-1)!.body as { body: string }).body).toBe(
      `**Switchyard** · recovery of ${KEY}: no recovery has run on this pull request, so there was nothing to reset.`,
    );
  });
});
