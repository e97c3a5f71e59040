import { mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { packageRoot } from "./defaults.js";
import { generateSchemas, renderSchemaFile } from "./json-schema.js";

/**
 * `npm run schema`: writes schema/*.schema.json from the zod schemas and deletes schema files that
 * are no longer generated. `npm run schema -- --check` changes nothing and exits 1 when the
 * committed files differ, for CI.
 */

export interface SchemaDirReport {
  written: string[];
  removed: string[];
  unchanged: string[];
}

export async function syncSchemaDir(dir: string, check: boolean): Promise<SchemaDirReport> {
  const expected = Object.entries(generateSchemas()).map(
    ([file, schema]) => [file, renderSchemaFile(schema)] as const,
  );
  const report: SchemaDirReport = { written: [], removed: [], unchanged: [] };
  if (!check) await mkdir(dir, { recursive: true });
  for (const [file, text] of expected) {
    const current = await readFile(join(dir, file), "utf8").catch(() => null);
    if (current === text) {
      report.unchanged.push(file);
      continue;
    }
    report.written.push(file);
    if (!check) await writeFile(join(dir, file), text);
  }
  const present = await readdir(dir).catch(() => [] as string[]);
  const wanted = new Set(expected.map(([file]) => file));
  for (const file of present.filter((f) => f.endsWith(".json") && !wanted.has(f)).sort()) {
    report.removed.push(file);
    if (!check) await rm(join(dir, file));
  }
  return report;
}

async function main(argv: string[]): Promise<number> {
  const check = argv.includes("--check");
  const dir = join(packageRoot(), "schema");
  const report = await syncSchemaDir(dir, check);
  const stale = report.written.length + report.removed.length;
  const lines = [
    ...report.written.map((f) => `${check ? "stale" : "wrote"}   schema/${f}`),
    ...report.removed.map((f) => `${check ? "extra" : "removed"} schema/${f}`),
  ];
  if (lines.length > 0) process.stdout.write(lines.join("\n") + "\n");
  if (check && stale > 0) {
    process.stderr.write("JSON Schemas are out of date: run `npm run schema` and commit schema/.\n");
    return 1;
  }
  process.stdout.write(
    `${report.unchanged.length + (check ? 0 : report.written.length)} schema files up to date.\n`,
  );
  return 0;
}

// Run only as a script, so tests can import syncSchemaDir.
const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(resolve(entry)).href) {
  void main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(
        `schema generation failed: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      process.exitCode = 1;
    },
  );
}
