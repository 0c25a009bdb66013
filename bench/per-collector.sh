#!/usr/bin/env bash
# Cost of each host collector alone, agent beside node_exporter 1.5.0: bench/compare-node-exporter.sh run once per
# collector (both with only that collector on), one Markdown row each. The floor (HTTP, self metrics, compression) is
# in every row; compare rows with the loadavg row, the cheapest source.
#
# Usage: bench/per-collector.sh [scrapes] [collector...]   (default 500 scrapes, every node_exporter default collector;
#        AGENT=path/to/monitor-agent, or AGENT_BUILD=jit for the trimmed JIT build instead of the Native AOT one)
set -euo pipefail
cd "$(dirname "$0")/.."

scrapes=${1:-500}
shift || true
all=(arp bcache bonding btrfs conntrack cpu cpufreq diskstats dmi edac entropy fibrechannel filefd filesystem hwmon infiniband ipvs
  loadavg mdadm meminfo netclass netdev netstat nfs nfsd nvme os powersupplyclass pressure rapl schedstat selinux sockstat softnet stat
  tapestats textfile thermal_zone time timex udp_queues uname vmstat xfs zfs)
if (($# > 0)); then all=("$@"); fi

out=${OUT:-out/bench}
mkdir -p "$out"
agent=${AGENT:-}
if [[ -z $agent && ${AGENT_BUILD:-aot} == jit ]]; then
  dotnet publish src/Monitor.Agent -c Release -r linux-x64 -p:MonitorTrim=true -o "$out/agent" -v q -nologo >/dev/null
  agent=$out/agent/monitor-agent
elif [[ -z $agent ]]; then
  dotnet publish src/Monitor.Agent -c Release -r linux-x64 -p:MonitorAot=true -o out/aot -v q -nologo >/dev/null
  agent=out/aot/monitor-agent
fi

echo "| collector | node_exporter CPU ms/scrape | agent CPU ms/scrape | ratio | node_exporter p99 ms | agent p99 ms |"
echo "|---|---:|---:|---:|---:|---:|"
for c in "${all[@]}"; do
  result=$(COLLECTORS=$c AGENT=$agent OUT=$out WARMUP=100 bench/compare-node-exporter.sh "$scrapes" 2>&1) || { echo "| $c | failed | | | | |"; continue; }
  read -r _ ne_cpu _ ne_p99 _ _ <<<"$(grep '^node_exporter ' <<<"$result")"
  read -r _ ag_cpu _ ag_p99 _ _ <<<"$(grep '^monitor-agent ' <<<"$result")"
  awk -v c="$c" -v a="$ne_cpu" -v b="$ag_cpu" -v p="$ne_p99" -v q="$ag_p99" \
    'BEGIN { printf "| %s | %.3f | %.3f | %.2f | %.2f | %.2f |\n", c, a, b, b / a, p, q }'
done
