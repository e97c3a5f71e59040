import type { Attempt } from "../core/execution/schema.js";
import type { ProgressEvent } from "../runner/execute.js";

/**
 * Live progress of a local run for a terminal or a log file: one line per step, the tool's own
 * output indented beneath it, and on a terminal a heartbeat while a quiet tool works, so a long
 * run never looks hung. Output is bounded per attempt: a tool that floods gets its first lines
 * shown and the rest left to the report's head and tail.
 */

const MAX_LINES_PER_ATTEMPT = 200;
const MAX_LINE_CHARS = 300;
const HEARTBEAT_MS = 15_000;

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`;
}

function attemptLine(a: Attempt): string {
  const took = seconds(a.duration_ms);
  switch (a.outcome) {
    case "success":
      return `  ✓ success in ${took}: ${a.files.length} file(s) changed, gates passed`;
    case "tool_unavailable":
      return `  – skipped: ${a.reason}`;
    default:
      return `  ✗ ${a.outcome.replace(/_/g, " ")} in ${took}: ${a.reason}`;
  }
}

export class ProgressPrinter {
  private partial = "";
  private shown = 0;
  private quietSince = Date.now();
  private readonly timer: NodeJS.Timeout | undefined;
  private running: { tool: string; since: number } | undefined;

  constructor(
    private readonly write: (text: string) => void,
    heartbeat: boolean,
  ) {
    if (heartbeat) {
      this.timer = setInterval(() => this.beat(), 1000);
      this.timer.unref();
    }
  }

  readonly onProgress = (p: ProgressEvent): void => {
    switch (p.type) {
      case "attempt_started":
        this.flush();
        this.shown = 0;
        this.running = { tool: p.tool, since: Date.now() };
        this.quietSince = Date.now();
        this.write(`▶ attempt ${p.attempt}: ${p.tool}\n`);
        break;
      case "tool_output":
      case "gate_output":
        this.output(p.text);
        break;
      case "gate_started":
        this.flush();
        this.write(`  ⧗ gate ${p.gate}\n`);
        break;
      case "gate_finished":
        this.flush();
        this.write(
          p.passed
            ? `  ✓ gate ${p.gate.name} passed (${seconds(p.gate.duration_ms)})\n`
            : `  ✗ gate ${p.gate.name} failed (${p.gate.timed_out ? "timed out" : `exit ${p.gate.exit_code}`}, ${seconds(p.gate.duration_ms)})\n`,
        );
        break;
      case "committed":
        this.write(`  ✓ committed ${p.commitSha.slice(0, 12)} to ${p.branch}\n`);
        break;
      case "attempt_finished":
        this.flush();
        this.running = undefined;
        this.write(attemptLine(p.attempt) + "\n");
        break;
      case "backoff":
        this.write(`  … waiting ${seconds(p.delayMs)} before the next run (retry backoff)\n`);
        break;
      case "stopped":
        this.flush();
        this.write(`■ stopped: ${p.reason}\n`);
        break;
    }
  };

  private output(text: string): void {
    this.quietSince = Date.now();
    const lines = (this.partial + text).split("\n");
    this.partial = lines.pop() ?? "";
    for (const line of lines) this.line(line);
  }

  private line(line: string): void {
    if (this.shown === MAX_LINES_PER_ATTEMPT) {
      this.write("  │ … more output; the report keeps its start and end\n");
    }
    this.shown++;
    if (this.shown > MAX_LINES_PER_ATTEMPT) return;
    const cut = line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}…` : line;
    this.write(`  │ ${cut.replace(/\r/g, "")}\n`);
  }

  private flush(): void {
    if (this.partial !== "") this.line(this.partial);
    this.partial = "";
  }

  private beat(): void {
    if (!this.running || Date.now() - this.quietSince < HEARTBEAT_MS) return;
    this.quietSince = Date.now();
    this.write(`  … ${this.running.tool} still running (${seconds(Date.now() - this.running.since)})\n`);
  }

  close(): void {
    this.flush();
    if (this.timer) clearInterval(this.timer);
  }
}
