import type { Category } from "./schema.js";

/**
 * Failure signatures: `category:normalised text`, the same for every repeat of one failure and
 * different for different failures, so the analysis can count "this test failed 14 times this
 * week" across runs, machines and commits.
 *
 * What is folded is what changes between two runs of the same failure: timestamps, the runner's
 * checkout path (`/home/runner/work/<repo>/<repo>/`, `D:\a\<repo>\<repo>\`), temporary files,
 * UUIDs, hex hashes and addresses, durations and numbers (line and column, counts, versions).
 * What is kept is what tells failures apart: test and file names, error codes (TS2322, E0308,
 * F401: letters glued to digits are not numbers), messages and quoted identifiers.
 */

export const MAX_SIGNATURE_CHARS = 200;

const REPLACEMENTS: [RegExp, string][] = [
  // Colour codes, should any reach here.
  // eslint-disable-next-line no-control-regex -- matching the escape character is the point
  [/\x1b\[[0-?]*[ -/]*[@-~]/g, ""],
  // ISO and log timestamps, then dates and clock times on their own.
  [/\b\d{4}-\d\d-\d\d[T _]\d\d[:_]\d\d[:_]\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?/g, "<time>"],
  [/\b\d{4}-\d\d-\d\d\b/g, "<date>"],
  [/\b\d\d:\d\d:\d\d(?:\.\d+)?\b/g, "<time>"],
  // Temporary files before checkout paths: the runner's _temp lives under its work folder.
  [
    /(?:\/home\/runner\/work\/_temp|\/tmp|\/private\/var\/folders|\/var\/folders|[A-Za-z]:\\a\\_temp|[A-Za-z]:\\Users\\[^\\\s]+\\AppData\\Local\\Temp)[/\\][^\s'"`),:\]]*/g,
    "<tmp>",
  ],
  // The checkout, so a path reads as it does in the repository.
  [/(?:file:\/\/)?(?:\/home\/runner\/work|\/Users\/runner\/work|\/__w)\/[^/\s]+\/[^/\s]+\//g, ""],
  [/\b[A-Za-z]:\\a\\[^\\\s]+\\[^\\\s]+\\/g, ""],
  [/\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b/g, "<uuid>"],
  [/\b0x[0-9a-fA-F]+\b/g, "<hex>"],
  // Hashes: 7 or more hex digits with at least one digit and one letter (so "deadline" stays).
  [/\b(?=[0-9a-f]{0,63}[0-9])(?=[0-9a-f]{0,63}[a-f])[0-9a-f]{7,64}\b/g, "<hash>"],
  // Durations, before plain numbers: "0.01s", "(3 ms)", "in 4.77s".
  [/\b\d+(?:\.\d+)?(?:ms|s|m|h)\b/g, "<dur>"],
  [/\b\d+(?:\.\d+)? ?(?:ms|sec|secs|seconds|minutes?)\b/g, "<dur>"],
  [/\b\d+(?:\.\d+)*\b/g, "<n>"],
  [/\s+/g, " "],
];

/** A line with everything that differs between runs of the same failure folded. */
export function normaliseLine(text: string): string {
  let s = text.length > 4 * MAX_SIGNATURE_CHARS ? text.slice(0, 4 * MAX_SIGNATURE_CHARS) : text;
  for (const [re, to] of REPLACEMENTS) s = s.replace(re, to);
  s = s.trim();
  if (s.length > MAX_SIGNATURE_CHARS) {
    let end = MAX_SIGNATURE_CHARS;
    if ((s.charCodeAt(end) & 0xfc00) === 0xdc00) end--;
    s = s.slice(0, end);
  }
  return s;
}

/**
 * The signature of a failure from the lines that identify it. The smallest normalised line is
 * taken, not the first: parallel test runners print failures in a different order each run, and
 * the same set of failures must give the same signature.
 */
export function signatureOf(category: Category, lines: readonly string[]): string {
  let best: string | undefined;
  for (const line of lines) {
    const s = normaliseLine(line);
    if (s === "") continue;
    if (best === undefined || s < best) best = s;
  }
  return `${category}:${best ?? "no evidence"}`;
}
