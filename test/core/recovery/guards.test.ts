import { describe, expect, it } from "@jest/globals";
import {
  checkGuards,
  evaluateGuards,
  GUARD_NAMES,
  GUARDS,
  isRecoveryCommit,
  isTaskBranch,
  recoveryTrailer,
  type GuardEvent,
  type GuardInput,
  type GuardVerdict,
  type RecentCommit,
} from "../../../src/core/recovery/guards.js";
import { commitMessage } from "../../../src/runner/execute.js";
import { makeTask } from "../routing/fixtures.js";
import {
  EARLIER,
  entry,
  fixAwaited,
  H1,
  H2,
  H3,
  idle,
  makeConfig,
  makeState,
  NOW,
  quarantined,
} from "./ladder-fixtures.js";

const IDENTITY = {
  bot_login: "switchyard[bot]",
  bot_email: "41898282+switchyard[bot]@users.noreply.github.com",
  app_slug: "switchyard",
};

function event(over: Partial<GuardEvent> = {}): GuardEvent {
  return {
    head_sha: H1,
    head_branch: "feature/parser",
    head_repo_full_name: "octo/repo",
    base_repo_full_name: "octo/repo",
    conclusion: "failure",
    workflow_name: "CI",
    workflow_path: ".github/workflows/ci.yml",
    pr: { number: 7, draft: false, labels: ["bug"] },
    ...over,
  };
}

const human = (sha: string, message = "Fix the parser"): RecentCommit => ({
  sha,
  author_login: "alice",
  committer_email: "alice@example.com",
  message,
});

/**
 * A commit as Switchyard's execute flow writes it (the real commitMessage, with its trailers), made
 * by its bot: on a person's branch (feature/parser) that can only be a fix, so it counts.
 */
const own = (sha: string): RecentCommit => ({
  sha,
  author_login: "switchyard[bot]",
  committer_email: "noreply@github.com",
  message: commitMessage(makeTask({ key: "octo/repo#7", number: 7 }), "aider", "run-1"),
});

function input(over: Partial<GuardInput> = {}): GuardInput {
  return {
    event: event(),
    recent_commits: [human(H1), human(H2)],
    state: null,
    in_flight: false,
    config: makeConfig(),
    now: NOW,
    identity: IDENTITY,
    ...over,
  };
}

const reject = (guard: string, reason: string, extra: Record<string, unknown> = {}): GuardVerdict =>
  ({ ok: false, guard, reason, ...extra }) as GuardVerdict;

describe("checkGuards: each guard alone", () => {
  it("approves a failed run on a PR branch with nothing against it", () => {
    expect(checkGuards(input())).toEqual({ ok: true });
    expect(checkGuards(input({ event: event({ pr: null, head_branch: "main" }) }))).toEqual({ ok: true });
  });

  it.each<[string, Partial<GuardInput>, GuardVerdict]>([
    [
      "recovery turned off",
      { config: makeConfig({ enabled: false }) },
      reject("disabled", "recovery is turned off (recovery.enabled: false)"),
    ],
    [
      "a run that succeeded",
      { event: event({ conclusion: "success" }) },
      reject("not_failed", "the run concluded 'success'; only failure and timed_out are recovered"),
    ],
    [
      "a cancelled run",
      { event: event({ conclusion: "cancelled" }) },
      reject("not_failed", "the run concluded 'cancelled'; only failure and timed_out are recovered"),
    ],
    [
      "a run still in progress",
      { event: event({ conclusion: null }) },
      reject("not_failed", "the run concluded nothing yet; only failure and timed_out are recovered"),
    ],
    [
      "a workflow that could not start",
      { event: event({ conclusion: "startup_failure" }) },
      reject(
        "not_failed",
        "the workflow could not start (startup_failure): its file is at fault, and Switchyard does not edit workflows",
      ),
    ],
    [
      "Switchyard's own execute workflow",
      { event: event({ workflow_path: ".github/workflows/switchyard-execute.yml" }) },
      reject(
        "own_workflow",
        ".github/workflows/switchyard-execute.yml is Switchyard's own execute workflow (execution.workflow)",
      ),
    ],
    [
      "Switchyard's own recover workflow",
      { event: event({ workflow_path: ".github/workflows/switchyard-recover.yml" }) },
      reject(
        "own_workflow",
        ".github/workflows/switchyard-recover.yml is Switchyard's own recover workflow (recovery.workflow)",
      ),
    ],
    [
      "Switchyard's own workflow, spelled with ./ and @ref",
      { event: event({ workflow_path: "./.github/workflows/switchyard-execute.yml@refs/heads/main" }) },
      reject(
        "own_workflow",
        ".github/workflows/switchyard-execute.yml is Switchyard's own execute workflow (execution.workflow)",
      ),
    ],
    [
      "a check suite of Switchyard's own app",
      { event: event({ workflow_name: undefined, workflow_path: undefined, app_slug: "Switchyard" }) },
      reject("own_workflow", "the check suite belongs to Switchyard's own app (switchyard)"),
    ],
    [
      "a workflow not in the watch list",
      { config: makeConfig({ workflows: ["Tests", "lint.yml"] }) },
      reject("not_watched", "workflow 'CI' is not in recovery.workflows (Tests, lint.yml)"),
    ],
    [
      "a path that only shares the file name with a watched path",
      { config: makeConfig({ workflows: ["other/ci.yml"] }), event: event({ workflow_name: "Build" }) },
      reject("not_watched", "workflow 'Build' is not in recovery.workflows (other/ci.yml)"),
    ],
    [
      "another app's check suite with a watch list",
      {
        config: makeConfig({ workflows: ["CI"] }),
        event: event({ workflow_name: undefined, workflow_path: undefined, app_slug: "circleci" }),
      },
      reject("not_watched", "the failure is not from a workflow run, and recovery.workflows lists only CI"),
    ],
    [
      "a fork's head",
      { event: event({ head_repo_full_name: "mallory/repo" }) },
      reject("fork", "the head is in the fork mallory/repo: Switchyard never runs tools on a fork's code", {
        suggest_patch_comment: false,
      }),
    ],
    [
      "a fork's head with suggestions on",
      {
        event: event({ head_repo_full_name: "mallory/repo" }),
        config: makeConfig({ fork_suggestions: true }),
      },
      reject(
        "fork",
        "the head is in the fork mallory/repo: Switchyard never runs tools on a fork's code; " +
          "a suggested patch may be posted as a comment instead",
        { suggest_patch_comment: true },
      ),
    ],
    [
      "a deleted fork",
      { event: event({ head_repo_full_name: null }) },
      reject("fork", "the head is in a fork that was deleted: Switchyard never runs tools on a fork's code", {
        suggest_patch_comment: false,
      }),
    ],
    [
      "a draft PR",
      { event: event({ pr: { number: 7, draft: true, labels: [] } }) },
      reject("draft", "#7 is a draft; set recovery.include_drafts: true to recover drafts"),
    ],
    [
      "the quarantine label",
      { event: event({ pr: { number: 7, draft: false, labels: ["bug", "Switchyard:Quarantined"] } }) },
      reject("quarantined", "#7 has the switchyard:quarantined label: a person takes it from here"),
    ],
    [
      "a quarantined ladder whose label was removed",
      { state: quarantined() },
      reject(
        "quarantined",
        "the recovery of octo/repo#7 is quarantined (attempt cap reached: 3 of 3 attempts used on octo/repo#7); " +
          "comment /switchyard retry to start over",
      ),
    ],
    [
      "a recovery already in flight",
      { in_flight: true },
      reject("in_flight", "a recovery is already running for 1111111"),
    ],
    [
      "Switchyard's own last two commits",
      { recent_commits: [own(H2), own(H1), human(H3)] },
      reject(
        "loop",
        "the last 2 commits on feature/parser (2222222, 1111111) are Switchyard's recovery commits: " +
          "stopping so its fixes cannot chase each other",
        { quarantine: true },
      ),
    ],
    [
      "Switchyard's own last commit, with a loop guard of 1",
      { recent_commits: [own(H2), human(H1)], config: makeConfig({ loop_guard_commits: 1 }) },
      reject(
        "loop",
        "the last commit on feature/parser (2222222) is Switchyard's recovery commits: stopping so its fixes cannot chase each other",
        { quarantine: true },
      ),
    ],
    [
      "the attempts used up",
      { state: makeState({ ...idle(), attempts: 3 }), event: event({ head_sha: H3 }) },
      reject("attempt_cap", "3 of 3 recovery attempts are used on octo/repo#7 (recovery.max_attempts)", {
        quarantine: true,
      }),
    ],
    [
      "a cool-down after the last attempt",
      {
        state: makeState({ ...idle(), last_attempt_at: "2025-03-01T11:55:00Z" }),
        event: event({ head_sha: H3 }),
      },
      reject(
        "cooldown",
        "cooling down: the last attempt started at 2025-03-01T11:55:00Z; " +
          "the next may start at 2025-03-01T12:05:00Z (recovery.cooldown_seconds)",
      ),
    ],
  ])("rejects %s", (_name, over, verdict) => {
    expect(checkGuards(input(over))).toEqual(verdict);
  });

  it.each<[string, Partial<GuardInput>]>([
    ["a timed-out run", { event: event({ conclusion: "timed_out" }) }],
    ["a watched workflow by name", { config: makeConfig({ workflows: ["CI"] }) }],
    ["a watched workflow by path", { config: makeConfig({ workflows: [".github/workflows/ci.yml"] }) }],
    ["a watched workflow by file name", { config: makeConfig({ workflows: ["ci.yml"] }) }],
    ["the same repository spelt in another case", { event: event({ head_repo_full_name: "Octo/Repo" }) }],
    [
      "a draft with include_drafts",
      {
        event: event({ pr: { number: 7, draft: true, labels: [] } }),
        config: makeConfig({ include_drafts: true }),
      },
    ],
    ["one own commit under a guard of 2", { recent_commits: [own(H2), human(H1)] }],
    ["fewer commits than the guard counts", { recent_commits: [own(H2)] }],
    ["attempts left", { state: makeState({ ...idle(), attempts: 2 }), event: event({ head_sha: H3 }) }],
    [
      "max_attempts 0 with none spent",
      {
        state: makeState({ ...idle(), attempts: 0 }),
        config: makeConfig({ max_attempts: 0 }),
        event: event({ head_sha: H3 }),
      },
    ],
    [
      "a cool-down that ended exactly now",
      { state: makeState({ ...idle(), last_attempt_at: EARLIER }), event: event({ head_sha: H3 }) },
    ],
  ])("approves %s", (_name, over) => {
    expect(checkGuards(input(over))).toEqual({ ok: true });
  });

  it("lets through the verdict the ladder awaits, at the cap and in the cool-down", () => {
    // prettier committed H2 a minute ago, attempt 3 of 3: CI on H2 is the climb's own next step.
    const state = makeState({ ...fixAwaited(), attempts: 3, last_attempt_at: "2025-03-01T11:59:00Z" });
    expect(
      checkGuards(input({ state, event: event({ head_sha: H2 }), recent_commits: [own(H2), human(H1)] })),
    ).toEqual({
      ok: true,
    });
    // The same state, but a failure on a head someone else pushed: both guards apply.
    expect(checkGuards(input({ state, event: event({ head_sha: H3 }) }))).toMatchObject({
      guard: "attempt_cap",
    });
    const fresh = makeState({ ...fixAwaited(), last_attempt_at: "2025-03-01T11:59:00Z" });
    expect(checkGuards(input({ state: fresh, event: event({ head_sha: H3 }) }))).toMatchObject({
      guard: "cooldown",
    });
  });

  it("does not exempt the awaited verdict from the loop guard", () => {
    const state = fixAwaited();
    const verdict = checkGuards(
      input({ state, event: event({ head_sha: H2 }), recent_commits: [own(H2), own(H1)] }),
    );
    expect(verdict).toMatchObject({ ok: false, guard: "loop", quarantine: true });
  });
});

describe("checkGuards: order", () => {
  it("runs the guards in the documented order", () => {
    expect(GUARDS.map((g) => g.name)).toEqual([...GUARD_NAMES]);
    expect(GUARD_NAMES).toEqual([
      "disabled",
      "not_failed",
      "own_workflow",
      "not_watched",
      "fork",
      "draft",
      "quarantined",
      "in_flight",
      "loop",
      "attempt_cap",
      "cooldown",
    ]);
  });

  it.each<[string, Partial<GuardInput>, string]>([
    [
      "an unrelated success on a fork is not a fork problem",
      { event: event({ conclusion: "success", head_repo_full_name: "mallory/repo" }) },
      "not_failed",
    ],
    [
      "Switchyard's own workflow is not a loop",
      {
        event: event({ workflow_path: ".github/workflows/switchyard-execute.yml" }),
        recent_commits: [own(H2), own(H1)],
      },
      "own_workflow",
    ],
    [
      "a fork's draft with own commits is refused as a fork",
      {
        event: event({ head_repo_full_name: "mallory/repo", pr: { number: 7, draft: true, labels: [] } }),
        recent_commits: [own(H2), own(H1)],
      },
      "fork",
    ],
    [
      "the quarantine label before a running recovery and a loop",
      {
        event: event({ pr: { number: 7, draft: false, labels: ["switchyard:quarantined"] } }),
        in_flight: true,
        recent_commits: [own(H2), own(H1)],
      },
      "quarantined",
    ],
    [
      "a recovery in flight before the loop and the cap",
      { in_flight: true, recent_commits: [own(H2), own(H1)], state: makeState({ ...idle(), attempts: 3 }) },
      "in_flight",
    ],
    [
      "the loop before the cap and the cool-down",
      {
        recent_commits: [own(H2), own(H1)],
        state: makeState({ ...idle(), attempts: 3, last_attempt_at: "2025-03-01T11:59:00Z" }),
        event: event({ head_sha: H3 }),
      },
      "loop",
    ],
    [
      "the cap before the cool-down",
      {
        state: makeState({ ...idle(), attempts: 3, last_attempt_at: "2025-03-01T11:59:00Z" }),
        event: event({ head_sha: H3 }),
      },
      "attempt_cap",
    ],
    [
      "disabled before everything",
      { config: makeConfig({ enabled: false }), event: event({ conclusion: "success" }), in_flight: true },
      "disabled",
    ],
  ])("%s", (_name, over, guard) => {
    expect(checkGuards(input(over))).toMatchObject({ ok: false, guard });
  });

  it("lists every guard's verdict for the check run", () => {
    const verdicts = evaluateGuards(
      input({ event: event({ pr: { number: 7, draft: true, labels: [] } }), in_flight: true }),
    );
    expect(verdicts.map((v) => [v.guard, v.verdict.ok])).toEqual([
      ["disabled", true],
      ["not_failed", true],
      ["own_workflow", true],
      ["not_watched", true],
      ["fork", true],
      ["draft", false],
      ["quarantined", true],
      ["in_flight", false],
      ["loop", true],
      ["attempt_cap", true],
      ["cooldown", true],
    ]);
    expect(verdicts[7]!.verdict).toEqual(reject("in_flight", "a recovery is already running for 1111111"));
  });
});

/** A commit the recover job made: the recovery trailer, by the bot. */
const fix = (sha: string, by = "switchyard[bot]"): RecentCommit => ({
  sha,
  author_login: by,
  committer_email: "noreply@github.com",
  message: `switchyard: format with prettier\n\n${recoveryTrailer("octo/repo#7")}\n`,
});

describe("the loop guard on Switchyard's own task branch", () => {
  const TASK_BRANCH = "switchyard/issue-12-fix-the-parser";
  const onTask = (recent_commits: RecentCommit[]) =>
    checkGuards(input({ event: event({ head_branch: TASK_BRANCH }), recent_commits }));

  it("lets the first recovery of a PR Switchyard opened through (its commits are the task's)", () => {
    expect(onTask([own(H2), own(H1)])).toEqual({ ok: true });
  });

  it("lets one fix on top of the task's commits through", () => {
    expect(onTask([fix(H2), own(H1)])).toEqual({ ok: true });
  });

  it("stops two fixes in a row", () => {
    expect(onTask([fix(H2), fix(H1), own(H3)])).toEqual(
      reject(
        "loop",
        `the last 2 commits on ${TASK_BRANCH} (2222222, 1111111) are Switchyard's recovery commits: ` +
          "stopping so its fixes cannot chase each other",
        { quarantine: true },
      ),
    );
  });

  it("counts a fix whoever pushed it, by its trailer", () => {
    expect(onTask([fix(H2, "alice"), fix(H1, "bob")])).toMatchObject({ ok: false, guard: "loop" });
  });

  it("follows a configured branch prefix", () => {
    const config = makeConfig();
    config.execution.branch_prefix = "bots/";
    const verdict = checkGuards(
      input({ event: event({ head_branch: "bots/issue-3-x" }), recent_commits: [own(H2), own(H1)], config }),
    );
    expect(verdict).toEqual({ ok: true });
  });
});

describe("isRecoveryCommit", () => {
  const PREFIX = "switchyard/";
  it.each<[string, Partial<RecentCommit>, string, boolean]>([
    ["the recovery trailer", { message: "Fix\n\nSwitchyard-Recovery: octo/repo#7\n" }, "feature/x", true],
    [
      "the recovery trailer on a task branch",
      { message: "x\n\nSwitchyard-Recovery: o/r#7" },
      "switchyard/issue-7-a",
      true,
    ],
    [
      "the recovery trailer in a squashed message",
      { message: "Squash\n\n* fix\n  \nswitchyard-recovery: octo/repo#7\n* more" },
      "feature/x",
      true,
    ],
    [
      "the bot's login off a task branch",
      { author_login: "Switchyard[bot]", message: "x" },
      "feature/x",
      true,
    ],
    [
      "the bot's e-mail off a task branch",
      { committer_email: "41898282+SWITCHYARD[bot]@users.noreply.github.com", message: "x" },
      "main",
      true,
    ],
    [
      "the bot on a fix branch",
      { author_login: "switchyard[bot]", message: "x" },
      "switchyard/fix-7-1",
      true,
    ],
    [
      "the bot on its task branch",
      { author_login: "switchyard[bot]", message: "x" },
      "switchyard/issue-7-a",
      false,
    ],
    [
      "the bot on a PR task branch",
      { author_login: "switchyard[bot]", message: "x" },
      "switchyard/pr-9-b",
      false,
    ],
    [
      "the task trailer by a person",
      { message: "Tidy\n\nSwitchyard-Task: octo/repo#7\n" },
      "feature/x",
      false,
    ],
    [
      "a person's commit",
      { message: "Fix the parser\n\nCo-authored-by: bob <bob@example.com>" },
      "feature/x",
      false,
    ],
    [
      "the trailer's name inside a sentence",
      { message: "Mention Switchyard-Recovery: o/r#7 here" },
      "feature/x",
      false,
    ],
    ["an empty trailer", { message: "x\n\nSwitchyard-Recovery:   \n" }, "feature/x", false],
  ])("%s", (_name, over, branch, expected) => {
    const commit = { sha: H1, author_login: "alice", ...over } as RecentCommit;
    expect(isRecoveryCommit(commit, IDENTITY, branch, PREFIX)).toBe(expected);
  });

  it("follows a configured trailer", () => {
    const commit = { sha: H1, message: "x\n\nAcme-Fix: 1" };
    expect(isRecoveryCommit(commit, { ...IDENTITY, trailer: "Acme-Fix" }, "feature/x", "switchyard/")).toBe(
      true,
    );
    expect(isRecoveryCommit(commit, IDENTITY, "feature/x", "switchyard/")).toBe(false);
  });

  it("refuses an identity it cannot use", () => {
    expect(() =>
      isRecoveryCommit({ sha: H1, message: "x" }, { bot_login: "" }, "main", "switchyard/"),
    ).toThrow(
      "Cannot recognise Switchyard's commits: identity: bot_login: Too small: expected string to have >=1 characters",
    );
  });
});

describe("isTaskBranch", () => {
  it.each<[string, string, boolean]>([
    ["switchyard/issue-12-fix-the-parser", "switchyard/", true],
    ["switchyard/pr-3-x", "switchyard/", true],
    ["switchyard/issue-12", "switchyard/", true],
    ["switchyard/fix-7-1", "switchyard/", false],
    ["switchyard/issue-0-x", "switchyard/", false],
    ["switchyard/issue-x", "switchyard/", false],
    ["feature/issue-12-x", "switchyard/", false],
    ["bots/issue-12-x", "bots/", true],
  ])("%s under %s: %s", (branch, prefix, expected) => {
    expect(isTaskBranch(branch, prefix)).toBe(expected);
  });
});

describe("recoveryTrailer", () => {
  it("names the recovery", () => {
    expect(recoveryTrailer("octo/repo#7")).toBe("Switchyard-Recovery: octo/repo#7");
  });

  it("refuses a key that would break the trailer", () => {
    expect(() => recoveryTrailer("octo/repo#7\nSigned-off-by: x")).toThrow(
      "Cannot write the recovery trailer: 'octo/repo#7\nSigned-off-by: x' is not a recovery key.",
    );
  });
});

describe("checkGuards: refused input", () => {
  it.each<[string, Partial<GuardInput>, string]>([
    [
      "a short SHA",
      { event: event({ head_sha: "abc" }) },
      "event.head_sha: a full commit or object id (40 or 64 lower-case hex digits)",
    ],
    [
      "a repository without owner",
      { event: event({ base_repo_full_name: "repo" }) },
      "event.base_repo_full_name: owner/repo",
    ],
    [
      "a commit without message",
      { recent_commits: [{ sha: H1 } as RecentCommit] },
      "recent_commits.0.message",
    ],
    ["a time that is not ISO", { now: "noon" }, "now: Invalid ISO datetime"],
    ["a tampered state", { state: { ...idle(), attempts: -2 } }, "the stored state: attempts: Too small"],
    [
      "a state with a step and no history",
      { state: { ...fixAwaited(), history: [entry({ outcome: "fixed" })] } },
      "the stored state: the step in progress must be the last history entry, marked started",
    ],
  ])("%s", (_name, over, message) => {
    expect(() => checkGuards(input(over))).toThrow(
      expect.objectContaining({
        name: "InputError",
        message: expect.stringContaining(`Cannot check the recovery guards: ${message}`),
      }),
    );
  });
});
