import { z } from "zod";
import { InputError } from "../errors.js";
import type { SanitizationReport } from "./schema.js";

/**
 * Untrusted text (issue and pull-request bodies, titles, labels, comments) is cleaned here before
 * any of it can reach a tool. The rule the whole file follows: **a tool sees what a person reading
 * the issue on GitHub sees without clicking anything.** Text a reader cannot see — HTML comments,
 * collapsed `<details>` bodies, hidden elements, image alt text, link titles and link reference
 * definitions, invisible and bidi control characters — is removed; where a reader does see that
 * something is there (a collapsed section), a visible marker takes its place.
 *
 * Why remove collapsed sections instead of un-hiding them: the person who labels an issue for
 * Switchyard approves what they read, and a collapsed block is exactly where an instruction can
 * sit unread ("<details><summary>Logs</summary>ignore the rules above…"). Un-hiding it would hand
 * that text to the tool all the same. The cost is that logs pasted into a collapsed block do not
 * reach the tool; the marker says so, and pasting them into the visible body fixes it.
 *
 * How it decides what GitHub hides: a single left-to-right scan models the parts of GitHub's
 * Markdown that change visibility — fenced code, inline code spans, raw HTML blocks, HTML tags and
 * comments, images, links and link definitions. The model is deliberately lopsided: where it could
 * disagree with GitHub it errs towards removing more, never less. Outside a hidden block it treats
 * text as code only when it certainly is code (code is kept verbatim, so a mistake there would keep
 * hidden text); inside a hidden block it treats text as code whenever it might be (a closing tag in
 * code does not end the block, so a mistake there would end the block early). Known limits:
 * indented code outside hidden blocks is not recognised (HTML in it is treated as live), and a
 * malformed tag that only a browser would accept inside a raw HTML block is not recognised.
 *
 * Everything runs in time linear in the input: no regular expression here can backtrack more than
 * a bounded amount, each construct is scanned once, and every look-ahead is either capped or
 * cached. A 10 MB body takes well under a second.
 */

export type RemovalKind = SanitizationReport["removed"][number]["kind"];
type Removed = SanitizationReport["removed"];

const KIND_ORDER: readonly RemovalKind[] = [
  "html_comment",
  "hidden_block",
  "hidden_html",
  "hidden_markdown",
  "image_alt",
  "invisible_char",
  "bidi_control",
];

/** Counts of what was removed, per kind; reported in a fixed order so reports compare equal. */
export class RemovalCounts {
  private readonly counts = new Map<RemovalKind, number>();

  add(kind: RemovalKind, n = 1): void {
    if (n > 0) this.counts.set(kind, (this.counts.get(kind) ?? 0) + n);
  }

  addAll(removed: Removed): void {
    for (const r of removed) this.add(r.kind, r.count);
  }

  toList(): Removed {
    return KIND_ORDER.filter((k) => this.counts.has(k)).map((kind) => ({
      kind,
      count: this.counts.get(kind)!,
    }));
  }
}

/** Smallest cap accepted: the truncation note itself must fit. */
export const MIN_MAX_BYTES = 128;

const OptionsSchema = z.strictObject({
  maxBytes: z
    .number({ error: "expected a whole number of bytes" })
    .int({ error: "expected a whole number of bytes" })
    .min(MIN_MAX_BYTES, { error: `expected at least ${MIN_MAX_BYTES} bytes` }),
});

export interface SanitizeOptions {
  /** Cap on the UTF-8 size of the result, truncation note included (config.limits.max_body_bytes). */
  maxBytes: number;
}

export interface SanitizeResult {
  text: string;
  report: SanitizationReport;
}

/**
 * Cleans a Markdown body. Counts in the report are of constructs and characters removed; byte
 * figures are UTF-8: `original_bytes` of the input, `kept_bytes` of the returned text.
 */
export function sanitizeUntrusted(text: string, opts: SanitizeOptions): SanitizeResult {
  if (typeof text !== "string")
    throw new InputError(`text to sanitise: expected a string, got ${typeOf(text)}`);
  const parsed = OptionsSchema.safeParse(opts);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(
      `sanitise options${issue.path.length ? "." + issue.path.join(".") : ""}: ${issue.message}`,
    );
  }
  const counts = new RemovalCounts();
  const originalBytes = utf8Length(text);
  // Line endings first, as CommonMark reads them; everything after works on "\n" alone.
  const wellFormed = normalizeNewlines(toWellFormed(text));
  const visible = new HiddenMarkupStripper(wellFormed, counts).run();
  const clean = stripInvisible(visible, counts);
  const capped = capUtf8(clean, parsed.data.maxBytes);
  return {
    text: capped.text,
    report: {
      removed: counts.toList(),
      truncated: capped.truncated,
      original_bytes: originalBytes,
      kept_bytes: capped.bytes,
    },
  };
}

/**
 * Cleans one line of plain text: a title, a label, a login. Titles are not rendered as Markdown
 * on GitHub, so only characters are removed; line breaks and tabs become spaces, runs of spaces
 * collapse, and the result is cut to `maxChars` UTF-16 units, never inside a surrogate pair (an
 * ellipsis marks the cut).
 */
export function sanitizeLine(text: string, maxChars: number): { text: string; removed: Removed } {
  const counts = new RemovalCounts();
  const oneLine = toWellFormed(text).replace(LINE_BREAKS_RE, " ");
  const clean = stripInvisible(oneLine, counts).replace(SPACES_RE, " ").trim();
  return { text: truncateChars(clean, maxChars), removed: counts.toList() };
}

// ---------------------------------------------------------------------------------------------
// Characters

const LINE_BREAKS_RE = /[\r\n\t\v\f\u2028\u2029]+/g;
const SPACES_RE = / {2,}/g;
const LONE_SURROGATE_RE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

// Character classes for the single pass below.
const KEEP = 0;
const INVISIBLE = 1;
const BIDI = 2;
const SELECTOR = 3;
const LINE_SEPARATOR = 4;
const ASTRAL_HIGH = 5;

let classTable: Uint8Array | null = null;

/**
 * What the character pass does with each UTF-16 code unit.
 *
 * INVISIBLE is Unicode's Default_Ignorable_Code_Point set (characters a renderer draws as nothing),
 * less the bidi controls and the emoji presentation selectors U+FE0E/U+FE0F, plus the C0/C1
 * controls other than tab and line feed and the interlinear annotation characters U+FFF9–U+FFFB.
 * Written out rather than taken from \p{Default_Ignorable_Code_Point} so the result does not change
 * with the runtime's Unicode version; a test compares the two.
 *
 * BIDI are the bidirectional controls (Trojan Source): embeddings, overrides, isolates and the
 * implicit marks. Text direction still works without them; they only reorder what is displayed.
 *
 * ASTRAL_HIGH marks the high surrogates of the astral default-ignorables: shorthand format controls
 * U+1BCA0–U+1BCA3, musical formatting U+1D173–U+1D17A and the tags block U+E0000–U+E0FFF (tag
 * characters mirror ASCII and are the classic way to smuggle invisible instructions; the variation
 * selectors supplement there can encode arbitrary bytes).
 */
function classes(): Uint8Array {
  if (classTable) return classTable;
  const t = new Uint8Array(0x10000);
  const set = (from: number, to: number, kind: number) => t.fill(kind, from, to + 1);
  set(0x00, 0x08, INVISIBLE);
  set(0x0b, 0x1f, INVISIBLE);
  set(0x7f, 0x9f, INVISIBLE);
  for (const c of [0xad, 0x34f, 0x115f, 0x1160, 0x17b4, 0x17b5, 0x3164, 0xfeff, 0xffa0]) t[c] = INVISIBLE;
  set(0x180b, 0x180f, INVISIBLE);
  set(0x200b, 0x200d, INVISIBLE);
  set(0x2060, 0x206f, INVISIBLE);
  set(0xfe00, 0xfe0d, INVISIBLE);
  set(0xfff0, 0xfffb, INVISIBLE);
  for (const c of [0x61c, 0x200e, 0x200f]) t[c] = BIDI;
  set(0x202a, 0x202e, BIDI);
  set(0x2066, 0x2069, BIDI);
  t[0xfe0e] = t[0xfe0f] = SELECTOR;
  t[0x2028] = t[0x2029] = LINE_SEPARATOR;
  for (const c of [0xd82f, 0xd834, 0xdb40, 0xdb41, 0xdb42, 0xdb43]) t[c] = ASTRAL_HIGH;
  classTable = t;
  return t;
}

let specialRe: RegExp | null = null;

/** A character class of every code unit the table does not simply keep, for finding the first fast. */
function specialCharacters(): RegExp {
  if (specialRe) return specialRe;
  const table = classes();
  const hex = (c: number) => `\\u${c.toString(16).padStart(4, "0")}`;
  let ranges = "";
  for (let c = 0; c < table.length; c++) {
    if (table[c] === KEEP) continue;
    let end = c;
    while (end + 1 < table.length && table[end + 1] !== KEEP) end++;
    ranges += end === c ? hex(c) : `${hex(c)}-${hex(end)}`;
    c = end;
  }
  specialRe = new RegExp(`[${ranges}]`);
  return specialRe;
}

function isInvisibleAstral(high: number, low: number): boolean {
  if (high === 0xd82f) return low >= 0xdca0 && low <= 0xdca3;
  if (high === 0xd834) return low >= 0xdd73 && low <= 0xdd7a;
  return true; // U+E0000–U+E0FFF
}

/**
 * Removes invisible and bidi characters in one pass; a run of presentation selectors keeps its
 * first (one is presentation, more can only be carrying data); U+2028/U+2029 become line feeds.
 */
function stripInvisible(s: string, counts: RemovalCounts): string {
  const table = classes();
  const n = s.length;
  let i = s.search(specialCharacters());
  if (i < 0) return s;
  const out = new Uint16Array(n);
  for (let k = 0; k < i; k++) out[k] = s.charCodeAt(k);
  let o = i;
  let invisible = 0;
  let bidi = 0;
  let afterSelector = false;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    const kind = table[c];
    if (kind === KEEP) {
      out[o++] = c;
      afterSelector = false;
    } else if (kind === INVISIBLE) {
      invisible++;
    } else if (kind === BIDI) {
      bidi++;
    } else if (kind === SELECTOR) {
      if (afterSelector) invisible++;
      else out[o++] = c;
      afterSelector = true;
    } else if (kind === LINE_SEPARATOR) {
      out[o++] = NL;
      afterSelector = false;
    } else {
      const low = s.charCodeAt(i + 1);
      if ((low & 0xfc00) === 0xdc00 && isInvisibleAstral(c, low)) {
        invisible++;
        i++;
      } else {
        out[o++] = c;
        afterSelector = false;
      }
    }
  }
  counts.add("invisible_char", invisible);
  counts.add("bidi_control", bidi);
  return fromCodeUnits(out, o);
}

function fromCodeUnits(units: Uint16Array, length: number): string {
  const chunks: string[] = [];
  for (let k = 0; k < length; k += 8192) {
    chunks.push(
      String.fromCharCode.apply(null, units.subarray(k, Math.min(length, k + 8192)) as unknown as number[]),
    );
  }
  return chunks.join("");
}

/** CRLF and lone CR become LF, as CommonMark reads them. A loop: a regex replace is slow on millions of matches. */
function normalizeNewlines(s: string): string {
  let i = s.indexOf("\r");
  if (i < 0) return s;
  const out = new Uint16Array(s.length);
  for (let k = 0; k < i; k++) out[k] = s.charCodeAt(k);
  let o = i;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x0d) out[o++] = c;
    else {
      out[o++] = NL;
      if (s.charCodeAt(i + 1) === NL) i++;
    }
  }
  return fromCodeUnits(out, o);
}

const nativeToWellFormed = (String.prototype as { toWellFormed?: (this: string) => string }).toWellFormed;

/** Lone surrogates (broken UTF-16) become U+FFFD, as a UTF-8 encoder would write them. */
function toWellFormed(s: string): string {
  return nativeToWellFormed ? nativeToWellFormed.call(s) : s.replace(LONE_SURROGATE_RE, "\uFFFD");
}

const NON_ASCII_RE = /[\u0080-\uFFFF]/;

export function utf8Length(s: string): number {
  // Most text is mostly ASCII: let the regex engine find where counting has to start.
  const first = s.search(NON_ASCII_RE);
  if (first < 0) return s.length;
  let bytes = first;
  for (let i = first; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

function truncateChars(s: string, maxChars: number): string {
  if (s.length <= maxChars) return s;
  let cut = maxChars - 1;
  if (isHighSurrogate(s.charCodeAt(cut - 1))) cut--;
  return s.slice(0, cut).trimEnd() + "…";
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

/** Thousands separators without depending on the runtime's locale data. */
export function formatCount(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+$)/g, ",");
}

function truncationNote(cut: number, total: number): string {
  return `\n\n[… truncated: ${formatCount(cut)} of ${formatCount(total)} bytes removed by Switchyard]`;
}

/**
 * Cuts to `maxBytes` of UTF-8 at a code-point boundary, note included. The note's numbers are of
 * the cleaned text: how much of it was cut, of how much.
 */
function capUtf8(s: string, maxBytes: number): { text: string; truncated: boolean; bytes: number } {
  const total = utf8Length(s);
  if (total <= maxBytes) return { text: s, truncated: false, bytes: total };
  // The note is longest when both of its numbers are as long as `total`; reserve that much.
  const budget = maxBytes - utf8Length(truncationNote(total, total));
  let bytes = 0;
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    const pair = isHighSurrogate(c) && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
    const size = c < 0x80 ? 1 : c < 0x800 ? 2 : pair ? 4 : 3;
    if (bytes + size > budget) break;
    bytes += size;
    i += pair ? 2 : 1;
  }
  const note = truncationNote(total - bytes, total);
  return { text: s.slice(0, i) + note, truncated: true, bytes: bytes + utf8Length(note) };
}

function typeOf(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "an array" : typeof v;
}

// ---------------------------------------------------------------------------------------------
// Markup

const NL = 0x0a;
const TAB = 0x09;
const SPACE = 0x20;
const BANG = 0x21;
const SLASH = 0x2f;
const LT = 0x3c;
const GT = 0x3e;
const QUESTION = 0x3f;
const LBRACKET = 0x5b;
const BACKSLASH = 0x5c;
const BACKTICK = 0x60;
const TILDE = 0x7e;
const LPAREN = 0x28;
const RPAREN = 0x29;

/** Characters at which the visible-mode scan has something to decide. */
const VISIBLE_STOP = stopTable("\n<`![]");
/** Inside a hidden block only line starts, tags and code matter: brackets cannot end the block. */
const HIDDEN_STOP = stopTable("\n<`");

function stopTable(chars: string): Uint8Array {
  const t = new Uint8Array(128);
  for (const c of chars) t[c.charCodeAt(0)] = 1;
  return t;
}

/** Bounds on single constructs; past them a construct is treated as text (and code spans as unsafe). */
const MAX_TAG_CHARS = 16_384;
const MAX_DEST_CHARS = 4_096;
const MAX_TITLE_CHARS = 4_096;
const MAX_PAREN_DEPTH = 32;
const MAX_SUMMARY_CHARS = 80;

/**
 * Elements whose content is never shown: script (GitHub drops it with its content) and style (a
 * browser never draws it). Other non-rendering elements (template, title, iframe) are not listed:
 * GitHub strips those tags and shows their text, and "the <template> block" written in prose must
 * not swallow the rest of an issue.
 */
const UNRENDERED = new Set(["script", "style"]);
const VOID = new Set([
  "area",
  "base",
  "br",
  "col",
  "embed",
  "hr",
  "img",
  "input",
  "link",
  "meta",
  "param",
  "source",
  "track",
  "wbr",
]);
/** Attributes kept when a tag is rewritten: a tool may follow a link, nothing else is for it. */
const KEPT_ATTRIBUTES = new Set(["href", "src", "open"]);
/** Attributes whose value is shown to nobody and can carry prose: dropping one is counted. */
const TEXT_ATTRIBUTES = new Set([
  "title",
  "alt",
  "aria-label",
  "aria-description",
  "aria-roledescription",
  "aria-placeholder",
  "aria-valuetext",
  "placeholder",
  "value",
  "label",
  "summary",
  "content",
  "abbr",
]);
const HIDING_STYLE_RE = /display:none|visibility:hidden|opacity:0(?![.\d]*[1-9])|font-size:0(?![.\d]*[1-9])/;

interface Attribute {
  name: string;
  value: string | null;
}
interface OpenTag {
  name: string;
  attributes: Attribute[];
  end: number;
}
type TagParse = OpenTag | "invalid" | "overflow";

interface Frame {
  kind: "hidden_block" | "hidden_html";
  start: number;
  /** Names of the elements open inside the frame, outermost (the frame's own) first. */
  open: string[];
  openCount: Map<string, number>;
  summaryFrom: number;
  summary: string | null;
}

const AUTOLINK_RE =
  /<[A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*>|<[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+>/y;
const CLOSE_TAG_RE = /<\/([A-Za-z][A-Za-z0-9-]*)[ \t]*(?:\n[ \t]*)?>/y;
const BLANK_LINE_RE = /\n[ \t]*(?=\n|$)/g;
/**
 * A line GitHub may start a raw HTML block with (no Markdown inside until a blank line): a tag name
 * followed by whitespace, ">" or "/", or a comment, declaration or processing instruction. Wider
 * than CommonMark's own conditions, which is the safe side. An autolink (<https://…>) is not one.
 */
const HTML_BLOCK_START_RE =
  /[ ]{0,3}<(?:(pre|textarea)(?=[ \t>]|$|\n)|\/?[A-Za-z][A-Za-z0-9-]*(?=[ \t\n>/]|$)|[!?])/iy;
const LINK_TITLE = String.raw`(?:"[^"\n]*"|'[^'\n]*'|\([^()\n]*\))`;
const LINK_DEST = String.raw`(?:<[^<>\n]*>|[^\s<][^\s]*)`;
/**
 * A link reference definition line (never rendered, so `[//]: # (text)` is a well-known way to
 * write a comment). Also matched inside block quotes and list items, and mid-paragraph, where
 * GitHub would show the line: removing such a line is the safe kind of mistake.
 */
const DEFINITION_RE = new RegExp(
  String.raw`[ ]{0,3}(?:>[ ]?){0,8}(?:[-+*][ \t]+|\d{1,9}[.)][ \t]+)?[ ]{0,3}` +
    String.raw`\[(?!\^)(?=[ \t]*[^\s\]])(?:[^\\[\]\n]|\\[^\n]){1,999}\]:[ \t]*` +
    `(${LINK_DEST}(?:[ \\t]+${LINK_TITLE})?)?[ \\t]*(?=\\n|$)`,
  "y",
);
const DEFINITION_DEST_LINE_RE = new RegExp(
  `[ \\t]*${LINK_DEST}(?:[ \\t]+${LINK_TITLE})?[ \\t]*(?=\\n|$)`,
  "y",
);
const DEFINITION_TITLE_LINE_RE = new RegExp(`[ \\t]*${LINK_TITLE}[ \\t]*(?=\\n|$)`, "y");

/** Backtick runs of one paragraph, by length, for finding the run that closes a code span. */
class BacktickRuns {
  private readonly byLength = new Map<number, number[]>();
  private readonly cursor = new Map<number, number>();

  constructor(
    s: string,
    from: number,
    readonly end: number,
  ) {
    let i = from;
    while (i < end) {
      i = s.indexOf("`", i);
      if (i < 0 || i >= end) break;
      let j = i + 1;
      while (j < end && s.charCodeAt(j) === BACKTICK) j++;
      const list = this.byLength.get(j - i);
      if (list) list.push(i);
      else this.byLength.set(j - i, [i]);
      i = j;
    }
  }

  /** Start of the first run of exactly `length` backticks in [from, limit), or -1. Queries only move forward. */
  next(length: number, from: number, limit: number): number {
    const list = this.byLength.get(length);
    if (!list) return -1;
    let c = this.cursor.get(length) ?? 0;
    while (c < list.length && list[c]! < from) c++;
    this.cursor.set(length, c);
    return c < list.length && list[c]! < limit ? list[c]! : -1;
  }
}

class HiddenMarkupStripper {
  private readonly n: number;
  private readonly out: string[] = [];
  /** Start of the source not yet copied to `out`. */
  private copyFrom = 0;
  private frame: Frame | null = null;
  /** Inside a raw HTML block: "" no, "blank" until a blank line, or the element whose end tag ends it. */
  private htmlBlock: "" | "blank" | "pre" | "textarea" = "";
  /** A tag ran past its length cap in this paragraph; GitHub may have read it as a tag hiding later code. */
  private tagOverflow = false;
  private ticks: BacktickRuns | null = null;
  // Open brackets of the current paragraph: -1 for "[", or the index in the image stacks for "![".
  private readonly brackets = new IntStack();
  // For each open "![": where it starts, and `out`'s length and `copyFrom` when it was seen.
  private readonly imageStarts = new IntStack();
  private readonly imageOutLengths = new IntStack();
  private readonly imageCopyFroms = new IntStack();
  /** Characters link destinations may still scan: keeps crafted runs of "](" linear. */
  private destinationBudget: number;
  private readonly scan = { scanned: 0 };
  // The first "\n" at or after nlFrom is at nlAt (n when there is none): a cached forward search.
  private nlFrom = 0;
  private nlAt = -1;
  // The first ">" at or after gtFrom is at gtAt (n when there is none): a cached forward search.
  private gtFrom = 0;
  private gtAt = -1;

  constructor(
    private readonly s: string,
    private readonly counts: RemovalCounts,
  ) {
    this.n = s.length;
    this.destinationBudget = 2 * s.length + 65_536;
  }

  run(): string {
    const s = this.s;
    let pos = this.lineStart(0);
    const n = this.n;
    while (pos < n) {
      const stops = this.frame ? HIDDEN_STOP : VISIBLE_STOP;
      let p = pos;
      let c = 0;
      for (; p < n; p++) {
        c = s.charCodeAt(p);
        if (c < 128 && stops[c] === 1) break;
      }
      if (p >= n) break;
      if (c === NL) pos = this.lineStart(p + 1);
      else if (c === LT) pos = this.onLessThan(p);
      else if (c === BACKTICK) pos = this.onBackticks(p);
      else pos = this.onBracket(p, c);
    }
    if (this.frame) this.closeFrame(this.n, true);
    this.flush(this.n);
    return this.out.join("");
  }

  // --- output ----------------------------------------------------------------------------------

  private flush(to: number): void {
    if (to > this.copyFrom) this.out.push(this.s.slice(this.copyFrom, to));
    this.copyFrom = Math.max(this.copyFrom, to);
  }

  /** Replaces source [from, to) with `text` (which may be empty). */
  private replace(from: number, to: number, text: string): void {
    this.flush(from);
    if (text) this.out.push(text);
    this.copyFrom = to;
  }

  // --- lines -----------------------------------------------------------------------------------

  /** Handles what is decided by a line's start; returns where the inline scan goes on. */
  private lineStart(p: number): number {
    const s = this.s;
    while (p < this.n) {
      let lineEnd = s.indexOf("\n", p);
      if (lineEnd < 0) lineEnd = this.n;
      const next = lineEnd < this.n ? lineEnd + 1 : this.n;
      if (isBlank(s, p, lineEnd)) {
        this.endParagraph();
        p = skipBlankLines(s, lineEnd);
        continue;
      }
      if (this.frame) {
        const fence = fenceOpener(s, p, lineEnd, true);
        if (fence) {
          p = this.skipFence(next, fence, true);
          continue;
        }
        if (this.htmlBlock === "" && indentColumns(s, p, lineEnd) >= 4) {
          p = next;
          continue;
        }
        HTML_BLOCK_START_RE.lastIndex = p;
        if (HTML_BLOCK_START_RE.test(s)) this.htmlBlock = "blank";
        return p;
      }
      if (this.htmlBlock === "pre" || this.htmlBlock === "textarea") {
        if (lineHas(s, p, lineEnd, `</${this.htmlBlock}`)) this.htmlBlock = "blank";
        return p;
      }
      if (this.htmlBlock === "blank") return p;
      const fence = fenceOpener(s, p, lineEnd, false);
      if (fence) {
        this.resetBrackets();
        p = this.skipFence(next, fence, false);
        continue;
      }
      const definitionEnd = this.definitionAt(p);
      if (definitionEnd >= 0) {
        this.counts.add("hidden_markdown");
        this.replace(p, definitionEnd, "");
        p = definitionEnd;
        continue;
      }
      HTML_BLOCK_START_RE.lastIndex = p;
      const html = HTML_BLOCK_START_RE.exec(s);
      if (html) {
        this.htmlBlock = html[1] ? (html[1].toLowerCase() as "pre" | "textarea") : "blank";
        this.resetBrackets();
      }
      return p;
    }
    return p;
  }

  private endParagraph(): void {
    if (this.htmlBlock === "blank") this.htmlBlock = "";
    this.tagOverflow = false;
    this.ticks = null;
    this.resetBrackets();
  }

  private resetBrackets(): void {
    this.brackets.clear();
    this.imageStarts.clear();
    this.imageOutLengths.clear();
    this.imageCopyFroms.clear();
  }

  /**
   * Moves past a fenced code block whose opening line ends just before `from`. Returns the start of
   * the line after the closing fence (or the end of the text: an unclosed fence runs to the end).
   * Outside hidden blocks a closer is recognised at any indentation (the block may end early);
   * inside them only where CommonMark certainly closes it (the block may run long).
   */
  private skipFence(from: number, fence: Fence, strictCloser: boolean): number {
    const s = this.s;
    let p = from;
    while (p < this.n) {
      let lineEnd = s.indexOf("\n", p);
      if (lineEnd < 0) lineEnd = this.n;
      const next = lineEnd < this.n ? lineEnd + 1 : this.n;
      if (isFenceCloser(s, p, lineEnd, fence, strictCloser)) return next;
      p = next;
    }
    return this.n;
  }

  /** End of a link reference definition starting at `p` (with a title on the next line), or -1. */
  private definitionAt(p: number): number {
    const s = this.s;
    const c = s.charCodeAt(p);
    // Cheap pre-check: a definition line starts with spaces, ">", a list marker or "[".
    if (
      c !== LBRACKET &&
      c !== SPACE &&
      c !== GT &&
      c !== 0x2d &&
      c !== 0x2b &&
      c !== 0x2a &&
      !(c >= 0x30 && c <= 0x39)
    ) {
      return -1;
    }
    DEFINITION_RE.lastIndex = p;
    const m = DEFINITION_RE.exec(s);
    if (!m) return -1;
    let end = p + m[0].length;
    const hasDest = m[1] !== undefined;
    const hasTitle = hasDest && /[ \t]["'(]/.test(m[1]!);
    // CommonMark lets the destination and the title continue on the next lines.
    if (!hasDest && end < this.n) {
      DEFINITION_DEST_LINE_RE.lastIndex = end + 1;
      const d = DEFINITION_DEST_LINE_RE.exec(s);
      if (d) end = end + 1 + d[0].length;
    }
    if (!hasTitle && end < this.n) {
      DEFINITION_TITLE_LINE_RE.lastIndex = end + 1;
      const t = DEFINITION_TITLE_LINE_RE.exec(s);
      if (t) end = end + 1 + t[0].length;
    }
    return end < this.n ? end + 1 : this.n;
  }

  // --- tags and comments -----------------------------------------------------------------------

  private onLessThan(p: number): number {
    const s = this.s;
    const c1 = s.charCodeAt(p + 1);
    if (c1 === BANG) {
      if (s.startsWith("<!--", p)) {
        // CommonMark 0.31 also closes "<!-->" and "<!--->".
        if (s.charCodeAt(p + 4) === GT) return this.dropMarkup(p, p + 5, "HTML comment");
        if (s.startsWith("->", p + 4)) return this.dropMarkup(p, p + 6, "HTML comment");
        return this.dropMarkup(p, endAfter(s, "-->", p + 4), "HTML comment");
      }
      if (s.startsWith("<![CDATA[", p)) return this.dropMarkup(p, endAfter(s, "]]>", p + 9), "HTML markup");
      if (isAsciiLetter(s.charCodeAt(p + 2))) {
        const gt = this.nextGt(p + 2);
        return this.dropMarkup(p, gt < this.n ? gt + 1 : -1, "HTML markup");
      }
      return p + 1;
    }
    if (c1 === QUESTION) return this.dropMarkup(p, endAfter(s, "?>", p + 2), "HTML markup");
    if (c1 === SLASH) {
      CLOSE_TAG_RE.lastIndex = p;
      const m = CLOSE_TAG_RE.exec(s);
      if (!m) return p + 1;
      const end = p + m[0].length;
      if (this.frame) this.closeElement(m[1]!.toLowerCase(), p, end);
      return end;
    }
    if (!isAsciiLetter(c1)) return p + 1;
    AUTOLINK_RE.lastIndex = p;
    const auto = AUTOLINK_RE.exec(s);
    if (auto) return p + auto[0].length;
    const tag = parseOpenTag(s, p);
    if (tag === "overflow") {
      this.tagOverflow = true;
      return p + 1;
    }
    if (tag === "invalid") return p + 1;
    return this.frame ? this.openElementInFrame(tag) : this.onVisibleTag(tag, p);
  }

  /** Comments and other markup a browser drops; one without its end runs to the end of the text. */
  private dropMarkup(p: number, end: number, label: string): number {
    if (this.frame) return end < 0 ? this.n : end;
    this.counts.add("html_comment");
    if (end >= 0) {
      this.replace(p, end, "");
      return end;
    }
    this.replace(p, this.n, `[unterminated ${label} removed by Switchyard: ${untilEnd(this.n - p)}]`);
    return this.n;
  }

  private nextNewline(from: number): number {
    if (from >= this.nlFrom && from <= this.nlAt) return this.nlAt;
    const at = this.s.indexOf("\n", from);
    this.nlFrom = from;
    this.nlAt = at < 0 ? this.n : at;
    return this.nlAt;
  }

  private nextGt(from: number): number {
    if (from >= this.gtFrom && from <= this.gtAt) return this.gtAt;
    const at = this.s.indexOf(">", from);
    this.gtFrom = from;
    this.gtAt = at < 0 ? this.n : at;
    return this.gtAt;
  }

  private onVisibleTag(tag: OpenTag, p: number): number {
    const hiding =
      tag.name === "details" && !tag.attributes.some((a) => a.name === "open")
        ? "hidden_block"
        : UNRENDERED.has(tag.name) || hidesItself(tag)
          ? "hidden_html"
          : null;
    if (hiding) {
      if (VOID.has(tag.name)) {
        this.counts.add("hidden_html");
        this.replace(p, tag.end, "");
        return tag.end;
      }
      this.flush(p);
      this.frame = {
        kind: hiding,
        start: p,
        open: [tag.name],
        openCount: new Map([[tag.name, 1]]),
        summaryFrom: -1,
        summary: null,
      };
      return tag.end;
    }
    if (tag.name === "img") {
      const src = attribute(tag, "src");
      if (nonBlank(attribute(tag, "alt")) || nonBlank(attribute(tag, "title"))) this.counts.add("image_alt");
      this.replace(p, tag.end, src ? `![image](${src.replace(/[\s()]/g, encodeURIComponent)})` : "![image]");
      return tag.end;
    }
    const kept = tag.attributes.filter((a) => KEPT_ATTRIBUTES.has(a.name));
    const droppedText = tag.attributes.some(
      (a) => (TEXT_ATTRIBUTES.has(a.name) || a.name.startsWith("data-")) && nonBlank(a.value),
    );
    if (droppedText) this.counts.add("hidden_html");
    if (kept.length !== tag.attributes.length) {
      const attrs = kept.map((a) =>
        a.value === null ? ` ${a.name}` : ` ${a.name}="${a.value.replace(/"/g, "&quot;")}"`,
      );
      this.replace(p, tag.end, `<${tag.name}${attrs.join("")}>`);
    }
    return tag.end;
  }

  private openElementInFrame(tag: OpenTag): number {
    const f = this.frame!;
    if (VOID.has(tag.name)) return tag.end;
    f.open.push(tag.name);
    f.openCount.set(tag.name, (f.openCount.get(tag.name) ?? 0) + 1);
    if (tag.name === "summary" && f.kind === "hidden_block" && f.summaryFrom < 0 && f.open.length === 2) {
      f.summaryFrom = tag.end;
    }
    return tag.end;
  }

  /** An end tag inside a hidden frame closes the innermost open element of that name and all inside it. */
  private closeElement(name: string, p: number, end: number): void {
    const f = this.frame!;
    if (!f.openCount.get(name)) return;
    for (;;) {
      const top = f.open.pop()!;
      f.openCount.set(top, f.openCount.get(top)! - 1);
      if (top === name) break;
    }
    if (name === "summary" && f.open.length === 1 && f.summaryFrom >= 0 && f.summary === null) {
      f.summary = summaryText(this.s.slice(f.summaryFrom, Math.min(p, f.summaryFrom + 1000)));
    }
    if (f.open.length === 0) this.closeFrame(end, false);
  }

  private closeFrame(end: number, atEndOfText: boolean): void {
    const f = this.frame!;
    this.frame = null;
    this.counts.add(f.kind);
    const size = atEndOfText ? untilEnd(end - f.start) : `${formatCount(end - f.start)} characters`;
    let marker = "";
    if (f.kind === "hidden_block") {
      const title = f.summary ? ` "${f.summary}"` : "";
      marker = `[collapsed section${title} removed by Switchyard: ${size}]`;
    } else if (atEndOfText) {
      marker = `[unclosed hidden HTML removed by Switchyard: ${size}]`;
    }
    this.replace(f.start, end, marker);
  }

  // --- code spans ------------------------------------------------------------------------------

  private onBackticks(p: number): number {
    const s = this.s;
    let e = p + 1;
    while (e < this.n && s.charCodeAt(e) === BACKTICK) e++;
    let length = e - p;
    // A backslash escapes only the first backtick; the rest of the run can still open a span.
    if (backslashesBefore(s, p) % 2 === 1) length -= 1;
    if (length === 0) return e;
    let limit: number;
    if (this.frame) {
      limit = this.paragraphRuns(e).end;
    } else {
      if (this.htmlBlock !== "" || this.tagOverflow) return e;
      limit = this.nextNewline(e);
    }
    const close = this.paragraphRuns(e).next(length, e, limit);
    return close >= 0 ? close + length : e;
  }

  private paragraphRuns(from: number): BacktickRuns {
    if (this.ticks && from < this.ticks.end) return this.ticks;
    BLANK_LINE_RE.lastIndex = from;
    const blank = BLANK_LINE_RE.exec(this.s);
    this.ticks = new BacktickRuns(this.s, from, blank ? blank.index : this.n);
    return this.ticks;
  }

  // --- images and links ------------------------------------------------------------------------

  private onBracket(p: number, c: number): number {
    const s = this.s;
    if (c === BANG) {
      if (s.charCodeAt(p + 1) !== LBRACKET || backslashesBefore(s, p) % 2 === 1) return p + 1;
      this.brackets.push(this.imageStarts.length);
      this.imageStarts.push(p);
      this.imageOutLengths.push(this.out.length);
      this.imageCopyFroms.push(this.copyFrom);
      return p + 2;
    }
    if (backslashesBefore(s, p) % 2 === 1) return p + 1;
    if (c === LBRACKET) {
      this.brackets.push(-1);
      return p + 1;
    }
    if (this.brackets.length === 0) return p + 1;
    const isImage = this.brackets.pop() >= 0;
    const dest = s.charCodeAt(p + 1) === LPAREN ? this.destination(p + 1) : null;
    if (isImage) {
      const start = this.imageStarts.pop();
      const outLength = this.imageOutLengths.pop();
      const copyFrom = this.imageCopyFroms.pop();
      const end = dest ? dest.end : p + 1;
      if (p > start + 2 || dest?.hasTitle) this.counts.add("image_alt");
      // Everything written since "![" is alt text: drop it, whatever it was made of, and write
      // back the text before "![" that was still waiting to be copied then.
      this.out.length = outLength;
      if (start > copyFrom) this.out.push(s.slice(copyFrom, start));
      this.out.push(dest ? `![image](${dest.destination})` : "![image]");
      this.copyFrom = end;
      return end;
    }
    if (dest?.hasTitle) {
      this.counts.add("hidden_markdown");
      this.replace(p + 1, dest.end, `(${dest.destination})`);
      return dest.end;
    }
    return p + 1;
  }

  private destination(open: number): Destination | null {
    if (this.destinationBudget <= 0) return null;
    const result = parseInlineDestination(this.s, open, this.scan);
    this.destinationBudget -= this.scan.scanned;
    return result;
  }
}

/** A growable stack of 32-bit integers: brackets can nest millions deep in hostile input. */
class IntStack {
  private items = new Int32Array(64);
  length = 0;

  push(v: number): void {
    if (this.length === this.items.length) {
      const grown = new Int32Array(this.items.length * 2);
      grown.set(this.items);
      this.items = grown;
    }
    this.items[this.length++] = v;
  }

  pop(): number {
    return this.items[--this.length]!;
  }

  clear(): void {
    this.length = 0;
  }
}

// --- helpers for the scanner -------------------------------------------------------------------

interface Fence {
  char: number;
  length: number;
}

function isBlank(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c !== SPACE && c !== TAB) return false;
  }
  return true;
}

/** From the "\n" ending a blank line, the start of the next non-blank line (or the end). */
function skipBlankLines(s: string, lineEnd: number): number {
  let q = lineEnd;
  while (q < s.length) {
    let r = q + 1;
    while (r < s.length && (s.charCodeAt(r) === SPACE || s.charCodeAt(r) === TAB)) r++;
    if (r < s.length && s.charCodeAt(r) !== NL) return q + 1;
    q = r;
  }
  return s.length;
}

function indentColumns(s: string, from: number, to: number): number {
  let col = 0;
  for (let i = from; i < to && col < 4; i++) {
    const c = s.charCodeAt(i);
    if (c === SPACE) col++;
    else if (c === TAB) col += 4 - (col % 4);
    else break;
  }
  return col;
}

/**
 * A fence opening at line start `p`. Strict (outside hidden blocks): only at column 0, where it
 * certainly opens a top-level code block. Liberal (inside them): after any indentation, block-quote
 * markers and list markers.
 */
function fenceOpener(s: string, p: number, lineEnd: number, liberal: boolean): Fence | null {
  let i = p;
  if (liberal) {
    for (;;) {
      const c = s.charCodeAt(i);
      if (i < lineEnd && (c === SPACE || c === TAB || c === GT)) i++;
      else if (i < lineEnd && (c === 0x2d || c === 0x2b || c === 0x2a) && isSpaceOrTab(s.charCodeAt(i + 1)))
        i += 2;
      else break;
    }
  }
  const char = s.charCodeAt(i);
  if (char !== BACKTICK && char !== TILDE) return null;
  let j = i;
  while (j < lineEnd && s.charCodeAt(j) === char) j++;
  if (j - i < 3) return null;
  if (char === BACKTICK) {
    for (let k = j; k < lineEnd; k++) if (s.charCodeAt(k) === BACKTICK) return null;
  }
  return { char, length: j - i };
}

function isFenceCloser(s: string, p: number, lineEnd: number, fence: Fence, strict: boolean): boolean {
  let i = p;
  if (strict) {
    while (i < lineEnd && i - p < 3 && s.charCodeAt(i) === SPACE) i++;
  } else {
    while (i < lineEnd && (s.charCodeAt(i) === SPACE || s.charCodeAt(i) === TAB || s.charCodeAt(i) === GT))
      i++;
  }
  let j = i;
  while (j < lineEnd && s.charCodeAt(j) === fence.char) j++;
  if (j - i < fence.length) return false;
  return isBlank(s, j, lineEnd);
}

function isSpaceOrTab(c: number): boolean {
  return c === SPACE || c === TAB;
}

function isAsciiLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

function lineHas(s: string, from: number, to: number, needle: string): boolean {
  return s.slice(from, to).toLowerCase().includes(needle);
}

/** Index just past `terminator` searched from `from`, or -1. */
function endAfter(s: string, terminator: string, from: number): number {
  const i = s.indexOf(terminator, from);
  return i < 0 ? -1 : i + terminator.length;
}

function backslashesBefore(s: string, p: number): number {
  let k = 0;
  while (p - k - 1 >= 0 && s.charCodeAt(p - k - 1) === BACKSLASH) k++;
  return k;
}

function untilEnd(chars: number): string {
  return `${formatCount(chars)} characters, to the end of the text`;
}

function nonBlank(v: string | null | undefined): boolean {
  return v !== null && v !== undefined && v.trim() !== "";
}

function attribute(tag: OpenTag, name: string): string | null {
  return tag.attributes.find((a) => a.name === name)?.value ?? null;
}

function hidesItself(tag: OpenTag): boolean {
  for (const a of tag.attributes) {
    if (a.name === "hidden") return true;
    if (a.name === "style" && a.value && HIDING_STYLE_RE.test(a.value.toLowerCase().replace(/\s+/g, "")))
      return true;
    if (a.name === "type" && tag.name === "input" && a.value?.toLowerCase() === "hidden") return true;
  }
  return false;
}

/** The visible text of a `<summary>`: tags and comments out, whitespace collapsed, cut short. */
function summaryText(raw: string): string | null {
  const text = raw
    .replace(/<!--[\s\S]*?(?:-->|$)/g, "")
    .replace(/<[^<>]*>/g, "")
    .replace(/\s+/g, " ")
    .replace(/"/g, "'")
    .trim();
  return text ? truncateChars(text, MAX_SUMMARY_CHARS) : null;
}

const WHITESPACE = new Set([SPACE, TAB, NL]);

/**
 * An HTML open tag at `p` in CommonMark's grammar: name, attributes (unquoted, '…' or "…" values),
 * optional "/", ">". The grammar cannot contain "<" outside a quoted value, so failed attempts stop
 * early; quoted values are what can run long, and they are capped.
 */
function parseOpenTag(s: string, p: number): TagParse {
  const limit = Math.min(s.length, p + MAX_TAG_CHARS);
  let i = p + 1;
  while (i < limit && isTagNameChar(s.charCodeAt(i))) i++;
  const name = s.slice(p + 1, i).toLowerCase();
  const attributes: Attribute[] = [];
  for (;;) {
    const wsStart = i;
    while (i < limit && WHITESPACE.has(s.charCodeAt(i))) i++;
    if (i >= limit) return limit < s.length ? "overflow" : "invalid";
    const c = s.charCodeAt(i);
    if (c === GT) return { name, attributes, end: i + 1 };
    if (c === SLASH) return s.charCodeAt(i + 1) === GT ? { name, attributes, end: i + 2 } : "invalid";
    if (i === wsStart || !isAttributeNameStart(c)) return "invalid";
    const nameStart = i;
    while (i < limit && isAttributeNameChar(s.charCodeAt(i))) i++;
    const attrName = s.slice(nameStart, i).toLowerCase();
    let j = i;
    while (j < limit && WHITESPACE.has(s.charCodeAt(j))) j++;
    if (s.charCodeAt(j) !== 0x3d) {
      attributes.push({ name: attrName, value: null });
      continue;
    }
    j++;
    while (j < limit && WHITESPACE.has(s.charCodeAt(j))) j++;
    const q = s.charCodeAt(j);
    if (q === 0x22 || q === 0x27) {
      let k = j + 1;
      while (k < limit && s.charCodeAt(k) !== q) k++;
      if (k >= limit) return limit < s.length ? "overflow" : "invalid";
      attributes.push({ name: attrName, value: s.slice(j + 1, k) });
      i = k + 1;
    } else {
      let k = j;
      while (k < limit && isUnquotedValueChar(s.charCodeAt(k))) k++;
      if (k === j) return "invalid";
      attributes.push({ name: attrName, value: s.slice(j, k) });
      i = k;
    }
  }
}

function isTagNameChar(c: number): boolean {
  return isAsciiLetter(c) || (c >= 0x30 && c <= 0x39) || c === 0x2d;
}

function isAttributeNameStart(c: number): boolean {
  return isAsciiLetter(c) || c === 0x5f || c === 0x3a;
}

function isAttributeNameChar(c: number): boolean {
  return isAttributeNameStart(c) || (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x2d;
}

function isUnquotedValueChar(c: number): boolean {
  // Not whitespace, quotes, "=", "<", ">" or "`".
  return c > SPACE && c !== 0x22 && c !== 0x27 && c !== 0x3d && c !== LT && c !== GT && c !== BACKTICK;
}

interface Destination {
  destination: string;
  hasTitle: boolean;
  end: number;
}

/**
 * The "(destination "title")" after "]" at `open`: the destination as written and whether a
 * non-empty title was there, or null when it is not a valid inline link tail. `scanned` is how far
 * it looked, charged to the caller's budget.
 */
function parseInlineDestination(s: string, open: number, scan: { scanned: number }): Destination | null {
  const n = s.length;
  let reach = open;
  scan.scanned = 0;
  let i = skipLinkSpace(s, open + 1);
  if (i < 0) return failed(scan, reach - open + 1);
  let destination = "";
  if (s.charCodeAt(i) === LT) {
    const limit = Math.min(n, i + MAX_DEST_CHARS);
    let j = i + 1;
    for (; j < limit; j++) {
      const c = s.charCodeAt(j);
      if (c === GT) break;
      if (c === NL || c === LT) break;
      if (c === BACKSLASH) j++;
    }
    reach = j;
    if (j >= limit || s.charCodeAt(j) !== GT) return failed(scan, reach - open + 1);
    destination = s.slice(i, j + 1);
    i = j + 1;
  } else if (s.charCodeAt(i) !== RPAREN) {
    const limit = Math.min(n, i + MAX_DEST_CHARS);
    let depth = 0;
    let j = i;
    for (; j < limit; j++) {
      const c = s.charCodeAt(j);
      if (c <= SPACE) break;
      if (c === BACKSLASH) j++;
      else if (c === LPAREN && ++depth > MAX_PAREN_DEPTH) break;
      else if (c === RPAREN) {
        if (depth === 0) break;
        depth--;
      }
    }
    reach = j;
    if (j >= limit || depth !== 0) return failed(scan, reach - open + 1);
    destination = s.slice(i, j);
    i = j;
  }
  const afterDest = i;
  i = skipLinkSpace(s, i);
  reach = Math.max(reach, i);
  if (i < 0) return failed(scan, reach - open + 1);
  let hasTitle = false;
  const q = s.charCodeAt(i);
  if (i > afterDest && (q === 0x22 || q === 0x27 || q === LPAREN)) {
    const close = q === LPAREN ? RPAREN : q;
    const limit = Math.min(n, i + MAX_TITLE_CHARS);
    let k = i + 1;
    let broken = false;
    for (; k < limit; k++) {
      const c = s.charCodeAt(k);
      if (c === close) break;
      if (c === BACKSLASH) k++;
      else if ((c === LPAREN && q === LPAREN) || (c === NL && isBlankAhead(s, k + 1))) {
        broken = true;
        break;
      }
    }
    reach = k;
    if (broken || k >= limit) return failed(scan, reach - open + 1);
    hasTitle = k > i + 1;
    i = skipLinkSpace(s, k + 1);
    if (i < 0) return failed(scan, reach - open + 1);
  }
  reach = Math.max(reach, i);
  if (s.charCodeAt(i) !== RPAREN) return failed(scan, reach - open + 1);
  scan.scanned = reach - open + 1;
  return { destination, hasTitle, end: i + 1 };
}

function failed(scan: { scanned: number }, scanned: number): null {
  scan.scanned = scanned;
  return null;
}

/** Skips spaces, tabs and at most one line ending; -1 if a blank line interrupts. */
function skipLinkSpace(s: string, i: number): number {
  let newline = false;
  for (;;) {
    const c = s.charCodeAt(i);
    if (c === SPACE || c === TAB) i++;
    else if (c === NL) {
      if (newline) return -1;
      newline = true;
      i++;
    } else return i;
  }
}

function isBlankAhead(s: string, i: number): boolean {
  while (s.charCodeAt(i) === SPACE || s.charCodeAt(i) === TAB) i++;
  return i >= s.length || s.charCodeAt(i) === NL;
}
