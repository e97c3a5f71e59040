import type { ToolProfile } from "../config/schema.js";

/**
 * The environment a tool runs with: an allowlist, never the runner's whole environment. An AI tool
 * runs code it wrote itself in a checkout of untrusted text, so whatever it can read it can leak:
 * GITHUB_TOKEN, ACTIONS_RUNTIME_TOKEN, ACTIONS_ID_TOKEN_REQUEST_*, other tools' API keys. It gets
 * what any program needs to run, plus the variables its profile declares.
 */

/**
 * What any program needs: where binaries are, who and where the user is, locale and terminal,
 * temp directories, proxies and CA bundles (a tool behind a corporate proxy cannot reach its API
 * without them), and git's identity and non-interactive settings.
 *
 * Deliberately absent: NODE_OPTIONS (it can preload code, and a test runner's flags would leak
 * into a Node tool; a profile that needs it declares it), GIT_ASKPASS / SSH_AUTH_SOCK (they hand
 * out credentials), and everything GITHUB_*, ACTIONS_* and RUNNER_*.
 */
export const BASE_ENV_ALLOWLIST: readonly string[] = [
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "SHELL",
  "LANG",
  "LANGUAGE",
  "LC_ALL",
  "LC_CTYPE",
  "TERM",
  "TZ",
  "TMPDIR",
  "TMP",
  "TEMP",
  "CI",
  "XDG_CONFIG_HOME",
  "XDG_CACHE_HOME",
  "XDG_DATA_HOME",
  "XDG_RUNTIME_DIR",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
  "http_proxy",
  "https_proxy",
  "no_proxy",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
  "NODE_EXTRA_CA_CERTS",
  "REQUESTS_CA_BUNDLE",
  "GIT_AUTHOR_NAME",
  "GIT_AUTHOR_EMAIL",
  "GIT_COMMITTER_NAME",
  "GIT_COMMITTER_EMAIL",
  "GIT_CONFIG_GLOBAL",
  "GIT_CONFIG_NOSYSTEM",
  "GIT_TERMINAL_PROMPT",
  // Windows cannot start most programs without these.
  "SystemRoot",
  "SYSTEMROOT",
  "ComSpec",
  "COMSPEC",
  "PATHEXT",
  "WINDIR",
  "USERPROFILE",
  "APPDATA",
  "LOCALAPPDATA",
];

/** Declared variables whose names say they hold a credential: their values are redacted from output. */
const CREDENTIAL_NAME = /KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH|COOKIE|SESSION/;

export interface ToolEnv {
  env: Record<string, string>;
  /** Names in the profile's `env` that are not set (or set to ""), for the report. */
  missing: string[];
}

/**
 * The profile fields that name variables. `env_optional` (passed when set, never required) is read
 * when the profile has it.
 */
export type EnvDeclaration = Pick<ToolProfile, "env" | "env_any_of"> & { env_optional?: readonly string[] };

/** The variables a profile declares, in declaration order, without duplicates. */
export function declaredEnvNames(profile: EnvDeclaration): string[] {
  return [...new Set([...profile.env, ...profile.env_any_of, ...(profile.env_optional ?? [])])];
}

/**
 * Picks the tool's environment from `source`. A declared variable that is empty counts as unset and
 * is left out: Actions turns a secret that does not exist into "", and a tool told OPENAI_API_KEY=""
 * fails later and less clearly than one told nothing.
 */
export function toolEnv(profile: EnvDeclaration, source: NodeJS.ProcessEnv): ToolEnv {
  const env: Record<string, string> = {};
  for (const name of BASE_ENV_ALLOWLIST) {
    const value = source[name];
    if (value !== undefined) env[name] = value;
  }
  const missing: string[] = [];
  for (const name of declaredEnvNames(profile)) {
    const value = source[name];
    if (value !== undefined && value !== "") env[name] = value;
    else if (profile.env.includes(name)) missing.push(name);
  }
  return { env, missing };
}

/** Whether the variable is set to something other than "" (see toolEnv). */
export function isSet(source: NodeJS.ProcessEnv, name: string): boolean {
  const value = source[name];
  return value !== undefined && value !== "";
}

/**
 * The values to redact from the tool's output: those of the declared variables whose names look
 * like credentials (OPENAI_API_KEY, ANTHROPIC_AUTH_TOKEN...). Other declared values, a model name
 * say, stay readable; callers with more secrets pass them to the runner themselves.
 */
export function toolSecrets(profile: EnvDeclaration, source: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  for (const name of declaredEnvNames(profile)) {
    if (CREDENTIAL_NAME.test(name) && isSet(source, name)) out.push(source[name]!);
  }
  return out;
}
