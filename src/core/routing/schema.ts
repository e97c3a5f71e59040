import { z } from "zod";
import { NameSchema, StrategySchema } from "../../config/schema.js";

export const ExclusionSchema = z.enum([
  "not_capable",
  "disabled",
  "unavailable",
  "circuit_open",
  "over_concurrency",
  "overridden",
  "not_in_chain",
  /** Named in a chain but no profile in `tools` has that name. */
  "unknown_tool",
  /** Eligible, but the chosen tool and `max_fallbacks` fallbacks were already taken. */
  "beyond_max_fallbacks",
]);
export type Exclusion = z.infer<typeof ExclusionSchema>;

export const CandidateSchema = z.strictObject({
  tool: NameSchema,
  /** Higher is better; null for a candidate that was excluded before scoring. */
  score: z.number().nullable(),
  status: z.enum(["chosen", "fallback", "excluded"]),
  exclusion: ExclusionSchema.optional(),
  reason: z.string(),
});
export type Candidate = z.infer<typeof CandidateSchema>;

export const RoutingDecisionSchema = z
  .strictObject({
    task_key: z.string(),
    capability: NameSchema,
    strategy: StrategySchema,
    /** null when no tool can take the task; `summary` says why. */
    tool: NameSchema.nullable(),
    fallback: z.array(NameSchema),
    candidates: z.array(CandidateSchema),
    override: z
      .strictObject({
        requested: NameSchema,
        source: z.enum(["label", "command", "task"]),
        accepted: z.boolean(),
        reason: z.string(),
      })
      .optional(),
    /** One sentence for people: what was chosen and why. */
    summary: z.string(),
  })
  .describe("Which tool takes a task, the fallback chain and the reason for every candidate.");
export type RoutingDecision = z.infer<typeof RoutingDecisionSchema>;

export const OutcomeSchema = z.strictObject({
  tool: NameSchema,
  ok: z.boolean(),
  at: z.string().datetime({ offset: true }),
});
export type Outcome = z.infer<typeof OutcomeSchema>;

/**
 * What the router knows of the world besides the task and the config. Every field is rebuilt by
 * the door from GitHub (check runs, labels, metrics.json) or from the local machine, so the router
 * itself keeps no memory and the same signals always give the same decision.
 */
export const SignalsSchema = z.strictObject({
  now: z.string().datetime({ offset: true }),
  /** Tool -> available, or the reason it is not (missing binary, missing secret). Unlisted = available. */
  availability: z.record(z.string(), z.union([z.literal(true), z.string()])).default({}),
  /** Tool -> runs in flight now. */
  in_flight: z.record(z.string(), z.number().int().min(0)).default({}),
  /** Recent outcomes, any order; the circuit breaker reads them per tool. */
  outcomes: z.array(OutcomeSchema).default([]),
  /** The tool this issue or PR used last (sticky strategy). */
  previous_tool: NameSchema.optional(),
  /** How many tasks this repository has routed so far (round robin turns on it). */
  routed_count: z.number().int().min(0).default(0),
  /** Per-tool figures from the analysis (metrics.json), for the metrics strategy. */
  metrics: z
    .array(
      z.strictObject({
        tool: NameSchema,
        capability: NameSchema.optional(),
        attempts: z.number().int().min(0),
        successes: z.number().int().min(0),
        p50_ms: z.number().min(0).nullable().optional(),
        cost: z.number().min(0).nullable().optional(),
      }),
    )
    .default([]),
  /** Override asked for by a `/switchyard route <tool>` command. */
  command_tool: NameSchema.optional(),
});
export type Signals = z.input<typeof SignalsSchema>;
export type ParsedSignals = z.output<typeof SignalsSchema>;
