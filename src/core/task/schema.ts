import { z } from "zod";
import { NameSchema } from "../../config/schema.js";

/**
 * A task: an issue or pull request turned into work for a tool. Everything a tool sees comes from
 * here, and every text field in it has been sanitised (see sanitize.ts) before it was set.
 */

export const RepositoryRefSchema = z.strictObject({
  owner: z.string().min(1).max(100),
  name: z.string().min(1).max(100),
});
export type RepositoryRef = z.infer<typeof RepositoryRefSchema>;

export const CapabilitySourceSchema = z.enum(["label", "config_label", "form", "inferred", "default"]);

export const DependencySchema = z.strictObject({
  owner: z.string().min(1),
  name: z.string().min(1),
  number: z.number().int().positive(),
  /** The words it was found by: "Depends on", "Blocked by" or a task-list item. */
  via: z.enum(["depends_on", "blocked_by", "task_list"]),
});
export type Dependency = z.infer<typeof DependencySchema>;

export const SanitizationReportSchema = z.strictObject({
  removed: z.array(
    z.strictObject({
      /** hidden_markdown: link reference definitions ("[//]: # (…)") and link titles, which never render. */
      kind: z.enum([
        "html_comment",
        "invisible_char",
        "bidi_control",
        "hidden_block",
        "image_alt",
        "hidden_html",
        "hidden_markdown",
      ]),
      count: z.number().int().positive(),
    }),
  ),
  truncated: z.boolean(),
  original_bytes: z.number().int().min(0),
  kept_bytes: z.number().int().min(0),
});
export type SanitizationReport = z.infer<typeof SanitizationReportSchema>;

export const TaskSchema = z
  .strictObject({
    /** Stable for the same issue or PR: "owner/name#number". */
    key: z.string().regex(/^[^/\s]+\/[^#\s]+#\d+$/),
    kind: z.enum(["issue", "pull_request"]),
    repository: RepositoryRefSchema,
    number: z.number().int().positive(),
    title: z.string().max(1024),
    body: z.string(),
    author: z.string(),
    labels: z.array(z.string()),
    capability: NameSchema,
    capability_source: CapabilitySourceSchema,
    /** Why that capability: the label, the form field or the words that matched. */
    capability_reason: z.string(),
    /** The text handed to the tool. */
    prompt: z.string(),
    /** Globs of the files the task may change; empty = the whole repository (less forbidden paths). */
    scope: z.array(z.string()),
    risk: z.enum(["low", "medium", "high"]),
    constraints: z.array(z.string()),
    depends_on: z.array(DependencySchema),
    overrides: z.strictObject({
      tool: NameSchema.optional(),
      timeout_seconds: z.number().int().positive().optional(),
      retries: z.number().int().min(0).optional(),
    }),
    /** Issue-form sections (### Heading -> text), keyed by the normalised heading. */
    form: z.record(z.string(), z.string()),
    sources: z.strictObject({
      html_url: z.string().optional(),
      api_url: z.string().optional(),
      head_ref: z.string().optional(),
      base_ref: z.string().optional(),
    }),
    sanitization: SanitizationReportSchema,
    /** Notes for people: overrides clamped to the configured bounds, unknown form values and the like. */
    warnings: z.array(z.string()),
  })
  .describe("A unit of work built from a GitHub issue or pull request.");
export type Task = z.infer<typeof TaskSchema>;
