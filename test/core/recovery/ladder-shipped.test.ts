import { beforeAll, describe, expect, it } from "@jest/globals";
import { loadConfig } from "../../../src/config/load.js";
import type { Config } from "../../../src/config/schema.js";
import { LadderStateSchema, nextAction, type LadderEvent } from "../../../src/core/recovery/ladder.js";
import { readMarker, replaceMarker } from "../../../src/core/status-marker.js";
import { H1, H2, KEY, NOW } from "./ladder-fixtures.js";

/**
 * The ladder on the configuration Switchyard ships (config/switchyard.yml and config/tools), so a
 * change to the defaults that leaves a category without a working rung shows up here.
 */
let config: Config;
beforeAll(async () => {
  config = (await loadConfig()).config;
});

const failure = (category: string): LadderEvent =>
  ({ kind: "failed", head_sha: H1, category }) as LadderEvent;

describe("the ladder on the shipped defaults", () => {
  it.each([
    ["format", { kind: "run_fixers", tools: ["prettier", "ruff-format", "gofmt"] }],
    ["lint", { kind: "run_fixers", tools: ["eslint", "ruff", "prettier"] }],
    ["type", { kind: "run_ai", tool: "aider" }],
    ["test", { kind: "run_ai", tool: "aider" }],
    ["build", { kind: "run_ai", tool: "aider" }],
    ["flaky", { kind: "rerun_failed_jobs" }],
    ["infra", { kind: "rerun_failed_jobs" }],
  ])("starts a %s failure with %o", (category, action) => {
    expect(nextAction(null, { key: KEY, event: failure(category), now: NOW, config }).action).toEqual(action);
  });

  it("runs the shipped format fixers together, then reaches every AI tool", () => {
    const steps: string[] = [];
    let res = nextAction(null, { key: KEY, event: failure("format"), now: NOW, config });
    while (res.action.kind === "run_fixers" || res.action.kind === "run_ai") {
      const a = res.action;
      steps.push(a.kind === "run_fixers" ? a.tools.join("+") : a.tool);
      const event: LadderEvent = {
        kind: "step_result",
        result: "no_fix",
        ...(a.kind === "run_fixers" ? { tools: a.tools } : { tool: a.tool }),
        reason: "no changes",
      };
      res = nextAction(res.state, { key: KEY, event, now: NOW, config });
    }
    // Fixers that change nothing cost no attempt: the budget of 3 goes to the AI tools.
    expect(steps).toEqual(["prettier+ruff-format+gofmt", "aider", "codex", "claude"]);
    expect(res.action).toEqual({
      kind: "quarantine",
      reason: "'claude' made no fix: no changes; attempt cap reached: 3 of 3 attempts used on octo/repo#7",
    });
  });

  it("keeps its state in a status comment that another replica reads back", () => {
    const first = nextAction(null, { key: KEY, event: failure("format"), now: NOW, config });
    const body = replaceMarker(
      "### Switchyard is fixing CI\n\nprettier is running.",
      "recovery",
      first.state,
    );
    const read = readMarker(body, "recovery", LadderStateSchema);
    expect(read).toEqual({ ok: true, value: first.state });
    const event: LadderEvent = {
      kind: "step_result",
      result: "committed",
      tools: ["prettier", "ruff-format", "gofmt"],
      reason: "ok",
      commit_sha: H2,
    };
    const second = nextAction((read as { value: typeof first.state }).value, {
      key: KEY,
      event,
      now: NOW,
      config,
    });
    expect(second.action).toEqual({
      kind: "wait",
      reason: "the fixers (prettier, ruff-format, gofmt) committed 2222222: waiting for CI on it",
    });
  });
});
