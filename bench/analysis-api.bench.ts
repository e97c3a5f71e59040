import { strToU8, zipSync } from "fflate";
import { pathToFileURL } from "node:url";
import { readRepositoryHistory } from "../src/github/analysis-source.js";
import { MemoryCache } from "../src/github/conditional-cache.js";
import type { GitHubClient } from "../src/github/octokit.js";
import type { BenchResult } from "./harness.js";

/**
 * Requests the API door of the analysis sends against the runs in its window, with an in-memory
 * stand-in for GitHub's API (no network, no nock: what is measured is the count, which is what a
 * rate limit charges). The target is linear growth: requests per run stay flat from 100 to 5,000
 * runs, so a busy repository costs in proportion and the budget (maxRequests) can be sized.
 *
 * The fake repository: runs an hour apart, newest first, one in ten failed with one failed job,
 * one events artifact per ten runs; every failed job's log is classified (maxLogs = all), which
 * is the most a reading can cost. A second reading with the ETags kept shows what the cache saves.
 */

const SIZES = [100, 1_000, 5_000];
const HOUR = 3_600_000;
const END = Date.parse("2026-03-08T00:00:00.000Z");
const LOG =
  "2026-03-01T00:00:00.0000000Z ##[group]Run npm test\nFAIL src/a.test.ts\n  ● adds\n##[error]Process completed with exit code 1.\n";

interface FakeOptions {
  runs: number;
}

/** The few routes the reading uses, answered from generated data; ETags are stable per page. */
export function fakeGitHub({ runs }: FakeOptions): GitHubClient & { requests: number } {
  // Every tenth run is a dispatched run of the execute workflow, which uploads an event log.
  const all = Array.from({ length: runs + 1 }, (_, n) => ({
    id: runs + 1 - n,
    name: (runs + 1 - n) % 10 === 0 ? "switchyard-execute" : "CI",
    path: (runs + 1 - n) % 10 === 0 ? ".github/workflows/switchyard-execute.yml" : ".github/workflows/ci.yml",
    workflow_id: (runs + 1 - n) % 10 === 0 ? 2 : 1,
    head_sha: (n % 97).toString(16).padStart(40, "0"),
    event: (runs + 1 - n) % 10 === 0 ? "workflow_dispatch" : "push",
    status: "completed",
    // The last one is older than the window: where the listing stops.
    conclusion: n % 10 === 3 ? "failure" : "success",
    run_attempt: 1,
    created_at: new Date(END - (n === runs ? 3 * runs : n + 1) * HOUR).toISOString(),
  }));
  const artifacts = all
    .filter((r) => r.id % 10 === 0)
    .map((r) => ({
      id: r.id,
      name: "switchyard-events",
      size_in_bytes: 200,
      expired: false,
      created_at: r.created_at,
      workflow_run: { id: r.id, head_sha: r.head_sha },
    }));
  const zip = zipSync({
    "events.jsonl": strToU8(
      JSON.stringify({
        id: "01J00000000000000000000001",
        at: "2026-03-05T00:00:00.000Z",
        task_key: "o/r#1",
        type: "execute_finished",
        tool: "aider",
        attempt: 1,
        outcome: "success",
        duration_ms: 1000,
        exit_code: 0,
      }) + "\n",
    ),
  });
  // Issue comments updated in the span: one per ten runs (people's, and no recovery marker).
  const comments = Array.from({ length: Math.ceil(runs / 10) }, (_, n) => ({
    id: n + 1,
    body: "looks good",
    issue_url: `https://api.github.com/repos/o/r/issues/${n + 1}`,
    updated_at: new Date(END - (n + 1) * HOUR).toISOString(),
    user: { login: "octocat", type: "User" },
  }));
  const fake = {
    requests: 0,
    async request(route: string, params: Record<string, unknown> = {}) {
      fake.requests++;
      const page = Number(params.page ?? 1);
      const per = Number(params.per_page ?? 30);
      const slice = <T>(items: T[]) => items.slice((page - 1) * per, page * per);
      const etag = `"${route}:${page}:${String(params.run_id ?? "")}"`;
      const headers = params.headers as Record<string, string> | undefined;
      if (headers?.["if-none-match"] === etag)
        throw Object.assign(new Error("Not modified"), { status: 304 });
      let data: unknown;
      if (route === "GET /repos/{owner}/{repo}/actions/runs") {
        data = { total_count: all.length, workflow_runs: slice(all) };
      } else if (route === "GET /repos/{owner}/{repo}/actions/artifacts") {
        data = { total_count: artifacts.length, artifacts: slice(artifacts) };
      } else if (route === "GET /repos/{owner}/{repo}/issues/comments") {
        data = slice(comments);
      } else if (route === "GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs") {
        const id = Number(params.run_id);
        data = {
          total_count: 1,
          jobs: [
            {
              id: id * 10,
              run_id: id,
              run_attempt: 1,
              name: "test",
              conclusion: "failure",
              completed_at: null,
            },
          ],
        };
      } else if (route === "GET /repos/{owner}/{repo}/actions/jobs/{job_id}/logs") {
        data = LOG;
      } else if (route === "GET /repos/{owner}/{repo}/actions/artifacts/{artifact_id}/{archive_format}") {
        data = zip;
      } else {
        throw Object.assign(new Error(`not faked: ${route}`), { status: 404 });
      }
      return { data, headers: { etag }, status: 200, url: route };
    },
  };
  return fake as unknown as GitHubClient & { requests: number };
}

export interface ApiFigures {
  runs: number;
  requests: number;
  cachedRequests: number;
  notModified: number;
  perRun: number;
  ms: number;
}

export async function measureAnalysisApi(runs: number): Promise<ApiFigures> {
  const api = fakeGitHub({ runs });
  const cache = new MemoryCache();
  const input = {
    owner: "o",
    repo: "r",
    since: new Date(END - runs * 2 * HOUR).toISOString(),
    until: new Date(END).toISOString(),
    maxRequests: 1_000_000,
    maxLogs: runs,
    cache,
  };
  const t0 = process.hrtime.bigint();
  const first = await readRepositoryHistory(api, input);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (first.runs.length !== runs) throw new Error(`read ${first.runs.length} runs of ${runs}`);
  const second = await readRepositoryHistory(api, input);
  return {
    runs,
    requests: first.requests,
    cachedRequests: second.requests,
    notModified: second.notModified,
    perRun: first.requests / runs,
    ms,
  };
}

export async function benchAnalysisApi(): Promise<BenchResult[]> {
  const figures: ApiFigures[] = [];
  for (const n of SIZES) figures.push(await measureAnalysisApi(n));
  const base = figures[figures.length - 1]!.perRun;
  return figures.map((f) => {
    // Linear: requests per run within 10% of the largest window's (small windows carry the
    // fixed cost of the list pages, so they may only be cheaper or equal per run).
    const ok = f.perRun <= base * 1.1;
    return {
      name: `analyze --repo, ${f.runs.toLocaleString("en-US")} runs in the window`,
      runs: 1,
      unit: "requests",
      p50: f.requests,
      p99: f.requests,
      mean: f.requests,
      figure: f.requests,
      target: `linear: ≤ ${(base * 1.1).toFixed(3)} requests per run`,
      ok,
      note:
        `${f.perRun.toFixed(3)} per run; again with the cache: ${f.cachedRequests} requests, ` +
        `${f.notModified} answered 304; ${f.ms.toFixed(0)} ms`,
    };
  });
}

// `node --import ./bin/register.js bench/analysis-api.bench.ts` prints the figures.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of await benchAnalysisApi())
    console.log(`${r.name}: ${r.figure} ${r.unit} (${r.note}) ${r.ok ? "ok" : "MISSED"}`);
}
