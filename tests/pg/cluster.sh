# A temporary PostgreSQL cluster for tests and captures, sourced by tests/pg/capture.sh and
# fixtures/capture/run.sh: installs PostgreSQL from Debian packages when it is missing, runs
# it on 127.0.0.1 only (as the postgres user when we are root), and stops it by process id.
#   pg_start DIR [postgres -c settings...]   sets PG_BIN, PG_PORT, PG_PID, PG_LOG and psql=(...)
#   pg_stop                                  stops the server started by pg_start

pg_install() {
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    echo "installing PostgreSQL (Debian packages)" >&2
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql postgresql-contrib >/dev/null
  fi
  PG_BIN=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/postgres | sort -V | tail -1)")
}

pg_start() {
  local dir=$1; shift
  pg_install
  # PostgreSQL refuses to run as root.
  local as_pg=()
  if [ "$(id -u)" -eq 0 ]; then
    as_pg=(runuser -u postgres --)
    chown postgres "$dir"
  fi
  PG_PORT=$(( 20000 + RANDOM % 20000 ))
  PG_LOG="$dir/server.log"
  "${as_pg[@]}" "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >/dev/null
  "${as_pg[@]}" "$PG_BIN/postgres" -D "$dir/data" \
    -c listen_addresses=127.0.0.1 -c port="$PG_PORT" -c unix_socket_directories="$dir" \
    -c log_line_prefix='%m [%p] %q%u@%d ' -c logging_collector=off -c lc_messages=C \
    -c fsync=off "$@" >"$PG_LOG" 2>&1 &
  PG_PID=$!
  psql=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres)
  for _ in $(seq 100); do "${psql[@]}" -c 'select 1' postgres >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "PostgreSQL did not start; its log:" >&2
  cat "$PG_LOG" >&2
  return 1
}

pg_stop() {
  if [ -n "${PG_PID:-}" ] && kill -0 "$PG_PID" 2>/dev/null; then
    kill -INT "$PG_PID"
    for _ in $(seq 100); do kill -0 "$PG_PID" 2>/dev/null || break; sleep 0.1; done
  fi
  PG_PID=""
}
