import { z } from "zod";
import { InputError } from "../core/errors.js";
import { LadderCategorySchema, RecoveryKeySchema, MAX_FIXERS } from "../core/recovery/ladder.js";
import { workflowId } from "./dispatch.js";
import { apiErrorText, statusOf } from "./errors.js";
import type { GitHubClient } from "./octokit.js";
import { firstIssue, ShaSchema } from "./recovery-state.js";

/**
 * The recover workflow's contract: the `recovery` input the app dispatches it with, the run title
 * the workflow derives from that input (how a completed run is tied back to its recovery), and the
 * dispatch itself. .github/workflows/switchyard-recover.yml is the other side of it.
 */

const NameSchema = z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, "a tool name");
const RepoNameSchema = z
  .string()
  .max(200)
  .regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, "a repository's full name (owner/name)");

/** The ladder actions the recover workflow carries out. */
export const DispatchedActionSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("run_fixers"), tools: z.array(NameSchema).min(1).max(MAX_FIXERS) }),
  z.strictObject({ kind: z.literal("run_ai"), tool: NameSchema }),
]);
export type DispatchedAction = z.infer<typeof DispatchedActionSchema>;

/**
 * The `recovery` input of the recover workflow (workflow_dispatch), as JSON. `key` names the
 * recovery (and its status comment's PR); `head_sha` is the failing commit the fix must be made
 * on top of (refuse to push if `head_ref` moved past it); `attempt` counts this PR's attempts.
 *
 * `suggest` (with `head_repository`, the fork's full name) marks a fork's suggestion step
 * (recovery.fork_suggestions): the workflow checks out the fork's head, runs the fixers with no
 * secrets and a read-only token, and the app posts their diff on the PR instead of committing it.
 * Only fixers are ever suggested, so a suggestion with an AI tool is refused here.
 */
export const RecoveryDispatchSchema = z
  .strictObject({
    key: RecoveryKeySchema,
    run_id: z.number().int().positive(),
    head_sha: ShaSchema,
    head_ref: z.string().min(1).max(255),
    pr_number: z.number().int().positive().nullable(),
    base_ref: z.string().min(1).max(255),
    action: DispatchedActionSchema,
    category: LadderCategorySchema,
    attempt: z.number().int().min(1).max(1000),
    suggest: z.literal(true).optional(),
    head_repository: RepoNameSchema.optional(),
  })
  .superRefine((d, ctx) => {
    if (d.suggest === true && d.action.kind !== "run_fixers") {
      ctx.addIssue({ code: "custom", path: ["action"], message: "a fork's suggestion runs fixers only" });
    }
    if ((d.suggest === true) !== (d.head_repository !== undefined)) {
      ctx.addIssue({
        code: "custom",
        path: ["head_repository"],
        message: "a suggestion names the fork's repository, and only a suggestion does",
      });
    }
  });
export type RecoveryDispatch = z.infer<typeof RecoveryDispatchSchema>;

/** Parses the workflow's `recovery` input; InputError with the first problem named otherwise. */
export function parseRecoveryDispatch(json: string): RecoveryDispatch {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new InputError(
      "The recovery input is not JSON: the recover workflow is dispatched by Switchyard with a `recovery` input; run it from there, not by hand.",
    );
  }
  const parsed = RecoveryDispatchSchema.safeParse(value);
  if (!parsed.success) {
    throw new InputError(`The recovery input is not valid: ${firstIssue(parsed.error)}`);
  }
  return parsed.data;
}

/**
 * The title the recover workflow gives a run (its `run-name`), from the dispatch's own input: the
 * runs API does not return dispatch inputs, so the title is how the app ties a completed run to
 * the recovery, the attempt and the failing head it dispatched it for. Keep the two in step:
 * .github/workflows/switchyard-recover.yml spells the same text with fromJSON(inputs.recovery).
 */
export function recoverRunTitle(d: Pick<RecoveryDispatch, "key" | "attempt" | "head_sha">): string {
  return `switchyard recover ${d.key} (attempt ${d.attempt}) at ${d.head_sha}`;
}

const RECOVER_TITLE =
  /^switchyard recover (\S+) \(attempt ([1-9]\d{0,3})\) at ([0-9a-f]{40}(?:[0-9a-f]{24})?)$/;

/** The recovery a run title names, or null for any other title (not a recover run of the app's). */
export function parseRecoverRunTitle(
  title: string | null | undefined,
): { key: string; attempt: number; head_sha: string } | null {
  const m = RECOVER_TITLE.exec(title ?? "");
  if (m === null || !RecoveryKeySchema.safeParse(m[1]).success) return null;
  return { key: m[1]!, attempt: Number(m[2]), head_sha: m[3]! };
}

export type DispatchRecoveryResult =
  { ok: true; workflow_id: string } | { ok: false; workflow_id: string; reason: string };

/** Dispatches the recover workflow with the `recovery` input; a missing workflow is reported. */
export async function dispatchRecovery(
  octokit: GitHubClient,
  input: { owner: string; repo: string; workflow: string; ref: string; dispatch: RecoveryDispatch },
): Promise<DispatchRecoveryResult> {
  const parsed = RecoveryDispatchSchema.safeParse(input.dispatch);
  if (!parsed.success) throw new InputError(`Cannot dispatch the recovery: ${firstIssue(parsed.error)}`);
  const dispatch = parsed.data;
  let workflow_id: string;
  try {
    workflow_id = workflowId(input.workflow);
  } catch (error) {
    return {
      ok: false,
      workflow_id: input.workflow,
      reason: (error as Error).message.replace("execution.workflow", "recovery.workflow"),
    };
  }
  try {
    await octokit.request("POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches", {
      owner: input.owner,
      repo: input.repo,
      workflow_id,
      ref: input.ref,
      inputs: { recovery: JSON.stringify(dispatch) },
    });
    return { ok: true, workflow_id };
  } catch (error) {
    const status = statusOf(error);
    const hint =
      status === 404
        ? `: add ${input.workflow} to ${input.ref} (docs/recovery.md has one), or set recovery.workflow`
        : status === 422
          ? ": the workflow needs a workflow_dispatch trigger with a `recovery` input"
          : "";
    return {
      ok: false,
      workflow_id,
      reason: `dispatching ${workflow_id} on ${input.ref}: ${apiErrorText(error)}${hint}`,
    };
  }
}
