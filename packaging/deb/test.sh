#!/usr/bin/env bash
# Tests the monitor-agent .deb on this machine (docs/packaging.md, "Tests"): builds it (twice: byte-identical), lints
# it with lintian (no tag at all), installs it with dpkg -i, checks its files, user, state directory and unit
# (systemd-analyze verify and security), runs the agent exactly as the unit's ExecStart would (systemd is not PID 1
# here: the unit's environment files, user, groups, umask and seccomp filters are applied by hand), checks /metrics,
# stops it, then dpkg -r (configuration, state and user stay) and dpkg -P (nothing stays: the file system under /etc,
# /usr and /var is as before the install, and the user and group are gone).
#
# AGENT_DIR=<dir> uses an agent that `dotnet publish src/Monitor.Agent -c Release -r linux-x64 -p:PublishAot=true`
# already wrote (CI publishes once); without it this script publishes one (minutes). Needs root; installs lintian,
# dpkg-dev, adduser, curl, python3-seccomp and shellcheck when they are missing. A monitor-agent package left by an
# earlier run is purged first; a /var/lib/monitor-agent that no package owns (an agent run by hand as root) is moved
# aside and put back at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$PWD"
here="$repo/packaging/deb"

fail() { echo "packaging/deb/test.sh: FAIL: $*" >&2; exit 1; }
say() { echo "packaging/deb/test.sh: $*" >&2; }
[[ $(id -u) -eq 0 ]] || fail "needs root (dpkg -i, a system user)"

missing=()
command -v lintian >/dev/null 2>&1 || missing+=(lintian)
command -v dpkg-shlibdeps >/dev/null 2>&1 || missing+=(dpkg-dev)
command -v adduser >/dev/null 2>&1 || missing+=(adduser)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
command -v strings >/dev/null 2>&1 || missing+=(binutils)
/usr/bin/python3 -c 'import seccomp' 2>/dev/null || missing+=(python3-seccomp)
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
fi

shellcheck "$here"/*.sh
shellcheck -s sh "$here"/service/postinst "$here"/service/prerm "$here"/service/postrm

work="$(mktemp -d)"
chmod 0755 "$work"
agent_pid="" notify_pid="" saved_state=""
cleanup() {
  local rc=$?
  [[ -z $notify_pid ]] || kill "$notify_pid" 2>/dev/null || true
  if [[ -n $agent_pid ]] && kill -0 "$agent_pid" 2>/dev/null; then
    kill -KILL "$agent_pid" 2>/dev/null || true
  fi
  if dpkg-query -W -f '${db:Status-Abbrev}' monitor-agent 2>/dev/null | grep -q '^[ir]'; then
    dpkg -P monitor-agent >/dev/null 2>&1 || true
  fi
  if [[ -n $saved_state && -d $saved_state ]]; then
    # What is there now was made during the test (a failed purge leaves it): the saved directory takes its place.
    rm -rf /var/lib/monitor-agent
    mv "$saved_state" /var/lib/monitor-agent
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

# A package from an earlier run goes first; state nobody packaged is kept aside, a user nobody packaged stops us.
if dpkg-query -W -f '${db:Status-Abbrev}' monitor-agent 2>/dev/null | grep -q '^[ir]'; then
  say "purging the monitor-agent package an earlier run left"
  dpkg -P monitor-agent >/dev/null
fi
getent passwd monitor-agent >/dev/null && fail "a user monitor-agent exists that no installed package created (userdel it first)"
getent group monitor-agent >/dev/null && fail "a group monitor-agent exists that no installed package created (groupdel it first)"
if [[ -e /var/lib/monitor-agent ]]; then
  saved_state="/var/lib/.monitor-agent.saved-by-pkg-test.$$"
  say "moving the unpackaged /var/lib/monitor-agent aside to $saved_state until the end"
  mv /var/lib/monitor-agent "$saved_state"
fi

# What the machine holds before the install, to compare after the purge.
snapshot() {
  find /etc /usr /var -xdev \( -path /var/cache -o -path /var/log -o -path /var/tmp -o -path /var/lib/apt \
    -o -path /var/lib/dpkg -o -path /var/lib/lintian -o -path "$saved_state" -o -path /var/lib/private \) -prune \
    -o -print 2>/dev/null | LC_ALL=C sort
  getent passwd | cut -d: -f1 | sed 's/^/user /' | LC_ALL=C sort
  getent group | cut -d: -f1 | sed 's/^/group /' | LC_ALL=C sort
}
snapshot >"$work/before.txt"

# --- Build (publish once unless CI did), twice: same inputs give the same bytes. ---
agent_dir="${AGENT_DIR:-}"
if [[ -z $agent_dir ]]; then
  say "publishing the Native AOT agent (AGENT_DIR not set)"
  DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 \
    dotnet publish src/Monitor.Agent -c Release -r linux-x64 -p:PublishAot=true -nologo -v q -o "$work/aot" >&2
  agent_dir="$work/aot"
fi
"$here/build.sh" --agent-dir "$agent_dir" --out "$work/deb1" agent >&2
"$here/build.sh" --agent-dir "$agent_dir" --out "$work/deb2" agent >&2
deb="$(echo "$work"/deb1/monitor-agent_*_amd64.deb)"
[[ -f $deb ]] || fail "build.sh wrote no monitor-agent .deb"
cmp -s "$deb" "$work/deb2/${deb##*/}" || fail "two builds of ${deb##*/} differ (not reproducible)"
version="$(dpkg-deb -f "$deb" Version)"
say "built ${deb##*/}: $(stat -c %s "$deb") bytes, Installed-Size $(dpkg-deb -f "$deb" Installed-Size) KiB"

# --- lintian: no tag at all, pedantic and experimental included (the one override says why in the package). ---
lintian --pedantic -E --tag-display-limit 0 "$deb" 2>&1 | grep -v '^running with root privileges' >"$work/lintian.txt" || true
if [[ -s $work/lintian.txt ]]; then
  cat "$work/lintian.txt" >&2
  fail "lintian reports tags (above)"
fi

# --- Install. ---
dpkg -i "$deb" >/dev/null
[[ $(dpkg-query -W -f '${db:Status-Abbrev}' monitor-agent) == "ii " ]] || fail "monitor-agent is not installed after dpkg -i"
dpkg -L monitor-agent | LC_ALL=C sort >"$work/files.txt"
for f in /usr/bin/monitor-agent /usr/lib/monitor/runtime.env /usr/lib/systemd/system/monitor-agent.service \
  /etc/default/monitor-agent /usr/share/monitor/slurm/monitor-prolog.sh /usr/share/monitor/slurm/monitor-epilog.sh \
  /usr/share/monitor/alerts/node.rules.yml /usr/share/monitor/alerts/alertmanager.example.yml \
  /usr/share/monitor/dashboards/gpu-fleet.json /usr/share/doc/monitor-agent/copyright \
  /usr/share/doc/monitor-agent/changelog.gz /usr/share/man/man1/monitor-agent.1.gz; do
  grep -qxF "$f" "$work/files.txt" || fail "$f is not in the package"
  [[ -e $f ]] || fail "$f is not on disk after dpkg -i"
done
for f in "$repo"/alerts/*.rules.yml "$repo"/dashboards/*.json; do
  cmp -s "$f" "/usr/share/monitor/${f#"$repo"/}" || fail "/usr/share/monitor/${f#"$repo"/} differs from $f"
done
[[ -x /usr/share/monitor/slurm/monitor-prolog.sh ]] || fail "the Slurm prolog is not executable"
[[ $(dpkg-query -W -f '${Conffiles}' monitor-agent) == *"/etc/default/monitor-agent "* ]] ||
  fail "/etc/default/monitor-agent is not a conffile"
IFS=: read -r _ _ uid gid _ home shell < <(getent passwd monitor-agent) || fail "no user monitor-agent after install"
((uid < 1000)) || fail "monitor-agent has uid $uid, not a system uid"
[[ $home == /var/lib/monitor-agent && $shell == /usr/sbin/nologin ]] || fail "monitor-agent has home $home, shell $shell"
[[ $(getent group monitor-agent | cut -d: -f3) == "$gid" ]] || fail "group monitor-agent is not the user's primary group"
[[ $(stat -c '%U:%G %a' /var/lib/monitor-agent) == "monitor-agent:monitor-agent 750" ]] ||
  fail "/var/lib/monitor-agent is $(stat -c '%U:%G %a' /var/lib/monitor-agent)"
[[ -L /etc/systemd/system/multi-user.target.wants/monitor-agent.service ]] || fail "the unit was not enabled"
/usr/bin/monitor-agent --version | grep -qF "version ${version%%~*}" || fail "monitor-agent --version does not say ${version%%~*}"

# postinst again, as dpkg runs it, and a reinstall (prerm upgrade, postinst configure <version>): nothing changes,
# and an edited conffile stays.
DPKG_MAINTSCRIPT_PACKAGE=monitor-agent DPKG_MAINTSCRIPT_NAME=postinst \
  /var/lib/dpkg/info/monitor-agent.postinst configure "$version"
echo '# edited by packaging/deb/test.sh' >>/etc/default/monitor-agent
dpkg -i "$deb" >/dev/null
[[ $(getent passwd monitor-agent | cut -d: -f3) == "$uid" ]] || fail "a second postinst changed the user"
[[ $(stat -c '%U:%G %a' /var/lib/monitor-agent) == "monitor-agent:monitor-agent 750" ]] || fail "a reinstall changed the state directory"
grep -q '^# edited by packaging/deb/test.sh$' /etc/default/monitor-agent || fail "a reinstall replaced the edited conffile"
[[ -L /etc/systemd/system/multi-user.target.wants/monitor-agent.service ]] || fail "a reinstall disabled the unit"

# --- The unit as installed. ---
unit=/usr/lib/systemd/system/monitor-agent.service
systemd-analyze verify "$unit" 2>"$work/verify.txt" || { cat "$work/verify.txt" >&2; fail "systemd-analyze verify $unit"; }
# Only warnings about units this machine lacks (no systemd as PID 1 here) are acceptable.
if grep -v -e 'modprobe@nvidia.service' -e '^$' "$work/verify.txt" | grep -q .; then
  cat "$work/verify.txt" >&2
  fail "systemd-analyze verify $unit warns"
fi
score="$(systemd-analyze security --offline=yes "$unit" | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')"
[[ -n $score ]] || fail "systemd-analyze security gave no score"
awk -v s="$score" 'BEGIN { exit !(s <= 2.5) }' || fail "systemd-analyze security exposure $score > 2.5 (docs/packaging.md says 2.2)"
say "systemd-analyze security: exposure $score"

# --- Run the agent as the unit's ExecStart would. ---
prop() { sed -n "s/^$1=//p" "$unit"; }
exec_start="$(prop ExecStart)"
user="$(prop User)" group="$(prop Group)" umask="$(prop UMask)"
[[ -n $exec_start && $user == monitor-agent && $group == monitor-agent ]] || fail "the unit's ExecStart/User/Group are '$exec_start' '$user' '$group'"
groups="$(prop SupplementaryGroups | tr ' ' ,)"
# The conffile, as an operator would edit it: two flags in one variable, split by systemd's $VAR expansion.
sed -i 's|^MONITOR_AGENT_ARGS=.*|MONITOR_AGENT_ARGS="--log.format=json --no-collector.hwmon"|' /etc/default/monitor-agent
env_vars=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME="$home" USER="$user"
  LOGNAME="$user" SHELL="$shell" STATE_DIRECTORY=/var/lib/monitor-agent)
declare -A values=()
while read -r envfile; do
  optional=0
  [[ $envfile == -* ]] && { optional=1; envfile="${envfile#-}"; }
  [[ -f $envfile ]] || { ((optional)) && continue; fail "EnvironmentFile $envfile is missing"; }
  while IFS= read -r line; do
    [[ $line =~ ^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
    key="${BASH_REMATCH[1]}" value="${BASH_REMATCH[2]}"
    [[ $value =~ ^\"(.*)\"$ ]] && value="${BASH_REMATCH[1]}"
    values[$key]="$value"
    env_vars+=("$key=$value")
  done <"$envfile"
done < <(prop EnvironmentFile)
[[ ${values[DOTNET_GCgen0size]:-} == 0x200000 ]] || fail "runtime.env did not give DOTNET_GCgen0size"
# systemd's expansion: $VAR splits at whitespace into words, ${VAR} is one word.
argv=()
read -r -a words <<<"$exec_start"
for word in "${words[@]}"; do
  if [[ $word =~ ^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$ ]]; then
    argv+=("${values[${BASH_REMATCH[1]}]:-}")
  elif [[ $word =~ ^\$([A-Za-z_][A-Za-z0-9_]*)$ ]]; then
    read -r -a split <<<"${values[${BASH_REMATCH[1]}]:-}"
    argv+=("${split[@]}")
  else
    argv+=("$word")
  fi
done
[[ ${argv[0]} == /usr/bin/monitor-agent && ${argv[*]} == *"--log.format=json --no-collector.hwmon"* ]] ||
  fail "ExecStart expanded to '${argv[*]}'"
# Port 0: the agent picks a free one and logs it.
argv+=(--web.listen-address=127.0.0.1:0)

# The systemd notification socket, as systemd would hand it over (NotifyAccess=main, WatchdogSec=).
notify_sock="$work/notify.sock"
/usr/bin/python3 -c '
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        data = s.recv(4096).decode(errors="replace")
        for line in data.splitlines():
            out.write(f"{time.monotonic():.3f} {line}\n")
' "$notify_sock" "$work/notify.txt" &
notify_pid=$!
for _ in $(seq 50); do [[ -S $notify_sock ]] && break; sleep 0.1; done
watchdog_usec="$(($(prop WatchdogSec | tr -dc 0-9) * 1000000))"

# run_agent LOG SANDBOX: starts the agent as the service would; SANDBOX=1 adds the unit's seccomp filters.
run_agent() {
  local log="$1" sandbox="$2"
  local -a pre=()
  ((sandbox)) && pre=(/usr/bin/python3 "$here/seccomp-exec.py" "$unit" --)
  (
    cd /
    umask "$umask"
    exec env -i "${env_vars[@]}" NOTIFY_SOCKET="$notify_sock" WATCHDOG_USEC="$watchdog_usec" WATCHDOG_PID="$BASHPID" \
      setpriv --reuid="$user" --regid="$group" --groups="$groups" --bounding-set=-all --inh-caps=-all -- \
      "${pre[@]}" "${argv[@]}"
  ) >"$log" 2>&1 &
  agent_pid=$!
  port=""
  for _ in $(seq 150); do
    port="$(grep -o 'Listening on http://127.0.0.1:[0-9]*' "$log" | head -n1 | sed 's/.*://')" || true
    [[ -n $port ]] && break
    kill -0 "$agent_pid" 2>/dev/null || { cat "$log" >&2; fail "the agent exited at start"; }
    sleep 0.2
  done
  [[ -n $port ]] || { cat "$log" >&2; fail "the agent did not log its listen address within 30 s"; }
  [[ $(stat -c %U "/proc/$agent_pid") == "$user" ]] || fail "the agent does not run as $user"
  curl -fsS --max-time 10 "http://127.0.0.1:$port/metrics" >"$log.metrics" || fail "GET /metrics failed"
}

# stop_agent LOG: SIGTERM, as systemctl stop sends; the agent must exit 0 within 15 s.
stop_agent() {
  local rc=0
  kill -TERM "$agent_pid"
  for _ in $(seq 75); do kill -0 "$agent_pid" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$agent_pid" 2>/dev/null && fail "the agent did not stop within 15 s of SIGTERM"
  wait "$agent_pid" || rc=$?
  agent_pid=""
  ((rc == 0)) || { cat "$1" >&2; fail "the agent exited $rc after SIGTERM"; }
}

series() { grep -v '^#' "$1" | sed 's/[ {].*//' | LC_ALL=C sort -u; }

# First without the seccomp filters, then with them: the sandbox must take no series away.
run_agent "$work/plain.log" 0
stop_agent "$work/plain.log"
: >"$work/notify.txt"
run_agent "$work/agent.log" 1
metrics="$work/agent.log.metrics"
grep -q "^monitor_agent_build_info{.*version=\"${version%%~*}\"" "$metrics" ||
  fail "/metrics has no monitor_agent_build_info with version ${version%%~*}"
grep -q '^node_timex_sync_status ' "$metrics" || fail "no node_timex_sync_status: adjtimex is denied by the unit's filter"
if grep -q 'collector="hwmon"' "$metrics"; then fail "--no-collector.hwmon from /etc/default/monitor-agent was not applied"; fi
head -n1 "$work/agent.log" | grep -q '^{' || fail "--log.format=json from /etc/default/monitor-agent was not applied"
diff <(series "$work/plain.log.metrics") <(series "$metrics") >"$work/series.diff" ||
  { cat "$work/series.diff" >&2; fail "series differ with the unit's seccomp filters (above: < without, > with)"; }
if grep '_collector_success{.*} 0$' "$metrics" | grep -v 'collector="gpu"' >&2; then
  fail "collectors failed under the unit's sandbox (above)"
fi
# Readiness and watchdog, once the agent speaks the protocol (the string is in the binary then).
if strings -el /usr/bin/monitor-agent | grep -q NOTIFY_SOCKET; then
  sleep "$((watchdog_usec / 1000000 / 2 + 2))"
  grep -q ' READY=1$' "$work/notify.txt" || { cat "$work/notify.txt" >&2; fail "no READY=1 on NOTIFY_SOCKET"; }
  grep -q ' WATCHDOG=1$' "$work/notify.txt" || { cat "$work/notify.txt" >&2; fail "no WATCHDOG=1 within WatchdogSec/2 + 2 s"; }
else
  say "the agent does not speak sd_notify yet (no NOTIFY_SOCKET in the binary): READY=1 and WATCHDOG=1 not checked"
fi
stop_agent "$work/agent.log"
[[ $(stat -c %U /var/lib/monitor-agent/jobs 2>/dev/null) == monitor-agent ]] ||
  fail "the agent did not keep its job ledger in /var/lib/monitor-agent/jobs"
say "the agent ran as $user with the unit's environment and filters: $(grep -vc '^#' "$metrics") samples"

# --- Remove: program files go, configuration, state and user stay. ---
dpkg -r monitor-agent >/dev/null
[[ $(dpkg-query -W -f '${db:Status-Abbrev}' monitor-agent) == "rc " ]] || fail "monitor-agent is not in config-files state after dpkg -r"
while read -r f; do
  if [[ $f != /etc/default/monitor-agent && ( -f $f || -L $f ) ]]; then fail "$f stays after dpkg -r"; fi
done <"$work/files.txt"
grep -q '^MONITOR_AGENT_ARGS="--log.format=json' /etc/default/monitor-agent || fail "dpkg -r did not keep the edited /etc/default/monitor-agent"
getent passwd monitor-agent >/dev/null || fail "dpkg -r removed the user"
[[ -d /var/lib/monitor-agent/jobs ]] || fail "dpkg -r removed the state directory"

# --- Purge: nothing stays. ---
dpkg -P monitor-agent >/dev/null
dpkg-query -W monitor-agent >/dev/null 2>&1 && fail "dpkg still knows monitor-agent after dpkg -P"
while read -r f; do
  if [[ -L $f || ( -e $f && ! -d $f ) ]]; then fail "$f stays after dpkg -P"; fi
done <"$work/files.txt"
snapshot >"$work/after.txt"
diff "$work/before.txt" "$work/after.txt" >"$work/left.diff" ||
  { cat "$work/left.diff" >&2; fail "dpkg -P left this behind or took it away (> new, < gone)"; }
say "dpkg -r kept the configuration, state and user; dpkg -P left nothing behind"
say "all passed"
