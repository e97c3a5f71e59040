import type { Problem } from "../core/errors.js";
import { isPlainObject, locations, type NodeLocations, type SourceLocation } from "./yaml-source.js";

/**
 * How configuration layers combine (the shipped defaults first, then a repository's
 * .github/switchyard.yml):
 *
 * - mappings merge key by key, recursively, so an override names only what it changes;
 * - lists whose items all carry a `name` (tools, execution.gates) merge by name: an entry whose
 *   name already exists is merged into that entry, a new name is appended; a tool is switched off
 *   with `enabled: false`, never by leaving it out;
 * - every other list (args, capabilities, a routing chain) is replaced as a whole, because a
 *   partial edit of an ordered list has no obvious meaning;
 * - `null` for a key removes it: an optional setting becomes unset, a setting with a built-in
 *   default falls back to that default, a label mapping or a routing chain disappears.
 *
 * Inputs are never modified (parsed defaults are cached and shared); merged containers are new
 * objects with their own locations, so a later problem points at the layer that wrote the value.
 */

export type ProblemSink = (problem: Problem) => void;

export function mergeValues(base: unknown, over: unknown, report: ProblemSink): unknown {
  if (over === undefined) return base;
  if (isPlainObject(over)) {
    return mergeObjects(isPlainObject(base) ? base : undefined, over, report);
  }
  if (Array.isArray(over) && Array.isArray(base) && isNamedList(base) && isNamedList(over)) {
    return mergeNamedLists(base, over, report);
  }
  if (Array.isArray(over) && isNamedList(over) && base === undefined) {
    return mergeNamedLists([], over, report);
  }
  return over;
}

function mergeObjects(
  base: Record<string, unknown> | undefined,
  over: Record<string, unknown>,
  report: ProblemSink,
): Record<string, unknown> {
  const overLoc = locations.get(over);
  const baseLoc = base ? locations.get(base) : undefined;
  const out: Record<string, unknown> = {};
  const keys = new Map<string | number, SourceLocation>();
  if (base) {
    for (const [k, v] of Object.entries(base)) {
      out[k] = v;
      const loc = baseLoc?.keys.get(k);
      if (loc) keys.set(k, loc);
    }
  }
  for (const [k, v] of Object.entries(over)) {
    if (v === null) {
      delete out[k];
      keys.delete(k);
      continue;
    }
    out[k] = mergeValues(out[k], v, report);
    const loc = overLoc?.keys.get(k);
    if (loc) keys.set(k, loc);
  }
  const self = overLoc?.self ?? baseLoc?.self;
  if (self) locations.set(out, { self, keys });
  return out;
}

type Named = Record<string, unknown> & { name: string };

export function isNamedList(list: unknown[]): list is Named[] {
  return list.every((item) => isPlainObject(item) && typeof item.name === "string");
}

function mergeNamedLists(base: Named[], over: Named[], report: ProblemSink): Named[] {
  const baseLoc = locations.get(base);
  const overLoc = locations.get(over);
  const out: Named[] = [];
  const outLocs: SourceLocation[] = [];
  const index = new Map<string, number>();
  base.forEach((item, i) => {
    index.set(item.name, out.length);
    out.push(item);
    outLocs.push(baseLoc?.keys.get(i) ?? locations.get(item)?.self ?? unknownLocation);
  });
  const seen = new Map<string, SourceLocation | undefined>();
  over.forEach((item, i) => {
    const loc = overLoc?.keys.get(i) ?? locations.get(item)?.self;
    if (seen.has(item.name)) {
      const first = seen.get(item.name);
      report({
        ...(loc ?? unknownLocation),
        message: `'${item.name}' is listed twice`,
        hint: first ? `the first entry is at line ${first.line}; merge the two` : "merge the two entries",
      });
      return;
    }
    seen.set(item.name, loc);
    const existing = index.get(item.name);
    if (existing === undefined) {
      index.set(item.name, out.length);
      out.push(mergeValues(undefined, item, report) as Named);
      outLocs.push(loc ?? unknownLocation);
    } else {
      out[existing] = mergeValues(out[existing], item, report) as Named;
      if (loc) outLocs[existing] = loc;
    }
  });
  const self = overLoc?.self ?? baseLoc?.self;
  const located: NodeLocations = {
    self: self ?? unknownLocation,
    keys: new Map(outLocs.map((l, i) => [i, l])),
  };
  locations.set(out, located);
  return out;
}

const unknownLocation: SourceLocation = { file: "<unknown>", line: 1, column: 1 };
