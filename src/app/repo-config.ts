import {
  loadDefaultSources,
  parseConfigSources,
  REPO_CONFIG_PATH,
  type LoadedConfig,
} from "../config/load.js";
import { ConfigError } from "../core/errors.js";
import { gitHubApiError, statusOf } from "../github/errors.js";
import type { GitHubClient } from "../github/octokit.js";

/**
 * A repository's configuration as the app sees it, with the lookup of Probot's `context.config`:
 * the repository's .github/switchyard.yml, else the same file in the owner's `.github`
 * repository, merged over the shipped defaults. The file's raw text is fetched and parsed here
 * (not through context.config, which returns parsed YAML) so every problem keeps its file:line.
 * Probot's `_extends` key is not supported: it is reported as an unknown key like any other.
 */

export interface RepoConfigSource {
  /** How problems name the file: ".github/switchyard.yml", or "<owner>/.github:.github/switchyard.yml". */
  file: string;
  owner: string;
  repo: string;
}

export type RepoConfigResult =
  | { ok: true; loaded: LoadedConfig; source: RepoConfigSource | null }
  | { ok: false; error: ConfigError; source: RepoConfigSource | null };

/** The org-wide fallback lives in this repository, as for every Probot app. */
export const ORG_CONFIG_REPO = ".github";

async function fetchText(
  octokit: GitHubClient,
  { owner, repo, file }: RepoConfigSource,
): Promise<string | null> {
  try {
    const { data } = await octokit.request("GET /repos/{owner}/{repo}/contents/{path}", {
      owner,
      repo,
      path: REPO_CONFIG_PATH,
      mediaType: { format: "raw" },
    });
    if (typeof data === "string") return data;
    // A directory, a symlink or a submodule named switchyard.yml: GitHub answers with JSON.
    throw new ConfigError([{ file, message: "is not a file", hint: `make ${REPO_CONFIG_PATH} a YAML file` }]);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    if (statusOf(error) === 404) return null;
    throw gitHubApiError(error, {
      doing: `reading ${REPO_CONFIG_PATH} from ${owner}/${repo}`,
      permission: "contents: read",
    });
  }
}

/**
 * At most two requests (the repository's file, then the org's). A configuration that cannot be
 * used is `{ ok: false }` with every problem located; a failure to reach GitHub is thrown.
 */
export async function loadRepoConfig(
  octokit: GitHubClient,
  where: { owner: string; repo: string },
): Promise<RepoConfigResult> {
  const candidates: RepoConfigSource[] = [{ file: REPO_CONFIG_PATH, owner: where.owner, repo: where.repo }];
  if (where.repo !== ORG_CONFIG_REPO) {
    candidates.push({
      file: `${where.owner}/${ORG_CONFIG_REPO}:${REPO_CONFIG_PATH}`,
      owner: where.owner,
      repo: ORG_CONFIG_REPO,
    });
  }
  let source: RepoConfigSource | null = null;
  let text: string | null = null;
  try {
    for (const candidate of candidates) {
      text = await fetchText(octokit, candidate);
      if (text !== null) {
        source = candidate;
        break;
      }
    }
    const defaults = await loadDefaultSources();
    const overrides = source !== null && text !== null ? [{ file: source.file, text }] : [];
    return { ok: true, loaded: parseConfigSources(defaults, overrides), source };
  } catch (error) {
    if (error instanceof ConfigError) return { ok: false, error, source };
    throw error;
  }
}
