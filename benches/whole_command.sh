#!/usr/bin/env bash
# Whole-command timing of `chokepoint analyze` on about 1,000,000 generated spans, as OTLP/JSON
# lines and as length-prefixed OTLP protobuf: wall time and peak RSS (GNU time), best and median
# of N runs. Usage: [BASELINE=other-chokepoint] benches/whole_command.sh [traces] [runs]
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
cargo build --release --quiet --workspace
bin=${CARGO_TARGET_DIR:-target}/release/chokepoint
synth=${CARGO_TARGET_DIR:-target}/release/chokepoint-synth
"$synth" --traces "$traces" --seed 1 --format otlp-json --out "$work/traces.jsonl"
"$synth" --traces "$traces" --seed 1 --format otlp-proto --out "$work/traces.binpb"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $(rustc --version)"
# With BASELINE=/path/to/another/chokepoint, its runs alternate with this build's, so that both
# see the same machine (a shared VM's speed drifts over minutes).
bins=("$bin")
if [ -n "${BASELINE:-}" ]; then bins=("$BASELINE" "$bin"); fi
for file in traces.jsonl traces.binpb; do
  spans=$("$bin" analyze "$work/$file" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["traces"]["spans_analyzed"])')
  size=$(stat -c %s "$work/$file")
  for _ in $(seq "$runs"); do
    for b in "${bins[@]}"; do
      echo "$b $(/usr/bin/time -f '%e %M' "$b" analyze "$work/$file" --out "$work/out" 2>&1 >/dev/null | tail -1)"
    done
  done | sort -k1,1 -k2,2n | awk -v f="$file" -v spans="$spans" -v size="$size" -v n="$runs" '
    { k = $1; i = ++count[k]; wall[k, i] = $2; if ($3 > rss[k]) rss[k] = $3 }
    END { for (k in count)
            printf "%s: %d spans, %.0f MB; %s: wall best %.2f s, median %.2f s; peak RSS max %.0f MB (%d runs)\n",
                   f, spans, size / 1e6, k, wall[k, 1], wall[k, int((n + 1) / 2)], rss[k] / 1024, n }'
done
