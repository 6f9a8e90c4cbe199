#!/usr/bin/env bash
# Measures what the filters cost a link, in one run on the same veth between two network
# namespaces: TCP throughput (iperf3, 1 and 4 streams) and ping RTT between the networks behind
# the link's ends (10.0.0.1 in a, 10.1.0.1 in b), first with no filters, then with b enforcing
# 1,000 rules (a mix of security group and network ACL rules, generated below) and a connection
# table of 100,000 flows (b's own UDP flows to a, opened again just before each measurement: they
# live 30 s unanswered), then the same with b's flow log on (every flow, 60 s windows, written to
# a file). Prints a markdown table, and appends it to
# bench/RESULTS.md with --record. Needs root. Everything it creates is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
record=0; [ "${1:-}" = "--record" ] && record=1
secs=${SECONDS_PER_RUN:-8}
A=xcf-a; B=xcf-b
work=$(mktemp -d)

. bench/link/lib.sh
trap bench_cleanup EXIT

[ "$(id -u)" -eq 0 ] || { echo "bench/link/filters.sh needs root" >&2; exit 1; }
command -v iperf3 >/dev/null || { apt-get update -q >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends iperf3 >/dev/null; }
cargo build --quiet --release -p xconnect
X="$root/target/release/xconnect"

bench_netns xcf-va xcf-vb
ip -n $A addr add 10.0.0.1/32 dev lo; ip -n $B addr add 10.1.0.1/32 dev lo

# b's filters: 1,000 rules. Security groups: 597 inbound allow rules (tcp and udp ports and ranges,
# icmp types) from /24s of 172.16.0.0/12 that the bench's traffic never comes from, the two that
# admit it (tcp and icmp from a's network), and all outbound. Network ACL: 199 numbered deny and
# allow rules each way for /24s of 192.168.0.0/16, then an allow-all rule each way.
python3 - "$work/filters.toml" <<'PY'
import sys
out = []
out.append('[[filters.securityGroups]]\ngroupId = "sg-00000000000000f1"\n')
n = 0
def rule_id():
    global n
    n += 1
    return f"sgr-{n:016x}"
for i in range(597):
    cidr = f"172.{16 + i % 16}.{(i * 7) % 256}.0/24"
    kind = i % 4
    if kind == 0:
        body = f'ipProtocol = "tcp"\nfromPort = {1000 + i}'
    elif kind == 1:
        body = f'ipProtocol = "udp"\nfromPort = {2000 + i}\ntoPort = {2010 + i}'
    elif kind == 2:
        body = f'ipProtocol = "tcp"\nfromPort = {3000 + i}\ntoPort = {3100 + i}'
    else:
        body = f'ipProtocol = "icmp"\nicmpType = {i % 16}'
    out.append(f'[[filters.securityGroups.rules]]\nruleId = "{rule_id()}"\ndirection = "inbound"\n{body}\ncidrIp = "{cidr}"\n')
for proto in ("tcp", "icmp"):
    out.append(f'[[filters.securityGroups.rules]]\nruleId = "{rule_id()}"\ndirection = "inbound"\nipProtocol = "{proto}"\ncidrIp = "10.0.0.0/16"\n')
out.append(f'[[filters.securityGroups.rules]]\nruleId = "{rule_id()}"\ndirection = "outbound"\nipProtocol = "all"\ncidrIp = "0.0.0.0/0"\n')
out.append('[filters.networkAcl]\naclId = "acl-00000000000000f1"\n')
acl = 0
for d in ("inbound", "outbound"):
    for i in range(199):
        acl += 1
        action = "deny" if i % 3 == 0 else "allow"
        cidr = f"192.168.{i}.0/24"
        out.append(f'[[filters.networkAcl.rules]]\nruleNumber = {100 + i}\nruleAction = "{action}"\ndirection = "{d}"\nipProtocol = "tcp"\nfromPort = {4000 + i}\ncidrIp = "{cidr}"\n')
    out.append(f'[[filters.networkAcl.rules]]\nruleNumber = 32000\nruleAction = "allow"\ndirection = "{d}"\nipProtocol = "all"\ncidrIp = "0.0.0.0/0"\n')
    acl += 1
assert n + acl == 1000, (n, acl)
open(sys.argv[1], "w").write("\n".join(out))
PY

flows() {
  ip netns exec $B "$X" gateway status --output json | python3 -c "import json,sys; f=json.load(sys.stdin).get('filters') or {}; print(f.get('flows', 0))"
}

declare -A T1 T4 R F0 F1
# link NAME FILTERS (0: none, 1: the 1,000 rules, 2: the rules and a flow log)
link() {
  for s in a b; do echo "flow_log_file = \"$work/flow-log-$s.txt\"" > "$work/gateway-$s"; done
  rm -f "$work/extra-b"
  if [ "$2" != 0 ]; then cp "$work/filters.toml" "$work/extra-b"; fi
  if [ "$2" = 2 ]; then
    printf '[filters.flowLogs.l1]\naccountId = "111122223333"\ninterfaceId = "l1"\n' >> "$work/extra-b"
  fi
  link_up
  ip -n $A route replace 10.1.0.1/32 via 169.254.0.1 src 10.0.0.1
  ip -n $B route replace 10.0.0.1/32 via 169.254.0.0 src 10.1.0.1
  # 100,000 flows of b's own (UDP from two source ports to 50,000 ports of a), opened again before
  # each measurement: unanswered, they live 30 s.
  fill() {
    [ "$2" != 0 ] || return 0
    ip netns exec $B python3 - <<'PY'
import socket, time
for sport in (40001, 40002):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("10.1.0.1", sport))
    for port in range(1024, 51024):
        s.sendto(b"x", ("10.0.0.1", port))
        if port % 500 == 0:
            time.sleep(0.002)  # paced: the TAP's queue is not overrun
PY
    for _ in $(seq 100); do [ "$(flows)" -ge 100000 ] && break; sleep 0.1; done
  }
  fill "$1" "$2"; F0[$1]=$(flows)
  T1[$1]=$(tput 10.1.0.1 1 10.0.0.1)
  fill "$1" "$2"; T4[$1]=$(tput 10.1.0.1 4 10.0.0.1)
  fill "$1" "$2"; R[$1]=$(rtt 10.1.0.1 10.0.0.1)
  F1[$1]=$(flows)
  echo "$1: ${T1[$1]} / ${T4[$1]} Gbit/s, ${R[$1]} us, flows ${F0[$1]} -> ${F1[$1]}" >&2
  link_down
}
link plain 0
link filtered 1
link logged 2

table=$(python3 <<PY
t1={"plain":${T1[plain]},"filtered":${T1[filtered]},"logged":${T1[logged]}}
t4={"plain":${T4[plain]},"filtered":${T4[filtered]},"logged":${T4[logged]}}
r={"plain":${R[plain]},"filtered":${R[filtered]},"logged":${R[logged]}}
f={"plain":"${F0[plain]}","filtered":"${F0[filtered]} -> ${F1[filtered]}","logged":"${F0[logged]} -> ${F1[logged]}"}
print("| link | flows in b's table (before -> after) | TCP 1 stream Gbit/s | TCP 4 streams Gbit/s | median RTT us | 1 stream vs no filters | 4 streams vs no filters |")
print("|---|---:|---:|---:|---:|---:|---:|")
for name,k in (("no filters","plain"),("1,000 rules, 100,000 flows","filtered"),("the same, flow log on","logged")):
    print(f"| {name} | {f[k]} | {t1[k]:.2f} | {t4[k]:.2f} | {r[k]:.0f} | {t1[k]/t1['plain']:.0%} | {t4[k]/t4['plain']:.0%} |")
PY
)
report bench/link/filters.sh "$table"
