import { unzipSync } from "fflate";
import { z } from "zod";
import { InputError, SwitchyardError } from "../core/errors.js";
import { GitHubApiError, gitHubApiError, statusOf } from "./errors.js";
import type { GitHubClient } from "./octokit.js";

/**
 * Workflow-run artifacts: listing them and reading one into memory.
 *
 * An artifact is data a job produced, and the app reads the artifacts of jobs that ran untrusted
 * code (an AI tool on a runner). So a download is bounded twice: by the size GitHub reports
 * before a byte is fetched, and by counting the bytes as they arrive (the reported size is a
 * claim, not a guarantee). Each zip entry's declared size is checked before it is inflated, and
 * inflation writes into a buffer of exactly that size, so an entry that lies about its size is
 * cut short rather than allowed to fill memory. Entry names that could escape a directory are
 * refused, even though nothing here writes to disk, so the map is safe to hand to code that does.
 */

export interface ArtifactInfo {
  id: number;
  name: string;
  size_in_bytes: number;
  expired: boolean;
  created_at: string | null;
  workflow_run: { id: number; head_sha: string } | null;
}

/** The event logs of execute runs (events.jsonl), read by the analysis and the router's signals. */
export const EVENTS_ARTIFACT = "switchyard-events";
/** metrics.json from the scheduled analysis, read by the router's `metrics` strategy. */
export const METRICS_ARTIFACT = "switchyard-metrics";

/** Default bounds: a patch bundle is text; 50 MB zipped is far beyond any patch worth committing. */
export const DEFAULT_MAX_ARTIFACT_BYTES = 50 * 1024 * 1024;
export const DEFAULT_MAX_ENTRY_BYTES = 20 * 1024 * 1024;
/** Uncompressed bytes across all entries; the ratio guard against a zip of many small bombs. */
const MAX_TOTAL_RATIO = 4;
const MAX_ENTRIES = 10_000;
const PER_PAGE = 100;
/** Bounds the listing of one run's artifacts: a run has a handful, never thousands. */
const MAX_PAGES = 10;

/** The artifact expired or was deleted: GitHub answers 410, or marks it `expired`. */
export class ArtifactGoneError extends SwitchyardError {
  override name = "ArtifactGoneError";
  constructor(
    readonly artifact: Pick<ArtifactInfo, "id" | "name">,
    detail: string,
  ) {
    super(
      `artifact "${artifact.name}" (id ${artifact.id}) is no longer available: ${detail}; ` +
        "artifacts are kept for the workflow's retention period, so run the workflow again to produce a new one",
    );
  }
}

/** The artifact was downloaded or inspected and refused: too large, not a zip, a bad entry. */
export class ArtifactRejectedError extends InputError {
  override name = "ArtifactRejectedError";
  constructor(
    readonly artifact: Pick<ArtifactInfo, "id" | "name">,
    reason: string,
  ) {
    super(`artifact "${artifact.name}" (id ${artifact.id}) was refused: ${reason}`);
  }
}

const Owner = z.string().min(1);
const Id = z.number().int().min(1);

const ArtifactWireSchema = z.looseObject({
  id: z.number().int(),
  name: z.string(),
  size_in_bytes: z.number().int().min(0),
  expired: z.boolean(),
  created_at: z.string().nullish(),
  workflow_run: z.looseObject({ id: z.number().int().optional(), head_sha: z.string().optional() }).nullish(),
});

const ArtifactListSchema = z.looseObject({
  total_count: z.number().int().min(0),
  artifacts: z.array(ArtifactWireSchema),
});

function toInfo(a: z.infer<typeof ArtifactWireSchema>): ArtifactInfo {
  const run = a.workflow_run;
  return {
    id: a.id,
    name: a.name,
    size_in_bytes: a.size_in_bytes,
    expired: a.expired,
    created_at: a.created_at ?? null,
    workflow_run:
      run && run.id !== undefined && run.head_sha !== undefined
        ? { id: run.id, head_sha: run.head_sha }
        : null,
  };
}

function checkInput<T extends z.ZodType>(schema: T, input: unknown, doing: string): z.infer<T> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(`cannot ${doing}: ${issue.path.join(".") || "(input)"}: ${issue.message}`);
  }
  return parsed.data;
}

function parseList(data: unknown, where: string): z.infer<typeof ArtifactListSchema> {
  const list = ArtifactListSchema.safeParse(data);
  if (!list.success) {
    throw new GitHubApiError(`GitHub's list of artifacts for ${where} is not what its API documents`, null);
  }
  return list.data;
}

/** Every artifact of one workflow run, expired ones included (callers decide what expiry means). */
export async function listRunArtifacts(
  octokit: GitHubClient,
  input: { owner: string; repo: string; run_id: number },
): Promise<ArtifactInfo[]> {
  const i = checkInput(
    z.strictObject({ owner: Owner, repo: Owner, run_id: Id }),
    input,
    "list a workflow run's artifacts",
  );
  const where = `run ${i.run_id} in ${i.owner}/${i.repo}`;
  const found: ArtifactInfo[] = [];
  for (let page = 1; page <= MAX_PAGES; page++) {
    let data: unknown;
    try {
      ({ data } = await octokit.request("GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts", {
        owner: i.owner,
        repo: i.repo,
        run_id: i.run_id,
        per_page: PER_PAGE,
        page,
      }));
    } catch (error) {
      throw gitHubApiError(error, {
        doing: `listing the artifacts of ${where}`,
        permission: "actions: read",
      });
    }
    const list = parseList(data, where);
    found.push(...list.artifacts.map(toInfo));
    if (list.artifacts.length < PER_PAGE || found.length >= list.total_count) break;
  }
  return found;
}

export interface DownloadArtifactInput {
  owner: string;
  repo: string;
  artifact: ArtifactInfo;
  /** Largest zip accepted, in bytes. Default DEFAULT_MAX_ARTIFACT_BYTES. */
  maxBytes?: number;
  /** Largest single entry accepted once inflated, in bytes. Default DEFAULT_MAX_ENTRY_BYTES. */
  maxEntryBytes?: number;
}

const ArtifactInfoSchema = z.strictObject({
  id: Id,
  name: z.string().min(1),
  size_in_bytes: z.number().int().min(0),
  expired: z.boolean(),
  created_at: z.string().nullable(),
  workflow_run: z.strictObject({ id: z.number().int(), head_sha: z.string() }).nullable(),
});

const DownloadInputSchema = z.strictObject({
  owner: Owner,
  repo: Owner,
  artifact: ArtifactInfoSchema,
  maxBytes: z.number().int().min(1).optional(),
  maxEntryBytes: z.number().int().min(1).optional(),
});

/**
 * An entry name that stays inside the directory it is extracted to: relative, forward slashes,
 * no `.`/`..` segments, no drive letters, no control characters.
 */
export function safeEntryName(name: string): boolean {
  if (name.length === 0 || name.length > 1024) return false;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(name)) return false;
  if (name.startsWith("/") || /^[A-Za-z]:/.test(name)) return false;
  const segments = name.replace(/\/$/, "").split("/");
  return segments.every((s) => s !== "" && s !== "." && s !== "..");
}

/**
 * Downloads an artifact's zip and returns its files by name (directories left out).
 *
 * The zip endpoint answers 302 with a short-lived, pre-signed URL on another host; fetch follows
 * it and, because the host differs, drops the Authorization header on the way, so the
 * installation token is never sent to the storage host.
 */
export async function downloadArtifact(
  octokit: GitHubClient,
  input: DownloadArtifactInput,
): Promise<Map<string, Uint8Array>> {
  const i = checkInput(DownloadInputSchema, input, "download an artifact");
  const artifact = i.artifact;
  const maxBytes = i.maxBytes ?? DEFAULT_MAX_ARTIFACT_BYTES;
  const maxEntryBytes = i.maxEntryBytes ?? DEFAULT_MAX_ENTRY_BYTES;
  if (artifact.expired) throw new ArtifactGoneError(artifact, "GitHub marks it expired");
  if (artifact.size_in_bytes > maxBytes) {
    throw new ArtifactRejectedError(
      artifact,
      `it is ${artifact.size_in_bytes} bytes, more than the ${maxBytes} accepted; nothing was downloaded`,
    );
  }

  let body: unknown;
  try {
    ({ data: body } = await octokit.request(
      "GET /repos/{owner}/{repo}/actions/artifacts/{artifact_id}/{archive_format}",
      {
        owner: i.owner,
        repo: i.repo,
        artifact_id: artifact.id,
        archive_format: "zip",
        // The body is read below as a stream, so the byte limit holds whatever size was reported.
        request: { parseSuccessResponseBody: false },
      },
    ));
  } catch (error) {
    if (statusOf(error) === 410) throw new ArtifactGoneError(artifact, "GitHub answered 410 Gone");
    throw gitHubApiError(error, {
      doing: `downloading the artifact "${artifact.name}" (id ${artifact.id}) from ${i.owner}/${i.repo}`,
      permission: "actions: read",
    });
  }
  const zip = await readBounded(body, maxBytes, artifact);
  return unzipBounded(zip, artifact, maxEntryBytes, Math.max(maxBytes, zip.length) * MAX_TOTAL_RATIO);
}

async function readBounded(
  body: unknown,
  maxBytes: number,
  artifact: Pick<ArtifactInfo, "id" | "name">,
): Promise<Uint8Array> {
  if (body instanceof ArrayBuffer) return checkLength(new Uint8Array(body), maxBytes, artifact);
  if (body instanceof Uint8Array) return checkLength(body, maxBytes, artifact);
  if (!(body instanceof ReadableStream)) {
    throw new ArtifactRejectedError(artifact, "GitHub's answer had no body to read");
  }
  const reader = (body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new ArtifactRejectedError(
        artifact,
        `the download passed ${maxBytes} bytes (GitHub had reported ${artifact.name} smaller); it was stopped`,
      );
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function checkLength(bytes: Uint8Array, maxBytes: number, artifact: Pick<ArtifactInfo, "id" | "name">) {
  if (bytes.length > maxBytes) {
    throw new ArtifactRejectedError(
      artifact,
      `it is ${bytes.length} bytes, more than the ${maxBytes} accepted`,
    );
  }
  return bytes;
}

class EntryRefused extends Error {}

function unzipBounded(
  zip: Uint8Array,
  artifact: Pick<ArtifactInfo, "id" | "name">,
  maxEntryBytes: number,
  maxTotalBytes: number,
): Map<string, Uint8Array> {
  let entries = 0;
  let total = 0;
  const declared = new Map<string, number>();
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(zip, {
      // Runs on each central-directory entry before its data is touched.
      filter: (file) => {
        if (++entries > MAX_ENTRIES) throw new EntryRefused(`it has more than ${MAX_ENTRIES} entries`);
        if (!safeEntryName(file.name)) {
          throw new EntryRefused(`the entry name ${JSON.stringify(file.name)} could escape its directory`);
        }
        if (file.name.endsWith("/")) return false;
        if (declared.has(file.name)) throw new EntryRefused(`the entry "${file.name}" appears twice`);
        if (file.originalSize > maxEntryBytes) {
          throw new EntryRefused(
            `the entry "${file.name}" inflates to ${file.originalSize} bytes, more than the ${maxEntryBytes} accepted`,
          );
        }
        total += file.originalSize;
        if (total > maxTotalBytes) {
          throw new EntryRefused(`its entries inflate to more than ${maxTotalBytes} bytes in all`);
        }
        if (file.compression !== 0 && file.compression !== 8) {
          throw new EntryRefused(`the entry "${file.name}" uses compression method ${file.compression}`);
        }
        declared.set(file.name, file.originalSize);
        return true;
      },
    });
  } catch (error) {
    if (error instanceof EntryRefused) throw new ArtifactRejectedError(artifact, error.message);
    const said = error instanceof Error ? error.message : String(error);
    throw new ArtifactRejectedError(artifact, `it is not a readable zip archive (${said})`);
  }
  const out = new Map<string, Uint8Array>();
  for (const [name, bytes] of Object.entries(files)) {
    // The inflater stops at the declared size; an entry that came out shorter lied as well.
    if (bytes.length !== declared.get(name)) {
      throw new ArtifactRejectedError(
        artifact,
        `the entry "${name}" declared ${declared.get(name)} bytes but holds ${bytes.length}`,
      );
    }
    out.set(name, bytes);
  }
  return out;
}
