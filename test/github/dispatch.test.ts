import { afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { Octokit } from "@octokit/rest";
import { InputError } from "../../src/core/errors.js";
import {
  dispatchExecute,
  dispatchInputs,
  DISPATCH_INPUT_LIMIT,
  workflowId,
} from "../../src/github/dispatch.js";
import { blockNetwork, githubApi, resetGithubApi } from "../support/github-contract.js";

const octokit = new Octokit({ auth: "t", log: { debug() {}, info() {}, warn() {}, error() {} } });
const input = {
  owner: "o",
  repo: "r",
  workflow: ".github/workflows/run.yml",
  ref: "main",
  issue_number: 5,
  decision: { tool: "aider" },
};
beforeAll(() => blockNetwork());
afterEach(() => resetGithubApi());

describe("dispatchExecute", () => {
  it("dispatches the workflow by file name with the issue number and the decision", async () => {
    const gh = githubApi();
    gh.scope.post("/repos/o/r/actions/workflows/run.yml/dispatches").reply(204);
    expect(await dispatchExecute(octokit, input)).toEqual({
      ok: true,
      workflow_id: "run.yml",
      decisionSent: true,
    });
    gh.done();
    expect(gh.requests[0]?.body).toEqual({
      ref: "main",
      inputs: { "issue-number": "5", decision: '{"tool":"aider"}' },
    });
  });

  it("reports a missing workflow and a refused one apart", async () => {
    const gh = githubApi();
    gh.scope.post("/repos/o/r/actions/workflows/run.yml/dispatches").reply(404, { message: "Not Found" });
    gh.scope
      .post("/repos/o/r/actions/workflows/run.yml/dispatches")
      .reply(422, { message: "Workflow does not have 'workflow_dispatch' trigger" });
    expect(await dispatchExecute(octokit, input)).toEqual({
      ok: false,
      workflow_id: "run.yml",
      missing: true,
      reason: "Not Found",
    });
    expect(await dispatchExecute(octokit, input)).toEqual({
      ok: false,
      workflow_id: "run.yml",
      missing: false,
      reason: "Workflow does not have 'workflow_dispatch' trigger",
    });
    gh.done();
  });

  it("leaves out a decision larger than GitHub's input limit", () => {
    const big = { text: "x".repeat(DISPATCH_INPUT_LIMIT) };
    expect(dispatchInputs(5, big)).toEqual({ inputs: { "issue-number": "5" }, decisionSent: false });
  });

  it("refuses a workflow path that is not a workflow file", () => {
    expect(workflowId("switchyard-execute.yaml")).toBe("switchyard-execute.yaml");
    expect(() => workflowId(".github/workflows/")).toThrow(InputError);
  });
});
