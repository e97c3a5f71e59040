import { describe, expect, it } from "@jest/globals";
import { renderDecisionTable, renderDecisionText } from "../../../src/core/routing/render.js";
import { route } from "../../../src/core/routing/route.js";
import type { RoutingDecision } from "../../../src/core/routing/schema.js";
import { makeConfig, makeTask, NOW } from "./fixtures.js";

const decision = () =>
  route(makeTask(), makeConfig({ max_fallbacks: 1 }), {
    now: NOW,
    availability: { codex: "probe said: missing | binary\nsee the docs" },
  });

const none: RoutingDecision = {
  task_key: "octo/repo#12",
  capability: "testing",
  strategy: "priority",
  tool: null,
  fallback: [],
  candidates: [{ tool: "aider", score: null, status: "excluded", exclusion: "disabled", reason: "disabled" }],
  summary: "No tool can take 'testing':\naider disabled.",
};

describe("renderDecisionTable", () => {
  it("puts the summary above a markdown table of every candidate", () => {
    expect(renderDecisionTable(decision())).toBe(
      [
        "Routed 'testing' to claude by priority; fallback: aider.",
        "",
        "| # | Tool | Status | Score | Reason |",
        "|---:|---|---|---:|---|",
        "| 1 | claude | chosen | 1.00 | priority: #1 in the 'testing' chain |",
        "| 2 | aider | fallback | 0.50 | priority: #3 in the 'testing' chain |",
        "| 3 | codex | excluded | — | unavailable (probe said: missing \\| binary see the docs) |",
        "| 4 | gemini | excluded | — | not capable of 'testing' (declares documentation) |",
      ].join("\n"),
    );
  });

  it("keeps the summary on one line when no tool was chosen", () => {
    expect(renderDecisionTable(none)).toBe(
      [
        "No tool can take 'testing': aider disabled.",
        "",
        "| # | Tool | Status | Score | Reason |",
        "|---:|---|---|---:|---|",
        "| 1 | aider | excluded | — | disabled |",
      ].join("\n"),
    );
  });
});

describe("renderDecisionText", () => {
  it("aligns plain columns for a terminal", () => {
    expect(renderDecisionText(decision())).toBe(
      [
        "Routed 'testing' to claude by priority; fallback: aider.",
        "",
        "#  TOOL    STATUS    SCORE  REASON",
        "1  claude  chosen    1.00   priority: #1 in the 'testing' chain",
        "2  aider   fallback  0.50   priority: #3 in the 'testing' chain",
        "3  codex   excluded  —      unavailable (probe said: missing | binary see the docs)",
        "4  gemini  excluded  —      not capable of 'testing' (declares documentation)",
      ].join("\n"),
    );
  });

  it("rounds scores to two places", () => {
    const scored: RoutingDecision = {
      ...none,
      tool: "aider",
      candidates: [{ tool: "aider", score: 0.93269, status: "chosen", reason: "metrics" }],
      summary: "Routed.",
    };
    expect(renderDecisionText(scored).split("\n").at(-1)).toBe("1  aider  chosen  0.93   metrics");
  });
});
