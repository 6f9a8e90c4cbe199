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
  apt-get install -y -q --no-install-recommends python3-venv python3-pip ca-certificates jq openssl iproute2 iputils-ping iperf3 tcpdump traceroute bird2 frr gobgpd nftables prometheus chromium fonts-dejavu-core postgresql >/dev/null
else
  echo "not root: skipping apt-get (the Python venv and cargo are all these tests need)"
fi

step "Python tools (.venv): the AWS CLI, schemathesis and botocore (its SigV4 signer)"
if [ ! -x .venv/bin/aws ] || ! .venv/bin/schemathesis --version 2>/dev/null | grep -q "4.32.5" || ! .venv/bin/python -c 'import botocore' 2>/dev/null; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  # schemathesis pinned: the conformance test runs a fixed seed, and its hooks set a request's auth
  # the way this version reads it.
  .venv/bin/pip install -q awscli schemathesis==4.32.5 botocore
fi
.venv/bin/aws --version
.venv/bin/schemathesis --version
export XCONNECT_AWS_CLI="$root/.venv/bin/aws"

step "Node tools: Playwright (playwright-core, driving Debian's Chromium) for the console tests"
(cd crates/xconnect/tests/console && npm ci --no-audit --no-fund --loglevel=error)

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
cargo nextest run --workspace --locked --no-fail-fast

step "tests again on PostgreSQL: the store, the service and the server suites (a private cluster)"
bash scripts/test-postgres.sh --workspace --locked --no-fail-fast -E "$(cat <<'FILTER'
package(xc-store) | package(xc-control) | binary(aws_cli) | binary(sdk) | binary(restart)
| binary(cli) | binary(sessions) | binary(usage) | binary(filters) | binary(metrics)
FILTER
)"

step "fuzz targets compile (run them with cargo fuzz; see fuzz/README.md)"
cargo check --manifest-path fuzz/Cargo.toml --target-dir target/fuzz-check --quiet
