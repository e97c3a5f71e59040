import { mkdtemp, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { execa } from "execa";
import { ConfigSchema, ToolProfileSchema } from "../src/config/schema.js";
import { RoutingDecisionSchema } from "../src/core/routing/schema.js";
import { TaskSchema } from "../src/core/task/schema.js";
import { executeTask } from "../src/runner/execute.js";
import { GitCommandManager, resetToBase } from "../src/runner/git.js";
import { percentile } from "./harness.js";

/**
 * Runner benchmarks.
 *
 * - benchRunnerOverhead: what executeTask adds around a tool that exits at once (clean-checkout
 *   check, availability check, patch capture, policy, leaving the checkout), as the time of a
 *   whole dry run minus the time of spawning the same tool directly. Target: under 150 ms.
 * - benchOutputRss: the peak memory of running a tool that writes 100 MB of output, measured in a
 *   child Node process of its own so nothing else in this process counts. Target: under 150 MB.
 */

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const TOOLS = join(ROOT, "test/fixtures/tools");

/** A committed identity and no user config, whoever runs the benchmark. */
const GIT_ENV = {
  GIT_AUTHOR_NAME: "Switchyard Bench",
  GIT_AUTHOR_EMAIL: "bench@switchyard.invalid",
  GIT_COMMITTER_NAME: "Switchyard Bench",
  GIT_COMMITTER_EMAIL: "bench@switchyard.invalid",
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_CONFIG_NOSYSTEM: "1",
};

export async function benchRunnerOverhead(
  opts: { runs?: number; warmup?: number } = {},
): Promise<{ p50: number; p99: number; runs: number }> {
  const runs = opts.runs ?? 30;
  const warmup = opts.warmup ?? 3;
  const root = await mkdtemp(join(tmpdir(), "switchyard-bench-"));
  try {
    const checkout = join(root, "work");
    const scratch = join(root, "scratch");
    await mkdir(join(checkout, "src"), { recursive: true });
    await mkdir(scratch);
    await writeFile(join(checkout, "src/app.txt"), "hello\n");
    const git = new GitCommandManager(checkout, { env: GIT_ENV });
    await git.exec(["init", "--quiet", "-b", "main"]);
    await git.exec(["add", "--all"]);
    await git.exec(["commit", "--quiet", "-m", "initial"]);
    const start = await git.readHead();

    const command = join(TOOLS, "edit.mjs");
    const profile = ToolProfileSchema.parse({
      name: "edit",
      command,
      args: ["src/app.txt"],
      capabilities: ["code_generation"],
      kind: "script",
      availability: { command: process.execPath, args: ["--version"] },
    });
    const config = ConfigSchema.parse({ tools: [profile] });
    const task = TaskSchema.parse({
      key: "bench/repo#1",
      kind: "issue",
      repository: { owner: "bench", name: "repo" },
      number: 1,
      title: "Benchmark",
      body: "",
      author: "bench",
      labels: [],
      capability: "code_generation",
      capability_source: "default",
      capability_reason: "default",
      prompt: "edit: src/app.txt",
      scope: [],
      risk: "low",
      constraints: [],
      depends_on: [],
      overrides: {},
      form: {},
      sources: {},
      sanitization: { removed: [], truncated: false, original_bytes: 0, kept_bytes: 0 },
      warnings: [],
    });
    const decision = RoutingDecisionSchema.parse({
      task_key: task.key,
      capability: "code_generation",
      strategy: "priority",
      tool: "edit",
      fallback: [],
      candidates: [],
      summary: "edit",
    });
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, ...GIT_ENV };

    const once = async (): Promise<number> => {
      const t0 = performance.now();
      const result = await executeTask({
        task,
        decision,
        config,
        checkout,
        env,
        runId: "bench",
        now: Date.now,
      });
      const whole = performance.now() - t0;
      if (result.outcome !== "success") throw new Error(`the benchmark run ended ${result.outcome}`);
      // The dry run leaves its patch in the work tree; the next run needs a clean checkout.
      await resetToBase(git, start);
      const t1 = performance.now();
      await execa(command, ["app.txt"], { cwd: scratch, env, extendEnv: false });
      const raw = performance.now() - t1;
      return whole - raw;
    };

    for (let i = 0; i < warmup; i++) await once();
    const samples: number[] = [];
    for (let i = 0; i < runs; i++) samples.push(await once());
    samples.sort((a, b) => a - b);
    return { p50: percentile(samples, 50), p99: percentile(samples, 99), runs };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

export async function benchOutputRss(mib = 100): Promise<{ peakRssMb: number; bytes: number }> {
  const cwd = await mkdtemp(join(tmpdir(), "switchyard-bench-rss-"));
  try {
    const url = (path: string) => pathToFileURL(join(ROOT, path)).href;
    const child = `
      const { runTool } = await import(${JSON.stringify(url("src/runner/tool-runner.ts"))});
      const { ToolProfileSchema } = await import(${JSON.stringify(url("src/config/schema.ts"))});
      const profile = ToolProfileSchema.parse({
        name: "flood",
        command: ${JSON.stringify(join(TOOLS, "flood.mjs"))},
        args: [${JSON.stringify(String(mib))}],
        prompt_via: "argument",
        capabilities: ["code_generation"],
        kind: "script",
      });
      const result = await runTool(profile, {
        cwd: ${JSON.stringify(cwd)},
        prompt: "",
        env: { PATH: process.env.PATH },
        timeoutMs: 300000,
      });
      // maxRSS is in kibibytes.
      process.stdout.write(JSON.stringify({ maxRssKb: process.resourceUsage().maxRSS, bytes: result.outputBytes }));
    `;
    const { stdout } = await execa(
      process.execPath,
      ["--import", join(ROOT, "bin/register.js"), "--input-type=module", "-e", child],
      { cwd: ROOT },
    );
    const { maxRssKb, bytes } = JSON.parse(stdout) as { maxRssKb: number; bytes: number };
    return { peakRssMb: maxRssKb / 1024, bytes };
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
}

// `node --import ./bin/register.js bench/runner.bench.ts` prints both figures.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const overhead = await benchRunnerOverhead();
  console.log(
    `runner overhead: p50 ${overhead.p50.toFixed(1)} ms, p99 ${overhead.p99.toFixed(1)} ms over ${overhead.runs} runs (target < 150 ms)`,
  );
  const rss = await benchOutputRss();
  console.log(
    `100 MB of tool output: peak RSS ${rss.peakRssMb.toFixed(1)} MB for ${rss.bytes} bytes (target < 150 MB)`,
  );
}
