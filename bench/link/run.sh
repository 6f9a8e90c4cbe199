#!/usr/bin/env bash
# Measures, in one run on the same veth between two network namespaces: TCP throughput (iperf3,
# 1 and 4 streams, 10 s) and ping RTT for the raw veth, an xconnect link (release build; by
# default, without busy polling, with idle polling on, with the kernel segmenting instead of
# the link, and on two cores per link),
# wireguard-go (Debian package) and boringtun (built here with cargo install), and for each but
# the veth the CPU seconds per gigabyte carried that its own processes (both ends) used, from
# their accounting in /proc. Prints a markdown table with the ratios, and appends it to
# bench/RESULTS.md when called with --record.
# Needs root. Everything it creates is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
record=0; [ "${1:-}" = "--record" ] && record=1
secs=${SECONDS_PER_RUN:-10}
A=xcb-a; B=xcb-b
work=$(mktemp -d)
tools="$root/bench/link/.tools"

. bench/link/lib.sh
trap bench_cleanup EXIT

[ "$(id -u)" -eq 0 ] || { echo "bench/link needs root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
need=""
for c in iperf3:iperf3 ping:iputils-ping wg:wireguard-tools wireguard-go:wireguard-go; do
  command -v "${c%%:*}" >/dev/null || need="$need ${c#*:}"
done
if [ -n "$need" ]; then apt-get update -q >/dev/null; apt-get install -y -q --no-install-recommends $need >/dev/null; fi
if [ ! -x "$tools/bin/boringtun-cli" ]; then
  echo "building boringtun-cli (a few minutes)..." >&2
  cargo install --quiet --root "$tools" boringtun-cli
fi
cargo build --quiet --release -p xconnect
X="$root/target/release/xconnect"

bench_netns xcb-va xcb-vb

declare -A T1 T4 R C
# measure NAME TARGET [PATTERN]: throughput, RTT, and the CPU seconds per gigabyte carried that
# the processes matching PATTERN (the path's own, at both ends) used over both throughput runs
measure() {
  local before after
  before=$( [ -n "${3:-}" ] && cpu_secs "$3" || echo 0)
  T1[$1]=$(tput "$2" 1); T4[$1]=$(tput "$2" 4)
  after=$( [ -n "${3:-}" ] && cpu_secs "$3" || echo 0)
  R[$1]=$(rtt "$2")
  # Gigabytes carried: each run's rate over its seconds.
  C[$1]=$(python3 -c "import sys; gb=(float(sys.argv[1])+float(sys.argv[2]))*$secs/8; print('%.2f' % ((float(sys.argv[4])-float(sys.argv[3]))/gb) if sys.argv[5] else 'nan')" "${T1[$1]}" "${T4[$1]}" "$before" "$after" "${3:-}")
  echo "$1: ${T1[$1]} / ${T4[$1]} Gbit/s, ${R[$1]} us, ${C[$1]} CPU s/GB" >&2
}

measure veth 10.200.0.2

# xconnect link: KEY [GATEWAY_LINE] (a line for both gateways' [gateway] section; none: defaults)
xconnect_link() {
  for s in a b; do echo "${2:-}" > "$work/gateway-$s"; done
  link_up
  measure "$1" 169.254.0.1 "$work/gw-"
  link_down
}
xconnect_link xconnect
xconnect_link xconnect-nobusy "busy_poll_us = 0"
xconnect_link xconnect-poll "idle_poll_ms = 1000"
xconnect_link xconnect-kseg "transmit_offload = false"
xconnect_link xconnect-2core "link_cores = 2"

# WireGuard: wireguard-go and boringtun
umask 077
ka=$(wg genkey); kb=$(wg genkey); pa=$(echo "$ka" | wg pubkey); pb=$(echo "$kb" | wg pubkey)
echo "$ka" > "$work/ka"; echo "$kb" > "$work/kb"
# Each side gets its own interface name: both namespaces share /var/run/wireguard.
wg_up() { # impl devA devB
  if [ "$1" = go ]; then
    ip netns exec $A wireguard-go -f "$2" >/dev/null 2>&1 &
    ip netns exec $B wireguard-go -f "$3" >/dev/null 2>&1 &
  else
    WG_SUDO=1 ip netns exec $A "$tools/bin/boringtun-cli" -f --disable-drop-privileges "$2" >/dev/null 2>&1 &
    WG_SUDO=1 ip netns exec $B "$tools/bin/boringtun-cli" -f --disable-drop-privileges "$3" >/dev/null 2>&1 &
  fi
  for _ in $(seq 100); do ip -n $A link show "$2" >/dev/null 2>&1 && ip -n $B link show "$3" >/dev/null 2>&1 && break; sleep 0.1; done
  ip netns exec $A wg set "$2" private-key "$work/ka" listen-port 51820 peer "$pb" endpoint 10.200.0.2:51820 allowed-ips 10.99.0.2/32
  ip netns exec $B wg set "$3" private-key "$work/kb" listen-port 51820 peer "$pa" endpoint 10.200.0.1:51820 allowed-ips 10.99.0.1/32
  ip -n $A addr add 10.99.0.1/24 dev "$2"; ip -n $A link set "$2" up
  ip -n $B addr add 10.99.0.2/24 dev "$3"; ip -n $B link set "$3" up
}
wg_down() {
  ip -n $A link del "$1" 2>/dev/null || true; ip -n $B link del "$2" 2>/dev/null || true
  pkill -f "wireguard-go -f $1|wireguard-go -f $2|drop-privileges $1|drop-privileges $2" || true
  sleep 1
}
wg_up go wgA wgB; measure wireguard-go 10.99.0.2 "wireguard-go -f wg[AB]"; wg_down wgA wgB
wg_up bt btA btB; measure boringtun 10.99.0.2 "drop-privileges bt[AB]"; wg_down btA btB

best_wg=$(python3 -c "print(max(${T1[wireguard-go]}, ${T1[boringtun]}))")
keys=(veth xconnect xconnect-nobusy xconnect-poll xconnect-kseg xconnect-2core wireguard-go boringtun)
rows=$(for k in "${keys[@]}"; do echo "$k ${T1[$k]} ${T4[$k]} ${R[$k]} ${C[$k]}"; done)
table=$(python3 - "$best_wg" "$rows" <<'PY'
import sys
best=float(sys.argv[1])
names={"veth":"raw veth","xconnect":"xconnect link (GCM-AES-XPN-256)","xconnect-nobusy":"xconnect link, busy_poll_us = 0","xconnect-poll":"xconnect link, idle_poll_ms = 1000","xconnect-kseg":"xconnect link, transmit_offload = false","xconnect-2core":"xconnect link, link_cores = 2","wireguard-go":"wireguard-go","boringtun":"boringtun"}
rows=[l.split() for l in sys.argv[2].splitlines()]
veth=float(rows[0][3])
print("| path | TCP 1 stream Gbit/s | TCP 4 streams Gbit/s | median RTT us | 1 stream vs best WireGuard | added RTT over veth us | CPU s/GB |")
print("|---|---:|---:|---:|---:|---:|---:|")
for k,t1,t4,r,c in rows:
    t1,t4,r=float(t1),float(t4),float(r)
    cpu = "-" if c == "nan" else c
    print(f"| {names[k]} | {t1:.2f} | {t4:.2f} | {r:.0f} | {t1/best:.1f}x | {r-veth:.0f} | {cpu} |")
PY
)
report bench/link "$table"
