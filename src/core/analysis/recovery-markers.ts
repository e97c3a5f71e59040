import { z } from "zod";
import { InputError } from "../errors.js";
import { LadderStateSchema, type LadderEntry, type LadderState } from "../recovery/ladder.js";
import { parseTime, type AnalysisEvent } from "./aggregate.js";

/**
 * Recovery figures from where the app keeps them. The app's recovery steps are in no event log
 * (it has no job to upload one from): each PR's recovery status comment carries the ladder's
 * state in its `switchyard:recovery` marker, with the history of the steps taken. This turns
 * those states into the recovery_step events the accumulator already counts, and drops the ones
 * an uploaded event log (mode recover) already holds, so a step is counted once.
 *
 * What a marker can and cannot say:
 * - Each history entry is one step, with its time and outcome; the outcome maps to `ok` as the
 *   recovery flow maps it when it logs the step (fixed: true; started, superseded: null, the
 *   verdict is not in; failed, changed: false; skipped: a `skipped` step, false).
 * - Entries carry no category: the state keeps only the current climb's. Entries after the
 *   last one that ended a climb (changed, superseded, or a fix followed by more steps) get its category
 *   and signature; earlier ones were about a failure the state no longer names and are counted
 *   under UNRECORDED_CATEGORY rather than attributed to the wrong one.
 * - A quarantined state is one quarantine step. Its time is the comment's last update: once a
 *   PR is quarantined nothing writes its comment until a person resets it.
 * - The history keeps the last 20 entries (HISTORY_LIMIT), so a PR with a longer ladder shows
 *   its newest steps only.
 */

export const UNRECORDED_CATEGORY = "unrecorded";

const Iso = z.string().datetime({ offset: true });

export const RecoveryMarkerSchema = z.strictObject({
  /** The PR or issue the comment is on. */
  issue_number: z.number().int().positive(),
  /** The comment's last update. */
  updated_at: Iso,
  state: LadderStateSchema,
});
export type RecoveryMarker = z.infer<typeof RecoveryMarkerSchema>;

const OptionsSchema = z.strictObject({
  /** Steps from this time on are kept (the span the analysis reads). */
  since: Iso,
  until: Iso,
});

/** Outcomes after which the ladder starts a new climb: changed, superseded (and fixed, see below). */
const CLIMB_ENDS: ReadonlySet<LadderEntry["outcome"]> = new Set(["changed", "superseded"]);

type StepEvent = Extract<AnalysisEvent, { type: "recovery_step" }>;

function ok(outcome: LadderEntry["outcome"]): boolean | null {
  return outcome === "fixed" ? true : outcome === "started" || outcome === "superseded" ? null : false;
}

/** The recovery_step events of one ladder state, oldest first, within [since, until]. */
function stateEvents(marker: RecoveryMarker, since: number, until: number): StepEvent[] {
  const s: LadderState = marker.state;
  // A change or a push starts the new climb at once (the state takes the new failure's
  // category); after a fix the state keeps its category until a later failure adds a step.
  let lastEnd = -1;
  s.history.forEach((e, n) => {
    if (e.outcome === "fixed" ? n < s.history.length - 1 : CLIMB_ENDS.has(e.outcome)) lastEnd = n;
  });
  const inSpan = (at: string) => {
    const t = parseTime(at);
    return t >= since && t <= until;
  };
  const out: StepEvent[] = [];
  s.history.forEach((e, n) => {
    if (!inSpan(e.at)) return;
    const current = n > lastEnd;
    out.push({
      type: "recovery_step",
      at: e.at,
      task_key: s.key,
      step: e.outcome === "skipped" ? "skipped" : e.step,
      category: current ? s.category : UNRECORDED_CATEGORY,
      ...(current && s.signature !== undefined ? { signature: s.signature } : {}),
      ok: ok(e.outcome),
    });
  });
  if (s.step === "quarantine" && inSpan(marker.updated_at)) {
    out.push({
      type: "recovery_step",
      at: marker.updated_at,
      task_key: s.key,
      step: "quarantine",
      category: s.category,
      ...(s.signature !== undefined ? { signature: s.signature } : {}),
      ok: true,
    });
  }
  return out;
}

export interface RecoveryMarkerEvents {
  /** To add to the event logs' events, oldest first. */
  events: StepEvent[];
  /** Steps the event logs already held, left out. */
  duplicates: number;
}

/**
 * The recovery_step events of the markers that `logged` (the events read from event logs) does
 * not already hold. A step is the same when its task key, step and time match; a logged step
 * with a verdict stands for the marker's, and a logged one without (started) is replaced by the
 * marker's verdict only in the sense that both are counted, as a log with both would be. A
 * quarantine is the same as a logged quarantine of the same key at or after the state's last step.
 */
export function recoveryMarkerEvents(
  markers: readonly RecoveryMarker[],
  logged: Iterable<AnalysisEvent>,
  options: z.input<typeof OptionsSchema>,
): RecoveryMarkerEvents {
  const opts = OptionsSchema.safeParse(options);
  if (!opts.success) {
    const issue = opts.error.issues[0];
    throw new InputError(
      `invalid recovery marker options: ${issue?.path.join(".") || "(root)"}: ${issue?.message}`,
    );
  }
  const parsed = z.array(RecoveryMarkerSchema).safeParse(markers);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(`invalid recovery markers: ${issue?.path.join(".") || "(root)"}: ${issue?.message}`);
  }
  const since = Date.parse(opts.data.since);
  const until = Date.parse(opts.data.until);

  const decided = new Set<string>();
  const any = new Set<string>();
  const quarantinedAt = new Map<string, number[]>();
  for (const e of logged) {
    if (e.type !== "recovery_step") continue;
    const at = parseTime(e.at);
    if (e.step === "quarantine") {
      const list = quarantinedAt.get(e.task_key) ?? [];
      list.push(at);
      quarantinedAt.set(e.task_key, list);
      continue;
    }
    const key = `${e.task_key}\n${e.step}\n${at}`;
    any.add(key);
    if (e.ok !== null) decided.add(key);
  }

  // One state per recovery key: the newest comment wins (a PR has one recovery comment).
  const newest = new Map<string, RecoveryMarker>();
  for (const m of parsed.data) {
    const known = newest.get(m.state.key);
    if (known === undefined || Date.parse(m.updated_at) > Date.parse(known.updated_at))
      newest.set(m.state.key, m);
  }

  const events: StepEvent[] = [];
  let duplicates = 0;
  for (const marker of newest.values()) {
    const lastStep = marker.state.history.reduce((t, e) => Math.max(t, parseTime(e.at)), -Infinity);
    for (const e of stateEvents(marker, since, until)) {
      let logged: boolean;
      if (e.step === "quarantine") {
        logged = (quarantinedAt.get(e.task_key) ?? []).some((t) => t >= lastStep);
      } else {
        const key = `${e.task_key}\n${e.step}\n${parseTime(e.at)}`;
        logged = e.ok === null ? any.has(key) : decided.has(key);
      }
      if (logged) duplicates++;
      else events.push(e);
    }
  }
  events.sort((a, b) => parseTime(a.at) - parseTime(b.at) || compare(a.task_key, b.task_key));
  return { events, duplicates };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
