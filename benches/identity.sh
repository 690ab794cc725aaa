#!/usr/bin/env bash
# The report identity check of a speed change: report.json of every bundled input (and of the
# whole-command and database-log benchmark sets, when they are in $BENCH_DIR and $DB_BENCH_DIR)
# written by two builds, compared byte for byte. Exits 1 when any differs.
#   benches/identity.sh OLD-CHOKEPOINT NEW-CHOKEPOINT
set -uo pipefail
cd "$(dirname "$0")/.."
old=${1:?usage: benches/identity.sh OLD-CHOKEPOINT NEW-CHOKEPOINT}
new=${2:?usage: benches/identity.sh OLD-CHOKEPOINT NEW-CHOKEPOINT}
inputs=(fixtures/demo fixtures/pyshop/steps fixtures/pyshop/ramp fixtures/pg
  fixtures/mysql fixtures/zipkin)
for f in "${BENCH_DIR:-/tmp/chokepoint-bench}"/*.otlp-{json,proto} "${DB_BENCH_DIR:-/tmp/dbbench}"/*.log; do
  [ -s "$f" ] && inputs+=("$f")
done
status=0
for input in "${inputs[@]}"; do
  a=$("$old" analyze "$input" --json 2>/dev/null | md5sum) || { echo "FAILED    $input ($old)"; status=1; continue; }
  b=$("$new" analyze "$input" --json 2>/dev/null | md5sum) || { echo "FAILED    $input ($new)"; status=1; continue; }
  if [ "$a" = "$b" ]; then echo "same      $input"; else echo "DIFFERENT $input"; status=1; fi
done
exit $status
