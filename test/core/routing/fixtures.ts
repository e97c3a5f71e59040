import { ConfigSchema, type Config } from "../../../src/config/schema.js";
import { TaskSchema, type Task } from "../../../src/core/task/schema.js";

/** Shared builders: tests state only what they are about, the schemas fill in the rest. */

export const NOW = "2025-03-01T12:00:00Z";

export function makeTask(fields: Partial<Task> = {}): Task {
  return TaskSchema.parse({
    key: "octo/repo#12",
    kind: "issue",
    repository: { owner: "octo", name: "repo" },
    number: 12,
    title: "Cover the parser with tests",
    body: "",
    author: "alice",
    labels: ["switchyard"],
    capability: "testing",
    capability_source: "label",
    capability_reason: "label testing",
    prompt: "Cover the parser with tests",
    scope: [],
    risk: "low",
    constraints: [],
    depends_on: [],
    overrides: {},
    form: {},
    sources: {},
    sanitization: { removed: [], truncated: false, original_bytes: 0, kept_bytes: 0 },
    warnings: [],
    ...fields,
  });
}

export function tool(
  name: string,
  capabilities: string[] = ["testing"],
  extra: Record<string, unknown> = {},
) {
  return { name, command: name, capabilities, ...extra };
}

/** claude, codex and aider can test (in that chain order); gemini only writes documentation. */
export function makeConfig(routing: Record<string, unknown> = {}, tools?: unknown[]): Config {
  return ConfigSchema.parse({
    tools: tools ?? [
      tool("claude", ["testing", "code_generation"]),
      tool("codex"),
      tool("aider", ["testing"], { max_concurrency: 4 }),
      tool("gemini", ["documentation"]),
    ],
    routing: { chains: { testing: ["claude", "codex", "aider"] }, ...routing },
  });
}

/** Outcomes of one tool, one a minute from `start`, in the order given. */
export function outcomes(toolName: string, oks: boolean[], start = "2025-03-01T11:00:00Z") {
  const t0 = Date.parse(start);
  return oks.map((ok, i) => ({ tool: toolName, ok, at: new Date(t0 + i * 60_000).toISOString() }));
}
