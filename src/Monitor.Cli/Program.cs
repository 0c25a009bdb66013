using System.CommandLine;
using System.Net;
using System.Text.Json;
using Monitor.Cli;

// monitor: the command line over monitor-aggregator's API.
var aggregator = new Option<string>("--aggregator")
{
    Description = "The aggregator's base URL (or MONITOR_AGGREGATOR).",
    DefaultValueFactory = _ => Environment.GetEnvironmentVariable("MONITOR_AGGREGATOR") is { Length: > 0 } url ? url : "http://localhost:9430",
};
var tokenFile = new Option<string?>("--token-file") { Description = "A file holding the bearer token, when the aggregator requires one (or MONITOR_TOKEN)." };
var json = new Option<bool>("--json") { Description = "Print the aggregator's JSON document instead of the report." };
var jobId = new Argument<string>("job-id") { Description = "The Slurm job id, or namespace/pod." };
var jobstats = new Command("jobstats", "What a job used on every node and GPU, with efficiency notes.") { jobId, json };
jobstats.SetAction((parse, cancellationToken) =>
{
    var id = parse.GetValue(jobId)!;
    return Fetch(parse, $"/api/v1/jobs/{Uri.EscapeDataString(id)}", $"job {id}", parse.GetValue(json) ? null : JobStatsText.Format, cancellationToken);
});

var by = new Option<string>("--by") { Description = "Group by account, user, partition or day.", DefaultValueFactory = _ => "account" };
by.AcceptOnlyFromAmong("account", "user", "partition", "day");
var from = new Option<string>("--from") { Description = "First day (YYYY-MM-DD), of the jobs' ends.", Required = true };
var to = new Option<string>("--to") { Description = "Day after the last (YYYY-MM-DD), excluded.", Required = true };
var csv = new Option<bool>("--csv") { Description = "Print CSV instead of the table." };
var usage = new Command("usage", "GPU-hours allocated and busy, energy, CPU-hours, jobs finished and cost, by account, user, partition or day.") { by, from, to, csv };
usage.SetAction((parse, cancellationToken) =>
{
    var query = $"by={Uri.EscapeDataString(parse.GetValue(by)!)}&from={Uri.EscapeDataString(parse.GetValue(from)!)}&to={Uri.EscapeDataString(parse.GetValue(to)!)}";
    return parse.GetValue(csv)
        ? Fetch(parse, $"/api/v1/usage?{query}&format=csv", "usage", null, cancellationToken)
        : Fetch(parse, $"/api/v1/usage?{query}", "usage", UsageText.Format, cancellationToken);
});

var limit = new Option<int>("--limit") { Description = "Jobs shown at most.", DefaultValueFactory = _ => 50 };
var top = new Command("top", "The cluster's running jobs by GPUs held, with their utilization; idle GPUs flagged.") { limit, json };
top.SetAction((parse, cancellationToken) =>
{
    var most = Math.Max(1, parse.GetValue(limit));
    return Fetch(parse, "/api/v1/running", "the running jobs", parse.GetValue(json) ? null : document => TopText.Format(document, most), cancellationToken);
});

var root = new RootCommand("monitor: per-job usage from monitor-aggregator.") { jobstats, usage, top };
root.Options.Add(aggregator);
root.Options.Add(tokenFile);
aggregator.Recursive = true;
tokenFile.Recursive = true;
return await root.Parse(args).InvokeAsync();

// Gets path from the aggregator and prints the body as it is, or formatted when format is given. Exit codes: 0, 1 for
// what cannot be had (unknown job, aggregator unreachable or broken), 2 for a request the aggregator refused.
async Task<int> Fetch(ParseResult parse, string path, string what, Func<JsonElement, string>? format, CancellationToken cancellationToken)
{
    var baseUrl = parse.GetValue(aggregator)!.TrimEnd('/');
    using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
    try
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(baseUrl + path));
        var token = parse.GetValue(tokenFile) is { Length: > 0 } file ? (await File.ReadAllTextAsync(file, cancellationToken)).Trim() : Environment.GetEnvironmentVariable("MONITOR_TOKEN");
        if (!string.IsNullOrEmpty(token))
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }

        using var response = await client.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        switch (response.StatusCode)
        {
            case HttpStatusCode.NotFound:
                await Console.Error.WriteLineAsync($"monitor: {what} is not known to the aggregator at {baseUrl} (no node has reported it)");
                return 1;
            case HttpStatusCode.BadRequest:
                await Console.Error.WriteLineAsync($"monitor: {body.Trim().Trim('"')}");
                return 2;
            case HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden:
                await Console.Error.WriteLineAsync($"monitor: the aggregator at {baseUrl} refused the request ({(int)response.StatusCode}): give a token that may see {what} with --token-file or MONITOR_TOKEN");
                return 1;
        }

        response.EnsureSuccessStatusCode();
        if (format is null)
        {
            Console.Out.Write(body);
            return 0;
        }

        using var document = JsonDocument.Parse(body);
        Console.Out.Write(format(document.RootElement));
        return 0;
    }
    catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or KeyNotFoundException or InvalidOperationException or UriFormatException or IOException or UnauthorizedAccessException)
    {
        await Console.Error.WriteLineAsync($"monitor: cannot get {what} from {baseUrl}: {e.Message}");
        return 1;
    }
}
