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
. scripts/postgres-cluster.sh
trap pg_cluster_stop EXIT
pg_cluster_start fsync=off full_page_writes=off
export XC_TEST_DATABASE=postgres XC_TEST_POSTGRES="$PG_BASE"
cargo nextest run "$@"
