/**
 * `npm start`: runs the GitHub App with Probot's usual environment. Checks the environment before
 * loading anything else, so a first run without credentials prints what to set (exit 1) instead
 * of a stack trace.
 */
import { readFile } from "node:fs/promises";
import { formatEnvReport, readAppEnv } from "./env.js";
import { startServer } from "./server.js";

async function main(): Promise<void> {
  const env = readAppEnv(process.env);
  if (!env.ok) {
    console.error(formatEnvReport(env));
    process.exitCode = 1;
    return;
  }
  const pkg = JSON.parse(await readFile(new URL("../../package.json", import.meta.url), "utf8")) as {
    version?: string;
  };
  const { default: switchyardApp } = await import("./index.js");
  const server = await startServer({
    appFn: switchyardApp,
    options: env.options,
    version: pkg.version ?? "0.0.0",
  });

  // Probot answers a failed handler with a 500 and logs it; anything that still escapes is a bug
  // to log, not a reason to drop every other delivery in flight.
  process.on("unhandledRejection", (reason) => {
    server.log.error({ err: reason }, "unhandled rejection (kept running)");
  });
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      server.log.info({ signal }, "stopping");
      server.close().then(
        () => process.exit(0),
        (error: unknown) => {
          server.log.error({ err: error }, "error while stopping");
          process.exit(1);
        },
      );
    });
  }
}

main().catch((error: unknown) => {
  console.error(`switchyard app: cannot start: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
