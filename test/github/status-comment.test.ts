import { afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { Octokit } from "@octokit/rest";
import { encodeMarker } from "../../src/core/status-marker.js";
import { upsertStatusComment } from "../../src/github/status-comment.js";
import { blockNetwork, githubApi, resetGithubApi } from "../support/github-contract.js";

const octokit = new Octokit({ auth: "t", log: { debug() {}, info() {}, warn() {}, error() {} } });
const input = {
  owner: "o",
  repo: "r",
  issue_number: 2,
  body: "hello",
  state: { phase: "running" },
  appId: 7,
};
beforeAll(() => blockNetwork());
afterEach(() => resetGithubApi());

describe("upsertStatusComment", () => {
  it("searches every page, then creates the comment with its marker first", async () => {
    const gh = githubApi();
    const page = Array.from({ length: 100 }, (_v, i) => ({ id: i + 1, body: "hi", user: { type: "User" } }));
    gh.scope.get("/repos/o/r/issues/2/comments").query({ per_page: "100", page: "1" }).reply(200, page);
    gh.scope.get("/repos/o/r/issues/2/comments").query({ per_page: "100", page: "2" }).reply(200, []);
    gh.scope.post("/repos/o/r/issues/2/comments").reply(201, { id: 500, html_url: "https://x/c" });
    expect(await upsertStatusComment(octokit, input)).toEqual({ id: 500, url: "https://x/c", created: true });
    gh.done();
    expect(gh.requests[2]?.body).toEqual({ body: `${encodeMarker({ phase: "running" }, "task")}\nhello` });
  });

  it("edits the app's own comment, not a bot's comment from another app", async () => {
    const gh = githubApi();
    const old = `${encodeMarker({ phase: "blocked" }, "task")}\nold`;
    gh.scope
      .get("/repos/o/r/issues/2/comments")
      .query(true)
      .reply(200, [
        { id: 1, body: old, user: { type: "Bot" }, performed_via_github_app: { id: 8 } },
        { id: 2, body: old, user: { type: "Bot" }, performed_via_github_app: { id: 7 } },
      ]);
    gh.scope.patch("/repos/o/r/issues/comments/2").reply(200, { id: 2 });
    expect(await upsertStatusComment(octokit, input)).toEqual({ id: 2, url: null, created: false });
    gh.done();
  });
});
