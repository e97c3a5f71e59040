import type { Task } from "./schema.js";

/**
 * How much a wrong change would hurt. Said explicitly by a `switchyard:risk/<low|medium|high>`
 * label or a "Risk" form field; otherwise inferred, simply and predictably:
 *   high   — the scope or the words of the title and opening of the body touch security,
 *            authentication, secrets, database migrations, CI or infrastructure;
 *   low    — documentation or linting work with none of the above;
 *   medium — everything else (the default: most code changes).
 * Dependency updates are medium: routine, but they change what runs.
 */

export type Risk = Task["risk"];
export const RISK_LEVELS: readonly Risk[] = ["low", "medium", "high"];

/** Words that make a task high risk wherever they appear in the title or the opening of the body. */
const HIGH_RISK_WORDS = new Set([
  "security",
  "auth",
  "authentication",
  "authorization",
  "oauth",
  "password",
  "passwords",
  "secret",
  "secrets",
  "credential",
  "credentials",
  "encryption",
  "crypto",
  "permission",
  "permissions",
  "migration",
  "migrations",
  "infra",
  "infrastructure",
  "terraform",
  "kubernetes",
  "deploy",
  "deployment",
  "ci",
  "payment",
  "payments",
  "billing",
]);

/** Scope globs that reach the same places. */
const HIGH_RISK_PATH_RE =
  /(^|\/)(\.github|migrations?|infra|infrastructure|terraform|deploy|k8s|helm|auth|security|secrets?)(\/|$)|\.tf$|(^|\/)Dockerfile$|\.pem$|(^|\/)\.env/i;

const LOW_RISK_CAPABILITIES = new Set(["documentation", "linting"]);

export function parseRisk(value: string): Risk | null {
  const word =
    value
      .trim()
      .toLowerCase()
      .split(/[\s(:,-]/)[0] ?? "";
  return (RISK_LEVELS as readonly string[]).includes(word) ? (word as Risk) : null;
}

export function inferRisk(input: {
  capability: string;
  scope: readonly string[];
  titleWords: readonly string[];
  bodyWords: readonly string[];
}): Risk {
  const touchesHighRisk =
    input.scope.some((glob) => HIGH_RISK_PATH_RE.test(glob)) ||
    input.titleWords.some((w) => HIGH_RISK_WORDS.has(w)) ||
    input.bodyWords.some((w) => HIGH_RISK_WORDS.has(w));
  if (touchesHighRisk) return "high";
  return LOW_RISK_CAPABILITIES.has(input.capability) ? "low" : "medium";
}
