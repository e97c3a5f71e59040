import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { neededBlobs } from "../core/execution/bundle.js";
import type { CapturedPatch, PatchManifest } from "../core/execution/commit-port.js";
import type { GitCommandManager } from "./git.js";
import { GitBlobReader } from "./patch.js";

/**
 * A runner's side of a bundle (execute's patch, recovery's fix): the captured patch split into the
 * manifest's half and its diff, with every blob it writes read from the checkout's object
 * database, where the capture put it. No patch: no blobs, an empty diff.
 */
export async function bundleParts(
  git: GitCommandManager,
  patch: CapturedPatch | null,
): Promise<{ patch: PatchManifest | null; diff: Uint8Array; blobs: Map<string, Uint8Array> }> {
  const blobs = new Map<string, Uint8Array>();
  if (patch === null) return { patch: null, diff: new Uint8Array(), blobs };
  const reader = new GitBlobReader(git);
  for (const sha of neededBlobs(patch)) blobs.set(sha, await reader.readBlob(sha));
  const { diff, ...manifest } = patch;
  return { patch: manifest, diff, blobs };
}

/** Writes a bundle's files under `dir`: what the workflow's upload-artifact step uploads. */
export async function writeBundleDir(dir: string, files: ReadonlyMap<string, Uint8Array>): Promise<void> {
  for (const [name, bytes] of files) {
    const file = path.join(dir, ...name.split("/"));
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, bytes);
  }
}
