using Microsoft.Extensions.Time.Testing;
using Monitor.Aggregator.Collection;
using Monitor.Testing;

namespace Monitor.Aggregator.Tests.Collection;

/// <summary>Targets from Slurm's node list and from file_sd YAML.</summary>
public sealed class TargetSourceTests : IDisposable
{
    // scontrol show nodes -o, as Slurm 22.05 prints it (trimmed): gpu02's NodeHostName differs from its NodeName,
    // and a Reason with spaces comes last.
    private const string Nodes =
        """
        NodeName=gpu01 Arch=x86_64 CoresPerSocket=16 CPUAlloc=0 CPUEfctv=64 CPUTot=64 CPULoad=0.05 AvailableFeatures=(null) ActiveFeatures=(null) Gres=gpu:h100:8 NodeAddr=10.0.0.1 NodeHostName=gpu01 Version=22.05.8 OS=Linux 6.1.0 RealMemory=512000 AllocMem=0 FreeMem=500000 Sockets=4 Boards=1 State=IDLE ThreadsPerCore=1 TmpDisk=0 Weight=1 Owner=N/A MCS_label=N/A Partitions=gpu BootTime=2026-12-01T08:00:00 SlurmdStartTime=2026-12-01T08:01:00
        NodeName=gpu02 Arch=x86_64 CoresPerSocket=16 CPUAlloc=64 CPUTot=64 Gres=gpu:h100:8 NodeAddr=10.0.0.2 NodeHostName=gpu02.cluster.example State=ALLOCATED Partitions=gpu
        NodeName=gpu03 Arch=x86_64 NodeAddr=10.0.0.3 NodeHostName=gpu03 State=DOWN+DRAIN Partitions=gpu Reason=Not responding [slurm@2026-12-02T10:00:00]
        NodeName=cpu01 NodeHostName=(null) State=IDLE
        NodeName=bad;rm NodeHostName=bad;rm State=IDLE
        """;

    private readonly TempTree _tree = new();

    public void Dispose() => _tree.Dispose();

    [Fact]
    public void Slurm_HostNamesFromScontrol()
    {
        Assert.Equal(["gpu01", "gpu02.cluster.example", "gpu03", "cpu01"], SlurmNodes.Parse(Nodes));
        Assert.Empty(SlurmNodes.Parse(string.Empty));
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void Slurm_RealProcess_TargetsAskedOnceAMinuteLastGoodKeptWhenItFails()
    {
        var script = _tree.Path("scontrol");
        File.WriteAllText(script, $"#!/bin/sh\n[ \"$*\" = 'show nodes -o' ] || exit 9\ncat <<'EOF'\n{Nodes}\nEOF\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddDays(20_000));
        var list = new TargetList(["gpu01:9420"], [], new SlurmNodes(script, 9500, time));

        Assert.Equal(["http://cpu01:9500", "http://gpu01:9420", "http://gpu01:9500", "http://gpu02.cluster.example:9500", "http://gpu03:9500"], list.Current());
        Assert.Equal(["--targets.slurm"], list.Sources);

        // Broken now; within the minute nothing is asked, after it the last good list stays and the problem is told.
        File.WriteAllText(script, "#!/bin/sh\necho 'slurm_load_node error: Unable to contact slurm controller' >&2\nexit 1\n");
        Assert.Equal(5, list.Current().Count);
        Assert.Empty(list.Problems);
        time.Advance(SlurmNodes.Refresh);
        Assert.Equal(5, list.Current().Count);
        Assert.Equal($"{script} show nodes -o: exit code 1: slurm_load_node error: Unable to contact slurm controller", list.Problems["--targets.slurm"]);
    }

    [Fact]
    public void FileSd_Yaml_ReadAsPrometheusDoes()
    {
        var file = _tree.Path("targets.yml");
        File.WriteAllText(file, "- targets: ['node1:9420', 'node2:9420']\n  labels: { rack: a }\n- targets:\n    - https://node3:9420\n");
        var list = new TargetList([], [file]);

        Assert.Equal(["http://node1:9420", "http://node2:9420", "https://node3:9420"], list.Current());

        File.WriteAllText(file, "targets: [node1]\n");
        File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddSeconds(5));
        Assert.Equal(3, list.Current().Count);
        Assert.Equal("a file_sd file is a list of {targets: [...]} groups", list.Problems[file]);
        Assert.Throws<FormatException>(() => TargetList.ParseYaml(new string('[', 100_000)));
    }
}
