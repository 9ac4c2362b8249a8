#!/usr/bin/env bash
# Start or stop a throwaway PostgreSQL cluster for tests and development, no systemd needed.
#
#   scripts/postgres-setup.sh start   # initdb in $TAPWALLET_PG_STATE (default /tmp/tapwallet-postgres), pg_ctl start
#   scripts/postgres-setup.sh stop    # stop it (the data directory stays until `clean`)
#   scripts/postgres-setup.sh clean   # stop and delete the data directory
#   scripts/postgres-setup.sh url     # print the admin URL the tests take in TAPWALLET_TEST_POSTGRES
#
# The cluster listens on 127.0.0.1:$TAPWALLET_PG_PORT (default 55432) and on a socket in its own
# directory, with trust authentication for local connections only: a test cluster, not a server.
# initdb refuses to run as root, so as root it runs as the `postgres` user Debian's package creates.
set -euo pipefail
state="${TAPWALLET_PG_STATE:-/tmp/tapwallet-postgres}"
port="${TAPWALLET_PG_PORT:-55432}"
data="$state/data"
log="$state/postgres.log"

bindir() {
  if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then dirname "$(command -v pg_ctl)"; return; fi
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  [ -n "$d" ] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
  echo "$d"
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

url() { echo "postgres://postgres@127.0.0.1:$port/postgres"; }

running() { [ -f "$data/postmaster.pid" ] && as_owner "$(bindir)/pg_ctl" -D "$data" status >/dev/null 2>&1; }

start() {
  local bin
  bin="$(bindir)"
  if running; then echo "postgres already running on 127.0.0.1:$port ($(url))"; return 0; fi
  mkdir -p "$state"
  if [ "$(id -u)" = 0 ]; then chown postgres "$state"; chmod 0755 "$state"; fi
  if [ ! -f "$data/PG_VERSION" ]; then
    as_owner "$bin/initdb" -D "$data" -A trust -U postgres --encoding=UTF8 --locale=C >"$state/initdb.log" 2>&1 ||
      { cat "$state/initdb.log" >&2; exit 1; }
  fi
  # fsync stays on: the tests claim durability. Enough connections for 3 instances x 10 plus tests.
  as_owner "$bin/pg_ctl" -D "$data" -l "$log" -w -t 30 \
    -o "-p $port -k $state -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null ||
    { cat "$log" >&2; exit 1; }
  echo "postgres running on 127.0.0.1:$port ($(url)), data in $data"
}

stop() {
  if running; then as_owner "$(bindir)/pg_ctl" -D "$data" -m fast -w stop >/dev/null; fi
  echo "postgres stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  clean) stop; rm -rf "$state"; echo "removed $state" ;;
  url) url ;;
  status) if running; then echo "running: $(url)"; else echo "not running"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|clean|url|status" >&2; exit 2 ;;
esac
