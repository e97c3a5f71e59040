import { StringDecoder } from "node:string_decoder";
import { StreamRedactor } from "../core/redact.js";

/**
 * Keeping a tool's output for the report without keeping all of it. A tool may print gigabytes;
 * the runner holds a fixed head, a bounded tail and a byte count, and streams everything else
 * through (redacted) to whoever logs it live.
 */

export interface CaptureLimits {
  /** Bytes kept from the start of the output. */
  head: number;
  /** Bytes kept from the end of the output. */
  tail: number;
}

export const DEFAULT_CAPTURE_LIMITS: CaptureLimits = { head: 8 * 1024, tail: 32 * 1024 };

export type OutputStreamName = "stdout" | "stderr";

/** Index of the first byte of the character that `buf[i]` belongs to (UTF-8 continuation bytes are 10xxxxxx). */
function charStart(buf: Buffer, i: number): number {
  while (i > 0 && i < buf.length && (buf[i]! & 0xc0) === 0x80) i--;
  return i;
}

/**
 * The first `head` bytes and the last `tail` bytes of a text stream, cut on character boundaries.
 * The two overlap when the output is short: `tail` is always "the last bytes", which is what a
 * failure report shows, and `truncated` says whether anything fell between them.
 */
export class OutputCapture {
  private headText = "";
  private headBytes = 0;
  private headFull = false;
  private tailChunks: { text: string; bytes: number }[] = [];
  private tailHeld = 0;
  private total = 0;

  constructor(readonly limits: CaptureLimits = DEFAULT_CAPTURE_LIMITS) {
    if (
      !Number.isInteger(limits.head) ||
      limits.head < 0 ||
      !Number.isInteger(limits.tail) ||
      limits.tail < 0
    ) {
      throw new RangeError(
        `capture limits must be non-negative integers, got head=${limits.head} tail=${limits.tail}`,
      );
    }
  }

  write(text: string): void {
    if (text.length === 0) return;
    const bytes = Buffer.byteLength(text);
    this.total += bytes;
    if (!this.headFull) this.addHead(text, bytes);
    if (this.limits.tail > 0) this.addTail(text, bytes);
  }

  private addHead(text: string, bytes: number): void {
    const room = this.limits.head - this.headBytes;
    if (bytes <= room) {
      this.headText += text;
      this.headBytes += bytes;
      if (bytes === room) this.headFull = true;
      return;
    }
    const buf = Buffer.from(text);
    const cut = charStart(buf, room);
    this.headText += buf.subarray(0, cut).toString();
    this.headBytes += cut;
    this.headFull = true;
  }

  private addTail(text: string, bytes: number): void {
    this.tailChunks.push({ text, bytes });
    this.tailHeld += bytes;
    // Drop whole chunks that the tail no longer needs; memory stays at tail + one chunk.
    while (this.tailChunks.length > 1 && this.tailHeld - this.tailChunks[0]!.bytes >= this.limits.tail) {
      this.tailHeld -= this.tailChunks.shift()!.bytes;
    }
  }

  get head(): string {
    return this.headText;
  }

  get tail(): string {
    if (this.tailHeld <= this.limits.tail) return this.tailChunks.map((c) => c.text).join("");
    const buf = Buffer.from(this.tailChunks.map((c) => c.text).join(""));
    const from = buf.length - this.limits.tail;
    let start = from;
    // Start on a character boundary: skip forward past a split character rather than include half of it.
    while (start < buf.length && (buf[start]! & 0xc0) === 0x80) start++;
    return buf.subarray(start).toString();
  }

  /** Bytes written in all (of the text as captured, that is after redaction). */
  get bytes(): number {
    return this.total;
  }

  /** Some output is in neither the head nor the tail. */
  get truncated(): boolean {
    return this.total > this.limits.head + this.limits.tail;
  }
}

/**
 * The last complete, non-blank line of a stream, up to `maxChars`: where a tool that reports in
 * JSON (`--output-format json`) puts its summary, even when that line is longer than the tail.
 */
export class LastLine {
  private partial = "";
  private partialOverflow = false;
  private last: string | null = null;

  constructor(private readonly maxChars = 1024 * 1024) {}

  write(text: string): void {
    const lastNewline = text.lastIndexOf("\n");
    if (lastNewline === -1) {
      this.appendPartial(text);
      return;
    }
    // Walk back over the lines this chunk completes to the last non-blank one. A line too long to
    // keep makes the answer "unknown" rather than an older, misleading line.
    let end = lastNewline;
    let result: string | null | undefined;
    while (result === undefined) {
      const start = end === 0 ? -1 : text.lastIndexOf("\n", end - 1);
      const line =
        start !== -1
          ? text.slice(start + 1, end)
          : this.partialOverflow
            ? null
            : this.partial + text.slice(0, end);
      if (line === null) result = null;
      else if (line.trim() !== "") result = line.length <= this.maxChars ? line.replace(/\r$/, "") : null;
      else if (start === -1) break;
      else end = start;
    }
    if (result !== undefined) this.last = result;
    this.partial = "";
    this.partialOverflow = false;
    this.appendPartial(text.slice(lastNewline + 1));
  }

  private appendPartial(text: string): void {
    if (this.partialOverflow) return;
    this.partial += text;
    if (this.partial.length > this.maxChars) {
      this.partial = "";
      this.partialOverflow = true;
    }
  }

  /** The last line, counting an unterminated final line once the stream has ended. */
  value(): string | null {
    if (!this.partialOverflow && this.partial.trim() !== "") return this.partial.replace(/\r$/, "");
    return this.last;
  }
}

export interface OutputCollectorOptions {
  secrets?: readonly string[];
  limits?: CaptureLimits;
  /** Live output, already redacted, in the order it arrived. */
  onOutput?: (chunk: string, stream: OutputStreamName) => void;
}

/**
 * Turns a subprocess's stdout and stderr bytes into redacted text: decoded per stream (a UTF-8
 * character split between reads is joined), redacted per stream (a secret split between reads is
 * still found), then streamed to `onOutput` and captured together, interleaved as it arrived.
 */
export class OutputCollector {
  readonly capture: OutputCapture;
  readonly lastStdoutLine = new LastLine();
  private rawBytes = 0;
  private readonly streams: Record<OutputStreamName, { decoder: StringDecoder; redactor: StreamRedactor }>;
  private readonly onOutput: OutputCollectorOptions["onOutput"];
  /** The first exception thrown by onOutput; the runner stops the tool and rethrows it. */
  callbackError: unknown = undefined;

  constructor(options: OutputCollectorOptions = {}) {
    this.capture = new OutputCapture(options.limits ?? DEFAULT_CAPTURE_LIMITS);
    this.onOutput = options.onOutput;
    const make = () => ({
      decoder: new StringDecoder("utf8"),
      redactor: new StreamRedactor(options.secrets ?? []),
    });
    this.streams = { stdout: make(), stderr: make() };
  }

  /** Raw bytes received from the tool, before decoding and redaction. */
  get bytes(): number {
    return this.rawBytes;
  }

  write(stream: OutputStreamName, chunk: Buffer | string): void {
    const s = this.streams[stream];
    this.rawBytes += typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.length;
    const text = typeof chunk === "string" ? chunk : s.decoder.write(chunk);
    this.emit(stream, s.redactor.push(text));
  }

  /** Flushes what each stream still holds; call once both streams have ended. */
  end(): void {
    for (const stream of ["stdout", "stderr"] as const) {
      const s = this.streams[stream];
      const rest = s.decoder.end();
      this.emit(stream, s.redactor.push(rest) + s.redactor.flush());
    }
  }

  private emit(stream: OutputStreamName, text: string): void {
    if (text.length === 0) return;
    this.capture.write(text);
    if (stream === "stdout") this.lastStdoutLine.write(text);
    if (this.onOutput && this.callbackError === undefined) {
      try {
        this.onOutput(text, stream);
      } catch (error) {
        this.callbackError = error ?? new Error("onOutput threw");
      }
    }
  }
}
