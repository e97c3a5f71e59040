import path from "node:path";
import { loadConfig, loadDefaultSources } from "../../config/load.js";
import { formatProblem } from "../../core/errors.js";
import { EXIT, parseCommandArgs, UsageError, type Command } from "../io.js";

const usage = `Usage: switchyard validate [--config <file>] [--repo <dir>]

Loads the default configuration and the repository's override, validates both and reports every
problem with its file, line and key.

Options:
  --config <file>  the override to check (default: <repo>/.github/switchyard.yml if present)
  --repo <dir>     the repository to read (default: the current directory)
  -h, --help       show this help`;

export const validateCommand: Command = {
  name: "validate",
  summary: "check .github/switchyard.yml against the schema and the defaults",
  usage,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {
      config: { type: "string" },
      repo: { type: "string" },
    });
    if (values.help) {
      io.stdout(usage + "\n");
      return EXIT.ok;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const repoDir = path.resolve(io.cwd, values.repo ?? ".");
    const loaded = await loadConfig({
      repoDir,
      ...(values.config !== undefined ? { configPath: path.resolve(io.cwd, values.config) } : {}),
    });
    const { config } = loaded;
    const enabled = config.tools.filter((t) => t.enabled).map((t) => t.name);
    const defaults = (await loadDefaultSources()).length;
    const overrides = loaded.sources.slice(defaults);
    const layers =
      overrides.length > 0
        ? `the defaults + ${overrides.join(" + ")}`
        : `the defaults only; no ${path.join(path.relative(io.cwd, repoDir), ".github/switchyard.yml")}`;
    for (const warning of loaded.warnings) io.stderr(`warning: ${formatProblem(warning)}\n`);
    io.stdout(
      [
        `Configuration is valid (${layers}).`,
        `  tools:    ${enabled.join(", ")}`,
        `  strategy: ${config.routing.strategy}`,
        `  chains:   ${Object.entries(config.routing.chains)
          .map(([cap, chain]) => `${cap} -> ${chain.join(" > ")}`)
          .join("; ")}`,
      ].join("\n") + "\n",
    );
    return EXIT.ok;
  },
};
