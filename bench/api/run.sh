#!/usr/bin/env bash
# Builds the server and the load generator in release mode and measures the API on a fresh
# database: GetConnection and CreateConnection at 1, 8 and 64 concurrent clients.
#   bash bench/api/run.sh              SQLite under a fresh data dir (the default)
#   bash bench/api/run.sh --postgres   a private PostgreSQL cluster on this machine (durable:
#                                      fsync on, as SQLite's synchronous=FULL)
#   bash bench/api/run.sh --compare    SQLite, one server on PostgreSQL, then three replicas on
#                                      PostgreSQL taking the requests in turn, one after another
# Other arguments go to xconnect-bench-api (e.g. --replicas 3 with --postgres).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p xconnect -p xconnect-bench-api
args=()
postgres=false
compare=false
for a in "$@"; do
  case "$a" in
    --postgres) postgres=true ;;
    --compare) compare=true ;;
    *) args+=("$a") ;;
  esac
done
bench() {
  ./target/release/xconnect-bench-api --server ./target/release/xconnect --seconds "${SECONDS_PER_RUN:-10}" "$@"
}
if $postgres || $compare; then
  . scripts/postgres-cluster.sh
  trap pg_cluster_stop EXIT
  pg_cluster_start
fi
if $compare; then
  echo "## SQLite"
  bench "${args[@]}"
  echo "## PostgreSQL, one server"
  pg_createdb bench1
  bench --database "$PG_BASE/bench1" "${args[@]}"
  echo "## PostgreSQL, three replicas (round robin)"
  pg_createdb bench3
  bench --database "$PG_BASE/bench3" --replicas 3 "${args[@]}"
elif $postgres; then
  pg_createdb bench
  bench --database "$PG_BASE/bench" "${args[@]}"
else
  bench "${args[@]}"
fi
