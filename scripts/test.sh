#!/usr/bin/env bash
# Runs every test of xconnect on a fresh Debian 12 machine: installs what the tests need (as root,
# with apt-get; Python tools into .venv), checks formatting and lints, then runs the test suites.
# `.ci/run` calls this script; so does a developer.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

step() { printf '\n==> %s\n' "$*"; }

step "system packages"
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends python3-venv python3-pip ca-certificates openssl iproute2 iputils-ping iperf3 tcpdump traceroute bird2 frr gobgpd nftables chromium fonts-dejavu-core >/dev/null
else
  echo "not root: skipping apt-get (the Python venv and cargo are all these tests need)"
fi

step "Python tools (.venv): the AWS CLI"
if [ ! -x .venv/bin/aws ]; then
  python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q awscli
fi
.venv/bin/aws --version
export XCONNECT_AWS_CLI="$root/.venv/bin/aws"

step "Node tools: Playwright (playwright-core, driving Debian's Chromium) for the console tests"
(cd crates/xconnect/tests/console && npm ci --no-audit --no-fund --loglevel=error)

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
cargo nextest run --workspace --locked --no-fail-fast

step "fuzz targets compile (run them with cargo fuzz; see fuzz/README.md)"
cargo check --manifest-path fuzz/Cargo.toml --target-dir target/fuzz-check --quiet
