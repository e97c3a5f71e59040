import { z } from "zod";

/**
 * The data of failure recovery's first two steps: the evidence taken from a failed job (log
 * excerpts, annotations, failing test cases) and the classification made from it. Evidence is
 * built on the runner or by the GitHub door; classification is a pure function of evidence, rules
 * and history, so the same log gives the same answer on any replica and in `switchyard classify`.
 */

/**
 * Failure classes, in the order ties are broken: the earlier a stage fails in a pipeline, the more
 * likely it caused what failed after it (a missing dependency breaks the build, which fails the
 * tests), so on equal scores the earlier stage wins.
 */
export const FAILURE_CATEGORIES = [
  "infra",
  "dependency",
  "build",
  "type",
  "format",
  "lint",
  "test",
  "flaky",
] as const;
export const FailureCategorySchema = z.enum(FAILURE_CATEGORIES);
export type FailureCategory = z.infer<typeof FailureCategorySchema>;

export const CATEGORIES = [...FAILURE_CATEGORIES, "unknown"] as const;
export const CategorySchema = z.enum(CATEGORIES);
export type Category = z.infer<typeof CategorySchema>;

// ---------------------------------------------------------------------------------------------
// Evidence

export const EvidenceLineKindSchema = z.enum(["error", "warning", "match", "context", "group"]);
export type EvidenceLineKind = z.infer<typeof EvidenceLineKindSchema>;

export const EvidenceLineSchema = z.strictObject({
  /** 1-based line number in the job log. */
  n: z.number().int().min(1),
  /** The line without its timestamp, colour codes or `##[error]`-style prefix. */
  text: z.string(),
  /**
   * error/warning: a `##[error]` / `##[warning]` line; match: a line a classification rule
   * recognised; context: a neighbour of either; group: a folded `##[group]` (its header only).
   */
  kind: EvidenceLineKindSchema,
  /** For a folded group, how many lines it held. */
  folded: z.number().int().min(0).optional(),
});
export type EvidenceLine = z.infer<typeof EvidenceLineSchema>;

/** A run of consecutive log lines within one step. */
export const ExcerptSchema = z.strictObject({
  step: z.string().nullable(),
  lines: z.array(EvidenceLineSchema),
});
export type Excerpt = z.infer<typeof ExcerptSchema>;

/** A check-run annotation (`path:line`), as the Checks API returns it. */
export const AnnotationSchema = z.strictObject({
  path: z.string(),
  line: z.number().int().min(0).nullable(),
  level: z.enum(["failure", "warning", "notice"]),
  message: z.string(),
  title: z.string().nullable().default(null),
});
export type Annotation = z.infer<typeof AnnotationSchema>;

/** One failing test case from a JUnit XML report. */
export const TestFailureSchema = z.strictObject({
  suite: z.string(),
  name: z.string(),
  classname: z.string(),
  kind: z.enum(["failure", "error"]),
  message: z.string(),
  file: z.string().optional(),
});
export type TestFailure = z.infer<typeof TestFailureSchema>;

const Count = z.number().int().min(0);

export const EvidenceSchema = z
  .strictObject({
    /** Where the log came from: a file name, or "owner/repo job 123 (name)". */
    source: z.string(),
    /** Size of the log read, in bytes and lines. */
    bytes: Count,
    lines: Count,
    /** Every step the log started (`##[group]Run …` headers), in order; capped. */
    steps: z.array(z.string()),
    /** The step of the first `##[error]` line, if any. */
    failed_step: z.string().nullable(),
    excerpts: z.array(ExcerptSchema),
    /** `##[error]` lines seen, kept or not. */
    error_lines: Count,
    /** No `##[error]` line at all: the excerpts then end with the tail of the log. */
    no_error_lines: z.boolean(),
    /** Something worth keeping was left out to stay under the size cap. */
    truncated: z.boolean(),
    /** Error and matched lines left out by the caps. */
    dropped_lines: Count,
    /** NUL bytes, invalid UTF-8 or control characters were replaced. */
    binary: z.boolean(),
    /** Lines cut to the maximum line length. */
    long_lines: Count,
    /** Things a reader should know about the log itself ("the log ends mid-line"). */
    notes: z.array(z.string()),
    annotations: z.array(AnnotationSchema).default([]),
    tests: z.array(TestFailureSchema).default([]),
  })
  .describe("What a failed job left behind, reduced to what explains the failure.");
export type Evidence = z.infer<typeof EvidenceSchema>;
export type EvidenceInput = z.input<typeof EvidenceSchema>;

// ---------------------------------------------------------------------------------------------
// Rules

/**
 * What a rule's pattern is tested against:
 * - line: every evidence line (error lines included) and every annotation;
 * - error: only `##[error]` lines and failure annotations (runner messages such as
 *   "The operation was canceled." mean something only there);
 * - step: the names of the steps that failed ("Run npm run lint");
 * - test: each failing JUnit test case, as "classname.name: message".
 */
export const RULE_TARGETS = ["line", "error", "step", "test"] as const;
export type RuleTarget = (typeof RULE_TARGETS)[number];

export const RULE_ID_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const MAX_PATTERN_LENGTH = 500;

/**
 * Why a pattern could take more than polynomial time on a line, or null when it cannot. Lines
 * are capped before matching, so what must be ruled out is exponential backtracking: a repeated
 * group that holds a repeat or an alternation (`(a+)+`, `(\w*\s?)*`, `(a|ab)*`), and
 * backreferences and lookbehinds, which this check does not model. V8 runs everything else in
 * time polynomial in the (capped) line length.
 */
export function patternProblem(source: string): string | null {
  if (source.length > MAX_PATTERN_LENGTH) return `longer than ${MAX_PATTERN_LENGTH} characters`;
  // For each open group: whether a repeat or an alternation appeared inside it.
  const stack: { repeat: boolean; alternation: boolean }[] = [];
  let current = { repeat: false, alternation: false };
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === "\\") {
      const next = source[i + 1] ?? "";
      if (/[1-9]/.test(next) || next === "k") return "backreferences (\\1, \\k<name>) are not allowed";
      i++;
      continue;
    }
    if (c === "[") {
      // A character class is one atom: quantifier characters inside it are literals.
      i++;
      if (source[i] === "^") i++;
      if (source[i] === "]") i++;
      while (i < source.length && source[i] !== "]") i += source[i] === "\\" ? 2 : 1;
      continue;
    }
    if (c === "(") {
      if (source.startsWith("(?<=", i) || source.startsWith("(?<!", i)) {
        return "lookbehind ((?<=…), (?<!…)) is not allowed";
      }
      stack.push(current);
      current = { repeat: false, alternation: false };
      continue;
    }
    if (c === ")") {
      const inner = current;
      current = stack.pop() ?? { repeat: false, alternation: false };
      const repeated = isRepeat(source, i + 1);
      if (repeated && (inner.repeat || inner.alternation)) {
        return "a repeated group holds a repeat or an alternation (like (a+)+ or (a|ab)*), which can take exponential time";
      }
      current.repeat ||= inner.repeat || repeated;
      current.alternation ||= inner.alternation;
      continue;
    }
    if (c === "|") current.alternation = true;
    else if (isRepeat(source, i)) current.repeat = true;
  }
  return null;
}

/** Whether the quantifier at `i` (if any) lets its atom repeat: *, + or {n,m} with m > 1. */
function isRepeat(source: string, i: number): boolean {
  const c = source[i];
  if (c === "*" || c === "+") return true;
  return c === "{" && repeatsMoreThanOnce(source, i);
}

function repeatsMoreThanOnce(source: string, brace: number): boolean {
  const m = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(brace, brace + 24));
  if (!m) return false;
  if (m[2] === undefined) return Number(m[1]) > 1;
  return m[3] === "" || Number(m[3]) > 1;
}

export const RuleSchema = z
  .strictObject({
    id: z
      .string()
      .regex(RULE_ID_RE, "a rule id: lower-case letters, digits, '.', '_' or '-', at most 64 characters"),
    category: FailureCategorySchema,
    /** A JavaScript regular expression, without slashes; tested against lines without timestamps or colours. */
    pattern: z.string().min(1),
    ignore_case: z.boolean().default(false),
    /** Evidence weight; the first match counts fully, the second half, the third a quarter, no more. */
    weight: z.number().positive().max(100),
    applies_to: z.enum(RULE_TARGETS).default("line"),
    /** Whether a line this rule matched may name the failure in its signature (summaries should not). */
    signature: z.boolean().default(true),
    description: z.string().max(300).optional(),
  })
  .superRefine((rule, ctx) => {
    const problem = patternProblem(rule.pattern);
    if (problem) {
      ctx.addIssue({ code: "custom", path: ["pattern"], message: `unsafe pattern: ${problem}` });
      return;
    }
    try {
      new RegExp(rule.pattern, rule.ignore_case ? "i" : "");
    } catch (error) {
      const why = error instanceof Error ? error.message.replace(/^Invalid regular expression: /, "") : "";
      ctx.addIssue({ code: "custom", path: ["pattern"], message: `not a valid regular expression: ${why}` });
    }
  });
export type Rule = z.infer<typeof RuleSchema>;
export type RuleInput = z.input<typeof RuleSchema>;

/**
 * `recovery.rules` in `.github/switchyard.yml`: rules added to the shipped table (a rule with the
 * id of a shipped rule replaces it) and ids of shipped rules to switch off.
 */
export const RecoveryRulesSchema = z
  .strictObject({
    add: z.array(RuleSchema).max(200).default([]),
    disable: z.array(z.string().regex(RULE_ID_RE, "a rule id")).max(500).default([]),
  })
  .describe("Failure classification rules added to, or switched off in, the shipped rule table.");
export type RecoveryRules = z.infer<typeof RecoveryRulesSchema>;
export type RecoveryRulesInput = z.input<typeof RecoveryRulesSchema>;

// ---------------------------------------------------------------------------------------------
// Classification

/**
 * What else is known about the failed job. Flakiness cannot be read from one log: it shows when
 * the same job passed on the same commit, or passed when it was re-run.
 */
export const HistorySchema = z.strictObject({
  sameShaPassed: z.boolean().optional(),
  passedOnRerun: z.boolean().optional(),
});
export type History = z.infer<typeof HistorySchema>;

export const FiredRuleSchema = z.strictObject({
  id: z.string(),
  category: FailureCategorySchema,
  weight: z.number(),
  matches: z.number().int().min(1),
  score: z.number(),
});
export type FiredRule = z.infer<typeof FiredRuleSchema>;

export const ClassificationSchema = z
  .strictObject({
    category: CategorySchema,
    /** 0..1: how strong the evidence for `category` is and how far ahead of the next category. */
    confidence: z.number().min(0).max(1),
    /** `category:normalised text`, equal for repeats of the same failure. */
    signature: z.string(),
    /** One sentence a person can check against the evidence. */
    reason: z.string(),
    /** Scores per category, for the categories any rule fired for. */
    scores: z.record(z.string(), z.number()),
    /** Every rule that fired, strongest first. */
    rules: z.array(FiredRuleSchema),
    /** The evidence lines behind the category, in log order (line 0: an annotation or test case). */
    lines: z.array(z.strictObject({ n: z.number().int().min(0), text: z.string(), rule: z.string() })),
    /** For a flaky verdict from history: what the failure looked like. */
    underlying: CategorySchema.optional(),
  })
  .describe("The class of a CI failure, how sure the classifier is, and why.");
export type Classification = z.infer<typeof ClassificationSchema>;
