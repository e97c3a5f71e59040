import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { execa } from "execa";
import { ToolProfileSchema, type ToolProfile } from "../config/schema.js";
import { ConfigError, InputError } from "../core/errors.js";
import { OutputCollector, type CaptureLimits, type OutputStreamName } from "./output-capture.js";
import { toolEnv, toolSecrets } from "./tool-env.js";
import { compileUsagePatterns, parseUsage } from "./usage.js";

/**
 * Runs one tool profile as a real subprocess: argument arrays only (never a shell), the prompt
 * through a file, stdin or one argument, an allowlisted environment, output streamed and capped,
 * secrets redacted, and a timeout that takes the whole process tree down.
 *
 * Process tree: the tool starts as the leader of its own process group (`detached`), so SIGTERM
 * and, after a grace period, SIGKILL reach everything it started — a dev server, a test watcher,
 * `sleep 1000` in a shell script — and not just the direct child. When the tool exits by itself,
 * whatever it left running in its group is stopped the same way: a leftover process could go on
 * editing the checkout while the patch is being read. Because execa's own `cleanup` does nothing
 * for detached children, the runner keeps its own list of live groups and stops them when this
 * process exits or is interrupted (SIGINT, SIGTERM, SIGHUP; runs stopped that way report
 * `cancelled`, and no new tool starts). Limits: a SIGKILL of this process cannot be caught; a
 * process that makes itself a new session (setsid, a daemon) has left the group; on Windows there
 * are no process groups and only the direct child is stopped.
 */

export type Placeholder = "prompt_file" | "prompt" | "workdir" | "model" | "evidence_file";
export const PLACEHOLDERS: readonly Placeholder[] = [
  "prompt_file",
  "prompt",
  "workdir",
  "model",
  "evidence_file",
];
/** Placeholders that may have no value; see substituteArgs for what happens then. */
const OPTIONAL_PLACEHOLDERS: ReadonlySet<Placeholder> = new Set(["model", "evidence_file"]);
const PLACEHOLDER_RE = /\{([A-Za-z_]+)\}/g;
/** `-m`, `--model`: an option that takes the next argument as its value (`--model=x` carries its own). */
const FLAG_RE = /^--?[^-=\s][^=\s]*$/;

/**
 * Fills the argument template. Each template item stays exactly one argument; values are inserted
 * literally (a prompt containing "{model}" or "$(rm -rf /)" is just text). Unknown placeholders are
 * a configuration error.
 *
 * An optional placeholder without a value ({model} when no model is set, {evidence_file} outside
 * recovery) removes the argument that holds it (`--model={model}` disappears) and, when the
 * argument was the bare placeholder, the option right before it (`--model {model}` disappears as
 * a pair), so a tool is never called with a dangling flag or an empty value.
 */
export function substituteArgs(
  template: readonly string[],
  values: Partial<Record<Placeholder, string>>,
  toolName = "tool",
): string[] {
  const out: string[] = [];
  template.forEach((arg, i) => {
    let unset = false;
    for (const m of arg.matchAll(PLACEHOLDER_RE)) {
      const name = m[1]! as Placeholder;
      if (!PLACEHOLDERS.includes(name)) {
        throw new ConfigError([
          {
            file: `tool profile '${toolName}'`,
            path: `args[${i}]`,
            message: `unknown placeholder '{${m[1]}}'`,
            hint: `placeholders: ${PLACEHOLDERS.map((p) => `{${p}}`).join(", ")}`,
          },
        ]);
      }
      if (values[name] === undefined) {
        if (!OPTIONAL_PLACEHOLDERS.has(name)) throw new Error(`no value for required placeholder {${name}}`);
        unset = true;
      }
    }
    if (unset) {
      const bare = /^\{[A-Za-z_]+\}$/.test(arg);
      const prev = out.length > 0 ? out[out.length - 1]! : undefined;
      if (bare && prev !== undefined && FLAG_RE.test(prev) && template[i - 1] === prev) out.pop();
      return;
    }
    out.push(arg.replace(PLACEHOLDER_RE, (_, name: Placeholder) => values[name]!));
  });
  return out;
}

export interface CommandResult {
  /** The exit code, or null when the process was killed by a signal or never started. */
  exitCode: number | null;
  /** The signal that ended the process (e.g. "SIGTERM", "SIGKILL"), or null. */
  signal: string | null;
  timedOut: boolean;
  /** Stopped through `signal`, or because this process was interrupted (SIGINT, SIGTERM, SIGHUP). */
  cancelled: boolean;
  durationMs: number;
  /** The start of stdout and stderr as they interleaved, redacted. */
  outputHead: string;
  /** The end of the output, redacted; overlaps outputHead when the output is short. */
  outputTail: string;
  /** Bytes the process wrote to stdout and stderr together. */
  outputBytes: number;
  /** Some output is in neither outputHead nor outputTail. */
  truncated: boolean;
  /** Why the process could not be started (not installed, not executable...). */
  error?: string;
  /** The last complete stdout line (where JSON-reporting tools put their summary), redacted. */
  lastStdoutLine: string | null;
}

export interface RunCommandOptions {
  cwd: string;
  /** The complete environment: nothing of this process's environment is added. */
  env: Record<string, string>;
  /** A file whose contents become stdin; without it stdin is empty, so a tool that asks a question reads EOF. */
  stdinFile?: string;
  timeoutMs: number;
  /** Between SIGTERM and SIGKILL. */
  graceMs?: number;
  signal?: AbortSignal;
  /** Literal values to redact, on top of the token shapes redact() always hides. */
  secrets?: readonly string[];
  onOutput?: (chunk: string, stream: OutputStreamName) => void;
  captureBytes?: CaptureLimits;
}

export const DEFAULT_GRACE_MS = 5_000;
/** How often a group is checked while waiting for it to go. */
const POLL_MS = 20;
/** How long SIGKILL may take to land (a process in uninterruptible I/O finishes that first). */
const KILL_WAIT_MS = 2_000;
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Process groups this process started and has not yet seen go, stopped if this process ends
 * first; each with a callback that marks its run as cancelled.
 */
const liveGroups = new Map<number, () => void>();
const EXIT_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
/** On the way out there is no time for a grace period worth the name. */
const EXIT_GRACE_MS = 2_000;
let exitHooksInstalled = false;
/** Set once an exit signal arrived: no new tool starts while this process is on its way out. */
let exiting = false;

function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
    // EPERM: the group now holds a process we may not signal, so it is no longer ours to stop.
    return false;
  }
}

/**
 * Whether anything in the group is still running. A killed process whose parent has gone stays a
 * zombie until init reaps it, and in a container whose init does not reap, that is forever: so
 * on Linux the group's members are read from /proc and zombies do not count.
 */
async function groupRunning(pgid: number): Promise<boolean> {
  if (!signalGroup(pgid, 0)) return false;
  if (process.platform !== "linux") return true;
  let entries: string[];
  try {
    entries = await readdir("/proc");
  } catch {
    return true;
  }
  for (const entry of entries) {
    if (entry.charCodeAt(0) < 48 || entry.charCodeAt(0) > 57) continue;
    let statLine: string;
    try {
      statLine = await readFile(`/proc/${entry}/stat`, "latin1");
    } catch {
      continue;
    }
    // "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses, so split after the last ")".
    const fields = statLine.slice(statLine.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[2]) === pgid && fields[0] !== "Z" && fields[0] !== "X") return true;
  }
  return false;
}

async function waitGroupGone(pgid: number, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  for (;;) {
    if (!(await groupRunning(pgid))) return true;
    if (performance.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function onExit(): void {
  for (const pgid of liveGroups.keys()) signalGroup(pgid, "SIGKILL");
}

async function onExitSignal(signal: NodeJS.Signals): Promise<void> {
  if (exiting) return;
  exiting = true;
  const groups = [...liveGroups];
  // A run stopped this way reports `cancelled`, so a caller that gets its result in the moment
  // before the signal is raised again does not mistake it for a tool failure and try the next tool.
  for (const [pgid, markCancelled] of groups) {
    markCancelled();
    signalGroup(pgid, "SIGTERM");
  }
  await Promise.all(groups.map(([pgid]) => waitGroupGone(pgid, EXIT_GRACE_MS)));
  for (const pgid of liveGroups.keys()) signalGroup(pgid, "SIGKILL");
  uninstallExitHooks();
  // Installing a listener took the signal's default action away; if nobody else handles it, die
  // of it as the process would have, so the caller (a shell, the Actions runner) sees the signal.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

const signalListeners = new Map<NodeJS.Signals, () => void>(
  EXIT_SIGNALS.map((s) => [s, () => void onExitSignal(s)]),
);

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on("exit", onExit);
  for (const [signal, listener] of signalListeners) process.on(signal, listener);
}

function uninstallExitHooks(): void {
  if (!exitHooksInstalled) return;
  exitHooksInstalled = false;
  process.off("exit", onExit);
  for (const [signal, listener] of signalListeners) process.off(signal, listener);
}

function spawnErrorMessage(command: string, code: string | undefined, message: string): string {
  const isPath = command.includes("/") || command.includes("\\");
  switch (code) {
    case "ENOENT":
      return isPath ? `\`${command}\` does not exist` : `\`${command}\` is not installed (not found on PATH)`;
    case "EACCES":
      return `\`${command}\` is not executable (permission denied)`;
    case "E2BIG":
      return `the arguments to \`${command}\` are longer than the system allows; pass the prompt with prompt_via: file or stdin`;
    default:
      return `\`${command}\` could not be started: ${message}`;
  }
}

function emptyResult(partial: Partial<CommandResult>): CommandResult {
  return {
    exitCode: null,
    signal: null,
    timedOut: false,
    cancelled: false,
    durationMs: 0,
    outputHead: "",
    outputTail: "",
    outputBytes: 0,
    truncated: false,
    lastStdoutLine: null,
    ...partial,
  };
}

/**
 * Runs `command` with `args` in its own process group and waits until it and everything it started
 * are gone. Never throws for what the process does (missing binary, crash, timeout): that is in
 * the result. Throws only what `onOutput` threw, after the process has been stopped.
 */
export async function runCommand(
  command: string,
  args: readonly string[],
  opts: RunCommandOptions,
): Promise<CommandResult> {
  const started = performance.now();
  const graceMs = opts.graceMs ?? DEFAULT_GRACE_MS;
  if (opts.signal?.aborted || exiting) return emptyResult({ cancelled: true });
  if (args.some((a) => a.includes("\0"))) {
    return emptyResult({
      error: `an argument to \`${command}\` contains a NUL byte, which no program can receive`,
    });
  }
  const collector = new OutputCollector({
    secrets: opts.secrets,
    limits: opts.captureBytes,
    onOutput: opts.onOutput,
  });
  const groups = process.platform !== "win32";

  let subprocess;
  try {
    subprocess = execa(command, args, {
      cwd: opts.cwd,
      env: opts.env,
      extendEnv: false,
      stdin: opts.stdinFile !== undefined ? { file: opts.stdinFile } : "ignore",
      stdout: "pipe",
      stderr: "pipe",
      // Never accumulate: the output goes through the collector, which keeps a bounded head and tail.
      buffer: false,
      reject: false,
      detached: groups,
      // Our own timeout and kill, not execa's: those signal the direct child only.
      forceKillAfterDelay: false,
      cleanup: !groups,
      windowsHide: true,
    });
  } catch (error) {
    return emptyResult({
      durationMs: performance.now() - started,
      error: spawnErrorMessage(command, (error as NodeJS.ErrnoException).code, (error as Error).message),
    });
  }

  const pid = subprocess.pid;
  let timedOut = false;
  let cancelled = false;
  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (pid === undefined) return;
      if (!groups) {
        if (subprocess.exitCode !== null || subprocess.signalCode !== null) return;
        const exited = new Promise((r) => subprocess.once("exit", r));
        subprocess.kill("SIGTERM");
        let graceTimer: NodeJS.Timeout | undefined;
        const graceOver = new Promise((r) => (graceTimer = setTimeout(r, graceMs)));
        await Promise.race([exited, graceOver]);
        clearTimeout(graceTimer);
        if (subprocess.exitCode === null && subprocess.signalCode === null) subprocess.kill("SIGKILL");
        return;
      }
      if (!signalGroup(pid, "SIGTERM")) return;
      if (await waitGroupGone(pid, graceMs)) return;
      signalGroup(pid, "SIGKILL");
      // SIGKILL cannot be refused but takes a moment to land; return only once nothing runs.
      await waitGroupGone(pid, KILL_WAIT_MS);
    })();
    return stopping;
  };

  if (pid !== undefined && groups) {
    liveGroups.set(pid, () => (cancelled = true));
    installExitHooks();
  }
  subprocess.stdout?.on("data", (chunk: Buffer) => {
    collector.write("stdout", chunk);
    if (collector.callbackError !== undefined) void stop();
  });
  subprocess.stderr?.on("data", (chunk: Buffer) => {
    collector.write("stderr", chunk);
    if (collector.callbackError !== undefined) void stop();
  });
  // The tool is done; anything still running in its group is a leftover, stopped like a timeout.
  subprocess.on("exit", () => void stop());

  const timer = setTimeout(
    () => {
      timedOut = true;
      void stop();
    },
    // setTimeout fires at once for delays past 2^31-1 ms (about 24.8 days).
    Math.min(opts.timeoutMs, MAX_TIMER_MS),
  );
  const onAbort = () => {
    cancelled = true;
    void stop();
  };
  opts.signal?.addEventListener("abort", onAbort, { once: true });

  let result;
  try {
    result = await subprocess;
    await stop();
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener("abort", onAbort);
    if (pid !== undefined) liveGroups.delete(pid);
    if (liveGroups.size === 0) uninstallExitHooks();
  }
  collector.end();
  if (collector.callbackError !== undefined) throw collector.callbackError;

  // No pid: the process never started (ENOENT, EACCES...), and execa says why.
  let error: string | undefined;
  if (pid === undefined) {
    const code = (result as { code?: string }).code;
    // spawn reports a missing working directory as ENOENT too, which would read "not installed".
    const cwdExists =
      code !== "ENOENT" ||
      (await stat(opts.cwd).then(
        (s) => s.isDirectory(),
        () => false,
      ));
    error = cwdExists
      ? spawnErrorMessage(command, code, result.shortMessage ?? result.message ?? "")
      : `the working directory ${opts.cwd} does not exist`;
  }
  return {
    exitCode: result.exitCode ?? null,
    signal: result.signal ?? null,
    timedOut,
    cancelled,
    durationMs: performance.now() - started,
    outputHead: collector.capture.head,
    outputTail: collector.capture.tail,
    outputBytes: collector.bytes,
    truncated: collector.capture.truncated,
    lastStdoutLine: collector.lastStdoutLine.value(),
    ...(error !== undefined ? { error } : {}),
  };
}

export interface RunToolOptions {
  /** The checkout the tool works in. */
  cwd: string;
  prompt: string;
  /** Where to write the prompt. Default: a temporary file outside the checkout (so it is not in the patch), removed afterwards. */
  promptFile?: string;
  /** Where that temporary file goes (on Actions, RUNNER_TEMP). Default: the system's temp directory. */
  tempDir?: string;
  /** The environment to pick the tool's variables from (usually process.env). */
  env: NodeJS.ProcessEnv;
  /** Extra literal values to redact from the output. */
  secrets?: readonly string[];
  /** Live output, already redacted. */
  onOutput?: (chunk: string, stream: OutputStreamName) => void;
  /** Default: the profile's timeout_seconds. */
  timeoutMs?: number;
  /** SIGTERM to SIGKILL; default 5 s. */
  graceMs?: number;
  signal?: AbortSignal;
  /** For {evidence_file}: failure evidence in recovery runs. */
  evidenceFile?: string;
  /** For {model}; default: the profile's model. */
  model?: string;
  captureBytes?: CaptureLimits;
}

export interface ToolRunResult {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  cancelled: boolean;
  durationMs: number;
  outputHead: string;
  outputTail: string;
  outputBytes: number;
  truncated: boolean;
  tokens: number | null;
  costUsd: number | null;
  /** Why the tool could not be started, e.g. "`aider` is not installed (not found on PATH)". */
  error?: string;
  /** Declared variables (profile `env`) that were not set. */
  missingEnv: string[];
}

function parseProfile(profile: ToolProfile): ToolProfile {
  const parsed = ToolProfileSchema.safeParse(profile);
  if (parsed.success) return parsed.data;
  const name = typeof (profile as { name?: unknown })?.name === "string" ? profile.name : "?";
  throw new ConfigError(
    parsed.error.issues.map((issue) => ({
      file: `tool profile '${name}'`,
      path: issue.path.map(String).join(".") || undefined,
      message: issue.message,
    })),
  );
}

/**
 * Runs one tool on a checkout with the task's prompt. Tool failures — not installed, crashed,
 * timed out, cancelled — are in the result; it throws only for a bad profile (ConfigError), a
 * checkout that is not a directory (InputError), or an exception from onOutput.
 */
export async function runTool(profile: ToolProfile, opts: RunToolOptions): Promise<ToolRunResult> {
  const p = parseProfile(profile);
  const patterns = compileUsagePatterns(p);
  // Unknown placeholders are found before anything is written.
  substituteArgs(p.args, { prompt: "", prompt_file: "", workdir: "" }, p.name);
  if (typeof opts.prompt !== "string") throw new InputError("the prompt must be a string");
  const cwd = resolve(opts.cwd);
  const info = await stat(cwd).catch(() => null);
  if (!info?.isDirectory()) throw new InputError(`the checkout ${cwd} is not a directory`);

  const { env, missing } = toolEnv(p, opts.env);
  const secrets = [...toolSecrets(p, opts.env), ...(opts.secrets ?? [])];
  const needsFile = p.prompt_via !== "argument" || p.args.some((a) => a.includes("{prompt_file}"));

  let tempDir: string | undefined;
  let promptFile: string | undefined;
  if (needsFile) {
    if (opts.promptFile !== undefined) {
      promptFile = resolve(opts.promptFile);
      await mkdir(dirname(promptFile), { recursive: true });
    } else {
      tempDir = await mkdtemp(join(opts.tempDir ?? tmpdir(), "switchyard-prompt-"));
      promptFile = join(tempDir, "prompt.md");
    }
    await writeFile(promptFile, opts.prompt, { mode: 0o600 });
  }
  try {
    const args = substituteArgs(
      p.args,
      {
        prompt: opts.prompt,
        prompt_file: promptFile ?? "",
        workdir: cwd,
        model: opts.model ?? p.model,
        evidence_file: opts.evidenceFile,
      },
      p.name,
    );
    const result = await runCommand(p.command, args, {
      cwd,
      env,
      stdinFile: p.prompt_via === "stdin" ? promptFile : undefined,
      timeoutMs: opts.timeoutMs ?? p.timeout_seconds * 1000,
      graceMs: opts.graceMs,
      signal: opts.signal,
      secrets,
      onOutput: opts.onOutput,
      captureBytes: opts.captureBytes,
    });
    const { lastStdoutLine, ...rest } = result;
    const usage = parseUsage(p, { tail: result.outputTail, lastLine: lastStdoutLine }, patterns);
    return { ...rest, tokens: usage.tokens, costUsd: usage.costUsd, missingEnv: missing };
  } finally {
    if (tempDir !== undefined) await rm(tempDir, { recursive: true, force: true });
  }
}
