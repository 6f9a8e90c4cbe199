#!/usr/bin/env bash
# Measures, in one run on the same veth between two network namespaces: TCP throughput (iperf3,
# 1 and 4 streams, 10 s) and ping RTT for the raw veth, an xconnect link (release build; by
# default, and with idle polling on), wireguard-go (Debian package) and boringtun (built here
# with cargo install). Prints a markdown table with the ratios, and appends it to
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

cleanup() {
  for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done
  pkill -f "$work/" 2>/dev/null || true
  ip netns del $A 2>/dev/null || true
  ip netns del $B 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

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

ip netns del $A 2>/dev/null || true; ip netns del $B 2>/dev/null || true
ip netns add $A; ip netns add $B
ip link add xcb-va netns $A type veth peer name xcb-vb netns $B
ip -n $A addr add 10.200.0.1/24 dev xcb-va; ip -n $B addr add 10.200.0.2/24 dev xcb-vb
for n in $A $B; do ip -n $n link set lo up; done
ip -n $A link set xcb-va up; ip -n $B link set xcb-vb up

# iperf3 throughput in Gbit/s: measure TARGET STREAMS
tput() {
  ip netns exec $B iperf3 -s -1 -B "$1" >/dev/null 2>&1 &
  local srv=$!
  local out=""
  for _ in $(seq 100); do
    out=$(ip netns exec $A iperf3 -c "$1" -t "$secs" -P "$2" -J 2>/dev/null) && break
    failed=$out; out=""
    sleep 0.1
  done
  if [ -z "$out" ]; then
    kill $srv 2>/dev/null || true
    echo "iperf3 could not measure $1 in 100 tries; the last said:" >&2
    echo "$failed" | grep '"error"' >&2 || true
    exit 1
  fi
  wait $srv 2>/dev/null || true
  python3 -c "import json,sys; print('%.2f' % (json.loads(sys.argv[1])['end']['sum_received']['bits_per_second']/1e9))" "$out"
}
# median ping RTT in microseconds
rtt() {
  ip netns exec $A ping -q -c 200 -i 0.005 "$1" >/dev/null 2>&1 || true
  ip netns exec $A ping -c 200 -i 0.005 "$1" | python3 -c "
import sys,re,statistics
v=[float(m.group(1)) for m in re.finditer(r'time=([0-9.]+)', sys.stdin.read())]
print('%.0f' % (statistics.median(v)*1000))"
}

declare -A T1 T4 R
measure() { T1[$1]=$(tput "$2" 1); T4[$1]=$(tput "$2" 4); R[$1]=$(rtt "$2"); echo "$1: ${T1[$1]} / ${T4[$1]} Gbit/s, ${R[$1]} us" >&2; }

measure veth 10.200.0.2

# xconnect link: KEY IDLE_POLL_MS (0 is the default: no idle polling)
xconnect_link() {
  for s in a b; do
    if [ $s = a ]; then L=10.200.0.1; Rm=10.200.0.2; AD=169.254.0.0/31; NS=$A; else L=10.200.0.2; Rm=10.200.0.1; AD=169.254.0.1/31; NS=$B; fi
    cat > "$work/gw-$s.toml" <<CFG
[gateway]
name = "bench-$s"
admin_listen = "127.0.0.1:7801"
idle_poll_ms = $2
[[link]]
name = "l1"
underlay_local = "$L:4789"
underlay_remote = "$Rm:4789"
vni = 101
ckn = "00112233445566778899aabbccddeeff"
cak = "000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f"
address = "$AD"
CFG
    XCONNECT_LOG=warn ip netns exec $NS "$X" gateway run --config "$work/gw-$s.toml" >"$work/gw-$s.log" 2>&1 &
  done
  for _ in $(seq 100); do
    ip netns exec $A "$X" gateway status --output json 2>/dev/null | grep -q '"state": "secured"' && break; sleep 0.1
  done
  measure "$1" 169.254.0.1
  pkill -TERM -f "$work/gw-" || true
  for _ in $(seq 100); do pgrep -f "$work/gw-" >/dev/null || break; sleep 0.1; done
}
xconnect_link xconnect 0
xconnect_link xconnect-poll 1000

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
wg_up go wgA wgB; measure wireguard-go 10.99.0.2; wg_down wgA wgB
wg_up bt btA btB; measure boringtun 10.99.0.2; wg_down btA btB

best_wg=$(python3 -c "print(max(${T1[wireguard-go]}, ${T1[boringtun]}))")
table=$(python3 - "$best_wg" <<PY
import sys
best=float(sys.argv[1])
rows=[("raw veth","veth"),("xconnect link (GCM-AES-XPN-256)","xconnect"),("xconnect link, idle_poll_ms = 1000","xconnect-poll"),("wireguard-go","wireguard-go"),("boringtun","boringtun")]
t1={"veth":${T1[veth]},"xconnect":${T1[xconnect]},"xconnect-poll":${T1[xconnect-poll]},"wireguard-go":${T1[wireguard-go]},"boringtun":${T1[boringtun]}}
t4={"veth":${T4[veth]},"xconnect":${T4[xconnect]},"xconnect-poll":${T4[xconnect-poll]},"wireguard-go":${T4[wireguard-go]},"boringtun":${T4[boringtun]}}
r={"veth":${R[veth]},"xconnect":${R[xconnect]},"xconnect-poll":${R[xconnect-poll]},"wireguard-go":${R[wireguard-go]},"boringtun":${R[boringtun]}}
print("| path | TCP 1 stream Gbit/s | TCP 4 streams Gbit/s | median RTT us | 1 stream vs best WireGuard | added RTT over veth us |")
print("|---|---:|---:|---:|---:|---:|")
for name,k in rows:
    print(f"| {name} | {t1[k]:.2f} | {t4[k]:.2f} | {r[k]:.0f} | {t1[k]/best:.1f}x | {r[k]-r['veth']:.0f} |")
PY
)
echo "$table"
if [ $record -eq 1 ]; then
  {
    echo
    echo "### bench/link, $(date -u +%Y-%m-%d), $(nproc) vCPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r)"
    echo
    echo "$table"
  } >> bench/RESULTS.md
fi
