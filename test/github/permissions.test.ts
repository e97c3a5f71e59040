import { afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { Octokit } from "@octokit/rest";
import { canTrigger, effectiveRole } from "../../src/github/permissions.js";
import { blockNetwork, githubApi, resetGithubApi } from "../support/github-contract.js";

const octokit = new Octokit({ auth: "t", log: { debug() {}, info() {}, warn() {}, error() {} } });
const base = {
  owner: "o",
  repo: "r",
  username: "ann",
  senderType: "User",
  allowBots: [],
  minimum: "triage",
} as const;

beforeAll(() => blockNetwork());
afterEach(() => resetGithubApi());

describe("canTrigger", () => {
  it("reads the role name, so triage passes a triage minimum but not a write one", async () => {
    for (const [minimum, approved] of [
      ["triage", true],
      ["write", false],
    ] as const) {
      const gh = githubApi();
      gh.scope
        .get("/repos/o/r/collaborators/ann/permission")
        .reply(200, { permission: "read", role_name: "triage" });
      const verdict = await canTrigger(octokit, { ...base, minimum });
      gh.done();
      expect(verdict).toEqual(
        approved
          ? { approved: true, role: "triage" }
          : { approved: false, reason: "ann has triage access to o/r; write or more is needed" },
      );
    }
  });

  it("judges a custom role by its base permission", () => {
    expect(effectiveRole("write", "release-manager")).toBe("write");
    expect(effectiveRole("mystery", undefined)).toBe("none");
  });

  it("turns a 404 into a refusal", async () => {
    const gh = githubApi();
    gh.scope.get("/repos/o/r/collaborators/ann/permission").reply(404, { message: "Not Found" });
    expect(await canTrigger(octokit, base)).toEqual({ approved: false, reason: "ann has no access to o/r" });
    gh.done();
  });

  it("approves a listed bot without a request and refuses any other bot", async () => {
    const gh = githubApi();
    const bot = { ...base, username: "renovate[bot]", senderType: "Bot" };
    expect(await canTrigger(octokit, { ...bot, allowBots: ["Renovate[bot]"] })).toEqual({
      approved: true,
      role: "bot",
    });
    expect(await canTrigger(octokit, bot)).toEqual({
      approved: false,
      reason: "renovate[bot] is a bot and is not listed in trigger.allow_bots",
    });
    gh.done();
    expect(gh.requests).toEqual([]);
  });
});
