#!/usr/bin/env bash
# Whole-command timing of `chokepoint analyze` on about 1,000,000 generated spans, as OTLP/JSON
# lines and as length-prefixed OTLP protobuf: wall time and peak RSS (GNU time), best and median
# of N runs. Usage: benches/whole_command.sh [traces] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
traces=${1:-103500}
runs=${2:-3}
work=${BENCH_DIR:-/tmp/chokepoint-bench}
mkdir -p "$work"
if [ ! -x /usr/bin/time ]; then
  echo "installing GNU time (for peak RSS)" >&2
  apt-get install -y -qq time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
fi
cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-target}/release/chokepoint
"$bin" synth --traces "$traces" --seed 1 --format otlp-json --out "$work/traces.jsonl"
"$bin" synth --traces "$traces" --seed 1 --format otlp-proto --out "$work/traces.binpb"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $(rustc --version)"
for file in traces.jsonl traces.binpb; do
  spans=$("$bin" analyze "$work/$file" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["traces"]["spans_analyzed"])')
  size=$(stat -c %s "$work/$file")
  results=()
  for _ in $(seq "$runs"); do
    results+=("$(/usr/bin/time -f '%e %M' "$bin" analyze "$work/$file" --out "$work/out" 2>&1 >/dev/null | tail -1)")
  done
  printf '%s\n' "${results[@]}" | sort -n | awk -v f="$file" -v spans="$spans" -v size="$size" -v n="$runs" '
    { wall[NR] = $1; rss[NR] = $2 }
    END { printf "%s: %d spans, %.0f MB; wall best %.2f s, median %.2f s; peak RSS max %.0f MB (%d runs)\n",
          f, spans, size / 1e6, wall[1], wall[int((n + 1) / 2)], (rss[n] > rss[1] ? rss[n] : rss[1]) / 1024, n }'
done
