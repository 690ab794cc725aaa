#!/usr/bin/env bash
# Runs a real PostgreSQL with pg_stat_statements and log_min_duration_statement = 0, drives a
# pgbench workload through the simple, extended and prepared protocols, and writes to OUT:
#   postgresql.log  the server log of the workload (from the pg_stat_statements reset on)
#   pgss.csv        SELECT * FROM pg_stat_statements, as CSV with a header
# The cluster is temporary, listens on 127.0.0.1 only, and is stopped by its process id.
# Installs PostgreSQL from Debian packages when it is missing.
# Usage: tests/pg/capture.sh OUT [TRANSACTIONS_PER_CLIENT]
set -euo pipefail
out=$(realpath -m "${1:?usage: capture.sh OUT [TRANSACTIONS]}")
transactions=${2:-100}
mkdir -p "$out"

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "capture: installing PostgreSQL (Debian packages)" >&2
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql postgresql-contrib >/dev/null
fi
bin=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/postgres | sort -V | tail -1)")

work=$(mktemp -d)
# PostgreSQL refuses to run as root: run it as the postgres user when we are root.
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  as_pg=(runuser -u postgres --)
  chown postgres "$work"
fi
port=$(( 20000 + RANDOM % 20000 ))
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -INT "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT

"${as_pg[@]}" "$bin/initdb" -D "$work/data" -U postgres --auth=trust -E UTF8 >/dev/null
"${as_pg[@]}" "$bin/postgres" -D "$work/data" \
  -c listen_addresses=127.0.0.1 -c port="$port" -c unix_socket_directories="$work" \
  -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=top \
  -c log_min_duration_statement=0 -c log_line_prefix='%m [%p] %q%u@%d ' \
  -c logging_collector=off -c lc_messages=C -c fsync=off \
  >"$work/server.log" 2>&1 &
pid=$!
psql=("$bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres)
for _ in $(seq 100); do "${psql[@]}" -c 'select 1' postgres >/dev/null 2>&1 && break; sleep 0.1; done

"${psql[@]}" -c 'create database shop' postgres
"${psql[@]}" -c 'create extension pg_stat_statements' shop
pgbench=("$bin/pgbench" -h 127.0.0.1 -p "$port" -U postgres)
"${pgbench[@]}" -q -i -s 1 shop >/dev/null 2>&1
"${psql[@]}" -c 'select pg_stat_statements_reset()' shop >/dev/null
start=$(grep -n 'pg_stat_statements_reset' "$work/server.log" | tail -1 | cut -d: -f1)
for mode in simple extended prepared; do
  "${pgbench[@]}" -n -M "$mode" -c 2 -t "$transactions" shop >/dev/null
done
"${psql[@]}" -c "copy (select * from pg_stat_statements) to stdout with (format csv, header)" shop >"$out/pgss.csv"
# Let the server write the log lines of the dump itself before the log is cut.
sleep 0.5
tail -n +"$start" "$work/server.log" >"$out/postgresql.log"
echo "capture: $(wc -l <"$out/postgresql.log") log lines, $(($(wc -l <"$out/pgss.csv") - 1)) pg_stat_statements rows in $out" >&2
