import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { analyzeCommand, parseWindow } from "../../src/cli/commands/analyze.js";
import { routeCommand } from "../../src/cli/commands/route.js";
import { UsageError, type CliIO } from "../../src/cli/io.js";
import { DASHBOARD_MARKER } from "../../src/core/analysis/dashboard.js";
import { InputError } from "../../src/core/errors.js";
import { MetricsSchema, type Metrics } from "../../src/core/metrics/schema.js";
import { writeSyntheticLog } from "../../bench/analysis.bench.js";
import { daysAgo, LogBuilder, NOW, runs } from "../core/analysis/fixtures.js";

const ROOT = path.resolve(import.meta.dirname, "../..");

/**
 * The command is run in-process. main() turns a UsageError into exit 2 and an InputError into
 * exit 1 (test/cli/cli.test.ts covers that mapping), so those are asserted as thrown here.
 */
async function run(argv: string[], cwd = dir) {
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

let dir: string;
let runsDir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "switchyard-analyze-"));
  // Two runs as `switchyard run` leaves them, in .switchyard/runs/<id>/events.jsonl.
  runsDir = path.join(dir, "checkout", ".switchyard", "runs");
  const first = new LogBuilder();
  await runs(first, "claude", 10, 9, daysAgo(5), { capability: "testing", duration_ms: 60_000 });
  const second = new LogBuilder();
  await runs(second, "codex", 10, 4, daysAgo(4), { capability: "testing", duration_ms: 30_000 });
  await second.step(daysAgo(3), { step: "rerun", category: "flaky", ok: true, signature: "retry.test.ts" });
  for (const [id, log] of [
    ["01JA0000000000000000000000", first],
    ["01JB0000000000000000000000", second],
  ] as const) {
    await mkdir(path.join(runsDir, id), { recursive: true });
    await writeFile(path.join(runsDir, id, "events.jsonl"), log.text());
    await writeFile(path.join(runsDir, id, "report.md"), "# report\n");
  }
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("switchyard analyze", () => {
  it("prints metrics.json for the logs under a directory", async () => {
    const { code, stdout, stderr } = await run(["checkout", "--now", NOW, "--json"]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const metrics = MetricsSchema.parse(JSON.parse(stdout));
    expect(metrics.repository).toBe("acme/widgets");
    expect(metrics.window).toMatchObject({ from: "2026-02-22T12:00:00.000Z", to: NOW });
    expect(metrics.tools.map((t) => [t.tool, t.capability, t.attempts, t.successes, t.p50_ms])).toEqual([
      ["claude", undefined, 10, 9, 60_000],
      ["claude", "testing", 10, 9, 60_000],
      ["codex", undefined, 10, 4, 30_000],
      ["codex", "testing", 10, 4, 30_000],
    ]);
    expect(metrics.flaky_tests).toEqual([{ name: "retry.test.ts", flips: 1 }]);
    expect(metrics.input).toEqual({
      files: 2,
      lines: 21,
      events: 21,
      skipped: 0,
      in_window: 21,
      in_previous_window: 0,
      outside_windows: 0,
    });
    expect(metrics.gaps).toEqual([
      "workflow runs: not read (a local analysis reads event logs; CI health needs the GitHub API)",
    ]);
  });

  it("prints the dashboard by default", async () => {
    const { code, stdout } = await run(["checkout", "--now", NOW, "--title", "Widgets"]);
    expect(code).toBe(0);
    expect(stdout.startsWith(`${DASHBOARD_MARKER}\n# Widgets\n`)).toBe(true);
    expect(stdout).toContain("| **claude** | all | 10 | 90% |");
    expect(stdout).toContain("```mermaid\nxychart-beta\n");
  });

  it("writes metrics.json and the dashboard, and says so", async () => {
    const { code, stdout } = await run([
      runsDir,
      "--now",
      NOW,
      "--out",
      "out/metrics.json",
      "--markdown",
      "out/dashboard.md",
    ]);
    expect(code).toBe(0);
    expect(stdout).toBe(
      `Analysed 21 events from 2 files (21 between 2026-02-22T12:00:00.000Z and ${NOW}); ` +
        "wrote out/metrics.json, out/dashboard.md.\n",
    );
    const metrics = MetricsSchema.parse(
      JSON.parse(await readFile(path.join(dir, "out/metrics.json"), "utf8")),
    );
    expect(metrics.tools).toHaveLength(4);
    expect(await readFile(path.join(dir, "out/dashboard.md"), "utf8")).toContain(DASHBOARD_MARKER);
  });

  it("feeds the router: route --metrics sends the task to the tool that succeeds more", async () => {
    const out = path.join(dir, "loop", "metrics.json");
    await run([runsDir, "--now", NOW, "--out", out]);
    let stdout = "";
    const io: CliIO = {
      stdout: (t) => void (stdout += t),
      stderr: () => undefined,
      cwd: ROOT,
      env: {},
      isTTY: false,
    };
    const args = ["docs/examples/add-retry-tests.md", "--strategy", "metrics", "--metrics", out];
    expect(await routeCommand.run(args, io)).toBe(0);
    // The 'testing' chain puts codex first; claude's 9/10 beats codex's 4/10.
    expect(stdout).toContain("Routed 'testing' to claude by metrics");
    expect(stdout).toContain(
      "| 1 | claude | chosen | 0.64 | metrics: 0.786 success (9/10 on 'testing', prior 2/4) - 0.100 latency (p50 60 s)",
    );
    expect(stdout).toContain(
      "| codex | excluded | 0.33 | metrics: 0.429 success (4/10 on 'testing', prior 2/4)",
    );
  });

  it("counts and skips corrupt lines with warnings, and still exits 0", async () => {
    const log = new LogBuilder();
    await runs(log, "aider", 3, 3, daysAgo(1));
    const lines = [...log.lines];
    lines.splice(1, 0, "{not json\n", lines[0]!.slice(0, 40) + "\n");
    const file = path.join(dir, "corrupt.jsonl");
    await writeFile(file, lines.join("") + '{"id":"truncated at the end');
    const { code, stdout, stderr } = await run([file, "--now", NOW, "--json"]);
    expect(code).toBe(0);
    expect(stderr).toBe(
      "warning: corrupt.jsonl:2: not valid JSON (truncated or corrupt line)\n" +
        "warning: corrupt.jsonl:3: not valid JSON (truncated or corrupt line)\n" +
        "warning: corrupt.jsonl:6: not valid JSON (truncated or corrupt line)\n",
    );
    const metrics = JSON.parse(stdout) as Metrics;
    expect(metrics.tools[0]).toMatchObject({ tool: "aider", attempts: 3, successes: 3 });
    expect(metrics.input).toMatchObject({ lines: 6, events: 3, skipped: 3 });
    expect(metrics.gaps).toContain(
      "3 corrupt or truncated lines skipped (first: corrupt.jsonl:2, not valid JSON (truncated or corrupt line))",
    );
  });

  it("gives a valid, clearly empty report when nothing falls in the window, and says where the events are", async () => {
    const { code, stdout, stderr } = await run([runsDir, "--now", "2027-01-01T00:00:00Z", "--window", "2w"]);
    expect(code).toBe(0);
    expect(stdout).toContain(
      "> No Switchyard activity between 2026-12-18 00:00 UTC and 2027-01-01 00:00 UTC.",
    );
    expect(stderr).toBe(
      "note: none of the 21 events falls between 2026-12-18T00:00:00.000Z and 2027-01-01T00:00:00.000Z; " +
        "set --now or a longer --window to look elsewhere\n",
    );
  });

  it("reports a path it cannot read as a warning and a gap when others can be read", async () => {
    const { code, stdout, stderr } = await run([runsDir, "nowhere", "--now", NOW, "--json"]);
    expect(code).toBe(0);
    expect(stderr).toBe("warning: nowhere: no such file or directory\n");
    expect((JSON.parse(stdout) as Metrics).gaps).toContain("nowhere: not read (no such file or directory)");
  });

  it("refuses with exit 1 when no event log or job log can be read", async () => {
    await mkdir(path.join(dir, "empty"), { recursive: true });
    const failure = run(["nowhere", "empty", "--now", NOW]);
    await expect(failure).rejects.toThrow(InputError);
    await expect(run(["nowhere", "empty", "--now", NOW])).rejects.toThrow(
      "no event log or job log could be read\n  nowhere: no such file or directory\n" +
        "  empty: no *.jsonl, *.log or *.txt files in this directory or below",
    );
  });

  it.each([
    [[], "expected at least one event log, job log or directory"],
    [
      ["x", "--window", "7 days"],
      "--window '7 days' is not a span such as 30m, 12h, 7d or 2w (at most 3650d)",
    ],
    [["x", "--window", "0d"], "--window '0d' is not a span"],
    [["x", "--now", "yesterday"], "--now 'yesterday' is not an ISO time such as 2026-03-01T12:00:00Z"],
    [["x", "--repository", "widgets"], "--repository 'widgets' is not owner/name"],
    [["x", "--bogus"], "Unknown option '--bogus'"],
  ])("refuses %j as a usage error", async (args, message) => {
    await expect(run(args)).rejects.toThrow(UsageError);
    await expect(run(args)).rejects.toThrow(message);
  });

  it("gives the same metrics.json with --full-validation as on the fast path", async () => {
    // Two weeks of generated runs (every event type, a truncated line every 100,000 lines).
    const file = path.join(dir, "generated.jsonl");
    const lines = await writeSyntheticLog(file, 3 * 1024 * 1024, 7);
    const fast = await run([file, "--now", "2026-03-01T12:00:00Z", "--json"]);
    const full = await run([file, "--now", "2026-03-01T12:00:00Z", "--json", "--full-validation"]);
    expect(full.stdout).toBe(fast.stdout);
    const metrics = JSON.parse(fast.stdout) as Metrics;
    expect(metrics.input?.lines).toBe(lines);
    expect(metrics.tools.filter((t) => t.capability === undefined).map((t) => t.tool)).toEqual([
      "aider",
      "claude",
      "codex",
      "gemini",
    ]);
    expect(metrics.recovery_summary?.flaky).toBeGreaterThan(0);
  });

  it("prints its usage with --help", async () => {
    const { code, stdout } = await run(["--help"]);
    expect(code).toBe(0);
    expect(stdout).toContain("Usage: switchyard analyze <path...> [options]");
  });
});

describe("parseWindow", () => {
  it.each([
    ["30m", 30 * 60_000],
    ["12h", 12 * 3_600_000],
    ["7d", 7 * 86_400_000],
    ["2w", 14 * 86_400_000],
    ["3", 3 * 86_400_000],
  ])("reads %s", (text, ms) => {
    expect(parseWindow(text)).toBe(ms);
  });
});
