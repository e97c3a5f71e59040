import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { readFile, readdir, writeFile, chmod, mkdir, stat } from "node:fs/promises";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, InputError } from "../../src/core/errors.js";
import { runCommand, runTool, substituteArgs } from "../../src/runner/tool-runner.js";
import { baseEnv, fixture, profile, SECRET_FIXTURE_TOKEN, tempDir } from "./tool-fixtures.js";

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir()));
afterEach(() => cleanup());

/** Everything a shell would act on, plus the things that trip up argument parsers and encoders. */
const HOSTILE_PROMPT = [
  "-rf --help starts with a dash",
  "$(rm -rf /) `rm -rf /` ${HOME} $HOME",
  "; | & && || > < >> 2>&1 * ? [a-z] ~ # ! %PATH% ^",
  `'single' "double" \\backslash\\ \\"escaped\\"`,
  "tab\there, CR\r\nunicode: héllo 日本語 🚀 \u200b(zero-width) \u202e(rtl)",
  "{model} {prompt_file} {prompt} placeholders stay literal",
  "   trailing spaces   ",
  "",
].join("\n");

describe("substituteArgs", () => {
  const values = { prompt: "P", prompt_file: "/tmp/p.md", workdir: "/w" };

  it("keeps each template item as exactly one argument and inserts values literally", () => {
    expect(
      substituteArgs(["--message-file", "{prompt_file}", "--msg={prompt}", "{workdir}/src", "a b"], {
        ...values,
        prompt: "$1 $& {workdir} two words",
      }),
    ).toEqual(["--message-file", "/tmp/p.md", "--msg=$1 $& {workdir} two words", "/w/src", "a b"]);
  });

  it("drops an unset optional placeholder together with the option that introduces it", () => {
    expect(substituteArgs(["--model", "{model}", "--yes", "{prompt_file}"], values)).toEqual([
      "--yes",
      "/tmp/p.md",
    ]);
    expect(
      substituteArgs(["--model={model}", "-m", "{model}", "--evidence", "{evidence_file}", "x"], values),
    ).toEqual(["x"]);
    // A bare placeholder after a positional argument (or the stdin marker "-") drops alone.
    expect(substituteArgs(["exec", "-", "{model}"], values)).toEqual(["exec", "-"]);
  });

  it("fills optional placeholders when they have values", () => {
    expect(
      substituteArgs(["--model", "{model}", "--evidence={evidence_file}"], {
        ...values,
        model: "gpt-x",
        evidence_file: "/e.md",
      }),
    ).toEqual(["--model", "gpt-x", "--evidence=/e.md"]);
  });

  it("rejects an unknown placeholder by name", () => {
    expect(() => substituteArgs(["--file", "{promt_file}"], values, "aider")).toThrow(ConfigError);
    expect(() => substituteArgs(["--file", "{promt_file}"], values, "aider")).toThrow(
      "tool profile 'aider': args[1]: unknown placeholder '{promt_file}'",
    );
  });

  it("leaves braces that are not placeholders alone", () => {
    expect(substituteArgs(['{"a": 1}', "{}", "{ prompt }"], values)).toEqual([
      '{"a": 1}',
      "{}",
      "{ prompt }",
    ]);
  });
});

describe("runTool: the prompt reaches the tool byte for byte", () => {
  const out = () => join(dir, "received.bin");

  it.each([
    ["file", ["{out}", "file", "{prompt_file}"]],
    ["stdin", ["{out}", "stdin"]],
    ["argument", ["{out}", "arg", "{prompt}"]],
  ] as const)("via %s, shell metacharacters and all", async (via, args) => {
    const checkout = join(dir, "checkout");
    await mkdir(checkout);
    const result = await runTool(
      profile("echo-prompt", { prompt_via: via, args: args.map((a) => (a === "{out}" ? out() : a)) }),
      { cwd: checkout, prompt: HOSTILE_PROMPT, env: baseEnv() },
    );
    expect(result.error).toBeUndefined();
    expect(result.exitCode).toBe(0);
    const received = await readFile(out());
    expect(received.equals(Buffer.from(HOSTILE_PROMPT, "utf8"))).toBe(true);
    // One argument for the prompt, never split: out, mode and (for file/argument) one value.
    expect(result.outputHead).toBe(`received ${received.length} bytes (argc ${via === "stdin" ? 2 : 3})\n`);
    // The default prompt file lives outside the checkout, and is gone afterwards.
    expect(await readdir(checkout)).toEqual([]);
  });

  it("writes the prompt where promptFile says and leaves it there", async () => {
    const promptFile = join(dir, "task", "prompt.md");
    await runTool(profile("echo-prompt", { args: [out(), "file", "{prompt_file}"] }), {
      cwd: dir,
      prompt: "fix the bug\n",
      promptFile,
      env: baseEnv(),
    });
    expect(await readFile(promptFile, "utf8")).toBe("fix the bug\n");
    expect(await readFile(out(), "utf8")).toBe("fix the bug\n");
    expect((await stat(promptFile)).mode & 0o777).toBe(0o600);
  });

  it("removes the temporary prompt file after the run", async () => {
    const temp = join(dir, "tmp");
    await mkdir(temp);
    let during: string[] = [];
    await runTool(profile("echo-prompt", { args: [out(), "file", "{prompt_file}"] }), {
      cwd: dir,
      prompt: "x",
      env: baseEnv(),
      tempDir: temp,
      onOutput: () => void (during = readdirSync(temp)),
    });
    expect(during).toHaveLength(1);
    expect(during[0]).toMatch(/^switchyard-prompt-/);
    expect(await readdir(temp)).toEqual([]);
  });

  it("runs in the checkout and substitutes {workdir}", async () => {
    const result = await runTool(profile("edit", { args: ["note.txt", "--text", "{workdir}"] }), {
      cwd: dir,
      prompt: "",
      env: baseEnv(),
    });
    expect(result.exitCode).toBe(0);
    expect(await readFile(join(dir, "note.txt"), "utf8")).toBe(`${dir}\n`);
  });

  it("refuses a prompt with a NUL byte as an argument, without throwing", async () => {
    const result = await runTool(
      profile("echo-prompt", { prompt_via: "argument", args: [out(), "arg", "{prompt}"] }),
      {
        cwd: dir,
        prompt: "a\0b",
        env: baseEnv(),
      },
    );
    expect(result.exitCode).toBeNull();
    expect(result.error).toContain("NUL byte");
  });
});

describe("runTool: environment allowlist", () => {
  it("passes the base allowlist and declared variables, and nothing else", async () => {
    const envFile = join(dir, "env.json");
    const source = {
      ...baseEnv(),
      LANG: "C.UTF-8",
      GIT_AUTHOR_NAME: "Switchyard Test",
      OPENAI_API_KEY: "sk-declared-value-0123456789abcdef",
      AIDER_MODEL: "gpt-test",
      EMPTY_DECLARED: "",
      GITHUB_TOKEN: "ghs_notforthetool",
      ACTIONS_RUNTIME_TOKEN: "runtime",
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: "oidc",
      RUNNER_TEMP: "/tmp/runner",
      SECRET_X: "do-not-leak",
      NODE_OPTIONS: "--require /tmp/evil.js",
    };
    const result = await runTool(
      profile("print-env", {
        args: [envFile],
        env: ["AIDER_MODEL", "NOT_SET_ANYWHERE", "EMPTY_DECLARED"],
        env_any_of: ["OPENAI_API_KEY", "ANTHROPIC_API_KEY"],
      }),
      { cwd: dir, prompt: "", env: source },
    );
    expect(result.exitCode).toBe(0);
    const seen = JSON.parse(await readFile(envFile, "utf8")) as Record<string, string>;
    expect(seen.OPENAI_API_KEY).toBe("sk-declared-value-0123456789abcdef");
    expect(seen.AIDER_MODEL).toBe("gpt-test");
    expect(seen.LANG).toBe("C.UTF-8");
    expect(seen.GIT_AUTHOR_NAME).toBe("Switchyard Test");
    expect(seen.PATH).toBe(process.env.PATH);
    for (const name of [
      "GITHUB_TOKEN",
      "ACTIONS_RUNTIME_TOKEN",
      "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
      "RUNNER_TEMP",
      "SECRET_X",
      "NODE_OPTIONS",
      "EMPTY_DECLARED",
      "ANTHROPIC_API_KEY",
    ]) {
      expect(seen[name]).toBeUndefined();
    }
    expect(result.missingEnv).toEqual(["NOT_SET_ANYWHERE", "EMPTY_DECLARED"]);
  });

  it("passes GITHUB_TOKEN only when the profile declares it", async () => {
    const envFile = join(dir, "env.json");
    await runTool(profile("print-env", { args: [envFile], env: ["GITHUB_TOKEN"] }), {
      cwd: dir,
      prompt: "",
      env: { ...baseEnv(), GITHUB_TOKEN: "declared" },
    });
    expect((JSON.parse(await readFile(envFile, "utf8")) as Record<string, string>).GITHUB_TOKEN).toBe(
      "declared",
    );
  });
});

describe("runTool: failures are results, not exceptions", () => {
  it("reports a crash with its exit code and stderr in the tail", async () => {
    const result = await runTool(profile("crash"), { cwd: dir, prompt: "", env: baseEnv() });
    expect(result.exitCode).toBe(3);
    expect(result.signal).toBeNull();
    expect(result.timedOut).toBe(false);
    expect(result.error).toBeUndefined();
    expect(result.outputTail).toContain("Error: the crash fixture failed on purpose\n");
    expect(result.outputTail).toContain("crash: starting\n");
    expect(result.outputBytes).toBe(
      Buffer.byteLength("crash: starting\n") +
        Buffer.byteLength("Error: the crash fixture failed on purpose\n"),
    );
  });

  it("reports a tool killed by a signal", async () => {
    const result = await runTool(profile("crash", { args: ["--signal", "SIGABRT"] }), {
      cwd: dir,
      prompt: "",
      env: baseEnv(),
    });
    expect(result.exitCode).toBeNull();
    expect(result.signal).toBe("SIGABRT");
    expect(result.timedOut).toBe(false);
  });

  it("reports a tool that is not installed", async () => {
    const result = await runTool(profile("noop", { command: "switchyard-no-such-tool" }), {
      cwd: dir,
      prompt: "",
      env: baseEnv(),
    });
    expect(result.exitCode).toBeNull();
    expect(result.error).toBe("`switchyard-no-such-tool` is not installed (not found on PATH)");
  });

  it("reports a missing or non-executable script by path", async () => {
    const missing = await runTool(profile("noop", { command: "./tools/run.sh" }), {
      cwd: dir,
      prompt: "",
      env: baseEnv(),
    });
    expect(missing.error).toBe("`./tools/run.sh` does not exist");

    await mkdir(join(dir, "tools"));
    await writeFile(join(dir, "tools", "run.sh"), "#!/bin/sh\necho hi\n");
    await chmod(join(dir, "tools", "run.sh"), 0o644);
    const result = await runTool(profile("noop", { command: "./tools/run.sh" }), {
      cwd: dir,
      prompt: "",
      env: baseEnv(),
    });
    // Even root needs an execute bit to run a file.
    expect(result.error).toBe("`./tools/run.sh` is not executable (permission denied)");
    await chmod(join(dir, "tools", "run.sh"), 0o755);
    const ok = await runTool(profile("noop", { command: "./tools/run.sh" }), {
      cwd: dir,
      prompt: "",
      env: baseEnv(),
    });
    expect(ok.exitCode).toBe(0);
    expect(ok.outputHead).toBe("hi\n");
  });

  it("throws for a checkout that does not exist and for a bad profile", async () => {
    await expect(
      runTool(profile("noop"), { cwd: join(dir, "nope"), prompt: "", env: baseEnv() }),
    ).rejects.toThrow(InputError);
    await expect(
      runTool(profile("noop", { args: ["{promt}"] }), { cwd: dir, prompt: "", env: baseEnv() }),
    ).rejects.toThrow("unknown placeholder '{promt}'");
    await expect(
      runTool({ ...profile("noop"), timeout_seconds: -1 }, { cwd: dir, prompt: "", env: baseEnv() }),
    ).rejects.toThrow(ConfigError);
    await expect(
      runTool(profile("noop", { output: { tokens_pattern: "Tokens: [0-9]+" } }), {
        cwd: dir,
        prompt: "",
        env: baseEnv(),
      }),
    ).rejects.toThrow("output.tokens_pattern: has no capture group");
  });

  it("rethrows what onOutput threw, after stopping the tool", async () => {
    await expect(
      runTool(profile("noop"), {
        cwd: dir,
        prompt: "",
        env: baseEnv(),
        onOutput: () => {
          throw new Error("log sink broke");
        },
      }),
    ).rejects.toThrow("log sink broke");
  });
});

describe("runTool: tools that change the checkout", () => {
  it("runs a tool that edits, deletes, chmods and writes binary files", async () => {
    await writeFile(join(dir, "gone.txt"), "bye\n");
    await writeFile(join(dir, "script.sh"), "#!/bin/sh\n");
    await chmod(join(dir, "script.sh"), 0o644);
    const env = baseEnv();
    expect(
      (await runTool(profile("edit", { args: ["src/a.ts"] }), { cwd: dir, prompt: "", env })).exitCode,
    ).toBe(0);
    expect((await runTool(profile("binary"), { cwd: dir, prompt: "", env })).exitCode).toBe(0);
    expect(
      (
        await runTool(profile("delete-chmod", { args: ["gone.txt", "script.sh"] }), {
          cwd: dir,
          prompt: "",
          env,
        })
      ).exitCode,
    ).toBe(0);
    expect((await runTool(profile("forbidden"), { cwd: dir, prompt: "", env })).exitCode).toBe(0);

    expect(await readFile(join(dir, "src/a.ts"), "utf8")).toBe("edited by the edit fixture\n");
    const bin = await readFile(join(dir, "data.bin"));
    expect(bin.length).toBe(256);
    expect(bin[0]).toBe(0);
    expect(bin[255]).toBe(255);
    await expect(stat(join(dir, "gone.txt"))).rejects.toThrow("ENOENT");
    expect((await stat(join(dir, "script.sh"))).mode & 0o777).toBe(0o755);
    expect(await readFile(join(dir, ".github/workflows/evil.yml"), "utf8")).toContain("run: env");
  });

  it("edits the files the prompt names", async () => {
    const result = await runTool(profile("edit", { args: ["--paths-from", "{prompt_file}"] }), {
      cwd: dir,
      prompt: "Please change these:\nedit: docs/a.md\nedit: b.txt\n",
      env: baseEnv(),
    });
    expect(result.outputHead).toBe("edited docs/a.md\nedited b.txt\n");
    expect(await readFile(join(dir, "docs/a.md"), "utf8")).toBe("edited by the edit fixture\n");
  });

  it("runs a tool that writes nothing", async () => {
    const result = await runTool(profile("noop"), { cwd: dir, prompt: "anything", env: baseEnv() });
    expect(result).toMatchObject({
      exitCode: 0,
      signal: null,
      timedOut: false,
      cancelled: false,
      outputHead: "noop: nothing to change\n",
      outputTail: "noop: nothing to change\n",
      outputBytes: 24,
      truncated: false,
      tokens: null,
      costUsd: null,
      missingEnv: [],
    });
    expect(await readdir(dir)).toEqual([]);
  });
});

describe("runTool: secrets", () => {
  it("redacts token shapes and declared credentials in live output and in the captured output", async () => {
    const chunks: string[] = [];
    const names = ["ANTHROPIC_API_KEY", "SERVICE_SECRET", "CUSTOM_VALUE", "AIDER_MODEL"];
    const result = await runTool(
      profile("secret", {
        args: names.flatMap((n) => ["--env", n]),
        env_any_of: ["ANTHROPIC_API_KEY"],
        env: ["SERVICE_SECRET", "CUSTOM_VALUE", "AIDER_MODEL"],
      }),
      {
        cwd: dir,
        prompt: "",
        env: baseEnv({
          ANTHROPIC_API_KEY: "sk-ant-api03-" + "Qw3rTy".repeat(6),
          // Declared, and named like a credential: redacted without being listed in `secrets`.
          SERVICE_SECRET: "plain words value",
          // Declared with an ordinary name: redacted because the caller lists it.
          CUSTOM_VALUE: "extra-secret-123",
          // Declared with an ordinary name and not listed: stays readable.
          AIDER_MODEL: "model-x",
        }),
        secrets: ["extra-secret-123"],
        onOutput: (chunk) => chunks.push(chunk),
      },
    );
    const expected =
      "token: ***\nANTHROPIC_API_KEY=***\nSERVICE_SECRET=***\nCUSTOM_VALUE=***\nAIDER_MODEL=model-x\n";
    expect(chunks.join("")).toBe(expected);
    expect(result.outputHead).toBe(expected);
    expect(result.outputTail).toBe(expected);
    expect(chunks.join("")).not.toContain(SECRET_FIXTURE_TOKEN.slice(4, 20));
  });

  it("redacts a token the tool writes in two pieces", async () => {
    const chunks: string[] = [];
    const result = await runTool(profile("secret", { args: ["--split"] }), {
      cwd: dir,
      prompt: "",
      env: baseEnv(),
      onOutput: (chunk) => chunks.push(chunk),
    });
    expect(chunks.join("")).toBe("token: ***\n");
    expect(result.outputTail).toBe("token: ***\n");
    // The raw byte count is what the tool wrote, before redaction.
    expect(result.outputBytes).toBe(Buffer.byteLength(`token: ${SECRET_FIXTURE_TOKEN}\n`));
  });
});

describe("runTool: usage", () => {
  it("reads aider-style text with a two-group pattern, last report wins", async () => {
    const result = await runTool(
      profile("usage", {
        args: ["text"],
        output: {
          format: "text",
          tokens_pattern: "Tokens: ([0-9.,]+k?) sent, ([0-9.,]+k?) received",
          cost_pattern: "\\$([0-9.]+) session",
        },
      }),
      { cwd: dir, prompt: "", env: baseEnv() },
    );
    expect(result.tokens).toBe(1500);
    expect(result.costUsd).toBe(0.03);
  });

  it("reads Claude Code's JSON result", async () => {
    const result = await runTool(profile("usage", { args: ["json"], output: { format: "json" } }), {
      cwd: dir,
      prompt: "",
      env: baseEnv(),
    });
    expect(result.tokens).toBe(3610);
    expect(result.costUsd).toBe(0.0123);
  });

  it("reads Codex's JSON Lines and Gemini's pretty-printed JSON", async () => {
    const codex = await runTool(profile("usage", { args: ["jsonl"], output: { format: "jsonl" } }), {
      cwd: dir,
      prompt: "",
      env: baseEnv(),
    });
    expect(codex).toMatchObject({ tokens: 1050, costUsd: null });
    const gemini = await runTool(profile("usage", { args: ["pretty"], output: { format: "json" } }), {
      cwd: dir,
      prompt: "",
      env: baseEnv(),
    });
    expect(gemini).toMatchObject({ tokens: 850, costUsd: null });
  });

  it("records nothing when the tool reports nothing", async () => {
    const result = await runTool(profile("usage", { args: ["text"] }), {
      cwd: dir,
      prompt: "",
      env: baseEnv(),
    });
    expect(result).toMatchObject({ tokens: null, costUsd: null });
  });
});

describe("runCommand", () => {
  it("gives the command exactly the environment it is handed", async () => {
    const envFile = join(dir, "env.json");
    const result = await runCommand(fixture("print-env"), [envFile], {
      cwd: dir,
      env: { PATH: process.env.PATH!, ONLY_THIS: "1" },
      timeoutMs: 10_000,
    });
    expect(result.exitCode).toBe(0);
    const seen = Object.keys(JSON.parse(await readFile(envFile, "utf8")) as object).sort();
    // node itself may add nothing; the shebang's env adds nothing either.
    expect(seen).toEqual(["ONLY_THIS", "PATH"]);
  });
});
