import { afterEach, beforeEach, describe, expect, it, jest } from "@jest/globals";
import { Octokit } from "@octokit/core";
import { InputError } from "../../src/core/errors.js";
import { createOctokit } from "../../src/github/octokit.js";
import {
  DEFAULT_WRITE_LIMITS,
  isContentWrite,
  WriteQueue,
  writeQueue,
} from "../../src/github/write-queue.js";

const START = Date.parse("2026-03-02T09:00:00Z");

/** Most entries of `times` (sorted) within any `window` ms. */
function peak(times: number[], window: number): number {
  let best = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= window) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

/** A fetch that answers at once and records when each request reached it. */
function recordingFetch(status = 200) {
  const sent: { method: string; path: string; at: number }[] = [];
  const fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    sent.push({ method: init?.method ?? "GET", path: url.pathname, at: Date.now() });
    return new Response(status === 204 ? null : JSON.stringify({ ok: status < 400 }), {
      status,
      headers: { "content-type": "application/json" },
    });
  }) as typeof globalThis.fetch;
  return { fetch, sent };
}

const QueuedOctokit = Octokit.plugin(writeQueue);

beforeEach(() => {
  jest.useFakeTimers({ now: START });
});
afterEach(() => {
  jest.useRealTimers();
});

describe("WriteQueue limits", () => {
  it("never lets more than perMinute writes start in any 60 s, and spaces the rest by the window", async () => {
    const queue = new WriteQueue({ perMinute: 5, perHour: 100 });
    const starts: number[] = [];
    const all = Array.from({ length: 12 }, () =>
      queue.run(async (ticket) => {
        ticket.sent();
        starts.push(Date.now());
      }),
    );
    await jest.advanceTimersByTimeAsync(0);
    expect(starts).toHaveLength(5);
    expect(queue.pending).toBe(7);
    await jest.advanceTimersByTimeAsync(59_999);
    expect(starts).toHaveLength(5);
    await jest.advanceTimersByTimeAsync(1);
    expect(starts).toHaveLength(10);
    await jest.advanceTimersByTimeAsync(60_000);
    await Promise.all(all);
    expect(starts.map((t) => (t - START) / 1000)).toEqual([0, 0, 0, 0, 0, 60, 60, 60, 60, 60, 120, 120]);
    expect(peak(starts, 60_000)).toBe(5);
  });

  it("holds writes past perHour until the oldest of the hour has left it", async () => {
    const queue = new WriteQueue({ perMinute: 10, perHour: 20 });
    const starts: number[] = [];
    const all = Array.from({ length: 25 }, () => queue.run(async (t) => (t.sent(), starts.push(Date.now()))));
    await jest.advanceTimersByTimeAsync(59 * 60_000);
    expect(starts).toHaveLength(20);
    await jest.advanceTimersByTimeAsync(60 * 60_000);
    await Promise.all(all);
    expect(starts).toHaveLength(25);
    // The first 10 at 0 s, the next 10 at 60 s; the 21st when the first leaves the hour.
    expect((starts[20]! - START) / 1000).toBe(3600);
    expect(peak(starts, 3_600_000)).toBe(20);
    expect(peak(starts, 60_000)).toBe(10);
  });

  it("counts a retry that reaches the network again as another write", async () => {
    const queue = new WriteQueue({ perMinute: 3, perHour: 100 });
    await queue.run(async (ticket) => {
      ticket.sent();
      ticket.sent();
    });
    expect(queue.usage()).toEqual({ minute: 2, hour: 2 });
    let started = 0;
    const next = [
      queue.run(async (t) => (t.sent(), started++)),
      queue.run(async (t) => (t.sent(), started++)),
    ];
    await jest.advanceTimersByTimeAsync(0);
    expect(started).toBe(1);
    await jest.advanceTimersByTimeAsync(60_000);
    await Promise.all(next);
    expect(started).toBe(2);
  });

  it("frees the slot of a write that failed before reaching the network, and keeps going", async () => {
    const queue = new WriteQueue({ perMinute: 1, perHour: 10 });
    await expect(
      queue.run(async () => {
        throw new Error("refused before sending");
      }),
    ).rejects.toThrow("refused before sending");
    expect(queue.usage()).toEqual({ minute: 0, hour: 0 });
    const failed = queue.run(async (t) => {
      t.sent();
      throw new Error("answered 500");
    });
    await expect(failed).rejects.toThrow("answered 500");
    let ran = false;
    const after = queue.run(async (t) => {
      t.sent();
      ran = true;
    });
    await jest.advanceTimersByTimeAsync(0);
    // The failed write was sent, so it counts: the next one waits for the window, not forever.
    expect(ran).toBe(false);
    await jest.advanceTimersByTimeAsync(60_000);
    await after;
    expect(ran).toBe(true);
  });

  it("has GitHub-relative defaults and refuses limits above GitHub's own", () => {
    expect(new WriteQueue().limits).toEqual({ perMinute: 60, perHour: 450 });
    expect(DEFAULT_WRITE_LIMITS).toEqual({ perMinute: 60, perHour: 450 });
    expect(() => new WriteQueue({ perMinute: 81 })).toThrow(InputError);
    expect(() => new WriteQueue({ perMinute: 81 })).toThrow(
      "invalid write queue options: perMinute: Too big: expected number to be <=80 (GitHub allows at most 80 content-creating requests a minute and 500 an hour)",
    );
    expect(() => new WriteQueue({ perMinute: 50, perHour: 40 })).toThrow(
      "invalid write queue options: perMinute (50) is more than perHour (40)",
    );
  });
});

describe("isContentWrite", () => {
  it("counts POST, PATCH, PUT and DELETE but not reads or the app's token requests", () => {
    expect(isContentWrite("GET", "/repos/o/r/issues")).toBe(false);
    expect(isContentWrite("HEAD", "/repos/o/r")).toBe(false);
    expect(isContentWrite("POST", "/repos/o/r/issues/1/comments")).toBe(true);
    expect(isContentWrite("patch", "https://api.github.com/repos/o/r/issues/comments/3")).toBe(true);
    expect(isContentWrite("PUT", "/repos/o/r/contents/x")).toBe(true);
    expect(isContentWrite("DELETE", "/repos/o/r/issues/comments/3")).toBe(true);
    expect(isContentWrite("POST", "/app/installations/12/access_tokens")).toBe(false);
    expect(isContentWrite("POST", "https://ghe.example.com/api/v3/app/installations/12/access_tokens")).toBe(
      false,
    );
  });
});

describe("the writeQueue Octokit plugin", () => {
  it("holds writes beyond the limit while reads go out at once", async () => {
    const { fetch, sent } = recordingFetch();
    const queue = new WriteQueue({ perMinute: 2, perHour: 100 });
    const octokit = new QueuedOctokit({ request: { fetch }, writeQueue: queue });
    const comment = (n: number) =>
      octokit.request("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", {
        owner: "o",
        repo: "r",
        issue_number: n,
        body: "x",
      });
    const writes = [comment(1), comment(2), comment(3)];
    await jest.advanceTimersByTimeAsync(0);
    expect(sent.map((r) => r.path)).toEqual(["/repos/o/r/issues/1/comments", "/repos/o/r/issues/2/comments"]);
    expect(queue.pending).toBe(1);

    const read = await octokit.request("GET /repos/{owner}/{repo}/issues/{issue_number}", {
      owner: "o",
      repo: "r",
      issue_number: 1,
    });
    expect(read.status).toBe(200);
    expect(sent.map((r) => `${r.method} ${r.path}`).slice(2)).toEqual(["GET /repos/o/r/issues/1"]);
    expect(queue.pending).toBe(1);

    await jest.advanceTimersByTimeAsync(60_000);
    await Promise.all(writes);
    expect(sent.filter((r) => r.method === "POST").map((r) => (r.at - START) / 1000)).toEqual([0, 0, 60]);
  });

  it("passes an error answer to its caller and lets the next write through", async () => {
    const failing = recordingFetch(500);
    const queue = new WriteQueue({ perMinute: 2, perHour: 100 });
    const octokit = new QueuedOctokit({ request: { fetch: failing.fetch }, writeQueue: queue });
    await expect(
      octokit.request("POST /repos/{owner}/{repo}/labels", { owner: "o", repo: "r", name: "x" }),
    ).rejects.toMatchObject({ status: 500 });
    const ok = recordingFetch(201);
    const second = await octokit.request("POST /repos/{owner}/{repo}/labels", {
      owner: "o",
      repo: "r",
      name: "y",
      request: { fetch: ok.fetch },
    });
    expect(second.status).toBe(201);
    expect(queue.usage()).toEqual({ minute: 2, hour: 2 });
  });

  it("is off with writeQueue: false, and createOctokit without throttling uses none", async () => {
    const { fetch, sent } = recordingFetch(201);
    const queue = new WriteQueue({ perMinute: 1, perHour: 10 });
    const octokit = new QueuedOctokit({ request: { fetch }, writeQueue: false });
    for (let i = 0; i < 3; i++) await octokit.request("POST /repos/o/r/labels", { name: `l${i}` });
    expect(sent).toHaveLength(3);
    expect(queue.usage()).toEqual({ minute: 0, hour: 0 });

    const plain = createOctokit({ fetch, throttle: false, retries: 0 });
    for (let i = 0; i < 3; i++) await plain.request("POST /repos/o/r/labels", { name: `m${i}` });
    expect(sent).toHaveLength(6);
  });

  it("is wired into createOctokit: a given queue counts its writes", async () => {
    const { fetch, sent } = recordingFetch(201);
    const queue = new WriteQueue({ perMinute: 2, perHour: 10 });
    const octokit = createOctokit({ fetch, throttle: false, retries: 0, writeQueue: queue });
    const all = [0, 1, 2].map((i) => octokit.request("POST /repos/o/r/labels", { name: `l${i}` }));
    await jest.advanceTimersByTimeAsync(0);
    expect(sent).toHaveLength(2);
    await jest.advanceTimersByTimeAsync(60_000);
    await Promise.all(all);
    expect(sent).toHaveLength(3);
    expect(() => new QueuedOctokit({ writeQueue: "yes" })).toThrow(
      "invalid Octokit options: writeQueue: expected a WriteQueue or false",
    );
  });
});
