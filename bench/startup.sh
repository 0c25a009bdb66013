#!/usr/bin/env bash
# Time from exec to the first answered scrape: starts the agent (every default collector, the runtime settings of
# packaging/systemd/runtime.env, a job ledger in a temporary directory) on 127.0.0.1, polls GET /metrics every
# 0.5 ms until one returns 200 with a body, stops it, and repeats. Prints each run, then the median and the maximum; node_exporter 1.5.0
# (its defaults) the same way for scale. The clock starts just before fork+exec, so the figure includes the kernel
# loading the binary, the runtime starting, the first collection and the first response.
#
# Usage: bench/startup.sh [runs]   (default 10; AGENT=path/to/monitor-agent, default the Native AOT publish in out/aot,
#        built first if missing; NODE_EXPORTER=0 skips node_exporter)
set -euo pipefail
cd "$(dirname "$0")/.."
set -a
# shellcheck source=packaging/systemd/runtime.env disable=SC1091 # a plain KEY=VALUE file, read from the repository root
source packaging/systemd/runtime.env
set +a

runs=${1:-10}
agent=${AGENT:-}
if [[ -z $agent ]]; then
  agent=out/aot/monitor-agent
  [[ -x $agent ]] || dotnet publish src/Monitor.Agent -c Release -r linux-x64 -p:MonitorAot=true -o out/aot -v q -nologo >/dev/null
fi

state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT

# One Python process times every run: no curl start-up (5-10 ms) inside the measured window.
time_to_first_scrape() { # name command... (the listen address is appended)
  python3 - "$runs" "$@" <<'PY'
import os, signal, socket, statistics, subprocess, sys, time

runs, name, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def scrape(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        return data.startswith(b"HTTP/1.") and b" 200 " in data[:16] and b"\r\n\r\n#" in data
    except OSError:
        return False

times = []
for i in range(runs):
    port = free_port()
    start = time.monotonic()
    proc = subprocess.Popen(cmd + [f"--web.listen-address=127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not scrape(port):
            if proc.poll() is not None:
                sys.exit(f"{name} exited with {proc.returncode} before answering")
            if time.monotonic() - start > 30:
                sys.exit(f"{name} did not answer within 30 s")
            time.sleep(0.0005)
        ms = (time.monotonic() - start) * 1000
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    times.append(ms)
    print(f"{name} run {i + 1}: {ms:.1f} ms", flush=True)
print(f"{name}: median {statistics.median(times):.1f} ms, max {max(times):.1f} ms, min {min(times):.1f} ms over {runs} runs")
PY
}

time_to_first_scrape monitor-agent "$agent" "--collector.jobs.state-path=$state/ledger"
if [[ ${NODE_EXPORTER:-1} != 0 ]] && command -v prometheus-node-exporter >/dev/null; then
  time_to_first_scrape node_exporter prometheus-node-exporter
fi
