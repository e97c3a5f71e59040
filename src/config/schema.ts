import { z } from "zod";
import { RecoveryRulesSchema } from "../core/recovery/schema.js";

/**
 * The configuration's shape: the one place that says what a tool profile and a repository's
 * `.github/switchyard.yml` may hold. Strict objects everywhere, so a misspelt key is an error
 * that names the key (and the loader suggests the near miss) instead of a silently ignored line.
 */

export const BUILTIN_CAPABILITIES = [
  "code_generation",
  "refactoring",
  "testing",
  "linting",
  "documentation",
  "error_fix",
  "dependency_update",
] as const;

export const NameSchema = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,62}$/, "a lower-case name: letters, digits, '-' or '_', starting with a letter");
const EnvNameSchema = z
  .string()
  .regex(/^[A-Z_][A-Z0-9_]*$/, "an environment variable name such as OPENAI_API_KEY");
const Seconds = (max: number) => z.number().int().positive().max(max);

export const ToolProfileSchema = z
  .strictObject({
    name: NameSchema,
    description: z.string().max(500).optional(),
    /** ai tools take a prompt; mechanical fixers (prettier, eslint --fix) and scripts may ignore it. */
    kind: z.enum(["ai", "mechanical", "script"]).default("ai"),
    enabled: z.boolean().default(true),
    command: z.string().min(1),
    /**
     * Argument template. Placeholders: {prompt_file}, {prompt}, {workdir}, {model}, {evidence_file}.
     * Each array item stays one argument after substitution: nothing is ever split or given to a shell.
     */
    args: z.array(z.string()).default([]),
    prompt_via: z.enum(["file", "stdin", "argument"]).default("file"),
    model: z.string().optional(),
    /** Names of the environment variables the tool needs; only these (and a base allowlist) reach it. */
    env: z.array(EnvNameSchema).default([]),
    /** Needed variables of which at least one must be set for the tool to count as available. */
    env_any_of: z.array(EnvNameSchema).default([]),
    /** Passed through when set, never required: model and endpoint settings (AIDER_MODEL, OPENAI_BASE_URL). */
    env_optional: z.array(EnvNameSchema).default([]),
    capabilities: z.array(NameSchema).min(1),
    timeout_seconds: Seconds(6 * 3600).default(900),
    retries: z.number().int().min(0).max(10).default(0),
    cost_weight: z.number().min(0).max(1000).default(1),
    max_concurrency: z.number().int().min(1).max(1000).default(2),
    availability: z
      .strictObject({
        command: z.string().min(1).optional(),
        args: z.array(z.string()).default(["--version"]),
        timeout_seconds: Seconds(120).default(10),
      })
      .default({ args: ["--version"], timeout_seconds: 10 }),
    /** How to read tokens and cost from the tool's output, when it reports them. */
    output: z
      .strictObject({
        format: z.enum(["text", "json", "jsonl"]).default("text"),
        tokens_pattern: z.string().optional(),
        cost_pattern: z.string().optional(),
      })
      .default({ format: "text" }),
  })
  .describe("A tool Switchyard can run: an AI coding tool, a mechanical fixer or a script.");
export type ToolProfile = z.infer<typeof ToolProfileSchema>;

export const STRATEGIES = ["priority", "round_robin", "least_busy", "sticky", "metrics"] as const;
export const StrategySchema = z.enum(STRATEGIES);
export type Strategy = z.infer<typeof StrategySchema>;

const GlobList = z.array(z.string().min(1).max(500));

export const GateSchema = z.strictObject({
  name: NameSchema,
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  timeout_seconds: Seconds(6 * 3600).default(600),
  /** Variables passed through to this gate when set (e.g. DATABASE_URL); tools' keys never are. */
  env: z.array(EnvNameSchema).default([]),
});

export const ConfigSchema = z
  .strictObject({
    version: z.literal(1).default(1),
    trigger: z
      .strictObject({
        label: z.string().min(1).max(50).default("switchyard"),
        /** Bot logins (e.g. "renovate[bot]") allowed to trigger; every other bot is ignored. */
        allow_bots: z.array(z.string()).default([]),
      })
      .default({ label: "switchyard", allow_bots: [] }),
    capabilities: z
      .strictObject({
        /** Capabilities beyond the built-in ones, for tools that declare them. */
        extra: z.array(NameSchema).default([]),
        /** Issue label -> capability, e.g. { bug: error_fix, docs: documentation }. */
        labels: z.record(z.string(), NameSchema).default({}),
        default: NameSchema.default("code_generation"),
      })
      .default({ extra: [], labels: {}, default: "code_generation" }),
    tools: z.array(ToolProfileSchema).default([]),
    routing: z
      .strictObject({
        strategy: StrategySchema.default("priority"),
        /** capability -> ordered chain of tool names; `default` is used for capabilities not listed. */
        chains: z.record(NameSchema, z.array(NameSchema).min(1)).default({}),
        max_fallbacks: z.number().int().min(0).max(10).default(2),
        allow_override: z.boolean().default(true),
        metrics: z
          .strictObject({
            /** Beta prior: a tool starts as if it had this many successes and failures. */
            prior_successes: z.number().min(0).default(2),
            prior_failures: z.number().min(0).default(2),
            latency_weight: z.number().min(0).max(1).default(0.1),
            cost_weight: z.number().min(0).max(1).default(0.1),
            /** Share of decisions that try a tool with too few samples (deterministic, seeded by task). */
            exploration_rate: z.number().min(0).max(1).default(0.1),
            min_samples: z.number().int().min(0).default(5),
          })
          .default({
            prior_successes: 2,
            prior_failures: 2,
            latency_weight: 0.1,
            cost_weight: 0.1,
            exploration_rate: 0.1,
            min_samples: 5,
          }),
        circuit_breaker: z
          .strictObject({
            window: z.number().int().min(1).max(100).default(10),
            min_samples: z.number().int().min(1).max(100).default(4),
            failure_rate: z.number().gt(0).max(1).default(0.5),
            cooldown_seconds: z.number().int().min(0).default(1800),
          })
          .default({ window: 10, min_samples: 4, failure_rate: 0.5, cooldown_seconds: 1800 }),
      })
      .prefault({}),
    limits: z
      .strictObject({
        /** Upper bounds for per-task overrides written in an issue. */
        max_timeout_seconds: Seconds(6 * 3600).default(3600),
        max_retries: z.number().int().min(0).max(10).default(3),
        max_body_bytes: z.number().int().min(1024).max(10_000_000).default(65_536),
      })
      .prefault({}),
    retry: z
      .strictObject({
        base_delay_ms: z.number().int().min(0).default(2_000),
        factor: z.number().min(1).max(10).default(2),
        max_delay_ms: z.number().int().min(0).default(60_000),
        jitter: z.number().min(0).max(1).default(0.2),
        max_attempts: z.number().int().min(1).max(20).default(4),
      })
      .prefault({}),
    execution: z
      .strictObject({
        gates: z.array(GateSchema).default([]),
        forbidden_paths: GlobList.default([".github/workflows/**", ".git/**", "**/*.pem", "**/.env*"]),
        allow_workflow_changes: z.boolean().default(false),
        max_files: z.number().int().min(1).default(200),
        max_changed_lines: z.number().int().min(1).default(5_000),
        branch_prefix: z.string().min(1).max(100).default("switchyard/"),
        workflow: z.string().default(".github/workflows/switchyard-execute.yml"),
      })
      .prefault({}),
    recovery: z
      .strictObject({
        enabled: z.boolean().default(true),
        /** Workflow names or paths to watch; empty = all but Switchyard's own. */
        workflows: z.array(z.string()).default([]),
        max_attempts: z.number().int().min(0).max(20).default(3),
        cooldown_seconds: z.number().int().min(0).default(600),
        loop_guard_commits: z.number().int().min(1).max(20).default(2),
        include_drafts: z.boolean().default(false),
        fork_suggestions: z.boolean().default(false),
        /**
         * Commit fixes straight onto a person's PR branch instead of offering them as a fix PR into
         * it. Off by default: nobody's branch changes under them unless the repository asks.
         */
        push_to_pr_branch: z.boolean().default(false),
        rerun_flaky: z.boolean().default(true),
        /**
         * The workflow the app dispatches to run fixers and AI tools (mode: recover); its runs are
         * never recovered themselves.
         */
        workflow: z.string().default(".github/workflows/switchyard-recover.yml"),
        /**
         * Minutes a dispatched fixer or AI run counts as in flight: another failure of the same
         * head meanwhile waits for it instead of being taken as its verdict.
         */
        in_flight_minutes: z.number().int().min(1).max(1440).default(60),
        /** Failure category -> fixers, run together in one job as one attempt (src/core/recovery/ladder.ts). */
        mechanical: z.record(NameSchema, z.array(NameSchema)).default({}),
        escalation: z.array(NameSchema).default(["aider", "codex", "claude"]),
        /** Failure classification rules added to or switched off in the shipped table (docs/recovery.md). */
        rules: RecoveryRulesSchema.prefault({}),
      })
      .prefault({}),
    analysis: z
      .strictObject({
        window_days: z.number().int().min(1).max(90).default(7),
        max_requests: z.number().int().min(1).max(50_000).default(500),
        /**
         * The analysis workflow, which uploads metrics.json as the switchyard-metrics artifact. The
         * router's metrics strategy reads that artifact only from a run of this workflow started by
         * schedule or workflow_dispatch: any run can upload an artifact by that name.
         */
        workflow: z.string().min(1).default(".github/workflows/switchyard-analyze.yml"),
        dashboard_title: z.string().min(1).max(200).default("Switchyard dashboard"),
        /** Publish the dashboard issue; false keeps the report to the job summary and metrics.json. */
        dashboard: z.boolean().default(true),
        /** How the dashboard issue is found again (with its marker); GitHub caps label names at 50. */
        dashboard_label: z.string().min(1).max(50).default("switchyard:dashboard"),
        /** Every alert issue carries it; the marker in the body says which alert it is. */
        alert_label: z.string().min(1).max(50).default("switchyard:alert"),
        /**
         * POST alerts to the chat webhook whose URL the workflow passes as a secret; the URL itself
         * never belongs in this file, which anyone who can read the repository can read.
         */
        webhook: z.boolean().default(true),
        thresholds: z
          .strictObject({
            tool_success_below: z.number().min(0).max(1).default(0.5),
            /** Attempts (or failures, for the flaky rate) a figure needs before it can raise an alert. */
            min_attempts: z.number().int().min(1).default(5),
            quarantines_above: z.number().int().min(0).default(3),
            flaky_rate_above: z.number().min(0).max(1).default(0.1),
            heartbeat_days: z.number().int().min(1).default(7),
            /** An alert still firing is commented on again after this many days, not on every run. */
            remind_days: z.number().int().min(1).default(7),
          })
          .prefault({}),
      })
      .prefault({}),
  })
  .describe(
    "Switchyard configuration: config/switchyard.yml merged with a repository's .github/switchyard.yml.",
  );
export type Config = z.infer<typeof ConfigSchema>;
export type Gate = z.infer<typeof GateSchema>;
export type GateInput = z.input<typeof GateSchema>;
