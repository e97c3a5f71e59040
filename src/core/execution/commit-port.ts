import { z } from "zod";
import { InputError } from "../errors.js";
import { unsafePathReason } from "../policy/patch-policy.js";
import { FileChangeSchema } from "./schema.js";

/**
 * What crosses from "a tool changed the checkout" to "a commit on Switchyard's branch": the
 * captured patch, and the port that commits it. The local-git implementation serves the CLI and
 * the tests; the GitHub one commits through the Git Data API as the app. Both take the same
 * input, so the patch carries what the Git Data API needs (every path to write with its mode and
 * blob id, every path to delete) as well as the unified diff a local repository replays.
 */

export const ShaSchema = z
  .string()
  .regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/, "a full commit or object id (40 or 64 lower-case hex digits)");

const RepoPathSchema = z.string().superRefine((path, ctx) => {
  const reason = unsafePathReason(path);
  if (reason !== null)
    ctx.addIssue({ code: "custom", message: `unsafe path ${JSON.stringify(path)}: ${reason}` });
});

/**
 * One path as it must be after the commit. A rename is two entries (a delete and a write), which
 * is exactly what a Git Data API tree needs. Mode 160000 (a gitlink) is recorded so nothing is
 * hidden, and refused by the patch policy.
 */
export const PatchEntrySchema = z.discriminatedUnion("deleted", [
  z.strictObject({
    path: RepoPathSchema,
    deleted: z.literal(false),
    mode: z.enum(["100644", "100755", "120000", "160000"]),
    /** The blob's id: read its bytes through a BlobReader; the patch never holds file contents. */
    blob: ShaSchema,
  }),
  z.strictObject({ path: RepoPathSchema, deleted: z.literal(true) }),
]);
export type PatchEntry = z.infer<typeof PatchEntrySchema>;

export const DiffStatSchema = z.strictObject({
  files: z.number().int().min(0),
  additions: z.number().int().min(0),
  deletions: z.number().int().min(0),
});
export type DiffStat = z.infer<typeof DiffStatSchema>;

/** The JSON half of a captured patch; the diff travels beside it as bytes (patch.diff). */
export const PatchManifestSchema = z
  .strictObject({
    base_sha: ShaSchema,
    /** The tree of base + patch: what a commit straight on the base would hold. */
    tree_sha: ShaSchema,
    files: z.array(FileChangeSchema),
    entries: z.array(PatchEntrySchema),
    stats: DiffStatSchema,
  })
  .describe(
    "A change set captured after a tool ran: the files for reports and policy, the entries to commit.",
  );
export type PatchManifest = z.infer<typeof PatchManifestSchema>;

/**
 * The checks a bundle's manifest makes of the patch it carries (execute's and recovery's): it was
 * captured on the commit the bundle names, and every path its files report is one its entries
 * write, and back. A forged manifest that hides a write behind an innocent file list fails here.
 */
export function checkPatchAgainst(
  patch: PatchManifest,
  baseSha: string,
  problem: (message: string, path: (string | number)[]) => void,
): void {
  if (patch.base_sha !== baseSha) problem(`is ${patch.base_sha}, not ${baseSha}`, ["patch", "base_sha"]);
  const reported = new Set(
    patch.files.flatMap((f) => (f.old_path === undefined ? [f.path] : [f.path, f.old_path])),
  );
  const written = new Set(patch.entries.map((e) => e.path));
  for (const path of written) {
    if (!reported.has(path))
      problem(`writes ${JSON.stringify(path)}, which its files do not report`, ["patch", "entries"]);
  }
  for (const path of reported) {
    if (!written.has(path))
      problem(`reports ${JSON.stringify(path)}, which its entries do not write`, ["patch", "files"]);
  }
}

/**
 * A manifest plus its unified diff (`git diff --binary`, applyable by `git apply`). The diff is
 * bytes, not a string: a text file in Latin-1 would not survive a UTF-8 round trip.
 */
export type CapturedPatch = PatchManifest & { diff: Uint8Array };

export function parsePatchManifest(raw: unknown, source: string): PatchManifest {
  const parsed = PatchManifestSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`)
    .join("; ");
  throw new InputError(`${source} is not a valid patch manifest: ${issues}`);
}

/** Where a commit port reads file contents from (the local object database, an artifact...). */
export interface BlobReader {
  readBlob(sha: string): Promise<Uint8Array>;
}

export interface CommitPatchInput {
  /** Switchyard's own branch, e.g. `switchyard/issue-12-fix-login`; never the default branch. */
  branch: string;
  /** The commit the tool ran on; must equal `patch.base_sha`. */
  baseSha: string;
  message: string;
  patch: CapturedPatch;
}

export type CommitPatchResult =
  | {
      ok: true;
      branch: string;
      /** The branch's tip after the call. */
      commitSha: string;
      /** The branch did not exist before (it was made from the base commit). */
      created: boolean;
      /** The branch existed and got a new commit on top; history is kept. */
      updated: boolean;
      /** The commit the patch was replayed on when that was not its base, else null. */
      rebasedOnto: string | null;
    }
  | {
      ok: false;
      reason: "branch_moved";
      branch: string;
      /** The branch tip the patch could not be replayed on. */
      theirSha: string;
      conflictingPaths: string[];
      message: string;
    };

/**
 * Commits a captured patch to a branch: created from the base commit when missing, updated with a
 * new commit on top when present, never duplicated and never force-pushed. A branch that moved
 * under us gets the patch replayed on its tip; when that conflicts the answer is
 * `branch_moved`, and the caller makes a new attempt from the new tip. An ok result with
 * `created` and `updated` both false means the tip already held exactly this change.
 */
export interface CommitPort {
  commitPatch(input: CommitPatchInput): Promise<CommitPatchResult>;
}

const CommitInputSchema = z.strictObject({
  branch: z.string().min(1).max(250),
  baseSha: ShaSchema,
  message: z.string().trim().min(1, "a commit message is required"),
  patch: PatchManifestSchema.extend({ diff: z.instanceof(Uint8Array) }),
});

/**
 * The checks every CommitPort makes before touching a repository: a well-formed input, a patch
 * captured on the base it is committed onto, and something to commit (an unchanged tree is the
 * outcome no_changes, never an empty commit).
 */
export function checkCommitInput(input: CommitPatchInput): CommitPatchInput {
  const parsed = CommitInputSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(`cannot commit the patch: ${issue.path.join(".") || "(input)"}: ${issue.message}`);
  }
  const { patch, baseSha } = input;
  if (patch.base_sha !== baseSha) {
    throw new InputError(`the patch was captured on ${patch.base_sha}, not on the base commit ${baseSha}`);
  }
  if (patch.files.length === 0 || patch.entries.length === 0) {
    throw new InputError("the patch is empty; an unchanged tree is the outcome no_changes, not a commit");
  }
  return { ...input, message: parsed.data.message };
}
