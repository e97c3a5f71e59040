import { describe, expect, it } from "@jest/globals";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { ACTION_INPUT_NAMES, ACTION_MODES } from "../../src/action/inputs.js";

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
    const src = readdirSync(path.join(ROOT, "src/action"))
      .filter((f) => f.endsWith(".ts"))
      .map((f) => readFileSync(path.join(ROOT, "src/action", f), "utf8"))
      .join("\n");
    const set = [...src.matchAll(/core\.setOutput\(\s*"([\w-]+)"/g)].map((m) => m[1]);
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
    // The app commits the patch; the job that runs the AI tool only reads.
    expect(job.permissions).toEqual({ contents: "read", issues: "read" });
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

describe("every shipped workflow that runs Switchyard", () => {
  const files = [
    ...readdirSync(path.join(ROOT, ".github/workflows"))
      .filter((f) => f.startsWith("switchyard-"))
      .map((f) => `.github/workflows/${f}`),
    ...readdirSync(path.join(ROOT, "docs/examples/workflows")).map((f) => `docs/examples/workflows/${f}`),
  ];
  const isSwitchyard = (uses: unknown) => uses === "./" || uses === "<owner>/switchyard@v0";
  const modes = read("action.yml").inputs.mode.description as string;

  it("are the four modes' workflows, for the app and without it", () => {
    expect(files.sort()).toEqual([
      ".github/workflows/switchyard-execute.yml",
      ".github/workflows/switchyard-recover.yml",
      "docs/examples/workflows/switchyard-analyze.yml",
      "docs/examples/workflows/switchyard-execute.yml",
      "docs/examples/workflows/switchyard-recover.yml",
      "docs/examples/workflows/switchyard-route.yml",
    ]);
  });

  it.each(files)("%s grants nothing at the top, and each job only what it declares", (file) => {
    const wf = read(file);
    expect(wf.permissions).toEqual({});
    for (const job of Object.values(wf.jobs) as Yaml[]) {
      expect(typeof job.permissions).toBe("object");
      expect(Object.values(job.permissions).every((p) => p === "read" || p === "write")).toBe(true);
      // Writing workflow files is never needed and never granted.
      expect(Object.keys(job.permissions)).not.toContain("workflows");
    }
  });

  it.each(files)("%s passes only real inputs to Switchyard, and no untrusted text to a shell", (file) => {
    const wf = read(file);
    let steps = 0;
    for (const job of Object.values(wf.jobs) as Yaml[]) {
      for (const step of job.steps as Yaml[]) {
        if (step.run) expect(step.run).not.toMatch(/\$\{\{\s*(github\.event|inputs)\./);
        if (step.uses?.startsWith("actions/checkout@")) expect(step.with["persist-credentials"]).toBe(false);
        if (!isSwitchyard(step.uses)) continue;
        steps += 1;
        for (const key of Object.keys(step.with)) expect(ACTION_INPUT_NAMES as string[]).toContain(key);
        expect(ACTION_MODES as readonly string[]).toContain(step.with.mode);
        expect(modes).toContain(`${step.with.mode}:`);
      }
    }
    expect(steps).toBeGreaterThan(0);
  });
});
