import { stat } from "node:fs/promises";
import { z } from "zod";
import { isAbsolute, join, resolve } from "node:path";
import { ConfigError, type Problem } from "../core/errors.js";
import { defaultConfigDir, loadDefaultSources } from "./defaults.js";
import { mergeValues } from "./merge.js";
import { readConfigFile } from "./read-file.js";
import type { Config } from "./schema.js";
import { crossCheck, validateConfig } from "./validate.js";
import { locations, parseYamlSource, type ConfigSource } from "./yaml-source.js";

export type { ConfigSource } from "./yaml-source.js";
export { loadDefaultSources } from "./defaults.js";

/** Where a repository keeps its configuration, relative to its root. */
export const REPO_CONFIG_PATH = ".github/switchyard.yml";

export interface LoadedConfig {
  config: Config;
  /** The files that made it, in the order they were applied. */
  sources: string[];
  /** Problems that do not stop Switchyard but are worth showing (a chain naming an incapable tool...). */
  warnings: Problem[];
}

/**
 * Parses, merges and validates configuration sources: no file system, so the GitHub app can pass
 * the text of .github/switchyard.yml it fetched through the API, and tests can pass strings.
 * `defaults` are applied first (a "config" source plus "tool" sources), then `overrides` in order.
 * Throws one ConfigError carrying every problem found at the stage that failed: YAML first (a
 * file that cannot be read would only produce misleading schema errors), then the schema, then
 * the references between sections.
 */
export function parseConfigSources(
  defaults: readonly ConfigSource[],
  overrides: readonly ConfigSource[],
): LoadedConfig {
  const sources = checkSources([...defaults, ...overrides]);
  const key = cacheKey(sources);
  const cached = key === null ? undefined : parsedCache.get(key);
  if (cached) {
    // Refreshed as most recently used, so the repositories that are busy stay cached.
    parsedCache.delete(key!);
    parsedCache.set(key!, cached);
    return cached;
  }
  const loaded = deepFreeze(parseUncached(sources));
  if (key !== null) {
    parsedCache.set(key, loaded);
    if (parsedCache.size > PARSED_CACHE_ENTRIES) parsedCache.delete(parsedCache.keys().next().value!);
  }
  return loaded;
}

/**
 * The app parses the same texts for every delivery (the shipped defaults, and a repository's
 * file until it changes): YAML, merge, schema and cross-checks cost more than the rest of a route
 * together. A result depends on nothing but the sources' names, kinds and texts, so it is kept by
 * those, a bounded number of them, and frozen, since every caller shares it. Failures are not
 * kept: they are rare, and a ConfigError is thrown fresh each time.
 */
const parsedCache = new Map<string, LoadedConfig>();
const PARSED_CACHE_ENTRIES = 64;
/** Sources larger than this together are parsed every time rather than held in memory. */
const MAX_CACHED_SOURCE_CHARS = 256 * 1024;

function cacheKey(sources: readonly ConfigSource[]): string | null {
  let size = 0;
  for (const s of sources) size += s.file.length + s.text.length;
  if (size > MAX_CACHED_SOURCE_CHARS) return null;
  // NUL and SOH cannot occur in a file name; a text containing them still yields a distinct key,
  // since each text is preceded by its length.
  return sources
    .map((s) => `${s.file}\u0000${s.kind ?? ""}\u0000${s.text.length}\u0000${s.text}`)
    .join("\u0001");
}

function deepFreeze<T>(value: T, seen = new WeakSet<object>()): T {
  if (typeof value === "object" && value !== null && !seen.has(value)) {
    seen.add(value);
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child, seen);
  }
  return value;
}

function parseUncached(sources: ConfigSource[]): LoadedConfig {
  const order = new Map(sources.map((s, i) => [s.file, i] as const));
  const sorted = (problems: Problem[]) => capProblems(sortProblems(problems, order));

  const problems: Problem[] = [];
  const layers: Record<string, unknown>[] = [];
  for (const source of sources) {
    const parsed = parseYamlSource(source);
    if (!parsed.ok) {
      problems.push(...parsed.problems);
      continue;
    }
    if (parsed.kind === "config") {
      layers.push(parsed.value);
      continue;
    }
    const layer = toolLayer(parsed.file, parsed.value, problems);
    if (layer) layers.push(layer);
  }
  if (problems.length > 0) throw new ConfigError(sorted(problems));

  let merged: Record<string, unknown> = {};
  for (const layer of layers) {
    merged = mergeValues(merged, layer, (p) => problems.push(p)) as Record<string, unknown>;
  }
  if (problems.length > 0) throw new ConfigError(sorted(problems));

  const validated = validateConfig(merged);
  if (!validated.ok) throw new ConfigError(sorted(validated.problems));

  const { errors, warnings } = crossCheck(merged, validated.config, (file) => order.get(file) ?? -1);
  if (errors.length > 0) throw new ConfigError(sorted(errors));
  return { config: validated.config, sources: sources.map((s) => s.file), warnings: sorted(warnings) };
}

const SourceListSchema = z.array(
  z.object({ file: z.string().min(1), text: z.string(), kind: z.enum(["config", "tool"]).optional() }),
);

/** Callers in plain JavaScript (or with API data) could hand anything; refuse it as a config problem. */
function checkSources(sources: unknown[]): ConfigSource[] {
  const result = SourceListSchema.safeParse(sources);
  if (result.success) return sources as ConfigSource[];
  throw new ConfigError(
    result.error.issues.map((issue) => ({
      file: "<configuration sources>",
      path: issue.path.join("."),
      message: `invalid source: ${issue.message}`,
    })),
  );
}

/** A tool profile file becomes `{ tools: [profile] }`, so it merges like any other layer. */
function toolLayer(file: string, profile: Record<string, unknown>, problems: Problem[]) {
  const loc = locations.get(profile)?.self ?? { file, line: 1, column: 1 };
  if (typeof profile.name !== "string") {
    problems.push({
      ...(locations.get(profile)?.keys.get("name") ?? loc),
      path: "name",
      message: "a tool profile needs a name (a string)",
      hint: "add 'name: <tool>' matching the file name",
    });
    return null;
  }
  const stem = /([^/\\]+)\.ya?ml$/.exec(file)?.[1];
  if (stem !== undefined && stem !== profile.name) {
    problems.push({
      ...(locations.get(profile)?.keys.get("name") ?? loc),
      path: "name",
      message: `the file is ${stem}.yml but the profile is named '${profile.name}'`,
      hint: `rename the file or set 'name: ${stem}'`,
    });
    return null;
  }
  const list = [profile];
  locations.set(list, { self: loc, keys: new Map([[0, loc]]) });
  const layer = { tools: list };
  locations.set(layer, { self: loc, keys: new Map([["tools", loc]]) });
  return layer;
}

/** Beyond this, more problems add nothing a person can use, and a check-run summary has a size limit. */
export const MAX_PROBLEMS = 50;

function capProblems(problems: Problem[]): Problem[] {
  if (problems.length <= MAX_PROBLEMS) return problems;
  const last = problems[MAX_PROBLEMS - 1]!;
  return [
    ...problems.slice(0, MAX_PROBLEMS - 1),
    {
      file: last.file,
      message: `and ${problems.length - MAX_PROBLEMS + 1} more problems`,
      hint: "fix these first",
    },
  ];
}

function sortProblems(problems: Problem[], order: Map<string, number>): Problem[] {
  return problems
    .map((p, i) => ({ p, i }))
    .sort(
      (a, b) =>
        (order.get(a.p.file) ?? order.size) - (order.get(b.p.file) ?? order.size) ||
        (a.p.line ?? 0) - (b.p.line ?? 0) ||
        (a.p.column ?? 0) - (b.p.column ?? 0) ||
        a.i - b.i,
    )
    .map(({ p }) => p);
}

export interface LoadConfigOptions {
  /** A checkout whose .github/switchyard.yml (if present) overrides the defaults. */
  repoDir?: string;
  /** An explicit override file (must exist); relative paths resolve against repoDir or the cwd. */
  configPath?: string;
  /** Another directory of defaults (switchyard.yml + tools/*.yml) instead of the shipped ones. */
  defaultsDir?: string;
  /** Override text the caller already has, e.g. fetched through the GitHub API. */
  override?: ConfigSource;
}

/**
 * Loads the shipped defaults (read once per process) and the repository override, then parses,
 * merges and validates them. Every failure, from a missing file to an unknown tool in a chain, is
 * a ConfigError.
 */
export async function loadConfig(opts: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const defaults = await loadDefaultSources(opts.defaultsDir ?? defaultConfigDir());
  const overrides: ConfigSource[] = [];
  if (opts.configPath !== undefined) {
    const path = isAbsolute(opts.configPath)
      ? opts.configPath
      : resolve(opts.repoDir ?? ".", opts.configPath);
    const source = await readConfigFile(path, opts.configPath);
    if (!source) {
      throw new ConfigError([{ file: opts.configPath, message: "does not exist", hint: "check the path" }]);
    }
    overrides.push(source);
  } else if (opts.repoDir !== undefined) {
    const source = await readConfigFile(join(opts.repoDir, REPO_CONFIG_PATH), REPO_CONFIG_PATH);
    if (source) overrides.push(source);
    else await refuseYamlExtension(opts.repoDir);
  }
  if (opts.override) overrides.push(opts.override);
  return parseConfigSources(defaults, overrides);
}

/** The app fetches exactly .github/switchyard.yml; a .yaml file would be silently ignored there. */
async function refuseYamlExtension(repoDir: string): Promise<void> {
  const other = ".github/switchyard.yaml";
  const found = await stat(join(repoDir, other)).then(
    (s) => s.isFile(),
    () => false,
  );
  if (found) {
    throw new ConfigError([
      {
        file: other,
        message: `is not read: Switchyard's configuration file is ${REPO_CONFIG_PATH}`,
        hint: `rename it to ${REPO_CONFIG_PATH}`,
      },
    ]);
  }
}
