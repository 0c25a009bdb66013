#!/usr/bin/env bash
# Tests the monitor-agent container image (docs/packaging.md, "Container image"): builds it twice with buildah in a
# private store (the same image id both times), checks its configuration (user 65534:65534 as the DaemonSet runs it,
# entrypoint, environment as packaging/systemd/runtime.env, no shell, size) and then runs the image's own root file
# system the way packaging/kubernetes/agent/daemonset.yaml runs the container, with no container runtime: new mount and
# PID namespaces (unshare), the root file system read-only, the host's /proc, /sys and / bind-mounted read-only at
# /host/..., a writable ledger directory, uid/gid 65534 and no capabilities, the DaemonSet's arguments. Then it checks
# /metrics and that the agent exits 0 on SIGTERM.
#
# AGENT_DIR=<dir>: a published Native AOT agent (packaging/deb/build.sh --help); without it this script publishes one.
# Needs root; installs buildah when it is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$PWD"

fail() { echo "packaging/container/test.sh: FAIL: $*" >&2; exit 1; }
say() { echo "packaging/container/test.sh: $*" >&2; }
[[ $(id -u) -eq 0 ]] || fail "needs root (unshare, mounts)"
missing=()
command -v buildah >/dev/null 2>&1 || missing+=(buildah)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
fi
shellcheck packaging/container/*.sh

work="$(mktemp -d)"
# buildah keeps a blob information cache in /var/lib/containers/cache whatever its --root; gone at the end if this
# run made it.
containers_existed=0
[[ -e /var/lib/containers ]] && containers_existed=1
export BUILDAH_STORAGE="--root $work/storage --runroot $work/run --storage-driver vfs"
# shellcheck disable=SC2086 # BUILDAH_STORAGE holds separate global options
bah() { buildah $BUILDAH_STORAGE "$@"; }
pid="" ctr=""
cleanup() {
  local rc=$?
  if [[ -n $pid ]]; then { kill -KILL "$pid" && wait "$pid"; } 2>/dev/null || true; fi
  if [[ -n $ctr ]]; then
    bah umount "$ctr" >/dev/null 2>&1 || true
    bah rm "$ctr" >/dev/null 2>&1 || true
  fi
  bah rmi --all --force >/dev/null 2>&1 || true
  # The vfs store's layers are plain directories; a mount left by a failed run would keep them busy.
  grep -o " $work/[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
  ((containers_existed)) || rm -rf /var/lib/containers
  exit "$rc"
}
trap cleanup EXIT

agent_dir="${AGENT_DIR:-}"
if [[ -z $agent_dir ]]; then
  say "publishing the Native AOT agent (AGENT_DIR not set)"
  DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 dotnet publish src/Monitor.Agent -c Release -r linux-x64 \
    -p:PublishAot=true -nologo -v q -o "$work/aot" >&2
  agent_dir="$work/aot"
fi

# --- Build, twice: the same inputs give the same image. ---
packaging/container/build.sh --agent-dir "$agent_dir" --tag localhost/monitor-agent:test --oci-archive "$work/image.tar" >&2
id1="$(bah images --noheading --no-trunc --format '{{.ID}}' localhost/monitor-agent:test | sed -n 1p)"
packaging/container/build.sh --agent-dir "$agent_dir" --tag localhost/monitor-agent:again >&2
id2="$(bah images --noheading --no-trunc --format '{{.ID}}' localhost/monitor-agent:again | sed -n 1p)"
[[ -n $id1 && $id1 == "$id2" ]] || fail "two builds gave different images ($id1, $id2)"

# --- Configuration. ---
bah inspect --type image localhost/monitor-agent:test >"$work/inspect.json"
/usr/bin/python3 - "$work/inspect.json" "$repo/packaging/systemd/runtime.env" <<'EOF' || fail "the image's configuration (above)"
import json, sys
config = json.load(open(sys.argv[1]))["OCIv1"]["config"]
runtime = [l.strip() for l in open(sys.argv[2]) if l.strip() and not l.startswith("#")]
problems = []
if config.get("User") != "65534:65534":
    problems.append(f"User is {config.get('User')!r}, not 65534:65534 (daemonset.yaml runAsUser/runAsGroup)")
if config.get("Entrypoint") != ["/usr/bin/monitor-agent"]:
    problems.append(f"Entrypoint is {config.get('Entrypoint')!r}")
if "9420/tcp" not in config.get("ExposedPorts", {}):
    problems.append("port 9420 is not exposed")
for line in runtime:
    if line not in config.get("Env", []):
        problems.append(f"Env lacks {line} (packaging/systemd/runtime.env)")
for p in problems:
    print(p, file=sys.stderr)
sys.exit(1 if problems else 0)
EOF
size="$(bah images --noheading --format '{{.Size}}' localhost/monitor-agent:test | sed -n 1p)"
say "image $id1: $size, OCI archive $(stat -c %s "$work/image.tar") bytes"

ctr="$(bah from localhost/monitor-agent:test)"
root="$(bah mount "$ctr")"
for shell in bin/sh bin/bash usr/bin/sh usr/bin/bash usr/bin/busybox; do
  [[ -e $root/$shell ]] && fail "the image has /$shell"
done
[[ $(stat -c '%u:%g' "$root/var/lib/monitor-agent") == 65534:65534 ]] || fail "/var/lib/monitor-agent is not 65534's"
version_text="$(chroot "$root" /usr/bin/monitor-agent --version)" || fail "the image's binary does not run in its own root"
[[ $version_text == "monitor-agent, version "* ]] || fail "monitor-agent --version in the image printed '$version_text'"

# --- Run the image's root file system as the DaemonSet runs the container. ---
mapfile -t args < <(sed -n '/^ *args:/,/^ *env:/p' packaging/kubernetes/agent/daemonset.yaml | sed -n 's/^ *- \(--.*\)$/\1/p')
((${#args[@]} > 3)) || fail "found no arguments in packaging/kubernetes/agent/daemonset.yaml"
args=("${args[@]/#--web.listen-address=*/--web.listen-address=127.0.0.1:0}")
[[ " ${args[*]} " == *" --web.listen-address=127.0.0.1:0 "* ]] || fail "daemonset.yaml has no --web.listen-address to replace"
mapfile -t env_vars < <(/usr/bin/python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["OCIv1"]["config"]["Env"]))' "$work/inspect.json")
ledger="$work/ledger"
install -d -o 65534 -g 65534 -m 0755 "$ledger"
log="$work/agent.log"
# Inside: the image's root read-only, /proc for the new PID namespace, a minimal /dev, the host's /proc, /sys and /
# read-only at /host (rbind: the host's mounts below /, for the filesystem collector), the ledger writable.
# shellcheck disable=SC2016 # expanded by the inner shell
unshare --mount --pid --fork --propagation private -- /bin/bash -euc '
  root="$1" ledger="$2" nenv="$3"; shift 3
  envs=("${@:1:nenv}"); shift "$nenv"
  ro_bind() { mount --rbind "$1" "$2"; mount -o remount,bind,ro "$2"; }
  mount --bind "$root" "$root"
  mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
  mount -t tmpfs -o nosuid,mode=0755,size=64k tmpfs "$root/dev"
  for d in null zero urandom random; do touch "$root/dev/$d"; mount --bind "/dev/$d" "$root/dev/$d"; done
  mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
  mount -t tmpfs -o nosuid,nodev,mode=1777,size=16m tmpfs "$root/tmp"
  ro_bind /proc "$root/host/proc"
  ro_bind /sys "$root/host/sys"
  ro_bind / "$root/host/root"
  mount --bind "$ledger" "$root/var/lib/monitor-agent"
  mount -o remount,bind,ro "$root"
  exec env -i "${envs[@]}" chroot --userspec=65534:65534 --groups= "$root" "$@"
' bash "$root" "$ledger" "${#env_vars[@]}" "${env_vars[@]}" /usr/bin/monitor-agent "${args[@]}" >"$log" 2>&1 &
pid=$!
port=""
for _ in $(seq 150); do
  port="$(grep -o 'Listening on http://127.0.0.1:[0-9]*' "$log" | sed -n 1p | sed 's/.*://')" || true
  [[ -n $port ]] && break
  kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; fail "the agent exited at start"; }
  sleep 0.2
done
[[ -n $port ]] || { cat "$log" >&2; fail "the agent did not log its listen address within 30 s"; }
agent="$(pgrep -P "$pid" | sed -n 1p)"
[[ -n $agent && $(stat -c %u "/proc/$agent") == 65534 ]] || fail "the agent (pid ${agent:-?}) does not run as uid 65534"
grep -q '^CapEff:[[:space:]]*0*$' "/proc/$agent/status" || fail "the agent has effective capabilities"
curl -fsS --max-time 10 "http://127.0.0.1:$port/metrics" >"$work/metrics" || fail "GET /metrics failed"
grep -q '^monitor_agent_build_info{' "$work/metrics" || fail "/metrics has no monitor_agent_build_info"
grep -q '^node_cpu_seconds_total{' "$work/metrics" || fail "/metrics has no node_cpu_seconds_total (from /host/proc)"
grep -q '^node_filesystem_avail_bytes{.*mountpoint="/"' "$work/metrics" ||
  fail "/metrics has no node_filesystem_avail_bytes for / (from /host/root)"
# The agent's own root is read-only and has no shell: a write to / fails, the ledger directory takes its files.
[[ -n $(ls -A "$ledger") ]] || fail "the agent wrote no job ledger into its state volume"
if grep '_collector_success{.*} 0$' "$work/metrics" | grep -v -e 'collector="gpu"' -e 'collector="jobs"' >&2; then
  fail "collectors failed in the container's mounts (above)"
fi
[[ $(sed -n 1p "$log") == \{* ]] || fail "the DaemonSet's --log.format=json was not applied"
kill -TERM "$agent"
rc=0
wait "$pid" || rc=$?
pid=""
((rc == 0)) || { tail -n 20 "$log" >&2; fail "the agent exited $rc after SIGTERM"; }
say "the image's root file system ran as the DaemonSet runs it: $(grep -vc '^#' "$work/metrics") samples, exit 0 on SIGTERM"
say "all passed"
