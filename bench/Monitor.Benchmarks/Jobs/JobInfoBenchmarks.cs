using BenchmarkDotNet.Attributes;
using Monitor.Agent.Jobs.Slurm;

namespace Monitor.Benchmarks.Jobs;

/// <summary>
/// The Slurm job info directory of a busy node: the epilog keeps each ended job's file for a day, so 1,000 ended
/// jobs beside 64 running ones. <see cref="Refresh"/> is one refresh after the directory changed, with every file
/// already parsed (each is read again only when it changes); <see cref="Unchanged"/> one when it did not;
/// <see cref="ColdRefresh"/> parses them all, as the first
/// refresh after a start does.
/// </summary>
[MemoryDiagnoser]
public class JobInfoBenchmarks
{
    private string _root = string.Empty;
    private SlurmJobInfoSource? _source;

    [GlobalSetup]
    public void Setup()
    {
        _root = Path.Join("/var/tmp", $"monitor-bench-jobinfo-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_root);
        for (var j = 0; j < 1064; j++)
        {
            var end = j < 1000 ? $"end={1_764_800_020 + j}\n" : string.Empty;
            File.WriteAllText(Path.Join(_root, (1_000_000 + j).ToString(System.Globalization.CultureInfo.InvariantCulture)),
                $"user=alice\nuid=1001\naccount=physics\npartition=gpu\ngpus=0,1\nstart={1_764_800_000 + j}\n{end}");
        }

        _source = new SlurmJobInfoSource(_root);
        Refresh();
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_root, recursive: true);

    [Benchmark]
    public int Refresh()
    {
        // A prolog or epilog renamed a file in: the directory's time moves on.
        Directory.SetLastWriteTimeUtc(_root, DateTime.UtcNow);
        return _source!.RefreshAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult().Jobs.Count;
    }

    [Benchmark]
    public int Unchanged() => _source!.RefreshAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult().Jobs.Count;

    [Benchmark]
    public int ColdRefresh() => new SlurmJobInfoSource(_root).RefreshAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult().Jobs.Count;
}
