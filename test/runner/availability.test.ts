import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  checkAllAvailability,
  checkAvailability,
  runToolIfAvailable,
} from "../../src/runner/availability.js";
import { baseEnv, isRunning, profile, readPids, tempDir } from "./tool-fixtures.js";

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir()));
afterEach(() => cleanup());

describe("checkAvailability", () => {
  it("reports the version line of a tool that answers", async () => {
    const p = profile("noop", { availability: { command: "node", args: ["--version"] } });
    expect(await checkAvailability(p, baseEnv())).toEqual({ available: true, version: process.version });
  });

  it("runs the profile's own command when the availability check names none", async () => {
    expect(await checkAvailability(profile("noop"), baseEnv())).toEqual({
      available: true,
      version: "noop: nothing to change",
    });
  });

  it("skips a disabled tool without running anything", async () => {
    const p = profile("noop", { enabled: false, command: "switchyard-no-such-tool" });
    expect(await checkAvailability(p, baseEnv())).toEqual({
      available: false,
      reason: "disabled in the configuration (enabled: false)",
    });
  });

  it("names the variables that are missing, never their values", async () => {
    const anyOf = profile("noop", { env_any_of: ["OPENAI_API_KEY", "ANTHROPIC_API_KEY"] });
    expect(await checkAvailability(anyOf, baseEnv({ OPENAI_API_KEY: "" }))).toEqual({
      available: false,
      reason: "needs one of OPENAI_API_KEY, ANTHROPIC_API_KEY (none is set)",
    });
    expect(await checkAvailability(anyOf, baseEnv({ ANTHROPIC_API_KEY: "sk-ant-x" }))).toEqual({
      available: true,
      version: "noop: nothing to change",
    });

    const required = profile("noop", { env: ["AZURE_ENDPOINT", "AZURE_KEY"] });
    expect(await checkAvailability(required, baseEnv({ AZURE_KEY: "value-of-the-key" }))).toEqual({
      available: false,
      reason: "needs AZURE_ENDPOINT (not set)",
    });
  });

  it("says a tool is not installed when it is not on PATH", async () => {
    expect(
      await checkAvailability(profile("noop", { command: "switchyard-no-such-tool" }), baseEnv()),
    ).toEqual({
      available: false,
      reason: "`switchyard-no-such-tool` is not installed (not found on PATH)",
    });
  });

  it("gives the exit code and the first line a failing check printed", async () => {
    const p = profile("noop", {
      availability: {
        command: "node",
        args: ["-e", "console.error('\\nlicense missing\\nmore'); process.exit(4)"],
      },
    });
    expect(await checkAvailability(p, baseEnv())).toEqual({
      available: false,
      reason:
        "`node -e console.error('\\nlicense missing\\nmore'); process.exit(4)` exited with code 4: license missing",
    });
    const killed = profile("crash", { availability: { args: ["--signal", "SIGSEGV"] } });
    const result = await checkAvailability(killed, baseEnv());
    expect(result.available).toBe(false);
    expect(!result.available && result.reason).toMatch(
      /^`.*crash\.mjs --signal SIGSEGV` was killed by SIGSEGV: /,
    );
  });

  it("gives up on a check that hangs, and stops it", async () => {
    const pidFile = join(dir, "pids.json");
    const p = profile("hang", { availability: { args: [pidFile], timeout_seconds: 1 } });
    const result = await checkAvailability(p, baseEnv(), { graceMs: 200 });
    expect(result).toEqual({
      available: false,
      reason: `\`${p.command} ${pidFile}\` did not finish within 1 s`,
    });
    const pids = await readPids(pidFile);
    expect(pids).toBeDefined();
    expect(isRunning(pids!.parent)).toBe(false);
    expect(isRunning(pids!.child)).toBe(false);
  });

  it("runs in the checkout, so a repository's own script can be checked", async () => {
    const p = profile("noop", {
      command: "./.github/switchyard/tool.sh",
      availability: { command: "test", args: ["-x", ".github/switchyard/tool.sh"] },
    });
    expect(await checkAvailability(p, baseEnv(), { cwd: dir })).toEqual({
      available: false,
      reason: "`test -x .github/switchyard/tool.sh` exited with code 1",
    });
    await mkdir(join(dir, ".github/switchyard"), { recursive: true });
    await writeFile(join(dir, ".github/switchyard/tool.sh"), "#!/bin/sh\n");
    await chmod(join(dir, ".github/switchyard/tool.sh"), 0o755);
    expect(await checkAvailability(p, baseEnv(), { cwd: dir })).toEqual({ available: true });
  });

  it("does not blame the tool when the working directory is missing", async () => {
    const missing = join(dir, "no-checkout");
    expect(await checkAvailability(profile("noop"), baseEnv(), { cwd: missing })).toEqual({
      available: false,
      reason: `the working directory ${missing} does not exist`,
    });
  });

  it("redacts what the check prints", async () => {
    const p = profile("secret", {
      env_any_of: ["SERVICE_TOKEN"],
      availability: { args: ["--env", "SERVICE_TOKEN"] },
    });
    // The first line the fixture prints is its fake GitHub token.
    expect(await checkAvailability(p, baseEnv({ SERVICE_TOKEN: "tok-value-123" }))).toEqual({
      available: true,
      version: "token: ***",
    });
  });
});

describe("checkAllAvailability", () => {
  it("checks every profile and reports in configuration order", async () => {
    const profiles = [
      profile("noop", { name: "missing", command: "switchyard-no-such-tool" }),
      profile("noop", { name: "ok" }),
      profile("noop", { name: "off", enabled: false }),
      profile("noop", { name: "node", availability: { command: "node", args: ["--version"] } }),
      profile("noop", { name: "keyless", env_any_of: ["GEMINI_API_KEY"] }),
    ];
    const results = await checkAllAvailability(profiles, baseEnv(), { concurrency: 2 });
    expect(Object.keys(results)).toEqual(["missing", "ok", "off", "node", "keyless"]);
    expect(results).toEqual({
      missing: { available: false, reason: "`switchyard-no-such-tool` is not installed (not found on PATH)" },
      ok: { available: true, version: "noop: nothing to change" },
      off: { available: false, reason: "disabled in the configuration (enabled: false)" },
      node: { available: true, version: process.version },
      keyless: { available: false, reason: "needs one of GEMINI_API_KEY (none is set)" },
    });
  });
});

describe("runToolIfAvailable", () => {
  it("skips an unavailable tool with its reason instead of failing", async () => {
    const p = profile("edit", { args: ["touched.txt"], env_any_of: ["OPENAI_API_KEY"] });
    expect(await runToolIfAvailable(p, { cwd: dir, prompt: "", env: baseEnv() })).toEqual({
      ran: false,
      reason: "needs one of OPENAI_API_KEY (none is set)",
    });
  });

  it("runs an available tool and passes the version along", async () => {
    const p = profile("edit", {
      args: ["touched.txt"],
      availability: { command: "node", args: ["--version"] },
    });
    const checked = await runToolIfAvailable(p, { cwd: dir, prompt: "", env: baseEnv() });
    expect(checked.ran).toBe(true);
    expect(checked.ran && checked.version).toBe(process.version);
    expect(checked.ran && checked.result.exitCode).toBe(0);
    expect(checked.ran && checked.result.outputHead).toBe("edited touched.txt\n");
  });
});
