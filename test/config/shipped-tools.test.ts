import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { loadConfig } from "../../src/config/load.js";
import type { ToolProfile } from "../../src/config/schema.js";
import { checkAvailability } from "../../src/runner/availability.js";

/**
 * The shipped mechanical fixers run the repository's own copy of the tool (npx --no --). These
 * run their real availability checks, so a check that always passes (as `npx --no prettier
 * --version` did, printing npm's own version) cannot slip back in.
 */
const ROOT = path.resolve(import.meta.dirname, "../..");
let tools: Map<string, ToolProfile>;
let empty: string;

beforeAll(async () => {
  tools = new Map((await loadConfig()).config.tools.map((t) => [t.name, t]));
  empty = await mkdtemp(path.join(os.tmpdir(), "switchyard-no-node-modules-"));
});
afterAll(() => rm(empty, { recursive: true, force: true }));

describe.each(["prettier", "eslint"])("the shipped %s profile", (name) => {
  it("is available in a repository that has it installed, and reports the tool's version", async () => {
    const result = await checkAvailability(tools.get(name)!, process.env, { cwd: ROOT });
    expect(result).toMatchObject({ available: true });
    // The tool's own version (prettier 3.x, eslint v10.x), not npm's.
    const version = (result as { version?: string }).version ?? "";
    expect(version).toMatch(name === "prettier" ? /^3\./ : /^v10\./);
  });

  it("is unavailable, with a reason, in a repository that does not have it", async () => {
    const result = await checkAvailability(tools.get(name)!, process.env, { cwd: empty });
    expect(result.available).toBe(false);
  });
});
