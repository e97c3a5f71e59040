import { afterEach, describe, expect, it } from "@jest/globals";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { main } from "../../src/cli/main.js";
import type { CliIO } from "../../src/cli/io.js";
import { readEvents } from "../../src/core/events/log.js";
import { ExecutionResultSchema } from "../../src/core/execution/schema.js";
import { GitCommandManager } from "../../src/runner/git.js";
import { makeRepo, type TestRepo } from "../support/git-repo.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const FIXTURES = path.join(ROOT, "test/fixtures/tools");
const BIN = path.join(ROOT, "node_modules/.bin");
const BRANCH = "switchyard/issue-5-add-a-greeting";

async function cli(argv: string[], cwd: string) {
  let stdout = "";
  let stderr = "";
  const io: CliIO = {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    cwd,
    // The real PATH plus Switchyard's own node_modules/.bin, as `npm run` gives it.
    env: { PATH: `${BIN}${path.delimiter}${process.env.PATH}`, HOME: process.env.HOME },
    isTTY: false,
  };
  return { code: await main(argv, io), stdout, stderr };
}

/** A repository whose config chains a crashing tool before one that edits, with a real gate. */
function configFor(chain: string[]): string {
  return [
    "routing:",
    "  chains:",
    `    code_generation: [${chain.join(", ")}]`,
    "  max_fallbacks: 3",
    "retry:",
    "  base_delay_ms: 0",
    "tools:",
    "  - name: crasher",
    `    command: ${path.join(FIXTURES, "crash.mjs")}`,
    "    capabilities: [code_generation]",
    "    prompt_via: stdin",
    // The fixtures would act on --version; check that node is there instead.
    "    availability: { command: node, args: [--version] }",
    "  - name: editor",
    `    command: ${path.join(FIXTURES, "edit.mjs")}`,
    "    args: [src/greeting.txt, --text, hello]",
    "    capabilities: [code_generation]",
    "    prompt_via: stdin",
    // The fixtures would act on --version; check that node is there instead.
    "    availability: { command: node, args: [--version] }",
    "  - name: lazy",
    `    command: ${path.join(FIXTURES, "noop.mjs")}`,
    "    capabilities: [code_generation]",
    "    prompt_via: stdin",
    // The fixtures would act on --version; check that node is there instead.
    "    availability: { command: node, args: [--version] }",
    "execution:",
    "  gates:",
    "    - name: has-greeting",
    "      command: node",
    "      args: [-e, \"process.exit(require('fs').readFileSync('src/greeting.txt','utf8').includes('hello') ? 0 : 1)\"]",
    "",
  ].join("\n");
}

const ISSUE =
  "---\nnumber: 5\nrepository: acme/widgets\nlabels: [switchyard]\n---\n# Add a greeting\n\nImplement it.\n";

let repo: TestRepo | undefined;
afterEach(async () => {
  await repo?.cleanup();
  repo = undefined;
});

async function setup(chain: string[]) {
  repo = await makeRepo({
    files: { "src/greeting.txt": "", ".github/switchyard.yml": configFor(chain), "issue.md": ISSUE },
  });
  return repo;
}

describe("switchyard run", () => {
  it("falls back past a crashing tool, commits the winning patch to the task branch and reports", async () => {
    const r = await setup(["crasher", "editor"]);
    const { code, stdout, stderr } = await cli(["run", "issue.md"], r.dir);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toContain("▶ attempt 1: crasher");
    expect(stdout).toMatch(/✗ tool failed in .*: /);
    expect(stdout).toContain("▶ attempt 2: editor");
    expect(stdout).toContain("✓ gate has-greeting passed");
    expect(stdout).toContain(`Branch:  ${BRANCH} at `);

    // The branch holds exactly the edit, on top of main; the checkout is as it was.
    const git = new GitCommandManager(r.dir);
    expect((await git.exec(["show", `${BRANCH}:src/greeting.txt`])).stdout).toBe("hello\n");
    expect(await git.revParse(`${BRANCH}^`)).toBe(r.baseSha);
    expect((await git.exec(["status", "--porcelain"])).stdout).toBe("");
    expect(await git.revParse("HEAD")).toBe(r.baseSha);

    // Reports: markdown, a valid result, and the events in order.
    const [runId] = await readdir(path.join(r.dir, ".switchyard/runs"));
    const runDir = path.join(r.dir, ".switchyard/runs", runId!);
    expect((await readdir(runDir)).sort()).toEqual([
      "decision.json",
      "events.jsonl",
      "report.md",
      "result.json",
      "task.json",
    ]);
    const result = ExecutionResultSchema.parse(
      JSON.parse(await readFile(path.join(runDir, "result.json"), "utf8")),
    );
    expect(result.attempts[1]!.files.map((f) => f.path)).toEqual(["src/greeting.txt"]);
    expect(result.attempts.map((a) => [a.tool, a.outcome])).toEqual([
      ["crasher", "tool_failed"],
      ["editor", "success"],
    ]);
    expect(await readFile(path.join(runDir, "report.md"), "utf8")).toContain("**Outcome: success**");
    const types: string[] = [];
    for await (const e of readEvents([await readFile(path.join(runDir, "events.jsonl"))])) types.push(e.type);
    expect(types).toEqual([
      "task_created",
      "route_decided",
      "execute_started",
      "execute_finished",
      "execute_started",
      "gate_finished",
      "patch_committed",
      "execute_finished",
    ]);
    // A second run sees a clean checkout (the reports are ignored); making the same change again
    // adds no commit and no second branch.
    const again = await cli(["run", "issue.md", "--tool", "editor"], r.dir);
    expect(again.code).toBe(0);
    expect(await git.revParse(BRANCH)).toBe(result.commit_sha);
    expect((await git.exec(["branch", "--list", "switchyard/*"])).stdout.trim()).toBe(BRANCH);
  });

  it("exits 1 and commits nothing when no tool succeeds", async () => {
    const r = await setup(["crasher", "lazy"]);
    const { code, stdout } = await cli(["run", "issue.md"], r.dir);
    expect(code).toBe(1);
    expect(stdout).toMatch(/✗ no changes in /);
    const git = new GitCommandManager(r.dir);
    expect(await git.tryRevParse(BRANCH)).toBeNull();
  });

  it("leaves the patch in the work tree and makes no branch on a dry run", async () => {
    const r = await setup(["editor"]);
    const { code } = await cli(["run", "issue.md", "--dry-run"], r.dir);
    expect(code).toBe(0);
    const git = new GitCommandManager(r.dir);
    expect(await git.tryRevParse(BRANCH)).toBeNull();
    expect(await readFile(path.join(r.dir, "src/greeting.txt"), "utf8")).toBe("hello\n");
  });

  it("refuses a checkout with uncommitted changes and says what to do", async () => {
    const r = await setup(["editor"]);
    await r.write({ "src/greeting.txt": "work in progress\n" });
    const { code, stderr } = await cli(["run", "issue.md"], r.dir);
    expect(code).toBe(1);
    expect(stderr).toMatch(/uncommitted changes .*src\/greeting\.txt.*commit or stash them first/s);
    expect(await readFile(path.join(r.dir, "src/greeting.txt"), "utf8")).toBe("work in progress\n");
  });
});

describe("switchyard demo", () => {
  it("runs the bundled sample: aider skipped, eslint fails the gate, prettier's patch is committed", async () => {
    const { code, stdout } = await cli(["demo"], ROOT);
    expect(code).toBe(0);
    expect(stdout).toMatch(/▶ attempt 1: aider\n {2}– skipped: needs one of /);
    expect(stdout).toMatch(/▶ attempt 2: eslint[\s\S]*✗ gate format failed/);
    expect(stdout).toMatch(/▶ attempt 3: prettier[\s\S]*✓ gate format passed/);
    const repoDir = /^Sample repository: (.+)$/m.exec(stdout)![1]!;
    const git = new GitCommandManager(repoDir);
    const branch = "switchyard/issue-1-make-src-follow-the-project-s-code-style";
    expect((await git.exec(["show", `${branch}:src/greet.js`])).stdout).toBe(
      [
        'var greeting = "Hello";',
        "function greet(name) {",
        '  var message = greeting + ", " + name + "!";',
        "  return message;",
        "}",
        "module.exports = { greet };",
        "",
      ].join("\n"),
    );
  });
});
