#!/usr/bin/env bash
# Regenerates src/Monitor.Agent/method-order.txt, the order in which the Native AOT compiler lays out the agent's managed
# methods (IlcOrderFile in src/Monitor.Agent/Monitor.Agent.csproj): every method seen on a CPU stack while the agent
# serves scrapes at its defaults, hottest first; every other method after them, in the compiler's own order.
#
# Why: the kernel maps code 64 KiB at a time around a page fault (fault-around), so a method run once a scrape keeps
# its whole 64 KiB neighbourhood resident. With the methods that run in steady state packed together, the pages that
# only start-up or rare paths use stay out after NativeMemory.DropExecutablePages drops them
# (docs/performance.md, "Memory").
#
# How: a symbol-keeping AOT build (with the current file) runs with packaging/systemd/runtime.env; `perf record -g`
# (frame pointers) samples it at 20 kHz, and records every page fault with its stack, through SCRAPES scrapes with
# Prometheus's headers (gzip, OpenMetrics), 200 plain-text scrapes, the jobs feed and /healthz, then IDLE seconds of
# one scrape every 5 s, so the minute's supervision work and the page drop are included. A method too brief for the
# sampler shows up when it faults its page back in after a drop. Every managed method on any sampled stack is listed,
# most samples first (the map file tells managed methods from the runtime's C code), then those of the current file
# this run did not see. Running it again after a change converges: what is still missed faults in its cold page.
# A stale file is harmless: names it lists that no longer exist are skipped, and new methods go after the listed ones.
#
# Usage: bench/aot-order.sh [scrapes] [idle_s]    (defaults 5000 and 70; needs perf, installs linux-perf if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
scrapes=${1:-5000}
idle=${2:-70}
work=$(mktemp -d)
pid=
trap '[[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

if ! command -v perf >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends linux-perf >/dev/null
fi

# With symbols and a map.
dotnet publish src/Monitor.Agent -c Release -r linux-x64 -p:MonitorAot=true -p:StripSymbols=false \
  -p:IlcGenerateMapFile=true -o "$work/bin" -v q -nologo >/dev/null
map=src/Monitor.Agent/obj/Release/net10.0/linux-x64/native/monitor-agent.map.xml

set -a
# shellcheck source=packaging/systemd/runtime.env disable=SC1091 # a plain KEY=VALUE file, read from the repository root
source packaging/systemd/runtime.env
set +a
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
"$work/bin/monitor-agent" --web.listen-address="127.0.0.1:$port" --collector.jobs.state-path="$work/ledger" 2>"$work/agent.log" &
pid=$!
for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/metrics" && break; sleep 0.1; done

accept='application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'
for _ in $(seq "$scrapes"); do echo "url = \"http://127.0.0.1:$port/metrics\""; echo 'output = "/dev/null"'; done >"$work/scrapes.cfg"
curl -s -H "Accept: $accept" -H 'Accept-Encoding: gzip' --config <(head -400 "$work/scrapes.cfg")
perf record -q -e cpu-clock/freq=20000/ -e page-faults/period=1/ -g -p "$pid" -o "$work/perf.data" 2>/dev/null &
perf_pid=$!
sleep 0.5
curl -s -H "Accept: $accept" -H 'Accept-Encoding: gzip' --config "$work/scrapes.cfg"
for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$port/metrics"; done
for _ in $(seq 20); do
  curl -s -o /dev/null "http://127.0.0.1:$port/api/v1/jobs"
  curl -s -o /dev/null "http://127.0.0.1:$port/healthz"
done
for ((t = 0; t < idle; t += 5)); do
  sleep 5
  curl -s -o /dev/null -H "Accept: $accept" -H 'Accept-Encoding: gzip' "http://127.0.0.1:$port/metrics"
done
kill -INT "$perf_pid"
wait "$perf_pid" || true

perf script -i "$work/perf.data" -F ip,sym --no-demangle 2>/dev/null | awk 'NF >= 2 { print $2 }' | sort | uniq -c | sort -k1,1nr -k2 >"$work/counts"
touch src/Monitor.Agent/method-order.txt
python3 - "$map" "$work/counts" src/Monitor.Agent/method-order.txt >"$work/order" <<'PY'
import html, re, sys
managed = set()
for line in open(sys.argv[1], encoding="utf-8"):
    m = re.search(r'<MethodCode Name="([^"]*)"', line)
    if m:
        managed.add(html.unescape(m.group(1)))
seen = []
for line in open(sys.argv[2], encoding="utf-8"):
    name = line.split(None, 1)[1].strip()
    if name in managed:
        seen.append(name)
listed = set(seen)
for name in seen:
    print(name)
for line in open(sys.argv[3], encoding="utf-8"):
    name = line.strip()
    if name in managed and name not in listed:
        listed.add(name)
        print(name)
PY
mv "$work/order" src/Monitor.Agent/method-order.txt
echo "src/Monitor.Agent/method-order.txt: $(wc -l <src/Monitor.Agent/method-order.txt) methods" >&2
