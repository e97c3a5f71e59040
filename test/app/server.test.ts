import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import nock from "nock";
import type { ApplicationFunction } from "probot";
import { deliveryBindings, deliveryLogger } from "../../src/app/log.js";
import {
  rateLimitDecision,
  startServer,
  switchyardProbotOctokit,
  type RunningServer,
} from "../../src/app/server.js";
import { webhookExample, withInstallation } from "../support/webhooks.js";
import { recordingLogger, signature, testAppOptions, type LogLine } from "./server-fakes.js";

const SECRET = "test-webhook-secret";

interface Received {
  id: string;
  name: string;
  label: string | undefined;
  bindings: Record<string, unknown>;
}

const received: Received[] = [];
const lines: LogLine[] = [];
const outgoing: string[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
const onNoMatch = (...args: unknown[]): void => {
  const options = (args[1] ?? args[0]) as { host?: string; hostname?: string; path?: string } | undefined;
  const host = String(options?.hostname ?? options?.host ?? "");
  if (!host.startsWith("127.0.0.1")) outgoing.push(`${host}${options?.path ?? ""}`);
};

// Stands in for src/app/index.ts: records what it is given, and fails on demand.
const testApp: ApplicationFunction = (app) => {
  app.on("issues.labeled", async (context) => {
    const log = deliveryLogger(context) as unknown as { bindings(): Record<string, unknown> };
    received.push({
      id: context.id,
      name: context.name,
      label: context.payload.label?.name,
      bindings: log.bindings(),
    });
    if (context.payload.label?.name === "explode") throw new Error("handler blew up");
  });
};

let server: RunningServer;

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect("127.0.0.1");
  nock.emitter.on("no match", onNoMatch);
  process.on("unhandledRejection", onUnhandled);
  server = await startServer({
    appFn: testApp,
    options: testAppOptions({ webhookSecret: SECRET }),
    version: "9.8.7",
    log: recordingLogger(lines),
    Octokit: switchyardProbotOctokit(undefined, { retries: 0, retryAfterBaseValue: 0 }),
  });
});

afterAll(async () => {
  await server.close();
  nock.emitter.removeListener("no match", onNoMatch);
  process.removeListener("unhandledRejection", onUnhandled);
  nock.cleanAll();
  nock.enableNetConnect();
});

function labeledPayload(label: string): string {
  const payload = withInstallation(webhookExample("issues", "labeled"));
  payload.label = { ...payload.label!, name: label };
  return JSON.stringify(payload);
}

function deliver(body: string, id: string, sig = signature(SECRET, body)): Promise<Response> {
  return fetch(`${server.url}/api/github/webhooks`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": "issues",
      "x-github-delivery": id,
      "x-hub-signature-256": sig,
    },
    body,
  });
}

describe("the app server", () => {
  it("hands a correctly signed delivery to the app function and answers 200", async () => {
    const body = labeledPayload("switchyard");
    const example = JSON.parse(body) as { repository: { full_name: string }; issue: { number: number } };
    const res = await deliver(body, "delivery-ok");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("ok\n");
    const got = received.find((r) => r.id === "delivery-ok");
    expect(got).toMatchObject({ name: "issues", label: "switchyard" });
    // Probot binds the delivery as `id`; deliveryLogger adds event, repository and task key.
    expect(got?.bindings).toMatchObject({
      id: "delivery-ok",
      delivery: "delivery-ok",
      event: "issues.labeled",
      repository: example.repository.full_name,
      task: `${example.repository.full_name}#${example.issue.number}`,
    });
    expect(outgoing).toEqual([]);
  });

  it("refuses a delivery with a bad signature before the app sees it, calling no API", async () => {
    const body = labeledPayload("switchyard");
    const res = await deliver(body, "delivery-forged", signature("not-the-secret", body));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/signature does not match/);
    expect(received.map((r) => r.id)).not.toContain("delivery-forged");
    expect(outgoing).toEqual([]);
  });

  it("refuses a delivery with no signature", async () => {
    const body = labeledPayload("switchyard");
    const res = await fetch(`${server.url}/api/github/webhooks`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-github-event": "issues",
        "x-github-delivery": "d-nosig",
      },
      body,
    });
    expect(res.status).toBe(400);
    expect(received.map((r) => r.id)).not.toContain("d-nosig");
  });

  it("logs a failing handler with delivery, repository and task, answers 500 and keeps serving", async () => {
    const body = labeledPayload("explode");
    const example = JSON.parse(body) as { repository: { full_name: string }; issue: { number: number } };
    const res = await deliver(body, "delivery-boom");
    expect(res.status).toBe(500);
    const failure = lines.find((l) => l.msg === "webhook handler failed");
    expect(failure?.level).toBe("error");
    expect(failure?.fields).toMatchObject({
      delivery: "delivery-boom",
      event: "issues.labeled",
      repository: example.repository.full_name,
      task: `${example.repository.full_name}#${example.issue.number}`,
    });
    expect((failure?.fields.err as Error).message).toBe("handler blew up");

    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    const next = await deliver(labeledPayload("switchyard"), "delivery-after-boom");
    expect(next.status).toBe(200);
    expect(received.map((r) => r.id)).toContain("delivery-after-boom");
    await new Promise((resolve) => setImmediate(resolve));
    expect(unhandled).toEqual([]);
  });

  it("answers the health check with status, version, Probot's version and the app id", async () => {
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toEqual({
      status: "ok",
      app_id: 4242,
      version: "9.8.7",
      probot: expect.stringMatching(/^14\./),
    });
  });

  it("answers 404 for other paths and a GET on the webhook path", async () => {
    expect((await fetch(`${server.url}/`)).status).toBe(404);
    expect((await fetch(`${server.url}/api/github/webhooks`)).status).toBe(404);
  });
});

describe("startServer shutdown", () => {
  it("stops listening on close(), and a second close() is the same promise", async () => {
    const s = await startServer({
      appFn: () => {},
      options: testAppOptions(),
      version: "1.0.0",
      log: recordingLogger(),
    });
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    const first = s.close();
    expect(s.close()).toBe(first);
    await first;
    await expect(fetch(`${s.url}/healthz`)).rejects.toThrow();
  });
});

describe("deliveryBindings", () => {
  it("names the event without an action and omits repository and task when the payload has none", () => {
    expect(deliveryBindings({ id: "d1", name: "ping", payload: { zen: "hi" } })).toEqual({
      delivery: "d1",
      event: "ping",
    });
  });

  it("takes the task number from a pull request", () => {
    const payload = { action: "opened", repository: { full_name: "o/r" }, pull_request: { number: 7 } };
    expect(deliveryBindings({ id: "d2", name: "pull_request", payload })).toEqual({
      delivery: "d2",
      event: "pull_request.opened",
      repository: "o/r",
      task: "o/r#7",
    });
  });

  it("lets the caller add fields to the child logger", () => {
    const lines: LogLine[] = [];
    const context = { id: "d3", name: "issues", payload: { action: "labeled" }, log: recordingLogger(lines) };
    deliveryLogger(context, { task: "o/r#1", tool: "aider" }).info("routed");
    expect(lines).toEqual([
      {
        level: "info",
        bindings: { delivery: "d3", event: "issues.labeled", task: "o/r#1", tool: "aider" },
        fields: {},
        msg: "routed",
      },
    ]);
  });
});

describe("switchyardProbotOctokit", () => {
  const api = "https://ghe.example.com/api/v3";
  const limited = {
    message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
  };

  function client(log: LogLine[]) {
    const Octokit = switchyardProbotOctokit(
      { retries: 2, maxWaitSeconds: 60 },
      { retries: 0, retryAfterBaseValue: 0 },
    );
    return new Octokit({ auth: { token: "installation-token" }, baseUrl: api, log: recordingLogger(log) });
  }

  it("waits out a secondary rate limit and retries, which Probot's default does not", async () => {
    const log: LogLine[] = [];
    const scope = nock(api)
      .get("/repos/o/r")
      .reply(403, limited, { "retry-after": "1" })
      .get("/repos/o/r")
      .reply(200, { full_name: "o/r" });
    const res = await client(log).request("GET /repos/{owner}/{repo}", { owner: "o", repo: "r" });
    expect(res.data).toEqual({ full_name: "o/r" });
    expect(scope.isDone()).toBe(true);
    expect(log.filter((l) => l.level === "warn").map((l) => l.msg)).toContain(
      "GitHub's secondary rate limit was hit by GET /repos/{owner}/{repo}; retrying in 1s (1 of 2)",
    );
  });

  it("gives up after the bounded number of retries", async () => {
    const log: LogLine[] = [];
    const scope = nock(api).get("/repos/o/r").times(3).reply(403, limited, { "retry-after": "1" });
    await expect(
      client(log).request("GET /repos/{owner}/{repo}", { owner: "o", repo: "r" }),
    ).rejects.toMatchObject({
      status: 403,
    });
    expect(scope.isDone()).toBe(true);
    expect(log.map((l) => l.msg)).toContain(
      "GitHub's secondary rate limit was hit by GET /repos/{owner}/{repo}; giving up (after 2 retries)",
    );
  });

  it("is seen by the outgoing-request check the webhook tests rely on", async () => {
    const before = outgoing.length;
    await expect(client([]).request("GET /rate_limit")).rejects.toThrow();
    expect(outgoing.slice(before)).toEqual(["ghe.example.com/api/v3/rate_limit"]);
    outgoing.splice(before);
  });
});

describe("rateLimitDecision", () => {
  const request = { method: "POST", url: "/repos/{owner}/{repo}/check-runs" };
  it("refuses a wait longer than the policy allows even on the first hit", () => {
    expect(rateLimitDecision("primary", 3600, request, 0, { retries: 2, maxWaitSeconds: 300 })).toEqual({
      retry: false,
      message:
        "GitHub's primary rate limit was hit by POST /repos/{owner}/{repo}/check-runs; giving up (the wait of 3600s is longer than 300s)",
    });
  });
});
