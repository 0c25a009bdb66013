using BenchmarkDotNet.Running;

if (args.Length > 2 && args[0] == "exposition-serve")
{
    await Monitor.Benchmarks.Exposition.PrometheusNetBenchmarks.ServeAsync(args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture));
    return;
}

if (args.Length > 0 && args[0] == "es-throughput")
{
    var culture = System.Globalization.CultureInfo.InvariantCulture;
    await Monitor.Benchmarks.Logging.ElasticsearchThroughput.RunAsync(
        args.Length > 1 ? int.Parse(args[1], culture) : 200_000, args.Length > 2 ? int.Parse(args[2], culture) : 25_000);
    return;
}

if (args.Length > 0 && args[0] is "poll-fleet" or "fleet-server")
{
    var culture = System.Globalization.CultureInfo.InvariantCulture;
    var agents = args.Length > 1 ? int.Parse(args[1], culture) : 10_000;
    var jobs = args.Length > 2 ? int.Parse(args[2], culture) : 50_000;
    await (args[0] == "fleet-server"
        ? Monitor.Benchmarks.Aggregator.PollFleet.ServeAsync(agents, jobs)
        : Monitor.Benchmarks.Aggregator.PollFleet.RunAsync(agents, jobs, args.Length > 3 ? args[3] : "sqlite", args.Length > 4 ? int.Parse(args[4], culture) : 5, args.Length > 5 ? int.Parse(args[5], culture) : 64));
    return;
}

if (args.Length > 1 && args[0] == "store-fill")
{
    Monitor.Benchmarks.Aggregator.StoreBenchmarks.RunOnce(args[1]);
    return;
}

if (args.Length > 0 && args[0] == "job-alerts")
{
    Monitor.Benchmarks.Aggregator.JobAlertsBench.Run(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 50_000);
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
