import { describe, expect, it } from "@jest/globals";
import { parseDependencies } from "../../../src/core/task/dependencies.js";

const self = { owner: "octo", name: "repo", number: 1 };

describe("parseDependencies", () => {
  it("reads depends-on, blocked-by, URLs and unchecked task-list items, in order, once each", () => {
    const body = [
      "Depends on #12 and octo/other#34.",
      "Blocked by: #5, #6",
      "See https://github.com/octo/repo/issues/99 (just a link, not a dependency)",
      "**Depends on:** https://github.com/octo/lib/issues/9",
      "- [ ] #7",
      "- [x] #8",
      "- [ ] write docs for #20",
      "> Depends on #40",
      "Not this: `Depends on #41`",
      "```",
      "Depends on #42",
      "```",
      "depends on #1 (itself) and #12 (again), blocked-by OCTO/Other#34",
    ].join("\n");
    expect(parseDependencies(body, self)).toEqual({
      dependencies: [
        { owner: "octo", name: "repo", number: 12, via: "depends_on" },
        { owner: "octo", name: "other", number: 34, via: "depends_on" },
        { owner: "octo", name: "repo", number: 5, via: "blocked_by" },
        { owner: "octo", name: "repo", number: 6, via: "blocked_by" },
        { owner: "octo", name: "lib", number: 9, via: "depends_on" },
        { owner: "octo", name: "repo", number: 7, via: "task_list" },
      ],
      dropped: 0,
    });
  });

  it("reads task-list items in a [tasklist] block", () => {
    const body = "```[tasklist]\n- [ ] #3\n- [ ] https://github.com/octo/repo/pull/4\n```";
    expect(parseDependencies(body, self).dependencies.map((d) => d.number)).toEqual([3, 4]);
  });

  it("only counts URLs on github.com or the hosts given (a GHES instance)", () => {
    const body =
      "Depends on https://gitlab.com/a/b/issues/3, https://ghe.corp/a/b/issues/4 and https://github.com/a/b/pull/5";
    expect(parseDependencies(body, self).dependencies.map((d) => d.number)).toEqual([5]);
    expect(
      parseDependencies(body, { ...self, hosts: ["ghe.corp"] }).dependencies.map((d) => d.number),
    ).toEqual([4, 5]);
  });

  it("does not read numbers glued to other text", () => {
    expect(
      parseDependencies("Depends on #12abc; depends on issue 13; blocked by #0", self).dependencies,
    ).toEqual([]);
  });

  it("stops at 50 and says how many more there were", () => {
    const body = Array.from({ length: 60 }, (_, i) => `- [ ] #${i + 2}`).join("\n");
    const r = parseDependencies(body, self);
    expect(r.dependencies).toHaveLength(50);
    expect(r.dependencies[49]!.number).toBe(51);
    expect(r.dropped).toBe(10);
  });
});
