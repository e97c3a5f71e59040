import { describe, expect, it } from "@jest/globals";
import { ConfigSchema, type Config } from "../../../src/config/schema.js";
import { InputError } from "../../../src/core/errors.js";
import { buildTask } from "../../../src/core/task/build.js";
import { TaskSchema, type Task } from "../../../src/core/task/schema.js";
import { prng } from "../../support/prng.js";

/**
 * Garbage in, clean errors out: every input either builds a task that passes its schema or is
 * refused with an InputError, never anything else, and no single case takes a second.
 */

const repository = { owner: "octo", name: "repo" };
const config: Config = ConfigSchema.parse({});
/** The largest body cap the configuration allows, so every step sees all of a 10 MB body. */
const bigConfig: Config = ConfigSchema.parse({ limits: { max_body_bytes: 10_000_000 } });
/**
 * Per case, in CPU time of this process rather than wall-clock time: a hang or a quadratic blow-up
 * shows in both, but only wall-clock time grows when a busy CI machine runs other work meanwhile.
 * CPU time still grows some under load (the garbage collector's threads count), and a 10 MB case
 * takes ~0.3 s alone but measured 1.2 s on a loaded 2-core runner; 3 s keeps the guard (quadratic
 * work on 10 MB would take minutes) without a flaky build. Speed itself is measured by the bench.
 */
const MAX_MS = 3_000;

function cpuMs(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}

function issue(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    number: 12,
    title: "Cover the parser with tests",
    body: "The parser has no tests.",
    labels: ["switchyard"],
    user: { login: "alice" },
    html_url: "https://github.com/octo/repo/issues/12",
    ...fields,
  };
}

type Outcome =
  { task: Task; error?: undefined; ms: number } | { task?: undefined; error: InputError; ms: number };

/** Builds, times, and fails the test on anything but a valid task or an InputError. */
function attempt(
  input: unknown,
  cfg: Config = config,
  opts: { repository?: typeof repository } = { repository },
): Outcome {
  const start = process.cpuUsage();
  let outcome: Outcome;
  try {
    const task = buildTask(input, cfg, opts);
    outcome = { task, ms: cpuMs(start) };
  } catch (e) {
    const ms = cpuMs(start);
    if (!(e instanceof InputError)) throw new Error(`not an InputError: ${String(e)}`, { cause: e });
    outcome = { error: e, ms };
  }
  if (process.env.SWITCHYARD_FUZZ_TIMES) process.stdout.write(`${outcome_ms(outcome)}\n`);
  expect(outcome.ms).toBeLessThan(MAX_MS);
  if (outcome.task) expect(TaskSchema.safeParse(outcome.task).success).toBe(true);
  if (outcome.error) {
    // A message a person can act on: it names a field, and is no zod dump.
    expect(outcome.error.message).toMatch(/^(issue|pull_request|repository)[.:[ ]/);
    expect(outcome.error.message).not.toContain('"code"');
  }
  return outcome;
}

const outcome_ms = (o: Outcome) =>
  `${o.ms.toFixed(0).padStart(5)} ms ${o.task ? "task" : o.error.message.slice(0, 60)}`;

const MARKUP = [
  "<!--",
  "-->",
  "<details>",
  "</details>",
  "<summary>",
  "`",
  "``",
  "\n```\n",
  "\n~~~\n",
  "![",
  "](",
  "[",
  "]",
  ")",
  '"',
  "'",
  "<",
  ">",
  "\n",
  "\n\n",
  "\\",
  "### Tool\n\n",
  "### Timeout\n\n",
  "Depends on #",
  "- [ ] #",
  "\n    ",
  "<div hidden>",
  "</div>",
  '<img alt="x" src="y">',
  "[x]: /u 't'\n",
  "\u200B",
  "\u202E",
  "\u{E0041}",
  "\uD800",
  "😀",
  "é",
  "fix ",
  "test ",
  "12",
  "word ",
];

function randomMarkup(rand: () => number, chars: number): string {
  const parts: string[] = [];
  let length = 0;
  while (length < chars) {
    const token = MARKUP[Math.floor(rand() * MARKUP.length)]!;
    parts.push(token);
    length += token.length;
  }
  return parts.join("").slice(0, chars);
}

function randomCodeUnits(rand: () => number, length: number, range = 0x10000): string {
  const units = new Uint16Array(length);
  for (let i = 0; i < length; i++) units[i] = Math.floor(rand() * range);
  const chunks: string[] = [];
  for (let i = 0; i < length; i += 8192) {
    chunks.push(String.fromCharCode(...units.subarray(i, Math.min(length, i + 8192))));
  }
  return chunks.join("");
}

describe("buildTask with hostile bodies", () => {
  const cases: [string, () => string][] = [
    ["10 MB of prose", () => "The parser fails on empty input. ".repeat(320_000)],
    ["10 MB of random Markdown and HTML", () => randomMarkup(prng(1), 10_000_000)],
    ["4 MB of random UTF-16 code units", () => randomCodeUnits(prng(2), 4_000_000)],
    ["1 MB of random bytes read as Latin-1", () => randomCodeUnits(prng(3), 1 << 20, 0x100)],
    ["lone surrogates", () => "\uD800a\uDC00\uDBFF\uDFFF\uDFFF\uD800".repeat(200_000)],
    ["100k nested block quotes", () => ">".repeat(100_000) + " Depends on #3\n" + "> ".repeat(100_000) + "x"],
    [
      "100k nested <details>",
      () => "<details>".repeat(100_000) + "x" + "</details>".repeat(100_000) + "after",
    ],
    ["100k unclosed <details>", () => "<details><summary>s</summary>".repeat(100_000)],
    [
      "deeply nested lists",
      () => Array.from({ length: 2_000 }, (_, i) => `${"  ".repeat(i)}- item ${i}`).join("\n"),
    ],
    ["100k nested images", () => "![".repeat(100_000) + "x" + "](y)".repeat(100_000)],
    ["100k nested links", () => "[".repeat(100_000) + "x" + "](y)".repeat(100_000)],
    [
      "a million backtick runs",
      () =>
        Array.from({ length: 2_000 }, (_, i) => "`".repeat(i + 1))
          .join("\\")
          .repeat(2),
    ],
    ["unterminated everything", () => "<!-- <details> <div hidden> ```\n".repeat(100_000)],
    ["a single 10 MB line of tags", () => '<a title="x" '.repeat(700_000)],
    ["a 10 MB issue form", () => "### Files in scope\n\n".repeat(50) + "src/a.ts, ".repeat(1_000_000)],
  ];

  for (const [name, make] of cases) {
    it(`${name}: a valid task within the CPU budget`, () => {
      const body = make();
      for (const cfg of [config, bigConfig]) {
        const outcome = attempt(issue({ body }), cfg);
        expect(outcome.task).toBeDefined();
        expect(outcome.task!.sanitization.kept_bytes).toBeLessThanOrEqual(cfg.limits.max_body_bytes);
      }
    });
  }

  it("a 10 MB title and 10 MB label names", () => {
    const big = "Fix \u200B<b>".repeat(1_000_000);
    const outcome = attempt(issue({ title: big, labels: [big, { name: big }] }));
    expect(outcome.task!.title).toHaveLength(256);
    expect(outcome.task!.labels.map((l) => l.length)).toEqual([100]);
  });

  it("ten thousand labels", () => {
    const labels = Array.from({ length: 10_000 }, (_, i) => `label-${i}`);
    const outcome = attempt(issue({ labels }));
    expect(outcome.task!.labels).toHaveLength(100);
    expect(attempt(issue({ labels: [...labels, "one too many"] })).error!.message).toBe(
      "issue.labels: 10001 labels; at most 10000 are read",
    );
  });
});

describe("buildTask with wrong types", () => {
  const WRONG: unknown[] = [
    null,
    undefined,
    0,
    -1,
    1.5,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    "",
    "x",
    "12",
    true,
    [],
    [1],
    {},
    { name: 1 },
    { ref: 5 },
    { login: null },
    Symbol("s"),
    () => 1,
    BigInt(12),
    new Date(0),
    "a".repeat(1_000_000),
  ];
  const FIELDS = [
    "number",
    "title",
    "body",
    "labels",
    "user",
    "html_url",
    "url",
    "repository_url",
    "pull_request",
    "head",
    "base",
    "repository",
  ];

  it("every field, every wrong value: a valid task or an InputError", () => {
    let refused = 0;
    let built = 0;
    for (const field of FIELDS) {
      for (const wrong of WRONG) {
        const outcome = attempt(issue({ [field]: wrong }));
        if (outcome.error) refused++;
        else built++;
        if (field === "number") expect(outcome.error).toBeDefined();
      }
    }
    // Built: title 4 (strings), body 6 (strings, null, undefined), labels 3 (null, undefined, []),
    // user 2 (null, undefined), html_url/url/repository_url 6 each (strings, null, undefined),
    // pull_request 7 (null, undefined, four plain objects and a Date: any object marks a PR),
    // head and base 1 each (undefined), repository 22 (ignored when the option is given).
    expect({ refused, built }).toEqual({ refused: 200, built: 64 });
  });

  it("wrong types inside labels, user and branch objects", () => {
    for (const wrong of WRONG) {
      attempt(issue({ labels: [wrong] }));
      attempt(issue({ labels: [{ name: wrong }] }));
      attempt(issue({ user: { login: wrong } }));
      attempt({ ...issue(), head: { ref: wrong }, base: { ref: "main" } });
    }
  });

  it("wrong types at the top, in webhook payloads and in the repository option", () => {
    for (const wrong of WRONG) {
      expect(attempt(wrong).error).toBeDefined();
      attempt({ issue: wrong, repository: { full_name: "octo/repo" } }, config, {});
      attempt({ issue: issue(), repository: wrong }, config, {});
      attempt({ pull_request: wrong, repository: { full_name: "octo/repo" } }, config, {});
      attempt(issue(), config, { repository: wrong as typeof repository });
      attempt(issue(), config, { repository: { owner: wrong, name: "r" } as unknown as typeof repository });
    }
  });

  it("random structures from a seeded generator", () => {
    const rand = prng(42);
    const keys = [...FIELDS, "issue", "pull_request", "name", "login", "ref", "full_name", "owner", "x"];
    const value = (depth: number): unknown => {
      const r = rand();
      if (depth > 3 || r < 0.3) {
        return [null, true, 0, 7, -3, 2.5, "", "txt", "<!--", "\uD800", "owner/name"][
          Math.floor(rand() * 11)
        ];
      }
      if (r < 0.5) return Array.from({ length: Math.floor(rand() * 4) }, () => value(depth + 1));
      const obj: Record<string, unknown> = {};
      for (let i = Math.floor(rand() * 6); i > 0; i--)
        obj[keys[Math.floor(rand() * keys.length)]!] = value(depth + 1);
      return obj;
    };
    let built = 0;
    for (let i = 0; i < 500; i++) {
      const base = rand() < 0.5 ? issue() : {};
      const input = { ...base, ...(value(0) as object) };
      if (attempt(input, config, rand() < 0.5 ? { repository } : {}).task) built++;
    }
    expect(built).toBeGreaterThan(0);
  });
});

describe("speed", () => {
  it("builds a task from a 1 MB issue body quickly", () => {
    const section = [
      "### Files in scope",
      "",
      "src/parser/*.ts",
      "",
      "Steps to reproduce:",
      "",
      "1. Run `npm test` <!-- a comment -->",
      "2. See the **error** in ![screenshot](https://x.test/s.png)",
      "",
      "```",
      "TypeError: cannot read properties of undefined",
      "    at parse (src/parser/index.ts:10:5)",
      "```",
      "",
      "<details><summary>Log</summary>",
      "",
      "lots of log",
      "</details>",
      "",
      "Depends on #3. See [docs](https://x.test/d).",
      "",
    ].join("\n");
    const body = section.repeat(Math.ceil(1_000_000 / section.length)).slice(0, 1_000_000);
    buildTask(issue({ body }), bigConfig, { repository }); // warm up
    const start = process.cpuUsage();
    const wall = performance.now();
    const task = buildTask(issue({ body }), bigConfig, { repository });
    const ms = cpuMs(start);
    process.stdout.write(
      `buildTask, 1 MB body: ${ms.toFixed(1)} ms CPU, ${(performance.now() - wall).toFixed(1)} ms wall\n`,
    );
    expect(task.depends_on).toEqual([{ owner: "octo", name: "repo", number: 3, via: "depends_on" }]);
    expect(ms).toBeLessThan(MAX_MS);
  });
});
