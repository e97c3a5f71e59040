import { z } from "zod";
import { InputError } from "../core/errors.js";
import { STATE_LABELS } from "../core/task/build.js";
import { LABEL_PREFIX } from "../core/task/capability.js";
import { gitHubApiError, statusOf } from "./errors.js";
import type { GitHubClient } from "./octokit.js";

/**
 * A task's state label, `switchyard:<state>`: exactly one at a time. Desired state diffed
 * against the labels the caller already has (from the webhook payload), so nothing is sent when
 * the label is already right, one POST adds the new one (GitHub creates a missing label on the
 * fly) and each stale state label costs one DELETE.
 */

/** The states of core/task/build.ts STATE_LABELS, which the task builder never reads as a tool. */
export type TaskState =
  "running" | "queued" | "pr-open" | "failed" | "quarantined" | "blocked" | "done" | "stopped";

export interface SetStateLabelInput {
  owner: string;
  repo: string;
  issue_number: number;
  state: TaskState;
  /** The issue's label names now. */
  current: readonly string[];
}

export interface SetStateLabelResult {
  added: string[];
  removed: string[];
}

const InputSchema = z.strictObject({
  owner: z.string().min(1),
  repo: z.string().min(1),
  issue_number: z.number().int().min(1),
  state: z
    .string()
    .refine((s) => STATE_LABELS.includes(s), { error: `expected one of ${STATE_LABELS.join(", ")}` }),
  current: z.array(z.string()),
});

export function stateLabel(state: TaskState): string {
  return `${LABEL_PREFIX}${state}`;
}

/** What to add and remove to leave exactly `state` among the state labels; pure. */
export function planStateLabels(current: readonly string[], state: TaskState): SetStateLabelResult {
  const wanted = stateLabel(state);
  const stateNames = new Set(STATE_LABELS.map((s) => `${LABEL_PREFIX}${s}`));
  return {
    added: current.includes(wanted) ? [] : [wanted],
    removed: current.filter((l) => l !== wanted && stateNames.has(l)),
  };
}

export async function setStateLabel(
  octokit: GitHubClient,
  input: SetStateLabelInput,
): Promise<SetStateLabelResult> {
  const parsed = InputSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(
      `cannot set the state label: ${issue.path.join(".") || "(input)"}: ${issue.message}`,
    );
  }
  const { owner, repo, issue_number } = parsed.data;
  const plan = planStateLabels(parsed.data.current, input.state);
  const where = `${owner}/${repo}#${issue_number}`;
  if (plan.added.length > 0) {
    try {
      await octokit.request("POST /repos/{owner}/{repo}/issues/{issue_number}/labels", {
        owner,
        repo,
        issue_number,
        labels: plan.added,
      });
    } catch (error) {
      throw gitHubApiError(error, {
        doing: `adding ${plan.added[0]} to ${where}`,
        permission: "issues: write",
      });
    }
  }
  for (const name of plan.removed) {
    try {
      await octokit.request("DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}", {
        owner,
        repo,
        issue_number,
        name,
      });
    } catch (error) {
      // Someone removed it first: the state is what was wanted.
      if (statusOf(error) === 404) continue;
      throw gitHubApiError(error, { doing: `removing ${name} from ${where}`, permission: "issues: write" });
    }
  }
  return plan;
}
