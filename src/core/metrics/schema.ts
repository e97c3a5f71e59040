import { z } from "zod";
import { NameSchema } from "../../config/schema.js";
import { OutcomeKindSchema } from "../execution/schema.js";

const Rate = z.number().min(0).max(1);
const Count = z.number().int().min(0);

/** The same figures over the window before, for trends. */
const PreviousToolMetricsSchema = z.strictObject({
  attempts: Count,
  successes: Count,
  success_rate: Rate.nullable(),
  p50_ms: z.number().min(0).nullable(),
});

export const ToolMetricsSchema = z.strictObject({
  tool: NameSchema,
  capability: NameSchema.optional(),
  attempts: z.number().int().min(0),
  successes: z.number().int().min(0),
  success_rate: Rate.nullable(),
  /** Wilson score interval (95%) around the success rate. */
  ci_low: Rate.nullable(),
  ci_high: Rate.nullable(),
  p50_ms: z.number().min(0).nullable(),
  p95_ms: z.number().min(0).nullable(),
  /** Total tokens over the runs that reported them; null when none did. */
  tokens: z.number().int().min(0).nullable(),
  /** Mean cost of one run, over the runs that reported a cost (what the router compares). */
  cost: z.number().min(0).nullable(),
  /** Total cost of the runs that reported one, in USD. */
  cost_total: z.number().min(0).nullable().optional(),
  /**
   * Every execute_finished by outcome, including the ones `attempts` leaves out: tool_unavailable
   * (the tool never started) and error (the run was cancelled or Switchyard failed).
   */
  outcomes: z.partialRecord(OutcomeKindSchema, Count).optional(),
  previous: PreviousToolMetricsSchema.optional(),
});

export const MetricsSchema = z
  .strictObject({
    schema_version: z.literal(1),
    repository: z.string(),
    generated_at: z.string(),
    window: z.strictObject({
      from: z.string(),
      to: z.string(),
      /** The window of the same length just before, which `previous` figures and trends refer to. */
      previous: z.strictObject({ from: z.string(), to: z.string() }).optional(),
    }),
    tools: z.array(ToolMetricsSchema),
    recovery: z.array(
      z.strictObject({
        category: z.string(),
        step: z.string(),
        attempts: z.number().int().min(0),
        successes: z.number().int().min(0),
        /** Steps that reached no verdict (ok: null), e.g. skipped; not in `attempts`. */
        undecided: Count.optional(),
      }),
    ),
    /** Recovery as a whole: episodes are the steps on one task until it turned green or was quarantined. */
    recovery_summary: z
      .strictObject({
        steps: Count,
        greens: Count,
        /** Mean number of decided steps up to and including the one that turned the task green. */
        steps_to_green_mean: z.number().min(0).nullable(),
        steps_to_green_max: Count.nullable(),
        quarantines: Count,
        flaky: Count,
        previous: z
          .strictObject({ steps: Count, greens: Count, quarantines: Count, flaky: Count })
          .optional(),
      })
      .optional(),
    workflows: z.array(
      z.strictObject({
        name: z.string(),
        runs: z.number().int().min(0),
        failures: z.number().int().min(0),
        failure_rate: Rate.nullable(),
        /** The window before, for the trend. */
        previous: z.strictObject({ runs: Count, failures: Count, failure_rate: Rate.nullable() }).optional(),
      }),
    ),
    flaky_tests: z.array(z.strictObject({ name: z.string(), flips: z.number().int().min(1) })),
    signatures: z.array(
      z.strictObject({
        signature: z.string(),
        category: z.string(),
        count: z.number().int().min(1),
        first_seen: z.string(),
        last_seen: z.string(),
      }),
    ),
    gaps: z.array(z.string()),
    /** What was read: local files or artifacts, lines, events and the lines skipped as corrupt. */
    input: z
      .strictObject({
        files: Count,
        lines: Count,
        events: Count,
        skipped: Count,
        /** Recovery status comments whose ladder state was read (the app's recovery steps). */
        recovery_markers: Count.optional(),
        in_window: Count,
        in_previous_window: Count,
        outside_windows: Count,
      })
      .optional(),
  })
  .describe("metrics.json: what the scheduled analysis measured; the router's metrics strategy reads it.");
export type Metrics = z.infer<typeof MetricsSchema>;
export type ToolMetrics = z.infer<typeof ToolMetricsSchema>;
