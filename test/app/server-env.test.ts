import { execFile } from "node:child_process";
import { describe, expect, it } from "@jest/globals";
import { formatEnvReport, pemFromEnvValue, readAppEnv } from "../../src/app/env.js";
import { testPrivateKey } from "./server-fakes.js";

const key = testPrivateKey();
const base = { APP_ID: "123", PRIVATE_KEY: key, WEBHOOK_SECRET: "s3cret" };
const noFile = (path: string): string => {
  throw Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" });
};

function failure(env: Record<string, string | undefined>, readFile = noFile) {
  const result = readAppEnv(env, { readFile });
  if (result.ok) throw new Error("expected the environment to be refused");
  return result;
}

describe("readAppEnv", () => {
  it("reads a complete environment with Probot's defaults", () => {
    expect(readAppEnv(base, { readFile: noFile })).toEqual({
      ok: true,
      options: {
        appId: 123,
        privateKey: `${key.trim()}\n`,
        webhookSecret: "s3cret",
        port: 3000,
        host: undefined,
        webhookPath: "/api/github/webhooks",
        logLevel: "info",
        logFormat: "json",
        baseUrl: "https://api.github.com",
        writes: { perMinute: 60, perHour: 450 },
      },
    });
  });

  it("lists every missing variable at once", () => {
    expect(failure({})).toEqual({
      ok: false,
      missing: ["APP_ID", "PRIVATE_KEY or PRIVATE_KEY_PATH", "WEBHOOK_SECRET"],
      problems: [],
    });
  });

  it("treats blank values as missing", () => {
    expect(failure({ ...base, APP_ID: " ", WEBHOOK_SECRET: "" }).missing).toEqual([
      "APP_ID",
      "WEBHOOK_SECRET",
    ]);
  });

  it("accepts a key with escaped newlines, or base64 of the PEM", () => {
    const escaped = readAppEnv({ ...base, PRIVATE_KEY: key.trim().replace(/\n/g, "\\n") });
    const encoded = readAppEnv({ ...base, PRIVATE_KEY: Buffer.from(key).toString("base64") });
    expect(escaped.ok && escaped.options.privateKey).toBe(`${key.trim()}\n`);
    expect(encoded.ok && encoded.options.privateKey).toBe(`${key.trim()}\n`);
  });

  it("reads PRIVATE_KEY_PATH when PRIVATE_KEY is not set", () => {
    const read: string[] = [];
    const result = readAppEnv(
      { APP_ID: "1", WEBHOOK_SECRET: "s", PRIVATE_KEY_PATH: "/keys/app.pem" },
      { readFile: (p) => (read.push(p), key) },
    );
    expect(read).toEqual(["/keys/app.pem"]);
    expect(result.ok && result.options.privateKey).toBe(`${key.trim()}\n`);
  });

  it("names an unreadable key file and a key that is not a key, without quoting the value", () => {
    expect(failure({ APP_ID: "1", WEBHOOK_SECRET: "s", PRIVATE_KEY_PATH: "/nope.pem" }).problems).toEqual([
      'PRIVATE_KEY_PATH: cannot read "/nope.pem" (ENOENT)',
    ]);
    const bad = failure({
      ...base,
      PRIVATE_KEY: "-----BEGIN RSA PRIVATE KEY-----\ntopsecretgarbage\n-----END",
    });
    expect(bad.problems).toHaveLength(1);
    expect(bad.problems[0]).toMatch(/^PRIVATE_KEY is not a PEM private key/);
    expect(bad.problems[0]).not.toContain("topsecretgarbage");
  });

  it("refuses malformed values with a message per variable", () => {
    const result = failure({
      ...base,
      APP_ID: "12abc",
      PORT: "70000",
      LOG_LEVEL: "loud",
      LOG_FORMAT: "xml",
      WEBHOOK_PATH: "hooks",
      GHE_HOST: "https://ghe.example.com",
    });
    expect(result.missing).toEqual([]);
    expect(result.problems).toEqual([
      'APP_ID must be the app\'s numeric ID (a positive integer); got "12abc"',
      'PORT must be a port number from 0 to 65535; got "70000"',
      'LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent; got "loud"',
      'LOG_FORMAT must be "json" or "pretty"; got "xml"',
      'WEBHOOK_PATH must be a URL path starting with "/"; got "hooks"',
      'GHE_HOST: "https://ghe.example.com" is not a host name; give the bare host, e.g. GHE_HOST=github.example.com, without a protocol or path (the protocol goes in GHE_PROTOCOL)',
    ]);
  });

  it("points the API at GitHub Enterprise Server as Probot does, and ignores an inherited GITHUB_API_URL", () => {
    const result = readAppEnv({
      ...base,
      GHE_HOST: "ghe.example.com:8443",
      GHE_PROTOCOL: "http",
      GITHUB_API_URL: "https://elsewhere.example.com",
      PORT: "8080",
      HOST: "127.0.0.1",
      LOG_LEVEL: "DEBUG",
      WEBHOOK_PATH: "/hooks",
      WRITES_PER_MINUTE: "20",
      WRITES_PER_HOUR: "150",
    });
    expect(result.ok && result.options).toMatchObject({
      baseUrl: "http://ghe.example.com:8443/api/v3",
      port: 8080,
      host: "127.0.0.1",
      logLevel: "debug",
      webhookPath: "/hooks",
      // Three replicas, each a third of GitHub's limits.
      writes: { perMinute: 20, perHour: 150 },
    });
  });

  it("refuses a write share above GitHub's limits", () => {
    const result = readAppEnv(
      { ...base, WRITES_PER_MINUTE: "81", WRITES_PER_HOUR: "0" },
      { readFile: noFile },
    );
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problems).toEqual([
      'WRITES_PER_MINUTE must be a whole number from 1 to 80 (GitHub\'s limit; with several replicas give each a share); got "81"',
      'WRITES_PER_HOUR must be a whole number from 1 to 500 (GitHub\'s limit; with several replicas give each a share); got "0"',
    ]);
  });
});

describe("pemFromEnvValue", () => {
  it("refuses text that is neither PEM nor base64 of PEM", () => {
    expect(pemFromEnvValue("not a key")).toBeNull();
  });
});

describe("formatEnvReport", () => {
  it("says what to set and where to find it", () => {
    const text = formatEnvReport({
      ok: false,
      missing: ["APP_ID", "WEBHOOK_SECRET"],
      problems: ["PORT is bad"],
    });
    expect(text.split("\n")).toEqual([
      "switchyard app: cannot start.",
      "",
      "Set these environment variables:",
      "  APP_ID  the App ID shown at the top of the app's settings page",
      '  WEBHOOK_SECRET  the "Webhook secret" you entered on the settings page (set a new one there if unsure)',
      "",
      "Fix these:",
      "  PORT is bad",
      "",
      "The values are on the GitHub App's settings page (Settings > Developer settings > GitHub Apps > your app).",
      "docs/app.md walks through creating the app from app.yml and running it.",
    ]);
  });
});

describe("the app entry without credentials", () => {
  it("exits 1 and prints what to set, with no stack trace and no secret", async () => {
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        ["--import", "./bin/register.js", "src/app/main.ts"],
        // WEBHOOK_SECRET is set, so it must not be reported missing nor printed.
        { env: { PATH: process.env.PATH, WEBHOOK_SECRET: "hunter2-do-not-print" }, timeout: 20_000 },
        () => {},
      );
      let err = "";
      child.stderr?.on("data", (chunk: Buffer) => (err += chunk.toString()));
      child.on("close", (c) => resolve({ code: c, stderr: err }));
    });
    expect(code).toBe(1);
    expect(stderr).toContain("Set these environment variables:\n  APP_ID ");
    expect(stderr).toContain("  PRIVATE_KEY or PRIVATE_KEY_PATH ");
    expect(stderr).not.toContain("  WEBHOOK_SECRET ");
    expect(stderr).not.toContain("hunter2");
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});
