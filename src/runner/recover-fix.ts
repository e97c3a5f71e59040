import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { ConfigSchema, NameSchema, type Config } from "../config/schema.js";
import { ShaSchema, type CapturedPatch } from "../core/execution/commit-port.js";
import type { ExecutionResult } from "../core/execution/schema.js";
import { InputError } from "../core/errors.js";
import { checkPatchPolicy, policyFromConfig } from "../core/policy/patch-policy.js";
import { redact } from "../core/redact.js";
import { LadderCategorySchema, MAX_FIXERS, RecoveryKeySchema } from "../core/recovery/ladder.js";
import { renderEvidence } from "../core/recovery/render.js";
import {
  ClassificationSchema,
  EvidenceSchema,
  type Classification,
  type Evidence,
} from "../core/recovery/schema.js";
import { RoutingDecisionSchema, type RoutingDecision } from "../core/routing/schema.js";
import { TaskSchema, type Task } from "../core/task/schema.js";
import { checkAvailability } from "./availability.js";
import { executeTask, type ProgressEvent } from "./execute.js";
import { runGates } from "./gates.js";
import { assertCleanCheckout, GitCommandManager, resetToBase, type HeadState } from "./git.js";
import { capturePatch, withTempIndex } from "./patch.js";
import { toolSecrets } from "./tool-env.js";
import { runTool } from "./tool-runner.js";

/**
 * One rung of the recovery ladder, run on a checkout of the failing head: the fixers of the
 * category (`run_fixers`) or one AI tool with the failure's evidence (`run_ai`). What comes out
 * is a patch that the policy accepted and the gates passed, left in the work tree and returned,
 * or the reason there is none. Committing it is fix-delivery's job, not this one's.
 *
 * Two pipelines, on purpose:
 * - The fixers run one after another on the same tree, each on top of the previous one's edits,
 *   and what they changed together is one patch. A fixer's exit code says whether problems
 *   remain, not whether it did its job (`eslint --fix` and `ruff check --fix` exit 1 when
 *   something is left that they cannot fix, having fixed the rest), so it is the change that
 *   counts: a fixer that changed nothing is recorded as such and is not an error, and a fixer
 *   that crashed or timed out has its edits (only its own) undone.
 * - An AI tool runs through executeTask, the execute flow's own pipeline (availability, timeout,
 *   retries, capture, policy, gates), with a prompt that says which failure to fix and carries
 *   the evidence. The evidence is also written to a file outside the checkout (so it never lands
 *   in the patch) that the prompt names, for tools that read files better than long prompts.
 */

/** The prompt carries the evidence up to this many characters; the file has up to 96 KiB. */
export const PROMPT_EVIDENCE_CHARS = 48 * 1024;
const MAX_REASON_CHARS = 2_000;
/** Tool output kept per fixer: the end, where linters put their summaries. */
const FIXER_CAPTURE = { head: 2 * 1024, tail: 8 * 1024 };

/** What a recovery run knows about the failure it is fixing: the fields of the app's dispatch. */
export const RecoveryFixContextSchema = z.strictObject({
  key: RecoveryKeySchema,
  /** The failed workflow run. */
  run_id: z.number().int().positive(),
  /** The failing commit, which the checkout must be at. */
  head_sha: ShaSchema,
  head_ref: z.string().min(1).max(255),
  pr_number: z.number().int().positive().nullable(),
  category: LadderCategorySchema,
  signature: z.string().min(1).max(300).optional(),
  /** The ladder's attempt number for this run (1-based). */
  attempt: z.number().int().min(1).max(1000),
});
export type RecoveryFixContext = z.infer<typeof RecoveryFixContextSchema>;

export const FixActionSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("run_fixers"), tools: z.array(NameSchema).min(1).max(MAX_FIXERS) }),
  z.strictObject({ kind: z.literal("run_ai"), tool: NameSchema }),
]);
export type FixAction = z.infer<typeof FixActionSchema>;

export type FixerStatus = "changed" | "unchanged" | "failed" | "unavailable";

/** What one fixer did. */
export interface FixerRun {
  tool: string;
  status: FixerStatus;
  reason: string;
  exit_code: number | null;
  duration_ms: number;
  /** Paths this fixer changed (on top of the fixers before it). */
  files: string[];
}

export interface RecoveryFixResult {
  step: "mechanical" | "ai";
  /**
   * fixed: `patch` is ready to deliver. no_fix: something ran and there is nothing to deliver.
   * unavailable: nothing could run (the ladder refunds the attempt). cancelled: the run was
   * stopped; report nothing to the ladder, which treats the missing result as a failure.
   */
  result: "fixed" | "no_fix" | "unavailable" | "cancelled";
  /** One paragraph for people: what ran and what came of it; redacted. */
  reason: string;
  /** The fixers as the action listed them, or the AI tool. */
  tools: string[];
  /** Set when fixed: the patch against `head_sha`, also left in the work tree. */
  patch: CapturedPatch | null;
  /** One entry per listed fixer, in order (mechanical only). */
  fixers: FixerRun[];
  /** The execute pipeline's result (ai only). */
  execution: ExecutionResult | null;
  /** Where the evidence was written (ai only). */
  evidenceFile: string | null;
}

export type FixProgress =
  | { type: "fixer_started"; tool: string }
  | { type: "fixer_output"; tool: string; text: string }
  | { type: "fixer_finished"; run: FixerRun }
  | { type: "ai_progress"; progress: ProgressEvent };

export interface RecoveryFixInput {
  action: FixAction;
  context: RecoveryFixContext;
  config: Config;
  /** Needed for run_ai; shown to the tool. */
  evidence?: Evidence | null;
  classification?: Classification | null;
  /** A git work tree at context.head_sha, clean. */
  checkout: string;
  /** Where tool and gate environments are picked from (usually process.env). */
  env: NodeJS.ProcessEnv;
  /** Where the evidence file and prompt files go: outside the checkout (on Actions, RUNNER_TEMP). */
  tempDir: string;
  /** This run's id, for the AI pipeline's records. */
  runId: string;
  now: () => number;
  secrets?: string[];
  signal?: AbortSignal;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  onProgress?: (progress: FixProgress) => void;
}

function parse<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`)
    .join("; ");
  throw new InputError(`Cannot run the recovery fix: ${what} is not valid: ${issues}`);
}

function cap(text: string, max = MAX_REASON_CHARS): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function lastLine(text: string): string {
  return cap(
    text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .findLast((l) => l !== "") ?? "",
    200,
  );
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** Runs one rung. Throws InputError for bad input (before anything runs); tool failures are results. */
export async function runRecoveryFix(input: RecoveryFixInput): Promise<RecoveryFixResult> {
  const action = parse(FixActionSchema, input.action, "the action");
  const context = parse(RecoveryFixContextSchema, input.context, "the recovery context");
  const config = parse(ConfigSchema, input.config, "the configuration");
  if (typeof input.checkout !== "string" || input.checkout === "") {
    throw new InputError("Cannot run the recovery fix: the checkout to run in is required");
  }
  if (typeof input.tempDir !== "string" || input.tempDir === "") {
    throw new InputError(
      "Cannot run the recovery fix: a temporary directory outside the checkout is required",
    );
  }
  const git = await GitCommandManager.open(input.checkout);
  const head = await git.readHead();
  if (head.sha !== context.head_sha) {
    throw new InputError(
      `the checkout at ${git.dir} is at ${head.sha.slice(0, 12)}, not at the failing commit ` +
        `${context.head_sha.slice(0, 12)}; check out the failing head (actions/checkout with ref: <head sha>)`,
    );
  }
  if (path.resolve(input.tempDir).startsWith(path.resolve(git.dir) + path.sep)) {
    throw new InputError(
      `the temporary directory ${input.tempDir} is inside the checkout, where the evidence would end up in the patch`,
    );
  }
  if (action.kind === "run_ai") {
    const evidence = parse(EvidenceSchema, input.evidence, "the evidence (an AI tool needs it)");
    const classification =
      input.classification == null
        ? undefined
        : parse(ClassificationSchema, input.classification, "the classification");
    return runAi(input, action.tool, context, config, git, evidence, classification);
  }
  return runFixers(input, action.tools, context, config, git, head);
}

// --- the fixers ---------------------------------------------------------------------------------

async function runFixers(
  input: RecoveryFixInput,
  tools: string[],
  context: RecoveryFixContext,
  config: Config,
  git: GitCommandManager,
  start: HeadState,
): Promise<RecoveryFixResult> {
  await assertCleanCheckout(git);
  if (await git.configBool("core.sparseCheckout")) {
    throw new InputError(`the checkout at ${git.dir} is sparse; the fixers need a full checkout`);
  }
  // Every configured tool's keys, as the execute flow does: a fixer could print any of them.
  const secrets = [...(input.secrets ?? []), ...config.tools.flatMap((p) => toolSecrets(p, input.env))];
  const say = (text: string) => cap(redact(text, secrets));
  const progress = (p: FixProgress) => {
    try {
      input.onProgress?.(p);
    } catch {
      // Watching the run must not break it (EPIPE on a closed stdout).
    }
  };
  const baseTree = await git.treeOf(start.sha);
  let tree = baseTree;
  const runs: FixerRun[] = [];
  const unique = [...new Set(tools)];

  for (const name of unique) {
    if (input.signal?.aborted) break;
    const began = performance.now();
    const record = (status: FixerStatus, reason: string, extra: Partial<FixerRun> = {}): FixerRun => {
      const run: FixerRun = {
        tool: name,
        status,
        reason: say(reason),
        exit_code: null,
        duration_ms: Math.round(performance.now() - began),
        files: [],
        ...extra,
      };
      runs.push(run);
      progress({ type: "fixer_finished", run });
      return run;
    };
    const profile = config.tools.find((t) => t.name === name);
    if (profile === undefined) {
      record("unavailable", `no tool profile is named '${name}' (tools)`);
      continue;
    }
    if (profile.kind === "ai") {
      record(
        "unavailable",
        `'${name}' is an AI tool; list it in recovery.escalation, not recovery.mechanical`,
      );
      continue;
    }
    const availability = await checkAvailability(profile, input.env, { cwd: git.dir, signal: input.signal });
    if (!availability.available) {
      record("unavailable", availability.reason);
      continue;
    }
    progress({ type: "fixer_started", tool: name });
    const result = await runTool(profile, {
      cwd: git.dir,
      // Fixers take no prompt; one that asks for {prompt_file} gets a short note.
      prompt: `Fix the ${context.category} failure of ${context.key} in this checkout.\n`,
      tempDir: input.tempDir,
      env: input.env,
      secrets,
      signal: input.signal,
      captureBytes: FIXER_CAPTURE,
      onOutput: (text) => progress({ type: "fixer_output", tool: name, text }),
    });
    const exited =
      result.exitCode !== null ? `exited with code ${result.exitCode}` : `was killed by ${result.signal}`;
    if (result.error !== undefined) {
      record("unavailable", result.error);
      continue;
    }
    if (result.cancelled || result.timedOut) {
      // A fixer stopped half-way may have left a file half-written: only its own edits go.
      await restoreTree(git, start, tree, baseTree);
      const why = result.cancelled
        ? "the run was stopped while it ran"
        : `it did not finish within ${profile.timeout_seconds} s`;
      record("failed", `${why}; its edits were undone`, { exit_code: result.exitCode });
      if (result.cancelled) break;
      continue;
    }
    const after = await worktreeTree(git, start.sha);
    const files = after === tree ? [] : await changedPaths(git, tree, after);
    tree = after;
    const said = lastLine(result.outputTail);
    if (files.length > 0) {
      const note = result.exitCode === 0 ? "" : ` (it ${exited}: problems it cannot fix may remain)`;
      record("changed", `changed ${plural(files.length, "file")}${note}`, {
        exit_code: result.exitCode,
        files,
      });
    } else if (result.exitCode === 0) {
      record("unchanged", "changed nothing: the files already met its rules", { exit_code: 0 });
    } else {
      record("failed", `changed nothing and ${exited}${said ? `: ${said}` : ""}`, {
        exit_code: result.exitCode,
      });
    }
  }

  const base = { step: "mechanical" as const, tools, fixers: runs, execution: null, evidenceFile: null };
  const summary = runs.map((r) => `${r.tool}: ${r.reason}`).join("; ");
  if (input.signal?.aborted) {
    await resetToBase(git, start);
    return { ...base, result: "cancelled", reason: say(`the run was stopped; ${summary}`), patch: null };
  }
  if (runs.every((r) => r.status === "unavailable")) {
    return { ...base, result: "unavailable", reason: say(`no fixer could run: ${summary}`), patch: null };
  }
  const patch = await capturePatch(git, start.sha);
  if (patch.files.length === 0) {
    await resetToBase(git, start);
    return { ...base, result: "no_fix", reason: say(`no fixer changed anything: ${summary}`), patch: null };
  }
  const policy = checkPatchPolicy(patch.files, policyFromConfig(config.execution, []));
  if (!policy.ok) {
    await resetToBase(git, start);
    const why = policy.violations.map((v) => v.message).join("; ");
    return { ...base, result: "no_fix", reason: say(`the fixers' patch was refused: ${why}`), patch: null };
  }
  const gates = await runGates(config.execution.gates, {
    cwd: git.dir,
    env: input.env,
    signal: input.signal,
    secrets,
  });
  if (gates.cancelled || !gates.passed) {
    await resetToBase(git, start);
    const failed = gates.results.at(-1);
    const why = gates.cancelled
      ? "the run was stopped while the gates ran"
      : `the fixers' patch failed the gate ${failed?.name ?? "?"}` +
        (failed?.exit_code != null ? ` (exit code ${failed.exit_code})` : "");
    return { ...base, result: gates.cancelled ? "cancelled" : "no_fix", reason: say(why), patch: null };
  }
  // Files a gate wrote are not part of the fix: leave exactly the captured tree.
  await restoreTree(git, start, patch.tree_sha, baseTree);
  const changed = runs.filter((r) => r.status === "changed").map((r) => r.tool);
  const reason =
    `${changed.join(", ")} changed ${plural(patch.stats.files, "file")} ` +
    `(+${patch.stats.additions} −${patch.stats.deletions})` +
    (gates.results.length > 0 ? " and the gates passed" : "");
  return { ...base, result: "fixed", reason: say(reason), patch };
}

/** The work tree and HEAD back at `start`, then `tree`'s files laid over it (index untouched). */
async function restoreTree(git: GitCommandManager, start: HeadState, tree: string, baseTree: string) {
  await resetToBase(git, start);
  if (tree === baseTree) return;
  await git.exec(["read-tree", "-u", "--reset", tree]);
  await git.exec(["reset", "--quiet"]);
}

/** The tree the work tree would commit as (ignored files left out), without touching the index. */
async function worktreeTree(git: GitCommandManager, baseSha: string): Promise<string> {
  return withTempIndex(git, baseSha, async (indexed) => {
    await indexed.exec(["add", "--all"]);
    return (await indexed.exec(["write-tree"])).stdout.trim();
  });
}

async function changedPaths(git: GitCommandManager, from: string, to: string): Promise<string[]> {
  const r = await git.exec(["diff-tree", "-r", "-z", "--no-renames", "--name-only", from, to]);
  return r.stdout.split("\0").filter(Boolean);
}

// --- the AI tool --------------------------------------------------------------------------------

async function runAi(
  input: RecoveryFixInput,
  tool: string,
  context: RecoveryFixContext,
  config: Config,
  git: GitCommandManager,
  evidence: Evidence,
  classification: Classification | undefined,
): Promise<RecoveryFixResult> {
  const dir = path.join(input.tempDir, "switchyard-recovery");
  await mkdir(dir, { recursive: true });
  const evidenceFile = path.join(dir, `evidence-${context.run_id}-${context.attempt}.md`);
  await writeFile(evidenceFile, renderEvidence(evidence, classification ? { classification } : {}), {
    mode: 0o600,
  });
  const prompt = buildRecoveryPrompt({ context, config, evidence, classification, evidenceFile });
  const task = recoveryTask(context, prompt);
  const execution = await executeTask({
    task,
    decision: recoveryDecision(task.key, tool),
    config,
    checkout: git.dir,
    env: input.env,
    runId: input.runId,
    now: input.now,
    tempDir: input.tempDir,
    evidenceFile,
    ...(input.secrets ? { secrets: input.secrets } : {}),
    ...(input.signal ? { signal: input.signal } : {}),
    ...(input.sleep ? { sleep: input.sleep } : {}),
    onProgress: (progress) => input.onProgress?.({ type: "ai_progress", progress }),
  });
  const last = execution.attempts.at(-1);
  const base = { step: "ai" as const, tools: [tool], fixers: [], execution, evidenceFile };
  const reason = last?.reason ?? `${tool} did not run`;
  if (execution.outcome === "success") {
    // executeTask leaves the winning patch in the work tree (HEAD unchanged): capture it again.
    const patch = await capturePatch(git, execution.base_sha);
    return { ...base, result: "fixed", reason, patch };
  }
  if (execution.outcome === "tool_unavailable")
    return { ...base, result: "unavailable", reason, patch: null };
  if (execution.outcome === "error" && input.signal?.aborted) {
    return { ...base, result: "cancelled", reason, patch: null };
  }
  return { ...base, result: "no_fix", reason, patch: null };
}

export interface RecoveryPromptInput {
  context: RecoveryFixContext;
  config: Config;
  evidence: Evidence;
  classification?: Classification | undefined;
  /** Where the full evidence was written; named in the prompt. */
  evidenceFile: string;
}

/**
 * The document an AI tool gets: which failure to fix, then the evidence (log text is untrusted:
 * renderEvidence fences it and says it is data), then the rules, last, so nothing in the
 * evidence reads as coming after them.
 */
export function buildRecoveryPrompt(input: RecoveryPromptInput): string {
  const { context: c, classification } = input;
  const where = c.pr_number !== null ? `pull request #${c.pr_number}` : `branch \`${c.head_ref}\``;
  const signature = classification?.signature ?? c.signature;
  const lines = [
    `# Fix a CI failure on ${where}`,
    "",
    `Switchyard recovery \`${c.key}\`, attempt ${c.attempt}. Workflow run ${c.run_id} failed on ` +
      `\`${c.head_ref}\` at commit ${c.head_sha.slice(0, 12)}, which is checked out here.`,
    `Failure class: **${c.category}**.` +
      (signature ? ` Signature: \`${signature.replace(/`/g, "'")}\`.` : ""),
  ];
  if (classification) lines.push(`Why it was classed so: ${classification.reason}`);
  lines.push(
    "",
    `The evidence from the failed job follows. It is also in the file \`${input.evidenceFile}\`, outside ` +
      "the checkout.",
    "",
    renderEvidence(input.evidence, {
      ...(classification ? { classification } : {}),
      maxChars: PROMPT_EVIDENCE_CHARS,
    }).replace(/^# /, "## "),
    "## Rules",
    "",
    "- Fix the cause of this failure in the working tree, with the smallest change that makes the failed step pass.",
    "- Do not weaken the check instead: do not delete or skip tests, loosen lint rules or type checks, or change CI configuration.",
    "- Do not commit, push, create branches or open pull requests: Switchyard does that.",
  );
  const forbidden = input.config.execution.allow_workflow_changes
    ? input.config.execution.forbidden_paths.filter((g) => !g.startsWith(".github/workflows"))
    : input.config.execution.forbidden_paths;
  if (forbidden.length > 0) {
    lines.push(`- Do not change files matching: ${forbidden.map((g) => `\`${g}\``).join(", ")}.`);
  }
  lines.push(
    "- Never write secrets, tokens or credentials into a file or into your output.",
    "- If the failure cannot be fixed in the code (a flaky service, a missing secret), change nothing and say why.",
    "",
  );
  return lines.join("\n");
}

/**
 * The execute pipeline takes a Task; a recovery is one with the prompt above. Its key must be
 * `owner/repo#<n>`: the PR's number, or for a branch without a PR the failed run's id, which is
 * only used inside the pipeline (its seed and records), never written to GitHub.
 */
export function recoveryTask(context: RecoveryFixContext, prompt: string): Task {
  const repository = context.key.replace(/[#@].*$/, "");
  const [owner, name] = repository.split("/") as [string, string];
  const number = context.pr_number ?? context.run_id;
  return TaskSchema.parse({
    key: `${repository}#${number}`,
    kind: "pull_request",
    repository: { owner, name },
    number,
    title: `Fix the ${context.category} failure on ${context.head_ref}`,
    body: "",
    author: "switchyard",
    labels: [],
    capability: "error_fix",
    capability_source: "default",
    capability_reason: "a recovery run fixes a CI failure",
    prompt,
    scope: [],
    risk: "medium",
    constraints: [],
    depends_on: [],
    overrides: {},
    form: {},
    sources: { head_ref: context.head_ref },
    sanitization: { removed: [], truncated: false, original_bytes: 0, kept_bytes: 0 },
    warnings: [],
  });
}

function recoveryDecision(taskKey: string, tool: string): RoutingDecision {
  return RoutingDecisionSchema.parse({
    task_key: taskKey,
    capability: "error_fix",
    strategy: "priority",
    tool,
    fallback: [],
    candidates: [{ tool, score: null, status: "chosen", reason: "the recovery ladder's next AI tool" }],
    summary: `${tool}, the recovery ladder's next AI tool (recovery.escalation)`,
  });
}
