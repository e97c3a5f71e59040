import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runTool } from "../../src/runner/tool-runner.js";
import { baseEnv, isRunning, profile, readPids, tempDir, waitFor } from "./tool-fixtures.js";

/**
 * The timeout and cancellation paths, with real process trees: the hang fixture starts a child
 * and writes both pids, so each test can check that nothing the tool started outlives the run.
 */

/** Long enough for the fixture to start its child and write the pids on a busy CI machine. */
const TIMEOUT_MS = 1_500;

let dir: string;
let cleanup: () => Promise<void>;
const leftovers: number[] = [];
beforeEach(async () => ({ dir, cleanup } = await tempDir()));
afterEach(async () => {
  // A failing test must not leave sleeping processes behind for the next one.
  for (const pid of leftovers.splice(0)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  await cleanup();
});

/** Waits for the hang fixture's pids and marks them for cleanup, before the run is awaited. */
async function pidsOf(pidFile: string) {
  const pids = await waitFor(() => readPids(pidFile));
  leftovers.push(pids.parent, pids.child);
  return pids;
}

describe("timeouts take the whole process tree down", () => {
  it("stops a hung tool and its child with SIGTERM", async () => {
    const pidFile = join(dir, "pids.json");
    const run = runTool(profile("hang", { args: [pidFile] }), {
      cwd: dir,
      prompt: "",
      env: baseEnv(),
      timeoutMs: TIMEOUT_MS,
      graceMs: 3_000,
    });
    const { parent, child } = await pidsOf(pidFile);
    const result = await run;
    expect(result).toMatchObject({ timedOut: true, cancelled: false, exitCode: null, signal: "SIGTERM" });
    expect(result.outputTail).toBe("hanging\n");
    // SIGTERM was enough: no waiting out the grace period.
    expect(result.durationMs).toBeGreaterThanOrEqual(TIMEOUT_MS);
    expect(result.durationMs).toBeLessThan(TIMEOUT_MS + 2_000);
    expect(isRunning(parent)).toBe(false);
    expect(isRunning(child)).toBe(false);
  });

  it("kills a tool and a child that both ignore SIGTERM with SIGKILL after the grace period", async () => {
    const pidFile = join(dir, "pids.json");
    const run = runTool(profile("hang", { args: [pidFile, "--ignore-term", "--child-ignores-term"] }), {
      cwd: dir,
      prompt: "",
      env: baseEnv(),
      timeoutMs: TIMEOUT_MS,
      graceMs: 300,
    });
    const { parent, child } = await pidsOf(pidFile);
    const result = await run;
    expect(result).toMatchObject({ timedOut: true, exitCode: null, signal: "SIGKILL" });
    expect(result.outputTail).toBe("hanging\nhang: ignoring SIGTERM\n");
    expect(result.durationMs).toBeGreaterThanOrEqual(TIMEOUT_MS + 300);
    expect(result.durationMs).toBeLessThan(TIMEOUT_MS + 2_500);
    expect(isRunning(parent)).toBe(false);
    expect(isRunning(child)).toBe(false);
  });

  it("kills a child that ignores SIGTERM even when the tool itself stops at once", async () => {
    const pidFile = join(dir, "pids.json");
    const run = runTool(profile("hang", { args: [pidFile, "--child-ignores-term"] }), {
      cwd: dir,
      prompt: "",
      env: baseEnv(),
      timeoutMs: TIMEOUT_MS,
      graceMs: 300,
    });
    const { child } = await pidsOf(pidFile);
    const result = await run;
    expect(result).toMatchObject({ timedOut: true, signal: "SIGTERM" });
    expect(isRunning(child)).toBe(false);
  });
});

describe("leftovers of a tool that exited", () => {
  it("stops a child the tool left running", async () => {
    const pidFile = join(dir, "pids.json");
    const run = runTool(profile("hang", { args: [pidFile, "--exit"] }), {
      cwd: dir,
      prompt: "",
      env: baseEnv(),
      timeoutMs: 10_000,
      graceMs: 300,
    });
    const { child } = await pidsOf(pidFile);
    const result = await run;
    expect(result).toMatchObject({ timedOut: false, exitCode: 0, signal: null });
    expect(isRunning(child)).toBe(false);
  });

  it("does not wait for a leftover child that holds the output pipe open", async () => {
    const pidFile = join(dir, "pids.json");
    const run = runTool(profile("hang", { args: [pidFile, "--exit", "--child-keeps-stdout"] }), {
      cwd: dir,
      prompt: "",
      env: baseEnv(),
      timeoutMs: 10_000,
      graceMs: 300,
    });
    const { child } = await pidsOf(pidFile);
    const result = await run;
    expect(result).toMatchObject({ timedOut: false, exitCode: 0 });
    expect(result.durationMs).toBeLessThan(3_000);
    expect(isRunning(child)).toBe(false);
  });
});

describe("cancellation", () => {
  it("stops the tree when the signal aborts", async () => {
    const pidFile = join(dir, "pids.json");
    const controller = new AbortController();
    const run = runTool(profile("hang", { args: [pidFile] }), {
      cwd: dir,
      prompt: "",
      env: baseEnv(),
      timeoutMs: 30_000,
      graceMs: 300,
      signal: controller.signal,
    });
    const { parent, child } = await pidsOf(pidFile);
    controller.abort();
    const result = await run;
    expect(result).toMatchObject({ cancelled: true, timedOut: false, exitCode: null, signal: "SIGTERM" });
    expect(isRunning(parent)).toBe(false);
    expect(isRunning(child)).toBe(false);
  });

  it("does not start a tool when the signal has already aborted", async () => {
    const pidFile = join(dir, "pids.json");
    const result = await runTool(profile("hang", { args: [pidFile] }), {
      cwd: dir,
      prompt: "",
      env: baseEnv(),
      signal: AbortSignal.abort(),
    });
    expect(result).toMatchObject({ cancelled: true, exitCode: null, outputBytes: 0 });
    expect(await readPids(pidFile)).toBeUndefined();
  });
});

describe("when the process running the tool is interrupted", () => {
  const driver = fileURLToPath(new URL("./interrupt-driver.ts", import.meta.url));

  it.each(["SIGTERM", "SIGINT"] as const)(
    "stops the tool's tree on %s and still dies of the signal",
    async (sig) => {
      const pidFile = join(dir, "pids.json");
      const proc = spawn(process.execPath, ["--import", "tsx", driver, dir, pidFile], {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, NODE_OPTIONS: "" },
      });
      let output = "";
      proc.stdout.on("data", (b: Buffer) => (output += b));
      proc.stderr.on("data", (b: Buffer) => (output += b));
      const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
        proc.on("exit", (code, signal) => resolve({ code, signal })),
      );
      leftovers.push(proc.pid!);
      const { parent, child } = await pidsOf(pidFile);
      proc.kill(sig);
      const { code, signal } = await exited;
      expect({ code, signal }).toEqual({ code: null, signal: sig });
      // The driver may or may not get its result before the signal is raised again; if it does,
      // the run says it was cancelled, not that the tool failed.
      expect(["", "cancelled=true\n"]).toContain(output);
      expect(isRunning(parent)).toBe(false);
      expect(isRunning(child)).toBe(false);
    },
    20_000,
  );
});
