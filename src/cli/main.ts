import { ConfigError, InputError, SwitchyardError } from "../core/errors.js";
import { EXIT, UsageError, type CliIO, type Command } from "./io.js";
import { validateCommand } from "./commands/validate.js";
import { routeCommand } from "./commands/route.js";
import { schemaCommand } from "./commands/schema.js";
import { runCommand } from "./commands/run.js";
import { demoCommand } from "./commands/demo.js";
import { analyzeCommand } from "./commands/analyze.js";
import { classifyCommand } from "./commands/classify.js";
import { statusCommand } from "./commands/status.js";

const COMMANDS: Command[] = [
  demoCommand,
  runCommand,
  routeCommand,
  analyzeCommand,
  statusCommand,
  classifyCommand,
  validateCommand,
  schemaCommand,
];

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "switchyard: route GitHub issues to AI coding tools, locally or on GitHub.",
    "",
    "Usage: switchyard <command> [options]",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Run 'switchyard <command> --help' for a command's options.",
    "Exit codes: 0 ok, 1 input rejected, 2 usage error, 3 internal error.",
  ].join("\n");
}

/**
 * Runs one command and returns its exit code. Every error a user can cause becomes a message and
 * an exit code here; only a bug in Switchyard shows a stack, and only with SWITCHYARD_DEBUG set.
 */
export async function main(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    io.stdout(overview() + "\n");
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === "--version" || name === "-V") {
    io.stdout(`${await packageVersion()}\n`);
    return EXIT.ok;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    io.stderr(`switchyard: unknown command '${name}'.\n\n${overview()}\n`);
    return EXIT.usage;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`switchyard ${command.name}: ${error.message}\n\n${command.usage}\n`);
      return EXIT.usage;
    }
    if (error instanceof ConfigError) {
      io.stderr(`switchyard ${command.name}: invalid configuration\n${error.message}\n`);
      return EXIT.rejected;
    }
    if (error instanceof InputError || error instanceof SwitchyardError) {
      io.stderr(`switchyard ${command.name}: ${error.message}\n`);
      return EXIT.rejected;
    }
    const detail = io.env.SWITCHYARD_DEBUG && error instanceof Error ? `\n${error.stack}` : "";
    io.stderr(
      `switchyard ${command.name}: internal error: ${error instanceof Error ? error.message : String(error)}${detail}\n` +
        "This is a bug in Switchyard; set SWITCHYARD_DEBUG=1 for the stack and report it.\n",
    );
    return EXIT.internal;
  }
}

async function packageVersion(): Promise<string> {
  const { readFile } = await import("node:fs/promises");
  const pkg = JSON.parse(await readFile(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

export function processIO(): CliIO {
  return {
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
    // `npm run switchyard -- ...` runs in the package folder; INIT_CWD is where the user typed it.
    cwd: process.env.INIT_CWD ?? process.cwd(),
    env: process.env,
    isTTY: Boolean(process.stdout.isTTY),
  };
}
