import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { loadConfig } from "../../config/load.js";
import { NameSchema, STRATEGIES, type Config, type Strategy } from "../../config/schema.js";
import { InputError } from "../../core/errors.js";
import { MetricsSchema } from "../../core/metrics/schema.js";
import { route } from "../../core/routing/route.js";
import { renderDecisionTable, renderDecisionText } from "../../core/routing/render.js";
import type { Signals } from "../../core/routing/schema.js";
import { taskFromIssueFile } from "../../core/task/issue-file.js";
import type { Task } from "../../core/task/schema.js";
import { EXIT, parseCommandArgs, UsageError, type CliIO, type Command } from "../io.js";

const usage = `Usage: switchyard route <issue.md|issue.json> [options]

Builds a task from an issue file and shows which tool Switchyard would route it to, the fallback
chain and the reason for every candidate. Nothing is run and GitHub is not needed.

Arguments:
  issue.md     a markdown issue: optional YAML front matter (number, repository, labels, author),
               a '# Title' line, then the body
  issue.json   a GitHub issue object or an issues webhook payload

Options:
  --config <file>      the repository override (default: <repo>/.github/switchyard.yml if present)
  --repo <dir>         the repository whose configuration applies (default: the current directory)
  --tool <name>        ask for a tool, as '/switchyard route <name>' would
  --strategy <name>    use this strategy instead of the configured one (${STRATEGIES.join(", ")})
  --metrics <file>     a metrics.json from 'switchyard analyze' for the metrics strategy
  --json               print the task and the decision as JSON
  -h, --help           show this help`;

/** Issue files are read whole, so refuse sizes no real issue has (GitHub caps bodies at 65,536 characters). */
const MAX_ISSUE_FILE_BYTES = 25 * 1024 * 1024;

async function readInput(file: string, what: string, maxBytes: number): Promise<string> {
  let size: number;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new InputError(`${what} ${file} is not a file`);
    size = info.size;
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError(
      `cannot read ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? "unreadable"}`,
    );
  }
  if (size > maxBytes) throw new InputError(`${what} ${file} is ${size} bytes; the limit is ${maxBytes}`);
  return readFile(file, "utf8");
}

async function readMetrics(file: string): Promise<Signals["metrics"]> {
  const text = await readInput(file, "metrics file", MAX_ISSUE_FILE_BYTES);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new InputError(`metrics file ${file} is not JSON`);
  }
  const parsed = MetricsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(
      `metrics file ${file} is not a Switchyard metrics.json (${issue?.path.join(".") || "root"}: ${issue?.message})`,
    );
  }
  return parsed.data.tools.map((t) => ({
    tool: t.tool,
    ...(t.capability !== undefined ? { capability: t.capability } : {}),
    attempts: t.attempts,
    successes: t.successes,
    p50_ms: t.p50_ms,
    cost: t.cost,
  }));
}

function taskLines(task: Task): string[] {
  const lines = [
    `Task ${task.key}: ${task.title}`,
    `  capability: ${task.capability} (${task.capability_source}: ${task.capability_reason})`,
  ];
  if (task.scope.length > 0) lines.push(`  scope:      ${task.scope.join(", ")}`);
  if (task.depends_on.length > 0) {
    const deps = task.depends_on.map((d) => `${d.owner}/${d.name}#${d.number}`).join(", ");
    lines.push(`  depends on: ${deps} (on GitHub the task waits until these are closed)`);
  }
  for (const w of task.warnings) lines.push(`  warning:    ${w}`);
  const removed = task.sanitization.removed.map((r) => `${r.count} ${r.kind.replace(/_/g, " ")}`);
  if (removed.length > 0) lines.push(`  sanitised:  removed ${removed.join(", ")}`);
  if (task.sanitization.truncated)
    lines.push(`  sanitised:  body cut to ${task.sanitization.kept_bytes} bytes`);
  return lines;
}

function withStrategy(config: Config, strategy: string | undefined): Config {
  if (strategy === undefined) return config;
  if (!(STRATEGIES as readonly string[]).includes(strategy)) {
    throw new UsageError(`unknown strategy '${strategy}'; one of: ${STRATEGIES.join(", ")}`);
  }
  return { ...config, routing: { ...config.routing, strategy: strategy as Strategy } };
}

export const routeCommand: Command = {
  name: "route",
  summary: "show which tool an issue would be routed to, and why",
  usage,
  async run(args, io: CliIO) {
    const { values, positionals } = parseCommandArgs(args, {
      config: { type: "string" },
      repo: { type: "string" },
      tool: { type: "string" },
      strategy: { type: "string" },
      metrics: { type: "string" },
      json: { type: "boolean" },
    });
    if (values.help) {
      io.stdout(usage + "\n");
      return EXIT.ok;
    }
    if (positionals.length !== 1) throw new UsageError("expected exactly one issue file");
    const issuePath = path.resolve(io.cwd, positionals[0]!);
    const repoDir = path.resolve(io.cwd, values.repo ?? ".");

    const loaded = await loadConfig({
      repoDir,
      ...(values.config !== undefined ? { configPath: path.resolve(io.cwd, values.config) } : {}),
    });
    const config = withStrategy(loaded.config, values.strategy);
    if (values.tool !== undefined && !NameSchema.safeParse(values.tool).success) {
      const names = config.tools.map((t) => t.name).join(", ");
      throw new UsageError(`--tool '${values.tool}' is not a tool name; the tools are: ${names}`);
    }
    const text = await readInput(issuePath, "issue file", MAX_ISSUE_FILE_BYTES);
    const task = taskFromIssueFile(path.relative(io.cwd, issuePath) || issuePath, text, config);
    const signals: Signals = {
      now: new Date().toISOString(),
      ...(values.tool !== undefined ? { command_tool: values.tool } : {}),
      ...(values.metrics !== undefined
        ? { metrics: await readMetrics(path.resolve(io.cwd, values.metrics)) }
        : {}),
    };
    const decision = route(task, config, signals);

    if (values.json) {
      io.stdout(JSON.stringify({ task, decision }, null, 2) + "\n");
    } else if (io.isTTY) {
      io.stdout([...taskLines(task), "", renderDecisionText(decision)].join("\n") + "\n");
    } else {
      io.stdout([...taskLines(task), "", renderDecisionTable(decision)].join("\n") + "\n");
    }
    return EXIT.ok;
  },
};
