import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import type { AnalysisEvent } from "../core/analysis/aggregate.js";
import { parseEventLine, readEvents, type ReadStats } from "../core/events/log.js";
import { OutcomeKindSchema } from "../core/execution/schema.js";

/**
 * Local event logs (*.jsonl files, or directories holding them) streamed into the analysis.
 *
 * Two ways to check a line:
 * - `full`: every line through readEvents and the whole event schema (strict objects, every
 *   nested field). About 60-90 MB/s, most of it spent in zod on route decisions the analysis
 *   never reads.
 * - `fast` (the default): the event types the analysis reads (execute_finished, task_created,
 *   recovery_step) are JSON-parsed and every field of theirs is checked by hand, along with the
 *   common ones (id, at, task_key, type). The others (a route decision, a gate result: three
 *   quarters of the bytes) are skimmed without parsing when they are written as EventLogWriter
 *   writes them (see skimUnread), and parsed and checked for the common fields otherwise; their
 *   bodies are not checked, since nothing here reads them. A line the hand check refuses goes
 *   through the full schema, which gives the message, and is kept if the schema accepts it: the
 *   fast path never drops an event that `full` would keep.
 *
 * Memory is bounded by the read chunk and the longest line (1 MiB by default; longer lines are
 * skipped as corrupt without being held whole), whatever the size of the input.
 */

export interface EventLogWarning {
  file: string;
  line: number;
  error: string;
}

export interface EventLogStats {
  files: number;
  /** Files that could not be read, or stopped being readable part way. */
  unreadable: { file: string; error: string }[];
  bytes: number;
  lines: number;
  events: number;
  skipped: number;
  /** The first `maxWarnings` skipped lines; `skipped` counts them all. */
  warnings: EventLogWarning[];
}

export interface ReadEventLogsOptions {
  validation?: "fast" | "full";
  maxWarnings?: number;
  maxLineLength?: number;
  chunkBytes?: number;
}

export interface FoundLogs {
  files: string[];
  /** Paths given that do not exist or hold no *.jsonl file, with the reason. */
  problems: { path: string; error: string }[];
}

/** Directories that never hold Switchyard's logs and can be huge. */
const SKIPPED_DIRS = new Set([".git", "node_modules"]);

/**
 * The *.jsonl files to read: each path given that is a file (whatever its name: it was asked
 * for), and every *.jsonl below each directory given (.git and node_modules aside; symbolic
 * links inside directories are not followed, so a link cannot loop). Sorted within a directory,
 * which for `switchyard run`'s `.switchyard/runs/<ulid>/events.jsonl` is time order.
 */
export async function findEventLogs(paths: readonly string[], cwd = process.cwd()): Promise<FoundLogs> {
  const files: string[] = [];
  const seen = new Set<string>();
  const problems: FoundLogs["problems"] = [];
  const add = (file: string) => {
    if (!seen.has(file)) {
      seen.add(file);
      files.push(file);
    }
  };
  for (const given of paths) {
    const full = path.resolve(cwd, given);
    let info;
    try {
      info = await stat(full);
    } catch (error) {
      problems.push({ path: given, error: describeError(error) });
      continue;
    }
    if (!info.isDirectory()) {
      add(full);
      continue;
    }
    const before = files.length;
    const walkProblems: string[] = [];
    await walkFiles(full, (name) => name.endsWith(".jsonl"), add, walkProblems);
    if (files.length === before) {
      problems.push({
        path: given,
        error: walkProblems[0] ?? "no *.jsonl files in this directory or below",
      });
    }
  }
  return { files, problems };
}

/**
 * Calls `add` with every file below `dir` whose name `keep` accepts, sorted within each directory;
 * .git and node_modules are skipped and symbolic links are not followed, so a link cannot loop.
 */
export async function walkFiles(
  dir: string,
  keep: (name: string) => boolean,
  add: (file: string) => void,
  problems: string[],
): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    problems.push(`${dir}: ${describeError(error)}`);
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRS.has(entry.name)) await walkFiles(full, keep, add, problems);
    } else if (entry.isFile() && keep(entry.name)) {
      add(full);
    }
  }
}

export function describeError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "ENOENT":
      return "no such file or directory";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EISDIR":
      return "is a directory";
    default:
      return error instanceof Error ? error.message : String(error);
  }
}

const DEFAULT_MAX_LINE = 1 << 20;
const DEFAULT_CHUNK = 1 << 20;

export function emptyStats(): EventLogStats {
  return { files: 0, unreadable: [], bytes: 0, lines: 0, events: 0, skipped: 0, warnings: [] };
}

/**
 * Reads every file in turn and calls `visit` with each event. A file that cannot be read is
 * noted in `unreadable` and the others are still read: one bad file must not hide the rest.
 */
export async function readEventLogs(
  files: readonly string[],
  visit: (event: AnalysisEvent) => void,
  options: ReadEventLogsOptions = {},
  stats: EventLogStats = emptyStats(),
): Promise<EventLogStats> {
  for (const file of files) {
    stats.files++;
    try {
      if (options.validation === "full") await readFull(file, visit, options, stats);
      else await readFast(file, visit, options, stats);
    } catch (error) {
      stats.unreadable.push({ file, error: describeError(error) });
    }
  }
  return stats;
}

async function readFull(
  file: string,
  visit: (event: AnalysisEvent) => void,
  options: ReadEventLogsOptions,
  stats: EventLogStats,
): Promise<void> {
  const maxWarnings = options.maxWarnings ?? 20;
  const own: ReadStats = { lines: 0, events: 0, skipped: 0, warnings: [] };
  const stream = createReadStream(file, { highWaterMark: options.chunkBytes ?? DEFAULT_CHUNK });
  const counted = (async function* () {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      stats.bytes += chunk.length;
      yield chunk;
    }
  })();
  try {
    const reader = readEvents(counted, own, {
      maxLineLength: options.maxLineLength ?? DEFAULT_MAX_LINE,
      maxWarnings: Math.max(0, maxWarnings - stats.warnings.length),
    });
    for await (const event of reader) visit(event);
  } finally {
    stats.lines += own.lines;
    stats.events += own.events;
    stats.skipped += own.skipped;
    for (const w of own.warnings) stats.warnings.push({ file, line: w.line, error: w.error });
  }
}

async function readFast(
  file: string,
  visit: (event: AnalysisEvent) => void,
  options: ReadEventLogsOptions,
  stats: EventLogStats,
): Promise<void> {
  const maxLine = options.maxLineLength ?? DEFAULT_MAX_LINE;
  const maxWarnings = options.maxWarnings ?? 20;
  let line = 0;

  const skip = (error: string) => {
    stats.skipped++;
    if (stats.warnings.length < maxWarnings) stats.warnings.push({ file, line, error });
  };
  const oversized = () => {
    line++;
    stats.lines++;
    skip(`longer than ${maxLine} characters`);
  };
  const take = (text: string) => {
    line++;
    stats.lines++;
    if (text.length > maxLine) {
      skip(`longer than ${maxLine} characters`);
      return;
    }
    let trimmed = text.charCodeAt(text.length - 1) === 13 ? text.slice(0, -1) : text;
    // A byte order mark, which editors on Windows add and TextDecoder would have dropped.
    if (line === 1 && trimmed.charCodeAt(0) === 0xfeff) trimmed = trimmed.slice(1);
    if (trimmed.length === 0 || trimmed.trim() === "") return;
    let event: AnalysisEvent | undefined = skimUnread(trimmed);
    if (event === undefined) {
      let raw: unknown;
      try {
        raw = JSON.parse(trimmed);
      } catch {
        skip("not valid JSON (truncated or corrupt line)");
        return;
      }
      event = checkEvent(raw);
      if (event === undefined) {
        const parsed = parseEventLine(trimmed, line);
        if (!parsed.ok) {
          skip(parsed.error);
          return;
        }
        event = parsed.event;
      }
    }
    stats.events++;
    visit(event);
  };

  // Lines are cut on the newline byte, which never occurs inside a multi-byte UTF-8 sequence, so
  // each run of whole lines is decoded at once (Buffer#toString is about twice as fast as a
  // streaming TextDecoder) and only a line split across chunks is joined from its bytes.
  let carry: Buffer[] = [];
  let carryBytes = 0;
  let carryTooLong = false;
  // maxLine counts UTF-16 code units, as readEvents does; a code unit takes at most 3 bytes, so
  // beyond this many bytes a line is too long whatever it holds, and shorter ones are measured
  // once decoded.
  const maxBytes = 3 * maxLine;
  const stream = createReadStream(file, { highWaterMark: options.chunkBytes ?? DEFAULT_CHUNK });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    stats.bytes += chunk.length;
    const first = chunk.indexOf(10);
    if (first === -1) {
      if (!carryTooLong && carryBytes + chunk.length > maxBytes) carryTooLong = true;
      if (carryTooLong) carry = [];
      else carry.push(chunk);
      carryBytes += chunk.length;
      continue;
    }
    let start = 0;
    if (carryBytes > 0 || carryTooLong) {
      if (carryTooLong || carryBytes + first > maxBytes) oversized();
      else take(Buffer.concat([...carry, chunk.subarray(0, first)]).toString("utf8"));
      carry = [];
      carryBytes = 0;
      carryTooLong = false;
      start = first + 1;
    }
    const last = chunk.lastIndexOf(10);
    if (last >= start) {
      const text = chunk.toString("utf8", start, last);
      let from = 0;
      for (let nl = text.indexOf("\n"); nl !== -1; nl = text.indexOf("\n", from)) {
        take(text.slice(from, nl));
        from = nl + 1;
      }
      take(from === 0 ? text : text.slice(from));
    }
    if (last + 1 < chunk.length) {
      carryBytes = chunk.length - last - 1;
      if (carryBytes > maxBytes) carryTooLong = true;
      else carry = [chunk.subarray(last + 1)];
    }
  }
  if (carryTooLong) oversized();
  else if (carryBytes > 0) take(Buffer.concat(carry).toString("utf8"));
}

/** Types whose last field, as the writer orders them, is an object: a whole line ends in "}}". */
const ENDS_WITH_OBJECT = new Set(["route_decided", "gate_finished"]);

/**
 * The event types the analysis does not read are not parsed at all when their line is as
 * EventLogWriter writes it: `{"id":"<ulid>","at":"<time>","task_key":"<key>",...,"type":"<type>"`
 * and so on. The type, time and task key are read in place (an unescaped `"type":"` can only be
 * a key, and no nested object of the schema has a `type` key), and the line must look whole:
 * one event (no second `{"id":"`), closed by `}` (`}}` where the last field is an object).
 * A truncated line of these types is therefore still caught unless it was cut exactly after a
 * closing brace; as nothing reads these events, that could only make the count of skipped lines
 * low by one, never change a figure. Anything else returns undefined and is parsed.
 */
export function skimUnread(text: string): AnalysisEvent | undefined {
  if (!text.startsWith('{"id":"') || !text.startsWith('","at":"', 33)) return undefined;
  if (!ULID.test(text.slice(7, 33))) return undefined;
  const atEnd = text.indexOf('"', 41);
  const at = text.slice(41, atEnd);
  if (atEnd === -1 || !isTime(at) || !text.startsWith(',"task_key":"', atEnd + 1)) return undefined;
  const keyStart = atEnd + 14;
  const keyEnd = text.indexOf('"', keyStart);
  if (keyEnd === -1) return undefined;
  const taskKey = text.slice(keyStart, keyEnd);
  if (taskKey.includes("\\")) return undefined;
  const typeAt = text.indexOf('"type":"', keyEnd);
  if (typeAt === -1) return undefined;
  const typeEnd = text.indexOf('"', typeAt + 8);
  const type = text.slice(typeAt + 8, typeEnd);
  if (!UNREAD_TYPES.has(type)) return undefined;
  const n = text.length;
  if (text.charCodeAt(n - 1) !== 125) return undefined;
  if (ENDS_WITH_OBJECT.has(type) && text.charCodeAt(n - 2) !== 125) return undefined;
  if (text.indexOf('{"id":"', 1) !== -1) return undefined;
  return {
    type: type as Exclude<AnalysisEvent["type"], "execute_finished" | "task_created" | "recovery_step">,
    at,
    task_key: taskKey,
  };
}

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
const NAME = /^[a-z][a-z0-9_-]{0,62}$/;
/** What `z.string().datetime({ offset: true })` accepts; the day of the month is checked apart. */
const ISO_TIME =
  /^(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/;
const OUTCOMES: ReadonlySet<string> = new Set(OutcomeKindSchema.options);
const STEPS = new Set(["rerun", "mechanical", "ai", "quarantine", "skipped"]);
const UNREAD_TYPES = new Set([
  "route_decided",
  "task_held",
  "execute_started",
  "gate_finished",
  "patch_committed",
  "alert",
]);
const DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isTime(value: unknown): value is string {
  if (typeof value !== "string") return false;
  let year: number, month: number, day: number;
  if (value.length === 24 && isCanonicalTime(value)) {
    year = digits(value, 0, 4);
    month = digits(value, 5, 2);
    day = digits(value, 8, 2);
  } else {
    const m = ISO_TIME.exec(value);
    if (m === null) return false;
    year = Number(m[1]);
    month = Number(m[2]);
    day = Number(m[3]);
  }
  if (month < 1 || month > 12 || day < 1 || day > DAYS[month - 1]!) return false;
  return !(month === 2 && day === 29 && !(year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)));
}

/** Date#toISOString's own shape, 2026-03-01T12:00:00.000Z, checked without a regular expression. */
function isCanonicalTime(v: string): boolean {
  for (let i = 0; i < 23; i++) {
    const c = v.charCodeAt(i);
    const sep = i === 4 || i === 7 ? 45 : i === 10 ? 84 : i === 13 || i === 16 ? 58 : i === 19 ? 46 : 0;
    if (sep !== 0 ? c !== sep : c < 48 || c > 57) return false;
  }
  return v.charCodeAt(23) === 90 && digits(v, 11, 2) < 24 && digits(v, 14, 2) < 60 && digits(v, 17, 2) < 60;
}

function digits(v: string, from: number, count: number): number {
  let n = 0;
  for (let i = from; i < from + count; i++) n = n * 10 + v.charCodeAt(i) - 48;
  return n;
}

const isName = (v: unknown): v is string => typeof v === "string" && NAME.test(v);
const isCount = (v: unknown) => typeof v === "number" && Number.isInteger(v) && v >= 0;
const optional = (v: unknown, check: (v: unknown) => boolean) => v === undefined || check(v);
const nullable = (v: unknown, check: (v: unknown) => boolean) => v === null || check(v);

/**
 * The hand check of the fast path: the event when every field the analysis reads has the shape
 * the schema gives it, else undefined (and the full schema decides).
 */
export function checkEvent(raw: unknown): AnalysisEvent | undefined {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return undefined;
  const o = raw as Record<string, unknown>;
  if (typeof o.id !== "string" || !ULID.test(o.id)) return undefined;
  if (!isTime(o.at) || typeof o.task_key !== "string") return undefined;
  if (!optional(o.run_id, (v) => typeof v === "string")) return undefined;
  switch (o.type) {
    case "execute_finished":
      return isName(o.tool) &&
        isCount(o.attempt) &&
        (o.attempt as number) > 0 &&
        OUTCOMES.has(o.outcome as string) &&
        typeof o.duration_ms === "number" &&
        o.duration_ms >= 0 &&
        nullable(o.exit_code, (v) => typeof v === "number" && Number.isInteger(v)) &&
        o.exit_code !== undefined &&
        optional(o.tokens, (v) => nullable(v, isCount)) &&
        optional(o.cost_usd, (v) => nullable(v, (c) => typeof c === "number" && c >= 0)) &&
        optional(o.capability, isName)
        ? (o as AnalysisEvent)
        : undefined;
    case "task_created":
      return isName(o.capability) && typeof o.source === "string" ? (o as AnalysisEvent) : undefined;
    case "recovery_step":
      return STEPS.has(o.step as string) &&
        typeof o.category === "string" &&
        optional(o.signature, (v) => typeof v === "string") &&
        optional(o.tool, isName) &&
        (o.ok === null || typeof o.ok === "boolean") &&
        typeof o.reason === "string"
        ? (o as AnalysisEvent)
        : undefined;
    default:
      return UNREAD_TYPES.has(o.type as string) ? (o as AnalysisEvent) : undefined;
  }
}
