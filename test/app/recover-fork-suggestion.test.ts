import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { createHash } from "node:crypto";
import { symlink } from "node:fs/promises";
import path from "node:path";
import nock from "nock";
import { Probot, type ApplicationFunction } from "probot";
import { recoverMode } from "../../src/action/recover.js";
import { renderSuggestion, SUGGESTION_DIFF_CHARS } from "../../src/app/recover-complete.js";
import { onRecoverableRun, type RecoverRunOutcome } from "../../src/app/recover-run.js";
import { loadConfig } from "../../src/config/load.js";
import type { Config } from "../../src/config/schema.js";
import {
  LadderStateSchema,
  nextAction,
  settleSuggestion,
  type LadderState,
} from "../../src/core/recovery/ladder.js";
import { readMarker, replaceMarker } from "../../src/core/status-marker.js";
import {
  parseRecoveryDispatch,
  recoverRunTitle,
  RecoveryDispatchSchema,
  type RecoveryDispatch,
} from "../../src/github/recovery-flow.js";
import { inActionsJob, serveRunArtifact, zipDirectory } from "../support/artifacts.js";
import { blockNetwork, githubApi, resetGithubApi, type GithubApi } from "../support/github-contract.js";
import { makeRepo, type TestRepo } from "../support/git-repo.js";
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
  type FakeComment,
} from "./probot-fixtures.js";

/**
 * recovery.fork_suggestions end to end: a fork's failing head gets the fixers, run by the recover
 * workflow on the fork's code (no secrets, read-only token), and their diff posted on the PR as a
 * suggestion; nothing is ever committed or pushed. Every request is checked against GitHub's API
 * description and every mock must be used.
 */

const FORK = "mallory/Hello-World";
const HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
const RUN = 289782451;
const JOB = 399444496;
const LOGS = "https://pipelines.actions.githubusercontent.example";
const FIXERS = ["prettier", "ruff-format", "gofmt"];
const SUGGESTING = "version: 1\nrecovery:\n  fork_suggestions: true\n";

const FORMAT_LOG = [
  "2025-03-01T11:59:00.0000000Z ##[group]Run npm run lint",
  "2025-03-01T11:59:01.0000000Z Checking formatting...",
  "2025-03-01T11:59:02.0000000Z [warn] src/parser.ts",
  "2025-03-01T11:59:03.0000000Z [warn] Code style issues found in the above file. Run Prettier with --write to fix.",
  "2025-03-01T11:59:04.0000000Z ##[error]Process completed with exit code 1.",
  "",
].join("\n");
const TEST_LOG = [
  "2025-03-01T11:59:00.0000000Z ##[group]Run npm test",
  "2025-03-01T11:59:01.0000000Z FAIL src/parser.test.ts",
  "2025-03-01T11:59:02.0000000Z   ● parser › reads a number",
  "2025-03-01T11:59:03.0000000Z Tests:       1 failed, 12 passed, 13 total",
  "2025-03-01T11:59:04.0000000Z ##[error]Process completed with exit code 1.",
  "",
].join("\n");

let outcomes: RecoverRunOutcome[] = [];
const app =
  (now: string): ApplicationFunction =>
  (probot) => {
    probot.on("workflow_run.completed", async (context) => {
      outcomes.push(
        await onRecoverableRun(context, {
          appId: async () => APP_ID,
          appSlug: async () => "switchyard",
          now: () => new Date(now),
        }),
      );
    });
  };

async function receive(payload: object, now: string): Promise<RecoverRunOutcome> {
  outcomes = [];
  const p = new Probot({
    appId: APP_ID,
    privateKey: TEST_PRIVATE_KEY,
    Octokit: TestOctokit,
    logLevel: "fatal",
  });
  p.load(app(now));
  await p.receive({ id: "fork-delivery", name: "workflow_run", payload } as never);
  expect(outcomes).toHaveLength(1);
  return outcomes[0]!;
}

const ops = (gh: GithubApi) => gh.requests.map((r) => `${r.method} ${r.path.split("?")[0]}`);
const bodyOf = (gh: GithubApi, method: string, suffix: string) =>
  gh.requests.find((r) => r.method === method && r.path.split("?")[0]!.endsWith(suffix))?.body as Record<
    string,
    unknown
  >;

beforeAll(() => blockNetwork());
afterEach(() => {
  resetGithubApi();
  nock.cleanAll();
});

describe("a fork's failed CI run", () => {
  const NOW = "2025-03-01T12:00:00.000Z";

  /** GitHub's example of a failed run, its head in a fork: forks' PRs are not on the event. */
  function forkRun() {
    const payload = withInstallation(webhookExample("workflow_run", "completed", 2));
    const repository = webhookExample("check_suite", "completed", 0).repository;
    Object.assign(payload.workflow_run, {
      id: RUN,
      run_attempt: 1,
      name: "CI",
      path: ".github/workflows/ci.yml",
      conclusion: "failure",
      head_sha: HEAD,
      head_branch: "changes",
      html_url: `https://github.com/Codertocat/Hello-World/actions/runs/${RUN}`,
      pull_requests: [],
    });
    payload.workflow_run.head_repository = { ...payload.workflow_run.head_repository, full_name: FORK };
    return { ...payload, repository };
  }

  function forkPr(gh: GithubApi) {
    gh.scope
      .get(`${REPO}/pulls`)
      .query({ state: "open", head: "mallory:changes", per_page: "10" })
      .reply(200, [
        {
          number: 2,
          state: "open",
          draft: false,
          labels: [],
          head: { sha: HEAD, ref: "changes" },
          base: { ref: "master" },
        },
      ]);
    gh.scope.get(`${REPO}/issues/2/comments`).query({ per_page: "100", page: "1" }).reply(200, []);
    gh.scope
      .get(`${REPO}/commits`)
      .query({ sha: HEAD, per_page: "2" })
      .reply(200, [
        {
          sha: HEAD,
          author: { login: "mallory" },
          commit: { message: "Change the parser", committer: { email: "m@example.com" } },
        },
      ]);
  }

  function evidence(gh: GithubApi, log: string) {
    gh.scope
      .get(`${REPO}/actions/runs/${RUN}/jobs`)
      .query(true)
      .reply(200, {
        total_count: 1,
        jobs: [
          {
            id: JOB,
            name: "lint",
            conclusion: "failure",
            html_url: `https://github.com/Codertocat/Hello-World/actions/runs/${RUN}/job/${JOB}`,
            steps: [{ name: "Run npm run lint", conclusion: "failure", number: 1, status: "completed" }],
          },
        ],
      });
    gh.scope.get(`${REPO}/actions/jobs/${JOB}/logs`).reply(302, "", { Location: `${LOGS}/${JOB}.txt` });
    nock(LOGS, { badheaders: ["authorization"] })
      .get(`/${JOB}.txt`)
      .reply(200, log, { "content-type": "text/plain" });
    gh.scope.get(`${REPO}/check-runs/${JOB}/annotations`).query(true).reply(200, []);
    gh.scope
      .get(`${REPO}/actions/runs/${RUN}/artifacts`)
      .query(true)
      .reply(200, { total_count: 0, artifacts: [] });
    gh.scope
      .get(`${REPO}/actions/runs`)
      .query({ head_sha: HEAD, status: "success", per_page: "20" })
      .reply(200, { total_count: 0, workflow_runs: [] });
  }

  function checkRun(gh: GithubApi) {
    gh.scope
      .get(`${REPO}/commits/${HEAD}/check-runs`)
      .query(true)
      .reply(200, { total_count: 0, check_runs: [] });
    gh.scope.post(`${REPO}/check-runs`).reply(201, { id: 5, html_url: "https://github.com/x/runs/5" });
  }

  it("with fork_suggestions on, dispatches the fixers only, on the fork's head, as a suggestion", async () => {
    const gh = githubApi();
    installationToken(gh);
    gh.scope.get(REPO_CONFIG).reply(200, SUGGESTING);
    forkPr(gh);
    evidence(gh, FORMAT_LOG);
    gh.scope.post(`${REPO}/actions/workflows/switchyard-recover.yml/dispatches`).reply(204);
    checkRun(gh);
    gh.scope.post(`${REPO}/issues/2/comments`).reply(201, { id: 78 });

    const outcome = await receive(forkRun(), NOW);
    gh.done();

    expect(ops(gh)).toEqual([
      "POST /app/installations/1/access_tokens",
      `GET ${REPO_CONFIG}`,
      `GET ${REPO}/pulls`,
      `GET ${REPO}/issues/2/comments`,
      `GET ${REPO}/commits`,
      `GET ${REPO}/actions/runs/${RUN}/jobs`,
      `GET ${REPO}/actions/jobs/${JOB}/logs`,
      `GET ${REPO}/check-runs/${JOB}/annotations`,
      `GET ${REPO}/actions/runs/${RUN}/artifacts`,
      `GET ${REPO}/actions/runs`,
      `POST ${REPO}/actions/workflows/switchyard-recover.yml/dispatches`,
      `GET ${REPO}/commits/${HEAD}/check-runs`,
      `POST ${REPO}/check-runs`,
      `POST ${REPO}/issues/2/comments`,
    ]);
    const sent = bodyOf(gh, "POST", "/dispatches") as { ref: string; inputs: { recovery: string } };
    expect(sent.ref).toBe("master");
    expect(RecoveryDispatchSchema.parse(JSON.parse(sent.inputs.recovery))).toEqual({
      key: "Codertocat/Hello-World#2",
      run_id: RUN,
      head_sha: HEAD,
      head_ref: "changes",
      pr_number: 2,
      base_ref: "master",
      action: { kind: "run_fixers", tools: FIXERS },
      category: "format",
      attempt: 1,
      suggest: true,
      head_repository: FORK,
    });
    // The dispatch is recorded as a suggestion, so the completion never commits it.
    const comment = bodyOf(gh, "POST", "/issues/2/comments") as { body: string };
    const read = readMarker(comment.body, "recovery", LadderStateSchema);
    expect(read?.ok && read.value).toMatchObject({
      head_sha: HEAD,
      step: "mechanical",
      pending: "tool",
      tools: FIXERS,
      dispatch: {
        workflow: ".github/workflows/switchyard-recover.yml",
        at: NOW,
        ref: "master",
        suggest: true,
      },
    });
    expect(outcome).toMatchObject({ action: "handled", outcome: { action: { kind: "run_fixers" } } });
  });

  it("a head that already had its suggestion gets no second one", async () => {
    const gh = githubApi();
    installationToken(gh);
    gh.scope.get(REPO_CONFIG).reply(200, SUGGESTING);
    gh.scope
      .get(`${REPO}/pulls`)
      .query(true)
      .reply(200, [
        {
          number: 2,
          state: "open",
          draft: false,
          labels: [],
          head: { sha: HEAD, ref: "changes" },
          base: { ref: "master" },
        },
      ]);
    const done: LadderState = LadderStateSchema.parse({
      version: 1,
      key: "Codertocat/Hello-World#2",
      head_sha: HEAD,
      category: "format",
      step: "done",
      pending: null,
      rung: 0,
      tried: FIXERS,
      attempts: 1,
      rerun_sha: null,
      last_attempt_at: "2025-03-01T10:00:00Z",
      seen_ci: [],
      reason: "suggested",
      history: [
        {
          step: "mechanical",
          tools: FIXERS,
          head_sha: HEAD,
          at: "2025-03-01T10:00:00Z",
          outcome: "failed",
          reason: "suggested the diff of prettier",
        },
      ],
      dispatch: {
        workflow: ".github/workflows/switchyard-recover.yml",
        at: "2025-03-01T10:00:00Z",
        ref: "master",
        suggest: true,
      },
    });
    gh.scope
      .get(`${REPO}/issues/2/comments`)
      .query(true)
      .reply(200, [
        {
          id: 77,
          body: replaceMarker("### Switchyard recovery", "recovery", done),
          user: { login: "switchyard[bot]", type: "Bot" },
          performed_via_github_app: { id: APP_ID },
        },
      ]);
    gh.scope.get(`${REPO}/commits`).query(true).reply(200, []);
    checkRun(gh);

    const outcome = await receive(forkRun(), NOW);
    gh.done();

    expect(ops(gh)).not.toContain(`POST ${REPO}/actions/workflows/switchyard-recover.yml/dispatches`);
    expect(bodyOf(gh, "POST", "/check-runs")).toMatchObject({ conclusion: "skipped" });
    expect(outcome).toMatchObject({ action: "handled", outcome: { plan: "rejected" } });
    expect((bodyOf(gh, "POST", "/check-runs").output as { summary: string }).summary).toContain(
      `a suggestion was already made for ${HEAD.slice(0, 7)}`,
    );
  });

  it("a test failure has no fixers to suggest: skipped, with the reason", async () => {
    const gh = githubApi();
    installationToken(gh);
    gh.scope.get(REPO_CONFIG).reply(200, SUGGESTING);
    forkPr(gh);
    evidence(gh, TEST_LOG);
    checkRun(gh);

    const outcome = await receive(forkRun(), NOW);
    gh.done();

    expect(ops(gh)).not.toContain(`POST ${REPO}/actions/workflows/switchyard-recover.yml/dispatches`);
    expect(outcome).toMatchObject({ action: "handled", outcome: { plan: "rejected" } });
    expect((bodyOf(gh, "POST", "/check-runs").output as { summary: string }).summary).toContain(
      "no suggestion: a test failure has no mechanical fixers to suggest",
    );
  });

  it("with fork_suggestions off (the default), is skipped as before, and its PR is not even looked for", async () => {
    const gh = githubApi();
    installationToken(gh);
    gh.scope.get(REPO_CONFIG).reply(404, { message: "Not Found" });
    gh.scope.get(ORG_CONFIG).reply(404, { message: "Not Found" });
    gh.scope
      .get(`${REPO}/commits/${HEAD}/check-runs`)
      .query(true)
      .times(2)
      .reply(200, { total_count: 0, check_runs: [] });
    gh.scope.get(`${REPO}/commits`).query(true).reply(200, []);
    gh.scope.post(`${REPO}/check-runs`).reply(201, { id: 5 });

    const outcome = await receive(forkRun(), NOW);
    gh.done();

    expect(ops(gh)).toEqual([
      "POST /app/installations/1/access_tokens",
      `GET ${REPO_CONFIG}`,
      `GET ${ORG_CONFIG}`,
      `GET ${REPO}/commits/${HEAD}/check-runs`,
      `GET ${REPO}/commits`,
      `GET ${REPO}/commits/${HEAD}/check-runs`,
      `POST ${REPO}/check-runs`,
    ]);
    expect(bodyOf(gh, "POST", "/check-runs")).toMatchObject({
      external_id: "Codertocat/Hello-World@changes",
      conclusion: "skipped",
      output: { title: "Recovery skipped: fork" },
    });
    expect(outcome).toMatchObject({ action: "handled", outcome: { plan: "rejected" } });
  });
});

// --- the completion: a real recover job's bundle -----------------------------------------------

const UGLY = "const greeting  =  {text:'hello',  to : \"world\"}\nexport default greeting\n";
const MODULES = path.resolve(import.meta.dirname, "../../node_modules");
const KEY = "Codertocat/Hello-World#1";
const FAILED_RUN = 4711;
const RECOVER_RUN = 5150;
const RUN_URL = `https://github.com/Codertocat/Hello-World/actions/runs/${RECOVER_RUN}`;
const DISPATCHED_AT = "2026-11-21T17:55:00.000Z";
const DONE_AT = "2026-11-21T18:10:00.000Z";
const RECOVER_PATH = ".github/workflows/switchyard-recover.yml";
const DEFAULT_HEAD = createHash("sha1").update("default branch head").digest("hex");

describe("the completion of a fork's suggestion run", () => {
  let repo: TestRepo;
  let head: string;
  let config: Config;
  let dispatchedState: LadderState;
  let dispatch: RecoveryDispatch;
  let zip: Uint8Array;

  /** The real recover job (deliver: artifact) on a checkout of the fork's head, zipped. */
  async function runRecoverJob(): Promise<Uint8Array> {
    const event = webhookExample("workflow_dispatch");
    event.repository.default_branch = "master";
    const job = {
      repository: "Codertocat/Hello-World",
      workspace: repo.dir,
      runId: RECOVER_RUN,
      eventName: "workflow_dispatch",
      event,
    };
    return inActionsJob(job, async () => {
      const gh = githubApi();
      try {
        gh.scope.get(REPO_CONFIG).reply(200, SUGGESTING);
        gh.scope
          .get(`${REPO}/actions/runs/${FAILED_RUN}/jobs`)
          .query(true)
          .reply(200, { total_count: 0, jobs: [] });
        gh.scope
          .get(`${REPO}/actions/runs/${FAILED_RUN}/artifacts`)
          .query(true)
          .reply(200, { total_count: 0, artifacts: [] });
        const outcome = await recoverMode(
          { githubToken: "ghs_read_only", recovery: JSON.stringify(dispatch), deliver: "artifact" },
          process.env,
          { octokit: { throttle: false, retries: 0 }, now: () => Date.parse("2026-11-21T18:00:00Z") },
        );
        gh.done();
        // The job holds a read-only token: it only reads.
        expect(gh.requests.every((r) => r.method === "GET")).toBe(true);
        return (await zipDirectory(outcome.artifactPath!)).zip;
      } finally {
        resetGithubApi();
      }
    });
  }

  beforeAll(async () => {
    repo = await makeRepo({ files: { ".gitignore": "node_modules\n", "src/greeting.js": UGLY } });
    await symlink(MODULES, path.join(repo.dir, "node_modules"));
    head = repo.baseSha;
    config = (await loadConfig()).config;
    const planned = nextAction(null, {
      key: KEY,
      event: { kind: "failed", head_sha: head, category: "format", ci_id: `${FAILED_RUN}:1` },
      now: DISPATCHED_AT,
      config,
    });
    expect(planned.action.kind).toBe("run_fixers");
    dispatchedState = {
      ...planned.state!,
      dispatch: { workflow: RECOVER_PATH, at: DISPATCHED_AT, ref: "master", suggest: true },
    };
    dispatch = parseRecoveryDispatch(
      JSON.stringify({
        key: KEY,
        run_id: FAILED_RUN,
        head_sha: head,
        head_ref: "changes",
        pr_number: 1,
        base_ref: "master",
        action: planned.action,
        category: "format",
        attempt: 1,
        suggest: true,
        head_repository: FORK,
      }),
    );
    zip = await runRecoverJob();
  }, 120_000);
  afterAll(async () => {
    await repo.cleanup();
  });

  function completed() {
    const payload = withInstallation(webhookExample("workflow_run", "completed", 1));
    const repository = webhookExample("issues", "labeled").repository;
    const ref = { ...payload.workflow_run.repository, id: repository.id, full_name: repository.full_name };
    Object.assign(payload, { repository });
    Object.assign(payload.workflow_run, {
      id: RECOVER_RUN,
      html_url: RUN_URL,
      name: "switchyard-recover",
      event: "workflow_dispatch",
      path: RECOVER_PATH,
      display_title: recoverRunTitle({ key: KEY, attempt: 1, head_sha: head }),
      status: "completed",
      conclusion: "success",
      head_sha: DEFAULT_HEAD,
      head_branch: "master",
      created_at: "2026-11-21T17:55:03Z",
      run_attempt: 1,
      pull_requests: [],
      // The recover run itself is this repository's: only the code it checked out is the fork's.
      repository: ref,
      head_repository: ref,
      actor: { ...payload.workflow_run.actor, login: "switchyard[bot]" },
      triggering_actor: { ...payload.workflow_run.triggering_actor, login: "switchyard[bot]" },
    });
    return payload;
  }

  function serveArtifact(gh: GithubApi) {
    serveRunArtifact(gh, {
      repo: REPO,
      runId: RECOVER_RUN,
      artifactId: 56,
      name: "switchyard-fix",
      zip,
      createdAt: "2026-11-21T18:05:00Z",
      headSha: DEFAULT_HEAD,
    });
  }

  it("posts the fixers' diff on the PR in its one recovery comment, and commits, pushes and opens nothing", async () => {
    const gh = githubApi();
    installationToken(gh);
    gh.scope.get(REPO_CONFIG).reply(200, SUGGESTING);
    gh.scope.get(`${REPO}/pulls/1`).reply(200, {
      number: 1,
      state: "open",
      draft: false,
      labels: [],
      head: { sha: head, ref: "changes" },
      base: { ref: "master" },
    });
    const initial: FakeComment = {
      id: 3,
      body: replaceMarker("**Switchyard recovery** · the fixers are running", "recovery", dispatchedState),
      user: { type: "Bot", login: "switchyard[bot]" } as FakeComment["user"],
      performed_via_github_app: { id: APP_ID },
    };
    const store = commentStore(gh, APP_ID, { list: 1, edit: 1 }, [initial]);
    serveArtifact(gh);
    gh.scope
      .get(`${REPO}/commits/${head}/check-runs`)
      .query(true)
      .reply(200, { total_count: 0, check_runs: [] });
    gh.scope.post(`${REPO}/check-runs`).reply(201, { id: 78 });

    const outcome = await receive(completed(), DONE_AT);
    gh.done();

    expect(ops(gh)).toEqual([
      "POST /app/installations/1/access_tokens",
      `GET ${REPO_CONFIG}`,
      `GET ${REPO}/pulls/1`,
      `GET ${REPO}/issues/1/comments`,
      `GET ${REPO}/actions/runs/${RECOVER_RUN}/artifacts`,
      `GET ${REPO}/actions/artifacts/56/zip`,
      `GET ${REPO}/commits/${head}/check-runs`,
      `POST ${REPO}/check-runs`,
      `PATCH ${REPO}/issues/comments/3`,
    ]);
    // No git data, no ref, no pull request is written: a fork's change is never committed.
    expect(gh.requests.filter((r) => /\/git\/|\/pulls/.test(r.path) && r.method !== "GET")).toEqual([]);

    expect(store).toHaveLength(1);
    const body = store[0]!.body;
    expect(body).toContain("### Suggested fix");
    expect(body).toContain("`prettier` would change the following");
    expect(body).toContain("`git apply fix.diff`");
    const block = /```diff\n([\s\S]*?)```/.exec(body)?.[1];
    expect(block).toContain("--- a/src/greeting.js\n+++ b/src/greeting.js\n");
    expect(block).toContain("-const greeting  =  {text:'hello',  to : \"world\"}\n");
    expect(block).toContain('+const greeting = { text: "hello", to: "world" };\n');

    // The ladder stops for this head: nothing pending, no AI tool next, the run recorded.
    const read = readMarker(body, "recovery", LadderStateSchema);
    expect(read?.ok && read.value).toMatchObject({
      step: "done",
      pending: null,
      head_sha: head,
      attempts: 1,
      dispatch: { run_id: RECOVER_RUN, run_attempt: 1, suggest: true },
    });
    expect(read?.ok && read.value.history.map((e) => e.outcome)).toEqual(["failed"]);
    expect(bodyOf(gh, "POST", "/check-runs")).toMatchObject({
      conclusion: "neutral",
      output: { title: "Suggested a patch to the fork's author" },
    });
    expect(outcome).toMatchObject({
      action: "step",
      outcome: { action: "suggested", posted: true, run_id: RECOVER_RUN },
    });
  });
});

describe("the suggestion's parts", () => {
  it("the dispatch refuses a suggestion for an AI tool, or one without the fork's name", () => {
    const base = {
      key: "o/r#1",
      run_id: 1,
      head_sha: HEAD,
      head_ref: "changes",
      pr_number: 1,
      base_ref: "main",
      category: "format",
      attempt: 1,
    };
    expect(() =>
      parseRecoveryDispatch(
        JSON.stringify({
          ...base,
          action: { kind: "run_ai", tool: "claude" },
          suggest: true,
          head_repository: FORK,
        }),
      ),
    ).toThrow("The recovery input is not valid: action: a fork's suggestion runs fixers only");
    expect(() =>
      parseRecoveryDispatch(
        JSON.stringify({ ...base, action: { kind: "run_fixers", tools: ["prettier"] }, suggest: true }),
      ),
    ).toThrow("head_repository: a suggestion names the fork's repository, and only a suggestion does");
  });

  it("settleSuggestion ends the step and refuses a state that is not a suggestion", async () => {
    const planned = nextAction(null, {
      key: "o/r#1",
      event: { kind: "failed", head_sha: HEAD, category: "format", ci_id: "1:1" },
      now: DISPATCHED_AT,
      config: (await loadConfig()).config,
    });
    const state = planned.state!;
    expect(() => settleSuggestion(state, "x")).toThrow("Cannot settle a suggestion for o/r#1");
    const settled = settleSuggestion(
      { ...state, dispatch: { workflow: RECOVER_PATH, at: DISPATCHED_AT, ref: "main", suggest: true } },
      "posted",
    );
    expect(settled.state).toMatchObject({ step: "done", pending: null, reason: "posted", attempts: 1 });
    expect(settled.state.tools).toBeUndefined();
    expect(settled.entries).toEqual([{ ...state.history[0], outcome: "failed", reason: "posted" }]);
  });

  it("cuts a long diff at a line end with a note, and fences it past any backticks inside", () => {
    const line = "+" + "x".repeat(99) + "\n";
    const diff = new TextEncoder().encode("```` sneaky\n" + line.repeat(500));
    const text = renderSuggestion({
      diff,
      fixers: [
        { tool: "prettier", status: "changed" },
        { tool: "gofmt", status: "unavailable" },
      ],
      runUrl: RUN_URL,
    });
    expect(text).toContain("`````diff\n```` sneaky\n");
    const block = /`````diff\n([\s\S]*?)`````/.exec(text)![1]!;
    expect(block.length).toBeLessThanOrEqual(SUGGESTION_DIFF_CHARS);
    expect(block.endsWith("x\n")).toBe(true);
    const kept = block.split("\n").filter((l) => l.startsWith("+")).length;
    expect(text).toContain(`_The diff was cut: ${500 - kept} more lines not shown`);
    expect(text).toContain(`[run](${RUN_URL})`);
    expect(text).toContain("`prettier` would change");
    expect(text).not.toContain("`gofmt`");
  });
});
