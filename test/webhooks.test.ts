import { createRequire } from "node:module";
import { describe, expect, it } from "@jest/globals";
import type { WebhookDefinition } from "@octokit/webhooks-examples";
import { InputError } from "../src/core/errors.js";
import { webhookEventNames, webhookExample, withInstallation } from "./support/webhooks.js";

// The package's own data, read independently of the loader, to check the loader picks from it.
const definitions = createRequire(import.meta.url)("@octokit/webhooks-examples") as WebhookDefinition[];
function examplesOf(name: string, action?: string): unknown[] {
  const definition = definitions.find((d) => d.name === name);
  return (definition?.examples ?? []).filter(
    (e) => action === undefined || (e as { action?: string }).action === action,
  );
}

describe("webhookExample", () => {
  it.each([
    ["issues", "labeled"],
    ["workflow_run", "completed"],
    ["issue_comment", "created"],
    ["check_suite", "completed"],
  ] as const)("returns the first %s %s example from @octokit/webhooks-examples", (name, action) => {
    const payload = webhookExample(name, action);
    expect(payload.action).toBe(action);
    expect(payload).toEqual(examplesOf(name, action)[0]);
  });

  it("gives payloads typed by event and action", () => {
    const labeled = webhookExample("issues", "labeled");
    const rawLabeled = examplesOf("issues", "labeled")[0] as typeof labeled;
    expect(labeled.label?.name).toBe(rawLabeled.label?.name);
    expect(labeled.issue.number).toBe(rawLabeled.issue.number);
    const comment = webhookExample("issue_comment", "created");
    expect(comment.comment.body).toBe(
      (examplesOf("issue_comment", "created")[0] as typeof comment).comment.body,
    );
  });

  it("returns the examples as recorded, which tests must not take for typical", () => {
    // The first workflow_run "completed" example was captured with status "queued"; a test about
    // a failed run sets status and conclusion itself, or picks the example it needs by index.
    expect(webhookExample("workflow_run", "completed").workflow_run.status).toBe("queued");
    const run = webhookExample("workflow_run", "completed", 1).workflow_run;
    expect([run.status, run.conclusion]).toEqual(["completed", "success"]);
    const suite = webhookExample("check_suite", "completed").check_suite;
    expect([suite.status, suite.conclusion]).toEqual(["completed", "success"]);
  });

  it("picks later examples by index", () => {
    const second = webhookExample("issues", "opened", 1);
    expect(second).toEqual(examplesOf("issues", "opened")[1]);
    expect(second).not.toEqual(webhookExample("issues", "opened", 0));
  });

  it("returns a deep copy each time", () => {
    const first = webhookExample("issues", "labeled");
    first.issue.title = "changed by a test";
    expect(webhookExample("issues", "labeled").issue.title).not.toBe("changed by a test");
  });

  it("works for events without an action", () => {
    const push = webhookExample("push");
    expect(push).toEqual(examplesOf("push")[0]);
    expect(() => webhookExample("push", "created" as never)).toThrow(
      '"push" examples have no action; call webhookExample("push") without "created"',
    );
  });

  it("lists the actions that have examples when none matches", () => {
    expect(() => webhookExample("workflow_run", "in_progress")).toThrow(
      'no "workflow_run" example with action "in_progress"; actions with examples: completed, requested',
    );
    expect(() => webhookExample("workflow_run", "in_progress")).toThrow(InputError);
  });

  it("names the events that exist when the event is unknown", () => {
    expect(() => webhookExample("issuez" as never)).toThrow(
      'no webhook examples for event "issuez"; events with',
    );
    expect(webhookEventNames()).toContain("workflow_run");
    expect(webhookEventNames()).toHaveLength(definitions.length);
  });

  it("refuses an index past the examples", () => {
    const count = examplesOf("workflow_run", "completed").length;
    expect(() => webhookExample("workflow_run", "completed", count)).toThrow(
      `example index ${count} is out of range: there are ${count} "workflow_run" "completed" examples (0-based)`,
    );
  });
});

describe("withInstallation", () => {
  it("adds the installation an app delivery carries without touching the original", () => {
    const payload = webhookExample("workflow_run", "completed");
    expect("installation" in payload).toBe(false);
    const delivered = withInstallation(payload, 42);
    expect(delivered.installation).toEqual({
      id: 42,
      node_id: Buffer.from("023:IntegrationInstallation42").toString("base64"),
    });
    expect("installation" in payload).toBe(false);
    expect({ ...delivered, installation: undefined }).toEqual({ ...payload, installation: undefined });
  });

  it("matches the node_id format GitHub uses", () => {
    // The examples that do carry an installation have id 1 and this node_id.
    expect(withInstallation({}).installation.node_id).toBe("MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ==");
  });

  it("refuses an id that is not a positive integer", () => {
    expect(() => withInstallation({}, 0)).toThrow("installation id must be a positive integer; got 0");
  });
});
