#!/usr/bin/env bash
# RSS of a process serving the node-shaped registry (1,122 series) through Monitor.Core's writer and through
# prometheus-net 8.2.1 (issue 19): the same minimal Kestrel host, workstation GC and packaging/systemd/runtime.env, one
# process per writer, each scraped SCRAPES times back to back (default 2,000) by curl over one keep-alive connection,
# then VmRSS. Also prints the CPU each spent per scrape (utime+stime from /proc).
#
# Usage: bench/prometheus-net-rss.sh [scrapes] [runs]    (default 2000 scrapes, 3 runs each, alternating)
set -euo pipefail
cd "$(dirname "$0")/.."
set -a
# shellcheck source=packaging/systemd/runtime.env disable=SC1091 # a plain KEY=VALUE file, read from the repository root
source packaging/systemd/runtime.env
set +a
scrapes=${1:-2000} runs=${2:-3}
dotnet build bench/Monitor.Benchmarks -c Release -v q -nologo >/dev/null
dll=bench/Monitor.Benchmarks/bin/Release/net10.0/Monitor.Benchmarks.dll
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
ticks() { awk '{ split($0, a, ") "); split(a[2], f, " "); print f[12] + f[13] }' "/proc/$1/stat"; }
work=$(mktemp -d)
pid=
trap '[[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
for run in $(seq "$runs"); do
  for writer in ours prometheus-net; do
    port=$(free_port)
    dotnet "$dll" exposition-serve "$writer" "$port" >"$work/log" 2>&1 &
    pid=$!
    for _ in $(seq 200); do curl -fs -o /dev/null "http://127.0.0.1:$port/metrics" && break; sleep 0.1; done
    for _ in $(seq "$scrapes"); do echo "url = \"http://127.0.0.1:$port/metrics\""; echo 'output = "/dev/null"'; done >"$work/cfg"
    t0=$(ticks "$pid")
    curl -s --config "$work/cfg"
    t1=$(ticks "$pid")
    sleep 1
    rss=$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")
    printf 'run %s %-15s rss_mb %s cpu_ms_per_scrape %s\n' "$run" "$writer" "$rss" "$(awk -v d=$((t1 - t0)) -v n="$scrapes" 'BEGIN { printf "%.3f", d * 10 / n }')"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=
  done
done
