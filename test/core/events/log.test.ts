import { describe, expect, it } from "@jest/globals";
import { EventLogWriter, readEvents, type ReadStats } from "../../../src/core/events/log.js";
import type { SwitchyardEvent } from "../../../src/core/events/schema.js";

function fixedClock(start = Date.parse("2026-11-21T10:00:00Z")) {
  let t = start;
  let r = 0;
  return { now: () => t, tick: (ms: number) => (t += ms), random: () => ((r = (r + 0.37) % 1), r) };
}

async function collect(chunks: Iterable<string | Uint8Array>, options = {}) {
  const stats: ReadStats = { lines: 0, events: 0, skipped: 0, warnings: [] };
  const events: SwitchyardEvent[] = [];
  for await (const e of readEvents(chunks, stats, options)) events.push(e);
  return { events, stats };
}

async function sampleLog() {
  const lines: string[] = [];
  const clock = fixedClock();
  const log = new EventLogWriter({ write: (l) => void lines.push(l) }, clock);
  await log.append({ type: "task_created", task_key: "o/r#1", capability: "testing", source: "label" });
  await log.append({
    type: "execute_finished",
    task_key: "o/r#1",
    tool: "aider",
    attempt: 1,
    outcome: "success",
    duration_ms: 1200,
    exit_code: 0,
  });
  clock.tick(5);
  await log.append({
    type: "alert",
    task_key: "o/r#1",
    kind: "heartbeat",
    state: "raised",
    message: "quiet — no runs for 7 days ✓ 😀",
  });
  return { lines, log };
}

describe("event log", () => {
  it("stamps sortable ids, ISO times and one JSON object per line", async () => {
    const { lines, log } = await sampleLog();
    expect(lines).toHaveLength(3);
    expect(lines.every((l) => l.endsWith("\n") && l.indexOf("\n") === l.length - 1)).toBe(true);
    const ids = log.written.map((e) => e.id);
    // Two events in the same millisecond still sort in write order (monotonic ULIDs).
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(3);
    expect(log.written[0]!.at).toBe("2026-11-21T10:00:00.000Z");
    expect(log.written[2]!.at).toBe("2026-11-21T10:00:00.005Z");
  });

  it("refuses to write an event of an unknown shape", async () => {
    const log = new EventLogWriter({ write: () => undefined }, fixedClock());
    await expect(
      log.append({ type: "execute_started", task_key: "o/r#1", tool: "Not A Name", attempt: 1 }),
    ).rejects.toThrow(/tool/);
  });

  it("reads back what it wrote, across arbitrary chunk boundaries and split UTF-8", async () => {
    const { lines, log } = await sampleLog();
    const bytes = new TextEncoder().encode(lines.join(""));
    for (const size of [1, 3, 7, 64, bytes.length]) {
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
      const { events, stats } = await collect(chunks);
      expect(events).toEqual(log.written);
      expect(stats).toEqual({ lines: 3, events: 3, skipped: 0, warnings: [] });
    }
  });

  it("counts and skips truncated, foreign and blank lines without stopping", async () => {
    const { lines } = await sampleLog();
    const text = [
      lines[0],
      '{"type":"task_created","task_key":"o/r#1"\n', // truncated upload
      "\n",
      '{"hello":"world"}\r\n',
      lines[1],
      lines[2]!.slice(0, 20), // last line cut mid-way, no newline
    ].join("");
    const { events, stats } = await collect([text]);
    expect(events.map((e) => e.type)).toEqual(["task_created", "execute_finished"]);
    expect(stats.lines).toBe(6);
    expect(stats.events).toBe(2);
    expect(stats.skipped).toBe(3);
    expect(stats.warnings).toEqual([
      { line: 2, error: "not valid JSON (truncated or corrupt line)" },
      { line: 4, error: expect.stringMatching(/^not a Switchyard event \(/) },
      { line: 6, error: "not valid JSON (truncated or corrupt line)" },
    ]);
  });

  it("skips an endless line without holding it, then carries on", async () => {
    const { lines } = await sampleLog();
    const flood = Array.from({ length: 50 }, () => "x".repeat(10_000));
    const { events, stats } = await collect([lines[0]!, ...flood, "\n", lines[1]!], { maxLineLength: 4096 });
    expect(events.map((e) => e.type)).toEqual(["task_created", "execute_finished"]);
    expect(stats.skipped).toBe(1);
    expect(stats.warnings[0]).toEqual({ line: 2, error: "longer than 4096 characters" });
  });
});
