#!/usr/bin/env bash
# Smoke test of the shipped Action, offline: a dry run of `mode: execute` on the bundled sample
# repository, once through the committed bundle (node dist/index.js, what GitHub runs) and once
# through @github/local-action on the source. Either fails on an ::error:: line or a wrong outcome.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cp -r "$root/docs/examples/sample-repo" "$work/repo"
git -C "$work/repo" init --quiet --initial-branch=main
git -C "$work/repo" add --all
git -C "$work/repo" -c user.name=smoke -c user.email=smoke@switchyard.invalid commit --quiet -m "Sample project"

task="$(node "$root/bin/switchyard.js" route "$root/docs/examples/sample-issue.md" --json |
  node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => process.stdout.write(JSON.stringify(JSON.parse(s).task)))')"

# The sample routes to prettier and eslint, which come from Switchyard's own node_modules.
export PATH="$root/node_modules/.bin:$PATH"
export INPUT_TASK="$task"
cat > "$work/action.env" <<ENV
INPUT_MODE=execute
INPUT_DRY-RUN=true
INPUT_GITHUB-TOKEN=smoke-test-token
INPUT_CONFIG-PATH=.github/switchyard.yml
GITHUB_REPOSITORY=acme/sample
GITHUB_WORKSPACE=$work/repo
RUNNER_TEMP=$work
GITHUB_STEP_SUMMARY=$work/summary.md
GITHUB_OUTPUT=$work/output
ENV

check() {
  local name="$1" log="$2"
  if grep -q '::error::' "$log"; then
    echo "smoke ($name): the Action reported an error:" >&2
    grep '::error::' "$log" >&2
    exit 1
  fi
  if ! grep -q 'success - prettier changed 2 files' "$log"; then
    echo "smoke ($name): the Action did not report prettier's successful patch; its log:" >&2
    cat "$log" >&2
    exit 1
  fi
  echo "smoke ($name): ok"
}

reset_repo() {
  git -C "$work/repo" reset --quiet --hard
  git -C "$work/repo" clean -ffdq
  : > "$work/summary.md"
  : > "$work/output"
}

# 1. The bundle, with the environment a runner gives it.
reset_repo
# Input names hold hyphens (INPUT_DRY-RUN), which a shell cannot export; env(1) can pass them.
mapfile -t vars < "$work/action.env"
(cd "$work/repo" && env "${vars[@]}" node "$root/dist/index.js") > "$work/dist.log" 2>&1 || {
  cat "$work/dist.log" >&2
  exit 1
}
check "dist/index.js" "$work/dist.log"
grep -q '^conclusion<<' "$work/output" || { echo "smoke (dist): no conclusion output" >&2; exit 1; }
grep -q 'Outcome: success' "$work/summary.md" || { echo "smoke (dist): no job summary" >&2; exit 1; }

# 2. The source through @github/local-action (it exits 0 even after setFailed: read its output).
reset_repo
(cd "$root" && npx --no -- local-action run . src/action/main.ts "$work/action.env") > "$work/local-action.log" 2>&1 || {
  cat "$work/local-action.log" >&2
  exit 1
}
check "local-action" "$work/local-action.log"
