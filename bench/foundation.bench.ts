import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { loadConfig } from "../src/config/load.js";
import { ConfigSchema, STRATEGIES, type Config } from "../src/config/schema.js";
import { route } from "../src/core/routing/route.js";
import type { Signals } from "../src/core/routing/schema.js";
import { buildTask } from "../src/core/task/build.js";
import { summarize, timeRuns, type BenchResult } from "./harness.js";

/** A config with `n` capable tools in one chain, so every strategy ranks all of them. */
function configWithTools(n: number): Config {
  const names = Array.from({ length: n }, (_, i) => `tool-${String(i).padStart(2, "0")}`);
  return ConfigSchema.parse({
    tools: names.map((name, i) => ({
      name,
      command: name,
      capabilities: ["testing", "code_generation"],
      cost_weight: 1 + (i % 5),
      max_concurrency: 3,
    })),
    routing: { chains: { testing: names }, max_fallbacks: 3 },
  });
}

function signalsFor(config: Config, i: number): Signals {
  const tools = config.tools.map((t) => t.name);
  return {
    now: "2026-11-21T12:00:00Z",
    in_flight: Object.fromEntries(tools.map((t, j) => [t, (i + j) % 3])),
    outcomes: tools.flatMap((tool, j) =>
      Array.from({ length: 10 }, (_, k) => ({
        tool,
        ok: (j + k) % 4 !== 0,
        at: new Date(Date.parse("2026-11-21T11:00:00Z") + k * 60_000).toISOString(),
      })),
    ),
    metrics: tools.map((tool, j) => ({
      tool,
      attempts: 20 + j,
      successes: 10 + j,
      p50_ms: 1000 * (j + 1),
      cost: j,
    })),
    routed_count: i,
    previous_tool: tools[i % tools.length]!,
  };
}

export async function benchFoundation(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const config = configWithTools(20);
  const task = buildTask(
    { number: 1, title: "Add tests", body: "add unit tests", labels: ["switchyard"], user: { login: "a" } },
    config,
    { repository: { owner: "o", name: "r" } },
  );
  for (const strategy of STRATEGIES) {
    const cfg = { ...config, routing: { ...config.routing, strategy } };
    const signals = Array.from({ length: 64 }, (_, i) => signalsFor(cfg, i));
    let i = 0;
    const samples = await timeRuns(() => route(task, cfg, signals[i++ % signals.length]!), {
      runs: 5000,
      warmup: 500,
    });
    results.push(
      summarize(`route, 20 profiles, ${strategy}`, samples, { stat: "p99", below: 1, label: "p99 < 1 ms" }),
    );
  }

  const paragraph = "Please fix the retry helper in `src/retry.ts`; it ignores the cap. Depends on #3.\n\n";
  const body = paragraph.repeat(Math.ceil((1 << 20) / paragraph.length)).slice(0, 1 << 20);
  const big = ConfigSchema.parse({ limits: { max_body_bytes: 2_000_000 } });
  const issue = { number: 9, title: "Big issue", body, labels: ["switchyard"], user: { login: "a" } };
  const taskSamples = await timeRuns(() => buildTask(issue, big, { repository: { owner: "o", name: "r" } }), {
    runs: 60,
    warmup: 5,
  });
  results.push(summarize("build task, 1 MB body", taskSamples, { stat: "p50", below: 50, label: "< 50 ms" }));

  const dir = await mkdtemp(path.join(os.tmpdir(), "switchyard-bench-"));
  try {
    await mkdir(path.join(dir, ".github"));
    await writeFile(
      path.join(dir, ".github/switchyard.yml"),
      "routing:\n  strategy: metrics\n  chains:\n    testing: [codex, claude]\ntools:\n  - name: claude\n    timeout_seconds: 600\n",
    );
    const loadSamples = await timeRuns(() => loadConfig({ repoDir: dir }), { runs: 300, warmup: 20 });
    results.push(
      summarize("load + validate merged config, warm", loadSamples, {
        stat: "p50",
        below: 20,
        label: "< 20 ms",
      }),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return results;
}
