import {
  createServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import {
  createNodeMiddleware,
  Probot,
  ProbotOctokit,
  type ApplicationFunction,
  type Logger,
  type Options as ProbotOptions,
} from "probot";
import { WriteQueue, writeQueue } from "../github/write-queue.js";
import type { AppOptions } from "./env.js";
import { deliveryBindings } from "./log.js";

/**
 * The app's HTTP server: Probot's webhook middleware (which verifies x-hub-signature-256 before
 * any handler runs), a health endpoint, and a shutdown that lets in-flight deliveries finish.
 * Node's http server rather than Probot's `Server`, so that the routes are exactly these two and
 * no setup pages or static files are served from a production app.
 */

export const HEALTH_PATH = "/healthz";

export interface RateLimitPolicy {
  /** Rate-limit answers to wait out per request before giving up. */
  retries: number;
  /** The longest wait worth making, in seconds; a longer one fails the request at once. */
  maxWaitSeconds: number;
}

export const DEFAULT_RATE_LIMIT_POLICY: RateLimitPolicy = { retries: 2, maxWaitSeconds: 300 };

interface LimitedRequest {
  method: string;
  url: string;
}

/**
 * Whether to retry after a rate-limit answer, and the warning to log either way. Probot's own
 * default gives up on every secondary limit (it only logs), so a burst of writes - a status
 * comment, labels and a check run for several issues at once - would fail; GitHub asks
 * integrations to wait `retry-after` and try again, which this does a bounded number of times.
 */
export function rateLimitDecision(
  kind: "primary" | "secondary",
  retryAfter: number,
  request: LimitedRequest,
  retryCount: number,
  policy: RateLimitPolicy = DEFAULT_RATE_LIMIT_POLICY,
): { retry: boolean; message: string } {
  const what = `${request.method} ${request.url}`;
  if (retryCount < policy.retries && retryAfter <= policy.maxWaitSeconds) {
    return {
      retry: true,
      message: `GitHub's ${kind} rate limit was hit by ${what}; retrying in ${retryAfter}s (${retryCount + 1} of ${policy.retries})`,
    };
  }
  const why =
    retryAfter > policy.maxWaitSeconds
      ? `the wait of ${retryAfter}s is longer than ${policy.maxWaitSeconds}s`
      : `after ${policy.retries} retries`;
  return { retry: false, message: `GitHub's ${kind} rate limit was hit by ${what}; giving up (${why})` };
}

/**
 * ProbotOctokit (throttling, 5xx retry, pagination, enterprise compatibility) with a bounded,
 * secondary-limit-aware rate-limit policy, and the process-wide write queue (github/write-queue.ts)
 * that keeps content-creating requests under GitHub's per-minute and per-hour limits whatever the
 * installation. `throttle`/`retry`/`writeQueue` overrides are for tests.
 */
export function switchyardProbotOctokit(
  policy: RateLimitPolicy = DEFAULT_RATE_LIMIT_POLICY,
  overrides: { retryAfterBaseValue?: number; retries?: number; writeQueue?: WriteQueue | false } = {},
): typeof ProbotOctokit {
  const handler =
    (kind: "primary" | "secondary") =>
    (
      retryAfter: number,
      request: LimitedRequest,
      octokit: { log: { warn(m: string): void } },
      retryCount: number,
    ) => {
      const decision = rateLimitDecision(kind, retryAfter, request, retryCount, policy);
      octokit.log.warn(decision.message);
      return decision.retry;
    };
  // The function form runs after Probot's own defaults (which give up on secondary limits), so
  // these handlers are the ones the throttling plugin calls.
  const Client = ProbotOctokit.defaults((options: Record<string, unknown>) => {
    const throttle = (options.throttle ?? {}) as Record<string, unknown>;
    const retry = (options.retry ?? {}) as Record<string, unknown>;
    return {
      ...options,
      ...(overrides.writeQueue === undefined ? {} : { writeQueue: overrides.writeQueue }),
      throttle: {
        ...throttle,
        enabled: true,
        onRateLimit: handler("primary"),
        onSecondaryRateLimit: handler("secondary"),
        ...(overrides.retryAfterBaseValue === undefined
          ? {}
          : { retryAfterBaseValue: overrides.retryAfterBaseValue }),
      },
      retry: {
        ...retry,
        enabled: overrides.retries !== 0,
        ...(overrides.retries === undefined ? {} : { retries: overrides.retries }),
        ...(overrides.retryAfterBaseValue === undefined
          ? {}
          : { retryAfterBaseValue: overrides.retryAfterBaseValue }),
      },
    };
  });
  // Plugged in after Probot's throttling plugin, so a write waits in the queue before it takes
  // one of throttling's slots (shared with reads).
  return Client.plugin(writeQueue) as unknown as typeof ProbotOctokit;
}

export interface StartServerOptions {
  /** The Probot app function (src/app/index.ts in production, a recording stub in tests). */
  appFn: ApplicationFunction;
  options: AppOptions;
  /** Overrides options.port; 0 picks a free port. */
  port?: number;
  /** Overrides options.host. */
  host?: string;
  /** Reported by the health endpoint. */
  version: string;
  /** A pino logger to log to instead of Probot's own (tests). */
  log?: Logger;
  /** The Octokit class installation clients are made from; default switchyardProbotOctokit(). */
  Octokit?: typeof ProbotOctokit;
  /** How long close() waits for in-flight deliveries before cutting connections. Default 10 s. */
  shutdownTimeoutMs?: number;
}

export interface RunningServer {
  /** http://host:port of the listening server. */
  url: string;
  port: number;
  probot: Probot;
  log: Logger;
  /** Stops accepting requests, lets in-flight ones finish (up to the timeout), then resolves. */
  close(): Promise<void>;
}

export async function startServer(o: StartServerOptions): Promise<RunningServer> {
  const { options } = o;
  const probot = new Probot({
    appId: options.appId,
    privateKey: options.privateKey,
    secret: options.webhookSecret,
    baseUrl: options.baseUrl,
    webhookPath: options.webhookPath,
    // Probot's type omits "silent", which pino (its logger) accepts.
    logLevel: options.logLevel as ProbotOptions["logLevel"],
    logFormat: options.logFormat,
    Octokit: o.Octokit ?? switchyardProbotOctokit(undefined, { writeQueue: new WriteQueue(options.writes) }),
    ...(o.log ? { log: o.log } : {}),
  });
  await probot.ready();
  const log = probot.log.child({ name: "server" });

  const middleware = await createNodeMiddleware(withErrorLogging(o.appFn, log), {
    probot,
    webhooksPath: options.webhookPath,
  });

  let stopping = false;
  const health = { app_id: options.appId, version: o.version, probot: Probot.version };
  const server: HttpServer = createServer((req, res) => {
    if (isHealthCheck(req)) {
      sendJson(res, stopping ? 503 : 200, { status: stopping ? "stopping" : "ok", ...health });
      return;
    }
    // The middleware answers its own errors (400 bad signature, 500 handler failure); this
    // catch is for a fault in the middleware itself, which must not become an unhandled rejection.
    Promise.resolve(
      middleware(req, res, () => sendJson(res, 404, { error: `not found: ${req.method} ${pathOf(req)}` })),
    ).catch((error: unknown) => {
      log.error({ err: error }, "request failed");
      if (!res.headersSent) sendJson(res, 500, { error: "internal error" });
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EADDRINUSE") {
        error.message = `port ${o.port ?? options.port} is in use; set PORT to a free port`;
      }
      reject(error);
    });
    server.listen({ port: o.port ?? options.port, host: o.host ?? options.host }, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${shownHost}:${address.port}`;
  log.info(
    {
      port: address.port,
      webhook_path: options.webhookPath,
      base_url: options.baseUrl,
      app_id: options.appId,
    },
    `listening on ${url}`,
  );

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve, reject) => {
      stopping = true;
      log.info("shutting down: waiting for in-flight deliveries");
      const timer = setTimeout(() => {
        log.warn("shutdown timeout reached; closing the remaining connections");
        server.closeAllConnections();
      }, o.shutdownTimeoutMs ?? 10_000);
      timer.unref();
      server.close((error) => {
        clearTimeout(timer);
        if (error) reject(error);
        else resolve();
      });
      // Keep-alive connections with no request in flight would otherwise hold close() open.
      server.closeIdleConnections();
    });
    return closing;
  };

  return { url, port: address.port, probot, log, close };
}

/**
 * The app function with one more error listener: Probot already turns a handler's rejection
 * into a 500 answer and an error log line with the delivery id; this adds the repository and
 * task key to that line, so a failure can be found from the issue it was about.
 */
export function withErrorLogging(appFn: ApplicationFunction, log: Logger): ApplicationFunction {
  return async (app, options) => {
    app.onError((error) => {
      const event = (error as { event?: { id?: unknown; name?: unknown; payload?: unknown } }).event;
      // A bad signature is refused before any handler runs; Probot logs it with advice already.
      if (!event || typeof event.payload !== "object" || event.payload === null) return;
      const bindings = deliveryBindings({
        id: String(event.id),
        name: String(event.name),
        payload: event.payload,
      });
      for (const err of error.errors) log.error({ ...bindings, err }, "webhook handler failed");
    });
    await appFn(app, options);
  };
}

function pathOf(req: IncomingMessage): string {
  return (req.url ?? "/").split("?")[0] ?? "/";
}

function isHealthCheck(req: IncomingMessage): boolean {
  return (req.method === "GET" || req.method === "HEAD") && pathOf(req) === HEALTH_PATH;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
