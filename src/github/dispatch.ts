import { z } from "zod";
import { InputError } from "../core/errors.js";
import { apiErrorText, gitHubApiError, statusOf } from "./errors.js";
import type { GitHubClient } from "./octokit.js";

/**
 * Starts the execute workflow with `workflow_dispatch`. GitHub caps a dispatch at 10 inputs of at
 * most 65,535 characters each; a decision too large to send is left out and the runner routes
 * the task itself from the same issue and configuration.
 */

export const DISPATCH_INPUT_LIMIT = 65_535;

export interface DispatchExecuteInput {
  owner: string;
  repo: string;
  /** config.execution.workflow: a path such as .github/workflows/switchyard-execute.yml. */
  workflow: string;
  /** The branch or tag to run the workflow from (the default branch). */
  ref: string;
  issue_number: number;
  /** The routing decision, sent as JSON when it fits. */
  decision: unknown;
}

export type DispatchResult =
  | { ok: true; workflow_id: string; decisionSent: boolean }
  /** `missing`: GitHub has no such workflow on `ref`; `reason` is GitHub's answer otherwise. */
  | { ok: false; workflow_id: string; missing: boolean; reason: string };

const InputSchema = z.strictObject({
  owner: z.string().min(1),
  repo: z.string().min(1),
  workflow: z.string().min(1),
  ref: z.string().min(1),
  issue_number: z.number().int().min(1),
  decision: z.unknown(),
});

/** The dispatch API names a workflow by its file name (or numeric id), not by its path. */
export function workflowId(workflow: string): string {
  const name = workflow.split("/").pop() ?? "";
  if (!/^[A-Za-z0-9._-]+\.ya?ml$/.test(name)) {
    throw new InputError(
      `execution.workflow: "${workflow}" is not a workflow file; use a path such as .github/workflows/switchyard-execute.yml`,
    );
  }
  return name;
}

/** The inputs to send: the decision only when it fits GitHub's limit. Pure. */
export function dispatchInputs(
  issue_number: number,
  decision: unknown,
): { inputs: Record<string, string>; decisionSent: boolean } {
  const json = JSON.stringify(decision);
  const inputs: Record<string, string> = { "issue-number": String(issue_number) };
  if (json === undefined || json.length > DISPATCH_INPUT_LIMIT) return { inputs, decisionSent: false };
  return { inputs: { ...inputs, decision: json }, decisionSent: true };
}

export async function dispatchExecute(
  octokit: GitHubClient,
  input: DispatchExecuteInput,
): Promise<DispatchResult> {
  const parsed = InputSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(
      `cannot dispatch the execute workflow: ${issue.path.join(".") || "(input)"}: ${issue.message}`,
    );
  }
  const i = parsed.data;
  const workflow_id = workflowId(i.workflow);
  const { inputs, decisionSent } = dispatchInputs(i.issue_number, i.decision);
  try {
    await octokit.request("POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches", {
      owner: i.owner,
      repo: i.repo,
      workflow_id,
      ref: i.ref,
      inputs,
    });
    return { ok: true, workflow_id, decisionSent };
  } catch (error) {
    const status = statusOf(error);
    if (status === 404) return { ok: false, workflow_id, missing: true, reason: apiErrorText(error) };
    // 422: the workflow exists but has no workflow_dispatch trigger, or refuses an input.
    if (status === 422) return { ok: false, workflow_id, missing: false, reason: apiErrorText(error) };
    throw gitHubApiError(error, {
      doing: `dispatching ${workflow_id} on ${i.ref} in ${i.owner}/${i.repo}`,
      permission: "actions: write",
    });
  }
}
