import { afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { Octokit } from "@octokit/rest";
import { strToU8, zipSync } from "fflate";
import nock from "nock";
import { InputError } from "../../src/core/errors.js";
import {
  ArtifactGoneError,
  ArtifactRejectedError,
  downloadArtifact,
  listRunArtifacts,
  safeEntryName,
  type ArtifactInfo,
} from "../../src/github/artifacts.js";
import { blockNetwork, githubApi, resetGithubApi } from "../support/github-contract.js";

const octokit = new Octokit({ auth: "secret-token", log: { debug() {}, info() {}, warn() {}, error() {} } });
const BLOB = "https://pipelines.blob.example.net";

beforeAll(() => blockNetwork());
afterEach(() => resetGithubApi());

function wire(id: number, extra: Record<string, unknown> = {}) {
  return {
    id,
    node_id: `MDg${id}`,
    name: "switchyard-patch",
    size_in_bytes: 300,
    url: `https://api.github.com/repos/o/r/actions/artifacts/${id}`,
    archive_download_url: `https://api.github.com/repos/o/r/actions/artifacts/${id}/zip`,
    expired: false,
    created_at: "2025-01-02T03:04:05Z",
    expires_at: "2025-01-09T03:04:05Z",
    updated_at: "2025-01-02T03:04:05Z",
    workflow_run: {
      id: 77,
      repository_id: 1,
      head_repository_id: 1,
      head_branch: "main",
      head_sha: "a".repeat(40),
    },
    ...extra,
  };
}

function info(zip: Uint8Array, extra: Partial<ArtifactInfo> = {}): ArtifactInfo {
  return {
    id: 9,
    name: "switchyard-patch",
    size_in_bytes: zip.length,
    expired: false,
    created_at: "2025-01-02T03:04:05Z",
    workflow_run: { id: 77, head_sha: "a".repeat(40) },
    ...extra,
  };
}

/** The zip endpoint's 302 to a pre-signed URL on another host, as GitHub answers it. */
function redirectTo(gh: ReturnType<typeof githubApi>, id: number, zip: Uint8Array) {
  gh.scope
    .get(`/repos/o/r/actions/artifacts/${id}/zip`)
    .reply(302, "", { Location: `${BLOB}/artifact-${id}.zip?sig=abc` });
  // badheaders: the request fails to match (and the test fails) if the token is sent to the blob host.
  return nock(BLOB, { badheaders: ["authorization"] })
    .get(`/artifact-${id}.zip`)
    .query({ sig: "abc" })
    .reply(200, Buffer.from(zip), { "content-type": "application/zip" });
}

/** Rewrites the uncompressed size a zip's central directory declares for its first entry. */
function withDeclaredSize(zip: Uint8Array, size: number): Uint8Array {
  const out = zip.slice();
  const view = new DataView(out.buffer);
  for (let at = out.length - 22; at >= 0; at--) {
    if (view.getUint32(at, true) === 0x02014b50) {
      view.setUint32(at + 24, size, true);
      return out;
    }
  }
  throw new Error("no central directory header");
}

describe("downloadArtifact", () => {
  it("follows the redirect to the storage host without the token and returns the files", async () => {
    const zip = zipSync({
      "manifest.json": strToU8('{"version":1}'),
      // A directory entry ("empty/"), which is left out of the result.
      empty: {},
      blobs: { abc: strToU8("hello\n") },
    });
    const gh = githubApi();
    const blob = redirectTo(gh, 9, zip);
    const files = await downloadArtifact(octokit, { owner: "o", repo: "r", artifact: info(zip) });
    gh.done();
    expect(blob.isDone()).toBe(true);
    expect([...files.keys()].sort()).toEqual(["blobs/abc", "manifest.json"]);
    expect(new TextDecoder().decode(files.get("blobs/abc"))).toBe("hello\n");
    expect(gh.requests.map((r) => r.operationId)).toEqual(["actions/download-artifact"]);
  });

  it("refuses an artifact GitHub reports as too large without downloading it", async () => {
    const zip = zipSync({ a: strToU8("x") });
    const gh = githubApi();
    const error = await downloadArtifact(octokit, {
      owner: "o",
      repo: "r",
      artifact: info(zip, { size_in_bytes: 2000 }),
      maxBytes: 1000,
    }).catch((e: unknown) => e);
    gh.done();
    expect(error).toBeInstanceOf(ArtifactRejectedError);
    expect((error as Error).message).toBe(
      'artifact "switchyard-patch" (id 9) was refused: it is 2000 bytes, more than the 1000 accepted; nothing was downloaded',
    );
    expect(gh.requests).toHaveLength(0);
  });

  it("stops a download that grows past the limit whatever size was reported", async () => {
    const big = new Uint8Array(5000).map((_, i) => (i * 7919) % 251);
    const zip = zipSync({ a: big }, { level: 0 });
    const gh = githubApi();
    redirectTo(gh, 9, zip);
    const error = await downloadArtifact(octokit, {
      owner: "o",
      repo: "r",
      artifact: info(zip, { size_in_bytes: 10 }),
      maxBytes: 1000,
    }).catch((e: unknown) => e);
    gh.done();
    expect(error).toBeInstanceOf(ArtifactRejectedError);
    expect((error as Error).message).toMatch(/the download passed 1000 bytes/);
  });

  it("turns 410 and an expired flag into ArtifactGoneError", async () => {
    const zip = zipSync({ a: strToU8("x") });
    const gh = githubApi();
    gh.scope.get("/repos/o/r/actions/artifacts/9/zip").reply(410, { message: "Artifact has expired" });
    const gone = await downloadArtifact(octokit, { owner: "o", repo: "r", artifact: info(zip) }).catch(
      (e: unknown) => e,
    );
    const expired = await downloadArtifact(octokit, {
      owner: "o",
      repo: "r",
      artifact: info(zip, { expired: true }),
    }).catch((e: unknown) => e);
    gh.done();
    expect(gone).toBeInstanceOf(ArtifactGoneError);
    expect((gone as Error).message).toBe(
      'artifact "switchyard-patch" (id 9) is no longer available: GitHub answered 410 Gone; ' +
        "artifacts are kept for the workflow's retention period, so run the workflow again to produce a new one",
    );
    expect(expired).toBeInstanceOf(ArtifactGoneError);
    expect(gh.requests).toHaveLength(1);
  });

  it("refuses an entry whose declared size is over the limit before inflating it", async () => {
    const zip = zipSync({ "big.txt": strToU8("a".repeat(5000)) });
    const gh = githubApi();
    redirectTo(gh, 9, zip);
    const error = await downloadArtifact(octokit, {
      owner: "o",
      repo: "r",
      artifact: info(zip),
      maxEntryBytes: 4096,
    }).catch((e: unknown) => e);
    gh.done();
    expect((error as Error).message).toBe(
      'artifact "switchyard-patch" (id 9) was refused: the entry "big.txt" inflates to 5000 bytes, more than the 4096 accepted',
    );
  });

  it("refuses an entry that holds more or less than its declared size", async () => {
    const zip = withDeclaredSize(zipSync({ "a.txt": strToU8("a".repeat(100)) }), 150);
    const gh = githubApi();
    redirectTo(gh, 9, zip);
    const error = await downloadArtifact(octokit, { owner: "o", repo: "r", artifact: info(zip) }).catch(
      (e: unknown) => e,
    );
    gh.done();
    expect((error as Error).message).toBe(
      'artifact "switchyard-patch" (id 9) was refused: the entry "a.txt" declared 150 bytes but holds 100',
    );
  });

  it("refuses entry names that would escape a directory", async () => {
    const zip = zipSync({ "../../etc/cron.d/x": strToU8("boom") });
    const gh = githubApi();
    redirectTo(gh, 9, zip);
    const error = await downloadArtifact(octokit, { owner: "o", repo: "r", artifact: info(zip) }).catch(
      (e: unknown) => e,
    );
    gh.done();
    expect(error).toBeInstanceOf(ArtifactRejectedError);
    expect((error as Error).message).toBe(
      'artifact "switchyard-patch" (id 9) was refused: the entry name "../../etc/cron.d/x" could escape its directory',
    );
  });

  it("refuses a body that is not a zip", async () => {
    const gh = githubApi();
    const bytes = strToU8("<html>not a zip</html>");
    redirectTo(gh, 9, bytes);
    const error = await downloadArtifact(octokit, { owner: "o", repo: "r", artifact: info(bytes) }).catch(
      (e: unknown) => e,
    );
    gh.done();
    expect(error).toBeInstanceOf(ArtifactRejectedError);
    expect((error as Error).message).toMatch(
      /^artifact "switchyard-patch" \(id 9\) was refused: it is not a readable zip/,
    );
  });

  it("validates its input", async () => {
    await expect(
      downloadArtifact(octokit, { owner: "", repo: "r", artifact: info(new Uint8Array(1)) }),
    ).rejects.toThrow(
      new InputError("cannot download an artifact: owner: Too small: expected string to have >=1 characters"),
    );
  });
});

describe("safeEntryName", () => {
  it.each([
    ["manifest.json", true],
    ["blobs/0123abcd", true],
    ["blobs/", true],
    ["../x", false],
    ["a/../../x", false],
    ["/etc/passwd", false],
    ["C:/x", false],
    ["a\\b", false],
    ["a/./b", false],
    ["a//b", false],
    ["a\u0000b", false],
    ["", false],
  ])("%j -> %s", (name, ok) => {
    expect(safeEntryName(name)).toBe(ok);
  });
});

describe("listRunArtifacts", () => {
  it("reads every page of a run's artifacts", async () => {
    const gh = githubApi();
    const first = Array.from({ length: 100 }, (_, k) => wire(k + 1));
    gh.scope
      .get("/repos/o/r/actions/runs/77/artifacts")
      .query({ per_page: "100", page: "1" })
      .reply(200, { total_count: 101, artifacts: first });
    gh.scope
      .get("/repos/o/r/actions/runs/77/artifacts")
      .query({ per_page: "100", page: "2" })
      .reply(200, {
        total_count: 101,
        artifacts: [wire(101, { name: "switchyard-events", workflow_run: null })],
      });
    const list = await listRunArtifacts(octokit, { owner: "o", repo: "r", run_id: 77 });
    gh.done();
    expect(list).toHaveLength(101);
    expect(list[0]).toEqual({
      id: 1,
      name: "switchyard-patch",
      size_in_bytes: 300,
      expired: false,
      created_at: "2025-01-02T03:04:05Z",
      workflow_run: { id: 77, head_sha: "a".repeat(40) },
    });
    expect(list[100]?.workflow_run).toBeNull();
  });

  it("names the permission when GitHub refuses", async () => {
    const gh = githubApi();
    gh.scope
      .get("/repos/o/r/actions/runs/77/artifacts")
      .query(true)
      .reply(403, { message: "Resource not accessible by integration" });
    await expect(listRunArtifacts(octokit, { owner: "o", repo: "r", run_id: 77 })).rejects.toThrow(
      "listing the artifacts of run 77 in o/r failed: GitHub answered 403 (Resource not accessible by integration): " +
        "the token is not allowed to do this (it needs `actions: read`)",
    );
    gh.done();
  });
});
