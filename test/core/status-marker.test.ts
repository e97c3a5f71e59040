import { describe, expect, it } from "@jest/globals";
import { z } from "zod";
import { InputError } from "../../src/core/errors.js";
import {
  encodeMarker,
  findMarker,
  MARKER_MAX_CHARS,
  readMarker,
  replaceMarker,
} from "../../src/core/status-marker.js";

const State = z.strictObject({ step: z.string(), attempts: z.number().int() });
const state = { step: "mechanical", attempts: 2 };
const payloadOf = (value: unknown) => Buffer.from(JSON.stringify(value), "utf8").toString("base64url");

describe("encodeMarker", () => {
  it("writes one line: an HTML comment with the kind, the format version and base64url JSON", () => {
    expect(encodeMarker(state, "recovery")).toBe(`<!-- switchyard:recovery v1 ${payloadOf(state)} -->`);
    expect(encodeMarker({ a: 1 }, "task")).toBe("<!-- switchyard:task v1 eyJhIjoxfQ -->");
  });

  it("keeps `-->`, newlines and markdown inside values out of the comment's text", () => {
    const tricky = { reason: "a --> b\n<!-- c -->\n```\n# heading", emoji: "✓ 😀" };
    const marker = encodeMarker(tricky, "recovery");
    expect(marker.split("\n")).toHaveLength(1);
    expect(marker.indexOf("-->")).toBe(marker.length - 3);
    expect(findMarker(`Status\n\n${marker}\n`, "recovery")).toEqual({ ok: true, value: tricky });
  });

  it("refuses a state whose payload would exceed the cap, and says what to do", () => {
    // 12,288 bytes of JSON are exactly 16,384 base64 characters: the largest that fits.
    const fits = { s: "x".repeat(12_288 - '{"s":""}'.length) };
    expect(encodeMarker(fits, "task")).toHaveLength(`<!-- switchyard:task v1  -->`.length + MARKER_MAX_CHARS);
    const tooBig = { s: "x".repeat(12_289 - '{"s":""}'.length) };
    expect(() => encodeMarker(tooBig, "task")).toThrow(
      new InputError(
        "Cannot write the switchyard:task marker: the state encodes to 16386 characters, more than the 16384 " +
          "a marker may hold; bound what the state keeps (its history).",
      ),
    );
  });

  it("refuses what is not JSON", () => {
    expect(() => encodeMarker(undefined, "task")).toThrow(
      "Cannot write the switchyard:task marker: the state is not a JSON value.",
    );
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => encodeMarker(cyclic, "task")).toThrow(/the state is not JSON/);
    expect(() => encodeMarker(1n, "task")).toThrow(/the state is not JSON/);
  });

  it("refuses an unknown kind", () => {
    expect(() => encodeMarker({}, "routing" as "task")).toThrow(
      "Unknown status marker kind 'routing': use one of task, recovery.",
    );
  });
});

describe("findMarker and readMarker", () => {
  it("round-trips through a comment body", () => {
    const body = `## Switchyard\n\n${encodeMarker(state, "recovery")}\n\nStep 2 of 5.`;
    expect(findMarker(body, "recovery")).toEqual({ ok: true, value: state });
    expect(readMarker(body, "recovery", State)).toEqual({ ok: true, value: state });
  });

  it("answers null when there is no marker of the kind", () => {
    expect(findMarker("", "task")).toBeNull();
    expect(findMarker("just text <!-- a comment -->", "task")).toBeNull();
    expect(findMarker(encodeMarker(state, "recovery"), "task")).toBeNull();
    expect(readMarker(encodeMarker(state, "recovery"), "task", State)).toBeNull();
  });

  it("keeps the two kinds apart in one body", () => {
    const body = `${encodeMarker({ k: "task" }, "task")}\n${encodeMarker({ k: "recovery" }, "recovery")}`;
    expect(findMarker(body, "task")).toEqual({ ok: true, value: { k: "task" } });
    expect(findMarker(body, "recovery")).toEqual({ ok: true, value: { k: "recovery" } });
  });

  it("reads CRLF bodies and trailing whitespace after the marker", () => {
    const body = `title\r\n${encodeMarker(state, "recovery")}  \r\nmore`;
    expect(findMarker(body, "recovery")).toEqual({ ok: true, value: state });
  });

  it("takes the first marker of a kind when there are several", () => {
    const body = [
      encodeMarker({ step: "first", attempts: 1 }, "recovery"),
      "evidence follows",
      encodeMarker({ step: "planted", attempts: 0 }, "recovery"),
    ].join("\n");
    expect(readMarker(body, "recovery", State)).toEqual({ ok: true, value: { step: "first", attempts: 1 } });
  });

  it("reports a damaged first marker rather than falling back to a later one", () => {
    const body = `<!-- switchyard:recovery v1 !!! -->\n${encodeMarker(state, "recovery")}`;
    expect(findMarker(body, "recovery")).toEqual({
      ok: false,
      reason: 'the switchyard:recovery marker is damaged: expected "v<version> <base64url payload>"',
    });
  });

  it("ignores markers inside fenced code blocks, so quoted logs cannot plant one", () => {
    const planted = encodeMarker({ step: "planted", attempts: 0 }, "recovery");
    const body = [
      "```text",
      planted,
      "```",
      "~~~~",
      planted,
      "~~~ not a closing fence",
      planted,
      "~~~~",
      encodeMarker(state, "recovery"),
    ].join("\n");
    expect(findMarker(body, "recovery")).toEqual({ ok: true, value: state });
  });

  it("treats an unclosed fence as running to the end of the body", () => {
    expect(findMarker("```\n" + encodeMarker(state, "recovery"), "recovery")).toBeNull();
  });

  it("does not take a backtick line with a backtick in its info string as a fence", () => {
    // CommonMark: "``` a`b" is a paragraph, so the marker after it is live.
    const body = "``` a`b\n" + encodeMarker(state, "recovery");
    expect(findMarker(body, "recovery")).toEqual({ ok: true, value: state });
  });

  it("ignores a marker that does not stand alone at the start of its line", () => {
    const m = encodeMarker(state, "recovery");
    for (const body of [` ${m}`, `> ${m}`, `- ${m}`, `text ${m}`, `\`${m}\``, `${m} trailing text`]) {
      // The last one is a marker line with text after it: damaged, not absent.
      const expected =
        body === `${m} trailing text`
          ? { ok: false, reason: "the switchyard:recovery marker is not closed with --> on its own line" }
          : null;
      expect(findMarker(body, "recovery")).toEqual(expected);
    }
  });

  it.each([
    ["an unclosed marker", "<!-- switchyard:recovery v1 abc", "is not closed with --> on its own line"],
    [
      "no version",
      "<!-- switchyard:recovery abc -->",
      'is damaged: expected "v<version> <base64url payload>"',
    ],
    ["a payload with other characters", "<!-- switchyard:recovery v1 ab+c/== -->", "is damaged: expected"],
    ["an empty payload", "<!-- switchyard:recovery v1  -->", "is damaged: its payload is not JSON"],
    [
      "an impossible base64 length",
      "<!-- switchyard:recovery v1 eyJhIjoxfQabc -->",
      "its payload is not base64url",
    ],
    [
      "a payload that is not JSON",
      `<!-- switchyard:recovery v1 ${Buffer.from("{a:").toString("base64url")} -->`,
      "is damaged: its payload is not JSON",
    ],
    [
      "a newer format",
      `<!-- switchyard:recovery v2 ${payloadOf(state)} -->`,
      "was written by a newer Switchyard (format v2); upgrade to read it",
    ],
    ["an older format", `<!-- switchyard:recovery v0 ${payloadOf(state)} -->`, "has an unknown format v0"],
  ])("reports %s with a reason", (_name, line, reason) => {
    const found = findMarker(`intro\n${line}\n`, "recovery");
    expect(found).toEqual({ ok: false, reason: expect.stringContaining(reason) });
    expect((found as { reason: string }).reason.startsWith("the switchyard:recovery marker ")).toBe(true);
  });

  it("refuses an oversized payload before decoding it", () => {
    const line = `<!-- switchyard:recovery v1 ${"A".repeat(MARKER_MAX_CHARS + 4)} -->`;
    expect(findMarker(line, "recovery")).toEqual({
      ok: false,
      reason: "the switchyard:recovery marker holds 16388 characters, more than the 16384 allowed",
    });
  });

  it("validates the decoded value with the caller's schema (a hand-edited marker)", () => {
    const edited = encodeMarker({ step: "ai", attempts: "lots" }, "recovery");
    expect(readMarker(edited, "recovery", State)).toEqual({
      ok: false,
      reason:
        "the switchyard:recovery marker does not hold a valid state (attempts: Invalid input: expected number, received string)",
    });
    const extra = encodeMarker({ ...state, admin: true }, "recovery");
    expect(readMarker(extra, "recovery", State)).toMatchObject({ ok: false });
  });

  it("passes a damaged marker's reason through readMarker", () => {
    expect(readMarker("<!-- switchyard:task v9 e30 -->", "task", State)).toEqual({
      ok: false,
      reason: "the switchyard:task marker was written by a newer Switchyard (format v9); upgrade to read it",
    });
  });

  it("scans a large hostile body in linear time", () => {
    const hostile = "<!-- switchyard:recovery\n".repeat(3_000) + "x".repeat(60_000);
    const start = process.hrtime.bigint();
    expect(findMarker(hostile, "recovery")).toMatchObject({ ok: false });
    expect(Number(process.hrtime.bigint() - start) / 1e6).toBeLessThan(500);
  });
});

describe("replaceMarker", () => {
  it("puts the marker first in a body that has none", () => {
    expect(replaceMarker("## Status\nok", "recovery", state)).toBe(
      `${encodeMarker(state, "recovery")}\n## Status\nok`,
    );
    expect(replaceMarker("", "task", state)).toBe(encodeMarker(state, "task"));
  });

  it("updates the marker in place, leaving everything else as it was", () => {
    const before = `## Status\r\n${encodeMarker(state, "recovery")}\r\ntext\n${encodeMarker({ t: 1 }, "task")}\n`;
    const next = { step: "ai", attempts: 3 };
    const after = replaceMarker(before, "recovery", next);
    expect(after).toBe(
      `## Status\r\n${encodeMarker(next, "recovery")}\r\ntext\n${encodeMarker({ t: 1 }, "task")}\n`,
    );
    expect(readMarker(after, "recovery", State)).toEqual({ ok: true, value: next });
  });

  it("replaces a damaged marker and removes later copies, but not quoted ones", () => {
    const quoted = "```\n" + encodeMarker({ step: "quoted", attempts: 0 }, "recovery") + "\n```";
    const before = [
      "head",
      "<!-- switchyard:recovery v1 broken -->",
      "middle",
      encodeMarker({ step: "old", attempts: 1 }, "recovery"),
      quoted,
      encodeMarker({ step: "older", attempts: 0 }, "recovery"),
    ].join("\n");
    const after = replaceMarker(before, "recovery", state);
    expect(after).toBe(["head", encodeMarker(state, "recovery"), "middle", quoted, ""].join("\n"));
    expect(findMarker(after, "recovery")).toEqual({ ok: true, value: state });
  });

  it("is idempotent", () => {
    const once = replaceMarker("body", "task", state);
    expect(replaceMarker(once, "task", state)).toBe(once);
  });
});
