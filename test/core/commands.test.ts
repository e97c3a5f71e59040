import { describe, expect, it } from "@jest/globals";
import { COMMAND_USAGE, parseCommand } from "../../src/core/commands.js";
import { InputError } from "../../src/core/errors.js";

describe("parseCommand", () => {
  it.each([
    ["/switchyard route", { name: "route" }],
    ["/switchyard retry", { name: "retry" }],
    ["/switchyard stop", { name: "stop" }],
    ["/switchyard explain", { name: "explain" }],
    ["/switchyard route claude", { name: "route", tool: "claude" }],
  ])("reads %j", (body, expected) => {
    expect(parseCommand(body)).toEqual(expected);
  });

  it("ignores case and extra whitespace, and lower-cases the tool", () => {
    expect(parseCommand("  /SwitchYard   ROUTE \t Claude  ")).toEqual({ name: "route", tool: "claude" });
    expect(parseCommand("/switchyard\tExplain\r\n")).toEqual({ name: "explain" });
  });

  it("finds the command on any line and takes only the first", () => {
    expect(parseCommand("Thanks!\n\n/switchyard stop\n/switchyard route aider")).toEqual({ name: "stop" });
  });

  it("returns null for a comment without a command", () => {
    expect(parseCommand("")).toBeNull();
    expect(parseCommand("Looks good to me")).toBeNull();
    expect(parseCommand("please run /switchyard route")).toBeNull();
    expect(parseCommand("/switchyardroute")).toBeNull();
    expect(parseCommand("`/switchyard stop`")).toBeNull();
  });

  it("ignores commands in fenced code, until the fence closes", () => {
    expect(parseCommand("```\n/switchyard stop\n```")).toBeNull();
    expect(parseCommand("~~~~text\n/switchyard stop\n~~~\n/switchyard retry\n~~~~")).toBeNull();
    expect(parseCommand("```sh\n/switchyard stop\n```\n/switchyard retry")).toEqual({ name: "retry" });
  });

  it("ignores quoted commands", () => {
    expect(parseCommand("> /switchyard route")).toBeNull();
    expect(parseCommand("> > /switchyard stop\n\nI agree")).toBeNull();
  });

  it("ignores indented code and text a reader cannot see", () => {
    expect(parseCommand("    /switchyard stop")).toBeNull();
    expect(parseCommand("<!--\n/switchyard stop\n-->")).toBeNull();
    expect(parseCommand("<details><summary>x</summary>\n\n/switchyard stop\n\n</details>")).toBeNull();
    expect(parseCommand("\u200b/switchyard stop")).toEqual({ name: "stop" });
  });

  it("answers an unknown or malformed command with help and the reason", () => {
    expect(parseCommand("/switchyard")).toEqual({ name: "help", reason: "`/switchyard` needs a command" });
    expect(parseCommand("/switchyard deploy")).toEqual({
      name: "help",
      reason: "`deploy` is not a Switchyard command",
    });
    expect(parseCommand("/switchyard stop now")).toEqual({
      name: "help",
      reason: "`stop` takes no arguments",
    });
    expect(parseCommand("/switchyard route claude aider")).toEqual({
      name: "help",
      reason: "`route` takes at most one tool name",
    });
  });

  it("refuses a tool argument that is not a tool name, echoing it safely", () => {
    expect(parseCommand("/switchyard route claude;rm")).toEqual({
      name: "help",
      reason:
        "`claude;rm` is not a tool name (a lower-case name: letters, digits, '-' or '_', starting with a letter)",
    });
    const result = parseCommand("/switchyard route `@x`" + "a".repeat(60));
    expect(result).toEqual({
      name: "help",
      reason: expect.stringMatching(/^`'@x'a{36}…` is not a tool name/),
    });
  });

  it("never reads its own usage text as a command", () => {
    expect(parseCommand(COMMAND_USAGE)).toBeNull();
  });

  it("throws an InputError for a body that is not a string", () => {
    expect(() => parseCommand(null as unknown as string)).toThrow(
      new InputError("comment body: expected a string, got null"),
    );
  });
});
