import { describe, expect, it } from "@jest/globals";
import {
  ArtifactBlobReader,
  bundleFiles,
  gitBlobId,
  parseBundleManifest,
  readBundle,
} from "../../../src/core/execution/bundle.js";
import { InputError } from "../../../src/core/errors.js";
import { attempt, result } from "./fixtures.js";
import { BASE, bundleManifest, HELLO, HELLO_BLOB } from "./bundle-fixture.js";

const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);
const diff = new TextEncoder().encode("diff --git a/src/a.ts b/src/a.ts\n");

describe("gitBlobId", () => {
  it("names content the way git does", () => {
    expect(gitBlobId(HELLO)).toBe(HELLO_BLOB);
    // `git hash-object` of an empty file.
    expect(gitBlobId(new Uint8Array())).toBe("e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
  });
});

describe("bundleFiles / readBundle", () => {
  it("round-trips a bundle: manifest, diff and the one blob", async () => {
    const files = bundleFiles({ manifest: bundleManifest(), diff, blobs: new Map([[HELLO_BLOB, HELLO]]) });
    expect([...files.keys()].sort()).toEqual(["blobs/" + HELLO_BLOB, "manifest.json", "patch.diff"]);
    const read = readBundle(files);
    expect(read.manifest).toEqual(bundleManifest());
    expect(read.patch?.diff).toEqual(diff);
    expect(read.patch?.entries).toEqual(bundleManifest().patch!.entries);
    expect(text(await read.blobs.readBlob(HELLO_BLOB))).toBe("hello\n");
  });

  it("writes a result without a patch when no attempt succeeded", () => {
    const failed = result([attempt(1, "aider", "tool_failed")], { outcome: "tool_failed" });
    const files = bundleFiles({
      manifest: bundleManifest({ result: failed, patch: null }),
      diff: new Uint8Array(),
      blobs: new Map(),
    });
    const read = readBundle(files);
    expect(read.patch).toBeNull();
    expect(read.result.outcome).toBe("tool_failed");
  });

  it("refuses to write a blob whose bytes do not match its id", () => {
    expect(() =>
      bundleFiles({
        manifest: bundleManifest(),
        diff,
        blobs: new Map([[HELLO_BLOB, new TextEncoder().encode("evil\n")]]),
      }),
    ).toThrow(
      new InputError(
        `the bundle's blob ${HELLO_BLOB} holds content whose id is ${gitBlobId(new TextEncoder().encode("evil\n"))}; ` +
          "refusing a forged or damaged file",
      ),
    );
  });

  it("refuses a forged blob when the bundle is read, and again when a blob is read", async () => {
    const files = bundleFiles({ manifest: bundleManifest(), diff, blobs: new Map([[HELLO_BLOB, HELLO]]) });
    const forged = new Map(files).set(`blobs/${HELLO_BLOB}`, new TextEncoder().encode("rm -rf /\n"));
    expect(() => readBundle(forged)).toThrow(/refusing a forged or damaged file/);
    await expect(new ArtifactBlobReader(forged).readBlob(HELLO_BLOB)).rejects.toThrow(
      /refusing a forged or damaged file/,
    );
    await expect(new ArtifactBlobReader(files).readBlob("not-a-sha")).rejects.toThrow(
      '"not-a-sha" is not a blob id',
    );
  });

  it("names what is missing", () => {
    const files = bundleFiles({ manifest: bundleManifest(), diff, blobs: new Map([[HELLO_BLOB, HELLO]]) });
    files.delete(`blobs/${HELLO_BLOB}`);
    expect(() => readBundle(files)).toThrow(
      `the bundle is missing 1 blob(s) its patch writes: ${HELLO_BLOB}`,
    );
    expect(() => readBundle(new Map())).toThrow("the bundle has no manifest.json");
    expect(() => readBundle(new Map([["manifest.json", new Uint8Array([0xff, 0xfe])]]))).toThrow(
      "the bundle's manifest.json is not UTF-8 JSON",
    );
  });
});

describe("PatchBundleManifestSchema", () => {
  it("refuses a patch that writes a path its files do not report", () => {
    const m = bundleManifest();
    m.patch!.entries.push({
      path: ".github/workflows/evil.yml",
      deleted: false,
      mode: "100644",
      blob: HELLO_BLOB,
    });
    expect(() => parseBundleManifest(m, "manifest.json")).toThrow(
      'manifest.json is not a valid patch bundle manifest: patch.entries: writes ".github/workflows/evil.yml", which its files do not report',
    );
  });

  it("refuses results, patches and task keys that disagree", () => {
    expect(() => parseBundleManifest(bundleManifest({ task_key: "octo/app#13" }), "m")).toThrow(
      "m is not a valid patch bundle manifest: result.task_key: is octo/app#12, not octo/app#13",
    );
    expect(() => parseBundleManifest(bundleManifest({ patch: null }), "m")).toThrow(
      "patch: a successful result needs its patch",
    );
    const other = bundleManifest();
    other.patch!.base_sha = "c".repeat(40);
    expect(() => parseBundleManifest(other, "m")).toThrow(
      `patch.base_sha: is ${"c".repeat(40)}, not ${BASE}`,
    );
    expect(() => parseBundleManifest({ ...bundleManifest(), version: 2 }, "m")).toThrow(/version/);
  });

  it("refuses unsafe paths through the patch schema", () => {
    const m = bundleManifest();
    m.patch!.entries[0] = { path: "../etc/passwd", deleted: false, mode: "100644", blob: HELLO_BLOB };
    expect(() => parseBundleManifest(m, "m")).toThrow(/unsafe path "\.\.\/etc\/passwd"/);
  });
});
