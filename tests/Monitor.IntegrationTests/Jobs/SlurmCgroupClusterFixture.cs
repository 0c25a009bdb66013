namespace Monitor.IntegrationTests.Jobs;

/// <summary>
/// The one-node Slurm of <see cref="SlurmClusterFixture"/> with its jobs in cgroups (proctrack/cgroup and
/// jobacct_gather/cgroup, cgroup v1), so that an agent given <see cref="SlurmClusterFixture.Sysfs"/> as
/// <c>--path.sysfs</c> reads each job's CPU time and memory. slurmd runs in cgroups and cgroup and mount namespaces of
/// its own (tests/slurm/start-slurm.sh says how), so its jobs' cgroups are out of sight of other agents on this machine.
/// </summary>
public sealed class SlurmCgroupClusterFixture() : SlurmClusterFixture(cgroups: true);
