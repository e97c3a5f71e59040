// Bundles the Action into dist/index.js, the file action.yml runs. CI rebuilds it and fails when
// the committed copy differs, so dist/ always matches src/.
import { build } from "esbuild";

await build({
  entryPoints: ["src/action/index.ts"],
  outfile: "dist/index.js",
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  // Some bundled dependencies are CommonJS and call require() for Node's own modules.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);",
  },
  legalComments: "external",
  logLevel: "warning",
});
