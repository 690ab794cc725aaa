#!/usr/bin/env bash
# Times chokepoint against pgBadger and pt-query-digest on the same generated logs, in one run:
# a PostgreSQL stderr log and a MySQL slow log of about SIZE_MB each, then chokepoint alone on
# high-cardinality logs of the same size (DISTINCT distinct statements, default 10,000: long
# SELECTs of 8 to 47 columns, varied literals). Prints wall time, MB/s and peak RSS.
# Installs pgbadger and percona-toolkit (Debian packages) when missing.
# Usage: benches/db_logs.sh [SIZE_MB]   (from the project root; builds the release binary)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb=${1:-500}
work=${BENCH_DIR:-$(mktemp -d)}
mkdir -p "$work"
if ! command -v pgbadger >/dev/null || ! command -v pt-query-digest >/dev/null; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq pgbadger percona-toolkit >/dev/null
fi
cargo build --release --quiet --workspace
bin=${CARGO_TARGET_DIR:-target}/release/chokepoint
synth=${CARGO_TARGET_DIR:-target}/release/chokepoint-synth
bytes=$((size_mb * 1000 * 1000))

# The logs come from chokepoint's seeded generator (its shop's statements with varied literals,
# a third of the PostgreSQL ones as `execute` with `DETAIL: parameters`, some over two lines,
# half with a traceparent comment), sized from a sample's bytes per request.
generate() { # FORMAT FILE [DISTINCT]
  [ -s "$2" ] && return
  local distinct=(--distinct-statements "${3:-0}")
  "$synth" --traces 2000 --format "$1" "${distinct[@]}" --out "$work/sample"
  local traces=$(( bytes / ($(stat -c %s "$work/sample") / 2000) ))
  "$synth" --traces "$traces" --rps 2000 --format "$1" "${distinct[@]}" --out "$2"
  rm -f "$work"/sample*
}
generate pg-stderr "$work/pg.log"
generate mysql-slow "$work/mysql.log"
distinct=${DISTINCT:-10000}
generate pg-stderr "$work/pg-distinct.log" "$distinct"
generate mysql-slow "$work/mysql-distinct.log" "$distinct"

# measure NAME FILE RUNS COMMAND...: the median wall time of RUNS runs and the largest peak RSS.
measure() {
  local name=$1 file=$2 runs=$3; shift 3
  local walls=() rss=0 wall r
  for _ in $(seq "$runs"); do
    /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || { cat "$work/stderr"; return 1; }
    read -r wall r <"$work/time"
    walls+=("$wall"); [ "$r" -gt "$rss" ] && rss=$r
  done
  wall=$(printf "%s\n" "${walls[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
  local mb; mb=$(( $(stat -c %s "$file") / 1000000 ))
  printf "%-16s %-10s %6s MB %8s s %9s MB/s %6s MB RSS  (median of %d: %s)\n" "$name" "$(basename "$file")" "$mb" "$wall" \
    "$(awk -v m="$mb" -v w="$wall" 'BEGIN { printf "%.1f", m / w }')" "$((rss / 1024))" "$runs" "${walls[*]}"
}
# chokepoint takes seconds, so it runs three times; each Perl tool takes minutes and runs once.
measure chokepoint "$work/pg.log" 3 "$bin" analyze "$work/pg.log" --out "$work/out-pg"
measure pgbadger "$work/pg.log" 1 pgbadger -q -f stderr -p '%m [%p] %u@%d ' -o "$work/pgbadger.json" "$work/pg.log"
measure chokepoint "$work/mysql.log" 3 "$bin" analyze "$work/mysql.log" --out "$work/out-my"
measure pt-query-digest "$work/mysql.log" 1 pt-query-digest "$work/mysql.log"
measure chokepoint "$work/pg-distinct.log" 3 "$bin" analyze "$work/pg-distinct.log" --out "$work/out-pg-distinct"
measure chokepoint "$work/mysql-distinct.log" 3 "$bin" analyze "$work/mysql-distinct.log" --out "$work/out-my-distinct"
echo "inputs kept in $work"
