import { parseArgs, type ParseArgsConfig } from "node:util";

/** The CLI's view of the process, injected so commands run in-process in tests. */
export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** True when stdout is a terminal: tables for people, markdown or JSON for pipes. */
  isTTY: boolean;
}

/** Wrong words on the command line: exit 2 with the command's usage. */
export class UsageError extends Error {
  override name = "UsageError";
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(args: string[], io: CliIO): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** parseArgs with errors turned into UsageError, so a typo prints usage instead of a stack. */
export function parseCommandArgs<O extends Options>(args: string[], options: O) {
  try {
    return parseArgs({
      args,
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(
      error instanceof Error ? error.message.replace(/\. To specify .*$/s, ".") : String(error),
    );
  }
}

export const EXIT = { ok: 0, rejected: 1, usage: 2, internal: 3 } as const;
