#!/usr/bin/env bash
# A/B of two agent builds on this machine: both run at once with their defaults and are scraped alternately in
# batches over keep-alive connections with Prometheus's headers, so that a machine whose speed drifts (other
# processes, a noisy host) treats both alike. Prints CPU ms per scrape (utime+stime from /proc), p50, p90 and p99.
#
# Usage: bench/ab.sh BUILD_A BUILD_B [rounds] [batch]    (default 10 rounds of 400 scrapes each per build)
set -euo pipefail
cd "$(dirname "$0")/.."
set -a
# shellcheck source=packaging/systemd/runtime.env disable=SC1091 # a plain KEY=VALUE file, read from the repository root
source packaging/systemd/runtime.env
set +a

a=$1 b=$2 rounds=${3:-10} batch=${4:-400}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
work=$(mktemp -d)
pa=$(free_port)
"$a" --web.listen-address="127.0.0.1:$pa" --collector.jobs.state-path="$work/ledger-a" 2>"$work/a.log" &
ia=$!
pb=$(free_port)
"$b" --web.listen-address="127.0.0.1:$pb" --collector.jobs.state-path="$work/ledger-b" 2>"$work/b.log" &
ib=$!
trap 'kill $ia $ib 2>/dev/null || true; rm -rf "$work"' EXIT
for port in "$pa" "$pb"; do
  for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/metrics" && break; sleep 0.1; done
done

accept='application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'
for port in "$pa" "$pb"; do
  for _ in $(seq "$batch"); do echo "url = \"http://127.0.0.1:$port/metrics\""; echo 'output = "/dev/null"'; done >"$work/$port.cfg"
done
ticks() { awk '{ split($0, a, ") "); split(a[2], f, " "); print f[12] + f[13] }' "/proc/$1/stat"; }
run() { curl -s -H "Accept: $accept" -H 'Accept-Encoding: gzip' -w '%{time_total}\n' --config "$work/$1.cfg"; }
run "$pa" >/dev/null
run "$pb" >/dev/null
ca=0 cb=0
for _ in $(seq "$rounds"); do
  t0=$(ticks $ia); run "$pa" >>"$work/a.lat"; t1=$(ticks $ia); ca=$((ca + t1 - t0))
  t0=$(ticks $ib); run "$pb" >>"$work/b.lat"; t1=$(ticks $ib); cb=$((cb + t1 - t0))
done
pct() { sort -g "$1" | awk -v p="$2" '{ v[NR] = $1 } END { i = int(NR * p + 0.999999); printf "%.3f", v[i] * 1000 }'; }
n=$((rounds * batch))
for side in a b; do
  ticks_used=$ca
  [[ $side == b ]] && ticks_used=$cb
  printf '%s cpu_ms %s p50 %s p90 %s p99 %s\n' "$side" "$(awk -v d="$ticks_used" -v n="$n" 'BEGIN { printf "%.3f", d * 10 / n }')" \
    "$(pct "$work/$side.lat" 0.5)" "$(pct "$work/$side.lat" 0.9)" "$(pct "$work/$side.lat" 0.99)"
done
