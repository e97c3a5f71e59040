import { InputError } from "../errors.js";
import { defaultRuleSet, MIN_SCORE, type CompiledRule, type RuleSet } from "./rules.js";
import {
  EvidenceSchema,
  FAILURE_CATEGORIES,
  HistorySchema,
  type Category,
  type Classification,
  type Evidence,
  type EvidenceInput,
  type FailureCategory,
  type FiredRule,
  type History,
} from "./schema.js";
import { signatureOf } from "./signature.js";

/**
 * Classifying a failure from its evidence: every rule is tested against the lines it applies to;
 * a category's score is the sum of its rules' weights (the first match counts fully, the second
 * half, the third a quarter, no more, so a thousand lint findings do not outweigh one runner
 * shutdown); the best category wins if it reaches MIN_SCORE, ties going to the earlier stage
 * (FAILURE_CATEGORIES order).
 *
 * Confidence = strength × agreement: strength = 1 − e^(−score/8) (one decisive line ≈ 0.7, two
 * ≈ 0.9), agreement = ½ + ½ × (best − second) / best (1 when nothing else fired, ½ on a tie).
 *
 * Flaky is the one category a single log cannot show: the same job passing on the same commit, or
 * on a rerun, is what makes a failure flaky. With such history the verdict is flaky (confidence
 * 0.9 for the same commit, 0.95 for a rerun, 0.97 for both), with what the failure looked like in
 * `underlying` — except for infrastructure failures, which are expected to pass on a rerun and stay
 * infra. Without history, only a log's own retry markers (Playwright's "1 flaky", pytest's RERUN)
 * point to flaky, and that verdict's confidence is capped at FLAKY_HINT_CONFIDENCE.
 */

export const FLAKY_HINT_CONFIDENCE = 0.7;
const REPEAT_FACTORS = [1, 0.5, 0.25];
const MAX_LINES = 20;

export interface ClassifyOptions {
  /** Compiled rules (compileRules with the repository's `recovery.rules`); default: the shipped table. */
  rules?: RuleSet;
  history?: History;
}

interface Item {
  /** Log line number; 0 for annotations and test cases. */
  n: number;
  text: string;
}

interface Hit {
  rule: CompiledRule;
  items: Item[];
}

export function classify(evidence: EvidenceInput, opts: ClassifyOptions = {}): Classification {
  const parsed = EvidenceSchema.safeParse(evidence);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(`evidence: ${issue.path.join(".") || "root"}: ${issue.message}`);
  }
  const history = HistorySchema.safeParse(opts.history ?? {});
  if (!history.success) {
    const issue = history.error.issues[0]!;
    throw new InputError(`history: ${issue.path.join(".") || "root"}: ${issue.message}`);
  }
  const ev = parsed.data;
  const rules = opts.rules ?? defaultRuleSet();

  const hits = fire(ev, rules);
  const fired: FiredRule[] = hits
    .map(({ rule, items }) => ({
      id: rule.id,
      category: rule.category,
      weight: rule.weight,
      matches: items.length,
      score: round(contribution(rule.weight, items.length)),
    }))
    .sort((a, b) => b.score - a.score || a.id.localeCompare(b.id));
  const scores = new Map<FailureCategory, number>();
  for (const f of fired) scores.set(f.category, (scores.get(f.category) ?? 0) + f.score);
  const ranked = FAILURE_CATEGORIES.filter((c) => scores.has(c)).sort(
    (a, b) =>
      scores.get(b)! - scores.get(a)! || FAILURE_CATEGORIES.indexOf(a) - FAILURE_CATEGORIES.indexOf(b),
  );
  const scoreRecord = Object.fromEntries(ranked.map((c) => [c, round(scores.get(c)!)]));

  const top = ranked[0];
  const topScore = top === undefined ? 0 : scores.get(top)!;
  const second = ranked[1] === undefined ? 0 : scores.get(ranked[1])!;

  let verdict: Omit<Classification, "scores" | "rules">;
  if (top === undefined || topScore < MIN_SCORE) {
    verdict = unknownVerdict(ev, top, topScore);
  } else {
    let confidence = round((1 - Math.exp(-topScore / 8)) * (0.5 + (0.5 * (topScore - second)) / topScore));
    if (top === "flaky") confidence = Math.min(confidence, FLAKY_HINT_CONFIDENCE);
    // A flaky verdict is named after the failure it shows, not after the retry marker.
    const named = top === "flaky" ? (ranked.find((c) => c !== "flaky") ?? "flaky") : top;
    verdict = {
      category: top,
      confidence,
      signature: signatureOf(top, signatureLines(hits, named, ev)),
      reason: reasonFor(top, fired, ranked, scores),
      lines: evidenceLines(hits, top),
    };
  }

  const h = history.data;
  if (h.sameShaPassed || h.passedOnRerun) verdict = withHistory(verdict, h, ev, hits);
  return { ...verdict, scores: scoreRecord, rules: fired };
}

function contribution(weight: number, matches: number): number {
  let sum = 0;
  for (let i = 0; i < Math.min(matches, REPEAT_FACTORS.length); i++) sum += weight * REPEAT_FACTORS[i]!;
  return sum;
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

/** Every rule that matched something, with what it matched, in rule-table order. */
function fire(ev: Evidence, rules: RuleSet): Hit[] {
  const lines: Item[] = [];
  const errors: Item[] = [];
  const failedSteps = new Set<string>();
  const seen = new Set<number>();
  for (const excerpt of ev.excerpts) {
    for (const line of excerpt.lines) {
      if (line.kind === "group" || seen.has(line.n)) continue;
      seen.add(line.n);
      lines.push({ n: line.n, text: line.text });
      if (line.kind === "error") {
        errors.push({ n: line.n, text: line.text });
        if (excerpt.step !== null) failedSteps.add(excerpt.step);
      }
    }
  }
  for (const a of ev.annotations) {
    const item = { n: 0, text: `${a.path}${a.line !== null ? `:${a.line}` : ""}: ${a.message}` };
    lines.push(item);
    if (a.level === "failure") errors.push(item);
  }
  const tests = ev.tests.map((t) => ({
    n: 0,
    text: `${t.classname ? `${t.classname}.` : ""}${t.name}: ${t.message}`,
  }));
  const steps = [...failedSteps].map((text) => ({ n: 0, text }));
  const targets = { line: lines, error: errors, step: steps, test: tests };

  const hits: Hit[] = [];
  for (const rule of rules.rules) {
    const items = targets[rule.applies_to].filter((item) => rule.regex.test(item.text));
    if (items.length > 0) hits.push({ rule, items });
  }
  return hits;
}

/**
 * The lines that name the failure: those of the heaviest signature rule of `category`. With none
 * (a category decided by summaries only), the failed step and its first error line.
 */
function signatureLines(hits: Hit[], category: Category, ev: Evidence): string[] {
  const candidates = hits
    .filter((h) => h.rule.category === category && h.rule.signature)
    .sort((a, b) => b.rule.weight - a.rule.weight);
  const best = candidates[0];
  if (best) return best.items.map((i) => i.text);
  const firstError = ev.excerpts.flatMap((e) => e.lines).find((l) => l.kind === "error");
  const summary = hits.find((h) => h.rule.category === category);
  const parts = [ev.failed_step, firstError?.text ?? summary?.items[0]?.text].filter(
    (p): p is string => typeof p === "string" && p.length > 0,
  );
  return parts.length > 0 ? [parts.join(": ")] : [];
}

function evidenceLines(hits: Hit[], category: Category): Classification["lines"] {
  const byLine = new Map<string, Classification["lines"][number]>();
  for (const h of hits) {
    if (h.rule.category !== category || h.rule.applies_to === "step") continue;
    for (const item of h.items) {
      const key = item.n > 0 ? `#${item.n}` : item.text;
      if (!byLine.has(key)) byLine.set(key, { n: item.n, text: item.text, rule: h.rule.id });
    }
  }
  return [...byLine.values()].sort((a, b) => a.n - b.n).slice(0, MAX_LINES);
}

function describeRules(fired: FiredRule[], category: FailureCategory): string {
  return fired
    .filter((f) => f.category === category)
    .map((f) => (f.matches > 1 ? `${f.id} ×${f.matches}` : f.id))
    .join(", ");
}

function reasonFor(
  top: FailureCategory,
  fired: FiredRule[],
  ranked: FailureCategory[],
  scores: Map<FailureCategory, number>,
): string {
  const next = ranked[1];
  const runnerUp = next === undefined ? "" : `; next: ${next} (${round(scores.get(next)!)})`;
  return `${top} (${round(scores.get(top)!)}): ${describeRules(fired, top)}${runnerUp}`;
}

function unknownVerdict(
  ev: Evidence,
  top: FailureCategory | undefined,
  topScore: number,
): Omit<Classification, "scores" | "rules"> {
  const firstError = ev.excerpts.flatMap((e) => e.lines).find((l) => l.kind === "error");
  const why = ev.no_error_lines
    ? "the log has no ##[error] line (no step reported a failure) and no rule recognised a failure"
    : top === undefined
      ? "no rule recognised the failure"
      : `the evidence is too weak: ${top} scored ${round(topScore)}, below ${MIN_SCORE}`;
  return {
    category: "unknown",
    confidence: 0,
    signature: signatureOf("unknown", signatureLines([], "unknown", ev)),
    reason: firstError ? `${why}; first error: ${firstError.text}` : why,
    lines: [],
  };
}

function withHistory(
  verdict: Omit<Classification, "scores" | "rules">,
  h: History,
  ev: Evidence,
  hits: Hit[],
): Omit<Classification, "scores" | "rules"> {
  const what =
    h.sameShaPassed && h.passedOnRerun
      ? "passed on the same commit and on a rerun"
      : h.sameShaPassed
        ? "passed on the same commit"
        : "passed on a rerun";
  if (verdict.category === "infra" && verdict.confidence >= 0.5) {
    return { ...verdict, reason: `${verdict.reason}; the job ${what}, as infrastructure failures do` };
  }
  if (verdict.category === "flaky") {
    return { ...verdict, confidence: 0.97, reason: `the job ${what}; ${verdict.reason}` };
  }
  const confidence = h.sameShaPassed && h.passedOnRerun ? 0.97 : h.passedOnRerun ? 0.95 : 0.9;
  const underlying = verdict.category;
  const lines = signatureLines(hits, underlying, ev);
  return {
    category: "flaky",
    confidence,
    signature: signatureOf("flaky", lines),
    reason: `the same job ${what}; the failure looked like ${underlying}: ${verdict.reason}`,
    lines: verdict.lines,
    underlying,
  };
}
