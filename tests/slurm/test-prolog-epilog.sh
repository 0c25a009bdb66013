#!/usr/bin/env bash
# Tests packaging/slurm/monitor-prolog.sh and monitor-epilog.sh.
#
#   1. Directly, with the environment Slurm would give them: GPU indices, UUIDs in CUDA_VISIBLE_DEVICES (Slurm 25.11),
#      the fallbacks, a CPU-only job, two jobs sharing a GPU, each script run twice, concurrent runs, and failures
#      that must not fail the job. Every file's exact content is checked. The job info file: the prolog's start= (kept
#      by a rerun, fresh after a requeue), the epilog's end= (kept by a rerun), pruning of files ended 7 days ago.
#   2. Under a real Slurm (tests/slurm/start-slurm.sh: munged, slurmctld, slurmd, 4 fake GPUs): jobs with
#      --gres=gpu:2 and --gres=gpu:1, the files while they run, no GPU line left after their epilogs, and each job's
#      info file left with its start= and the epilog's end=.
#
# Usage: tests/slurm/test-prolog-epilog.sh [--direct-only]   (part 2 needs root; about 30 s in all)
# Exits non-zero with a message naming the failed check.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
prolog=$repo/packaging/slurm/monitor-prolog.sh
epilog=$repo/packaging/slurm/monitor-epilog.sh
direct_only=0
[[ ${1:-} == --direct-only ]] && direct_only=1

started=$SECONDS
checks=0
say() { echo "test-prolog-epilog: $*" >&2; }
fail() {
  say "FAILED: $*"
  exit 1
}

work=$(mktemp -d)
slurm_dir=
cleanup() {
  if [[ -n $slurm_dir ]]; then
    "$here/stop-slurm.sh" "$slurm_dir" || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# expect DIR [NAME=CONTENT]...: DIR holds exactly these non-hidden files, each exactly CONTENT plus a newline (use
# $'a\nb' for two lines), and no hidden file but the lock (no temporary file left behind). No NAME: DIR is empty or
# missing.
expect() {
  local dir=$1 want name content actual
  shift
  want=$(for spec in "$@"; do echo "${spec%%=*}"; done | sort)
  actual=
  if [[ -d $dir ]]; then
    actual=$(find "$dir" -mindepth 1 -maxdepth 1 ! -name '.*' -printf '%f\n' | sort)
  fi
  [[ $actual == "$want" ]] || fail "$context: files in ${dir##*/}: expected [${want//$'\n'/ }], found [${actual//$'\n'/ }]"
  for spec in "$@"; do
    name=${spec%%=*} content=${spec#*=}
    if ! diff <(printf '%s\n' "$content") "$dir/$name" >/dev/null; then
      fail "$context: ${dir##*/}/$name: expected '${content//$'\n'/\\n}', found '$(tr '\n' '|' <"$dir/$name")'"
    fi
  done
  if [[ -d $dir ]]; then
    local hidden
    hidden=$(find "$dir" -mindepth 1 -maxdepth 1 -name '.*' ! -name .monitor.lock -printf '%f ')
    [[ -z $hidden ]] || fail "$context: leftover files in ${dir##*/}: $hidden"
  fi
  checks=$((checks + 1))
}

# run SCRIPT VAR=VALUE...: runs a hook with only these variables (as Slurm does: a clean environment) plus the dirs;
# the hook must exit 0 and, unless the case expects it, print nothing.
map=$work/job-mapping
stat=$work/gpustat
info=$work/jobs
run() {
  local script=$1 err
  shift
  err=$(env -i PATH=/usr/bin:/bin MONITOR_JOB_MAPPING_DIR="$map" MONITOR_GPUSTAT_DIR="$stat" MONITOR_JOB_INFO_DIR="$info" "$@" "$script" 2>&1) ||
    fail "$context: ${script##*/} exited non-zero: $err"
  last_stderr=$err
}
reset() { rm -rf "$map" "$stat" "$info"; }

# ---------------------------------------------------------------------------------------------------------- part 1
context="indices from SLURM_JOB_GPUS"
reset
run "$prolog" SLURM_JOB_ID=11 SLURM_JOB_UID=1000 SLURM_JOB_GPUS=0,2 CUDA_VISIBLE_DEVICES=0,2 GPU_DEVICE_ORDINAL=0,2 \
  SLURM_JOB_USER=alice SLURM_JOB_ACCOUNT=physics SLURM_JOB_PARTITION=gpu SLURM_ARRAY_JOB_ID=10 SLURM_ARRAY_TASK_ID=1 \
  SLURM_JOB_START_TIME=1700000000
[[ -z $last_stderr ]] || fail "$context: prolog wrote to stderr: $last_stderr"
expect "$map" 0=11 2=11
expect "$stat" "0=11 1000" "2=11 1000"
identity=$'user=alice\nuid=1000\naccount=physics\npartition=gpu\narray_job_id=10\narray_task_id=1\ngpus=0,2\nstart=1700000000'
[[ $(cat "$info/11") == "$identity" ]] || fail "$context: job info file: $(cat "$info/11" 2>&1)"
checks=$((checks + 1))
run "$epilog" SLURM_JOB_ID=11
expect "$map"
expect "$stat"
# The epilog keeps the identity and adds the end (now, to the second); a second run keeps the first end.
now=$(date +%s)
end=$(sed -n 's/^end=//p' "$info/11")
[[ $(head -n 8 "$info/11") == "$identity" && $(wc -l <"$info/11") -eq 9 && $end =~ ^[0-9]+$ ]] ||
  fail "$context: job info file after the epilog: $(cat "$info/11" 2>&1)"
((end <= now && end >= now - 5)) || fail "$context: end=$end is not now ($now)"
sleep 1
run "$epilog" SLURM_JOB_ID=11
[[ $(sed -n 's/^end=//p' "$info/11") == "$end" ]] || fail "$context: a second epilog changed the end: $(cat "$info/11")"
checks=$((checks + 1))

context="the prolog's start: now without SLURM_JOB_START_TIME, kept by a rerun, fresh after an end (a requeue)"
reset
before=$(date +%s)
run "$prolog" SLURM_JOB_ID=17 SLURM_JOB_UID=1000 SLURM_JOB_GPUS=1
start=$(sed -n 's/^start=//p' "$info/17")
if ! [[ $start =~ ^[0-9]+$ ]] || ((start < before || start > before + 5)); then fail "$context: start=$start (now $before)"; fi
grep -qx 'gpus=1' "$info/17" || fail "$context: no gpus=1 in $(cat "$info/17")"
sleep 1
run "$prolog" SLURM_JOB_ID=17 SLURM_JOB_UID=1000 SLURM_JOB_GPUS=1
[[ $(sed -n 's/^start=//p' "$info/17") == "$start" ]] || fail "$context: a rerun changed the start: $(cat "$info/17")"
run "$epilog" SLURM_JOB_ID=17
run "$prolog" SLURM_JOB_ID=17 SLURM_JOB_UID=1000 SLURM_JOB_GPUS=1 SLURM_JOB_START_TIME=1800000000
if ! grep -qx 'start=1800000000' "$info/17" || grep -q '^end=' "$info/17"; then fail "$context: after a requeue: $(cat "$info/17")"; fi
checks=$((checks + 1))

context="the epilog prunes info files of jobs that ended more than a day ago, never a running job's"
reset
mkdir -p "$info"
printf 'uid=1\nstart=1\nend=2\n' >"$info/90"
printf 'uid=1\nstart=1\n' >"$info/91"
printf 'uid=1\nstart=1\nend=2\n' >"$info/92"
touch -d '2 days ago' "$info/90" "$info/91"
run "$epilog" SLURM_JOB_ID=93
[[ ! -e $info/90 && -e $info/91 && -e $info/92 ]] || fail "$context: left $(ls "$info")"
checks=$((checks + 1))

context="Slurm 25.11: indices in SLURM_JOB_GPUS, UUIDs in CUDA_VISIBLE_DEVICES"
reset
run "$prolog" SLURM_JOB_ID=12 SLURM_JOB_UID=1000 SLURM_JOB_GPUS=3 \
  CUDA_VISIBLE_DEVICES=GPU-8f6c2a4e-1b3d-4c5e-9f70-123456789abc
expect "$map" 3=12
expect "$stat" "3=12 1000" "GPU-8f6c2a4e-1b3d-4c5e-9f70-123456789abc=12 1000"
run "$epilog" SLURM_JOB_ID=12
expect "$map"
expect "$stat"

context="only UUIDs in CUDA_VISIBLE_DEVICES (GPU and MIG)"
reset
run "$prolog" SLURM_JOB_ID=13 SLURM_JOB_UID=1001 \
  CUDA_VISIBLE_DEVICES=GPU-aaaaaaaa-0000-0000-0000-000000000001,MIG-bbbbbbbb-0000-0000-0000-000000000002
expect "$map"
expect "$stat" "GPU-aaaaaaaa-0000-0000-0000-000000000001=13 1001" "MIG-bbbbbbbb-0000-0000-0000-000000000002=13 1001"
run "$epilog" SLURM_JOB_ID=13
expect "$stat"

context="fallback to GPU_DEVICE_ORDINAL (a range, a leading zero, a repeat)"
reset
run "$prolog" SLURM_JOB_ID=14 SLURM_JOB_UID=1002 GPU_DEVICE_ORDINAL='1-2, 03,1' CUDA_VISIBLE_DEVICES=0
expect "$map" 1=14 2=14 3=14
expect "$stat" "1=14 1002" "2=14 1002" "3=14 1002"

context="fallback to indices in CUDA_VISIBLE_DEVICES"
reset
run "$prolog" SLURM_JOB_ID=15 SLURM_JOB_UID=1003 CUDA_VISIBLE_DEVICES=1,0
expect "$map" 0=15 1=15
expect "$stat" "0=15 1003" "1=15 1003"

context="uid from SLURM_JOB_USER"
reset
run "$prolog" SLURM_JOB_ID=16 SLURM_JOB_USER=root SLURM_JOB_GPUS=0
expect "$map" 0=16
expect "$stat" "0=16 0"

context="no uid: mapping files only"
reset
run "$prolog" SLURM_JOB_ID=17 SLURM_JOB_GPUS=0
expect "$map" 0=17
expect "$stat"

context="a CPU-only job"
reset
run "$prolog" SLURM_JOB_ID=18 SLURM_JOB_UID=1000
[[ -z $last_stderr ]] || fail "$context: prolog wrote to stderr: $last_stderr"
expect "$map"
expect "$stat"
run "$epilog" SLURM_JOB_ID=18
expect "$map"

context="two jobs sharing GPU 1"
reset
run "$prolog" SLURM_JOB_ID=21 SLURM_JOB_UID=1000 SLURM_JOB_GPUS=0,1
run "$prolog" SLURM_JOB_ID=22 SLURM_JOB_UID=1001 SLURM_JOB_GPUS=1,2
expect "$map" 0=21 1=$'21\n22' 2=22
expect "$stat" "0=21 1000" "1=21 1000"$'\n'"22 1001" "2=22 1001"

context="the prolog run twice"
run "$prolog" SLURM_JOB_ID=21 SLURM_JOB_UID=1000 SLURM_JOB_GPUS=0,1
run "$prolog" SLURM_JOB_ID=22 SLURM_JOB_UID=1001 SLURM_JOB_GPUS=1,2
expect "$map" 0=21 1=$'21\n22' 2=22
expect "$stat" "0=21 1000" "1=21 1000"$'\n'"22 1001" "2=22 1001"

context="the first job's epilog"
run "$epilog" SLURM_JOB_ID=21 SLURM_JOB_UID=1000 SLURM_JOB_GPUS=0,1
expect "$map" 1=22 2=22
expect "$stat" "1=22 1001" "2=22 1001"

context="the epilog run twice"
run "$epilog" SLURM_JOB_ID=21 SLURM_JOB_UID=1000 SLURM_JOB_GPUS=0,1
expect "$map" 1=22 2=22
expect "$stat" "1=22 1001" "2=22 1001"

context="an epilog without GPU variables (it scans the directories)"
run "$epilog" SLURM_JOB_ID=22
expect "$map"
expect "$stat"
run "$epilog" SLURM_JOB_ID=22
expect "$map"

context="a job id that is a prefix of another's"
reset
run "$prolog" SLURM_JOB_ID=3 SLURM_JOB_UID=1000 SLURM_JOB_GPUS=0
run "$prolog" SLURM_JOB_ID=31 SLURM_JOB_UID=1000 SLURM_JOB_GPUS=0
run "$epilog" SLURM_JOB_ID=3
expect "$map" 0=31
expect "$stat" "0=31 1000"

context="a stale uid for the same job is replaced, not duplicated"
reset
run "$prolog" SLURM_JOB_ID=41 SLURM_JOB_UID=1000 SLURM_JOB_GPUS=0
run "$prolog" SLURM_JOB_ID=41 SLURM_JOB_UID=1005 SLURM_JOB_GPUS=0
expect "$stat" "0=41 1005"

context="no SLURM_JOB_ID"
reset
run "$prolog" SLURM_JOB_UID=1000 SLURM_JOB_GPUS=0
[[ $last_stderr == *"no usable SLURM_JOB_ID"* ]] || fail "$context: no message on stderr"
expect "$map"
run "$epilog"

context="an unwritable directory does not fail the job"
err=$(env -i PATH=/usr/bin:/bin MONITOR_JOB_MAPPING_DIR=/proc/monitor-nope MONITOR_GPUSTAT_DIR=/proc/monitor-nope MONITOR_JOB_INFO_DIR=/proc/monitor-nope \
  SLURM_JOB_ID=51 SLURM_JOB_UID=1000 SLURM_JOB_GPUS=0 "$prolog" 2>&1) || fail "$context: prolog exited non-zero"
[[ $err == *"cannot create /proc/monitor-nope"* ]] || fail "$context: no message on stderr: $err"
env -i PATH=/usr/bin:/bin MONITOR_JOB_MAPPING_DIR=/proc MONITOR_GPUSTAT_DIR=/proc MONITOR_JOB_INFO_DIR=/proc SLURM_JOB_ID=51 "$epilog" 2>/dev/null ||
  fail "$context: epilog exited non-zero"
checks=$((checks + 1))

context="24 concurrent prologs, then 24 concurrent epilogs, on the same GPUs"
reset
pids=()
for j in $(seq 100 123); do
  env -i PATH=/usr/bin:/bin MONITOR_JOB_MAPPING_DIR="$map" MONITOR_GPUSTAT_DIR="$stat" MONITOR_JOB_INFO_DIR="$info" \
    SLURM_JOB_ID="$j" SLURM_JOB_UID="$j" SLURM_JOB_GPUS=0,1 "$prolog" &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || fail "$context: a prolog exited non-zero"; done
all=$(seq 100 123 | sort)
for gpu in 0 1; do
  [[ $(sort "$map/$gpu") == "$all" ]] || fail "$context: job-mapping/$gpu lost or duplicated lines: $(tr '\n' ' ' <"$map/$gpu")"
  [[ $(sort "$stat/$gpu") == "$(for j in $all; do echo "$j $j"; done)" ]] || fail "$context: gpustat/$gpu is wrong"
done
pids=()
for j in $(seq 100 123); do
  env -i PATH=/usr/bin:/bin MONITOR_JOB_MAPPING_DIR="$map" MONITOR_GPUSTAT_DIR="$stat" MONITOR_JOB_INFO_DIR="$info" SLURM_JOB_ID="$j" "$epilog" &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || fail "$context: an epilog exited non-zero"; done
expect "$map"
expect "$stat"

say "part 1 (scripts run directly): $checks checks passed in $((SECONDS - started)) s"
if ((direct_only)); then
  exit 0
fi

# ---------------------------------------------------------------------------------------------------------- part 2
[[ $(id -u) -eq 0 ]] || fail "part 2 (a real Slurm) needs root; run with --direct-only to skip it"
part2=$SECONDS
env_out=$("$here/start-slurm.sh") || fail "start-slurm.sh failed (its messages are above)"
while IFS='=' read -r key value; do
  case $key in
    MONITOR_SLURM_DIR) slurm_dir=$value ;;
    SLURM_CONF) export SLURM_CONF=$value ;;
    MONITOR_JOB_MAPPING_DIR) map=$value ;;
    MONITOR_GPUSTAT_DIR) stat=$value ;;
    MONITOR_JOB_INFO_DIR) info=$value ;;
  esac
done <<<"$env_out"
[[ -n $slurm_dir && -n ${SLURM_CONF:-} && $info == "$slurm_dir"/* ]] || fail "start-slurm.sh printed no environment: $env_out"
say "Slurm up in $((SECONDS - part2)) s"

# wait_state JOB STATE SECONDS
wait_state() {
  local state=
  for _ in $(seq $(($3 * 2))); do
    state=$(squeue -h -j "$1" -o '%T' 2>/dev/null || true)
    [[ $state == "$2" ]] && return 0
    sleep 0.5
  done
  fail "job $1 not $2 within $3 s (state '$state'); $(scontrol show job "$1" 2>&1 | grep -E 'JobState|Reason' | tr -s ' ')"
}

# wait_gone JOB SECONDS: until no file of DIRS holds a line of JOB (the epilog ran).
wait_gone() {
  for _ in $(seq $(($2 * 2))); do
    if ! grep -rqsE "^$1( |$)" "$map" "$stat"; then
      return 0
    fi
    sleep 0.5
  done
  fail "lines of job $1 still there $2 s after its end: $(grep -rsE "^$1( |$)" "$map" "$stat" | tr '\n' ' ')"
}

# wait_files JOB COUNT SECONDS: until COUNT mapping files hold JOB (the prolog ran; with PrologFlags=Alloc it runs
# at allocation, but the job may show RUNNING a moment before it finishes).
wait_files() {
  local n=0
  for _ in $(seq $(($3 * 10))); do
    n=$({ grep -rlsx "$1" "$map" || true; } | wc -l)
    ((n == $2)) && return 0
    sleep 0.1
  done
  fail "$context: $n mapping files hold job $1 after $3 s, not $2"
}

# The GPU indices Slurm gave JOB, from scontrol's "GRES=gpu:2(IDX:0-1)" (or "IDX:0,2").
gpus_of() {
  local idx
  idx=$(scontrol show job -d "$1" | grep -oE 'IDX:[0-9,-]+' | head -n 1 | cut -d: -f2)
  printf '%s\n' "$idx" | tr ',' '\n' | while IFS=- read -r lo hi; do seq "$lo" "${hi:-$lo}"; done
}

user=root uid=0
if id nobody >/dev/null 2>&1; then
  user=nobody uid=$(id -u nobody)
fi
root_uid=$(id -u)
submit() {
  runuser -u "$user" -- sbatch --parsable --chdir=/tmp --output=/dev/null "$@" | cut -d';' -f1
}

# check_info JOB UID ENDED: the job's info file names its uid and GPUs and holds one start= (SLURM_JOB_START_TIME
# where Slurm gave the prolog one, else within a few seconds of Slurm's StartTime); ENDED=1: also exactly one end=,
# not before the start and within a few seconds of now (the epilog has just run); ENDED=0: no end=.
check_info() {
  local file=$info/$1 start end now given
  [[ -f $file ]] || fail "$context: no job info file for job $1"
  grep -qx "uid=$2" "$file" || fail "$context: info/$1 has no uid=$2: $(tr '\n' '|' <"$file")"
  grep -qE '^gpus=[0-9]' "$file" || fail "$context: info/$1 has no gpus=: $(tr '\n' '|' <"$file")"
  [[ $(grep -c '^start=' "$file") -eq 1 ]] || fail "$context: info/$1 has not one start=: $(tr '\n' '|' <"$file")"
  start=$(sed -n 's/^start=//p' "$file")
  [[ $start =~ ^[0-9]+$ ]] || fail "$context: info/$1: start=$start"
  given=$(sed -n 's/^SLURM_JOB_START_TIME=//p' "$slurm_dir/hook-env/prolog.$1")
  if [[ -n $given ]]; then
    [[ $start == "$given" ]] || fail "$context: info/$1: start=$start, but Slurm gave the prolog SLURM_JOB_START_TIME=$given"
  else
    given=$(date -d "$(scontrol show job "$1" | grep -oE 'StartTime=[^ ]+' | cut -d= -f2)" +%s) ||
      fail "$context: no StartTime for job $1 in scontrol"
    ((start >= given - 2 && start <= given + 5)) || fail "$context: info/$1: start=$start, Slurm's StartTime $given"
  fi
  now=$(date +%s)
  if (($3)); then
    [[ $(grep -c '^end=' "$file") -eq 1 ]] || fail "$context: info/$1 has not one end=: $(tr '\n' '|' <"$file")"
    end=$(sed -n 's/^end=//p' "$file")
    if ! [[ $end =~ ^[0-9]+$ ]] || ((end < start || end > now || end < now - 10)); then
      fail "$context: info/$1: end=$end (start $start, now $now)"
    fi
  else
    ! grep -q '^end=' "$file" || fail "$context: info/$1 has an end= while the job runs: $(tr '\n' '|' <"$file")"
  fi
  checks=$((checks + 1))
}

context="a real Slurm: job A with --gres=gpu:2 as $user"
a=$(submit --gres=gpu:2 --wrap 'sleep 60') || fail "sbatch failed"
wait_state "$a" RUNNING 30
wait_files "$a" 2 10
mapfile -t a_gpus < <(gpus_of "$a")
((${#a_gpus[@]} == 2)) || fail "$context: scontrol shows GPUs [${a_gpus[*]}]"
specs=() stat_specs=()
for g in "${a_gpus[@]}"; do
  specs+=("$g=$a")
  stat_specs+=("$g=$a $uid")
done
expect "$map" "${specs[@]}"
expect "$stat" "${stat_specs[@]}"
grep -qx "SLURM_JOB_GPUS=$(IFS=,; echo "${a_gpus[*]}")" "$slurm_dir/hook-env/prolog.$a" ||
  fail "$context: the prolog's SLURM_JOB_GPUS is not $(IFS=,; echo "${a_gpus[*]}"): $(grep GPU "$slurm_dir/hook-env/prolog.$a" | tr '\n' ' ')"
check_info "$a" "$uid" 0
say "job $a RUNNING on GPUs ${a_gpus[*]} after $((SECONDS - part2)) s; files: $(cd "$map" && grep -H . -- * | tr '\n' ' ')"

context="a real Slurm: job B with --gres=gpu:1 as root, ending by itself while A runs"
b=$(sbatch --parsable --chdir=/tmp --output=/dev/null --gres=gpu:1 --wrap 'sleep 5') || fail "sbatch failed"
wait_state "$b" RUNNING 30
wait_files "$b" 1 10
mapfile -t b_gpus < <(gpus_of "$b")
((${#b_gpus[@]} == 1)) || fail "$context: scontrol shows GPUs [${b_gpus[*]}]"
[[ " ${a_gpus[*]} " != *" ${b_gpus[0]} "* ]] || fail "$context: GPU ${b_gpus[0]} given to both jobs"
expect "$map" "${specs[@]}" "${b_gpus[0]}=$b"
expect "$stat" "${stat_specs[@]}" "${b_gpus[0]}=$b $root_uid"
check_info "$b" "$root_uid" 0
wait_gone "$b" 30
expect "$map" "${specs[@]}"
expect "$stat" "${stat_specs[@]}"
[[ -s $slurm_dir/hook-env/epilog.$b ]] || fail "$context: the epilog did not run"
check_info "$b" "$root_uid" 1
check_info "$a" "$uid" 0

context="a real Slurm: job A cancelled"
scancel "$a"
wait_gone "$a" 30
expect "$map"
expect "$stat"
[[ -s $slurm_dir/hook-env/epilog.$a ]] || fail "$context: the epilog did not run"
check_info "$a" "$uid" 1
say "job info after the epilogs: $(cd "$info" && grep -H -E '^(start|end)=' -- "$a" "$b" | tr '\n' ' ')"

say "part 2 (real Slurm) passed in $((SECONDS - part2)) s; all $checks checks passed in $((SECONDS - started)) s"
