#!/usr/bin/env bash
# Side-by-side cost of monitor-agent and node_exporter on this machine.
#
# Both run with the same host collectors (cpu, stat, meminfo, loadavg, diskstats, filesystem, netdev, pressure,
# hwmon, thermal_zone), on 127.0.0.1, and are scraped the same number of times over one keep-alive connection with
# Prometheus's own request headers (OpenMetrics preferred, gzip). For each we report CPU seconds per 1,000 scrapes
# (utime+stime of the server process from /proc), p50/p99 scrape latency as curl measures it, RSS after the run, and
# RSS after STEADY seconds (default 150) of one scrape every 15 s, as Prometheus scrapes.
#
# Usage: bench/compare-node-exporter.sh [scrapes]    (default 2000; also WARMUP=200, AGENT=path/to/monitor-agent,
#        COLLECTORS="cpu meminfo ..." for a set of collectors on both, or COLLECTORS=defaults for both at their defaults)
#        Without AGENT it publishes the shipped Native AOT agent into out/aot; AGENT_BUILD=jit publishes the trimmed
#        single-file JIT build (the fallback) instead.
set -euo pipefail
cd "$(dirname "$0")/.."
# The runtime settings the systemd unit gives the agent (packaging/systemd/runtime.env), so it runs as shipped.
set -a
# shellcheck source=packaging/systemd/runtime.env disable=SC1091 # a plain KEY=VALUE file, read from the repository root
source packaging/systemd/runtime.env
set +a

scrapes=${1:-2000}
warmup=${WARMUP:-200}
out=${OUT:-out/bench}
mkdir -p "$out"

if ! command -v prometheus-node-exporter >/dev/null; then
  echo "installing prometheus-node-exporter" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus-node-exporter >/dev/null
fi

agent=${AGENT:-}
if [[ -z $agent && ${AGENT_BUILD:-aot} == jit ]]; then
  # The fallback form: trimmed, self-contained, single file, JIT-compiled (docs/performance.md).
  dotnet publish src/Monitor.Agent -c Release -r linux-x64 -p:MonitorTrim=true -o "$out/agent" -v q -nologo >/dev/null
  agent=$out/agent/monitor-agent
elif [[ -z $agent ]]; then
  # The shipped form: Native AOT, into out/aot where packaging takes it from (docs/performance.md, "Native AOT").
  dotnet publish src/Monitor.Agent -c Release -r linux-x64 -p:MonitorAot=true -o out/aot -v q -nologo >/dev/null
  agent=out/aot/monitor-agent
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
read -ra collectors <<<"${COLLECTORS:-cpu stat meminfo loadavg diskstats filesystem netdev pressure hwmon thermal_zone}"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

ne_port=$(free_port)
ne_flags=(--web.listen-address="127.0.0.1:$ne_port")
if [[ ${collectors[*]} != defaults ]]; then
  ne_flags+=(--collector.disable-defaults)
  for c in "${collectors[@]}"; do ne_flags+=("--collector.$c"); done
fi
prometheus-node-exporter "${ne_flags[@]}" 2>"$out/node_exporter.log" &
pids+=($!)
ne_pid=$!

ag_port=$(free_port)
ag_flags=(--web.listen-address="127.0.0.1:$ag_port")
if [[ ${collectors[*]} != defaults ]]; then
  ag_flags+=(--collector.disable-defaults)
  for c in "${collectors[@]}"; do ag_flags+=("--collector.$c"); done
fi
"$agent" "${ag_flags[@]}" 2>"$out/agent.log" &
pids+=($!)
ag_pid=$!

wait_up() { for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$1/metrics" && return 0; sleep 0.1; done; echo "port $1 did not come up" >&2; exit 1; }
wait_up "$ne_port"
wait_up "$ag_port"

accept='application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'

# One curl process, many URLs: curl reuses the connection and prints one line per transfer.
scrape() { # port count -> latencies in seconds, one per line
  local cfg
  cfg=$(mktemp)
  for _ in $(seq "$2"); do echo "url = \"http://127.0.0.1:$1/metrics\""; echo 'output = "/dev/null"'; done >"$cfg"
  curl -s -H "Accept: $accept" -H 'Accept-Encoding: gzip' -w '%{time_total}\n' --config "$cfg"
  rm -f "$cfg"
}
cpu_ticks() { awk '{ split($0, a, ") "); split(a[2], f, " "); print f[12] + f[13] }' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
series() { curl -s "http://127.0.0.1:$1/metrics" | grep -vc '^#'; }
percentile() { sort -g | awk -v p="$1" '{ v[NR] = $1 } END { i = int(NR * p + 0.999999); if (i < 1) i = 1; printf "%.3f", v[i] * 1000 }'; }

measure() { # name pid port
  scrape "$3" "$warmup" >/dev/null
  local t0 t1
  t0=$(cpu_ticks "$2")
  scrape "$3" "$scrapes" >"$out/$1.latencies"
  t1=$(cpu_ticks "$2")
  local cpu p50 p99 rss n
  cpu=$(awk -v d=$((t1 - t0)) -v n="$scrapes" 'BEGIN { printf "%.3f", d / 100 / n * 1000 }')
  p50=$(percentile 0.50 <"$out/$1.latencies")
  p99=$(percentile 0.99 <"$out/$1.latencies")
  rss=$(awk -v k="$(rss_kib "$2")" 'BEGIN { printf "%.1f", k / 1024 }')
  n=$(series "$3")
  echo "$1 $cpu $p50 $p99 $rss $n"
}

ne=$(measure node_exporter "$ne_pid" "$ne_port")
ag=$(measure monitor-agent "$ag_pid" "$ag_port")

# Then both as Prometheus scrapes them, once every 15 s, for STEADY seconds (default 150; 0 skips this): RSS in that
# steady state, which is what a node pays for hours. The burst above leaves memory that both give back over time (Go's
# scavenger; the agent's minute-by-minute drop of unused executable pages, docs/performance.md "Memory").
steady=${STEADY:-150}
ne_steady=- ag_steady=-
if ((steady > 0)); then
  for _ in $(seq $((steady / 15))); do
    sleep 15
    curl -s -o /dev/null -H "Accept: $accept" -H 'Accept-Encoding: gzip' "http://127.0.0.1:$ne_port/metrics"
    curl -s -o /dev/null -H "Accept: $accept" -H 'Accept-Encoding: gzip' "http://127.0.0.1:$ag_port/metrics"
  done
  ne_steady=$(awk -v k="$(rss_kib "$ne_pid")" 'BEGIN { printf "%.1f", k / 1024 }')
  ag_steady=$(awk -v k="$(rss_kib "$ag_pid")" 'BEGIN { printf "%.1f", k / 1024 }')
fi

echo "scrapes: $scrapes (after $warmup warm-up), collectors: ${collectors[*]}, cores: $(nproc), steady: ${steady} s"
printf '%-15s %22s %10s %10s %9s %8s %15s\n' tool "cpu_s/1000_scrapes" p50_ms p99_ms rss_mb series rss_steady_mb
read -r _ ne_cpu ne_p50 ne_p99 ne_rss _ <<<"$ne"
read -r _ ag_cpu ag_p50 ag_p99 ag_rss _ <<<"$ag"
# shellcheck disable=SC2086
printf '%-15s %22s %10s %10s %9s %8s %15s\n' $ne "$ne_steady"
# shellcheck disable=SC2086
printf '%-15s %22s %10s %10s %9s %8s %15s\n' $ag "$ag_steady"
awk -v a="$ag_cpu" -v b="$ne_cpu" -v c="$ag_p50" -v d="$ne_p50" -v e="$ag_p99" -v f="$ne_p99" -v g="$ag_rss" -v h="$ne_rss" 'BEGIN {
  printf "%-15s %22.2f %10.2f %10.2f %9.2f\n", "ratio agent/ne", a / b, c / d, e / f, g / h }'
# Issue 2's CPU and latency targets; issue 18's memory ones (RSS no more than node_exporter's, never above 30 MB).
awk -v cpu="$ag_cpu" -v ne="$ne_cpu" -v p99="$ag_p99" -v rss="$ag_rss" -v ne_rss="$ne_rss" -v st="$ag_steady" -v ne_st="$ne_steady" 'BEGIN {
  printf "targets: cpu <= 0.5x node_exporter: %s; p99 <= 2 ms: %s; rss <= node_exporter after the burst: %s, steady: %s; rss <= 30 MB: %s\n",
    (cpu <= 0.5 * ne ? "met" : "MISSED"), (p99 <= 2 ? "met" : "MISSED"), (rss <= ne_rss ? "met" : "MISSED"),
    (st == "-" ? "not measured" : (st + 0 <= ne_st + 0 ? "met" : "MISSED")), (rss <= 30 ? "met" : "MISSED") }'
