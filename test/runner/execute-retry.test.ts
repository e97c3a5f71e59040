import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { join } from "node:path";
import { checkConclusion, errorKind, jobShouldFail } from "../../src/core/execution/outcome.js";
import { renderExecutionReport } from "../../src/core/execution/report.js";
import { backoffDelay } from "../../src/core/policy/retry.js";
import { executeTask } from "../../src/runner/execute.js";
import { makeRepo, type TestRepo } from "../support/git-repo.js";
import { gate, harness, makeConfig, makeTask, tool } from "./execute-fixtures.js";
import { isRunning, readPids, tempDir, waitFor } from "./tool-fixtures.js";

let repo: TestRepo;
beforeEach(async () => {
  repo = await makeRepo({ files: { "src/app.txt": "hello\n" } });
});
afterEach(() => repo.cleanup());

const editApp = tool("editor", "edit", ["src/app.txt"]);

async function expectCleanAtBase(): Promise<void> {
  expect(await repo.git.readHead()).toEqual({ sha: repo.baseSha, ref: "refs/heads/main" });
  expect(await repo.git.status()).toEqual([]);
}

describe("executeTask: retries and backoff", () => {
  it("retries a crashing tool as its profile says, then falls back, sleeping the exact backoff", async () => {
    const crash = tool("crasher", "crash", [], { retries: 2 });
    const crash2 = tool("crasher2", "crash", ["--code", "9"]);
    const h = harness(repo.dir, [crash, crash2, editApp], ["crasher", "crasher2", "editor"]);
    const result = await executeTask(h.input);
    expect(result.attempts.map((a) => [a.n, a.tool, a.outcome, a.exit_code])).toEqual([
      [1, "crasher", "tool_failed", 3],
      [2, "crasher", "tool_failed", 3],
      [3, "crasher", "tool_failed", 3],
      [4, "crasher2", "tool_failed", 9],
      [5, "editor", "success", 0],
    ]);
    // base 100 ms, factor 2, capped at 250 ms, no jitter: the delay after runs 1, 2, 3 and 4.
    expect(h.delays).toEqual([100, 200, 250, 250]);
    expect(h.progress.filter((p) => p.type === "backoff")).toEqual([
      { type: "backoff", attempt: 2, delayMs: 100 },
      { type: "backoff", attempt: 3, delayMs: 200 },
      { type: "backoff", attempt: 4, delayMs: 250 },
      { type: "backoff", attempt: 5, delayMs: 250 },
    ]);
  });

  it("draws the jitter from the task key and run id", async () => {
    const crash = tool("crasher", "crash");
    const crash2 = tool("crasher2", "crash");
    const retry = { base_delay_ms: 1000, factor: 2, max_delay_ms: 60_000, jitter: 0.5, max_attempts: 5 };
    const h = harness(repo.dir, [crash, crash2, editApp], ["crasher", "crasher2", "editor"], {
      config: makeConfig([crash, crash2, editApp], { retry }),
    });
    await executeTask(h.input);
    const cfg = makeConfig([], { retry }).retry;
    const expected = [1, 2].map((n) => backoffDelay(n, cfg, "octo/app#12|run-1"));
    expect(h.delays).toEqual(expected);
    // Jitter only ever shortens: within [(1 - 0.5) d, d] of 1000 and 2000.
    expect(h.delays[0]).toBeGreaterThanOrEqual(500);
    expect(h.delays[0]).toBeLessThanOrEqual(1000);
    expect(h.delays[1]).toBeGreaterThanOrEqual(1000);
    expect(h.delays[1]).toBeLessThanOrEqual(2000);
  });

  it("takes the task's retries over the profile's, bounded by limits.max_retries", async () => {
    const crash = tool("crasher", "crash", [], { retries: 0 });
    const overridden = harness(repo.dir, [crash], ["crasher"], {
      task: makeTask({ overrides: { retries: 1 } }),
    });
    expect((await executeTask(overridden.input)).attempts.map((a) => a.tool)).toEqual(["crasher", "crasher"]);

    const config = makeConfig([crash]);
    config.limits.max_retries = 2;
    const bounded = harness(repo.dir, [crash], ["crasher"], {
      config,
      task: makeTask({ overrides: { retries: 9 } }),
    });
    const result = await executeTask(bounded.input);
    expect(result.attempts.map((a) => a.tool)).toEqual(["crasher", "crasher", "crasher"]);
    expect(result.outcome).toBe("tool_failed");
  });

  it("does not retry a tool that changed nothing: the next tool takes over", async () => {
    const noop = tool("idle", "noop", [], { retries: 3 });
    const h = harness(repo.dir, [noop, editApp], ["idle", "editor"]);
    const result = await executeTask(h.input);
    expect(result.attempts.map((a) => [a.tool, a.outcome])).toEqual([
      ["idle", "no_changes"],
      ["editor", "success"],
    ]);
  });

  it("stops the chain when retry.max_attempts tool runs are spent", async () => {
    const crash = tool("crasher", "crash");
    const crash2 = tool("crasher2", "crash");
    const h = harness(repo.dir, [crash, crash2, editApp], ["crasher", "crasher2", "editor"], {
      config: makeConfig([crash, crash2, editApp], { retry: { max_attempts: 2 } }),
    });
    const result = await executeTask(h.input);
    expect(result.attempts.map((a) => a.tool)).toEqual(["crasher", "crasher2"]);
    expect(result.outcome).toBe("tool_failed");
    expect(h.delays).toEqual([100]);
    expect(h.progress.filter((p) => p.type === "stopped")).toEqual([
      { type: "stopped", reason: "gave up after 2 attempts (retry.max_attempts is 2)" },
    ]);
    expect(renderExecutionReport(result, { decision: h.input.decision })).toContain(
      "- Not tried: editor; the attempt budget (`retry.max_attempts`) ran out first.",
    );
    await expectCleanAtBase();
  });
});

describe("executeTask: cancellation", () => {
  it("stops a running tool and its children when the signal aborts, and tries nothing more", async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const pidFile = join(dir, "pids.json");
      const hang = tool("hanger", "hang", [pidFile]);
      const controller = new AbortController();
      const h = harness(repo.dir, [hang, editApp], ["hanger", "editor"], { signal: controller.signal });
      const running = executeTask(h.input);
      const pids = await waitFor(() => readPids(pidFile));
      controller.abort();
      const result = await running;

      expect(result.attempts.map((a) => [a.tool, a.outcome, a.reason])).toEqual([
        ["hanger", "error", "cancelled: the run was stopped while hanger was running"],
      ]);
      expect(result.outcome).toBe("error");
      expect(errorKind(result)).toBe("cancelled");
      expect(jobShouldFail(result)).toBe(false);
      expect(checkConclusion(result, { onDefaultBranch: false })).toBe("neutral");
      expect(isRunning(pids.parent)).toBe(false);
      expect(isRunning(pids.child)).toBe(false);
      expect(h.events.written.map((e) => e.type)).toEqual(["execute_started", "execute_finished"]);
      await expectCleanAtBase();
    } finally {
      await cleanup();
    }
  });

  it("ends a backoff at once when the signal aborts", async () => {
    const controller = new AbortController();
    const crash = tool("crasher", "crash");
    const h = harness(repo.dir, [crash, editApp], ["crasher", "editor"], {
      signal: controller.signal,
      // A sleep that would never end on its own: only the abort can finish the wait.
      sleep: () => {
        controller.abort();
        return new Promise(() => undefined);
      },
    });
    const result = await executeTask(h.input);
    expect(h.delays).toEqual([100]);
    expect(result.attempts.map((a) => [a.tool, a.outcome, a.reason])).toEqual([
      ["crasher", "tool_failed", "crasher exited with code 3: Error: the crash fixture failed on purpose"],
      ["editor", "error", "cancelled: the run was stopped during the backoff before editor started"],
    ]);
    expect(result.outcome).toBe("error");
  });

  it("starts nothing when the signal has already aborted", async () => {
    const controller = new AbortController();
    controller.abort();
    const h = harness(repo.dir, [editApp], ["editor"], { signal: controller.signal });
    const result = await executeTask(h.input);
    expect(result.attempts.map((a) => [a.tool, a.outcome, a.reason])).toEqual([
      ["editor", "error", "cancelled: the run was stopped before editor started"],
    ]);
    await expectCleanAtBase();
  });

  it("stops a gate that is running", async () => {
    const controller = new AbortController();
    const slow = gate("slow", "setInterval(() => {}, 1000)");
    const h = harness(repo.dir, [editApp], ["editor"], {
      config: makeConfig([editApp], { gates: [slow] }),
      signal: controller.signal,
    });
    h.input.onProgress = (p) => {
      if (p.type === "gate_started") setTimeout(() => controller.abort(), 100);
    };
    const result = await executeTask(h.input);
    const [attempt] = result.attempts;
    expect([attempt!.outcome, attempt!.reason]).toEqual([
      "error",
      "cancelled: the run was stopped while the gate slow ran",
    ]);
    expect(attempt!.gates.map((g) => [g.name, g.exit_code, g.timed_out])).toEqual([["slow", null, false]]);
    expect(result.branch).toBeNull();
    await expectCleanAtBase();
  });

  it("keeps going when the progress callback throws", async () => {
    const h = harness(repo.dir, [editApp], ["editor"]);
    h.input.onProgress = () => {
      throw new Error("EPIPE");
    };
    expect((await executeTask(h.input)).outcome).toBe("success");
  });
});
