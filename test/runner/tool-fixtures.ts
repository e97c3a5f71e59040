import { mkdtemp, readFile, rm } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ToolProfileSchema, type ToolProfile } from "../../src/config/schema.js";

/** Helpers for tests that run the fixture tools in test/fixtures/tools as real subprocesses. */

export const FIXTURES = fileURLToPath(new URL("../fixtures/tools/", import.meta.url));

export function fixture(name: string): string {
  return join(FIXTURES, `${name}.mjs`);
}

type ProfileInput = Partial<Omit<ToolProfile, "availability" | "output">> & {
  availability?: Partial<ToolProfile["availability"]>;
  output?: Partial<ToolProfile["output"]>;
};

/** A parsed profile for a fixture, with the schema's defaults filled in. */
export function profile(tool: string, overrides: ProfileInput = {}): ToolProfile {
  return ToolProfileSchema.parse({
    name: "fixture",
    command: fixture(tool),
    capabilities: ["code_generation"],
    kind: "script",
    ...overrides,
  });
}

/** A fresh temporary directory; call the returned cleanup in afterEach. */
export async function tempDir(
  prefix = "switchyard-runner-test-",
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Whether a process is still running. A killed process whose parent has gone stays a zombie until
 * init reaps it (and some containers' init never does), so on Linux a zombie counts as dead.
 */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (process.platform !== "linux") return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

export async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function readPids(file: string): Promise<{ parent: number; child: number } | undefined> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as { parent: number; child: number };
  } catch {
    return undefined;
  }
}

/** A GitHub classic token shape, assembled so this file holds no token-looking literal. */
export function fakeGithubToken(seed = "Z9y8X7w6"): string {
  return ["gh", "p_"].join("") + seed.repeat(4) + "V5u4";
}

/** The token secret.mjs prints. */
export const SECRET_FIXTURE_TOKEN = fakeGithubToken();

/** Environment for running fixtures: PATH (to find node) and HOME, nothing else. */
export function baseEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, ...extra };
}
