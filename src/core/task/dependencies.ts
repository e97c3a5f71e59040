import type { Dependency } from "./schema.js";

/**
 * What a task waits for, read from its (sanitised) body:
 *   "Depends on #12", "depends on owner/repo#34", "Blocked by #5", "blocked by: #1, #2 and #3",
 *   full issue or pull-request URLs after those words, and unchecked task-list items that are a
 *   reference ("- [ ] #7"; a checked "- [x] #7" is done and does not hold the task).
 * In order of first appearance, without duplicates and without the issue itself. Lines in fenced
 * code blocks (except a `[tasklist]` block), block quotes and inline code are not read: quoting an
 * old "Depends on #3" must not hold a new task.
 */

export const MAX_DEPENDENCIES = 50;
/** Longest line prefix read: a dependency statement is short, a pasted log line need not be. */
const MAX_LINE_CHARS = 4_096;

export interface DependencyContext {
  owner: string;
  name: string;
  number: number;
  /** Hosts whose issue URLs count (github.com is always one; add the GHES host). */
  hosts?: readonly string[];
}

export interface DependencyResult {
  dependencies: Dependency[];
  /** References found beyond MAX_DEPENDENCIES. */
  dropped: number;
}

const CLAUSE_RE = /\b(depends[ \t-]+on|blocked[ \t-]+by)\b[ \t]*(?:\*\*|__)?[ \t]*:?[ \t]*(?:\*\*|__)?/gi;
const SEPARATOR_RE = /[ \t]*(?:(?:,|;|&|and\b)[ \t]*)?/iy;
const URL_RE =
  /https?:\/\/([A-Za-z0-9.-]{1,253}(?::\d{1,5})?)\/([A-Za-z0-9][A-Za-z0-9-]{0,38})\/([A-Za-z0-9._-]{1,100})\/(?:issues|pull)\/(\d{1,9})(?!\d)/y;
const SHORT_RE = /(?:([A-Za-z0-9][A-Za-z0-9-]{0,38})\/([A-Za-z0-9._-]{1,100}))?#(\d{1,9})(?![\w])/y;
const TASK_ITEM_RE = /[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+\[ \][ \t]+/y;
const INLINE_CODE_RE = /`+[^`]*`+/g;
const FENCE_RE = /^ {0,3}(`{3,}|~{3,})(.*)$/;
/** Where a line can matter at all: the words, a task-list box, or a fence. Lines without one are skipped unread. */
const CANDIDATE_RE = /depends|blocked|\[ \]|```|~~~/gi;

export function parseDependencies(body: string, self: DependencyContext): DependencyResult {
  const hosts = new Set(["github.com", ...(self.hosts ?? []).map((h) => h.toLowerCase())]);
  const selfKey = key(self.owner, self.name, self.number);
  const seen = new Set<string>([selfKey]);
  const dependencies: Dependency[] = [];
  let dropped = 0;

  const add = (ref: Ref, via: Dependency["via"]) => {
    if (ref.host !== null && !hosts.has(ref.host.toLowerCase())) return;
    const owner = ref.owner ?? self.owner;
    const name = ref.name ?? self.name;
    const k = key(owner, name, ref.number);
    if (ref.number < 1 || seen.has(k)) return;
    seen.add(k);
    if (dependencies.length >= MAX_DEPENDENCIES) dropped++;
    else dependencies.push({ owner, name, number: ref.number, via });
  };

  let fence: { char: string; length: number } | null = null;
  let next = -1;
  let p = 0;
  while (p < body.length) {
    if (next < p) {
      CANDIDATE_RE.lastIndex = p;
      next = CANDIDATE_RE.exec(body)?.index ?? body.length;
      if (next >= body.length) break;
    }
    let end = body.indexOf("\n", next);
    if (end < 0) end = body.length;
    // Lines before the next candidate hold nothing to read and no fence: jump to the candidate's line.
    if (next > p) p = Math.max(p, body.lastIndexOf("\n", next - 1) + 1);
    if (p >= body.length) break;
    const raw = body.slice(p, Math.min(end, p + MAX_LINE_CHARS));
    p = end + 1;
    if (fence) {
      const close = FENCE_RE.exec(raw);
      if (
        close &&
        close[1]![0] === fence.char &&
        close[1]!.length >= fence.length &&
        close[2]!.trim() === ""
      ) {
        fence = null;
      }
      continue;
    }
    const open = FENCE_RE.exec(raw);
    if (open) {
      // GitHub's tasklist blocks are fenced but hold live task-list items.
      if (open[2]!.trim().toLowerCase() !== "[tasklist]")
        fence = { char: open[1]![0]!, length: open[1]!.length };
      continue;
    }
    if (/^ {0,3}>/.test(raw)) continue;
    const line = raw.replace(INLINE_CODE_RE, (m) => " ".repeat(m.length));

    TASK_ITEM_RE.lastIndex = 0;
    if (TASK_ITEM_RE.test(line)) {
      const ref = matchRef(line, TASK_ITEM_RE.lastIndex);
      if (ref) add(ref, "task_list");
    }
    for (const clause of line.matchAll(CLAUSE_RE)) {
      const via = clause[1]!.toLowerCase().startsWith("depends") ? "depends_on" : "blocked_by";
      let i = clause.index + clause[0].length;
      for (;;) {
        SEPARATOR_RE.lastIndex = i;
        const at = i + SEPARATOR_RE.exec(line)![0].length;
        const ref = matchRef(line, at);
        if (!ref) break;
        add(ref, via);
        i = at + ref.length;
      }
    }
  }
  return { dependencies, dropped };
}

interface Ref {
  host: string | null;
  owner: string | null;
  name: string | null;
  number: number;
  length: number;
}

function matchRef(line: string, at: number): Ref | null {
  URL_RE.lastIndex = at;
  const url = URL_RE.exec(line);
  if (url)
    return { host: url[1]!, owner: url[2]!, name: url[3]!, number: Number(url[4]), length: url[0].length };
  SHORT_RE.lastIndex = at;
  const short = SHORT_RE.exec(line);
  if (short) {
    return {
      host: null,
      owner: short[1] ?? null,
      name: short[2] ?? null,
      number: Number(short[3]),
      length: short[0].length,
    };
  }
  return null;
}

/** GitHub owner and repository names are case-insensitive. */
function key(owner: string, name: string, number: number): string {
  return `${owner.toLowerCase()}/${name.toLowerCase()}#${number}`;
}
