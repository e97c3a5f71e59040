import { describe, expect, it } from "@jest/globals";
import {
  escapeInline,
  formatCost,
  formatDuration,
  MAX_REPORT_CHARS,
  renderExecutionLine,
  renderExecutionReport,
} from "../../../src/core/execution/report.js";
import type { FileChange, GateResult } from "../../../src/core/execution/schema.js";
import { RoutingDecisionSchema } from "../../../src/core/routing/schema.js";
import { TaskSchema } from "../../../src/core/task/schema.js";
import { attempt, result } from "./fixtures.js";

const task = TaskSchema.parse({
  key: "octo/app#12",
  kind: "issue",
  repository: { owner: "octo", name: "app" },
  number: 12,
  title: "Fix the greeting",
  body: "",
  author: "alice",
  labels: [],
  capability: "code_generation",
  capability_source: "default",
  capability_reason: "default",
  prompt: "Fix the greeting",
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

function decision(chain: string[], summary = "aider chosen by priority") {
  return RoutingDecisionSchema.parse({
    task_key: "octo/app#12",
    capability: "code_generation",
    strategy: "priority",
    tool: chain[0] ?? null,
    fallback: chain.slice(1),
    candidates: [],
    summary,
  });
}

const gate = (name: string, exit_code: number | null, output_tail = "", timed_out = false): GateResult => ({
  name,
  exit_code,
  timed_out,
  duration_ms: 5000,
  output_tail,
});
const file = (path: string, extra: Partial<FileChange> = {}): FileChange => ({
  path,
  status: "modified",
  mode: "100644",
  binary: false,
  additions: 1,
  deletions: 0,
  ...extra,
});

const success = result(
  [
    attempt(1, "aider", "tool_unavailable", { reason: "needs OPENAI_API_KEY (not set)", duration_ms: 12 }),
    attempt(2, "claude", "success", {
      reason: "claude changed 3 files (+40 −2) and the gates passed",
      duration_ms: 45_300,
      gates: [gate("test", 0), gate("lint", 0)],
      files: [
        file("src/a.ts", { additions: 38, deletions: 2 }),
        file("src/b|c.ts", { status: "added", additions: 2 }),
        file("img/new.png", { old_path: "img/old.png", status: "renamed", binary: true, additions: 0 }),
      ],
      tokens: 12345,
      cost_usd: 0.0421,
    }),
  ],
  {
    outcome: "success",
    tool: "claude",
    branch: "switchyard/issue-12-fix",
    commit_sha: "b".repeat(40),
    diffstat: { files: 3, additions: 40, deletions: 2 },
  },
);

const policy = result(
  [
    attempt(1, "codex", "policy_violation", {
      reason:
        "codex's patch was refused: .github/workflows/ci.yml is a workflow file; changing workflow files " +
        "needs the `workflows` permission and `execution.allow_workflow_changes: true`",
      duration_ms: 61_000,
      files: [file(".github/workflows/ci.yml", { deletions: 1 }), file("src/a.ts", { additions: 3 })],
      offending_paths: [".github/workflows/ci.yml"],
    }),
  ],
  { outcome: "policy_violation", tool: "codex" },
);

const allFailed = result(
  [
    attempt(1, "aider", "tool_failed", {
      reason: "aider exited with code 1: Error: invalid model `gpt-x` for @octocat",
      exit_code: 1,
      duration_ms: 2500,
      output_tail: "Traceback\n```\nError: invalid model\n",
    }),
    attempt(2, "codex", "gate_failed", {
      reason: "codex's patch failed the gate test: it failed with exit code 1",
      duration_ms: 125_000,
      gates: [gate("test", 1, "FAIL test/a.test.ts\n  expected 1 to be 2\n")],
      tokens: 900,
    }),
    attempt(3, "claude", "no_changes", {
      reason: "claude finished without changing any file",
      duration_ms: 30_000,
    }),
  ],
  { outcome: "gate_failed", tool: "codex" },
);

describe("renderExecutionReport", () => {
  it("renders a success: where it landed, the attempts, the files", () => {
    expect(
      renderExecutionReport(success, { task, runUrl: "https://github.com/octo/app/actions/runs/1234" }),
    ).toBe(
      [
        "### Switchyard: #12 Fix the greeting",
        "",
        "**Outcome: success** — claude changed 3 files (+40 −2) and the gates passed.",
        "Committed to `switchyard/issue-12-fix` as `bbbbbbbbbbbb`.",
        "",
        "| # | Tool | Outcome | Exit | Duration | Gates | Tokens | Cost |",
        "|---:|---|---|---:|---:|---|---:|---:|",
        "| 1 | aider | tool unavailable | — | 12 ms | — | — | — |",
        "| 2 | claude | success | 0 | 45.3 s | test passed, lint passed | 12,345 | $0.04 |",
        "",
        "Total: 45.3 s, 12,345 tokens, $0.04.",
        "",
        "- **#1 aider** (tool unavailable): needs OPENAI\\_API\\_KEY (not set)",
        "",
        "#### Changes",
        "",
        "| File | Change | + | − |",
        "|---|---|---:|---:|",
        "| `src/a.ts` | modified | +38 | −2 |",
        "| `src/b\\|c.ts` | added | +2 | −0 |",
        "| `img/old.png` → `img/new.png` | renamed | binary |  |",
        "",
        "[Run log](https://github.com/octo/app/actions/runs/1234)",
      ].join("\n"),
    );
  });

  it("renders a policy violation with the refused paths and what to do", () => {
    expect(renderExecutionReport(policy)).toBe(
      [
        "**Outcome: policy violation** — codex's patch touches paths the policy forbids (1 attempt, none succeeded).",
        "Nothing was committed.",
        "",
        "| # | Tool | Outcome | Exit | Duration | Gates | Tokens | Cost |",
        "|---:|---|---|---:|---:|---|---:|---:|",
        "| 1 | codex | policy violation | 0 | 1 min 1 s | — | — | — |",
        "",
        "Total: 1 min 1 s.",
        "",
        "- **#1 codex** (policy violation): codex's patch was refused: .github/workflows/ci.yml is a workflow " +
          "file; changing workflow files needs the \\`workflows\\` permission and " +
          "\\`execution.allow\\_workflow\\_changes: true\\`",
        "",
        "#### Refused by the policy (#1 codex)",
        "",
        "- `.github/workflows/ci.yml`",
        "",
        "#### What to do next",
        "",
        "- Ask for a change that stays inside the allowed paths, or, if the change is intended, widen the " +
          "task's scope or adjust `execution.forbidden_paths` (workflow files also need " +
          "`execution.allow_workflow_changes`).",
      ].join("\n"),
    );
  });

  it("renders a run where every tool failed, with the output of what failed, folded", () => {
    expect(renderExecutionReport(allFailed, { decision: decision(["aider", "codex", "claude"]) })).toBe(
      [
        "**Outcome: gate failed** — codex's patch failed the gate test (3 attempts, none succeeded).",
        "Nothing was committed.",
        "",
        "| # | Tool | Outcome | Exit | Duration | Gates | Tokens | Cost |",
        "|---:|---|---|---:|---:|---|---:|---:|",
        "| 1 | aider | tool failed | 1 | 2.5 s | — | — | — |",
        "| 2 | codex | gate failed | 0 | 2 min 5 s | test failed (exit 1) | 900 | — |",
        "| 3 | claude | no changes | 0 | 30.0 s | — | — | — |",
        "",
        "Total: 2 min 38 s, 900 tokens (where reported).",
        "",
        "- **#1 aider** (tool failed): aider exited with code 1: Error: invalid model \\`gpt-x\\` for @\u200boctocat",
        "- **#2 codex** (gate failed): codex's patch failed the gate test: it failed with exit code 1",
        "- **#3 claude** (no changes): claude finished without changing any file",
        "",
        "<details><summary>#1 aider: tool failed, end of its output</summary>",
        "",
        "````text",
        "Traceback",
        "```",
        "Error: invalid model",
        "````",
        "",
        "</details>",
        "",
        "<details><summary>#2 codex: gate test failed (exit 1), end of its output</summary>",
        "",
        "```text",
        "FAIL test/a.test.ts",
        "  expected 1 to be 2",
        "```",
        "",
        "</details>",
        "",
        "#### What to do next",
        "",
        "- The folded output above shows why the gate failed. If the gate fails on the base branch too, fix " +
          "it there first; otherwise make the issue more precise and comment `/switchyard retry`.",
        "- Make the issue more specific (name the files and the expected behaviour) or add the files to the " +
          "task's scope, then comment `/switchyard retry`.",
        "- The folded output above shows how the tool failed; a failure at start usually means a missing or " +
          "invalid API key or model name. Comment `/switchyard retry` once it is fixed.",
      ].join("\n"),
    );
  });

  it("says which secret to set for a tool that could not run, and what the router said when none was chosen", () => {
    const unavailable = result(
      [
        attempt(1, "aider", "tool_unavailable", { reason: "needs OPENAI_API_KEY (not set)" }),
        attempt(2, "claude", "tool_unavailable", {
          reason: "needs one of ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN (none is set)",
        }),
        attempt(3, "codex", "tool_unavailable", { reason: "`codex` is not installed (not found on PATH)" }),
      ],
      { outcome: "tool_unavailable" },
    );
    const report = renderExecutionReport(unavailable);
    expect(report).toContain(
      "**Outcome: tool unavailable** — no tool in the chain could run here (3 attempts).\nNothing was committed.",
    );
    expect(report.slice(report.indexOf("#### What to do next"))).toBe(
      [
        "#### What to do next",
        "",
        "- Set `OPENAI_API_KEY` as a repository secret and pass it to the execute job's environment, or remove aider from the chain.",
        "- Set `ANTHROPIC_API_KEY` or `CLAUDE_CODE_OAUTH_TOKEN` as a repository secret and pass it to the execute job's environment, or remove claude from the chain.",
        "- Install codex on the runner (a setup step in the execute workflow), or remove it from the chain.",
      ].join("\n"),
    );

    const none = result([], { outcome: "tool_unavailable" });
    expect(renderExecutionReport(none, { decision: decision([], "no tool can do *documentation*") })).toBe(
      [
        "**Outcome: tool unavailable** — no tool was chosen: no tool can do \\*documentation\\*",
        "Nothing was committed.",
        "",
        "#### What to do next",
        "",
        "- Check the routing decision: give a tool this capability (`capabilities` in its profile) or make one available on the runner.",
      ].join("\n"),
    );
  });

  it("explains the three kinds of error", () => {
    const error = (reason: string) =>
      renderExecutionReport(result([attempt(1, "aider", "error", { reason })], { outcome: "error" }));
    expect(error("cancelled: the run was stopped while aider was running")).toContain(
      "**Outcome: error** — the run was cancelled before it finished.",
    );
    expect(error("branch moved: conflict in src/a.ts")).toContain(
      "**Outcome: error** — the branch moved while the run worked, so nothing was committed.",
    );
    const internal = error("internal error: git <crashed> in [repo]");
    expect(internal).toContain(
      "**Outcome: error** — Switchyard itself failed: git &lt;crashed&gt; in \\[repo\\]",
    );
    expect(internal).toContain("- This is a fault in Switchyard, not in the task");
  });

  it("says a successful patch was not committed on a dry run", () => {
    const dry = result([attempt(1, "aider", "success", { files: [file("a.txt")] })], {
      outcome: "success",
      diffstat: { files: 1, additions: 1, deletions: 0 },
    });
    expect(renderExecutionReport(dry).split("\n").slice(0, 2)).toEqual([
      "**Outcome: success** — aider changed 1 file (+1 −0); no gates are configured.",
      "The patch was not committed by this run (a dry run, or it is handed on as an artifact).",
    ]);
  });

  it("lists at most 50 files", () => {
    const files = Array.from({ length: 53 }, (_, i) => file(`f${i}.txt`));
    const many = result([attempt(1, "aider", "success", { files })], {
      outcome: "success",
      diffstat: { files: 53, additions: 53, deletions: 0 },
    });
    const report = renderExecutionReport(many);
    expect(report).toContain("| `f49.txt` | modified | +1 | −0 |\n\n…and 3 more files.");
    expect(report).not.toContain("f50.txt");
  });

  it("stays under the size limit by dropping folded output, and says so", () => {
    const noisy = "x".repeat(100) + "\n";
    const attempts = Array.from({ length: 20 }, (_, i) =>
      attempt(i + 1, "aider", "gate_failed", {
        gates: [gate("test", 1, noisy.repeat(80))],
        reason: "r".repeat(1900),
      }),
    );
    const big = result(attempts, { outcome: "gate_failed" });
    const report = renderExecutionReport(big);
    expect(report.length).toBeLessThanOrEqual(MAX_REPORT_CHARS);
    expect(
      report.endsWith(
        "_The report was shortened to fit; the full result is in the run's event log and artifacts._",
      ),
    ).toBe(true);
    // The table and the reasons survive; some folded blocks do not.
    expect(report).toContain("| 20 | aider | gate failed |");
    expect(report).toContain("#### What to do next");
    const blocks = report.split("<details>").length - 1;
    expect(blocks).toBeGreaterThan(0);
    expect(blocks).toBeLessThan(20);
  });

  it("keeps a folded tail to its last 80 lines", () => {
    const lines = Array.from({ length: 100 }, (_, i) => `line ${i}`).join("\n");
    const failed = result([attempt(1, "aider", "tool_failed", { exit_code: 1, output_tail: lines })], {
      outcome: "tool_failed",
    });
    const report = renderExecutionReport(failed);
    expect(report).toContain("```text\nline 20\n");
    expect(report).not.toContain("line 19\n");
    expect(report).toContain("line 99\n```");
  });
});

describe("renderExecutionLine", () => {
  it("gives one line per result", () => {
    expect(renderExecutionLine(success)).toBe(
      "octo/app#12: success: claude changed 3 files (+40 −2) -> switchyard/issue-12-fix " +
        "[aider tool unavailable, claude success; 45.3 s]",
    );
    expect(renderExecutionLine(allFailed)).toBe(
      "octo/app#12: gate failed: codex's patch failed the gate test: it failed with exit code 1 " +
        "[aider tool failed, codex gate failed, claude no changes; 2 min 38 s]",
    );
    expect(renderExecutionLine(result([], { outcome: "tool_unavailable" }))).toBe(
      "octo/app#12: tool unavailable: no tool was chosen [no attempts; 0 ms]",
    );
  });
});

describe("formatting", () => {
  it("formats durations, costs and inline text", () => {
    expect([0, 999, 1000, 59_949, 60_000, 61_000, 3_600_000, 3_720_000].map(formatDuration)).toEqual([
      "0 ms",
      "999 ms",
      "1.0 s",
      "59.9 s",
      "1 min",
      "1 min 1 s",
      "1 h",
      "1 h 2 min",
    ]);
    expect([0.0042, 0.01, 1.5].map(formatCost)).toEqual(["$0.0042", "$0.01", "$1.50"]);
    expect(escapeInline("<img src=x> **bold** [link](u) a|b @team\nnext")).toBe(
      "&lt;img src=x&gt; \\*\\*bold\\*\\* \\[link\\](u) a\\|b @\u200bteam next",
    );
  });
});
