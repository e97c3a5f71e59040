import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { createHash } from "node:crypto";
import { symlink } from "node:fs/promises";
import path from "node:path";
import { zipSync } from "fflate";
import nock from "nock";
import { Probot, type ApplicationFunction } from "probot";
import { recoverMode } from "../../src/action/recover.js";
import { onRecoverableRun, type RecoverRunOutcome } from "../../src/app/recover-run.js";
import { loadConfig } from "../../src/config/load.js";
import type { Config } from "../../src/config/schema.js";
import { fixBundleFiles, readFixBundle, type FixBundleManifest } from "../../src/core/recovery/fix-bundle.js";
import { LadderStateSchema, nextAction, type LadderState } from "../../src/core/recovery/ladder.js";
import { readMarker, replaceMarker } from "../../src/core/status-marker.js";
import { recoverRunTitle, type RecoveryDispatch } from "../../src/github/recovery-flow.js";
import { inActionsJob, serveRunArtifact, zipDirectory } from "../support/artifacts.js";
import { blockNetwork, githubApi, resetGithubApi, type GithubApi } from "../support/github-contract.js";
import { makeRepo, type TestRepo } from "../support/git-repo.js";
import { webhookExample, withInstallation } from "../support/webhooks.js";
import {
  APP_ID,
  REPO,
  TEST_PRIVATE_KEY,
  TestOctokit,
  commentStore,
  installationToken,
  noConfig,
  type FakeComment,
} from "./probot-fixtures.js";

/**
 * The app's side of a recovery step run through an artifact: a real recover job (recoverMode with
 * deliver: artifact, the real Prettier, a real git checkout) writes the fix bundle; it is zipped
 * as actions/upload-artifact would, served as the run's `switchyard-fix` artifact, and the app
 * receives the run's workflow_run.completed. Every request is checked against GitHub's API
 * description, every mock must be used.
 */

const UGLY = "const greeting  =  {text:'hello',  to : \"world\"}\nexport default greeting\n";
const PRETTY = 'const greeting = { text: "hello", to: "world" };\nexport default greeting;\n';
const MODULES = path.resolve(import.meta.dirname, "../../node_modules");
const sha = (label: string) => createHash("sha1").update(label).digest("hex");
const BASE_TREE = sha("base tree");
const FIX_COMMIT = sha("fix commit");
const DEFAULT_HEAD = sha("default branch head");
const PRETTY_BLOB = createHash("sha1")
  .update(`blob ${Buffer.byteLength(PRETTY)}\0${PRETTY}`)
  .digest("hex");

const KEY = "Codertocat/Hello-World#1";
const OWN = "switchyard/issue-3-greeting";
const FAILED_RUN = 4711;
const RECOVER_RUN = 5150;
const RUN_URL = `https://github.com/Codertocat/Hello-World/actions/runs/${RECOVER_RUN}`;
const DISPATCHED_AT = "2026-11-21T17:55:00.000Z";
const NOW = "2026-11-21T18:10:00.000Z";
const RECOVER_PATH = ".github/workflows/switchyard-recover.yml";
/** The defaults: the app and the job read no configuration file in these tests. */
let CONFIG: Config;

let repo: TestRepo;
let head: string;
/** The state the app stored when it dispatched the fixers (with its dispatch record). */
let dispatchedState: LadderState;
let dispatch: RecoveryDispatch;
/** The recover job's real bundle, as the artifact zip. */
let fixedZip: Uint8Array;
/** The tree git made of the fixed checkout (the commit port checks GitHub builds the same). */
let fixedTree: string;

/** Runs the real recover job once: what its upload step would zip. */
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
      noConfig(gh);
      // The failed run's evidence: no failed job is listed, which is a gap, not an error.
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
        {
          octokit: { throttle: false, retries: 0 },
          now: () => Date.parse("2026-11-21T18:00:00Z"),
        },
      );
      gh.done();
      expect(gh.requests.every((r) => r.method === "GET")).toBe(true);
      const { files, zip } = await zipDirectory(outcome.artifactPath!);
      fixedTree = readFixBundle(files).manifest.patch!.tree_sha;
      return zip;
    } finally {
      resetGithubApi();
    }
  });
}

beforeAll(async () => {
  blockNetwork();
  repo = await makeRepo({ files: { ".gitignore": "node_modules\n", "src/greeting.js": UGLY } });
  await symlink(MODULES, path.join(repo.dir, "node_modules"));
  head = repo.baseSha;
  CONFIG = (await loadConfig()).config;
  const planned = nextAction(null, {
    key: KEY,
    event: { kind: "failed", head_sha: head, category: "format", ci_id: `${FAILED_RUN}:1` },
    now: DISPATCHED_AT,
    config: CONFIG,
  });
  expect(planned.action.kind).toBe("run_fixers");
  dispatchedState = {
    ...planned.state!,
    dispatch: { workflow: RECOVER_PATH, at: DISPATCHED_AT, ref: "master" },
  };
  dispatch = {
    key: KEY,
    run_id: FAILED_RUN,
    head_sha: head,
    head_ref: OWN,
    pr_number: 1,
    base_ref: "master",
    action: planned.action as RecoveryDispatch["action"],
    category: "format",
    attempt: 1,
  };
  fixedZip = await runRecoverJob();
}, 120_000);
afterAll(async () => {
  await repo.cleanup();
});
afterEach(() => {
  resetGithubApi();
  nock.cleanAll();
});

function recoveryComment(state: LadderState): FakeComment {
  return {
    id: 3,
    body: replaceMarker("**Switchyard recovery** · the fixers are running", "recovery", state),
    // GitHub always names a comment's author; the recovery reader relies on it.
    user: { type: "Bot", login: "switchyard[bot]" } as FakeComment["user"],
    performed_via_github_app: { id: APP_ID },
  };
}

function stateIn(store: FakeComment[]): LadderState {
  const read = readMarker(store[0]!.body, "recovery", LadderStateSchema);
  if (read === null || !read.ok) throw new Error("no readable recovery marker");
  return read.value;
}

/** A real workflow_run.completed example, turned into the app's run of the recover workflow. */
function completed(change: Record<string, unknown> = {}) {
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
    // Dispatched on the default branch: its head, not the failing commit.
    head_sha: DEFAULT_HEAD,
    head_branch: "master",
    created_at: "2026-11-21T17:55:03Z",
    run_attempt: 1,
    pull_requests: [],
    repository: ref,
    head_repository: ref,
    actor: { ...payload.workflow_run.actor, login: "switchyard[bot]" },
    triggering_actor: { ...payload.workflow_run.triggering_actor, login: "switchyard[bot]" },
    ...change,
  });
  return payload;
}

let outcomes: RecoverRunOutcome[] = [];
const app: ApplicationFunction = (probot) => {
  probot.on("workflow_run.completed", async (context) => {
    outcomes.push(
      await onRecoverableRun(context, {
        appId: async () => APP_ID,
        appSlug: async () => "switchyard",
        now: () => new Date(NOW),
      }),
    );
  });
};

async function receive(payload: object): Promise<RecoverRunOutcome> {
  outcomes = [];
  const p = new Probot({
    appId: APP_ID,
    privateKey: TEST_PRIVATE_KEY,
    Octokit: TestOctokit,
    logLevel: "fatal",
  });
  p.load(app);
  await p.receive({ id: "recover-delivery", name: "workflow_run", payload } as never);
  expect(outcomes).toHaveLength(1);
  return outcomes[0]!;
}

function servePr(gh: GithubApi): void {
  gh.scope.get(`${REPO}/pulls/1`).reply(200, {
    number: 1,
    state: "open",
    draft: false,
    labels: [],
    head: { sha: head, ref: OWN },
    base: { ref: "master" },
  });
}

function serveArtifact(gh: GithubApi, zip: Uint8Array): void {
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

/** The switchyard/recover check run on the failing head: none yet, so it is created. */
function serveCheckRun(gh: GithubApi): void {
  gh.scope
    .get(`${REPO}/commits/${head}/check-runs`)
    .query(true)
    .reply(200, { total_count: 0, check_runs: [] });
  gh.scope.post(`${REPO}/check-runs`).reply(201, { id: 78, html_url: "https://github.com/x/runs/78" });
}

const ops = (gh: GithubApi) => gh.requests.map((r) => `${r.method} ${r.path.split("?")[0]}`);
const bodyOf = (gh: GithubApi, method: string, suffix: string) =>
  gh.requests.find((r) => r.method === method && r.path.split("?")[0]!.endsWith(suffix))?.body as Record<
    string,
    unknown
  >;

const START = [
  "POST /app/installations/1/access_tokens",
  `GET ${REPO}/contents/.github%2Fswitchyard.yml`,
  "GET /repos/Codertocat/.github/contents/.github%2Fswitchyard.yml",
  `GET ${REPO}/pulls/1`,
  `GET ${REPO}/issues/1/comments`,
];

describe("workflow_run.completed of the recover workflow the app dispatched", () => {
  it("commits the real Prettier fix from the artifact onto Switchyard's PR branch as the app, and records it", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    servePr(gh);
    const store = commentStore(gh, APP_ID, { list: 1, edit: 1 }, [recoveryComment(dispatchedState)]);
    serveArtifact(gh, fixedZip);
    gh.scope.get(`${REPO}/git/commits/${head}`).reply(200, { sha: head, tree: { sha: BASE_TREE } });
    gh.scope
      .get(`${REPO}/git/ref/heads/${OWN}`)
      .reply(200, { ref: `refs/heads/${OWN}`, object: { sha: head } });
    gh.scope.post(`${REPO}/git/blobs`).reply(201, { sha: PRETTY_BLOB, url: "https://api.github.com/x" });
    gh.scope.post(`${REPO}/git/trees`).reply(201, { sha: fixedTree, tree: [] });
    gh.scope.post(`${REPO}/git/commits`).reply(201, { sha: FIX_COMMIT, tree: { sha: fixedTree } });
    gh.scope
      .patch(`${REPO}/git/refs/heads/${OWN}`)
      .reply(200, { ref: `refs/heads/${OWN}`, object: { sha: FIX_COMMIT } });
    serveCheckRun(gh);

    const outcome = await receive(completed());
    gh.done();
    expect(outcome).toMatchObject({
      action: "step",
      outcome: { action: "recorded", result: "committed", run_id: RECOVER_RUN, commit_sha: FIX_COMMIT },
    });
    expect(ops(gh)).toEqual([
      ...START,
      `GET ${REPO}/actions/runs/${RECOVER_RUN}/artifacts`,
      `GET ${REPO}/actions/artifacts/56/zip`,
      `GET ${REPO}/git/commits/${head}`,
      `GET ${REPO}/git/ref/heads/${OWN}`,
      `POST ${REPO}/git/blobs`,
      `POST ${REPO}/git/trees`,
      `POST ${REPO}/git/commits`,
      `PATCH ${REPO}/git/refs/heads/${OWN}`,
      `GET ${REPO}/commits/${head}/check-runs`,
      `POST ${REPO}/check-runs`,
      `PATCH ${REPO}/issues/comments/3`,
    ]);
    expect(bodyOf(gh, "POST", "/git/blobs")).toEqual({
      content: Buffer.from(PRETTY).toString("base64"),
      encoding: "base64",
    });
    expect(bodyOf(gh, "POST", "/git/trees")).toEqual({
      base_tree: BASE_TREE,
      tree: [{ path: "src/greeting.js", mode: "100644", type: "blob", sha: PRETTY_BLOB }],
    });
    const commit = bodyOf(gh, "POST", "/git/commits");
    expect(commit.parents).toEqual([head]);
    expect(commit.tree).toBe(fixedTree);
    const message = commit.message as string;
    expect(message.split("\n")[0]).toBe("switchyard: fix the format failure (prettier)");
    expect(
      message.endsWith(
        `Switchyard-Recovery: ${KEY}\nSwitchyard-Tool: prettier\nSwitchyard-Run: ${RECOVER_RUN}-1\n`,
      ),
    ).toBe(true);
    expect(bodyOf(gh, "PATCH", `/git/refs/heads/${OWN}`)).toEqual({ sha: FIX_COMMIT, force: false });
    expect(bodyOf(gh, "POST", "/check-runs")).toMatchObject({
      name: "switchyard/recover",
      head_sha: head,
      external_id: KEY,
      details_url: RUN_URL,
    });
    const state = stateIn(store);
    expect(state).toMatchObject({
      key: KEY,
      head_sha: FIX_COMMIT,
      step: "mechanical",
      pending: "ci",
      attempts: 1,
      dispatch: {
        workflow: RECOVER_PATH,
        at: DISPATCHED_AT,
        ref: "master",
        run_id: RECOVER_RUN,
        run_attempt: 1,
      },
    });
    expect(state.history.at(-1)).toMatchObject({
      step: "mechanical",
      // Fixed only once CI passes on the fix; until then the step waits, with its commit.
      outcome: "started",
      commit_sha: FIX_COMMIT,
    });
  }, 30_000);

  it("records a no_fix bundle and moves the ladder on: the first AI tool is dispatched", async () => {
    const manifest: FixBundleManifest = {
      version: 1,
      kind: "recovery",
      key: KEY,
      run_id: RECOVER_RUN,
      run_attempt: 1,
      failed_run_id: FAILED_RUN,
      head_sha: head,
      attempt: 1,
      action: dispatch.action,
      category: "format",
      result: "no_fix",
      reason: "the fixers changed nothing",
      fixers: [],
      patch: null,
    };
    const zip = zipSync(
      Object.fromEntries(fixBundleFiles({ manifest, diff: new Uint8Array(), blobs: new Map() })),
    );
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    servePr(gh);
    const store = commentStore(gh, APP_ID, { list: 1, edit: 1 }, [recoveryComment(dispatchedState)]);
    serveArtifact(gh, zip);
    gh.scope.post(`${REPO}/actions/workflows/switchyard-recover.yml/dispatches`).reply(204);
    serveCheckRun(gh);

    const outcome = await receive(completed());
    gh.done();
    expect(outcome).toMatchObject({
      action: "step",
      outcome: {
        action: "recorded",
        result: "no_fix",
        reason: "the fixers changed nothing",
        commit_sha: null,
      },
    });
    expect(ops(gh)).toEqual([
      ...START,
      `GET ${REPO}/actions/runs/${RECOVER_RUN}/artifacts`,
      `GET ${REPO}/actions/artifacts/56/zip`,
      `POST ${REPO}/actions/workflows/switchyard-recover.yml/dispatches`,
      `GET ${REPO}/commits/${head}/check-runs`,
      `POST ${REPO}/check-runs`,
      `PATCH ${REPO}/issues/comments/3`,
    ]);
    const sent = bodyOf(gh, "POST", "/dispatches");
    expect(sent.ref).toBe("master");
    const next = JSON.parse((sent.inputs as { recovery: string }).recovery) as RecoveryDispatch;
    expect(next).toMatchObject({
      key: KEY,
      head_sha: head,
      action: { kind: "run_ai", tool: CONFIG.recovery.escalation[0] },
    });
    const state = stateIn(store);
    expect(state).toMatchObject({ step: "ai", pending: "tool", tool: CONFIG.recovery.escalation[0] });
    // A new dispatch, a new record: no run is accepted for it yet.
    expect(state.dispatch).toEqual({ workflow: RECOVER_PATH, at: NOW, ref: "master" });
    expect(state.history.at(-2)).toMatchObject({ step: "mechanical", outcome: "failed" });
  });

  it.each<[string, Record<string, unknown>, string, string]>([
    [
      "another workflow with the same title",
      { path: ".github/workflows/ci.yml" },
      "workflow",
      `run ${RECOVER_RUN} is of .github/workflows/ci.yml, not of the recover workflow ${RECOVER_PATH}`,
    ],
    [
      "a run created before the dispatch",
      { created_at: "2026-11-21T17:50:00Z" },
      "created_before_dispatch",
      `run ${RECOVER_RUN} was created at 2026-11-21T17:50:00Z, before the app dispatched it at ${DISPATCHED_AT}`,
    ],
    [
      "a run of the recover workflow on another branch (its file there may differ)",
      { head_branch: "evil" },
      "branch",
      `run ${RECOVER_RUN} ran on evil, not on master, the branch the app dispatched it on`,
    ],
    [
      "a fork's run",
      { head_repository: { id: 99, full_name: "mallory/Hello-World" } },
      "fork",
      `run ${RECOVER_RUN} ran code from mallory/Hello-World, not from Codertocat/Hello-World; a fork's run is never committed`,
    ],
    [
      "a run a person dispatched by hand",
      { actor: { login: "mallory" }, triggering_actor: { login: "mallory" } },
      "actor",
      `run ${RECOVER_RUN} was started by mallory, not by the app (switchyard[bot])`,
    ],
  ])(
    "refuses %s: nothing downloaded or committed, reported, the state untouched",
    async (_n, change, rule, reason) => {
      const gh = githubApi();
      installationToken(gh);
      noConfig(gh);
      servePr(gh);
      const store = commentStore(gh, APP_ID, { list: 1 }, [recoveryComment(dispatchedState)]);
      serveCheckRun(gh);

      const outcome = await receive(completed(change));
      gh.done();
      expect(outcome).toEqual({
        action: "step",
        outcome: { action: "refused", rule, reason, run_id: RECOVER_RUN },
      });
      expect(ops(gh)).toEqual([
        ...START,
        `GET ${REPO}/commits/${head}/check-runs`,
        `POST ${REPO}/check-runs`,
      ]);
      expect(bodyOf(gh, "POST", "/check-runs")).toMatchObject({
        name: "switchyard/recover",
        status: "in_progress",
        output: {
          title: `Refused recover run ${RECOVER_RUN}`,
          summary: `Switchyard refused the result of run ${RECOVER_RUN}: ${reason}. Nothing was committed; the recovery still waits for the run the app dispatched.`,
        },
      });
      expect(stateIn(store)).toEqual(dispatchedState);
    },
  );

  it("records a cancelled recover run as a failed step with its link, and moves on", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    servePr(gh);
    const store = commentStore(gh, APP_ID, { list: 1, edit: 1 }, [recoveryComment(dispatchedState)]);
    gh.scope.post(`${REPO}/actions/workflows/switchyard-recover.yml/dispatches`).reply(204);
    serveCheckRun(gh);

    const outcome = await receive(completed({ conclusion: "cancelled" }));
    gh.done();
    const reason = `recover run ${RECOVER_RUN} was cancelled before it delivered a fix ([run ${RECOVER_RUN}](${RUN_URL}))`;
    expect(outcome).toMatchObject({
      action: "step",
      outcome: { action: "recorded", result: "no_fix", reason },
    });
    expect(ops(gh).some((o) => o.includes("/artifacts") || o.includes("/git/"))).toBe(false);
    const failedStep = stateIn(store).history.find((e) => e.step === "mechanical" && e.outcome === "failed");
    const fixers = (dispatch.action as { tools: string[] }).tools.join(", ");
    expect(failedStep?.reason).toBe(
      `the fixers (${fixers}) made no fix: ${reason} (not counted as an attempt)`,
    );
  });

  it("ignores a redelivery of the run it already accepted: no write", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    servePr(gh);
    const accepted: LadderState = {
      ...dispatchedState,
      dispatch: { ...dispatchedState.dispatch!, run_id: RECOVER_RUN, run_attempt: 1 },
    };
    commentStore(gh, APP_ID, { list: 1 }, [recoveryComment(accepted)]);
    const outcome = await receive(completed());
    gh.done();
    expect(outcome).toEqual({
      action: "step",
      outcome: { action: "ignored", reason: `run ${RECOVER_RUN} (attempt 1) was already handled` },
    });
    expect(ops(gh)).toEqual(START);
  });
});
