import { describe, expect, it } from "@jest/globals";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { parse } from "yaml";
import { packageRoot } from "../../src/config/defaults.js";

/**
 * Every YAML file shipped under config/ names its JSON Schema in a yaml-language-server comment on
 * its first line, and validates against it: what an editor would show is what the loader accepts.
 */

const root = packageRoot();
const HEADER = /^# yaml-language-server: \$schema=(\S+)\n/;

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(entry.name) ? [path] : [];
  });
}

const files = yamlFiles(join(root, "config"));

describe("shipped YAML", () => {
  it("includes the main configuration and the tool profiles", () => {
    const shown = files.map((f) => relative(root, f)).sort();
    expect(shown).toContain("config/switchyard.yml");
    for (const tool of ["aider", "codex", "claude", "gemini", "script", "prettier", "eslint"]) {
      expect(shown).toContain(`config/tools/${tool}.yml`);
    }
  });

  it.each(files.map((f) => [relative(root, f), f]))(
    "%s names an existing schema and validates against it",
    (_, file) => {
      const text = readFileSync(file, "utf8");
      const header = HEADER.exec(text);
      expect(header).not.toBeNull();
      const schemaPath = join(dirname(file), header![1]!);
      expect(existsSync(schemaPath)).toBe(true);
      const expected = file.includes(`${join("config", "tools")}`)
        ? "tool-profile.schema.json"
        : "config.schema.json";
      expect(schemaPath.endsWith(join("schema", expected))).toBe(true);

      const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
      const validate = ajv.compile(JSON.parse(readFileSync(schemaPath, "utf8")) as object);
      const ok = validate(parse(text));
      expect(validate.errors ?? []).toEqual([]);
      expect(ok).toBe(true);
    },
  );

  it("the schema rejects what the loader rejects (an editor flags the same typo)", () => {
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    const validate = ajv.compile(
      JSON.parse(readFileSync(join(root, "schema", "tool-profile.schema.json"), "utf8")) as object,
    );
    const profile = parse(readFileSync(join(root, "config", "tools", "claude.yml"), "utf8")) as Record<
      string,
      unknown
    >;
    expect(validate({ ...profile, timeout_secs: 5 })).toBe(false);
    expect(validate({ ...profile, prompt_via: "pipe" })).toBe(false);
  });
});
