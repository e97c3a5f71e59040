import { createHmac, generateKeyPairSync } from "node:crypto";
import type { Logger } from "probot";
import type { AppOptions } from "../../src/app/env.js";

/** A fresh RSA key in the PEM form GitHub hands out (pkcs8 here; GitHub's is pkcs1, both load). */
export function testPrivateKey(): string {
  return generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  }).privateKey;
}

export function testAppOptions(overrides: Partial<AppOptions> = {}): AppOptions {
  return {
    appId: 4242,
    privateKey: testPrivateKey(),
    webhookSecret: "test-webhook-secret",
    port: 0,
    host: "127.0.0.1",
    webhookPath: "/api/github/webhooks",
    logLevel: "silent",
    logFormat: "json",
    baseUrl: "https://api.github.com",
    writes: { perMinute: 60, perHour: 450 },
    ...overrides,
  };
}

/** GitHub's x-hub-signature-256 for a body. */
export function signature(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

export interface LogLine {
  level: string;
  bindings: Record<string, unknown>;
  fields: Record<string, unknown>;
  msg: string;
}

/**
 * A logger with pino's shape (child, the six levels) that records every line with the bindings of
 * the child it came from, so tests can assert what an operator would see.
 */
export function recordingLogger(lines: LogLine[] = [], bindings: Record<string, unknown> = {}): Logger {
  const at =
    (level: string) =>
    (first?: unknown, second?: unknown): void => {
      const hasFields = typeof first === "object" && first !== null && !(first instanceof Error);
      lines.push({
        level,
        bindings,
        fields: hasFields ? (first as Record<string, unknown>) : first instanceof Error ? { err: first } : {},
        msg: typeof first === "string" ? first : typeof second === "string" ? second : "",
      });
    };
  const log = {
    level: "trace",
    lines,
    bindings: () => bindings,
    child: (more: Record<string, unknown>) => recordingLogger(lines, { ...bindings, ...more }),
    trace: at("trace"),
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    fatal: at("fatal"),
  };
  return log as unknown as Logger;
}
