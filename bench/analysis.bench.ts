import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { execa } from "execa";
import type { BenchResult } from "./harness.js";
import { prng } from "../test/support/prng.js";

/**
 * Analysis benchmark: `switchyard analyze` over a generated event log of `mib` MiB (1 GiB by
 * default, as the issue asks), in a child Node process of its own so that its peak RSS is the
 * analysis's alone. Targets: at least 100 MB/s on one core, peak RSS under 200 MB.
 *
 * The child runs the analysis bundled to plain JavaScript by esbuild, as the installed CLI runs
 * tsc's output: a TypeScript loader in the child would add its own thread and some 40 MB.
 *
 * The log is written to the system's temp directory as a stream and deleted afterwards. It looks
 * like real runs: task_created, a route decision with four candidates (the bulk of the bytes),
 * execute_started, gate_finished, execute_finished (a fallback attempt now and then), a commit,
 * recovery steps, spread over two weeks so both windows have data, with a truncated line every
 * 100,000 lines.
 */

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const NOW = Date.parse("2026-03-01T12:00:00Z");
const TOOLS = [
  { name: "claude", p: 0.85, ms: 240_000 },
  { name: "codex", p: 0.75, ms: 180_000 },
  { name: "aider", p: 0.6, ms: 90_000 },
  { name: "gemini", p: 0.5, ms: 120_000 },
];
const CAPABILITIES = ["code_generation", "testing", "documentation", "error_fix", "refactoring"];
const FAILURES = ["gate_failed", "no_changes", "tool_failed", "timed_out", "policy_violation"];
const SIGNATURES = [
  "TypeError: Cannot read properties of undefined (reading 'length')",
  "error TS2345: Argument of type 'string' is not assignable to parameter of type 'number'.",
  "Expected: 3, Received: 2",
  "npm ERR! code ERESOLVE",
  "Error: connect ECONNRESET",
];
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

function ulid(ms: number, n: number): string {
  let time = "";
  for (let i = 0, t = ms; i < 10; i++, t = Math.floor(t / 32)) time = CROCKFORD[t % 32]! + time;
  let rest = "";
  for (let i = 0, x = n; i < 16; i++, x = Math.floor(x / 32)) rest = CROCKFORD[x % 32]! + rest;
  return time + rest;
}

/** Writes about `bytes` bytes of event log; returns the lines written. */
export async function writeSyntheticLog(file: string, bytes: number, seed = 1): Promise<number> {
  const random = prng(seed);
  const out = createWriteStream(file);
  let written = 0;
  let lines = 0;
  let n = 0;
  let batch: string[] = [];
  let batchBytes = 0;
  const push = (line: string) => {
    batch.push(line);
    batchBytes += line.length + 1;
    lines++;
    if (lines % 100_000 === 0) {
      batch.push(line.slice(0, line.length >> 1));
      batchBytes += (line.length >> 1) + 1;
      lines++;
    }
  };
  for (let run = 0; written < bytes; run++) {
    const t0 = NOW - Math.floor(random() * 14 * 86_400_000);
    const at = (dt: number) => new Date(t0 + dt).toISOString();
    const key = `acme/widgets#${1 + (run % 5000)}`;
    const runId = ulid(t0, run);
    const head = (dt: number) =>
      `{"id":"${ulid(t0 + dt, n++)}","at":"${at(dt)}","task_key":"${key}","run_id":"${runId}"`;
    const capability = CAPABILITIES[run % CAPABILITIES.length]!;
    const first = Math.floor(random() * TOOLS.length);
    const order = [...TOOLS.slice(first), ...TOOLS.slice(0, first)];
    push(`${head(0)},"type":"task_created","capability":"${capability}","source":"issues"}`);
    const candidates = order
      .map(
        (t, i) =>
          `{"tool":"${t.name}","score":${(0.9 - i * 0.1).toFixed(4)},"status":"${i === 0 ? "chosen" : i < 3 ? "fallback" : "excluded"}",` +
          `${i === 3 ? '"exclusion":"beyond_max_fallbacks",' : ""}"reason":"metrics: 0.${80 - i * 7}3 success (${40 + i}/${50 + i} on '${capability}', prior 2/4) - 0.0${i}5 latency (p50 ${i + 1} min) - 0.0${i}0 cost (0.${i}2)"}`,
      )
      .join(",");
    push(
      `${head(5)},"type":"route_decided","decision":{"task_key":"${key}","capability":"${capability}","strategy":"metrics",` +
        `"tool":"${order[0]!.name}","fallback":["${order[1]!.name}","${order[2]!.name}"],"candidates":[${candidates}],` +
        `"summary":"Routed '${capability}' to ${order[0]!.name} by metrics; fallback: ${order[1]!.name}, ${order[2]!.name}."}}`,
    );
    let dt = 10;
    for (let attempt = 1; attempt <= 2; attempt++) {
      const tool = order[attempt - 1]!;
      const ok = random() < tool.p;
      const duration = Math.round(tool.ms * (0.3 + 1.4 * random()));
      push(`${head(dt)},"type":"execute_started","tool":"${tool.name}","attempt":${attempt}}`);
      dt += duration;
      push(
        `${head(dt)},"type":"gate_finished","tool":"${tool.name}","attempt":${attempt},"gate":{"name":"test","exit_code":${ok ? 0 : 1},` +
          `"timed_out":false,"duration_ms":${Math.round(duration / 10)},"output_tail":"${ok ? "Tests: 42 passed, 42 total" : "FAIL test/retry.test.ts\\n  Expected: 3, Received: 2"}"}}`,
      );
      const outcome = ok
        ? "success"
        : random() < 0.05
          ? "tool_unavailable"
          : FAILURES[Math.floor(random() * FAILURES.length)]!;
      const tokens = Math.floor(5_000 + random() * 50_000);
      push(
        `${head(dt + 1)},"type":"execute_finished","tool":"${tool.name}","attempt":${attempt},"outcome":"${outcome}",` +
          `"duration_ms":${duration},"exit_code":${ok ? 0 : 1},"tokens":${tokens},"cost_usd":${(tokens * 0.000003).toFixed(6)},"capability":"${capability}"}`,
      );
      if (ok) {
        push(
          `${head(dt + 2)},"type":"patch_committed","branch":"switchyard/issue-${run}-retry-helper","commit_sha":"${"0123456789abcdef".repeat(2)}01234567","files":3}`,
        );
        break;
      }
    }
    if (run % 7 === 0) {
      const signature = SIGNATURES[run % SIGNATURES.length]!.replace(/"/g, '\\"');
      const flaky = run % 3 === 0;
      push(
        `${head(dt + 3)},"type":"recovery_step","step":"${flaky ? "rerun" : "ai"}","category":"${flaky ? "flaky" : "tests"}",` +
          `"signature":"${signature}","ok":${random() < 0.7},"reason":"${flaky ? "rerun the failed jobs" : "asked aider with the evidence"}"}`,
      );
    }
    if (batchBytes >= 4 << 20) {
      const chunk = batch.join("\n") + "\n";
      written += Buffer.byteLength(chunk);
      batch = [];
      batchBytes = 0;
      if (!out.write(chunk)) await once(out, "drain");
    }
  }
  if (batch.length > 0) {
    const chunk = batch.join("\n") + "\n";
    out.write(chunk);
  }
  out.end();
  await once(out, "finish");
  return lines;
}

export interface AnalysisFigures {
  bytes: number;
  lines: number;
  seconds: number;
  mbPerSecond: number;
  peakRssMb: number;
  events: number;
  skipped: number;
  generateSeconds: number;
}

/** Generates the log, analyses it in a child process, deletes it; the raw figures. */
export async function measureAnalysis(mib = 1024): Promise<AnalysisFigures> {
  const dir = await mkdtemp(join(tmpdir(), "switchyard-bench-analysis-"));
  try {
    const file = join(dir, "events.jsonl");
    const g0 = performance.now();
    const lines = await writeSyntheticLog(file, mib * 1024 * 1024);
    const generateSeconds = (performance.now() - g0) / 1000;
    const { size } = await stat(file);
    const bundle = join(dir, "analyze.mjs");
    // Imported here so that tests can use the log generator without loading esbuild.
    const { build } = await import("esbuild");
    await build({
      entryPoints: [join(ROOT, "src/cli/commands/analyze.ts")],
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      outfile: bundle,
      logLevel: "warning",
      // As scripts/build-action.js does: CommonJS dependencies (yaml) call require() in an ESM bundle.
      banner: {
        js: "import { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);",
      },
    });
    const url = pathToFileURL(bundle).href;
    const child = `
      const { analyzeLocal } = await import(${JSON.stringify(url)});
      const t0 = performance.now();
      const a = await analyzeLocal([${JSON.stringify(file)}], {
        cwd: ${JSON.stringify(dir)}, now: ${JSON.stringify(new Date(NOW).toISOString())}, windowMs: 7 * 86400000,
      });
      const seconds = (performance.now() - t0) / 1000;
      // maxRSS is in kibibytes.
      process.stdout.write(JSON.stringify({
        seconds, maxRssKb: process.resourceUsage().maxRSS, events: a.stats.events, skipped: a.stats.skipped,
      }));
    `;
    const { stdout } = await execa(process.execPath, ["--input-type=module", "-e", child], { cwd: ROOT });
    const r = JSON.parse(stdout) as { seconds: number; maxRssKb: number; events: number; skipped: number };
    return {
      bytes: size,
      lines,
      seconds: r.seconds,
      mbPerSecond: size / 1e6 / r.seconds,
      peakRssMb: r.maxRssKb / 1024,
      events: r.events,
      skipped: r.skipped,
      generateSeconds,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function single(
  name: string,
  unit: string,
  figure: number,
  target: string,
  ok: boolean,
  note: string,
): BenchResult {
  return { name, runs: 1, unit, p50: figure, p99: figure, mean: figure, figure, target, ok, note };
}

export async function benchAnalysis(opts: { mib?: number } = {}): Promise<BenchResult[]> {
  const f = await measureAnalysis(opts.mib ?? 1024);
  const size = `${(f.bytes / 1e9).toFixed(2)} GB, ${f.events.toLocaleString("en-US")} events`;
  return [
    single(
      `analyze local JSONL, ${size}`,
      "MB/s",
      f.mbPerSecond,
      "≥ 100 MB/s",
      f.mbPerSecond >= 100,
      `${f.seconds.toFixed(1)} s`,
    ),
    single(`analyze local JSONL, peak RSS`, "MB", f.peakRssMb, "< 200 MB", f.peakRssMb < 200, size),
  ];
}

// `node --import ./bin/register.js bench/analysis.bench.ts [MiB]` prints the figures.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const mib = Number(process.argv[2] ?? 1024);
  const f = await measureAnalysis(mib);
  console.log(
    `analyze: ${(f.bytes / 1e6).toFixed(0)} MB, ${f.lines} lines (${f.events} events, ${f.skipped} skipped) ` +
      `in ${f.seconds.toFixed(2)} s = ${f.mbPerSecond.toFixed(0)} MB/s (target ≥ 100), ` +
      `peak RSS ${f.peakRssMb.toFixed(0)} MB (target < 200); generated in ${f.generateSeconds.toFixed(1)} s`,
  );
}
