#!/usr/bin/env bash
# The agent's listener under hostile and heavy load (issues 12, 20, 22); the figures in docs/performance.md.
#
# Runs the shipped form (trimmed, self-contained, single file) on 127.0.0.1 with its default collectors and measures,
# with a Prometheus-style scraper (one scrape a second, OpenMetrics + gzip, its own keep-alive connection) running
# throughout each phase:
#   1. idle: scrape latency and RSS;
#   2. 200 concurrent scrapers (wrk -c200) back to back;
#   3. a slowloris client holding SLOWLORIS (10,000) connections that dribble a header line every 5 s;
#   4. with TLS and basic auth (bcrypt cost 10): 200 connections sending wrong passwords back to back.
# RSS is VmRSS from /proc, sampled every 5 s; "connections" is monitor_agent_http_connections.
#
# Each phase starts a fresh agent, so its RSS is its own.
#
# Usage: bench/listener.sh [seconds per phase]   (default 30; AGENT=path/to/monitor-agent, SLOWLORIS=10000,
#        PHASES="scrapers slowloris auth")
set -euo pipefail
cd "$(dirname "$0")/.."
# The runtime settings the systemd unit gives the agent (packaging/systemd/runtime.env), so it runs as shipped.
set -a
# shellcheck source=packaging/systemd/runtime.env disable=SC1091 # a plain KEY=VALUE file, read from the repository root
source packaging/systemd/runtime.env
set +a

secs=${1:-30}
slowloris=${SLOWLORIS:-10000}
phases=${PHASES:-scrapers slowloris auth}
out=${OUT:-out/bench-listener}
mkdir -p "$out"

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v htpasswd >/dev/null || need+=(apache2-utils)
command -v openssl >/dev/null || need+=(openssl)
if ((${#need[@]})); then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

agent=${AGENT:-}
if [[ -z $agent ]]; then
  dotnet publish src/Monitor.Agent -c Release -r linux-x64 -p:MonitorTrim=true -o "$out/agent" -v q -nologo >/dev/null
  agent=$out/agent/monitor-agent
fi
dotnet build bench/Monitor.ListenerLoad -c Release -o "$out/load" -v q -nologo >/dev/null
load=$out/load/Monitor.ListenerLoad

# The load generators hold thousands of sockets.
ulimit -n "$(ulimit -Hn)"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
rss_mb() { awk '/VmRSS/{printf "%.1f", $2/1024}' "/proc/$1/status"; }

start_agent() { # scheme args... -> sets agent_pid, base
  local scheme=$1
  shift
  local port
  port=$(free_port)
  "$agent" --web.listen-address="127.0.0.1:$port" "$@" 2>>"$out/agent.log" &
  agent_pid=$!
  pids+=("$agent_pid")
  base="$scheme://127.0.0.1:$port"
  for _ in $(seq 100); do curl -ks -o /dev/null "$base/healthz" && return 0; sleep 0.1; done
  echo "agent did not come up" >&2
  exit 1
}

sample_rss() { # pid seconds file: RSS and held connections every 5 s
  local pid=$1 n=$(($2 / 5)) file=$3 curl_auth=("${@:4}")
  for _ in $(seq "$n"); do
    sleep 5
    printf '%s %s\n' "$(rss_mb "$pid")" "$(curl -ks "${curl_auth[@]}" "$base/metrics" | awk '/^monitor_agent_http_connections /{print $2}')" >>"$file"
  done
}

summarize_rss() { awk '{ if ($1 > max) max = $1; if ($2 > cmax) cmax = $2 } END { printf "rss_max_mb=%.1f connections_max=%s", max, cmax }' "$1"; }

if [[ " $phases " == *" scrapers "* ]]; then
  echo "== 200 concurrent scrapers (wrk -t2 -c200, ${secs}s), plain HTTP, default flags"
  start_agent http
  sleep 3
  echo "idle: rss_mb=$(rss_mb "$agent_pid") $("$load" scrape "$base/metrics" 10 1000)"
  "$load" scrape "$base/metrics" "$secs" 1000 >"$out/prom-200.txt" &
  prom=$!
  rm -f "$out/rss-200.txt"
  sample_rss "$agent_pid" "$secs" "$out/rss-200.txt" &
  sampler=$!
  wrk -t2 -c200 -d"${secs}s" --latency -H 'Accept: application/openmetrics-text;version=1.0.0' -H 'Accept-Encoding: gzip' "$base/metrics" >"$out/wrk-200.txt"
  wait "$prom" "$sampler"
  echo "wrk: $(awk '/Requests\/sec/{print "req_per_s=" $2} /^ +50%/{print "p50=" $2} /^ +99%/{print "p99=" $2} /Non-2xx/{print "non2xx=" $NF}' "$out/wrk-200.txt" | tr '\n' ' ')"
  echo "prometheus during: $(cat "$out/prom-200.txt")"
  echo "agent: $(summarize_rss "$out/rss-200.txt") rss_after_mb=$(rss_mb "$agent_pid")"
  kill "$agent_pid"
fi

if [[ " $phases " == *" slowloris "* ]]; then
  echo "== slowloris: $slowloris connections dribbling headers (${secs}s), plain HTTP, default flags"
  start_agent http
  sleep 3
  echo "idle: rss_mb=$(rss_mb "$agent_pid") $("$load" scrape "$base/metrics" 10 1000)"
  "$load" scrape "$base/metrics" "$secs" 1000 >"$out/prom-slowloris.txt" &
  prom=$!
  rm -f "$out/rss-slowloris.txt"
  sample_rss "$agent_pid" "$secs" "$out/rss-slowloris.txt" &
  sampler=$!
  "$load" slowloris "$base/metrics" "$slowloris" "$secs" >"$out/slowloris.txt"
  wait "$prom" "$sampler"
  echo "slowloris client: $(tail -1 "$out/slowloris.txt")"
  echo "prometheus during: $(cat "$out/prom-slowloris.txt")"
  echo "agent: $(summarize_rss "$out/rss-slowloris.txt") rss_after_mb=$(rss_mb "$agent_pid")"
  sleep 12
  echo "12 s after: connections=$(curl -s "$base/metrics" | awk '/^monitor_agent_http_connections /{print $2}') rss_mb=$(rss_mb "$agent_pid") $("$load" scrape "$base/metrics" 5 1000)"
  kill "$agent_pid"
fi

[[ " $phases " == *" auth "* ]] || exit 0
echo "== TLS + basic auth (bcrypt cost 10): 200 connections of wrong passwords (${secs}s)"
tls=$out/tls
mkdir -p "$tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$tls/server.key" -out "$tls/server.crt" \
  -days 2 -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
hash=$(htpasswd -nbBC 10 "" "bench-password" | tr -d ':\n')
printf 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prometheus: %s\n' "$hash" >"$tls/web.yml"
start_agent https --web.config.file="$tls/web.yml"
sleep 3
echo "idle: $("$load" scrape "$base/metrics" 10 1000 prometheus bench-password)"
"$load" scrape "$base/metrics" "$secs" 1000 prometheus bench-password >"$out/prom-auth.txt" &
prom=$!
rm -f "$out/rss-auth.txt"
sample_rss "$agent_pid" "$secs" "$out/rss-auth.txt" -u prometheus:bench-password &
sampler=$!
"$load" authflood "$base/healthz" 200 "$secs" >"$out/authflood.txt"
wait "$prom" "$sampler"
echo "flood: $(cat "$out/authflood.txt")"
echo "prometheus during: $(cat "$out/prom-auth.txt")"
echo "agent: $(summarize_rss "$out/rss-auth.txt") cpu_s=$(awk '{print ($14+$15)/100}' "/proc/$agent_pid/stat")"
curl -ks -u prometheus:bench-password "$base/metrics" | grep -E '^monitor_agent_http_auth'
