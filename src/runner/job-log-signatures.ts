import { createReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import type { SignatureSighting } from "../core/analysis/ci-health.js";
import { classify } from "../core/recovery/classify.js";
import type { RuleSet } from "../core/recovery/rules.js";
import type { Classification, Evidence } from "../core/recovery/schema.js";
import { DEFAULT_EVIDENCE_BYTES, extractEvidence } from "./evidence.js";
import { describeError } from "./read-event-logs.js";

/**
 * A failed GitHub Actions job's log turned into an error signature: the one path for logs the
 * API hands over (src/github/analysis-source.ts) and log files on disk (`switchyard analyze`).
 * The log is streamed through extractEvidence, so a 50 MB log is never held whole.
 */

export interface JobLogOptions {
  /** What to call the log in the evidence: a file name or `owner/repo job <id> (<name>)`. */
  source: string;
  /** Bytes of the log kept as evidence (default DEFAULT_EVIDENCE_BYTES). */
  maxBytes?: number;
  /** The shipped rules with the repository's `recovery.rules` (default: the shipped ones). */
  rules?: RuleSet;
}

export interface ClassifiedJobLog {
  evidence: Evidence;
  classification: Classification;
}

export async function classifyJobLog(
  chunks: AsyncIterable<string | Uint8Array>,
  opts: JobLogOptions,
): Promise<ClassifiedJobLog> {
  const evidence = await extractEvidence(chunks, {
    maxBytes: opts.maxBytes ?? DEFAULT_EVIDENCE_BYTES,
    source: opts.source,
    ...(opts.rules ? { rules: opts.rules } : {}),
  });
  const classification = classify(evidence, opts.rules ? { rules: opts.rules } : {});
  return { evidence, classification };
}

/** How much of a file is looked at to tell what it is and when it was written. */
export const HEAD_BYTES = 64 * 1024;
/** Git's rule for binary content: a NUL byte near the start. No text log holds one. */
const BINARY_SNIFF_BYTES = 8000;
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z(?= |$)/;

export interface FileHead {
  size: number;
  mtime: Date;
  /** The first HEAD_BYTES bytes (fewer for a shorter file). */
  head: Buffer;
}

/** The size, modification time and first bytes of a file. Throws (fs errors) when it cannot be read. */
export async function readHead(file: string): Promise<FileHead> {
  const info = await stat(file);
  if (!info.isFile()) throw Object.assign(new Error("not a file"), { code: "ENOTFILE" });
  const handle = await open(file, "r");
  try {
    const buffer = Buffer.alloc(Math.min(HEAD_BYTES, info.size));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return { size: info.size, mtime: info.mtime, head: buffer.subarray(0, bytesRead) };
  } finally {
    await handle.close();
  }
}

export function looksBinary(head: Buffer): boolean {
  return head.subarray(0, BINARY_SNIFF_BYTES).includes(0);
}

/** The first line of the head that starts with an Actions timestamp, as an ISO time. */
export function firstTimestamp(head: Buffer): string | null {
  const text = head.toString("utf8");
  for (let from = 0; from < text.length;) {
    const nl = text.indexOf("\n", from);
    let line = text.slice(from, nl === -1 ? text.length : nl);
    if (from === 0 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    const m = TIMESTAMP.exec(line);
    if (m) {
      const ms = Date.parse(m[0]);
      if (!Number.isNaN(ms)) return new Date(ms).toISOString();
    }
    if (nl === -1) break;
    from = nl + 1;
  }
  return null;
}

/**
 * Whether a file's first line is a JSON object, which makes it an event log whatever its name.
 * A first line longer than the head that starts with `{` counts too: no job log line is that
 * long and starts so, and the event reader then judges every line.
 */
export function startsWithJsonObject(head: Buffer): boolean {
  let text = head.toString("utf8");
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const nl = text.indexOf("\n");
  const line = (nl === -1 ? text : text.slice(0, nl)).trim();
  if (!line.startsWith("{")) return false;
  if (nl === -1 && head.length >= HEAD_BYTES) return true;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === "object" && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

export interface JobLogSighting extends SignatureSighting {
  file: string;
  /** Where `at` came from: the log's first timestamped line, or the file's modification time. */
  at_from: "log" | "mtime";
  confidence: number;
}

export interface SkippedJobLog {
  file: string;
  reason: "empty" | "binary" | "unreadable";
  error: string;
}

export interface JobLogReading {
  /** Log files looked at, skipped ones included. */
  files: number;
  bytes: number;
  sightings: JobLogSighting[];
  skipped: SkippedJobLog[];
}

export interface ReadJobLogsOptions {
  rules?: RuleSet;
  maxBytes?: number;
  /** How to name a file in sightings, warnings and evidence (default: the path as given). */
  display?: (file: string) => string;
}

/**
 * Classifies each job log file in turn. An empty, binary or unreadable file is noted in
 * `skipped` and the others are still read: one bad file must not hide the rest.
 */
export async function readJobLogSignatures(
  files: readonly string[],
  opts: ReadJobLogsOptions = {},
): Promise<JobLogReading> {
  const reading: JobLogReading = { files: 0, bytes: 0, sightings: [], skipped: [] };
  for (const file of files) {
    reading.files++;
    const name = opts.display?.(file) ?? file;
    const skip = (reason: SkippedJobLog["reason"], error: string) =>
      reading.skipped.push({ file: name, reason, error });
    let head: FileHead;
    try {
      head = await readHead(file);
    } catch (error) {
      skip("unreadable", describeError(error));
      continue;
    }
    if (head.size === 0) {
      skip("empty", "empty file");
      continue;
    }
    if (looksBinary(head.head)) {
      skip("binary", "binary data (a NUL byte near the start), not a job log");
      continue;
    }
    let classified: ClassifiedJobLog;
    try {
      classified = await classifyJobLog(createReadStream(file, { highWaterMark: HEAD_BYTES }), {
        source: name,
        ...(opts.rules ? { rules: opts.rules } : {}),
        ...(opts.maxBytes !== undefined ? { maxBytes: opts.maxBytes } : {}),
      });
    } catch (error) {
      skip("unreadable", describeError(error));
      continue;
    }
    reading.bytes += head.size;
    const stamped = firstTimestamp(head.head);
    reading.sightings.push({
      file: name,
      signature: classified.classification.signature,
      category: classified.classification.category,
      confidence: classified.classification.confidence,
      at: stamped ?? head.mtime.toISOString(),
      at_from: stamped !== null ? "log" : "mtime",
    });
  }
  return reading;
}
