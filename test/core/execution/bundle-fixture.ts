import type { PatchBundleManifest } from "../../../src/core/execution/bundle.js";
import { attempt, result } from "./fixtures.js";

/** A bundle manifest for octo/app#12 whose patch writes src/a.ts = "hello\n" (run 77, attempt 1). */
export const BASE = "a".repeat(40);
/** `printf 'hello\n' | git hash-object --stdin`. */
export const HELLO_BLOB = "ce013625030ba8dba906f756967f9e9ca394464a";
export const HELLO = new TextEncoder().encode("hello\n");

export function bundleManifest(extra: Partial<PatchBundleManifest> = {}): PatchBundleManifest {
  const file = {
    path: "src/a.ts",
    status: "added" as const,
    mode: "100644" as const,
    binary: false,
    additions: 1,
    deletions: 0,
  };
  return {
    version: 1,
    task_key: "octo/app#12",
    run_id: 77,
    run_attempt: 1,
    base_sha: BASE,
    result: result([attempt(1, "aider", "success", { files: [file] })], {
      tool: "aider",
      run_id: "77-1",
      diffstat: { files: 1, additions: 1, deletions: 0 },
    }),
    patch: {
      base_sha: BASE,
      tree_sha: "b".repeat(40),
      files: [file],
      entries: [{ path: "src/a.ts", deleted: false, mode: "100644", blob: HELLO_BLOB }],
      stats: { files: 1, additions: 1, deletions: 0 },
    },
    ...extra,
  };
}
