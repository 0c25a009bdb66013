#!/usr/bin/env bash
# Stops a Slurm started by start-slurm.sh and removes its temporary folder. Idempotent: a folder already gone is fine.
#
# Usage: tests/slurm/stop-slurm.sh [MONITOR_SLURM_DIR]   (default: $MONITOR_SLURM_DIR)
#
# It cancels the instance's jobs, stops slurmd, slurmctld and munged by the pid files in the folder (TERM, then KILL
# after 10 s), removes the instance's own cgroups (MONITOR_SLURM_CGROUPS=1) and the /dev/nvidia* nodes start-slurm.sh
# created when no other instance's slurmd still runs, and deletes the folder. Only processes named by the instance's
# own pid files are signalled.
set -uo pipefail

dir=${1:-${MONITOR_SLURM_DIR:-}}
say() { echo "stop-slurm: $*" >&2; }

if [[ -z $dir ]]; then
  say "usage: $0 MONITOR_SLURM_DIR"
  exit 2
fi
case $dir in
  /tmp/monitor-slurm.*) ;;
  *)
    say "refusing '$dir': not a start-slurm.sh folder (/tmp/monitor-slurm.*)"
    exit 2
    ;;
esac
[[ -d $dir ]] || exit 0

alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }
pid_of() { [[ -s $1 ]] && tr -dc '0-9' <"$1"; }

# Jobs first, so that their epilogs run and their processes end, while slurmctld and slurmd still run.
if [[ -f $dir/etc/slurm.conf ]] && alive "$(pid_of "$dir/slurmctld.pid")"; then
  export SLURM_CONF=$dir/etc/slurm.conf
  mapfile -t jobs < <(timeout 5 squeue -h -o '%i' 2>/dev/null)
  if ((${#jobs[@]})); then
    timeout 5 scancel "${jobs[@]}" 2>/dev/null
    for _ in $(seq 20); do
      [[ -z $(timeout 5 squeue -h -o '%i' 2>/dev/null) ]] && break
      sleep 0.5
    done
  fi
fi

# stop PIDFILE...: TERM to each, then KILL to those still running after 10 s.
stop() {
  local pids=() pid
  for pidfile in "$@"; do
    pid=$(pid_of "$dir/$pidfile")
    alive "$pid" && kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
  done
  for _ in $(seq 100); do
    for i in "${!pids[@]}"; do
      alive "${pids[i]}" || unset "pids[i]"
    done
    ((${#pids[@]})) || return 0
    sleep 0.1
  done
  say "${pids[*]} still running 10 s after TERM; killing"
  kill -KILL "${pids[@]}" 2>/dev/null
}
stop slurmd.pid slurmctld.pid
stop munge/munged.pid

# The instance's own cgroups (MONITOR_SLURM_CGROUPS=1), deepest first: Slurm leaves slurm_<node>/uid_<uid> behind.
# A cgroup is removable once its last process has gone, which may lag the daemons' exit a little.
if [[ -s $dir/created-cgroups ]]; then
  while IFS= read -r cgroup; do
    [[ $cgroup == /sys/fs/cgroup/*/monitor-slurm.* && -d $cgroup ]] || continue
    for _ in $(seq 50); do
      find "$cgroup" -depth -type d -exec rmdir {} + 2>/dev/null
      [[ -d $cgroup ]] || break
      sleep 0.1
    done
    [[ -d $cgroup ]] && say "could not remove $cgroup (processes left in it?)"
  done <"$dir/created-cgroups"
fi

# The device nodes go with the last instance: while another one runs, it inherits the list.
if [[ -s $dir/created-devices ]]; then
  heir=
  for pidfile in /tmp/monitor-slurm.*/slurmd.pid; do
    [[ $pidfile == "$dir/slurmd.pid" ]] && continue
    alive "$(pid_of "$pidfile")" && heir=${pidfile%/slurmd.pid}
  done
  if [[ -n $heir ]]; then
    cat "$dir/created-devices" >>"$heir/created-devices"
  else
    while IFS= read -r device; do
      [[ $device == /dev/nvidia[0-9]* && -c $device ]] && rm -f "$device"
    done <"$dir/created-devices"
  fi
fi

rm -rf "$dir"
exit 0
