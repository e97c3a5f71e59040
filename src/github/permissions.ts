import { z } from "zod";
import { InputError } from "../core/errors.js";
import { gitHubApiError, statusOf } from "./errors.js";
import type { GitHubClient } from "./octokit.js";

/**
 * Who may trigger Switchyard, asked of the API rather than guessed from the payload (a webhook's
 * `author_association` says nothing about triage or maintain roles). One request per check.
 *
 * - A bot (`sender.type === "Bot"`) is rejected unless its login is listed in `allowBots`: bots
 *   can add labels and write comments, and one bot answering another is how loops start. A
 *   listed bot is approved without asking the API, since apps are not collaborators.
 * - A person needs at least `minimum`: labels ask for triage, comment commands for write.
 */

/** Repository roles from least to most; custom roles are judged by the base role GitHub reports. */
export const ROLES = ["none", "read", "triage", "write", "maintain", "admin"] as const;
export type Role = (typeof ROLES)[number];

export interface CanTriggerInput {
  owner: string;
  repo: string;
  username: string;
  /** The webhook sender's `type`: "User", "Bot" or "Organization". */
  senderType: string;
  /** Bot logins allowed to trigger (config trigger.allow_bots), e.g. "renovate[bot]". */
  allowBots: readonly string[];
  minimum: "triage" | "write";
}

export type TriggerVerdict = { approved: true; role: Role | "bot" } | { approved: false; reason: string };

const InputSchema = z.strictObject({
  owner: z.string().min(1),
  repo: z.string().min(1),
  username: z.string().min(1).max(100),
  senderType: z.string().min(1),
  allowBots: z.array(z.string()),
  minimum: z.enum(["triage", "write"]),
});

const PermissionSchema = z.looseObject({
  permission: z.string(),
  role_name: z.string().optional(),
});

function rank(role: string): number {
  return (ROLES as readonly string[]).indexOf(role);
}

/** The effective role: `role_name` when it is a built-in role, else the base `permission`. */
export function effectiveRole(permission: string, roleName: string | undefined): Role {
  if (roleName !== undefined && rank(roleName) >= 0) return roleName as Role;
  return rank(permission) >= 0 ? (permission as Role) : "none";
}

export async function canTrigger(octokit: GitHubClient, input: CanTriggerInput): Promise<TriggerVerdict> {
  const parsed = InputSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(
      `cannot check who may trigger: ${issue.path.join(".") || "(input)"}: ${issue.message}`,
    );
  }
  const i = parsed.data;
  if (i.senderType === "Bot") {
    const listed = i.allowBots.some((b) => b.toLowerCase() === i.username.toLowerCase());
    return listed
      ? { approved: true, role: "bot" }
      : {
          approved: false,
          reason: `${i.username} is a bot and is not listed in trigger.allow_bots`,
        };
  }
  let data: unknown;
  try {
    ({ data } = await octokit.request("GET /repos/{owner}/{repo}/collaborators/{username}/permission", {
      owner: i.owner,
      repo: i.repo,
      username: i.username,
    }));
  } catch (error) {
    // GitHub answers 404 for a login that is not a user of this repository's world.
    if (statusOf(error) === 404) {
      return { approved: false, reason: `${i.username} has no access to ${i.owner}/${i.repo}` };
    }
    throw gitHubApiError(error, {
      doing: `asking GitHub for ${i.username}'s permission on ${i.owner}/${i.repo}`,
      permission: "metadata: read",
    });
  }
  const permission = PermissionSchema.safeParse(data);
  if (!permission.success) {
    return { approved: false, reason: `GitHub's answer about ${i.username}'s permission could not be read` };
  }
  const role = effectiveRole(permission.data.permission, permission.data.role_name);
  if (rank(role) >= rank(i.minimum)) return { approved: true, role };
  return {
    approved: false,
    reason: `${i.username} has ${role} access to ${i.owner}/${i.repo}; ${i.minimum} or more is needed`,
  };
}
