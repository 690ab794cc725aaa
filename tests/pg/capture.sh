#!/usr/bin/env bash
# Runs a real PostgreSQL with pg_stat_statements and log_min_duration_statement = 0, drives a
# pgbench workload through the simple, extended and prepared protocols, and writes to OUT:
#   postgresql.log  the server log of the workload (from the pg_stat_statements reset on)
#   pgss.csv        SELECT * FROM pg_stat_statements, as CSV with a header
# The cluster (tests/pg/cluster.sh) is temporary, listens on 127.0.0.1 only, and is stopped by
# its process id; PostgreSQL is installed from Debian packages when it is missing.
# Usage: tests/pg/capture.sh OUT [TRANSACTIONS_PER_CLIENT]
set -euo pipefail
out=$(realpath -m "${1:?usage: capture.sh OUT [TRANSACTIONS]}")
transactions=${2:-100}
mkdir -p "$out"

source "$(dirname "$0")/cluster.sh"
work=$(mktemp -d)
trap 'pg_stop; rm -rf "$work"' EXIT
pg_start "$work" -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=top \
  -c log_min_duration_statement=0

"${psql[@]}" -c 'create database shop' postgres
"${psql[@]}" -c 'create extension pg_stat_statements' shop
pgbench=("$PG_BIN/pgbench" -h 127.0.0.1 -p "$PG_PORT" -U postgres)
"${pgbench[@]}" -q -i -s 1 shop >/dev/null 2>&1
"${psql[@]}" -c 'select pg_stat_statements_reset()' shop >/dev/null
start=$(grep -n 'pg_stat_statements_reset' "$PG_LOG" | tail -1 | cut -d: -f1)
for mode in simple extended prepared; do
  "${pgbench[@]}" -n -M "$mode" -c 2 -t "$transactions" shop >/dev/null
done
"${psql[@]}" -c "copy (select * from pg_stat_statements) to stdout with (format csv, header)" shop >"$out/pgss.csv"
# Let the server write the log lines of the dump itself before the log is cut.
sleep 0.5
tail -n +"$start" "$PG_LOG" >"$out/postgresql.log"
echo "capture: $(wc -l <"$out/postgresql.log") log lines, $(($(wc -l <"$out/pgss.csv") - 1)) pg_stat_statements rows in $out" >&2
