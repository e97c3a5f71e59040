import { stat } from "node:fs/promises";
import path from "node:path";
import { readHead, startsWithJsonObject } from "./job-log-signatures.js";
import { describeError, walkFiles } from "./read-event-logs.js";

/**
 * What `switchyard analyze <path...>` reads, sorted into its two kinds:
 * - a file given by name is an event log when it ends in .jsonl or its first line is a JSON
 *   object, and a job log otherwise (an empty file too: there is nothing to analyse either way,
 *   and the job-log reader says so);
 * - below a directory, *.jsonl files are event logs and *.log and *.txt files are job logs
 *   (other files, such as a run's report.md, are left alone).
 * A file given that cannot be read is still listed as a job log when its name does not end in
 * .jsonl, so that the reader that tries it reports why.
 */

export interface FoundAnalysisLogs {
  eventLogs: string[];
  jobLogs: string[];
  /** Paths given that do not exist or hold no log, with the reason. */
  problems: { path: string; error: string }[];
}

const JOB_LOG = /\.(log|txt)$/i;

export async function findLogs(paths: readonly string[], cwd = process.cwd()): Promise<FoundAnalysisLogs> {
  const found: FoundAnalysisLogs = { eventLogs: [], jobLogs: [], problems: [] };
  const seen = new Set<string>();
  const add = (list: string[]) => (file: string) => {
    if (!seen.has(file)) {
      seen.add(file);
      list.push(file);
    }
  };
  for (const given of paths) {
    const full = path.resolve(cwd, given);
    let info;
    try {
      info = await stat(full);
    } catch (error) {
      found.problems.push({ path: given, error: describeError(error) });
      continue;
    }
    if (!info.isDirectory()) {
      add(full.endsWith(".jsonl") || (await firstLineIsJson(full)) ? found.eventLogs : found.jobLogs)(full);
      continue;
    }
    const before = seen.size;
    const walkProblems: string[] = [];
    await walkFiles(
      full,
      (name) => name.endsWith(".jsonl") || JOB_LOG.test(name),
      (file) => add(file.endsWith(".jsonl") ? found.eventLogs : found.jobLogs)(file),
      walkProblems,
    );
    if (seen.size === before) {
      found.problems.push({
        path: given,
        error: walkProblems[0] ?? "no *.jsonl, *.log or *.txt files in this directory or below",
      });
    }
  }
  return found;
}

async function firstLineIsJson(file: string): Promise<boolean> {
  try {
    return startsWithJsonObject((await readHead(file)).head);
  } catch {
    return false;
  }
}
