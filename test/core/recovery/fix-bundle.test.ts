import { describe, expect, it } from "@jest/globals";
import { gitBlobId } from "../../../src/core/execution/bundle.js";
import {
  fixBundleFiles,
  readFixBundle,
  type FixBundleManifest,
} from "../../../src/core/recovery/fix-bundle.js";

/** The recover job's bundle: nothing in it is taken on its word. */

const HEAD = "a".repeat(40);
const NO_FIX: FixBundleManifest = {
  version: 1,
  kind: "recovery",
  key: "acme/widgets#12",
  run_id: 5150,
  run_attempt: 1,
  failed_run_id: 4711,
  head_sha: HEAD,
  attempt: 2,
  action: { kind: "run_fixers", tools: ["prettier"] },
  category: "format",
  result: "no_fix",
  reason: "no fixer changed anything",
  fixers: [
    {
      tool: "prettier",
      status: "unchanged",
      reason: "nothing to format",
      exit_code: 0,
      duration_ms: 12,
      files: [],
    },
  ],
  patch: null,
};

describe("fix bundle", () => {
  it("carries a no_fix result without a patch, so the app can record it", () => {
    const read = readFixBundle(
      fixBundleFiles({ manifest: NO_FIX, diff: new Uint8Array(), blobs: new Map() }),
    );
    expect(read.patch).toBeNull();
    expect(read.manifest.result).toBe("no_fix");
    expect(read.manifest.fixers[0]!.status).toBe("unchanged");
  });

  it("refuses a fixed result without its patch", () => {
    expect(() =>
      fixBundleFiles({ manifest: { ...NO_FIX, result: "fixed" }, diff: new Uint8Array(), blobs: new Map() }),
    ).toThrow(
      "the fix bundle's manifest is not a valid fix bundle manifest: patch: a fixed result needs its patch",
    );
  });

  it("refuses a blob whose bytes do not match its id", () => {
    const real = new TextEncoder().encode("ok\n");
    const id = gitBlobId(real);
    const manifest: FixBundleManifest = {
      ...NO_FIX,
      result: "fixed",
      patch: {
        base_sha: HEAD,
        tree_sha: "b".repeat(40),
        files: [{ path: "a.txt", status: "modified", binary: false, additions: 1, deletions: 1 }],
        entries: [{ path: "a.txt", mode: "100644", blob: id, deleted: false }],
        stats: { files: 1, additions: 1, deletions: 1 },
      } as FixBundleManifest["patch"],
    };
    const files = fixBundleFiles({ manifest, diff: new Uint8Array([1]), blobs: new Map([[id, real]]) });
    expect(readFixBundle(files).patch!.entries[0]).toMatchObject({ deleted: false, blob: id });
    files.set(`blobs/${id}`, new TextEncoder().encode("forged\n"));
    expect(() => readFixBundle(files)).toThrow(
      `the fix bundle's blob ${id} holds content whose id is ${gitBlobId(new TextEncoder().encode("forged\n"))}; refusing a forged or damaged file`,
    );
  });
});
