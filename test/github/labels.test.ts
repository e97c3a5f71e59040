import { afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { Octokit } from "@octokit/rest";
import { planStateLabels, setStateLabel } from "../../src/github/labels.js";
import { blockNetwork, githubApi, resetGithubApi } from "../support/github-contract.js";

const octokit = new Octokit({ auth: "t", log: { debug() {}, info() {}, warn() {}, error() {} } });
beforeAll(() => blockNetwork());
afterEach(() => resetGithubApi());

describe("setStateLabel", () => {
  it("adds the new state and removes the old ones, leaving other labels alone", async () => {
    const gh = githubApi();
    gh.scope.post("/repos/o/r/issues/3/labels", { labels: ["switchyard:running"] }).reply(200, []);
    gh.scope.delete("/repos/o/r/issues/3/labels/switchyard%3Ablocked").reply(200, []);
    gh.scope
      .delete("/repos/o/r/issues/3/labels/switchyard%3Afailed")
      .reply(404, { message: "Label does not exist" });
    const result = await setStateLabel(octokit, {
      owner: "o",
      repo: "r",
      issue_number: 3,
      state: "running",
      current: ["bug", "switchyard", "switchyard:claude", "switchyard:blocked", "switchyard:failed"],
    });
    gh.done();
    expect(result).toEqual({
      added: ["switchyard:running"],
      removed: ["switchyard:blocked", "switchyard:failed"],
    });
  });

  it("sends nothing when the label is already right", async () => {
    const gh = githubApi();
    await setStateLabel(octokit, {
      owner: "o",
      repo: "r",
      issue_number: 3,
      state: "blocked",
      current: ["switchyard:blocked"],
    });
    gh.done();
    expect(gh.requests).toEqual([]);
    expect(planStateLabels(["switchyard:pr-open"], "done")).toEqual({
      added: ["switchyard:done"],
      removed: ["switchyard:pr-open"],
    });
  });
});
