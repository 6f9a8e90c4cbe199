#!/usr/bin/env bash
# Convergence on the demo's topology (two VPCs, four gateways, four links), release build:
#  - accept: from AcceptConnection to the first reply of back-to-back pings host to host (a fresh
#    connection each run; the previous one deleted and its routes gone first);
#  - routing changes: an attach point prefix added and removed, a routing policy switched to
#    manual and back: from the CLI call to the change in the other side's kernels (no session
#    may re-establish meanwhile: counted);
#  - failover: a link carrying a ping flow (every 10 ms) is cut (its UDP dropped both ways on
#    one gateway): the longest gap between replies. The connection's link liveness is the
#    default (10 ms x 3) unless LIVENESS is set (`off`, or an interval as `20ms`, with
#    LIVENESS_MULTIPLIER);
#  - a busy machine: BUSY_SECS (default 60) of twice as many CPU hogs as cores while 8 TCP
#    streams fill the connection: how many times a link end found its link dead (none may).
# Median of RUNS (default 10) each. Prints a markdown table; --record appends it to
# bench/RESULTS.md. Needs root, iproute2, ping, traceroute, nftables, iperf3. Everything it
# creates is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
record=0; [ "${1:-}" = "--record" ] && record=1
runs=${RUNS:-10}
[ "$(id -u)" -eq 0 ] || { echo "bench/converge needs root" >&2; exit 1; }
cargo build --quiet --release -p xconnect
X="$root/target/release/xconnect"
work=$(mktemp -d)
demo_pid=""
cleanup() {
  [ -n "$demo_pid" ] && kill -TERM "$demo_pid" 2>/dev/null && wait "$demo_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
"$X" demo --dir "$work/run" > "$work/demo.out" 2>&1 &
demo_pid=$!
for _ in $(seq 1 240); do grep -q "the demo is running" "$work/demo.out" && break; sleep 0.5; done
grep -q "the demo is running" "$work/demo.out" || { cat "$work/demo.out"; exit 1; }
id=$(grep -o "connection get mcc-[a-z0-9]*" "$work/demo.out" | head -1 | awk '{print $3}')
aws() { (source "$work/run/aws.env"; "$X" "$@" --output json); }
gcp() { (source "$work/run/gcp.env"; "$X" "$@" --output json); }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
ap_aws=$(aws connection get "$id" | json 'd["attachPoint"]')
ap_gcp=$(gcp attach-point list | json '[a["id"] for a in d["attachPoints"]][0]')
gcp_acct=$(gcp account whoami | json 'd["accountId"]')
# The previous connection is gone: no route to the other VPC on any gateway, and no link TAP
# on the gcp gateways (the aws gateways keep the last-mile connection's link and routes).
gone() {
  for g in aws-gw1 aws-gw2; do
    ip netns exec "xcdemo-$g" ip route show 10.1.0.0/16 proto bgp | grep -q . && return 1
  done
  for g in gcp-gw1 gcp-gw2; do
    ip netns exec "xcdemo-$g" ip route show proto bgp | grep -q . && return 1
    ip netns exec "xcdemo-$g" ip -o link show | grep -q ' xc-l' && return 1
  done
  return 0
}
# All four links of the connection up, every BGP session on them Established, each end with
# routes in its kernel through its link, and no end finding its link dead.
settled() {
  [ "$(aws connection links "$id" | json 'sum(1 for l in d["links"] if l["state"]=="up" and all(e.get("bgp") and e["bgp"]["state"]=="Established" and e.get("routes") and e.get("alive") is not False for e in l["ends"]))')" = 4 ]
}
median() { sort -n | awk '{a[NR]=$1} END {m=int((NR+1)/2); print a[m]}'; }

# --- accept to first reply
accept_ms=()
for i in $(seq 1 "$runs"); do
  aws connection delete "$id" > /dev/null
  for _ in $(seq 1 300); do gone && break; sleep 0.1; done
  gone || { echo "run $i: the previous connection's routes and links are still there after 30 s" >&2; exit 1; }
  conn=$(aws connection create --environment gcp-us-east4 --bandwidth 1Gbps --attach-point "$ap_aws" --remote-account "$gcp_acct")
  id=$(echo "$conn" | json 'd["id"]'); key=$(echo "$conn" | json 'd["activationKey"]')
  # One ping after another (each waits up to 100 ms): the time of the first reply is when traffic
  # crossed (within a few ms: one ping process per try).
  t0=$(date +%s.%N)
  gcp connection accept --activation-key "$key" --attach-point "$ap_gcp" > /dev/null
  t1=""
  deadline=$(( $(date +%s) + 30 ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    if ip netns exec xcdemo-aws-host ping -n -c 1 -W 0.1 10.1.1.10 > /dev/null 2>&1; then
      t1=$(date +%s.%N); break
    fi
    sleep 0.01
  done
  [ -n "$t1" ] || { echo "run $i: no reply within 30 s" >&2; exit 1; }
  ms=$(python3 -c "print(round(($t1 - $t0) * 1000))")
  echo "accept run $i: first reply after $ms ms" >&2
  accept_ms+=("$ms")
done
aws connection wait --state available --timeout 60s "$id" > /dev/null 2>&1
if [ -n "${LIVENESS:-}" ]; then
  aws connection update "$id" --liveness-interval "$LIVENESS" ${LIVENESS_MULTIPLIER:+--liveness-multiplier "$LIVENESS_MULTIPLIER"} > /dev/null
fi
liveness=$(aws connection get "$id" | json '"off" if d["linkLiveness"]["intervalMs"] == 0 else "%d ms x %d" % (d["linkLiveness"]["intervalMs"], d["linkLiveness"]["multiplier"])')

# --- live routing changes: from the CLI call to the change in both gcp gateways' kernels
# has_route PRESENT: 10.9.0.0/16 is (1) or is not (0) a BGP route on both gcp gateways.
has_route() {
  for g in gcp-gw1 gcp-gw2; do
    n=0
    ip netns exec "xcdemo-$g" ip route show 10.9.0.0/16 proto bgp | grep -q . && n=1
    [ "$n" = "$1" ] || return 1
  done
  return 0
}
# timed WANT CMD...: runs the command, then polls the kernels; prints milliseconds.
timed() {
  local want=$1; shift
  local t0 t1
  t0=$(date +%s.%N)
  "$@" > /dev/null
  for _ in $(seq 1 3000); do has_route "$want" && break; sleep 0.005; done
  has_route "$want" || { echo "no change in 15 s after: $*" >&2; exit 1; }
  t1=$(date +%s.%N)
  python3 -c "print(round(($t1 - $t0) * 1000))"
}
transitions() { aws connection links "$id" | json 'sum(e["bgp"]["establishedTransitions"] for l in d["links"] for e in l["ends"] if e.get("bgp"))'; }
add_ms=(); manual_ms=(); auto_ms=(); remove_ms=()
for _ in $(seq 1 300); do settled && break; sleep 0.2; done
settled || { echo "the four links did not all come up" >&2; exit 1; }
flaps_before=$(transitions)
for i in $(seq 1 "$runs"); do
  add_ms+=("$(timed 1 aws attach-point update "$ap_aws" --prefixes 10.0.0.0/16,10.9.0.0/16)")
  manual_ms+=("$(timed 0 gcp connection update "$id" --routing-policy manual --announce 10.1.0.0/16 --accept 10.0.0.0/16)")
  auto_ms+=("$(timed 1 gcp connection update "$id" --routing-policy automatic)")
  remove_ms+=("$(timed 0 aws attach-point update "$ap_aws" --prefixes 10.0.0.0/16)")
  echo "routing run $i: add ${add_ms[-1]} ms, manual ${manual_ms[-1]} ms, automatic ${auto_ms[-1]} ms, remove ${remove_ms[-1]} ms" >&2
done
flaps=$(( $(transitions) - flaps_before ))

# --- failover after a link cut
fail_ms=()
for i in $(seq 1 "$runs"); do
  for _ in $(seq 1 300); do settled && break; sleep 0.2; done
  settled || { echo "failover run $i: the four links did not all come up" >&2; exit 1; }
  ip netns exec xcdemo-aws-host ping -D -n -i 0.01 -w 4 10.1.1.10 > "$work/fo.$i" 2>&1 &
  pp=$!
  sleep 1
  # The link that carries the flow out: the aws gateway's TAP whose transmit count grows most.
  # Its UDP port (the same at both ends) is unique on that gateway.
  taps() {
    for g in aws-gw1 aws-gw2; do
      for t in $(ip netns exec "xcdemo-$g" ls /sys/class/net | grep '^xc-l'); do
        echo "$g $t $(ip netns exec "xcdemo-$g" cat "/sys/class/net/$t/statistics/tx_packets")"
      done
    done
  }
  before=$(taps); sleep 0.3; after=$(taps)
  read -r carried g tap < <(join <(echo "$before" | awk '{print $1"/"$2, $3}' | sort) <(echo "$after" | awk '{print $1"/"$2, $3}' | sort) \
    | awk '{print $3 - $2, $1}' | sort -n | tail -1 | awk '{split($2, a, "/"); print $1, a[1], a[2]}')
  # The flow sends 30 packets in 0.3 s: a link that carried fewer did not carry it.
  [ "${carried:-0}" -ge 10 ] || { echo "failover run $i: no link carried the ping flow (most: ${carried:-0} packets in 0.3 s)" >&2; exit 1; }
  ns="xcdemo-$g"; link=${tap#xc-}
  port=$(aws connection links "$id" | json "[e['underlay'].rsplit(':', 1)[1] for l in d['links'] for e in l['ends'][:1] if l['name'] == '$link' and e['gatewayName'] == '$g'][0]")
  ip netns exec "$ns" nft "table inet xcb { chain i { type filter hook input priority 0; udp dport $port drop; }; chain o { type filter hook output priority 0; udp dport $port drop; }; }"
  wait "$pp" || true
  ip netns exec "$ns" nft delete table inet xcb
  gap=$( (grep -o '^\[[0-9.]*\] 64 bytes' "$work/fo.$i" || true) | tr -d '[]' | awk '{print $1}' | python3 -c "
import sys
t=[float(x) for x in sys.stdin.read().split()]
print(round(max(b-a for a,b in zip(t,t[1:]))*1000) if len(t)>1 else 99999)")
  echo "failover run $i ($ns, link $link, $carried packets in 0.3 s before the cut): longest gap $gap ms" >&2
  fail_ms+=("$gap")
done

# --- a busy machine: every core taken, the connection full; no link may be found dead.
# Each gateway's own count of carrier downs, over its links to the other side.
carrier_downs() {
  local n=0 g c
  for g in aws-gw1 aws-gw2 gcp-gw1 gcp-gw2; do
    c=$(ip netns exec "xcdemo-$g" "$X" gateway status --output json | json 'sum(l["counters"]["carrierDowns"] for l in d["links"])')
    n=$((n + c))
  done
  echo "$n"
}
# Every end hears the other by its keepalives (with liveness on): a link whose liveness never
# armed could not be found dead, and its count would prove nothing.
armed() {
  [ "$liveness" = off ] || [ "$(aws connection links "$id" | json 'sum(1 for l in d["links"] for e in l["ends"] if e.get("alive") is True)')" = 8 ]
}
busy_secs=${BUSY_SECS:-60}
for _ in $(seq 1 300); do settled && armed && break; sleep 0.2; done
settled && armed || { echo "busy machine: the four links did not all come up with their liveness armed" >&2; exit 1; }
downs_before=$(carrier_downs)
ip netns exec xcdemo-gcp-host iperf3 -s -1 -p 5299 > /dev/null 2>&1 &
iperf_server=$!
for _ in $(seq 1 100); do ip netns exec xcdemo-gcp-host ss -ltn | grep -q ':5299 ' && break; sleep 0.1; done
hogs=()
for _ in $(seq 1 $(( $(nproc) * 2 ))); do
  timeout "$busy_secs" sh -c 'while :; do :; done' &
  hogs+=($!)
done
busy_mbps=$(ip netns exec xcdemo-aws-host iperf3 -c 10.1.1.10 -p 5299 -P 8 -t "$busy_secs" -J | json 'round(d["end"]["sum_received"]["bits_per_second"] / 1e6)')
wait "${hogs[@]}" 2>/dev/null || true
wait "$iperf_server" 2>/dev/null || true
busy_downs=$(( $(carrier_downs) - downs_before ))
echo "busy machine: $busy_secs s, $(( $(nproc) * 2 )) CPU hogs, 8 TCP streams at $busy_mbps Mbit/s: $busy_downs carrier downs" >&2

a=$(printf '%s\n' "${accept_ms[@]}" | median)
f=$(printf '%s\n' "${fail_ms[@]}" | median)
m() { printf '%s\n' "$@" | median; }
table="| measure | median of $runs (ms) | target (ms) |
|---|---|---|
| AcceptConnection to first ping reply | $a | 3000 |
| link cut to traffic flowing again (link liveness $liveness) | $f | 50 |
| attach point prefix added, in the other side's kernels | $(m "${add_ms[@]}") | 2000 |
| routing policy to manual (prefix no longer accepted), in the kernels | $(m "${manual_ms[@]}") | 2000 |
| routing policy back to automatic, in the kernels | $(m "${auto_ms[@]}") | 2000 |
| attach point prefix removed, gone from the other side's kernels | $(m "${remove_ms[@]}") | 2000 |
| BGP sessions re-established during the $((runs * 4)) routing changes | $flaps | 0 |
| links found dead on a busy machine ($busy_secs s, $(( $(nproc) * 2 )) CPU hogs, the connection full at $busy_mbps Mbit/s) | $busy_downs | 0 |"
echo "$table"
if [ "$record" = 1 ]; then
  {
    echo
    echo "## bench/converge: the demo topology, release build ($(date -u +%F), $(nproc) cores, $(uname -srm))"
    echo
    echo "Accept: a fresh connection each run, from AcceptConnection (as the CLI sends it) to the first"
    echo "reply of back-to-back pings from the aws host to the gcp host. Failover: the link carrying a 10 ms ping"
    echo "flow has its UDP dropped both ways on its aws gateway; the longest gap between replies."
    echo "Busy machine: CPU hogs on every core while iperf3 fills the connection; the carrier downs the"
    echo "gateways counted meanwhile."
    echo "Routing changes: from the CLI call (process start included) to the change in the kernels of"
    echo "both gcp gateways (10.9.0.0/16 added to or removed from aws's attach point; gcp's policy to manual,"
    echo "accepting 10.0.0.0/16 only, and back), polled every 5 ms."
    echo
    echo "$table"
  } >> "$root/bench/RESULTS.md"
  echo "recorded in bench/RESULTS.md" >&2
fi
