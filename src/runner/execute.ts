import { setTimeout as delay } from "node:timers/promises";
import type { z } from "zod";
import { ConfigSchema, type Config, type ToolProfile } from "../config/schema.js";
import type { CapturedPatch, CommitPort } from "../core/execution/commit-port.js";
import { errorReason, finalOutcome, type ErrorKind } from "../core/execution/outcome.js";
import {
  ExecutionResultSchema,
  type Attempt,
  type ExecutionResult,
  type GateResult,
  type OutcomeKind,
} from "../core/execution/schema.js";
import { ConfigError, InputError } from "../core/errors.js";
import type { EventInput, EventLogWriter } from "../core/events/log.js";
import { checkPatchPolicy, policyFromConfig } from "../core/policy/patch-policy.js";
import { nextRetry } from "../core/policy/retry.js";
import { redact } from "../core/redact.js";
import { RoutingDecisionSchema, type RoutingDecision } from "../core/routing/schema.js";
import { TaskSchema, type Task } from "../core/task/schema.js";
import { checkAvailability, type Availability } from "./availability.js";
import { runGates } from "./gates.js";
import { assertCleanCheckout, GitCommandManager, resetToBase, type HeadState } from "./git.js";
import type { OutputStreamName } from "./output-capture.js";
import { capturePatch } from "./patch.js";
import { toolSecrets } from "./tool-env.js";
import { runTool, type ToolRunResult } from "./tool-runner.js";

/**
 * The execute flow on a checkout: the routed chain of tools, one attempt after another, until one
 * produces a patch that the policy accepts and the gates pass.
 *
 * One attempt: availability check (an unavailable tool is skipped with its reason, never fatal)
 * -> the tool, under its timeout -> the patch against the base commit (nothing = `no_changes`: a
 * tool that did nothing did not do the task) -> the patch policy (a violation = `policy_violation`
 * with the offending paths; nothing is committed) -> the gates, with the base environment only
 * -> the commit through the port, when one is given. Every attempt starts from a clean reset to the
 * base commit, so no tool sees another's leftovers.
 *
 * Retries and the budget:
 * - A tool gets `retries` extra runs (its profile's, or the task's override, bounded by
 *   `limits.max_retries`) after it crashed or timed out: the failures a second run can fix (a rate
 *   limit, a network error). After no changes, a policy violation or a failed gate, the next tool
 *   takes over: the same tool tends to make the same patch.
 * - `retry.max_attempts` bounds the tool runs of the whole execute run, across the chain and the
 *   retries. Skipped (unavailable) tools do not count: they cost nothing.
 * - Between runs the backoff of `nextRetry(runs so far, config.retry, task key + run id)` is slept
 *   through the injected `sleep`, just before the next tool actually starts: a skipped tool neither
 *   waits nor makes the next one wait twice.
 *
 * What the checkout holds afterwards: HEAD, the branch and the index at the base commit, and, when
 * an attempt succeeded, its patch in the work tree exactly as captured (files a gate wrote are
 * gone), so a caller without a commit port (a dry run, the Action in app mode) can capture it again
 * with `capturePatch(git, result.base_sha)` and upload or show it. Without a success the tree is
 * back at the base.
 *
 * What throws: bad input before anything runs (a dirty or sparse checkout, an invalid task,
 * decision or configuration, an unusable branch name) as InputError, and failures of the event
 * log. Everything that goes wrong while tools run is in the result: the task's failures as their
 * outcomes, a cancellation, a branch that moved under the commit, and Switchyard's own faults as
 * `error` (see core/execution/outcome.ts for telling them apart).
 */

export type ProgressEvent =
  | { type: "attempt_started"; attempt: number; tool: string }
  /** Output as it arrives, redacted, in chunks (not split into lines). */
  | { type: "tool_output"; attempt: number; tool: string; stream: OutputStreamName; text: string }
  | { type: "gate_started"; attempt: number; tool: string; gate: string }
  | {
      type: "gate_output";
      attempt: number;
      tool: string;
      gate: string;
      stream: OutputStreamName;
      text: string;
    }
  | { type: "gate_finished"; attempt: number; tool: string; gate: GateResult; passed: boolean }
  | { type: "committed"; attempt: number; tool: string; branch: string; commitSha: string }
  | { type: "attempt_finished"; attempt: Attempt }
  /** The backoff before the next run starts. */
  | { type: "backoff"; attempt: number; delayMs: number }
  /** The chain was cut short: the attempt budget ran out. */
  | { type: "stopped"; reason: string };

export interface ExecuteCommit {
  port: CommitPort;
  /** Switchyard's branch, e.g. `switchyard/issue-12-fix-login`; never the branch checked out here. */
  branch: string;
  /** Replaces the default subject line and body; the Switchyard-* trailers are always added. */
  message?: string;
}

export interface ExecuteInput {
  task: Task;
  decision: RoutingDecision;
  config: Config;
  /** The git work tree the tools run in. It must be clean. */
  checkout: string;
  /** Where tool and gate environments are picked from (usually process.env); both are allowlisted. */
  env: NodeJS.ProcessEnv;
  /** Omitted: a dry run, which captures, checks and reports the patch and commits nothing. */
  commit?: ExecuteCommit;
  events?: EventLogWriter;
  runId: string;
  /** Milliseconds since the epoch, for started_at and finished_at. Durations use a monotonic clock. */
  now: () => number;
  /** Waits out a backoff; injected so tests need not wait. Default: a real timer. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Live progress for a terminal or a log. Best effort: an exception thrown here is ignored. */
  onProgress?: (progress: ProgressEvent) => void;
  signal?: AbortSignal;
  /** More literal values to redact from everything recorded (each tool's own keys always are). */
  secrets?: string[];
  /** Where prompt files go (on Actions, RUNNER_TEMP). Default: the system's temp directory. */
  tempDir?: string;
  /**
   * For a profile's {evidence_file}: the failure evidence of a recovery run. Without it the
   * placeholder's argument is left out, as for a task that is not a recovery.
   */
  evidenceFile?: string;
}

/** Tool output kept per attempt: the start (what it set out to do) and the end (why it stopped). */
const TOOL_CAPTURE = { head: 4 * 1024, tail: 16 * 1024 };
const MAX_REASON_CHARS = 2_000;
const MAX_SUBJECT_TITLE_CHARS = 72;

function parseInput<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`)
    .join("; ");
  throw new InputError(`${what} is not valid: ${issues}`);
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

function cap(text: string, max: number): string {
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

function lastLine(text: string): string {
  const line =
    text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .findLast((l) => l !== "") ?? "";
  return cap(line, 200);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** The default commit message: a subject people read, trailers machines read (loop guards, analysis). */
export function commitMessage(task: Task, tool: string, runId: string, message?: string): string {
  const title = cap(oneLine(task.title), MAX_SUBJECT_TITLE_CHARS);
  const head =
    message !== undefined && message.trim() !== ""
      ? message.replace(/\s+$/, "")
      : `switchyard: ${title || "task"} (#${task.number})`;
  const trailers = [
    `Switchyard-Task: ${task.key}`,
    `Switchyard-Tool: ${tool}`,
    `Switchyard-Run: ${oneLine(runId)}`,
  ];
  return `${head}\n\n${trailers.join("\n")}\n`;
}

interface AttemptRun {
  attempt: Attempt;
  /** The tool started (it counts against the budget, and a backoff follows a failure). */
  ran: boolean;
  /** A second run of the same tool might do better (it crashed or timed out). */
  retryable: boolean;
  patch?: CapturedPatch;
  committed?: { branch: string; commitSha: string };
}

/** Thrown inside an attempt when the signal aborted; becomes the attempt's `cancelled` reason. */
class Cancelled extends Error {}

export async function executeTask(input: ExecuteInput): Promise<ExecutionResult> {
  const task = parseInput(TaskSchema, input.task, "the task");
  const decision = parseInput(RoutingDecisionSchema, input.decision, "the routing decision");
  const config = parseInput(ConfigSchema, input.config, "the configuration");
  if (decision.task_key !== task.key) {
    throw new InputError(`the routing decision is for ${decision.task_key}, not for the task ${task.key}`);
  }
  if (typeof input.runId !== "string" || oneLine(input.runId) === "") {
    throw new InputError("a run id is required (on Actions, the workflow run's id)");
  }
  if (typeof input.checkout !== "string" || input.checkout === "") {
    throw new InputError("the checkout to run in is required (a path to a git work tree)");
  }
  if (typeof input.env !== "object" || input.env === null) {
    throw new InputError("the environment to pick tool variables from is required (usually process.env)");
  }
  // A bad glob in forbidden_paths or the task's scope is found now, not after a tool has run.
  checkPatchPolicy([], policyFromConfig(config.execution, task.scope));

  const git = await GitCommandManager.open(input.checkout);
  await assertCleanCheckout(git);
  if (await git.configBool("core.sparseCheckout")) {
    throw new InputError(
      `the checkout at ${git.dir} is sparse; Switchyard needs a full checkout (files outside the sparse ` +
        "cone would be captured as deleted)",
    );
  }
  const start = await git.readHead();
  if (input.commit !== undefined) {
    const branch = input.commit.branch;
    // Checked before any tool runs: finding out after a fifteen-minute run wastes the run.
    if (typeof branch !== "string" || !(await git.isValidBranchName(branch))) {
      throw new InputError(`"${String(branch)}" is not a valid branch name to commit to`);
    }
    if (start.ref === `refs/heads/${branch}`) {
      throw new InputError(
        `${branch} is the branch checked out at ${git.dir}; Switchyard commits to its own branch, ` +
          "run it from the base branch",
      );
    }
  }

  const run = new ExecuteRun(input, task, config, git, start);
  const startedAt = new Date(input.now()).toISOString();
  let winner: AttemptRun | null;
  try {
    winner = await run.chain(decision.tool === null ? [] : [decision.tool, ...decision.fallback]);
  } catch (error) {
    // The event log failed: put the checkout back as well as we can, but report the first fault.
    await run.leaveCheckout(null).catch(() => undefined);
    throw error;
  }
  await run.leaveCheckout(winner?.patch ?? null);

  const { outcome, attempt: deciding } = finalOutcome(run.attempts);
  const patch = winner?.patch;
  return ExecutionResultSchema.parse({
    task_key: task.key,
    run_id: input.runId,
    outcome,
    tool: deciding === null || outcome === "tool_unavailable" ? null : deciding.tool,
    base_sha: start.sha,
    branch: winner?.committed?.branch ?? null,
    commit_sha: winner?.committed?.commitSha ?? null,
    pr_number: null,
    attempts: run.attempts,
    diffstat: patch ? patch.stats : { files: 0, additions: 0, deletions: 0 },
    started_at: startedAt,
    finished_at: new Date(input.now()).toISOString(),
  });
}

/** The state of one execute run: attempts so far, the budget, the pending backoff. */
class ExecuteRun {
  readonly attempts: Attempt[] = [];
  private readonly profiles: Map<string, ToolProfile>;
  private readonly secrets: string[];
  private readonly seed: string;
  private readonly available = new Map<string, Availability>();
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private runs = 0;
  private pendingDelayMs = 0;

  constructor(
    private readonly input: ExecuteInput,
    private readonly task: Task,
    private readonly config: Config,
    private readonly git: GitCommandManager,
    private readonly start: HeadState,
  ) {
    this.profiles = new Map(config.tools.map((p) => [p.name, p]));
    // Every configured tool's keys, not just the running one's: a gate or a later tool could
    // print a key an earlier tool wrote into a file.
    this.secrets = [...(input.secrets ?? []), ...config.tools.flatMap((p) => toolSecrets(p, input.env))];
    this.seed = `${task.key}|${input.runId}`;
    this.sleep =
      input.sleep ??
      ((ms, signal) => delay(ms, undefined, { signal }).catch(() => undefined) as Promise<void>);
  }

  /** Runs the chain; returns the successful attempt, or null. */
  async chain(chain: readonly string[]): Promise<AttemptRun | null> {
    const tools = [...new Set(chain)];
    let toolIndex = 0;
    let tries = 0;
    while (toolIndex < tools.length) {
      const name = tools[toolIndex]!;
      const n = this.attempts.length + 1;
      await this.event({ type: "execute_started", tool: name, attempt: n });
      this.progress({ type: "attempt_started", attempt: n, tool: name });

      const started = performance.now();
      let result: AttemptRun;
      try {
        if (n > 1) await resetToBase(this.git, this.start);
        result = await this.attempt(name, n, started);
      } catch (error) {
        const kind: ErrorKind = error instanceof Cancelled ? "cancelled" : "internal";
        const detail = error instanceof Error ? error.message : String(error);
        result = {
          attempt: this.record(n, name, started, "error", errorReason(kind, detail), {}),
          ran: false,
          retryable: false,
        };
      }
      this.attempts.push(result.attempt);
      if (result.ran) this.runs++;
      if (result.committed) {
        await this.event({
          type: "patch_committed",
          branch: result.committed.branch,
          commit_sha: result.committed.commitSha,
          files: result.patch?.files.length ?? 0,
        });
      }
      await this.event({
        type: "execute_finished",
        tool: name,
        attempt: n,
        outcome: result.attempt.outcome,
        duration_ms: result.attempt.duration_ms,
        exit_code: result.attempt.exit_code,
        tokens: result.attempt.tokens,
        cost_usd: result.attempt.cost_usd,
        capability: this.task.capability,
      });
      this.progress({ type: "attempt_finished", attempt: result.attempt });

      if (result.attempt.outcome === "success") return result;
      if (result.attempt.outcome === "error") return null;

      if (result.retryable && tries < this.retriesOf(name)) tries++;
      else {
        toolIndex++;
        tries = 0;
      }
      if (toolIndex >= tools.length || !result.ran) continue;
      const next = nextRetry(this.runs, this.config.retry, this.seed);
      if (!next.retry) {
        this.progress({ type: "stopped", reason: next.reason });
        return null;
      }
      this.pendingDelayMs = next.delay_ms;
    }
    return null;
  }

  private retriesOf(name: string): number {
    const profile = this.profiles.get(name);
    if (profile === undefined) return 0;
    const override = this.task.overrides.retries;
    return override !== undefined ? Math.min(override, this.config.limits.max_retries) : profile.retries;
  }

  private timeoutSeconds(profile: ToolProfile): number {
    const override = this.task.overrides.timeout_seconds;
    return override !== undefined
      ? Math.min(override, this.config.limits.max_timeout_seconds)
      : profile.timeout_seconds;
  }

  private record(
    n: number,
    tool: string,
    started: number,
    outcome: OutcomeKind,
    reason: string,
    extra: Partial<Attempt>,
  ): Attempt {
    return {
      n,
      tool,
      outcome,
      reason: cap(redact(reason, this.secrets), MAX_REASON_CHARS),
      exit_code: null,
      duration_ms: performance.now() - started,
      gates: [],
      files: [],
      offending_paths: [],
      output_head: "",
      output_tail: "",
      tokens: null,
      cost_usd: null,
      ...extra,
    };
  }

  private checkCancelled(what: string): void {
    if (this.input.signal?.aborted) throw new Cancelled(`the run was stopped ${what}`);
  }

  private async attempt(name: string, n: number, started: number): Promise<AttemptRun> {
    const done = (outcome: OutcomeKind, reason: string, extra: Partial<Attempt> = {}) =>
      this.record(n, name, started, outcome, reason, extra);
    this.checkCancelled(`before ${name} started`);

    const profile = this.profiles.get(name);
    if (profile === undefined) {
      const reason =
        `no tool profile named ${name} in the configuration (tools); ` +
        "it was removed or renamed after the task was routed";
      return { attempt: done("tool_unavailable", reason), ran: false, retryable: false };
    }
    let availability = this.available.get(name);
    if (availability === undefined) {
      availability = await checkAvailability(profile, this.input.env, {
        cwd: this.git.dir,
        signal: this.input.signal,
      });
      this.checkCancelled(`while checking whether ${name} is available`);
      this.available.set(name, availability);
    }
    if (!availability.available) {
      return { attempt: done("tool_unavailable", availability.reason), ran: false, retryable: false };
    }

    if (this.pendingDelayMs > 0) {
      const ms = this.pendingDelayMs;
      this.pendingDelayMs = 0;
      this.progress({ type: "backoff", attempt: n, delayMs: ms });
      await this.wait(ms);
      this.checkCancelled(`during the backoff before ${name} started`);
    }

    const timeoutSeconds = this.timeoutSeconds(profile);
    let tool: ToolRunResult;
    try {
      tool = await runTool(profile, {
        cwd: this.git.dir,
        prompt: this.task.prompt,
        tempDir: this.input.tempDir,
        env: this.input.env,
        secrets: this.secrets,
        timeoutMs: timeoutSeconds * 1000,
        signal: this.input.signal,
        captureBytes: TOOL_CAPTURE,
        ...(this.input.evidenceFile !== undefined ? { evidenceFile: this.input.evidenceFile } : {}),
        onOutput: (text, stream) =>
          this.progress({ type: "tool_output", attempt: n, tool: name, stream, text }),
      });
    } catch (error) {
      // The schema cannot see every mistake in a profile (an unknown {placeholder}); such a tool
      // cannot run, which is what `tool_unavailable` says, and the next tool can.
      if (error instanceof ConfigError) {
        return {
          attempt: done("tool_unavailable", `its profile is invalid: ${error.message}`),
          ran: false,
          retryable: false,
        };
      }
      throw error;
    }
    const output: Partial<Attempt> = {
      exit_code: tool.exitCode,
      output_head: tool.outputHead,
      output_tail: tool.outputTail,
      tokens: tool.tokens,
      cost_usd: tool.costUsd,
    };
    if (tool.cancelled) {
      return {
        attempt: done(
          "error",
          errorReason("cancelled", `the run was stopped while ${name} was running`),
          output,
        ),
        ran: true,
        retryable: false,
      };
    }
    if (tool.error !== undefined) {
      return { attempt: done("tool_unavailable", tool.error, output), ran: false, retryable: false };
    }
    if (tool.timedOut) {
      const reason = `${name} did not finish within ${timeoutSeconds} s and was stopped`;
      return { attempt: done("timed_out", reason, output), ran: true, retryable: true };
    }
    if (tool.exitCode !== 0) {
      const how =
        tool.exitCode !== null ? `exited with code ${tool.exitCode}` : `was killed by ${tool.signal}`;
      const said = lastLine(tool.outputTail);
      const reason = `${name} ${how}${said ? `: ${said}` : ""}`;
      return { attempt: done("tool_failed", reason, output), ran: true, retryable: true };
    }

    let patch: CapturedPatch;
    try {
      patch = await capturePatch(this.git, this.start.sha);
    } catch (error) {
      // What capture refuses after a tool ran is what the tool made: a patch over the size limit,
      // a file name GitHub cannot store.
      if (error instanceof InputError) {
        return {
          attempt: done("policy_violation", `${name}'s changes cannot be taken: ${error.message}`, output),
          ran: true,
          retryable: false,
        };
      }
      throw error;
    }
    if (patch.files.length === 0) {
      const reason = `${name} finished without changing any file`;
      return { attempt: done("no_changes", reason, output), ran: true, retryable: false };
    }
    const withFiles = { ...output, files: patch.files };

    const policy = checkPatchPolicy(patch.files, policyFromConfig(this.config.execution, this.task.scope));
    if (!policy.ok) {
      const reason = `${name}'s patch was refused: ${policy.violations.map((v) => v.message).join("; ")}`;
      return {
        attempt: done("policy_violation", reason, { ...withFiles, offending_paths: policy.offendingPaths }),
        ran: true,
        retryable: false,
        patch,
      };
    }

    const gates = await runGates(this.config.execution.gates, {
      cwd: this.git.dir,
      env: this.input.env,
      signal: this.input.signal,
      secrets: this.secrets,
      onProgress: (p) => this.progress({ ...p, attempt: n, tool: name }),
    });
    for (const gate of gates.results) {
      await this.event({ type: "gate_finished", tool: name, attempt: n, gate });
    }
    const withGates = { ...withFiles, gates: gates.results };
    if (gates.cancelled) {
      const gate = gates.results.at(-1)?.name;
      const detail = `the run was stopped while ${gate ? `the gate ${gate}` : "the gates"} ran`;
      return {
        attempt: done("error", errorReason("cancelled", detail), withGates),
        ran: true,
        retryable: false,
      };
    }
    if (!gates.passed) {
      const failed = gates.results.at(-1)!;
      const gate = this.config.execution.gates.find((g) => g.name === failed.name);
      const how = failed.timed_out
        ? `did not finish within ${gate?.timeout_seconds ?? "?"} s`
        : failed.exit_code !== null
          ? `failed with exit code ${failed.exit_code}`
          : `could not run or was killed${lastLine(failed.output_tail) ? `: ${lastLine(failed.output_tail)}` : ""}`;
      const reason = `${name}'s patch failed the gate ${failed.name}: it ${how}`;
      return { attempt: done("gate_failed", reason, withGates), ran: true, retryable: false, patch };
    }

    const changed =
      `${name} changed ${plural(patch.stats.files, "file")} ` +
      `(+${patch.stats.additions} −${patch.stats.deletions})` +
      (gates.results.length > 0 ? " and the gates passed" : "");
    const commit = this.input.commit;
    if (commit === undefined) {
      return { attempt: done("success", changed, withGates), ran: true, retryable: false, patch };
    }
    const committed = await commit.port.commitPatch({
      branch: commit.branch,
      baseSha: this.start.sha,
      message: commitMessage(this.task, name, this.input.runId, commit.message),
      patch,
    });
    if (!committed.ok) {
      // The port already replayed the patch on the branch's new tip; what is left is a real
      // conflict with someone's push, which a person (or a retry from the new tip) resolves.
      return {
        attempt: done("error", errorReason("branch_moved", committed.message), withGates),
        ran: true,
        retryable: false,
        patch,
      };
    }
    this.progress({
      type: "committed",
      attempt: n,
      tool: name,
      branch: committed.branch,
      commitSha: committed.commitSha,
    });
    return {
      attempt: done("success", `${changed}; committed to ${committed.branch}`, withGates),
      ran: true,
      retryable: false,
      patch,
      committed: { branch: committed.branch, commitSha: committed.commitSha },
    };
  }

  /** Waits out a backoff; an abort ends the wait at once. */
  private async wait(ms: number): Promise<void> {
    const signal = this.input.signal;
    if (signal === undefined) return this.sleep(ms);
    if (signal.aborted) return;
    let onAbort!: () => void;
    const aborted = new Promise<void>((resolve) => {
      onAbort = resolve;
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      await Promise.race([this.sleep(ms, signal), aborted]);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  /**
   * Puts the checkout in its final state (see the module comment): the base, plus the winning
   * patch in the work tree only. `read-tree -u --reset` writes exactly the captured tree (adding,
   * changing and deleting files), then the index goes back to HEAD.
   */
  async leaveCheckout(patch: CapturedPatch | null): Promise<void> {
    await resetToBase(this.git, this.start);
    if (patch === null) return;
    await this.git.exec(["read-tree", "-u", "--reset", patch.tree_sha]);
    await this.git.exec(["reset", "--quiet"]);
  }

  private async event(event: DistributiveOmit<EventInput, "task_key" | "run_id">): Promise<void> {
    await this.input.events?.append({
      ...event,
      task_key: this.task.key,
      run_id: this.input.runId,
    } as EventInput);
  }

  private progress(p: ProgressEvent): void {
    if (this.input.onProgress === undefined) return;
    try {
      this.input.onProgress(p);
    } catch {
      // A broken terminal or log (EPIPE on stdout) must not fail the task it is only watching.
    }
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
