import { ConfigSchema, ToolProfileSchema, type Config, type ToolProfile } from "../../src/config/schema.js";
import { EventLogWriter } from "../../src/core/events/log.js";
import { RoutingDecisionSchema, type RoutingDecision } from "../../src/core/routing/schema.js";
import { TaskSchema, type Task } from "../../src/core/task/schema.js";
import type { ExecuteInput, ProgressEvent } from "../../src/runner/execute.js";
import { fixture } from "./tool-fixtures.js";

/** Builders for executeTask tests: tasks, decisions, configurations and tool profiles over the fixtures. */

export const NODE = process.execPath;
export const TASK_KEY = "octo/app#12";

export function makeTask(overrides: Partial<Task> = {}): Task {
  return TaskSchema.parse({
    key: TASK_KEY,
    kind: "issue",
    repository: { owner: "octo", name: "app" },
    number: 12,
    title: "Fix the greeting",
    body: "The greeting is wrong.",
    author: "alice",
    labels: ["switchyard"],
    capability: "code_generation",
    capability_source: "default",
    capability_reason: "no label or form field named a capability",
    prompt: "Fix the greeting in src/app.txt",
    scope: [],
    risk: "low",
    constraints: [],
    depends_on: [],
    overrides: {},
    form: {},
    sources: {},
    sanitization: { removed: [], truncated: false, original_bytes: 22, kept_bytes: 22 },
    warnings: [],
    ...overrides,
  });
}

export function decisionFor(chain: string[], summary = "chosen by priority"): RoutingDecision {
  return RoutingDecisionSchema.parse({
    task_key: TASK_KEY,
    capability: "code_generation",
    strategy: "priority",
    tool: chain[0] ?? null,
    fallback: chain.slice(1),
    candidates: [],
    summary,
  });
}

/**
 * A tool profile over a fixture (or any command). The availability check runs `node --version`
 * unless told otherwise: most fixtures would take `--version` for a file name to edit.
 */
export function tool(
  name: string,
  fixtureName: string | null,
  args: string[] = [],
  overrides: Record<string, unknown> = {},
): ToolProfile {
  return ToolProfileSchema.parse({
    name,
    command: fixtureName === null ? NODE : fixture(fixtureName),
    args,
    capabilities: ["code_generation"],
    kind: "script",
    availability: { command: NODE, args: ["--version"] },
    ...overrides,
  });
}

/** A tool that runs a snippet of JavaScript with node in the checkout. */
export function script(name: string, code: string, overrides: Record<string, unknown> = {}): ToolProfile {
  return tool(name, null, ["-e", code], overrides);
}

export function gate(name: string, code: string, timeout_seconds = 60) {
  return { name, command: NODE, args: ["-e", code], timeout_seconds };
}

/** Fast, jitter-free retries so the expected backoff is plain arithmetic. */
export const RETRY = { base_delay_ms: 100, factor: 2, max_delay_ms: 250, jitter: 0, max_attempts: 6 };

export function makeConfig(
  tools: ToolProfile[],
  extra: { gates?: ReturnType<typeof gate>[]; retry?: Partial<typeof RETRY>; execution?: object } = {},
): Config {
  return ConfigSchema.parse({
    tools,
    retry: { ...RETRY, ...extra.retry },
    execution: { gates: extra.gates ?? [], ...extra.execution },
  });
}

export interface Harness {
  input: ExecuteInput;
  delays: number[];
  progress: ProgressEvent[];
  events: EventLogWriter;
}

/** The input executeTask needs around a checkout, recording backoffs, progress and events. */
export function harness(
  checkout: string,
  tools: ToolProfile[],
  chain: string[],
  options: {
    config?: Config;
    task?: Task;
    env?: NodeJS.ProcessEnv;
    commit?: ExecuteInput["commit"];
    signal?: AbortSignal;
    sleep?: (ms: number) => Promise<void>;
    secrets?: string[];
  } = {},
): Harness {
  const delays: number[] = [];
  const progress: ProgressEvent[] = [];
  let clock = Date.UTC(2025, 0, 1, 12, 0, 0);
  const events = new EventLogWriter({ write: () => undefined }, { now: () => clock });
  const input: ExecuteInput = {
    task: options.task ?? makeTask(),
    decision: decisionFor(chain),
    config: options.config ?? makeConfig(tools),
    checkout,
    env: options.env ?? testEnv(),
    commit: options.commit,
    events,
    runId: "run-1",
    now: () => (clock += 1000),
    sleep: async (ms) => {
      delays.push(ms);
      await options.sleep?.(ms);
    },
    onProgress: (p) => progress.push(p),
    signal: options.signal,
    secrets: options.secrets,
  };
  return { input, delays, progress, events };
}

/** What the fixtures need (PATH for node) plus git's identity, so a tool may commit. */
export function testEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const keep = [
    "PATH",
    "HOME",
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_NOSYSTEM",
    "GIT_TERMINAL_PROMPT",
  ];
  return { ...Object.fromEntries(keep.map((k) => [k, process.env[k]])), ...extra };
}
