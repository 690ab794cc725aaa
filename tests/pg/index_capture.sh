#!/usr/bin/env bash
# Runs a real PostgreSQL with pg_stat_statements, auto_explain and log_min_duration_statement = 0
# over two tables: accounts, 200,000 rows with no index on email, and regions, 50 rows. A
# pgbench script looks accounts up by email and regions by name, 60 times each. Writes to OUT:
#   postgresql.log            the server log of the workload (statements and their plans)
#   pgss.csv                  SELECT * FROM pg_stat_statements, as CSV with a header
#   schema.sql                pg_dump --schema-only, before the index
#   pg_stat_user_tables.csv   table sizes and scan counts
#   schema-indexed.sql        pg_dump --schema-only, after CREATE INDEX ON accounts (email)
#   pg_indexes.csv            SELECT * FROM pg_indexes, after that index
# The cluster (tests/pg/cluster.sh) is temporary, listens on 127.0.0.1 only, and is stopped by
# its process id; PostgreSQL is installed from Debian packages when it is missing.
# Usage: tests/pg/index_capture.sh OUT
set -euo pipefail
out=$(realpath -m "${1:?usage: index_capture.sh OUT}")
mkdir -p "$out"

source "$(dirname "$0")/cluster.sh"
work=$(mktemp -d)
trap 'pg_stop; rm -rf "$work"' EXIT
pg_start "$work" -c shared_preload_libraries=pg_stat_statements,auto_explain \
  -c pg_stat_statements.track=top -c log_min_duration_statement=0 \
  -c auto_explain.log_min_duration=0 -c auto_explain.log_analyze=on

"${psql[@]}" -c 'create database shop' postgres
"${psql[@]}" shop <<'SQL'
create extension pg_stat_statements;
create table accounts (id integer primary key, email text not null, region integer not null);
insert into accounts select i, 'user' || i || '@example.com', i % 50 + 1 from generate_series(1, 200000) i;
create table regions (id integer primary key, name text not null);
insert into regions select i, 'region-' || i from generate_series(1, 50) i;
analyze;
SQL
cat >"$work/lookups.sql" <<'SQL'
\set n random(1, 200000)
\set r random(1, 50)
SELECT id, region FROM accounts WHERE email = 'user' || :n || '@example.com';
SELECT id FROM regions WHERE name = 'region-' || :r;
SQL
chmod a+r "$work/lookups.sql"
"${psql[@]}" -c 'select pg_stat_statements_reset()' shop >/dev/null
start=$(grep -n 'pg_stat_statements_reset' "$PG_LOG" | tail -1 | cut -d: -f1)
"$PG_BIN/pgbench" -h 127.0.0.1 -p "$PG_PORT" -U postgres -n -M extended -c 2 -t 30 \
  -f "$work/lookups.sql" shop >/dev/null
"${psql[@]}" -c "copy (select * from pg_stat_statements) to stdout with (format csv, header)" shop >"$out/pgss.csv"
"${psql[@]}" -c "copy (select * from pg_stat_user_tables) to stdout with (format csv, header)" shop >"$out/pg_stat_user_tables.csv"
dump=("$PG_BIN/pg_dump" -h 127.0.0.1 -p "$PG_PORT" -U postgres --schema-only shop)
"${dump[@]}" >"$out/schema.sql"
# Let the server write the log lines of the workload before the log is cut.
sleep 0.5
tail -n +"$start" "$PG_LOG" >"$out/postgresql.log"
"${psql[@]}" -c 'create index accounts_email on accounts (email)' shop
"${dump[@]}" >"$out/schema-indexed.sql"
"${psql[@]}" -c "copy (select * from pg_indexes where schemaname = 'public') to stdout with (format csv, header)" shop >"$out/pg_indexes.csv"
echo "index capture: $(wc -l <"$out/postgresql.log") log lines in $out" >&2
