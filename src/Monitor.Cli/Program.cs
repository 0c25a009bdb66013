using System.CommandLine;
using System.Text.Json;
using Monitor.Cli;

// monitor: the command line over monitor-aggregator's API.
var aggregator = new Option<string>("--aggregator")
{
    Description = "The aggregator's base URL (or MONITOR_AGGREGATOR).",
    DefaultValueFactory = _ => Environment.GetEnvironmentVariable("MONITOR_AGGREGATOR") is { Length: > 0 } url ? url : "http://localhost:9430",
};
var json = new Option<bool>("--json") { Description = "Print the aggregator's JSON document instead of the report." };
var jobId = new Argument<string>("job-id") { Description = "The Slurm job id, or namespace/pod." };
var jobstats = new Command("jobstats", "What a job used on every node and GPU, with efficiency notes.") { jobId, json };
jobstats.SetAction(async (parse, cancellationToken) =>
{
    var id = parse.GetValue(jobId)!;
    var baseUrl = parse.GetValue(aggregator)!.TrimEnd('/');
    using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
    try
    {
        using var response = await client.GetAsync(new Uri($"{baseUrl}/api/v1/jobs/{Uri.EscapeDataString(id)}"), cancellationToken);
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            await Console.Error.WriteLineAsync($"monitor: job {id} is not known to the aggregator at {baseUrl} (no node has reported it)");
            return 1;
        }

        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (parse.GetValue(json))
        {
            Console.Out.Write(body);
            return 0;
        }

        using var document = JsonDocument.Parse(body);
        Console.Out.Write(JobStatsText.Format(document.RootElement));
        return 0;
    }
    catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or KeyNotFoundException or InvalidOperationException)
    {
        await Console.Error.WriteLineAsync($"monitor: cannot get job {id} from {baseUrl}: {e.Message}");
        return 1;
    }
});

var by = new Option<string>("--by") { Description = "Group by account, user, partition or day.", DefaultValueFactory = _ => "account" };
by.AcceptOnlyFromAmong("account", "user", "partition", "day");
var from = new Option<string>("--from") { Description = "First day (YYYY-MM-DD), of the jobs' ends.", Required = true };
var to = new Option<string>("--to") { Description = "Day after the last (YYYY-MM-DD), excluded.", Required = true };
var csv = new Option<bool>("--csv") { Description = "Print CSV instead of the table." };
var usage = new Command("usage", "GPU-hours allocated and busy, energy, CPU-hours and jobs finished, by account, user, partition or day.") { by, from, to, csv };
usage.SetAction(async (parse, cancellationToken) =>
{
    var baseUrl = parse.GetValue(aggregator)!.TrimEnd('/');
    var query = $"by={Uri.EscapeDataString(parse.GetValue(by)!)}&from={Uri.EscapeDataString(parse.GetValue(from)!)}&to={Uri.EscapeDataString(parse.GetValue(to)!)}";
    using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
    try
    {
        using var response = await client.GetAsync(new Uri($"{baseUrl}/api/v1/usage?{query}{(parse.GetValue(csv) ? "&format=csv" : string.Empty)}"), cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (response.StatusCode == System.Net.HttpStatusCode.BadRequest)
        {
            await Console.Error.WriteLineAsync($"monitor: {body.Trim().Trim('"')}");
            return 2;
        }

        response.EnsureSuccessStatusCode();
        if (parse.GetValue(csv))
        {
            Console.Out.Write(body);
            return 0;
        }

        using var document = JsonDocument.Parse(body);
        Console.Out.Write(UsageText.Format(document.RootElement));
        return 0;
    }
    catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or KeyNotFoundException or InvalidOperationException)
    {
        await Console.Error.WriteLineAsync($"monitor: cannot get usage from {baseUrl}: {e.Message}");
        return 1;
    }
});

var root = new RootCommand("monitor: per-job usage from monitor-aggregator.") { jobstats, usage };
root.Options.Add(aggregator);
aggregator.Recursive = true;
return await root.Parse(args).InvokeAsync();
