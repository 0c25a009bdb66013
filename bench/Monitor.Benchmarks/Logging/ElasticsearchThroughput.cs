using System.Diagnostics;
using Monitor.Agent.Logging.Elasticsearch;
using Monitor.Testing;
using Serilog;

namespace Monitor.Benchmarks.Logging;

/// <summary>
/// Sustained throughput of the Elasticsearch sink: events logged through Serilog, formatted, spooled to disk and
/// shipped with <c>_bulk</c> to the stand-in Elasticsearch in this process, end to end. Reports events/s until the
/// last one is acknowledged, process CPU per 1,000 events (an upper bound: it includes the stand-in's parsing and
/// storing), and the latency of the logging call itself. Not BenchmarkDotNet: the figure is a sustained rate over
/// seconds, not a per-call mean. Run: <c>dotnet run -c Release --project bench/Monitor.Benchmarks -- es-throughput [events] [rate]</c>.
/// </summary>
internal static class ElasticsearchThroughput
{
    /// <param name="events">Events to log.</param>
    /// <param name="rate">Events per second the logging side offers (paced in 10 ms steps); 0 logs as fast as possible.</param>
    public static async Task RunAsync(int events, int rate)
    {
        var spool = Path.Join(Path.GetTempPath(), "es-bench-" + Guid.NewGuid().ToString("N"));
        await using var es = await FakeElasticsearch.StartAsync();
        var options = new ElasticsearchOptions { Urls = [es.Url], SpoolPath = spool };
        var sink = new ElasticsearchSink(options, "monitor-agent", "bench", "node1", TimeProvider.System);
        try
        {
            using var logger = new LoggerConfiguration().WriteTo.Sink(sink).CreateLogger();
            // Warm-up: JIT the whole path.
            for (var i = 0; i < 2000; i++)
            {
                logger.Information("XID {Xid} on GPU {Gpu} ({Uuid}): {Description}", 79, i % 8, "GPU-00000000-0000-0000-0000-000000000001", "fallen off the bus");
            }

            while (sink.Metrics.Shipped < 2000)
            {
                await Task.Delay(10);
            }

            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var wall = Stopwatch.StartNew();
            var worstCall = 0L;
            var calls = new long[events];
            for (var i = 0; i < events; i++)
            {
                if (rate > 0 && i % Math.Max(1, rate / 100) == 0)
                {
                    // Pace: never ahead of rate·t, so the figure is a sustained rate, not a burst into the queue.
                    var due = TimeSpan.FromSeconds((double)i / rate);
                    if (due > wall.Elapsed)
                    {
                        Thread.Sleep(due - wall.Elapsed);
                    }
                }

                var start = Stopwatch.GetTimestamp();
                logger.Information("XID {Xid} on GPU {Gpu} ({Uuid}): {Description}", 79, i % 8, "GPU-00000000-0000-0000-0000-000000000001", "fallen off the bus");
                calls[i] = Stopwatch.GetTimestamp() - start;
                worstCall = Math.Max(worstCall, calls[i]);
            }

            var logged = wall.Elapsed;
            while (sink.Metrics.Shipped + sink.Metrics.Dropped < events + 2000)
            {
                await Task.Delay(5);
            }

            var elapsed = wall.Elapsed;
            var cpuUsed = Process.GetCurrentProcess().TotalProcessorTime - cpu;
            Array.Sort(calls);
            double Micro(long ticks) => ticks * 1e6 / Stopwatch.Frequency;
            Console.WriteLine($"offered rate {(rate > 0 ? rate.ToString(System.Globalization.CultureInfo.InvariantCulture) : "unpaced")} events/s");
            Console.WriteLine($"events {events}, logged in {logged.TotalSeconds:F2} s, all acknowledged after {elapsed.TotalSeconds:F2} s");
            Console.WriteLine($"sustained {events / elapsed.TotalSeconds:F0} events/s; CPU {cpuUsed.TotalMilliseconds / (events / 1000.0):F1} ms per 1,000 events (incl. the stand-in)");
            Console.WriteLine($"logging call: p50 {Micro(calls[events / 2]):F2} µs, p99 {Micro(calls[events * 99 / 100]):F2} µs, p99.9 {Micro(calls[events * 999 / 1000]):F2} µs, max {Micro(worstCall):F0} µs");
            Console.WriteLine($"dropped {sink.Metrics.Dropped}, duplicates {sink.Metrics.Duplicates}, stored {es.Documents.Count}");
        }
        finally
        {
            await sink.DisposeAsync();
            Directory.Delete(spool, recursive: true);
        }
    }
}
