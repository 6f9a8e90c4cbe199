#!/usr/bin/env bash
# Builds the server and the load generator in release mode and measures the API on a fresh SQLite
# data dir: GetConnection and CreateConnection at 1, 8 and 64 concurrent clients.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p xconnect -p xconnect-bench-api
./target/release/xconnect-bench-api --server ./target/release/xconnect --seconds "${SECONDS_PER_RUN:-10}" "$@"
