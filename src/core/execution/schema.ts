import { z } from "zod";
import { NameSchema } from "../../config/schema.js";

export const OutcomeKindSchema = z.enum([
  "success",
  "no_changes",
  "policy_violation",
  "tool_failed",
  "tool_unavailable",
  "timed_out",
  "gate_failed",
  "error",
]);
export type OutcomeKind = z.infer<typeof OutcomeKindSchema>;

export const FileChangeSchema = z.strictObject({
  path: z.string(),
  status: z.enum(["added", "modified", "deleted", "renamed", "mode_changed"]),
  old_path: z.string().optional(),
  mode: z.enum(["100644", "100755", "120000"]).optional(),
  binary: z.boolean(),
  additions: z.number().int().min(0),
  deletions: z.number().int().min(0),
});

export const GateResultSchema = z.strictObject({
  name: NameSchema,
  exit_code: z.number().int().nullable(),
  timed_out: z.boolean(),
  duration_ms: z.number().min(0),
  output_tail: z.string(),
});

export const AttemptSchema = z.strictObject({
  n: z.number().int().positive(),
  tool: NameSchema,
  outcome: OutcomeKindSchema,
  reason: z.string(),
  exit_code: z.number().int().nullable(),
  duration_ms: z.number().min(0),
  gates: z.array(GateResultSchema),
  files: z.array(FileChangeSchema),
  offending_paths: z.array(z.string()).default([]),
  output_head: z.string(),
  output_tail: z.string(),
  tokens: z.number().int().min(0).nullable().default(null),
  cost_usd: z.number().min(0).nullable().default(null),
});

export const ExecutionResultSchema = z
  .strictObject({
    task_key: z.string(),
    run_id: z.string(),
    outcome: OutcomeKindSchema,
    tool: NameSchema.nullable(),
    base_sha: z.string(),
    branch: z.string().nullable(),
    commit_sha: z.string().nullable(),
    pr_number: z.number().int().positive().nullable(),
    attempts: z.array(AttemptSchema),
    diffstat: z.strictObject({
      files: z.number().int().min(0),
      additions: z.number().int().min(0),
      deletions: z.number().int().min(0),
    }),
    started_at: z.string(),
    finished_at: z.string(),
  })
  .describe("What an execute run did: every attempt, its gates, the patch and where it landed.");
export type ExecutionResult = z.infer<typeof ExecutionResultSchema>;
export type Attempt = z.infer<typeof AttemptSchema>;
export type GateResult = z.infer<typeof GateResultSchema>;
export type FileChange = z.infer<typeof FileChangeSchema>;
