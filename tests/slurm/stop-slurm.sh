#!/usr/bin/env bash
# Stops a Slurm started by start-slurm.sh and removes its temporary folder. Idempotent: a folder already gone is fine.
#
# Usage: tests/slurm/stop-slurm.sh [MONITOR_SLURM_DIR]   (default: $MONITOR_SLURM_DIR)
#
# It cancels the instance's jobs, stops slurmd and slurmctld, then slurmdbd and mariadbd (MONITOR_SLURM_DBD=1), then
# munged, by the pid files in the folder (TERM, then KILL after 10 s), removes the instance's own cgroups
# (MONITOR_SLURM_CGROUPS=1) and the /dev/nvidia* nodes start-slurm.sh created when no other instance's slurmd still
# runs, and deletes the folder. Only processes named by the instance's
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
# slurmctld hands its last records to slurmdbd as it stops; slurmdbd writes them to MariaDB as it stops.
stop slurmdbd.pid
stop mariadbd.pid
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

# The device nodes go with the last instance that uses them: while another one does, it inherits the list. Another
# instance uses them when it said so at its start (devices-in-use) and its slurmd runs, or it has no slurmd yet and
# started within 2 minutes (start-slurm.sh waits at most 60 s for its node). Under start-slurm.sh's lock, so that a
# start and a stop at the same time cannot both miss each other.
{
  flock -w 60 9 || say "could not lock /tmp/monitor-slurm-devices.lock within 60 s; going on without it"
  rm -f "$dir/devices-in-use"
  if [[ -s $dir/created-devices ]]; then
    heir=
    for marker in /tmp/monitor-slurm.*/devices-in-use; do
      [[ -e $marker ]] || continue
      other=${marker%/devices-in-use}
      if alive "$(pid_of "$other/slurmd.pid")" || [[ ! -e $other/slurmd.pid && -n $(find "$other" -maxdepth 0 -mmin -2) ]]; then
        heir=$other
        break
      fi
    done
    if [[ -n $heir ]]; then
      cat "$dir/created-devices" >>"$heir/created-devices"
    else
      while IFS= read -r device; do
        [[ $device == /dev/nvidia[0-9]* && -c $device ]] && rm -f "$device"
      done <"$dir/created-devices"
    fi
  fi
} 9>>/tmp/monitor-slurm-devices.lock

rm -rf "$dir"
exit 0
