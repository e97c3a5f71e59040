import { monotonicFactory, type PRNG } from "ulid";
import { EventSchema, type SwitchyardEvent } from "./schema.js";

/**
 * Writing and reading the JSONL event log. The core stays free of I/O: the writer takes a sink
 * and the reader takes any async iterable of chunks (a file stream, an artifact download, a test
 * array), so the same code serves the runner, the app and the analysis.
 */

/** Everything an event carries but its id and timestamp, which the log assigns. */
export type EventInput = SwitchyardEvent extends infer E
  ? E extends SwitchyardEvent
    ? Omit<E, "id" | "at">
    : never
  : never;

export interface EventClock {
  /** Milliseconds since the epoch; injected so tests and replays are deterministic. */
  now(): number;
  /** A PRNG in [0, 1) for the ULID's random part; omitted = the platform's crypto source. */
  random?: PRNG;
}

export interface EventSink {
  write(line: string): void | Promise<void>;
}

/**
 * Stamps events with a monotonic ULID (sortable even when two land in the same millisecond) and
 * an ISO time, validates them, and writes one line each. A malformed event is a programming
 * error: it throws rather than leaving a line the reader would later skip.
 */
export class EventLogWriter {
  private readonly nextId;
  readonly written: SwitchyardEvent[] = [];

  constructor(
    private readonly sink: EventSink,
    private readonly clock: EventClock,
  ) {
    this.nextId = monotonicFactory(clock.random);
  }

  async append(input: EventInput): Promise<SwitchyardEvent> {
    const ms = this.clock.now();
    const event = EventSchema.parse({ ...input, id: this.nextId(ms), at: new Date(ms).toISOString() });
    await this.sink.write(serializeEvent(event));
    this.written.push(event);
    return event;
  }
}

export function serializeEvent(event: SwitchyardEvent): string {
  return JSON.stringify(event) + "\n";
}

export type ParsedLine = { ok: true; event: SwitchyardEvent } | { ok: false; line: number; error: string };

export function parseEventLine(text: string, line: number): ParsedLine {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, line, error: "not valid JSON (truncated or corrupt line)" };
  }
  const parsed = EventSchema.safeParse(raw);
  if (parsed.success) return { ok: true, event: parsed.data };
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
  return { ok: false, line, error: `not a Switchyard event (${where}${issue?.message ?? "invalid"})` };
}

export interface ReadStats {
  lines: number;
  events: number;
  skipped: number;
  /** The first few skipped lines with their reason; the count above has them all. */
  warnings: { line: number; error: string }[];
}

export interface ReadOptions {
  /** Longer lines (in UTF-16 code units) are skipped as corrupt without being held in memory whole. */
  maxLineLength?: number;
  maxWarnings?: number;
}

const DEFAULT_MAX_LINE = 1 << 20;

/**
 * Streams events out of JSONL chunks. Corrupt lines are counted and skipped, never fatal, because
 * one truncated upload must not hide a week of history from the analysis. Memory stays bounded
 * by the longest accepted line whatever the input size.
 */
export async function* readEvents(
  chunks: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>,
  stats: ReadStats = { lines: 0, events: 0, skipped: 0, warnings: [] },
  options: ReadOptions = {},
): AsyncGenerator<SwitchyardEvent, ReadStats> {
  const maxLine = options.maxLineLength ?? DEFAULT_MAX_LINE;
  const maxWarnings = options.maxWarnings ?? 20;
  const decoder = new TextDecoder("utf-8", { fatal: false });
  let pending = "";
  let oversized = false;

  const take = (text: string): SwitchyardEvent | undefined => {
    stats.lines++;
    const wasOversized = oversized;
    oversized = false;
    const trimmed = text.endsWith("\r") ? text.slice(0, -1) : text;
    if (!wasOversized && trimmed.trim() === "") return undefined;
    const parsed: ParsedLine = wasOversized
      ? { ok: false, line: stats.lines, error: `longer than ${maxLine} characters` }
      : parseEventLine(trimmed, stats.lines);
    if (parsed.ok) {
      stats.events++;
      return parsed.event;
    }
    stats.skipped++;
    if (stats.warnings.length < maxWarnings) stats.warnings.push({ line: parsed.line, error: parsed.error });
    return undefined;
  };

  for await (const chunk of chunks) {
    const text = typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let nl = text.indexOf("\n"); nl !== -1; nl = text.indexOf("\n", start)) {
      const piece = oversized ? "" : pending + text.slice(start, nl);
      pending = "";
      if (piece.length > maxLine) oversized = true;
      const event = take(oversized ? "" : piece);
      if (event) yield event;
      start = nl + 1;
    }
    if (!oversized) {
      pending += text.slice(start);
      if (pending.length > maxLine) {
        oversized = true;
        pending = "";
      }
    }
  }
  const rest = pending + decoder.decode();
  if (oversized || rest.length > 0) {
    const event = take(rest);
    if (event) yield event;
  }
  return stats;
}
