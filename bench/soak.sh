#!/usr/bin/env bash
# Soak: the agent as shipped, with 8 simulated GPUs and every default collector, scraped 10 times a second for an
# hour. Every minute it samples RSS and the CPU used in that minute; at the end it fits a line to RSS (after the
# warm-up) and fails when RSS grows by 1 % of its mean per hour or more: a leak.
#
# Usage: bench/soak.sh    (DURATION=3600 seconds, RATE=10 scrapes/s, GPUS=8, WARMUP=300 seconds left out of the
#                          fit, AGENT=path/to/monitor-agent; output in OUT=out/soak: samples.csv and summary.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
# The runtime settings the systemd unit gives the agent (packaging/systemd/runtime.env), so it runs as shipped.
set -a
# shellcheck source=packaging/systemd/runtime.env disable=SC1091 # a plain KEY=VALUE file, read from the repository root
source packaging/systemd/runtime.env
set +a

duration=${DURATION:-3600}
rate=${RATE:-10}
gpus=${GPUS:-8}
warmup=${WARMUP:-300}
out=${OUT:-out/soak}
mkdir -p "$out"

agent=${AGENT:-}
if [[ -z $agent ]]; then
  dotnet publish src/Monitor.Agent -c Release -r linux-x64 -p:MonitorTrim=true -o "$out/agent" -v q -nologo >/dev/null
  agent=$out/agent/monitor-agent
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
"$agent" --web.listen-address="127.0.0.1:$port" --gpu.simulate="$gpus" 2>"$out/agent.log" &
pid=$!
scraper=
cleanup() { kill "$pid" ${scraper:+"$scraper"} 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/metrics" && break; sleep 0.1; done

# One curl, one keep-alive connection, paced at $rate transfers a second, with Prometheus's headers; it prints each
# transfer's HTTP code so failures are counted.
accept='application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'
config=$out/urls.cfg
for _ in $(seq $((duration * rate + rate * 60))); do
  echo "url = \"http://127.0.0.1:$port/metrics\""
  echo 'output = "/dev/null"'
done >"$config"
curl -s --rate "$rate/s" -H "Accept: $accept" -H 'Accept-Encoding: gzip' -w '%{http_code}\n' --config "$config" >"$out/codes.txt" &
scraper=$!

ticks() { awk '{ split($0, a, ") "); split(a[2], f, " "); print f[12] + f[13] }' "/proc/$pid/stat"; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"; }
echo "minute,rss_mb,cpu_percent,threads,scrapes" >"$out/samples.csv"
start=$(date +%s)
last=$(ticks)
for minute in $(seq 1 $((duration / 60))); do
  sleep $((start + minute * 60 - $(date +%s)))
  now=$(ticks)
  threads=$(awk '/^Threads:/ { print $2 }' "/proc/$pid/status")
  scrapes=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^monitor_agent_scrapes_total/ { s += $2 } END { print s + 0 }')
  awk -v m="$minute" -v r="$(rss_kib)" -v d=$((now - last)) -v t="$threads" -v s="$scrapes" \
    'BEGIN { printf "%d,%.2f,%.3f,%d,%d\n", m, r / 1024, d / 100 / 60 * 100, t, s }' >>"$out/samples.csv"
  last=$now
done

failed=$(grep -vc '^200$' "$out/codes.txt" || true)
total=$(wc -l <"$out/codes.txt")
awk -F, -v warm=$((warmup / 60)) -v failed="$failed" -v total="$total" '
  NR > 1 && $1 > warm { n++; x += $1; y += $2; xx += $1 * $1; xy += $1 * $2; cpu += $3 }
  NR > 1 { last = $2; if ($1 == 1) first = $2 }
  END {
    if (n < 2) { print "too short: need two samples after the warm-up"; exit 1 }
    slope = (n * xy - x * y) / (n * xx - x * x)         # MB per minute
    mean = y / n
    per_hour = slope * 60 / mean * 100                  # % of the mean per hour
    printf "scrapes: %d (%d failed)\n", total, failed
    printf "rss: first minute %.1f MB, last %.1f MB, mean after warm-up %.1f MB\n", first, last, mean
    printf "rss slope after warm-up: %.4f MB/min = %.2f %%/h (limit 1 %%/h): %s\n", slope, per_hour, (per_hour < 1 ? "no leak" : "LEAK")
    printf "cpu: %.2f %% of a core on average after warm-up\n", cpu / n
    exit (per_hour < 1 && failed == 0) ? 0 : 1
  }' "$out/samples.csv" | tee "$out/summary.txt"
