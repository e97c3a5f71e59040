import { closest, distance } from "fastest-levenshtein";
import { BUILTIN_CAPABILITIES, type Config } from "../../config/schema.js";
import { formField, singleValue, type IssueForm } from "./issue-form.js";
import type { Task } from "./schema.js";

/**
 * Which kind of work a task is. In order, the first that answers wins, and the task records which
 * one did and why:
 *   1. a `switchyard:cap/<name>` label (someone with triage rights said so);
 *   2. a label mapped in `capabilities.labels` (the repository's own labels, e.g. bug -> error_fix);
 *   3. an issue-form field "Capability" or "Task type";
 *   4. keywords in the title and the opening of the body (title words count three times);
 *   5. `capabilities.default`.
 * A label or form value naming no known capability is not an error: it is skipped with a warning
 * and the next source answers.
 */

export const LABEL_PREFIX = "switchyard:";
export const CAPABILITY_LABEL_PREFIX = `${LABEL_PREFIX}cap/`;
const FORM_KEYS = ["capability", "task_type", "type_of_task", "task_kind"] as const;

export type CapabilitySource = Task["capability_source"];

export interface CapabilityResolution {
  capability: string;
  source: CapabilitySource;
  reason: string;
  warnings: string[];
}

export interface CapabilityInput {
  labels: readonly string[];
  form: IssueForm;
  /** Lower-case words of the title and of the opening of the body (see `wordsOf`). */
  titleWords: readonly string[];
  bodyWords: readonly string[];
}

/** Built-in capabilities and the configured extra ones, built-ins first. */
export function knownCapabilities(config: Config): string[] {
  return [...new Set<string>([...BUILTIN_CAPABILITIES, ...config.capabilities.extra])];
}

/** How a value is compared with capability names: "Error fix", "error-fix" and "error_fix" are one. */
function canonical(value: string): string {
  return value
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, "_");
}

/** Everyday names for the built-in capabilities, as people write them in forms and labels. */
const ALIASES: Record<string, string> = {
  test: "testing",
  tests: "testing",
  unit_tests: "testing",
  refactor: "refactoring",
  lint: "linting",
  formatting: "linting",
  docs: "documentation",
  doc: "documentation",
  bug: "error_fix",
  bugfix: "error_fix",
  bug_fix: "error_fix",
  fix: "error_fix",
  dependencies: "dependency_update",
  dependency: "dependency_update",
  deps: "dependency_update",
  dependency_upgrade: "dependency_update",
  feature: "code_generation",
  new_feature: "code_generation",
  code: "code_generation",
};

/**
 * The known capability a label or form value names, or null. Accepts the name in any case with
 * spaces or hyphens for underscores, a few everyday aliases, and text after the name in brackets or
 * after a dash ("Testing (add or fix tests)").
 */
export function matchCapability(value: string, known: readonly string[]): string | null {
  const byCanonical = new Map(known.map((k) => [canonical(k), k]));
  const head = value.split(/\s[-–—(:]|\(/)[0] ?? value;
  for (const candidate of [value, head]) {
    const c = canonical(candidate);
    const direct = byCanonical.get(c);
    if (direct) return direct;
    const alias = ALIASES[c];
    if (alias && known.includes(alias)) return alias;
  }
  return null;
}

function unknownHint(value: string, known: readonly string[]): string {
  const c = canonical(value);
  const near = known.length > 0 ? closest(c, [...known]) : undefined;
  if (near && distance(c, near) <= Math.max(2, Math.floor(near.length / 4))) return `did you mean "${near}"?`;
  return `known: ${known.join(", ")}`;
}

export function resolveCapability(input: CapabilityInput, config: Config): CapabilityResolution {
  const known = knownCapabilities(config);
  const warnings: string[] = [];

  // 1. switchyard:cap/<name>
  const fromLabels: { capability: string; label: string }[] = [];
  for (const label of input.labels) {
    if (!label.toLowerCase().startsWith(CAPABILITY_LABEL_PREFIX)) continue;
    const name = label.slice(CAPABILITY_LABEL_PREFIX.length);
    const capability = matchCapability(name, known);
    if (capability) fromLabels.push({ capability, label });
    else warnings.push(`label "${label}" names no known capability; ignored (${unknownHint(name, known)})`);
  }
  if (fromLabels.length > 0) {
    const first = fromLabels[0]!;
    warnIfConflicting(fromLabels, warnings);
    return { capability: first.capability, source: "label", reason: `label "${first.label}"`, warnings };
  }

  // 2. capabilities.labels
  const mapping = new Map(Object.entries(config.capabilities.labels).map(([k, v]) => [k.toLowerCase(), v]));
  const mapped: { capability: string; label: string }[] = [];
  for (const label of input.labels) {
    const target = mapping.get(label.toLowerCase());
    if (target === undefined) continue;
    if (known.includes(target)) mapped.push({ capability: target, label });
    else
      warnings.push(
        `capabilities.labels maps "${label}" to "${target}", which is no known capability; ignored`,
      );
  }
  if (mapped.length > 0) {
    const first = mapped[0]!;
    warnIfConflicting(mapped, warnings);
    const reason = `label "${first.label}", mapped by capabilities.labels`;
    return { capability: first.capability, source: "config_label", reason, warnings };
  }

  // 3. An issue-form field.
  const field = formField(input.form, FORM_KEYS);
  if (field) {
    const value = singleValue(field.value);
    const capability = matchCapability(value, known);
    const shown = value.length > 80 ? `${value.slice(0, 79)}…` : value;
    if (capability) {
      return { capability, source: "form", reason: `form field ${field.key}: "${shown}"`, warnings };
    }
    warnings.push(`form field ${field.key} says "${shown}", which names no known capability; ignored`);
  }

  // 4. Keywords.
  const inferred = inferCapability(input.titleWords, input.bodyWords);
  if (inferred) return { ...inferred, source: "inferred", warnings };

  // 5. The default.
  return {
    capability: config.capabilities.default,
    source: "default",
    reason: "no capability label, form field or keyword; capabilities.default",
    warnings,
  };
}

function warnIfConflicting(found: { capability: string; label: string }[], warnings: string[]): void {
  const distinct = [...new Set(found.map((f) => f.capability))];
  if (distinct.length > 1) {
    const labels = found.map((f) => `"${f.label}"`).join(", ");
    warnings.push(`labels ${labels} name different capabilities; using the first, ${distinct[0]}`);
  }
}

// --- keyword inference -------------------------------------------------------------------------

/** Title words count this many times as much as body words: a title says what the issue is about. */
const TITLE_WEIGHT = 3;

/**
 * Keyword -> capability and weight. Specific words weigh 2; generic ones ("add", "fix", "error")
 * weigh 1, so "fix the eslint errors" is linting and not error_fix. Two-word phrases are matched
 * before their single words.
 */
const KEYWORD_TABLE: [string, number, string[]][] = [
  [
    "testing",
    2,
    [
      "test",
      "tests",
      "testing",
      "coverage",
      "unit test",
      "unit tests",
      "add test",
      "add tests",
      "test coverage",
    ],
  ],
  [
    "testing",
    2,
    ["integration test", "integration tests", "e2e", "jest", "pytest", "vitest", "mocha", "snapshot"],
  ],
  ["testing", 1, ["spec", "specs"]],
  [
    "refactoring",
    2,
    ["refactor", "refactoring", "refactors", "clean up", "cleanup", "rename", "restructure"],
  ],
  ["refactoring", 2, ["reorganize", "reorganise", "deduplicate", "dead code", "modularize", "modularise"]],
  ["refactoring", 1, ["simplify", "extract"]],
  [
    "documentation",
    2,
    ["docs", "documentation", "readme", "docstring", "docstrings", "jsdoc", "typo", "typos"],
  ],
  ["documentation", 2, ["changelog", "api docs"]],
  ["documentation", 1, ["doc", "document", "tutorial", "guide", "comments"]],
  ["linting", 2, ["lint", "linting", "linter", "eslint", "prettier", "formatting", "stylelint", "ruff"]],
  ["linting", 2, ["flake8", "pylint", "clippy", "rubocop", "code style", "gofmt"]],
  ["linting", 1, ["format", "whitespace"]],
  [
    "dependency_update",
    2,
    ["bump", "upgrade", "dependency", "dependencies", "deps", "dependabot", "renovate"],
  ],
  [
    "dependency_update",
    2,
    ["cve", "outdated", "npm audit", "security update", "lockfile", "upgrade dependency"],
  ],
  ["dependency_update", 1, ["vulnerability", "vulnerabilities"]],
  ["error_fix", 2, ["bug", "bugs", "crash", "crashes", "crashed", "exception", "exceptions", "traceback"]],
  ["error_fix", 2, ["stack trace", "stacktrace", "regression", "segfault", "not working"]],
  ["error_fix", 1, ["fix", "fixes", "fixed", "error", "errors", "broken", "fails", "failing", "failure"]],
  ["error_fix", 1, ["panic", "incorrect", "wrong"]],
  ["code_generation", 2, ["implement", "feature", "new feature", "endpoint"]],
  ["code_generation", 1, ["add", "support", "create", "new", "generate", "introduce", "allow"]],
];

const KEYWORDS = new Map<string, { capability: string; weight: number }>();
for (const [capability, weight, words] of KEYWORD_TABLE) {
  for (const w of words) KEYWORDS.set(w, { capability, weight });
}

/** Ties go to the more specific capability. */
const TIE_ORDER = [
  "dependency_update",
  "linting",
  "testing",
  "documentation",
  "refactoring",
  "error_fix",
  "code_generation",
];

/** How much of the body keyword inference reads: an issue says what it is about at the start. */
export const INFERENCE_BODY_CHARS = 20_000;

/** Lower-case ASCII words of the first `maxChars` characters. */
export function wordsOf(text: string, maxChars: number): string[] {
  return (
    text
      .slice(0, maxChars)
      .toLowerCase()
      .match(/[a-z0-9]+/g) ?? []
  );
}

interface Hit {
  keyword: string;
  where: "title" | "body";
}

export function inferCapability(
  titleWords: readonly string[],
  bodyWords: readonly string[],
): { capability: string; reason: string } | null {
  const scores = new Map<string, number>();
  const hits = new Map<string, Hit[]>();
  const scan = (words: readonly string[], where: Hit["where"], multiplier: number) => {
    const seen = new Set<string>();
    for (let i = 0; i < words.length; i++) {
      const pair = i + 1 < words.length ? `${words[i]} ${words[i + 1]}` : null;
      const keyword = pair !== null && KEYWORDS.has(pair) ? pair : words[i]!;
      const entry = KEYWORDS.get(keyword);
      if (!entry) continue;
      if (keyword === pair) i++;
      if (seen.has(keyword)) continue;
      seen.add(keyword);
      scores.set(entry.capability, (scores.get(entry.capability) ?? 0) + entry.weight * multiplier);
      const list = hits.get(entry.capability) ?? [];
      list.push({ keyword, where });
      hits.set(entry.capability, list);
    }
  };
  scan(titleWords, "title", TITLE_WEIGHT);
  scan(bodyWords, "body", 1);
  if (scores.size === 0) return null;
  const ranked = [...scores].sort((a, b) => b[1] - a[1] || TIE_ORDER.indexOf(a[0]) - TIE_ORDER.indexOf(b[0]));
  const [best, score] = ranked[0]!;
  const words = hits
    .get(best)!
    .slice(0, 5)
    .map((h) => `"${h.keyword}" (${h.where})`)
    .join(", ");
  const runnerUp = ranked[1] ? `, next ${ranked[1][0]} ${ranked[1][1]}` : "";
  return { capability: best, reason: `inferred from ${words}: ${best} ${score}${runnerUp}` };
}
