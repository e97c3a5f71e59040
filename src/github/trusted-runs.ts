/**
 * Which workflow runs may speak for Switchyard. Any run in a repository can upload an artifact
 * under any name, including a pull_request run whose workflow file the pull request rewrote
 * (a fork's too) and a job that runs an AI tool. The event logs and metrics.json that the
 * analysis and the router read are therefore only taken from a run of one of Switchyard's own
 * workflows, started the way Switchyard starts them: see docs/analysis.md ("Which event logs are
 * trusted") and docs/routing.md ("Signals from GitHub").
 */

/** The defaults of execution.workflow and recovery.workflow: the runs that write event logs. */
export const DEFAULT_EVENT_WORKFLOWS = [
  ".github/workflows/switchyard-execute.yml",
  ".github/workflows/switchyard-recover.yml",
] as const;

/** The default of analysis.workflow: the run that uploads metrics.json. */
export const DEFAULT_ANALYSIS_WORKFLOW = ".github/workflows/switchyard-analyze.yml";

/**
 * How the runs that write event logs start: dispatched (by the app or switchyard-route.yml) or
 * on workflow_run (the Action-only recovery). Both run the default branch's workflow file (or a
 * ref someone with write access chose), unlike a pull_request run, whose workflow file a fork
 * can rewrite under the same path.
 */
export const EVENT_RUN_TRIGGERS: ReadonlySet<string> = new Set(["workflow_dispatch", "workflow_run"]);

/**
 * How the analysis that uploads metrics.json starts: on its schedule, which GitHub only runs
 * from the default branch, or dispatched by someone with write access.
 */
export const ANALYSIS_RUN_TRIGGERS: ReadonlySet<string> = new Set(["schedule", "workflow_dispatch"]);

/**
 * Whether a run is a run of one of `workflows` (paths such as `.github/workflows/x.yml`, or bare
 * file names) started by one of `triggers`. `path` and `event` are the workflow run's own fields
 * as GitHub reports them; a run without a path (GitHub gives none for some dynamic runs) is
 * never trusted.
 */
export function trustedRun(
  run: { path: string | null; event: string },
  workflows: readonly string[],
  triggers: ReadonlySet<string> = EVENT_RUN_TRIGGERS,
): boolean {
  if (run.path === null || !triggers.has(run.event)) return false;
  // GitHub may append the ref (`.github/workflows/x.yml@refs/heads/main`).
  const path = run.path.replace(/^\.\//, "").split("@")[0]!;
  const file = path.slice(path.lastIndexOf("/") + 1);
  return workflows.some((w) => {
    const want = w.replace(/^\.\//, "");
    return want.includes("/") ? want === path : want === file;
  });
}

/** "a or b" for a note naming the trusted workflows or triggers. */
export function either(names: Iterable<string>): string {
  return [...names].join(" or ");
}
