import { EventLogWriter, type EventInput } from "../../../src/core/events/log.js";
import type { SwitchyardEvent } from "../../../src/core/events/schema.js";
import type { OutcomeKind } from "../../../src/core/execution/schema.js";

/** The end of the window most tests analyse, and helpers to place events before it. */
export const NOW = "2026-03-01T12:00:00.000Z";
export const DAY = 86_400_000;
export const WEEK = 7 * DAY;
export const daysAgo = (days: number, from = NOW) => new Date(Date.parse(from) - days * DAY).toISOString();

/**
 * Builds an event log through the real writer (so lines are exactly what runs write), with the
 * time of each event chosen by the test and a seeded ULID source.
 */
export class LogBuilder {
  readonly lines: string[] = [];
  readonly events: SwitchyardEvent[] = [];
  private time = Date.parse(NOW);
  private seed = 0;
  private readonly writer = new EventLogWriter(
    { write: (line) => void this.lines.push(line) },
    {
      now: () => this.time,
      random: () => ((this.seed = (this.seed * 9301 + 49297) % 233280), this.seed / 233280),
    },
  );

  async add(at: string, input: EventInput): Promise<SwitchyardEvent> {
    this.time = Date.parse(at);
    const event = await this.writer.append(input);
    this.events.push(event);
    return event;
  }

  async run(
    at: string,
    fields: {
      tool: string;
      outcome?: OutcomeKind;
      task_key?: string;
      capability?: string;
      duration_ms?: number;
      tokens?: number | null;
      cost_usd?: number | null;
      attempt?: number;
    },
  ): Promise<SwitchyardEvent> {
    const {
      tool,
      outcome = "success",
      task_key = "acme/widgets#1",
      duration_ms = 1000,
      attempt = 1,
    } = fields;
    return this.add(at, {
      type: "execute_finished",
      task_key,
      tool,
      attempt,
      outcome,
      duration_ms,
      exit_code: outcome === "success" ? 0 : 1,
      ...(fields.tokens !== undefined ? { tokens: fields.tokens } : {}),
      ...(fields.cost_usd !== undefined ? { cost_usd: fields.cost_usd } : {}),
      ...(fields.capability !== undefined ? { capability: fields.capability } : {}),
    });
  }

  async step(
    at: string,
    fields: {
      step: "rerun" | "mechanical" | "ai" | "quarantine" | "skipped";
      category: string;
      ok: boolean | null;
      task_key?: string;
      signature?: string;
    },
  ): Promise<SwitchyardEvent> {
    const { task_key = "acme/widgets#7", ...rest } = fields;
    return this.add(at, { type: "recovery_step", task_key, reason: "test", ...rest });
  }

  text(): string {
    return this.lines.join("");
  }
}

/** `successes` successful runs then failures up to `attempts`, one an hour from `start`. */
export async function runs(
  log: LogBuilder,
  tool: string,
  attempts: number,
  successes: number,
  start: string,
  extra: { capability?: string; duration_ms?: number; task?: (i: number) => string } = {},
): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    await log.run(new Date(Date.parse(start) + i * 3_600_000).toISOString(), {
      tool,
      outcome: i < successes ? "success" : "gate_failed",
      task_key: extra.task ? extra.task(i) : `acme/widgets#${100 + i}`,
      ...(extra.capability !== undefined ? { capability: extra.capability } : {}),
      ...(extra.duration_ms !== undefined ? { duration_ms: extra.duration_ms } : {}),
    });
  }
}
