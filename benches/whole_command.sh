#!/usr/bin/env bash
# Whole-command timing of `chokepoint analyze` on about 1,000,000 spans, each set as OTLP/JSON
# lines and as length-prefixed OTLP protobuf: wall time, CPU time, cores used (CPU over wall)
# and peak RSS (GNU time), best and median of N runs.
#   [BASELINE=other-chokepoint] [SETS="real generated"] benches/whole_command.sh [traces] [runs]
# Sets: `real`, the two real captures (the demo, 11 copies; fixtures/pyshop's stepped run, 12
# copies) with fresh trace ids (chokepoint-replicate: the JSON lines are the SDKs' own bytes);
# `generated`, the seeded generator's shop (`traces` traces, default 103,500).
set -euo pipefail
cd "$(dirname "$0")/.."
traces=${1:-103500}
runs=${2:-3}
sets=${SETS:-real generated}
work=${BENCH_DIR:-/tmp/chokepoint-bench}
mkdir -p "$work"
if [ ! -x /usr/bin/time ]; then
  echo "installing GNU time (for peak RSS)" >&2
  apt-get install -y -qq time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
fi
cargo build --release --quiet --workspace
release=${CARGO_TARGET_DIR:-target}/release
bin=$release/chokepoint
real=(fixtures/demo/traces.otlp.jsonl.gz fixtures/pyshop/steps/traces.otlp.jsonl.gz)
copies=(11 12)
for set in $sets; do
  for format in otlp-json otlp-proto; do
    out="$work/$set.$format"
    [ -s "$out" ] && continue
    if [ "$set" = real ]; then
      : >"$out"
      for i in 0 1; do
        "$release/chokepoint-replicate" --copies "${copies[$i]}" --format "$format" \
          --out "$out.part" "${real[$i]}"
        cat "$out.part" >>"$out"
      done
      rm "$out.part"
    else
      "$release/chokepoint-synth" --traces "$traces" --seed 1 --format "$format" --out "$out"
    fi
  done
done
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $(rustc --version)"
# With BASELINE=/path/to/another/chokepoint, its runs alternate with this build's, so that both
# see the same machine (a shared VM's speed drifts over minutes).
bins=("$bin")
if [ -n "${BASELINE:-}" ]; then bins=("$BASELINE" "$bin"); fi
for set in $sets; do
  for format in otlp-json otlp-proto; do
    file="$work/$set.$format"
    spans=$("$bin" analyze "$file" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["traces"]["spans_analyzed"])')
    size=$(stat -c %s "$file")
    for _ in $(seq "$runs"); do
      for b in "${bins[@]}"; do
        echo "$b $(/usr/bin/time -f '%e %U %S %M' "$b" analyze "$file" --out "$work/out" 2>&1 >/dev/null | tail -1)"
      done
    done | sort -k1,1 -k2,2n | awk -v f="$set $format" -v spans="$spans" -v size="$size" -v n="$runs" '
      { k = $1; i = ++count[k]; wall[k, i] = $2; cpu[k, i] = $3 + $4; if ($5 > rss[k]) rss[k] = $5 }
      END { for (k in count) {
              m = int((n + 1) / 2)
              printf "%s: %d spans, %.0f MB; %s: wall best %.2f s, median %.2f s (%.0fk spans/s); CPU %.2f s, %.2f cores; peak RSS %.0f MB, %.0f B/span (%d runs)\n",
                     f, spans, size / 1e6, k, wall[k, 1], wall[k, m], spans / wall[k, m] / 1000,
                     cpu[k, m], cpu[k, m] / wall[k, m], rss[k] / 1024, rss[k] * 1024 / spans, n }
          }'
  done
done
