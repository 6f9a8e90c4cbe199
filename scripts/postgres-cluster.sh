# Sourced: `pg_cluster_start [SETTINGS...]` starts a private PostgreSQL cluster (initdb in a
# temporary directory, a free loopback port, as the `postgres` user when run as root) and sets
# PG_BASE (postgres://xc@127.0.0.1:PORT, trust authentication); `pg_cluster_stop` stops it and
# removes the directory. Extra settings go to the server as `-c NAME=VALUE`.
pg_cluster_start() {
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
    echo "PostgreSQL is not installed (Debian: apt-get install postgresql)" >&2
    return 1
  fi
  PG_DIR=$(mktemp -d /tmp/xc-pg.XXXXXX)
  PG_AS=()
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$PG_DIR"
    PG_AS=(runuser -u postgres --)
  fi
  local port opts s
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  opts="-p $port -h 127.0.0.1 -k $PG_DIR -c max_connections=500"
  for s in "$@"; do opts="$opts -c $s"; done
  "${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U xc --auth=trust --no-sync -E UTF8 --locale=C >/dev/null
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -w -t 60 -l "$PG_DIR/server.log" -o "$opts" start >/dev/null
  PG_BASE="postgres://xc@127.0.0.1:$port"
  echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2
}

pg_cluster_stop() {
  if [ -n "${PG_DIR:-}" ]; then
    "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  fi
}

# `pg_createdb NAME`: an empty database in the cluster.
pg_createdb() {
  "${PG_AS[@]}" "$PG_BIN/createdb" -h 127.0.0.1 -p "${PG_BASE##*:}" -U xc "$1"
}
