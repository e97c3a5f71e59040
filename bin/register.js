// Lets `node --import ./bin/register.js file.ts` run TypeScript sources directly (npm run schema, bench).
import { register } from "tsx/esm/api";
register();
