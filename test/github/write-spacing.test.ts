import { afterEach, describe, expect, it, jest } from "@jest/globals";
import { createOctokit } from "../../src/github/octokit.js";

/**
 * What spaces Switchyard's writes under GitHub's secondary limit: @octokit/plugin-throttling's
 * `write` group (one write at a time, a second apart) is a module-level Bottleneck group keyed by
 * the throttle id, which every client leaves at its default, so the clients of all installations
 * in one process share it. Writes to endpoints that notify people (comments) also pass the
 * `notifications` group (3 s apart) after the write group, which is why sends can pair up.
 * Virtual time (jest's modern fake timers): no real sleep, nothing timing-dependent.
 */

const silent = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

afterEach(() => {
  jest.useRealTimers();
});

function recordingFetch(sent: { method: string; path: string; at: number }[]): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    sent.push({ method: init?.method ?? "GET", path: url.pathname, at: Date.now() });
    const status = init?.method === "POST" ? 201 : 200;
    return new Response(JSON.stringify({ id: 1 }), {
      status,
      headers: { "content-type": "application/json" },
    });
  }) as typeof fetch;
}

async function drain(promises: Promise<unknown>[]): Promise<void> {
  let done = false;
  const all = Promise.all(promises).finally(() => (done = true));
  // Time moves only to the next timer, so every send lands exactly when the limiter let it go.
  while (!done) await jest.advanceTimersToNextTimerAsync();
  await all;
}

describe("write spacing under the secondary rate limit", () => {
  it("sends the writes of two installations' clients one a second, and reads without waiting", async () => {
    jest.useFakeTimers({ now: Date.parse("2026-03-02T09:00:00Z") });
    const t0 = Date.now();
    const sent: { method: string; path: string; at: number }[] = [];
    const fetch = recordingFetch(sent);
    const a = createOctokit({ auth: "installation-1", fetch, retries: 0, log: silent });
    const b = createOctokit({ auth: "installation-2", fetch, retries: 0, log: silent });

    const checkRun = (client: typeof a, n: number) =>
      client.request("POST /repos/{owner}/{repo}/check-runs", {
        owner: "o",
        repo: `r${n}`,
        name: "x",
        head_sha: "a",
      });
    await drain([
      checkRun(a, 1),
      checkRun(b, 2),
      checkRun(a, 3),
      checkRun(b, 4),
      a.request("GET /repos/{owner}/{repo}", { owner: "o", repo: "r" }),
      b.request("GET /repos/{owner}/{repo}", { owner: "o", repo: "r" }),
    ]);

    // Bottleneck's own bookkeeping adds a few milliseconds; the spacing is what matters.
    const writes = sent.filter((r) => r.method === "POST").map((r) => r.at - t0);
    const reads = sent.filter((r) => r.method === "GET").map((r) => r.at - t0);
    expect(writes.map((t) => Math.round(t / 100) * 100)).toEqual([0, 1000, 2000, 3000]);
    expect(Math.max(...reads)).toBeLessThan(Math.min(...writes) + 100);
  });

  it("holds comments three seconds apart, so a comment can leave the queue with another write", async () => {
    // The plugin's groups outlive a test (they are module state): start well after the last one.
    jest.useFakeTimers({ now: Date.parse("2026-03-02T10:00:00Z") });
    const t0 = Date.now();
    const sent: { method: string; path: string; at: number }[] = [];
    const client = createOctokit({ auth: "x", fetch: recordingFetch(sent), retries: 0, log: silent });
    const comment = (n: number) =>
      client.request("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", {
        owner: "o",
        repo: "r",
        issue_number: n,
        body: "b",
      });
    const label = (n: number) =>
      client.request("POST /repos/{owner}/{repo}/issues/{issue_number}/labels", {
        owner: "o",
        repo: "r",
        issue_number: n,
        labels: ["x"],
      });
    await drain([comment(1), comment(2), label(3), label(4), label(5)]);

    const at = Object.fromEntries(sent.map((r) => [r.path, Math.round((r.at - t0) / 100) * 100]));
    // Comments: admitted by the write group at 0 s and 1 s, sent at 0 s and 3 s (notifications).
    expect(at["/repos/o/r/issues/1/comments"]).toBe(0);
    expect(at["/repos/o/r/issues/2/comments"]).toBe(3000);
    // Labels take the write slots at 2, 3 and 4 s: the second comment and a label share 3 s.
    expect([
      at["/repos/o/r/issues/3/labels"],
      at["/repos/o/r/issues/4/labels"],
      at["/repos/o/r/issues/5/labels"],
    ]).toEqual([2000, 3000, 4000]);
  });
});
