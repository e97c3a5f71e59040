/**
 * Errors a user can act on. Anything that takes outside data throws one of these (never a zod or
 * YAML stack trace); the doors turn them into an exit code, a check-run summary or a comment.
 */

export interface ProblemLocation {
  file: string;
  line?: number;
  column?: number;
  /** Dotted key path, e.g. "routing.chains.testing[1]". */
  path?: string;
}

export interface Problem extends ProblemLocation {
  message: string;
  /** A near-miss suggestion ("did you mean 'timeout_seconds'?") or the next step. */
  hint?: string;
}

export class SwitchyardError extends Error {
  override name = "SwitchyardError";
}

/** Input that was read and refused: a bad issue file, garbage task JSON, an unknown tool name. */
export class InputError extends SwitchyardError {
  override name = "InputError";
}

/** One or more problems in configuration files, each with file, line, column and key path. */
export class ConfigError extends SwitchyardError {
  override name = "ConfigError";
  constructor(readonly problems: Problem[]) {
    super(problems.map(formatProblem).join("\n"));
  }
}

export function formatLocation(p: ProblemLocation): string {
  let where = p.file;
  if (p.line !== undefined) where += `:${p.line}`;
  if (p.line !== undefined && p.column !== undefined) where += `:${p.column}`;
  return where;
}

export function formatProblem(p: Problem): string {
  const key = p.path ? ` ${p.path}:` : "";
  const hint = p.hint ? ` (${p.hint})` : "";
  return `${formatLocation(p)}:${key} ${p.message}${hint}`;
}
