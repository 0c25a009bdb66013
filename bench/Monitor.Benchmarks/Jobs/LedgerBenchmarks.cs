using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using Monitor.Agent.Jobs;
using Monitor.Agent.Jobs.Ledger;

namespace Monitor.Benchmarks.Jobs;

/// <summary>
/// The budget for the job ledger: one checkpoint of 64 running jobs, each on all 8 GPUs (512 per-GPU records),
/// with Slurm identities. <see cref="Checkpoint"/> is the whole write as the agent does it at every refresh: serialize,
/// write a temporary file, fsync, rename over the older checkpoint slot. <see cref="Serialize"/>
/// is the same records into memory only. The directory is under /var/tmp (a disk, not tmpfs), so fsync is real.
/// </summary>
[MemoryDiagnoser]
public class LedgerBenchmarks
{
    private const int Jobs = 64;
    private const int Gpus = 8;

    private readonly List<TrackedJob> _jobs = [];
    private string _root = string.Empty;
    private JobLedger? _ledger;

    [GlobalSetup]
    public void Setup()
    {
        _root = Directory.CreateTempSubdirectory("monitor-bench-ledger-").FullName.Replace("/tmp/", "/var/tmp/", StringComparison.Ordinal);
        Directory.CreateDirectory(_root);
        for (var j = 0; j < Jobs; j++)
        {
            var job = new TrackedJob(
                new JobIdentity
                {
                    JobId = (1_000_000 + j).ToString(System.Globalization.CultureInfo.InvariantCulture), User = "alice", Uid = "1001", Account = "physics",
                    Partition = "gpu", ScheduledStart = DateTimeOffset.UnixEpoch.AddSeconds(1_764_800_000 + j),
                },
                DateTimeOffset.UnixEpoch.AddSeconds(1_764_800_000 + j)) { CpuSeconds = 8123.4, MemoryBytes = 68719476736, MemoryPeakBytes = 70866960384, CpusAllocated = 16, MemoryLimitBytes = 137438953472 };
            job.Sources.Add("slurm_mapping");
            job.Sources.Add("slurm_jobinfo");
            for (var g = 0; g < Gpus; g++)
            {
                var usage = job.Gpu(g, $"GPU-5131d000-0000-4000-8000-{g:D12}");
                (usage.AllocatedSeconds, usage.BusySeconds, usage.EnergyJoules) = (3600.0 / 8, 3312.5 / 8, 2301120.4 / 8);
                (usage.TensorActiveSeconds, usage.SmActiveSeconds, usage.MemoryPeakBytes, usage.LastTickUnix) = (2410.2 / 8, 3105.9 / 8, 65290260620, 1_764_803_600);
                usage.MemoryTotalBytes = 85520809984;
                job.HeldGpus.Add(usage.Uuid);
            }

            _jobs.Add(job);
        }

        _ledger = new JobLedger(_root, NullLogger.Instance);
        _ledger.Load();
        foreach (var job in _jobs)
        {
            _ledger.Stamp(job);
        }

        Checkpoint();
        Console.WriteLine($"// checkpoint of {Jobs} jobs x {Gpus} GPUs: {_ledger.LastCheckpointBytes} bytes");
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_root, recursive: true);

    /// <summary>One checkpoint: serialize, write, fsync, rename.</summary>
    [Benchmark]
    public void Checkpoint() => _ledger!.Checkpoint(_jobs, DateTimeOffset.UnixEpoch.AddSeconds(1_764_803_600));

    /// <summary>The same records, serialized into memory only.</summary>
    [Benchmark]
    public long Serialize()
    {
        using var buffer = new MemoryStream(64 * 1024);
        using var w = new BinaryWriter(buffer, LedgerFormat.Utf8, leaveOpen: true);
        var gpus = LedgerFormat.WriteGpuTable(w, _jobs);
        foreach (var job in _jobs)
        {
            LedgerFormat.WriteJob(w, job, gpus);
        }

        w.Flush();
        return buffer.Length;
    }
}
