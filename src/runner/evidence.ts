import { z } from "zod";
import { InputError } from "../core/errors.js";
import { defaultRuleSet, requiredLiterals, type CompiledRule, type RuleSet } from "../core/recovery/rules.js";
import type { Evidence, EvidenceLine, EvidenceLineKind, Excerpt } from "../core/recovery/schema.js";

/**
 * Reducing a GitHub Actions job log to the part that explains its failure, in one pass over a
 * stream: a 50 MB log is never held in memory. What is held is bounded by the options: a ring of
 * the last lines (the context before an error), the current line (cut at a maximum length), and
 * the evidence itself, which stops growing at `maxBytes`.
 *
 * What is kept, in log order:
 * - every `##[error]` line with the lines before it (groups folded to their header) and a few
 *   after it;
 * - every line a classification rule recognises (a tsc error, `FAILED tests/x.py::y`), with a few
 *   lines after it, at most MAX_MATCHES_PER_RULE per rule so one noisy linter cannot crowd out
 *   the rest;
 * - with no `##[error]` line at all, the tail of the log.
 * Matches may use half the budget and errors three quarters; the last quarter is kept for the
 * last error seen (usually "Process completed with exit code 1." with the failing tool's output
 * before it), which is the one that matters most when a log has more errors than fit.
 *
 * The log format: each line starts with an ISO timestamp (`2026-11-20T10:15:32.1234567Z `), the
 * file may start with a byte-order mark, tools colour their output with ANSI codes, and the runner
 * marks steps and errors with `##[group]Run …`, `##[endgroup]`, `##[error]…`, `##[warning]…`.
 * Logs from a local run may carry the raw workflow commands (`::error file=a.ts,line=3::…`)
 * instead; both are read.
 */

export const DEFAULT_EVIDENCE_BYTES = 64 * 1024;
export const MAX_MATCHES_PER_RULE = 20;
const MAX_STEPS = 100;

const OptionsSchema = z.strictObject({
  maxBytes: z
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024),
  contextLines: z.number().int().min(0).max(500).default(20),
  afterLines: z.number().int().min(0).max(100).default(6),
  tailLines: z.number().int().min(0).max(1000).default(40),
  maxLineChars: z.number().int().min(80).max(16_384).default(1024),
  source: z.string().max(500).default("log"),
});

export interface EvidenceOptions {
  /** Cap on the UTF-8 size of all kept line texts. */
  maxBytes: number;
  /** Lines kept before each error (default 20). */
  contextLines?: number;
  /** Lines kept after each error or recognised line (default 6). */
  afterLines?: number;
  /** Lines kept from the end of a log without any error line (default 40). */
  tailLines?: number;
  /** Longer lines are cut to this many characters (default 1024). */
  maxLineChars?: number;
  /** The rules whose patterns mark lines worth keeping (default: the shipped rules). */
  rules?: RuleSet;
  /** What to call the log in the evidence: a file name or a job. */
  source?: string;
}

interface Entry {
  n: number;
  text: string;
  kind: EvidenceLineKind;
  step: string | null;
  /** Lines after a group header, the closing ##[endgroup] included, once the group is folded. */
  folded?: number;
  /** The group the line belongs to (0: none). */
  group: number;
  /** Already in the evidence. */
  kept?: boolean;
}

/** A fixed-capacity queue of the most recent entries; folding pops from its end. */
class Ring {
  private readonly items: (Entry | undefined)[];
  private start = 0;
  size = 0;

  constructor(readonly capacity: number) {
    this.items = new Array<Entry | undefined>(Math.max(1, capacity));
  }

  push(e: Entry): void {
    if (this.capacity === 0) return;
    if (this.size === this.capacity) {
      this.items[this.start] = e;
      this.start = (this.start + 1) % this.capacity;
    } else {
      this.items[(this.start + this.size) % this.capacity] = e;
      this.size++;
    }
  }

  last(): Entry | undefined {
    return this.size === 0 ? undefined : this.items[(this.start + this.size - 1) % this.capacity];
  }

  pop(): Entry | undefined {
    if (this.size === 0) return undefined;
    const i = (this.start + this.size - 1) % this.capacity;
    const e = this.items[i];
    this.items[i] = undefined;
    this.size--;
    return e;
  }

  /** The newest `count` entries, oldest first. */
  newest(count: number): Entry[] {
    const k = Math.min(count, this.size);
    const out: Entry[] = [];
    for (let j = this.size - k; j < this.size; j++) out.push(this.items[(this.start + j) % this.capacity]!);
    return out;
  }
}

const TIMESTAMP_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z ?/;
// Matching control characters is the point of the next four patterns.
/* eslint-disable no-control-regex */
// CSI sequences (colours, cursor moves), OSC sequences (titles, hyperlinks) and two-byte escapes.
const ANSI_RE = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]/g;
// Anything a reader cannot see or that a terminal would interpret: C0/C1 controls but tab,
// zero-width and bidi controls, and the replacement character that stands for invalid UTF-8.
const SUSPECT_RE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\ufffd]/;
const INVISIBLE_RE = /[\x01-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g;
const BINARY_CHARS_RE = /[\x00\ufffd]/g;
/* eslint-enable no-control-regex */
const RAW_COMMAND_RE = /^::(error|warning|notice|debug|group|endgroup|add-mask)(?: ([^:]*))?::(.*)$/;

/** UTF-8 size without encoding: 1-3 bytes per UTF-16 unit, 4 per surrogate pair. */
export function utf8Bytes(s: string): number {
  let bytes = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) bytes += c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 1 : 2;
  }
  return bytes;
}

/** `file=src/a.ts,line=3,col=7` -> "src/a.ts:3:7: ", so the location survives as text. */
function locationPrefix(props: string | undefined): string {
  if (!props) return "";
  const get = (key: string) => new RegExp(`(?:^|,)${key}=([^,]*)`).exec(props)?.[1];
  const file = get("file");
  if (!file) return "";
  const line = get("line");
  const col = get("col");
  return `${file}${line ? `:${line}` : ""}${line && col ? `:${col}` : ""}: `;
}

/**
 * The collector behind extractEvidence: feed it text or bytes in any chunking, then call finish().
 * Exposed for callers that already hold chunks (a test, an HTTP client with its own loop).
 */
export class EvidenceCollector {
  private readonly o: z.infer<typeof OptionsSchema>;
  private readonly matcher: LineMatcher;
  private readonly ruleCounts = new Map<string, number>();
  private readonly decoder = new TextDecoder("utf-8", { fatal: false });
  private readonly ring: Ring;
  private readonly rawCap: number;

  private partial = "";
  private partialFull = false;
  private bytes = 0;
  private n = 0;
  private sawData = false;

  private step: string | null = null;
  private readonly steps: string[] = [];
  private failedStep: string | null = null;
  private group = 0;
  private groupSeq = 0;
  private groupHeader: Entry | null = null;
  private groupLines = 0;

  /** Kept lines in the order they were chosen; finish() sorts them into excerpts. */
  private readonly kept: Entry[] = [];
  private used = 0;
  private afterLeft = 0;
  private afterPool: "match" | "error" = "match";

  private errorLines = 0;
  private dropped = 0;
  private truncated = false;
  private binary = false;
  private longLines = 0;
  private readonly notes: string[] = [];
  private lastError: { error: Entry; context: Entry[] } | null = null;

  constructor(opts: EvidenceOptions) {
    const { rules, ...rest } = opts;
    const parsed = OptionsSchema.safeParse(rest);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new InputError(`evidence options: ${issue.path.join(".") || "options"}: ${issue.message}`);
    }
    this.o = parsed.data;
    this.matcher = new LineMatcher((rules ?? defaultRuleSet()).byTarget.line);
    this.ring = new Ring(Math.max(this.o.contextLines, this.o.tailLines));
    // Room for timestamps and colour codes, which are removed before the line is cut.
    this.rawCap = this.o.maxLineChars * 4;
  }

  push(chunk: string | Uint8Array): void {
    if (typeof chunk === "string") {
      this.bytes += utf8Bytes(chunk);
      this.pushText(chunk);
    } else {
      this.bytes += chunk.byteLength;
      this.pushText(this.decoder.decode(chunk, { stream: true }));
    }
  }

  private pushText(text: string): void {
    if (text.length === 0) return;
    if (!this.sawData) {
      this.sawData = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    let pos = 0;
    for (;;) {
      const nl = text.indexOf("\n", pos);
      if (nl === -1) {
        this.appendPartial(text, pos, text.length);
        return;
      }
      this.appendPartial(text, pos, nl);
      this.endLine();
      pos = nl + 1;
    }
  }

  /** Records that reading stopped early, so the evidence says so instead of looking complete. */
  readFailed(message: string): void {
    this.notes.push(`reading the log failed after ${this.bytes} bytes (${message}); the rest is missing`);
  }

  finish(): Evidence {
    this.pushText(this.decoder.decode());
    if (this.partial.length > 0 || this.partialFull) this.endLine();
    this.afterLeft = 0;
    if (this.lastError) this.emitLastError();
    if (this.errorLines === 0) this.emitTail();
    if (this.bytes === 0) this.notes.push("the log is empty");
    if (this.binary) this.notes.push("the log holds binary data (NUL bytes or invalid UTF-8), shown as �");
    if (this.dropped > 0) {
      this.notes.push(
        `${this.dropped} error or recognised line(s) were left out to stay under ${this.o.maxBytes} bytes`,
      );
    }
    return {
      source: this.o.source,
      bytes: this.bytes,
      lines: this.n,
      steps: this.steps,
      failed_step: this.failedStep,
      excerpts: toExcerpts(this.kept),
      error_lines: this.errorLines,
      no_error_lines: this.errorLines === 0,
      truncated: this.truncated,
      dropped_lines: this.dropped,
      binary: this.binary,
      long_lines: this.longLines,
      notes: this.notes,
      annotations: [],
      tests: [],
    };
  }

  // --- lines ------------------------------------------------------------------------------------

  private appendPartial(text: string, from: number, to: number): void {
    if (to <= from) return;
    if (this.partialFull) return;
    const room = this.rawCap - this.partial.length;
    if (to - from > room) {
      this.partial += text.slice(from, from + room);
      this.partialFull = true;
    } else {
      this.partial += text.slice(from, to);
    }
  }

  private endLine(): void {
    this.n++;
    let line = this.partial;
    const cut = this.partialFull;
    this.partial = "";
    this.partialFull = false;
    if (line.length > 0 && line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
    if (line.length >= 20 && line.charCodeAt(4) === 45 && line.charCodeAt(10) === 84) {
      const m = TIMESTAMP_RE.exec(line);
      if (m) line = line.slice(m[0].length);
    }
    // A progress bar redraws the line after each \r; a reader sees the last version.
    const cr = line.lastIndexOf("\r");
    if (cr !== -1) line = line.slice(cr + 1);
    if (SUSPECT_RE.test(line)) line = this.clean(line);
    if (cut || line.length > this.o.maxLineChars) {
      this.longLines++;
      let end = this.o.maxLineChars;
      // Never cut between the two halves of a surrogate pair.
      if ((line.charCodeAt(end) & 0xfc00) === 0xdc00) end--;
      line = line.slice(0, end) + " …[line cut]";
    }
    this.handle(line);
  }

  private clean(line: string): string {
    let s = line.includes("\x1b") ? line.replace(ANSI_RE, "") : line;
    s = s.replace(INVISIBLE_RE, "");
    if (s.includes("\x00") || s.includes("\ufffd")) {
      this.binary = true;
      const bad = s.match(BINARY_CHARS_RE)?.length ?? 0;
      // Mostly binary: one marker says more than a line of replacement characters.
      if (bad * 4 > s.length) return `[binary data, ${s.length} characters]`;
      s = s.replaceAll("\x00", "\ufffd");
    }
    return s;
  }

  private handle(line: string): void {
    let text = line;
    let kind: EvidenceLineKind = "context";
    if (line.startsWith("##[")) {
      const close = line.indexOf("]", 3);
      const tag = close === -1 ? "" : line.slice(3, close);
      const body = close === -1 ? line : line.slice(close + 1);
      if (tag === "group") return this.openGroup(body);
      if (tag === "endgroup") return this.closeGroup();
      if (tag === "error") {
        kind = "error";
        text = body;
      } else if (tag === "warning") {
        kind = "warning";
        text = body;
      } else if (tag === "notice" || tag === "debug" || tag === "command" || tag === "section") {
        text = body;
      }
    } else if (line.startsWith("::")) {
      const m = RAW_COMMAND_RE.exec(line);
      if (m) {
        const [, command, props, body = ""] = m;
        if (command === "group") return this.openGroup(body);
        if (command === "endgroup") return this.closeGroup();
        // The runner hides a masked value everywhere after this line; a raw log must not show it either.
        if (command === "add-mask") text = "::add-mask::***";
        else if (command === "error" || command === "warning") {
          kind = command;
          text = locationPrefix(props) + body;
        } else text = body;
      }
    }

    if (this.group !== 0) this.groupLines++;
    // The runner's own closing steps follow the failure; they explain nothing about it, and an
    // error after this line belongs to them, not to the last step that ran.
    if (text === "Post job cleanup." || text === "Cleaning up orphan processes") {
      this.afterLeft = 0;
      this.step = "Post job cleanup";
    }
    const entry: Entry = { n: this.n, text, kind, step: this.step, group: this.group };
    if (kind === "error") {
      this.onError(entry);
    } else if (this.isMatch(text)) {
      entry.kind = "match";
      this.onMatch(entry);
    } else if (this.afterLeft > 0) {
      this.afterLeft--;
      this.emitWithin(entry, this.afterPool === "match" ? 0.5 : 0.75);
    }
    this.ring.push(entry);
  }

  private openGroup(title: string): void {
    if (this.group !== 0) this.closeGroup();
    this.afterLeft = 0;
    this.group = ++this.groupSeq;
    if (title.startsWith("Run ")) {
      this.step = title;
      if (this.steps.length < MAX_STEPS) this.steps.push(title);
    }
    this.groupHeader = { n: this.n, text: title, kind: "group", step: this.step, group: this.group };
    this.groupLines = 0;
    this.ring.push(this.groupHeader);
  }

  /**
   * Replaces the group's lines in the ring by its header, so context shows steps, not their
   * setup. A group with a kept line in it is left open to view: it held something that mattered.
   */
  private closeGroup(): void {
    if (this.group === 0 || !this.groupHeader) return;
    const header = this.groupHeader;
    this.group = 0;
    this.groupHeader = null;
    if (header.kept || this.kept.some((e) => e.group === header.group)) return;
    while (this.ring.last()?.group === header.group) this.ring.pop();
    this.ring.push({ ...header, folded: this.groupLines + 1, group: 0 });
  }

  private isMatch(text: string): boolean {
    const rule = this.matcher.firstMatch(text);
    if (!rule) return false;
    const count = (this.ruleCounts.get(rule.id) ?? 0) + 1;
    this.ruleCounts.set(rule.id, count);
    // This rule has said enough; later lines only it recognises are not worth the room.
    if (count >= MAX_MATCHES_PER_RULE) this.matcher.disable(rule);
    return true;
  }

  // --- keeping lines --------------------------------------------------------------------------

  private onError(entry: Entry): void {
    this.errorLines++;
    if (this.failedStep === null) this.failedStep = entry.step;
    // Earlier steps passed; their output explains nothing about this one's failure.
    const context = this.pendingContext(this.o.contextLines).filter((e) => e.step === entry.step);
    const need = entry.text.length + 1;
    if (this.used + need > this.o.maxBytes * 0.75) {
      // Out of room: remember only the latest error, to be shown at the end in the reserved quarter.
      if (this.lastError) this.dropped++;
      this.lastError = { error: entry, context };
      this.truncated = true;
      this.afterLeft = 0;
      return;
    }
    this.emitContext(context, 0.75 - need / this.o.maxBytes);
    this.emit(entry);
    this.afterLeft = this.o.afterLines;
    this.afterPool = "error";
  }

  private onMatch(entry: Entry): void {
    if (!this.emitWithin(entry, 0.5)) {
      this.dropped++;
      this.truncated = true;
      return;
    }
    this.afterLeft = this.o.afterLines;
    this.afterPool = "match";
  }

  /** Of the newest `count` lines in the ring, those not kept yet. */
  private pendingContext(count: number): Entry[] {
    return this.ring.newest(count).filter((e) => !e.kept);
  }

  /**
   * Keeps as many of the newest context lines as fit under `share` of the budget; returns how
   * many did not fit.
   */
  private emitContext(context: Entry[], share: number): number {
    let room = this.o.maxBytes * share - this.used;
    let from = context.length;
    while (from > 0) {
      const size = utf8Bytes(context[from - 1]!.text) + 1;
      if (size > room) break;
      room -= size;
      from--;
    }
    for (const e of context.slice(from)) this.emit(e);
    return from;
  }

  private emitWithin(entry: Entry, share: number): boolean {
    const size = utf8Bytes(entry.text) + 1;
    if (this.used + size > this.o.maxBytes * share) return false;
    this.emit(entry);
    return true;
  }

  private emit(entry: Entry): void {
    if (entry.kept) return;
    entry.kept = true;
    this.used += utf8Bytes(entry.text) + 1;
    this.kept.push(entry);
  }

  private emitLastError(): void {
    const { error, context } = this.lastError!;
    this.lastError = null;
    this.emitContext(
      context.filter((e) => !e.kept),
      1 - (utf8Bytes(error.text) + 1) / this.o.maxBytes,
    );
    if (!this.emitWithin(error, 1)) this.dropped++;
  }

  private emitTail(): void {
    if (this.o.tailLines === 0) return;
    if (this.emitContext(this.pendingContext(this.o.tailLines), 1) > 0) this.truncated = true;
  }
}

/** Kept lines in log order, cut into runs of consecutive lines of one step. */
function toExcerpts(kept: Entry[]): Excerpt[] {
  const sorted = [...kept].sort((a, b) => a.n - b.n);
  const excerpts: Excerpt[] = [];
  let current: Excerpt | null = null;
  let end = -1;
  for (const e of sorted) {
    if (current === null || e.n !== end + 1 || current.step !== e.step) {
      current = { step: e.step, lines: [] };
      excerpts.push(current);
    }
    const line: EvidenceLine = { n: e.n, text: e.text, kind: e.kind };
    if (e.folded !== undefined) line.folded = e.folded;
    current.lines.push(line);
    end = e.n + (e.folded ?? 0);
  }
  return excerpts;
}

/**
 * Which rule, if any, recognises a line — fast enough for every line of a 50 MB log. Running each
 * rule's regex on each line costs about a microsecond a line; instead every rule contributes the
 * literals one of which each of its matches must contain (requiredLiterals), and a line is first
 * scanned once for those, through a hashed table of character triples. Each literal is entered
 * under two overlapping triples (characters k..k+2 and k+1..k+3 of its rarest four), so looking
 * at every second position of the line is enough: one of the two always lands on it. Only the
 * rules whose literal is present are then run. Rules without a literal of four characters or
 * more (or case-insensitive ones) are run on every line; the shipped ones of that kind are
 * anchored at the line's start and cheap.
 */
export class LineMatcher {
  private readonly table = new Uint16Array(1 << TABLE_BITS);
  private readonly buckets: { literal: string; offset: number; rules: number[] }[][] = [];
  private readonly always: number[] = [];
  /** Whether any of the `always` rules could match: one regex call instead of one per rule. */
  private alwaysGate: RegExp | null = null;
  private readonly enabled: boolean[];
  private readonly stamp: Uint32Array;
  private generation = 0;
  private readonly candidates: number[] = [];

  constructor(private readonly rules: readonly CompiledRule[]) {
    this.enabled = rules.map(() => true);
    this.stamp = new Uint32Array(rules.length);
    const byLiteral = new Map<string, number[]>();
    rules.forEach((rule, i) => {
      const literals = rule.ignore_case ? null : requiredLiterals(rule.pattern);
      if (literals === null || literals.some((l) => l.length < 4)) {
        this.always.push(i);
        return;
      }
      for (const literal of literals) byLiteral.set(literal, [...(byLiteral.get(literal) ?? []), i]);
    });
    this.buildGate();
    for (const [literal, ruleIds] of byLiteral) {
      const k = rarestWindow(literal);
      for (const offset of [k, k + 1]) {
        const key = tripleKey(
          literal.charCodeAt(offset),
          literal.charCodeAt(offset + 1),
          literal.charCodeAt(offset + 2),
        );
        if (this.table[key] === 0) {
          this.buckets.push([]);
          this.table[key] = this.buckets.length;
        }
        this.buckets[this.table[key]! - 1]!.push({ literal, offset, rules: ruleIds });
      }
    }
  }

  /** The first rule, in table order, whose pattern matches the line. */
  firstMatch(text: string): CompiledRule | undefined {
    const gen = ++this.generation;
    const found = this.candidates;
    found.length = 0;
    if (this.alwaysGate?.test(text)) for (const i of this.always) if (this.enabled[i]) found.push(i);
    for (let i = 2; i < text.length; i += 2) {
      const bucket =
        this.table[tripleKey(text.charCodeAt(i - 2), text.charCodeAt(i - 1), text.charCodeAt(i))]!;
      if (bucket === 0) continue;
      for (const entry of this.buckets[bucket - 1]!) {
        const start = i - 2 - entry.offset;
        if (start < 0 || !text.startsWith(entry.literal, start)) continue;
        for (const r of entry.rules) {
          if (this.stamp[r] !== gen && this.enabled[r]) {
            this.stamp[r] = gen;
            found.push(r);
          }
        }
      }
    }
    if (found.length === 0) return undefined;
    if (found.length > 1) found.sort((a, b) => a - b);
    for (const i of found) if (this.rules[i]!.regex.test(text)) return this.rules[i];
    return undefined;
  }

  disable(rule: CompiledRule): void {
    const i = this.rules.indexOf(rule);
    if (i === -1) return;
    this.enabled[i] = false;
    if (this.always.includes(i)) this.buildGate();
  }

  private buildGate(): void {
    const live = this.always.filter((i) => this.enabled[i]).map((i) => this.rules[i]!);
    const sensitive = live.filter((r) => !r.ignore_case).map((r) => `(?:${r.pattern})`);
    const insensitive = live.filter((r) => r.ignore_case).map((r) => `(?:${r.pattern})`);
    const a = sensitive.length > 0 ? new RegExp(sensitive.join("|")) : null;
    const b = insensitive.length > 0 ? new RegExp(insensitive.join("|"), "i") : null;
    this.alwaysGate = a && b ? ({ test: (s: string) => a.test(s) || b.test(s) } as RegExp) : (a ?? b);
  }
}

const TABLE_BITS = 18;

/** A hash of three characters (their low bytes; the literal is compared in full on a hit). */
function tripleKey(a: number, b: number, c: number): number {
  return Math.imul(((a & 0xff) << 16) | ((b & 0xff) << 8) | (c & 0xff), 0x9e3779b1) >>> (32 - TABLE_BITS);
}

// How often a pair of characters turns up in ordinary log text: the commonest English and code
// pairs, then lower-case letters and spaces, then everything else (capitals, digits and
// punctuation carry most of what is distinctive in an error message). The rarer the pairs a
// literal is entered under, the fewer lines need a closer look.
const COMMON_PAIRS = new Set(
  (
    "th he in er an re on at en nd ti es or te of ed is it al ar st to nt ng se ha as ou io le ve co me de " +
    "hi ri ro ic ne ea ra ce li ch ll be ma si om ur em el ac ct et ot il ra ta ss ec us pe ns ge ut ul tr"
  ).split(" "),
);

function pairCost(a: string, b: string): number {
  if (COMMON_PAIRS.has(a + b) || a + b === "  ") return 10;
  const plain = (c: string) => /[a-z ]/.test(c);
  if (plain(a) && plain(b)) return a === " " || b === " " ? 6 : 5;
  if (plain(a) || plain(b)) return 2;
  return 1;
}

/** Where in the literal four characters are rarest: its two triples are entered from there. */
function rarestWindow(literal: string): number {
  let best = 0;
  let bestCost = Infinity;
  for (let k = 0; k + 3 < literal.length; k++) {
    const pairs = [0, 1, 2].map((j) => pairCost(literal[k + j]!, literal[k + j + 1]!));
    // A triple is as rare as its rarer pair; the window as common as its commoner triple.
    const cost =
      Math.max(Math.min(pairs[0]!, pairs[1]!), Math.min(pairs[1]!, pairs[2]!)) * 100 +
      pairs[0]! +
      pairs[1]! +
      pairs[2]!;
    if (cost < bestCost) {
      bestCost = cost;
      best = k;
    }
  }
  return best;
}

/**
 * Reads a job log from any async source of chunks — a file stream, an HTTP response body — and
 * returns its evidence. A source that fails part-way (a dropped connection, a truncated file)
 * gives the evidence read so far with a note; one that fails before its first byte throws, so
 * "cannot read" stays distinguishable from "read, and found nothing".
 */
export async function extractEvidence(
  chunks: AsyncIterable<string | Uint8Array>,
  opts: EvidenceOptions,
): Promise<Evidence> {
  const collector = new EvidenceCollector(opts);
  let got = false;
  try {
    for await (const chunk of chunks) {
      got = true;
      collector.push(chunk);
    }
  } catch (error) {
    if (!got) throw error;
    collector.readFailed(error instanceof Error ? error.message : String(error));
  }
  return collector.finish();
}
