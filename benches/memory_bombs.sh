#!/usr/bin/env bash
# Peak memory (max RSS) of `chokepoint analyze` on compression bombs of every input format and
# on single records at and near the size cap, with the exit code and the first line it printed
# on stderr. A bomb is a gzip file of a few MB holding 2 GiB once decompressed: a valid start
# of the format, then one record (line, field, document or message) of 2 GiB.
# Usage: benches/memory_bombs.sh [BINARY [BINARY_BEFORE]]   (from the project root; without a
# binary it builds the release one). BOMB_MB sets the padding (default 2048).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -ge 1 ]; then
  bins=("$@")
else
  cargo build --release --quiet
  bins=("${CARGO_TARGET_DIR:-target}/release/chokepoint")
fi
pad_mb=${BOMB_MB:-2048}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/in"

# bomb NAME HEAD FILL TAIL: HEAD, then pad_mb MiB of FILL, then TAIL, gzip-compressed.
bomb() {
  { printf '%b' "$2"; head -c $((pad_mb << 20)) /dev/zero | tr '\0' "$3"; printf '%b' "$4"; } |
    gzip -1 >"$work/in/$1.gz"
}
# record NAME HEAD MB FILL TAIL: an uncompressed file with one record of MB MiB of FILL repeated.
record() {
  { printf '%b' "$2"; { yes "$4" | tr -d '\n' | head -c $(($3 << 20)) || true; }; printf '%b' "$5"; } >"$work/in/$1"
}

span='{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"GET /","kind":2,"startTimeUnixNano":"1000","endTimeUnixNano":"5000"}]}]}]}'
pg='2024-05-01 10:00:00.000 UTC [7] LOG:  duration: 1.5 ms  statement: select 1\n'
csvlog='2024-05-01 10:00:00.000 UTC,"u","d",7,"[local]",1,1,"SELECT","2024-05-01 10:00:00 UTC",1/1,0,LOG,00000,"duration: 1.5 ms  statement: select 1",,,,,,,,,"psql","client backend",,0\n'
jsonlog='{"timestamp":"2024-05-01 10:00:00.000 UTC","pid":7,"error_severity":"LOG","message":"duration: 1.5 ms  statement: select 1"}\n'
mysql='# Time: 2024-05-01T10:00:00.000000Z\n# Query_time: 0.001  Lock_time: 0.0 Rows_sent: 1  Rows_examined: 1\nSET timestamp=1714557600;\nselect 1;\n'
pgss='query,calls,total_exec_time,rows\nselect 1,1,1.5,1\n'
activity='sample_time,application_name,state,count\n2024-05-01 10:00:00+00,app,active,1\n'

bomb otlp-json-lines "$span\n{\"resourceSpans\":\"" a '"}\n'
bomb otlp-json-document '{\n "resourceSpans": [' ' ' ']}\n'
bomb otlp-proto-message '\x0a\xff\xff\xff\xff\x07' '\0' ''
# A 16 MiB message, then zeros: 4-byte prefixes of empty messages, half a billion of them.
bomb otlp-proto-length-prefixed '\x00\xff\xff\xff\x0a' '\0' ''
bomb pg-stderr "${pg}${pg}2024-05-01 10:00:01.000 UTC [7] LOG:  duration: 1.5 ms  statement: select '" a "'\n$pg"
bomb pg-csvlog "${csvlog}${csvlog}\"" a "\"\n$csvlog"
bomb pg-jsonlog "${jsonlog}{\"message\":\"" a "\"}\n$jsonlog"
bomb mysql-slow "${mysql}# Time: 2024-05-01T10:00:01.000000Z\n# Query_time: 0.001  Lock_time: 0.0\nselect '" a "';\n$mysql"
bomb pgss-csv "${pgss}\"select '" a "'\",1,1.5,1\n"
bomb pgss-json '[{"query":"select 1","calls":1,"total_exec_time":1.5},{"query":"' a '","calls":1,"total_exec_time":1.5}]\n'
bomb pg-activity-csv "${activity}2024-05-01 10:00:01+00,\"" a "\",active,1\n"
bomb schema-sql 'CREATE TABLE t (a int PRIMARY KEY);\n-- ' a '\n'
# Single records below the cap (256 MiB), read and used: the largest a reader holds.
record pg-stderr-statement-250MiB "${pg}2024-05-01 10:00:01.000 UTC [7] LOG:  duration: 1.5 ms  statement: select '" 250 a "'\n$pg"
record pg-stderr-in-list-200MiB "${pg}2024-05-01 10:00:01.000 UTC [7] LOG:  duration: 1.5 ms  statement: select * from t where id in (" 200 '1,' "1)\n$pg"
record otlp-json-line-250MiB "$span\n{\"resourceSpans\":[],\"pad\":\"" 250 a "\"}\n$span\n"
# Formats with their own row or document reader: one 200 MiB field.
record otlp-json-document-200MiB '{\n "resourceSpans": [], "pad": "' 200 a '"\n}\n'
record pg-csvlog-statement-200MiB "${csvlog}2024-05-01 10:00:01.000 UTC,\"u\",\"d\",7,\"[local]\",1,1,\"SELECT\",\"2024-05-01 10:00:00 UTC\",1/1,0,LOG,00000,\"duration: 1.5 ms  statement: select '" 200 a "'\",,,,,,,,,\"psql\",\"client backend\",,0\n$csvlog"
record mysql-statement-200MiB "${mysql}# Time: 2024-05-01T10:00:01.000000Z\n# Query_time: 0.001  Lock_time: 0.0\nselect '" 200 a "';\n$mysql"
record pgss-csv-query-200MiB "${pgss}\"select '" 200 a "'\",1,1.5,1\n"
record pgss-json-query-200MiB '[{"query":"select 1","calls":1,"total_exec_time":1.5},{"query":"select ' 200 a '","calls":1,"total_exec_time":1.5}]\n'
record pg-activity-csv-field-200MiB "${activity}2024-05-01 10:00:01+00,\"" 200 a "\",active,1\n"

printf '%-32s' case
for b in "${bins[@]}"; do printf ' | %-44s' "$(basename "$b"): peak MB, exit, stderr"; done
echo
for input in "$work"/in/*; do
  name=$(basename "$input")
  printf '%-32s' "${name%.gz}"
  for b in "${bins[@]}"; do
    args=(analyze "$input")
    if [ "${name#schema-sql}" != "$name" ]; then
      printf '%b' "$pg" >"$work/one.log"
      args=(analyze "$work/one.log" --schema "$input")
    fi
    status=0
    /usr/bin/time -f '%M' -o "$work/rss" "$b" "${args[@]}" --out "$work/out-$name" \
      >/dev/null 2>"$work/$name.err" || status=$?
    rss_mb=$(($(tail -1 "$work/rss") / 1024))
    said=$(grep -v -E '^\s*$|^Command exited|^(wrote|ledger|statements|level|  )' "$work/$name.err" |
      sed "s|chokepoint: ||; s|$work/in/[^:]*: ||" | head -1 | cut -c1-60 || true)
    printf ' | %6s %4s  %-32s' "$rss_mb" "$status" "${said:-–}"
    rm -rf "$work/out-$name" "$work/one.log"
  done
  echo
done
