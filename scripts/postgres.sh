#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster for the tests and print its SQLAlchemy URL.
# Installs Debian's postgresql package when it is missing (needs root, as in CI).
set -euo pipefail
# below the ephemeral port range (32768-60999): a client socket in TIME_WAIT on the port cannot stop a
# (re)start after a load test left thousands of them
PGPORT=${TERMSERVER_TEST_PGPORT:-25432}
PGDIR=${TERMSERVER_TEST_PGDIR:-/tmp/termserver-pg}
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } >&2
fi
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
RUN_AS=()
if [ "$(id -u)" = "0" ]; then
  RUN_AS=(runuser -u postgres --)
fi
if ! "${RUN_AS[@]}" "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PGPORT" 2>/dev/null; then
  rm -rf "$PGDIR"
  mkdir -p "$PGDIR"
  [ "$(id -u)" = "0" ] && chown postgres:postgres "$PGDIR"
  "${RUN_AS[@]}" "$BIN/initdb" -D "$PGDIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >&2
  "${RUN_AS[@]}" "$BIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w \
    -o "-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off" start >&2
fi
"${RUN_AS[@]}" "$BIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -tAc \
  "SELECT 1 FROM pg_database WHERE datname='termserver_test'" | grep -q 1 \
  || "${RUN_AS[@]}" "$BIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres termserver_test >&2
echo "postgresql+psycopg://postgres@127.0.0.1:$PGPORT/termserver_test"
