import { describe, expect, it } from "@jest/globals";
import { loadDefaultSources, parseConfigSources, type ConfigSource } from "../../src/config/load.js";
import { ConfigError, type Problem } from "../../src/core/errors.js";

const OVERRIDE = ".github/switchyard.yml";

/** The problems of a configuration that must fail, or a test failure if it loads. */
async function problemsOf(text: string, defaults?: ConfigSource[]): Promise<Problem[]> {
  try {
    parseConfigSources(defaults ?? (await loadDefaultSources()), [{ file: OVERRIDE, text }]);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const e = error as ConfigError;
    expect(e.message).not.toMatch(/\n\s+at /); // never a stack trace
    return e.problems;
  }
  throw new Error("expected a ConfigError");
}

async function messageOf(text: string): Promise<string> {
  try {
    parseConfigSources(await loadDefaultSources(), [{ file: OVERRIDE, text }]);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("YAML syntax errors", () => {
  it("report file, line and column", async () => {
    expect(await problemsOf("routing:\n  strategy: priority\n\tmax_fallbacks: 1\n")).toEqual([
      {
        file: OVERRIDE,
        line: 3,
        column: 1,
        message: "YAML syntax error: Tabs are not allowed as indentation",
        hint: "indent with spaces; YAML does not allow tabs there",
      },
    ]);
  });

  it("report an unclosed flow list where the parser gave up", async () => {
    expect(await messageOf("trigger:\n  allow_bots: [a, b\nrouting: {}\n")).toBe(
      ".github/switchyard.yml:3:1: YAML syntax error: Flow sequence in block collection must be sufficiently " +
        "indented and end with a ] (check the indentation and that every '[' or '{' is closed)",
    );
  });

  it("report a duplicate key at the second occurrence", async () => {
    const [problem] = await problemsOf("trigger:\n  label: a\n  label: b\n");
    expect(problem).toMatchObject({
      line: 3,
      column: 3,
      message: "YAML syntax error: Map keys must be unique",
    });
  });

  it("refuse a second document", async () => {
    expect(await problemsOf("trigger: {}\n---\nrouting: {}\n")).toEqual([
      {
        file: OVERRIDE,
        line: 2,
        column: 1,
        message: "holds more than one YAML document",
        hint: "a configuration file holds one YAML document; remove the '---' separator",
      },
    ]);
  });

  it("refuse YAML merge keys with a way forward", async () => {
    const [problem] = await problemsOf("base: &b {label: x}\ntrigger:\n  <<: *b\n");
    expect(problem).toMatchObject({
      line: 3,
      column: 3,
      message: "YAML merge keys ('<<') are not supported",
    });
  });
});

describe("schema errors", () => {
  it("name an unknown key and suggest the near miss", async () => {
    expect(await messageOf("tools:\n  - name: claude\n    timeout_secs: 600\n")).toBe(
      ".github/switchyard.yml:3:5: tools[claude].timeout_secs: unknown key 'timeout_secs' " +
        "(did you mean 'timeout_seconds'?)",
    );
  });

  it("list the allowed keys when nothing is close", async () => {
    expect(await problemsOf("trigger:\n  colour: blue\n")).toEqual([
      {
        file: OVERRIDE,
        line: 2,
        column: 3,
        path: "trigger.colour",
        message: "unknown key 'colour'",
        hint: "allowed keys: label, allow_bots",
      },
    ]);
  });

  it("name the key path, the expected type and the line of the key", async () => {
    expect(await problemsOf("routing:\n  strategy: priority\n  max_fallbacks: lots\n")).toEqual([
      {
        file: OVERRIDE,
        line: 3,
        column: 3,
        path: "routing.max_fallbacks",
        message: 'expected a number, got a string ("lots")',
      },
    ]);
  });

  it("suggest the enum value that was meant", async () => {
    const [problem] = await problemsOf("tools:\n  - name: aider\n    prompt_via: files\n");
    expect(problem).toEqual({
      file: OVERRIDE,
      line: 3,
      column: 5,
      path: "tools[aider].prompt_via",
      message: 'expected one of "file", "stdin", "argument", got a string ("files")',
      hint: "did you mean 'file'?",
    });
  });

  it("explain bounds and whole numbers", async () => {
    const problems = await problemsOf(
      "limits:\n  max_retries: 99\ntools:\n  - name: codex\n    timeout_seconds: 1.5\n    capabilities: []\n",
    );
    expect(problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`)).toEqual([
      "2:3 limits.max_retries: must be at most 10, got 99",
      "5:5 tools[codex].timeout_seconds: expected a whole number, got a number (1.5)",
      "6:5 tools[codex].capabilities: must not be empty",
    ]);
  });

  it("point a missing required key at the mapping that lacks it", async () => {
    expect(await problemsOf("tools:\n  - name: newtool\n    capabilities: [testing]\n")).toEqual([
      {
        file: OVERRIDE,
        line: 2,
        column: 5,
        path: "tools[newtool].command",
        message: "is required (a string)",
      },
    ]);
  });

  it("explain unquoted placeholders, which YAML reads as mappings", async () => {
    const [problem] = await problemsOf(
      "tools:\n  - name: aider\n    args: [--message-file, {prompt_file}]\n",
    );
    expect(problem).toEqual({
      file: OVERRIDE,
      line: 3,
      column: 28,
      path: "tools[aider].args[1]",
      message: "expected a string, got a mapping",
      hint: 'quote placeholders in YAML: "{prompt_file}"',
    });
  });

  it("reject wrong types for a whole section", async () => {
    const message = await messageOf("routing: fast\nrecovery: [1]\n");
    expect(message).toBe(
      [
        '.github/switchyard.yml:1:1: routing: expected a mapping, got a string ("fast")',
        ".github/switchyard.yml:2:1: recovery: expected a mapping, got a list",
      ].join("\n"),
    );
  });

  it("collect every problem of every file in one error", async () => {
    const problems = await problemsOf("trigger:\n  lable: x\nroutng: {}\nlimits:\n  max_retries: -1\n");
    expect(problems.map((p) => p.line)).toEqual([2, 3, 5]);
  });
});

describe("cross-checks", () => {
  it("reject an unknown capability in a chain", async () => {
    expect(await problemsOf("routing:\n  chains:\n    tesing: [claude]\n")).toEqual([
      {
        file: OVERRIDE,
        line: 3,
        column: 5,
        path: "routing.chains.tesing",
        message: "unknown capability 'tesing'",
        hint: "did you mean 'testing'?",
      },
    ]);
  });

  it("reject a tool in a chain that does not exist", async () => {
    expect(await problemsOf("routing:\n  chains:\n    testing: [codex, claud]\n")).toEqual([
      {
        file: OVERRIDE,
        line: 3,
        column: 22,
        path: "routing.chains.testing[1]",
        message: "unknown tool 'claud'",
        hint: "did you mean 'claude'?",
      },
    ]);
  });

  it("list the known tools when no name is close", async () => {
    const [problem] = await problemsOf("recovery:\n  escalation: [devin]\n");
    expect(problem).toMatchObject({
      path: "recovery.escalation[0]",
      message: "unknown tool 'devin'",
      hint: "known tools: aider, claude, codex, eslint, gemini, gofmt, prettier, ruff, ruff-format, script",
    });
  });

  it("check capabilities of label mappings and tools, and mechanical fixers", async () => {
    const problems = await problemsOf(
      [
        "capabilities:",
        "  labels:",
        "    security: hardening",
        "tools:",
        "  - name: aider",
        "    capabilities: [code_generation, docs]",
        "recovery:",
        "  mechanical:",
        "    format: [prettier, black]",
      ].join("\n"),
    );
    expect(problems.map((p) => [p.path, p.message, p.hint])).toEqual([
      [
        "capabilities.labels.security",
        "unknown capability 'hardening'",
        "use a built-in capability or add 'hardening' to capabilities.extra",
      ],
      [
        "tools[aider].capabilities[1]",
        "unknown capability 'docs'",
        "use a built-in capability or add 'docs' to capabilities.extra",
      ],
      [
        "recovery.mechanical.format[1]",
        "unknown tool 'black'",
        "known tools: aider, claude, codex, eslint, gemini, gofmt, prettier, ruff, ruff-format, script",
      ],
    ]);
  });

  it("reject unknown placeholders and AI tools that never get the prompt", async () => {
    const problems = await problemsOf(
      [
        "tools:",
        "  - name: aider",
        "    args: ['{promt_file}']",
        "  - name: gemini",
        "    model: gemini-2.5-pro",
        "  - name: claude",
        "    prompt_via: argument",
      ].join("\n"),
    );
    // Each problem points at the setting the override wrote: args for aider, prompt_via for claude.
    expect(problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message} (${p.hint})`)).toEqual([
      "3:5 tools[aider].args: prompt_via is 'file' but no argument contains {prompt_file} " +
        '(add "{prompt_file}" where the tool expects the prompt file, or use prompt_via: stdin)',
      "3:12 tools[aider].args[0]: unknown placeholder '{promt_file}' (did you mean '{prompt_file}'?)",
      "7:5 tools[claude].prompt_via: prompt_via is 'argument' but no argument contains {prompt} " +
        '(add "{prompt}" where the tool expects the prompt)',
    ]);
  });

  it("reject an output pattern without a capture group", async () => {
    const [problem] = await problemsOf(
      "tools:\n  - name: codex\n    output:\n      tokens_pattern: 'tokens: \\d+'\n",
    );
    expect(problem).toEqual({
      file: OVERRIDE,
      line: 4,
      column: 7,
      path: "tools[codex].output.tokens_pattern",
      message: "has no capture group for the number",
      hint: "wrap the number in ( ), e.g. 'Cost: \\$([0-9.]+)'",
    });
  });

  it("reject an output pattern that is not a regular expression", async () => {
    const [problem] = await problemsOf(
      "tools:\n  - name: aider\n    output:\n      cost_pattern: 'Cost: (['\n",
    );
    expect(problem).toMatchObject({
      line: 4,
      column: 7,
      path: "tools[aider].output.cost_pattern",
      message: "is not a valid regular expression (Unterminated character class)",
    });
  });

  it("reject a tool listed twice in one file", async () => {
    const problems = await problemsOf(
      "tools:\n  - name: aider\n    retries: 0\n  - name: aider\n    retries: 2\n",
    );
    expect(problems).toEqual([
      {
        file: OVERRIDE,
        line: 4,
        column: 5,
        message: "'aider' is listed twice",
        hint: "the first entry is at line 2; merge the two",
      },
    ]);
  });
});

describe("defaults", () => {
  it("blame the defaults file for a problem only it contains", async () => {
    const defaults: ConfigSource[] = [
      {
        file: "config/switchyard.yml",
        text: "routing:\n  chains:\n    default: [solo, ghost]\nrecovery:\n  escalation: [solo]\n",
      },
      {
        file: "config/tools/solo.yml",
        kind: "tool",
        text: "name: solo\ncommand: solo\nprompt_via: stdin\ncapabilities: [testing]\n",
      },
    ];
    expect(await problemsOf("trigger:\n  label: go\n", defaults)).toEqual([
      {
        file: "config/switchyard.yml",
        line: 3,
        column: 21,
        path: "routing.chains.default[1]",
        message: "unknown tool 'ghost'",
        hint: "known tools: solo",
      },
    ]);
  });

  it("say so when the offending value is a built-in default no file wrote", async () => {
    const defaults: ConfigSource[] = [
      {
        file: "config/tools/solo.yml",
        kind: "tool",
        text: "name: solo\ncommand: solo\nprompt_via: stdin\ncapabilities: [testing]\n",
      },
    ];
    const problems = await problemsOf("routing:\n  chains:\n    default: [solo]\n", defaults);
    expect(problems[0]).toEqual({
      file: OVERRIDE,
      line: 1,
      column: 1,
      path: "recovery.escalation[0]",
      message: "unknown tool 'aider'",
      hint: "known tools: solo; no file sets recovery.escalation, its built-in default names it: set recovery.escalation",
    });
    expect(problems.map((p) => p.message)).toEqual([
      "unknown tool 'aider'",
      "unknown tool 'codex'",
      "unknown tool 'claude'",
    ]);
  });

  it("require a tool file's name to match the file", async () => {
    const defaults: ConfigSource[] = [
      { file: "config/switchyard.yml", text: "" },
      {
        file: "config/tools/solo.yml",
        kind: "tool",
        text: "name: duo\ncommand: x\ncapabilities: [testing]\n",
      },
      { file: "config/tools/anon.yml", kind: "tool", text: "command: x\n" },
    ];
    expect(await problemsOf("", defaults)).toEqual([
      {
        file: "config/tools/solo.yml",
        line: 1,
        column: 1,
        path: "name",
        message: "the file is solo.yml but the profile is named 'duo'",
        hint: "rename the file or set 'name: solo'",
      },
      {
        file: "config/tools/anon.yml",
        line: 1,
        column: 1,
        path: "name",
        message: "a tool profile needs a name (a string)",
        hint: "add 'name: <tool>' matching the file name",
      },
    ]);
  });
});

describe("YAML features a configuration does not need", () => {
  it("refuse unknown tags, binary values and unknown directives", async () => {
    expect(await problemsOf("trigger:\n  label: !secret x\n")).toEqual([
      {
        file: OVERRIDE,
        line: 2,
        column: 10,
        message: "unsupported YAML: Unresolved tag: !secret",
        hint: "remove the tag: plain values are all a configuration needs",
      },
    ]);
    expect(await problemsOf("trigger:\n  label: !!binary aGVsbG8=\n")).toEqual([
      {
        file: OVERRIDE,
        line: 2,
        column: 19,
        message: "unsupported value tagged tag:yaml.org,2002:binary",
        hint: "use a plain string, number, true/false, list or mapping",
      },
    ]);
    const [directive] = await problemsOf("%FOO bar\n---\ntrigger: {}\n");
    expect(directive).toMatchObject({
      line: 1,
      column: 1,
      message: "unsupported YAML: Unknown directive %FOO",
    });
  });

  it("name infinite numbers for what they are", async () => {
    const [problem] = await problemsOf("routing:\n  metrics:\n    prior_successes: .inf\n");
    expect(problem).toMatchObject({ path: "routing.metrics.prior_successes" });
    expect(problem!.message).toBe("expected a number, got Infinity (not a finite number)");
  });
});
