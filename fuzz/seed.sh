#!/usr/bin/env bash
# Seeds each fuzz target's corpus (fuzz/corpus/TARGET) from the project's fixtures and, when it
# is there, ../shared/corpus: every file of the target's kinds, decompressed, cut into pieces
# of at most 4 KiB at line ends (16 pieces a file at the most). The pglog target's pieces start
# with the byte that picks their layout. Run by run.sh when a target has no corpus yet.
set -euo pipefail
cd "$(dirname "$0")"
root=..
shared=../../shared/corpus

# Prints a file decompressed.
cat_any() {
  case "$1" in
    *.gz) gzip -dc "$1" ;;
    *.bz2) bzip2 -dc "$1" ;;
    *.zst) zstd -dc "$1" ;;
    *) cat "$1" ;;
  esac
}

# seed TARGET [LAYOUT_BYTE] FILE...: pieces of each file into corpus/TARGET.
seed() {
  local target=$1 layout=$2
  shift 2
  mkdir -p "corpus/$target"
  local work
  work=$(mktemp -d)
  for file in "$@"; do
    [ -f "$file" ] || continue
    rm -f "$work"/piece.*
    cat_any "$file" | head -c 1048576 | split -C 4096 -d -a 4 - "$work/piece." || true
    for piece in $(ls "$work"/piece.* 2>/dev/null | head -16); do
      local name
      name="corpus/$target/seed-$(basename "$file" | tr -c 'A-Za-z0-9._-' _)-${piece##*.}"
      if [ -n "$layout" ]; then
        { printf "\\x$layout"; cat "$piece"; } > "$name"
      else
        cp "$piece" "$name"
      fi
    done
  done
  rm -rf "$work"
}

shopt -s nullglob
otlp_json=("$root"/fixtures/demo/traces.otlp.jsonl.gz "$root"/fixtures/pyshop/*/traces.otlp.jsonl.gz "$shared"/otlp/*.json* "$shared"/critical-path/*/*.json)
pg_stderr=("$root"/fixtures/*/postgresql.log.gz "$root"/fixtures/pyshop/*/postgresql.log.gz)
pgbadger=("$shared"/pgbadger/fixtures/*)
mysql=("$root"/fixtures/mysql/*.log "$shared"/percona/slowlogs/*)
pgss=("$root"/fixtures/*/pgss*.csv "$root"/fixtures/pyshop/steps/pgss-*.csv)
schema=("$root"/fixtures/*/*.sql "$root"/fixtures/pg-index/*.csv "$root"/fixtures/pyshop/tables.csv)

seed sniff "" "${otlp_json[@]}" "${pg_stderr[@]}" "${pgbadger[@]}" "${mysql[@]}" "${pgss[@]}" \
  "$root"/fixtures/pyshop/steps/traces.binpb.gz "$root"/fixtures/pyshop/steps/activity.csv.gz
seed otlp_json "" "${otlp_json[@]}"
seed jaeger "" "$shared"/otlp/jaeger-ui.*out.json
# A Zipkin seed: a shared server span with an error tag, as the API specification has them.
mkdir -p corpus/zipkin
printf '[{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","parentId":"6b221d5bc9e6496c","name":"get /api","kind":"SERVER","shared":true,"timestamp":1556604172355737,"duration":1431,"localEndpoint":{"serviceName":"backend","ipv4":"192.168.99.1"},"tags":{"http.method":"GET","error":"x"}}]' > corpus/zipkin/seed-span
mkdir -p corpus/mysql_digest
printf 'SCHEMA_NAME,DIGEST,DIGEST_TEXT,COUNT_STAR,SUM_TIMER_WAIT,SUM_ROWS_EXAMINED,FIRST_SEEN\nshop,d1,"SELECT `a` FROM `t` WHERE `b` IN (...)",10,2000000000,500,2026-12-05 10:00:00.000000\nNULL,NULL,NULL,7,9,0,2026-12-05 10:00:00\n' > corpus/mysql_digest/seed-csv
printf '[{"DIGEST_TEXT":"SELECT `a` FROM `t` WHERE `b` = ?","COUNT_STAR":3,"SUM_TIMER_WAIT":"1000"}]' > corpus/mysql_digest/seed-json
seed otlp_proto "" "$root"/fixtures/pyshop/*/traces.binpb.gz
seed pglog 00 "${pg_stderr[@]}"
for f in "${pgbadger[@]}"; do
  case "$f" in
    *syslog*) seed pglog 01 "$f" ;;
    *logplex*) seed pglog 02 "$f" ;;
    *csv*) seed pglog 03 "$f" ;;
    *json*) seed pglog 04 "$f" ;;
    *.out) ;;
    *) seed pglog 00 "$f" ;;
  esac
done
# A given prefix on the first line, a log line on the second.
mkdir -p corpus/pg_prefix
printf '%%m [%%p] %%q%%u@%%d app=%%a \n2026-12-07 00:17:03.212 UTC [21752] shop@shop app=orders LOG:  duration: 0.1 ms\n' > corpus/pg_prefix/seed-stderr
printf '%%t [%%p]: [%%l-1] user=%%u,db=%%d,app=%%a,client=%%h \n2024-05-01 10:00:00 UTC [42]: [3-1] user=u,db=d,app=psql,client=10.0.0.1 LOG:  x\n' > corpus/pg_prefix/seed-rds
seed mysql_slow "" "${mysql[@]}"
seed pgss "" "${pgss[@]}"
seed activity "" "$root"/fixtures/pyshop/steps/activity.csv.gz
seed load_timeline "" "$root"/fixtures/pyshop/*/load.json.gz
seed schema "" "${schema[@]}"
# Statements: the first lines of each database fixture's log, one statement a file.
mkdir -p corpus/fingerprint corpus/sql_shape
for f in "${pg_stderr[@]}" "${mysql[@]}"; do
  { cat_any "$f" | grep -o -E '(statement|execute [^:]*): .*|^(SELECT|INSERT|UPDATE|DELETE|select|insert|update|delete) .*' \
    | sed -E 's/^(statement|execute [^:]*): //' | sort -u | head -40 || true; } | while IFS= read -r sql; do
      printf '%s' "$sql" > "corpus/fingerprint/seed-$(printf '%s' "$sql" | cksum | cut -d' ' -f1)"
    done
done
cp corpus/fingerprint/* corpus/sql_shape/ 2>/dev/null || true
mkdir -p corpus/config
cp "$root"/fixtures/chokepoint.toml corpus/config/seed-chokepoint.toml
seed inputs "" "${otlp_json[@]}" "${pg_stderr[@]}" "${mysql[@]}" "${pgss[@]}" "${schema[@]}"
for d in corpus/*/; do
  echo "seeded $(ls "$d" | wc -l) inputs in $d"
done
