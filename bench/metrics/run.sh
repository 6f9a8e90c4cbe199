#!/usr/bin/env bash
# Builds the server and the simulated gateways in release mode and measures metrics ingestion:
# 1,000 connections of four links (40 gateways reporting every 10 s), a day of minutes backfilled,
# then STEADY_MINUTES (default 10) of live reports: server CPU, store bytes per connection per day,
# and the latency of 24-hour, 1-minute metric queries.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p xconnect -p xconnect-bench-metrics
./target/release/xconnect-bench-metrics --server ./target/release/xconnect \
    --steady-minutes "${STEADY_MINUTES:-10}" "$@"
