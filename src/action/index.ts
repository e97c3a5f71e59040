// The entry point GitHub runs (bundled to dist/index.js); all logic is in main.ts.
import { run } from "./main.js";

await run();
