/**
 * GitHub's REST API contract, read from GitHub's own OpenAPI description (@octokit/openapi).
 *
 * `checkRequest` / `validateRequest` answer one question: would GitHub accept this request as
 * well-formed? The method and path must name a real operation, path and query parameters must
 * fit their schemas, and a JSON body must validate against the operation's request schema.
 * The nock harness in github-contract.ts calls this for every request it intercepts; tests can
 * also call it directly.
 *
 * Only `generated/api.github.com.json` is read (13 MB); `require("@octokit/openapi")` would
 * load every variant (~450 MB). The document is parsed once per module registry (jest gives
 * each test file its own), reduced to what validation needs, and handed to ajv. Validators are
 * compiled lazily per operation and cached.
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { performance } from "node:perf_hooks";
import AjvModule from "ajv";
import type { ErrorObject, ValidateFunction } from "ajv";
import { distance } from "fastest-levenshtein";
import { InputError } from "../../src/core/errors.js";

// ajv is CommonJS: under NodeNext the default import is `module.exports`, whose `.default` is the
// class at runtime and in its typings alike.
const Ajv = AjvModule.default;
type AjvInstance = InstanceType<typeof Ajv>;

type Schema = Record<string, unknown>;

const METHODS = ["get", "put", "post", "patch", "delete"] as const;
type Method = (typeof METHODS)[number];

/** The `$id` under which the reduced document is registered with ajv. */
const DOCUMENT_ID = "https://switchyard.invalid/github-rest-contract.json";

/** Only these trailing parameters may hold unencoded slashes (`contents/src/a.ts`, `git/refs/heads/x`). */
const SLASHY_TAIL_PARAMS = new Set(["path", "ref", "dir"]);

/** Values that reach a URL when code interpolates a missing or wrong value. GitHub would answer 404. */
const SUSPICIOUS_PATH_VALUES = new Set(["undefined", "null", "NaN", "[object Object]"]);

interface ParamSpec {
  name: string;
  location: "path" | "query";
  required: boolean;
  schema: Schema;
}

interface BodySpec {
  required: boolean;
  contentTypes: string[];
  /** Key of the JSON schema in the registered document, when the operation takes JSON. */
  schemaKey: string | undefined;
}

export interface OperationSpec {
  method: Method;
  template: string;
  operationId: string;
  params: ParamSpec[];
  body: BodySpec | undefined;
}

type Segment =
  | { kind: "literal"; text: string }
  | { kind: "param"; name: string }
  | { kind: "mixed"; pattern: RegExp; names: string[] };

interface Route {
  template: string;
  segments: Segment[];
  operations: Map<Method, OperationSpec>;
  /** Per segment 0 literal, 1 mixed, 2 param: a lower rank is the more specific template. */
  rank: number[];
  /** The last segment is a parameter that may span several request segments. */
  slashyTail: boolean;
}

interface Contract {
  openapiVersion: string;
  routes: Route[];
  schemas: Record<string, Schema>;
  bodySchemas: Record<string, Schema>;
  /** Validates bodies as sent. */
  strict: AjvInstance;
  /** Validates path and query parameters, which arrive as strings and need type coercion. */
  coercing: AjvInstance;
  bodyValidators: Map<string, ValidateFunction>;
  paramValidators: Map<string, ValidateFunction>;
  loadMs: number;
}

let contract: Contract | undefined;

function isObject(value: unknown): value is Schema {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function escapePointer(token: string): string {
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}

function specFile(): { file: string; version: string } {
  const require = createRequire(import.meta.url);
  const pkgFile = require.resolve("@octokit/openapi/package.json");
  const pkg = JSON.parse(fs.readFileSync(pkgFile, "utf8")) as { version?: string };
  return {
    file: path.join(path.dirname(pkgFile), "generated", "api.github.com.json"),
    version: pkg.version ?? "unknown",
  };
}

/**
 * OpenAPI 3.0 schemas are almost JSON Schema: `nullable: true` has no JSON Schema meaning, so it
 * becomes a type union (plus `null` in an enum), or an `anyOf` with `null` where the schema is a
 * composition or a reference. Only schema keywords are walked: a property *named* `nullable` or
 * `format` inside `properties` is left alone. Collects `$ref`s and formats on the way.
 */
function convertSchema(node: unknown, refs: Set<string>, formats: Set<string>): void {
  if (!isObject(node)) return;
  if (typeof node.$ref === "string") refs.add(node.$ref);
  if (typeof node.format === "string") formats.add(node.format);
  for (const key of ["properties", "patternProperties"]) {
    const map = node[key];
    if (isObject(map)) for (const child of Object.values(map)) convertSchema(child, refs, formats);
  }
  for (const key of ["additionalProperties", "not", "items"]) convertSchema(node[key], refs, formats);
  for (const key of ["allOf", "anyOf", "oneOf", "items"]) {
    const list = node[key];
    if (Array.isArray(list)) for (const child of list) convertSchema(child, refs, formats);
  }
  if (!("nullable" in node)) return;
  const nullable = node.nullable === true;
  delete node.nullable;
  if (!nullable) return;
  const composed = ["allOf", "anyOf", "oneOf", "not", "$ref"].some((k) => k in node);
  if (typeof node.type === "string" && !composed) {
    node.type = [node.type, "null"];
    if (Array.isArray(node.enum) && !node.enum.includes(null)) node.enum.push(null);
    return;
  }
  const inner = { ...node };
  for (const key of Object.keys(node)) delete node[key];
  node.anyOf = [inner, { type: "null" }];
}

function compileSegment(text: string): Segment {
  const whole = /^\{([^}]+)\}$/.exec(text);
  if (whole?.[1]) return { kind: "param", name: whole[1] };
  if (!text.includes("{")) return { kind: "literal", text };
  const names: string[] = [];
  const parts = text.split(/(\{[^}]+\})/).filter((p) => p !== "");
  const source = parts
    .map((part, i) => {
      const param = /^\{([^}]+)\}$/.exec(part);
      if (!param?.[1]) return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      names.push(param[1]);
      return i === parts.length - 1 ? "(.*)" : "(.*?)";
    })
    .join("");
  return { kind: "mixed", pattern: new RegExp(`^${source}$`), names };
}

function loadContract(): Contract {
  if (contract) return contract;
  const started = performance.now();
  const { file, version } = specFile();
  const doc = JSON.parse(fs.readFileSync(file, "utf8")) as {
    paths: Record<string, Record<string, unknown>>;
    components: Record<string, Record<string, unknown>>;
  };

  const resolve = (value: unknown): Schema => {
    if (!isObject(value) || typeof value.$ref !== "string") return isObject(value) ? value : {};
    const target = value.$ref
      .slice(2)
      .split("/")
      .reduce<unknown>(
        (at, key) => (isObject(at) ? at[key.replace(/~1/g, "/").replace(/~0/g, "~")] : undefined),
        doc,
      );
    return isObject(target) ? target : {};
  };

  const refs = new Set<string>();
  const formats = new Set<string>();
  const bodySchemas: Record<string, Schema> = {};
  const routes: Route[] = [];

  for (const [template, item] of Object.entries(doc.paths)) {
    const segments = template.split("/").slice(1).map(compileSegment);
    const last = segments[segments.length - 1];
    const route: Route = {
      template,
      segments,
      operations: new Map(),
      rank: segments.map((s) => (s.kind === "literal" ? 0 : s.kind === "mixed" ? 1 : 2)),
      slashyTail: last?.kind === "param" && SLASHY_TAIL_PARAMS.has(last.name),
    };
    const shared = Array.isArray(item.parameters) ? item.parameters : [];
    for (const method of METHODS) {
      const op = item[method];
      if (!isObject(op)) continue;
      const operationId = typeof op.operationId === "string" ? op.operationId : `${method} ${template}`;
      const params = new Map<string, ParamSpec>();
      for (const raw of [...shared, ...(Array.isArray(op.parameters) ? op.parameters : [])]) {
        const p = resolve(raw);
        if ((p.in !== "path" && p.in !== "query") || typeof p.name !== "string") continue;
        const schema = isObject(p.schema) ? p.schema : {};
        convertSchema(schema, refs, formats);
        params.set(`${p.in}:${p.name}`, {
          name: p.name,
          location: p.in,
          required: p.required === true || p.in === "path",
          schema,
        });
      }
      let body: BodySpec | undefined;
      if (op.requestBody !== undefined) {
        const requestBody = resolve(op.requestBody);
        const content = isObject(requestBody.content) ? requestBody.content : {};
        const json = content["application/json"];
        let schemaKey: string | undefined;
        if (isObject(json) && isObject(json.schema)) {
          schemaKey = `${method} ${template}`;
          convertSchema(json.schema, refs, formats);
          bodySchemas[schemaKey] = json.schema;
        }
        body = { required: requestBody.required === true, contentTypes: Object.keys(content), schemaKey };
      }
      route.operations.set(method, { method, template, operationId, params: [...params.values()], body });
    }
    routes.push(route);
  }

  // Only the component schemas that request bodies and parameters reach go to ajv; the rest of
  // the document (responses, examples, webhooks) is most of its size and never needed.
  const schemas: Record<string, Schema> = {};
  const pending = [...refs];
  const prefix = "#/components/schemas/";
  while (pending.length > 0) {
    const ref = pending.pop() as string;
    if (!ref.startsWith(prefix)) continue;
    const name = ref.slice(prefix.length);
    if (name in schemas) continue;
    const schema = doc.components.schemas?.[name];
    if (!isObject(schema)) continue;
    const found = new Set<string>();
    convertSchema(schema, found, formats);
    schemas[name] = schema;
    pending.push(...found);
  }

  const reduced = { $id: DOCUMENT_ID, components: { schemas }, bodies: bodySchemas };
  const makeAjv = (coerce: boolean): AjvInstance => {
    const ajv = new Ajv({
      strict: false,
      validateSchema: false,
      allErrors: true,
      verbose: true,
      ...(coerce ? { coerceTypes: "array" as const } : {}),
    });
    // GitHub uses formats of its own ("repo.nwo") next to standard ones. Every format in the
    // document is registered so none is unknown; date and date-time are checked because GitHub
    // rejects anything but ISO 8601 there, the rest are documentation.
    for (const format of formats) ajv.addFormat(format, FORMAT_CHECKS[format] ?? true);
    ajv.addSchema(reduced);
    return ajv;
  };

  contract = {
    openapiVersion: version,
    routes,
    schemas,
    bodySchemas,
    strict: makeAjv(false),
    coercing: makeAjv(true),
    bodyValidators: new Map(),
    paramValidators: new Map(),
    loadMs: 0,
  };
  contract.loadMs = performance.now() - started;
  return contract;
}

const FORMAT_CHECKS: Record<string, RegExp> = {
  "date-time": /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i,
  date: /^\d{4}-\d{2}-\d{2}$/,
};

function bodyValidator(c: Contract, key: string): ValidateFunction {
  let validate = c.bodyValidators.get(key);
  if (!validate) {
    validate = c.strict.compile({ $ref: `${DOCUMENT_ID}#/bodies/${escapePointer(key)}` });
    c.bodyValidators.set(key, validate);
  }
  return validate;
}

function paramValidator(c: Contract, op: OperationSpec, location: "path" | "query"): ValidateFunction {
  const key = `${location} ${op.method} ${op.template}`;
  let validate = c.paramValidators.get(key);
  if (!validate) {
    const params = op.params.filter((p) => p.location === location);
    // Parameter schemas hold `#/components/...` references, which rebase() points at the
    // registered document.
    validate = c.coercing.compile({
      type: "object",
      properties: Object.fromEntries(params.map((p) => [p.name, rebase(p.schema)])),
      required: params.filter((p) => p.required).map((p) => p.name),
    });
    c.paramValidators.set(key, validate);
  }
  return validate;
}

/** Points local references of a parameter schema at the registered document. */
function rebase(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(rebase);
  if (!isObject(schema)) return schema;
  return Object.fromEntries(
    Object.entries(schema).map(([k, v]) => [
      k,
      k === "$ref" && typeof v === "string" && v.startsWith("#") ? DOCUMENT_ID + v : rebase(v),
    ]),
  );
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

interface RouteMatch {
  route: Route;
  pathParams: Record<string, string>;
  tail: boolean;
}

function matchRoute(route: Route, segments: string[]): RouteMatch | undefined {
  const exact = route.segments.length === segments.length;
  const tail = !exact && route.slashyTail && segments.length > route.segments.length;
  if (!exact && !tail) return undefined;
  const pathParams: Record<string, string> = {};
  for (const [i, seg] of route.segments.entries()) {
    const isLast = i === route.segments.length - 1;
    const actual = isLast && tail ? segments.slice(i).join("/") : (segments[i] as string);
    if (seg.kind === "literal") {
      if (seg.text !== actual) return undefined;
    } else if (seg.kind === "param") {
      pathParams[seg.name] = decode(actual);
    } else {
      const m = seg.pattern.exec(actual);
      if (!m) return undefined;
      seg.names.forEach((name, j) => (pathParams[name] = decode(m[j + 1] ?? "")));
    }
  }
  return { route, pathParams, tail };
}

function compareRank(a: RouteMatch, b: RouteMatch): number {
  if (a.tail !== b.tail) return a.tail ? 1 : -1;
  const n = Math.min(a.route.rank.length, b.route.rank.length);
  for (let i = 0; i < n; i++) {
    const d = (a.route.rank[i] as number) - (b.route.rank[i] as number);
    if (d !== 0) return d;
  }
  return a.route.rank.length - b.route.rank.length;
}

function clip(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function describeAjvError(e: ErrorObject, where: string): string {
  const got = e.data === undefined ? "" : ` (got ${clip(e.data)})`;
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case "enum":
      return `${where}: must be one of ${(params.allowedValues as unknown[]).map((v) => clip(v)).join(", ")}${got}`;
    case "required":
      return `${where}: missing required property "${String(params.missingProperty)}"`;
    case "additionalProperties":
      return `${where}: unknown property "${String(params.additionalProperty)}"`;
    default:
      return `${where}: ${e.message ?? e.keyword}${got}`;
  }
}

/** Top-level property names a body schema lists, or undefined when the schema leaves them open. */
function knownProperties(c: Contract, schema: unknown, depth = 0): Set<string> | undefined {
  if (!isObject(schema) || depth > 8) return undefined;
  if (typeof schema.$ref === "string") {
    const name = schema.$ref.split("/").pop() ?? "";
    return knownProperties(c, c.schemas[name], depth + 1);
  }
  if (schema.type === "null") return new Set();
  if (schema.additionalProperties !== undefined) return undefined;
  const names = new Set(isObject(schema.properties) ? Object.keys(schema.properties) : []);
  let described = isObject(schema.properties);
  for (const key of ["allOf", "anyOf", "oneOf"]) {
    const list = schema[key];
    if (!Array.isArray(list)) continue;
    for (const part of list) {
      const partNames = knownProperties(c, part, depth + 1);
      if (!partNames) return undefined;
      for (const n of partNames) names.add(n);
      described = true;
    }
  }
  return described ? names : undefined;
}

function unknownPropertyErrors(c: Contract, schema: unknown, body: unknown): string[] {
  if (!isObject(body)) return [];
  const known = knownProperties(c, schema);
  if (!known || known.size === 0) return [];
  const errors: string[] = [];
  for (const key of Object.keys(body)) {
    if (known.has(key)) continue;
    const nearest = [...known].sort((a, b) => distance(key, a) - distance(key, b))[0];
    const close = nearest !== undefined && distance(key, nearest) <= Math.max(2, Math.floor(key.length / 3));
    errors.push(
      close
        ? `body/${escapePointer(key)}: unknown property "${key}" (did you mean "${nearest}"?)`
        : `body/${escapePointer(key)}: unknown property "${key}"; the schema lists ${[...known].sort().join(", ")}`,
    );
  }
  return errors;
}

function pathParamErrors(c: Contract, op: OperationSpec, pathParams: Record<string, string>): string[] {
  const errors: string[] = [];
  for (const [name, value] of Object.entries(pathParams)) {
    if (value === "") errors.push(`path parameter {${name}} is empty`);
    else if (SUSPICIOUS_PATH_VALUES.has(value) || /^\{.*\}$/.test(value))
      errors.push(
        `path parameter {${name}} is ${JSON.stringify(value)}: a value was missing when the URL was built`,
      );
  }
  if (errors.length > 0) return errors;
  const validate = paramValidator(c, op, "path");
  if (validate({ ...pathParams })) return [];
  return (validate.errors ?? []).map((e) => {
    const name =
      e.instancePath.split("/")[1] ?? String((e.params as Record<string, unknown>).missingProperty);
    return describeAjvError(e, `path parameter {${decode(name)}}`);
  });
}

function queryErrors(c: Contract, op: OperationSpec, search: URLSearchParams): string[] {
  const query: Record<string, string | string[]> = {};
  for (const [rawKey, value] of search) {
    const key = rawKey.endsWith("[]") ? rawKey.slice(0, -2) : rawKey;
    const previous = query[key];
    query[key] =
      previous === undefined ? value : [...(Array.isArray(previous) ? previous : [previous]), value];
  }
  // GitHub takes list-valued query parameters comma-separated (Octokit sends them that way).
  for (const p of op.params) {
    const value = query[p.name];
    if (p.location === "query" && p.schema.type === "array" && typeof value === "string") {
      query[p.name] = value.split(",");
    }
  }
  const validate = paramValidator(c, op, "query");
  if (validate(query)) return [];
  return (validate.errors ?? []).map((e) => {
    if (e.keyword === "required") {
      return `query parameter "${String((e.params as Record<string, unknown>).missingProperty)}" is required`;
    }
    const [, name = "", ...rest] = e.instancePath.split("/");
    const suffix = rest.length > 0 ? `/${rest.join("/")}` : "";
    return describeAjvError(e, `query parameter "${decode(name)}"${suffix}`);
  });
}

function suggestTemplate(c: Contract, method: Method, segments: string[]): string | undefined {
  let best: { template: string; cost: number } | undefined;
  for (const route of c.routes) {
    if (route.segments.length !== segments.length || !route.operations.has(method)) continue;
    let cost = 0;
    for (const [i, seg] of route.segments.entries()) {
      if (seg.kind === "literal") cost += distance(seg.text, segments[i] as string);
    }
    if (cost > 0 && (!best || cost < best.cost)) best = { template: route.template, cost };
  }
  return best && best.cost <= 3 ? best.template : undefined;
}

/** What a request carried. JSON arrives parsed; anything else as the text that was sent. */
export type RequestBody =
  { kind: "none" } | { kind: "json"; value: unknown } | { kind: "text"; text: string; contentType?: string };

export interface RequestToCheck {
  method: string;
  /** A full URL or a path with an optional query, e.g. "/repos/o/r/issues?state=open". */
  url: string;
  body: RequestBody;
  /**
   * Path prefix of the API base URL, e.g. "/api/v3" for GitHub Enterprise Server. When not
   * given, a leading "/api/v3" is removed.
   */
  basePath?: string;
  /** Top-level body properties the schema does not list are errors unless this is "ignore". */
  unknownBodyProperties?: "error" | "ignore";
}

export interface ContractCheck {
  ok: boolean;
  method: string;
  /** The API path with the base path removed, without the query. */
  path: string;
  operationId: string | undefined;
  /** The OpenAPI path template the request matched, e.g. "/repos/{owner}/{repo}/check-runs". */
  template: string | undefined;
  /** True when the method and path name no operation (GitHub answers 404). */
  unknownOperation: boolean;
  errors: string[];
}

/** Checks one request against GitHub's REST API description. Never throws for a bad request. */
export function checkRequest(request: RequestToCheck): ContractCheck {
  const c = loadContract();
  const upper = request.method.toUpperCase();
  const url = new URL(request.url, "https://api.github.com");
  const basePath = (request.basePath ?? (url.pathname.startsWith("/api/v3/") ? "/api/v3" : "")).replace(
    /\/$/,
    "",
  );
  const apiPath =
    basePath && url.pathname.startsWith(`${basePath}/`) ? url.pathname.slice(basePath.length) : url.pathname;
  const result = (fields: Partial<ContractCheck> & { errors: string[] }): ContractCheck => ({
    method: upper,
    path: apiPath,
    operationId: undefined,
    template: undefined,
    unknownOperation: false,
    ...fields,
    ok: fields.errors.length === 0,
  });

  // GitHub answers HEAD for every GET.
  const method = (upper === "HEAD" ? "get" : upper.toLowerCase()) as Method;
  if (!METHODS.includes(method)) {
    return result({ unknownOperation: true, errors: [`GitHub's REST API has no ${upper} operations`] });
  }

  const segments = apiPath.split("/").slice(1);
  const matches = c.routes
    .map((route) => matchRoute(route, segments))
    .filter((m): m is RouteMatch => m !== undefined)
    .sort(compareRank);
  const withMethod = matches.filter((m) => m.route.operations.has(method));
  if (withMethod.length === 0) {
    const first = matches[0];
    if (first) {
      const allowed = [...first.route.operations.keys()].map((m) => m.toUpperCase()).join(", ");
      return result({
        unknownOperation: true,
        errors: [`${upper} is not an operation on ${first.route.template} (it has ${allowed})`],
      });
    }
    const suggestion = suggestTemplate(c, method, segments);
    return result({
      unknownOperation: true,
      errors: [
        `no GitHub REST operation matches ${upper} ${apiPath}` +
          (suggestion ? ` (did you mean ${upper} ${suggestion}?)` : ""),
      ],
    });
  }

  // The most specific template wins; a less specific one only when its parameters fit better.
  let chosen = withMethod[0] as RouteMatch;
  let errors = pathParamErrors(c, chosen.route.operations.get(method) as OperationSpec, chosen.pathParams);
  for (const candidate of withMethod.slice(1)) {
    if (errors.length === 0) break;
    const candidateErrors = pathParamErrors(
      c,
      candidate.route.operations.get(method) as OperationSpec,
      candidate.pathParams,
    );
    if (candidateErrors.length === 0) {
      chosen = candidate;
      errors = candidateErrors;
    }
  }
  const op = chosen.route.operations.get(method) as OperationSpec;
  errors = [...errors, ...queryErrors(c, op, url.searchParams)];
  errors.push(...bodyErrors(c, op, request.body, request.unknownBodyProperties ?? "error"));
  return result({ operationId: op.operationId, template: op.template, errors });
}

function bodyErrors(
  c: Contract,
  op: OperationSpec,
  body: RequestBody,
  unknownBodyProperties: "error" | "ignore",
): string[] {
  const label = `${op.method.toUpperCase()} ${op.template}`;
  const sent = body.kind === "json" || (body.kind === "text" && body.text !== "");
  if (!sent) return op.body?.required ? [`${label} requires a request body; none was sent`] : [];
  if (!op.body) {
    const shown = body.kind === "json" ? clip(body.value) : clip(body.text);
    return [`${label} takes no request body, but one was sent: ${shown}`];
  }
  if (!op.body.schemaKey) return [];
  let value: unknown;
  if (body.kind === "json") value = body.value;
  else {
    try {
      value = JSON.parse(body.text);
    } catch {
      return [`${label} takes JSON, but the body is not JSON: ${clip(body.text)}`];
    }
  }
  const validate = bodyValidator(c, op.body.schemaKey);
  const errors = validate(value)
    ? []
    : (validate.errors ?? []).map((e) => describeAjvError(e, `body${e.instancePath}`));
  if (unknownBodyProperties === "error") {
    errors.push(...unknownPropertyErrors(c, c.bodySchemas[op.body.schemaKey], value));
  }
  return errors;
}

/**
 * Checks a request given as method, URL and parsed JSON body (`undefined` for none), e.g.
 * `validateRequest("POST", "/repos/o/r/check-runs", { name: "x", head_sha: "abc" })`.
 */
export function validateRequest(
  method: string,
  url: string,
  body?: unknown,
  options: { basePath?: string; unknownBodyProperties?: "error" | "ignore" } = {},
): ContractCheck {
  if (typeof method !== "string" || method.trim() === "") {
    throw new InputError(`validateRequest needs an HTTP method such as "POST"; got ${clip(method)}`);
  }
  if (typeof url !== "string" || (!url.startsWith("/") && !/^https?:\/\//.test(url))) {
    throw new InputError(`validateRequest needs a URL or a path starting with "/"; got ${clip(url)}`);
  }
  return checkRequest({
    method,
    url,
    body: body === undefined ? { kind: "none" } : { kind: "json", value: body },
    ...options,
  });
}

/** Which description is in use and what loading it cost, for reports and sanity tests. */
export function contractInfo(): { openapiVersion: string; operations: number; loadMs: number } {
  const c = loadContract();
  const operations = c.routes.reduce((n, r) => n + r.operations.size, 0);
  return { openapiVersion: c.openapiVersion, operations, loadMs: c.loadMs };
}
