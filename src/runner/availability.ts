import type { ToolProfile } from "../config/schema.js";
import { isSet, toolEnv, toolSecrets } from "./tool-env.js";
import { runCommand, runTool, type RunToolOptions, type ToolRunResult } from "./tool-runner.js";

/**
 * Whether a tool can run here, asked before it is given a task. An unavailable tool is skipped
 * with its reason (the router moves down the chain), never a fatal error: a repository that
 * configures aider on a runner without aider still gets its task done by the next tool.
 *
 * Reasons name variables, never their values.
 */

export type Availability = { available: true; version?: string } | { available: false; reason: string };

export interface AvailabilityOptions {
  /** Where the check runs: the checkout, for scripts that live in it. Default: this process's cwd. */
  cwd?: string;
  signal?: AbortSignal;
  /** Between SIGTERM and SIGKILL when the check overruns. */
  graceMs?: number;
}

const MAX_REASON_CHARS = 300;

function firstLine(text: string): string {
  const line = text.split(/\r?\n/).find((l) => l.trim() !== "") ?? "";
  const trimmed = line.trim();
  return trimmed.length > MAX_REASON_CHARS ? trimmed.slice(0, MAX_REASON_CHARS) + "…" : trimmed;
}

function listNames(names: readonly string[]): string {
  return names.join(", ");
}

export async function checkAvailability(
  profile: ToolProfile,
  env: NodeJS.ProcessEnv,
  opts: AvailabilityOptions = {},
): Promise<Availability> {
  if (!profile.enabled) return { available: false, reason: "disabled in the configuration (enabled: false)" };

  const missing = profile.env.filter((name) => !isSet(env, name));
  if (missing.length > 0) {
    return { available: false, reason: `needs ${listNames(missing)} (not set)` };
  }
  if (profile.env_any_of.length > 0 && !profile.env_any_of.some((name) => isSet(env, name))) {
    return { available: false, reason: `needs one of ${listNames(profile.env_any_of)} (none is set)` };
  }

  const command = profile.availability.command ?? profile.command;
  const args = profile.availability.args;
  const shown = [command, ...args].join(" ");
  const result = await runCommand(command, args, {
    cwd: opts.cwd ?? process.cwd(),
    env: toolEnv(profile, env).env,
    timeoutMs: profile.availability.timeout_seconds * 1000,
    graceMs: opts.graceMs ?? 1_000,
    signal: opts.signal,
    secrets: toolSecrets(profile, env),
    captureBytes: { head: 4096, tail: 0 },
  });
  if (result.error !== undefined) return { available: false, reason: result.error };
  if (result.cancelled) return { available: false, reason: `\`${shown}\` was cancelled` };
  if (result.timedOut) {
    return {
      available: false,
      reason: `\`${shown}\` did not finish within ${profile.availability.timeout_seconds} s`,
    };
  }
  const said = firstLine(result.outputHead);
  if (result.exitCode !== 0) {
    const how =
      result.exitCode !== null ? `exited with code ${result.exitCode}` : `was killed by ${result.signal}`;
    return { available: false, reason: `\`${shown}\` ${how}${said ? `: ${said}` : ""}` };
  }
  return said ? { available: true, version: said } : { available: true };
}

/**
 * Checks several profiles at once, `concurrency` at a time (each check starts a process, some of
 * them slow: `npx --no prettier --version` takes a second). Results are keyed by tool name.
 */
export async function checkAllAvailability(
  profiles: readonly ToolProfile[],
  env: NodeJS.ProcessEnv,
  opts: AvailabilityOptions & { concurrency?: number } = {},
): Promise<Record<string, Availability>> {
  const results: Record<string, Availability> = {};
  const queue = [...profiles];
  const worker = async () => {
    for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
      results[p.name] = await checkAvailability(p, env, opts);
    }
  };
  const n = Math.max(1, Math.min(opts.concurrency ?? 4, queue.length));
  await Promise.all(Array.from({ length: n }, worker));
  // Report in configuration order, whatever order the checks finished in.
  return Object.fromEntries(profiles.map((p) => [p.name, results[p.name]!]));
}

export type CheckedRun =
  { ran: false; reason: string } | { ran: true; version?: string; result: ToolRunResult };

/** The availability check, then the run if the tool is available: what the executor does per attempt. */
export async function runToolIfAvailable(profile: ToolProfile, opts: RunToolOptions): Promise<CheckedRun> {
  const availability = await checkAvailability(profile, opts.env, {
    cwd: opts.cwd,
    signal: opts.signal,
    graceMs: opts.graceMs,
  });
  if (!availability.available) return { ran: false, reason: availability.reason };
  const result = await runTool(profile, opts);
  return availability.version !== undefined
    ? { ran: true, version: availability.version, result }
    : { ran: true, result };
}
