import { createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { z } from "zod";
import { apiBaseUrlFromEnv } from "../github/octokit.js";
import { DEFAULT_WRITE_LIMITS } from "../github/write-queue.js";
import { ConfigError } from "../core/errors.js";

/**
 * The app's settings, read from Probot's usual environment variables so that an operator who
 * has run a Probot app before needs nothing new. Unlike Probot, nothing has a silent fallback:
 * Probot accepts a missing WEBHOOK_SECRET as "development", which would let anyone who knows
 * that default forge deliveries.
 */

export const DEFAULT_PORT = 3000;
export const DEFAULT_WEBHOOK_PATH = "/api/github/webhooks";

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface AppOptions {
  appId: number;
  /** PEM text of the app's private key. Never logged. */
  privateKey: string;
  /** Never logged. */
  webhookSecret: string;
  port: number;
  /** Interface to listen on; undefined = all interfaces (what a container needs). */
  host: string | undefined;
  webhookPath: string;
  logLevel: LogLevel;
  logFormat: "json" | "pretty";
  /** The REST API root: https://api.github.com, or <GHE_PROTOCOL>://<GHE_HOST>/api/v3. */
  baseUrl: string;
  /**
   * This process's share of GitHub's documented content-creation limits (80 a minute, 500 an
   * hour). GitHub counts the app's requests, whichever replica sends them: with N replicas, give
   * each about 1/N.
   */
  writes: { perMinute: number; perHour: number };
}

export type AppEnvResult =
  | { ok: true; options: AppOptions }
  | {
      ok: false;
      /** Required variables that are not set, in the order the docs list them. */
      missing: string[];
      /** Variables that are set but unusable, one sentence each, never quoting a secret. */
      problems: string[];
    };

export type Env = Record<string, string | undefined>;

export interface ReadAppEnvDeps {
  /** Reads PRIVATE_KEY_PATH; injected so tests need no files. */
  readFile?: (path: string) => string;
}

// Only strings are read: process.env is an exotic object, so pick the keys before parsing.
const EnvSchema = z.object({
  APP_ID: z.string().trim().optional(),
  PRIVATE_KEY: z.string().optional(),
  PRIVATE_KEY_PATH: z.string().trim().optional(),
  WEBHOOK_SECRET: z.string().optional(),
  PORT: z.string().trim().optional(),
  HOST: z.string().trim().optional(),
  LOG_LEVEL: z.string().trim().optional(),
  LOG_FORMAT: z.string().trim().optional(),
  WEBHOOK_PATH: z.string().trim().optional(),
  GHE_HOST: z.string().optional(),
  GHE_PROTOCOL: z.string().optional(),
  WRITES_PER_MINUTE: z.string().trim().optional(),
  WRITES_PER_HOUR: z.string().trim().optional(),
});

const KEYS = Object.keys(EnvSchema.shape) as (keyof z.infer<typeof EnvSchema>)[];

const nonEmpty = (v: string | undefined): v is string => v !== undefined && v.trim() !== "";

/**
 * Reads and checks the app's environment. Pure apart from reading the PRIVATE_KEY_PATH file
 * through `deps.readFile`; it never throws for a bad environment, so the caller can print every
 * problem at once.
 */
export function readAppEnv(env: Env, deps: ReadAppEnvDeps = {}): AppEnvResult {
  const picked: Record<string, string | undefined> = {};
  for (const key of KEYS) {
    const value = env[key];
    if (typeof value === "string") picked[key] = value;
  }
  const e = EnvSchema.parse(picked);
  const readFile = deps.readFile ?? ((path: string) => readFileSync(path, "utf8"));
  const missing: string[] = [];
  const problems: string[] = [];

  let appId = 0;
  if (!nonEmpty(e.APP_ID)) missing.push("APP_ID");
  else if (!/^\d+$/.test(e.APP_ID) || Number(e.APP_ID) <= 0 || !Number.isSafeInteger(Number(e.APP_ID))) {
    problems.push(`APP_ID must be the app's numeric ID (a positive integer); got "${e.APP_ID}"`);
  } else appId = Number(e.APP_ID);

  let privateKey = "";
  if (nonEmpty(e.PRIVATE_KEY)) {
    const key = pemFromEnvValue(e.PRIVATE_KEY);
    if (key === null) {
      problems.push(
        "PRIVATE_KEY is not a PEM private key: give the contents of the .pem file downloaded from " +
          "the app's settings (newlines may be written as \\n), or its base64 encoding",
      );
    } else privateKey = key;
  } else if (nonEmpty(e.PRIVATE_KEY_PATH)) {
    let text: string | undefined;
    try {
      text = readFile(e.PRIVATE_KEY_PATH);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      problems.push(
        `PRIVATE_KEY_PATH: cannot read "${e.PRIVATE_KEY_PATH}"` +
          (typeof code === "string" ? ` (${code})` : ""),
      );
    }
    if (text !== undefined) {
      const key = pemFromEnvValue(text);
      if (key === null)
        problems.push(`PRIVATE_KEY_PATH: "${e.PRIVATE_KEY_PATH}" does not hold a PEM private key`);
      else privateKey = key;
    }
  } else missing.push("PRIVATE_KEY or PRIVATE_KEY_PATH");

  if (!nonEmpty(e.WEBHOOK_SECRET)) missing.push("WEBHOOK_SECRET");

  let port = DEFAULT_PORT;
  if (nonEmpty(e.PORT)) {
    if (!/^\d+$/.test(e.PORT) || Number(e.PORT) > 65535) {
      problems.push(`PORT must be a port number from 0 to 65535; got "${e.PORT}"`);
    } else port = Number(e.PORT);
  }

  let logLevel: LogLevel = "info";
  if (nonEmpty(e.LOG_LEVEL)) {
    const level = e.LOG_LEVEL.toLowerCase();
    if ((LOG_LEVELS as readonly string[]).includes(level)) logLevel = level as LogLevel;
    else problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}; got "${e.LOG_LEVEL}"`);
  }

  // JSON by default: a server's logs are read by machines; "pretty" is for a terminal.
  let logFormat: "json" | "pretty" = "json";
  if (nonEmpty(e.LOG_FORMAT)) {
    const format = e.LOG_FORMAT.toLowerCase();
    if (format === "json" || format === "pretty") logFormat = format;
    else problems.push(`LOG_FORMAT must be "json" or "pretty"; got "${e.LOG_FORMAT}"`);
  }

  let webhookPath = DEFAULT_WEBHOOK_PATH;
  if (nonEmpty(e.WEBHOOK_PATH)) {
    if (!e.WEBHOOK_PATH.startsWith("/") || /[\s?#]/.test(e.WEBHOOK_PATH)) {
      problems.push(`WEBHOOK_PATH must be a URL path starting with "/"; got "${e.WEBHOOK_PATH}"`);
    } else webhookPath = e.WEBHOOK_PATH;
  }

  const writes = { ...DEFAULT_WRITE_LIMITS };
  for (const [key, field, max] of [
    ["WRITES_PER_MINUTE", "perMinute", 80],
    ["WRITES_PER_HOUR", "perHour", 500],
  ] as const) {
    const value = e[key];
    if (!nonEmpty(value)) continue;
    if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) {
      problems.push(
        `${key} must be a whole number from 1 to ${max} (GitHub's limit; with several replicas give each a share); got "${value}"`,
      );
    } else writes[field] = Number(value);
  }

  let baseUrl = "";
  try {
    // Only Probot's variables: GITHUB_API_URL belongs to Actions runners, and a server that
    // happened to inherit one must not silently talk to another GitHub.
    baseUrl = apiBaseUrlFromEnv({ GHE_HOST: e.GHE_HOST, GHE_PROTOCOL: e.GHE_PROTOCOL });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const p of error.problems) problems.push(`${p.path}: ${p.message}${p.hint ? `; ${p.hint}` : ""}`);
  }

  if (missing.length > 0 || problems.length > 0) return { ok: false, missing, problems };
  return {
    ok: true,
    options: {
      appId,
      privateKey,
      webhookSecret: e.WEBHOOK_SECRET!,
      port,
      host: nonEmpty(e.HOST) ? e.HOST : undefined,
      webhookPath,
      logLevel,
      logFormat,
      baseUrl,
      writes,
    },
  };
}

/**
 * The PEM text of a private key given as PEM (with real or escaped newlines, as some platforms
 * only allow one-line variables) or as base64 of the PEM; null when it is not a usable key.
 */
export function pemFromEnvValue(value: string): string | null {
  let text = value.trim();
  if (!text.includes("-----BEGIN")) {
    const decoded = Buffer.from(text, "base64").toString("utf8");
    if (!decoded.includes("-----BEGIN")) return null;
    text = decoded.trim();
  }
  text = text.replace(/\\n/g, "\n");
  try {
    createPrivateKey(text);
  } catch {
    return null;
  }
  return `${text}\n`;
}

/**
 * What to tell an operator whose environment is incomplete: every missing variable and every
 * problem, where to find the values, and no secret.
 */
export function formatEnvReport(result: Extract<AppEnvResult, { ok: false }>): string {
  const lines = ["switchyard app: cannot start."];
  if (result.missing.length > 0) {
    lines.push("", "Set these environment variables:");
    for (const name of result.missing) lines.push(`  ${name}  ${WHERE[name] ?? ""}`.trimEnd());
  }
  if (result.problems.length > 0) {
    lines.push("", "Fix these:");
    for (const problem of result.problems) lines.push(`  ${problem}`);
  }
  lines.push(
    "",
    "The values are on the GitHub App's settings page (Settings > Developer settings > GitHub Apps > your app).",
    "docs/app.md walks through creating the app from app.yml and running it.",
  );
  return lines.join("\n");
}

const WHERE: Record<string, string> = {
  APP_ID: "the App ID shown at the top of the app's settings page",
  "PRIVATE_KEY or PRIVATE_KEY_PATH":
    'the .pem from "Generate a private key" on the settings page: its contents, or the path to the file',
  WEBHOOK_SECRET: 'the "Webhook secret" you entered on the settings page (set a new one there if unsure)',
};
