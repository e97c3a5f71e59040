import { z } from "zod";
import { NameSchema } from "../../config/schema.js";
import { RoutingDecisionSchema } from "../routing/schema.js";
import { OutcomeKindSchema, GateResultSchema } from "../execution/schema.js";

/**
 * The event log: one typed event a line (JSONL), written by every run and uploaded as an artifact,
 * read back by the analysis. One union, so a writer cannot invent a shape the reader does not know.
 */

const ULID = z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, "a ULID");
const base = {
  id: ULID,
  at: z.string().datetime({ offset: true }),
  task_key: z.string(),
  run_id: z.string().optional(),
};

export const EventSchema = z
  .discriminatedUnion("type", [
    z.strictObject({ ...base, type: z.literal("task_created"), capability: NameSchema, source: z.string() }),
    z.strictObject({ ...base, type: z.literal("route_decided"), decision: RoutingDecisionSchema }),
    z.strictObject({ ...base, type: z.literal("task_held"), blockers: z.array(z.string()) }),
    z.strictObject({
      ...base,
      type: z.literal("execute_started"),
      tool: NameSchema,
      attempt: z.number().int().positive(),
    }),
    z.strictObject({
      ...base,
      type: z.literal("execute_finished"),
      tool: NameSchema,
      attempt: z.number().int().positive(),
      outcome: OutcomeKindSchema,
      duration_ms: z.number().min(0),
      exit_code: z.number().int().nullable(),
      tokens: z.number().int().min(0).nullable().optional(),
      cost_usd: z.number().min(0).nullable().optional(),
      capability: NameSchema.optional(),
    }),
    z.strictObject({
      ...base,
      type: z.literal("gate_finished"),
      tool: NameSchema,
      attempt: z.number().int().positive(),
      gate: GateResultSchema,
    }),
    z.strictObject({
      ...base,
      type: z.literal("patch_committed"),
      branch: z.string(),
      commit_sha: z.string(),
      files: z.number().int().min(0),
      pr_number: z.number().int().positive().nullable().optional(),
    }),
    z.strictObject({
      ...base,
      type: z.literal("recovery_step"),
      step: z.enum(["rerun", "mechanical", "ai", "quarantine", "skipped"]),
      category: z.string(),
      signature: z.string().optional(),
      tool: NameSchema.optional(),
      ok: z.boolean().nullable(),
      reason: z.string(),
    }),
    z.strictObject({
      ...base,
      type: z.literal("alert"),
      kind: z.string(),
      state: z.enum(["raised", "recurred", "resolved"]),
      message: z.string(),
    }),
  ])
  .describe("One line of a Switchyard event log (JSONL).");
export type SwitchyardEvent = z.infer<typeof EventSchema>;
export type EventType = SwitchyardEvent["type"];
