import { afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import nock from "nock";
import { Probot, type ApplicationFunction } from "probot";
import {
  onCheckSuiteCompleted,
  onRecoverableRun,
  type RecoverRunOutcome,
} from "../../src/app/recover-run.js";
import { LadderStateSchema, type LadderState } from "../../src/core/recovery/ladder.js";
import { encodeMarker, readMarker } from "../../src/core/status-marker.js";
import { RecoveryDispatchSchema } from "../../src/github/recovery-flow.js";
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
 * The app's recovery handlers end to end: Probot receives a webhook example, every request is
 * checked against GitHub's API description, every mock must be used, and the bodies sent are
 * asserted exactly where they carry the decision.
 */

const HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
const OLD = "1".repeat(40);
const RUN = 289782451;
const JOB = 399444496;
const KEY = "Codertocat/Hello-World#2";
const LOGS = "https://pipelines.actions.githubusercontent.example";
const NOW = "2025-03-01T12:00:00.000Z";
const FIXERS = ["prettier", "ruff-format", "gofmt"];

let outcomes: RecoverRunOutcome[] = [];
const deps = {
  appId: async () => APP_ID,
  appSlug: async () => "switchyard",
  now: () => new Date(NOW),
};
const app: ApplicationFunction = (probot) => {
  probot.on("workflow_run.completed", async (context) => {
    outcomes.push(await onRecoverableRun(context, deps));
  });
  probot.on("check_suite.completed", async (context) => {
    outcomes.push(await onCheckSuiteCompleted(context, deps));
  });
};

async function receive(name: "workflow_run" | "check_suite", payload: object): Promise<RecoverRunOutcome> {
  outcomes = [];
  const p = new Probot({
    appId: APP_ID,
    privateKey: TEST_PRIVATE_KEY,
    Octokit: TestOctokit,
    logLevel: "fatal",
  });
  p.load(app);
  await p.receive({ id: "delivery-1", name, payload } as never);
  expect(outcomes).toHaveLength(1);
  return outcomes[0]!;
}

/** A failed CI run on PR #2 of Codertocat/Hello-World, from GitHub's own example. */
function failedRun(over: { conclusion?: string; path?: string; head_repo?: string; prs?: boolean } = {}) {
  const payload = withInstallation(webhookExample("workflow_run", "completed", 2));
  const repository = webhookExample("check_suite", "completed", 0).repository;
  const run = payload.workflow_run;
  Object.assign(run, {
    id: RUN,
    run_attempt: 1,
    name: "CI",
    path: over.path ?? ".github/workflows/ci.yml",
    conclusion: over.conclusion ?? "failure",
    head_sha: HEAD,
    head_branch: "changes",
    html_url: `https://github.com/Codertocat/Hello-World/actions/runs/${RUN}`,
  });
  run.head_repository = { ...run.head_repository, full_name: over.head_repo ?? "Codertocat/Hello-World" };
  if (over.prs === false) run.pull_requests = [];
  return { ...payload, repository };
}

function pr(gh: GithubApi, labels: string[] = []) {
  gh.scope.get(`${REPO}/pulls/2`).reply(200, {
    number: 2,
    state: "open",
    draft: false,
    labels: labels.map((name) => ({ name })),
    head: { sha: HEAD, ref: "changes" },
    base: { ref: "master" },
  });
}

/** The PR's comments: none, or Switchyard's recovery comment holding `state`. */
function comments(gh: GithubApi, state?: LadderState) {
  const list = state
    ? [
        {
          id: 77,
          body: `${encodeMarker(state, "recovery")}\n### Switchyard recovery`,
          user: { login: "switchyard[bot]", type: "Bot" },
          performed_via_github_app: { id: APP_ID },
        },
      ]
    : [];
  gh.scope.get(`${REPO}/issues/2/comments`).query({ per_page: "100", page: "1" }).reply(200, list);
}

const person = (sha: string) => ({
  sha,
  author: { login: "octocat" },
  commit: { message: "Change the parser", committer: { email: "octocat@github.com" } },
});
const fixCommit = (sha: string, parent = OLD) => ({
  sha,
  parents: [{ sha: parent }],
  author: { login: "switchyard[bot]" },
  commit: {
    message: `switchyard: run the fixers\n\nSwitchyard-Recovery: ${KEY}\n`,
    committer: { email: "noreply@github.com" },
  },
});

function commits(gh: GithubApi, list: object[] = [person(HEAD), person(OLD)]) {
  gh.scope.get(`${REPO}/commits`).query({ sha: HEAD, per_page: "2" }).reply(200, list);
}

function evidence(
  gh: GithubApi,
  log: string | null,
  steps: [string, string][] = [["Run npm run lint", "failure"]],
) {
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
          steps: steps.map(([name, conclusion], i) => ({
            name,
            conclusion,
            number: i + 1,
            status: "completed",
          })),
        },
      ],
    });
  if (log === null) {
    gh.scope.get(`${REPO}/actions/jobs/${JOB}/logs`).reply(410, { message: "Gone" });
  } else {
    gh.scope.get(`${REPO}/actions/jobs/${JOB}/logs`).reply(302, "", { Location: `${LOGS}/${JOB}.txt` });
    nock(LOGS, { badheaders: ["authorization"] })
      .get(`/${JOB}.txt`)
      .reply(200, log, { "content-type": "text/plain" });
  }
  gh.scope.get(`${REPO}/check-runs/${JOB}/annotations`).query(true).reply(200, []);
  gh.scope
    .get(`${REPO}/actions/runs/${RUN}/artifacts`)
    .query(true)
    .reply(200, { total_count: 0, artifacts: [] });
  sameSha(gh, []);
}

/** The same workflow's successful runs on the failing head: what tells a flaky failure. */
function sameSha(gh: GithubApi, runs: object[]) {
  gh.scope
    .get(`${REPO}/actions/runs`)
    .query({ head_sha: HEAD, status: "success", per_page: "20" })
    .reply(200, { total_count: runs.length, workflow_runs: runs });
}

function checkRun(gh: GithubApi) {
  gh.scope
    .get(`${REPO}/commits/${HEAD}/check-runs`)
    .query(true)
    .reply(200, { total_count: 0, check_runs: [] });
  gh.scope.post(`${REPO}/check-runs`).reply(201, { id: 5, html_url: "https://github.com/x/runs/5" });
}

const FORMAT_LOG = [
  "2025-03-01T11:59:00.0000000Z ##[group]Run npm run lint",
  "2025-03-01T11:59:01.0000000Z Checking formatting...",
  "2025-03-01T11:59:02.0000000Z [warn] src/parser.ts",
  "2025-03-01T11:59:03.0000000Z [warn] Code style issues found in the above file. Run Prettier with --write to fix.",
  "2025-03-01T11:59:04.0000000Z ##[error]Process completed with exit code 1.",
  "",
].join("\n");
const INFRA_LOG = [
  "2025-03-01T11:59:00.0000000Z ##[group]Run npm test",
  "2025-03-01T11:59:01.0000000Z ##[error]The runner has received a shutdown signal. This can happen when the runner service is stopped.",
  "",
].join("\n");

/** The fields of the request bodies these tests read. */
interface Sent {
  inputs: { recovery: string };
  output: { title: string; summary: string; text?: string };
  body: string;
  [field: string]: unknown;
}
const ops = (gh: GithubApi) => gh.requests.map((r) => `${r.method} ${r.path}`);
const bodyOf = (gh: GithubApi, method: string, suffix: string, nth = 0) =>
  gh.requests.filter((r) => r.method === method && r.path.endsWith(suffix))[nth]?.body as Sent;

/** The state a first format failure leaves; `over` changes it. */
function stored(over: Partial<LadderState> = {}): LadderState {
  return LadderStateSchema.parse({
    version: 1,
    key: KEY,
    head_sha: OLD,
    category: "format",
    step: "done",
    pending: null,
    rung: 0,
    tried: [],
    attempts: 1,
    rerun_sha: null,
    last_attempt_at: "2025-03-01T10:00:00Z",
    seen_ci: [],
    reason: "CI passed",
    history: [],
    ...over,
  });
}

beforeAll(() => blockNetwork());
afterEach(() => {
  resetGithubApi();
  nock.cleanAll();
});

const BEFORE_GUARDS = [
  "POST /app/installations/1/access_tokens",
  `GET ${REPO_CONFIG}`,
  `GET ${ORG_CONFIG}`,
  `GET ${REPO}/pulls/2`,
  `GET ${REPO}/issues/2/comments`,
  `GET ${REPO}/commits`,
];
const EVIDENCE = [
  `GET ${REPO}/actions/runs/${RUN}/jobs`,
  `GET ${REPO}/actions/jobs/${JOB}/logs`,
  `GET ${REPO}/check-runs/${JOB}/annotations`,
  `GET ${REPO}/actions/runs/${RUN}/artifacts`,
  `GET ${REPO}/actions/runs`,
];
const CHECK = [`GET ${REPO}/commits/${HEAD}/check-runs`, `POST ${REPO}/check-runs`];

describe("workflow_run.completed: a red run on a pull request", () => {
  it("gathers the evidence, classifies a format failure and dispatches the fixers as one attempt", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    pr(gh);
    comments(gh);
    commits(gh);
    evidence(gh, FORMAT_LOG);
    gh.scope.post(`${REPO}/actions/workflows/switchyard-recover.yml/dispatches`).reply(204);
    checkRun(gh);
    gh.scope.post(`${REPO}/issues/2/comments`).reply(201, { id: 78 });

    const outcome = await receive("workflow_run", failedRun());
    gh.done();

    expect(ops(gh)).toEqual([
      ...BEFORE_GUARDS,
      ...EVIDENCE,
      `POST ${REPO}/actions/workflows/switchyard-recover.yml/dispatches`,
      ...CHECK,
      `POST ${REPO}/issues/2/comments`,
    ]);
    const dispatch = bodyOf(gh, "POST", "/dispatches");
    expect(dispatch.ref).toBe("master");
    expect(RecoveryDispatchSchema.parse(JSON.parse(dispatch.inputs.recovery))).toEqual({
      key: KEY,
      run_id: RUN,
      head_sha: HEAD,
      head_ref: "changes",
      pr_number: 2,
      base_ref: "master",
      action: { kind: "run_fixers", tools: FIXERS },
      category: "format",
      attempt: 1,
    });
    const check = bodyOf(gh, "POST", "/check-runs");
    expect(check).toMatchObject({
      name: "switchyard/recover",
      head_sha: HEAD,
      external_id: KEY,
      status: "in_progress",
      details_url: `https://github.com/Codertocat/Hello-World/actions/runs/${RUN}`,
      output: { title: "Running the fixers for the format failure: prettier, ruff-format, gofmt" },
    });
    expect(check.conclusion).toBeUndefined();
    expect(check.output.summary).toContain(
      `CI failed on ec26c3e (format:[warn] src/parser.ts); running the fixers (prettier, ruff-format, gofmt) (attempt 1 of 3)`,
    );
    expect(check.output.summary).toContain("| loop | passed |");
    expect(check.output.text).toContain("[warn] src/parser.ts");

    const comment = bodyOf(gh, "POST", "/issues/2/comments").body as string;
    const state = readMarker(comment, "recovery", LadderStateSchema);
    expect(state).toMatchObject({
      ok: true,
      value: {
        key: KEY,
        head_sha: HEAD,
        step: "mechanical",
        pending: "tool",
        tools: FIXERS,
        attempts: 1,
        seen_ci: [`${RUN}:1`],
      },
    });
    expect(outcome).toMatchObject({ action: "handled", outcome: { plan: "decided", problem: null } });
    const events = (outcome as { outcome: { events: { step: string; ok: unknown }[] } }).outcome.events;
    expect(events.map((e) => [e.step, e.ok])).toEqual([["mechanical", null]]);
  });

  it("reruns the failed jobs of an infrastructure failure", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    pr(gh);
    comments(gh);
    commits(gh);
    evidence(gh, INFRA_LOG, [["Run npm test", "failure"]]);
    gh.scope.post(`${REPO}/actions/runs/${RUN}/rerun-failed-jobs`).reply(201, {});
    checkRun(gh);
    gh.scope.post(`${REPO}/issues/2/comments`).reply(201, { id: 78 });

    await receive("workflow_run", failedRun());
    gh.done();
    expect(ops(gh)).toEqual([
      ...BEFORE_GUARDS,
      ...EVIDENCE,
      `POST ${REPO}/actions/runs/${RUN}/rerun-failed-jobs`,
      ...CHECK,
      `POST ${REPO}/issues/2/comments`,
    ]);
    expect(bodyOf(gh, "POST", "/check-runs")).toMatchObject({
      status: "in_progress",
      output: { title: "Rerunning the failed jobs (infra)" },
    });
    const state = readMarker(bodyOf(gh, "POST", "/issues/2/comments").body, "recovery", LadderStateSchema);
    expect(state).toMatchObject({ ok: true, value: { step: "rerun", rerun_sha: HEAD, attempts: 0 } });
  });

  it("quarantines an infrastructure failure when GitHub refuses its rerun", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    pr(gh);
    comments(gh);
    commits(gh);
    evidence(gh, INFRA_LOG, [["Run npm test", "failure"]]);
    gh.scope
      .post(`${REPO}/actions/runs/${RUN}/rerun-failed-jobs`)
      .reply(403, { message: "Resource not accessible by integration" });
    checkRun(gh);
    gh.scope.post(`${REPO}/issues/2/comments`).times(2).reply(201, { id: 78 });
    gh.scope.post(`${REPO}/issues/2/labels`).reply(200, []);

    await receive("workflow_run", failedRun());
    gh.done();
    expect(ops(gh)).toEqual([
      ...BEFORE_GUARDS,
      ...EVIDENCE,
      `POST ${REPO}/actions/runs/${RUN}/rerun-failed-jobs`,
      ...CHECK,
      `POST ${REPO}/issues/2/comments`,
      `POST ${REPO}/issues/2/labels`,
      `POST ${REPO}/issues/2/comments`,
    ]);
    expect(bodyOf(gh, "POST", "/check-runs")).toMatchObject({
      status: "completed",
      conclusion: "action_required",
      output: { title: "Quarantined: a person takes over" },
    });
    const state = readMarker(bodyOf(gh, "POST", "/issues/2/comments", 0).body, "recovery", LadderStateSchema);
    expect(state).toMatchObject({ ok: true, value: { step: "quarantine", attempts: 0 } });
    const reason = (state as { value: LadderState }).value.reason;
    expect(reason).toContain(
      "the rerun could not be started: GitHub answered 403: Resource not accessible by integration " +
        "(the app needs `actions: write`)",
    );
    expect(bodyOf(gh, "POST", "/issues/2/comments", 1).body).toContain(
      "### Switchyard stopped recovering this pull request",
    );
  });

  it("asks the first AI tool about a failure no rule recognises", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    pr(gh);
    comments(gh);
    commits(gh);
    evidence(gh, INFRA_LOG.replace("The runner has received a shutdown signal.", "something odd"), [
      ["Run npm test", "failure"],
    ]);
    gh.scope.post(`${REPO}/actions/workflows/switchyard-recover.yml/dispatches`).reply(204);
    checkRun(gh);
    gh.scope.post(`${REPO}/issues/2/comments`).reply(201, { id: 78 });
    await receive("workflow_run", failedRun());
    gh.done();
    const dispatch = JSON.parse(bodyOf(gh, "POST", "/dispatches").inputs.recovery);
    expect(dispatch).toMatchObject({
      action: { kind: "run_ai", tool: "aider" },
      category: "unknown",
      attempt: 1,
    });
  });

  it("reads the evidence around a log that is gone (410) and says so", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    pr(gh);
    comments(gh);
    commits(gh);
    evidence(gh, null);
    gh.scope.post(`${REPO}/actions/workflows/switchyard-recover.yml/dispatches`).reply(204);
    checkRun(gh);
    gh.scope.post(`${REPO}/issues/2/comments`).reply(201, { id: 78 });
    await receive("workflow_run", failedRun());
    gh.done();
    const summary = bodyOf(gh, "POST", "/check-runs").output.summary as string;
    expect(summary).toContain(
      "- the log of job 'lint' is gone (410): GitHub deletes logs after the retention period",
    );
    expect(summary).toContain("Classified as **unknown**");
  });

  it("reports a failure with no failed step", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    pr(gh);
    comments(gh);
    commits(gh);
    evidence(gh, "2025-03-01T11:59:00Z ##[group]Run npm ci\n2025-03-01T11:59:01Z ok\n", [
      ["Run npm ci", "success"],
    ]);
    gh.scope.post(`${REPO}/actions/workflows/switchyard-recover.yml/dispatches`).reply(204);
    checkRun(gh);
    gh.scope.post(`${REPO}/issues/2/comments`).reply(201, { id: 78 });
    await receive("workflow_run", failedRun());
    gh.done();
    expect(bodyOf(gh, "POST", "/check-runs").output.summary).toContain(
      "- job 'lint' failed without a failed step (a job-level timeout, a lost runner, or a failed service container)",
    );
  });
});

describe("workflow_run.completed: the guards, each reported in the check run", () => {
  it("quarantines when the attempts are used up: label, alert, skipped check run", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    pr(gh);
    comments(gh, stored({ attempts: 3 }));
    commits(gh);
    checkRun(gh);
    gh.scope.post(`${REPO}/issues/2/labels`).reply(200, []);
    gh.scope.post(`${REPO}/issues/2/comments`).reply(201, { id: 79 });

    await receive("workflow_run", failedRun());
    gh.done();
    expect(ops(gh)).toEqual([
      ...BEFORE_GUARDS,
      ...CHECK,
      `POST ${REPO}/issues/2/labels`,
      `POST ${REPO}/issues/2/comments`,
    ]);
    expect(bodyOf(gh, "POST", "/check-runs")).toMatchObject({
      status: "completed",
      conclusion: "skipped",
      output: { title: "Recovery skipped: attempt cap" },
    });
    expect(bodyOf(gh, "POST", "/check-runs").output.summary).toContain(
      "3 of 3 recovery attempts are used on Codertocat/Hello-World#2 (recovery.max_attempts)",
    );
    expect(bodyOf(gh, "POST", "/labels")).toEqual({ labels: ["switchyard:quarantined"] });
    const alert = bodyOf(gh, "POST", "/issues/2/comments").body as string;
    expect(alert).toContain("### Switchyard stopped recovering this pull request");
    expect(alert).toContain("It made 3 of 3 attempts");
    expect(alert).toContain("comment `/switchyard retry`");
  });

  it("stops at the loop guard when the branch's last commits are Switchyard's fixes", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    pr(gh);
    comments(gh);
    commits(gh, [fixCommit(HEAD), fixCommit(OLD)]);
    checkRun(gh);
    gh.scope.post(`${REPO}/issues/2/labels`).reply(200, []);
    gh.scope.post(`${REPO}/issues/2/comments`).reply(201, { id: 79 });
    await receive("workflow_run", failedRun());
    gh.done();
    expect(bodyOf(gh, "POST", "/check-runs").output.summary).toContain(
      "the last 2 commits on changes (ec26c3e, 1111111) are Switchyard's recovery commits: " +
        "stopping so its fixes cannot chase each other",
    );
    expect(bodyOf(gh, "POST", "/labels")).toEqual({ labels: ["switchyard:quarantined"] });
  });

  it("does nothing but report on a PR with the quarantine label", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    pr(gh, ["switchyard:quarantined"]);
    comments(gh);
    commits(gh);
    checkRun(gh);
    await receive("workflow_run", failedRun());
    gh.done();
    expect(ops(gh)).toEqual([...BEFORE_GUARDS, ...CHECK]);
    expect(bodyOf(gh, "POST", "/check-runs")).toMatchObject({
      conclusion: "skipped",
      output: { title: "Recovery skipped: quarantined" },
    });
  });

  it("waits out the cool-down after the last attempt", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    pr(gh);
    comments(gh, stored({ last_attempt_at: "2025-03-01T11:55:00Z" }));
    commits(gh);
    checkRun(gh);
    await receive("workflow_run", failedRun());
    gh.done();
    expect(ops(gh)).toEqual([...BEFORE_GUARDS, ...CHECK]);
    expect(bodyOf(gh, "POST", "/check-runs").output.summary).toContain(
      "cooling down: the last attempt started at 2025-03-01T11:55:00Z; the next may start at 2025-03-01T12:05:00Z",
    );
  });

  it("never runs tools on a fork's head", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    // The fork's PR is not on the event: the state is looked for on the head's check runs.
    gh.scope
      .get(`${REPO}/commits/${HEAD}/check-runs`)
      .query(true)
      .times(2)
      .reply(200, { total_count: 0, check_runs: [] });
    commits(gh);
    gh.scope.post(`${REPO}/check-runs`).reply(201, { id: 5 });
    await receive("workflow_run", failedRun({ head_repo: "mallory/Hello-World", prs: false }));
    gh.done();
    expect(bodyOf(gh, "POST", "/check-runs")).toMatchObject({
      external_id: "Codertocat/Hello-World@changes",
      conclusion: "skipped",
      output: { title: "Recovery skipped: fork" },
    });
    expect(bodyOf(gh, "POST", "/check-runs").output.summary).toContain(
      "the head is in the fork mallory/Hello-World: Switchyard never runs tools on a fork's code",
    );
  });

  it("ignores a second failing workflow while the fix it dispatched is running", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    pr(gh);
    const running = stored({
      head_sha: HEAD,
      step: "mechanical",
      pending: "tool",
      tools: FIXERS,
      tried: FIXERS,
      last_attempt_at: "2025-03-01T11:58:00Z",
      history: [
        {
          step: "mechanical",
          tools: FIXERS,
          head_sha: HEAD,
          at: "2025-03-01T11:58:00Z",
          outcome: "started",
          reason: "running the fixers",
        },
      ],
    });
    comments(gh, running);
    commits(gh);
    const outcome = await receive("workflow_run", failedRun());
    gh.done();
    expect(outcome).toEqual({ action: "ignored", reason: "a recovery is already running for ec26c3e" });
  });
});

describe("workflow_run.completed: the verdict on a fix", () => {
  it("finishes the recovery when CI passes on the fix commit", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    pr(gh);
    const awaiting = stored({
      head_sha: HEAD,
      step: "mechanical",
      pending: "ci",
      tools: FIXERS,
      tried: FIXERS,
      history: [
        {
          step: "mechanical",
          tools: FIXERS,
          head_sha: OLD,
          commit_sha: HEAD,
          at: "2025-03-01T11:50:00Z",
          outcome: "started",
          reason: "running the fixers",
        },
      ],
    });
    comments(gh, awaiting);
    gh.scope
      .get(`${REPO}/actions/runs`)
      .query({ head_sha: HEAD, per_page: "100" })
      .reply(200, {
        total_count: 2,
        workflow_runs: [
          {
            id: RUN,
            status: "completed",
            conclusion: "success",
            path: ".github/workflows/ci.yml",
            name: "CI",
          },
          {
            id: 7,
            status: "in_progress",
            conclusion: null,
            path: ".github/workflows/switchyard-recover.yml",
            name: "recover",
          },
        ],
      });
    checkRun(gh);
    gh.scope.patch(`${REPO}/issues/comments/77`).reply(200, { id: 77 });

    await receive("workflow_run", failedRun({ conclusion: "success" }));
    gh.done();
    expect(bodyOf(gh, "POST", "/check-runs")).toMatchObject({
      conclusion: "success",
      output: { title: "Recovered" },
    });
    const state = readMarker(bodyOf(gh, "PATCH", "/comments/77").body, "recovery", LadderStateSchema);
    expect(state).toMatchObject({ ok: true, value: { step: "done", pending: null, attempts: 1 } });
  });

  it("recognises the fix by its commit when the recover job could not report, and finishes", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    pr(gh);
    const running = stored({
      head_sha: OLD,
      step: "mechanical",
      pending: "tool",
      tools: FIXERS,
      tried: FIXERS,
      last_attempt_at: "2025-03-01T11:50:00Z",
      history: [
        {
          step: "mechanical",
          tools: FIXERS,
          head_sha: OLD,
          at: "2025-03-01T11:50:00Z",
          outcome: "started",
          reason: "running the fixers",
        },
      ],
    });
    comments(gh, running);
    commits(gh, [fixCommit(HEAD, OLD), person(OLD)]);
    gh.scope
      .get(`${REPO}/actions/runs`)
      .query(true)
      .reply(200, {
        total_count: 1,
        workflow_runs: [
          { id: RUN, status: "completed", conclusion: "success", path: ".github/workflows/ci.yml" },
        ],
      });
    checkRun(gh);
    gh.scope.patch(`${REPO}/issues/comments/77`).reply(200, { id: 77 });

    const outcome = await receive("workflow_run", failedRun({ conclusion: "success" }));
    gh.done();
    expect(bodyOf(gh, "POST", "/check-runs")).toMatchObject({
      conclusion: "success",
      output: { title: "Recovered" },
    });
    const state = readMarker(bodyOf(gh, "PATCH", "/comments/77").body, "recovery", LadderStateSchema);
    expect(state).toMatchObject({ ok: true, value: { step: "done", head_sha: HEAD, attempts: 1 } });
    expect((state as { value: LadderState }).value.history).toEqual([
      {
        step: "mechanical",
        tools: FIXERS,
        head_sha: OLD,
        commit_sha: HEAD,
        at: "2025-03-01T11:50:00Z",
        outcome: "fixed",
        reason: "CI passed on ec26c3e: the fixers (prettier, ruff-format, gofmt) fixed the format failure",
      },
    ]);
    const events = (outcome as { outcome: { events: { step: string; ok: unknown }[] } }).outcome.events;
    expect(events.map((e) => [e.step, e.ok])).toEqual([
      ["mechanical", null],
      ["mechanical", true],
    ]);
  });

  it("does not take a commit without the recovery trailer for the fix", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    pr(gh);
    comments(
      gh,
      stored({
        head_sha: OLD,
        step: "ai",
        pending: "tool",
        tool: "aider",
        tried: ["aider"],
        last_attempt_at: "2025-03-01T11:50:00Z",
        history: [{ step: "ai", tool: "aider", head_sha: OLD, at: NOW, outcome: "started", reason: "x" }],
      }),
    );
    commits(gh, [{ ...person(HEAD), parents: [{ sha: OLD }] }, person(OLD)]);
    gh.scope.get(`${REPO}/actions/runs`).query(true).reply(200, { total_count: 0, workflow_runs: [] });
    checkRun(gh);
    gh.scope.patch(`${REPO}/issues/comments/77`).reply(200, { id: 77 });
    await receive("workflow_run", failedRun({ conclusion: "success" }));
    gh.done();
    // A person's push that passed: the step in progress is superseded, not credited.
    const state = readMarker(bodyOf(gh, "PATCH", "/comments/77").body, "recovery", LadderStateSchema);
    expect((state as { value: LadderState }).value.history.map((e) => e.outcome)).toEqual(["superseded"]);
    expect((state as { value: LadderState }).value.reason).toBe("CI passed on a newer push ec26c3e");
  });

  it("ignores a pass while another workflow of the head still runs", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    pr(gh);
    comments(
      gh,
      stored({
        head_sha: HEAD,
        step: "ai",
        pending: "ci",
        tool: "aider",
        tried: ["aider"],
        history: [
          {
            step: "ai",
            tool: "aider",
            head_sha: OLD,
            commit_sha: HEAD,
            at: NOW,
            outcome: "started",
            reason: "x",
          },
        ],
      }),
    );
    gh.scope
      .get(`${REPO}/actions/runs`)
      .query(true)
      .reply(200, {
        total_count: 2,
        workflow_runs: [
          { id: 8, status: "in_progress", conclusion: null, path: ".github/workflows/e2e.yml", name: "e2e" },
        ],
      });
    const outcome = await receive("workflow_run", failedRun({ conclusion: "success" }));
    gh.done();
    expect(outcome).toEqual({ action: "ignored", reason: "waiting for e2e on ec26c3e to finish" });
  });
});

describe("what is not Switchyard's to recover", () => {
  it("ignores a run of Switchyard's own recover workflow after reading the configuration", async () => {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    const outcome = await receive(
      "workflow_run",
      failedRun({ path: ".github/workflows/switchyard-recover.yml" }),
    );
    gh.done();
    expect(outcome).toEqual({
      action: "ignored",
      reason:
        ".github/workflows/switchyard-recover.yml is Switchyard's own recover workflow (recovery.workflow)",
    });
  });

  it("ignores a cancelled run without a request", async () => {
    const gh = githubApi();
    const outcome = await receive("workflow_run", failedRun({ conclusion: "cancelled" }));
    gh.done();
    expect(gh.requests).toEqual([]);
    expect(outcome).toEqual({ action: "ignored", reason: "the run concluded cancelled" });
  });

  it("ignores another app's check suite without a request", async () => {
    const gh = githubApi();
    const payload = withInstallation(webhookExample("check_suite", "completed", 0));
    payload.check_suite.conclusion = "failure";
    payload.check_suite.app = {
      ...payload.check_suite.app,
      slug: "circleci",
    } as typeof payload.check_suite.app;
    const outcome = await receive("check_suite", payload);
    gh.done();
    expect(gh.requests).toEqual([]);
    expect(outcome).toEqual({
      action: "ignored",
      reason: "the check suite belongs to the app 'circleci', not GitHub Actions",
    });
  });

  it("follows a GitHub Actions check suite to its workflow run", async () => {
    const gh = githubApi();
    installationToken(gh);
    const payload = withInstallation(webhookExample("check_suite", "completed", 1));
    payload.check_suite.conclusion = "failure";
    gh.scope
      .get(`${REPO}/actions/runs`)
      .query({ check_suite_id: String(payload.check_suite.id), per_page: "1" })
      .reply(200, {
        total_count: 1,
        workflow_runs: [
          {
            id: 4,
            run_attempt: 1,
            name: "Switchyard execute",
            path: ".github/workflows/switchyard-execute.yml",
            conclusion: "failure",
            head_sha: HEAD,
            head_branch: "main",
            head_repository: { full_name: "Codertocat/Hello-World" },
            pull_requests: [],
          },
        ],
      });
    noConfig(gh);
    const outcome = await receive("check_suite", payload);
    gh.done();
    expect(outcome).toEqual({
      action: "ignored",
      reason:
        ".github/workflows/switchyard-execute.yml is Switchyard's own execute workflow (execution.workflow)",
    });
  });
});

describe("workflow_run and check_suite for the same run, at the same moment", () => {
  it("decides once: the second waits for the first, finds its state and stops", async () => {
    const gh = githubApi();
    // Each delivery has its own Probot here, so each asks for a token.
    gh.scope
      .post("/app/installations/1/access_tokens")
      .times(2)
      .reply(201, { token: "ghs_test", expires_at: "2099-01-01T00:00:00Z" });
    gh.scope.get(REPO_CONFIG).times(2).reply(404, { message: "Not Found" });
    gh.scope.get(ORG_CONFIG).times(2).reply(404, { message: "Not Found" });
    gh.scope
      .get(`${REPO}/pulls/2`)
      .times(2)
      .reply(200, {
        number: 2,
        state: "open",
        draft: false,
        labels: [],
        head: { sha: HEAD, ref: "changes" },
        base: { ref: "master" },
      });
    // The PR's comments as they are when asked: the second decision sees what the first wrote.
    const written: object[] = [];
    gh.scope
      .get(`${REPO}/issues/2/comments`)
      .query({ per_page: "100", page: "1" })
      .times(2)
      .reply(200, () => written);
    gh.scope.post(`${REPO}/issues/2/comments`).reply(201, (_uri, body) => {
      written.push({
        id: 78,
        body: (body as { body: string }).body,
        user: { login: "switchyard[bot]", type: "Bot" },
        performed_via_github_app: { id: APP_ID },
      });
      return { id: 78 };
    });
    commits(gh);
    commits(gh);
    evidence(gh, FORMAT_LOG);
    gh.scope.post(`${REPO}/actions/workflows/switchyard-recover.yml/dispatches`).reply(204);
    checkRun(gh);
    const suite = withInstallation(webhookExample("check_suite", "completed", 1));
    suite.check_suite.conclusion = "failure";
    suite.check_suite.head_sha = HEAD;
    const run = failedRun().workflow_run;
    gh.scope
      .get(`${REPO}/actions/runs`)
      .query({ check_suite_id: String(suite.check_suite.id), per_page: "1" })
      .reply(200, { total_count: 1, workflow_runs: [run] });

    const probotFor = () => {
      const p = new Probot({
        appId: APP_ID,
        privateKey: TEST_PRIVATE_KEY,
        Octokit: TestOctokit,
        logLevel: "fatal",
      });
      p.load(app);
      return p;
    };
    outcomes = [];
    await Promise.all([
      probotFor().receive({ id: "run-delivery", name: "workflow_run", payload: failedRun() } as never),
      probotFor().receive({ id: "suite-delivery", name: "check_suite", payload: suite } as never),
    ]);
    gh.done();

    expect(gh.requests.filter((r) => r.path.endsWith("/dispatches"))).toHaveLength(1);
    expect(outcomes.map((o) => o.action).sort()).toEqual(["handled", "ignored"]);
  });
});
