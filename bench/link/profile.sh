#!/usr/bin/env bash
# Where a link's time goes on this machine, against what the machine allows:
#   sudo bash bench/link/profile.sh [--record]
# 1. The cipher's limit: one core's Gbit/s of MTU-sized frames protected and validated by the
#    link's SecY (xc-macsec's example cipher_speed: GCM-AES-XPN-256, the link's suite), and
#    what that allows a link whose two ends share this machine's cores (every byte protected
#    once and validated once).
# 2. Throughput: one TCP stream through a default link for 10 s, the whole machine sampled for
#    4 s in the middle (perf record -a); the samples by what they are (the cipher, the kernel's
#    copies, the rest of the kernel in the link's threads, the link's own code, iperf3 and its
#    TCP, idle), and the link's rate against the cipher's limit.
# 3. Round trip: the machine's cost of waking a thread on another core (a pipe ping-pong between
#    two processes, back to back and after 5 ms idle, as the bench's pings are), then 200 pings
#    at 5 ms through a link by setting (defaults; idle_poll_ms = 1000) with the scheduler's
#    events recorded (perf sched record), each round trip cut at its wake-ups: ping wakes link
#    a's thread, which sends to b and wakes b's thread, which answers (a takes the answer while
#    busy polling) and ping is woken. Medians per part, and how many wake-ups found their core
#    halted (running the idle task).
# Prints the tables; --record appends them to bench/RESULTS.md. Needs root, two cores and perf
# (linux-perf, installed when missing). Everything it creates is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
record=0; [ "${1:-}" = "--record" ] && record=1
secs=10
A=xcb-a; B=xcb-b
work=$(mktemp -d)
. bench/link/lib.sh
trap bench_cleanup EXIT
[ "$(id -u)" -eq 0 ] || { echo "bench/link/profile.sh needs root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
need=""
for c in iperf3:iperf3 ping:iputils-ping perf:linux-perf; do
  command -v "${c%%:*}" >/dev/null || need="$need ${c#*:}"
done
if [ -n "$need" ]; then apt-get update -q >/dev/null; apt-get install -y -q --no-install-recommends $need >/dev/null; fi
cargo build --quiet --release -p xconnect -p xc-macsec --example cipher_speed
X="$root/target/release/xconnect"

# 1. The cipher.
read -r _ protect _ validate < <("$root/target/release/examples/cipher_speed" 3)
cores=$(nproc)
limit=$(python3 -c "print('%.1f' % ($cores / (1/$protect + 1/$validate)))")
echo "cipher: protect $protect, validate $validate Gbit/s per core; a link on $cores cores: $limit Gbit/s" >&2

bench_netns xcb-va xcb-vb

# 2. Throughput, sampled.
for s in a b; do : > "$work/gateway-$s"; done
link_up
ip netns exec "$B" iperf3 -s -1 -B 169.254.0.1 >/dev/null 2>&1 &
srv=$!
for _ in $(seq 50); do ip netns exec "$B" ss -ltn | grep -q ':5201' && break; sleep 0.1; done
ip netns exec "$A" iperf3 -c 169.254.0.1 -t "$secs" -J > "$work/iperf.json" &
cli=$!
sleep 3
# (The host's steal time over the window: a VM's vCPUs may be taken away meanwhile.)
steal0=$(awk '/^cpu /{print $9}' /proc/stat)
perf record -a -g -F 2999 -o "$work/tput.data" -- sleep 4 >/dev/null 2>&1
steal=$(python3 -c "print('%.1f' % (($(awk '/^cpu /{print $9}' /proc/stat) - $steal0) / $(getconf CLK_TCK) / 4 / $(nproc) * 100))")
wait $cli; wait $srv 2>/dev/null || true
gbits=$(python3 -c "import json,sys; print('%.2f' % (json.load(open(sys.argv[1]))['end']['sum_received']['bits_per_second']/1e9))" "$work/iperf.json")
link_down
perf report -i "$work/tput.data" --no-children -g none --sort comm,dso,sym --stdio 2>/dev/null \
  > "$work/tput.txt"
tput_table=$(python3 - "$work/tput.txt" "$gbits" "$limit" "$protect" "$validate" "$steal" <<'PY'
import re, sys
path, gbits, limit, protect, validate, steal = sys.argv[1], *map(float, sys.argv[2:])
parts, top = {}, []
order = ["the cipher (AES-GCM, in the link's threads)", "kernel copies to and from user memory, in the link's threads",
         "the rest of the kernel, in the link's threads", "the link's own code and libc",
         "iperf3 and its TCP (sender and receiver)", "idle", "anything else"]
for line in open(path):
    m = re.match(r"\s+([0-9.]+)%\s+(\S+)\s+(\S+)\s+\[(.)\]\s+(\S+)", line)
    if not m:
        continue
    share, comm, dso, kind, sym = float(m[1]), m[2], m[3], m[4], m[5]
    if comm.startswith("xc-link") and re.search(r"aes|gcm|ghash|gmult|CRYPTO_|aead_|_IV", sym):
        k = order[0]
    elif comm.startswith("xc-link") and kind == "k" and re.search(r"copy_(from|to)_iter|copy_user|memcpy", sym):
        k = order[1]
    elif comm.startswith("xc-link") and kind == "k":
        k = order[2]
    elif comm.startswith("xc-link"):
        k = order[3]
    elif comm.startswith("iperf3"):
        k = order[4]
    elif comm.startswith("swapper"):
        k = order[5]
    else:
        k = order[6]
    parts[k] = parts.get(k, 0) + share
    if comm.startswith("xc-link"):
        top.append((share, "kernel" if kind == "k" else dso, sym))
print(f"One TCP stream through a default link: **{gbits:.2f} Gbit/s**; this machine's cipher limit for "
      f"a link (protect {protect:.1f}, validate {validate:.1f} Gbit/s per core, {limit:.1f} Gbit/s on "
      f"all cores): the link is at **{100 * gbits / limit:.0f}%** of it.")
print()
print(f"The host took {steal:.1f}% of the vCPUs' time meanwhile (steal, /proc/stat).")
print()
print("| where the machine's time went (4 s of both cores, perf record -a) | share |")
print("|---|---:|")
for k in order:
    print(f"| {k} | {parts.get(k, 0):.1f}% |")
print()
print("| the link's threads' top functions | in | share |")
print("|---|---|---:|")
for share, where, sym in sorted(top, reverse=True)[:15]:
    print(f"| `{sym}` | {where} | {share:.1f}% |")
PY
)
echo "$tput_table"

# 3. Round trips: the machine's wake-ups, then a link's, by setting.
wake_table=$(python3 - <<'PY'
import os, statistics, time
def pingpong(cpu_a, cpu_b, gap, n=300):
    a2b_r, a2b_w = os.pipe(); b2a_r, b2a_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.sched_setaffinity(0, {cpu_b})
        while (d := os.read(a2b_r, 1)) != b"q":
            os.write(b2a_w, d)
        os._exit(0)
    os.sched_setaffinity(0, {cpu_a})
    rtts = []
    for _ in range(n):
        time.sleep(gap)
        t = time.perf_counter_ns()
        os.write(a2b_w, b"x"); os.read(b2a_r, 1)
        rtts.append((time.perf_counter_ns() - t) / 1000)
    os.write(a2b_w, b"q"); os.waitpid(pid, 0)
    return statistics.median(rtts[10:])
print("| pipe round trip between two processes (two wake-ups), median us | back to back | after 5 ms idle |")
print("|---|---:|---:|")
for name, a, b in (("both on one core", 0, 0), ("on two cores", 0, 1)):
    print(f"| {name} | {pingpong(a, b, 0):.1f} | {pingpong(a, b, 0.005):.1f} |")
PY
)
echo "$wake_table"

rtt_rows=""
for setting in "" "idle_poll_ms = 1000"; do
  for s in a b; do echo "$setting" > "$work/gateway-$s"; done
  link_up
  veth=$(rtt 10.200.0.2)
  median=$(rtt 169.254.0.1)
  tid() { for t in /proc/$(pgrep -f "$work/gw-$1.toml")/task/*; do if grep -q '^xc-link' "$t/comm"; then basename "$t"; fi; done | head -1; }
  ta=$(tid a); tb=$(tid b)
  perf sched record -o "$work/sched.data" -- ip netns exec "$A" ping -q -c 200 -i 0.005 169.254.0.1 >/dev/null 2>&1
  perf script -i "$work/sched.data" -F tid,cpu,time,event,trace 2>/dev/null > "$work/sched.txt"
  link_down
  rtt_rows+=$(python3 - "$work/sched.txt" "$ta" "$tb" "${setting:-defaults}" "$median" "$veth" <<'PY'
import re, statistics, sys
path, ta, tb, name, median, veth = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5]), float(sys.argv[6])
ev = []  # (time us, kind, tid, cpu, halted)
running = {}  # cpu -> pid running
for line in open(path):
    m = re.match(r"\s*(\d+)\s+\[(\d+)\]\s+([0-9.]+):\s+sched:(sched_waking|sched_switch):\s+(.*)", line)
    if not m:
        continue
    t, kind, rest = float(m[3]) * 1e6, m[4], m[5]
    if kind == "sched_switch":
        n = int(re.search(r"next_pid=(\d+)", rest)[1])
        running[int(m[2])] = n
        ev.append((t, "run", n, None))
    else:
        pid = int(re.search(r"\bpid=(\d+)", rest)[1])
        comm = re.search(r"comm=(\S+)", rest)[1]
        target = int(re.search(r"target_cpu=(\d+)", rest)[1])
        ev.append((t, "wake", pid, (comm, running.get(target, 0) == 0)))
parts = [[] for _ in range(5)]
halted = woken = 0
i = 0
def find(i, kind, pred):
    while i < len(ev):
        if ev[i][1] == kind and pred(ev[i]):
            return i
        i += 1
    return None
while True:
    i0 = find(i, "wake", lambda e: e[2] == ta)
    if i0 is None:
        break
    i1 = find(i0, "run", lambda e: e[2] == ta)
    i2 = i1 is not None and find(i1, "wake", lambda e: e[2] == tb)
    i3 = i2 and find(i2, "run", lambda e: e[2] == tb)
    i4 = i3 and find(i3, "wake", lambda e: e[3][0] == "ping")
    i5 = i4 and find(i4, "run", lambda e: e[2] == ev[i4][2])
    if not i5:
        break
    ts = [ev[k][0] for k in (i0, i1, i2, i3, i4, i5)]
    if ts[5] - ts[0] < 2000:
        for p in range(5):
            parts[p].append(ts[p + 1] - ts[p])
        for k in (i0, i2, i4):
            woken += 1
            halted += ev[k][3][1]
    i = i5
med = [statistics.median(p) if p else float("nan") for p in parts]
print(f"| {name} | {median - veth:.0f} | {len(parts[0])} | {med[0]:.0f} | {med[1]:.0f} | {med[2]:.0f} | {med[3]:.0f} | {med[4]:.0f} | {sum(med):.0f} | {100 * halted / max(woken, 1):.0f}% |")
PY
)$'\n'
done
rtt_table="| link setting | added RTT over veth, us (ping, not traced) | round trips traced | a's thread woken -> running | a reads, protects, sends -> b woken | b's thread woken -> running | the answer, both ends -> ping woken | ping woken -> running | traced round trip, us | wake-ups that found their core halted |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
${rtt_rows%$'\n'}"
echo "$rtt_table"

report "bench/link/profile.sh: where a link's time goes" "$tput_table

$wake_table

Ping's round trip through the link, median us of each part (perf sched record):

$rtt_table"
