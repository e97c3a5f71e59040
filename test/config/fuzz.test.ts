import { describe, expect, it } from "@jest/globals";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, loadDefaultSources, MAX_PROBLEMS, parseConfigSources } from "../../src/config/load.js";
import { decodeConfigBytes } from "../../src/config/read-file.js";
import { ConfigSchema } from "../../src/config/schema.js";
import { ConfigError } from "../../src/core/errors.js";
import { prng } from "../support/prng.js";

/**
 * Garbage in, a ConfigError out: never another exception, never a hang. Each case is timed in
 * CPU time of this process (wall-clock time grows whenever a busy CI machine runs other work); the
 * budget is generous for a loaded runner and still far below what a hang or an exponential
 * expansion would take. Speed itself is measured by the bench.
 */

const BUDGET_MS = 3000;
const FILE = ".github/switchyard.yml";

type Outcome =
  { kind: "ok" } | { kind: "config-error"; error: ConfigError } | { kind: "other"; error: unknown };

async function attempt(text: string): Promise<{ outcome: Outcome; ms: number }> {
  const defaults = await loadDefaultSources();
  const start = process.cpuUsage();
  let outcome: Outcome;
  try {
    parseConfigSources(defaults, [{ file: FILE, text }]);
    outcome = { kind: "ok" };
  } catch (error) {
    outcome = error instanceof ConfigError ? { kind: "config-error", error } : { kind: "other", error };
  }
  const used = process.cpuUsage(start);
  return { outcome, ms: (used.user + used.system) / 1000 };
}

async function expectConfigError(text: string): Promise<ConfigError> {
  const { outcome, ms } = await attempt(text);
  expect(ms).toBeLessThan(BUDGET_MS);
  if (outcome.kind !== "config-error")
    throw new Error(`expected a ConfigError, got ${JSON.stringify(outcome)}`);
  const { error } = outcome;
  expect(error.problems.length).toBeGreaterThan(0);
  expect(error.problems.length).toBeLessThanOrEqual(MAX_PROBLEMS);
  expect(error.message).not.toMatch(/\n\s+at |node_modules|\.ts:\d+/);
  for (const p of error.problems) expect(p.file).toBe(FILE);
  return error;
}

describe("config loader under garbage", () => {
  it("refuses 10 MB before parsing it", async () => {
    const error = await expectConfigError("a: " + "x".repeat(10 * 1024 * 1024));
    expect(error.message).toBe(
      ".github/switchyard.yml: is 10.0 MB; configuration files are limited to 1.0 MB " +
        "(a Switchyard configuration is a few kilobytes: check that the right file is read)",
    );
  });

  it("refuses a multi-byte body just over the limit by its UTF-8 size", async () => {
    // 400,000 three-byte characters: fewer UTF-16 units than the limit, more bytes.
    const error = await expectConfigError("a: " + "€".repeat(400_000));
    expect(error.problems[0]!.message).toBe("is 1.1 MB; configuration files are limited to 1.0 MB");
  });

  it("reads a large body under the limit in time", async () => {
    const { outcome, ms } = await attempt("# padding\n".repeat(90_000) + "trigger:\n  label: ok\n");
    expect(outcome.kind).toBe("ok");
    expect(ms).toBeLessThan(BUDGET_MS);
  });

  it("refuses random binary bytes (seeded)", async () => {
    for (let seed = 1; seed <= 40; seed++) {
      const next = prng(seed);
      const bytes = Buffer.from(Array.from({ length: 4096 }, () => Math.floor(next() * 256)));
      await expectConfigError(bytes.toString("latin1"));
    }
  });

  it("refuses NUL bytes with their position", async () => {
    const error = await expectConfigError("trigger:\n  label: a\u0000b\n");
    expect(error.problems).toEqual([
      { file: FILE, line: 2, column: 11, message: "contains NUL bytes: this is not a text file" },
    ]);
  });

  it("refuses random YAML-shaped garbage without crashing (seeded)", async () => {
    const tokens = [
      ":",
      ": ",
      "- ",
      "[",
      "]",
      "{",
      "}",
      ",",
      "&a ",
      "*a",
      "*b",
      "!!str ",
      "!x ",
      "'",
      '"',
      "\n",
      "\n  ",
      "  ",
      "#",
      "|\n",
      ">\n",
      "? ",
      "---\n",
      "...\n",
      "%YAML 1.2\n",
      "tools",
      "name",
      "routing",
      "chains",
      "claude",
      "null",
      "~",
      "true",
      "1e309",
      "-0",
      "0x1F",
      ".nan",
      "\t",
      "\\",
      "<<: ",
      "__proto__",
      "é",
      "😀",
    ];
    const outcomes = { ok: 0, error: 0 };
    for (let seed = 1; seed <= 300; seed++) {
      const next = prng(seed);
      const text = Array.from(
        { length: 5 + Math.floor(next() * 60) },
        () => tokens[Math.floor(next() * tokens.length)],
      ).join("");
      const { outcome, ms } = await attempt(text);
      expect(ms).toBeLessThan(BUDGET_MS);
      if (outcome.kind === "other")
        throw new Error(`seed ${seed}: ${String(outcome.error)}\n${JSON.stringify(text)}`);
      outcomes[outcome.kind === "ok" ? "ok" : "error"] += 1;
    }
    // Most garbage is refused; the few that are empty documents or comments are valid (no change).
    expect(outcomes.error).toBeGreaterThan(250);
  });

  it("refuses broken Unicode (an unpaired surrogate) with its position", async () => {
    const error = await expectConfigError("trigger:\n  label: \ud800x\n");
    expect(error.problems[0]).toEqual({
      file: FILE,
      line: 2,
      column: 10,
      message: "contains broken Unicode (an unpaired surrogate)",
      hint: "save the file as UTF-8",
    });
  });

  it("refuses bytes that are not UTF-8", () => {
    const bytes = Buffer.concat([
      Buffer.from("trigger:\n  label: "),
      Buffer.from([0xc3, 0x28, 0xff]),
      Buffer.from("\n"),
    ]);
    expect(() => decodeConfigBytes(FILE, bytes)).toThrow(
      new ConfigError([
        {
          file: FILE,
          message: "is not valid UTF-8 text (first bad byte at offset 18)",
          hint: "save the file as UTF-8",
        },
      ]),
    );
  });

  it("refuses 10,000 levels of nesting in every YAML style", async () => {
    const cases = [
      "[".repeat(10_000) + "]".repeat(10_000),
      "{a: ".repeat(10_000) + "1" + "}".repeat(10_000),
      "- ".repeat(10_000) + "x\n",
      "trigger: " + "[".repeat(10_000),
    ];
    for (const text of cases) {
      const error = await expectConfigError(text);
      expect(error.problems[0]!.message).toMatch(/nested|YAML syntax error/);
    }
  });

  it("refuses nesting deeper than the reader allows even when the parser copes", async () => {
    const error = await expectConfigError("trigger: " + "[".repeat(100) + "]".repeat(100) + "\n");
    expect(error.problems[0]).toMatchObject({ message: "is nested more than 64 levels deep", line: 1 });
  });

  it("stops an alias bomb (billion laughs) quickly", async () => {
    const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 12; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      lines.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(",")}]`);
    }
    const error = await expectConfigError(lines.join("\n") + "\n");
    expect(error.problems[0]!.message).toBe("expands to more than 50000 values");
  });

  it("refuses an alias to itself", async () => {
    await expectConfigError("a: &x [*x]\n");
  });

  it("refuses a root that is not a mapping", async () => {
    for (const [text, found] of [
      ["42", "a number (42)"],
      ["just text", 'a string ("just text")'],
      ["- a\n- b\n", "a list"],
      ["true", "true"],
    ] as const) {
      const error = await expectConfigError(text);
      expect(error.problems).toEqual([
        {
          file: FILE,
          line: 1,
          column: 1,
          message: `the file must hold a mapping of keys to values, found ${found}`,
          hint: "start with a top-level key such as 'routing:'",
        },
      ]);
    }
  });

  it("refuses a wrong type for every top-level key, naming the key", async () => {
    for (const key of Object.keys(ConfigSchema.shape)) {
      for (const wrong of ["42", "'text'", "[1, 2]", "{a: 1}", "true"]) {
        const { outcome, ms } = await attempt(`${key}: ${wrong}\n`);
        expect(ms).toBeLessThan(BUDGET_MS);
        // `version: 42`... must fail; a list where a list is expected may still fail on its items.
        if (outcome.kind === "ok") {
          expect(`${key}: ${wrong}`).toBe("rejected");
          continue;
        }
        if (outcome.kind === "other") throw outcome.error;
        const paths = outcome.error.problems.map((p) => p.path ?? "");
        expect(paths.every((p) => p === key || p.startsWith(`${key}.`) || p.startsWith(`${key}[`))).toBe(
          true,
        );
        expect(outcome.error.problems[0]).toMatchObject({ file: FILE, line: 1 });
      }
    }
  });

  it("refuses keys that would touch object prototypes", async () => {
    const error = await expectConfigError("__proto__:\n  polluted: true\n");
    expect(error.problems[0]!.message).toBe("'__proto__' is not a valid key");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const other = await expectConfigError("constructor: 1\n");
    expect(other.problems[0]!.message).toBe("unknown key 'constructor'");
  });

  it("caps the number of problems reported", async () => {
    const text = Array.from({ length: 500 }, (_, i) => `unknown_${i}: 1`).join("\n");
    const error = await expectConfigError(text);
    expect(error.problems).toHaveLength(MAX_PROBLEMS);
    expect(error.problems.at(-1)).toEqual({
      file: FILE,
      message: "and 451 more problems",
      hint: "fix these first",
    });
  });
});

describe("config files on disk under garbage", () => {
  it("refuses an oversized file before reading it, a directory, and invalid UTF-8", async () => {
    const dir = await mkdtemp(join(tmpdir(), "switchyard-fuzz-"));
    try {
      await writeFile(join(dir, "big.yml"), Buffer.alloc(2 * 1024 * 1024, 0x61));
      await writeFile(join(dir, "bad.yml"), Buffer.from([0x61, 0x3a, 0x20, 0xfe, 0x0a]));
      const cases: [string, string][] = [
        ["big.yml", "big.yml: is 2.0 MB; configuration files are limited to 1.0 MB"],
        [".", ".: is a directory, not a file"],
        ["bad.yml", "bad.yml: is not valid UTF-8 text (first bad byte at offset 3) (save the file as UTF-8)"],
      ];
      for (const [path, message] of cases) {
        const start = performance.now();
        const error = await loadConfig({ repoDir: dir, configPath: path }).catch((e: unknown) => e);
        expect(performance.now() - start).toBeLessThan(BUDGET_MS);
        expect(error).toBeInstanceOf(ConfigError);
        expect((error as ConfigError).message.startsWith(message)).toBe(true);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("messages stay short", () => {
  it("shortens and escapes a garbage key", async () => {
    const key = "k\u0007".repeat(300);
    // "\a" is YAML's escape for the bell character in a double-quoted string.
    const error = await expectConfigError(`"${"k\\a".repeat(300)}": 1\n`);
    expect(error.problems[0]!.message).toBe(`unknown key ${JSON.stringify(key.slice(0, 40) + "…")}`);
    expect(error.message.length).toBeLessThan(500);
  });
});

describe("sources handed in by code", () => {
  it("refuses a source without text as a configuration problem", async () => {
    const defaults = await loadDefaultSources();
    const bad = [{ file: FILE, text: 42 }] as unknown as Parameters<typeof parseConfigSources>[1];
    expect(() => parseConfigSources(defaults, bad)).toThrow(ConfigError);
    expect(() => parseConfigSources(defaults, bad)).toThrow(
      `<configuration sources>: ${defaults.length}.text: invalid source: Invalid input: expected string, received number`,
    );
  });
});
