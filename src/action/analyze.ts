import * as core from "@actions/core";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { loadRepoConfig } from "../app/repo-config.js";
import type { Config } from "../config/schema.js";
import { MetricsAccumulator, parseTime, type AnalysisEvent } from "../core/analysis/aggregate.js";
import {
  planAlerts,
  renderAlertsSection,
  type Activity,
  type AlertKind,
  type AlertPlan,
} from "../core/analysis/alerts.js";
import { analyzeRepository } from "../core/analysis/ci-health.js";
import { renderDashboard } from "../core/analysis/dashboard.js";
import { buildMetrics } from "../core/analysis/metrics-file.js";
import { InputError, SwitchyardError } from "../core/errors.js";
import type { Metrics } from "../core/metrics/schema.js";
import { STATE_LABELS } from "../core/task/build.js";
import { LABEL_PREFIX } from "../core/task/capability.js";
import { applyAlertPlan, listAlertIssues, type AppliedAlert } from "../github/alert-issues.js";
import {
  alertWebhookPayloads,
  checkWebhookUrl,
  postAlertWebhook,
  redactWebhookUrl,
  type WebhookDelivery,
  type WebhookOptions,
} from "../github/alert-webhook.js";
import { readRepositoryHistory } from "../github/analysis-source.js";
import { upsertCheckRun } from "../github/check-runs.js";
import { publishDashboard, type PublishDashboardResult } from "../github/dashboard-issue.js";
import { gitHubApiError } from "../github/errors.js";
import { listLabeledIssues } from "../github/marked-issues.js";
import { createOctokit, type CreateOctokitOptions, type GitHubClient } from "../github/octokit.js";
import { describeError, findEventLogs, readEventLogs } from "../runner/read-event-logs.js";
import { readJobContext, type JobContextFor } from "./job-context.js";

/**
 * mode: analyze — the scheduled analysis. 1 context -> 2 configuration (through the API, like the
 * app: the job needs no checkout) -> 3 read (the repository's runs and `switchyard-events`
 * artifacts, or local event logs when given) -> 4 metrics.json and the report under RUNNER_TEMP
 * -> 5 alerts: open, comment, close -> 6 the dashboard issue -> 7 the `switchyard/analyze` check
 * run on the default branch's head -> 8 the chat webhook -> 9 job summary and outputs.
 *
 * Bad figures never fail the job or paint the default branch red: the check run is `neutral`
 * while an alert fires and `success` otherwise. The job fails when the setup is wrong (an invalid
 * configuration, a token without the permissions the workflow should grant) or Switchyard broke.
 * Whatever could not be read (expired artifacts and logs, a request budget used up) is a gap in
 * the report, not an error.
 */

const DAY_MS = 86_400_000;
/** Labels of tasks that wait for a person, not for Switchyard: the heartbeat leaves them out. */
const PARKED_STATES = ["pr-open", "failed", "quarantined", "blocked", "done", "stopped"];
const MAX_LISTED_GAPS = 10;

const OptionsSchema = z.strictObject({
  /** GITHUB_TOKEN with issues: write, checks: write, actions: read, contents: read. */
  token: z.string().min(1, "the token is empty; pass ${{ github.token }}"),
  /** Local event logs (files or directories, relative to GITHUB_WORKSPACE) read instead of artifacts. */
  eventLogs: z.array(z.string().min(1)).optional(),
  /** Overrides analysis.window_days. */
  windowDays: z.number().int().min(1).max(90).optional(),
  /** The chat webhook's URL, from a secret. */
  webhookUrl: z.string().optional(),
  /** Read and compute, write the files and the job summary; change nothing on GitHub, post nothing. */
  dryRun: z.boolean().default(false),
});
export type AnalyzeModeOptions = z.input<typeof OptionsSchema>;

export interface AnalyzeModeDeps {
  /** Extra Octokit options; tests turn throttling and retries off. */
  octokit?: Pick<CreateOctokitOptions, "throttle" | "retries" | "fetch">;
  now?: () => Date;
  webhook?: Pick<WebhookOptions, "fetch" | "sleep" | "backoffMs" | "timeoutMs" | "retries">;
}

export interface AnalyzeModeResult {
  metrics: Metrics;
  metricsPath: string;
  reportPath: string;
  report: string;
  plan: AlertPlan;
  alerts: AppliedAlert[];
  firing: AlertKind[];
  dashboard: PublishDashboardResult | null;
  checkRun: { id: number; conclusion: "success" | "neutral" } | null;
  webhook: WebhookDelivery[];
  /** Set when the job must fail. */
  failed: string | null;
}

/** The context analyze works in: no checkout needed (event-logs paths, when given, need one). */
type RunnerContext = JobContextFor<"optional", "optional">;

interface Reading {
  metrics: Metrics;
  /** The newest event seen, for the heartbeat. */
  lastAt: string | null;
  warnings: string[];
}

function newest(current: number, event: AnalysisEvent): number {
  const at = parseTime(event.at);
  return Number.isNaN(at) ? current : Math.max(current, at);
}

async function readFromApi(
  octokit: GitHubClient,
  ctx: RunnerContext,
  config: Config,
  now: string,
  windowMs: number,
): Promise<Reading> {
  const end = Date.parse(now);
  const history = await readRepositoryHistory(octokit, {
    owner: ctx.owner,
    repo: ctx.repo,
    since: new Date(end - 2 * windowMs).toISOString(),
    until: now,
    detailSince: new Date(end - windowMs).toISOString(),
    maxRequests: config.analysis.max_requests,
    // Only these workflows' runs may upload the event logs the figures (and the router) trust.
    eventWorkflows: [config.execution.workflow, config.recovery.workflow],
  });
  const { metrics } = analyzeRepository(
    {
      repository: `${ctx.owner}/${ctx.repo}`,
      events: history.events,
      runs: history.runs,
      jobs: history.jobs,
      input: history.input,
      recovery: history.recovery,
      gaps: history.gaps,
    },
    { now, window_ms: windowMs },
  );
  const last = history.events.reduce(newest, -Infinity);
  return {
    metrics,
    lastAt: Number.isFinite(last) ? new Date(last).toISOString() : null,
    warnings: history.warnings.map((w) => `${w.source}:${w.line}: ${w.error}`),
  };
}

async function readFromFiles(
  paths: readonly string[],
  ctx: RunnerContext,
  now: string,
  windowMs: number,
): Promise<Reading> {
  if (ctx.workspace === null) {
    throw new SwitchyardError(
      "GITHUB_WORKSPACE is not set: event-logs paths are read relative to the workspace",
    );
  }
  const found = await findEventLogs(paths, ctx.workspace);
  const accumulator = new MetricsAccumulator({ now, window_ms: windowMs });
  let last = -Infinity;
  const stats = await readEventLogs(found.files, (event) => {
    accumulator.add(event);
    last = newest(last, event);
  });
  const shown = (file: string) => path.relative(ctx.workspace!, file) || ".";
  const unread = [
    ...found.problems.map((p) => `${p.path}: not read (${p.error})`),
    ...stats.unreadable.map((u) => `${shown(u.file)}: not read (${u.error})`),
  ];
  const gaps = ["workflow runs: not read (event-logs was given, so only those files were analysed)"];
  gaps.push(...unread.slice(0, MAX_LISTED_GAPS));
  if (unread.length > MAX_LISTED_GAPS) gaps.push(`${unread.length - MAX_LISTED_GAPS} more paths not read`);
  if (stats.skipped > 0) gaps.push(`${stats.skipped} corrupt or truncated event lines skipped`);
  const metrics = buildMetrics(accumulator.result(), {
    repository: `${ctx.owner}/${ctx.repo}`,
    input: {
      files: stats.files - stats.unreadable.length,
      lines: stats.lines,
      events: stats.events,
      skipped: stats.skipped,
    },
    gaps,
  });
  return {
    metrics,
    lastAt: Number.isFinite(last) ? new Date(last).toISOString() : null,
    warnings: stats.warnings.map((w) => `${shown(w.file)}:${w.line}: ${w.error}`),
  };
}

/** Open issues with the trigger label that wait for Switchyard (not parked in a state people own). */
async function countOpenTasks(octokit: GitHubClient, ctx: RunnerContext, config: Config): Promise<number> {
  const issues = await listLabeledIssues(octokit, {
    owner: ctx.owner,
    repo: ctx.repo,
    label: config.trigger.label,
    state: "open",
  });
  const parked = new Set(
    PARKED_STATES.filter((s) => STATE_LABELS.includes(s)).map((s) => `${LABEL_PREFIX}${s}`),
  );
  return issues.filter((i) => !i.labels.some((l) => parked.has(l.toLowerCase()))).length;
}

async function defaultBranchHead(
  octokit: GitHubClient,
  ctx: RunnerContext,
): Promise<{ branch: string; sha: string }> {
  let branch = ctx.defaultBranch;
  const where = `${ctx.owner}/${ctx.repo}`;
  if (branch === null) {
    try {
      const { data } = await octokit.request("GET /repos/{owner}/{repo}", {
        owner: ctx.owner,
        repo: ctx.repo,
      });
      branch = z.object({ default_branch: z.string().min(1) }).parse(data).default_branch;
    } catch (error) {
      throw gitHubApiError(error, {
        doing: `reading the default branch of ${where}`,
        permission: "contents: read",
      });
    }
  }
  // A scheduled run is on the default branch's head already: no request needed.
  if (ctx.refBranch === branch && ctx.sha !== null) return { branch, sha: ctx.sha };
  try {
    const { data } = await octokit.request("GET /repos/{owner}/{repo}/branches/{branch}", {
      owner: ctx.owner,
      repo: ctx.repo,
      branch,
    });
    return { branch, sha: z.object({ commit: z.object({ sha: z.string() }) }).parse(data).commit.sha };
  } catch (error) {
    throw gitHubApiError(error, {
      doing: `reading the head of ${branch} in ${where}`,
      permission: "contents: read",
    });
  }
}

function checkTitle(m: Metrics, firing: readonly AlertKind[]): string {
  const overall = m.tools.filter((t) => t.capability === undefined);
  const attempts = overall.reduce((n, t) => n + t.attempts, 0);
  const successes = overall.reduce((n, t) => n + t.successes, 0);
  const runs =
    attempts === 0
      ? "no tool attempts"
      : `${attempts} tool attempt${attempts === 1 ? "" : "s"}, ${Math.round((1000 * successes) / attempts) / 10}% success`;
  const alerts =
    firing.length === 0
      ? "no alert"
      : `${firing.length} alert${firing.length === 1 ? "" : "s"}: ${firing.join(", ")}`;
  return `${runs}; ${alerts}`;
}

function describePlan(plan: AlertPlan): string[] {
  return plan.actions
    .filter((a) => a.type !== "none")
    .map((a) =>
      a.type === "open"
        ? `would open the ${a.kind} alert`
        : a.type === "comment"
          ? `would comment on #${a.number} (${a.kind}, ${a.reason})`
          : a.type === "close"
            ? `would close #${a.number} (${a.kind} is healthy)`
            : `would close #${a.number} as a duplicate of #${a.keep}`,
    );
}

export async function analyzeMode(
  options: AnalyzeModeOptions,
  env: NodeJS.ProcessEnv,
  deps: AnalyzeModeDeps = {},
): Promise<AnalyzeModeResult> {
  const parsed = OptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(`mode analyze: ${issue.path.join(".") || "(options)"}: ${issue.message}`);
  }
  const o = parsed.data;
  // Masked before anything can print it; checked before anything is read, so a bad secret fails fast.
  const webhookUrl = o.webhookUrl?.trim() || undefined;
  if (webhookUrl !== undefined) {
    core.setSecret(webhookUrl);
    checkWebhookUrl(webhookUrl);
  }

  // 1-2. Context and configuration.
  const ctx = await readJobContext(env, { workspace: "optional" });
  const octokit = createOctokit({
    auth: o.token,
    env,
    log: { debug: core.debug, info: core.debug, warn: core.warning, error: core.debug },
    ...deps.octokit,
  });
  const loaded = await loadRepoConfig(octokit, { owner: ctx.owner, repo: ctx.repo });
  if (!loaded.ok) throw loaded.error;
  const config = loaded.loaded.config;
  const analysis = config.analysis;
  const now = (deps.now?.() ?? new Date()).toISOString();
  const windowMs = (o.windowDays ?? analysis.window_days) * DAY_MS;

  // 3. Read.
  const reading =
    o.eventLogs !== undefined && o.eventLogs.length > 0
      ? await readFromFiles(o.eventLogs, ctx, now, windowMs)
      : await readFromApi(octokit, ctx, config, now, windowMs);
  for (const w of reading.warnings.slice(0, 20)) core.warning(`skipped event line ${w}`);
  const { metrics } = reading;

  // 5. Alerts (before the dashboard, which shows their issues).
  const activity: Activity = {
    last_at: reading.lastAt,
    read_from: new Date(Date.parse(now) - 2 * windowMs).toISOString(),
    open_tasks: await countOpenTasks(octokit, ctx, config),
  };
  const alertWhere = { owner: ctx.owner, repo: ctx.repo, label: analysis.alert_label };
  const open = await listAlertIssues(octokit, alertWhere);
  const dashboardUrl =
    `${ctx.serverUrl}/${ctx.owner}/${ctx.repo}/issues?q=` +
    encodeURIComponent(`is:issue is:open label:"${analysis.dashboard_label}"`);
  const plan = planAlerts({
    metrics,
    thresholds: analysis.thresholds,
    now,
    open,
    activity,
    ...(analysis.dashboard ? { dashboard_url: dashboardUrl } : {}),
    ...(ctx.runUrl ? { run_url: ctx.runUrl } : {}),
  });
  const firing = plan.evaluations.filter((e) => e.status === "firing").map((e) => e.kind);
  const alerts = o.dryRun ? [] : await applyAlertPlan(octokit, alertWhere, plan);
  const alertIssues: Partial<Record<AlertKind, number>> = {};
  // The issue that stays open for each kind: one left alone or commented on, or the one just opened.
  for (const a of plan.actions) {
    if ((a.type === "none" || a.type === "comment") && a.number !== null) alertIssues[a.kind] = a.number;
  }
  for (const a of alerts) if (a.action.type === "open" && a.number !== null) alertIssues[a.kind] = a.number;

  // 4. The report: the dashboard with the alerts, in files, the issue and the job summary.
  const dashboardText = renderDashboard(metrics, { title: analysis.dashboard_title });
  const report = `${dashboardText}\n${renderAlertsSection(plan.evaluations, alertIssues)}`;
  const outDir = path.join(ctx.tempDir, "switchyard", `analyze-${ctx.runKey ?? "local"}`);
  const metricsPath = path.join(outDir, "metrics.json");
  const reportPath = path.join(outDir, "report.md");
  try {
    await mkdir(outDir, { recursive: true });
    await writeFile(metricsPath, JSON.stringify(metrics, null, 2) + "\n");
    await writeFile(reportPath, report);
  } catch (error) {
    throw new SwitchyardError(`cannot write the analysis to ${outDir}: ${describeError(error)}`);
  }

  // 6. Dashboard issue.
  const dashboard =
    o.dryRun || !analysis.dashboard
      ? null
      : await publishDashboard(octokit, {
          owner: ctx.owner,
          repo: ctx.repo,
          label: analysis.dashboard_label,
          title: analysis.dashboard_title,
          body: report,
        });
  if (dashboard) {
    core.info(`Dashboard: #${dashboard.number} (${dashboard.action})`);
    for (const d of dashboard.closedDuplicates)
      core.notice(`Closed #${d}, a duplicate dashboard left by a race.`);
  }

  // 7. Check run on the default branch's head.
  const conclusion = firing.length > 0 ? "neutral" : "success";
  let checkRun: AnalyzeModeResult["checkRun"] = null;
  if (!o.dryRun) {
    const head = await defaultBranchHead(octokit, ctx);
    const run = await upsertCheckRun(octokit, {
      owner: ctx.owner,
      repo: ctx.repo,
      name: "switchyard/analyze",
      head_sha: head.sha,
      external_id: `analysis:${ctx.owner}/${ctx.repo}`,
      status: "completed",
      conclusion,
      title: checkTitle(metrics, firing).slice(0, 250),
      summary: report,
      completed_at: now,
      ...(ctx.runUrl ? { details_url: ctx.runUrl } : {}),
    });
    checkRun = { id: run.id, conclusion };
  }

  // 8. Webhook.
  const webhook: WebhookDelivery[] = [];
  if (webhookUrl !== undefined && analysis.webhook && !o.dryRun) {
    const payloads = alertWebhookPayloads(alerts, {
      repository: `${ctx.owner}/${ctx.repo}`,
      window: { from: metrics.window.from, to: metrics.window.to },
      now,
      runUrl: ctx.runUrl,
      dashboardUrl: dashboard?.url ?? null,
    });
    for (const payload of payloads) {
      const delivery = await postAlertWebhook(webhookUrl, payload, deps.webhook ?? {});
      webhook.push(delivery);
      if (!delivery.delivered) {
        core.warning(
          redactWebhookUrl(
            `The ${payload.kind} alert was not posted to the chat webhook: ${delivery.error}`,
            webhookUrl,
          ),
        );
      }
    }
  } else if (webhookUrl !== undefined && !analysis.webhook) {
    core.info("A webhook URL was given but analysis.webhook is false: nothing was posted.");
  }

  // 9. Summary and outputs.
  const planned = o.dryRun ? describePlan(plan) : [];
  const summary = planned.length > 0 ? `${report}\n**Dry run:** ${planned.join("; ")}.\n` : report;
  if (env.GITHUB_STEP_SUMMARY) await core.summary.addRaw(summary).write();
  else core.info("No job summary: this runner does not set GITHUB_STEP_SUMMARY; the report is in report.md.");
  core.setOutput("metrics-path", metricsPath);
  core.setOutput("report-path", reportPath);
  core.setOutput("dashboard-issue", dashboard ? String(dashboard.number) : "");
  core.setOutput("alerts", JSON.stringify(firing));
  core.setOutput("conclusion", conclusion);
  core.info(checkTitle(metrics, firing));
  return {
    metrics,
    metricsPath,
    reportPath,
    report,
    plan,
    alerts,
    firing,
    dashboard,
    checkRun,
    webhook,
    failed: null,
  };
}
