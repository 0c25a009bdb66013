using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Monitor.Aggregator.Storage;
using Monitor.Contracts;

namespace Monitor.Benchmarks.Aggregator;

/// <summary>
/// The aggregator's store, SQLite and PostgreSQL, at the size: 1,000,000 ended jobs (one node, one GPU each)
/// over 30 days, 50 accounts, 500 users and 4 partitions, applied as feed answers of 1,000 records (one transaction
/// each, with the rollups). The setup prints the insert rate and the store's size; <see cref="UsageByAccountForAMonth"/>
/// is the month's usage query. The SQLite file is under /var/tmp (a disk); PostgreSQL is the test server
/// (<see cref="Monitor.Testing.PostgresServer"/>: a data directory under /tmp, fsync off).
/// </summary>
[MemoryDiagnoser]
public class StoreBenchmarks
{
    private const int Jobs = 1_000_000;
    private string _root = string.Empty;
    private JobStore? _store;
    private string? _postgres;

    /// <summary>"sqlite" or "postgres".</summary>
    [Params("sqlite", "postgres")]
    public string Store { get; set; } = "sqlite";

    [GlobalSetup]
    public void Setup()
    {
        _root = Path.Join("/var/tmp", $"monitor-bench-store-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_root);
        _postgres = Store == "postgres" ? Monitor.Testing.PostgresServer.Shared.CreateDatabase() : null;
        _store = _postgres is null ? JobStore.OpenSqlite(Path.Join(_root, "store.db"), "default") : JobStore.OpenPostgres(_postgres, "default");
        var start = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        var watch = Stopwatch.StartNew();
        for (var page = 0; page < Jobs / 1000; page++)
        {
            var records = new List<NodeJobRecord>(1000);
            for (var i = 0; i < 1000; i++)
            {
                var j = (page * 1000) + i;
                var begin = start.AddSeconds(j * 2.592); // 1,000,000 jobs over 30 days
                records.Add(new NodeJobRecord
                {
                    JobId = j.ToString(System.Globalization.CultureInfo.InvariantCulture), Revision = j + 1, Scheduler = "slurm", State = "ended",
                    User = $"user{j % 500}", Account = $"account{j % 50}", Partition = $"part{j % 4}", Start = begin, End = begin.AddHours(1),
                    StartSource = "scheduler", EndSource = "scheduler", CpuSeconds = 3600,
                    Gpus = [new NodeJobGpu { Index = j % 8, Uuid = $"GPU-{j % 8}", AllocatedSeconds = 3600, BusySeconds = 1800, EnergyJoules = 1_260_000 }],
                });
            }

            _store.Apply($"http://node{page % 100}:9420", new JobsFeedPage($"node{page % 100}", $"{Guid.Empty:N}-{page}", false, false, false, records), start);
        }

        var seconds = watch.Elapsed.TotalSeconds;
        var bytes = _postgres is null ? new DirectoryInfo(_root).EnumerateFiles().Sum(f => f.Length) : DatabaseSize(_postgres);
        Console.WriteLine($"// stored {Jobs:N0} jobs in {seconds:0.0} s = {Jobs / seconds:N0} jobs/s; store {bytes / 1e6:0} MB ({bytes / 1e6 / (Jobs / 1e6):0} MB per million jobs)");
    }

    /// <summary>
    /// <c>store-fill &lt;sqlite|postgres&gt;</c>: the same fill and queries without BenchmarkDotNet, which would fill the store
    /// once per benchmark (a PostgreSQL fill is 13 minutes here): the median of 21 month queries and of 101 job reads.
    /// </summary>
    public static void RunOnce(string store)
    {
        var bench = new StoreBenchmarks { Store = store };
        bench.Setup();
        try
        {
            Console.WriteLine($"// usage by account for a month: median {Median(21, () => bench.UsageByAccountForAMonth()) * 1e3:0.00} ms; one job: median {Median(101, () => bench.OneJob()) * 1e6:0} us");
        }
        finally
        {
            bench.Cleanup();
        }
    }

    private static double Median(int runs, Func<int> query)
    {
        var seconds = new List<double>(runs);
        for (var i = 0; i < runs; i++)
        {
            var watch = Stopwatch.StartNew();
            query();
            seconds.Add(watch.Elapsed.TotalSeconds);
        }

        seconds.Sort();
        return seconds[runs / 2];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _store?.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private static long DatabaseSize(string connectionString)
    {
        using var connection = new Npgsql.NpgsqlConnection(connectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT pg_database_size(current_database())";
        return (long)command.ExecuteScalar()!;
    }

    /// <summary>November's usage by account (50 rows from 1,500 rollup rows).</summary>
    [Benchmark]
    public int UsageByAccountForAMonth() => _store!.Usage("account", new DateOnly(2026, 11, 1), new DateOnly(2026, 12, 1)).Count;

    /// <summary>One job's records, as <c>monitor jobstats</c> asks.</summary>
    [Benchmark]
    public int OneJob() => _store!.Job("123456").Count;
}
