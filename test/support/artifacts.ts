import { jest } from "@jest/globals";
import { zipSync } from "fflate";
import nock from "nock";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { GithubApi } from "./github-contract.js";

/**
 * The two halves of an artifact's trip in tests: a real job writes its bundle to a directory
 * (`inActionsJob` + `zipDirectory`, what actions/upload-artifact would upload), and GitHub serves
 * it back (`serveRunArtifact`: the run's artifact list, then the download's 302 to the storage
 * host, which must never see the token).
 */

/** Where GitHub sends artifact downloads; a host other than the API's. */
export const BLOB_HOST = "https://productionresultssa0.blob.core.windows.net";

export interface ServedArtifact {
  /** The API path of the repository, e.g. /repos/Codertocat/Hello-World. */
  repo: string;
  runId: number;
  artifactId: number;
  name: string;
  zip: Uint8Array;
  createdAt: string;
  /** The commit the run ran on. */
  headSha: string;
}

export function serveRunArtifact(gh: GithubApi, a: ServedArtifact): void {
  const expires = new Date(Date.parse(a.createdAt) + 3 * 86_400_000).toISOString().replace(".000Z", "Z");
  gh.scope
    .get(`${a.repo}/actions/runs/${a.runId}/artifacts`)
    .query({ per_page: "100", page: "1" })
    .reply(200, {
      total_count: 1,
      artifacts: [
        {
          id: a.artifactId,
          node_id: Buffer.from(`08:Artifact${a.artifactId}`).toString("base64"),
          name: a.name,
          size_in_bytes: a.zip.length,
          url: `https://api.github.com${a.repo}/actions/artifacts/${a.artifactId}`,
          archive_download_url: `https://api.github.com${a.repo}/actions/artifacts/${a.artifactId}/zip`,
          expired: false,
          created_at: a.createdAt,
          expires_at: expires,
          updated_at: a.createdAt,
          workflow_run: {
            id: a.runId,
            repository_id: 1,
            head_repository_id: 1,
            head_branch: "master",
            head_sha: a.headSha,
          },
        },
      ],
    });
  gh.scope
    .get(`${a.repo}/actions/artifacts/${a.artifactId}/zip`)
    .reply(302, "", { Location: `${BLOB_HOST}/${a.artifactId}.zip?sig=x` });
  nock(BLOB_HOST, { badheaders: ["authorization"] })
    .get(`/${a.artifactId}.zip`)
    .query({ sig: "x" })
    .reply(200, Buffer.from(a.zip), { "content-type": "application/zip" });
}

/** A directory's files by relative path (forward slashes), and the zip of them. */
export async function zipDirectory(
  dir: string,
): Promise<{ files: Map<string, Uint8Array>; zip: Uint8Array }> {
  const files: Record<string, Uint8Array> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    files[path.relative(dir, full).split(path.sep).join("/")] = await readFile(full);
  }
  return { files: new Map(Object.entries(files)), zip: zipSync(files) };
}

export interface ActionsJob {
  /** GITHUB_REPOSITORY. */
  repository: string;
  /** The checkout (GITHUB_WORKSPACE). */
  workspace: string;
  runId: number;
  eventName: string;
  /** The event payload, written where GITHUB_EVENT_PATH points. */
  event: object;
}

/**
 * Runs `work` with the environment a GitHub Actions runner gives a step (outputs, job summary and
 * RUNNER_TEMP in a fresh directory), stdout silenced, and everything put back afterwards.
 */
export async function inActionsJob<T>(job: ActionsJob, work: () => Promise<T>): Promise<T> {
  const temp = await mkdtemp(path.join(os.tmpdir(), "switchyard-job-"));
  const saved = { ...process.env };
  await writeFile(path.join(temp, "event.json"), JSON.stringify(job.event));
  await writeFile(path.join(temp, "output"), "");
  await writeFile(path.join(temp, "summary.md"), "");
  Object.assign(process.env, {
    GITHUB_REPOSITORY: job.repository,
    GITHUB_WORKSPACE: job.workspace,
    GITHUB_RUN_ID: String(job.runId),
    GITHUB_RUN_ATTEMPT: "1",
    GITHUB_SERVER_URL: "https://github.com",
    GITHUB_API_URL: "https://api.github.com",
    GITHUB_EVENT_NAME: job.eventName,
    GITHUB_EVENT_PATH: path.join(temp, "event.json"),
    GITHUB_OUTPUT: path.join(temp, "output"),
    GITHUB_STEP_SUMMARY: path.join(temp, "summary.md"),
    RUNNER_TEMP: temp,
  });
  const quiet = jest.spyOn(process.stdout, "write").mockImplementation(() => true);
  try {
    return await work();
  } finally {
    quiet.mockRestore();
    process.env = saved;
    await rm(temp, { recursive: true, force: true });
  }
}
