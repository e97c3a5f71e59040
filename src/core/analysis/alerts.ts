import { z } from "zod";
import { InputError } from "../errors.js";
import { MetricsSchema, type Metrics } from "../metrics/schema.js";
import { formatTime } from "./dashboard.js";

/**
 * Alerts: the analysis's figures held against the thresholds in config (analysis.thresholds),
 * and what to do about each kind of alert given the alert issues already open. Pure: the doors
 * find the issues, pass their bodies and the time, and carry out the actions.
 *
 * One open issue per kind. Its first line is a marker with the kind and a small state (when the
 * episode began, when people were last told, what the alert was about), so the next run knows
 * whether anything changed without reading comments:
 * - firing, no issue open: open one.
 * - firing, issue open: comment when what fires changed (another set of tools) or when
 *   `remind_days` passed since the last word; otherwise leave it alone, so a daily schedule does
 *   not add a comment a day.
 * - healthy, issue open: comment why and close it.
 * - unknown (too few runs to judge): leave everything as it is; an alert is neither raised nor
 *   cleared on a handful of runs.
 * - several open issues of one kind (two analyses raced): the oldest stays, the others are closed.
 */

export const ALERT_KINDS = ["tool_success", "quarantines", "flaky_rate", "heartbeat"] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

const TITLES: Record<AlertKind, string> = {
  tool_success: "Switchyard alert: a tool's success rate is low",
  quarantines: "Switchyard alert: too many quarantines",
  flaky_rate: "Switchyard alert: too many flaky failures",
  heartbeat: "Switchyard alert: no activity while tasks wait",
};

const DAY_MS = 86_400_000;

export const AlertThresholdsSchema = z.strictObject({
  tool_success_below: z.number().min(0).max(1),
  min_attempts: z.number().int().min(1),
  quarantines_above: z.number().int().min(0),
  flaky_rate_above: z.number().min(0).max(1),
  heartbeat_days: z.number().int().min(1),
  remind_days: z.number().int().min(1),
});
export type AlertThresholds = z.infer<typeof AlertThresholdsSchema>;

const IsoTime = z.iso.datetime({ offset: true });

/** What rides in the marker of an alert issue. */
export const AlertStateSchema = z.strictObject({
  kind: z.enum(ALERT_KINDS),
  /** When this issue's episode began. */
  since: IsoTime,
  /** When people were last told: the issue opened, or the last comment. */
  notified_at: IsoTime,
  /** What fired, e.g. the tools below the threshold; a change is worth a comment. */
  fingerprint: z.string().max(2000),
});
export type AlertState = z.infer<typeof AlertStateSchema>;

const ActivitySchema = z.strictObject({
  /** The newest Switchyard event found, or null when none was. */
  last_at: IsoTime.nullable(),
  /** The earliest time the door read events from: how far "none found" reaches back. */
  read_from: IsoTime,
  /** Open issues that carry the trigger label: work that waits for Switchyard. */
  open_tasks: z.number().int().min(0),
});
export type Activity = z.infer<typeof ActivitySchema>;

const OpenIssueSchema = z.strictObject({ number: z.number().int().min(1), body: z.string() });
export type OpenAlertIssue = z.infer<typeof OpenIssueSchema>;

const PlanInputSchema = z.strictObject({
  metrics: z.unknown(),
  thresholds: AlertThresholdsSchema,
  now: IsoTime,
  /** Open issues carrying the alert label, written by Switchyard; others' issues are not passed. */
  open: z.array(OpenIssueSchema),
  /** Omitted when the door could not tell (the heartbeat is then unknown). */
  activity: ActivitySchema.optional(),
  /** Links shown in the issues. */
  dashboard_url: z.string().optional(),
  run_url: z.string().optional(),
});
export type PlanAlertsInput = z.input<typeof PlanInputSchema>;

export type AlertStatus = "firing" | "healthy" | "unknown";

export interface AlertEvaluation {
  kind: AlertKind;
  status: AlertStatus;
  /** One line: what is wrong, what is fine again, or why it cannot be told. */
  headline: string;
  /** Markdown shown under the headline in the issue and its comments. */
  details: string[];
  fingerprint: string;
  /** The figures behind the verdict, for the webhook payload. */
  values: Record<string, number | string | null | string[]>;
}

interface Base {
  kind: AlertKind;
  evaluation: AlertEvaluation;
}
export type AlertAction =
  | (Base & { type: "open"; title: string; body: string; state: AlertState })
  | (Base & {
      type: "comment";
      number: number;
      reason: "changed" | "reminder" | "unreadable";
      comment: string;
      /** The issue body with the current figures and the new state. */
      body: string;
      state: AlertState;
    })
  | (Base & { type: "close"; number: number; comment: string })
  | { type: "close_duplicate"; kind: AlertKind; number: number; keep: number; comment: string }
  | (Base & { type: "none"; number: number | null; reason: string });

export interface AlertPlan {
  evaluations: AlertEvaluation[];
  /** In ALERT_KINDS order, duplicates after the kind's main action. */
  actions: AlertAction[];
}

const MARKER = /^<!-- switchyard:alert ([a-z_]+) v1 ([A-Za-z0-9_-]{0,4000}) -->[ \t]*$/;

/** The marker line: the kind in clear (for people and searches), the state as base64url JSON. */
export function encodeAlertMarker(state: AlertState): string {
  const checked = AlertStateSchema.safeParse(state);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new InputError(
      `cannot write the alert marker: ${issue?.path.join(".") || "(state)"}: ${issue?.message ?? "invalid"}`,
    );
  }
  const parsed = checked.data;
  const payload = Buffer.from(JSON.stringify(parsed), "utf8").toString("base64url");
  return `<!-- switchyard:alert ${parsed.kind} v1 ${payload} -->`;
}

/**
 * The alert marker on the first line of an issue body: null when there is none (not an alert
 * issue), the kind with a null state when the state cannot be read (hand-edited, another
 * version). Only the first line counts: the body quotes nothing, but people can edit it.
 */
export function readAlertMarker(body: string): { kind: AlertKind; state: AlertState | null } | null {
  const first = body.split("\n", 1)[0]!.replace(/\r$/, "");
  const m = MARKER.exec(first);
  if (!m) return null;
  const kind = z.enum(ALERT_KINDS).safeParse(m[1]);
  if (!kind.success) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(m[2]!, "base64url").toString("utf8"));
  } catch {
    return { kind: kind.data, state: null };
  }
  const state = AlertStateSchema.safeParse(raw);
  return { kind: kind.data, state: state.success && state.data.kind === kind.data ? state.data : null };
}

export function alertTitle(kind: AlertKind): string {
  return TITLES[kind];
}

/** Holds the figures against the thresholds; `previous` is the open issue's state, if any. */
export function evaluateAlerts(
  metrics: Metrics,
  thresholds: AlertThresholds,
  now: string,
  activity: Activity | undefined,
  previous: Partial<Record<AlertKind, AlertState | null>> = {},
): AlertEvaluation[] {
  return [
    toolSuccess(metrics, thresholds, previous.tool_success ?? null),
    quarantines(metrics, thresholds),
    flakyRate(metrics, thresholds),
    heartbeat(thresholds, now, activity),
  ];
}

function toolSuccess(m: Metrics, t: AlertThresholds, previous: AlertState | null): AlertEvaluation {
  const overall = m.tools.filter((x) => x.capability === undefined);
  const judged = overall.filter((x) => x.attempts >= t.min_attempts && x.success_rate !== null);
  const low = judged.filter((x) => x.success_rate! < t.tool_success_below);
  const values = {
    threshold: t.tool_success_below,
    min_attempts: t.min_attempts,
    tools_below: low.map((x) => x.tool),
  };
  const threshold = percent(t.tool_success_below);
  if (low.length > 0) {
    return {
      kind: "tool_success",
      status: "firing",
      headline:
        `${low.length === 1 ? "1 tool succeeds" : `${low.length} tools succeed`} less than ${threshold} of the time: ` +
        low.map((x) => `${x.tool} (${percent(x.success_rate!)} of ${x.attempts})`).join(", "),
      details: [
        "| tool | attempts | success | 95% CI |",
        "| --- | ---: | ---: | ---: |",
        ...low.map(
          (x) =>
            `| ${x.tool} | ${x.attempts} | ${percent(x.success_rate!)} | ` +
            `${x.ci_low === null || x.ci_high === null ? "—" : `${percent(x.ci_low)}–${percent(x.ci_high)}`} |`,
        ),
        "",
        `Threshold: \`analysis.thresholds.tool_success_below\` = ${threshold}, for tools with at least ` +
          `${t.min_attempts} attempts (\`min_attempts\`) in the window.`,
      ],
      fingerprint: low.map((x) => x.tool).join(","),
      values,
    };
  }
  // A tool that fired before and has too few runs now has not recovered: it has stopped being
  // tried (the metrics strategy routes around it). Keep the alert until there is evidence.
  const before = previous?.fingerprint ? previous.fingerprint.split(",") : [];
  const unjudged = before.filter((tool) => !judged.some((x) => x.tool === tool));
  if (unjudged.length > 0) {
    return {
      kind: "tool_success",
      status: "unknown",
      headline:
        `not enough runs to tell whether ${unjudged.join(", ")} recovered ` +
        `(fewer than ${t.min_attempts} attempts in the window)`,
      details: [],
      fingerprint: previous!.fingerprint,
      values,
    };
  }
  return {
    kind: "tool_success",
    status: "healthy",
    headline:
      judged.length === 0
        ? `no tool had ${t.min_attempts} or more attempts in the window`
        : `every tool with ${t.min_attempts} or more attempts succeeds at least ${threshold} of the time`,
    details: [],
    fingerprint: "",
    values,
  };
}

function quarantines(m: Metrics, t: AlertThresholds): AlertEvaluation {
  const r = m.recovery_summary;
  const span = windowSpan(m);
  const values = { threshold: t.quarantines_above, quarantines: r?.quarantines ?? null };
  if (!r) {
    return {
      kind: "quarantines",
      status: "unknown",
      headline: "the analysis had no recovery figures",
      details: [],
      fingerprint: "",
      values,
    };
  }
  const counted = `${plural(r.quarantines, "quarantine")} in ${span}`;
  if (r.quarantines > t.quarantines_above) {
    return {
      kind: "quarantines",
      status: "firing",
      headline: `${counted}, more than ${t.quarantines_above}`,
      details: [
        `Recovery gave up on ${plural(r.quarantines, "failure")} and quarantined them ` +
          `(${plural(r.steps, "recovery step")}, ${r.greens} turned green).`,
        "",
        `Threshold: \`analysis.thresholds.quarantines_above\` = ${t.quarantines_above}.`,
      ],
      fingerprint: "quarantines",
      values,
    };
  }
  return {
    kind: "quarantines",
    status: "healthy",
    headline: `${counted}, at most ${t.quarantines_above}`,
    details: [],
    fingerprint: "",
    values,
  };
}

/**
 * Flaky failures (rerun and passed or not) per failed CI run when the analysis read CI runs, per
 * recovery step otherwise: the share of the failures Switchyard saw that were not the code's.
 */
function flakyRate(m: Metrics, t: AlertThresholds): AlertEvaluation {
  const flaky = m.recovery_summary?.flaky ?? 0;
  const failedRuns = m.workflows.reduce((n, w) => n + w.failures, 0);
  const basis = failedRuns > 0 ? "failed CI runs" : "recovery steps";
  const denominator = failedRuns > 0 ? failedRuns : (m.recovery_summary?.steps ?? 0);
  const rate = denominator > 0 ? flaky / denominator : null;
  const values = {
    threshold: t.flaky_rate_above,
    flaky,
    denominator,
    basis,
    rate: rate === null ? null : round4(rate),
  };
  const figure = `${flaky} of ${denominator} ${basis}${rate === null ? "" : ` (${percent(rate)})`}`;
  if (denominator < t.min_attempts || rate === null) {
    return {
      kind: "flaky_rate",
      status: "unknown",
      headline: `too few failures to judge: ${figure}, fewer than ${t.min_attempts}`,
      details: [],
      fingerprint: "",
      values,
    };
  }
  const threshold = percent(t.flaky_rate_above);
  if (rate > t.flaky_rate_above) {
    return {
      kind: "flaky_rate",
      status: "firing",
      headline: `flaky failures: ${figure}, above ${threshold}`,
      details: [
        "Failures classified flaky were rerun; the dashboard lists the flaky tests it found.",
        "",
        `Threshold: \`analysis.thresholds.flaky_rate_above\` = ${threshold}, judged on at least ` +
          `${t.min_attempts} failures (\`min_attempts\`).`,
      ],
      fingerprint: "flaky_rate",
      values,
    };
  }
  return {
    kind: "flaky_rate",
    status: "healthy",
    headline: `flaky failures: ${figure}, at most ${threshold}`,
    details: [],
    fingerprint: "",
    values,
  };
}

function heartbeat(t: AlertThresholds, now: string, activity: Activity | undefined): AlertEvaluation {
  const values: AlertEvaluation["values"] = {
    threshold_days: t.heartbeat_days,
    open_tasks: activity?.open_tasks ?? null,
    last_activity_at: activity?.last_at ?? null,
  };
  if (!activity) {
    return {
      kind: "heartbeat",
      status: "unknown",
      headline: "the open tasks could not be counted",
      details: [],
      fingerprint: "",
      values,
    };
  }
  const end = Date.parse(now);
  const tasks = plural(activity.open_tasks, "open task");
  const limit = t.heartbeat_days * DAY_MS;
  if (activity.last_at !== null) {
    const quiet = end - Date.parse(activity.last_at);
    const since = `the last Switchyard activity was ${formatTime(activity.last_at)} (${days(quiet)} ago)`;
    if (quiet > limit && activity.open_tasks > 0) {
      return firingHeartbeat(
        t,
        `${since} while ${tasks} wait${activity.open_tasks === 1 ? "s" : ""}`,
        values,
      );
    }
    return {
      kind: "heartbeat",
      status: "healthy",
      headline: activity.open_tasks === 0 ? `no open tasks; ${since}` : since,
      details: [],
      fingerprint: "",
      values,
    };
  }
  if (activity.open_tasks === 0) {
    return {
      kind: "heartbeat",
      status: "healthy",
      headline: "no open tasks wait for Switchyard",
      details: [],
      fingerprint: "",
      values,
    };
  }
  const looked = end - Date.parse(activity.read_from);
  if (looked < limit) {
    return {
      kind: "heartbeat",
      status: "unknown",
      headline: `no Switchyard activity in the ${days(looked)} read, fewer than the ${t.heartbeat_days} days the heartbeat needs`,
      details: [],
      fingerprint: "",
      values,
    };
  }
  return firingHeartbeat(
    t,
    `no Switchyard activity in the ${days(looked)} read, while ${tasks} wait${activity.open_tasks === 1 ? "s" : ""}`,
    values,
  );
}

function firingHeartbeat(
  t: AlertThresholds,
  headline: string,
  values: AlertEvaluation["values"],
): AlertEvaluation {
  return {
    kind: "heartbeat",
    status: "firing",
    headline,
    details: [
      "Issues carry the trigger label but Switchyard has not run. Check that the app is installed " +
        "and receiving webhooks, that the execute workflow is enabled, and that Actions is not disabled " +
        "for the repository (scheduled workflows stop after 60 days without activity).",
      "",
      `Threshold: \`analysis.thresholds.heartbeat_days\` = ${t.heartbeat_days}.`,
    ],
    fingerprint: "heartbeat",
    values,
  };
}

/** What to do about each kind of alert; see the module comment for the rules. */
export function planAlerts(input: PlanAlertsInput): AlertPlan {
  const parsed = PlanInputSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(
      `cannot plan the alerts: ${issue?.path.join(".") || "(input)"}: ${issue?.message ?? "invalid"}`,
    );
  }
  const i = parsed.data;
  const metrics = MetricsSchema.safeParse(i.metrics);
  if (!metrics.success) {
    const issue = metrics.error.issues[0];
    throw new InputError(
      `cannot plan the alerts: the metrics are not a metrics.json document (${issue?.path.join(".") || "root"}: ${issue?.message})`,
    );
  }

  const byKind = new Map<AlertKind, { number: number; state: AlertState | null }[]>();
  for (const issue of i.open) {
    const marker = readAlertMarker(issue.body);
    if (marker === null) continue;
    const list = byKind.get(marker.kind) ?? [];
    list.push({ number: issue.number, state: marker.state });
    byKind.set(marker.kind, list);
  }
  for (const list of byKind.values()) list.sort((a, b) => a.number - b.number);

  const previous: Partial<Record<AlertKind, AlertState | null>> = {};
  for (const [kind, list] of byKind) previous[kind] = list[0]!.state;
  const evaluations = evaluateAlerts(metrics.data, i.thresholds, i.now, i.activity, previous);

  const context: Context = {
    metrics: metrics.data,
    now: i.now,
    remindMs: i.thresholds.remind_days * DAY_MS,
    remindDays: i.thresholds.remind_days,
    ...(i.dashboard_url !== undefined ? { dashboardUrl: i.dashboard_url } : {}),
    ...(i.run_url !== undefined ? { runUrl: i.run_url } : {}),
  };
  const actions: AlertAction[] = [];
  for (const evaluation of evaluations) {
    const [open, ...extra] = byKind.get(evaluation.kind) ?? [];
    actions.push(decide(evaluation, open, context));
    for (const dup of extra) {
      actions.push({
        type: "close_duplicate",
        kind: evaluation.kind,
        number: dup.number,
        keep: open!.number,
        comment: `Duplicate of #${open!.number}, which follows this alert; two analyses opened it at once.`,
      });
    }
  }
  return { evaluations, actions };
}

interface Context {
  metrics: Metrics;
  now: string;
  remindMs: number;
  remindDays: number;
  dashboardUrl?: string;
  runUrl?: string;
}

function decide(
  e: AlertEvaluation,
  open: { number: number; state: AlertState | null } | undefined,
  c: Context,
): AlertAction {
  const base = { kind: e.kind, evaluation: e };
  if (e.status === "unknown") {
    return { ...base, type: "none", number: open?.number ?? null, reason: e.headline };
  }
  if (e.status === "healthy") {
    if (!open) return { ...base, type: "none", number: null, reason: `healthy: ${e.headline}` };
    return {
      ...base,
      type: "close",
      number: open.number,
      comment:
        `Healthy again as of ${formatTime(c.now)}: ${e.headline}.${links(c)}\n\n` +
        "Switchyard closes this alert; it opens a new one if the threshold is crossed again.",
    };
  }
  if (!open) {
    const state: AlertState = { kind: e.kind, since: c.now, notified_at: c.now, fingerprint: e.fingerprint };
    return { ...base, type: "open", title: alertTitle(e.kind), body: issueBody(e, state, c), state };
  }
  const reason =
    open.state === null
      ? "unreadable"
      : open.state.fingerprint !== e.fingerprint
        ? "changed"
        : Date.parse(c.now) - Date.parse(open.state.notified_at) >= c.remindMs
          ? "reminder"
          : null;
  if (reason === null) {
    return {
      ...base,
      type: "none",
      number: open.number,
      reason: `still firing; the last word was ${formatTime(open.state!.notified_at)}, the next reminder after ${c.remindDays} days`,
    };
  }
  const state: AlertState = {
    kind: e.kind,
    since: open.state?.since ?? c.now,
    notified_at: c.now,
    fingerprint: e.fingerprint,
  };
  const lead =
    reason === "changed"
      ? `The alert changed as of ${formatTime(c.now)}`
      : reason === "reminder"
        ? `Still firing as of ${formatTime(c.now)}`
        : `Still firing as of ${formatTime(c.now)} (the issue's marker could not be read, so it was rewritten)`;
  return {
    ...base,
    type: "comment",
    number: open.number,
    reason,
    comment: [`${lead}: ${e.headline}.`, "", ...e.details].join("\n").trimEnd() + links(c, "\n\n"),
    body: issueBody(e, state, c),
    state,
  };
}

function issueBody(e: AlertEvaluation, state: AlertState, c: Context): string {
  const w = c.metrics.window;
  return (
    [
      encodeAlertMarker(state),
      `**${capitalise(e.headline)}.**`,
      "",
      ...e.details,
      "",
      `${c.metrics.repository} · window ${formatTime(w.from)} – ${formatTime(w.to)} · ` +
        `firing since ${formatTime(state.since)}, checked ${formatTime(c.now)}.${links(c)}`,
      "",
      `<sub>Switchyard's scheduled analysis keeps this issue up to date: it comments when the alert changes ` +
        `or every ${plural(c.remindDays, "day")} while it lasts, and closes the issue when the figure is healthy again. ` +
        "Thresholds are under `analysis.thresholds` in `.github/switchyard.yml`.</sub>",
    ]
      .join("\n")
      .replace(/\n{3,}/g, "\n\n") + "\n"
  );
}

function links(c: Context, sep = " "): string {
  const parts: string[] = [];
  if (c.dashboardUrl) parts.push(`[Dashboard](${c.dashboardUrl})`);
  if (c.runUrl) parts.push(`[analysis run](${c.runUrl})`);
  return parts.length === 0 ? "" : `${sep}${parts.join(" · ")}`;
}

function windowSpan(m: Metrics): string {
  const ms = Date.parse(m.window.to) - Date.parse(m.window.from);
  return Number.isNaN(ms) ? "the window" : `the last ${days(ms)}`;
}

function days(ms: number): string {
  const d = Math.floor(ms / DAY_MS);
  if (d >= 1) return plural(d, "day");
  const h = Math.floor(ms / 3_600_000);
  return h >= 1 ? plural(h, "hour") : plural(Math.max(0, Math.floor(ms / 60_000)), "minute");
}

function percent(x: number): string {
  return `${Math.round(x * 1000) / 10 + 0}%`;
}

function round4(x: number): number {
  return Math.round(x * 10_000) / 10_000 + 0;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

const STATUS_WORDS: Record<AlertStatus, string> = {
  firing: "🔴 firing",
  healthy: "🟢 healthy",
  unknown: "⚪ not enough data",
};

/**
 * The alerts as a section of the dashboard and the job summary: every kind with its verdict and,
 * where there is one, its issue.
 */
export function renderAlertsSection(
  evaluations: readonly AlertEvaluation[],
  issues: Partial<Record<AlertKind, number>> = {},
): string {
  const rows = evaluations.map((e) => {
    const issue = issues[e.kind];
    return `| ${e.kind.replace(/_/g, " ")} | ${STATUS_WORDS[e.status]} | ${e.headline.replace(/\|/g, "\\|")} | ${issue === undefined ? "" : `#${issue}`} |`;
  });
  return ["## Alerts", "", "| alert | status | | issue |", "| --- | --- | --- | --- |", ...rows, ""].join(
    "\n",
  );
}
