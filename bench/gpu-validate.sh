#!/usr/bin/env bash
# Validates the gpu collector on a real NVIDIA GPU against nvidia-smi, and measures the cost of a sampling tick.
#
#   dotnet publish src/Monitor.Agent -c Release -r linux-x64 --self-contained -p:PublishSingleFile=true -o out/gpu
#   bench/gpu-validate.sh [out/gpu/monitor-agent] [report-dir]
#
# Read-only: it never changes clocks, power limits or modes. Needs nvidia-smi, curl or wget, and awk.
# Writes report.md (side-by-side values and differences), metrics.txt and nvidia-smi.csv into report-dir.
set -euo pipefail

agent=${1:-out/gpu/monitor-agent}
report_dir=${2:-${OUT:-/tmp/gpu-validate}}
port=${PORT:-19420}
mkdir -p "$report_dir"
report="$report_dir/report.md"

fetch() {
  if command -v curl >/dev/null; then curl -fsS "$1"; else wget -qO- "$1"; fi
}

# shellcheck disable=SC2086 # AGENT_ARGS is a list of extra flags (the dry run passes --nvml.library)
"$agent" --collector.disable-defaults --collector.gpu --web.listen-address="127.0.0.1:$port" ${AGENT_ARGS:-} >"$report_dir/agent.log" 2>&1 &
agent_pid=$!
trap 'kill "$agent_pid" 2>/dev/null || true' EXIT

# Wait for the first finished update, then let a few more ticks pass (utilization and power are point samples).
for _ in $(seq 1 60); do
  if fetch "http://127.0.0.1:$port/metrics" 2>/dev/null | grep -q 'monitor_agent_collector_duration_seconds{collector="gpu"}'; then
    break
  fi
  sleep 0.5
done
sleep 3

query=index,uuid,name,pci.bus_id,driver_version,utilization.gpu,utilization.memory,memory.total,memory.used,memory.free,memory.reserved,power.draw,enforced.power.limit,temperature.gpu,temperature.memory,clocks.sm,clocks.mem,clocks.gr,clocks.video,clocks.max.sm,clocks.max.mem,pstate,clocks_event_reasons.active,pcie.link.gen.gpucurrent,pcie.link.width.current,pcie.link.gen.max,pcie.link.width.max
fetch "http://127.0.0.1:$port/metrics" >"$report_dir/metrics.txt"
start=$(date +%s.%N)
nvidia-smi --query-gpu="$query" --format=csv,noheader,nounits >"$report_dir/nvidia-smi.csv"
smi_seconds=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.3f", e - s }')

# Energy check: nvidia-smi has no energy field, so compare ΔE/Δt with the power draw over 10 s.
e0=$(grep -E '^gpu_energy_joules_total\{gpu="0"' "$report_dir/metrics.txt" | awk '{ print $2 }')
sleep 10
fetch "http://127.0.0.1:$port/metrics" >"$report_dir/metrics-10s.txt"
e1=$(grep -E '^gpu_energy_joules_total\{gpu="0"' "$report_dir/metrics-10s.txt" | awk '{ print $2 }')

{
  echo "# GPU validation: monitor-agent against nvidia-smi"
  echo
  echo "Date: $(date -u +%FT%TZ). nvidia-smi query took ${smi_seconds} s."
  echo
  echo "| GPU | field | nvidia-smi | agent | difference |"
  echo "|---|---|---:|---:|---:|"
  awk -F', ' -v metrics="$report_dir/metrics.txt" '
    BEGIN {
      while ((getline line < metrics) > 0) {
        if (line ~ /^#/) continue
        split(line, parts, " ")
        value[parts[1]] = parts[2]
      }
    }
    function metric(name, gpu, extra,   key) {
      for (key in value) {
        if (index(key, name "{") == 1 && index(key, "gpu=\"" gpu "\"") > 0 && (extra == "" || index(key, extra) > 0)) return value[key]
      }
      return "absent"
    }
    function row(gpu, field, smi, agent) {
      if (agent == "absent" || smi == "[N/A]" || smi == "N/A") diff = "–"
      else diff = sprintf("%.3f", agent - smi)
      printf "| %s | %s | %s | %s | %s |\n", gpu, field, smi, agent, diff
    }
    {
      g = $1
      row(g, "utilization.gpu (%)", $6, metric("gpu_utilization_ratio", g) * 100)
      row(g, "utilization.memory (%)", $7, metric("gpu_memory_utilization_ratio", g) * 100)
      row(g, "memory.total (MiB)", $8, metric("gpu_memory_total_bytes", g) / 1048576)
      row(g, "memory.used (MiB)", $9, metric("gpu_memory_used_bytes", g) / 1048576)
      row(g, "memory.free (MiB)", $10, metric("gpu_memory_free_bytes", g) / 1048576)
      row(g, "memory.reserved (MiB)", $11, metric("gpu_memory_reserved_bytes", g) / 1048576)
      row(g, "power.draw (W)", $12, metric("gpu_power_watts", g))
      row(g, "enforced.power.limit (W)", $13, metric("gpu_power_limit_watts", g))
      row(g, "temperature.gpu (C)", $14, metric("gpu_temperature_celsius", g))
      row(g, "temperature.memory (C)", $15, metric("gpu_memory_temperature_celsius", g))
      row(g, "clocks.sm (MHz)", $16, metric("gpu_clock_hertz", g, "clock=\"sm\"") / 1e6)
      row(g, "clocks.mem (MHz)", $17, metric("gpu_clock_hertz", g, "clock=\"memory\"") / 1e6)
      row(g, "clocks.gr (MHz)", $18, metric("gpu_clock_hertz", g, "clock=\"graphics\"") / 1e6)
      row(g, "clocks.video (MHz)", $19, metric("gpu_clock_hertz", g, "clock=\"video\"") / 1e6)
      row(g, "clocks.max.sm (MHz)", $20, metric("gpu_clock_max_hertz", g, "clock=\"sm\"") / 1e6)
      row(g, "clocks.max.mem (MHz)", $21, metric("gpu_clock_max_hertz", g, "clock=\"memory\"") / 1e6)
      pstate = $22; sub(/^P/, "", pstate)
      row(g, "pstate", pstate, metric("gpu_performance_state", g))
      printf "| %s | clocks_event_reasons.active | %s | sw_power_cap=%s gpu_idle=%s hw_slowdown=%s | – |\n", g, $23, metric("gpu_clock_event_reason", g, "reason=\"sw_power_cap\""), metric("gpu_clock_event_reason", g, "reason=\"gpu_idle\""), metric("gpu_clock_event_reason", g, "reason=\"hw_slowdown\"")
      row(g, "pcie.link.gen.gpucurrent", $24, metric("gpu_pcie_link_generation", g))
      row(g, "pcie.link.width.current", $25, metric("gpu_pcie_link_width", g))
      row(g, "pcie.link.gen.max", $26, metric("gpu_pcie_link_max_generation", g))
      row(g, "pcie.link.width.max", $27, metric("gpu_pcie_link_max_width", g))
    }' "$report_dir/nvidia-smi.csv"
  echo
  echo "Energy, GPU 0: ΔE/Δt over 10 s = $(awk -v a="$e0" -v b="$e1" 'BEGIN { printf "%.1f", (b - a) / 10 }') W (compare with power.draw above)."
  echo
  echo "Tick cost (monitor_agent_collector_duration_seconds{collector=\"gpu\"}, last tick, all GPUs):"
  grep -E '^monitor_agent_collector_duration_seconds\{collector="gpu"\}' "$report_dir/metrics-10s.txt" || echo "absent"
  echo
  echo "gpu_info:"
  grep -E '^gpu_info\{' "$report_dir/metrics.txt" || true
  echo
  echo "Agent CPU seconds after ~15 s: $(grep -E '^process_cpu_seconds_total ' "$report_dir/metrics-10s.txt" | awk '{ print $2 }')"
} >"$report"

cat "$report"
