#!/usr/bin/env bash
# The leader's failover on PostgreSQL: three replicas (release build) on a private cluster;
# RUNS times (default 10), SIGKILL the leader and time until another replica holds the lease
# (polling `xconnect cluster status` every 50 ms), then start the killed one again. Prints each
# time and the median.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p xconnect
bin=./target/release/xconnect
runs=${RUNS:-10}
. scripts/postgres-cluster.sh
work=$(mktemp -d /tmp/xc-failover.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  pg_cluster_stop
  rm -rf "$work"
}
trap cleanup EXIT
pg_cluster_start
pg_createdb xconnect
export XCONNECT_DATABASE="$PG_BASE/xconnect" XCONNECT_LOG=warn
start() { # replica number
  mkdir -p -m 700 "$work/r$1"
  [ "$1" = 1 ] || cp "$work/r1/master.key" "$work/r$1/"
  "$bin" server --listen "127.0.0.1:$((17700 + $1))" --data-dir "$work/r$1" >"$work/r$1.log" 2>&1 &
  pids[$1]=$!
  disown "$!" # no "Killed" line from the shell when the bench kills it
}
start 1
until [ -s "$work/r1/operator-credentials.json" ]; do sleep 0.1; done
start 2
start 3
export AWS_ACCESS_KEY_ID=$(jq -r .accessKeyId "$work/r1/operator-credentials.json")
export AWS_SECRET_ACCESS_KEY=$(jq -r .secretAccessKey "$work/r1/operator-credentials.json")
status() { # through replica $1: the leader's address, or nothing
  XCONNECT_ENDPOINT="http://127.0.0.1:$((17700 + $1))" "$bin" cluster status --output json 2>/dev/null |
    jq -r '(.leader // "") as $l | .replicas[] | select(.id == $l) | .address' || true
}
times=()
for run in $(seq "$runs"); do
  leader=""
  until [ -n "$leader" ]; do
    leader=$(status 1)
    [ -n "$leader" ] || leader=$(status 2)
    [ -n "$leader" ] || sleep 0.05
  done
  n=$(( ${leader##*:} - 17700 ))
  other=$(( n % 3 + 1 ))
  # Every replica up and beating before the cut.
  sleep 1.5
  t0=$(date +%s%N)
  kill -9 "${pids[$n]}"
  while :; do
    now=$(status "$other")
    if [ -n "$now" ] && [ "$now" != "$leader" ]; then break; fi
    sleep 0.05
  done
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  echo "run $run: leader $leader killed; $now leads after $ms ms"
  times+=("$ms")
  start "$n"
done
printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "median of %d: %d ms (min %d, max %d)\n", NR, m, a[1], a[NR]}'
