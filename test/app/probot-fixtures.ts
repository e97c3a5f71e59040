import { generateKeyPairSync } from "node:crypto";
import { ProbotOctokit } from "probot";
import type { GithubApi } from "../support/github-contract.js";

/** The app, installation and repository every app test plays against (the webhook examples'). */
export const APP_ID = 4242;
export const REPO = "/repos/Codertocat/Hello-World";
export const REPO_CONFIG = `${REPO}/contents/.github%2Fswitchyard.yml`;
export const ORG_CONFIG = "/repos/Codertocat/.github/contents/.github%2Fswitchyard.yml";

/** A real RSA key, so Probot signs real app JWTs; made once per test file. */
export const { privateKey: TEST_PRIVATE_KEY } = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
  publicKeyEncoding: { type: "spki", format: "pem" },
});

/** Probot's Octokit without retries or write spacing: every answer is mocked. */
export const TestOctokit = ProbotOctokit.defaults((o: Record<string, unknown>) => ({
  ...o,
  retry: { enabled: false },
  throttle: { ...(o.throttle as object), enabled: false },
}));

/** The installation token Probot asks for before the first API call of a delivery. */
export function installationToken(gh: GithubApi): void {
  gh.scope.post("/app/installations/1/access_tokens").reply(201, {
    token: "ghs_test",
    expires_at: "2099-01-01T00:00:00Z",
    permissions: { issues: "write", checks: "write", actions: "write", contents: "read" },
    repository_selection: "all",
  });
}

/** Neither the repository nor the org's .github repository has a configuration file. */
export function noConfig(gh: GithubApi): void {
  gh.scope.get(REPO_CONFIG).reply(404, { message: "Not Found" });
  gh.scope.get(ORG_CONFIG).reply(404, { message: "Not Found" });
}

/**
 * A stateful fake of one issue's comments (Codertocat/Hello-World#1) on the contract harness:
 * what the code creates or edits is what later listings return, so claim-then-read-back flows
 * are exercised for real. `counts` are the exact numbers of each request expected (gh.done()
 * fails on unused ones).
 */
export interface FakeComment {
  id: number;
  body: string;
  user: { type: string };
  performed_via_github_app: { id: number } | null;
}

export function commentStore(
  gh: GithubApi,
  appId: number,
  counts: { list: number; create?: number; edit?: number; remove?: number },
  initial: FakeComment[] = [],
): FakeComment[] {
  const store = [...initial];
  let next = 9;
  const base = "/repos/Codertocat/Hello-World/issues";
  const one = /^\/repos\/Codertocat\/Hello-World\/issues\/comments\/(\d+)$/;
  const idOf = (uri: string) => Number(one.exec(uri.split("?")[0]!)?.[1]);
  if (counts.list > 0)
    gh.scope
      .get(`${base}/1/comments`)
      .query(true)
      .times(counts.list)
      .reply(200, () => store.map((c) => ({ ...c })));
  if ((counts.create ?? 0) > 0)
    gh.scope
      .post(`${base}/1/comments`)
      .times(counts.create!)
      .reply(201, (_uri, body) => {
        const c: FakeComment = {
          id: next++,
          body: (body as { body: string }).body,
          user: { type: "Bot" },
          performed_via_github_app: { id: appId },
        };
        store.push(c);
        return { id: c.id, html_url: `https://github.com/x#c${c.id}` };
      });
  if ((counts.edit ?? 0) > 0)
    gh.scope
      .patch(one)
      .times(counts.edit!)
      .reply(200, (uri, body) => {
        const c = store.find((x) => x.id === idOf(uri))!;
        c.body = (body as { body: string }).body;
        return { id: c.id };
      });
  if ((counts.remove ?? 0) > 0)
    gh.scope
      .delete(one)
      .times(counts.remove!)
      .reply(204, (uri) => {
        store.splice(
          store.findIndex((x) => x.id === idOf(uri)),
          1,
        );
        return "";
      });
  return store;
}
