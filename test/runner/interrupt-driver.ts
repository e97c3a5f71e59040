/**
 * Not a test: a process for tool-runner-kill.test.ts to interrupt. It runs the hang fixture (which
 * writes its and its child's pids to the file given) through runTool with a long timeout, so only
 * the runner's exit handling can stop the tool when this process gets SIGINT or SIGTERM.
 * Usage: node --import tsx test/runner/interrupt-driver.ts <checkout> <pid-file>
 */
import { runTool } from "../../src/runner/tool-runner.js";
import { profile } from "./tool-fixtures.js";

const [cwd, pidFile] = process.argv.slice(2);
if (!cwd || !pidFile) throw new Error("usage: interrupt-driver.ts <checkout> <pid-file>");
const result = await runTool(profile("hang", { args: [pidFile] }), {
  cwd,
  prompt: "",
  env: { PATH: process.env.PATH },
  timeoutMs: 60_000,
});
// Reached only in the moment between the tool being stopped and the signal being raised again.
process.stdout.write(`cancelled=${result.cancelled}\n`);
