#!/usr/bin/env bash
# Runs the GitHub Action's shell steps (action.yml) as a runner would, in a temporary runner
# folder: the cache key, the install (a build, then a cache hit), and the check on generated
# traces within budgets (exit 0, reports and SARIF written), with a budget broken (exit 1), with
# a baseline that is absent (a first run) and with no usable input (exit 2).
set -euo pipefail
cd "$(dirname "$0")/../.."
runner=$(mktemp -d)
trap 'rm -rf "$runner"' EXIT
export GITHUB_ACTION_PATH=$PWD GITHUB_OUTPUT=$runner/output GITHUB_PATH=$runner/path
export GITHUB_STEP_SUMMARY=$runner/summary.md
# cargo install builds in a temporary folder unless told otherwise: reuse the project's.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}

.ci/action/version.sh
key=$(sed -n 's/^key=//p' "$runner/output")
[[ "$key" =~ ^[0-9]+\.[0-9]+\.[0-9]+-[0-9a-f]{16}$ ]] || { echo "bad cache key: $key"; exit 1; }
export CHOKEPOINT_ROOT=$runner/tool_cache/chokepoint/$key
.ci/action/install.sh >/dev/null 2>&1
[ -x "$CHOKEPOINT_ROOT/bin/chokepoint" ] || { echo "install.sh installed nothing"; exit 1; }
.ci/action/install.sh | grep -q "cached at" || { echo "a second install did not use the cache"; exit 1; }
grep -qx "$CHOKEPOINT_ROOT/bin" "$GITHUB_PATH" || { echo "the binary is not on the PATH"; exit 1; }

cargo build --release --locked --quiet -p chokepoint-synth
"$CARGO_TARGET_DIR/release/chokepoint-synth" --traces 300 --seed 5 --out "$runner/traces.jsonl" >/dev/null
cd "$runner"
expect() { # STATUS, then the step's environment
  local want=$1 status=0
  shift
  env "$@" "$GITHUB_ACTION_PATH/.ci/action/check.sh" >"$runner/step.log" 2>&1 || status=$?
  [ "$status" -eq "$want" ] || { cat "$runner/step.log"; echo "check.sh exited $status, not $want"; exit 1; }
}
printf '[budgets]\nmax_findings = { n_plus_one_db = 10 }\n' >within.toml
expect 0 INPUT_TRACES=traces.jsonl INPUT_CONFIG=within.toml INPUT_BASELINE=main/report.json INPUT_OUT=report INPUT_SARIF=out.sarif
grep -q "no baseline at main/report.json" step.log
[ -s report/report.json ] && [ -s out.sarif ] && [ -s summary.md ]
grep -qx "report=report/report.json" "$GITHUB_OUTPUT"
printf '[budgets]\nmax_findings = { n_plus_one_db = 0 }\n' >broken.toml
expect 1 INPUT_TRACES=traces.jsonl INPUT_CONFIG=broken.toml INPUT_BASELINE=report/report.json INPUT_OUT=again INPUT_SARIF=
expect 2 INPUT_TRACES=absent/ INPUT_CONFIG=within.toml INPUT_OUT=none INPUT_SARIF=
echo "action steps: ok"
