# Helpers shared by bench/link's scripts, sourced after they set A and B (two network namespace
# names), work (a scratch directory) and X (the xconnect binary): the two namespaces joined by a
# veth (10.200.0.1 in A, 10.200.0.2 in B), iperf3 throughput and ping RTT from A, an xconnect link
# between them, and a table appended to bench/RESULTS.md.

bench_cleanup() {
  for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done
  pkill -f "$work/" 2>/dev/null || true
  ip netns del "$A" 2>/dev/null || true
  ip netns del "$B" 2>/dev/null || true
  rm -rf "$work"
}

# The namespaces and the veth between them: bench_netns VETH_A VETH_B
bench_netns() {
  ip netns del "$A" 2>/dev/null || true; ip netns del "$B" 2>/dev/null || true
  ip netns add "$A"; ip netns add "$B"
  ip link add "$1" netns "$A" type veth peer name "$2" netns "$B"
  ip -n "$A" addr add 10.200.0.1/24 dev "$1"; ip -n "$B" addr add 10.200.0.2/24 dev "$2"
  for n in "$A" "$B"; do ip -n "$n" link set lo up; done
  ip -n "$A" link set "$1" up; ip -n "$B" link set "$2" up
}

# iperf3 throughput in Gbit/s from A to TARGET in B: tput TARGET STREAMS [FROM]
tput() {
  local bind=()
  [ -n "${3:-}" ] && bind=(-B "$3")
  ip netns exec "$B" iperf3 -s -1 -B "$1" >/dev/null 2>&1 &
  local srv=$! out="" failed=""
  for _ in $(seq 100); do
    # (An answer without a result, as iperf3 sometimes gives on a failed start, is tried again.)
    out=$(ip netns exec "$A" iperf3 -c "$1" "${bind[@]}" -t "$secs" -P "$2" -J 2>/dev/null) \
      && grep -q '"sum_received"' <<<"$out" && break
    failed=$out; out=""
    sleep 0.1
  done
  if [ -z "$out" ]; then
    kill $srv 2>/dev/null || true
    echo "iperf3 could not measure $1 in 100 tries; the last said:" >&2
    echo "$failed" | grep '"error"' >&2 || true
    exit 1
  fi
  kill $srv 2>/dev/null || true
  wait $srv 2>/dev/null || true
  python3 -c "import json,sys; print('%.2f' % (json.loads(sys.argv[1])['end']['sum_received']['bits_per_second']/1e9))" "$out"
}

# CPU seconds (user and system, all threads) the processes whose command lines match PATTERN
# have used so far, from their own accounting (/proc/PID/stat): cpu_secs PATTERN
cpu_secs() {
  local ticks=0 pid t
  for pid in $(pgrep -f "$1" || true); do
    # (Fields after the command name, which is in parentheses: utime and stime are 12 and 13.)
    t=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12 + $13}') || t=0
    ticks=$((ticks + ${t:-0}))
  done
  python3 -c "import sys; print(int(sys.argv[1]) / $(getconf CLK_TCK))" "$ticks"
}

# Median ping RTT in microseconds from A to TARGET (after a warm-up): rtt TARGET [FROM]
rtt() {
  local from=()
  [ -n "${2:-}" ] && from=(-I "$2")
  ip netns exec "$A" ping -q -c 100 -i 0.005 "${from[@]}" "$1" >/dev/null 2>&1 || true
  ip netns exec "$A" ping -c 200 -i 0.005 "${from[@]}" "$1" | python3 -c "
import sys,re,statistics
v=[float(m.group(1)) for m in re.finditer(r'time=([0-9.]+)', sys.stdin.read())]
print('%.0f' % (statistics.median(v)*1000))"
}

# An xconnect link between A (169.254.0.0) and B (169.254.0.1), up and secured; each side's file
# gets the lines of $work/extra-a and $work/extra-b when they exist: link_up
link_up() {
  local s L Rm AD NS
  for s in a b; do
    if [ $s = a ]; then L=10.200.0.1; Rm=10.200.0.2; AD=169.254.0.0/31; NS=$A; else L=10.200.0.2; Rm=10.200.0.1; AD=169.254.0.1/31; NS=$B; fi
    {
      cat <<CFG
[gateway]
name = "bench-$s"
admin_listen = "127.0.0.1:7801"
CFG
      if [ -f "$work/gateway-$s" ]; then cat "$work/gateway-$s"; fi
      cat <<CFG
[[link]]
name = "l1"
underlay_local = "$L:4789"
underlay_remote = "$Rm:4789"
vni = 101
ckn = "00112233445566778899aabbccddeeff"
cak = "000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f"
address = "$AD"
CFG
      if [ -f "$work/extra-$s" ]; then cat "$work/extra-$s"; fi
    } > "$work/gw-$s.toml"
    XCONNECT_LOG=warn ip netns exec "$NS" "$X" gateway run --config "$work/gw-$s.toml" >"$work/gw-$s.log" 2>&1 &
  done
  for _ in $(seq 100); do
    ip netns exec "$A" "$X" gateway status --output json 2>/dev/null | grep -q '"state": "secured"' && break; sleep 0.1
  done
  for _ in $(seq 100); do ip -n "$A" link show xc-l1 >/dev/null 2>&1 && ip -n "$B" link show xc-l1 >/dev/null 2>&1 && break; sleep 0.1; done
}

# Stops the link's gateways and waits until they are gone.
link_down() {
  pkill -TERM -f "$work/gw-" || true
  for _ in $(seq 100); do pgrep -f "$work/gw-" >/dev/null || break; sleep 0.1; done
}

# Prints TABLE, and appends it to bench/RESULTS.md under a heading naming TITLE, the date and the
# machine when RECORD is 1: report TITLE TABLE
report() {
  echo "$2"
  if [ "$record" -eq 1 ]; then
    {
      echo
      echo "### $1, $(date -u +%Y-%m-%d), $(nproc) vCPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r)"
      echo
      echo "$2"
    } >> bench/RESULTS.md
  fi
}
