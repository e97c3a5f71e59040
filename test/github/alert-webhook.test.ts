import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { planAlerts } from "../../src/core/analysis/alerts.js";
import { InputError } from "../../src/core/errors.js";
import type { Metrics } from "../../src/core/metrics/schema.js";
import type { AppliedAlert } from "../../src/github/alert-issues.js";
import {
  ALERT_WEBHOOK_SCHEMA,
  alertWebhookPayloads,
  checkWebhookUrl,
  postAlertWebhook,
  redactWebhookUrl,
  type AlertWebhookPayload,
} from "../../src/github/alert-webhook.js";

/** A real HTTP server on a free local port: each request takes the next planned answer. */
interface Received {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
}
let server: Server;
let base: string;
let received: Received[];
let answers: ((res: ServerResponse) => void)[];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      received.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body });
      const answer = answers.shift();
      if (answer) answer(res);
      // No planned answer: never reply (the timeout test).
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(() => {
  received = [];
  answers = [];
});

const SECRET_PATH = "/services/T000/B000/XXXXsecretXXXX";
const status =
  (code: number, headers: Record<string, string> = {}) =>
  (res: ServerResponse) => {
    res.writeHead(code, headers);
    res.end("ok");
  };

const payload: AlertWebhookPayload = {
  schema: ALERT_WEBHOOK_SCHEMA,
  text: "[acme/widgets] Switchyard alert opened: 4 quarantines in the last 7 days, more than 3",
  event: "opened",
  kind: "quarantines",
  repository: "acme/widgets",
  title: "Switchyard alert: too many quarantines",
  headline: "4 quarantines in the last 7 days, more than 3",
  reason: null,
  issue: { number: 12, url: "https://github.com/acme/widgets/issues/12" },
  values: { threshold: 3, quarantines: 4 },
  window: { from: "2026-02-22T12:00:00.000Z", to: "2026-03-01T12:00:00.000Z" },
  run_url: null,
  dashboard_url: null,
  at: "2026-03-01T12:00:00.000Z",
};

function recorder() {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) };
}

describe("postAlertWebhook, against a local HTTP server", () => {
  it("POSTs the payload as JSON once when the hook answers 200", async () => {
    answers.push(status(200));
    const result = await postAlertWebhook(base + SECRET_PATH, payload);
    expect(result).toEqual({ delivered: true, attempts: 1, status: 200, error: null });
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ method: "POST", path: SECRET_PATH });
    expect(received[0]!.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(received[0]!.body)).toEqual(payload);
  });

  it("retries a 5xx with a doubling wait, then delivers", async () => {
    answers.push(status(502), status(503), status(204));
    const r = recorder();
    const result = await postAlertWebhook(base + SECRET_PATH, payload, { sleep: r.sleep, backoffMs: 100 });
    expect(result).toEqual({ delivered: true, attempts: 3, status: 204, error: null });
    expect(r.waits).toEqual([100, 200]);
    expect(received).toHaveLength(3);
  });

  it("waits what a 429 asks, within its bound, and gives up after the retries", async () => {
    answers.push(status(429, { "retry-after": "2" }), status(500), status(500));
    const r = recorder();
    const result = await postAlertWebhook(base + SECRET_PATH, payload, { sleep: r.sleep, backoffMs: 100 });
    expect(result).toEqual({
      delivered: false,
      attempts: 3,
      status: 500,
      error: "the webhook answered 500 (after 3 attempts)",
    });
    expect(r.waits).toEqual([2000, 200]);
  });

  it("does not retry a 404 and says what to check, without the URL", async () => {
    answers.push(status(404));
    const result = await postAlertWebhook(base + SECRET_PATH, payload, { sleep: recorder().sleep });
    expect(result).toEqual({
      delivered: false,
      attempts: 1,
      status: 404,
      error: "the webhook answered 404; check the URL in the secret and that the hook still exists",
    });
  });

  it("does not follow a redirect", async () => {
    answers.push(status(302, { location: "http://127.0.0.1:1/elsewhere" }));
    const result = await postAlertWebhook(base + SECRET_PATH, payload);
    expect(result.delivered).toBe(false);
    expect(result.status).toBe(302);
    expect(received).toHaveLength(1);
  });

  it("times out each attempt and stops after the bounded retries", async () => {
    const r = recorder();
    const result = await postAlertWebhook(base + SECRET_PATH, payload, {
      timeoutMs: 100,
      retries: 1,
      sleep: r.sleep,
    });
    expect(result).toEqual({
      delivered: false,
      attempts: 2,
      status: null,
      error: "the webhook could not be reached: no answer before the timeout (after 2 attempts)",
    });
    expect(received).toHaveLength(2);
  });

  it("keeps the URL, its host and its path out of the error when the host cannot be reached", async () => {
    // A port nothing listens on: bind one, then close it.
    const spare = createServer();
    await new Promise<void>((resolve) => spare.listen(0, "127.0.0.1", resolve));
    const port = (spare.address() as AddressInfo).port;
    await new Promise<void>((resolve) => spare.close(() => resolve()));
    const url = `http://127.0.0.1:${port}${SECRET_PATH}`;
    const result = await postAlertWebhook(url, payload, { retries: 0 });
    expect(result.delivered).toBe(false);
    expect(result.error).toMatch(/^the webhook could not be reached: /);
    expect(result.error).not.toContain(String(port));
    expect(result.error).not.toContain("XXXXsecretXXXX");
    expect(result.error).not.toContain("/services/");
  });
});

describe("the webhook URL", () => {
  it.each([
    [
      "not a URL",
      "hooks.example.com/x",
      "the alert webhook URL is not a URL; check the secret that holds it",
    ],
    [
      "plain http to another host",
      "http://hooks.example.com/secret-token",
      "the alert webhook URL must use https (plain http only to localhost); check the secret that holds it",
    ],
    [
      "credentials",
      "https://u:p@hooks.example.com/x",
      "the alert webhook URL must not hold a user name or password",
    ],
  ])("refuses %s without repeating it", (_name, url, message) => {
    expect(() => checkWebhookUrl(url)).toThrow(new InputError(message));
  });

  it("accepts https and loopback http", () => {
    expect(checkWebhookUrl("https://hooks.slack.com/services/T/B/x").host).toBe("hooks.slack.com");
    expect(checkWebhookUrl("http://localhost:8080/hook").port).toBe("8080");
  });

  it("is redacted from text in every form it may take", () => {
    const url = "https://hooks.slack.com/services/T0001/B0002/abcdefghijkl?token=zzzzzzzz";
    const text =
      `failed ${url}; path /services/T0001/B0002/abcdefghijkl; token zzzzzzzz; ` +
      `host hooks.slack.com; encoded ${encodeURIComponent(url)}`;
    const out = redactWebhookUrl(text, url);
    for (const secret of ["hooks.slack.com", "abcdefghijkl", "zzzzzzzz", "T0001"])
      expect(out).not.toContain(secret);
    expect(out).toContain("failed [webhook URL];");
  });
});

describe("alertWebhookPayloads", () => {
  it("turns what was done into payloads, and leaves out what was left alone", () => {
    const metrics: Metrics = {
      schema_version: 1,
      repository: "acme/widgets",
      generated_at: "2026-03-01T12:00:00.000Z",
      window: { from: "2026-02-22T12:00:00.000Z", to: "2026-03-01T12:00:00.000Z" },
      tools: [],
      recovery: [],
      recovery_summary: {
        steps: 9,
        greens: 2,
        steps_to_green_mean: 1,
        steps_to_green_max: 1,
        quarantines: 4,
        flaky: 0,
      },
      workflows: [],
      flaky_tests: [],
      signatures: [],
      gaps: [],
    };
    const plan = planAlerts({
      metrics,
      thresholds: {
        tool_success_below: 0.5,
        min_attempts: 5,
        quarantines_above: 3,
        flaky_rate_above: 0.1,
        heartbeat_days: 7,
        remind_days: 7,
      },
      now: "2026-03-01T12:00:00.000Z",
      open: [],
    });
    const applied: AppliedAlert[] = plan.actions.map((action) =>
      action.type === "open"
        ? {
            kind: action.kind,
            type: "opened",
            number: 12,
            url: "https://github.com/acme/widgets/issues/12",
            action,
          }
        : { kind: action.kind, type: "none", number: null, url: null, action },
    );
    expect(
      alertWebhookPayloads(applied, {
        repository: "acme/widgets",
        window: metrics.window,
        now: "2026-03-01T12:00:00.000Z",
        runUrl: "https://github.com/acme/widgets/actions/runs/9",
      }),
    ).toEqual([
      {
        ...payload,
        run_url: "https://github.com/acme/widgets/actions/runs/9",
        text: `${payload.text} (https://github.com/acme/widgets/issues/12)`,
      },
    ]);
  });
});
