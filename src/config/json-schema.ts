import { z } from "zod";
import { ExecutionResultSchema } from "../core/execution/schema.js";
import { EventSchema } from "../core/events/schema.js";
import { MetricsSchema } from "../core/metrics/schema.js";
import { RoutingDecisionSchema } from "../core/routing/schema.js";
import { TaskSchema } from "../core/task/schema.js";
import { ConfigSchema, GateSchema, ToolProfileSchema } from "./schema.js";

/**
 * JSON Schemas for schema/, generated from the zod schemas so the two cannot drift apart
 * (`npm run schema` writes them, a test fails when the committed files are stale).
 *
 * Which side of a schema is described depends on who writes the document:
 * - files people write (configuration, tool profiles) get the input side: a setting with a
 *   default is optional, as it is to the loader;
 * - documents Switchyard writes (tasks, decisions, results, events, metrics) get the output side:
 *   what a reader can count on finding, defaults filled in.
 */

const BASE_ID = "https://switchyard.invalid/schema/";

/**
 * What a configuration file may hold. Tools and gates in a file are merged by name with the
 * defaults, so an entry that changes one field of a shipped tool is complete with just its name;
 * a new tool still needs command and capabilities, which the loader checks after merging.
 */
const ConfigFileSchema = ConfigSchema.extend({
  tools: z.array(ToolProfileSchema.partial().required({ name: true })).default([]),
  execution: ConfigSchema.shape.execution
    .unwrap()
    .extend({ gates: z.array(GateSchema.partial().required({ name: true })).default([]) })
    .prefault({}),
});

interface Entry {
  schema: z.ZodType;
  io: "input" | "output";
  title: string;
  description: string;
}

const ENTRIES: Record<string, Entry> = {
  "config.schema.json": {
    schema: ConfigFileSchema,
    io: "input",
    title: "Switchyard configuration",
    description:
      "config/switchyard.yml or a repository's .github/switchyard.yml. Merged over the defaults: mappings by " +
      "key, tools and gates by name, other lists replaced whole; null removes a key. Tool names, " +
      "capabilities and chains are cross-checked when the configuration is loaded.",
  },
  "tool-profile.schema.json": {
    schema: ToolProfileSchema,
    io: "input",
    title: "Switchyard tool profile",
    description:
      "One tool Switchyard can run (config/tools/<name>.yml): an AI coding tool, a mechanical fixer or a script.",
  },
  "task.schema.json": {
    schema: TaskSchema,
    io: "output",
    title: "Switchyard task",
    description:
      "A unit of work built from a GitHub issue or pull request, as Switchyard hands it to a tool.",
  },
  "routing-decision.schema.json": {
    schema: RoutingDecisionSchema,
    io: "output",
    title: "Switchyard routing decision",
    description: "Which tool takes a task, the fallback chain and the reason for every candidate.",
  },
  "execution-result.schema.json": {
    schema: ExecutionResultSchema,
    io: "output",
    title: "Switchyard execution result",
    description: "What an execute run did: every attempt, its gates, the patch and where it landed.",
  },
  "event.schema.json": {
    schema: EventSchema,
    io: "output",
    title: "Switchyard event",
    description: "One line of a Switchyard event log (JSONL).",
  },
  "metrics.schema.json": {
    schema: MetricsSchema,
    io: "output",
    title: "Switchyard metrics",
    description: "metrics.json written by the scheduled analysis; the router's metrics strategy reads it.",
  },
};

/** File name (e.g. "config.schema.json") -> JSON Schema (draft 2020-12). */
export function generateSchemas(): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [file, entry] of Object.entries(ENTRIES)) {
    const { $schema, ...body } = z.toJSONSchema(entry.schema, {
      io: entry.io,
      target: "draft-2020-12",
    }) as Record<string, unknown>;
    // $schema/$id/title/description first, so a reader of the file sees what it is at the top.
    out[file] = { $schema, $id: BASE_ID + file, title: entry.title, ...body, description: entry.description };
  }
  return out;
}

/** The exact text of a committed schema file: two-space JSON and a final newline. */
export function renderSchemaFile(schema: unknown): string {
  return JSON.stringify(schema, null, 2) + "\n";
}
