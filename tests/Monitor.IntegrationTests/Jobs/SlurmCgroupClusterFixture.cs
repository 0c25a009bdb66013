namespace Monitor.IntegrationTests.Jobs;

/// <summary>
/// The one-node Slurm of <see cref="SlurmClusterFixture"/> with its jobs in cgroups (proctrack/cgroup and
/// jobacct_gather/cgroup, cgroup v1), so that an agent given <see cref="SlurmClusterFixture.Sysfs"/> as
/// <c>--path.sysfs</c> reads each job's CPU time and memory. slurmd runs in cgroups and cgroup and mount namespaces of
/// its own (tests/slurm/start-slurm.sh says how), so its jobs' cgroups are out of sight of other agents on this machine.
/// Its accounting is kept by a real slurmdbd (Debian's 22.05) on a private MariaDB (<c>MONITOR_SLURM_DBD=1</c>), with
/// the account physics, so that the aggregator's AdminComments go into a real accounting database and are read back
/// from it. Only the aggregator's Slurm test uses it.
/// </summary>
public sealed class SlurmCgroupClusterFixture() : SlurmClusterFixture(cgroups: true, accounting: true);
