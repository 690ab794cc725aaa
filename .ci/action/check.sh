#!/usr/bin/env bash
# The action's check step: chokepoint check on the inputs, with the baseline and the settings
# file when they exist; exits as chokepoint does (1: a budget broken, 2: unusable input).
set -euo pipefail
bin="${CHOKEPOINT_ROOT:?}/bin/chokepoint"
read -r -a traces <<<"${INPUT_TRACES:?the traces input names the files or folders to check}"
args=(check "${traces[@]}" --out "${INPUT_OUT:-chokepoint-report}")
if [ -n "${INPUT_BASELINE:-}" ] && [ -f "$INPUT_BASELINE" ]; then
  args+=(--baseline "$INPUT_BASELINE")
elif [ -n "${INPUT_BASELINE:-}" ]; then
  echo "chokepoint: no baseline at $INPUT_BASELINE (a first run); checking budgets only"
fi
if [ -n "${INPUT_CONFIG:-}" ] && [ -f "$INPUT_CONFIG" ]; then
  args+=(--config "$INPUT_CONFIG")
fi
if [ -n "${INPUT_SARIF:-}" ]; then
  args+=(--sarif "$INPUT_SARIF")
fi
status=0
"$bin" "${args[@]}" || status=$?
echo "report=${INPUT_OUT:-chokepoint-report}/report.json" >>"${GITHUB_OUTPUT:-/dev/null}"
exit "$status"
