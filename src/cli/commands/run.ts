import { appendFile, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { ulid } from "ulid";
import { EventLogWriter } from "../../core/events/log.js";
import { renderExecutionLine, renderExecutionReport } from "../../core/execution/report.js";
import type { ExecutionResult } from "../../core/execution/schema.js";
import { route } from "../../core/routing/route.js";
import { renderDecisionText } from "../../core/routing/render.js";
import type { RoutingDecision } from "../../core/routing/schema.js";
import { taskBranchName } from "../../core/task/slug.js";
import type { Task } from "../../core/task/schema.js";
import { executeTask } from "../../runner/execute.js";
import { GitCommandManager, resetToBase } from "../../runner/git.js";
import { LocalGitCommitPort } from "../../runner/local-commit.js";
import { EXIT, parseCommandArgs, UsageError, type CliIO, type Command } from "../io.js";
import { ProgressPrinter } from "../progress.js";
import { loadTaskInput, taskLines } from "../task-input.js";

const usage = `Usage: switchyard run <issue.md|issue.json> [options]

Runs the whole pipeline on a local git checkout: route the issue, run the chosen tool, check the
patch against the policy and the gates, fall back down the chain, and commit the winning patch to
the task's branch (switchyard/issue-<n>-<slug>) without touching the branch you have checked out.
Reports go to <repo>/.switchyard/runs/<id>/ (report.md, result.json, events.jsonl), which git is
told to ignore.

Options:
  --repo <dir>         the checkout to work in (default: the current directory); it must be clean
  --config <file>      the configuration override (default: <repo>/.github/switchyard.yml)
  --tool <name>        ask for a tool, as '/switchyard route <name>' would
  --strategy <name>    use this routing strategy instead of the configured one
  --dry-run            run tools and gates and report, but commit nothing; the winning patch is
                       left in the work tree to look at
  --push <remote>      also push the task branch to this remote (never forced)
  --json               print the execution result as JSON instead of progress
  -h, --help           show this help

Exit codes: 0 the task succeeded, 1 it did not (or the input was refused), 2 usage, 3 a bug.`;

/** Reports live in the checkout for people to find, but must never become part of a patch. */
async function ignoreReportsDir(git: GitCommandManager): Promise<void> {
  const exclude = path.resolve(git.dir, await git.gitPath("info/exclude"));
  const current = await readFile(exclude, "utf8").catch(() => "");
  if (current.split("\n").some((l) => l.trim() === "/.switchyard/")) return;
  await mkdir(path.dirname(exclude), { recursive: true });
  const sep = current === "" || current.endsWith("\n") ? "" : "\n";
  await appendFile(exclude, `${sep}# Switchyard's local run reports\n/.switchyard/\n`);
}

export interface LocalRun {
  task: Task;
  decision: RoutingDecision;
  result: ExecutionResult;
  repoDir: string;
  runDir: string;
}

export interface RunOptions {
  issueFile: string;
  repo?: string | undefined;
  config?: string | undefined;
  tool?: string | undefined;
  strategy?: string | undefined;
  dryRun?: boolean | undefined;
  push?: string | undefined;
  json?: boolean | undefined;
}

/** The local pipeline; `demo` calls it on a sample repository. */
export async function runLocal(opts: RunOptions, io: CliIO): Promise<LocalRun> {
  const { task, config, repoDir } = await loadTaskInput(opts, io);
  const git = await GitCommandManager.open(repoDir);
  const decision = route(task, config, {
    now: new Date().toISOString(),
    ...(opts.tool !== undefined ? { command_tool: opts.tool } : {}),
  });
  const runId = ulid();
  // Nothing is written into the checkout until the run is over, so this run's tools and gates
  // (a formatter run on ".", a gate that checks every file) never see its own reports.
  const eventLines: string[] = [];
  const events = new EventLogWriter({ write: (line) => void eventLines.push(line) }, { now: Date.now });
  await events.append({
    type: "task_created",
    task_key: task.key,
    run_id: runId,
    capability: task.capability,
    source: "cli",
  });
  await events.append({ type: "route_decided", task_key: task.key, run_id: runId, decision });

  const say = opts.json ? () => undefined : io.stdout;
  say([...taskLines(task), "", renderDecisionText(decision), ""].join("\n") + "\n");
  const branch = taskBranchName(task, config.execution.branch_prefix);
  const printer = new ProgressPrinter(say, io.isTTY && !opts.json);
  const start = await git.readHead();
  let result: ExecutionResult;
  try {
    result = await executeTask({
      task,
      decision,
      config,
      checkout: git.dir,
      env: io.env,
      runId,
      now: Date.now,
      events,
      onProgress: printer.onProgress,
      ...(opts.dryRun
        ? {}
        : {
            commit: {
              port: new LocalGitCommitPort(git, opts.push !== undefined ? { pushTo: opts.push } : {}),
              branch,
            },
          }),
    });
  } finally {
    printer.close();
  }
  // The patch is on the task branch now; leave the checkout as the user had it. A dry run keeps
  // the patch in the work tree instead, since there is nowhere else to look at it.
  if (result.commit_sha !== null) await resetToBase(git, start);
  const runDir = path.join(git.dir, ".switchyard", "runs", runId);
  await ignoreReportsDir(git);
  await mkdir(runDir, { recursive: true });
  const json = (value: unknown) => JSON.stringify(value, null, 2) + "\n";
  await Promise.all([
    writeFile(path.join(runDir, "report.md"), renderExecutionReport(result, { task, decision })),
    writeFile(path.join(runDir, "result.json"), json(result)),
    writeFile(path.join(runDir, "task.json"), json(task)),
    writeFile(path.join(runDir, "decision.json"), json(decision)),
    writeFile(path.join(runDir, "events.jsonl"), eventLines.join("")),
  ]);
  return { task, decision, result, repoDir: git.dir, runDir };
}

/** A path to show: relative when it is below the working directory, absolute otherwise. */
function shown(io: CliIO, target: string): string {
  const rel = path.relative(io.cwd, target);
  return rel === "" ? "." : rel.startsWith("..") ? target : rel;
}

export function summaryLines(run: LocalRun, io: CliIO): string[] {
  const { result } = run;
  const lines = ["", renderExecutionLine(result)];
  if (result.branch && result.commit_sha) {
    lines.push(`Branch:  ${result.branch} at ${result.commit_sha.slice(0, 12)}`);
    lines.push(`See it:  git -C ${shown(io, run.repoDir)} show --stat ${result.branch}`);
  }
  lines.push(`Report:  ${shown(io, path.join(run.runDir, "report.md"))}`);
  return lines;
}

export const runCommand: Command = {
  name: "run",
  summary: "route an issue and run the tool chain on a local checkout, committing to a branch",
  usage,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {
      repo: { type: "string" },
      config: { type: "string" },
      tool: { type: "string" },
      strategy: { type: "string" },
      "dry-run": { type: "boolean" },
      push: { type: "string" },
      json: { type: "boolean" },
    });
    if (values.help) {
      io.stdout(usage + "\n");
      return EXIT.ok;
    }
    if (positionals.length !== 1) throw new UsageError("expected exactly one issue file");
    const run = await runLocal({ issueFile: positionals[0]!, ...values, dryRun: values["dry-run"] }, io);
    if (values.json) io.stdout(JSON.stringify(run.result, null, 2) + "\n");
    else io.stdout(summaryLines(run, io).join("\n") + "\n");
    return run.result.outcome === "success" ? EXIT.ok : EXIT.rejected;
  },
};
