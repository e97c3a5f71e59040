import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { loadConfig } from "../../src/config/load.js";
import { ConfigSchema, type Config } from "../../src/config/schema.js";
import { InputError } from "../../src/core/errors.js";
import { classify } from "../../src/core/recovery/classify.js";
import type { Evidence } from "../../src/core/recovery/schema.js";
import {
  buildRecoveryPrompt,
  runRecoveryFix,
  type RecoveryFixContext,
  type RecoveryFixInput,
} from "../../src/runner/recover-fix.js";
import { makeRepo, type TestRepo } from "../support/git-repo.js";
import { fixture } from "./tool-fixtures.js";

const NODE = process.execPath;
const MODULES = path.resolve(import.meta.dirname, "../../node_modules");
/** What Prettier 3 makes of UGLY. */
const UGLY = "const greeting  =  {text:'hello',  to : \"world\"}\nexport default greeting\n";
const PRETTY = 'const greeting = { text: "hello", to: "world" };\nexport default greeting;\n';

let repo: TestRepo;
let temp: string;
let shipped: Config;

function context(overrides: Partial<RecoveryFixContext> = {}): RecoveryFixContext {
  return {
    key: "acme/widgets#12",
    run_id: 30433642,
    head_sha: repo.baseSha,
    head_ref: "feature/greeting",
    pr_number: 12,
    category: "format",
    attempt: 1,
    ...overrides,
  };
}

function input(overrides: Partial<RecoveryFixInput>): RecoveryFixInput {
  return {
    action: { kind: "run_fixers", tools: ["prettier"] },
    context: context(),
    config: shipped,
    checkout: repo.dir,
    env: process.env,
    tempDir: temp,
    runId: "777-1",
    now: () => Date.parse("2026-11-21T18:00:00Z"),
    ...overrides,
  };
}

/** A configuration with script fixers over node -e snippets. */
function withFixers(fixers: Record<string, { code: string; timeout?: number }>, extra: object = {}): Config {
  return ConfigSchema.parse({
    tools: Object.entries(fixers).map(([name, f]) => ({
      name,
      kind: "mechanical",
      command: NODE,
      args: ["-e", f.code],
      capabilities: ["linting"],
      availability: { command: NODE, args: ["--version"] },
      ...(f.timeout ? { timeout_seconds: f.timeout } : {}),
    })),
    ...extra,
  });
}

const EVIDENCE: Evidence = {
  source: "acme/widgets job 1 (lint)",
  bytes: 120,
  lines: 4,
  steps: ["Run npx prettier --check ."],
  failed_step: "Run npx prettier --check .",
  excerpts: [
    {
      step: "Run npx prettier --check .",
      lines: [
        { n: 2, text: "[warn] src/greeting.js", kind: "match" },
        {
          n: 3,
          text: "[warn] Code style issues found in the above file. Run Prettier with --write to fix.",
          kind: "match",
        },
        { n: 4, text: "Process completed with exit code 1.", kind: "error" },
      ],
    },
  ],
  error_lines: 1,
  no_error_lines: false,
  truncated: false,
  dropped_lines: 0,
  binary: false,
  long_lines: 0,
  notes: [],
  annotations: [],
  tests: [],
};

beforeAll(async () => {
  shipped = (await loadConfig()).config;
});
beforeEach(async () => {
  repo = await makeRepo({
    files: {
      ".gitignore": "node_modules\n",
      "src/greeting.js": UGLY,
      "README.md": "# Widgets\n",
    },
  });
  // The repository's own Prettier, as `npx --no` finds it in a real checkout after `npm ci`.
  await symlink(MODULES, path.join(repo.dir, "node_modules"));
  temp = await mkdtemp(path.join(os.tmpdir(), "switchyard-recover-fix-"));
});
afterEach(async () => {
  await repo.cleanup();
  await rm(temp, { recursive: true, force: true });
});
afterAll(() => undefined);

describe("runRecoveryFix: the fixers", () => {
  it("runs the shipped Prettier profile for real, skips fixers that are not installed, and returns the patch", async () => {
    const fix = await runRecoveryFix(
      input({ action: { kind: "run_fixers", tools: ["prettier", "ruff-format", "gofmt"] } }),
    );
    expect(fix.result).toBe("fixed");
    expect(fix.fixers.map((f) => [f.tool, f.status, f.files])).toEqual([
      ["prettier", "changed", ["src/greeting.js"]],
      ["ruff-format", "unavailable", []],
      ["gofmt", "unavailable", []],
    ]);
    expect(fix.fixers[1]!.reason).toBe("`ruff` is not installed (not found on PATH)");
    expect(fix.fixers[2]!.reason).toBe("`go` is not installed (not found on PATH)");
    expect(fix.reason).toBe("prettier changed 1 file (+2 −2)");
    expect(fix.patch!.files.map((f) => [f.path, f.status])).toEqual([["src/greeting.js", "modified"]]);
    expect(fix.patch!.base_sha).toBe(repo.baseSha);
    // The fix is in the work tree; HEAD has not moved.
    expect((await repo.read("src/greeting.js")).toString()).toBe(PRETTY);
    expect(await repo.sha()).toBe(repo.baseSha);
  });

  it("records a fixer that found nothing to change, and reports no fix when none changed anything", async () => {
    await repo.write({ "src/greeting.js": PRETTY });
    await repo.commitAll("formatted");
    const fix = await runRecoveryFix(input({ context: context({ head_sha: await repo.sha() }) }));
    expect(fix.result).toBe("no_fix");
    expect(fix.fixers).toEqual([
      expect.objectContaining({
        tool: "prettier",
        status: "unchanged",
        exit_code: 0,
        reason: "changed nothing: the files already met its rules",
      }),
    ]);
    expect(fix.reason).toBe(
      "no fixer changed anything: prettier: changed nothing: the files already met its rules",
    );
    expect(fix.patch).toBeNull();
  });

  it("answers unavailable when no listed fixer can run, so the ladder refunds the attempt", async () => {
    const fix = await runRecoveryFix(
      input({ action: { kind: "run_fixers", tools: ["ruff-format", "nosuch"] } }),
    );
    expect(fix.result).toBe("unavailable");
    expect(fix.reason).toBe(
      "no fixer could run: ruff-format: `ruff` is not installed (not found on PATH); nosuch: no tool profile is named 'nosuch' (tools)",
    );
  });

  it("keeps what a fixer changed when it exits non-zero, and undoes only the edits of a fixer that timed out", async () => {
    const config = withFixers({
      // Like eslint --fix with problems left: fixes one file, exits 1.
      partial: { code: "require('fs').writeFileSync('src/greeting.js', 'fixed\\n'); process.exit(1)" },
      // Writes half a file, then hangs past its timeout.
      stuck: {
        code: "require('fs').writeFileSync('README.md', 'half'); setInterval(() => {}, 1000)",
        timeout: 1,
      },
    });
    const fix = await runRecoveryFix(
      input({ config, action: { kind: "run_fixers", tools: ["partial", "stuck"] } }),
    );
    expect(fix.fixers.map((f) => [f.tool, f.status, f.exit_code])).toEqual([
      ["partial", "changed", 1],
      ["stuck", "failed", null],
    ]);
    expect(fix.fixers[0]!.reason).toBe(
      "changed 1 file (it exited with code 1: problems it cannot fix may remain)",
    );
    expect(fix.fixers[1]!.reason).toBe("it did not finish within 1 s; its edits were undone");
    expect(fix.result).toBe("fixed");
    expect(fix.patch!.files.map((f) => f.path)).toEqual(["src/greeting.js"]);
    expect((await repo.read("README.md")).toString()).toBe("# Widgets\n");
  }, 20_000);

  it("refuses a patch the policy forbids and leaves the checkout as it was", async () => {
    const config = withFixers({
      meddler: {
        code: "const fs=require('fs');fs.mkdirSync('.github/workflows',{recursive:true});fs.writeFileSync('.github/workflows/ci.yml','on: push\\n')",
      },
    });
    const fix = await runRecoveryFix(input({ config, action: { kind: "run_fixers", tools: ["meddler"] } }));
    expect(fix.result).toBe("no_fix");
    expect(fix.reason).toMatch(
      /^the fixers' patch was refused: \.github\/workflows\/ci\.yml is a workflow file/,
    );
    expect(existsSync(path.join(repo.dir, ".github/workflows/ci.yml"))).toBe(false);
    expect(await repo.git.isClean()).toBe(true);
  });

  it("runs the gates on the fixers' patch and drops it when one fails", async () => {
    const config = withFixers(
      { fixer: { code: "require('fs').writeFileSync('src/greeting.js', 'broken\\n')" } },
      { execution: { gates: [{ name: "tests", command: NODE, args: ["-e", "process.exit(3)"] }] } },
    );
    const fix = await runRecoveryFix(input({ config, action: { kind: "run_fixers", tools: ["fixer"] } }));
    expect(fix.result).toBe("no_fix");
    expect(fix.reason).toBe("the fixers' patch failed the gate tests (exit code 3)");
    expect((await repo.read("src/greeting.js")).toString()).toBe(UGLY);
  });

  it("refuses a checkout that is not at the failing commit, before anything runs", async () => {
    await repo.write({ "other.txt": "x\n" });
    const moved = await repo.commitAll("moved on");
    const run = runRecoveryFix(input({}));
    await expect(run).rejects.toThrow(InputError);
    await expect(run).rejects.toThrow(
      `is at ${moved.slice(0, 12)}, not at the failing commit ${repo.baseSha.slice(0, 12)}`,
    );
  });

  it("refuses a malformed action with a message that names the field", async () => {
    const bad = input({ action: { kind: "run_fixers", tools: [] } });
    await expect(runRecoveryFix(bad)).rejects.toThrow(
      "Cannot run the recovery fix: the action is not valid: tools: Too small",
    );
  });
});

describe("runRecoveryFix: an AI tool", () => {
  function aiConfig(args: string[]): Config {
    return ConfigSchema.parse({
      tools: [
        {
          name: "fixbot",
          kind: "ai",
          command: fixture("echo-prompt"),
          args,
          prompt_via: "file",
          capabilities: ["error_fix"],
          availability: { command: NODE, args: ["--version"] },
        },
      ],
    });
  }

  it("gives the tool the evidence in its prompt and in a file outside the checkout, and returns its patch", async () => {
    const out = path.join(repo.dir, "src/prompt-seen.md");
    const config = aiConfig([out, "file", "{prompt_file}"]);
    const evidence = EVIDENCE;
    const classification = classify(evidence);
    const fix = await runRecoveryFix(
      input({
        config,
        action: { kind: "run_ai", tool: "fixbot" },
        evidence,
        classification,
        context: context({ signature: classification.signature }),
      }),
    );
    expect(fix.result).toBe("fixed");
    expect(fix.step).toBe("ai");
    expect(fix.patch!.files.map((f) => f.path)).toEqual(["src/prompt-seen.md"]);
    const prompt = (await readFile(out, "utf8")).toString();
    expect(prompt).toBe(
      buildRecoveryPrompt({
        context: context({ signature: classification.signature }),
        config,
        evidence,
        classification,
        evidenceFile: fix.evidenceFile!,
      }),
    );
    expect(prompt).toContain("# Fix a CI failure on pull request #12");
    expect(prompt).toContain(`Failure class: **format**. Signature: \`${classification.signature}\`.`);
    expect(prompt).toContain("[warn] src/greeting.js");
    expect(prompt).toContain(`It is also in the file \`${fix.evidenceFile}\``);
    // The rules come after the untrusted log text.
    expect(prompt.indexOf("## Rules")).toBeGreaterThan(prompt.indexOf("[warn] src/greeting.js"));
    expect(fix.evidenceFile!.startsWith(temp + path.sep)).toBe(true);
    expect(await readFile(fix.evidenceFile!, "utf8")).toContain("# CI failure evidence");
  });

  it("passes the evidence file to a profile that asks for {evidence_file}", async () => {
    // echo-prompt copies the file named by its third argument: here the evidence file itself.
    const out = path.join(repo.dir, "src/evidence-seen.md");
    const fix = await runRecoveryFix(
      input({
        config: aiConfig([out, "file", "{evidence_file}"]),
        action: { kind: "run_ai", tool: "fixbot" },
        evidence: EVIDENCE,
      }),
    );
    expect(fix.result).toBe("fixed");
    expect(fix.evidenceFile).toBe(path.join(temp, "switchyard-recovery", "evidence-30433642-1.md"));
    const seen = await readFile(out, "utf8");
    expect(seen).toBe(await readFile(fix.evidenceFile!, "utf8"));
    expect(seen).toContain("# CI failure evidence");
    expect(seen).toContain("[warn] src/greeting.js");
    expect(fix.patch!.files.map((f) => f.path)).toEqual(["src/evidence-seen.md"]);
  });

  it("maps a tool that made no change to no_fix and a missing tool to unavailable", async () => {
    const noop = ConfigSchema.parse({
      tools: [
        {
          name: "fixbot",
          command: fixture("noop"),
          capabilities: ["error_fix"],
          availability: { command: NODE, args: ["--version"] },
        },
      ],
    });
    const none = await runRecoveryFix(
      input({ config: noop, action: { kind: "run_ai", tool: "fixbot" }, evidence: EVIDENCE }),
    );
    expect(none.result).toBe("no_fix");
    expect(none.reason).toBe("fixbot finished without changing any file");
    const missing = await runRecoveryFix(
      input({ config: noop, action: { kind: "run_ai", tool: "ghost" }, evidence: EVIDENCE }),
    );
    expect(missing.result).toBe("unavailable");
    expect(missing.reason).toMatch(/^no tool profile named ghost/);
  });

  it("refuses to run an AI tool without evidence", async () => {
    await expect(
      runRecoveryFix(
        input({ config: aiConfig([]), action: { kind: "run_ai", tool: "fixbot" }, evidence: null }),
      ),
    ).rejects.toThrow("Cannot run the recovery fix: the evidence (an AI tool needs it) is not valid");
  });
});
