import type { Probot } from "probot";
import { onIssueComment } from "./commands.js";
import { onIssueClosed } from "./issue-closed.js";
import { onIssueLabeled } from "./route-issue.js";

/**
 * The Probot app: one thin handler per event. Handlers never throw: onIssueLabeled logs what
 * went wrong (delivery id, repository, task) and reports it as a failed check run when it can.
 */
export default function switchyardApp(app: Probot): void {
  let appId: Promise<number> | undefined;
  // The app's id, from its own credentials (signing a JWT, no request): it tells Switchyard's
  // comments from anyone else's. A failure is not cached, so the next delivery tries again.
  const readAppId = (): Promise<number> => {
    appId ??= app
      .auth()
      .then((octokit) => octokit.auth({ type: "app" }))
      .then((auth) => {
        const id = (auth as { appId?: unknown }).appId;
        if (typeof id !== "number") throw new Error("the app's credentials carry no app id (APP_ID)");
        return id;
      })
      .catch((error: unknown) => {
        appId = undefined;
        throw error;
      });
    return appId;
  };
  app.on("issues.labeled", async (context) => {
    await onIssueLabeled(context, { appId: readAppId, now: () => new Date() });
  });
  app.on("issues.closed", async (context) => {
    await onIssueClosed(context, { appId: readAppId, now: () => new Date() });
  });
  app.on("issue_comment.created", async (context) => {
    await onIssueComment(context, { appId: readAppId, now: () => new Date() });
  });
}
