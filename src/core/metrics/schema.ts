import { z } from "zod";
import { NameSchema } from "../../config/schema.js";

const Rate = z.number().min(0).max(1);

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
  tokens: z.number().int().min(0).nullable(),
  cost: z.number().min(0).nullable(),
});

export const MetricsSchema = z
  .strictObject({
    schema_version: z.literal(1),
    repository: z.string(),
    generated_at: z.string(),
    window: z.strictObject({ from: z.string(), to: z.string() }),
    tools: z.array(ToolMetricsSchema),
    recovery: z.array(
      z.strictObject({
        category: z.string(),
        step: z.string(),
        attempts: z.number().int().min(0),
        successes: z.number().int().min(0),
      }),
    ),
    workflows: z.array(
      z.strictObject({
        name: z.string(),
        runs: z.number().int().min(0),
        failures: z.number().int().min(0),
        failure_rate: Rate.nullable(),
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
  })
  .describe("metrics.json: what the scheduled analysis measured; the router's metrics strategy reads it.");
export type Metrics = z.infer<typeof MetricsSchema>;
export type ToolMetrics = z.infer<typeof ToolMetricsSchema>;
