#!/usr/bin/env bash
# Times chokepoint against pgBadger and pt-query-digest on the same generated logs, in one run:
# a PostgreSQL stderr log and a MySQL slow log of about SIZE_MB each, with varied literals,
# a few statement shapes and multi-line statements. Prints wall time, MB/s and peak RSS.
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
cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-target}/release/chokepoint
bytes=$((size_mb * 1000 * 1000))

if [ ! -s "$work/pg.log" ]; then
  awk -v bytes="$bytes" 'BEGIN {
    srand(7); n = 0; size = 0
    while (size < bytes) {
      n++; s = n % 60; pid = 1000 + n % 50; ms = sprintf("%.3f", rand() * 20)
      t = sprintf("2026-01-01 10:%02d:%02d.%03d UTC [%d] app@shop ", int(n / 60) % 60, s, n % 1000, pid)
      k = n % 5
      if (k == 0) line = t "LOG:  duration: " ms " ms  statement: SELECT id, total FROM orders WHERE customer_id = " int(rand() * 100000) " AND status = '\''open'\''"
      else if (k == 1) line = t "LOG:  duration: " ms " ms  statement: UPDATE stock SET qty = qty - " int(rand() * 9 + 1) " WHERE sku = '\''SKU-" n "'\''"
      else if (k == 2) line = t "LOG:  duration: " ms " ms  statement: INSERT INTO events (kind, at, payload) VALUES ('\''click'\'', now(), '\''{\"n\": " n "}'\'')"
      else if (k == 3) line = t "LOG:  duration: " ms " ms  execute S_1: SELECT * FROM items WHERE order_id = $1\n" t "DETAIL:  parameters: $1 = '\''" n "'\''"
      else line = t "LOG:  duration: " ms " ms  statement: SELECT p.id, p.name\n\tFROM products p JOIN prices c ON c.product_id = p.id\n\tWHERE p.id IN (" n ", " n + 1 ", " n + 2 ")"
      print line; size += length(line) + 1
    }
  }' >"$work/pg.log"
fi
if [ ! -s "$work/mysql.log" ]; then
  awk -v bytes="$bytes" 'BEGIN {
    srand(11); n = 0; size = 0
    while (size < bytes) {
      n++
      head = sprintf("# Time: 2026-01-01T10:%02d:%02d.%06dZ\n# User@Host: app[app] @ web [10.0.0.%d]  Id: %d\n# Query_time: %.6f  Lock_time: 0.000010 Rows_sent: %d  Rows_examined: %d\nSET timestamp=%d;\n", int(n / 60) % 60, n % 60, n % 1000000, n % 250, n % 500, rand() * 0.05, n % 20, n % 20000, 1767261600 + n)
      k = n % 3
      if (k == 0) q = "SELECT id, total FROM orders WHERE customer_id = " int(rand() * 100000) " AND status = '\''open'\'';"
      else if (k == 1) q = "UPDATE stock SET qty = qty - " int(rand() * 9 + 1) " WHERE sku = '\''SKU-" n "'\'';"
      else q = "SELECT p.id, p.name\nFROM products p JOIN prices c ON c.product_id = p.id\nWHERE p.id IN (" n ", " n + 1 ");"
      printf "%s%s\n", head, q; size += length(head) + length(q) + 1
    }
  }' >"$work/mysql.log"
fi

measure() { # NAME FILE COMMAND...
  local name=$1 file=$2; shift 2
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || { cat "$work/stderr"; return 1; }
  read -r wall rss <"$work/time"
  local mb; mb=$(( $(stat -c %s "$file") / 1000000 ))
  printf "%-16s %-10s %6s MB %8s s %9s MB/s %6s MB RSS\n" "$name" "$(basename "$file")" "$mb" "$wall" \
    "$(awk -v m="$mb" -v w="$wall" 'BEGIN { printf "%.1f", m / w }')" "$((rss / 1024))"
}
measure chokepoint "$work/pg.log" "$bin" analyze "$work/pg.log" --out "$work/out-pg"
measure pgbadger "$work/pg.log" pgbadger -q -f stderr -p '%m [%p] %u@%d ' -o "$work/pgbadger.json" "$work/pg.log"
measure chokepoint "$work/mysql.log" "$bin" analyze "$work/mysql.log" --out "$work/out-my"
measure pt-query-digest "$work/mysql.log" pt-query-digest "$work/mysql.log"
echo "inputs kept in $work"
