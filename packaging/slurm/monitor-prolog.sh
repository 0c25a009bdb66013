#!/bin/sh
# Slurm prolog for monitor-agent: records which job holds which GPU, in two formats the agent reads.
#
#   $MONITOR_JOB_MAPPING_DIR/<index>   (default /run/monitor/job-mapping): dcgm-exporter's --hpc-job-mapping-dir
#                                       format, one job id per line; read with --collector.jobs.slurm-mapping-dir.
#   $MONITOR_GPUSTAT_DIR/<index|uuid>  (default /run/gpustat): Princeton jobstats' format, "<jobid> <uid>" per line;
#                                       read with --collector.jobs.gpustat-dir.
#   $MONITOR_JOB_INFO_DIR/<jobid>      (default /run/monitor/jobs): the job's identity as key=value lines (user, uid,
#                                       account, partition, array_job_id, array_task_id, sluid), its GPUs (gpus=, host
#                                       indices or UUIDs, comma-separated) and its start (start=, epoch seconds:
#                                       SLURM_JOB_START_TIME where Slurm sets it, else now), for every job, with or
#                                       without GPUs; read with --collector.jobs.slurm-jobinfo-dir. The epilog adds
#                                       end=. The agent takes these times over its own observation.
#
# The GPUs come from SLURM_JOB_GPUS (host indices; preferred, Slurm 25.11 keeps indices there), else
# GPU_DEVICE_ORDINAL, else CUDA_VISIBLE_DEVICES. When CUDA_VISIBLE_DEVICES holds GPU-/MIG- UUIDs (Slurm 25.11 does),
# those get per-UUID gpustat files too; UUIDs alone give no mapping-dir file, since that format is by index.
#
# Every change is made under flock on <dir>/.monitor.lock and lands by rename from a temporary file in the same
# directory, so concurrent prologs and epilogs of jobs sharing a GPU neither lose lines nor expose partial files.
# Running it twice for the same job changes nothing (the first start= is kept). The epilog (monitor-epilog.sh)
# removes the job's lines and records its end in the job info file.
#
# This script NEVER fails the job: a monitoring problem (no GPUs, no job id, unwritable directory, lock timeout) is
# logged to stderr and to syslog (logger, tag monitor-slurm) and the script exits 0. A non-zero prolog exit would make
# Slurm drain the node and requeue the job, which monitoring must never cause.

umask 022
set -f # no globbing: GPU lists are split on whitespace below
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

log() {
  echo "monitor-prolog: $*" >&2
  if command -v logger >/dev/null 2>&1; then
    logger -t monitor-slurm -p user.warning -- "prolog: $*" 2>/dev/null || true
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

# add_line DIR NAME KEY LINE: makes DIR/NAME hold LINE exactly once. Other lines whose first field is KEY (the same
# job with a stale uid) are dropped; lines of other jobs are kept in order. Called under the lock.
# shellcheck disable=SC2317 # invoked through with_lock
add_line() {
  al_file=$1/$2
  al_tmp=$1/.$2.tmp.$$
  if [ -f "$al_file" ] && grep -Fxq -- "$4" "$al_file"; then
    return 0
  fi
  {
    if [ -f "$al_file" ]; then
      awk -v k="$3" '$1 != k && NF > 0' "$al_file"
    fi
    printf '%s\n' "$4"
  } >"$al_tmp" && chmod 0644 "$al_tmp" && mv -f "$al_tmp" "$al_file" && return 0
  rm -f "$al_tmp"
  log "could not write $al_file"
  return 1
}

# write_info DIR JOB UID GPUS: DIR/JOB holds the job's identity as key=value lines, from the prolog's environment,
# its GPUs and its start. Values lose any newline; a value Slurm did not set is left out. A start already recorded for
# this lifetime (the file exists without end=) is kept. Atomic (temporary file, then rename).
write_info() {
  wi_dir=$1
  if ! mkdir -p -- "$wi_dir" 2>/dev/null; then
    log "cannot create $wi_dir"
    return 1
  fi
  wi_start=${SLURM_JOB_START_TIME:-}
  case $wi_start in
    '' | *[!0-9]*) wi_start=$(date +%s) ;;
  esac
  if [ -f "$wi_dir/$2" ] && ! grep -q '^end=' "$wi_dir/$2" 2>/dev/null; then
    wi_old=$(sed -n 's/^start=\([0-9][0-9]*\)$/\1/p' "$wi_dir/$2" 2>/dev/null | head -n 1)
    [ -n "$wi_old" ] && wi_start=$wi_old
  fi
  wi_tmp=$wi_dir/.$2.tmp.$$
  {
    for wi_pair in "user=${SLURM_JOB_USER:-}" "uid=$3" "account=${SLURM_JOB_ACCOUNT:-}" "partition=${SLURM_JOB_PARTITION:-}" \
      "array_job_id=${SLURM_ARRAY_JOB_ID:-}" "array_task_id=${SLURM_ARRAY_TASK_ID:-}" "sluid=${SLURM_JOB_SLUID:-}" "gpus=$4" "start=$wi_start"; do
      case $wi_pair in
        *=) ;;
        *) printf '%s\n' "$wi_pair" | tr -d '\r' | head -n 1 ;;
      esac
    done
  } >"$wi_tmp" && chmod 0644 "$wi_tmp" && mv -f "$wi_tmp" "$wi_dir/$2" && return 0
  rm -f "$wi_tmp"
  log "could not write $wi_dir/$2"
  return 1
}

# The distinct, comma-separated entries of $1, one per line: indices normalised ("01" is 1), ranges "a-b" expanded.
entries() {
  printf '%s\n' "$1" | awk -F, '
    function out(x) { if (!(x in seen)) { seen[x] = 1; print x } }
    {
      for (i = 1; i <= NF; i++) {
        e = $i
        gsub(/[ \t\r]/, "", e)
        if (e == "") continue
        if (e ~ /^[0-9]+-[0-9]+$/) {
          split(e, r, "-")
          if (r[2] - r[1] <= 1024) { for (j = r[1] + 0; j <= r[2] + 0; j++) out(j ""); continue }
        } else if (e ~ /^[0-9]+$/) {
          e = (e + 0) ""
        }
        out(e)
      }
    }'
}

main() {
  mapping_dir=${MONITOR_JOB_MAPPING_DIR:-/run/monitor/job-mapping}
  gpustat_dir=${MONITOR_GPUSTAT_DIR:-/run/gpustat}
  job=${SLURM_JOB_ID:-}
  case $job in
    '' | *[!A-Za-z0-9_.-]*)
      log "no usable SLURM_JOB_ID ('$job'); nothing recorded"
      return 0
      ;;
  esac

  uid=${SLURM_JOB_UID:-}
  if [ -z "$uid" ] && [ -n "${SLURM_JOB_USER:-}" ]; then
    uid=$(id -u -- "$SLURM_JOB_USER" 2>/dev/null)
  fi
  case $uid in
    '' | *[!0-9]*)
      log "job $job: no SLURM_JOB_UID (or SLURM_JOB_USER); gpustat files are skipped"
      uid=
      ;;
  esac

  if [ -n "${SLURM_JOB_GPUS:-}" ]; then
    source_var=SLURM_JOB_GPUS gpus=$SLURM_JOB_GPUS
  elif [ -n "${GPU_DEVICE_ORDINAL:-}" ]; then
    source_var=GPU_DEVICE_ORDINAL gpus=$GPU_DEVICE_ORDINAL
  elif [ -n "${CUDA_VISIBLE_DEVICES:-}" ]; then
    source_var=CUDA_VISIBLE_DEVICES gpus=$CUDA_VISIBLE_DEVICES
  else
    source_var='' gpus='' # a job without GPUs
  fi

  indices=
  uuids=
  for entry in $(entries "$gpus"); do
    case $entry in
      *[!0-9]*) ;;
      *) indices="$indices $entry"; continue ;;
    esac
    if [ "$source_var" = CUDA_VISIBLE_DEVICES ]; then
      case $entry in
        GPU-* | MIG-*)
          case $entry in
            *[!A-Za-z0-9-]*) log "job $job: skipping GPU '$entry' (not a file name)" ;;
            *) uuids="$uuids $entry" ;;
          esac
          continue
          ;;
      esac
    fi
    log "job $job: ignoring '$entry' in $source_var"
  done

  # Indices from SLURM_JOB_GPUS or GPU_DEVICE_ORDINAL, with UUIDs in CUDA_VISIBLE_DEVICES (Slurm 25.11): record the
  # UUIDs in the gpustat directory as well, as jobstats does.
  if [ "$source_var" != CUDA_VISIBLE_DEVICES ] && [ -n "${CUDA_VISIBLE_DEVICES:-}" ]; then
    for entry in $(entries "$CUDA_VISIBLE_DEVICES"); do
      case $entry in
        GPU-* | MIG-*)
          case $entry in
            *[!A-Za-z0-9-]*) ;;
            *) uuids="$uuids $entry" ;;
          esac
          ;;
      esac
    done
  fi

  # The job info names the GPUs by host index, or by UUID when Slurm gave no index.
  info_gpus=
  for entry in ${indices:-$uuids}; do
    info_gpus=${info_gpus:+$info_gpus,}$entry
  done
  info_status=0
  write_info "${MONITOR_JOB_INFO_DIR:-/run/monitor/jobs}" "$job" "$uid" "$info_gpus" || info_status=1
  if [ -z "$source_var" ]; then
    return "$info_status"
  fi

  if [ -z "$indices$uuids" ]; then
    log "job $job: no GPU index or UUID in $source_var='$gpus'"
    return "$info_status"
  fi

  status=$info_status
  if [ -n "$indices" ]; then
    if mkdir -p -- "$mapping_dir" 2>/dev/null; then
      for index in $indices; do
        with_lock "$mapping_dir" add_line "$mapping_dir" "$index" "$job" "$job" || status=1
      done
    else
      log "cannot create $mapping_dir"
      status=1
    fi
  fi
  if [ -n "$uid" ]; then
    if mkdir -p -- "$gpustat_dir" 2>/dev/null; then
      for name in $indices $uuids; do
        with_lock "$gpustat_dir" add_line "$gpustat_dir" "$name" "$job" "$job $uid" || status=1
      done
    else
      log "cannot create $gpustat_dir"
      status=1
    fi
  fi
  return "$status"
}

main "$@" || log "job ${SLURM_JOB_ID:-?}: recording failed (the job runs regardless)"
exit 0
