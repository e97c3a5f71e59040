import { afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { Probot } from "probot";
import switchyardApp from "../../src/app/index.js";
import { blockNetwork, githubApi, resetGithubApi } from "../support/github-contract.js";
import { webhookExample, withInstallation } from "../support/webhooks.js";
import { APP_ID, TEST_PRIVATE_KEY, TestOctokit, installationToken } from "./probot-fixtures.js";

/**
 * How the app itself (src/app/index.ts) hands events to its handlers: each handler has its own
 * tests; these check the routing between them with the real app loaded.
 */

const CONFIG = "/repos/octo-org/octo-repo/contents/.github%2Fswitchyard.yml";

function probot(): Probot {
  const p = new Probot({
    appId: APP_ID,
    privateKey: TEST_PRIVATE_KEY,
    Octokit: TestOctokit,
    logLevel: "fatal",
  });
  p.load(switchyardApp);
  return p;
}

/** A red CI run of octo-org/octo-repo (GitHub's example), not one of Switchyard's. */
function failedCiRun() {
  const payload = withInstallation(webhookExample("workflow_run", "completed", 2));
  Object.assign(payload.workflow_run, {
    name: "CI",
    path: ".github/workflows/ci.yml",
    display_title: "Update README",
    conclusion: "failure",
  });
  return payload;
}

beforeAll(() => blockNetwork());
afterEach(() => resetGithubApi());

describe("the app's event routing", () => {
  it("sends a failed run that is not an execute run on to the recovery, which starts by reading the configuration", async () => {
    const gh = githubApi();
    installationToken(gh);
    // An unusable configuration stops the recovery right after it is read: the one request
    // proves the run reached the recovery and not the task completion (which would read issues).
    gh.scope.get(CONFIG).reply(200, {
      type: "file",
      encoding: "base64",
      content: Buffer.from("recovery: [").toString("base64"),
    });

    await probot().receive({ id: "d-1", name: "workflow_run", payload: failedCiRun() } as never);
    gh.done();
    expect(gh.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      "POST /app/installations/1/access_tokens",
      `GET ${CONFIG}`,
    ]);
  });

  it("lets a closed pull request release the tasks held by it: one list of the held issues", async () => {
    const gh = githubApi();
    installationToken(gh);
    gh.scope
      .get("/repos/Codertocat/Hello-World/issues")
      .query({
        labels: "switchyard:blocked",
        state: "open",
        sort: "created",
        direction: "asc",
        per_page: "100",
      })
      .reply(200, []);

    const payload = withInstallation(webhookExample("pull_request", "closed"));
    await probot().receive({ id: "d-3", name: "pull_request", payload } as never);
    gh.done();
    expect(gh.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      "POST /app/installations/1/access_tokens",
      "GET /repos/Codertocat/Hello-World/issues",
    ]);
  });

  it("ignores a check suite of another app without a request", async () => {
    const gh = githubApi();
    const payload = withInstallation(webhookExample("check_suite", "completed", 0));
    payload.check_suite.conclusion = "failure";
    payload.check_suite.app = { ...payload.check_suite.app, slug: "some-other-ci" };

    await probot().receive({ id: "d-2", name: "check_suite", payload } as never);
    gh.done();
    expect(gh.requests).toEqual([]);
  });
});
