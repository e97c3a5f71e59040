import { generateSchemas } from "../../config/json-schema.js";
import { EXIT, parseCommandArgs, UsageError, type Command } from "../io.js";

const usage = `Usage: switchyard schema [name] [--list]

Prints a JSON Schema generated from Switchyard's own types (the files in schema/), for editors and
for tools that validate Switchyard's outputs.

Arguments:
  name        which schema: config (default), tool-profile, task, routing-decision,
              execution-result, event, metrics
Options:
  --list      list the schema names
  -h, --help  show this help`;

export const schemaCommand: Command = {
  name: "schema",
  summary: "print the JSON Schema of the config, a task, a decision, an event ...",
  usage,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, { list: { type: "boolean" } });
    if (values.help) {
      io.stdout(usage + "\n");
      return EXIT.ok;
    }
    const schemas = generateSchemas();
    const names = Object.keys(schemas).map((file) => file.replace(/\.schema\.json$/, ""));
    if (values.list) {
      io.stdout(names.join("\n") + "\n");
      return EXIT.ok;
    }
    if (positionals.length > 1) throw new UsageError(`expected one schema name, got ${positionals.length}`);
    const name = positionals[0] ?? "config";
    const schema = schemas[`${name}.schema.json`];
    if (!schema) throw new UsageError(`unknown schema '${name}'; one of: ${names.join(", ")}`);
    io.stdout(JSON.stringify(schema, null, 2) + "\n");
    return EXIT.ok;
  },
};
