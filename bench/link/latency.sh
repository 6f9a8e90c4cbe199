#!/usr/bin/env bash
# Added round-trip time of an xconnect link by gateway setting, interleaved so that the
# machine's drift falls on every setting alike: for each of ROUNDS rounds (default 5), each
# setting's link is started, then 3 x 200 pings (after 100 to warm up), median of each; the
# table gives each setting's mean of those medians, less the bare veth's. Each setting is
# measured twice: with both gateways on any core, and with each gateway pinned to a core of its
# own (taskset), which is how two gateways on two machines see it (neither end's thread takes the
# core the other end needs). Settings are lines for both gateways' [gateway] section; the
# defaults compare busy polling off and on:
#   sudo bash bench/link/latency.sh [--record] ["busy_poll_us = 0" "busy_poll_us = 100" ...]
# Needs root and two cores. Everything it creates is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
record=0; [ "${1:-}" = "--record" ] && { record=1; shift; }
[ $# -gt 0 ] || set -- "busy_poll_us = 0" "busy_poll_us = 100"
rounds=${ROUNDS:-5}
A=xcb-a; B=xcb-b
work=$(mktemp -d)
. bench/link/lib.sh
trap bench_cleanup EXIT
[ "$(id -u)" -eq 0 ] || { echo "bench/link/latency.sh needs root" >&2; exit 1; }
command -v ping >/dev/null || { apt-get update -q >/dev/null; apt-get install -y -q --no-install-recommends iputils-ping >/dev/null; }
cargo build --quiet --release -p xconnect
bin="$root/target/release/xconnect"
# Pinned: gateway a on core 0, b on core 1 (by the file each is given).
cat > "$work/pinned" <<PIN
#!/bin/bash
case "\$*" in
  *gw-a.toml*) exec taskset -c 0 "$bin" "\$@";;
  *gw-b.toml*) exec taskset -c 1 "$bin" "\$@";;
  *) exec "$bin" "\$@";;
esac
PIN
chmod +x "$work/pinned"
bench_netns xcb-va xcb-vb

results="$work/results"; : > "$results"
for r in $(seq "$rounds"); do
  echo "veth - $(rtt 10.200.0.2)" >> "$results"
  for placement in any pinned; do
    if [ $placement = any ]; then X=$bin; else X="$work/pinned"; fi
    for i in $(seq $#); do
      line=${!i}
      for s in a b; do echo "$line" > "$work/gateway-$s"; done
      link_up
      for _ in 1 2 3; do echo "$i $placement $(rtt 169.254.0.1)" >> "$results"; done
      link_down
    done
  done
  echo "round $r of $rounds done" >&2
done
table=$(python3 - "$results" "$@" <<'PY'
import sys, statistics
rows=[l.split() for l in open(sys.argv[1])]
names=sys.argv[2:]
veth=statistics.mean(float(r[2]) for r in rows if r[0]=="veth")
print(f"| setting | gateways on | mean of medians, us | added over veth, us | runs |")
print("|---|---|---:|---:|---:|")
for placement in ("any","pinned"):
    for i,n in enumerate(names, 1):
        v=[float(r[2]) for r in rows if r[0]==str(i) and r[1]==placement]
        where = "any core" if placement == "any" else "a core each"
        print(f"| `{n}` | {where} | {statistics.mean(v):.0f} | {statistics.mean(v)-veth:.0f} | {len(v)} |")
PY
)
report "bench/link/latency.sh (ping RTT by setting, $rounds interleaved rounds)" "$table"
