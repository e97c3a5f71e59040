import { describe, expect, it } from "@jest/globals";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { packageRoot } from "../../src/config/defaults.js";
import { generateSchemas, renderSchemaFile } from "../../src/config/json-schema.js";
import { syncSchemaDir } from "../../src/config/schema-cli.js";

const schemaDir = join(packageRoot(), "schema");

describe("schema/", () => {
  it("holds exactly the generated schemas, byte for byte (run `npm run schema` when this fails)", async () => {
    const generated = generateSchemas();
    const committed = (await readdir(schemaDir)).filter((f) => f.endsWith(".json")).sort();
    expect({ files: committed, hint: "run npm run schema" }).toEqual({
      files: Object.keys(generated).sort(),
      hint: "run npm run schema",
    });
    for (const [file, schema] of Object.entries(generated)) {
      const text = await readFile(join(schemaDir, file), "utf8");
      if (text !== renderSchemaFile(schema)) {
        throw new Error(`schema/${file} is stale: run npm run schema and commit the result`);
      }
    }
  });

  it("generates the seven schemas with an id, a title and a description", () => {
    const generated = generateSchemas();
    expect(Object.keys(generated)).toEqual([
      "config.schema.json",
      "tool-profile.schema.json",
      "task.schema.json",
      "routing-decision.schema.json",
      "execution-result.schema.json",
      "event.schema.json",
      "metrics.schema.json",
    ]);
    for (const [file, schema] of Object.entries(generated)) {
      expect(Object.keys(schema).slice(0, 3)).toEqual(["$schema", "$id", "title"]);
      expect(schema.$id).toBe(`https://switchyard.invalid/schema/${file}`);
      expect(typeof schema.description).toBe("string");
    }
  });

  it("compile as JSON Schema 2020-12", () => {
    const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
    for (const schema of Object.values(generateSchemas())) {
      expect(ajv.validateSchema(schema)).toBe(true);
      ajv.compile(schema);
    }
  });

  it("describes the files people write: defaults optional, a tool override needs only its name", () => {
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    const config = ajv.compile(generateSchemas()["config.schema.json"]!);
    expect(config({})).toBe(true);
    expect(config({ tools: [{ name: "claude", timeout_seconds: 60 }] })).toBe(true);
    expect(config({ tools: [{ name: "claude", timeout_secs: 60 }] })).toBe(false);
    expect(config({ routing: { strategy: "fastest" } })).toBe(false);
    const profile = ajv.compile(generateSchemas()["tool-profile.schema.json"]!);
    expect(profile({ name: "x", command: "x", capabilities: ["testing"] })).toBe(true);
    expect(profile({ name: "x", capabilities: ["testing"] })).toBe(false);
  });

  it("describes what Switchyard writes with defaults filled in (output side)", () => {
    const result = generateSchemas()["execution-result.schema.json"] as {
      properties: { attempts: { items: { required: string[] } } };
    };
    expect(result.properties.attempts.items.required).toContain("offending_paths");
  });
});

describe("npm run schema", () => {
  it("writes the files, deletes stale ones, and changes nothing in check mode", async () => {
    const dir = await mkdtemp(join(tmpdir(), "switchyard-schema-"));
    try {
      await writeFile(join(dir, "old.schema.json"), "{}\n");
      await writeFile(join(dir, "config.schema.json"), "{}\n");
      const check = await syncSchemaDir(dir, true);
      expect(check.removed).toEqual(["old.schema.json"]);
      expect(check.written).toHaveLength(7);
      expect(await readFile(join(dir, "config.schema.json"), "utf8")).toBe("{}\n");

      const write = await syncSchemaDir(dir, false);
      expect(write.removed).toEqual(["old.schema.json"]);
      expect((await readdir(dir)).sort()).toEqual(Object.keys(generateSchemas()).sort());

      const again = await syncSchemaDir(dir, true);
      expect(again).toEqual({ written: [], removed: [], unchanged: Object.keys(generateSchemas()) });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
