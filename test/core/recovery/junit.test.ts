import { describe, expect, it } from "@jest/globals";
import { InputError } from "../../../src/core/errors.js";
import { parseJUnitFailures, scanJUnit } from "../../../src/core/recovery/junit.js";

const JEST_JUNIT = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="jest tests" tests="3" failures="1" errors="0" time="1.2">
  <testsuite name="Cart" errors="0" failures="1" skipped="0" timestamp="2026-11-20T10:15:32" time="0.5" tests="2">
    <testcase classname="Cart starts empty" name="Cart starts empty" time="0.003">
    </testcase>
    <testcase classname="Cart adds an item" name="Cart adds an item" time="0.005" file="src/cart.test.ts">
      <failure>Error: expect(received).toBe(expected) // Object.is equality

Expected: 2
Received: 1
    at Object.toBe (src/cart.test.ts:14:26)</failure>
    </testcase>
  </testsuite>
  <testsuite name="Price" tests="1"><testcase classname="Price" name="rounds" time="0.001"/></testsuite>
</testsuites>`;

const PYTEST = `<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="4"><testcase classname="tests.test_api" name="test_create_user" time="0.012"><failure message="assert 400 == 201&#10; +  where 400 = &lt;Response [400 Bad Request]&gt;.status_code">client = &lt;TestClient&gt;
&gt;       assert resp.status_code == 201</failure></testcase><testcase classname="tests.test_db" name="test_save" time="0.001"><error message="failed on setup with &quot;psycopg.OperationalError: connection refused&quot;">setup failed</error></testcase><testcase classname="tests.test_api" name="test_skip"><skipped type="pytest.skip" message="later"/></testcase><testcase classname="tests.test_api" name="test_ok" time="0.001"/></testsuite></testsuites>`;

describe("parseJUnitFailures", () => {
  it("reads jest-junit: the failing case, its suite and file, the first line of the failure text", () => {
    expect(parseJUnitFailures(JEST_JUNIT)).toEqual([
      {
        suite: "Cart",
        name: "Cart adds an item",
        classname: "Cart adds an item",
        kind: "failure",
        message: "Error: expect(received).toBe(expected) // Object.is equality",
        file: "src/cart.test.ts",
      },
    ]);
    expect(scanJUnit(JEST_JUNIT)).toMatchObject({ failed: 1, tests: 3, truncated: false });
  });

  it("reads pytest: message attributes with entities, errors as well as failures, skips ignored", () => {
    expect(parseJUnitFailures(PYTEST)).toEqual([
      {
        suite: "pytest",
        name: "test_create_user",
        classname: "tests.test_api",
        kind: "failure",
        message: "assert 400 == 201 + where 400 = <Response [400 Bad Request]>.status_code",
      },
      {
        suite: "pytest",
        name: "test_save",
        classname: "tests.test_db",
        kind: "error",
        message: 'failed on setup with "psycopg.OperationalError: connection refused"',
      },
    ]);
  });

  it("reads Surefire: self-closing failures with a type, CDATA bodies, comments and namespaces", () => {
    const xml = `<testsuite name="com.acme.InvoiceTest" tests="2">
      <!-- <testcase name="commented out"><failure message="no"/></testcase> -->
      <testcase name="totalIncludesTax" classname="com.acme.InvoiceTest">
        <failure type="org.opentest4j.AssertionFailedError"><![CDATA[expected: <119.00> but was: <100.00> & more]]></failure>
      </testcase>
      <ns:testcase name="rounds" classname="com.acme.InvoiceTest"><ns:error type="java.lang.NullPointerException"/></ns:testcase>
    </testsuite>`;
    expect(parseJUnitFailures(xml).map((f) => [f.name, f.kind, f.message])).toEqual([
      [
        "totalIncludesTax",
        "failure",
        "org.opentest4j.AssertionFailedError: expected: <119.00> but was: <100.00> & more",
      ],
      ["rounds", "error", "java.lang.NullPointerException"],
    ]);
  });

  it("caps the cases returned and the length of messages, and counts the rest", () => {
    const cases = Array.from(
      { length: 30 },
      (_, i) => `<testcase name="t${i}" classname="C"><failure message="${"m".repeat(1000)}"/></testcase>`,
    ).join("");
    const scan = scanJUnit(`<testsuite name="S">${cases}</testsuite>`, { maxCases: 5, maxMessageChars: 20 });
    expect(scan.failures.map((f) => f.name)).toEqual(["t0", "t1", "t2", "t3", "t4"]);
    expect(scan.failures[0]!.message).toBe("m".repeat(20) + "…");
    expect(scan).toMatchObject({ failed: 30, tests: 30 });
  });

  it("keeps the cases before the cut in a truncated report", () => {
    const cut =
      JEST_JUNIT.slice(0, JEST_JUNIT.indexOf("</failure>") + 10) +
      '</testcase><testcase name="x" classname="y';
    const scan = scanJUnit(cut);
    expect(scan.failures.map((f) => f.name)).toEqual(["Cart adds an item"]);
    expect(scan.truncated).toBe(true);
  });

  it("returns nothing for text that is not JUnit, binary data included", () => {
    expect(parseJUnitFailures("just a log\nwith <b>html</b> & stuff")).toEqual([]);
    const binary = String.fromCharCode(...Array.from({ length: 5000 }, (_, i) => (i * 7919) % 65536));
    expect(scanJUnit(binary).failures).toEqual([]);
    expect(() => parseJUnitFailures(42 as unknown as string)).toThrow(InputError);
    expect(() => scanJUnit("", { maxCases: -1 })).toThrow(InputError);
  });

  it("takes linear time on inputs built to make a naive scanner quadratic", () => {
    // Each of these would make a scanner that restarts its search at every '<' read megabytes
    // per tag; the test timeout is the assertion.
    const n = 400_000;
    expect(scanJUnit("<a ".repeat(n)).tests).toBe(0);
    expect(scanJUnit(`<testcase name="${"<".repeat(n)}`).truncated).toBe(true);
    expect(scanJUnit("<testcase><failure>" + "<!-- ".repeat(n)).truncated).toBe(true);
    // Unquoted attributes and no '>': each tag ends where the next begins; the last never does.
    expect(scanJUnit("<testcase a=x b=y ".repeat(n / 4))).toMatchObject({
      tests: n / 4 - 1,
      truncated: true,
    });
  });
});
