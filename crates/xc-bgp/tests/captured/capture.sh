#!/bin/bash
# Records what BIRD, FRR and GoBGP send to a BGP peer, as test vectors for xc-bgp
# (tests/captured.rs decodes every message with xc-bgp and with bgpkit-parser and compares).
#
#   sudo bash crates/xc-bgp/tests/captured/capture.sh     # rewrites bird.hex, frr.hex, gobgp.hex
#
# Needs root, bird2, frr, gobgpd and python3. Each router runs in namespace xccap-b and talks
# to capture_peer.py in xccap-a over a veth, on an IPv4 and an IPv6 session. It announces
# 10.50.0.0/24, 10.51.0.0/16 (community 7224:7100, MED 50), 10.52.0.0/24, fd50::/48 and
# fd51::/48; then it withdraws 10.52.0.0/24 and the IPv6 prefixes, asks for a route refresh
# (BIRD and FRR; GoBGP's soft reset in never sends one: it keeps an Adj-RIB-In), and shuts the
# IPv4 session down (a Cease NOTIFICATION). Namespaces are removed on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
A=xccap-a
B=xccap-b
work=$(mktemp -d)
chmod 755 "$work" # FRR runs as user frr
pids=()

teardown() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    pids=()
    ip netns del "$A" 2>/dev/null || true
    ip netns del "$B" 2>/dev/null || true
}
trap 'teardown; rm -rf "$work"' EXIT

setup() {
    teardown
    ip netns add "$A"
    ip netns add "$B"
    ip link add xccap-a type veth peer name xccap-b
    ip link set xccap-a netns "$A"
    ip link set xccap-b netns "$B"
    ip -n "$A" addr add 169.254.150.1/30 dev xccap-a
    ip -n "$B" addr add 169.254.150.2/30 dev xccap-b
    ip -n "$A" addr add fd00:150::1/64 dev xccap-a nodad
    ip -n "$B" addr add fd00:150::2/64 dev xccap-b nodad
    for ns in "$A" "$B"; do
        ip -n "$ns" link set lo up
        ip -n "$ns" link set "${ns}" up
    done
}

# Waits (up to 60 s) until the capture file has a line matching the pattern.
wait_for() {
    local file=$1 pattern=$2 what=$3
    for _ in $(seq 600); do
        if grep -Eq "$pattern" "$file" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "timed out waiting for $what; captured so far (peer, type, length):" >&2
    awk '{print "  " $1, substr($2, 37, 2), length($2) / 2}' "$file" >&2
    tail -n 5 "$work"/*.log >&2
    return 1
}

# Message type in a capture line (the 19th byte of the message).
updates_from() { # file address
    awk -v a="$2" '$1 == a && substr($2, 37, 2) == "02"' "$1" | wc -l
}

start_peer() { # out
    : > "$1"
    ip netns exec "$A" python3 "$here/capture_peer.py" "$1" 169.254.150.1 fd00:150::1 > "$work/peer.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
        [ "$(grep -c listening "$work/peer.log" || true)" = 2 ] && return 0
        sleep 0.1
    done
    echo "capture peer did not start" >&2
    return 1
}

# The sequence every router goes through, given commands for each step.
script() { # out name withdraw refresh shutdown
    local out=$1
    wait_for "$out" '^169\.254\.150\.2 .{36}02' "$2: an IPv4 UPDATE"
    wait_for "$out" '^fd00:150::2 .{36}02' "$2: an IPv6 UPDATE"
    sleep 2 # let the initial table and End-of-RIB arrive
    eval "$3"
    sleep 2
    if [ -n "$4" ]; then
        eval "$4"
        wait_for "$out" '^169\.254\.150\.2 .{36}05' "$2: a ROUTE-REFRESH"
    fi
    eval "$5"
    wait_for "$out" '^169\.254\.150\.2 .{36}03' "$2: a NOTIFICATION"
}

capture_bird() {
    setup
    local out="$work/bird.hex"
    start_peer "$out"
    cat > "$work/bird.conf" <<'CONF'
router id 169.254.150.2;
protocol device { }
protocol static s4 { ipv4; route 10.50.0.0/24 blackhole; route 10.51.0.0/16 blackhole; }
protocol static s4b { ipv4; route 10.52.0.0/24 blackhole; }
protocol static s6 { ipv6; route fd50::/48 blackhole; route fd51::/48 blackhole; }
protocol bgp cap4 {
  local 169.254.150.2 as 65010; neighbor 169.254.150.1 as 65001;
  graceful restart on; connect delay time 1;
  ipv4 {
    import all;
    export filter { if net = 10.51.0.0/16 then { bgp_community.add((7224,7100)); bgp_med = 50; } accept; };
  };
}
protocol bgp cap6 {
  local fd00:150::2 as 65010; neighbor fd00:150::1 as 65001; connect delay time 1;
  ipv6 { import all; export all; };
}
CONF
    ip netns exec "$B" bird -f -c "$work/bird.conf" -s "$work/bird.ctl" -P "$work/bird.pid" &
    pids+=($!)
    local c="birdc -s $work/bird.ctl"
    script "$out" bird "$c disable s4b; $c disable s6" "$c reload in cap4" "$c disable cap4"
    cp "$out" "$here/bird.hex"
}

capture_frr() {
    setup
    local out="$work/frr.hex" d="$work/frr"
    start_peer "$out"
    mkdir -p "$d/vty"
    echo "hostname cap" > "$d/zebra.conf"
    cat > "$d/bgpd.conf" <<'CONF'
hostname cap
ip prefix-list P51 seq 5 permit 10.51.0.0/16
route-map ALL permit 10
route-map OUT permit 10
 match ip address prefix-list P51
 set community 7224:7100
 set metric 50
route-map OUT permit 20
router bgp 65020
 bgp router-id 169.254.150.2
 no bgp default ipv4-unicast
 no bgp network import-check
 bgp graceful-restart
 neighbor 169.254.150.1 remote-as 65001
 neighbor 169.254.150.1 timers connect 1
 neighbor fd00:150::1 remote-as 65001
 neighbor fd00:150::1 timers connect 1
 address-family ipv4 unicast
  network 10.50.0.0/24
  network 10.51.0.0/16
  network 10.52.0.0/24
  neighbor 169.254.150.1 activate
  neighbor 169.254.150.1 route-map ALL in
  neighbor 169.254.150.1 route-map OUT out
 exit-address-family
 address-family ipv6 unicast
  network fd50::/48
  network fd51::/48
  neighbor fd00:150::1 activate
  neighbor fd00:150::1 route-map ALL in
  neighbor fd00:150::1 route-map ALL out
 exit-address-family
CONF
    chown -R frr:frr "$d"
    local common=(-u frr -g frr --vty_socket "$d/vty" -z "$d/zserv.api" -P 0)
    ip netns exec "$B" /usr/lib/frr/zebra "${common[@]}" -f "$d/zebra.conf" -i "$d/zebra.pid" > "$work/zebra.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do [ -S "$d/zserv.api" ] && break; sleep 0.1; done
    ip netns exec "$B" /usr/lib/frr/bgpd "${common[@]}" -f "$d/bgpd.conf" -i "$d/bgpd.pid" > "$work/bgpd.log" 2>&1 &
    pids+=($!)
    local v="ip netns exec $B vtysh --vty_socket $d/vty"
    script "$out" frr \
        "$v -c 'configure terminal' -c 'router bgp 65020' -c 'address-family ipv4 unicast' -c 'no network 10.52.0.0/24' -c 'exit-address-family' -c 'address-family ipv6 unicast' -c 'no network fd50::/48' -c 'no network fd51::/48'" \
        "$v -c 'clear ip bgp 169.254.150.1 soft in'" \
        "$v -c 'configure terminal' -c 'router bgp 65020' -c 'neighbor 169.254.150.1 shutdown'"
    cp "$out" "$here/frr.hex"
}

capture_gobgp() {
    setup
    local out="$work/gobgp.hex"
    start_peer "$out"
    cat > "$work/gobgpd.toml" <<'CONF'
[global.config]
as = 65030
router-id = "169.254.150.2"
port = 179

[[neighbors]]
[neighbors.config]
neighbor-address = "169.254.150.1"
peer-as = 65001
[neighbors.graceful-restart.config]
enabled = true
restart-time = 120
[[neighbors.afi-safis]]
[neighbors.afi-safis.config]
afi-safi-name = "ipv4-unicast"
[neighbors.afi-safis.mp-graceful-restart.config]
enabled = true

[[neighbors]]
[neighbors.config]
neighbor-address = "fd00:150::1"
peer-as = 65001
[[neighbors.afi-safis]]
[neighbors.afi-safis.config]
afi-safi-name = "ipv6-unicast"
CONF
    ip netns exec "$B" gobgpd -f "$work/gobgpd.toml" -t toml -p --api-hosts "unix://$work/gobgpd.sock" --pprof-disable > "$work/gobgpd.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do [ -S "$work/gobgpd.sock" ] && break; sleep 0.1; done
    local g="ip netns exec $B gobgp --target unix://$work/gobgpd.sock"
    $g global rib add 10.50.0.0/24 -a ipv4
    $g global rib add 10.51.0.0/16 community 7224:7100 med 50 -a ipv4
    $g global rib add 10.52.0.0/24 -a ipv4
    $g global rib add fd50::/48 -a ipv6
    $g global rib add fd51::/48 -a ipv6
    script "$out" gobgp \
        "$g global rib del 10.52.0.0/24 -a ipv4; $g global rib del fd50::/48 -a ipv6; $g global rib del fd51::/48 -a ipv6" \
        "" \
        "$g neighbor 169.254.150.1 disable"
    cp "$out" "$here/gobgp.hex"
}

for r in "${@:-bird frr gobgp}"; do
    for x in $r; do
        echo "capturing $x"
        "capture_$x"
        teardown
        echo "$x: $(wc -l < "$here/$x.hex") messages"
    done
done
