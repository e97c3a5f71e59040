import { describe, expect, it } from "@jest/globals";
import { analyzeEvents } from "../../../src/core/analysis/aggregate.js";
import { code, DASHBOARD_MARKER, renderDashboard } from "../../../src/core/analysis/dashboard.js";
import { buildMetrics } from "../../../src/core/analysis/metrics-file.js";
import { daysAgo, LogBuilder, NOW, runs, WEEK } from "./fixtures.js";

const week = { now: NOW, window_ms: WEEK };

async function busyWeek() {
  const log = new LogBuilder();
  await runs(log, "claude", 20, 18, daysAgo(6), { capability: "testing", duration_ms: 240_000 });
  await runs(log, "codex", 10, 6, daysAgo(6), { capability: "testing", duration_ms: 90_000 });
  await runs(log, "codex", 10, 4, daysAgo(13), { capability: "testing", duration_ms: 60_000 });
  await log.run(daysAgo(1), { tool: "aider", outcome: "tool_unavailable" });
  await log.step(daysAgo(2), {
    task_key: "acme/widgets#41",
    step: "rerun",
    category: "flaky",
    ok: true,
    signature: "T1",
  });
  await log.step(daysAgo(2), {
    task_key: "acme/widgets#42",
    step: "ai",
    category: "tests",
    ok: false,
    signature: "E1",
  });
  await log.step(daysAgo(2), {
    task_key: "acme/widgets#42",
    step: "ai",
    category: "tests",
    ok: true,
    signature: "E1",
  });
  return buildMetrics(analyzeEvents(log.events, week), {
    input: { files: 3, lines: 60, events: 58, skipped: 2 },
    gaps: ["workflow runs: not read (local analysis)"],
  });
}

/** The lines of the first fenced mermaid block that starts with `kind`. */
function mermaid(markdown: string, kind: string): string[] {
  const blocks = markdown.split("```mermaid\n").slice(1);
  const block = blocks.find((b) => b.startsWith(kind));
  if (!block) throw new Error(`no ${kind} block`);
  return block.slice(0, block.indexOf("```")).trimEnd().split("\n");
}

describe("renderDashboard", () => {
  it("starts with the marker and the window, and shows the headline figures with trends", async () => {
    const md = renderDashboard(await busyWeek(), { title: "Tool health" });
    const lines = md.split("\n");
    expect(lines.slice(0, 4)).toEqual([
      DASHBOARD_MARKER,
      "# Tool health",
      "",
      "**acme/widgets** · 2026-02-22 12:00 UTC – 2026-03-01 12:00 UTC (7 days) · generated 2026-03-01 12:00 UTC",
    ]);
    expect(md).toContain("| tool attempts | 30 | 10 | ▲ 20 |");
    // 24/30 now, 4/10 before.
    expect(md).toContain("| success rate | 80% | 40% | ▲ 40 pts |");
    expect(md).toContain("| runs skipped: tool unavailable | 1 of 31 |  |  |");
    expect(md).toContain("| turned green | 2 | 0 | ▲ 2 |");
  });

  it("has a row per tool and capability with interval, trend and durations", async () => {
    const md = renderDashboard(await busyWeek());
    expect(md).toContain(
      "| **claude** | all | 20 | 90% | 69.9%–97.2% | — | 4 min | 4 min | — | — |\n" +
        "|  | testing | 20 | 90% | 69.9%–97.2% | — | 4 min | 4 min | — | — |\n" +
        "| **codex** | all | 10 | 60% | 31.3%–83.2% | ▲ 20 pts | 90 s | 90 s | — | — |",
    );
    expect(md).toContain("| **aider** | all | 0 | — | — | — | — | — | — | — |");
  });

  it("draws the success rates and outcomes as mermaid charts GitHub renders", async () => {
    const md = renderDashboard(await busyWeek());
    expect(mermaid(md, "xychart-beta")).toEqual([
      "xychart-beta",
      '  title "Success rate by tool (%)"',
      '  x-axis ["claude", "codex"]',
      '  y-axis "success %" 0 --> 100',
      "  bar [90, 60]",
    ]);
    expect(mermaid(md, "pie")).toEqual([
      "pie title Outcomes of all runs",
      '  "success" : 24',
      '  "gate_failed" : 6',
      '  "tool_unavailable" : 1',
    ]);
  });

  it("charts only the twelve busiest tools", async () => {
    const log = new LogBuilder();
    for (let i = 0; i < 14; i++) await runs(log, `tool-${String(i).padStart(2, "0")}`, i + 1, 1, daysAgo(3));
    const chart = mermaid(renderDashboard(buildMetrics(analyzeEvents(log.events, week))), "xychart-beta");
    expect(chart[1]).toBe('  title "Success rate of the 12 busiest tools (%)"');
    const names = Array.from({ length: 12 }, (_, i) => `"tool-${String(i + 2).padStart(2, "0")}"`);
    expect(chart[2]).toBe(`  x-axis [${names.join(", ")}]`);
    expect(chart[4]).toBe(
      `  bar [${Array.from({ length: 12 }, (_, i) => Math.round(1000 / (i + 3)) / 10).join(", ")}]`,
    );
  });

  it("lists recovery, flaky tests, signatures, gaps and what was read", async () => {
    const md = renderDashboard(await busyWeek());
    expect(md).toContain("2 failures turned green after 1.5 steps on average (at most 2); 0 quarantines.");
    expect(md).toContain("| `tests` | `ai` | 2 | 50% | 0 |");
    expect(md).toContain("| `T1` | 1 |");
    expect(md).toContain(
      "| `E1` | `tests` | 2 | 2026-02-27 12:00 UTC | 2026-02-27 12:00 UTC |\n" +
        "| `T1` | `flaky` | 1 | 2026-02-27 12:00 UTC | 2026-02-27 12:00 UTC |",
    );
    expect(md).toContain("## Gaps\n\nNot in these figures:\n\n- workflow runs: not read (local analysis)\n");
    expect(md).toContain(
      "<sub>Read 3 files, 60 lines, 58 events (34 in this window, 10 in the previous one, 0 outside); " +
        "2 corrupt lines skipped.</sub>",
    );
  });

  it("says plainly when the window is empty, and still renders what is known", async () => {
    const log = new LogBuilder();
    await runs(log, "claude", 3, 2, daysAgo(10));
    const metrics = buildMetrics(analyzeEvents(log.events, week), {
      input: { files: 1, lines: 3, events: 3, skipped: 0 },
      gaps: ["workflow runs: not read (local analysis)"],
    });
    const md = renderDashboard(metrics);
    expect(md).toContain(
      "> No Switchyard activity between 2026-02-22 12:00 UTC and 2026-03-01 12:00 UTC.\n>\n" +
        "> The previous window (2026-02-15 12:00 UTC – 2026-02-22 12:00 UTC) had 3 runs.\n",
    );
    expect(md).not.toContain("## Tools");
    expect(md).not.toContain("```mermaid");
    expect(md).toContain("- workflow runs: not read (local analysis)");
    expect(renderDashboard(buildMetrics(analyzeEvents([], week)))).toBe(
      `${DASHBOARD_MARKER}\n# Switchyard dashboard\n\n` +
        "**local** · 2026-02-22 12:00 UTC – 2026-03-01 12:00 UTC (7 days) · generated 2026-03-01 12:00 UTC\n\n" +
        "> No Switchyard activity between 2026-02-22 12:00 UTC and 2026-03-01 12:00 UTC.\n",
    );
  });

  it("shows CI health with its trend when the window had workflow runs but no Switchyard event", () => {
    const metrics = {
      ...buildMetrics(analyzeEvents([], week), {
        repository: "acme/widgets",
        input: { files: 0, lines: 0, events: 0, skipped: 0 },
      }),
      workflows: [
        {
          name: "CI",
          runs: 10,
          failures: 3,
          failure_rate: 0.3,
          previous: { runs: 8, failures: 1, failure_rate: 0.125 },
        },
        {
          name: "Docs",
          runs: 2,
          failures: 0,
          failure_rate: 0,
          previous: { runs: 0, failures: 0, failure_rate: null },
        },
      ],
    };
    const md = renderDashboard(metrics);
    expect(md).toContain(
      "> No Switchyard activity between 2026-02-22 12:00 UTC and 2026-03-01 12:00 UTC; " +
        "the repository's CI health is below.\n",
    );
    expect(md).toContain(
      "## CI health\n\n" +
        "| workflow | runs | failures | failure rate | previous window | change |\n" +
        "| --- | ---: | ---: | ---: | ---: | ---: |\n" +
        "| CI | 10 | 3 | 30% | 12.5% of 8 | ▲ 17.5 pts |\n" +
        "| Docs | 2 | 0 | 0% | — of 0 | — |\n",
    );
    expect(md).not.toContain("## Summary");
    expect(md).not.toContain("## Tools");
  });

  it("says the window is empty only when it had neither events nor workflow runs", () => {
    const metrics = {
      ...buildMetrics(analyzeEvents([], week), { input: { files: 0, lines: 0, events: 0, skipped: 0 } }),
      workflows: [
        {
          name: "CI",
          runs: 0,
          failures: 0,
          failure_rate: null,
          previous: { runs: 4, failures: 0, failure_rate: 0 },
        },
      ],
    };
    const md = renderDashboard(metrics);
    expect(md).toContain("> No Switchyard activity between 2026-02-22 12:00 UTC and 2026-03-01 12:00 UTC.\n");
    expect(md).not.toContain("## CI health");
  });

  it("shows outside text as code, so it cannot ping, inject markup or break a table", async () => {
    const log = new LogBuilder();
    const nasty = "FAIL `a|b` @octocat <img src=x onerror=alert(1)>\n![x](https://evil.example)";
    await log.step(daysAgo(1), { step: "ai", category: "tests | @team", ok: false, signature: nasty });
    const md = renderDashboard(buildMetrics(analyzeEvents(log.events, week)));
    expect(md).toContain(
      "| ``FAIL `a\\|b` @octocat <img src=x onerror=alert(1)> ![x](https://evil.example)`` | `tests \\| @team` | 1 |",
    );
    const row = md.split("\n").find((l) => l.includes("FAIL"))!;
    // Every pipe in the row is a cell border or escaped.
    expect(row.replace(/\\\|/g, "").split("|").length - 1).toBe(6);
  });
});

describe("code", () => {
  it.each([
    ["plain", "`plain`"],
    // A code span that ends in a backtick needs a space before the closing fence.
    ["has `ticks`", "`` has `ticks` ``"],
    ["`starts", "`` `starts ``"],
    ["a|b", "`a\\|b`"],
    ["  spaced\n\tout  ", "`spaced out`"],
    ["", ""],
  ])("renders %j as %j", (input, expected) => {
    expect(code(input)).toBe(expected);
  });

  it("cuts long text with an ellipsis", () => {
    expect(code("x".repeat(200), 10)).toBe("`xxxxxxxxx…`");
  });
});
