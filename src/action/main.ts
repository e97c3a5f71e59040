import * as core from "@actions/core";
import { ConfigError, SwitchyardError } from "../core/errors.js";
import { ACTION_INPUT_NAMES, ActionInputsSchema, type ActionInputs } from "./inputs.js";
import { executeMode, type ModeDeps } from "./execute.js";
import { routeMode } from "./route.js";
import { analyzeMode } from "./analyze.js";
import { recoverMode } from "./recover.js";

/** Reads every input through the one schema, so a bad value fails before anything runs. */
export function readInputs(getInput: (name: string) => string = (n) => core.getInput(n)): ActionInputs {
  const raw = Object.fromEntries(ACTION_INPUT_NAMES.map((name) => [name, getInput(name)]));
  const parsed = ActionInputsSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `input ${i.path.join(".") || "(inputs)"}: ${i.message}`);
  throw new SwitchyardError(problems.join("\n"));
}

/** Runs the chosen mode; returns why the job must fail, or null. */
async function runMode(inputs: ActionInputs, env: NodeJS.ProcessEnv, deps: ModeDeps): Promise<string | null> {
  switch (inputs.mode) {
    case "execute":
      // Without the app (deliver: commit) nothing else updates the issue, so the job does.
      return (
        await executeMode(inputs, env, {
          ...deps,
          deliver: inputs.deliver,
          reportOutcome: inputs.deliver === "commit" && inputs["issue-number"] !== undefined,
          ...(inputs["app-id"] !== undefined ? { statusCommentAppId: inputs["app-id"] } : {}),
        })
      ).failed;
    case "route": {
      const outcome = await routeMode(
        {
          token: inputs["github-token"],
          configPath: inputs["config-path"],
          ...(inputs["app-id"] !== undefined ? { appId: inputs["app-id"] } : {}),
          ...(inputs["trigger-label"] !== undefined ? { triggerLabel: inputs["trigger-label"] } : {}),
        },
        env,
        deps,
      );
      return outcome.failed;
    }
    case "recover": {
      const outcome = await recoverMode(
        {
          githubToken: inputs["github-token"],
          configPath: inputs["config-path"],
          ...(inputs.recovery !== undefined ? { recovery: inputs.recovery } : {}),
          deliver: inputs.deliver,
        },
        env,
        deps,
      );
      return outcome.failed;
    }
    case "analyze": {
      const outcome = await analyzeMode(
        {
          token: inputs["github-token"],
          ...(inputs["event-logs"].length > 0 ? { eventLogs: inputs["event-logs"] } : {}),
          ...(inputs["window-days"] !== undefined ? { windowDays: inputs["window-days"] } : {}),
          ...(inputs["alert-webhook-url"] !== undefined ? { webhookUrl: inputs["alert-webhook-url"] } : {}),
          dryRun: inputs["dry-run"],
        },
        env,
        deps,
      );
      return outcome.failed;
    }
  }
}

/**
 * The Action: parse the inputs, run the mode, report. A task that fails (no tool succeeded, the
 * patch was refused) is reported and the job still succeeds; the job fails only when the inputs
 * or configuration are wrong or Switchyard itself broke, with a message that says what to do.
 */
export async function run(env: NodeJS.ProcessEnv = process.env, deps: ModeDeps = {}): Promise<void> {
  try {
    const inputs = readInputs();
    core.setSecret(inputs["github-token"]);
    if (inputs["alert-webhook-url"] !== undefined) core.setSecret(inputs["alert-webhook-url"]);
    const failed = await runMode(inputs, env, deps);
    if (failed) core.setFailed(failed);
  } catch (error) {
    if (error instanceof ConfigError) {
      core.setFailed(
        `Switchyard's configuration is invalid:\n${error.message}\nFix it, then re-run the job.`,
      );
    } else if (error instanceof SwitchyardError) {
      core.setFailed(error.message);
    } else {
      const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
      core.setFailed(`Switchyard failed unexpectedly; this is a bug, please report it.\n${detail}`);
    }
  }
}
