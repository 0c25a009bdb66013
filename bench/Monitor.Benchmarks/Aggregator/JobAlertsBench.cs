using System.Diagnostics;
using System.Globalization;
using Monitor.Aggregator.Alerting;
using Monitor.Contracts;

namespace Monitor.Benchmarks.Aggregator;

/// <summary>
/// <c>-- job-alerts [jobs]</c>: the cost of evaluating every job alert rule over <c>jobs</c> running jobs (default
/// 50,000, 5 a node, 1 or 2 GPUs each: 75,000 GPUs), as the aggregator does after each poll cycle. The view is filled
/// by 65 minutes of polls 5 minutes apart (the histories' spacing with the default rules), so every window is covered
/// and every rule decides. 10 % of the GPUs idle, 5 % of the jobs underused, 2 % of the GPUs nearly full, 1 % with
/// an XID; one node in 100 drained, one in 200 not answering. Prints the fill's cost per record, the evaluation's
/// time (median and max of 30), its allocations, the alerts and the view's managed memory.
/// </summary>
internal static class JobAlertsBench
{
    public static void Run(int jobs)
    {
        var rules = new JobAlertRules();
        var view = new RunningJobs(rules.SampleEvery, rules.LongestWindow, rules.MemoryFull.Threshold);
        var evaluator = new JobAlertEvaluator(rules, "bench");
        var start = new DateTimeOffset(2026, 12, 4, 0, 0, 0, TimeSpan.Zero);
        var nodes = (jobs + 4) / 5;
        var states = new Dictionary<string, IReadOnlySet<string>>(StringComparer.Ordinal);
        for (var n = 0; n < nodes; n += 100)
        {
            states[$"node{n}"] = new HashSet<string>(["drained"], StringComparer.Ordinal);
        }

        var before = GC.GetTotalMemory(forceFullCollection: true);
        var fill = Stopwatch.StartNew();
        var applied = 0L;
        var now = start;
        for (var poll = 0; poll <= 13; poll++)
        {
            now = start.AddMinutes(5 * poll);
            var seconds = 300.0 * poll;
            for (var n = 0; n < nodes; n++)
            {
                // One node in 200 stops answering after the first half hour.
                if (n % 200 == 1 && poll > 6)
                {
                    continue;
                }

                var records = new List<NodeJobRecord>(5);
                for (var j = n * 5; j < Math.Min(jobs, (n + 1) * 5); j++)
                {
                    records.Add(Record(j, seconds, start));
                }

                view.Apply($"http://node{n}:9420", new JobsFeedPage($"node{n}", null, false, false, false, records), now);
                applied += records.Count;
            }
        }

        fill.Stop();
        var memory = GC.GetTotalMemory(forceFullCollection: true) - before;
        JobAlertEvaluation? evaluation = null;
        for (var i = 0; i < 5; i++)
        {
            evaluation = evaluator.Evaluate(view, states, now, new HashSet<string>());
        }

        var times = new List<double>();
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 30; i++)
        {
            var watch = Stopwatch.StartNew();
            evaluation = evaluator.Evaluate(view, states, now, new HashSet<string>());
            times.Add(watch.Elapsed.TotalMilliseconds);
        }

        allocated = (GC.GetAllocatedBytesForCurrentThread() - allocated) / 30;
        times.Sort();
        var byRule = evaluation!.Firing.GroupBy(a => a.Name).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} {g.Count():N0}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"// {jobs:N0} running jobs on {nodes:N0} nodes, {view.Count:N0} node records in the view, {memory / 1e6:0} MB managed"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"// fill: {applied:N0} records applied in {fill.Elapsed.TotalSeconds:0.00} s ({fill.Elapsed.TotalMilliseconds * 1000 / applied:0.00} µs a record)"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"// evaluate: median {times[times.Count / 2]:0.0} ms, max {times[^1]:0.0} ms, {allocated / 1e6:0.0} MB allocated a run"));
        Console.WriteLine($"// alerts: {evaluation.Firing.Count:N0} ({string.Join(", ", byRule)})");
    }

    private static NodeJobRecord Record(int j, double seconds, DateTimeOffset start)
    {
        var gpus = j % 2 == 0 ? 2 : 1;
        var list = new NodeJobGpu[gpus];
        for (var g = 0; g < gpus; g++)
        {
            var id = (j * 2) + g;
            var utilization = id % 10 == 0 ? 0.02 : j % 20 == 2 ? 0.1 : 0.7;
            list[g] = new NodeJobGpu
            {
                Index = g, Uuid = $"GPU-{id:x8}", Held = true, AllocatedSeconds = seconds, BusySeconds = seconds * utilization, MemoryTotalBytes = 80e9,
                MemoryUsedBytes = id % 50 == 0 ? 79e9 : 40e9, XidErrors = id % 100 == 4 ? 1 : 0,
            };
        }

        return new NodeJobRecord
        {
            JobId = j.ToString(CultureInfo.InvariantCulture), Revision = (long)seconds + 1, Scheduler = "slurm", State = "running", User = $"user{j % 500}",
            Account = $"account{j % 40}", Partition = "h100", Start = start, StartSource = "scheduler", Gpus = list,
        };
    }
}
