import path from "node:path";
import { STRATEGIES } from "../../config/schema.js";
import { InputError } from "../../core/errors.js";
import { metricsToSignals, parseMetrics } from "../../core/analysis/metrics-file.js";
import { route } from "../../core/routing/route.js";
import { renderDecisionTable, renderDecisionText } from "../../core/routing/render.js";
import type { Signals } from "../../core/routing/schema.js";
import { EXIT, parseCommandArgs, UsageError, type CliIO, type Command } from "../io.js";
import { loadTaskInput, readInputFile, taskLines } from "../task-input.js";

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

async function readMetrics(file: string): Promise<Signals["metrics"]> {
  const text = await readInputFile(file, "metrics file");
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new InputError(`metrics file ${file} is not JSON`);
  }
  return metricsToSignals(parseMetrics(raw, `metrics file ${file}`));
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
    const { task, config } = await loadTaskInput(
      {
        issueFile: positionals[0]!,
        repo: values.repo,
        config: values.config,
        strategy: values.strategy,
        tool: values.tool,
      },
      io,
    );
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
