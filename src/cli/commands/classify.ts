import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import path from "node:path";
import { readConfigFile } from "../../config/read-file.js";
import { formatPath, locate } from "../../config/validate.js";
import { isPlainObject, parseYamlSource } from "../../config/yaml-source.js";
import { ConfigError, InputError, type Problem } from "../../core/errors.js";
import {
  CorpusManifestSchema,
  measureAccuracy,
  renderAccuracyTable,
  type AccuracyReport,
  type CorpusManifest,
} from "../../core/recovery/accuracy.js";
import { classify } from "../../core/recovery/classify.js";
import { scanJUnit } from "../../core/recovery/junit.js";
import { renderEvidence } from "../../core/recovery/render.js";
import { compileRules, defaultRuleSet, type RuleSet } from "../../core/recovery/rules.js";
import {
  RecoveryRulesSchema,
  type Category,
  type Classification,
  type Evidence,
  type History,
  type TestFailure,
} from "../../core/recovery/schema.js";
import { DEFAULT_EVIDENCE_BYTES, extractEvidence } from "../../runner/evidence.js";
import { EXIT, parseCommandArgs, UsageError, type CliIO, type Command } from "../io.js";
import { readInputFile } from "../task-input.js";

const usage = `Usage: switchyard classify <log-file...> [options]
       switchyard classify --expect <manifest.json> [log-file...] [options]

Reads GitHub Actions job logs (as downloaded from a run's page or from the API) and shows, for
each, the class of the failure (format, lint, type, test, build, dependency, infra, flaky or
unknown), how sure the classifier is, the failure's signature and the log lines behind it.
Nothing is sent anywhere. Logs of any size are read as a stream.

Options:
  --json               print each log's classification and evidence as JSON
  --markdown           print the evidence document an AI tool would be given
  --rules <file>       rules to add to or switch off in the shipped table: a YAML or JSON file
                       with 'add:' and 'disable:', or a .github/switchyard.yml ('recovery.rules')
  --junit <file>       failing test cases from this JUnit XML report count as evidence
                       (may be repeated)
  --passed-on-rerun    the job passed when it was re-run (makes a failure flaky)
  --same-sha-passed    the same job passed on the same commit (makes a failure flaky)
  --expect <manifest>  compare with the categories a corpus manifest expects and print precision
                       and recall per class; without log files, every log in the manifest
  --max-bytes <n>      evidence kept per log, in bytes (default ${DEFAULT_EVIDENCE_BYTES})
  -h, --help           show this help

Exit codes: 0 every log was classified, 1 a log or another file could not be read, 2 usage.`;

export interface ClassifiedLog {
  file: string;
  evidence: Evidence;
  classification: Classification;
}

export interface ClassifyFileOptions {
  rules?: RuleSet;
  history?: History;
  maxBytes?: number;
  tests?: TestFailure[];
  /** How to name the file in the evidence (default: the path as given). */
  display?: string;
}

/** Reads one log as a stream and classifies it. Throws an InputError when it cannot be read. */
export async function classifyLogFile(file: string, opts: ClassifyFileOptions = {}): Promise<ClassifiedLog> {
  const display = opts.display ?? file;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new InputError(`cannot read ${display}: not a file`);
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError(`cannot read ${display}: ${describeFsError(error)}`);
  }
  let evidence: Evidence;
  try {
    evidence = await extractEvidence(createReadStream(file, { highWaterMark: 64 * 1024 }), {
      maxBytes: opts.maxBytes ?? DEFAULT_EVIDENCE_BYTES,
      source: display,
      ...(opts.rules ? { rules: opts.rules } : {}),
    });
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError(`cannot read ${display}: ${describeFsError(error)}`);
  }
  if (opts.tests && opts.tests.length > 0) evidence = { ...evidence, tests: opts.tests };
  const classification = classify(evidence, {
    ...(opts.rules ? { rules: opts.rules } : {}),
    ...(opts.history ? { history: opts.history } : {}),
  });
  return { file: display, evidence, classification };
}

function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const known: Record<string, string> = {
    ENOENT: "no such file",
    EACCES: "permission denied",
    EISDIR: "is a directory",
    ENOTDIR: "a part of the path is not a directory",
    EMFILE: "too many open files",
  };
  if (code && known[code]) return known[code];
  return code ?? (error instanceof Error ? error.message : String(error));
}

/**
 * The shipped rules with a repository's additions: from a file holding `add:`/`disable:`, or a
 * whole .github/switchyard.yml holding `recovery.rules`. Problems name the file, line and key.
 */
export async function loadRules(file: string, display = file): Promise<RuleSet> {
  const source = await readConfigFile(file, display);
  if (source === null) throw new InputError(`cannot read rules file ${display}: no such file`);
  const parsed = parseYamlSource(source);
  if (!parsed.ok) throw new ConfigError(parsed.problems);
  const root = parsed.value;
  let prefix: (string | number)[] = [];
  let raw: unknown = root;
  if ("recovery" in root) {
    const recovery = root.recovery;
    raw = isPlainObject(recovery) ? recovery.rules : undefined;
    prefix = ["recovery", "rules"];
    if (raw === undefined) return defaultRuleSet();
  }
  const result = RecoveryRulesSchema.safeParse(raw);
  if (!result.success) {
    const problems: Problem[] = result.error.issues.map((issue) => {
      const at = [...prefix, ...(issue.path as (string | number)[])];
      const { written: _written, ...loc } = locate(root, at);
      return { ...loc, path: formatPath(root, at) || "rules", message: issue.message };
    });
    throw new ConfigError(problems);
  }
  return compileRules(result.data, { file: display });
}

export interface CorpusResult {
  file: string;
  expected: Category;
  note?: string;
  result?: ClassifiedLog;
  error?: string;
}

/** Reads and checks a corpus manifest; log paths in it are relative to its folder. */
export async function loadManifest(file: string, display = file): Promise<CorpusManifest> {
  const text = await readInputFile(file, "manifest");
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new InputError(`manifest ${display} is not JSON`);
  }
  const parsed = CorpusManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(
      `manifest ${display}: ${issue.path.join(".") || "root"}: ${issue.message} (expected { "version": 1, "logs": { "<file>": { "category": "test" } } })`,
    );
  }
  return parsed.data;
}

/**
 * Classifies the logs of a corpus (all of them, or `only` — paths as given on the command line)
 * and measures the result against the manifest's labels.
 */
export async function evaluateCorpus(
  manifestFile: string,
  opts: { rules?: RuleSet; only?: string[]; maxBytes?: number; cwd?: string } = {},
): Promise<{ results: CorpusResult[]; report: AccuracyReport }> {
  const manifest = await loadManifest(manifestFile);
  const dir = path.dirname(manifestFile);
  const cwd = opts.cwd ?? process.cwd();
  let entries = Object.entries(manifest.logs).map(([rel, label]) => ({
    abs: path.resolve(dir, rel),
    rel,
    label,
  }));
  if (opts.only && opts.only.length > 0) {
    const wanted = opts.only.map((f) => path.resolve(cwd, f));
    const missing = wanted.filter((w) => !entries.some((e) => e.abs === w));
    if (missing.length > 0) {
      throw new InputError(
        `not in the manifest ${path.relative(cwd, manifestFile) || manifestFile}: ${missing.map((m) => path.relative(cwd, m)).join(", ")}`,
      );
    }
    entries = entries.filter((e) => wanted.includes(e.abs));
  }
  const results: CorpusResult[] = [];
  for (const { abs, rel, label } of entries) {
    const base: CorpusResult = {
      file: rel,
      expected: label.category,
      ...(label.note ? { note: label.note } : {}),
    };
    try {
      const result = await classifyLogFile(abs, {
        display: rel,
        ...(opts.rules ? { rules: opts.rules } : {}),
        ...(label.history ? { history: label.history } : {}),
        ...(opts.maxBytes ? { maxBytes: opts.maxBytes } : {}),
      });
      results.push({ ...base, result });
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      results.push({ ...base, error: error.message });
    }
  }
  const report = measureAccuracy(
    results.map((r) => ({ expected: r.expected, actual: r.result?.classification.category ?? "unknown" })),
  );
  return { results, report };
}

function classificationText(r: ClassifiedLog): string {
  const c = r.classification;
  const lines = [
    r.file,
    `  category    ${c.category} (confidence ${c.confidence.toFixed(2)})${c.underlying ? `, looked like ${c.underlying}` : ""}`,
    `  signature   ${c.signature}`,
    `  why         ${c.reason}`,
    `  step        ${r.evidence.failed_step ?? "(no step reported an error)"}`,
  ];
  for (const note of r.evidence.notes) lines.push(`  note        ${note}`);
  const shown =
    c.lines.length > 0
      ? c.lines.map((l) => ({ n: l.n, text: l.text, tag: l.rule }))
      : r.evidence.excerpts
          .flatMap((e) => e.lines)
          .filter((l) => l.kind === "error" || r.evidence.no_error_lines)
          .slice(-10)
          .map((l) => ({ n: l.n, text: l.kind === "error" ? `##[error]${l.text}` : l.text, tag: "" }));
  if (shown.length > 0) {
    lines.push("  evidence");
    const width = Math.max(...shown.map((l) => String(l.n).length));
    for (const l of shown) {
      const where = l.n > 0 ? `L${String(l.n).padEnd(width)}` : "-".padEnd(width + 1);
      lines.push(`    ${where}  ${l.text.trim()}${l.tag ? `   [${l.tag}]` : ""}`);
    }
  }
  return lines.join("\n");
}

async function readJUnit(files: string[], io: CliIO): Promise<TestFailure[]> {
  const failures: TestFailure[] = [];
  for (const file of files) {
    const text = await readInputFile(path.resolve(io.cwd, file), "JUnit report");
    const scan = scanJUnit(text, { maxCases: 50 - failures.length });
    if (scan.tests === 0) {
      throw new InputError(`JUnit report ${file} has no <testcase> elements: is it a JUnit XML file?`);
    }
    failures.push(...scan.failures);
  }
  return failures;
}

export const classifyCommand: Command = {
  name: "classify",
  summary: "classify CI failures from GitHub Actions job logs",
  usage,
  async run(args, io: CliIO) {
    const { values, positionals } = parseCommandArgs(args, {
      json: { type: "boolean" },
      markdown: { type: "boolean" },
      rules: { type: "string" },
      junit: { type: "string", multiple: true },
      "passed-on-rerun": { type: "boolean" },
      "same-sha-passed": { type: "boolean" },
      expect: { type: "string" },
      "max-bytes": { type: "string" },
    });
    if (values.help) {
      io.stdout(usage + "\n");
      return EXIT.ok;
    }
    if (values.json && values.markdown) throw new UsageError("choose one of --json and --markdown");
    if (positionals.length === 0 && values.expect === undefined) {
      throw new UsageError("expected at least one log file (or --expect <manifest.json>)");
    }
    let maxBytes: number | undefined;
    if (values["max-bytes"] !== undefined) {
      maxBytes = Number(values["max-bytes"]);
      if (!Number.isInteger(maxBytes) || maxBytes < 1024 || maxBytes > 64 * 1024 * 1024) {
        throw new UsageError(`--max-bytes must be a whole number from 1024 to ${64 * 1024 * 1024}`);
      }
    }
    const rules =
      values.rules !== undefined
        ? await loadRules(path.resolve(io.cwd, values.rules), values.rules)
        : undefined;

    if (values.expect !== undefined) {
      if (values.markdown || values.junit || values["passed-on-rerun"] || values["same-sha-passed"]) {
        throw new UsageError(
          "--expect takes history from the manifest; it cannot be combined with --markdown, --junit or history flags",
        );
      }
      const { results, report } = await evaluateCorpus(path.resolve(io.cwd, values.expect), {
        only: positionals,
        cwd: io.cwd,
        ...(rules ? { rules } : {}),
        ...(maxBytes ? { maxBytes } : {}),
      });
      const unreadable = results.filter((r) => r.error !== undefined);
      if (values.json) {
        const rows = results.map((r) => ({
          file: r.file,
          expected: r.expected,
          ...(r.result
            ? {
                category: r.result.classification.category,
                confidence: r.result.classification.confidence,
                signature: r.result.classification.signature,
              }
            : { error: r.error }),
        }));
        io.stdout(JSON.stringify({ results: rows, report }, null, 2) + "\n");
      } else {
        const misses = results.filter((r) => r.result && r.result.classification.category !== r.expected);
        for (const r of misses) {
          const c = r.result!.classification;
          io.stdout(
            `miss  ${r.file}: expected ${r.expected}, got ${c.category} (${c.confidence.toFixed(2)}): ${c.reason}\n`,
          );
        }
        for (const r of unreadable) io.stderr(`switchyard classify: ${r.error}\n`);
        io.stdout(
          `${misses.length > 0 ? "\n" : ""}${report.total} logs, ${report.correct} classified as expected (${(report.accuracy * 100).toFixed(1)}%).\n\n${renderAccuracyTable(report)}\n`,
        );
      }
      return unreadable.length > 0 ? EXIT.rejected : EXIT.ok;
    }

    const history: History = {
      ...(values["passed-on-rerun"] ? { passedOnRerun: true } : {}),
      ...(values["same-sha-passed"] ? { sameShaPassed: true } : {}),
    };
    const tests = values.junit ? await readJUnit(values.junit, io) : [];
    const done: ClassifiedLog[] = [];
    let failed = 0;
    for (const file of positionals) {
      try {
        const result = await classifyLogFile(path.resolve(io.cwd, file), {
          display: file,
          history,
          tests,
          ...(rules ? { rules } : {}),
          ...(maxBytes ? { maxBytes } : {}),
        });
        done.push(result);
        if (!values.json) {
          const text = values.markdown
            ? renderEvidence(result.evidence, { classification: result.classification })
            : classificationText(result);
          io.stdout((done.length > 1 ? "\n" : "") + text + "\n");
        }
      } catch (error) {
        if (!(error instanceof InputError)) throw error;
        failed++;
        io.stderr(`switchyard classify: ${error.message}\n`);
      }
    }
    if (values.json) io.stdout(JSON.stringify(done, null, 2) + "\n");
    return failed > 0 ? EXIT.rejected : EXIT.ok;
  },
};
