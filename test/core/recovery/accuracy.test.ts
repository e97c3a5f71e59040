import { describe, expect, it } from "@jest/globals";
import path from "node:path";
import { evaluateCorpus, loadManifest } from "../../../src/cli/commands/classify.js";
import { measureAccuracy, renderAccuracyTable } from "../../../src/core/recovery/accuracy.js";
import { CATEGORIES } from "../../../src/core/recovery/schema.js";

const MANIFEST = path.resolve(import.meta.dirname, "../../fixtures/logs/manifest.json");

describe("measureAccuracy", () => {
  it("computes precision and recall per class and overall accuracy", () => {
    const report = measureAccuracy([
      { expected: "test", actual: "test" },
      { expected: "test", actual: "lint" },
      { expected: "lint", actual: "lint" },
      { expected: "infra", actual: "unknown" },
    ]);
    expect(report).toEqual({
      total: 4,
      correct: 2,
      accuracy: 0.5,
      classes: [
        { category: "infra", support: 1, predicted: 0, correct: 0, precision: null, recall: 0 },
        { category: "lint", support: 1, predicted: 2, correct: 1, precision: 0.5, recall: 1 },
        { category: "test", support: 2, predicted: 1, correct: 1, precision: 1, recall: 0.5 },
        { category: "unknown", support: 0, predicted: 1, correct: 0, precision: 0, recall: null },
      ],
    });
    expect(renderAccuracyTable(report).split("\n")).toEqual([
      "| class | logs | classified as | correct | precision | recall |",
      "| --- | ---: | ---: | ---: | ---: | ---: |",
      "| infra | 1 | 0 | 0 | — | 0.0% |",
      "| lint | 1 | 2 | 1 | 50.0% | 100.0% |",
      "| test | 2 | 1 | 1 | 100.0% | 50.0% |",
      "| unknown | 0 | 1 | 0 | 0.0% | — |",
      "| **all** | 4 | 4 | 2 | | **50.0%** accuracy |",
    ]);
  });
});

describe("the classifier on the log corpus (test/fixtures/logs)", () => {
  it("is at least 90% accurate overall, and finds at least 75% of every class", async () => {
    const manifest = await loadManifest(MANIFEST);
    const { results, report } = await evaluateCorpus(MANIFEST);
    expect(results.every((r) => r.error === undefined)).toBe(true);
    expect(report.total).toBe(Object.keys(manifest.logs).length);
    const misses = results
      .filter((r) => r.result!.classification.category !== r.expected)
      .map((r) => `${r.file}: expected ${r.expected}, got ${r.result!.classification.category}`);
    // eslint-disable-next-line no-console -- the table is meant to be read in the test output
    console.log(
      `Classifier accuracy on ${report.total} logs:\n\n${renderAccuracyTable(report)}\n` +
        (misses.length > 0 ? `\nMisclassified:\n${misses.join("\n")}\n` : ""),
    );
    expect(report.accuracy).toBeGreaterThanOrEqual(0.9);
    for (const c of report.classes) {
      if (c.support === 0) continue;
      expect({ category: c.category, recallAtLeast75: (c.recall ?? 0) >= 0.75 }).toEqual({
        category: c.category,
        recallAtLeast75: true,
      });
    }
    // The corpus covers every class with at least 8 logs (3 for unknown).
    for (const category of CATEGORIES) {
      const logs = report.classes.find((c) => c.category === category)?.support ?? 0;
      expect({ category, enough: logs >= (category === "unknown" ? 3 : 8) }).toEqual({
        category,
        enough: true,
      });
    }
  });
});
