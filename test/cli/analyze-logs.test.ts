import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { copyFile, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { analyzeCommand } from "../../src/cli/commands/analyze.js";
import { classifyLogFile, loadManifest, loadRules } from "../../src/cli/commands/classify.js";
import type { CliIO } from "../../src/cli/io.js";
import { InputError } from "../../src/core/errors.js";
import { MetricsSchema } from "../../src/core/metrics/schema.js";
import type { RuleSet } from "../../src/core/recovery/rules.js";
import { findLogs } from "../../src/runner/find-logs.js";
import { firstTimestamp } from "../../src/runner/job-log-signatures.js";
import { daysAgo, LogBuilder, runs } from "../core/analysis/fixtures.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const CORPUS = path.join(ROOT, "test", "fixtures", "logs");
/** Late enough for every log of the corpus (all dated 2026) and the event fixtures to fall in a year's window. */
const END = "2026-12-31T00:00:00.000Z";
const UNDATED_MTIME = new Date("2026-10-01T08:00:00.000Z");

async function run(argv: string[], cwd: string) {
  let stdout = "";
  let stderr = "";
  const io: CliIO = {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    cwd,
    env: {},
    isTTY: false,
  };
  const code = await analyzeCommand.run(argv, io);
  return { code, stdout, stderr };
}

/** What `switchyard classify` makes of a corpus log: the expectation, found by the other command's path. */
async function expected(rel: string, rules?: RuleSet) {
  const manifest = await loadManifest(path.join(CORPUS, "manifest.json"));
  const label = manifest.logs[rel]!;
  const { classification } = await classifyLogFile(path.join(CORPUS, rel), rules ? { rules } : {});
  // The corpus says what the log is; the classifier must agree for these to be the expected rows.
  expect(classification.category).toBe(label.category);
  return { signature: classification.signature, category: classification.category };
}

async function stampOf(rel: string): Promise<string> {
  const stamp = firstTimestamp(await readFile(path.join(CORPUS, rel)));
  expect(stamp).not.toBeNull();
  return stamp!;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "switchyard-analyze-logs-"));
  // One event log as `switchyard run` leaves it, with a recovery step whose signature counts too.
  const events = new LogBuilder();
  await runs(events, "claude", 4, 3, daysAgo(5), { capability: "testing" });
  await events.step(daysAgo(3), { step: "rerun", category: "flaky", ok: true, signature: "retry.test.ts" });
  await mkdir(path.join(dir, "runs", "01JA0000000000000000000000"), { recursive: true });
  await writeFile(path.join(dir, "runs", "01JA0000000000000000000000", "events.jsonl"), events.text());
  await writeFile(path.join(dir, "runs", "01JA0000000000000000000000", "report.md"), "# report\n");
  // The same event log under a name that does not say so: its first line decides.
  await writeFile(path.join(dir, "events-copy.txt"), events.text());

  // Job logs below a directory: the same build failure twice (as .log and .txt) and a lint one.
  const logs = path.join(dir, "logs");
  await mkdir(logs, { recursive: true });
  await copyFile(path.join(CORPUS, "build/go-build.log"), path.join(logs, "job-1.log"));
  await copyFile(path.join(CORPUS, "build/go-build.log"), path.join(logs, "job-2.txt"));
  await copyFile(path.join(CORPUS, "lint/eslint-stylish.log"), path.join(logs, "job-3.log"));
  await writeFile(path.join(logs, "notes.md"), "not a log\n");
  // A log without timestamps, given by name: dated by its modification time.
  const undated = (await readFile(path.join(CORPUS, "dependency/npm-eresolve.log"), "utf8")).replace(
    /^\uFEFF?\d{4}-\d\d-\d\dT[\d:.]+Z ?/gm,
    "",
  );
  await writeFile(path.join(dir, "undated.out"), undated);
  await utimes(path.join(dir, "undated.out"), UNDATED_MTIME, UNDATED_MTIME);
  // What is not a log: a binary file and an empty one.
  await writeFile(path.join(logs, "core.log"), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0, 1, 2, 0, 255]));
  await writeFile(path.join(dir, "empty.log"), "");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("switchyard analyze with job logs", () => {
  it("folds event logs and job logs into the top error signatures, and warns about what is not a log", async () => {
    const { code, stdout, stderr } = await run(
      ["runs", "logs", "undated.out", "empty.log", "--now", END, "--window", "365d", "--json"],
      dir,
    );
    expect(code).toBe(0);
    expect(stderr).toBe(
      "warning: logs/core.log: binary data (a NUL byte near the start), not a job log; skipped\n" +
        "warning: empty.log: empty file; skipped\n",
    );
    const metrics = MetricsSchema.parse(JSON.parse(stdout));

    const build = await expected("build/go-build.log");
    const lint = await expected("lint/eslint-stylish.log");
    const dependency = await expected("dependency/npm-eresolve.log");
    const buildAt = await stampOf("build/go-build.log");
    const lintAt = await stampOf("lint/eslint-stylish.log");
    expect(buildAt).toBe("2026-07-11T05:18:32.834Z");
    const retry = metrics.signatures.find((s) => s.signature === "retry.test.ts");
    expect(retry).toMatchObject({ category: "flaky", count: 1 });
    expect(metrics.signatures.filter((s) => s !== retry)).toEqual(
      [
        { ...build, count: 2, first_seen: buildAt, last_seen: buildAt },
        { ...lint, count: 1, first_seen: lintAt, last_seen: lintAt },
        {
          ...dependency,
          count: 1,
          first_seen: UNDATED_MTIME.toISOString(),
          last_seen: UNDATED_MTIME.toISOString(),
        },
      ].sort((a, b) => b.count - a.count || (a.signature < b.signature ? -1 : 1)),
    );
    expect(metrics.signatures[0]).toMatchObject({ ...build, count: 2 });
    // Only the event log counts as an input file; the job logs are in the signatures.
    expect(metrics.input).toMatchObject({ files: 1, events: 5, skipped: 0 });
    expect(metrics.gaps).toEqual([
      "workflow runs: not read (a local analysis reads event logs; CI health needs the GitHub API)",
      "logs/core.log: not read (binary data (a NUL byte near the start), not a job log)",
      "empty.log: not read (empty file)",
    ]);
  });

  it("adds a job log's signature to the same signature from the event logs", async () => {
    const build = await expected("build/go-build.log");
    const events = new LogBuilder();
    await runs(events, "codex", 1, 0, daysAgo(2));
    await events.step("2026-08-01T00:00:00.000Z", {
      step: "ai",
      category: "build",
      ok: false,
      signature: build.signature,
    });
    const sub = path.join(dir, "merge");
    await mkdir(sub, { recursive: true });
    await writeFile(path.join(sub, "events.jsonl"), events.text());
    await copyFile(path.join(CORPUS, "build/go-build.log"), path.join(sub, "job.log"));
    const { code, stdout } = await run(["merge", "--now", END, "--window", "365d", "--json"], dir);
    expect(code).toBe(0);
    const metrics = MetricsSchema.parse(JSON.parse(stdout));
    expect(metrics.signatures).toEqual([
      {
        ...build,
        count: 2,
        first_seen: await stampOf("build/go-build.log"),
        last_seen: "2026-08-01T00:00:00.000Z",
      },
    ]);
  });

  it("leaves out job logs dated outside the window, and says so", async () => {
    const { code, stdout, stderr } = await run(
      ["logs/job-1.log", "logs/job-3.log", "--now", "2026-07-20T00:00:00Z", "--window", "30d", "--json"],
      dir,
    );
    expect(code).toBe(0);
    const lintAt = await stampOf("lint/eslint-stylish.log");
    // The build log (2026-07-11) is in the window; the lint log is not.
    expect(
      Date.parse(lintAt) < Date.parse("2026-06-20T00:00:00Z") ||
        Date.parse(lintAt) > Date.parse("2026-07-20T00:00:00Z"),
    ).toBe(true);
    const metrics = MetricsSchema.parse(JSON.parse(stdout));
    expect(metrics.signatures).toEqual([
      {
        ...(await expected("build/go-build.log")),
        count: 1,
        first_seen: "2026-07-11T05:18:32.834Z",
        last_seen: "2026-07-11T05:18:32.834Z",
      },
    ]);
    expect(metrics.gaps).toContain(
      "job logs: 1 of 2 classified dated outside 2026-06-20T00:00:00.000Z to 2026-07-20T00:00:00.000Z, not counted",
    );
    expect(stderr).toBe(
      "note: 1 of 2 job logs is dated outside 2026-06-20T00:00:00.000Z to 2026-07-20T00:00:00.000Z; " +
        "set --now or a longer --window to count them\n",
    );
  });

  it("classifies with the repository's rules from .github/switchyard.yml, or --rules", async () => {
    const repo = path.join(dir, "repo");
    await mkdir(path.join(repo, ".github"), { recursive: true });
    const config = "recovery:\n  rules:\n    disable: [pytest-failed, pytest-summary]\n";
    await writeFile(path.join(repo, ".github", "switchyard.yml"), config);
    await copyFile(path.join(CORPUS, "test/pytest-basic.log"), path.join(repo, "pytest.log"));
    const rules = await loadRules(path.join(repo, ".github", "switchyard.yml"));
    const withRules = await classifyLogFile(path.join(CORPUS, "test/pytest-basic.log"), { rules });
    const shipped = await expected("test/pytest-basic.log");
    expect(withRules.classification.category).not.toBe(shipped.category);

    const local = await run(["pytest.log", "--now", END, "--window", "365d", "--json"], repo);
    expect(MetricsSchema.parse(JSON.parse(local.stdout)).signatures).toMatchObject([
      {
        signature: withRules.classification.signature,
        category: withRules.classification.category,
        count: 1,
      },
    ]);
    // --rules names another file: here an empty one, so the shipped rules.
    await writeFile(path.join(repo, "none.yml"), "add: []\n");
    const given = await run(
      ["pytest.log", "--rules", "none.yml", "--now", END, "--window", "365d", "--json"],
      repo,
    );
    expect(MetricsSchema.parse(JSON.parse(given.stdout)).signatures).toMatchObject([
      { ...shipped, count: 1 },
    ]);
  });

  it("does not load the rules for event logs alone, so a broken config cannot stop them", async () => {
    const repo = path.join(dir, "broken");
    await mkdir(path.join(repo, ".github"), { recursive: true });
    await writeFile(
      path.join(repo, ".github", "switchyard.yml"),
      "recovery:\n  rules:\n    disable: [no-such-rule]\n",
    );
    const events = new LogBuilder();
    await runs(events, "claude", 1, 1, daysAgo(1));
    await writeFile(path.join(repo, "events.jsonl"), events.text());
    await expect(run(["events.jsonl", "--json"], repo)).resolves.toMatchObject({ code: 0 });
    await copyFile(path.join(CORPUS, "build/go-build.log"), path.join(repo, "job.log"));
    await expect(run(["events.jsonl", "job.log", "--json"], repo)).rejects.toThrow("no-such-rule");
  });

  it("refuses with exit 1 when the only files are not logs", async () => {
    await expect(run(["empty.log", "logs/core.log"], dir)).rejects.toThrow(InputError);
    await expect(run(["empty.log", "logs/core.log"], dir)).rejects.toThrow(
      "no event log or job log could be read\n  empty.log: empty file\n" +
        "  logs/core.log: binary data (a NUL byte near the start), not a job log",
    );
  });

  it("says how many job logs it read when it writes files", async () => {
    const { code, stdout } = await run(
      ["runs", "logs/job-1.log", "--now", END, "--window", "365d", "--out", "out/metrics.json"],
      dir,
    );
    expect(code).toBe(0);
    expect(stdout).toBe(
      "Analysed 5 events from 1 file (5 between 2025-12-31T00:00:00.000Z and 2026-12-31T00:00:00.000Z) " +
        "and 1 job log; wrote out/metrics.json.\n",
    );
  });
});

describe("findLogs", () => {
  it("sorts files into event logs and job logs by name, then by first line", async () => {
    const found = await findLogs(["runs", "logs", "events-copy.txt", "undated.out", "missing.log"], dir);
    const rel = (files: string[]) => files.map((f) => path.relative(dir, f));
    expect(rel(found.eventLogs)).toEqual(["runs/01JA0000000000000000000000/events.jsonl", "events-copy.txt"]);
    expect(rel(found.jobLogs)).toEqual([
      "logs/core.log",
      "logs/job-1.log",
      "logs/job-2.txt",
      "logs/job-3.log",
      "undated.out",
    ]);
    expect(found.problems).toEqual([{ path: "missing.log", error: "no such file or directory" }]);
  });
});
