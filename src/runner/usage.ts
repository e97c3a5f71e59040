import type { ToolProfile } from "../config/schema.js";
import { ConfigError } from "../core/errors.js";

/**
 * Tokens and cost, when a tool reports them. Two sources, in this order:
 *
 * 1. The profile's `tokens_pattern` / `cost_pattern`: regular expressions applied to the end of
 *    the output (multiline, so ^ and $ match at line ends). The last match wins, since tools
 *    print running or final totals last, and the numbers its capture groups caught are added up,
 *    so aider's "Tokens: 3.0k sent, 42 received." is one pattern with two groups. Numbers may
 *    carry thousands separators and a k or M suffix ("1.2k" = 1200) and a leading "$".
 * 2. For `format: json` and `jsonl`, the last JSON object in the output that has usage fields:
 *    cost from `total_cost_usd`, `cost_usd`, `total_cost` or `cost`; tokens from `total_tokens`
 *    (top level or in `usage`), else the sum of `usage.input_tokens`, `output_tokens`,
 *    `cache_creation_input_tokens` and `cache_read_input_tokens` (Claude Code, Codex turn events;
 *    `cached_input_tokens` is part of `input_tokens` and not added again), else Gemini CLI's
 *    `stats.models.<model>.tokens.total`, summed over models.
 *
 * Anything unknown is null: no figure is better than a wrong one in a cost report.
 */

export interface Usage {
  tokens: number | null;
  costUsd: number | null;
}

export interface UsagePatterns {
  tokens?: RegExp;
  cost?: RegExp;
}

/** Compiles the profile's patterns once, before the tool runs; a bad one is a configuration error. */
export function compileUsagePatterns(profile: Pick<ToolProfile, "name" | "output">): UsagePatterns {
  const out: UsagePatterns = {};
  for (const [field, key] of [
    ["tokens_pattern", "tokens"],
    ["cost_pattern", "cost"],
  ] as const) {
    const source = profile.output[field];
    if (source === undefined) continue;
    let re: RegExp;
    try {
      re = new RegExp(source, "gm");
    } catch (error) {
      throw usageProblem(
        profile.name,
        field,
        `is not a valid regular expression (${(error as Error).message})`,
      );
    }
    if (new RegExp(`${source}|`).exec("")!.length < 2) {
      throw usageProblem(
        profile.name,
        field,
        "has no capture group",
        "wrap the number in ( ), e.g. 'Cost: \\$([0-9.]+)'",
      );
    }
    out[key] = re;
  }
  return out;
}

function usageProblem(tool: string, field: string, message: string, hint?: string): ConfigError {
  return new ConfigError([{ file: `tool profile '${tool}'`, path: `output.${field}`, message, hint }]);
}

/** "1,234" -> 1234, "1.2k" -> 1200, "$0.05" -> 0.05, "3M" -> 3000000; null when it is not a number. */
export function parseNumber(text: string): number | null {
  const m = /^\s*\$?\s*((?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)\s*([kKmM])?\s*$/.exec(text);
  if (!m) return null;
  const value = Number(m[1]!.replace(/,/g, ""));
  const scale = m[2] === undefined ? 1 : m[2].toLowerCase() === "k" ? 1e3 : 1e6;
  const n = value * scale;
  return Number.isFinite(n) ? n : null;
}

/** The sum of the groups of the last match of `re` in `text`, or null. */
function lastMatchSum(re: RegExp, text: string): number | null {
  let last: RegExpExecArray | null = null;
  re.lastIndex = 0;
  for (const m of text.matchAll(re)) last = m;
  if (last === null) return null;
  let sum: number | null = null;
  for (const group of last.slice(1)) {
    if (group === undefined) continue;
    const n = parseNumber(group);
    if (n === null) return null;
    sum = (sum ?? 0) + n;
  }
  return sum;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : null;
}

/** Usage fields of one parsed JSON value (see the module comment for which). */
export function usageFromJson(value: unknown): Usage {
  if (!isObject(value)) return { tokens: null, costUsd: null };
  const usage = isObject(value.usage) ? value.usage : {};
  const costUsd =
    num(value.total_cost_usd) ??
    num(value.cost_usd) ??
    num(value.total_cost) ??
    num(value.cost) ??
    num(usage.cost_usd);

  let tokens = num(usage.total_tokens) ?? num(value.total_tokens);
  if (tokens === null) {
    const parts = ["input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"]
      .map((k) => num(usage[k]))
      .filter((n): n is number => n !== null);
    if (parts.length > 0) tokens = parts.reduce((a, b) => a + b, 0);
  }
  if (tokens === null && isObject(value.stats) && isObject(value.stats.models)) {
    let sum: number | null = null;
    for (const model of Object.values(value.stats.models)) {
      const total = isObject(model) && isObject(model.tokens) ? num(model.tokens.total) : null;
      if (total !== null) sum = (sum ?? 0) + total;
    }
    tokens = sum;
  }
  return { tokens, costUsd };
}

function tryJson(text: string): unknown {
  const t = text.trim();
  if (!t.startsWith("{") || !t.endsWith("}")) return undefined;
  try {
    return JSON.parse(t);
  } catch {
    return undefined;
  }
}

/**
 * JSON texts that may hold the summary, most likely first: the last stdout line (whole even when
 * longer than the tail), the tail's lines from the end (JSON Lines), then a pretty-printed object
 * that starts at the last "{" in the first column.
 */
function* jsonCandidates(tail: string, lastLine: string | null): Generator<unknown> {
  if (lastLine !== null) yield tryJson(lastLine);
  const lines = tail.split("\n");
  for (let i = lines.length - 1, seen = 0; i >= 0 && seen < 200; i--) {
    if (lines[i]!.trim() === "") continue;
    seen++;
    yield tryJson(lines[i]!);
  }
  const start = tail.lastIndexOf("\n{");
  if (start !== -1) yield tryJson(tail.slice(start + 1));
  else if (tail.startsWith("{")) yield tryJson(tail);
}

export interface UsageText {
  /** The end of the tool's output (the captured tail). */
  tail: string;
  /** The last complete stdout line, kept separately because a JSON summary line can outgrow the tail. */
  lastLine?: string | null;
}

/** Reads tokens and cost from a finished tool's output; nulls for what it did not report. */
export function parseUsage(
  profile: Pick<ToolProfile, "name" | "output">,
  text: UsageText,
  patterns: UsagePatterns = compileUsagePatterns(profile),
): Usage {
  let tokens = patterns.tokens ? lastMatchSum(patterns.tokens, text.tail) : null;
  let costUsd = patterns.cost ? lastMatchSum(patterns.cost, text.tail) : null;
  if ((tokens === null || costUsd === null) && profile.output.format !== "text") {
    for (const candidate of jsonCandidates(text.tail, text.lastLine ?? null)) {
      if (candidate === undefined) continue;
      const found = usageFromJson(candidate);
      if (found.tokens === null && found.costUsd === null) continue;
      tokens ??= found.tokens;
      costUsd ??= found.costUsd;
      break;
    }
  }
  return { tokens: tokens === null ? null : Math.round(tokens), costUsd };
}
