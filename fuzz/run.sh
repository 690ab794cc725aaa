#!/usr/bin/env bash
# Runs every fuzz target (or those named) for SECONDS each, one after the other, and prints per
# target its time, executions and crashes. Installs cargo-fuzz when it is missing, seeds a
# target's corpus from the fixtures when it has none (seed.sh), builds once without a sanitizer
# (stable Rust; debug assertions on, so overflows trap). Exits 1 when any target crashed; the
# crashing input is in fuzz/artifacts/TARGET/.
#   fuzz/run.sh SECONDS [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --version 0.13.2
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi
for t in "${targets[@]}"; do
  if [ ! -d "corpus/$t" ] || [ -z "$(ls -A "corpus/$t")" ]; then
    ./seed.sh >/dev/null
    break
  fi
done
cargo fuzz build --sanitizer none
# The targets run as built here, so that editing the sources meanwhile changes nothing.
bin="${CARGO_TARGET_DIR:-target}/$(rustc -vV | sed -n 's/^host: //p')/release"
# Longer inputs for the whole command and the formats read whole; short ones elsewhere.
max_len() {
  case "$1" in
    inputs | otlp_json | otlp_proto | pglog) echo 8192 ;;
    *) echo 4096 ;;
  esac
}
logs=$(mktemp -d)
failed=0
printf '%-14s %8s %12s %8s\n' target seconds executions crashes
for t in "${targets[@]}"; do
  status=0
  mkdir -p "artifacts/$t"
  "$bin/$t" "corpus/$t" -artifact_prefix="artifacts/$t/" \
    -max_total_time="$seconds" -max_len="$(max_len "$t")" -print_final_stats=1 \
    >"$logs/$t.log" 2>&1 || status=$?
  runs=$(grep -o -E 'stat::number_of_executed_units: *[0-9]+' "$logs/$t.log" | grep -o -E '[0-9]+$' || echo '?')
  crashes=0
  if [ "$status" -ne 0 ]; then
    crashes=1
    failed=1
    tail -40 "$logs/$t.log" >&2
  fi
  printf '%-14s %8s %12s %8s\n' "$t" "$seconds" "$runs" "$crashes"
done
rm -rf "$logs"
exit "$failed"
