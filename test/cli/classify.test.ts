import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { classifyCommand } from "../../src/cli/commands/classify.js";
import { EXIT, UsageError, type CliIO } from "../../src/cli/io.js";
import { ConfigError, InputError } from "../../src/core/errors.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const LOGS = "test/fixtures/logs";

/** Runs the command as `switchyard classify …` would, with main's mapping of errors to exit codes. */
async function run(args: string[], cwd = ROOT) {
  let stdout = "";
  let stderr = "";
  const io: CliIO = {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    cwd,
    env: {},
    isTTY: false,
  };
  let code: number;
  try {
    code = await classifyCommand.run(args, io);
  } catch (error) {
    if (error instanceof UsageError) code = EXIT.usage;
    else if (error instanceof ConfigError || error instanceof InputError) code = EXIT.rejected;
    else throw error;
    stderr += `switchyard classify: ${(error as Error).message}\n`;
  }
  return { code, stdout, stderr };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "switchyard-classify-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("switchyard classify", () => {
  it("prints the category, confidence, signature, reason, step and evidence lines of a log", async () => {
    const { code, stdout, stderr } = await run([`${LOGS}/test/pytest-basic.log`]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const lines = stdout.split("\n");
    expect(lines.slice(0, 6)).toEqual([
      "test/fixtures/logs/test/pytest-basic.log",
      "  category    test (confidence 0.86)",
      "  signature   test:FAILED tests/test_api.py::test_create_user - assert <n> == <n>",
      "  why         test (16): pytest-failed, pytest-summary, test-step",
      "  step        Run pytest -q --maxfail=5",
      "  evidence",
    ]);
    expect(stdout).toMatch(
      / {4}L\d+ +FAILED tests\/test_api\.py::test_create_user - assert 400 == 201 {3}\[pytest-failed\]/,
    );
  });

  it("goes on past a file it cannot read, says why, and exits 1", async () => {
    const { code, stdout, stderr } = await run([
      `${LOGS}/nope.log`,
      `${LOGS}/lint`,
      `${LOGS}/infra/oom-node-heap.log`,
    ]);
    expect(code).toBe(1);
    expect(stderr).toBe(
      `switchyard classify: cannot read ${LOGS}/nope.log: no such file\n` +
        `switchyard classify: cannot read ${LOGS}/lint: not a file\n`,
    );
    expect(stdout).toContain("  category    infra (confidence 0.77)");
  });

  it("classifies empty and binary files instead of failing", async () => {
    await writeFile(path.join(dir, "empty.log"), "");
    await writeFile(
      path.join(dir, "binary.log"),
      Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131) % 256)),
    );
    const { code, stdout } = await run(["empty.log", "binary.log"], dir);
    expect(code).toBe(0);
    expect(stdout).toContain("  note        the log is empty");
    expect(stdout).toContain(
      "  note        the log holds binary data (NUL bytes or invalid UTF-8), shown as �",
    );
    expect(stdout.match(/category {4}unknown \(confidence 0\.00\)/g)).toHaveLength(2);
  });

  it("prints JSON with the classification and the evidence", async () => {
    const { code, stdout } = await run([`${LOGS}/dependency/npm-eresolve.log`, "--json"]);
    expect(code).toBe(0);
    const [out] = JSON.parse(stdout) as {
      file: string;
      classification: { category: string; signature: string };
      evidence: { failed_step: string; source: string };
    }[];
    expect(out!.file).toBe(`${LOGS}/dependency/npm-eresolve.log`);
    expect(out!.classification.category).toBe("dependency");
    expect(out!.evidence).toMatchObject({ failed_step: "Run npm ci", source: out!.file });
  });

  it("prints the evidence document an AI tool gets with --markdown", async () => {
    const { stdout } = await run([`${LOGS}/type/tsc-noemit.log`, "--markdown"]);
    expect(stdout.startsWith("# CI failure evidence\n\nClassified as **type**")).toBe(true);
    expect(stdout).toContain("##[error]Process completed with exit code 2.");
  });

  it("takes history: a test failure that passed on a rerun is flaky", async () => {
    const { stdout } = await run([`${LOGS}/flaky/go-ticker.log`, "--passed-on-rerun"]);
    expect(stdout).toContain("  category    flaky (confidence 0.95), looked like test");
    expect(stdout).toContain("  signature   flaky:--- FAIL: TestTickerFires (<dur>)");
  });

  it("adds failing JUnit cases to the evidence", async () => {
    const junit = path.join(dir, "junit.xml");
    await writeFile(
      junit,
      '<testsuite name="S"><testcase classname="pkg.ClockTest" name="ticks"><failure message="expected 10 ticks"/></testcase></testsuite>',
    );
    const { stdout } = await run([`${LOGS}/unknown/changelog-check.log`, "--junit", junit, "--json"]);
    const [out] = JSON.parse(stdout) as { classification: { category: string; signature: string } }[];
    expect(out!.classification).toMatchObject({
      category: "test",
      signature: "test:pkg.ClockTest.ticks: expected <n> ticks",
    });

    await writeFile(path.join(dir, "not-junit.xml"), "<html></html>");
    const bad = await run([`${LOGS}/unknown/changelog-check.log`, "--junit", "not-junit.xml"], dir);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("JUnit report not-junit.xml has no <testcase> elements");
  });

  it("applies a repository's rules from a rules file or from .github/switchyard.yml", async () => {
    await writeFile(
      path.join(dir, "rules.yml"),
      [
        "add:",
        "  - id: changelog",
        "    category: lint",
        "    pattern: 'CHANGELOG\\.md was not updated'",
        "    weight: 8",
      ].join("\n"),
    );
    const log = path.join(ROOT, LOGS, "unknown/changelog-check.log");
    const added = await run([log, "--rules", "rules.yml"], dir);
    expect(added.stdout).toContain("  category    lint (confidence 0.63)");
    expect(added.stdout).toContain("  why         lint (8): changelog");

    await writeFile(
      path.join(dir, "switchyard.yml"),
      "recovery:\n  rules:\n    disable: [pytest-failed, pytest-summary]\n",
    );
    const disabled = await run(
      [path.join(ROOT, LOGS, "test/pytest-basic.log"), "--rules", "switchyard.yml"],
      dir,
    );
    // Without its two pytest rules the log only has the step name left: too weak to call.
    expect(disabled.stdout).toContain("  category    unknown (confidence 0.00)");
    expect(disabled.stdout).toContain("  why         the evidence is too weak: test scored 2, below 4");
  });

  it("names the file, line and key of a bad rule", async () => {
    await writeFile(
      path.join(dir, "bad.yml"),
      "add:\n  - id: slow\n    category: lint\n    pattern: '(a+)+$'\n    weight: 3\ndisable: [jest-faild-test]\n",
    );
    const { code, stderr } = await run([`${ROOT}/${LOGS}/test/pytest-basic.log`, "--rules", "bad.yml"], dir);
    expect(code).toBe(1);
    expect(stderr).toContain(
      "bad.yml:4:5: add[0].pattern: unsafe pattern: a repeated group holds a repeat or an alternation",
    );
    const unknownId = await run(
      [`${ROOT}/${LOGS}/test/pytest-basic.log`, "--rules", "switchyard.yml"],
      await (async () => {
        await writeFile(
          path.join(dir, "switchyard.yml"),
          "recovery:\n  rules:\n    disable: [jest-faild-test]\n",
        );
        return dir;
      })(),
    );
    expect(unknownId.stderr).toContain(
      "switchyard.yml: recovery.rules.disable[0]: no rule has the id 'jest-faild-test' (did you mean 'jest-failed-test'?)",
    );
  });

  it("measures the classifier on a corpus with --expect", async () => {
    const { code, stdout } = await run(["--expect", `${LOGS}/manifest.json`]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^\d+ logs, \d+ classified as expected \(\d+\.\d%\)\.\n\n\| class \| logs \|/);
    expect(stdout).toContain("| **all** |");

    const some = await run(["--expect", `${LOGS}/manifest.json`, `${LOGS}/lint/flake8.log`, "--json"]);
    const out = JSON.parse(some.stdout) as {
      results: { file: string; category: string }[];
      report: { total: number };
    };
    expect(out.results).toEqual([
      expect.objectContaining({ file: "lint/flake8.log", expected: "lint", category: "lint" }),
    ]);
    expect(out.report.total).toBe(1);

    const outside = await run(["--expect", `${LOGS}/manifest.json`, "package.json"]);
    expect(outside.code).toBe(1);
    expect(outside.stderr).toContain("not in the manifest test/fixtures/logs/manifest.json: package.json");
  });

  it("refuses wrong words with a usage error", async () => {
    expect((await run([])).code).toBe(2);
    expect((await run(["a.log", "--json", "--markdown"])).stderr).toContain(
      "choose one of --json and --markdown",
    );
    expect((await run(["a.log", "--max-bytes", "12"])).stderr).toContain(
      "--max-bytes must be a whole number",
    );
    expect((await run(["--expect", "m.json", "--passed-on-rerun"])).code).toBe(2);
    expect((await run(["--bogus"])).code).toBe(2);
    const help = await run(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: switchyard classify <log-file...> [options]");
  });
});
