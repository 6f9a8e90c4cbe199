#!/usr/bin/env bash
# The control plane toward a provider's size: simulated gateways (each registers and holds the
# blocking configuration query; no data plane) and connections between them, on three replicas
# over PostgreSQL, then on one server over SQLite. See bench/api/src/bin/xconnect-bench-scale.rs
# for what is measured.
#   bash bench/scale/run.sh                                  5,000 gateways, 20,000 connections
#   GATEWAYS=500 CONNECTIONS=2000 bash bench/scale/run.sh    a smaller run
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p xconnect -p xconnect-bench-api
size=(--gateways "${GATEWAYS:-5000}" --connections "${CONNECTIONS:-20000}")
. scripts/postgres-cluster.sh
trap pg_cluster_stop EXIT
pg_cluster_start
pg_createdb scale
echo "## PostgreSQL, three replicas"
./target/release/xconnect-bench-scale --database "$PG_BASE/scale" --replicas 3 "${size[@]}" "$@"
echo "## SQLite, one server"
./target/release/xconnect-bench-scale "${size[@]}" "$@"
