import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ConfigError } from "../../src/core/errors.js";
import { gateEnv, runGates, type GateProgress } from "../../src/runner/gates.js";
import { fixture, tempDir } from "./tool-fixtures.js";

const NODE = process.execPath;
const gate = (name: string, code: string, timeout_seconds = 60) => ({
  name,
  command: NODE,
  args: ["-e", code],
  timeout_seconds,
});
const env = { PATH: process.env.PATH, HOME: process.env.HOME };

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir()));
afterEach(() => cleanup());

describe("runGates", () => {
  it("runs every gate in order in the checkout and passes when all exit 0", async () => {
    const progress: GateProgress[] = [];
    const run = await runGates(
      [gate("where", "console.log(process.cwd())"), gate("second", "process.stdout.write('ok')")],
      { cwd: dir, env, onProgress: (p) => progress.push(p) },
    );
    expect(run.passed).toBe(true);
    expect(run.cancelled).toBe(false);
    expect(run.results.map((r) => [r.name, r.exit_code, r.timed_out, r.output_tail])).toEqual([
      ["where", 0, false, `${dir}\n`],
      ["second", 0, false, "ok"],
    ]);
    expect(run.results.every((r) => r.duration_ms > 0)).toBe(true);
    expect(progress.map((p) => `${p.type}:${typeof p.gate === "string" ? p.gate : p.gate.name}`)).toEqual([
      "gate_started:where",
      "gate_output:where",
      "gate_finished:where",
      "gate_started:second",
      "gate_output:second",
      "gate_finished:second",
    ]);
  });

  it("passes with no gates configured", async () => {
    expect(await runGates([], { cwd: dir, env })).toEqual({ results: [], passed: true, cancelled: false });
  });

  it("stops at the first failing gate", async () => {
    const run = await runGates(
      [
        gate("ok", "process.exit(0)"),
        gate("tests", "console.error('2 tests failed'); process.exit(1)"),
        gate("lint", "process.exit(0)"),
      ],
      { cwd: dir, env },
    );
    expect(run.passed).toBe(false);
    expect(run.results.map((r) => [r.name, r.exit_code, r.output_tail])).toEqual([
      ["ok", 0, ""],
      ["tests", 1, "2 tests failed\n"],
    ]);
  });

  it("stops a gate at its timeout", async () => {
    const run = await runGates([gate("slow", "console.log('waiting'); setInterval(() => {}, 1000)", 1)], {
      cwd: dir,
      env,
      graceMs: 500,
    });
    expect(run.passed).toBe(false);
    expect(run.results.map((r) => [r.exit_code, r.timed_out, r.output_tail])).toEqual([
      [null, true, "waiting\n"],
    ]);
    expect(run.results[0]!.duration_ms).toBeGreaterThanOrEqual(1000);
  });

  it("records why a gate could not start", async () => {
    const run = await runGates(
      [{ name: "missing", command: "switchyard-no-such-gate", args: [], timeout_seconds: 5 }],
      {
        cwd: dir,
        env,
      },
    );
    expect(run.passed).toBe(false);
    expect(run.results).toEqual([
      {
        name: "missing",
        exit_code: null,
        timed_out: false,
        duration_ms: expect.any(Number),
        output_tail: "`switchyard-no-such-gate` is not installed (not found on PATH)",
      },
    ]);
  });

  it("gives gates the base environment only and redacts secrets from their output", async () => {
    const out = join(dir, "env.json");
    const source = {
      ...env,
      LANG: "C.UTF-8",
      OPENAI_API_KEY: "sk-not-for-gates",
      GITHUB_TOKEN: "not-for-gates",
      ACTIONS_RUNTIME_TOKEN: "not-for-gates",
      NODE_OPTIONS: "--require /tmp/evil.js",
    };
    const run = await runGates(
      [
        { name: "dump", command: fixture("print-env"), args: [out], timeout_seconds: 30 },
        gate("leak", "console.log('found hunter2-secret in a file')"),
      ],
      { cwd: dir, env: source, secrets: ["hunter2-secret"] },
    );
    expect(run.passed).toBe(true);
    const seen = JSON.parse(await readFile(out, "utf8")) as Record<string, string>;
    expect(Object.keys(seen).sort()).toEqual(["HOME", "LANG", "PATH"]);
    expect(run.results[1]!.output_tail).toBe("found *** in a file\n");
  });

  it("passes a gate the variables it declares, and only that gate", async () => {
    const withDb = join(dir, "with-db.json");
    const without = join(dir, "without.json");
    const source = { ...env, DATABASE_URL: "postgres://ci@localhost/test", OPENAI_API_KEY: "sk-x" };
    const run = await runGates(
      [
        { name: "db", command: fixture("print-env"), args: [withDb], env: ["DATABASE_URL"] },
        { name: "plain", command: fixture("print-env"), args: [without] },
      ],
      { cwd: dir, env: source },
    );
    expect(run.passed).toBe(true);
    const a = JSON.parse(await readFile(withDb, "utf8")) as Record<string, string>;
    const b = JSON.parse(await readFile(without, "utf8")) as Record<string, string>;
    expect(a.DATABASE_URL).toBe("postgres://ci@localhost/test");
    expect(b.DATABASE_URL).toBeUndefined();
    expect(a.OPENAI_API_KEY).toBeUndefined();
  });

  it("keeps only the allowlisted variables", () => {
    expect(
      gateEnv({ PATH: "/bin", CI: "true", ANTHROPIC_API_KEY: "k", GITHUB_TOKEN: "t", EMPTY: "" }),
    ).toEqual({
      PATH: "/bin",
      CI: "true",
    });
  });

  it("reports cancellation and runs nothing after it", async () => {
    const controller = new AbortController();
    const run = await runGates(
      [gate("slow", "setInterval(() => {}, 1000)"), gate("never", "process.exit(0)")],
      {
        cwd: dir,
        env,
        signal: controller.signal,
        onProgress: (p) => {
          if (p.type === "gate_started") setTimeout(() => controller.abort(), 50);
        },
      },
    );
    expect(run.cancelled).toBe(true);
    expect(run.passed).toBe(false);
    expect(run.results.map((r) => r.name)).toEqual(["slow"]);
  });

  it("refuses an invalid gate with the key path", async () => {
    const bad = [{ name: "Bad Name", command: "npm", args: [], timeout_seconds: 5 }];
    const error = await runGates(bad, { cwd: dir, env }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      {
        file: "configuration",
        path: "execution.gates.0.name",
        message: "a lower-case name: letters, digits, '-' or '_', starting with a letter",
      },
    ]);
  });
});
