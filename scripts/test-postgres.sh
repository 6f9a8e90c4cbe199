#!/usr/bin/env bash
# Runs tests against PostgreSQL: starts a private cluster (initdb in a temporary directory, on a
# free loopback port, as the `postgres` user when run as root), points the tests at it
# (XC_TEST_DATABASE=postgres makes every store and server of the tests use it; each test takes a
# database of its own) and stops and removes it afterwards, whatever happens.
# The arguments go to `cargo nextest run`, as in
#   bash scripts/test-postgres.sh -p xc-store
# The cluster runs with fsync off: it holds test data only, and is never crashed.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "PostgreSQL is not installed (Debian: apt-get install postgresql)" >&2
  exit 1
fi
dir=$(mktemp -d /tmp/xc-pg.XXXXXX)
as=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres:postgres "$dir"
  as=(runuser -u postgres --)
fi
stop() {
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${as[@]}" "$bin/initdb" -D "$dir/data" -U xc --auth=trust --no-sync -E UTF8 --locale=C >/dev/null
"${as[@]}" "$bin/pg_ctl" -D "$dir/data" -w -t 60 -l "$dir/server.log" \
  -o "-p $port -h 127.0.0.1 -k $dir -c fsync=off -c full_page_writes=off -c max_connections=500" \
  start >/dev/null
echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port for the tests"
export XC_TEST_DATABASE=postgres XC_TEST_POSTGRES="postgres://xc@127.0.0.1:$port"
cargo nextest run "$@"
