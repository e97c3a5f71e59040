import { describe, expect, it } from "@jest/globals";
import { InputError } from "../../src/core/errors.js";
import { compileRules } from "../../src/core/recovery/rules.js";
import type { Evidence } from "../../src/core/recovery/schema.js";
import {
  EvidenceCollector,
  extractEvidence,
  LineMatcher,
  MAX_MATCHES_PER_RULE,
} from "../../src/runner/evidence.js";

let clock = Date.parse("2026-11-20T10:15:32.000Z");
/** A job log in the downloaded format: every line with its timestamp. */
function log(...lines: string[]): string {
  return lines.map((l) => `${new Date((clock += 7)).toISOString().slice(0, 23)}1234Z ${l}\n`).join("");
}

async function* chunks(text: string | Uint8Array, size = 64 * 1024): AsyncGenerator<Uint8Array> {
  const bytes = typeof text === "string" ? new TextEncoder().encode(text) : text;
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

const extract = (
  text: string | Uint8Array,
  opts: Partial<Parameters<typeof extractEvidence>[1]> = {},
  size?: number,
) => extractEvidence(chunks(text, size), { maxBytes: 64 * 1024, ...opts });

/** Every kept line as "n kind text", for exact comparisons. */
function rows(ev: Evidence): string[] {
  return ev.excerpts.flatMap((e) =>
    e.lines.map((l) => `${l.n} ${l.kind}${l.folded !== undefined ? `/${l.folded}` : ""} ${l.text}`),
  );
}

const JOB = log(
  "Current runner version: '2.321.0'",
  "##[group]Run actions/checkout@v4",
  "with:",
  "  repository: acme/app",
  "##[endgroup]",
  "Syncing repository: acme/app",
  "##[group]Run npm test",
  "\x1b[36;1mnpm test\x1b[0m",
  "shell: /usr/bin/bash -e {0}",
  "##[endgroup]",
  "> app@1.0.0 test",
  "\x1b[0m\x1b[7m\x1b[1m\x1b[31m FAIL \x1b[39m\x1b[22m\x1b[27m\x1b[0m src/cart.test.ts",
  "  \x1b[1m● \x1b[22mCart › adds an item",
  "",
  "    Expected: 2",
  "    Received: 1",
  "Tests:       1 failed, 3 passed, 4 total",
  "##[error]Process completed with exit code 1.",
  "Post job cleanup.",
  "Cleaning up orphan processes",
);

describe("extractEvidence", () => {
  it("keeps the error, the step's lines before it and recognised lines, without timestamps or colours", async () => {
    const ev = await extract(JOB, { source: "job.log" });
    expect(rows(ev)).toEqual([
      "7 group/3 Run npm test",
      "11 context > app@1.0.0 test",
      "12 match  FAIL  src/cart.test.ts",
      "13 match   ● Cart › adds an item",
      "14 context ",
      "15 context     Expected: 2",
      "16 context     Received: 1",
      "17 match Tests:       1 failed, 3 passed, 4 total",
      "18 error Process completed with exit code 1.",
    ]);
    expect(ev.excerpts.map((e) => e.step)).toEqual(["Run npm test"]);
    expect(ev).toMatchObject({
      source: "job.log",
      lines: 20,
      bytes: Buffer.byteLength(JOB),
      steps: ["Run actions/checkout@v4", "Run npm test"],
      failed_step: "Run npm test",
      error_lines: 1,
      no_error_lines: false,
      truncated: false,
      dropped_lines: 0,
      binary: false,
      notes: [],
    });
  });

  it("gives the same evidence however the bytes are chunked, multi-byte characters split included", async () => {
    const whole = await extract(JOB);
    for (const size of [1, 3, 7, 100]) expect(await extract(JOB, {}, size)).toEqual(whole);
  });

  it("strips a byte-order mark and reads CRLF line ends and progress redraws", async () => {
    const text =
      "\uFEFF" +
      log("##[group]Run make", "##[endgroup]", "50%\r75%\r100% done", "##[error]boom").replace(/\n/g, "\r\n");
    const ev = await extract(text);
    expect(rows(ev)).toEqual(["1 group/1 Run make", "3 context 100% done", "4 error boom"]);
  });

  it("limits the context before an error to its own step and to contextLines", async () => {
    const many = Array.from({ length: 30 }, (_, i) => `output line ${i + 1}`);
    const ev = await extract(
      log(
        "##[group]Run a",
        "##[endgroup]",
        "from step a",
        "##[group]Run b",
        "##[endgroup]",
        ...many,
        "##[error]failed",
      ),
      {
        contextLines: 5,
      },
    );
    expect(rows(ev)).toEqual([
      "31 context output line 26",
      "32 context output line 27",
      "33 context output line 28",
      "34 context output line 29",
      "35 context output line 30",
      "36 error failed",
    ]);
  });

  it("leaves a group open to view when something in it was kept", async () => {
    const ev = await extract(
      log(
        "##[group]Run tsc",
        "src/a.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.",
        "##[endgroup]",
        "##[error]Process completed with exit code 2.",
      ),
    );
    expect(rows(ev)).toEqual([
      "1 group Run tsc",
      "2 match src/a.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.",
      "4 error Process completed with exit code 2.",
    ]);
  });

  it("reads raw workflow commands from local logs, keeping file and line, and never shows a masked value", async () => {
    const ev = await extract(
      [
        "::add-mask::hunter2-secret",
        "::group::Lint",
        "::endgroup::",
        "::error file=src/a.ts,line=3,col=7::Missing semicolon",
        "::warning::deprecated",
      ].join("\n") + "\n",
    );
    expect(rows(ev)).toEqual([
      "1 context ::add-mask::***",
      "2 group/1 Lint",
      "4 error src/a.ts:3:7: Missing semicolon",
      "5 warning deprecated",
    ]);
    expect(JSON.stringify(ev)).not.toContain("hunter2");
  });

  it("puts an error after the post-job line in the post-job phase, not in the last step", async () => {
    const ev = await extract(
      log("##[group]Run npm test", "##[endgroup]", "ok", "Post job cleanup.", "##[error]cache save failed"),
    );
    expect(ev.failed_step).toBe("Post job cleanup");
    expect(rows(ev)).toEqual(["4 context Post job cleanup.", "5 error cache save failed"]);
  });

  it("keeps the tail of a log without any error line and says so", async () => {
    const ev = await extract(
      log("##[group]Run npm test", "##[endgroup]", "PASS a.test.ts", "Tests: 4 passed, 4 total"),
      { tailLines: 2 },
    );
    expect(ev.no_error_lines).toBe(true);
    expect(ev.failed_step).toBeNull();
    expect(rows(ev)).toEqual(["3 context PASS a.test.ts", "4 context Tests: 4 passed, 4 total"]);
  });

  it("reports an empty log instead of failing", async () => {
    const ev = await extract("");
    expect(ev).toMatchObject({
      lines: 0,
      bytes: 0,
      excerpts: [],
      no_error_lines: true,
      notes: ["the log is empty"],
    });
  });

  it("replaces binary data and invalid UTF-8, flags it, and keeps reading", async () => {
    const head = new TextEncoder().encode(log("##[group]Run ./tool", "##[endgroup]"));
    const garbage = Uint8Array.from({ length: 400 }, (_, i) => (i * 37) % 256);
    const tail = new TextEncoder().encode("\nhalf \xff line\n" + log("##[error]tool crashed"));
    const ev = await extract(Buffer.concat([head, garbage, tail]));
    expect(ev.binary).toBe(true);
    expect(ev.error_lines).toBe(1);
    expect(ev.notes).toContain("the log holds binary data (NUL bytes or invalid UTF-8), shown as �");
    const texts = rows(ev).join("\n");
    expect(texts).toContain("error tool crashed");
    expect(texts).toMatch(/\[binary data, \d+ characters\]/);
    // eslint-disable-next-line no-control-regex -- no control character may survive
    expect(texts).not.toMatch(/[\x00-\x08\x0b-\x1f]/);
  });

  it("removes invisible and bidirectional control characters that could hide text from a reader", async () => {
    const ev = await extract(log("##[error]safe\u202Eevil\u200B text"));
    expect(rows(ev)).toEqual(["1 error safeevil text"]);
  });

  it("cuts very long lines without holding them, at any chunking", async () => {
    const long = "x".repeat(200_000);
    const ev = await extract(log(`##[error]${long}`), { maxLineChars: 100 }, 1000);
    expect(ev.long_lines).toBe(1);
    // The line is cut at 100 characters, its "##[error]" prefix included.
    expect(rows(ev)).toEqual([`1 error ${"x".repeat(91)} …[line cut]`]);
  });

  it("keeps at most MAX_MATCHES_PER_RULE lines per rule, so one noisy tool cannot crowd out the rest", async () => {
    const failed = Array.from({ length: 50 }, (_, i) => `FAILED tests/test_${i}.py::test_x - assert 0`);
    const ev = await extract(log(...failed, "=== 50 failed in 1.00s ==="), { afterLines: 0 });
    const kept = rows(ev).filter((r) => r.includes(" match "));
    expect(kept).toHaveLength(MAX_MATCHES_PER_RULE + 1);
    expect(kept[0]).toBe("1 match FAILED tests/test_0.py::test_x - assert 0");
    expect(kept[MAX_MATCHES_PER_RULE - 1]).toBe(
      `${MAX_MATCHES_PER_RULE} match FAILED tests/test_19.py::test_x - assert 0`,
    );
    // Another rule still has room: the summary is kept.
    expect(kept[MAX_MATCHES_PER_RULE]).toBe("51 match === 50 failed in 1.00s ===");
  });

  it("keeps a line while any rule that recognises it has room", async () => {
    // tsc-error and tsc-code both recognise these lines: each keeps its share.
    const lines = Array.from(
      { length: 50 },
      (_, i) => `src/f${i}.ts(1,1): error TS2304: Cannot find name 'x${i}'.`,
    );
    const ev = await extract(log(...lines), { afterLines: 0 });
    expect(rows(ev).filter((r) => r.includes(" match "))).toHaveLength(2 * MAX_MATCHES_PER_RULE);
  });

  it("stays under maxBytes with many errors and keeps the last one", async () => {
    const lines: string[] = [];
    for (let i = 0; i < 2000; i++)
      lines.push(`context ${i} ${"y".repeat(60)}`, `##[error]failure number ${i}`);
    const ev = await extract(log(...lines), { maxBytes: 4096 });
    const kept = ev.excerpts.flatMap((e) => e.lines);
    expect(kept.reduce((a, l) => a + Buffer.byteLength(l.text) + 1, 0)).toBeLessThanOrEqual(4096);
    expect(kept[kept.length - 1]).toEqual({ n: 4000, text: "failure number 1999", kind: "error" });
    expect(ev.truncated).toBe(true);
    expect(ev.error_lines).toBe(2000);
    expect(ev.dropped_lines).toBeGreaterThan(1900);
    expect(ev.notes.some((n) => n.endsWith("left out to stay under 4096 bytes"))).toBe(true);
  });

  it("keeps what it read when the source fails part-way, and throws when it fails at once", async () => {
    async function* failing(after: string) {
      if (after) yield new TextEncoder().encode(after);
      throw new Error("socket hang up");
    }
    const partial = await extractEvidence(failing(log("##[error]first")), { maxBytes: 4096 });
    expect(rows(partial)).toEqual(["1 error first"]);
    expect(partial.notes[0]).toMatch(
      /^reading the log failed after \d+ bytes \(socket hang up\); the rest is missing$/,
    );
    await expect(extractEvidence(failing(""), { maxBytes: 4096 })).rejects.toThrow("socket hang up");
  });

  it("refuses options a caller got wrong with an InputError", () => {
    expect(() => new EvidenceCollector({ maxBytes: 10 })).toThrow(InputError);
    expect(() => new EvidenceCollector({ maxBytes: 4096, contextLines: -1 })).toThrow(/contextLines/);
  });

  it("uses a repository's rules to decide which lines are worth keeping", async () => {
    const rules = compileRules({
      add: [{ id: "changelog", category: "lint", pattern: "^CHANGELOG\\.md was not updated", weight: 8 }],
    });
    const text = log("CHANGELOG.md was not updated", "other");
    expect(rows(await extract(text, { afterLines: 0 }))).toEqual([
      "1 context CHANGELOG.md was not updated",
      "2 context other",
    ]);
    expect(rows(await extract(text, { afterLines: 0, rules }))[0]).toBe(
      "1 match CHANGELOG.md was not updated",
    );
  });
});

describe("LineMatcher", () => {
  const rules = compileRules(
    {
      add: [
        { id: "literal", category: "test", pattern: "^FAILED \\S+::\\S+", weight: 8 },
        { id: "no-literal", category: "lint", pattern: "^\\d+:\\d+$", weight: 8 },
        { id: "either", category: "build", pattern: "alpha-one|beta-two", weight: 8 },
        { id: "caseless", category: "infra", pattern: "quota exceeded", weight: 8, ignore_case: true },
      ],
    },
    { base: [] },
  ).rules;

  it("finds a rule's literal at every offset and parity of the line", () => {
    const m = new LineMatcher(rules);
    for (let pad = 0; pad < 6; pad++) {
      expect(m.firstMatch(`${" ".repeat(pad)}xx beta-two`)?.id).toBe("either");
      expect(m.firstMatch(`${"-".repeat(pad)}alpha-one`)?.id).toBe("either");
    }
    expect(m.firstMatch("FAILED tests/a.py::test_b")?.id).toBe("literal");
    expect(m.firstMatch("12:34")?.id).toBe("no-literal");
    expect(m.firstMatch("QUOTA Exceeded for project")?.id).toBe("caseless");
    expect(m.firstMatch("alpha-on beta-tw")).toBeUndefined();
  });

  it("stops reporting a disabled rule", () => {
    const m = new LineMatcher(rules);
    m.disable(rules[3]!);
    expect(m.firstMatch("quota exceeded")).toBeUndefined();
    m.disable(rules[1]!);
    expect(m.firstMatch("12:34")).toBeUndefined();
  });
});
