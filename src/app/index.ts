import type { Probot } from "probot";
import { onIssueComment } from "./commands.js";
import { onIssueClosed } from "./issue-closed.js";
import { onWorkflowRunCompleted } from "./complete-task.js";
import { onCheckSuiteCompleted, onRecoverableRun } from "./recover-run.js";
import { onBlockerClosed } from "./release-blocked.js";
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
  let appSlug: Promise<string> | undefined;
  // The app's slug names its bot (`<slug>[bot]`), which started the runs it dispatched and made
  // its commits. One request (GET /app) per process; a failure is not cached either.
  const readAppSlug = (): Promise<string> => {
    appSlug ??= app
      .auth()
      .then((octokit) => octokit.request("GET /app"))
      .then(({ data }) => {
        const slug = (data as { slug?: unknown } | null)?.slug;
        if (typeof slug !== "string" || slug === "") throw new Error("GET /app returned no slug");
        return slug;
      })
      .catch((error: unknown) => {
        appSlug = undefined;
        throw error;
      });
    return appSlug;
  };
  const deps = { appId: readAppId, appSlug: readAppSlug, now: () => new Date() };
  app.on("issues.labeled", async (context) => {
    await onIssueLabeled(context, { appId: readAppId, now: () => new Date() });
  });
  app.on("issues.closed", async (context) => {
    await onIssueClosed(context, { appId: readAppId, now: () => new Date() });
  });
  app.on("issue_comment.created", async (context) => {
    await onIssueComment(context, { appId: readAppId, now: () => new Date() });
  });
  // A run of the execute workflow completes its task; any other run may need recovering.
  app.on("workflow_run.completed", async (context) => {
    const done = await onWorkflowRunCompleted(context, deps);
    if (done?.action === "not-mine") await onRecoverableRun(context, deps);
  });
  // A task may depend on a pull request; when it closes (merged or not) the task may go.
  app.on("pull_request.closed", async (context) => {
    await onBlockerClosed(context, { appId: readAppId, now: () => new Date() });
  });
  app.on("check_suite.completed", async (context) => {
    await onCheckSuiteCompleted(context, deps);
  });
}
