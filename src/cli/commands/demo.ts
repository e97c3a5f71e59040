import { cp, mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { packageRoot } from "../../config/defaults.js";
import { GitCommandManager } from "../../runner/git.js";
import { EXIT, parseCommandArgs, UsageError, type Command } from "../io.js";
import { runLocal, summaryLines } from "./run.js";

const usage = `Usage: switchyard demo

Copies the bundled sample repository (docs/examples/sample-repo) into a new git repository in a
temporary folder and runs 'switchyard run' on its issue (docs/examples/sample-issue.md). Real
tools do real work: aider is tried first and skipped when it is not installed, eslint fixes the
code but leaves it unformatted so the format gate fails, and prettier's patch passes and is
committed to the task's branch. Needs no GitHub account and no AI tool.

Options:
  -h, --help  show this help`;

export const demoCommand: Command = {
  name: "demo",
  summary: "run the whole local pipeline on a bundled sample repository",
  usage,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {});
    if (values.help) {
      io.stdout(usage + "\n");
      return EXIT.ok;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const examples = path.join(packageRoot(), "docs", "examples");
    const repo = path.join(await mkdtemp(path.join(os.tmpdir(), "switchyard-demo-")), "sample-repo");
    await cp(path.join(examples, "sample-repo"), repo, { recursive: true });
    const git = new GitCommandManager(repo);
    await git.exec(["init", "--quiet", "--initial-branch=main"]);
    await git.exec(["add", "--all"]);
    await git.exec([
      "-c",
      "user.name=Switchyard demo",
      "-c",
      "user.email=demo@switchyard.invalid",
      "commit",
      "--quiet",
      "--message",
      "Sample project",
    ]);
    io.stdout(`Sample repository: ${repo}\n\n`);
    const run = await runLocal({ issueFile: path.join(examples, "sample-issue.md"), repo }, io);
    io.stdout(summaryLines(run, io).join("\n") + "\n");
    return run.result.outcome === "success" ? EXIT.ok : EXIT.rejected;
  },
};
