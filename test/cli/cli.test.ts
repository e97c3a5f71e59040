import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { execa } from "execa";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { main } from "../../src/cli/main.js";
import type { CliIO } from "../../src/cli/io.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const EXAMPLES = path.join(ROOT, "docs/examples");

async function run(argv: string[], opts: { cwd?: string; isTTY?: boolean } = {}) {
  let stdout = "";
  let stderr = "";
  const io: CliIO = {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    cwd: opts.cwd ?? ROOT,
    env: {},
    isTTY: opts.isTTY ?? false,
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "switchyard-cli-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("switchyard route", () => {
  it("routes the bundled example issue and explains every candidate", async () => {
    const { code, stdout, stderr } = await run(["route", "docs/examples/add-retry-tests.md"]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toContain("Task acme/widgets#42: Add unit tests for the retry helper");
    expect(stdout).toMatch(/capability: testing \(inferred: /);
    expect(stdout).toContain("depends on: acme/widgets#41");
    expect(stdout).toContain("sanitised:  removed 1 html comment");
    expect(stdout).toContain("Routed 'testing' to codex by priority; fallback: claude, aider.");
    expect(stdout).toContain("| 1 | codex | chosen | 1.00 | priority: #1 in the 'testing' chain |");
    expect(stdout).not.toContain("ignore all previous instructions");
  });

  it("prints JSON with --json that holds the task and a valid decision", async () => {
    const { code, stdout } = await run(["route", "docs/examples/fix-crash.json", "--json"]);
    expect(code).toBe(0);
    const out = JSON.parse(stdout) as { task: { key: string; scope: string[] }; decision: { tool: string } };
    expect(out.task.key).toBe("acme/widgets#57");
    expect(out.task.scope).toEqual(["src/config/**"]);
    expect(out.decision.tool).toBe("claude");
  });

  it("honours --tool and --strategy like the comment command would", async () => {
    const { code, stdout } = await run([
      "route",
      path.join(EXAMPLES, "add-retry-tests.md"),
      "--tool",
      "aider",
      "--strategy",
      "round_robin",
      "--json",
    ]);
    expect(code).toBe(0);
    const { decision } = JSON.parse(stdout) as { decision: Record<string, unknown> };
    expect(decision.tool).toBe("aider");
    expect(decision.strategy).toBe("round_robin");
    expect(decision.override).toMatchObject({ requested: "aider", source: "command", accepted: true });
  });

  it("prints aligned columns, not markdown, on a terminal", async () => {
    const { stdout } = await run(["route", "docs/examples/add-retry-tests.md"], { isTTY: true });
    expect(stdout).not.toContain("|---");
    expect(stdout).toMatch(/codex\s+chosen/);
  });

  it("reads the repository's .github/switchyard.yml", async () => {
    const repo = path.join(dir, "repo-with-config");
    await mkdir(path.join(repo, ".github"), { recursive: true });
    await writeFile(
      path.join(repo, ".github/switchyard.yml"),
      "routing:\n  chains:\n    testing: [gemini, claude]\n",
    );
    const { code, stdout } = await run(["route", path.join(EXAMPLES, "add-retry-tests.md"), "--repo", repo]);
    expect(code).toBe(0);
    expect(stdout).toContain("Routed 'testing' to gemini by priority; fallback: claude.");
  });

  it("rejects a broken issue file with exit 1 and the file's name", async () => {
    const bad = path.join(dir, "bad.json");
    await writeFile(bad, '{"issue": {"number": "x"}, "repository": {"full_name": "a/b"}}');
    const { code, stderr, stdout } = await run(["route", bad]);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toMatch(/^switchyard route: .*bad\.json: issue\.number: /);
    expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it("rejects a missing file and a non-metrics metrics file with exit 1", async () => {
    expect((await run(["route", "nope.md"])).stderr).toMatch(/cannot read issue file .*nope\.md: ENOENT/);
    const metrics = path.join(dir, "metrics.json");
    await writeFile(metrics, '{"tools": 3}');
    const r = await run(["route", "docs/examples/add-retry-tests.md", "--metrics", metrics]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("is not a Switchyard metrics.json");
  });

  it("rejects an unknown tool name from --tool with a clear message", async () => {
    const r = await run(["route", "docs/examples/add-retry-tests.md", "--tool", "Claude"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--tool 'Claude' is not a tool name; the tools are: aider, claude, codex,");
  });
});

describe("switchyard validate", () => {
  it("accepts the defaults", async () => {
    const { code, stdout } = await run(["validate", "--repo", dir]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Configuration is valid \(the defaults only; no .*\.github\/switchyard\.yml\)/);
    expect(stdout).toContain("strategy: priority");
  });

  it("reports file, line, column and a suggestion for a misspelt key", async () => {
    const good = path.join(dir, "good.yml");
    await writeFile(good, "routing:\n  strategy: metrics\n");
    const ok = await run(["validate", "--config", good]);
    expect(ok.stdout).toContain(`(the defaults + ${good})`);
    expect(ok.stdout).toContain("strategy: metrics");
    const file = path.join(dir, "misspelt.yml");
    await writeFile(file, "routing:\n  strategy: priority\n  max_fallback: 3\n");
    const { code, stderr } = await run(["validate", "--config", file]);
    expect(code).toBe(1);
    expect(stderr).toContain(`${file}:3:3: routing.max_fallback:`);
    expect(stderr).toContain("did you mean 'max_fallbacks'?");
  });

  it("reports a YAML syntax error with its position", async () => {
    const file = path.join(dir, "broken.yml");
    await writeFile(file, "routing:\n  chains: [a, b\n");
    const { code, stderr } = await run(["validate", "--config", file]);
    expect(code).toBe(1);
    expect(stderr).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+:\\d+`));
  });
});

describe("switchyard schema and usage", () => {
  it("prints a schema by name and lists them", async () => {
    const list = await run(["schema", "--list"]);
    expect(list.stdout.trim().split("\n")).toEqual(
      expect.arrayContaining(["config", "task", "routing-decision", "event", "metrics"]),
    );
    const decision = await run(["schema", "routing-decision"]);
    expect(JSON.parse(decision.stdout)).toMatchObject({ type: "object" });
    expect((await run(["schema", "nope"])).code).toBe(2);
  });

  it.each([["route"], ["validate"], ["schema"]])("%s --help prints its usage and exits 0", async (cmd) => {
    const { code, stdout } = await run([cmd, "--help"]);
    expect(code).toBe(0);
    expect(stdout).toMatch(new RegExp(`^Usage: switchyard ${cmd}`));
  });

  it("exits 2 for usage errors", async () => {
    expect((await run([])).code).toBe(2);
    expect((await run(["frobnicate"])).code).toBe(2);
    const r = await run(["route", "--bogus", "x.md"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Usage: switchyard route");
    expect((await run(["route"])).code).toBe(2);
  });
});

describe("the switchyard process", () => {
  it("runs from source as a real process with real exit codes", async () => {
    const entry = path.join(ROOT, "src/cli/bin.ts");
    const ok = await execa(
      process.execPath,
      ["--import", "tsx", entry, "route", "docs/examples/fix-crash.json"],
      {
        cwd: ROOT,
        reject: false,
      },
    );
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout).toContain("Routed 'error_fix' to claude");
    const usage = await execa(process.execPath, ["--import", "tsx", entry, "route"], {
      cwd: ROOT,
      reject: false,
    });
    expect(usage.exitCode).toBe(2);
  });
});
