import { InputError } from "../errors.js";
import type { TestFailure } from "./schema.js";

/**
 * Failing test cases from a JUnit XML report (jest-junit, pytest --junitxml, Surefire, Gradle,
 * go-junit-report, cargo2junit...): every `<testcase>` with a `<failure>` or `<error>` child.
 *
 * Not an XML parser: a single left-to-right scan over tags that knows comments, CDATA, processing
 * instructions and doctypes well enough to skip them, reads attributes with either quote, and
 * decodes the five predefined entities and character references (no others, so no entity can
 * expand). Every search starts where the previous one ended and the scan stops at the first
 * construct that never closes, so any input — huge, truncated, binary — takes time linear in its
 * length. Reports are artifacts the failed job uploaded: untrusted, and often cut short when the
 * job died, which is why a truncated file still yields the cases before the cut.
 */

export interface JUnitOptions {
  /** Failures returned at most (default 50); the rest are only counted. */
  maxCases?: number;
  /** Messages are cut to this many characters (default 500). */
  maxMessageChars?: number;
}

export interface JUnitScan {
  failures: TestFailure[];
  /** Failing test cases seen, kept or not. */
  failed: number;
  /** Test cases seen. */
  tests: number;
  /** The document ended inside a tag, comment or CDATA section: it was cut short. */
  truncated: boolean;
}

interface OpenCase {
  suite: string;
  name: string;
  classname: string;
  file?: string;
  failure?: { kind: "failure" | "error"; message: string; type: string; text: string };
  recorded: boolean;
}

const NAME_RE = /^[A-Za-z_:][\w:.-]*/;

export function scanJUnit(xml: string, opts: JUnitOptions = {}): JUnitScan {
  if (typeof xml !== "string") throw new InputError(`JUnit report: expected text, got ${typeof xml}`);
  const maxCases = opts.maxCases ?? 50;
  const maxMessage = opts.maxMessageChars ?? 500;
  if (!Number.isInteger(maxCases) || maxCases < 0 || !Number.isInteger(maxMessage) || maxMessage < 1) {
    throw new InputError(
      "JUnit options: maxCases and maxMessageChars must be whole numbers (maxMessageChars ≥ 1)",
    );
  }
  const textCap = maxMessage * 4;
  const out: JUnitScan = { failures: [], failed: 0, tests: 0, truncated: false };
  const suites: string[] = [];
  let current: OpenCase | null = null;
  let inFailure = false;

  const record = (c: OpenCase) => {
    if (c.recorded || !c.failure) return;
    c.recorded = true;
    out.failed++;
    if (out.failures.length >= maxCases) return;
    const f = c.failure;
    const firstLine =
      decodeEntities(f.text)
        .split("\n")
        .map((l) => l.trim())
        .find((l) => l.length > 0) ?? "";
    const message = f.message || [f.type, firstLine].filter(Boolean).join(": ") || f.kind;
    out.failures.push({
      suite: c.suite,
      name: c.name,
      classname: c.classname,
      kind: f.kind,
      message: cut(message.replace(/\s+/g, " ").trim(), maxMessage),
      ...(c.file ? { file: c.file } : {}),
    });
  };

  let pos = 0;
  for (;;) {
    const lt = xml.indexOf("<", pos);
    if (lt === -1) break;
    if (inFailure && current?.failure && current.failure.text.length < textCap) {
      current.failure.text += xml.slice(pos, Math.min(lt, pos + textCap - current.failure.text.length));
    }
    if (xml.startsWith("<!--", lt)) {
      const end = xml.indexOf("-->", lt + 4);
      if (end === -1) return { ...out, truncated: true };
      pos = end + 3;
      continue;
    }
    if (xml.startsWith("<![CDATA[", lt)) {
      const end = xml.indexOf("]]>", lt + 9);
      if (end === -1) return { ...out, truncated: true };
      if (inFailure && current?.failure && current.failure.text.length < textCap) {
        // CDATA is literal: escape it so decodeEntities leaves it as it was.
        const raw = xml.slice(lt + 9, Math.min(end, lt + 9 + textCap - current.failure.text.length));
        current.failure.text += raw.replace(/&/g, "&amp;");
      }
      pos = end + 3;
      continue;
    }
    if (xml.startsWith("<?", lt) || xml.startsWith("<!", lt)) {
      const end = xml.indexOf(">", lt + 2);
      if (end === -1) return { ...out, truncated: true };
      pos = end + 1;
      continue;
    }
    const tag = readTag(xml, lt);
    if (tag === null) return { ...out, truncated: true };
    pos = tag.end;
    if (tag.kind === "text") continue;

    if (tag.kind === "close") {
      if (tag.name === "testsuite") suites.pop();
      else if (tag.name === "testcase" && current) {
        record(current);
        current = null;
        inFailure = false;
      } else if ((tag.name === "failure" || tag.name === "error") && inFailure && current) {
        inFailure = false;
        record(current);
      }
      continue;
    }

    if (tag.name === "testsuite") {
      if (!tag.selfClosing) suites.push(tag.attrs.get("name") ?? "");
    } else if (tag.name === "testcase") {
      if (current) record(current);
      out.tests++;
      const file = tag.attrs.get("file");
      current = {
        suite: suites[suites.length - 1] ?? "",
        name: cut(tag.attrs.get("name") ?? "", maxMessage),
        classname: cut(tag.attrs.get("classname") ?? "", maxMessage),
        ...(file ? { file: cut(file, maxMessage) } : {}),
        recorded: false,
      };
      inFailure = false;
      if (tag.selfClosing) current = null;
    } else if ((tag.name === "failure" || tag.name === "error") && current && !current.failure) {
      current.failure = {
        kind: tag.name,
        message: tag.attrs.get("message") ?? "",
        type: tag.attrs.get("type") ?? "",
        text: "",
      };
      if (!current.file && tag.attrs.get("file")) current.file = cut(tag.attrs.get("file")!, maxMessage);
      if (tag.selfClosing) record(current);
      else inFailure = true;
    }
  }
  if (current) record(current);
  return out;
}

/** The failing test cases of a JUnit XML report, at most `maxCases` of them. */
export function parseJUnitFailures(xml: string, opts: JUnitOptions = {}): TestFailure[] {
  return scanJUnit(xml, opts).failures;
}

type Tag =
  | { kind: "open"; name: string; attrs: Map<string, string>; selfClosing: boolean; end: number }
  | { kind: "close"; name: string; end: number }
  | { kind: "text"; end: number };

/**
 * The tag starting at `lt`, read up to its closing '>' (quotes respected). Null when the input
 * ends first. A '<' that starts no tag ("a < b" in text) is passed over as text.
 */
function readTag(xml: string, lt: number): Tag | null {
  let i = lt + 1;
  const closing = xml[i] === "/";
  if (closing) i++;
  const name = NAME_RE.exec(xml.slice(i, i + 128))?.[0];
  if (!name) return { kind: "text", end: lt + 1 };
  i += name.length;
  const local = name.includes(":") ? name.slice(name.lastIndexOf(":") + 1) : name;
  if (closing) {
    const end = xml.indexOf(">", i);
    return end === -1 ? null : { kind: "close", name: local, end: end + 1 };
  }
  const attrs = new Map<string, string>();
  for (;;) {
    while (i < xml.length && /\s/.test(xml[i]!)) i++;
    if (i >= xml.length) return null;
    const c = xml[i]!;
    if (c === ">") return { kind: "open", name: local, attrs, selfClosing: false, end: i + 1 };
    if (c === "/" && xml[i + 1] === ">")
      return { kind: "open", name: local, attrs, selfClosing: true, end: i + 2 };
    if (c === "<") {
      // A tag that never closed before the next one: keep what was read and go on from there.
      return { kind: "open", name: local, attrs, selfClosing: false, end: i };
    }
    const attr = NAME_RE.exec(xml.slice(i, i + 128))?.[0];
    if (!attr) {
      i++;
      continue;
    }
    i += attr.length;
    while (i < xml.length && /\s/.test(xml[i]!)) i++;
    if (xml[i] !== "=") continue;
    i++;
    while (i < xml.length && /\s/.test(xml[i]!)) i++;
    const quote = xml[i];
    if (quote !== '"' && quote !== "'") continue;
    const close = xml.indexOf(quote, i + 1);
    if (close === -1) return null;
    if (!attrs.has(attr)) attrs.set(attr, decodeEntities(xml.slice(i + 1, Math.min(close, i + 1 + 8192))));
    i = close + 1;
  }
}

const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

function decodeEntities(s: string): string {
  if (!s.includes("&")) return s;
  return s.replace(/&(?:#(\d{1,7})|#x([0-9a-fA-F]{1,6})|([a-z]{2,4}));/g, (whole, dec, hex, named) => {
    if (named !== undefined) return ENTITIES[named] ?? whole;
    const code = dec !== undefined ? Number(dec) : parseInt(hex, 16);
    return code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff)
      ? String.fromCodePoint(code)
      : "\ufffd";
  });
}

function cut(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = max;
  if ((s.charCodeAt(end) & 0xfc00) === 0xdc00) end--;
  return s.slice(0, end) + "…";
}
