/**
 * Issue forms: GitHub renders each field of a submitted form as a level-3 heading followed by the
 * value ("### Files in scope\n\nsrc/a.ts"), and an empty optional field as "_No response_". The
 * same shape written by hand in a Markdown issue reads the same way, which is intended: a person
 * without a form can still write "### Timeout\n\n30m".
 *
 * Parsed from the sanitised body, so nothing hidden (a heading inside an HTML comment) can set a
 * field. Headings inside fenced code blocks are not fields.
 */

export type IssueForm = Record<string, string>;

export const MAX_FORM_FIELDS = 64;
const MAX_KEY_LENGTH = 64;
const NO_RESPONSE = "_No response_";
/** Values meaning "nothing" in a free-text field. */
const EMPTY_VALUES = new Set(["", "_no response_", "none", "n/a", "na", "-", "no", "nothing"]);

/** "Files in scope" -> "files_in_scope": lower case, runs of anything else one underscore. */
export function formKey(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, MAX_KEY_LENGTH)
    .replace(/_+$/, "");
}

export function parseIssueForm(body: string): IssueForm {
  const fields = new Map<string, string>();
  let key: string | null = null;
  let valueStart = 0;
  let fence: { char: string; length: number } | null = null;
  const store = (end: number) => {
    if (key !== null && !fields.has(key) && fields.size < MAX_FORM_FIELDS) {
      const value = body.slice(valueStart, end).trim();
      fields.set(key, value === NO_RESPONSE ? "" : value);
    }
  };
  let p = 0;
  while (p < body.length) {
    let end = body.indexOf("\n", p);
    if (end < 0) end = body.length;
    const line = body.slice(p, Math.min(end, p + 1024));
    if (fence) {
      if (isFenceLine(line, fence.char, fence.length, true)) fence = null;
    } else {
      const open = /^ {0,3}(`{3,}|~{3,})/.exec(line);
      if (open && !(open[1]![0] === "`" && line.slice(open[0].length).includes("`"))) {
        fence = { char: open[1]![0]!, length: open[1]!.length };
      } else {
        const heading = headingText(line);
        if (heading !== null) {
          store(p);
          const k = formKey(heading);
          key = k === "" ? null : k;
          valueStart = end;
        }
      }
    }
    p = end + 1;
  }
  store(body.length);
  return Object.fromEntries(fields);
}

/** The text of a "### Heading" line without its closing #s, or null. */
function headingText(line: string): string | null {
  const m = /^ {0,3}###(?:[ \t]+|$)/.exec(line);
  if (!m) return null;
  let text = line.slice(m[0].length).trimEnd();
  // An optional closing sequence of #s, preceded by a space.
  let i = text.length;
  while (i > 0 && text[i - 1] === "#") i--;
  if (i < text.length && (i === 0 || text[i - 1] === " " || text[i - 1] === "\t")) text = text.slice(0, i);
  return text.trim();
}

function isFenceLine(line: string, char: string, length: number, closing: boolean): boolean {
  const trimmed = line.replace(/^ {0,3}/, "");
  let i = 0;
  while (trimmed[i] === char) i++;
  return i >= length && (!closing || trimmed.slice(i).trim() === "");
}

/** The first field among `keys` that has a value, with the key it was found under. */
export function formField(form: IssueForm, keys: readonly string[]): { key: string; value: string } | null {
  for (const key of keys) {
    const value = Object.hasOwn(form, key) ? form[key]!.trim() : "";
    if (!EMPTY_VALUES.has(value.toLowerCase())) return { key, value };
  }
  return null;
}

/**
 * The items of a list-like field: one per line, bullets, numbers and task-list boxes stripped,
 * optionally also split at commas (for paths); backticks and quotes around an item removed. A
 * value rendered as a code block (`render:` in the form) is read from inside the fence.
 */
export function listItems(
  value: string,
  opts: { splitCommas: boolean; max: number; maxLength: number },
): string[] {
  const items: string[] = [];
  for (const raw of unfence(value).split("\n")) {
    const line = raw
      .trim()
      .replace(/^(?:[-*+]|\d{1,9}[.)])[ \t]+/, "")
      .replace(/^\[[ xX]\][ \t]*/, "");
    const parts = opts.splitCommas ? line.split(",") : [line];
    for (const part of parts) {
      const item = unquote(part.trim());
      if (EMPTY_VALUES.has(item.toLowerCase()) || item.length > opts.maxLength) continue;
      items.push(item);
      if (items.length >= opts.max) return items;
    }
  }
  return items;
}

/** The first meaningful line of a single-value field, without backticks, quotes or bullets. */
export function singleValue(value: string): string {
  for (const raw of unfence(value).split("\n")) {
    const line = unquote(raw.trim().replace(/^(?:[-*+])[ \t]+/, ""));
    if (line !== "") return line;
  }
  return "";
}

function unfence(value: string): string {
  const m = /^(`{3,}|~{3,})[^\n]*\n([\s\S]*?)\n?\1[ \t]*$/.exec(value.trim());
  return m ? m[2]! : value;
}

/** Strips wrapping backticks, bold markers or quotes, a few layers deep ("`src/a.ts`", "**x**"). */
function unquote(s: string): string {
  let t = s.trim();
  for (let layer = 0; layer < 4; layer++) {
    let wrapper = "";
    if (t.startsWith("**")) wrapper = "**";
    else if (t[0] === '"' || t[0] === "'") wrapper = t[0];
    else if (t[0] === "`") {
      let k = 0;
      while (t[k] === "`") k++;
      wrapper = t.slice(0, k);
    }
    if (!wrapper || t.length < 2 * wrapper.length + 1 || !t.endsWith(wrapper)) return t;
    t = t.slice(wrapper.length, t.length - wrapper.length).trim();
  }
  return t;
}

const UNIT_SECONDS: Record<string, number> = {
  s: 1,
  sec: 1,
  secs: 1,
  second: 1,
  seconds: 1,
  m: 60,
  min: 60,
  mins: 60,
  minute: 60,
  minutes: 60,
  h: 3600,
  hr: 3600,
  hrs: 3600,
  hour: 3600,
  hours: 3600,
};

/**
 * A duration in whole seconds: "900" (seconds), "30m", "1h", "1h30m", "90 s", "15 minutes".
 * Null when it is not one.
 */
export function parseDuration(value: string): number | null {
  const text = singleValue(value).toLowerCase();
  if (text.length > 40) return null;
  if (/^\d{1,7}$/.test(text)) return Number(text);
  let total = 0;
  let consumed = 0;
  for (const m of text.matchAll(/(\d{1,7})[ \t]*([a-z]+)[ \t]*/g)) {
    if (m.index !== consumed) return null;
    const unit = UNIT_SECONDS[m[2]!];
    if (unit === undefined) return null;
    total += Number(m[1]) * unit;
    consumed += m[0].length;
  }
  return consumed === text.length && consumed > 0 ? total : null;
}

/** A small whole number ("2"), or null. */
export function parseCount(value: string): number | null {
  const text = singleValue(value);
  return /^\d{1,4}$/.test(text) ? Number(text) : null;
}
