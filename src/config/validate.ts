import { distance } from "fastest-levenshtein";
import type { z } from "zod";
import type { Problem } from "../core/errors.js";
import { BUILTIN_CAPABILITIES, ConfigSchema, type Config } from "./schema.js";
import { describeValue, isPlainObject, locations, preview, type SourceLocation } from "./yaml-source.js";

/**
 * Turning a merged configuration into a typed one, or into problems a person can act on: each
 * names the file, line and column that set the offending value, the key path, what was expected
 * and, for a near miss, what was probably meant.
 */

type PathKey = string | number;

export const PLACEHOLDERS = ["prompt_file", "prompt", "workdir", "model", "evidence_file"] as const;

export function validateConfig(
  merged: Record<string, unknown>,
): { ok: true; config: Config } | { ok: false; problems: Problem[] } {
  const result = ConfigSchema.safeParse(merged, { reportInput: true });
  if (result.success) return { ok: true, config: result.data };
  const problems = result.error.issues.flatMap((issue) => issueProblems(merged, issue));
  return { ok: false, problems };
}

/**
 * The location of the value at `path` in the merged tree: the deepest key that is known. `written`
 * is the length of the path prefix that some file actually wrote; the rest came from a built-in
 * default (or is missing).
 */
export function locate(root: unknown, path: readonly PathKey[]): SourceLocation & { written: number } {
  let node: unknown = root;
  let loc: SourceLocation = locations.get(root as object)?.self ?? { file: "<unknown>", line: 1, column: 1 };
  let written = 0;
  for (const key of path) {
    if (typeof node !== "object" || node === null) break;
    const known = locations.get(node);
    const keyLoc = known?.keys.get(key);
    if (!keyLoc) {
      if (known) loc = known.self;
      break;
    }
    loc = keyLoc;
    written += 1;
    node = (node as Record<PathKey, unknown>)[key];
  }
  return { ...loc, written };
}

/** "routing.chains.testing[1]", with list items that have a name shown by name: "tools[claude].args". */
export function formatPath(root: unknown, path: readonly PathKey[]): string {
  let out = "";
  let node: unknown = root;
  for (const key of path) {
    if (typeof key === "number") {
      const item = Array.isArray(node) ? node[key] : undefined;
      out += isPlainObject(item) && typeof item.name === "string" ? `[${item.name}]` : `[${key}]`;
    } else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) {
      out += out === "" ? key : `.${key}`;
    } else {
      out += `[${preview(key)}]`;
    }
    node = typeof node === "object" && node !== null ? (node as Record<PathKey, unknown>)[key] : undefined;
  }
  return out;
}

function problemAt(root: unknown, path: readonly PathKey[], message: string, hint?: string): Problem {
  const { written: _written, ...loc } = locate(root, path);
  const p: Problem = { ...loc, message };
  const shown = formatPath(root, path);
  if (shown) p.path = shown;
  if (hint) p.hint = hint;
  return p;
}

type Issue = z.core.$ZodIssue & { input?: unknown };

function issueProblems(root: unknown, issue: Issue): Problem[] {
  const path = issue.path as PathKey[];
  switch (issue.code) {
    case "unrecognized_keys": {
      const allowed = allowedKeys(path);
      return issue.keys.map((key) => {
        const suggestion = suggest(key, allowed);
        const hint = suggestion
          ? `did you mean '${suggestion}'?`
          : allowed.length > 0
            ? `allowed keys: ${allowed.join(", ")}`
            : undefined;
        return problemAt(root, [...path, key], `unknown key ${quoteKey(key)}`, hint);
      });
    }
    case "invalid_type": {
      const expected = describeType(issue.expected);
      if (issue.input === undefined) {
        return [problemAt(root, path, `is required (${expected})`)];
      }
      const hint = placeholderHint(issue.input);
      return [problemAt(root, path, `expected ${expected}, got ${describeValue(issue.input)}`, hint)];
    }
    case "invalid_value": {
      const options = issue.values.map((v) => JSON.stringify(v));
      const got = describeValue(issue.input);
      if (options.length === 1) return [problemAt(root, path, `expected ${options[0]}, got ${got}`)];
      const suggestion =
        typeof issue.input === "string"
          ? suggest(
              issue.input,
              issue.values.filter((v): v is string => typeof v === "string"),
            )
          : undefined;
      return [
        problemAt(
          root,
          path,
          `expected one of ${options.join(", ")}, got ${got}`,
          suggestion ? `did you mean '${suggestion}'?` : undefined,
        ),
      ];
    }
    case "invalid_format": {
      const what = issue.format === "regex" ? issue.message : `a ${issue.format}`;
      return [problemAt(root, path, `expected ${what}, got ${describeValue(issue.input)}`)];
    }
    case "too_small":
    case "too_big":
      return [problemAt(root, path, sizeMessage(issue))];
    case "invalid_key": {
      const inner = issue.issues[0];
      const why =
        inner && inner.code === "invalid_format" ? inner.message : (inner?.message ?? "invalid key");
      return [problemAt(root, path, `invalid key ${describeValue(issue.input)}: expected ${why}`)];
    }
    default:
      return [problemAt(root, path, issue.message)];
  }
}

/** 'timeout_secs' as written; anything long or odd (garbage input) shortened and escaped. */
function quoteKey(key: string): string {
  return /^[\w.-]{1,60}$/.test(key) ? `'${key}'` : preview(key);
}

function sizeMessage(issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig): string {
  const small = issue.code === "too_small";
  const limit = Number(
    small ? (issue as z.core.$ZodIssueTooSmall).minimum : (issue as z.core.$ZodIssueTooBig).maximum,
  );
  const input = (issue as Issue).input;
  switch (issue.origin) {
    case "array":
      if (small && limit === 1) return "must not be empty";
      return `must have ${small ? "at least" : "at most"} ${limit} item${limit === 1 ? "" : "s"}`;
    case "string":
      if (small && limit === 1) return "must not be empty";
      return `must be ${small ? "at least" : "at most"} ${limit} characters long`;
    default: {
      const got = typeof input === "number" ? `, got ${input}` : "";
      if (issue.inclusive === false) return `must be ${small ? "greater" : "less"} than ${limit}${got}`;
      return `must be ${small ? "at least" : "at most"} ${limit}${got}`;
    }
  }
}

function describeType(expected: string): string {
  switch (expected) {
    case "string":
      return "a string";
    case "number":
      return "a number";
    case "int":
      return "a whole number";
    case "boolean":
      return "true or false";
    case "array":
      return "a list";
    case "object":
      return "a mapping";
    case "record":
      return "a mapping";
    default:
      return expected;
  }
}

/** `args: [--message-file, {prompt_file}]`: unquoted braces make a YAML mapping, not a placeholder. */
function placeholderHint(input: unknown): string | undefined {
  if (!isPlainObject(input)) return undefined;
  const keys = Object.keys(input);
  if (
    keys.length === 1 &&
    (PLACEHOLDERS as readonly string[]).includes(keys[0]!) &&
    input[keys[0]!] === null
  ) {
    return `quote placeholders in YAML: "{${keys[0]}}"`;
  }
  return undefined;
}

/** The keys a strict object at `path` accepts, found by walking the schema alongside the path. */
function allowedKeys(path: readonly PathKey[]): string[] {
  let schema: unknown = ConfigSchema;
  for (const key of path) {
    schema = unwrap(schema);
    const def = defOf(schema);
    if (!def) return [];
    if (def.type === "object") schema = (def.shape as Record<string, unknown>)[String(key)];
    else if (def.type === "array") schema = def.element;
    else if (def.type === "record") schema = def.valueType;
    else return [];
  }
  const def = defOf(unwrap(schema));
  return def?.type === "object" ? Object.keys(def.shape as Record<string, unknown>) : [];
}

function defOf(schema: unknown): Record<string, unknown> | undefined {
  return (schema as { _zod?: { def?: Record<string, unknown> } } | undefined)?._zod?.def;
}

function unwrap(schema: unknown): unknown {
  let s = schema;
  for (let i = 0; i < 10; i++) {
    const def = defOf(s);
    if (
      !def ||
      !["default", "prefault", "optional", "nullable", "readonly", "catch"].includes(String(def.type))
    )
      return s;
    s = def.innerType;
  }
  return s;
}

/**
 * The closest candidate, if close enough to be a plausible typo: within a quarter of the length
 * (at least 2 edits), or one a prefix of the other ("timeout" -> "timeout_seconds").
 */
export function suggest(input: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const lower = input.toLowerCase();
  for (const c of candidates) {
    const d = distance(lower, c.toLowerCase());
    const limit = Math.max(2, Math.floor(Math.max(lower.length, c.length) / 4));
    const prefix = lower.length >= 4 && (c.startsWith(lower) || lower.startsWith(c));
    if ((d <= limit || prefix) && d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/**
 * What the schema cannot see: names that refer to other parts of the configuration. Errors make
 * the configuration unusable; warnings are reported alongside a configuration that still works.
 */
export function crossCheck(
  root: Record<string, unknown>,
  config: Config,
  rank: (file: string) => number = () => 0,
): { errors: Problem[]; warnings: Problem[] } {
  const errors: Problem[] = [];
  const warnings: Problem[] = [];
  const capabilities = [...BUILTIN_CAPABILITIES, ...config.capabilities.extra];
  const toolNames = config.tools.map((t) => t.name).sort();
  const tools = new Map(config.tools.map((t) => [t.name, t]));
  // A value no file wrote comes from a schema default; the fix is to write the setting.
  const valueProblem = (path: PathKey[], message: string, hint: string) => {
    const { written } = locate(root, path);
    if (written < path.length - 1) {
      const setting = formatPath(root, path.slice(0, -1));
      hint = `${hint}; no file sets ${setting}, its built-in default names it: set ${setting}`;
    }
    return problemAt(root, path, message, hint);
  };

  const checkCapability = (name: string, path: PathKey[]) => {
    if (capabilities.includes(name)) return;
    const s = suggest(name, capabilities);
    errors.push(
      valueProblem(
        path,
        `unknown capability '${name}'`,
        s ? `did you mean '${s}'?` : `use a built-in capability or add '${name}' to capabilities.extra`,
      ),
    );
  };
  const checkTool = (name: string, path: PathKey[]) => {
    if (tools.has(name)) return;
    const s = suggest(name, toolNames);
    errors.push(
      valueProblem(
        path,
        `unknown tool '${name}'`,
        s ? `did you mean '${s}'?` : `known tools: ${toolNames.join(", ") || "none"}`,
      ),
    );
  };

  config.tools.forEach((tool, i) => {
    tool.capabilities.forEach((c, j) => checkCapability(c, ["tools", i, "capabilities", j]));
    checkToolArgs(root, tool, i, errors, rank);
    for (const field of ["tokens_pattern", "cost_pattern"] as const) {
      const pattern = tool.output[field];
      if (pattern === undefined) continue;
      let groups: number;
      try {
        new RegExp(pattern);
        // Matching the empty alternative reveals the group count without running the pattern.
        groups = new RegExp(`${pattern}|`).exec("")!.length - 1;
      } catch (error) {
        // "Invalid regular expression: /(/: Unterminated group" -> "Unterminated group"
        const why = error instanceof Error ? error.message.replace(/^.*: /s, "") : String(error);
        errors.push(
          problemAt(root, ["tools", i, "output", field], `is not a valid regular expression (${why})`),
        );
        continue;
      }
      if (groups === 0) {
        errors.push(
          problemAt(
            root,
            ["tools", i, "output", field],
            "has no capture group for the number",
            "wrap the number in ( ), e.g. 'Cost: \\$([0-9.]+)'",
          ),
        );
      }
    }
  });

  Object.entries(config.capabilities.labels).forEach(([label, c]) =>
    checkCapability(c, ["capabilities", "labels", label]),
  );
  checkCapability(config.capabilities.default, ["capabilities", "default"]);

  for (const [capability, chain] of Object.entries(config.routing.chains)) {
    if (capability !== "default") checkCapability(capability, ["routing", "chains", capability]);
    chain.forEach((name, j) => {
      checkTool(name, ["routing", "chains", capability, j]);
      const tool = tools.get(name);
      if (tool && capability !== "default" && !tool.capabilities.includes(capability)) {
        warnings.push(
          problemAt(
            root,
            ["routing", "chains", capability, j],
            `tool '${name}' is in the '${capability}' chain but does not declare that capability, so the router will skip it`,
            `add '${capability}' to tools[${name}].capabilities or remove it from the chain`,
          ),
        );
      }
    });
  }
  config.recovery.escalation.forEach((name, j) => checkTool(name, ["recovery", "escalation", j]));
  for (const [category, list] of Object.entries(config.recovery.mechanical)) {
    list.forEach((name, j) => {
      checkTool(name, ["recovery", "mechanical", category, j]);
      if (tools.get(name)?.kind === "ai") {
        warnings.push(
          problemAt(
            root,
            ["recovery", "mechanical", category, j],
            `'${name}' is an AI tool in the mechanical fixers`,
            "AI tools belong in recovery.escalation, which runs after the mechanical fixers",
          ),
        );
      }
    });
  }
  return { errors, warnings };
}

function checkToolArgs(
  root: unknown,
  tool: Config["tools"][number],
  i: number,
  errors: Problem[],
  rank: (file: string) => number,
): void {
  // prompt_via and args may come from different files; the one written last is the likelier slip.
  const promptPath = (): PathKey[] => {
    const args = locate(root, ["tools", i, "args"]);
    const via = locate(root, ["tools", i, "prompt_via"]);
    return via.written === 3 && (args.written < 3 || rank(via.file) > rank(args.file))
      ? ["tools", i, "prompt_via"]
      : ["tools", i, "args"];
  };
  const used = new Set<string>();
  tool.args.forEach((arg, j) => {
    for (const match of arg.matchAll(/\{([A-Za-z_]+)\}/g)) {
      const name = match[1]!;
      used.add(name);
      if ((PLACEHOLDERS as readonly string[]).includes(name)) continue;
      const s = suggest(name, PLACEHOLDERS);
      errors.push(
        problemAt(
          root,
          ["tools", i, "args", j],
          `unknown placeholder '{${name}}'`,
          s ? `did you mean '{${s}}'?` : `placeholders: ${PLACEHOLDERS.map((p) => `{${p}}`).join(", ")}`,
        ),
      );
    }
  });
  // An AI tool must actually receive the task; mechanical fixers and scripts may ignore it.
  if (tool.kind === "ai" && tool.prompt_via === "argument" && !used.has("prompt")) {
    errors.push(
      problemAt(
        root,
        promptPath(),
        "prompt_via is 'argument' but no argument contains {prompt}",
        'add "{prompt}" where the tool expects the prompt',
      ),
    );
  }
  if (tool.kind === "ai" && tool.prompt_via === "file" && !used.has("prompt_file")) {
    errors.push(
      problemAt(
        root,
        promptPath(),
        "prompt_via is 'file' but no argument contains {prompt_file}",
        'add "{prompt_file}" where the tool expects the prompt file, or use prompt_via: stdin',
      ),
    );
  }
}
