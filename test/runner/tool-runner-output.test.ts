import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { LastLine, OutputCapture, OutputCollector } from "../../src/runner/output-capture.js";
import { runTool } from "../../src/runner/tool-runner.js";
import { baseEnv, fakeGithubToken, profile, tempDir } from "./tool-fixtures.js";

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir()));
afterEach(() => cleanup());

const MiB = 1024 * 1024;

describe("OutputCapture", () => {
  it("keeps everything when the output fits, tail overlapping head", () => {
    const c = new OutputCapture({ head: 10, tail: 8 });
    c.write("hello ");
    c.write("world");
    expect([c.head, c.tail, c.bytes, c.truncated]).toEqual(["hello worl", "lo world", 11, false]);
  });

  it("keeps the first and last bytes of a long stream and says it dropped some", () => {
    const c = new OutputCapture({ head: 5, tail: 5 });
    for (let i = 0; i < 1000; i++) c.write(`line ${i}\n`);
    expect(c.head).toBe("line ");
    expect(c.tail).toBe(" 999\n");
    expect(c.truncated).toBe(true);
    expect(c.bytes).toBe(Array.from({ length: 1000 }, (_, i) => `line ${i}\n`).join("").length);
  });

  it("never cuts a UTF-8 character in half", () => {
    // "é" is 2 bytes, "日" 3, "🚀" 4: the cuts at 4 bytes land inside characters on both ends.
    const c = new OutputCapture({ head: 4, tail: 4 });
    c.write("aé日");
    c.write("xx🚀");
    expect(c.head).toBe("aé");
    expect(c.tail).toBe("🚀");
    expect(Buffer.byteLength(c.head)).toBeLessThanOrEqual(4);
    const d = new OutputCapture({ head: 3, tail: 5 });
    d.write("日本語");
    expect([d.head, d.tail]).toEqual(["日", "語"]);
  });

  it("holds at most the tail plus one chunk, however much is written", () => {
    const c = new OutputCapture({ head: 0, tail: 100 });
    for (let i = 0; i < 10_000; i++) c.write("y".repeat(64));
    const held = (c as unknown as { tailChunks: { bytes: number }[] }).tailChunks.reduce(
      (a, b) => a + b.bytes,
      0,
    );
    expect(held).toBeLessThanOrEqual(100 + 64);
    expect(c.tail).toBe("y".repeat(100));
    expect(c.head).toBe("");
  });
});

describe("LastLine", () => {
  it("finds the last non-blank complete line across chunks", () => {
    const l = new LastLine();
    l.write('{"a":');
    l.write("1}\nnext line\n\n");
    expect(l.value()).toBe("next line");
    l.write("\n  \n");
    expect(l.value()).toBe("next line");
    l.write("partial without newline");
    expect(l.value()).toBe("partial without newline");
    l.write("\r\n");
    expect(l.value()).toBe("partial without newline");
  });

  it("joins a line split over many chunks, and gives up on one longer than its limit", () => {
    const l = new LastLine(10);
    l.write("ab");
    l.write("cd\n");
    expect(l.value()).toBe("abcd");
    l.write("0123456789ABCDEF");
    l.write("\n");
    expect(l.value()).toBeNull();
    l.write("ok\n");
    expect(l.value()).toBe("ok");
  });
});

describe("OutputCollector", () => {
  it("joins a UTF-8 character split between reads and counts raw bytes", () => {
    const seen: string[] = [];
    const c = new OutputCollector({ onOutput: (t) => seen.push(t) });
    const bytes = Buffer.from("héllo 🚀\n");
    for (const b of bytes) c.write("stdout", Buffer.from([b]));
    c.end();
    expect(seen.join("")).toBe("héllo 🚀\n");
    expect(c.capture.head).toBe("héllo 🚀\n");
    expect(c.bytes).toBe(bytes.length);
  });

  it("redacts a secret split at every possible point between two reads", () => {
    const token = fakeGithubToken();
    const text = `before ${token} after, and the password hunter2-extra too\n`;
    for (let cut = 1; cut < text.length; cut++) {
      const seen: string[] = [];
      const c = new OutputCollector({ secrets: ["hunter2-extra"], onOutput: (t) => seen.push(t) });
      c.write("stderr", Buffer.from(text.slice(0, cut)));
      c.write("stderr", Buffer.from(text.slice(cut)));
      c.end();
      expect(seen.join("")).toBe("before *** after, and the password *** too\n");
      expect(c.capture.tail).toBe("before *** after, and the password *** too\n");
    }
  });

  it("keeps stdout and stderr apart while redacting, and interleaves them in the capture", () => {
    const token = fakeGithubToken();
    const seen: [string, string][] = [];
    const c = new OutputCollector({ onOutput: (t, s) => seen.push([s, t]) });
    c.write("stdout", "out: " + token.slice(0, 10));
    c.write("stderr", "err line\n");
    c.write("stdout", token.slice(10) + "\n");
    c.end();
    expect(
      seen
        .filter(([s]) => s === "stdout")
        .map(([, t]) => t)
        .join(""),
    ).toBe("out: ***\n");
    expect(
      seen
        .filter(([s]) => s === "stderr")
        .map(([, t]) => t)
        .join(""),
    ).toBe("err line\n");
    expect(c.capture.head).toContain("err line\n");
    expect(c.capture.head).toContain("out: ***\n");
  });
});

describe("runTool with a flood of output", () => {
  it("streams 100 MiB through without keeping it, and counts every byte", async () => {
    let streamed = 0;
    let chunks = 0;
    const result = await runTool(profile("flood", { args: ["100"] }), {
      cwd: dir,
      prompt: "",
      env: baseEnv(),
      onOutput: (chunk) => {
        streamed += chunk.length;
        chunks++;
      },
      captureBytes: { head: 4096, tail: 8192 },
    });
    expect(result.exitCode).toBe(0);
    expect(result.outputBytes).toBe(100 * MiB);
    // The fixture's output is ASCII with nothing to redact: every byte reaches onOutput.
    expect(streamed).toBe(100 * MiB);
    expect(chunks).toBeGreaterThan(100);
    expect(result.truncated).toBe(true);
    expect(Buffer.byteLength(result.outputHead)).toBe(4096);
    expect(Buffer.byteLength(result.outputTail)).toBe(8192);
    expect(result.outputHead.startsWith("FLOOD-START")).toBe(true);
    expect(result.outputTail.endsWith("\nFLOOD-END\n")).toBe(true);
  }, 30_000);

  it("captures stderr floods the same way, with the default limits", async () => {
    const result = await runTool(profile("flood", { args: ["2", "--stderr"] }), {
      cwd: dir,
      prompt: "",
      env: baseEnv(),
    });
    expect(result.outputBytes).toBe(2 * MiB);
    expect(Buffer.byteLength(result.outputHead)).toBe(8 * 1024);
    expect(Buffer.byteLength(result.outputTail)).toBe(32 * 1024);
    expect(result.outputTail.endsWith("FLOOD-END\n")).toBe(true);
  });
});
