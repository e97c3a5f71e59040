import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { AnalysisEvent } from "../../../src/core/analysis/aggregate.js";
import {
  checkEvent,
  findEventLogs,
  readEventLogs,
  skimUnread,
  type ReadEventLogsOptions,
} from "../../../src/runner/read-event-logs.js";
import { daysAgo, LogBuilder } from "./fixtures.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "switchyard-read-logs-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** One of every event type, as runs write them (with non-ASCII text to split across chunks). */
async function everyType(): Promise<LogBuilder> {
  const log = new LogBuilder();
  const t = daysAgo(1);
  const key = "acme/widgets#12";
  await log.add(t, {
    type: "task_created",
    task_key: key,
    run_id: "r1",
    capability: "testing",
    source: "label",
  });
  await log.add(t, {
    type: "route_decided",
    task_key: key,
    run_id: "r1",
    decision: {
      task_key: key,
      capability: "testing",
      strategy: "priority",
      tool: "claude",
      fallback: ["codex"],
      candidates: [
        { tool: "claude", score: 1, status: "chosen", reason: "priority: #1 — «first» 😀" },
        { tool: "codex", score: 0.5, status: "fallback", reason: "priority: #2" },
      ],
      summary: "Routed 'testing' to claude by priority; fallback: codex.",
    },
  });
  await log.add(t, { type: "task_held", task_key: key, blockers: ["acme/widgets#11"] });
  await log.add(t, { type: "execute_started", task_key: key, tool: "claude", attempt: 1 });
  await log.add(t, {
    type: "gate_finished",
    task_key: key,
    tool: "claude",
    attempt: 1,
    gate: { name: "test", exit_code: 0, timed_out: false, duration_ms: 12, output_tail: "ok ✓\n}" },
  });
  await log.run(t, { tool: "claude", task_key: key, capability: "testing", tokens: 10, cost_usd: 0.01 });
  await log.add(t, { type: "patch_committed", task_key: key, branch: "b", commit_sha: "abc", files: 2 });
  await log.step(t, { task_key: key, step: "rerun", category: "flaky", ok: null, signature: 'x "quoted" }' });
  await log.add(t, { type: "alert", task_key: key, kind: "heartbeat", state: "raised", message: "quiet ü" });
  return log;
}

async function read(text: string | Buffer, options: ReadEventLogsOptions = {}, name = "log.jsonl") {
  const file = path.join(dir, name);
  await writeFile(file, text);
  const events: AnalysisEvent[] = [];
  const stats = await readEventLogs([file], (e) => events.push(e), options);
  return { events, stats, file };
}

/** What the analysis reads of an event, for comparing the two paths. */
function essentials(e: AnalysisEvent) {
  const picked: Record<string, unknown> = { type: e.type, at: e.at, task_key: e.task_key };
  if (e.type === "execute_finished" || e.type === "task_created" || e.type === "recovery_step") {
    for (const [k, v] of Object.entries(e)) if (k !== "id" && k !== "run_id" && k !== "reason") picked[k] = v;
  }
  return picked;
}

describe("readEventLogs", () => {
  it("reads every event type the same way on the fast and the full path, whatever the chunk size", async () => {
    const log = await everyType();
    const full = await read(log.text(), { validation: "full" });
    expect(full.stats).toMatchObject({ files: 1, lines: 9, events: 9, skipped: 0, unreadable: [] });
    expect(full.stats.bytes).toBe(Buffer.byteLength(log.text()));
    for (const chunkBytes of [1, 3, 7, 64, 1 << 20]) {
      const fast = await read(log.text(), { chunkBytes });
      expect(fast.stats).toEqual(full.stats);
      expect(fast.events.map(essentials)).toEqual(full.events.map(essentials));
    }
  });

  it("counts, skips and names corrupt lines exactly as the full schema does", async () => {
    const log = await everyType();
    const good = log.lines;
    const lines = [
      good[0]!,
      good[1]!.slice(0, 200) + "\n", // truncated route decision
      "\n", // blank: not counted as corrupt
      "garbage\n",
      good[5]!.replace('"outcome":"success"', '"outcome":"won"'), // invalid outcome
      good[5]!.replace('"type":"execute_finished"', '"type":"execute_exploded"'), // unknown type
      good[3]!.trimEnd() + good[4]!, // two events run together
      "[1,2,3]\n",
      good[5]!.replace("\n", "\r\n"), // CRLF is fine
      good[8]!.slice(0, -3), // the last line, truncated, with no newline
    ];
    const text = lines.join("");
    const full = await read(text, { validation: "full" });
    const fast = await read(text, { chunkBytes: 16 });
    expect(fast.stats).toEqual(full.stats);
    expect(fast.stats).toMatchObject({ lines: 10, events: 2, skipped: 7 });
    expect(fast.stats.warnings.map((w) => w.line)).toEqual([2, 4, 5, 6, 7, 8, 10]);
    expect(fast.stats.warnings[0]).toEqual({
      file: fast.file,
      line: 2,
      error: "not valid JSON (truncated or corrupt line)",
    });
    expect(fast.stats.warnings[2]!.error).toMatch(/^not a Switchyard event \(outcome: /);
  });

  it("skips a line longer than the limit without holding it", async () => {
    const log = await everyType();
    const long = `{"id":"${"x".repeat(5000)}"}\n`;
    const text = log.lines[0]! + long + log.lines[5]!;
    for (const chunkBytes of [100, 1 << 20]) {
      const { stats, events } = await read(text, { chunkBytes, maxLineLength: 1000 });
      expect(stats).toMatchObject({ lines: 3, events: 2, skipped: 1 });
      expect(stats.warnings[0]).toMatchObject({ line: 2, error: "longer than 1000 characters" });
      expect(events.map((e) => e.type)).toEqual(["task_created", "execute_finished"]);
    }
  });

  it("measures the limit in characters, like the full path, not in bytes", async () => {
    const log = await everyType();
    // 400 three-byte characters: 1200 bytes but 400 characters, under a limit of 1000.
    const wide = log.lines[8]!.replace("quiet ü", "€".repeat(400));
    for (const chunkBytes of [50, 1 << 20]) {
      const fast = await read(wide, { chunkBytes, maxLineLength: 1000 });
      const full = await read(wide, { chunkBytes, maxLineLength: 1000, validation: "full" });
      expect(fast.stats).toEqual(full.stats);
      expect(fast.stats).toMatchObject({ events: 1, skipped: 0 });
    }
  });

  it("keeps only the first warnings and goes on to the next file after an unreadable one", async () => {
    const text = "bad\n".repeat(30);
    const file = path.join(dir, "bad.jsonl");
    await writeFile(file, text);
    const log = await everyType();
    const goodFile = path.join(dir, "good.jsonl");
    await writeFile(goodFile, log.text());
    const events: AnalysisEvent[] = [];
    const stats = await readEventLogs([file, dir, goodFile], (e) => events.push(e), { maxWarnings: 5 });
    expect(stats).toMatchObject({ files: 3, lines: 39, events: 9, skipped: 30 });
    expect(stats.warnings).toHaveLength(5);
    expect(stats.unreadable).toEqual([{ file: dir, error: "is a directory" }]);
  });

  it("decodes a byte order mark and multi-byte characters split across chunks", async () => {
    const log = await everyType();
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(log.text())]);
    const { events, stats } = await read(bytes, { chunkBytes: 5 });
    expect(stats.skipped).toBe(0);
    expect(events).toHaveLength(9);
  });
});

describe("the fast path's checks", () => {
  it("never drops an event the full schema keeps, and keeps more only in bodies it does not read", async () => {
    const log = await everyType();
    const variants: Record<string, unknown>[] = [];
    for (const line of log.lines) {
      const raw = JSON.parse(line) as Record<string, unknown>;
      variants.push(
        raw,
        { ...raw, at: "2026-02-30T00:00:00.000Z" },
        { ...raw, at: "2026-03-01T00:00:00+02:00" },
      );
      // Each field broken in turn: missing, a number, a string that is no name, null.
      for (const key of Object.keys(raw)) {
        for (const bad of [undefined, 42, "Bad Name", null]) variants.push({ ...raw, [key]: bad });
      }
    }
    const text = variants.map((v) => JSON.stringify(v)).join("\n") + "\n";
    const max = { maxWarnings: variants.length };
    const full = await read(text, { validation: "full", ...max }, "variants.jsonl");
    const fast = await read(text, max, "variants.jsonl");
    const skippedByFull = new Set(full.stats.warnings.map((w) => w.line));
    const skippedByFast = new Set(fast.stats.warnings.map((w) => w.line));
    expect(full.stats.skipped).toBeGreaterThan(100);
    for (const line of skippedByFast) expect(skippedByFull.has(line)).toBe(true);
    const keptMore = variants.filter((_, i) => skippedByFull.has(i + 1) && !skippedByFast.has(i + 1));
    for (const v of keptMore) {
      expect([
        "route_decided",
        "task_held",
        "execute_started",
        "gate_finished",
        "patch_committed",
        "alert",
      ]).toContain(v.type);
    }
    expect(checkEvent(JSON.parse(log.lines[5]!))).toMatchObject({ type: "execute_finished", tool: "claude" });
  });

  it("skims the types it does not read, and only whole lines of them", async () => {
    const log = await everyType();
    const types = log.lines.map((l) => skimUnread(l.trimEnd())?.type);
    expect(types).toEqual([
      undefined,
      "route_decided",
      "task_held",
      "execute_started",
      "gate_finished",
      undefined,
      "patch_committed",
      undefined,
      "alert",
    ]);
    const decision = log.lines[1]!.trimEnd();
    expect(skimUnread(decision)).toEqual({
      type: "route_decided",
      at: log.events[1]!.at,
      task_key: "acme/widgets#12",
    });
    // Cut anywhere, a decision line is refused unless the cut lands right after "}}".
    for (let cut = 1; cut < decision.length; cut++) {
      const piece = decision.slice(0, cut);
      if (skimUnread(piece) !== undefined) expect(piece.endsWith("}}")).toBe(true);
    }
    expect(skimUnread(log.lines[3]!.trimEnd() + log.lines[4]!.trimEnd())).toBeUndefined();
  });

  it("is as good as the full schema at catching truncated lines, to within cuts after a brace", async () => {
    const log = await everyType();
    // Every line cut at every length, one cut a line, read once by each path.
    const pieces = log.lines.flatMap((line) => {
      const text = line.trimEnd();
      return Array.from({ length: text.length - 1 }, (_, i) => text.slice(0, i + 1));
    });
    const text = pieces.join("\n") + "\n";
    const full = await read(text, { validation: "full", maxWarnings: pieces.length }, "cuts.jsonl");
    const fast = await read(text, { maxWarnings: pieces.length }, "cuts.jsonl");
    expect(full.stats.skipped).toBe(pieces.length);
    const caught = new Set(fast.stats.warnings.map((w) => w.line));
    const missed = pieces.filter((_, i) => !caught.has(i + 1));
    // Only cuts right after a brace of an event the analysis does not read slip through.
    for (const piece of missed) {
      expect(piece.endsWith("}")).toBe(true);
      expect(skimUnread(piece)).toBeDefined();
    }
    expect(missed.length).toBeLessThanOrEqual(2);
    expect(fast.events.map((e) => e.type)).not.toContain("execute_finished");
  });
});

describe("findEventLogs", () => {
  it("finds *.jsonl below directories in order, skips .git and node_modules, and names what is missing", async () => {
    const root = path.join(dir, "repo");
    const runs = path.join(root, ".switchyard", "runs");
    for (const d of ["01B", "01A", "01C"]) await mkdir(path.join(runs, d), { recursive: true });
    await writeFile(path.join(runs, "01B", "events.jsonl"), "");
    await writeFile(path.join(runs, "01A", "events.jsonl"), "");
    await writeFile(path.join(runs, "01A", "report.md"), "");
    await mkdir(path.join(root, "node_modules", "x"), { recursive: true });
    await writeFile(path.join(root, "node_modules", "x", "a.jsonl"), "");
    await mkdir(path.join(root, ".git"), { recursive: true });
    await writeFile(path.join(root, ".git", "b.jsonl"), "");
    await symlink(runs, path.join(root, "loop"));
    const single = path.join(dir, "named.log");
    await writeFile(single, "");

    const found = await findEventLogs(
      ["repo", "named.log", "missing.jsonl", "repo/.switchyard/runs/01C"],
      dir,
    );
    expect(found.files.map((f) => path.relative(dir, f))).toEqual([
      "repo/.switchyard/runs/01A/events.jsonl",
      "repo/.switchyard/runs/01B/events.jsonl",
      "named.log",
    ]);
    expect(found.problems).toEqual([
      { path: "missing.jsonl", error: "no such file or directory" },
      { path: "repo/.switchyard/runs/01C", error: "no *.jsonl files in this directory or below" },
    ]);
  });
});
