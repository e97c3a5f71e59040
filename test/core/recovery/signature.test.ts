import { describe, expect, it } from "@jest/globals";
import { classify } from "../../../src/core/recovery/classify.js";
import { MAX_SIGNATURE_CHARS, normaliseLine, signatureOf } from "../../../src/core/recovery/signature.js";
import { extractEvidence } from "../../../src/runner/evidence.js";

describe("normaliseLine", () => {
  it.each([
    ["2026-11-20T10:15:32.1234567Z started", "<time> started"],
    ["at 2026-03-02 10:11:12.123456+00:00 and 10:11:12", "at <time> and <time>"],
    [
      "/home/runner/work/api/api/tests/test_api.py:31: AssertionError",
      "tests/test_api.py:<n>: AssertionError",
    ],
    ["file:///home/runner/work/calc/calc/build/reports/index.html", "build/reports/index.html"],
    ["D:\\a\\ledger\\ledger\\src\\Account.cs(14,31): error CS0103", "src\\Account.cs(<n>,<n>): error CS0103"],
    ["/Users/runner/work/app/app/Sources/main.swift:3:1: error", "Sources/main.swift:<n>:<n>: error"],
    ["/home/runner/work/_temp/0f6a1c2e-5b7d.sh: line 1: Killed", "<tmp>: line <n>: Killed"],
    ["written to /tmp/pytest-of-runner/pytest-3/test_x0/out.txt", "written to <tmp>"],
    ["request 3238042c-bdcd-422c-a60a-eb77b053a930 failed", "request <uuid> failed"],
    [
      "HEAD is now at 7aa3ccd Merge 9e8f7a6b5c4d3e21 into main",
      "HEAD is now at <hash> Merge <hash> into main",
    ],
    ["object at 0x7f3c2a1b4d90", "object at <hex>"],
    ["--- FAIL: TestParseConfig (0.00s)", "--- FAIL: TestParseConfig (<dur>)"],
    ["✓ adds an item (5 ms)", "✓ adds an item (<dur>)"],
    ["finished in 3.21s, took 2 minutes", "finished in <dur>, took <dur>"],
    ["Missing: zod@3.24.1 from lock file", "Missing: zod@<n> from lock file"],
    ["error TS2322 and E0308 and F401 stay, 42 goes", "error TS2322 and E0308 and F401 stay, <n> goes"],
    ["deadline exceeded for test_case_1", "deadline exceeded for test_case_1"],
    ["  lots   of\tspace  ", "lots of space"],
  ])("%s", (line, expected) => {
    expect(normaliseLine(line)).toBe(expected);
  });

  it("caps the text at MAX_SIGNATURE_CHARS without splitting a surrogate pair", () => {
    expect(normaliseLine("a".repeat(500))).toHaveLength(MAX_SIGNATURE_CHARS);
    const emoji = "a".repeat(MAX_SIGNATURE_CHARS - 1) + "😀tail";
    expect(normaliseLine(emoji)).toBe("a".repeat(MAX_SIGNATURE_CHARS - 1));
  });
});

describe("signatureOf", () => {
  it("takes the smallest normalised line, so the order failures are printed in does not matter", () => {
    expect(signatureOf("test", ["● b › two (3 ms)", "● a › one"])).toBe("test:● a › one");
    expect(signatureOf("test", ["● a › one", "● b › two (3 ms)"])).toBe("test:● a › one");
    expect(signatureOf("unknown", [])).toBe("unknown:no evidence");
  });
});

/** A pytest job log as two different runs of it would print it. */
function pytestRun(opts: {
  test: string;
  at: string;
  seconds: string;
  repo: string;
  address: string;
  line: number;
}) {
  const lines = [
    `##[group]Run pytest -q`,
    `##[endgroup]`,
    `rootdir: /home/runner/work/${opts.repo}/${opts.repo}`,
    `client = <starlette.testclient.TestClient object at ${opts.address}>`,
    `tests/test_api.py:${opts.line}: AssertionError`,
    `FAILED tests/test_api.py::${opts.test} - assert 400 == 201`,
    `========================= 1 failed, 42 passed in ${opts.seconds}s =========================`,
    `##[error]Process completed with exit code 1.`,
  ];
  return lines.map((l, i) => `${opts.at}${String(i).padStart(4, "0")}Z ${l}\n`).join("");
}

async function signatureOfLog(text: string): Promise<string> {
  async function* one() {
    yield text;
  }
  return classify(await extractEvidence(one(), { maxBytes: 64 * 1024 })).signature;
}

describe("signatures of whole logs", () => {
  const first = {
    test: "test_create_user",
    at: "2026-11-20T10:15:32.123",
    seconds: "3.21",
    repo: "api",
    address: "0x7f3c2a1b4d90",
    line: 31,
  };
  const second = {
    test: "test_create_user",
    at: "2026-12-01T23:01:09.987",
    seconds: "4.07",
    repo: "api-fork",
    address: "0x7f00deadbeef",
    line: 35,
  };

  it("are equal for the same failure on different runs, commits and machines", async () => {
    const a = await signatureOfLog(pytestRun(first));
    const b = await signatureOfLog(pytestRun(second));
    expect(a).toBe("test:FAILED tests/test_api.py::test_create_user - assert <n> == <n>");
    expect(b).toBe(a);
  });

  it("differ for a different failing test", async () => {
    const other = await signatureOfLog(pytestRun({ ...first, test: "test_delete_user" }));
    expect(other).toBe("test:FAILED tests/test_api.py::test_delete_user - assert <n> == <n>");
  });
});
