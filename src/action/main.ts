import * as core from "@actions/core";
import { ConfigError, SwitchyardError } from "../core/errors.js";
import { ACTION_INPUT_NAMES, ActionInputsSchema, type ActionInputs } from "./inputs.js";
import { executeMode, type ModeDeps } from "./execute.js";

/** Reads every input through the one schema, so a bad value fails before anything runs. */
export function readInputs(getInput: (name: string) => string = (n) => core.getInput(n)): ActionInputs {
  const raw = Object.fromEntries(ACTION_INPUT_NAMES.map((name) => [name, getInput(name)]));
  const parsed = ActionInputsSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `input ${i.path.join(".") || "(inputs)"}: ${i.message}`);
  throw new SwitchyardError(problems.join("\n"));
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
    const outcome = await executeMode(inputs, env, deps);
    if (outcome.failed) core.setFailed(outcome.failed);
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
