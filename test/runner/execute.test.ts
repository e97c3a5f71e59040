import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { CommitPort } from "../../src/core/execution/commit-port.js";
import { checkConclusion, errorKind, jobShouldFail } from "../../src/core/execution/outcome.js";
import { ExecutionResultSchema } from "../../src/core/execution/schema.js";
import { InputError } from "../../src/core/errors.js";
import { commitMessage, executeTask } from "../../src/runner/execute.js";
import { LocalGitCommitPort } from "../../src/runner/local-commit.js";
import { capturePatch } from "../../src/runner/patch.js";
import { makeRepo, type TestRepo } from "../support/git-repo.js";
import {
  decisionFor,
  gate,
  harness,
  makeConfig,
  makeTask,
  script,
  testEnv,
  tool,
} from "./execute-fixtures.js";
import { fixture, SECRET_FIXTURE_TOKEN, tempDir } from "./tool-fixtures.js";

let repo: TestRepo;
beforeEach(async () => {
  repo = await makeRepo({ files: { "src/app.txt": "hello\n", "README.md": "# app\n" } });
});
afterEach(() => repo.cleanup());

const BRANCH = "switchyard/issue-12-fix-the-greeting";
const editApp = tool("editor", "edit", ["src/app.txt", "--text", "hello, world"]);
/** Passes only when src/app.txt holds the edit: proves the gate ran on the tool's patch. */
const appEdited = gate(
  "check",
  "const s = require('fs').readFileSync('src/app.txt', 'utf8'); if (!s.includes('hello, world')) { console.log('src/app.txt is not fixed'); process.exit(1) }",
);

async function branchExists(name: string): Promise<boolean> {
  return (await repo.git.tryRevParse(`refs/heads/${name}`)) !== null;
}

async function expectAtBase(): Promise<void> {
  expect(await repo.git.readHead()).toEqual({ sha: repo.baseSha, ref: "refs/heads/main" });
}

describe("executeTask: success", () => {
  it("runs the tool, passes a real gate and commits to Switchyard's branch", async () => {
    const h = harness(repo.dir, [editApp], ["editor"], {
      config: makeConfig([editApp], { gates: [appEdited] }),
      commit: { port: new LocalGitCommitPort(repo.git), branch: BRANCH },
    });
    const result = await executeTask(h.input);

    expect(result.outcome).toBe("success");
    expect(result.tool).toBe("editor");
    expect(result.base_sha).toBe(repo.baseSha);
    expect(result.branch).toBe(BRANCH);
    expect(result.commit_sha).toBe(await repo.sha(BRANCH));
    expect(result.pr_number).toBeNull();
    expect(result.diffstat).toEqual({ files: 1, additions: 1, deletions: 0 });
    expect(result.started_at).toBe("2025-01-01T12:00:01.000Z");
    expect(result.finished_at).toBe("2025-01-01T12:00:02.000Z");
    expect(result.attempts).toHaveLength(1);
    const [attempt] = result.attempts;
    expect(attempt).toMatchObject({
      n: 1,
      tool: "editor",
      outcome: "success",
      exit_code: 0,
      reason: `editor changed 1 file (+1 −0) and the gates passed; committed to ${BRANCH}`,
      files: [
        {
          path: "src/app.txt",
          status: "modified",
          mode: "100644",
          binary: false,
          additions: 1,
          deletions: 0,
        },
      ],
      offending_paths: [],
      output_head: "edited src/app.txt\n",
    });
    expect(attempt!.gates).toEqual([
      { name: "check", exit_code: 0, timed_out: false, duration_ms: expect.any(Number), output_tail: "" },
    ]);

    // The branch holds the edit on top of the base; the user's branch did not move.
    const show = await repo.git.exec(["show", `${BRANCH}:src/app.txt`]);
    expect(show.stdout).toBe("hello\nhello, world\n");
    expect(await repo.sha(`${BRANCH}~1`)).toBe(repo.baseSha);
    const message = (await repo.git.exec(["log", "-1", "--format=%B", BRANCH])).stdout;
    expect(message).toBe(
      "switchyard: Fix the greeting (#12)\n\n" +
        "Switchyard-Task: octo/app#12\nSwitchyard-Tool: editor\nSwitchyard-Run: run-1\n\n",
    );
    await expectAtBase();

    // The work tree keeps the winning patch (for a caller that uploads it), index at the base.
    expect((await repo.read("src/app.txt")).toString()).toBe("hello\nhello, world\n");
    expect(await repo.git.status()).toEqual([{ index: " ", worktree: "M", path: "src/app.txt" }]);

    expect(h.events.written.map((e) => e.type)).toEqual([
      "execute_started",
      "gate_finished",
      "patch_committed",
      "execute_finished",
    ]);
    expect(h.events.written[3]).toMatchObject({
      task_key: "octo/app#12",
      run_id: "run-1",
      tool: "editor",
      attempt: 1,
      outcome: "success",
      exit_code: 0,
      tokens: null,
      cost_usd: null,
      capability: "code_generation",
    });
    expect(h.events.written[2]).toMatchObject({ branch: BRANCH, commit_sha: result.commit_sha, files: 1 });
    expect(h.delays).toEqual([]);
    expect(h.progress.map((p) => p.type)).toEqual([
      "attempt_started",
      "tool_output",
      "gate_started",
      "gate_finished",
      "committed",
      "attempt_finished",
    ]);
    expect(() => ExecutionResultSchema.parse(result)).not.toThrow();
    expect(checkConclusion(result, { onDefaultBranch: false })).toBe("success");
  });

  it("in a dry run captures and reports the patch, commits nothing and leaves it in the work tree", async () => {
    const added = tool("adder", "edit", ["docs/new.md", "src/app.txt"]);
    const h = harness(repo.dir, [added], ["adder"]);
    const result = await executeTask(h.input);

    expect(result.outcome).toBe("success");
    expect(result.branch).toBeNull();
    expect(result.commit_sha).toBeNull();
    expect(result.diffstat).toEqual({ files: 2, additions: 2, deletions: 0 });
    expect(result.attempts[0]!.reason).toBe("adder changed 2 files (+2 −0)");
    expect(await branchExists(BRANCH)).toBe(false);
    expect((await repo.git.exec(["branch", "--list"])).stdout).toBe("* main\n");
    await expectAtBase();
    // A caller can capture the same patch again, e.g. to upload it as an artifact.
    const again = await capturePatch(repo.git, result.base_sha);
    expect(again.files.map((f) => [f.path, f.status])).toEqual([
      ["docs/new.md", "added"],
      ["src/app.txt", "modified"],
    ]);
    expect(h.events.written.map((e) => e.type)).toEqual(["execute_started", "execute_finished"]);
  });

  it("captures commits a tool made itself and puts the branch back at the base", async () => {
    const committer = script(
      "committer",
      "const fs = require('fs'); const { execFileSync } = require('child_process');" +
        "fs.appendFileSync('src/app.txt', 'committed line\\n');" +
        "execFileSync('git', ['commit', '-qam', 'tool commit']);",
    );
    const h = harness(repo.dir, [committer], ["committer"]);
    const result = await executeTask(h.input);
    expect(result.outcome).toBe("success");
    expect(result.attempts[0]!.files.map((f) => f.path)).toEqual(["src/app.txt"]);
    await expectAtBase();
    expect((await repo.read("src/app.txt")).toString()).toBe("hello\ncommitted line\n");
  });

  it("builds the commit message from the task, or from the caller's message", () => {
    const task = makeTask({ title: "Fix   the\ngreeting " + "x".repeat(100) });
    expect(commitMessage(task, "aider", "42")).toBe(
      `switchyard: Fix the greeting ${"x".repeat(54)}… (#12)\n\n` +
        "Switchyard-Task: octo/app#12\nSwitchyard-Tool: aider\nSwitchyard-Run: 42\n",
    );
    expect(commitMessage(task, "aider", "42", "Custom subject\n\nBody.\n\n")).toBe(
      "Custom subject\n\nBody.\n\nSwitchyard-Task: octo/app#12\nSwitchyard-Tool: aider\nSwitchyard-Run: 42\n",
    );
  });
});

describe("executeTask: down the chain", () => {
  it("falls back when the first tool crashes, from a clean reset that drops its leftovers", async () => {
    const crash = tool("crasher", "crash");
    const dirty = script(
      "dirty",
      "require('fs').writeFileSync('leftover.txt', 'x'); require('fs').appendFileSync('README.md', 'junk\\n'); process.exit(4)",
    );
    const h = harness(repo.dir, [crash, dirty, editApp], ["crasher", "dirty", "editor"]);
    const result = await executeTask(h.input);

    expect(result.attempts.map((a) => [a.n, a.tool, a.outcome, a.exit_code])).toEqual([
      [1, "crasher", "tool_failed", 3],
      [2, "dirty", "tool_failed", 4],
      [3, "editor", "success", 0],
    ]);
    expect(result.attempts[0]!.reason).toBe(
      "crasher exited with code 3: Error: the crash fixture failed on purpose",
    );
    expect(result.attempts[0]!.output_tail).toBe(
      "crash: starting\nError: the crash fixture failed on purpose\n",
    );
    expect(result.attempts[1]!.reason).toBe("dirty exited with code 4");
    // The editor's patch has only its own change: the reset removed the leftovers of "dirty".
    expect(result.attempts[2]!.files.map((f) => f.path)).toEqual(["src/app.txt"]);
    expect(result.outcome).toBe("success");
    expect(result.tool).toBe("editor");
    expect(h.delays).toEqual([100, 200]);
    expect(h.events.written.map((e) => `${e.type}:${"attempt" in e ? e.attempt : ""}`)).toEqual([
      "execute_started:1",
      "execute_finished:1",
      "execute_started:2",
      "execute_finished:2",
      "execute_started:3",
      "execute_finished:3",
    ]);
    expect(h.events.written.filter((e) => e.type === "execute_finished").map((e) => e.outcome)).toEqual([
      "tool_failed",
      "tool_failed",
      "success",
    ]);
  });

  it("treats a tool that changed nothing as no_changes and moves on", async () => {
    const noop = tool("idle", "noop");
    const h = harness(repo.dir, [noop, editApp], ["idle", "editor"]);
    const result = await executeTask(h.input);
    expect(result.attempts.map((a) => [a.tool, a.outcome, a.reason])).toEqual([
      ["idle", "no_changes", "idle finished without changing any file"],
      ["editor", "success", "editor changed 1 file (+1 −0)"],
    ]);
    expect(h.delays).toEqual([100]);
  });

  it("refuses a patch that touches forbidden paths and commits nothing", async () => {
    const forbidden = tool("sneaky", "forbidden");
    const h = harness(repo.dir, [forbidden], ["sneaky"], {
      commit: { port: new LocalGitCommitPort(repo.git), branch: BRANCH },
    });
    const result = await executeTask(h.input);

    expect(result.outcome).toBe("policy_violation");
    expect(result.tool).toBe("sneaky");
    expect(result.branch).toBeNull();
    expect(result.diffstat).toEqual({ files: 0, additions: 0, deletions: 0 });
    const [attempt] = result.attempts;
    expect(attempt!.offending_paths).toEqual([".github/workflows/evil.yml"]);
    expect(attempt!.files.map((f) => f.path)).toEqual([".github/workflows/evil.yml", "src/ok.txt"]);
    expect(attempt!.reason).toBe(
      "sneaky's patch was refused: .github/workflows/evil.yml is a workflow file; changing workflow files " +
        "needs the `workflows` permission and `execution.allow_workflow_changes: true`",
    );
    expect(attempt!.gates).toEqual([]);
    expect(await branchExists(BRANCH)).toBe(false);
    // Without a success the checkout is back at the base, clean.
    await expectAtBase();
    expect(await repo.git.status()).toEqual([]);
    expect(checkConclusion(result, { onDefaultBranch: true })).toBe("neutral");
    expect(jobShouldFail(result)).toBe(false);
  });

  it("holds patches to the task's scope", async () => {
    const h = harness(repo.dir, [editApp], ["editor"], { task: makeTask({ scope: ["docs/**"] }) });
    const result = await executeTask(h.input);
    expect(result.outcome).toBe("policy_violation");
    expect(result.attempts[0]!.offending_paths).toEqual(["src/app.txt"]);
  });

  it("moves to the next tool when a gate fails; gates stop at the first failure", async () => {
    const first = tool("first", "edit", ["a.txt"]);
    const second = tool("second", "edit", ["b.txt"]);
    const needsB = gate(
      "needs-b",
      "if (!require('fs').existsSync('b.txt')) { console.log('b.txt is missing'); process.exit(1) }",
    );
    const never = gate("after", "process.exit(0)");
    const h = harness(repo.dir, [first, second], ["first", "second"], {
      config: makeConfig([first, second], { gates: [needsB, never] }),
    });
    const result = await executeTask(h.input);

    expect(result.attempts.map((a) => [a.tool, a.outcome])).toEqual([
      ["first", "gate_failed"],
      ["second", "success"],
    ]);
    const failed = result.attempts[0]!;
    expect(failed.reason).toBe("first's patch failed the gate needs-b: it failed with exit code 1");
    // Gates stop at the first failure: "after" did not run for the first tool.
    expect(failed.gates.map((g) => [g.name, g.exit_code, g.output_tail])).toEqual([
      ["needs-b", 1, "b.txt is missing\n"],
    ]);
    expect(result.attempts[1]!.gates.map((g) => [g.name, g.exit_code])).toEqual([
      ["needs-b", 0],
      ["after", 0],
    ]);
    // The second tool started from the base: a.txt is not in its patch.
    expect(result.attempts[1]!.files.map((f) => f.path)).toEqual(["b.txt"]);
    expect(h.events.written.map((e) => e.type)).toEqual([
      "execute_started",
      "gate_finished",
      "execute_finished",
      "execute_started",
      "gate_finished",
      "gate_finished",
      "execute_finished",
    ]);
  });

  it("reports the most informative failure when every tool fails", async () => {
    const crash = tool("crasher", "crash");
    const noop = tool("idle", "noop");
    const h = harness(repo.dir, [crash, noop], ["crasher", "idle"]);
    const result = await executeTask(h.input);
    expect(result.attempts.map((a) => a.outcome)).toEqual(["tool_failed", "no_changes"]);
    expect(result.outcome).toBe("no_changes");
    expect(result.tool).toBe("idle");
    expect(checkConclusion(result, { onDefaultBranch: true })).toBe("neutral");
    expect(checkConclusion(result, { onDefaultBranch: false })).toBe("failure");
    expect(jobShouldFail(result)).toBe(false);
    await expectAtBase();
    expect(await repo.git.status()).toEqual([]);
  });

  it("skips an unavailable tool with its reason, without backoff or budget", async () => {
    const missing = tool("ghost", null, [], {
      command: "switchyard-no-such-tool",
      availability: { args: ["--version"] },
    });
    const needsKey = tool("keyed", "noop", [], { env: ["SWITCHYARD_TEST_API_KEY"] });
    const h = harness(repo.dir, [missing, needsKey, editApp], ["ghost", "keyed", "unknown", "editor"], {
      config: makeConfig([missing, needsKey, editApp], { retry: { max_attempts: 1 } }),
    });
    const result = await executeTask(h.input);
    expect(result.attempts.map((a) => [a.tool, a.outcome, a.reason, a.exit_code])).toEqual([
      ["ghost", "tool_unavailable", "`switchyard-no-such-tool` is not installed (not found on PATH)", null],
      ["keyed", "tool_unavailable", "needs SWITCHYARD_TEST_API_KEY (not set)", null],
      [
        "unknown",
        "tool_unavailable",
        "no tool profile named unknown in the configuration (tools); it was removed or renamed after the task was routed",
        null,
      ],
      ["editor", "success", "editor changed 1 file (+1 −0)", 0],
    ]);
    expect(h.delays).toEqual([]);
  });

  it("reports tool_unavailable with no tool when nothing could run, and no attempt for a null decision", async () => {
    const missing = tool("ghost", null, [], { command: "switchyard-no-such-tool", availability: {} });
    const all = await executeTask(harness(repo.dir, [missing], ["ghost"]).input);
    expect(all.outcome).toBe("tool_unavailable");
    expect(all.tool).toBeNull();

    const h = harness(repo.dir, [editApp], []);
    h.input.decision = decisionFor([], "no tool has the capability code_generation");
    const none = await executeTask(h.input);
    expect(none.outcome).toBe("tool_unavailable");
    expect(none.attempts).toEqual([]);
    expect(none.tool).toBeNull();
    expect(h.events.written).toEqual([]);
  });

  it("stops a tool at its timeout and records timed_out", async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const hang = tool("hanger", "hang", [join(dir, "pids.json")]);
      const h = harness(repo.dir, [hang, editApp], ["hanger", "editor"], {
        task: makeTask({ overrides: { timeout_seconds: 1 } }),
      });
      const result = await executeTask(h.input);
      expect(result.attempts.map((a) => [a.tool, a.outcome, a.exit_code])).toEqual([
        ["hanger", "timed_out", null],
        ["editor", "success", 0],
      ]);
      expect(result.attempts[0]!.reason).toBe("hanger did not finish within 1 s and was stopped");
      expect(result.attempts[0]!.output_head).toBe("hanging\n");
      expect(result.attempts[0]!.duration_ms).toBeGreaterThanOrEqual(1000);
    } finally {
      await cleanup();
    }
  });
});

describe("executeTask: secrets and environments", () => {
  it("keeps a secret a tool prints out of everything it records", async () => {
    const KEY = "value-of-the-test-key-1234";
    const leaky = tool("leaky", "secret", ["--env", "SWITCHYARD_TEST_API_KEY"], {
      env: ["SWITCHYARD_TEST_API_KEY"],
    });
    const h = harness(repo.dir, [leaky], ["leaky"], { env: testEnv({ SWITCHYARD_TEST_API_KEY: KEY }) });
    const result = await executeTask(h.input);
    expect(result.outcome).toBe("no_changes");
    expect(result.attempts[0]!.output_head).toBe("token: ***\nSWITCHYARD_TEST_API_KEY=***\n");
    const recorded = JSON.stringify(result) + JSON.stringify(h.events.written) + JSON.stringify(h.progress);
    expect(recorded).not.toContain(SECRET_FIXTURE_TOKEN);
    expect(recorded).not.toContain(KEY);
  });

  it("redacts the caller's secrets from reasons and gate output", async () => {
    const SECRET = "caller-secret-5678";
    const failing = script("failing", `console.error('boom ${SECRET}'); process.exit(2)`);
    const printing = gate("printer", `console.log('gate saw ${SECRET}'); process.exit(1)`);
    const h = harness(repo.dir, [failing, editApp], ["failing", "editor"], {
      config: makeConfig([failing, editApp], { gates: [printing] }),
      secrets: [SECRET],
    });
    const result = await executeTask(h.input);
    expect(result.attempts[0]!.reason).toBe("failing exited with code 2: boom ***");
    expect(result.attempts[1]!.gates[0]!.output_tail).toBe("gate saw ***\n");
    expect(JSON.stringify(result)).not.toContain(SECRET);
  });

  it("runs gates with the base environment only, never a tool's keys", async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const keyed = tool("keyed", "edit", ["src/app.txt"], { env: ["SWITCHYARD_TEST_API_KEY"] });
      const dump = {
        name: "dump-env",
        command: fixture("print-env"),
        args: [join(dir, "env.json")],
        timeout_seconds: 60,
      };
      const h = harness(repo.dir, [keyed], ["keyed"], {
        config: makeConfig([keyed], { gates: [dump] }),
        env: testEnv({ SWITCHYARD_TEST_API_KEY: "k-123456", GITHUB_TOKEN: "t-123456" }),
      });
      expect((await executeTask(h.input)).outcome).toBe("success");
      const seen = JSON.parse(await readFile(join(dir, "env.json"), "utf8")) as Record<string, string>;
      expect(seen.SWITCHYARD_TEST_API_KEY).toBeUndefined();
      expect(seen.GITHUB_TOKEN).toBeUndefined();
      expect(seen.PATH).toBe(process.env.PATH);
    } finally {
      await cleanup();
    }
  });
});

describe("executeTask: commits that do not land", () => {
  it("reports a branch that moved under the commit as an error, without trying more tools", async () => {
    const port: CommitPort = {
      commitPatch: async (input) => ({
        ok: false,
        reason: "branch_moved",
        branch: input.branch,
        theirSha: "f".repeat(40),
        conflictingPaths: ["src/app.txt"],
        message: "branch moved under us: the patch conflicts with ffffffffffff in src/app.txt",
      }),
    };
    const second = tool("second", "edit", ["b.txt"]);
    const h = harness(repo.dir, [editApp, second], ["editor", "second"], {
      commit: { port, branch: BRANCH },
    });
    const result = await executeTask(h.input);
    expect(result.attempts.map((a) => [a.tool, a.outcome])).toEqual([["editor", "error"]]);
    expect(result.attempts[0]!.reason).toBe(
      "branch moved: branch moved under us: the patch conflicts with ffffffffffff in src/app.txt",
    );
    expect(result.outcome).toBe("error");
    expect(errorKind(result)).toBe("branch_moved");
    expect(jobShouldFail(result)).toBe(false);
    expect(checkConclusion(result, { onDefaultBranch: true })).toBe("neutral");
    await expectAtBase();
    expect(await repo.git.status()).toEqual([]);
  });

  it("reports a commit port that throws as Switchyard's own error", async () => {
    const port: CommitPort = {
      commitPatch: async () => {
        throw new Error("the GitHub API answered 502");
      },
    };
    const result = await executeTask(
      harness(repo.dir, [editApp], ["editor"], { commit: { port, branch: BRANCH } }).input,
    );
    expect(result.outcome).toBe("error");
    expect(result.attempts[0]!.reason).toBe("internal error: the GitHub API answered 502");
    expect(errorKind(result)).toBe("internal");
    expect(jobShouldFail(result)).toBe(true);
    expect(checkConclusion(result, { onDefaultBranch: true })).toBe("failure");
  });
});

describe("executeTask: refused input", () => {
  it("refuses a checkout with uncommitted changes before running anything", async () => {
    await repo.write({ "src/app.txt": "local edit\n", "notes.txt": "mine\n" });
    const h = harness(repo.dir, [editApp], ["editor"]);
    const run = executeTask(h.input);
    await expect(run).rejects.toThrow(InputError);
    await expect(run).rejects.toThrow(
      `the checkout at ${repo.dir} has uncommitted changes (2 files: src/app.txt, notes.txt); commit or stash them first, Switchyard resets the tree between attempts`,
    );
    expect(h.events.written).toEqual([]);
    expect((await repo.read("src/app.txt")).toString()).toBe("local edit\n");
  });

  it("refuses to commit to the branch that is checked out, before any tool runs", async () => {
    const h = harness(repo.dir, [editApp], ["editor"], {
      commit: { port: new LocalGitCommitPort(repo.git), branch: "main" },
    });
    await expect(executeTask(h.input)).rejects.toThrow(
      `main is the branch checked out at ${repo.dir}; Switchyard commits to its own branch, run it from the base branch`,
    );
    expect(h.progress).toEqual([]);
  });

  it("refuses a directory that is not a git work tree", async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const h = harness(dir, [editApp], ["editor"]);
      await expect(executeTask(h.input)).rejects.toThrow(
        `${dir} is not inside a git work tree; run Switchyard from a clone`,
      );
    } finally {
      await cleanup();
    }
  });

  it("refuses a decision made for another task, and a task that is not one", async () => {
    const h = harness(repo.dir, [editApp], ["editor"]);
    await expect(
      executeTask({ ...h.input, decision: { ...h.input.decision, task_key: "octo/app#13" } }),
    ).rejects.toThrow("the routing decision is for octo/app#13, not for the task octo/app#12");
    await expect(executeTask({ ...h.input, task: { ...h.input.task, key: "not a key" } })).rejects.toThrow(
      /^the task is not valid: key: /,
    );
  });
});
