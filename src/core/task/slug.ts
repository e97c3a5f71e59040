/**
 * The slug in a task branch name (`switchyard/issue-<n>-<slug>`): lower-case ASCII letters and
 * digits joined by single hyphens, at most 40 characters, cut at a word boundary when there is one,
 * never empty ("task"). Accents are folded ("Café" -> "cafe"); other scripts drop out, which is why
 * the issue number, not the slug, is what makes a branch name unique.
 */

export const MAX_SLUG_LENGTH = 40;
const FALLBACK = "task";

export function branchSlug(title: string): string {
  // Only the start of a title can survive the cap; bounding the input keeps normalize() cheap.
  const head = typeof title === "string" ? title.slice(0, 4 * MAX_SLUG_LENGTH) : "";
  const words = head
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== "");
  let slug = "";
  for (const word of words) {
    const next = slug ? `${slug}-${word}` : word;
    if (next.length > MAX_SLUG_LENGTH) {
      // A first word longer than the cap is cut; later words are dropped whole.
      if (!slug) slug = word.slice(0, MAX_SLUG_LENGTH);
      break;
    }
    slug = next;
  }
  return slug || FALLBACK;
}

/**
 * The branch a task's patch is committed to: `<prefix>issue-<n>-<slug>` for an issue and
 * `<prefix>pr-<n>-<slug>` for a pull request, so a task always lands on the same branch and a
 * second run updates it instead of opening another.
 */
export function taskBranchName(
  task: { kind: "issue" | "pull_request"; number: number; title: string },
  prefix = "switchyard/",
): string {
  const kind = task.kind === "pull_request" ? "pr" : "issue";
  return `${prefix}${kind}-${task.number}-${branchSlug(task.title)}`;
}
