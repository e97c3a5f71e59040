import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument } from "yaml";
import type { Document, Node as YamlNode, YAMLError } from "yaml";
import type { Problem } from "../core/errors.js";

/**
 * Reading one configuration file: YAML text in, plain data out, with the file, line and column of
 * every key and list item kept on the side so that any later problem (a wrong type found by zod,
 * an unknown tool found by a cross-check) can point at the line a person has to change.
 *
 * The reader is the first thing to touch outside data, so it carries the limits: size, nesting
 * depth and the number of nodes an alias may expand to (the "billion laughs" bomb). Every failure
 * becomes a Problem; nothing here throws on bad input.
 */

/** A configuration file's text and the name to show for it (".github/switchyard.yml", an absolute path...). */
export interface ConfigSource {
  file: string;
  text: string;
  /**
   * "config" (default): a whole or partial configuration, merged at the root.
   * "tool": one tool profile (config/tools/<name>.yml), merged into `tools` by name.
   */
  kind?: "config" | "tool";
}

export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}

/** Where a mapping or list came from, and where each of its keys (or items) was written. */
export interface NodeLocations {
  self: SourceLocation;
  keys: Map<string | number, SourceLocation>;
}

/**
 * Side table from parsed (and merged) objects to their locations. A WeakMap keeps the data itself
 * plain (zod sees exactly what the user wrote) and lets cached documents share their entries.
 */
export const locations = new WeakMap<object, NodeLocations>();

export const MAX_CONFIG_BYTES = 1024 * 1024;
/** Far beyond any real configuration (about 6 levels), low enough to stay clear of the stack. */
export const MAX_DEPTH = 64;
/** Nodes per document after alias expansion; a real configuration has a few hundred. */
export const MAX_NODES = 50_000;

export type ParsedSource =
  | { ok: true; file: string; kind: "config" | "tool"; value: Record<string, unknown> }
  | { ok: false; problems: Problem[] };

const YAML_HINTS: Partial<Record<YAMLError["code"], string>> = {
  TAB_AS_INDENT: "indent with spaces; YAML does not allow tabs there",
  DUPLICATE_KEY: "each key may appear only once in a mapping",
  MULTIPLE_DOCS: "a configuration file holds one YAML document; remove the '---' separator",
  BAD_INDENT: "check the indentation and that every '[' or '{' is closed",
  MISSING_CHAR: "a quote or bracket is not closed",
  MULTILINE_IMPLICIT_KEY: "a key must fit on one line; is a ':' or quote missing on the line before?",
  BLOCK_AS_IMPLICIT_KEY: "is a ':' missing, or a value indented too little?",
  RESOURCE_EXHAUSTION: `keep nesting under ${MAX_DEPTH} levels and aliases few`,
  TAG_RESOLVE_FAILED: "remove the tag: plain values are all a configuration needs",
  BAD_DIRECTIVE: "remove the directive",
};

class LimitExceeded extends Error {
  constructor(
    readonly node: YamlNode | null,
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

interface Walk {
  file: string;
  doc: Document.Parsed;
  lines: LineCounter;
  nodes: number;
  problems: Problem[];
  /** Alias.resolve() searches the whole document; a bomb expands the same few aliases many times. */
  targets: Map<YamlNode, YamlNode | undefined>;
}

const memo = new Map<string, ParsedSource>();
const MEMO_LIMIT = 64;
const MEMO_MAX_TEXT = 64 * 1024;

/**
 * Parses one source. Results are memoised by file and text: the shipped defaults are parsed once
 * per process however often a configuration is loaded. Callers must treat the value as read-only.
 */
export function parseYamlSource(source: ConfigSource): ParsedSource {
  const kind = source.kind ?? "config";
  // Only small texts are worth keeping; a refused 10 MB body should not even become a key.
  if (source.text.length > MEMO_MAX_TEXT) return parseUncached(source.file, source.text, kind);
  const key = `${kind}\0${source.file}\0${source.text}`;
  const hit = memo.get(key);
  if (hit) return hit;
  const parsed = parseUncached(source.file, source.text, kind);
  if (memo.size >= MEMO_LIMIT) memo.delete(memo.keys().next().value as string);
  memo.set(key, parsed);
  return parsed;
}

function parseUncached(file: string, rawText: string, kind: "config" | "tool"): ParsedSource {
  const refused = refuseText(file, rawText);
  if (refused) return { ok: false, problems: [refused] };
  const text = rawText.charCodeAt(0) === 0xfeff ? rawText.slice(1) : rawText;

  const lines = new LineCounter();
  let doc: Document.Parsed;
  try {
    doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, strict: true });
  } catch (error) {
    // The parser reports its own failures as doc.errors; this is the last guard against one it did not.
    return {
      ok: false,
      problems: [
        {
          file,
          message: `could not be read as YAML (${errorText(error)})`,
          hint: YAML_HINTS.RESOURCE_EXHAUSTION,
        },
      ],
    };
  }
  // Warnings (an unknown tag or directive) mean content the author intended is being dropped or
  // reinterpreted; in a configuration that is as wrong as a syntax error.
  const issues = [...doc.errors, ...doc.warnings];
  if (issues.length > 0) {
    return { ok: false, problems: issues.map((e) => yamlProblem(file, lines, e)) };
  }

  const walk: Walk = { file, doc, lines, nodes: 0, problems: [], targets: new Map() };
  let value: unknown;
  try {
    value = doc.contents === null ? null : toPlain(doc.contents as YamlNode, walk, 0);
  } catch (error) {
    if (error instanceof LimitExceeded) {
      return { ok: false, problems: [{ ...at(walk, error.node), message: error.message, hint: error.hint }] };
    }
    // Whatever else went wrong, the caller is promised a problem report, not a crash.
    return { ok: false, problems: [{ file, message: `could not be read (${errorText(error)})` }] };
  }
  if (walk.problems.length > 0) return { ok: false, problems: walk.problems };

  if (value === null || value === undefined) {
    // An empty file (or one with only comments) is an empty configuration, not an error.
    const empty: Record<string, unknown> = {};
    locations.set(empty, { self: { file, line: 1, column: 1 }, keys: new Map() });
    return { ok: true, file, kind, value: empty };
  }
  if (!isPlainObject(value)) {
    return {
      ok: false,
      problems: [
        {
          ...at(walk, doc.contents as YamlNode),
          message: `the file must hold a mapping of keys to values, found ${describeValue(value)}`,
          hint:
            kind === "tool" ? "start with 'name: <tool>'" : "start with a top-level key such as 'routing:'",
        },
      ],
    };
  }
  return { ok: true, file, kind, value };
}

function refuseText(file: string, text: string): Problem | null {
  // UTF-8 never takes fewer bytes than UTF-16 code units, so the length check is exact enough to
  // refuse early and the byte count is only computed for texts near the limit.
  if (
    text.length > MAX_CONFIG_BYTES ||
    (text.length > MAX_CONFIG_BYTES / 4 && byteLength(text) > MAX_CONFIG_BYTES)
  ) {
    return {
      file,
      message: `is ${formatBytes(byteLength(text))}; configuration files are limited to ${formatBytes(MAX_CONFIG_BYTES)}`,
      hint: "a Switchyard configuration is a few kilobytes: check that the right file is read",
    };
  }
  const nul = text.indexOf("\0");
  if (nul !== -1) {
    return { file, ...positionOfOffset(text, nul), message: "contains NUL bytes: this is not a text file" };
  }
  const broken = UNPAIRED_SURROGATE.exec(text);
  if (broken) {
    return {
      file,
      ...positionOfOffset(text, broken.index),
      message: "contains broken Unicode (an unpaired surrogate)",
      hint: "save the file as UTF-8",
    };
  }
  return null;
}

const UNPAIRED_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function byteLength(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${n} bytes`;
}

function positionOfOffset(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) {
    line += 1;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

function yamlProblem(file: string, lines: LineCounter, error: YAMLError): Problem {
  const problem: Problem = { file, message: yamlMessage(error) };
  // RESOURCE_EXHAUSTION (a stack overflow the parser caught) has no useful position.
  if (error.code !== "RESOURCE_EXHAUSTION" && Array.isArray(error.pos)) {
    const { line, col } = lines.linePos(error.pos[0]);
    if (line > 0) Object.assign(problem, { line, column: col });
  }
  const hint = YAML_HINTS[error.code];
  if (hint) problem.hint = hint;
  return problem;
}

function yamlMessage(error: YAMLError): string {
  switch (error.code) {
    case "RESOURCE_EXHAUSTION":
      return "is nested too deeply to read";
    case "MULTIPLE_DOCS":
      return "holds more than one YAML document";
    default: {
      const text = error.message.replace(/\s+/g, " ").trim();
      return error.name === "YAMLWarning" ? `unsupported YAML: ${text}` : `YAML syntax error: ${text}`;
    }
  }
}

function at(walk: Walk, node: YamlNode | null | undefined): SourceLocation {
  return { file: walk.file, ...nodePosition(walk.lines, node) };
}

function nodePosition(
  lines: LineCounter,
  node: YamlNode | null | undefined,
): { line: number; column: number } {
  const offset = node?.range?.[0];
  if (offset === undefined) return { line: 1, column: 1 };
  const { line, col } = lines.linePos(offset);
  return line > 0 ? { line, column: col } : { line: 1, column: 1 };
}

function toPlain(node: YamlNode, walk: Walk, depth: number): unknown {
  if (depth > MAX_DEPTH) {
    throw new LimitExceeded(node, `is nested more than ${MAX_DEPTH} levels deep`, "flatten the structure");
  }
  walk.nodes += 1;
  if (walk.nodes > MAX_NODES) {
    throw new LimitExceeded(
      node,
      `expands to more than ${MAX_NODES} values`,
      "aliases (*name) that repeat large anchors multiply the document; write the values out or use fewer aliases",
    );
  }
  if (isAlias(node)) {
    if (!walk.targets.has(node)) walk.targets.set(node, node.resolve(walk.doc) as YamlNode | undefined);
    const target = walk.targets.get(node);
    if (!target) {
      walk.problems.push({ ...at(walk, node), message: `unknown alias '*${node.source}'` });
      return null;
    }
    // Expanding (rather than sharing) keeps every value independent for the merge; the node budget
    // above is what stops an alias bomb.
    return toPlain(target, walk, depth + 1);
  }
  if (isScalar(node)) {
    const v = node.value;
    if (v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean") return v;
    walk.problems.push({
      ...at(walk, node),
      message: `unsupported value${node.tag ? ` tagged ${node.tag}` : ""}`,
      hint: "use a plain string, number, true/false, list or mapping",
    });
    return null;
  }
  if (isMap(node)) {
    const out: Record<string, unknown> = {};
    const keys = new Map<string | number, SourceLocation>();
    locations.set(out, { self: at(walk, node), keys });
    for (const pair of node.items) {
      const keyNode = pair.key as YamlNode | null;
      if (!isScalar(keyNode) || (keyNode.value !== null && typeof keyNode.value === "object")) {
        walk.problems.push({
          ...at(walk, keyNode ?? node),
          message: "keys must be plain text",
          hint: "a '?' or a list/mapping used as a key is not supported",
        });
        continue;
      }
      const key = String(keyNode.value);
      if (key === "<<") {
        walk.problems.push({
          ...at(walk, keyNode),
          message: "YAML merge keys ('<<') are not supported",
          hint: "write the settings out; overrides already merge with the defaults by key and by name",
        });
        continue;
      }
      // A prototype key must not become an own property that later code might treat specially.
      if (key === "__proto__") {
        walk.problems.push({ ...at(walk, keyNode), message: "'__proto__' is not a valid key" });
        continue;
      }
      keys.set(key, at(walk, keyNode));
      out[key] = pair.value === null ? null : toPlain(pair.value as YamlNode, walk, depth + 1);
    }
    return out;
  }
  if (isSeq(node)) {
    const out: unknown[] = [];
    const keys = new Map<string | number, SourceLocation>();
    locations.set(out, { self: at(walk, node), keys });
    node.items.forEach((item, i) => {
      keys.set(i, at(walk, (item as YamlNode | null) ?? node));
      out.push(item === null ? null : toPlain(item as YamlNode, walk, depth + 1));
    });
    return out;
  }
  walk.problems.push({ ...at(walk, node), message: "unsupported YAML node" });
  return null;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** "a list", "a string (\"abc\")", "a number (5)": for messages about what was found. */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return "nothing (null)";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `a string (${preview(v)})`;
  if (typeof v === "number") return Number.isFinite(v) ? `a number (${v})` : `${v} (not a finite number)`;
  if (typeof v === "boolean") return `${v}`;
  return typeof v;
}

export function preview(v: string, max = 40): string {
  const s = v.length > max ? `${v.slice(0, max)}…` : v;
  return JSON.stringify(s);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
