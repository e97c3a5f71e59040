import { distance } from "fastest-levenshtein";
import { ConfigError, type Problem } from "../errors.js";
import {
  RecoveryRulesSchema,
  RuleSchema,
  type FailureCategory,
  type Rule,
  type RuleInput,
  type RuleTarget,
} from "./schema.js";

/**
 * The shipped rule table. Each rule recognises one way a tool reports a failure, in the words the
 * tool really prints, and gives evidence for one category. Lines are matched after timestamps,
 * colour codes and `##[error]` prefixes are gone.
 *
 * How weights are chosen:
 * - 40: the runner itself says the job died (shutdown, lost communication, timeout): more than all
 *   of one tool's output can add up to, because nothing the job printed before that matters.
 * - 10-14: a line only that kind of failure prints (`Code style issues found`, `npm ERR! code
 *   ERESOLVE`, `JavaScript heap out of memory`).
 * - 6-8: a line that names one failure (`FAILED tests/x.py::test_y`, `src/a.ts(3,7): error TS2322`).
 * - 2-4: hints: summaries shared by several tools, and the step's name (`Run npm run lint`).
 * A category needs a score of MIN_SCORE, so a step name alone never decides.
 *
 * Signatures are taken from rules marked `signature: true`: lines that name the failing test, file
 * or package. Summary lines ("Tests: 1 failed") would make every test failure look alike.
 */

type RuleOptions = { on?: RuleTarget; sig?: boolean; why?: string };

function rule(
  id: string,
  category: FailureCategory,
  weight: number,
  pattern: RegExp,
  opts: RuleOptions = {},
): RuleInput {
  return {
    id,
    category,
    weight,
    pattern: pattern.source,
    ignore_case: pattern.flags.includes("i"),
    applies_to: opts.on ?? "line",
    signature: opts.sig ?? true,
    ...(opts.why !== undefined ? { description: opts.why } : {}),
  };
}

const summary = { sig: false } as const;
const step = { on: "step", sig: false } as const;
const error = { on: "error" } as const;

/** npm 6-9 print "npm ERR!", npm 10 "npm error". */
const npm = (rest: RegExp) => new RegExp(`^npm (?:ERR!|error) ${rest.source}`);

const RULE_TABLE: RuleInput[] = [
  // --- infra: the runner, the network, memory, disk -------------------------------------------
  rule("runner-shutdown", "infra", 40, /The runner has received a shutdown signal/),
  rule("runner-lost", "infra", 40, /lost communication with the server/),
  rule("runner-hosted-error", "infra", 40, /The hosted runner encountered an error/),
  rule("job-timeout", "infra", 40, /has exceeded the maximum execution time of \d+ minutes/),
  rule("job-not-started", "infra", 40, /The job was not started because /),
  rule("step-timeout", "infra", 40, /^The action '.*' has timed out after \d+ minutes/, error),
  rule("operation-canceled", "infra", 12, /^The operation was canceled\.$/, error),
  rule("exit-137", "infra", 12, /^Process completed with exit code 137\.$/, {
    ...error,
    sig: false,
    why: "SIGKILL, almost always the kernel's out-of-memory killer",
  }),
  rule("oom-node-heap", "infra", 14, /JavaScript heap out of memory/),
  rule("oom-java", "infra", 12, /java\.lang\.OutOfMemoryError/),
  rule("oom-go", "infra", 12, /^fatal error: runtime: out of memory/),
  rule("oom-kernel", "infra", 12, /Out of memory: Killed process/),
  rule("oom-shell-killed", "infra", 12, /: line \d+: +\d+ Killed\s/),
  rule("oom-killed", "infra", 8, /^Killed$/),
  rule("toolchain-killed", "infra", 10, /: signal: killed$/, {
    why: "a compiler or test binary killed by the kernel, as a rule for using too much memory",
  }),
  rule("gradle-daemon-gone", "infra", 14, /Gradle build daemon disappeared unexpectedly/),
  rule("disk-full", "infra", 12, /\bENOSPC\b|No space left on device/),
  rule(
    "npm-network",
    "infra",
    12,
    npm(/code (?:ETIMEDOUT|ECONNRESET|ECONNREFUSED|EAI_AGAIN|ENOTFOUND|ENETUNREACH|ERR_SOCKET_TIMEOUT)$/),
    summary,
  ),
  rule("npm-network-detail", "infra", 4, npm(/network /), summary),
  rule(
    "socket-error",
    "infra",
    6,
    /\b(?:connect|read) (?:ETIMEDOUT|ECONNRESET)\b|\bgetaddrinfo (?:EAI_AGAIN|ENOTFOUND)\b|\bsocket hang up\b/,
  ),
  rule("git-http-5xx", "infra", 14, /unable to access '.*': The requested URL returned error: 5\d\d/),
  rule("git-remote-5xx", "infra", 6, /^remote: Internal Server Error/),
  rule("dns-failure", "infra", 10, /Could not resolve host: |Temporary failure in name resolution/),
  rule("http-5xx", "infra", 12, /Unexpected HTTP response: 5\d\d/),
  rule("http-5xx-text", "infra", 6, /\b(?:502 Bad Gateway|503 Service Unavailable|504 Gateway Time-?out)\b/),
  rule(
    "client-timeout",
    "infra",
    10,
    /Client\.Timeout exceeded while awaiting headers|TLS handshake timeout|dial tcp [^ ]+: i\/o timeout/,
  ),
  rule(
    "registry-rate-limit",
    "infra",
    10,
    /toomanyrequests: You have reached your pull rate limit|API rate limit exceeded/,
  ),
  rule(
    "maven-transfer",
    "infra",
    14,
    /Could not transfer artifact .*(?:Connection reset|Connect timed out|Read timed out|status code: 5\d\d|Bad Gateway|Service Unavailable)/,
  ),
  rule("gradle-http-5xx", "infra", 16, /Received status code 5\d\d from server/),
  rule("http-5xx-status", "infra", 14, /Response status code does not indicate success: 5\d\d/),
  rule("nuget-unreachable", "infra", 12, /error NU1301: /),
  rule("pip-timeout", "infra", 10, /ReadTimeoutError|ConnectTimeoutError|Read timed out\./),

  // --- dependency: the declared dependencies cannot be installed -------------------------------
  rule(
    "npm-resolve",
    "dependency",
    10,
    npm(/code (?:ERESOLVE|ETARGET|E404|EUSAGE|EINTEGRITY|EBADENGINE|ENOVERSIONS|ELOCKVERIFY|EOVERRIDE)$/),
    summary,
  ),
  rule("npm-notarget", "dependency", 6, npm(/notarget No matching version found for /)),
  rule("npm-404", "dependency", 6, npm(/404 +Not Found - /)),
  rule(
    "npm-eresolve-detail",
    "dependency",
    4,
    npm(/(?:ERESOLVE could not resolve|Could not resolve dependency:|Conflicting peer dependency: )/),
  ),
  rule(
    "npm-ci-sync",
    "dependency",
    10,
    /`npm ci` can only install packages when your package\.json and package-lock\.json/,
    summary,
  ),
  rule("npm-lock-missing", "dependency", 6, npm(/Missing: \S+ from lock file/)),
  rule(
    "pnpm-resolve",
    "dependency",
    10,
    /ERR_PNPM_(?:OUTDATED_LOCKFILE|NO_MATCHING_VERSION|LOCKFILE_CONFIG_MISMATCH|PEER_DEP_ISSUES|FETCH_404|NO_MATCHING_VERSION_INSIDE_WORKSPACE)\b/,
  ),
  rule(
    "yarn-resolve",
    "dependency",
    10,
    /^error (?:Couldn't find any versions for |Couldn't find package |Your lockfile needs to be updated)|The lockfile would have been modified by this install/,
  ),
  rule(
    "pip-no-version",
    "dependency",
    10,
    /^ERROR: Could not find a version that satisfies the requirement /,
  ),
  rule("pip-no-distribution", "dependency", 8, /^ERROR: No matching distribution found for /, summary),
  rule(
    "pip-conflict",
    "dependency",
    8,
    /^ERROR: Cannot install .* because these package versions have conflicting dependencies/,
  ),
  rule("pip-resolution-impossible", "dependency", 10, /ResolutionImpossible/, summary),
  rule("pip-wheel", "dependency", 6, /Failed building wheel for \S+|error: subprocess-exited-with-error/),
  rule(
    "poetry-solver",
    "dependency",
    10,
    /version solving failed|poetry\.lock (?:is not consistent|was last generated)|pyproject\.toml changed significantly since poetry\.lock/,
  ),
  rule(
    "go-sum",
    "dependency",
    10,
    /missing go\.sum entry|^go: updates to go\.mod needed|go: inconsistent vendoring/,
  ),
  rule(
    "go-module-missing",
    "dependency",
    8,
    /^go: \S+@\S+: (?:reading \S+: 404|invalid version|unknown revision)/,
  ),
  rule(
    "cargo-select",
    "dependency",
    10,
    /^error: (?:failed to select a version for|no matching package named |the lock file \S+ needs to be updated but --locked was passed)/,
  ),
  rule("maven-unresolved", "dependency", 6, /Could not resolve dependencies for project /, summary),
  rule("maven-missing-artifact", "dependency", 8, /Could not find artifact \S+/),
  rule(
    "gradle-unresolved",
    "dependency",
    6,
    /Could not resolve all (?:files|dependencies|artifacts) for configuration/,
    summary,
  ),
  rule("gradle-missing-module", "dependency", 8, /^\s*> Could not find [\w.-]+:[\w.-]+:[\w.-]+\.$/),
  rule(
    "bundler-resolve",
    "dependency",
    10,
    /Could not find gem '|Bundler could not find compatible versions/,
  ),
  rule(
    "composer-resolve",
    "dependency",
    10,
    /Your requirements could not be resolved to an installable set of packages|Your lock file does not contain a compatible set of packages/,
  ),
  rule("uv-resolve", "dependency", 10, /No solution found when resolving dependencies/),
  rule("uv-unsatisfiable", "dependency", 6, /requirements are unsatisfiable/, summary),
  rule("nuget-resolve", "dependency", 10, /error NU1(?!301)\d{3}: /),
  rule("pip-hashes", "dependency", 10, /THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE/),
  rule(
    "install-step",
    "dependency",
    2,
    /\b(?:npm ci|npm install|yarn install|pnpm install|pip install|poetry install|uv sync|bundle install|go mod download|cargo fetch|composer install)\b/i,
    step,
  ),

  // --- build: compiling and bundling ------------------------------------------------------------
  rule(
    "go-compile",
    "build",
    8,
    /^(?:\.\/)?\S+\.go:\d+:\d+: (?:undefined: |declared and not used|.*imported and not used|syntax error|cannot use |missing return|too many arguments|not enough arguments|.* has no field or method|invalid operation|.* redeclared in this block)/,
  ),
  rule("go-build-failed", "build", 10, /^FAIL\t\S+ \[(?:build|setup) failed\]$/, summary),
  rule("rust-error-code", "build", 8, /^error\[E\d{4}\]: /),
  rule("rust-could-not-compile", "build", 6, /^error: could not compile `/, summary),
  rule("javac-error", "build", 8, /\.java:\d+: error: /),
  rule("maven-javac-error", "build", 8, /^\[ERROR\] \S+\.java:\[\d+,\d+\] /),
  rule("maven-compilation-error", "build", 10, /^\[ERROR\] COMPILATION ERROR/, summary),
  rule(
    "maven-compiler-plugin",
    "build",
    6,
    /maven-compiler-plugin:[\d.]+:(?:testCompile|compile)\b/,
    summary,
  ),
  rule("gradle-compile-task", "build", 10, /^> Task \S*:compile\w* FAILED$/, summary),
  rule(
    "gradle-compilation-failed",
    "build",
    6,
    /Compilation failed; see the compiler error output|Compilation error\. See log for more details/,
    summary,
  ),
  rule("kotlin-error", "build", 8, /^e: (?:file:\/\/)?\S+\.kts?:(?:\d+:\d+ | \(\d+, \d+\): )/),
  rule(
    "c-compile",
    "build",
    8,
    /^\S+\.(?:c|cc|cpp|cxx|h|hh|hpp|m|mm|swift):\d+:\d+: (?:fatal )?error: (?!code should be clang-formatted|.* Violation: )/,
  ),
  rule(
    "linker",
    "build",
    8,
    /undefined reference to `|ld: symbol\(s\) not found|collect2: error: ld returned/,
  ),
  rule("cmake-error", "build", 6, /^CMake Error at /),
  rule("make-error", "build", 3, /^g?make(?:\[\d+\])?: \*\*\* .* Error \d+$/, summary),
  rule("dotnet-compile", "build", 8, /: error CS\d{4}: /),
  rule("dotnet-build-failed", "build", 4, /^Build FAILED\.$/, summary),
  rule("rollup-unresolved", "build", 10, /Rollup failed to resolve import /),
  rule("vite-build-error", "build", 6, /^error during build:$/, summary),
  rule("bundle-module-not-found", "build", 10, /Module not found: (?:Error: )?Can't resolve /),
  rule("webpack-error", "build", 6, /^ERROR in \S/),
  rule(
    "next-failed-to-compile",
    "build",
    6,
    /^Failed to compile\.$|Build failed because of webpack errors/,
    summary,
  ),
  rule("esbuild-error", "build", 8, /^✘ \[ERROR\] /),
  rule("build-step", "build", 2, /\b(?:build|compile|make|cmake|assemble|package)\b/i, step),

  // --- type: a type checker that runs as its own step -------------------------------------------
  rule("tsc-error", "type", 8, /\.(?:[cm]?[jt]sx?|vue)\(\d+,\d+\): error TS\d+: /),
  rule("tsc-pretty-error", "type", 8, /\.(?:[cm]?[jt]sx?|vue):\d+:\d+ - error TS\d+: /),
  rule("tsc-code", "type", 3, /\berror TS\d{4,5}\b/, summary),
  rule("type-summary", "type", 4, /^Found \d+ errors? in /, summary),
  rule("mypy-error", "type", 8, /^\S+\.pyi?:\d+: error: .*\[[a-z-]+\]$/),
  rule("pyright-error", "type", 8, /^\s*\S+\.pyi?:\d+:\d+ - error: /),
  rule("pyright-summary", "type", 6, /^\d+ errors?, \d+ warnings?, \d+ informations?/, summary),
  rule("flow-error", "type", 8, /^Error -{10,} \S+:\d+:\d+$/),
  rule("svelte-check", "type", 8, /svelte-check found [1-9]\d* errors?/, summary),
  rule("type-step", "type", 3, /\b(?:tsc|typecheck|type-check|types|mypy|pyright|vue-tsc)\b/i, step),

  // --- format: a formatter's check mode ----------------------------------------------------------
  rule("prettier-summary", "format", 10, /^\[warn\] Code style issues (?:were )?found in/, summary),
  rule("prettier-file", "format", 3, /^\[warn\] (?!Code style issues)\S+\.\w+$/),
  rule("eslint-prettier", "format", 9, /\s{2}prettier\/prettier$/),
  rule("black-file", "format", 8, /^would reformat \S/),
  rule("black-oh-no", "format", 4, /^Oh no! /, summary),
  rule("reformat-summary", "format", 8, /^\d+ files? would be reformatted/, summary),
  rule("ruff-format-file", "format", 8, /^Would reformat: \S/),
  rule("rustfmt-diff", "format", 10, /^Diff in \S+(?: at line \d+)?:/),
  rule("gofmt-diff", "format", 10, /^diff (?:-u )?\S+\.go\.orig \S+\.go$/),
  rule("gofmt-linter", "format", 8, /^\S+\.go:\d+(?::\d+)?: File is not `?(?:gofmt|gofumpt|goimports)`?-ed/),
  rule("clang-format", "format", 12, /code should be clang-formatted \[-Wclang-format-violations\]/),
  rule("spotless", "format", 12, /The following files had format violations:/, summary),
  rule("spotless-task", "format", 6, /^> Task \S*:spotless\w*Check FAILED$/, summary),
  rule(
    "dotnet-format",
    "format",
    12,
    /: error (?:WHITESPACE|FINALNEWLINE|IMPORTS|CHARSET|ENDOFLINE|IDE0055): /,
  ),
  rule("biome-format", "format", 12, /Formatter would have printed the following content:/, summary),
  rule("isort", "format", 12, /Imports are incorrectly sorted and\/or formatted\./),
  rule("terraform-fmt-file", "format", 3, /^[\w./-]+\.(?:tf|tfvars|hcl)$/),
  rule("not-formatted", "format", 6, /\b(?:is|are) not (?:properly )?formatted\b/),
  rule("diff-after-fixer-step", "format", 2, /git diff (?:--exit-code|--quiet)/, step),
  rule(
    "format-step",
    "format",
    3,
    /(?:^|[\s/:])(?:prettier|black|rustfmt|fmt|gofmt|format|spotless|clang-format)\b/i,
    step,
  ),

  // --- lint: a linter's findings ------------------------------------------------------------------
  rule("eslint-error", "lint", 6, /^\s*\d+:\d+\s+error\s\s/),
  rule("eslint-warning", "lint", 1, /^\s*\d+:\d+\s+warning\s\s/),
  rule("eslint-summary", "lint", 8, /^✖ \d+ problems? \([1-9]\d* errors?/, summary),
  rule("eslint-max-warnings", "lint", 10, /^ESLint found too many warnings \(maximum: \d+\)/, summary),
  rule("next-lint-error", "lint", 6, /^\d+:\d+ {2}Error: /),
  rule("python-lint-code", "lint", 7, /^\S+\.pyi?:\d+:\d+: [A-Z]{1,3}\d{3,4}\b/),
  rule("ruff-summary", "lint", 6, /^Found \d+ errors?\.$/, summary),
  rule("pylint-rating", "lint", 3, /^Your code has been rated at /, summary),
  rule(
    "golangci-finding",
    "lint",
    8,
    /^\S+\.go:\d+:\d+: .* \((?:errcheck|govet|staticcheck|unused|gosimple|ineffassign|revive|gocritic|gosec|misspell|stylecheck|prealloc|dupl|errorlint|bodyclose|noctx|nilerr|exhaustive|lll|unparam|whitespace|wsl|godot|testifylint|perfsprint|typecheck)\)$/,
  ),
  rule("golangci-issues", "lint", 6, /^issues found$/, { ...error, sig: false }),
  rule("clippy-lint", "lint", 10, /clippy::[\w-]+/, summary),
  rule("clippy-help", "lint", 6, /rust-clippy\/[\w.-]+\/index\.html#\w+/),
  rule("shellcheck", "lint", 8, /\bSC\d{4} \((?:error|warning|info|style)\):/),
  rule("markdownlint", "lint", 8, /^\S+\.md:\d+(?::\d+)? MD\d{3}\//),
  rule("rubocop", "lint", 8, /^\S+\.rb:\d+:\d+: [CWEF]: /),
  rule("rubocop-summary", "lint", 6, /\b[1-9]\d* offenses? detected/, summary),
  rule("hadolint", "lint", 8, /^\S+:\d+ DL\d{4} (?:error|warning|info|style): /),
  rule("swiftlint", "lint", 10, /: (?:error|warning): .+ Violation: .+ \([a-z_]+\)$/),
  rule("actionlint", "lint", 8, /^\S+\.ya?ml:\d+:\d+: .+ \[[a-z-]+\]$/),
  rule("eslint-compact", "lint", 8, /: line \d+, col \d+, Error - /),
  rule("credo-summary", "lint", 8, /^\d+ mods\/funs, found [1-9]/, summary),
  rule("credo-issue", "lint", 4, /^┃ \[[RFCWD]\] /),
  rule(
    "lint-step",
    "lint",
    3,
    /\b(?:lint|eslint|ruff check|flake8|pylint|clippy|golangci-lint|shellcheck|rubocop|markdownlint|stylelint|hadolint|swiftlint|actionlint|credo)\b/i,
    step,
  ),

  // --- test: a test runner reports failed tests ---------------------------------------------------
  rule("jest-failed-test", "test", 6, /^\s*● (?!Test suite failed to run)\S/),
  rule("tests-failed-summary", "test", 8, /^\s*Tests:?\s+[1-9]\d* failed/, summary),
  rule("test-files-failed-summary", "test", 3, /^\s*Test (?:Suites:|Files)\s+[1-9]\d* failed/, summary),
  rule("jest-fail-file", "test", 3, /^\s*FAIL\s+\S+\.[cm]?[jt]sx?\b(?! >)/, summary),
  rule("vitest-failed-test", "test", 6, /^\s*FAIL\s+\S+ > \S/),
  rule("mocha-failing", "test", 8, /^\s+[1-9]\d* failing$/, summary),
  rule("mocha-failed-test", "test", 2, /^\s+\d+\) \S/),
  rule("pytest-failed", "test", 8, /^(?:FAILED|ERROR) \S+\.py::\S/),
  rule("pytest-summary", "test", 6, /^=+ [^=]*\b\d+ (?:failed|errors?)\b/, summary),
  rule("go-test-fail", "test", 8, /^\s*--- FAIL: \S+ \(/),
  rule("go-package-fail", "test", 5, /^FAIL\t\S+\t\d/, summary),
  rule("go-data-race", "test", 4, /^WARNING: DATA RACE$|race detected during execution of test/, summary),
  rule("cargo-test-failed", "test", 8, /^test \S+ \.\.\. FAILED$/),
  rule("cargo-test-result", "test", 8, /^test result: FAILED\./, summary),
  rule("rust-panic", "test", 3, /^thread '.*' panicked at /, summary),
  rule("gradle-test-task", "test", 6, /^> Task (?!\S*:compile)\S*[tT]est\w* FAILED$/, summary),
  rule("gradle-failed-test", "test", 8, /^[\w.$]+ > .+ FAILED$/),
  rule("gradle-tests-completed", "test", 8, /^\d+ tests? completed, [1-9]\d* failed/, summary),
  rule("gradle-failing-tests", "test", 6, /There were failing tests/, summary),
  rule("maven-tests-run", "test", 8, /\bTests run: \d+, Failures: (?:[1-9]|\d+, Errors: [1-9])/, summary),
  rule("maven-failed-test", "test", 7, /^\[ERROR\] {2,}\w[\w$]*\.\w+:\d+ /),
  rule("maven-test-failure-marker", "test", 4, /<<< (?:FAILURE|ERROR)!$/, summary),
  rule("maven-test-failures", "test", 6, /There are test failures/, summary),
  rule("rspec-summary", "test", 8, /^\d+ examples?, [1-9]\d* failures?/, summary),
  rule("rspec-failed-example", "test", 6, /^rspec \.\/\S+:\d+ # /),
  rule("tap-fail-count", "test", 8, /^# fail [1-9]/, summary),
  rule("tap-not-ok", "test", 6, /^\s*not ok \d+ - /),
  rule("dotnet-failed-test", "test", 8, /^\s*Failed [\w.]+(?:\(.*\))? \[[\d.]+ m?s\]$/),
  rule("dotnet-test-summary", "test", 8, /^Failed!\s+- Failed:\s+[1-9]/, summary),
  rule("playwright-failed-summary", "test", 8, /^\s+[1-9]\d* failed$/, summary),
  rule("playwright-failed-test", "test", 4, /^\s+✘\s+\d+ \[[\w -]+\] › /),
  rule("phpunit-summary", "test", 8, /^Tests: \d+, Assertions: \d+, (?:Failures|Errors): [1-9]/, summary),
  rule("phpunit-failures", "test", 6, /^FAILURES!$/, summary),
  rule("phpunit-failed-test", "test", 6, /^\d+\) [\w\\]+::\w+/),
  rule("ctest-failed", "test", 8, /^The following tests FAILED:$/, summary),
  rule(
    "ctest-failed-test",
    "test",
    6,
    /^\s+\d+ - \S+ \((?:Failed|SEGFAULT|Timeout|Subprocess aborted|Exception)\)$/,
  ),
  rule("xctest-failed-test", "test", 8, /^Test Case '.*' failed \(/),
  rule("xctest-summary", "test", 8, /Executed \d+ tests?, with [1-9]\d* failures?/, summary),
  rule("bun-fail-count", "test", 8, /^\s*[1-9]\d* fail$/, summary),
  rule("bun-failed-test", "test", 6, /^(?:✗|\(fail\)) .+ \[[\d.]+m?s\]$/),
  rule("junit-failed-case", "test", 8, /\S/, { on: "test" }),
  rule("test-step", "test", 2, /\b(?:test|tests|pytest|jest|vitest|mocha|rspec|spec|junit)\b/i, step),

  // --- flaky: hints in one log (history is the real signal; see classify.ts) ---------------------
  rule("playwright-flaky", "flaky", 10, /^\s+[1-9]\d* flaky$/, summary),
  rule("retry-marker", "flaky", 3, /\(retry #\d+\)/, summary),
  rule("pytest-rerun", "flaky", 4, /^\S+\.py::\S+ RERUN\b|^=+ [^=]*\b\d+ rerun\b/, summary),
];

/** The shipped rules, validated by the same schema a repository's rules go through. */
export const DEFAULT_RULES: readonly Rule[] = RULE_TABLE.map((r) => {
  const parsed = RuleSchema.safeParse(r);
  if (!parsed.success) throw new Error(`shipped rule ${r.id}: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
});

/** A category needs at least this score; below it the failure is "unknown". */
export const MIN_SCORE = 4;

export interface CompiledRule extends Rule {
  regex: RegExp;
}

/** Rules ready to run, split by what they apply to. */
export interface RuleSet {
  rules: readonly CompiledRule[];
  byTarget: Readonly<Record<RuleTarget, readonly CompiledRule[]>>;
}

export interface CompileOptions {
  /** The file the rules came from, for error messages. */
  file?: string;
  /** The table to start from (default: the shipped rules). */
  base?: readonly Rule[];
}

/**
 * The shipped table with a repository's `recovery.rules` applied: a disabled id is removed, an
 * added rule with a shipped rule's id replaces it in place, other added rules come after the
 * shipped ones. Throws a ConfigError naming the key for invalid rules and unknown disabled ids.
 */
export function compileRules(config?: unknown, opts: CompileOptions = {}): RuleSet {
  const file = opts.file ?? ".github/switchyard.yml";
  const base = opts.base ?? DEFAULT_RULES;
  const parsed = RecoveryRulesSchema.safeParse(config ?? {});
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => ({
        file,
        path: ["recovery", "rules", ...issue.path].map(pathPart).join("").replace(/^\./, ""),
        message: issue.message,
      })),
    );
  }
  const { add, disable } = parsed.data;
  const known = new Set([...base.map((r) => r.id), ...add.map((r) => r.id)]);
  const problems: Problem[] = [];
  disable.forEach((id, i) => {
    if (known.has(id)) return;
    const near = [...known].sort((a, b) => distance(id, a) - distance(id, b) || a.localeCompare(b))[0];
    problems.push({
      file,
      path: `recovery.rules.disable[${i}]`,
      message: `no rule has the id '${id}'`,
      ...(near !== undefined && distance(id, near) <= 3 ? { hint: `did you mean '${near}'?` } : {}),
    });
  });
  const seen = new Set<string>();
  add.forEach((r, i) => {
    if (seen.has(r.id)) {
      problems.push({
        file,
        path: `recovery.rules.add[${i}].id`,
        message: `rule id '${r.id}' is added twice`,
      });
    }
    seen.add(r.id);
  });
  if (problems.length > 0) throw new ConfigError(problems);

  const added = new Map(add.map((r) => [r.id, r]));
  const off = new Set(disable);
  const merged: Rule[] = base.map((r) => added.get(r.id) ?? r);
  for (const r of add) if (!base.some((b) => b.id === r.id)) merged.push(r);
  const rules = merged
    .filter((r) => !off.has(r.id))
    .map((r) => ({ ...r, regex: new RegExp(r.pattern, r.ignore_case ? "i" : "") }));
  return {
    rules,
    byTarget: {
      line: rules.filter((r) => r.applies_to === "line"),
      error: rules.filter((r) => r.applies_to === "error"),
      step: rules.filter((r) => r.applies_to === "step"),
      test: rules.filter((r) => r.applies_to === "test"),
    },
  };
}

function pathPart(key: PropertyKey): string {
  return typeof key === "number" ? `[${key}]` : `.${String(key)}`;
}

let defaultSet: RuleSet | undefined;

/** The shipped rules, compiled once. */
export function defaultRuleSet(): RuleSet {
  defaultSet ??= compileRules();
  return defaultSet;
}

// ---------------------------------------------------------------------------------------------
// Required literals

/** Shortest literal worth searching for; rules without one are tested on every line. */
export const MIN_LITERAL = 3;

type Requirement = string[] | null;

/**
 * Strings of which every match of `pattern` contains at least one, or null when no such set of
 * literals of MIN_LITERAL characters or more can be read from it. The evidence extractor looks
 * for these before running any regex, which is what lets it read 50 MB of log in well under a
 * second: most lines contain none of them. Case-sensitive patterns only (the caller checks).
 */
export function requiredLiterals(pattern: string): string[] | null {
  const p = { s: pattern, i: 0 };
  const req = alternation(p);
  return p.i === pattern.length ? req : null;
}

function alternation(p: { s: string; i: number }): Requirement {
  const alternatives: Requirement[] = [sequence(p)];
  while (p.s[p.i] === "|") {
    p.i++;
    alternatives.push(sequence(p));
  }
  if (alternatives.some((a) => a === null)) return null;
  return [...new Set(alternatives.flatMap((a) => a!))];
}

/** A literal's worth as a search key: its length, with a non-ASCII character ("● ") worth two. */
function quality(req: string[]): number {
  return Math.min(...req.map((l) => l.length + (/[^ -~]/.test(l) ? 1 : 0)));
}

function sequence(p: { s: string; i: number }): Requirement {
  const candidates: string[][] = [];
  let run = "";
  const flush = () => {
    if (run.length > 0) candidates.push([run]);
    run = "";
  };
  while (p.i < p.s.length && p.s[p.i] !== "|" && p.s[p.i] !== ")") {
    const atom = parseAtom(p);
    const { min, max } = parseQuantifier(p);
    if (atom.kind === "char") {
      if (min === 0) flush();
      else if (max === 1) run += atom.ch;
      else {
        // "ab+c" matches "abbc": "ab" and "bc" are certain, "abc" is not.
        run += atom.ch;
        flush();
        run = atom.ch;
      }
    } else {
      flush();
      if (atom.kind === "group" && atom.req !== null && min >= 1) candidates.push(atom.req);
    }
  }
  flush();
  const good = candidates.filter((c) => quality(c) >= MIN_LITERAL);
  if (good.length === 0) return null;
  return good.sort((a, b) => quality(b) - quality(a) || a.length - b.length)[0]!;
}

type Atom = { kind: "char"; ch: string } | { kind: "group"; req: Requirement } | { kind: "other" };

const ESCAPED_CHARS: Record<string, string> = { n: "\n", t: "\t", r: "\r", f: "\f", v: "\v", "0": "\0" };

function parseAtom(p: { s: string; i: number }): Atom {
  const c = p.s[p.i++]!;
  if (c === "\\") {
    const e = p.s[p.i++] ?? "";
    if (e === "x" && /^[0-9a-fA-F]{2}$/.test(p.s.slice(p.i, p.i + 2))) {
      p.i += 2;
      return { kind: "char", ch: String.fromCharCode(parseInt(p.s.slice(p.i - 2, p.i), 16)) };
    }
    if (e === "u" && /^[0-9a-fA-F]{4}$/.test(p.s.slice(p.i, p.i + 4))) {
      p.i += 4;
      return { kind: "char", ch: String.fromCharCode(parseInt(p.s.slice(p.i - 4, p.i), 16)) };
    }
    if (e === "p" || e === "P" || e === "u") {
      if (p.s[p.i] === "{") p.i = Math.max(p.i, p.s.indexOf("}", p.i) + 1);
      return { kind: "other" };
    }
    if (e === "c") {
      p.i++;
      return { kind: "other" };
    }
    if (e in ESCAPED_CHARS) return { kind: "char", ch: ESCAPED_CHARS[e]! };
    if (/[A-Za-z0-9]/.test(e)) return { kind: "other" };
    return { kind: "char", ch: e };
  }
  if (c === "[") {
    if (p.s[p.i] === "^") p.i++;
    if (p.s[p.i] === "]") p.i++;
    while (p.i < p.s.length && p.s[p.i] !== "]") p.i += p.s[p.i] === "\\" ? 2 : 1;
    p.i++;
    return { kind: "other" };
  }
  if (c === "(") {
    let lookaround = false;
    if (p.s[p.i] === "?") {
      const kind = p.s[p.i + 1];
      if (kind === ":") p.i += 2;
      else if (kind === "=" || kind === "!") {
        p.i += 2;
        lookaround = true;
      } else if (kind === "<") {
        const close = p.s.indexOf(">", p.i);
        p.i = close === -1 ? p.s.length : close + 1;
      }
    }
    const req = alternation(p);
    if (p.s[p.i] === ")") p.i++;
    return lookaround ? { kind: "other" } : { kind: "group", req };
  }
  if (c === "." || c === "^" || c === "$") return { kind: "other" };
  return { kind: "char", ch: c };
}

function parseQuantifier(p: { s: string; i: number }): { min: number; max: number } {
  const c = p.s[p.i];
  let q = { min: 1, max: 1 };
  if (c === "*") q = { min: 0, max: Infinity };
  else if (c === "+") q = { min: 1, max: Infinity };
  else if (c === "?") q = { min: 0, max: 1 };
  else if (c === "{") {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(p.s.slice(p.i, p.i + 24));
    if (!m) return q;
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === "" ? Infinity : Number(m[3]);
    p.i += m[0].length;
    if (p.s[p.i] === "?") p.i++;
    return { min, max };
  } else return q;
  p.i++;
  if (p.s[p.i] === "?") p.i++;
  return q;
}
