import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { ACTION_INPUT_NAMES } from "../../src/action/inputs.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- YAML documents, probed by the assertions
type Yaml = any;
const read = (file: string): Yaml => parse(readFileSync(path.join(ROOT, file), "utf8"));

describe("action.yml", () => {
  const action = read("action.yml");

  it("declares exactly the inputs the Action parses", () => {
    expect(Object.keys(action.inputs).sort()).toEqual([...ACTION_INPUT_NAMES].sort());
  });

  it("declares the outputs the Action sets, and runs the bundle on Node 24", () => {
    const src = readFileSync(path.join(ROOT, "src/action/execute.ts"), "utf8");
    const set = [...src.matchAll(/core\.setOutput\("([\w-]+)"/g)].map((m) => m[1]);
    expect(Object.keys(action.outputs).sort()).toEqual([...new Set(set)].sort());
    expect(action.runs).toEqual({ using: "node24", main: "dist/index.js" });
  });
});

describe("the example execute workflow", () => {
  const wf = read(".github/workflows/switchyard-execute.yml");
  const job = wf.jobs.execute;

  it("is dispatched with the task's issue number and the decision", () => {
    expect(Object.keys(wf.on)).toEqual(["workflow_dispatch"]);
    expect(wf.on.workflow_dispatch.inputs["issue-number"].required).toBe(true);
  });

  it("asks for least privilege, one run per issue and a time limit", () => {
    expect(wf.permissions).toEqual({});
    expect(job.permissions).toEqual({
      contents: "write",
      "pull-requests": "write",
      checks: "write",
      issues: "read",
    });
    expect(job.concurrency.group).toContain("inputs.issue-number");
    expect(job["timeout-minutes"]).toBeGreaterThan(0);
  });

  it("checks out without persisting the token, where the tool could read it", () => {
    const checkout = job.steps.find((s: { uses?: string }) => s.uses?.startsWith("actions/checkout@"));
    expect(checkout.with["persist-credentials"]).toBe(false);
  });

  it("passes every input it gives the Action through `with`, never a shell", () => {
    const step = job.steps.find((s: { uses?: string }) => s.uses === "./");
    expect(Object.keys(step.with).every((k) => (ACTION_INPUT_NAMES as string[]).includes(k))).toBe(true);
    for (const s of job.steps) if (s.run) expect(s.run).not.toMatch(/\$\{\{\s*(github\.event|inputs)\./);
  });
});
