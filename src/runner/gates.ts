import { resolve } from "node:path";
import { z } from "zod";
import { GateSchema, type Gate, type GateInput } from "../config/schema.js";
import { ConfigError } from "../core/errors.js";
import type { GateResult } from "../core/execution/schema.js";
import { redact } from "../core/redact.js";
import type { OutputStreamName } from "./output-capture.js";
import { toolEnv } from "./tool-env.js";
import { runCommand } from "./tool-runner.js";

/**
 * Gates: the repository's own checks (`npm test`, `npm run lint`) run on a tool's patch before it
 * may be committed. Each is a real subprocess like a tool (argument array, process group, timeout,
 * redacted capped output), with two differences that matter:
 *
 * - The environment is the base allowlist only (PATH, HOME, locale, proxies, git identity...),
 *   never a tool's API keys. A gate runs code the tool just wrote; a test file that posts
 *   `process.env` somewhere would otherwise walk off with the key.
 * - Gates run one after another and stop at the first failure. Later gates on a patch that is
 *   already refused add little (lint errors on code whose tests fail) and can cost minutes; the
 *   report shows the gates that ran, and the failing one's output.
 */

/** Bytes of a gate's output kept: enough for a stack trace or a test summary, small enough for a report. */
export const GATE_TAIL_BYTES = 16 * 1024;

export type GateProgress =
  | { type: "gate_started"; gate: string }
  | { type: "gate_output"; gate: string; stream: OutputStreamName; text: string }
  | { type: "gate_finished"; gate: GateResult; passed: boolean };

export interface RunGatesOptions {
  cwd: string;
  /** The environment to pick the allowlisted variables from (usually process.env). */
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** Literal values to redact from gate output (tool keys a test might print from a file). */
  secrets?: readonly string[];
  /** Live progress; gate output arrives redacted. */
  onProgress?: (progress: GateProgress) => void;
  /** SIGTERM to SIGKILL when a gate overruns; default 5 s. */
  graceMs?: number;
}

export interface GatesRun {
  /** The gates that ran, in order; after a failure the rest did not run. */
  results: GateResult[];
  /** Every configured gate ran and passed (true for no gates). */
  passed: boolean;
  /** Stopped by the signal or because this process is being interrupted. */
  cancelled: boolean;
}

/** What a gate gets: the base allowlist of tool-env.ts and nothing a tool profile declares. */
export function gateEnv(source: NodeJS.ProcessEnv, names: readonly string[] = []): Record<string, string> {
  return toolEnv({ env: [], env_any_of: [], env_optional: [...names] }, source).env;
}

/** Exit 0 in time. A gate that could not start or was killed has no exit code, so it fails too. */
export function gatePassed(result: GateResult): boolean {
  return result.exit_code === 0 && !result.timed_out;
}

function parseGates(gates: readonly GateInput[]): Gate[] {
  const parsed = z.array(GateSchema).safeParse(gates);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map((issue) => ({
      file: "configuration",
      path: ["execution", "gates", ...issue.path.map(String)].join("."),
      message: issue.message,
    })),
  );
}

export async function runGates(gates: readonly GateInput[], opts: RunGatesOptions): Promise<GatesRun> {
  const list = parseGates(gates);
  const cwd = resolve(opts.cwd);
  const results: GateResult[] = [];
  for (const gate of list) {
    if (opts.signal?.aborted) return { results, passed: false, cancelled: true };
    opts.onProgress?.({ type: "gate_started", gate: gate.name });
    const run = await runCommand(gate.command, gate.args, {
      cwd,
      env: gateEnv(opts.env, gate.env),
      timeoutMs: gate.timeout_seconds * 1000,
      graceMs: opts.graceMs,
      signal: opts.signal,
      secrets: opts.secrets,
      captureBytes: { head: 0, tail: GATE_TAIL_BYTES },
      onOutput: opts.onProgress
        ? (text, stream) => opts.onProgress!({ type: "gate_output", gate: gate.name, stream, text })
        : undefined,
    });
    // A gate that could not start has no output; its reason stands in for it so the report says why.
    const tail = run.error !== undefined ? redact(run.error, opts.secrets) : run.outputTail;
    const result: GateResult = {
      name: gate.name,
      exit_code: run.exitCode,
      timed_out: run.timedOut,
      duration_ms: run.durationMs,
      output_tail: tail,
    };
    results.push(result);
    if (run.cancelled) return { results, passed: false, cancelled: true };
    const passed = gatePassed(result);
    opts.onProgress?.({ type: "gate_finished", gate: result, passed });
    if (!passed) return { results, passed: false, cancelled: false };
  }
  return { results, passed: true, cancelled: false };
}
