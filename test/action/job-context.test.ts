import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { readJobContext, runPageUrl, serverUrlOf } from "../../src/action/job-context.js";
import { InputError, SwitchyardError } from "../../src/core/errors.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";
let temp: string;
let eventPath: string;

beforeEach(async () => {
  temp = await mkdtemp(path.join(os.tmpdir(), "switchyard-job-context-"));
  eventPath = path.join(temp, "event.json");
  await writeFile(
    eventPath,
    JSON.stringify({ action: "completed", repository: { default_branch: "trunk" } }),
  );
});
afterEach(async () => {
  await rm(temp, { recursive: true, force: true });
});

/** The variables a GitHub Actions runner sets for a job, with `overrides` applied (undefined deletes). */
function jobEnv(overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    GITHUB_REPOSITORY: "acme/widgets",
    GITHUB_WORKSPACE: path.join(temp, "work", "widgets"),
    RUNNER_TEMP: path.join(temp, "runner-temp"),
    GITHUB_SERVER_URL: "https://github.com",
    GITHUB_RUN_ID: "4242",
    GITHUB_RUN_ATTEMPT: "3",
    GITHUB_SHA: SHA,
    GITHUB_REF: "refs/heads/main",
    GITHUB_EVENT_NAME: "workflow_run",
    GITHUB_EVENT_PATH: eventPath,
  };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

describe("readJobContext", () => {
  it("reads everything the modes use from a job's environment and its event payload", async () => {
    const ctx = await readJobContext(jobEnv(), { workspace: "required" });
    expect(ctx).toEqual({
      owner: "acme",
      repo: "widgets",
      workspace: path.join(temp, "work", "widgets"),
      tempDir: path.join(temp, "runner-temp"),
      serverUrl: "https://github.com",
      run: { id: 4242, attempt: 3 },
      runKey: "4242-3",
      runUrl: "https://github.com/acme/widgets/actions/runs/4242",
      sha: SHA,
      refBranch: "main",
      eventName: "workflow_run",
      eventPath,
      payload: { action: "completed", repository: { default_branch: "trunk" } },
      payloadProblem: null,
      defaultBranch: "trunk",
    });
  });

  it("trims the server URL, so links on GitHub Enterprise Server have no double slash", async () => {
    const ctx = await readJobContext(jobEnv({ GITHUB_SERVER_URL: "https://ghe.example.com/" }), {
      workspace: "optional",
    });
    expect(ctx.serverUrl).toBe("https://ghe.example.com");
    expect(ctx.runUrl).toBe("https://ghe.example.com/acme/widgets/actions/runs/4242");
    expect(runPageUrl(ctx, 7)).toBe("https://ghe.example.com/acme/widgets/actions/runs/7");
    expect(serverUrlOf({})).toBe("https://github.com");
    expect(serverUrlOf({ GITHUB_SERVER_URL: "" })).toBe("https://github.com");
  });

  it("has no run, sha or branch outside a workflow run, and the first attempt when none is given", async () => {
    const local = await readJobContext(
      jobEnv({
        GITHUB_RUN_ID: undefined,
        GITHUB_RUN_ATTEMPT: undefined,
        GITHUB_SHA: "HEAD",
        GITHUB_REF: "refs/tags/v1",
      }),
      { workspace: "required" },
    );
    expect([local.run, local.runKey, local.runUrl, local.sha, local.refBranch]).toEqual([
      null,
      null,
      null,
      null,
      null,
    ]);
    const first = await readJobContext(jobEnv({ GITHUB_RUN_ATTEMPT: undefined }), { workspace: "required" });
    expect(first.run).toEqual({ id: 4242, attempt: 1 });
    expect(first.runKey).toBe("4242-1");
  });

  it("keeps temporary files beside the checkout without RUNNER_TEMP, and in the system's temp without either", async () => {
    const beside = await readJobContext(jobEnv({ RUNNER_TEMP: undefined }), { workspace: "required" });
    expect(beside.tempDir).toBe(path.join(temp, "work", "_switchyard_tmp"));
    const none = await readJobContext(jobEnv({ RUNNER_TEMP: "", GITHUB_WORKSPACE: undefined }), {
      workspace: "optional",
    });
    expect(none.workspace).toBeNull();
    expect(none.tempDir).toBe(os.tmpdir());
  });

  it("asks for actions/checkout when only the workspace is missing and the mode needs one", async () => {
    const run = readJobContext(jobEnv({ GITHUB_WORKSPACE: undefined }), { workspace: "required" });
    await expect(run).rejects.toThrow(SwitchyardError);
    await expect(run).rejects.toThrow(
      new SwitchyardError("GITHUB_WORKSPACE is not set: add actions/checkout before Switchyard"),
    );
  });

  it("names every variable the runner should have set, with what to do", async () => {
    await expect(
      readJobContext(jobEnv({ GITHUB_REPOSITORY: undefined }), { workspace: "optional" }),
    ).rejects.toThrow(
      "GITHUB_REPOSITORY is not set as GitHub Actions sets it: run Switchyard as a step of a GitHub Actions job",
    );
    await expect(
      readJobContext(jobEnv({ GITHUB_REPOSITORY: "widgets", GITHUB_WORKSPACE: undefined }), {
        workspace: "required",
      }),
    ).rejects.toThrow(
      "GITHUB_REPOSITORY, GITHUB_WORKSPACE are not set as GitHub Actions sets them: run Switchyard as a step of a GitHub Actions job",
    );
    await expect(
      readJobContext(jobEnv({ GITHUB_RUN_ID: "latest", GITHUB_RUN_ATTEMPT: "0" }), { workspace: "optional" }),
    ).rejects.toThrow("GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT are not set as GitHub Actions sets them:");
  });

  it("needs the event and the run when the mode acts on the event, and says so with the mode's hint", async () => {
    const run = readJobContext(jobEnv({ GITHUB_EVENT_PATH: undefined, GITHUB_RUN_ID: undefined }), {
      workspace: "optional",
      event: "required",
      hint: "run mode route as a step of a workflow job started by an issues or issue_comment event",
    });
    await expect(run).rejects.toThrow(SwitchyardError);
    await expect(run).rejects.not.toThrow(InputError);
    await expect(run).rejects.toThrow(
      "GITHUB_EVENT_PATH, GITHUB_RUN_ID are not set as GitHub Actions sets them: run mode route as a step of a workflow job started by an issues or issue_comment event",
    );
  });

  it("refuses an event payload it must act on that cannot be read, is not JSON or is not an object", async () => {
    const strict = { workspace: "optional", event: "required" } as const;
    const missing = path.join(temp, "gone.json");
    await expect(readJobContext(jobEnv({ GITHUB_EVENT_PATH: missing }), strict)).rejects.toThrow(
      `cannot read the event payload at GITHUB_EVENT_PATH (${missing}): ENOENT`,
    );
    await writeFile(eventPath, "{not json");
    const notJson = readJobContext(jobEnv(), strict);
    await expect(notJson).rejects.toThrow(InputError);
    await expect(notJson).rejects.toThrow(
      `the event payload at GITHUB_EVENT_PATH (${eventPath}) is not JSON`,
    );
    await writeFile(eventPath, "[1, 2]");
    await expect(readJobContext(jobEnv(), strict)).rejects.toThrow(
      new InputError(`the event payload at GITHUB_EVENT_PATH (${eventPath}) is not an object`),
    );
  });

  it("treats a payload it only takes hints from as absent when unusable, and keeps the reason", async () => {
    await writeFile(eventPath, "[1, 2]");
    const ctx = await readJobContext(jobEnv(), { workspace: "required" });
    expect(ctx.payload).toBeNull();
    expect(ctx.defaultBranch).toBeNull();
    expect(ctx.payloadProblem).toBe(`the event payload at GITHUB_EVENT_PATH (${eventPath}) is not an object`);

    await writeFile(eventPath, JSON.stringify({ repository: { default_branch: "" } }));
    const empty = await readJobContext(jobEnv(), { workspace: "required" });
    expect(empty.payload).toEqual({ repository: { default_branch: "" } });
    expect(empty.defaultBranch).toBeNull();

    const none = await readJobContext(jobEnv({ GITHUB_EVENT_PATH: undefined }), { workspace: "required" });
    expect([none.eventPath, none.payload, none.payloadProblem]).toEqual([null, null, null]);
  });
});
