import type { z } from "zod";
import { InputError } from "./errors.js";

/**
 * The hidden, machine-readable part of a status comment: GitHub is the database, so the state a
 * replica needs to continue a task (or a recovery ladder) rides in the comment people read, as
 *
 *     <!-- switchyard:recovery v1 eyJ2ZXJzaW9uIjox... -->
 *
 * on a line of its own. The payload is base64url of the JSON, so nothing inside the state (a
 * reason quoting `-->`, a newline, markdown) can end the comment early or show up in the page.
 *
 * Reading rules, chosen because the comment also quotes untrusted text (CI log excerpts, issue
 * titles) and people with write access can edit any comment:
 * - Only a line that *is* a marker counts: it starts at column 0 and nothing but whitespace
 *   follows the closing `-->`. A marker quoted inside a sentence, a list or a blockquote does not.
 * - Lines inside fenced code blocks (``` or ~~~) never count, so log excerpts cannot inject one.
 * - The FIRST marker line of a kind wins; later ones are ignored. `replaceMarker` writes the
 *   marker at the top of a body, ahead of anything quoted, so text rendered after it cannot
 *   shadow it. When that first line is damaged the answer is an error, not a later marker: a
 *   broken state must not be silently swapped for an older or planted one.
 * - The payload is capped at MAX_MARKER_CHARS before anything is decoded.
 * - A decoded value is only JSON: check it with the caller's zod schema (`readMarker` does).
 *
 * Two checks stay with the caller: that the comment was written by Switchyard's own app or
 * bot account (a marker in anybody else's comment is just text), and what to do with a marker
 * that is present but unreadable. For recovery, acting as if there were no state would reset the
 * attempt budget, so the safe reading of an error is "do not act automatically".
 */

export const MARKER_KINDS = ["task", "recovery"] as const;
export type MarkerKind = (typeof MARKER_KINDS)[number];

/** The encoding's version (not the state's): a newer Switchyard may write v2. */
export const MARKER_VERSION = 1;

/**
 * Payload characters allowed in one marker, checked before decoding. 16 KiB of base64 is 12 KiB
 * of JSON: room for a bounded ladder state, and small next to GitHub's 65,536-character comments.
 */
export const MARKER_MAX_CHARS = 16_384;

export type MarkerRead<T> = { ok: true; value: T } | { ok: false; reason: string };

const MARKER_LINE = /^<!--\s*switchyard:([a-z]+)(?=\s|-->|$)(.*)$/;
const PAYLOAD = /^\s+v(\d+)\s+([A-Za-z0-9_-]*)\s*-->\s*$/;
const FENCE_OPEN = /^ {0,3}(`{3,}|~{3,})(.*)$/;
const FENCE_CLOSE = /^ {0,3}(`{3,}|~{3,})[ \t]*$/;

/** The marker line for `state`. Throws InputError when the state is not JSON or is too large. */
export function encodeMarker(state: unknown, kind: MarkerKind): string {
  checkKind(kind);
  let json: string | undefined;
  try {
    json = JSON.stringify(state);
  } catch (err) {
    throw new InputError(
      `Cannot write the switchyard:${kind} marker: the state is not JSON (${String(err)}).`,
    );
  }
  if (json === undefined) {
    throw new InputError(`Cannot write the switchyard:${kind} marker: the state is not a JSON value.`);
  }
  const payload = Buffer.from(json, "utf8").toString("base64url");
  if (payload.length > MARKER_MAX_CHARS) {
    throw new InputError(
      `Cannot write the switchyard:${kind} marker: the state encodes to ${payload.length} characters, ` +
        `more than the ${MARKER_MAX_CHARS} a marker may hold; bound what the state keeps (its history).`,
    );
  }
  return `<!-- switchyard:${kind} v${MARKER_VERSION} ${payload} -->`;
}

/**
 * The first marker of `kind` in `body`, decoded to JSON but not yet validated; null when there is
 * none. `{ ok: false }` says why a marker that is there cannot be read.
 */
export function findMarker(body: string, kind: MarkerKind): MarkerRead<unknown> | null {
  checkKind(kind);
  const line = markerLines(body, kind)[0];
  return line === undefined ? null : decodeLine(line.text, kind);
}

/**
 * The first marker of `kind`, checked against `schema`. A value that does not fit (a hand-edited
 * marker, or one written by another version) is `{ ok: false }` with the first problem named.
 */
export function readMarker<S extends z.ZodType>(
  body: string,
  kind: MarkerKind,
  schema: S,
): MarkerRead<z.output<S>> | null {
  const found = findMarker(body, kind);
  if (found === null || !found.ok) return found;
  const parsed = schema.safeParse(found.value);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.map(String).join(".")}: ` : "";
  return {
    ok: false,
    reason: `the switchyard:${kind} marker does not hold a valid state (${where}${issue?.message ?? "invalid"})`,
  };
}

/**
 * `body` with its marker of `kind` set to `state`: the first marker line of that kind is replaced
 * in place (readable or not), every later one is removed, and a body without one gets it as its
 * first line. Other text, other kinds' markers and code blocks are left exactly as they were.
 */
export function replaceMarker(body: string, kind: MarkerKind, state: unknown): string {
  const marker = encodeMarker(state, kind);
  const lines = markerLines(body, kind);
  if (lines.length === 0) return body === "" ? marker : `${marker}\n${body}`;
  let out = "";
  let from = 0;
  lines.forEach((line, i) => {
    out += body.slice(from, line.start);
    if (i === 0) {
      out += marker;
      from = line.end;
    } else {
      // Drop the whole line with its line break, so no blank line is left where it was.
      from = line.next;
    }
  });
  return out + body.slice(from);
}

interface Line {
  text: string;
  /** Offsets in the body: the line without its break, and the start of the next line. */
  start: number;
  end: number;
  next: number;
}

/** Marker lines of `kind` outside fenced code blocks, in order. */
function markerLines(body: string, kind: MarkerKind): Line[] {
  const found: Line[] = [];
  let fence: { char: string; length: number } | null = null;
  let start = 0;
  while (start <= body.length) {
    const nl = body.indexOf("\n", start);
    const next = nl === -1 ? body.length + 1 : nl + 1;
    let end = nl === -1 ? body.length : nl;
    if (end > start && body[end - 1] === "\r") end -= 1;
    const text = body.slice(start, end);

    if (fence !== null) {
      const close = FENCE_CLOSE.exec(text);
      if (close && close[1]![0] === fence.char && close[1]!.length >= fence.length) fence = null;
    } else {
      const open = FENCE_OPEN.exec(text);
      // A backtick fence whose info string holds a backtick is not a fence (CommonMark).
      if (open && !(open[1]![0] === "`" && open[2]!.includes("`"))) {
        fence = { char: open[1]![0]!, length: open[1]!.length };
      } else {
        const m = MARKER_LINE.exec(text);
        if (m && m[1] === kind) found.push({ text, start, end, next });
      }
    }
    start = next;
  }
  return found;
}

function decodeLine(text: string, kind: MarkerKind): MarkerRead<unknown> {
  const name = `switchyard:${kind}`;
  const rest = MARKER_LINE.exec(text)?.[2] ?? "";
  if (!/-->\s*$/.test(rest)) {
    return { ok: false, reason: `the ${name} marker is not closed with --> on its own line` };
  }
  const m = PAYLOAD.exec(rest);
  if (!m) {
    return { ok: false, reason: `the ${name} marker is damaged: expected "v<version> <base64url payload>"` };
  }
  const version = Number(m[1]);
  if (version !== MARKER_VERSION) {
    return {
      ok: false,
      reason:
        version > MARKER_VERSION
          ? `the ${name} marker was written by a newer Switchyard (format v${version}); upgrade to read it`
          : `the ${name} marker has an unknown format v${version}`,
    };
  }
  const payload = m[2]!;
  if (payload.length > MARKER_MAX_CHARS) {
    return {
      ok: false,
      reason: `the ${name} marker holds ${payload.length} characters, more than the ${MARKER_MAX_CHARS} allowed`,
    };
  }
  // base64url has no length 4n+1; Buffer would silently drop the stray character.
  if (payload.length % 4 === 1) {
    return { ok: false, reason: `the ${name} marker is damaged: its payload is not base64url` };
  }
  const json = Buffer.from(payload, "base64url").toString("utf8");
  try {
    return { ok: true, value: JSON.parse(json) as unknown };
  } catch {
    return { ok: false, reason: `the ${name} marker is damaged: its payload is not JSON` };
  }
}

function checkKind(kind: string): void {
  if (!(MARKER_KINDS as readonly string[]).includes(kind)) {
    throw new InputError(`Unknown status marker kind '${kind}': use one of ${MARKER_KINDS.join(", ")}.`);
  }
}
