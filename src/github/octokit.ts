import { retry } from "@octokit/plugin-retry";
import { throttling } from "@octokit/plugin-throttling";
import { Octokit } from "@octokit/rest";
import { z } from "zod";
import { ConfigError, InputError } from "../core/errors.js";
import { WriteQueue, writeQueue } from "./write-queue.js";

/**
 * The one Octokit factory. Every client Switchyard builds (the Action's, the CLI's, the app's
 * installation clients when they are not Probot's own) comes from here, so they all retry
 * server errors, respect GitHub's rate limits and talk to the same base URL.
 *
 * Throttling follows GitHub's guidance for integrations: writes are sent one at a time, at most
 * one a second (the plugin's write limiter), and a rate-limit answer is waited out and retried a
 * bounded number of times, never forever. Server errors (5xx) are retried with a growing pause.
 * Content-creating requests also wait in the process-wide write queue (write-queue.ts), which
 * keeps them under GitHub's per-minute and per-hour content limits.
 */

export const DEFAULT_API_URL = "https://api.github.com";

// writeQueue after throttling: a write waits in the queue before it takes a throttling slot.
export const SwitchyardOctokit = Octokit.plugin(throttling, retry, writeQueue);
export type SwitchyardOctokitClient = InstanceType<typeof SwitchyardOctokit>;

/**
 * What the GitHub port needs of a client: `request` only. Probot's context.octokit and
 * @actions/github's getOctokit() fit as well as createOctokit()'s clients.
 */
export type GitHubClient = Pick<Octokit, "request">;

export interface OctokitLogger {
  debug(message: string, ...rest: unknown[]): void;
  info(message: string, ...rest: unknown[]): void;
  warn(message: string, ...rest: unknown[]): void;
  error(message: string, ...rest: unknown[]): void;
}

export type Env = Record<string, string | undefined>;

export interface CreateOctokitOptions {
  /** A token (installation token, GITHUB_TOKEN, PAT). Omitted = unauthenticated. */
  auth?: string;
  /** API base URL; wins over `env`. */
  baseUrl?: string;
  /** Where to read GITHUB_API_URL / GHE_HOST / GHE_PROTOCOL when `baseUrl` is not given. */
  env?: Env;
  /** The fetch to send requests with; defaults to globalThis.fetch at the time of each request. */
  fetch?: typeof fetch;
  userAgent?: string;
  /** Retries of a request that failed with a server error; 0 turns retrying off. Default 3. */
  retries?: number;
  /** Turns the throttling plugin (write spacing, rate-limit waits) on or off. Default on. */
  throttle?: boolean;
  /**
   * The write queue content-creating requests wait in: default the process-wide one when
   * throttling is on, none when it is off; `false` for none.
   */
  writeQueue?: WriteQueue | false;
  /** Rate-limit answers to wait out per request before giving up. Default 2. */
  rateLimitRetries?: number;
  /** The longest rate-limit wait worth making, in seconds; longer ones fail at once. Default 300. */
  maxRateLimitWaitSeconds?: number;
  /**
   * Milliseconds per unit of the waits both plugins compute (a `retry-after` of N seconds waits
   * N × this; the k-th server-error retry waits k² × this). Default 1000; tests pass 0.
   */
  retryAfterBaseMs?: number;
  log?: OctokitLogger;
}

const LoggerSchema = z.custom<OctokitLogger>(
  (v) =>
    typeof v === "object" &&
    v !== null &&
    ["debug", "info", "warn", "error"].every((k) => typeof (v as Record<string, unknown>)[k] === "function"),
  "a logger with debug, info, warn and error functions",
);

const OptionsSchema = z.strictObject({
  auth: z.string().min(1).optional(),
  baseUrl: z.string().optional(),
  // process.env is an exotic object that z.record refuses; only its string values are read.
  env: z.custom<Env>((v) => typeof v === "object" && v !== null, "an environment object").optional(),
  fetch: z.custom<typeof fetch>((v) => typeof v === "function", "a fetch function").optional(),
  userAgent: z.string().min(1).optional(),
  retries: z.number().int().min(0).max(10).optional(),
  throttle: z.boolean().optional(),
  writeQueue: z.union([z.instanceof(WriteQueue), z.literal(false)]).optional(),
  rateLimitRetries: z.number().int().min(0).max(10).optional(),
  maxRateLimitWaitSeconds: z.number().min(0).optional(),
  retryAfterBaseMs: z.number().min(0).optional(),
  log: LoggerSchema.optional(),
});

const silent: OctokitLogger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/**
 * The API base URL from the environment, as the ecosystem spells it: `GITHUB_API_URL` (set on
 * every Actions runner, GitHub Enterprise Server included), else Probot's `GHE_HOST` with
 * `GHE_PROTOCOL` (default https) as `<protocol>://<host>/api/v3`, else api.github.com.
 */
export function apiBaseUrlFromEnv(env: Env): string {
  const apiUrl = env.GITHUB_API_URL?.trim();
  if (apiUrl) return checkedBaseUrl(apiUrl, "GITHUB_API_URL");

  const host = env.GHE_HOST?.trim();
  if (!host) return DEFAULT_API_URL;
  const protocol = (env.GHE_PROTOCOL?.trim() || "https").toLowerCase();
  if (protocol !== "https" && protocol !== "http") {
    throw envProblem("GHE_PROTOCOL", `"${env.GHE_PROTOCOL}" is not a protocol GitHub is served over`, [
      'use "https" (the default) or "http"',
    ]);
  }
  if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(host)) {
    throw envProblem("GHE_HOST", `"${host}" is not a host name`, [
      "give the bare host, e.g. GHE_HOST=github.example.com, without a protocol or path " +
        "(the protocol goes in GHE_PROTOCOL)",
    ]);
  }
  return `${protocol}://${host}/api/v3`;
}

function checkedBaseUrl(value: string, source: string): string {
  const problem = baseUrlProblem(value);
  if (problem !== null) throw envProblem(source, problem, ["e.g. https://api.github.com"]);
  return value.replace(/\/+$/, "");
}

function baseUrlProblem(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `"${value}" is not an absolute URL`;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return `"${value}" is not an http(s) URL`;
  if (url.search || url.hash) return `"${value}" has a query or fragment; give the API root only`;
  return null;
}

function envProblem(variable: string, message: string, [hint]: string[]): ConfigError {
  return new ConfigError([{ file: "environment", path: variable, message, hint }]);
}

export function createOctokit(options: CreateOctokitOptions = {}): SwitchyardOctokitClient {
  const parsed = OptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(`invalid Octokit options: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  const o = parsed.data;
  const problem = o.baseUrl === undefined ? null : baseUrlProblem(o.baseUrl);
  if (problem !== null) throw new InputError(`invalid Octokit options: baseUrl: ${problem}`);
  const baseUrl =
    o.baseUrl !== undefined
      ? o.baseUrl.replace(/\/+$/, "")
      : o.env !== undefined
        ? apiBaseUrlFromEnv(o.env)
        : DEFAULT_API_URL;
  // By default only warnings (rate-limit waits) are shown: Octokit's request log reports every
  // non-2xx answer as an error, including the 404s Switchyard asks for on purpose ("is there a
  // branch yet?"), and real failures reach the caller as exceptions anyway.
  const log = o.log ?? { ...silent, warn: console.error };
  const retries = o.retries ?? 3;
  const rateLimitRetries = o.rateLimitRetries ?? 2;
  const maxWait = o.maxRateLimitWaitSeconds ?? 300;
  const retryAfterBaseValue = o.retryAfterBaseMs ?? 1000;

  // One handler for both kinds of limit: the primary one (quota used up until a reset time) and
  // the secondary one (too many requests too fast, answered with retry-after).
  const onLimit =
    (kind: string) =>
    (retryAfter: number, request: { method: string; url: string }, _octokit: unknown, retryCount: number) => {
      const what = `${request.method} ${request.url}`;
      if (retryCount < rateLimitRetries && retryAfter <= maxWait) {
        log.warn(
          `GitHub's ${kind} rate limit was hit by ${what}; retrying in ${retryAfter}s ` +
            `(${retryCount + 1} of ${rateLimitRetries})`,
        );
        return true;
      }
      log.warn(
        `GitHub's ${kind} rate limit was hit by ${what}; giving up ` +
          (retryAfter > maxWait
            ? `(the wait of ${retryAfter}s is longer than ${maxWait}s)`
            : `after ${rateLimitRetries} retries`),
      );
      return false;
    };

  return new SwitchyardOctokit({
    auth: o.auth,
    baseUrl,
    userAgent: o.userAgent ?? "switchyard",
    log,
    // Without a fetch of its own, Octokit looks up globalThis.fetch per request (so nock sees it).
    request: o.fetch ? { fetch: o.fetch } : {},
    retry: { enabled: retries > 0, retries, retryAfterBaseValue },
    // Tests turn throttling off to send writes without spacing; the queue goes with it.
    writeQueue: o.writeQueue ?? (o.throttle === false ? false : undefined),
    throttle:
      o.throttle === false
        ? { enabled: false }
        : {
            enabled: true,
            retryAfterBaseValue,
            onRateLimit: onLimit("primary"),
            onSecondaryRateLimit: onLimit("secondary"),
          },
  });
}
