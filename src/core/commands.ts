import { NameSchema } from "../config/schema.js";
import { InputError } from "./errors.js";
import { sanitizeUntrusted } from "./task/sanitize.js";

/**
 * Comment commands: `/switchyard route [tool]`, `/switchyard retry`, `/switchyard stop`,
 * `/switchyard explain`. Pure: a comment body in, at most one command out.
 *
 * What counts, and why:
 * - Only what a reader sees: the body is sanitised first (src/core/task/sanitize.ts), so a command
 *   in an HTML comment, a collapsed `<details>` block or behind invisible characters is not one.
 *   A command nobody can see must not stop a run.
 * - Only a line that starts with `/switchyard` (up to three spaces of indentation, as Markdown
 *   allows before a paragraph). Fenced code and block quotes are text about a command, not one:
 *   quoting someone's `/switchyard stop` in a reply must not stop the run a second time.
 * - The first command line wins; the others are ignored. One comment, one action, so a comment
 *   cannot chain `stop` and `route`.
 * - `/switchyard` and the subcommand are case-insensitive, and so is the tool: tool names are
 *   lower-case (config NameSchema), and GitHub's labels, the other way to ask for a tool, are
 *   case-insensitive too, so `Claude` means `claude`. A tool argument that is not a name at all
 *   is refused with the reason.
 * - `/switchyard` alone, an unknown subcommand or extra arguments give `help`, so the author
 *   hears what went wrong instead of nothing.
 */

export const COMMAND_NAMES = ["route", "retry", "stop", "explain"] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

export type ParsedCommand =
  | { name: CommandName; tool?: string }
  /** A line that addressed Switchyard but is not a command it knows; `reason` says why. */
  | { name: "help"; reason: string };

/** GitHub's limit on a comment body, in characters; in UTF-8 at most four bytes each. */
const COMMENT_BODY_MAX_BYTES = 65_536 * 4;
const KEYWORD = "/switchyard";

/** The usage line every help reply shows; none of its lines starts with `/switchyard`. */
export const COMMAND_USAGE = [
  "`/switchyard route [tool]` routes this task again (to `tool` when given),",
  "`/switchyard retry` routes it again from the start (when it is not running),",
  "`/switchyard stop` cancels its running workflow, and",
  "`/switchyard explain` lists every candidate tool with the reason for its place.",
].join(" ");

export function parseCommand(body: string): ParsedCommand | null {
  if (typeof body !== "string") {
    throw new InputError(`comment body: expected a string, got ${body === null ? "null" : typeof body}`);
  }
  const visible = sanitizeUntrusted(body, { maxBytes: COMMENT_BODY_MAX_BYTES }).text;
  let fence: { char: string; length: number } | null = null;
  for (const line of visible.split("\n")) {
    const opening = /^ {0,3}(`{3,}|~{3,})(.*)$/.exec(line);
    if (fence !== null) {
      // A fence closes with the same character, at least as long, and nothing after it.
      if (
        opening &&
        opening[1]![0] === fence.char &&
        opening[1]!.length >= fence.length &&
        !opening[2]!.trim()
      )
        fence = null;
      continue;
    }
    // A backtick fence's info string may not contain a backtick (CommonMark); such a line is text.
    if (opening && !(opening[1]![0] === "`" && opening[2]!.includes("`"))) {
      fence = { char: opening[1]![0]!, length: opening[1]!.length };
      continue;
    }
    const command = parseLine(line);
    if (command !== null) return command;
  }
  return null;
}

function parseLine(line: string): ParsedCommand | null {
  const m = /^ {0,3}(\S+)(.*)$/.exec(line);
  if (!m || m[1]!.toLowerCase() !== KEYWORD) return null;
  const words = m[2]!.trim().split(/\s+/).filter(Boolean);
  const [sub, ...args] = words;
  if (sub === undefined) return { name: "help", reason: "`/switchyard` needs a command" };
  const name = sub.toLowerCase();
  if (!(COMMAND_NAMES as readonly string[]).includes(name)) {
    return { name: "help", reason: `\`${clip(sub)}\` is not a Switchyard command` };
  }
  if (name !== "route") {
    return args.length === 0
      ? { name: name as CommandName }
      : { name: "help", reason: `\`${name}\` takes no arguments` };
  }
  if (args.length === 0) return { name: "route" };
  if (args.length > 1) return { name: "help", reason: "`route` takes at most one tool name" };
  const tool = args[0]!.toLowerCase();
  if (!NameSchema.safeParse(tool).success) {
    return {
      name: "help",
      reason: `\`${clip(args[0]!)}\` is not a tool name (a lower-case name: letters, digits, '-' or '_', starting with a letter)`,
    };
  }
  return { name: "route", tool };
}

/** Echoed words are untrusted: short, and without backticks that could end the code span. */
function clip(word: string): string {
  const clean = word.replace(/`/g, "'");
  return clean.length > 40 ? `${clean.slice(0, 40)}…` : clean;
}
