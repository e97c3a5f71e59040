import { afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtemp, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { analyzeCommand, CACHE_FILE } from "../../src/cli/commands/analyze.js";
import { main } from "../../src/cli/main.js";
import { UsageError, type CliIO } from "../../src/cli/io.js";
import { MetricsSchema } from "../../src/core/metrics/schema.js";
import { blockNetwork, githubApi, resetGithubApi, type GithubApi } from "../support/github-contract.js";

const NOW = "2026-03-08T00:00:00.000Z";

beforeAll(() => blockNetwork());
afterEach(() => resetGithubApi());

function io(cwd: string, env: NodeJS.ProcessEnv = { GITHUB_TOKEN: "t0ken" }) {
  const out = { stdout: "", stderr: "" };
  const cli: CliIO = {
    stdout: (t) => void (out.stdout += t),
    stderr: (t) => void (out.stderr += t),
    cwd,
    env,
    isTTY: false,
  };
  return { cli, out };
}

function wireRun(id: number, created_at: string, conclusion: string, head_sha = "a".repeat(40)) {
  return {
    id,
    name: "CI",
    workflow_id: 10,
    head_sha,
    event: "push",
    status: "completed",
    conclusion,
    run_attempt: 1,
    created_at,
  };
}

/** A week with three CI runs (one failure that a later run on the same commit passed) and one the week before. */
function history(gh: GithubApi, etag: string | null) {
  const runs = gh.scope
    .get("/repos/o/r/actions/runs")
    .query({ per_page: "100", page: "1", exclude_pull_requests: "true" });
  if (etag !== null) runs.matchHeader("if-none-match", etag).reply(304, "");
  else {
    runs.reply(
      200,
      {
        total_count: 4,
        workflow_runs: [
          wireRun(4, "2026-03-06T12:00:00Z", "success"),
          wireRun(3, "2026-03-06T10:00:00Z", "failure"),
          wireRun(2, "2026-03-03T10:00:00Z", "success", "b".repeat(40)),
          wireRun(1, "2026-02-25T10:00:00Z", "failure", "c".repeat(40)),
        ],
      },
      { ETag: '"runs"' },
    );
  }
  gh.scope
    .get("/repos/o/r/actions/artifacts")
    .query({ name: "switchyard-events", per_page: "100", page: "1" })
    .reply(200, { total_count: 0, artifacts: [] });
  gh.scope
    .get("/repos/o/r/issues/comments")
    .query({
      sort: "updated",
      direction: "desc",
      since: "2026-02-22T00:00:00.000Z",
      per_page: "100",
      page: "1",
    })
    .reply(200, []);
  gh.scope
    .get("/repos/o/r/actions/runs/3/jobs")
    .query(true)
    .reply(200, {
      total_count: 1,
      jobs: [{ id: 30, run_id: 3, run_attempt: 1, name: "unit", conclusion: "failure", completed_at: null }],
    });
  gh.scope.get("/repos/o/r/actions/jobs/30/logs").reply(410, { message: "Gone" });
}

describe("switchyard analyze --repo", () => {
  it("analyses a repository through the API into metrics.json, with gaps on stderr and a cache for next time", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "sy-analyze-repo-"));
    const gh = githubApi({ scopeOptions: { reqheaders: { authorization: "token t0ken" } } });
    history(gh, null);
    const { cli, out } = io(dir);
    const code = await analyzeCommand.run(["--repo", "o/r", "--now", NOW, "--since", "7d", "--json"], cli);
    gh.done();
    expect(code).toBe(0);
    const metrics = MetricsSchema.parse(JSON.parse(out.stdout));
    expect(metrics.repository).toBe("o/r");
    expect(metrics.window).toEqual({
      from: "2026-03-01T00:00:00.000Z",
      to: NOW,
      previous: { from: "2026-02-22T00:00:00.000Z", to: "2026-03-01T00:00:00.000Z" },
    });
    expect(metrics.workflows).toEqual([
      {
        name: "CI",
        runs: 3,
        failures: 1,
        failure_rate: 0.3333,
        previous: { runs: 1, failures: 1, failure_rate: 1 },
      },
    ]);
    expect(metrics.flaky_tests).toEqual([{ name: "CI / unit", flips: 1 }]);
    expect(metrics.gaps).toEqual([
      "job logs: 1 failed job's log is gone (expired or deleted)",
      "error signatures: 1 failed job without a classified log",
    ]);
    expect(out.stderr).toBe("gap: job logs: 1 failed job's log is gone (expired or deleted)\n");
    const cache = JSON.parse(await readFile(path.join(dir, CACHE_FILE), "utf8")) as {
      entries: [string, unknown][];
    };
    expect(cache.entries.map(([key]) => key.split(" ").slice(0, 2).join(" "))).toEqual([
      "GET /repos/{owner}/{repo}/actions/runs",
    ]);

    // The next run asks whether the runs changed; GitHub says no.
    const again = githubApi();
    history(again, '"runs"');
    const second = io(dir);
    const file = path.join(dir, "out", "metrics.json");
    expect(
      await analyzeCommand.run(
        ["--repo", "o/r", "--now", NOW, "--out", file, "--markdown", "dash.md"],
        second.cli,
      ),
    ).toBe(0);
    again.done();
    expect(second.out.stdout).toBe(
      "Analysed o/r: 4 workflow runs, 0 events from 0 event logs, 5 requests (1 answered from the cache); " +
        "wrote out/metrics.json, dash.md.\n",
    );
    // No Switchyard events, but CI ran: the dashboard shows CI health rather than "no activity".
    const dashboard = await readFile(path.join(dir, "dash.md"), "utf8");
    expect(dashboard).toContain(
      "## CI health\n\n| workflow | runs | failures | failure rate | previous window | change |",
    );
    expect(dashboard).toContain("| CI | 3 | 1 | 33.3% | 100% of 1 | ▼ 66.7 pts |");
    expect(MetricsSchema.parse(JSON.parse(await readFile(file, "utf8"))).workflows).toEqual(
      metrics.workflows,
    );
  });

  it("refuses a bad repository name, logs and --repo together, and --since with --window", async () => {
    const { cli } = io(os.tmpdir());
    await expect(analyzeCommand.run(["--repo", "nope"], cli)).rejects.toThrow(
      new UsageError("--repo 'nope' is not owner/name"),
    );
    await expect(analyzeCommand.run(["logs", "--repo", "o/r"], cli)).rejects.toThrow(
      new UsageError("give either local logs or --repo, not both"),
    );
    await expect(
      analyzeCommand.run(["--repo", "o/r", "--since", "7d", "--window", "7d"], cli),
    ).rejects.toThrow(new UsageError("give --since or --window, not both"));
    await expect(analyzeCommand.run(["logs", "--max-requests", "5"], cli)).rejects.toThrow(
      new UsageError("--max-requests goes with --repo"),
    );
    await expect(analyzeCommand.run(["--repo", "o/r", "--max-requests", "0"], cli)).rejects.toThrow(
      new UsageError("--max-requests '0' is not a whole number of at least 1"),
    );
  });

  it("exits 1 with GitHub's reason when the token is refused", async () => {
    const gh = githubApi();
    gh.scope.get("/repos/o/r/actions/runs").query(true).reply(401, { message: "Bad credentials" });
    const { cli, out } = io(os.tmpdir());
    const code = await main(["analyze", "--repo", "o/r", "--now", NOW, "--no-cache"], cli);
    gh.done();
    expect(code).toBe(1);
    expect(out.stderr).toBe(
      "switchyard analyze: listing the workflow runs of o/r failed: GitHub answered 401 (Bad credentials): " +
        "the token is invalid or has expired\n",
    );
  });
});
