import { describe, expect, it } from "@jest/globals";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  loadConfig,
  loadDefaultSources,
  parseConfigSources,
  type ConfigSource,
} from "../../src/config/load.js";
import { BUILTIN_CAPABILITIES, type Config, type ToolProfile } from "../../src/config/schema.js";
import { ConfigError } from "../../src/core/errors.js";

const OVERRIDE = ".github/switchyard.yml";
const override = (text: string): ConfigSource => ({ file: OVERRIDE, text });

async function withDefaults(...overrides: string[]) {
  return parseConfigSources(await loadDefaultSources(), overrides.map(override));
}

function tool(config: Config, name: string): ToolProfile {
  const found = config.tools.find((t) => t.name === name);
  if (!found) throw new Error(`no tool ${name}`);
  return found;
}

describe("shipped defaults", () => {
  it("load, validate and describe every required tool", async () => {
    const { config, sources, warnings } = await loadConfig();
    expect(config.tools.map((t) => t.name).sort()).toEqual([
      "aider",
      "claude",
      "codex",
      "eslint",
      "gemini",
      "gofmt",
      "prettier",
      "ruff",
      "ruff-format",
      "script",
    ]);
    expect(sources[0]).toBe("config/switchyard.yml");
    expect(sources).toContain("config/tools/claude.yml");
    expect(warnings).toEqual([]);
    expect(config.routing.strategy).toBe("priority");
    expect(Object.keys(config.routing.chains).sort()).toEqual([...BUILTIN_CAPABILITIES, "default"].sort());
    expect(config.recovery.escalation).toEqual(["aider", "codex", "claude"]);
  });

  it("give every AI tool a non-interactive command that receives the prompt", async () => {
    const { config } = await loadConfig();
    expect(tool(config, "aider")).toMatchObject({
      command: "aider",
      prompt_via: "file",
      args: expect.arrayContaining(["--message-file", "{prompt_file}", "--yes-always", "--no-auto-commits"]),
    });
    expect(tool(config, "claude")).toMatchObject({ command: "claude", prompt_via: "stdin" });
    expect(tool(config, "claude").args.slice(0, 3)).toEqual(["-p", "--output-format", "json"]);
    expect(tool(config, "codex").args).toEqual([
      "exec",
      "--sandbox",
      "workspace-write",
      "--json",
      "--model",
      "{model}",
      "-",
    ]);
    expect(tool(config, "gemini").args).toContain("--prompt");
    for (const t of config.tools.filter((t) => t.kind === "ai")) {
      expect(t.env_any_of.length).toBeGreaterThan(0);
      expect(t.availability.args.length).toBeGreaterThan(0);
    }
    expect(tool(config, "prettier")).toMatchObject({ kind: "mechanical", command: "npx", cost_weight: 0 });
    expect(tool(config, "eslint").args).toEqual(["--no", "--", "eslint", "--fix", "."]);
  });

  it("ship an output pattern that reads aider's session cost, and JSON output for the agents", async () => {
    const { config } = await loadConfig();
    const pattern = new RegExp(tool(config, "aider").output.cost_pattern!, "g");
    const aider =
      "Tokens: 3.0k sent, 42 received. Cost: $0.0063 message, $0.0063 session.\n" +
      "Tokens: 4.1k sent, 10 received. Cost: $0.0100 message, $0.0163 session.";
    expect([...aider.matchAll(pattern)].at(-1)?.slice(1)).toEqual(["0.0163"]);
    expect(tool(config, "claude").output).toEqual({ format: "json" });
    expect(tool(config, "gemini").output).toEqual({ format: "json" });
    expect(tool(config, "codex").output).toEqual({ format: "jsonl" });
  });

  it("let a model set in an override reach the tool through --model {model}", async () => {
    const { config } = await loadConfig();
    for (const name of ["aider", "claude", "codex", "gemini"]) {
      const args = tool(config, name).args;
      expect(args[args.indexOf("{model}") - 1]).toBe("--model");
      expect(tool(config, name).model).toBeUndefined();
    }
  });

  it("read the defaults once per directory", async () => {
    const first = await loadDefaultSources();
    const second = await loadDefaultSources();
    expect(second).toBe(first);
  });
});

describe("overrides", () => {
  it("change one field of one tool by name and add a new tool", async () => {
    const { config, sources } = await withDefaults(
      [
        "tools:",
        "  - name: claude",
        "    timeout_seconds: 600",
        "  - name: mytool",
        "    command: ./bin/fix",
        "    args: [--prompt, '{prompt_file}']",
        "    capabilities: [error_fix]",
        "routing:",
        "  chains:",
        "    error_fix: [mytool, claude]",
      ].join("\n"),
    );
    const claude = tool(config, "claude");
    expect(claude.timeout_seconds).toBe(600);
    // Everything else of the shipped profile survives the merge.
    expect(claude.command).toBe("claude");
    expect(claude.args).toContain("--permission-mode");
    expect(claude.capabilities).toContain("dependency_update");
    expect(config.tools.at(-1)).toMatchObject({
      name: "mytool",
      kind: "ai",
      enabled: true,
      command: "./bin/fix",
      timeout_seconds: 900,
    });
    expect(config.routing.chains.error_fix).toEqual(["mytool", "claude"]);
    // Chains the override did not name keep their defaults.
    expect(config.routing.chains.testing).toEqual(["codex", "claude", "aider", "gemini"]);
    expect(sources.at(-1)).toBe(OVERRIDE);
  });

  it("replace plain lists instead of merging them", async () => {
    const { config } = await withDefaults(
      "tools:\n  - name: aider\n    args: [--message-file, '{prompt_file}', --yes-always]\nrecovery:\n  escalation: [claude]\n",
    );
    expect(tool(config, "aider").args).toEqual(["--message-file", "{prompt_file}", "--yes-always"]);
    expect(config.recovery.escalation).toEqual(["claude"]);
  });

  it("switch a tool off with enabled: false and keep its place", async () => {
    const before = (await withDefaults()).config.tools.map((t) => t.name);
    const { config } = await withDefaults("tools:\n  - name: gemini\n    enabled: false\n");
    expect(config.tools.map((t) => t.name)).toEqual(before);
    expect(tool(config, "gemini").enabled).toBe(false);
  });

  it("treat null as 'remove this key': label mappings, chains and optional settings", async () => {
    const { config } = await withDefaults(
      [
        "capabilities:",
        "  labels:",
        "    bug: null",
        "    perf: refactoring",
        "routing:",
        "  chains:",
        "    documentation: ~",
        "tools:",
        "  - name: aider",
        "    output:",
        "      cost_pattern: null",
      ].join("\n"),
    );
    expect(config.capabilities.labels.bug).toBeUndefined();
    expect(config.capabilities.labels.perf).toBe("refactoring");
    expect(config.capabilities.labels.docs).toBe("documentation");
    expect(config.routing.chains.documentation).toBeUndefined();
    expect(tool(config, "aider").output).toEqual({ format: "text" });
  });

  it("resets a key that has a built-in default to that default", async () => {
    const { config } = await withDefaults(
      "routing:\n  max_fallbacks: null\ntools:\n  - name: claude\n    timeout_seconds: ~\n",
    );
    expect(config.routing.max_fallbacks).toBe(2);
    expect(tool(config, "claude").timeout_seconds).toBe(900);
  });

  it("merge execution.gates by name", async () => {
    const { config } = await withDefaults(
      "execution:\n  gates:\n    - name: test\n      command: npm\n      args: [test]\n",
      "execution:\n  gates:\n    - name: test\n      timeout_seconds: 120\n    - name: lint\n      command: npm\n      args: [run, lint]\n",
    );
    expect(config.execution.gates).toEqual([
      { name: "test", command: "npm", args: ["test"], timeout_seconds: 120, env: [] },
      { name: "lint", command: "npm", args: ["run", "lint"], timeout_seconds: 600, env: [] },
    ]);
  });

  it("accept an empty or comment-only file as no change", async () => {
    const base = (await withDefaults()).config;
    expect((await withDefaults("")).config).toEqual(base);
    expect((await withDefaults("# nothing to change yet\n")).config).toEqual(base);
  });

  it("report capability extras and warn about a chain tool without the capability", async () => {
    const { config, warnings } = await withDefaults(
      [
        "capabilities:",
        "  extra: [security]",
        "routing:",
        "  chains:",
        "    security: [auditor, prettier]",
        "tools:",
        "  - name: auditor",
        "    command: audit",
        "    prompt_via: stdin",
        "    capabilities: [security]",
      ].join("\n"),
    );
    expect(config.routing.chains.security).toEqual(["auditor", "prettier"]);
    expect(warnings).toEqual([
      {
        file: OVERRIDE,
        line: 5,
        column: 25,
        path: "routing.chains.security[1]",
        message:
          "tool 'prettier' is in the 'security' chain but does not declare that capability, so the router will skip it",
        hint: "add 'security' to tools[prettier].capabilities or remove it from the chain",
      },
    ]);
  });

  it("points a warning caused by the defaults at the line of the defaults", async () => {
    // Lists are replaced whole: claude loses the capabilities the shipped chains rely on.
    const { warnings } = await withDefaults(
      "tools:\n  - name: claude\n    capabilities: [code_generation]\n",
    );
    expect(warnings.map((w) => w.path)).toEqual([
      "routing.chains.refactoring[0]",
      "routing.chains.testing[1]",
      "routing.chains.linting[2]",
      "routing.chains.documentation[1]",
      "routing.chains.error_fix[1]",
      "routing.chains.dependency_update[1]",
    ]);
    expect(warnings[0]).toMatchObject({ file: "config/switchyard.yml", line: 47, column: 19 });
  });
});

describe("loadConfig on a checkout", () => {
  async function checkout(files: Record<string, string | Buffer>): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), "switchyard-config-"));
    for (const [path, content] of Object.entries(files)) {
      await mkdir(join(dir, path, ".."), { recursive: true });
      await writeFile(join(dir, path), content);
    }
    return dir;
  }

  it("reads .github/switchyard.yml when it exists, the defaults alone otherwise", async () => {
    const withFile = await checkout({ [OVERRIDE]: "routing:\n  strategy: metrics\n" });
    const without = await checkout({ "README.md": "hi" });
    try {
      const a = await loadConfig({ repoDir: withFile });
      expect(a.config.routing.strategy).toBe("metrics");
      expect(a.sources.at(-1)).toBe(OVERRIDE);
      const b = await loadConfig({ repoDir: without });
      expect(b.config.routing.strategy).toBe("priority");
      expect(b.sources).not.toContain(OVERRIDE);
    } finally {
      await rm(withFile, { recursive: true, force: true });
      await rm(without, { recursive: true, force: true });
    }
  });

  it("refuses a missing explicit config file and a .yaml file the app would never read", async () => {
    const dir = await checkout({ ".github/switchyard.yaml": "routing: {}\n" });
    try {
      await expect(loadConfig({ repoDir: dir, configPath: "custom.yml" })).rejects.toThrow(
        new ConfigError([{ file: "custom.yml", message: "does not exist", hint: "check the path" }]),
      );
      const error = await loadConfig({ repoDir: dir }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).message).toBe(
        ".github/switchyard.yaml: is not read: Switchyard's configuration file is .github/switchyard.yml " +
          "(rename it to .github/switchyard.yml)",
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("takes override text the caller fetched itself", async () => {
    const { config } = await loadConfig({ override: override("trigger:\n  label: automate\n") });
    expect(config.trigger.label).toBe("automate");
  });

  it("uses another defaults directory and names its files relative to it", async () => {
    const dir = await checkout({
      "defaults/switchyard.yml":
        "routing:\n  chains:\n    default: [solo]\nrecovery:\n  escalation: [solo]\n",
      "defaults/tools/solo.yml":
        "name: solo\ncommand: solo\nargs: ['{prompt_file}']\ncapabilities: [code_generation]\n",
    });
    try {
      const { config, sources } = await loadConfig({ defaultsDir: join(dir, "defaults") });
      expect(sources).toEqual(["defaults/switchyard.yml", "defaults/tools/solo.yml"]);
      expect(config.tools.map((t) => t.name)).toEqual(["solo"]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
