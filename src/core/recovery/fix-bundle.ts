import { z } from "zod";
import { NameSchema } from "../../config/schema.js";
import { packBundle, unpackBundle, type ArtifactBlobReader } from "../execution/bundle.js";
import {
  checkPatchAgainst,
  PatchManifestSchema,
  ShaSchema,
  type CapturedPatch,
} from "../execution/commit-port.js";
import { InputError } from "../errors.js";
import { LadderCategorySchema, MAX_FIXERS, RecoveryKeySchema } from "./ladder.js";

/**
 * The fix bundle: what the recover job hands the app when it may not commit itself (DESIGN,
 * "Trust": with the app installed the job that runs fixers and AI tools holds a read-only token).
 * Same layout and the same distrust as the execute job's patch bundle (core/execution/bundle.ts):
 *
 *     manifest.json   { version, kind: "recovery", key, run_id, run_attempt, failed_run_id,
 *                       head_sha, attempt, action, category, result, reason, fixers, patch }
 *     patch.diff      the unified diff, for people
 *     blobs/<id>      every file the patch writes, named by its git blob id
 *
 * `run_id`/`run_attempt` are the recover run's own (the app matches them with the run GitHub
 * reports); `failed_run_id`, `head_sha`, `attempt` and `action` repeat the dispatch, so the app
 * can check the bundle answers the step it dispatched. `result` is the step's result for the
 * ladder: fixed (with the patch) / no_fix / unavailable, so a step that made nothing is recorded
 * by the app as well, which the job cannot do with its read-only token.
 */

export const FIX_BUNDLE_VERSION = 1;
/** The artifact name the recover workflow uploads the bundle under. */
export const FIX_ARTIFACT_NAME = "switchyard-fix";

const FixActionSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("run_fixers"), tools: z.array(NameSchema).min(1).max(MAX_FIXERS) }),
  z.strictObject({ kind: z.literal("run_ai"), tool: NameSchema }),
]);

const FixerRecordSchema = z.strictObject({
  tool: NameSchema,
  status: z.enum(["changed", "unchanged", "failed", "unavailable"]),
  reason: z.string().max(2000),
  exit_code: z.number().int().nullable(),
  duration_ms: z.number().int().min(0),
  files: z.array(z.string().min(1).max(4096)).max(10_000),
});

export const FixBundleManifestSchema = z
  .strictObject({
    version: z.literal(FIX_BUNDLE_VERSION),
    kind: z.literal("recovery"),
    key: RecoveryKeySchema,
    run_id: z.number().int().min(1),
    run_attempt: z.number().int().min(1),
    failed_run_id: z.number().int().min(1),
    head_sha: ShaSchema,
    attempt: z.number().int().min(1).max(1000),
    action: FixActionSchema,
    category: LadderCategorySchema,
    result: z.enum(["fixed", "no_fix", "unavailable"]),
    reason: z.string().min(1).max(2000),
    fixers: z.array(FixerRecordSchema).max(MAX_FIXERS),
    patch: PatchManifestSchema.nullable(),
  })
  .superRefine((m, ctx) => {
    const problem = (message: string, path: (string | number)[]) =>
      ctx.addIssue({ code: "custom", message, path });
    if ((m.result === "fixed") !== (m.patch !== null)) {
      problem(m.patch === null ? "a fixed result needs its patch" : `a result of ${m.result} has no patch`, [
        "patch",
      ]);
    }
    if (m.patch !== null) checkPatchAgainst(m.patch, m.head_sha, problem);
  })
  .describe("manifest.json of the fix artifact the recover job uploads for the app to commit.");
export type FixBundleManifest = z.infer<typeof FixBundleManifestSchema>;

export function parseFixBundleManifest(raw: unknown, source: string): FixBundleManifest {
  const parsed = FixBundleManifestSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`)
    .join("; ");
  throw new InputError(`${source} is not a valid fix bundle manifest: ${issues}`);
}

export interface FixBundleInput {
  manifest: FixBundleManifest;
  /** The patch's unified diff; empty without a patch. */
  diff: Uint8Array;
  /** Every blob the patch needs, by id. */
  blobs: ReadonlyMap<string, Uint8Array>;
}

/** The bundle's files by relative path, ready to be written to a directory and uploaded. */
export function fixBundleFiles(input: FixBundleInput): Map<string, Uint8Array> {
  const manifest = parseFixBundleManifest(input.manifest, "the fix bundle's manifest");
  return packBundle(manifest, input.diff, input.blobs, "fix bundle");
}

export interface ReadFixBundle {
  manifest: FixBundleManifest;
  /** The patch with its diff, ready for a CommitPort; null unless the result is fixed. */
  patch: CapturedPatch | null;
  blobs: ArtifactBlobReader;
}

/** Reads an unzipped fix bundle; every blob is verified before anything is returned. */
export function readFixBundle(files: ReadonlyMap<string, Uint8Array>): ReadFixBundle {
  return unpackBundle(files, "fix bundle", parseFixBundleManifest);
}
