import { describe, expect, it } from "@jest/globals";
import { ConfigSchema } from "../../../src/config/schema.js";
import { InputError } from "../../../src/core/errors.js";
import { LOCAL_REPOSITORY, parseIssueFile, taskFromIssueFile } from "../../../src/core/task/issue-file.js";

const config = ConfigSchema.parse({});

function refusal(fileName: string, text: string): string {
  try {
    parseIssueFile(fileName, text);
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as Error).message;
  }
  throw new Error("expected an InputError");
}

describe("Markdown issue files", () => {
  it("reads front matter, takes the first # heading as the title and the rest as the body", () => {
    const text = [
      "---",
      "number: 12",
      "repository: octo/repo",
      "labels: [switchyard, 'switchyard:cap/testing']",
      "author: alice",
      "url: https://github.com/octo/repo/issues/12",
      "---",
      "Some preface.",
      "",
      "# Cover the parser with tests #",
      "",
      "The parser has no tests.",
    ].join("\n");
    expect(parseIssueFile("issue.md", text)).toEqual({
      issue: {
        number: 12,
        title: "Cover the parser with tests",
        body: "Some preface.\n\n\nThe parser has no tests.",
        labels: ["switchyard", "switchyard:cap/testing"],
        user: { login: "alice" },
        html_url: "https://github.com/octo/repo/issues/12",
      },
      repository: { owner: "octo", name: "repo" },
    });
  });

  it("defaults number to 1, author to local and the repository to local/local", () => {
    expect(parseIssueFile("x.markdown", "\uFEFF# Title\r\nBody\r\n")).toEqual({
      issue: { number: 1, title: "Title", body: "Body", labels: [], user: { login: "local" } },
      repository: LOCAL_REPOSITORY,
    });
  });

  it("does not take a heading inside a code block as the title", () => {
    const file = parseIssueFile("x.md", "```sh\n# not a title\n```\n# Real title\ntext");
    expect((file.issue as { title: string }).title).toBe("Real title");
  });

  it("takes the title from front matter, and comma-separated labels", () => {
    const file = parseIssueFile(
      "x.md",
      "---\ntitle: From front matter\nlabels: a, b\n---\n# A heading in the body\n",
    );
    expect(file.issue).toMatchObject({
      title: "From front matter",
      body: "# A heading in the body",
      labels: ["a", "b"],
    });
  });

  it("builds a pull request from head and base", () => {
    const file = parseIssueFile("pr.md", "---\nkind: pull_request\nhead: feature/x\nbase: main\n---\n# PR\n");
    expect(file.issue).toMatchObject({ head: { ref: "feature/x" }, base: { ref: "main" } });
  });

  it("refuses what it cannot read, naming the file (and the line for YAML)", () => {
    expect(refusal("x.md", "Just text")).toBe(
      'x.md: no title; start the text with a "# Title" line or set title: in the front matter',
    );
    expect(refusal("x.md", "---\nnumber: 1\n# no closing line")).toBe(
      'x.md:1: front matter: no closing "---" line',
    );
    expect(refusal("x.md", "---\nlables: [a]\n---\n# T")).toBe(
      'x.md: front matter: unknown key "lables" (did you mean "labels"?)',
    );
    expect(refusal("x.md", "---\nnumber: twelve\n---\n# T")).toBe(
      "x.md: front matter: number: expected a positive integer",
    );
    expect(refusal("x.md", "---\ntitle: a\ntitle: b\n---\n")).toMatch(
      /^x\.md:3:1: front matter: Map keys must be unique/,
    );
    expect(refusal("x.md", "---\nrepository: not a repo\n---\n# T")).toBe(
      "x.md: front matter: repository: expected owner/name",
    );
    expect(refusal("x.md", "---\n- a\n- b\n---\n# T")).toBe("x.md: front matter: expected key: value lines");
    expect(refusal("x.md", "---\nhead: x\n---\n# T")).toBe(
      "x.md: front matter: a pull request needs both head and base",
    );
    expect(refusal("issue.txt", "x")).toBe(
      'issue.txt: unsupported file type ".txt"; use .json (a GitHub issue or webhook payload) or .md (Markdown with optional front matter)',
    );
  });

  it("refuses YAML alias bombs", () => {
    const bomb = ["---", "a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 0; i < 8; i++)
      bomb.push(
        `${"bcdefghi"[i]}: &${"bcdefghi"[i]} [${Array(10)
          .fill(`*${i === 0 ? "a" : "bcdefghi"[i - 1]}`)
          .join(", ")}]`,
      );
    bomb.push("---", "# T");
    expect(refusal("x.md", bomb.join("\n"))).toMatch(/^x\.md: front matter: /);
  });
});

describe("JSON issue files", () => {
  it("passes an issue or webhook payload through, with a repository only when none can be found", () => {
    const payload = { issue: { number: 3, title: "t" }, repository: { full_name: "octo/repo" } };
    expect(parseIssueFile("event.json", JSON.stringify(payload))).toEqual({ issue: payload });
    expect(parseIssueFile("i.json", '{"number": 3, "title": "t"}')).toEqual({
      issue: { number: 3, title: "t" },
      repository: LOCAL_REPOSITORY,
    });
  });

  it("refuses invalid JSON and JSON that is not an object", () => {
    expect(refusal("i.json", "{ nope")).toMatch(/^i\.json: not valid JSON \(.+\)$/);
    expect(refusal("i.json", "[1, 2]")).toBe(
      "i.json: expected a JSON object (a GitHub issue, a pull request or a webhook payload)",
    );
  });

  it("survives deeply nested JSON", () => {
    expect(refusal("i.json", "[".repeat(100_000) + "]".repeat(100_000))).toBe(
      "i.json: expected a JSON object (a GitHub issue, a pull request or a webhook payload)",
    );
    const deep = '{"a":'.repeat(100_000) + "1" + "}".repeat(100_000);
    expect(() => taskFromIssueFile("i.json", deep, config)).toThrow(
      new InputError("i.json: issue.number: expected a positive integer; issue.title: expected a string"),
    );
  });
});

describe("taskFromIssueFile", () => {
  it("builds a task and puts the file name in front of input errors", () => {
    const task = taskFromIssueFile("issue.md", "---\nnumber: 4\n---\n# Add tests for the lexer\n", config);
    expect(task.key).toBe("local/local#4");
    expect(task.capability).toBe("testing");
    expect(() => taskFromIssueFile("i.json", '{"number": "4", "title": "t"}', config)).toThrow(
      new InputError("i.json: issue.number: expected a positive integer"),
    );
  });

  it("lets the caller's repository win", () => {
    const task = taskFromIssueFile("issue.md", "# T\n", config, { repository: { owner: "a", name: "b" } });
    expect(task.key).toBe("a/b#1");
  });
});
