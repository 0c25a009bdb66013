#!/usr/bin/env bash
# Starts a private one-node Slurm on this machine for the integration tests: munged, slurmctld and slurmd on
# loopback, 4 GPUs backed by fake device nodes /dev/nvidia0..3, and packaging/slurm's prolog and epilog.
#
# Usage (root): eval "$(tests/slurm/start-slurm.sh)"   ...   tests/slurm/stop-slurm.sh "$MONITOR_SLURM_DIR"
#
# On success it prints, on stdout and nothing else, the environment a caller needs, one KEY=value a line (values
# without spaces or quotes):
#   MONITOR_SLURM_DIR        the temporary folder holding everything below; pass it to stop-slurm.sh
#   SLURM_CONF               the generated slurm.conf; sbatch, squeue, scancel and sinfo need it in their environment
#   MONITOR_JOB_MAPPING_DIR  where the prolog writes dcgm-exporter mapping files (agent flag
#                            --collector.jobs.slurm-mapping-dir)
#   MONITOR_GPUSTAT_DIR      where the prolog writes jobstats gpustat files (agent flag --collector.jobs.gpustat-dir)
#   MONITOR_SLURM_NODE       the node name (the short host name)
#   MONITOR_SLURM_SYSFS      only with MONITOR_SLURM_CGROUPS=1: a sysfs root whose fs/cgroup/<controller> are this
#                            instance's cgroups (agent flag --path.sysfs), under which its jobs' cgroups are
#   MONITOR_SLURM_DBD        only with MONITOR_SLURM_DBD=1: 1, saying that this instance keeps accounting in slurmdbd
# Diagnostics go to stderr. On failure it prints the daemons' log tails, stops whatever it started and exits 1.
#
# MONITOR_SLURM_CGROUPS=1 in the environment runs jobs in cgroups (proctrack/cgroup and jobacct_gather/cgroup, on
# cgroup v1), so that an agent can read their CPU time and memory. Slurm puts job cgroups at
# <hierarchy>/slurm_<node>/uid_<uid>/job_<id> from the hierarchy's root, where every agent on this machine would see
# them. So slurmd runs in cgroups of its own (<the caller's cgroup>/<the instance folder's name>, in the freezer,
# cpuacct and memory hierarchies) and in new cgroup and mount namespaces in which those are the roots: its jobs'
# cgroups stay under them, out of sight of readers of /sys/fs/cgroup/*/slurm*. stop-slurm.sh removes them. Without
# the variable, jobs run without cgroups.
#
# MONITOR_SLURM_DBD=1 in the environment keeps accounting in a real slurmdbd (Debian's slurmdbd 22.05, as the tests of
# the aggregator's AdminComments need: sacctmgr update job, sacct -o AdminComment), backed by a private MariaDB: its
# own data directory, socket, pid file and log in the folder, listening on a free loopback port, started with
# mariadb-install-db and mariadbd (as root, --user=root). slurmdbd starts before slurmctld, with the cluster
# monitortest, the account physics and root in it registered, so that jobs submitted with --account=physics are
# accepted and recorded. It adds mariadb-server and slurmdbd to what it installs with apt, with services kept from
# starting during the install (a policy-rc.d, where the machine has none): the machine's own MariaDB (/var/lib/mysql)
# is neither started nor used. Without the variable, there is no accounting (accounting_storage/none).
#
# The machine's own Slurm and munge configuration is not touched: the config lives in the temporary folder (SLURM_CONF),
# munged runs with its own key and socket there (AuthInfo=socket=...), and the ports are picked free at run time. It
# installs slurm-wlm and munge (with MONITOR_SLURM_DBD=1, mariadb-server and slurmdbd) with apt when they are missing.
# The fake device nodes it creates are removed by stop-slurm.sh when no other instance still runs.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

say() { echo "start-slurm: $*" >&2; }

if [[ $(id -u) -ne 0 ]]; then
  say "needs root (it runs slurmd, creates /dev/nvidia* and may apt-get install slurm-wlm munge)"
  exit 1
fi

# 1. Packages. apt waits up to 5 minutes for another install's lock (two instances may start at once).
apt_install() {
  local started=$SECONDS
  say "installing $*"
  export DEBIAN_FRONTEND=noninteractive
  if ! timeout 600 apt-get install -y -qq -o DPkg::Lock::Timeout=300 "$@" >/dev/null 2>&1; then
    timeout 300 apt-get update -qq >&2
    timeout 600 apt-get install -y -qq -o DPkg::Lock::Timeout=300 "$@" >/dev/null
  fi
  say "installed in $((SECONDS - started)) s"
}
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null ||
  ! command -v munged >/dev/null; then
  apt_install slurm-wlm munge
fi
dbd=${MONITOR_SLURM_DBD:-0}
if [[ $dbd == 1 ]] && { ! command -v slurmdbd >/dev/null || ! command -v sacctmgr >/dev/null ||
  ! command -v mariadbd >/dev/null || ! command -v mariadb-install-db >/dev/null || ! command -v mariadb >/dev/null; }; then
  # mariadb-server's postinst starts the machine's MariaDB service: a policy-rc.d that denies every start keeps it
  # (and slurmdbd's own service) stopped. One the machine already has is left as it is.
  policy=/usr/sbin/policy-rc.d
  if [[ ! -e $policy ]]; then
    trap 'rm -f "$policy"' EXIT
    printf '#!/bin/sh\n# Written by start-slurm.sh while it installs mariadb-server and slurmdbd: no service starts.\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    apt_install mariadb-server slurmdbd
    rm -f "$policy"
    trap - EXIT
  else
    apt_install mariadb-server slurmdbd
  fi
fi

devices_lock=/tmp/monitor-slurm-devices.lock # shared with stop-slurm.sh
dir=$(mktemp -d /tmp/monitor-slurm.XXXXXX)
chmod 0755 "$dir" # jobs of other users must reach their working directory
mkdir -p "$dir/etc" "$dir/state" "$dir/spool" "$dir/log" "$dir/munge" "$dir/hook-env" "$dir/job-mapping" "$dir/gpustat"
chmod 0755 "$dir/munge" # the socket must be reachable by jobs' users; the key stays 0400

fail() {
  say "$*"
  for log in "$dir"/log/*.log "$dir"/munge/munged.log; do
    [[ -s $log ]] || continue
    say "---- tail of $log"
    tail -n 30 "$log" >&2
  done
  "$here/stop-slurm.sh" "$dir" >&2 || true
  exit 1
}
trap 'fail "failed at line $LINENO"' ERR

# 2. munged, private: its own key, socket, pid and log under $dir/munge.
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
chmod 0400 "$dir/munge/munge.key"
socket=$dir/munge/munge.socket
munged --force --key-file="$dir/munge/munge.key" --socket="$socket" --pid-file="$dir/munge/munged.pid" \
  --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed" </dev/null >/dev/null 2>>"$dir/log/munged.log" ||
  fail "munged did not start"
for _ in $(seq 50); do
  [[ -S $socket ]] && break
  sleep 0.1
done
[[ -S $socket ]] || fail "munged did not create $socket within 5 s"

# 3. Four fake GPUs: the NVIDIA character devices (major 195), created only where missing. Instances that run at once
# share them. Under a lock that stop-slurm.sh takes too, this one creates the missing ones (recorded in
# created-devices) and says that it uses them (devices-in-use): two starts never both create one, and a stop never
# removes them while another instance uses them or is starting. fail would run stop-slurm.sh, which waits for the
# lock, so a problem is reported after the lock is released.
problem=
{
  if flock -w 60 9; then
    for n in 0 1 2 3; do
      [[ -e /dev/nvidia$n ]] && continue
      if ! mknod -m 0666 "/dev/nvidia$n" c 195 "$n"; then
        problem="mknod /dev/nvidia$n failed"
        break
      fi
      echo "/dev/nvidia$n" >>"$dir/created-devices"
    done
    touch "$dir/devices-in-use"
  else
    problem="could not lock $devices_lock within 60 s"
  fi
} 9>>"$devices_lock"
[[ -z $problem ]] || fail "$problem"

# 4. Free ports: not used by any TCP socket now.
used=$(ss -Htan | awk '{ n = split($4, a, ":"); print a[n] }' | sort -u)
free_port() {
  local port
  for _ in $(seq 200); do
    port=$((20000 + RANDOM % 40000))
    if ! grep -qx "$port" <<<"$used"; then
      used+=$'\n'$port
      echo "$port"
      return
    fi
  done
  return 1
}
ctld_port=$(free_port)
slurmd_port=$(free_port)
if [[ $dbd == 1 ]]; then
  dbd_port=$(free_port)
  mysql_port=$(free_port)
fi

# 4b. MONITOR_SLURM_CGROUPS=1: the instance's own cgroups, one per hierarchy Slurm uses, under the caller's cgroup
# there; and a sysfs root for the agent in which fs/cgroup/<controller> is that cgroup.
cgroups=${MONITOR_SLURM_CGROUPS:-0}
hierarchies=()
if [[ $cgroups == 1 ]]; then
  mkdir -p "$dir/sys/fs/cgroup"
  for controller in freezer cpuacct memory; do
    # A /proc/self/cgroup line such as "2:cpu,cpuacct:/some/path": the caller's cgroup in the hierarchy mounted at
    # /sys/fs/cgroup/cpu,cpuacct.
    line=$(grep -E "^[0-9]+:([^:]*,)?$controller(,[^:]*)?:" /proc/self/cgroup || true)
    [[ -n $line ]] || fail "MONITOR_SLURM_CGROUPS=1 needs cgroup v1: /proc/self/cgroup has no $controller hierarchy"
    hierarchy=${line#*:}
    hierarchy=${hierarchy%%:*}
    path=${line#*:*:}
    mountpoint -q "/sys/fs/cgroup/$hierarchy" || fail "the cgroup v1 $controller hierarchy is not mounted at /sys/fs/cgroup/$hierarchy"
    cgroup=/sys/fs/cgroup/$hierarchy${path%/}/${dir##*/}
    if [[ ! -d $cgroup ]]; then
      mkdir "$cgroup" || fail "cannot create $cgroup"
      echo "$cgroup" >>"$dir/created-cgroups"
      hierarchies+=("$hierarchy")
    fi
    ln -s "$cgroup" "$dir/sys/fs/cgroup/$controller"
  done
fi

# 5. Configuration. The node line takes CPUs and topology from slurmd -C; memory a little under what it measures.
node=$(hostname -s)
hw=$(SLURM_CONF=/nonexistent slurmd -C 2>/dev/null | grep -m 1 '^NodeName=' || true)
topology=$(grep -oE '(CPUs|Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore)=[0-9]+' <<<"$hw" | tr '\n' ' ' || true)
memory=$(grep -oE 'RealMemory=[0-9]+' <<<"$hw" | cut -d= -f2 || true)
[[ -n $topology && -n $memory ]] || fail "slurmd -C gave no node configuration: '$hw'"
memory=$((memory * 9 / 10))

# Slurm runs the prolog and epilog with a clean environment: the wrappers bake the directories in, and keep a copy of
# the environment Slurm gave them (hook-env/<prolog|epilog>.<jobid>) for diagnostics.
for hook in prolog epilog; do
  cat >"$dir/$hook.sh" <<EOF
#!/bin/sh
env | sort >"$dir/hook-env/$hook.\${SLURM_JOB_ID:-unknown}" 2>/dev/null
MONITOR_JOB_MAPPING_DIR=$dir/job-mapping
MONITOR_GPUSTAT_DIR=$dir/gpustat
MONITOR_JOB_INFO_DIR=$dir/jobs
export MONITOR_JOB_MAPPING_DIR MONITOR_GPUSTAT_DIR MONITOR_JOB_INFO_DIR
exec "$repo/packaging/slurm/monitor-$hook.sh"
EOF
  chmod 0755 "$dir/$hook.sh"
done

conf=$dir/etc/slurm.conf
cat >"$conf" <<EOF
# Generated by tests/slurm/start-slurm.sh: a private one-node cluster for the monitor integration tests.
ClusterName=monitortest
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
$(if [[ $cgroups == 1 ]]; then
  echo "# Jobs in cgroups (MONITOR_SLURM_CGROUPS=1) for their CPU time and memory; cores and memory are not constrained."
  echo "ProctrackType=proctrack/cgroup"
  echo "JobAcctGatherType=jobacct_gather/cgroup"
else
  echo "# No cgroups: they work on this machine or not depending on the container, and most tests do not need them."
  echo "ProctrackType=proctrack/linuxproc"
  echo "JobAcctGatherType=jobacct_gather/none"
fi)
TaskPlugin=task/none
$(if [[ $dbd == 1 ]]; then
  echo "# Accounting in this instance's slurmdbd (MONITOR_SLURM_DBD=1)."
  echo "AccountingStorageType=accounting_storage/slurmdbd"
  echo "AccountingStorageHost=localhost"
  echo "AccountingStoragePort=$dbd_port"
  echo "# The munged socket for talking to slurmdbd (AuthInfo does not apply to that connection)."
  echo "AccountingStoragePass=socket=$socket"
else
  echo "AccountingStorageType=accounting_storage/none"
fi)
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
MailProg=/bin/true
KillWait=5
MinJobAge=60
InactiveLimit=0
GresTypes=gpu
Prolog=$dir/prolog.sh
Epilog=$dir/epilog.sh
# Alloc: the prolog runs when the job is allocated, before any step starts.
PrologFlags=Alloc
NodeName=$node NodeAddr=127.0.0.1 ${topology}RealMemory=$memory Gres=gpu:4 State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
cat >"$dir/etc/gres.conf" <<EOF
Name=gpu File=/dev/nvidia[0-3]
EOF
cat >"$dir/etc/cgroup.conf" <<EOF
CgroupPlugin=autodetect
IgnoreSystemd=yes
EOF
export SLURM_CONF=$conf

# 5b. MONITOR_SLURM_DBD=1: a private MariaDB, then slurmdbd, with the cluster, the account physics and root in it.
if [[ $dbd == 1 ]]; then
  started=$SECONDS
  # MariaDB reads this file only (--defaults-file first): not the machine's /etc/mysql. Small and unsynced: a test's
  # database, gone with the folder. Its clients (mariadb, mariadb-admin) use the [client] group: root over the socket.
  mycnf=$dir/etc/my.cnf
  cat >"$mycnf" <<EOF
[mariadbd]
datadir=$dir/mysql
socket=$dir/mysql.sock
pid-file=$dir/mariadbd.pid
log-error=$dir/log/mariadbd.log
user=root
bind-address=127.0.0.1
port=$mysql_port
skip-name-resolve
innodb-buffer-pool-size=32M
innodb-log-file-size=8M
innodb-flush-log-at-trx-commit=0
innodb-doublewrite=0
innodb-buffer-pool-dump-at-shutdown=0
innodb-buffer-pool-load-at-startup=0
[client]
socket=$dir/mysql.sock
user=root
EOF
  mariadb-install-db --defaults-file="$mycnf" --skip-test-db --auth-root-authentication-method=socket \
    </dev/null >"$dir/mariadb-install-db.out" 2>&1 || fail "mariadb-install-db failed: $(tail -n 20 "$dir/mariadb-install-db.out")"
  # mariadbd does not daemonize: it runs in the background in a session of its own, and writes its pid file.
  setsid mariadbd --defaults-file="$mycnf" </dev/null >/dev/null 2>>"$dir/log/mariadbd.log" &
  mariadbd=$!
  for _ in $(seq 300); do
    mariadb-admin --defaults-file="$mycnf" ping >/dev/null 2>&1 && break
    kill -0 "$mariadbd" 2>/dev/null || fail "mariadbd exited"
    sleep 0.1
  done
  mariadb-admin --defaults-file="$mycnf" ping >/dev/null 2>&1 || fail "mariadbd did not answer within 30 s"

  # slurmdbd's database user, over TCP on loopback with a password (Slurm's MySQL plugin connects by host and port).
  password=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  mariadb --defaults-file="$mycnf" -e "CREATE DATABASE slurm_acct_db; CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$password'; GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';" \
    2>>"$dir/log/mariadbd.log" || fail "could not create slurmdbd's database and user"

  # slurmdbd reads slurmdbd.conf next to slurm.conf (SLURM_CONF); it must be its SlurmUser's and mode 0600.
  (
    umask 077
    cat >"$dir/etc/slurmdbd.conf" <<EOF
# Generated by tests/slurm/start-slurm.sh: the private cluster's accounting (MONITOR_SLURM_DBD=1).
AuthType=auth/munge
AuthInfo=socket=$socket
DbdHost=localhost
DbdPort=$dbd_port
SlurmUser=root
DebugLevel=info
LogFile=$dir/log/slurmdbd.log
PidFile=$dir/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$mysql_port
StorageUser=slurm
StoragePass=$password
StorageLoc=slurm_acct_db
EOF
  )
  slurmdbd </dev/null >/dev/null 2>>"$dir/log/slurmdbd.stderr.log" || fail "slurmdbd did not start"
  # It listens once its database is ready (on a first start, once it has created its tables).
  for _ in $(seq 600); do
    [[ -n $(ss -Htln "sport = :$dbd_port") ]] && break
    sleep 0.1
  done
  [[ -n $(ss -Htln "sport = :$dbd_port") ]] || fail "slurmdbd did not listen on port $dbd_port within 60 s"
  for command in "add cluster monitortest" "add account physics cluster=monitortest" "add user root account=physics cluster=monitortest"; do
    # shellcheck disable=SC2086 # the words of the command
    timeout 30 sacctmgr -i $command >>"$dir/log/sacctmgr.log" 2>&1 || fail "sacctmgr -i $command failed"
  done
  say "slurmdbd ready $((SECONDS - started)) s after MariaDB's start (slurmdbd :$dbd_port, mariadbd 127.0.0.1:$mysql_port)"
fi

# 6. Daemons (they daemonize and write their pid files).
started=$SECONDS
slurmctld </dev/null >/dev/null 2>>"$dir/log/slurmctld.stderr.log" || fail "slurmctld did not start"
if [[ $cgroups == 1 ]]; then
  # slurmd joins the instance's cgroups, then new cgroup and mount namespaces where they are the roots (a hierarchy
  # mounted anew inside shows the namespace's root; the same one cannot be stacked on its mount point, so it is
  # unmounted there first, in the private mount namespace only), and daemonizes in them.
  cat >"$dir/slurmd-in-cgroups.sh" <<EOF
#!/bin/sh
set -e
while read -r cgroup; do echo \$\$ >"\$cgroup/cgroup.procs"; done <"$dir/created-cgroups"
exec unshare --cgroup --mount --propagation private sh -ec 'for h in ${hierarchies[*]}; do umount "/sys/fs/cgroup/\$h"; mount -t cgroup -o "\$h" cgroup "/sys/fs/cgroup/\$h"; done; exec slurmd'
EOF
  chmod 0755 "$dir/slurmd-in-cgroups.sh"
  "$dir/slurmd-in-cgroups.sh" </dev/null >/dev/null 2>>"$dir/log/slurmd.stderr.log" || fail "slurmd did not start in its cgroups"
else
  slurmd </dev/null >/dev/null 2>>"$dir/log/slurmd.stderr.log" || fail "slurmd did not start"
fi

state=
while ((SECONDS - started < 60)); do
  state=$(timeout 5 sinfo -h -N -n "$node" -o '%T' 2>/dev/null || true)
  [[ $state == idle ]] && break
  # A node slurmd registered with a mismatching configuration is not coming back by itself.
  [[ $state == inval* || $state == drain* ]] && fail "node $node is '$state' (see slurmctld.log below)"
  sleep 0.5
done
[[ $state == idle ]] || fail "node $node not idle within 60 s (state '$state')"
say "node $node idle $((SECONDS - started)) s after start (slurmctld :$ctld_port, slurmd :$slurmd_port, $dir)"
trap - ERR

echo "MONITOR_SLURM_DIR=$dir"
echo "SLURM_CONF=$conf"
echo "MONITOR_JOB_MAPPING_DIR=$dir/job-mapping"
echo "MONITOR_GPUSTAT_DIR=$dir/gpustat"
echo "MONITOR_JOB_INFO_DIR=$dir/jobs"
echo "MONITOR_SLURM_NODE=$node"
if [[ $cgroups == 1 ]]; then
  echo "MONITOR_SLURM_SYSFS=$dir/sys"
fi
if [[ $dbd == 1 ]]; then
  echo "MONITOR_SLURM_DBD=1"
fi
