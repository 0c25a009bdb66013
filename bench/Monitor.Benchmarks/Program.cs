using BenchmarkDotNet.Running;

if (args.Length > 0 && args[0] == "es-throughput")
{
    var culture = System.Globalization.CultureInfo.InvariantCulture;
    await Monitor.Benchmarks.Logging.ElasticsearchThroughput.RunAsync(
        args.Length > 1 ? int.Parse(args[1], culture) : 200_000, args.Length > 2 ? int.Parse(args[2], culture) : 25_000);
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
