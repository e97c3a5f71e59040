import { readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { renderResults, type BenchResult } from "./harness.js";

/**
 * npm run bench            print every figure against its target
 * npm run bench -- --record also write them into docs/benchmarks.md between the markers
 */
const record = process.argv.includes("--record");
// Each suite is imported when its turn comes: the app bench loads Probot and nock, whose heap and
// interceptors would otherwise sit under the pure-CPU suites and show up in their p99.
const suites: [string, () => Promise<BenchResult[]>][] = [
  ["Foundation", async () => (await import("./foundation.bench.js")).benchFoundation()],
  ["Execution", async () => (await import("./execution.bench.js")).benchExecution()],
  ["Recovery evidence", async () => (await import("./evidence.bench.js")).benchEvidence()],
  ["App", async () => (await import("./app.bench.js")).benchApp()],
  ["Analysis", async () => (await import("./analysis.bench.js")).benchAnalysis()],
  ["Analysis through the API", async () => (await import("./analysis-api.bench.js")).benchAnalysisApi()],
];

const machine = `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? "cpu"}, Node ${process.version}, ${os.platform()}`;
const sections: string[] = [];
for (const [title, suite] of suites) {
  process.stderr.write(`running ${title} benchmarks...\n`);
  const results = await suite();
  const table = renderResults(results);
  console.log(`\n## ${title}\n\n${table}\n`);
  sections.push(`### ${title}\n\n${table}`);
}
console.log(`machine: ${machine}`);

if (record) {
  const file = path.join(import.meta.dirname, "../docs/benchmarks.md");
  const doc = await readFile(file, "utf8");
  const start = "<!-- bench:start -->";
  const end = "<!-- bench:end -->";
  const body = `${start}\nRecorded ${new Date().toISOString().slice(0, 10)} on ${machine}.\n\n${sections.join("\n\n")}\n${end}`;
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  if (i === -1 || j === -1) throw new Error(`${file} has no ${start} ... ${end} markers`);
  await writeFile(file, doc.slice(0, i) + body + doc.slice(j + end.length));
  console.log(`recorded in ${path.relative(process.cwd(), file)}`);
}
