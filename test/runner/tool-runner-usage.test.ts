import { describe, expect, it } from "@jest/globals";
import { ConfigError } from "../../src/core/errors.js";
import { compileUsagePatterns, parseNumber, parseUsage, usageFromJson } from "../../src/runner/usage.js";

type Output = { format: "text" | "json" | "jsonl"; tokens_pattern?: string; cost_pattern?: string };
const tool = (output: Output) => ({ name: "t", output });

describe("parseNumber", () => {
  it.each([
    ["42", 42],
    ["1,234", 1234],
    ["1,234,567.5", 1234567.5],
    ["1.2k", 1200],
    ["3K", 3000],
    ["2.5M", 2_500_000],
    ["$0.0123", 0.0123],
    [".5", 0.5],
    [" 7 ", 7],
  ])("%s -> %d", (text, n) => expect(parseNumber(text)).toBe(n));

  it.each(["", "abc", "1.2.3", "12,34", "-5", "1e3x"])("%j is not a number", (text) => {
    expect(parseNumber(text)).toBeNull();
  });
});

describe("text patterns", () => {
  const aider = tool({
    format: "text",
    tokens_pattern: "Tokens: ([0-9.,]+[kM]?) sent, ([0-9.,]+[kM]?) received",
    cost_pattern: "Cost: \\$[0-9.]+ message, \\$([0-9.]+) session",
  });

  it("reads the last report and adds up the groups", () => {
    const tail = [
      "Tokens: 2.0k sent, 100 received. Cost: $0.01 message, $0.01 session.",
      "Applied edit to a.ts",
      "Tokens: 3.0k sent, 42 received. Cost: $0.0063 message, $0.0163 session.",
      "",
    ].join("\n");
    expect(parseUsage(aider, { tail })).toEqual({ tokens: 3042, costUsd: 0.0163 });
  });

  it("returns nulls when nothing matches", () => {
    expect(parseUsage(aider, { tail: "no usage here\n" })).toEqual({ tokens: null, costUsd: null });
  });

  it("skips groups that did not take part in the match", () => {
    const p = tool({ format: "text", tokens_pattern: "total (\\d+)|in (\\d+)" });
    expect(parseUsage(p, { tail: "in 10\ntotal 99\n" })).toEqual({ tokens: 99, costUsd: null });
  });

  it("applies patterns to JSON output too, as the shipped Claude profile does", () => {
    const claude = tool({
      format: "json",
      cost_pattern: '"total_cost_usd"\\s*:\\s*([0-9.]+(?:[eE][-+]?[0-9]+)?)',
    });
    const line = JSON.stringify({
      type: "result",
      total_cost_usd: 0.25,
      usage: { input_tokens: 5, output_tokens: 6 },
    });
    // The pattern gives the cost; the JSON fields fill in the tokens it does not read.
    expect(parseUsage(claude, { tail: line + "\n" })).toEqual({ tokens: 11, costUsd: 0.25 });
  });

  it("refuses a pattern that is not a regular expression or has no group", () => {
    expect(() => compileUsagePatterns(tool({ format: "text", tokens_pattern: "Tokens: (" }))).toThrow(
      ConfigError,
    );
    expect(() => compileUsagePatterns(tool({ format: "text", tokens_pattern: "Tokens: (" }))).toThrow(
      "tool profile 't': output.tokens_pattern: is not a valid regular expression",
    );
    expect(() => compileUsagePatterns(tool({ format: "text", cost_pattern: "Cost: \\$[0-9.]+" }))).toThrow(
      "tool profile 't': output.cost_pattern: has no capture group",
    );
    // A non-capturing group is not a capture group.
    expect(() => compileUsagePatterns(tool({ format: "text", cost_pattern: "(?:Cost) \\d+" }))).toThrow(
      "has no capture group",
    );
  });
});

describe("JSON output", () => {
  it("reads Claude Code's result fields", () => {
    expect(
      usageFromJson({
        total_cost_usd: 0.5,
        usage: {
          input_tokens: 1,
          cache_creation_input_tokens: 2,
          cache_read_input_tokens: 3,
          output_tokens: 4,
        },
      }),
    ).toEqual({ tokens: 10, costUsd: 0.5 });
  });

  it("prefers a reported total over adding up parts, and ignores cached_input_tokens (already in input_tokens)", () => {
    expect(usageFromJson({ usage: { total_tokens: 77, input_tokens: 1 } })).toEqual({
      tokens: 77,
      costUsd: null,
    });
    expect(
      usageFromJson({ usage: { input_tokens: 100, cached_input_tokens: 90, output_tokens: 5 } }),
    ).toEqual({
      tokens: 105,
      costUsd: null,
    });
  });

  it("adds up Gemini CLI's per-model totals", () => {
    expect(
      usageFromJson({
        stats: { models: { a: { tokens: { total: 5 } }, b: { tokens: { total: 6 } }, c: {} } },
      }),
    ).toEqual({ tokens: 11, costUsd: null });
  });

  it("ignores values that are not non-negative numbers", () => {
    expect(usageFromJson({ cost: "0.5", total_cost_usd: -1, usage: { input_tokens: "9" } })).toEqual({
      tokens: null,
      costUsd: null,
    });
    expect(usageFromJson([1, 2])).toEqual({ tokens: null, costUsd: null });
  });

  it("finds the summary in the last stdout line, in JSON Lines, or in a pretty-printed object", () => {
    const json = tool({ format: "json" });
    const big = JSON.stringify({ result: "x".repeat(100), total_cost_usd: 1.5 });
    // The line is longer than the tail the runner kept; lastLine has it whole.
    expect(parseUsage(json, { tail: big.slice(-40), lastLine: big })).toEqual({ tokens: null, costUsd: 1.5 });

    const jsonl = tool({ format: "jsonl" });
    const events = [
      JSON.stringify({ type: "turn.completed", usage: { input_tokens: 10, output_tokens: 1 } }),
      "not json",
      JSON.stringify({ type: "turn.completed", usage: { input_tokens: 20, output_tokens: 2 } }),
      JSON.stringify({ type: "item.completed" }),
    ].join("\n");
    expect(parseUsage(jsonl, { tail: events })).toEqual({ tokens: 22, costUsd: null });

    const pretty =
      "log line\n" + JSON.stringify({ stats: { models: { m: { tokens: { total: 9 } } } } }, null, 2);
    expect(parseUsage(json, { tail: pretty })).toEqual({ tokens: 9, costUsd: null });
  });

  it("does not read JSON when the format is text", () => {
    expect(parseUsage(tool({ format: "text" }), { tail: JSON.stringify({ total_cost_usd: 1 }) })).toEqual({
      tokens: null,
      costUsd: null,
    });
  });
});
