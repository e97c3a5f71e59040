import { createHash } from "node:crypto";
import { z } from "zod";
import { InputError } from "../errors.js";
import {
  checkPatchAgainst,
  PatchManifestSchema,
  ShaSchema,
  type BlobReader,
  type CapturedPatch,
  type PatchManifest,
} from "./commit-port.js";
import { ExecutionResultSchema, type ExecutionResult } from "./schema.js";

/**
 * The patch bundle: what the execute job hands the app when it may not commit itself (DESIGN,
 * "Trust": with the app installed the job holds a read-only token). The job writes it as a
 * directory, actions/upload-artifact zips it, the app downloads and reads it:
 *
 *     manifest.json   { version, task_key, run_id, run_attempt, base_sha, result, patch }
 *     patch.diff      the unified diff (`git diff --binary`), for people and for replaying
 *     blobs/<id>      the content of every file the patch writes, named by its git blob id
 *
 * Everything in it was written on a runner that ran an AI tool, so nothing is taken on its word:
 * the manifest is checked by schema and for consistency (the files it reports are the paths it
 * writes), and each blob is hashed the way git names objects, so a blob file whose bytes do not
 * match its name is refused before anything is committed. Hashing is computation, not I/O, which
 * is why it is done here in the pure core.
 */

export const BUNDLE_VERSION = 1;
export const BUNDLE_MANIFEST_FILE = "manifest.json";
export const BUNDLE_DIFF_FILE = "patch.diff";
export const BUNDLE_BLOB_DIR = "blobs/";
/** The artifact name the execute workflow uploads the bundle under. */
export const PATCH_ARTIFACT_NAME = "switchyard-patch";

const TaskKeySchema = z.string().regex(/^[^/\s]+\/[^#\s]+#\d+$/, "a task key such as owner/repo#12");

export const PatchBundleManifestSchema = z
  .strictObject({
    version: z.literal(BUNDLE_VERSION),
    task_key: TaskKeySchema,
    /** The workflow run that produced the bundle (GITHUB_RUN_ID) and its attempt. */
    run_id: z.number().int().min(1),
    run_attempt: z.number().int().min(1),
    base_sha: ShaSchema,
    result: ExecutionResultSchema,
    /** The winning attempt's patch; null when no attempt succeeded (the result says why). */
    patch: PatchManifestSchema.nullable(),
  })
  .superRefine((m, ctx) => {
    const problem = (message: string, path: (string | number)[]) =>
      ctx.addIssue({ code: "custom", message, path });
    if (m.result.task_key !== m.task_key)
      problem(`is ${m.result.task_key}, not ${m.task_key}`, ["result", "task_key"]);
    if (m.result.base_sha !== m.base_sha)
      problem(`is ${m.result.base_sha}, not ${m.base_sha}`, ["result", "base_sha"]);
    if ((m.result.outcome === "success") !== (m.patch !== null)) {
      problem(
        m.patch === null
          ? "a successful result needs its patch"
          : `a result of ${m.result.outcome} has no patch`,
        ["patch"],
      );
    }
    if (m.patch !== null) checkPatchAgainst(m.patch, m.base_sha, problem);
  })
  .describe("manifest.json of the patch artifact the execute job uploads for the app to commit.");
export type PatchBundleManifest = z.infer<typeof PatchBundleManifestSchema>;

/** The id git gives a blob: SHA-1 (or SHA-256 in a SHA-256 repository) of `blob <size>\0<bytes>`. */
export function gitBlobId(bytes: Uint8Array, algorithm: "sha1" | "sha256" = "sha1"): string {
  return createHash(algorithm).update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
}

function checkBlob(sha: string, bytes: Uint8Array, what = "bundle"): void {
  const actual = gitBlobId(bytes, sha.length === 64 ? "sha256" : "sha1");
  if (actual !== sha) {
    throw new InputError(
      `the ${what}'s blob ${sha} holds content whose id is ${actual}; refusing a forged or damaged file`,
    );
  }
}

/** The blob ids a patch needs: every file it writes (a gitlink has no blob; policy refuses it). */
export function neededBlobs(patch: PatchManifest): string[] {
  const ids = patch.entries.flatMap((e) => (!e.deleted && e.mode !== "160000" ? [e.blob] : []));
  return [...new Set(ids)].sort();
}

export interface BundleInput {
  manifest: PatchBundleManifest;
  /** The patch's unified diff; empty without a patch. */
  diff: Uint8Array;
  /** Every blob the patch needs, by id. */
  blobs: ReadonlyMap<string, Uint8Array>;
}

/** The bundle's files by relative path, ready to be written to a directory and uploaded. */
export function bundleFiles(input: BundleInput): Map<string, Uint8Array> {
  const manifest = parseBundleManifest(input.manifest, "the bundle's manifest");
  return packBundle(manifest, input.diff, input.blobs, "bundle");
}

/**
 * The files of a bundle, execute's or recovery's (`what` names it in errors): its manifest, the
 * patch's diff, and every blob the patch writes, each checked against its id.
 */
export function packBundle(
  manifest: { patch: PatchManifest | null },
  diff: Uint8Array,
  blobs: ReadonlyMap<string, Uint8Array>,
  what: string,
): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  files.set(BUNDLE_MANIFEST_FILE, new TextEncoder().encode(JSON.stringify(manifest, null, 2) + "\n"));
  files.set(BUNDLE_DIFF_FILE, diff);
  for (const sha of manifest.patch === null ? [] : neededBlobs(manifest.patch)) {
    const bytes = blobs.get(sha);
    if (bytes === undefined)
      throw new InputError(`the ${what} is missing blob ${sha}, which the patch writes`);
    checkBlob(sha, bytes, what);
    files.set(`${BUNDLE_BLOB_DIR}${sha}`, bytes);
  }
  return files;
}

export function parseBundleManifest(raw: unknown, source: string): PatchBundleManifest {
  const parsed = PatchBundleManifestSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`)
    .join("; ");
  throw new InputError(`${source} is not a valid patch bundle manifest: ${issues}`);
}

export interface ReadBundle {
  manifest: PatchBundleManifest;
  /** The patch with its diff, ready for a CommitPort; null when no attempt succeeded. */
  patch: CapturedPatch | null;
  result: ExecutionResult;
  blobs: ArtifactBlobReader;
}

/** Reads an unzipped bundle. Throws InputError naming what is missing or wrong. */
export function readBundle(files: ReadonlyMap<string, Uint8Array>): ReadBundle {
  const read = unpackBundle(files, "bundle", parseBundleManifest);
  return { ...read, result: read.manifest.result };
}

/**
 * Reads an unzipped bundle, execute's or recovery's (`what` names it in errors, `parse` checks its
 * manifest). Every blob the patch writes is verified now, so a forged file is refused before
 * anything is sent anywhere.
 */
export function unpackBundle<M extends { patch: PatchManifest | null }>(
  files: ReadonlyMap<string, Uint8Array>,
  what: string,
  parse: (raw: unknown, source: string) => M,
): { manifest: M; patch: CapturedPatch | null; blobs: ArtifactBlobReader } {
  const manifestBytes = files.get(BUNDLE_MANIFEST_FILE);
  if (manifestBytes === undefined) throw new InputError(`the ${what} has no ${BUNDLE_MANIFEST_FILE}`);
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(manifestBytes));
  } catch {
    throw new InputError(`the ${what}'s ${BUNDLE_MANIFEST_FILE} is not UTF-8 JSON`);
  }
  const manifest = parse(raw, `the ${what}'s ${BUNDLE_MANIFEST_FILE}`);
  let patch: CapturedPatch | null = null;
  if (manifest.patch !== null) {
    const diff = files.get(BUNDLE_DIFF_FILE);
    if (diff === undefined) throw new InputError(`the ${what} has a patch but no ${BUNDLE_DIFF_FILE}`);
    const needed = neededBlobs(manifest.patch);
    const missing = needed.filter((sha) => !files.has(`${BUNDLE_BLOB_DIR}${sha}`));
    if (missing.length > 0) {
      throw new InputError(
        `the ${what} is missing ${missing.length} blob(s) its patch writes: ${missing.join(", ")}`,
      );
    }
    for (const sha of needed) checkBlob(sha, files.get(`${BUNDLE_BLOB_DIR}${sha}`)!, what);
    patch = { ...manifest.patch, diff };
  }
  return { manifest, patch, blobs: new ArtifactBlobReader(files, what) };
}

/**
 * A BlobReader over an unzipped bundle. Every read is verified against the id asked for, so the
 * commit port can only ever write the content the manifest (and its tree id) names.
 */
export class ArtifactBlobReader implements BlobReader {
  constructor(
    private readonly files: ReadonlyMap<string, Uint8Array>,
    private readonly what = "bundle",
  ) {}

  async readBlob(sha: string): Promise<Uint8Array> {
    if (!ShaSchema.safeParse(sha).success) throw new InputError(`"${sha}" is not a blob id`);
    const bytes = this.files.get(`${BUNDLE_BLOB_DIR}${sha}`);
    if (bytes === undefined) throw new InputError(`the ${this.what} has no blob ${sha}`);
    checkBlob(sha, bytes, this.what);
    return bytes;
  }
}
