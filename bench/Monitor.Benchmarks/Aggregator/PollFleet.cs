using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Monitor.Aggregator;
using Monitor.Aggregator.Collection;
using Monitor.Aggregator.Storage;

namespace Monitor.Benchmarks.Aggregator;

/// <summary>
/// The aggregator's poll cycle against a fleet of stand-in agents (the issue's "10,000 agents with 50,000 running
/// jobs, polled every 30 s"): <c>dotnet run -c Release --project bench/Monitor.Benchmarks -- poll-fleet 10000 50000 sqlite 5 [concurrency]</c>.
/// <para>
/// The fleet is a second process (<c>fleet-server</c>), so the aggregator's CPU time is measured alone: one Kestrel
/// on loopback serves every agent under its own path (<c>/n/&lt;i&gt;/api/v1/jobs</c>), each with its share of the
/// running jobs (1 or 2 GPUs each). Before each cycle the fleet advances one agent tick: every job's counters grow and
/// its revision rises, so every poll brings every running job again, the worst case. The aggregator side is the real
/// one: <see cref="PollCycle"/>, <see cref="TargetPoller"/> over HTTP, and <see cref="JobStore"/> on SQLite or
/// PostgreSQL. Prints each cycle's wall time and the aggregator process's CPU seconds.
/// </para>
/// </summary>
internal static class PollFleet
{
    private static readonly string Ledger = Guid.Parse("5a1e5a1e-0000-4000-8000-000000000001").ToString("N");

    /// <summary>The bench: starts the fleet, runs the cycles, prints the figures.</summary>
    public static async Task RunAsync(int agents, int jobs, string store, int cycles, int concurrency = 64)
    {
        var self = Environment.ProcessPath!;
        var fleetInfo = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            fleetInfo.ArgumentList.Add(typeof(PollFleet).Assembly.Location);
        }

        foreach (var argument in new[] { "fleet-server", $"{agents}", $"{jobs}" })
        {
            fleetInfo.ArgumentList.Add(argument);
        }

        using var fleet = Process.Start(fleetInfo)!;
        try
        {
            var port = int.Parse((await fleet.StandardOutput.ReadLineAsync())!, CultureInfo.InvariantCulture);
            var root = Path.Join("/var/tmp", $"monitor-bench-fleet-{Guid.NewGuid():N}");
            Directory.CreateDirectory(root);
            using var jobStore = store == "postgres"
                ? JobStore.OpenPostgres(Monitor.Testing.PostgresServer.Shared.CreateDatabase(), "default")
                : JobStore.OpenSqlite(Path.Join(root, "store.db"), "default");
            var options = new AggregatorOptions { PollInterval = TimeSpan.FromSeconds(30), PollTimeout = TimeSpan.FromSeconds(10), PollConcurrency = concurrency };
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = options.PollConcurrency }) { Timeout = Timeout.InfiniteTimeSpan };
            var targets = new TargetList([.. Enumerable.Range(0, agents).Select(i => $"http://127.0.0.1:{port}/n/{i}")], []);
            var cycle = new PollCycle(targets, new TargetPoller(http, jobStore, TimeProvider.System), jobStore, options, TimeProvider.System, NullLogger<PollCycle>.Instance);
            using var control = new HttpClient();
            Console.WriteLine($"// {agents:N0} agents, {jobs:N0} running jobs, store {jobStore.Description}, concurrency {options.PollConcurrency}");
            for (var c = 0; c < cycles; c++)
            {
                await control.PostAsync(new Uri($"http://127.0.0.1:{port}/tick"), null);
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                var storing = jobStore.ApplySeconds;
                var watch = Stopwatch.StartNew();
                var results = await cycle.RunOnceAsync(CancellationToken.None);
                var wall = watch.Elapsed.TotalSeconds;
                var used = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
                Console.WriteLine(
                    $"// cycle {c + 1}: {wall:0.00} s wall, {used:0.00} s CPU ({used / wall:0.00} cores), {results.Count(r => r.Ok):N0}/{results.Count:N0} targets ok, {results.Sum(r => r.Records):N0} records stored in {jobStore.ApplySeconds - storing:0.00} s, {GC.GetTotalMemory(false) / 1e6:0} MB managed heap");
            }

            Directory.Delete(root, recursive: true);
        }
        finally
        {
            fleet.Kill(entireProcessTree: true);
        }
    }

    /// <summary>The fleet process: serves every stand-in agent and prints its port.</summary>
    public static async Task ServeAsync(int agents, int jobs)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
        var app = builder.Build();
        var tick = 0L;
        var start = DateTimeOffset.UtcNow.AddHours(-1);
        app.MapPost("/tick", () => Interlocked.Increment(ref tick));
        app.MapGet("/n/{agent:int}/api/v1/jobs", (int agent, string? since, HttpContext context) =>
        {
            var now = Interlocked.Read(ref tick);
            var seen = since is { Length: > 33 } && long.TryParse(since.AsSpan(33), CultureInfo.InvariantCulture, out var revision) ? revision : 0;
            using var buffer = new MemoryStream();
            using (var json = new Utf8JsonWriter(buffer))
            {
                json.WriteStartObject();
                json.WriteString("node", $"node{agent}");
                json.WriteString("cursor", $"{Ledger}-{now}");
                json.WriteBoolean("more", false);
                json.WriteBoolean("truncated", false);
                json.WriteBoolean("reset", false);
                json.WriteStartArray("jobs");
                if (seen < now)
                {
                    for (var j = agent * jobs / agents; j < (agent + 1) * jobs / agents; j++)
                    {
                        WriteJob(json, j, now, start);
                    }
                }

                json.WriteEndArray();
                json.WriteEndObject();
            }

            return Results.Bytes(buffer.ToArray(), "application/json");
        });
        await app.StartAsync();
        Console.WriteLine(new Uri(app.Urls.First()).Port);
        await app.WaitForShutdownAsync();
    }

    private static void WriteJob(Utf8JsonWriter json, int job, long tick, DateTimeOffset start)
    {
        json.WriteStartObject();
        json.WriteString("job_id", $"{1_000_000 + job}");
        json.WriteNumber("revision", tick);
        json.WriteString("scheduler", "slurm");
        json.WriteString("state", "running");
        json.WriteString("user", $"user{job % 500}");
        json.WriteString("account", $"account{job % 50}");
        json.WriteString("partition", "gpu");
        json.WriteString("start", start);
        json.WriteString("start_source", "scheduler");
        json.WriteNull("end");
        json.WriteNull("end_source");
        json.WriteNumber("unobserved_seconds", 0);
        json.WriteNumber("cpu_seconds", tick * 240.0);
        json.WriteNumber("memory_bytes", 8e9);
        json.WriteNumber("memory_peak_bytes", 9e9);
        json.WriteStartArray("gpus");
        for (var g = 0; g < 1 + (job % 2); g++)
        {
            json.WriteStartObject();
            json.WriteNumber("index", g);
            json.WriteString("uuid", $"GPU-{job:D8}-{g}");
            json.WriteBoolean("held", true);
            json.WriteNumber("allocated_seconds", tick * 30.0);
            json.WriteNumber("busy_seconds", tick * 21.0);
            json.WriteNumber("energy_joules", tick * 30.0 * 400);
            json.WriteNumber("tensor_active_seconds", tick * 9.0);
            json.WriteNumber("sm_active_seconds", tick * 20.0);
            json.WriteNumber("memory_peak_bytes", 40e9);
            json.WriteNumber("xid_errors", 0);
            json.WriteNumber("ecc_errors", 0);
            json.WriteNumber("unobserved_seconds", 0);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }
}
