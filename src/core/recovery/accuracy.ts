import { z } from "zod";
import { CATEGORIES, CategorySchema, HistorySchema, type Category } from "./schema.js";

/**
 * Measuring the classifier on a labelled corpus: per class, precision (of the logs it put in the
 * class, how many belong there) and recall (of the logs that belong there, how many it found),
 * and overall accuracy. The same code serves the accuracy test and `switchyard classify --expect`.
 */

/** A corpus manifest: log file (relative to the manifest) -> the category it should get. */
export const CorpusManifestSchema = z.strictObject({
  version: z.literal(1),
  logs: z.record(
    z.string().min(1),
    z.strictObject({
      category: CategorySchema,
      /** What else was known about the job (flaky needs it). */
      history: HistorySchema.optional(),
      /** Why the log is in the corpus, when it is a tricky one. */
      note: z.string().optional(),
      /**
       * "holdout": written after the rules were settled, to measure them on logs they were not
       * tuned on; absent: written together with the rules.
       */
      split: z.enum(["holdout-1", "holdout-2"]).optional(),
    }),
  ),
});
export type CorpusManifest = z.infer<typeof CorpusManifestSchema>;

export interface Outcome {
  expected: Category;
  actual: Category;
}

export interface ClassScore {
  category: Category;
  /** Logs labelled with the class. */
  support: number;
  /** Logs the classifier put in the class. */
  predicted: number;
  correct: number;
  /** null when nothing was put in the class (undefined, not 0 or 1). */
  precision: number | null;
  /** null when no log is labelled with the class. */
  recall: number | null;
}

export interface AccuracyReport {
  total: number;
  correct: number;
  accuracy: number;
  classes: ClassScore[];
}

export function measureAccuracy(outcomes: readonly Outcome[]): AccuracyReport {
  const classes = CATEGORIES.map((category): ClassScore => {
    const support = outcomes.filter((o) => o.expected === category).length;
    const predicted = outcomes.filter((o) => o.actual === category).length;
    const correct = outcomes.filter((o) => o.expected === category && o.actual === category).length;
    return {
      category,
      support,
      predicted,
      correct,
      precision: predicted === 0 ? null : correct / predicted,
      recall: support === 0 ? null : correct / support,
    };
  }).filter((c) => c.support > 0 || c.predicted > 0);
  const correct = outcomes.filter((o) => o.expected === o.actual).length;
  return {
    total: outcomes.length,
    correct,
    accuracy: outcomes.length === 0 ? 0 : correct / outcomes.length,
    classes,
  };
}

function pct(x: number | null): string {
  return x === null ? "—" : `${(x * 100).toFixed(1)}%`;
}

/** A Markdown table, one row per class and a total row. */
export function renderAccuracyTable(report: AccuracyReport): string {
  return [
    "| class | logs | classified as | correct | precision | recall |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    ...report.classes.map(
      (c) =>
        `| ${c.category} | ${c.support} | ${c.predicted} | ${c.correct} | ${pct(c.precision)} | ${pct(c.recall)} |`,
    ),
    `| **all** | ${report.total} | ${report.total} | ${report.correct} | | **${pct(report.accuracy)}** accuracy |`,
  ].join("\n");
}
