import { readFileSync } from "node:fs";
import { describe, expect, it } from "@jest/globals";
import { isMap, isScalar, parseDocument, type Pair } from "yaml";
import { webhookEventNames } from "../support/webhooks.js";

const text = readFileSync(new URL("../../app.yml", import.meta.url), "utf8");
const doc = parseDocument(text);
const manifest = doc.toJS() as Record<string, unknown>;

describe("app.yml", () => {
  it("parses without errors or warnings", () => {
    expect(doc.errors).toEqual([]);
    expect(doc.warnings).toEqual([]);
  });

  // Changing either list is a change to what every installation grants: do it here on purpose.
  it("asks for exactly the permissions the flows use", () => {
    expect(manifest.default_permissions).toEqual({
      issues: "write",
      pull_requests: "write",
      contents: "write",
      checks: "write",
      actions: "write",
      metadata: "read",
    });
  });

  it("never asks for the workflows permission", () => {
    expect(Object.keys(manifest.default_permissions as object)).not.toContain("workflows");
  });

  it("subscribes to exactly the events the flows use, all real webhook events", () => {
    expect(manifest.default_events).toEqual([
      "issues",
      "issue_comment",
      "workflow_run",
      "check_suite",
      "pull_request",
    ]);
    const known = webhookEventNames();
    for (const event of manifest.default_events as string[]) expect(known).toContain(event);
  });

  it("says which flow needs each permission", () => {
    const permissions = doc.get("default_permissions");
    if (!isMap(permissions)) throw new Error("default_permissions is not a mapping");
    // yaml attaches the comment above the first key to the mapping itself.
    const uncommented = (permissions.items as Pair[])
      .filter((pair, i) => {
        const comment = isScalar(pair.key) ? pair.key.commentBefore : undefined;
        return !(comment ?? (i === 0 ? permissions.commentBefore : undefined))?.trim();
      })
      .map((pair) => String((pair.key as { value: unknown }).value));
    expect(uncommented).toEqual([]);
  });

  it("is a private app with an active webhook", () => {
    expect(manifest.public).toBe(false);
    expect(manifest.hook_attributes).toMatchObject({ active: true });
    expect(String((manifest.hook_attributes as { url: string }).url)).toMatch(
      /^https:\/\/.+\/api\/github\/webhooks$/,
    );
  });
});
