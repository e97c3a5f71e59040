import { createHmac } from "node:crypto";
import nock from "nock";
import { Probot, ProbotOctokit } from "probot";
import switchyardApp from "../src/app/index.js";
import { DEFAULT_RATE_LIMIT_POLICY, switchyardProbotOctokit } from "../src/app/server.js";
import { WriteQueue } from "../src/github/write-queue.js";
import {
  APP_ID,
  REPO,
  TEST_PRIVATE_KEY,
  TestOctokit,
  commentStore,
  installationToken,
  noConfig,
} from "../test/app/probot-fixtures.js";
import { blockNetwork, githubApi, resetGithubApi } from "../test/support/github-contract.js";
import { webhookExample, withInstallation } from "../test/support/webhooks.js";
import type { BenchResult } from "./harness.js";

/**
 * The app's three benchmarks, all on the route of one labelled issue (issues.labeled, default
 * configuration, no status comment yet, the execute workflow dispatched):
 *
 * 1. Requests per routed issue, by operation, against the contract harness (nock, every request
 *    checked against GitHub's OpenAPI description). The figure is the count; the target is the
 *    minimum the flow needs without weakening its idempotency or permission checks.
 * 2. Handler CPU per signed delivery, through `webhooks.verifyAndReceive`, against a bare Probot
 *    app with one empty `issues.labeled` handler receiving the same deliveries in the same run.
 *    GitHub is a stateful in-process fake passed to Octokit as its `fetch` (nock's per-request
 *    interceptor matching would cost more than the handler); the fake's own time is measured and
 *    reported so one can see it does not dominate.
 * 3. A burst of 500 labelled issues (over 5 installations) through Probot's own Octokit with its
 *    throttling on, against a fake GitHub that answers 403 "You have exceeded a secondary rate
 *    limit" when more than 80 writes (POST/PATCH/PUT/DELETE) arrive within any 60 s. Time is
 *    virtual: `setTimeout`/`clearTimeout`/`Date.now` are replaced by a clock that jumps to the next
 *    timer whenever nothing else can run, so half an hour of GitHub time takes seconds.
 */

const OWNER = "Codertocat";
const NAME = "Hello-World";
const SHA = "a".repeat(40);
const SECRET = "bench-webhook-secret";

export function labeledPayload(issue: number, installation = 1) {
  const payload = withInstallation(webhookExample("issues", "labeled"));
  payload.label = { ...payload.label!, name: "switchyard" };
  payload.issue = { ...payload.issue, number: issue, labels: [{ ...payload.label }] };
  (payload as { installation: { id: number } }).installation.id = installation;
  return payload;
}

// --- 1. requests per routed issue ---------------------------------------------------------------

export interface RequestCount {
  total: number;
  byOperation: Record<string, number>;
}

export async function countRouteRequests(): Promise<RequestCount> {
  blockNetwork();
  try {
    const gh = githubApi();
    installationToken(gh);
    noConfig(gh);
    gh.scope
      .get(`${REPO}/collaborators/Codertocat/permission`)
      .reply(200, { permission: "write", role_name: "write", user: { login: "Codertocat" } });
    gh.scope
      .get(`${REPO}/git/ref/heads%2Fmaster`)
      .reply(200, { ref: "refs/heads/master", object: { sha: SHA } });
    gh.scope
      .get(`${REPO}/commits/${SHA}/check-runs`)
      .query(true)
      .reply(200, { total_count: 0, check_runs: [] });
    gh.scope.post(`${REPO}/check-runs`).reply(201, { id: 7, html_url: "https://github.com/x/runs/7" });
    gh.scope.post(`${REPO}/actions/workflows/switchyard-execute.yml/dispatches`).reply(204);
    gh.scope.post(`${REPO}/issues/1/labels`).reply(200, []);
    commentStore(gh, APP_ID, { list: 2, create: 1 });

    const probot = new Probot({
      appId: APP_ID,
      privateKey: TEST_PRIVATE_KEY,
      Octokit: TestOctokit,
      logLevel: "fatal",
    });
    probot.load(switchyardApp);
    await probot.receive({ id: "bench-1", name: "issues", payload: labeledPayload(1) } as never);
    gh.done();
    const byOperation: Record<string, number> = {};
    for (const r of gh.requests) {
      const op = r.operationId ?? `${r.method} ${r.path}`;
      byOperation[op] = (byOperation[op] ?? 0) + 1;
    }
    return { total: gh.requests.length, byOperation };
  } finally {
    resetGithubApi();
  }
}

// --- a fake GitHub as a fetch function ------------------------------------------------------------

interface FakeOptions {
  /** The current time in ms; the write-limit window is measured with it. */
  now: () => number;
  /** Writes allowed in any 60 s window before the secondary limit answers 403. */
  writeLimit?: number;
  /** Writes allowed in any hour before the secondary limit answers 403. */
  hourlyWriteLimit?: number;
}

interface FakeGitHub {
  fetch: typeof fetch;
  writes: number[];
  rejected: number;
  requests: number;
  /** State-label writes: one per route that got to the end. */
  labels: number;
  /** Milliseconds spent inside the fake itself. */
  selfMs: number;
  /** When set, every request is appended here (the replay floor is built from it). */
  log: { method: string; path: string; body: string | undefined }[] | null;
}

const json = (status: number, data: unknown) =>
  new Response(JSON.stringify(data), { status, headers: { "content-type": "application/json" } });

/**
 * The endpoints one route uses, with each issue's comments kept, so the claim is read back for
 * real. Any other request is a 404, which would show as a failed route (and a wrong count).
 */
export function fakeGitHub(options: FakeOptions): FakeGitHub {
  const comments = new Map<number, { id: number; body: string }[]>();
  let nextId = 100;
  const state: FakeGitHub = {
    fetch: undefined as never,
    writes: [],
    rejected: 0,
    requests: 0,
    labels: 0,
    selfMs: 0,
    log: null,
  };
  const base = `/repos/${OWNER}/${NAME}`;

  const answer = (method: string, path: string, body: string | undefined): Response => {
    if (method === "POST" && /^\/app\/installations\/\d+\/access_tokens$/.test(path)) {
      return json(201, { token: "ghs_bench", expires_at: "2099-01-01T00:00:00Z", permissions: {} });
    }
    if (method !== "GET" && method !== "HEAD") {
      const now = options.now();
      const limit = options.writeLimit;
      const hourly = options.hourlyWriteLimit;
      if (
        (limit !== undefined && state.writes.filter((t) => t > now - 60_000).length >= limit) ||
        (hourly !== undefined && state.writes.filter((t) => t > now - 3_600_000).length >= hourly)
      ) {
        state.rejected++;
        return new Response(
          JSON.stringify({
            message:
              "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
          }),
          { status: 403, headers: { "content-type": "application/json", "retry-after": "60" } },
        );
      }
      state.writes.push(now);
    }
    if (path.startsWith(`${base}/contents/`) || path.startsWith(`/repos/${OWNER}/.github/contents/`)) {
      return json(404, { message: "Not Found" });
    }
    if (path.startsWith(`${base}/collaborators/`)) {
      return json(200, { permission: "write", role_name: "write", user: { login: OWNER } });
    }
    if (path === `${base}/git/ref/heads/master` || path === `${base}/git/ref/heads%2Fmaster`) {
      return json(200, { ref: "refs/heads/master", object: { sha: SHA } });
    }
    if (path === `${base}/commits/${SHA}/check-runs`) return json(200, { total_count: 0, check_runs: [] });
    if (method === "POST" && path === `${base}/check-runs`)
      return json(201, { id: nextId++, html_url: null });
    if (method === "POST" && path.endsWith("/dispatches")) return new Response(null, { status: 204 });
    const issueComments = /^\/repos\/[^/]+\/[^/]+\/issues\/(\d+)\/comments$/.exec(path);
    if (issueComments) {
      const list = comments.get(Number(issueComments[1])) ?? [];
      comments.set(Number(issueComments[1]), list);
      if (method === "GET") {
        return json(
          200,
          list.map((c) => ({ ...c, user: { type: "Bot" }, performed_via_github_app: { id: APP_ID } })),
        );
      }
      const c = { id: nextId++, body: (JSON.parse(body ?? "{}") as { body: string }).body };
      list.push(c);
      return json(201, { id: c.id, html_url: null });
    }
    const edit = /^\/repos\/[^/]+\/[^/]+\/issues\/comments\/(\d+)$/.exec(path);
    if (edit && method === "PATCH") {
      for (const list of comments.values()) {
        const c = list.find((x) => x.id === Number(edit[1]));
        if (c) c.body = (JSON.parse(body ?? "{}") as { body: string }).body;
      }
      return json(200, { id: Number(edit[1]) });
    }
    if (method === "POST" && /\/issues\/\d+\/labels$/.test(path)) {
      state.labels++;
      return json(200, []);
    }
    return json(404, { message: `Not Found (the bench's fake has no ${method} ${path})` });
  };

  state.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const t0 = performance.now();
    state.requests++;
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    const method = (init?.method ?? "GET").toUpperCase();
    const body = typeof init?.body === "string" ? init.body : undefined;
    state.log?.push({ method, path: url.pathname, body });
    const response = answer(method, url.pathname, body);
    state.selfMs += performance.now() - t0;
    return response;
  }) as typeof fetch;
  return state;
}

export function sign(body: string): string {
  return `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`;
}

// --- 2. handler CPU per delivery ------------------------------------------------------------------

export interface CpuBench {
  deliveries: number;
  /** Microseconds of CPU (user + system) per delivery. */
  switchyardUs: number;
  bareUs: number;
  /**
   * A bare app whose handler sends the requests Switchyard sent for one route (same methods,
   * paths and bodies, the issue number changed) and does nothing else: the CPU that the
   * requests alone cost through Probot's Octokit and the fake, which no handler making them can
   * go under.
   */
  replayUs: number;
  ratio: number;
  /** Switchyard's own work: (switchyard - replay + bare) / bare, its CPU as if requests were free. */
  ownRatio: number;
  /** Share of Switchyard's CPU spent in the fake GitHub's fetch (answering, not Octokit's reading). */
  fakeShare: number;
  requestsPerDelivery: number;
}

export async function benchHandlerCpu(deliveries = 400): Promise<CpuBench> {
  // The contract harness loads nock, which swaps the global Request/Response/fetch for proxies
  // that record raw headers: a cost no deployed app pays, so nock is off while this runs.
  const nockWasActive = nock.isActive();
  if (nockWasActive) nock.restore();
  try {
    return await measureHandlerCpu(deliveries);
  } finally {
    if (nockWasActive) nock.activate();
  }
}

async function measureHandlerCpu(deliveries: number): Promise<CpuBench> {
  const fake = fakeGitHub({ now: () => Date.now() });
  // The options of every request Switchyard makes, as Octokit has them after merging its
  // defaults (route template, parameters, headers), while `recording` is set.
  let recording: Record<string, unknown>[] | null = null;
  const recorder = (octokit: { hook: { before(name: "request", fn: (o: object) => void): void } }) => {
    octokit.hook.before("request", (options) => {
      const { request: _transport, ...rest } = options as Record<string, unknown>;
      recording?.push(JSON.parse(JSON.stringify(rest)) as Record<string, unknown>);
    });
  };
  const Octokit = ProbotOctokit.defaults((o: Record<string, unknown>) => ({
    ...o,
    retry: { enabled: false },
    throttle: { ...(o.throttle as object), enabled: false },
    request: { fetch: fake.fetch },
  })).plugin(recorder as never);
  const make = async (load: (app: Probot) => void) => {
    const p = new Probot({
      appId: APP_ID,
      privateKey: TEST_PRIVATE_KEY,
      secret: SECRET,
      Octokit,
      logLevel: "fatal",
    });
    await p.load(load);
    // Probot builds its webhooks instance asynchronously.
    return p.ready();
  };
  const switchyard = await make(switchyardApp);
  const bare = await make((app) => {
    app.on("issues.labeled", async () => {});
  });
  let recorded: Record<string, unknown>[] = [];
  const replay = await make((app) => {
    app.on("issues.labeled", async (context) => {
      const issue = context.payload.issue.number;
      for (const options of recorded) {
        // The same route template and parameters, for this delivery's issue; a 404 Switchyard
        // asked for on purpose (no config file) is answered and thrown here too.
        const params = "issue_number" in options ? { ...options, issue_number: issue } : options;
        await context.octokit.request(params as never).catch(() => undefined);
      }
    });
  });
  // Each delivery labels a different issue, so every one is a fresh route, not a redelivery.
  const bodies = Array.from({ length: deliveries * 3 + 60 }, (_, i) => JSON.stringify(labeledPayload(i + 1)));
  let next = 0;
  const deliver = async (probot: Probot, n: number) => {
    for (let i = 0; i < n; i++) {
      const body = bodies[next++ % bodies.length]!;
      await probot.webhooks.verifyAndReceive({
        id: `d-${next}`,
        name: "issues",
        payload: body,
        signature: sign(body),
      } as never);
    }
  };
  const cpu = async (probot: Probot, n: number) => {
    const before = process.cpuUsage();
    await deliver(probot, n);
    const used = process.cpuUsage(before);
    return (used.user + used.system) / n;
  };

  // Warm all three (JIT, the installation token, the shipped defaults' first read), recording
  // Switchyard's requests for its last warm-up route, then interleave rounds so a slow patch of
  // the machine hits each alike.
  await deliver(switchyard, 19);
  recording = [];
  await deliver(switchyard, 1);
  recorded = recording;
  recording = null;
  await deliver(bare, 20);
  await deliver(replay, 20);
  const rounds = 4;
  let sw = 0;
  let br = 0;
  let rp = 0;
  let fakeMs = 0;
  let requests = 0;
  let replayRequests = 0;
  for (let r = 0; r < rounds; r++) {
    const fakeBefore = fake.selfMs;
    const requestsBefore = fake.requests;
    sw += await cpu(switchyard, deliveries / rounds);
    fakeMs += fake.selfMs - fakeBefore;
    requests += fake.requests - requestsBefore;
    br += await cpu(bare, deliveries / rounds);
    const replayBefore = fake.requests;
    rp += await cpu(replay, deliveries / rounds);
    replayRequests += fake.requests - replayBefore;
  }
  if (replayRequests !== requests) {
    throw new Error(`the replay sent ${replayRequests} requests where Switchyard sent ${requests}`);
  }
  const switchyardUs = sw / rounds;
  const bareUs = br / rounds;
  const replayUs = rp / rounds;
  return {
    deliveries,
    switchyardUs,
    bareUs,
    replayUs,
    ratio: switchyardUs / bareUs,
    ownRatio: (switchyardUs - replayUs + bareUs) / bareUs,
    fakeShare: (fakeMs * 1000) / deliveries / switchyardUs,
    requestsPerDelivery: requests / deliveries,
  };
}

// --- 3. the write queue under the secondary limit ---------------------------------------------------

/**
 * A virtual clock: timers run in time order, and time jumps to the next one when nothing else is
 * pending. Installed over the globals Bottleneck (the throttling plugin's scheduler) and the fake
 * GitHub read, and removed afterwards.
 */
class VirtualClock {
  now = Date.parse("2026-03-02T09:00:00Z");
  private timers = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;
  private saved: {
    setTimeout: typeof setTimeout;
    clearTimeout: typeof clearTimeout;
    now: () => number;
  } | null = null;

  install(): void {
    this.saved = { setTimeout: globalThis.setTimeout, clearTimeout: globalThis.clearTimeout, now: Date.now };
    const timers = this.timers;
    globalThis.setTimeout = ((fn: () => void, ms?: number) => {
      const id = this.nextId++;
      timers.set(id, { at: this.now + Math.max(0, ms ?? 0), fn });
      // Bottleneck calls unref on its timers when it can; a plain object with no-ops is enough.
      return { id, unref() {}, ref() {}, hasRef: () => false, [Symbol.toPrimitive]: () => id };
    }) as unknown as typeof setTimeout;
    globalThis.clearTimeout = ((handle: unknown) => {
      const id =
        typeof handle === "object" && handle !== null ? (handle as { id: number }).id : Number(handle);
      timers.delete(id);
    }) as typeof clearTimeout;
    Date.now = () => this.now;
  }

  uninstall(): void {
    if (!this.saved) return;
    globalThis.setTimeout = this.saved.setTimeout;
    globalThis.clearTimeout = this.saved.clearTimeout;
    Date.now = this.saved.now;
    this.saved = null;
  }

  /** Lets every promise chain settle (the fake answers without I/O), using the real setImmediate. */
  async settle(): Promise<void> {
    for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** Runs the earliest timer, moving time to it; false when there is none. */
  step(): boolean {
    let first: [number, { at: number; fn: () => void }] | undefined;
    for (const entry of this.timers) if (!first || entry[1].at < first[1].at) first = entry;
    if (!first) return false;
    this.timers.delete(first[0]);
    this.now = Math.max(this.now, first[1].at);
    first[1].fn();
    return true;
  }
}

export interface BurstBench {
  issues: number;
  writes: number;
  /** Most writes GitHub saw in any 60 s window. */
  peakPerMinute: number;
  /** Most writes GitHub saw in any hour. */
  peakPerHour: number;
  rejected: number;
  routed: number;
  virtualSeconds: number;
  wallMs: number;
}

export async function benchWriteBurst(issues = 500, installations = 5): Promise<BurstBench> {
  const clock = new VirtualClock();
  const fake = fakeGitHub({ now: () => clock.now, writeLimit: 80, hourlyWriteLimit: 500 });
  // The app's Octokit as shipped (Probot's throttling and retries, Switchyard's rate-limit policy
  // and write queue), with a queue of its own so nothing else in the process shares it; only the
  // transport is fake.
  const queue = new WriteQueue();
  const Octokit = switchyardProbotOctokit(DEFAULT_RATE_LIMIT_POLICY, { writeQueue: queue }).defaults(
    (o: Record<string, unknown>) => ({ ...o, request: { fetch: fake.fetch } }),
  );
  const probot = new Probot({
    appId: APP_ID,
    privateKey: TEST_PRIVATE_KEY,
    secret: SECRET,
    Octokit,
    logLevel: "fatal",
  });
  await probot.load(switchyardApp);
  await probot.ready();
  const wall = performance.now();
  clock.install();
  const start = clock.now;
  let finished = 0;
  try {
    const all = Array.from({ length: issues }, (_, i) => {
      const body = JSON.stringify(labeledPayload(i + 1, (i % installations) + 1));
      return probot.webhooks
        .verifyAndReceive({ id: `burst-${i}`, name: "issues", payload: body, signature: sign(body) } as never)
        .finally(() => finished++);
    });
    for (;;) {
      await clock.settle();
      if (finished === issues) break;
      if (!clock.step()) {
        await clock.settle();
        if (finished === issues) break;
        throw new Error(
          `the burst stalled with ${issues - finished} deliveries unfinished and no timer pending`,
        );
      }
    }
    await Promise.all(all);
  } finally {
    clock.uninstall();
  }
  const writes = [...fake.writes].sort((a, b) => a - b);
  const peakIn = (window: number) => {
    let peak = 0;
    for (let i = 0, j = 0; i < writes.length; i++) {
      while (writes[i]! - writes[j]! >= window) j++;
      peak = Math.max(peak, i - j + 1);
    }
    return peak;
  };
  // Each routed issue ends with its state label: count those to see every route completed.
  return {
    issues,
    writes: writes.length,
    peakPerMinute: peakIn(60_000),
    peakPerHour: peakIn(3_600_000),
    rejected: fake.rejected,
    routed: fake.labels,
    virtualSeconds: (clock.now - start) / 1000,
    wallMs: performance.now() - wall,
  };
}

// --- the suite -----------------------------------------------------------------------------------

/** The requests a first route of an issue needs; see docs/benchmarks.md for why each one stays. */
export const MIN_ROUTE_REQUESTS = 12;

function single(
  name: string,
  unit: string,
  figure: number,
  target: string,
  ok: boolean,
  note?: string,
): BenchResult {
  return {
    name,
    runs: 1,
    unit,
    p50: figure,
    p99: figure,
    mean: figure,
    figure,
    target,
    ok,
    ...(note ? { note } : {}),
  };
}

export async function benchApp(): Promise<BenchResult[]> {
  const count = await countRouteRequests();
  const cpu = await benchHandlerCpu();
  const burst = await benchWriteBurst();
  const breakdown = Object.entries(count.byOperation)
    .map(([op, n]) => `${op} ${n}`)
    .join(", ");
  return [
    single(
      "GitHub API requests per routed issue",
      "requests",
      count.total,
      `<= ${MIN_ROUTE_REQUESTS}`,
      count.total <= MIN_ROUTE_REQUESTS,
      breakdown,
    ),
    {
      name: `handler CPU per delivery, Switchyard / bare Probot (${cpu.deliveries} deliveries)`,
      runs: cpu.deliveries,
      unit: "x",
      p50: cpu.ratio,
      p99: cpu.ratio,
      mean: cpu.ratio,
      figure: cpu.ratio,
      target: "<= 2x bare",
      ok: cpu.ratio <= 2,
      note:
        `${cpu.switchyardUs.toFixed(0)} µs vs ${cpu.bareUs.toFixed(0)} µs; ${cpu.requestsPerDelivery} requests each, ` +
        `which alone cost ${cpu.replayUs.toFixed(0)} µs (${(cpu.replayUs / cpu.bareUs).toFixed(1)}x bare) replayed by a bare app; ` +
        `Switchyard's own work ${(cpu.switchyardUs - cpu.replayUs).toFixed(0)} µs (${cpu.ownRatio.toFixed(1)}x bare with requests free); ` +
        `fake GitHub ${(cpu.fakeShare * 100).toFixed(1)}% of Switchyard's`,
    },
    single(
      `writes peak, burst of ${burst.issues} labelled issues`,
      "writes/min",
      burst.peakPerMinute,
      "< 80/min and < 500/h, no 403",
      burst.peakPerMinute < 80 &&
        burst.peakPerHour < 500 &&
        burst.rejected === 0 &&
        burst.routed === burst.issues,
      `${burst.peakPerHour}/h peak; ${burst.routed} routed, ${burst.writes} writes, ${burst.rejected} answered 403, ` +
        `${(burst.virtualSeconds / 3600).toFixed(1)} virtual h in ${(burst.wallMs / 1000).toFixed(1)} s`,
    ),
  ];
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const results = await benchApp();
  for (const r of results)
    console.log(`${r.name}: ${r.figure} ${r.unit} (target ${r.target}) ${r.note ?? ""}`);
}
