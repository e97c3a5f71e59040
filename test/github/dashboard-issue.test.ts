import { afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { Octokit } from "@octokit/rest";
import { DASHBOARD_MARKER } from "../../src/core/analysis/dashboard.js";
import { InputError } from "../../src/core/errors.js";
import { publishDashboard } from "../../src/github/dashboard-issue.js";
import { blockNetwork, githubApi, resetGithubApi, type GithubApi } from "../support/github-contract.js";

const octokit = new Octokit({ auth: "t", log: { debug() {}, info() {}, warn() {}, error() {} } });
const LABEL = "switchyard:dashboard";
const BODY = `${DASHBOARD_MARKER}\n# Switchyard dashboard\n\nfigures\n`;
const input = { owner: "o", repo: "r", label: LABEL, title: "Switchyard dashboard", body: BODY };
const LIST = {
  labels: LABEL,
  state: "open",
  sort: "created",
  direction: "asc",
  per_page: "100",
  page: "1",
};

function issue(number: number, body: string, extra: Record<string, unknown> = {}) {
  return {
    number,
    title: "Switchyard dashboard",
    body,
    state: "open",
    html_url: `https://github.com/o/r/issues/${number}`,
    labels: [{ name: LABEL }],
    ...extra,
  };
}

function list(gh: GithubApi, issues: unknown[]): void {
  gh.scope.get("/repos/o/r/issues").query(LIST).reply(200, issues);
}

beforeAll(() => blockNetwork());
afterEach(() => resetGithubApi());

describe("publishDashboard", () => {
  it("creates the dashboard once, labelled, when none is open", async () => {
    const gh = githubApi();
    // A labelled issue without the marker on its first line, and a pull request, are not it.
    list(gh, [
      issue(3, `notes\n${DASHBOARD_MARKER}`),
      issue(4, BODY, { pull_request: { url: "https://api.github.com/repos/o/r/pulls/4" } }),
    ]);
    gh.scope.post("/repos/o/r/issues").reply(201, issue(7, BODY));
    list(gh, [issue(3, "notes"), issue(7, BODY)]);

    expect(await publishDashboard(octokit, input)).toEqual({
      number: 7,
      url: "https://github.com/o/r/issues/7",
      action: "created",
      closedDuplicates: [],
    });
    gh.done();
    expect(gh.requests.map((r) => r.operationId)).toEqual([
      "issues/list-for-repo",
      "issues/create",
      "issues/list-for-repo",
    ]);
    expect(gh.requests[1]?.body).toEqual({ title: "Switchyard dashboard", body: BODY, labels: [LABEL] });
  });

  it("edits the one it finds in place on the next run", async () => {
    const gh = githubApi();
    list(gh, [issue(7, `${DASHBOARD_MARKER}\nlast week's figures\n`, { title: "Old title" })]);
    gh.scope.patch("/repos/o/r/issues/7").reply(200, issue(7, BODY));
    expect(await publishDashboard(octokit, input)).toEqual({
      number: 7,
      url: "https://github.com/o/r/issues/7",
      action: "updated",
      closedDuplicates: [],
    });
    gh.done();
    expect(gh.requests[1]?.body).toEqual({ title: "Switchyard dashboard", body: BODY });
  });

  it("sends nothing when the dashboard already says it", async () => {
    const gh = githubApi();
    list(gh, [issue(7, BODY)]);
    expect((await publishDashboard(octokit, input)).action).toBe("unchanged");
    gh.done();
    expect(gh.requests).toHaveLength(1);
  });

  it("loses a creation race gracefully: its own issue is closed as a duplicate of the older one", async () => {
    const gh = githubApi();
    list(gh, []);
    gh.scope.post("/repos/o/r/issues").reply(201, issue(8, BODY));
    // Another run created #7 at the same moment.
    list(gh, [issue(7, BODY), issue(8, BODY)]);
    gh.scope.post("/repos/o/r/issues/8/comments").reply(201, { id: 1 });
    gh.scope.patch("/repos/o/r/issues/8").reply(200, issue(8, BODY, { state: "closed" }));

    expect(await publishDashboard(octokit, input)).toEqual({
      number: 7,
      url: "https://github.com/o/r/issues/7",
      action: "unchanged",
      closedDuplicates: [8],
    });
    gh.done();
    expect(gh.requests[3]?.body).toEqual({
      body: "Duplicate of #7, the dashboard Switchyard keeps up to date; two analyses opened one at once.",
    });
    expect(gh.requests[4]?.body).toEqual({ state: "closed", state_reason: "not_planned" });
  });

  it("closes the newer of two open dashboards a lagging race left behind", async () => {
    const gh = githubApi();
    list(gh, [issue(9, BODY), issue(7, "<!-- switchyard:dashboard -->\nold")]);
    gh.scope.patch("/repos/o/r/issues/7").reply(200, issue(7, BODY));
    gh.scope.post("/repos/o/r/issues/9/comments").reply(201, { id: 2 });
    gh.scope.patch("/repos/o/r/issues/9").reply(200, issue(9, BODY, { state: "closed" }));
    expect(await publishDashboard(octokit, input)).toMatchObject({
      number: 7,
      action: "updated",
      closedDuplicates: [9],
    });
    gh.done();
  });

  it("refuses a body that does not start with the marker, before any request", async () => {
    await expect(publishDashboard(octokit, { ...input, body: "# figures" })).rejects.toThrow(
      new InputError(
        "cannot publish the dashboard: body: the dashboard must start with its marker, <!-- switchyard:dashboard -->",
      ),
    );
  });

  it("says which permission is missing when GitHub refuses", async () => {
    const gh = githubApi();
    list(gh, []);
    gh.scope.post("/repos/o/r/issues").reply(403, { message: "Resource not accessible by integration" });
    await expect(publishDashboard(octokit, input)).rejects.toThrow(
      'opening the issue "Switchyard dashboard" in o/r failed: GitHub answered 403 (Resource not accessible by integration): ' +
        "the token is not allowed to do this (it needs `issues: write`)",
    );
    gh.done();
  });
});
