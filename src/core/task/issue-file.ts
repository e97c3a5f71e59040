import { closest, distance } from "fastest-levenshtein";
import { parseDocument } from "yaml";
import { z } from "zod";
import type { Config } from "../../config/schema.js";
import { InputError } from "../errors.js";
import { buildTask, findRepository, type BuildTaskOptions } from "./build.js";
import type { RepositoryRef, Task } from "./schema.js";

/**
 * Issue files for the local door (`switchyard route <issue.json|issue.md>`), read from text the CLI
 * has already loaded (this module does no I/O):
 *
 * - `.json`: a GitHub issue or pull request as the REST API returns it, or a webhook payload
 *   (`{ issue, repository }`, `{ pull_request, repository }`).
 * - `.md` / `.markdown`: optional YAML front matter, then Markdown. The first `# Heading` line is the
 *   title (unless the front matter sets `title`) and everything else is the body:
 *
 *       ---
 *       number: 12
 *       repository: owner/name
 *       labels: [switchyard, "switchyard:cap/testing"]
 *       author: alice
 *       ---
 *       # Cover the parser with tests
 *       ...
 *
 * Defaults for what a local file may leave out: number 1, author "local", and the repository
 * `local/local` (LOCAL_REPOSITORY) when neither the file nor the caller names one. Errors are
 * InputErrors that start with the file name.
 */

export const LOCAL_REPOSITORY: RepositoryRef = { owner: "local", name: "local" };
const DEFAULT_NUMBER = 1;
const DEFAULT_AUTHOR = "local";

export interface IssueFile {
  /** Input for buildTask: an issue, a pull request or a webhook payload. */
  issue: unknown;
  /** Set when the file names no repository a builder could find (or names one in front matter). */
  repository?: RepositoryRef;
}

export function parseIssueFile(fileName: string, text: string): IssueFile {
  if (typeof text !== "string") throw new InputError(`${fileName}: expected text`);
  const content = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const ext = /\.([^./\\]+)$/.exec(fileName)?.[1]?.toLowerCase() ?? "";
  if (ext === "json") return parseJsonFile(fileName, content);
  if (ext === "md" || ext === "markdown") return parseMarkdownFile(fileName, content);
  throw new InputError(
    `${fileName}: unsupported file type${ext ? ` ".${ext}"` : ""}; use .json (a GitHub issue or webhook ` +
      "payload) or .md (Markdown with optional front matter)",
  );
}

/** parseIssueFile and buildTask in one, with the file name in front of any input error. */
export function taskFromIssueFile(
  fileName: string,
  text: string,
  config: Config,
  opts: BuildTaskOptions = {},
): Task {
  const file = parseIssueFile(fileName, text);
  const repository = opts.repository ?? file.repository;
  try {
    return buildTask(file.issue, config, repository ? { repository } : {});
  } catch (e) {
    if (e instanceof InputError) throw new InputError(`${fileName}: ${e.message}`);
    throw e;
  }
}

function parseJsonFile(fileName: string, text: string): IssueFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${fileName}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InputError(
      `${fileName}: expected a JSON object (a GitHub issue, a pull request or a webhook payload)`,
    );
  }
  return findRepository(value) ? { issue: value } : { issue: value, repository: LOCAL_REPOSITORY };
}

// --- Markdown ------------------------------------------------------------------------------------

const REPOSITORY_RE = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,99})\/((?!\.{1,2}$)[A-Za-z0-9._-]{1,100})$/;
const LOGIN_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,98}(?:\[bot\])?$/;

const FrontMatterSchema = z.strictObject({
  number: z
    .number({ error: "expected a positive integer" })
    .int({ error: "expected a positive integer" })
    .min(1, { error: "expected a positive integer" })
    .optional(),
  repository: z
    .string({ error: "expected owner/name" })
    .regex(REPOSITORY_RE, { error: "expected owner/name" })
    .optional(),
  title: z.string({ error: "expected a string" }).optional(),
  labels: z
    .union([z.array(z.string()), z.string()], {
      error: "expected a list of label names or a comma-separated string",
    })
    .optional(),
  author: z
    .string({ error: "expected a GitHub login" })
    .regex(LOGIN_RE, { error: "expected a GitHub login" })
    .optional(),
  url: z.string({ error: "expected a URL" }).optional(),
  kind: z.enum(["issue", "pull_request"], { error: "expected issue or pull_request" }).optional(),
  head: z.string({ error: "expected a branch name" }).optional(),
  base: z.string({ error: "expected a branch name" }).optional(),
});
const FRONT_MATTER_KEYS = Object.keys(FrontMatterSchema.shape);

function parseMarkdownFile(fileName: string, raw: string): IssueFile {
  const text = raw.replace(/\r\n?/g, "\n");
  let fm: z.infer<typeof FrontMatterSchema> = {};
  let rest = text;
  if (text.startsWith("---\n")) {
    const close = /^---[ \t]*$/m.exec(text.slice(4));
    if (!close) throw new InputError(`${fileName}:1: front matter: no closing "---" line`);
    fm = parseFrontMatter(fileName, text.slice(4, 4 + close.index));
    rest = text.slice(4 + close.index + close[0].length).replace(/^\n/, "");
  }
  const heading = fm.title === undefined ? findTitle(rest) : null;
  if (fm.title === undefined && heading === null) {
    throw new InputError(
      `${fileName}: no title; start the text with a "# Title" line or set title: in the front matter`,
    );
  }
  const title = fm.title ?? heading!.title;
  const body = heading ? (rest.slice(0, heading.start) + rest.slice(heading.end)).trim() : rest.trim();
  const labels =
    typeof fm.labels === "string" ? fm.labels.split(",").map((l) => l.trim()) : (fm.labels ?? []);
  const isPull = fm.kind === "pull_request" || fm.head !== undefined || fm.base !== undefined;
  if (isPull && (fm.head === undefined || fm.base === undefined)) {
    throw new InputError(`${fileName}: front matter: a pull request needs both head and base`);
  }
  const issue = {
    number: fm.number ?? DEFAULT_NUMBER,
    title,
    body,
    labels: labels.filter((l) => l !== ""),
    user: { login: fm.author ?? DEFAULT_AUTHOR },
    ...(fm.url !== undefined ? { html_url: fm.url } : {}),
    ...(isPull ? { head: { ref: fm.head }, base: { ref: fm.base } } : {}),
  };
  const m = fm.repository !== undefined ? REPOSITORY_RE.exec(fm.repository) : null;
  return { issue, repository: m ? { owner: m[1]!, name: m[2]! } : LOCAL_REPOSITORY };
}

function parseFrontMatter(fileName: string, source: string): z.infer<typeof FrontMatterSchema> {
  const doc = parseDocument(source, { uniqueKeys: true, prettyErrors: true });
  const error = doc.errors[0];
  if (error) {
    // Lines are counted in the file: the opening "---" is line 1.
    const pos = error.linePos?.[0];
    const where = pos ? `${fileName}:${pos.line + 1}:${pos.col}` : fileName;
    throw new InputError(`${where}: front matter: ${firstLine(error.message)}`);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new InputError(`${fileName}: front matter: ${firstLine((e as Error).message)}`);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new InputError(`${fileName}: front matter: expected key: value lines`);
  }
  const parsed = FrontMatterSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  if (issue.code === "unrecognized_keys") {
    const key = issue.keys[0]!;
    const near = closest(key, FRONT_MATTER_KEYS);
    const hint =
      distance(key, near) <= 2 ? `did you mean "${near}"?` : `known keys: ${FRONT_MATTER_KEYS.join(", ")}`;
    throw new InputError(`${fileName}: front matter: unknown key "${key}" (${hint})`);
  }
  throw new InputError(`${fileName}: front matter: ${issue.path.map(String).join(".")}: ${issue.message}`);
}

function firstLine(s: string): string {
  return s.split("\n")[0]!.trim();
}

/** The first ATX level-1 heading outside fenced code: its text and the span of its line. */
function findTitle(text: string): { title: string; start: number; end: number } | null {
  let fence: string | null = null;
  let p = 0;
  while (p < text.length) {
    let end = text.indexOf("\n", p);
    if (end < 0) end = text.length;
    const line = text.slice(p, Math.min(end, p + 4096));
    const marker = /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence !== null) {
      if (marker && marker[0] === fence[0] && marker.length >= fence.length) fence = null;
    } else if (marker) {
      fence = marker;
    } else {
      const m = /^ {0,3}#(?:[ \t]+|$)/.exec(line);
      if (m) {
        const title = line
          .slice(m[0].length)
          .replace(/[ \t]+#+[ \t]*$/, "")
          .trim();
        if (title !== "") return { title, start: p, end: Math.min(end + 1, text.length) };
      }
    }
    p = end + 1;
  }
  return null;
}
