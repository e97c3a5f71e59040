import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { loadConfig, type LoadedConfig } from "../config/load.js";
import { NameSchema, STRATEGIES, type Config, type Strategy } from "../config/schema.js";
import { InputError } from "../core/errors.js";
import { taskFromIssueFile } from "../core/task/issue-file.js";
import type { Task } from "../core/task/schema.js";
import { UsageError, type CliIO } from "./io.js";

/** Issue files are read whole, so refuse sizes no real issue has (GitHub caps bodies at 65,536 characters). */
export const MAX_INPUT_FILE_BYTES = 25 * 1024 * 1024;

export async function readInputFile(
  file: string,
  what: string,
  maxBytes = MAX_INPUT_FILE_BYTES,
): Promise<string> {
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

export interface TaskInputOptions {
  issueFile: string;
  repo?: string | undefined;
  config?: string | undefined;
  strategy?: string | undefined;
  tool?: string | undefined;
}

export interface TaskInput {
  task: Task;
  config: Config;
  loaded: LoadedConfig;
  repoDir: string;
}

/** The steps `route` and `run` share: the repository's config, the issue file, the task. */
export async function loadTaskInput(opts: TaskInputOptions, io: CliIO): Promise<TaskInput> {
  const issuePath = path.resolve(io.cwd, opts.issueFile);
  const repoDir = path.resolve(io.cwd, opts.repo ?? ".");
  const loaded = await loadConfig({
    repoDir,
    ...(opts.config !== undefined ? { configPath: path.resolve(io.cwd, opts.config) } : {}),
  });
  const config = withStrategy(loaded.config, opts.strategy);
  if (opts.tool !== undefined && !NameSchema.safeParse(opts.tool).success) {
    const names = config.tools.map((t) => t.name).join(", ");
    throw new UsageError(`--tool '${opts.tool}' is not a tool name; the tools are: ${names}`);
  }
  const text = await readInputFile(issuePath, "issue file");
  const task = taskFromIssueFile(path.relative(io.cwd, issuePath) || issuePath, text, config);
  return { task, config, loaded, repoDir };
}

function withStrategy(config: Config, strategy: string | undefined): Config {
  if (strategy === undefined) return config;
  if (!(STRATEGIES as readonly string[]).includes(strategy)) {
    throw new UsageError(`unknown strategy '${strategy}'; one of: ${STRATEGIES.join(", ")}`);
  }
  return { ...config, routing: { ...config.routing, strategy: strategy as Strategy } };
}

export function taskLines(task: Task): string[] {
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
