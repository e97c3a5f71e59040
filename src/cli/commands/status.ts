import { execa } from "execa";
import { createOctokit } from "../../github/octokit.js";
import { readTaskStatus, type TaskStatus, type TaskStatusResult } from "../../github/task-status.js";
import { EXIT, parseCommandArgs, UsageError, type Command } from "../io.js";

const usage = `Usage: switchyard status [--repo <owner/name>] [options]

Lists a repository's open tasks and where each stands, read from GitHub: the switchyard:<state>
label (running, queued, blocked, pr-open, quarantined, failed), the phase and tool in the task's
status comment, and the switchyard/* check runs on a pull request's head commit.

Options:
  --repo <owner/name>   the repository (default: GITHUB_REPOSITORY, else the current checkout's
                        origin remote when it is on GitHub's host)
  --json                print the tasks as JSON
  --max-requests <n>    API requests this listing may send (default: 200)
  -h, --help            show this help

The token is read from the GITHUB_TOKEN environment variable only; the API's address from
GITHUB_API_URL (default https://api.github.com). Exit codes: 0 listed, 1 GitHub refused, 2 usage.`;

const REPO = /^([\w.-]+)\/([\w.-]+)$/;

/**
 * owner/name from a remote URL on the given host: https://host/owner/name(.git) or
 * git@host:owner/name(.git). Anything else (another host, a local path) is null.
 */
export function repositoryFromRemote(url: string, host = "github.com"): string | null {
  const h = host.replace(/[.]/g, "\\.");
  const m = new RegExp(
    `^(?:https?://(?:[^@/]+@)?${h}/|ssh://git@${h}/|git@${h}:)([\\w.-]+)/([\\w.-]+?)(?:\\.git)?/?$`,
  ).exec(url.trim());
  return m ? `${m[1]}/${m[2]}` : null;
}

/** The checkout's origin on GitHub, or null (no git, no origin, another host). */
async function originRepository(cwd: string, serverUrl: string | undefined): Promise<string | null> {
  const host = serverUrl ? new URL(serverUrl).host : "github.com";
  try {
    const { stdout } = await execa("git", ["remote", "get-url", "origin"], { cwd, reject: false });
    return repositoryFromRemote(stdout, host);
  } catch {
    return null;
  }
}

export const statusCommand: Command = {
  name: "status",
  summary: "a repository's in-flight tasks and their states, from GitHub",
  usage,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {
      repo: { type: "string" },
      json: { type: "boolean" },
      "max-requests": { type: "string" },
    });
    if (values.help) {
      io.stdout(usage + "\n");
      return EXIT.ok;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const repository =
      values.repo ?? (io.env.GITHUB_REPOSITORY || (await originRepository(io.cwd, io.env.GITHUB_SERVER_URL)));
    if (repository === undefined || repository === null || repository === "") {
      throw new UsageError(
        "which repository? Give --repo owner/name (or set GITHUB_REPOSITORY, or run it in a checkout whose origin is on GitHub)",
      );
    }
    const m = REPO.exec(repository);
    if (!m) throw new UsageError(`--repo '${repository}' is not owner/name`);
    let maxRequests = 200;
    if (values["max-requests"] !== undefined) {
      maxRequests = /^\d{1,7}$/.test(values["max-requests"]) ? Number(values["max-requests"]) : 0;
      if (maxRequests < 1) {
        throw new UsageError(
          `--max-requests '${values["max-requests"]}' is not a whole number of at least 1`,
        );
      }
    }
    const token = io.env.GITHUB_TOKEN?.trim();
    if (!token)
      io.stderr("note: GITHUB_TOKEN is not set; reading without a token (public repositories only)\n");
    const octokit = createOctokit({ ...(token ? { auth: token } : {}), env: io.env });
    const result = await readTaskStatus(octokit, { owner: m[1]!, repo: m[2]!, maxRequests });
    for (const gap of result.gaps) io.stderr(`gap: ${gap}\n`);
    io.stdout(values.json ? JSON.stringify(result.tasks, null, 2) + "\n" : renderStatus(repository, result));
    return EXIT.ok;
  },
};

/** One line per task, for a terminal: number, state, phase and tool, checks, title. */
export function renderStatus(repository: string, result: TaskStatusResult): string {
  if (result.tasks.length === 0) return `No open Switchyard tasks in ${repository}.\n`;
  const rows = result.tasks.map((t) => [
    `#${t.number}${t.kind === "pull_request" ? " (PR)" : ""}`,
    t.states.join(",") || "-",
    phase(t),
    t.checks.map((c) => `${c.name.replace("switchyard/", "")}:${c.conclusion ?? c.status}`).join(" ") || "-",
    oneLine(t.title),
  ]);
  const header = ["task", "state", "phase / tool", "checks", "title"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  const count = result.tasks.length;
  return [
    `${count} open ${count === 1 ? "task" : "tasks"} in ${repository}:`,
    "",
    line(header),
    ...rows.map(line),
    "",
  ].join("\n");
}

function phase(t: TaskStatus): string {
  if (t.marker_problem !== null) return "(unreadable marker)";
  if (t.marker === null) return "-";
  return t.marker.tool ? `${t.marker.phase} / ${t.marker.tool}` : t.marker.phase;
}

function oneLine(text: string, max = 60): string {
  // Titles are other people's text: control characters would move a terminal's cursor.
  const clean = text
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  return clean.length > max ? clean.slice(0, max - 1) + "…" : clean;
}
