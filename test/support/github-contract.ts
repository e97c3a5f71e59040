/**
 * GitHub API contract harness: nock mocks that also check every request against GitHub's own
 * OpenAPI description (@octokit/openapi). A test passes only if the code under test sent
 * requests GitHub would accept, not merely requests that matched the test's own mocks.
 *
 * Usage (jest):
 *
 *   import { afterEach, beforeAll, it, expect } from "@jest/globals";
 *   import { blockNetwork, githubApi, resetGithubApi } from "./support/github-contract.js";
 *
 *   beforeAll(() => blockNetwork());            // nothing reaches the real network
 *   afterEach(() => resetGithubApi());          // nock.cleanAll() + forget this test's harnesses
 *
 *   it("publishes the decision", async () => {
 *     const gh = githubApi();                   // or githubApi({ baseUrl: "https://ghe.example.com/api/v3" })
 *     gh.scope.post("/repos/o/r/check-runs").reply(201, { id: 7 });
 *     await codeUnderTest(octokitFor(gh.baseUrl));
 *     gh.done();                                // throws on any contract violation or unused mock
 *     expect(gh.requests.map((r) => r.operationId)).toEqual(["checks/create"]);
 *     expect(gh.requests[0]?.body).toEqual({ name: "switchyard/route", head_sha: "abc", ... });
 *   });
 *
 * - `gh.scope` is a plain nock scope on the base URL: declare mocks as usual (paths relative to
 *   the base URL, so GHES's "/api/v3" prefix is added by nock). nock sees requests made with
 *   `globalThis.fetch`, which Octokit uses by default; a client that brings its own fetch (such
 *   as @actions/github's getOctokit) needs `request: { fetch: globalThis.fetch }`.
 * - Every request an interceptor of `gh.scope` serves is checked: the method and path must be a
 *   real operation, path and query parameters must fit, the JSON body must validate against the
 *   operation's request schema, top-level body properties the schema does not list are errors
 *   (typos GitHub would silently ignore), bodies sent to operations that take none are errors.
 * - A request that violates the contract is answered the way GitHub would answer it: 422
 *   `{ message: "Invalid request.", errors: [...] }`, or 404 for an unknown operation, instead
 *   of the mock's reply, so the code under test sees the rejection too. Pass
 *   `rejectInvalid: false` to keep the mock's reply; the violation is recorded either way.
 * - A request to the base URL that no interceptor matched is a violation as well (nock's own
 *   "No match" error can be swallowed by the code under test; the harness remembers it).
 * - `gh.done()` throws a ContractViolationError listing every violation (operation, JSON
 *   pointer, message) and every mock that was never used. Call it at the end of each test; a
 *   violation cannot pass silently as long as it is called.
 * - `gh.requests` lists what was served, in order, with parsed bodies, for exact assertions.
 * - `validateRequest(method, url, body?)` checks one request without nock.
 * - Cost: GitHub's description loads once per test file (~200-260 ms: jest gives each file its
 *   own modules), each operation's validators compile on first use (~2-30 ms), after which a
 *   check takes ~0.1 ms.
 * - Requests are checked against api.github.com's description, also for a GHES base URL.
 */
import nock from "nock";
import type { ClientRequest } from "node:http";
import { InputError } from "../../src/core/errors.js";
import { checkRequest, type ContractCheck, type RequestBody, type RequestToCheck } from "./openapi.js";

export { checkRequest, contractInfo, validateRequest } from "./openapi.js";
export type { ContractCheck, RequestBody, RequestToCheck } from "./openapi.js";

export const GITHUB_API_URL = "https://api.github.com";

export interface RecordedRequest {
  method: string;
  /** API path without the base path and query, e.g. "/repos/o/r/check-runs". */
  path: string;
  /** Query parameters as sent; repeated keys become arrays. */
  query: Record<string, string | string[]>;
  url: string;
  operationId: string | undefined;
  /** Parsed JSON, the raw text when the body is not JSON, undefined when none was sent. */
  body: unknown;
}

export interface ContractViolation {
  method: string;
  path: string;
  operationId: string | undefined;
  template: string | undefined;
  errors: string[];
  /** False when no interceptor served the request. */
  matched: boolean;
}

export interface GithubApiOptions {
  /** Defaults to https://api.github.com. A path such as "/api/v3" is the GHES prefix. */
  baseUrl?: string;
  /** Answer invalid requests with GitHub's 422 / 404 instead of the mock's reply. Default true. */
  rejectInvalid?: boolean;
  /** Whether unknown top-level body properties are violations. Default "error". */
  unknownBodyProperties?: "error" | "ignore";
  /** Passed to nock(), e.g. `{ reqheaders: { authorization: "token x" } }`. */
  scopeOptions?: nock.Options;
}

export interface GithubApi {
  readonly scope: nock.Scope;
  readonly baseUrl: string;
  readonly requests: readonly RecordedRequest[];
  readonly violations: readonly ContractViolation[];
  /** Throws ContractViolationError on any violation or unused interceptor. */
  done(): void;
  /** Throws on violations only, for tests that leave optional mocks unused. */
  assertValid(): void;
}

export class ContractViolationError extends Error {
  override name = "ContractViolationError";
  constructor(
    readonly violations: readonly ContractViolation[],
    readonly pendingMocks: readonly string[],
  ) {
    super(formatReport(violations, pendingMocks));
  }
}

function formatReport(violations: readonly ContractViolation[], pendingMocks: readonly string[]): string {
  const lines: string[] = [];
  if (violations.length > 0) {
    const n = violations.length;
    lines.push(`${n} request${n === 1 ? "" : "s"} broke GitHub's API contract (@octokit/openapi):`);
    for (const v of violations) {
      const op = v.operationId ? ` (${v.operationId})` : "";
      lines.push(`  ${v.method} ${v.path}${op}${v.matched ? "" : " [no interceptor matched]"}`);
      for (const e of v.errors) lines.push(`    - ${e}`);
    }
  }
  if (pendingMocks.length > 0) {
    lines.push(
      `${pendingMocks.length} interceptor${pendingMocks.length === 1 ? " was" : "s were"} never used:`,
    );
    for (const m of pendingMocks) lines.push(`  ${m}`);
  }
  return lines.join("\n");
}

interface Harness {
  origin: string;
  basePath: string;
  unknownBodyProperties: "error" | "ignore";
  record(violation: ContractViolation): void;
}

/**
 * checkRequest runs inside nock's event handlers, where an exception would break the request in
 * ways that are hard to trace back; a failure of the check itself becomes a violation instead.
 */
function safeCheck(request: RequestToCheck): ContractCheck {
  try {
    return checkRequest(request);
  } catch (error) {
    return {
      ok: false,
      method: request.method.toUpperCase(),
      path: request.url,
      operationId: undefined,
      template: undefined,
      unknownOperation: false,
      errors: [`the contract check itself failed: ${error instanceof Error ? error.message : String(error)}`],
    };
  }
}

const live: Harness[] = [];
let noMatchListening = false;

function normalizedOrigin(protocol: string, hostname: string, port: string | number | undefined): string {
  const proto = protocol.replace(/:$/, "").toLowerCase();
  const p = port === undefined || port === "" ? (proto === "https" ? 443 : 80) : Number(port);
  return `${proto}://${hostname.toLowerCase()}:${p}`;
}

function parseQuery(search: URLSearchParams): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const [key, value] of search) {
    const previous = query[key];
    query[key] =
      previous === undefined ? value : [...(Array.isArray(previous) ? previous : [previous]), value];
  }
  return query;
}

function toRequestBody(text: string | undefined, contentType: string | undefined): RequestBody {
  if (text === undefined || text === "") return { kind: "none" };
  try {
    return { kind: "json", value: JSON.parse(text) as unknown };
  } catch {
    return contentType === undefined ? { kind: "text", text } : { kind: "text", text, contentType };
  }
}

function bodyValue(body: RequestBody): unknown {
  return body.kind === "json" ? body.value : body.kind === "text" ? body.text : undefined;
}

/**
 * nock reports requests no interceptor served on a global emitter, in two shapes: (req, options,
 * body) when the host has interceptors, (options) when it has none.
 */
function onNoMatch(...args: unknown[]): void {
  const [first, second, third] = args as [Record<string, unknown>?, Record<string, unknown>?, unknown?];
  const options = second ?? first;
  if (!options) return;
  const host = String(options.hostname ?? String(options.host ?? "").split(":")[0] ?? "");
  const proto = String(options.proto ?? options.protocol ?? "https");
  const origin = normalizedOrigin(proto, host, options.port as string | number | undefined);
  const requestPath = String(options.path ?? "/");
  const method = String(options.method ?? first?.method ?? "GET").toUpperCase();
  const harness = [...live]
    .reverse()
    .find(
      (h) =>
        h.origin === origin &&
        (h.basePath === "" || requestPath === h.basePath || requestPath.startsWith(`${h.basePath}/`)),
    );
  if (!harness) return;
  const check = safeCheck({
    method,
    url: requestPath,
    basePath: harness.basePath,
    body: toRequestBody(typeof third === "string" ? third : undefined, undefined),
    unknownBodyProperties: harness.unknownBodyProperties,
  });
  harness.record({
    method,
    path: check.path,
    operationId: check.operationId,
    template: check.template,
    errors: ["no interceptor matched this request", ...check.errors],
    matched: false,
  });
}

/** The fields of a nock Interceptor that decide its reply; not part of nock's typings. */
interface ReplyState {
  statusCode: number | null;
  body: unknown;
  rawHeaders: unknown[];
  headers: Record<string, unknown>;
  replyFunction: unknown;
  fullReplyFunction: unknown;
  errorMessage: unknown;
}

const REPLY_FIELDS = [
  "statusCode",
  "body",
  "rawHeaders",
  "headers",
  "replyFunction",
  "fullReplyFunction",
  "errorMessage",
] as const;

/**
 * Makes the interceptor that is about to play back answer this one request with `status` and
 * `body`. nock reads these fields synchronously right after emitting "request", so they are
 * restored on the next microtask and a persisted or repeated interceptor replies normally to the
 * following requests. If nock's internals ever change shape, nothing is replaced (the violation
 * is still recorded) and the harness's own test of this behaviour fails.
 */
function replaceReplyOnce(interceptor: unknown, status: number, body: unknown): boolean {
  if (typeof interceptor !== "object" || interceptor === null || !("statusCode" in interceptor)) return false;
  const state = interceptor as ReplyState;
  const saved = Object.fromEntries(REPLY_FIELDS.map((f) => [f, state[f]]));
  Object.assign(state, {
    statusCode: status,
    body: JSON.stringify(body),
    rawHeaders: ["Content-Type", "application/json; charset=utf-8"],
    headers: { "content-type": "application/json; charset=utf-8" },
    replyFunction: undefined,
    fullReplyFunction: undefined,
    errorMessage: undefined,
  });
  queueMicrotask(() => Object.assign(state, saved));
  return true;
}

function githubRejection(check: ContractCheck): { status: number; body: unknown } {
  const documentation_url = "https://docs.github.com/rest";
  if (check.unknownOperation) {
    return {
      status: 404,
      body: { message: "Not Found", errors: check.errors, documentation_url, status: "404" },
    };
  }
  return {
    status: 422,
    body: {
      message: "Invalid request.",
      errors: check.errors.map((message) => ({ resource: check.operationId, code: "invalid", message })),
      documentation_url,
      status: "422",
    },
  };
}

/**
 * A nock scope on GitHub's API whose every request is checked against GitHub's OpenAPI
 * description. See the top of this file.
 */
export function githubApi(options: GithubApiOptions = {}): GithubApi {
  const baseUrl = (options.baseUrl ?? GITHUB_API_URL).replace(/\/+$/, "");
  let parsed: URL;
  try {
    parsed = new URL(baseUrl);
  } catch {
    throw new InputError(
      `githubApi: baseUrl must be an absolute URL such as ${GITHUB_API_URL}; got "${baseUrl}"`,
    );
  }
  const basePath = parsed.pathname.replace(/\/+$/, "");
  const rejectInvalid = options.rejectInvalid ?? true;
  const unknownBodyProperties = options.unknownBodyProperties ?? "error";
  const scope = nock(baseUrl, options.scopeOptions);
  const requests: RecordedRequest[] = [];
  const violations: ContractViolation[] = [];

  const harness: Harness = {
    origin: normalizedOrigin(parsed.protocol, parsed.hostname, parsed.port),
    basePath,
    unknownBodyProperties,
    record: (v) => violations.push(v),
  };
  live.push(harness);
  if (!noMatchListening) {
    nock.emitter.on("no match", onNoMatch);
    noMatchListening = true;
  }

  scope.on("request", (req: ClientRequest, interceptor: nock.Interceptor, bodyText: string) => {
    const url = new URL(req.path, parsed.origin);
    const header = req.getHeader("content-type");
    const body = toRequestBody(bodyText, header === undefined ? undefined : String(header));
    const check = safeCheck({ method: req.method, url: req.path, basePath, body, unknownBodyProperties });
    requests.push({
      method: check.method,
      path: check.path,
      query: parseQuery(url.searchParams),
      url: url.toString(),
      operationId: check.operationId,
      body: bodyValue(body),
    });
    if (check.ok) return;
    violations.push({
      method: check.method,
      path: check.path,
      operationId: check.operationId,
      template: check.template,
      errors: check.errors,
      matched: true,
    });
    if (rejectInvalid) {
      const rejection = githubRejection(check);
      replaceReplyOnce(interceptor, rejection.status, rejection.body);
    }
  });

  const assertValid = (): void => {
    if (violations.length > 0) throw new ContractViolationError([...violations], []);
  };
  return {
    scope,
    baseUrl,
    requests,
    violations,
    assertValid,
    done() {
      const pending = scope.isDone() ? [] : scope.pendingMocks();
      const index = live.indexOf(harness);
      if (index >= 0) live.splice(index, 1);
      if (violations.length > 0 || pending.length > 0)
        throw new ContractViolationError([...violations], pending);
    },
  };
}

/**
 * Refuses every real connection for the rest of the test file, so a missing mock fails instead
 * of calling GitHub. `allowLocalhost` keeps 127.0.0.1 / localhost reachable (a local test server).
 */
export function blockNetwork(options: { allowLocalhost?: boolean } = {}): void {
  nock.disableNetConnect();
  if (options.allowLocalhost) nock.enableNetConnect(/^(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/);
}

/** Removes every interceptor (nock.cleanAll) and forgets every harness. Call in afterEach. */
export function resetGithubApi(): void {
  live.length = 0;
  nock.cleanAll();
}
