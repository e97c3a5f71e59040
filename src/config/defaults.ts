import { existsSync, readFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../core/errors.js";
import { readConfigFile } from "./read-file.js";
import type { ConfigSource } from "./yaml-source.js";

/**
 * The shipped defaults: config/switchyard.yml and one profile per tool in config/tools/*.yml,
 * found next to the installed package (src/ when run from source, lib/ or a bundle when built).
 */

let cachedRoot: string | undefined;

/** The directory of Switchyard's own package.json, found by walking up from this module. */
export function packageRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest) && isSwitchyardManifest(manifest)) {
      cachedRoot = dir;
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) {
      throw new ConfigError([
        {
          file: fileURLToPath(import.meta.url),
          message: "cannot find Switchyard's package directory, so the default configuration is missing",
          hint: "reinstall Switchyard, or pass defaultsDir",
        },
      ]);
    }
    dir = parent;
  }
}

function isSwitchyardManifest(path: string): boolean {
  try {
    return (JSON.parse(readFileSync(path, "utf8")) as { name?: unknown }).name === "switchyard";
  } catch {
    return false;
  }
}

export function defaultConfigDir(): string {
  return join(packageRoot(), "config");
}

const cache = new Map<string, Promise<readonly ConfigSource[]>>();

/**
 * The default sources, read once per directory and process: configuration is loaded for every
 * event the app handles, the defaults never change while it runs.
 */
export function loadDefaultSources(dir: string = defaultConfigDir()): Promise<readonly ConfigSource[]> {
  const key = resolve(dir);
  let pending = cache.get(key);
  if (!pending) {
    // Frozen: every caller shares the one array.
    pending = readDefaultSources(key).then((sources) => Object.freeze(sources.map((s) => Object.freeze(s))));
    cache.set(key, pending);
    // A failed read is not remembered, so fixing the file fixes the next load.
    pending.catch(() => cache.delete(key));
  }
  return pending;
}

async function readDefaultSources(dir: string): Promise<ConfigSource[]> {
  // Files are shown relative to the directory holding the defaults: "config/tools/claude.yml".
  const base = dirname(dir);
  const display = (path: string) => relative(base, path).split(sep).join("/");

  const mainPath = join(dir, "switchyard.yml");
  const main = await readConfigFile(mainPath, display(mainPath));
  if (!main) {
    throw new ConfigError([
      { file: display(mainPath), message: "is missing from the default configuration" },
    ]);
  }
  let names: string[] = [];
  try {
    names = (await readdir(join(dir, "tools"))).filter((n) => n.endsWith(".yml")).sort();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "ENOENT") {
      throw new ConfigError([
        { file: display(join(dir, "tools")), message: `cannot be listed (${code ?? error})` },
      ]);
    }
  }
  const tools = await Promise.all(
    names.map((n) => readConfigFile(join(dir, "tools", n), display(join(dir, "tools", n)), "tool")),
  );
  return [main, ...tools.filter((t): t is ConfigSource => t !== null)];
}
