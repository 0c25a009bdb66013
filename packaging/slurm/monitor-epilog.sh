#!/bin/sh
# Slurm epilog for monitor-agent: removes what monitor-prolog.sh recorded for the ending job.
#
# It removes the lines of job $SLURM_JOB_ID from every file of
#   $MONITOR_JOB_MAPPING_DIR (default /run/monitor/job-mapping; lines equal to the job id) and
#   $MONITOR_GPUSTAT_DIR     (default /run/gpustat; lines "<jobid> <uid>"),
# and deletes files left empty. It adds end=<epoch seconds> to the job's info file in $MONITOR_JOB_INFO_DIR (default
# /run/monitor/jobs), keeping the first end if it runs twice, so the agent accounts the job to Slurm's end even if it
# reads the file later. Info files of jobs that ended more than $MONITOR_JOB_INFO_KEEP_MINUTES ago (default 1440,
# a day) are deleted. Lines of other jobs sharing a GPU stay. It scans the whole directories rather than
# trusting the GPU variables, so it also cleans up when the epilog's environment differs from the prolog's.
#
# Changes are made under flock on <dir>/.monitor.lock and land by rename from a temporary file, like the prolog's.
# Running it twice is harmless. It NEVER fails the job: problems are logged to stderr and syslog (logger, tag
# monitor-slurm) and the script exits 0, because a failing epilog makes Slurm drain the node.

umask 022
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

log() {
  echo "monitor-epilog: $*" >&2
  if command -v logger >/dev/null 2>&1; then
    logger -t monitor-slurm -p user.warning -- "epilog: $*" 2>/dev/null || true
  fi
}

# Runs "$@" holding an exclusive lock on $1/.monitor.lock (bounded wait); without flock(1), runs it unlocked.
with_lock() {
  lock_dir=$1
  shift
  if ! command -v flock >/dev/null 2>&1; then
    log "flock not found; updating $lock_dir without a lock"
    "$@"
    return
  fi
  (
    if ! flock -w 10 9; then
      log "could not lock $lock_dir/.monitor.lock within 10 s"
      exit 1
    fi
    "$@"
  ) 9>>"$lock_dir/.monitor.lock"
}

# remove_job DIR KEY: drops the lines whose first field is KEY from every regular, non-hidden file of DIR; deletes a
# file left without lines. Called under the lock.
# shellcheck disable=SC2317 # invoked through with_lock
remove_job() {
  rj_status=0
  for rj_file in "$1"/*; do
    [ -f "$rj_file" ] || continue
    awk -v k="$2" '$1 == k { found = 1 } END { exit !found }' "$rj_file" 2>/dev/null || continue
    rj_tmp=$1/.${rj_file##*/}.tmp.$$
    if ! awk -v k="$2" '$1 != k && NF > 0' "$rj_file" >"$rj_tmp"; then
      rm -f "$rj_tmp"
      log "could not rewrite $rj_file"
      rj_status=1
    elif [ -s "$rj_tmp" ]; then
      if ! { chmod 0644 "$rj_tmp" && mv -f "$rj_tmp" "$rj_file"; }; then
        rm -f "$rj_tmp"
        log "could not replace $rj_file"
        rj_status=1
      fi
    else
      rm -f "$rj_tmp" "$rj_file" || { log "could not remove $rj_file"; rj_status=1; }
    fi
  done
  return "$rj_status"
}

main() {
  job=${SLURM_JOB_ID:-}
  case $job in
    '' | *[!A-Za-z0-9_.-]*)
      log "no usable SLURM_JOB_ID ('$job'); nothing removed"
      return 0
      ;;
  esac
  status=0
  info_dir=${MONITOR_JOB_INFO_DIR:-/run/monitor/jobs}
  info=$info_dir/$job
  if [ -f "$info" ] && ! grep -q '^end=' "$info" 2>/dev/null; then
    info_tmp=$info_dir/.$job.tmp.$$
    if ! { { cat -- "$info" && printf 'end=%s\n' "$(date +%s)"; } >"$info_tmp" && chmod 0644 "$info_tmp" && mv -f "$info_tmp" "$info"; }; then
      rm -f "$info_tmp"
      log "could not record the end in $info"
      status=1
    fi
  fi
  keep=${MONITOR_JOB_INFO_KEEP_MINUTES:-1440}
  case $keep in
    '' | *[!0-9]*) keep=1440 ;;
  esac
  if [ -d "$info_dir" ]; then
    # Only ended jobs' files (a job may run longer than the retention).
    find "$info_dir" -maxdepth 1 -type f ! -name '.*' -mmin +"$keep" -exec grep -l '^end=' {} + 2>/dev/null |
      while read -r old; do rm -f -- "$old"; done
  fi
  for dir in "${MONITOR_JOB_MAPPING_DIR:-/run/monitor/job-mapping}" "${MONITOR_GPUSTAT_DIR:-/run/gpustat}"; do
    [ -d "$dir" ] || continue
    with_lock "$dir" remove_job "$dir" "$job" || status=1
  done
  return $status
}

main "$@" || log "job ${SLURM_JOB_ID:-?}: cleanup failed (the job is not affected)"
exit 0
