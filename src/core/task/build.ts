import { z } from "zod";
import { NameSchema, type Config } from "../../config/schema.js";
import { InputError } from "../errors.js";
import {
  CAPABILITY_LABEL_PREFIX,
  INFERENCE_BODY_CHARS,
  LABEL_PREFIX,
  resolveCapability,
  wordsOf,
} from "./capability.js";
import { parseDependencies } from "./dependencies.js";
import {
  formField,
  listItems,
  parseCount,
  parseDuration,
  parseIssueForm,
  singleValue,
  type IssueForm,
} from "./issue-form.js";
import { buildPrompt } from "./prompt.js";
import { inferRisk, parseRisk, type Risk } from "./risk.js";
import { RemovalCounts, sanitizeLine, sanitizeUntrusted } from "./sanitize.js";
import { RepositoryRefSchema, TaskSchema, type RepositoryRef, type Task } from "./schema.js";

/**
 * Builds a Task from what GitHub sends or a person writes: an issue or pull request as the REST API
 * returns it, a webhook payload holding one (`{ issue, repository }`, `{ pull_request, repository }`),
 * or a plain object with the repository given as an option. Every text field is sanitised before
 * anything reads it, so hidden text cannot set a capability, a scope or an override. Bad input is
 * an InputError naming the field ("issue.number: expected a positive integer"); whatever the input,
 * building never hangs (every step is linear in the input) and never throws anything else.
 */

export interface BuildTaskOptions {
  /** The repository the issue belongs to; wins over what the input says. */
  repository?: RepositoryRef;
}

/** GitHub caps titles at 256 characters; a longer one did not come from GitHub. */
export const MAX_TITLE_CHARS = 256;
const MAX_LABELS = 100;
const MAX_LABEL_CHARS = 100;
/** More labels than this is not an issue GitHub would send: refused before validating each. */
const MAX_INPUT_LABELS = 10_000;
const MAX_SCOPE = 100;
const MAX_GLOB_CHARS = 500;
const MAX_CONSTRAINTS = 50;
const MAX_CONSTRAINT_CHARS = 500;
const MAX_WARNINGS = 50;
const MAX_URL_CHARS = 2_048;

/**
 * Labels `switchyard:<state>` that Switchyard sets itself; any other `switchyard:<name>` label asks
 * for a tool. `cap/` and `risk/` labels are read separately.
 */
export const STATE_LABELS = [
  "running",
  "queued",
  "pr-open",
  "failed",
  "quarantined",
  "blocked",
  "done",
  "stopped",
];
/** Labels of the issues the analysis keeps (the dashboard, alerts): never a tool's name either. */
const REPORT_LABELS = ["dashboard", "alert"];
const RISK_LABEL_PREFIX = `${LABEL_PREFIX}risk/`;

const SCOPE_KEYS = ["files_in_scope", "scope", "files", "paths", "files_to_change"] as const;
const CONSTRAINT_KEYS = ["constraints"] as const;
const RISK_KEYS = ["risk", "risk_level"] as const;
const TOOL_KEYS = ["tool", "preferred_tool"] as const;
const TIMEOUT_KEYS = ["timeout", "timeout_seconds", "time_limit"] as const;
const RETRY_KEYS = ["retries", "max_retries"] as const;

// --- input --------------------------------------------------------------------------------------

const OWNER_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
const REPO_NAME_RE = /^(?!\.{1,2}$)[A-Za-z0-9._-]{1,100}$/;
const LOGIN_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,98}(?:\[bot\])?$/;
/** A git branch name as GitHub reports it: no whitespace, controls or the characters git forbids. */
const BRANCH_RE = /^(?!\/|.*\/\/|.*\.\.|.*\.lock$|.*\/$)[^\s\p{Cc}~^:?*[\\]{1,255}$/u;

const positiveInteger = { error: "expected a positive integer" };
const PositiveIntegerSchema = z.number(positiveInteger).int(positiveInteger).min(1, positiveInteger);
const OptionalUrlSchema = z.string({ error: "expected a URL string or null" }).nullish();

const OwnerNameSchema = z.looseObject({
  owner: z.union([z.string(), z.looseObject({ login: z.string() })]),
  name: z.string(),
});
const FullNameSchema = z.looseObject({ full_name: z.string() });

const BranchSchema = z.looseObject(
  {
    ref: z.string({ error: "expected a branch name" }).regex(BRANCH_RE, { error: "expected a branch name" }),
    repo: z.unknown().optional(),
  },
  { error: "expected an object with a ref" },
);

const ItemSchema = z.looseObject(
  {
    number: PositiveIntegerSchema,
    title: z.string({ error: "expected a string" }),
    body: z.string({ error: "expected a string or null" }).nullish(),
    labels: z
      .array(
        z.union([z.string(), z.looseObject({ name: z.string() })], {
          error: "expected a label name or an object with a string name",
        }),
        { error: "expected an array of labels" },
      )
      .nullish(),
    user: z
      .looseObject(
        {
          login: z
            .string({ error: "expected a string" })
            .regex(LOGIN_RE, { error: "expected a GitHub login" }),
        },
        { error: "expected an object with a login, or null" },
      )
      .nullish(),
    html_url: OptionalUrlSchema,
    url: OptionalUrlSchema,
    repository_url: OptionalUrlSchema,
    pull_request: z.looseObject({}, { error: "expected an object or null" }).nullish(),
    head: BranchSchema.optional(),
    base: BranchSchema.optional(),
    repository: z.unknown().optional(),
  },
  { error: "expected an object" },
);
type Item = z.infer<typeof ItemSchema>;

interface Unwrapped {
  root: "issue" | "pull_request";
  item: unknown;
  /** The webhook payload's repository, when the input was a payload. */
  payloadRepository: unknown;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function typeOf(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "an array" : typeof v;
}

/** Tells a webhook payload from an issue or pull request object. */
function unwrap(input: unknown): Unwrapped {
  if (!isObject(input)) {
    throw new InputError(
      `issue: expected an object (a GitHub issue or pull request, or a webhook payload holding one), got ${typeOf(input)}`,
    );
  }
  if ("issue" in input) return { root: "issue", item: input.issue, payloadRepository: input.repository };
  // A pull_request webhook payload; an issue object's own `pull_request` field has no head.
  const pr = input.pull_request;
  if (isObject(pr) && ("head" in pr || !("title" in input))) {
    return { root: "pull_request", item: pr, payloadRepository: input.repository };
  }
  return { root: "head" in input ? "pull_request" : "issue", item: input, payloadRepository: undefined };
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("");
}

function zodInputError(root: string, error: z.ZodError): InputError {
  const shown = error.issues.slice(0, 3).map((i) => `${root}${formatPath(i.path)}: ${i.message}`);
  const more = error.issues.length > 3 ? ` (and ${error.issues.length - 3} more)` : "";
  return new InputError(shown.join("; ") + more);
}

function parseItem(root: string, item: unknown): Item {
  if (isObject(item) && Array.isArray(item.labels) && item.labels.length > MAX_INPUT_LABELS) {
    throw new InputError(
      `${root}.labels: ${item.labels.length} labels; at most ${MAX_INPUT_LABELS} are read`,
    );
  }
  const parsed = ItemSchema.safeParse(item);
  if (!parsed.success) throw zodInputError(root, parsed.error);
  return parsed.data;
}

/** A repository as a webhook, the REST API or a person writes it, or null when it is not one. */
function repositoryFrom(value: unknown): RepositoryRef | null {
  let ref: RepositoryRef | null = null;
  const split = OwnerNameSchema.safeParse(value);
  if (split.success) {
    const owner = split.data.owner;
    ref = { owner: typeof owner === "string" ? owner : owner.login, name: split.data.name };
  } else {
    const full = FullNameSchema.safeParse(value);
    const parts = full.success ? full.data.full_name.split("/") : [];
    if (parts.length === 2) ref = { owner: parts[0]!, name: parts[1]! };
  }
  return ref && OWNER_RE.test(ref.owner) && REPO_NAME_RE.test(ref.name) ? ref : null;
}

function repositoryFromUrl(url: string | null | undefined, pattern: RegExp): RepositoryRef | null {
  const m = url ? pattern.exec(url) : null;
  return m && OWNER_RE.test(m[1]!) && REPO_NAME_RE.test(m[2]!) ? { owner: m[1]!, name: m[2]! } : null;
}

const API_REPO_URL_RE = /\/repos\/([^/\s]+)\/([^/\s]+?)\/?$/;
const HTML_ITEM_URL_RE = /^https?:\/\/[^/\s]+\/([^/\s]+)\/([^/\s]+)\/(?:issues|pull)\/\d+/;

/**
 * Where an input says it belongs, without the repository option: the payload's repository, the
 * item's `repository`, its API `repository_url`, a pull request's base repository, its page URL.
 * Null when none says.
 */
export function findRepository(input: unknown): RepositoryRef | null {
  if (!isObject(input)) return null;
  let unwrapped: Unwrapped;
  try {
    unwrapped = unwrap(input);
  } catch {
    return null;
  }
  const item = isObject(unwrapped.item) ? unwrapped.item : {};
  const base = isObject(item.base) ? item.base : {};
  return (
    repositoryFrom(unwrapped.payloadRepository) ??
    repositoryFrom(item.repository) ??
    repositoryFromUrl(
      typeof item.repository_url === "string" ? item.repository_url : null,
      API_REPO_URL_RE,
    ) ??
    repositoryFrom(base.repo) ??
    repositoryFromUrl(typeof item.html_url === "string" ? item.html_url : null, HTML_ITEM_URL_RE)
  );
}

function resolveRepository(input: unknown, opts: BuildTaskOptions): RepositoryRef {
  if (opts.repository !== undefined) {
    const parsed = RepositoryRefSchema.safeParse(opts.repository);
    if (!parsed.success) throw zodInputError("repository option", parsed.error);
    const ref = parsed.data;
    if (!OWNER_RE.test(ref.owner))
      throw new InputError(`repository option.owner: "${ref.owner}" is not a GitHub owner name`);
    if (!REPO_NAME_RE.test(ref.name))
      throw new InputError(`repository option.name: "${ref.name}" is not a repository name`);
    return ref;
  }
  const found = findRepository(input);
  if (found) return found;
  throw new InputError(
    "repository: not found in the input; pass a webhook payload with `repository`, an issue with " +
      "`repository_url`, or the repository option (owner/name)",
  );
}

// --- building -----------------------------------------------------------------------------------

export function buildTask(input: unknown, config: Config, opts: BuildTaskOptions = {}): Task {
  const { root, item: rawItem } = unwrap(input);
  const item = parseItem(root, rawItem);
  const repository = resolveRepository(input, opts);
  const kind: Task["kind"] =
    root === "pull_request" || item.head !== undefined || item.base !== undefined || item.pull_request
      ? "pull_request"
      : "issue";
  const warnings: string[] = [];

  const body = sanitizeUntrusted(item.body ?? "", { maxBytes: config.limits.max_body_bytes });
  const title = sanitizeLine(item.title, MAX_TITLE_CHARS);
  const removed = new RemovalCounts();
  removed.addAll(body.report.removed);
  removed.addAll(title.removed);
  const labels = cleanLabels(item.labels ?? [], warnings);
  const author = item.user?.login ?? "ghost";
  const form = parseIssueForm(body.text);
  const titleWords = wordsOf(title.text, MAX_TITLE_CHARS);
  const bodyWords = wordsOf(body.text, INFERENCE_BODY_CHARS);

  const capability = resolveCapability({ labels, form, titleWords, bodyWords }, config);
  warnings.push(...capability.warnings);
  const scope = readScope(form, body.text, warnings);
  const constraints = readConstraints(form);
  const risk =
    readRisk(labels, form, warnings) ??
    inferRisk({ capability: capability.capability, scope, titleWords, bodyWords });
  const overrides = readOverrides(labels, form, config, warnings);

  const htmlUrl = cleanUrl(item.html_url, `${root}.html_url`, warnings);
  const apiUrl = cleanUrl(item.url, `${root}.url`, warnings);
  const host = htmlUrl ? new URL(htmlUrl).hostname : undefined;
  const deps = parseDependencies(body.text, {
    ...repository,
    number: item.number,
    hosts: host ? [host] : [],
  });
  if (deps.dropped > 0) {
    warnings.push(`${deps.dropped} more dependencies were not read (at most ${deps.dependencies.length})`);
  }

  const key = `${repository.owner}/${repository.name}#${item.number}`;
  const sources: Task["sources"] = {
    ...(htmlUrl ? { html_url: htmlUrl } : {}),
    ...(apiUrl ? { api_url: apiUrl } : {}),
    ...(item.head ? { head_ref: item.head.ref } : {}),
    ...(item.base ? { base_ref: item.base.ref } : {}),
  };
  const prompt = buildPrompt(
    {
      key,
      kind,
      number: item.number,
      title: title.text,
      body: body.text,
      author,
      capability: capability.capability,
      capability_reason: capability.reason,
      scope,
      constraints,
      risk,
      htmlUrl,
      headRef: sources.head_ref,
      baseRef: sources.base_ref,
    },
    config,
  );

  const task: Task = {
    key,
    kind,
    repository,
    number: item.number,
    title: title.text,
    body: body.text,
    author,
    labels,
    capability: capability.capability,
    capability_source: capability.source,
    capability_reason: capability.reason,
    prompt,
    scope,
    risk,
    constraints,
    depends_on: deps.dependencies,
    overrides,
    form,
    sources,
    sanitization: { ...body.report, removed: removed.toList() },
    warnings: capWarnings(warnings),
  };
  // The task is checked against its own schema: a failure here is a bug in this file, not bad input.
  const checked = TaskSchema.safeParse(task);
  if (!checked.success) {
    throw new Error(
      `built an invalid task for ${key}: ${checked.error.issues.map((i) => i.message).join("; ")}`,
    );
  }
  return checked.data;
}

function capWarnings(warnings: string[]): string[] {
  if (warnings.length <= MAX_WARNINGS) return warnings;
  return [
    ...warnings.slice(0, MAX_WARNINGS - 1),
    `${warnings.length - MAX_WARNINGS + 1} more warnings not shown`,
  ];
}

function cleanLabels(raw: readonly (string | { name: string })[], warnings: string[]): string[] {
  const labels: string[] = [];
  const seen = new Set<string>();
  for (const entry of raw) {
    const name = sanitizeLine(typeof entry === "string" ? entry : entry.name, MAX_LABEL_CHARS).text;
    if (name === "" || seen.has(name)) continue;
    if (labels.length >= MAX_LABELS) {
      warnings.push(`only the first ${MAX_LABELS} labels were read`);
      break;
    }
    seen.add(name);
    labels.push(name);
  }
  return labels;
}

function cleanUrl(url: string | null | undefined, field: string, warnings: string[]): string | undefined {
  if (url === null || url === undefined || url === "") return undefined;
  let ok = url.length <= MAX_URL_CHARS && /^https?:\/\/[^\s]+$/.test(url);
  if (ok) {
    try {
      new URL(url);
    } catch {
      ok = false;
    }
  }
  if (!ok) {
    warnings.push(`${field} is not an http(s) URL; left out`);
    return undefined;
  }
  return url;
}

/**
 * Free-text scope, read only when no form field gives one: a line in the opening of the body such as
 * "Files: `src/a.ts`, `src/b.ts`" (only the backticked parts count, so prose after the colon is not a path).
 */
const SCOPE_LINE_RE =
  /^[ \t]*(?:[-*+][ \t]+)?(?:\*\*|__)?(?:files?(?: in scope)?|scope|paths?)(?:\*\*|__)?[ \t]*:(?:\*\*|__)?[ \t]*([^\n]*)$/gim;

function readScope(form: IssueForm, body: string, warnings: string[]): string[] {
  const field = formField(form, SCOPE_KEYS);
  let candidates: string[];
  let where: string;
  if (field) {
    candidates = listItems(field.value, {
      splitCommas: true,
      max: MAX_SCOPE + 1,
      maxLength: MAX_GLOB_CHARS * 2,
    });
    where = `form field ${field.key}`;
  } else {
    candidates = [];
    for (const line of body.slice(0, INFERENCE_BODY_CHARS).matchAll(SCOPE_LINE_RE)) {
      for (const m of line[1]!.matchAll(/`([^`\n]+)`/g)) candidates.push(m[1]!);
    }
    where = "the body";
  }
  const scope: string[] = [];
  for (const candidate of candidates) {
    const glob = normaliseGlob(candidate);
    if (glob === null) {
      warnings.push(
        `scope entry "${shorten(candidate)}" in ${where} is not a path inside the repository; ignored`,
      );
      continue;
    }
    if (scope.includes(glob)) continue;
    if (scope.length >= MAX_SCOPE) {
      warnings.push(`only the first ${MAX_SCOPE} scope entries were read`);
      break;
    }
    scope.push(glob);
  }
  return scope;
}

/** A repository-relative glob, or null for one that leaves the repository or is not a path. */
function normaliseGlob(raw: string): string | null {
  const glob = raw
    .trim()
    .replace(/\\/g, "/")
    .replace(/^(?:\.\/)+/, "")
    .replace(/^\/+/, "");
  if (glob === "" || glob.length > MAX_GLOB_CHARS || /[\s\p{Cc}]/u.test(glob)) return null;
  if (glob.split("/").some((segment) => segment === "..")) return null;
  if (/^[A-Za-z]:/.test(glob)) return null;
  return glob;
}

function readConstraints(form: IssueForm): string[] {
  const field = formField(form, CONSTRAINT_KEYS);
  if (!field) return [];
  return listItems(field.value, {
    splitCommas: false,
    max: MAX_CONSTRAINTS,
    maxLength: MAX_CONSTRAINT_CHARS,
  });
}

function readRisk(labels: readonly string[], form: IssueForm, warnings: string[]): Risk | null {
  for (const label of labels) {
    if (!label.toLowerCase().startsWith(RISK_LABEL_PREFIX)) continue;
    const risk = parseRisk(label.slice(RISK_LABEL_PREFIX.length));
    if (risk) return risk;
    warnings.push(`label "${label}" is not a risk level (low, medium, high); ignored`);
  }
  const field = formField(form, RISK_KEYS);
  if (field) {
    const value = singleValue(field.value);
    const risk = parseRisk(value);
    if (risk) return risk;
    warnings.push(
      `form field ${field.key}: "${shorten(value)}" is not a risk level (low, medium, high); ignored`,
    );
  }
  return null;
}

/**
 * Per-task overrides. A tool asked for by label wins over one asked for in the form (labels need
 * triage rights, the form only needs an account); the router decides whether either is allowed.
 * Timeout and retries are clamped to the configured limits.
 */
function readOverrides(
  labels: readonly string[],
  form: IssueForm,
  config: Config,
  warnings: string[],
): Task["overrides"] {
  const overrides: Task["overrides"] = {};
  const tool = readToolOverride(labels, form, warnings);
  if (tool) overrides.tool = tool;

  const timeoutField = formField(form, TIMEOUT_KEYS);
  if (timeoutField) {
    const seconds = parseDuration(timeoutField.value);
    const shown = shorten(singleValue(timeoutField.value));
    const max = config.limits.max_timeout_seconds;
    if (seconds === null || seconds === 0) {
      warnings.push(
        `form field ${timeoutField.key}: "${shown}" is not a duration (e.g. 900, 30m, 1h); ignored`,
      );
    } else if (seconds > max) {
      warnings.push(
        `form field ${timeoutField.key}: ${seconds} s is above limits.max_timeout_seconds (${max} s); using ${max} s`,
      );
      overrides.timeout_seconds = max;
    } else overrides.timeout_seconds = seconds;
  }

  const retryField = formField(form, RETRY_KEYS);
  if (retryField) {
    const retries = parseCount(retryField.value);
    const max = config.limits.max_retries;
    if (retries === null) {
      const shown = shorten(singleValue(retryField.value));
      warnings.push(`form field ${retryField.key}: "${shown}" is not a number of retries; ignored`);
    } else if (retries > max) {
      warnings.push(
        `form field ${retryField.key}: ${retries} is above limits.max_retries (${max}); using ${max}`,
      );
      overrides.retries = max;
    } else overrides.retries = retries;
  }
  return overrides;
}

function readToolOverride(
  labels: readonly string[],
  form: IssueForm,
  warnings: string[],
): string | undefined {
  const requested: { tool: string; label: string }[] = [];
  for (const label of labels) {
    const lower = label.toLowerCase();
    if (!lower.startsWith(LABEL_PREFIX) || lower.startsWith(CAPABILITY_LABEL_PREFIX)) continue;
    if (lower.startsWith(RISK_LABEL_PREFIX)) continue;
    const name = lower.slice(LABEL_PREFIX.length);
    if (STATE_LABELS.includes(name) || REPORT_LABELS.includes(name)) continue;
    if (NameSchema.safeParse(name).success) requested.push({ tool: name, label });
    else warnings.push(`label "${label}" does not name a tool; ignored`);
  }
  if (requested.length > 0) {
    const distinct = [...new Set(requested.map((r) => r.tool))];
    if (distinct.length > 1) {
      warnings.push(`labels ask for several tools (${distinct.join(", ")}); using the first, ${distinct[0]}`);
    }
    return requested[0]!.tool;
  }
  const field = formField(form, TOOL_KEYS);
  if (!field) return undefined;
  const value = singleValue(field.value).toLowerCase();
  if (NameSchema.safeParse(value).success) return value;
  warnings.push(`form field ${field.key}: "${shorten(value)}" does not name a tool; ignored`);
  return undefined;
}

function shorten(s: string): string {
  return s.length > 80 ? `${s.slice(0, 79)}…` : s;
}
