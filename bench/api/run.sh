#!/usr/bin/env bash
# Builds the server and the load generator in release mode and measures the API on a fresh
# database: GetConnection and CreateConnection at 1, 8 and 64 concurrent clients.
#   bash bench/api/run.sh              SQLite under a fresh data dir (the default)
#   bash bench/api/run.sh --postgres   a private PostgreSQL cluster on this machine (durable:
#                                      fsync on, as SQLite's synchronous=FULL)
# Other arguments go to xconnect-bench-api.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p xconnect -p xconnect-bench-api
args=()
postgres=false
for a in "$@"; do
  if [ "$a" = "--postgres" ]; then postgres=true; else args+=("$a"); fi
done
if $postgres; then
  . scripts/postgres-cluster.sh
  trap pg_cluster_stop EXIT
  pg_cluster_start
  pg_createdb bench
  args+=(--database "$PG_BASE/bench")
fi
./target/release/xconnect-bench-api --server ./target/release/xconnect --seconds "${SECONDS_PER_RUN:-10}" "${args[@]}"
