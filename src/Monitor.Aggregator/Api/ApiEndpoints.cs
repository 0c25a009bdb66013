using System.Text.Json;
using Monitor.Aggregator.Access;
using Monitor.Aggregator.Storage;
using Monitor.Aggregator.Usage;
using Monitor.Contracts;

namespace Monitor.Aggregator.Api;

/// <summary>
/// The REST API (docs/aggregator.md, "API"; the OpenAPI document at <c>/openapi/v1.json</c>). With
/// <c>--web.tokens-file</c>, a token limited to some accounts sees only theirs: another account's job is a 404, as an
/// unknown one is, and usage and running jobs are filtered.
/// </summary>
internal static class ApiEndpoints
{
    /// <summary>Maps the API's routes.</summary>
    public static void Map(WebApplication app, JobStore store, CostRates? rates, TimeProvider time)
    {
        // A Kubernetes job's id is "namespace/pod": the route takes the rest of the path, with its slash or as %2F.
        app.MapGet("/api/v1/jobs/{**path}", (string path, HttpContext context) =>
        {
            var id = JobId(path);
            var records = VisibleJob(store, id, context);
            return Json(json => JobReport.Write(json, id, records, time.GetUtcNow()), $"no node has reported job {id}");
        })
            .WithSummary("One job across the cluster: totals, every node's record and GPUs, and efficiency notes.");

        app.MapGet("/api/v1/usage", (HttpContext context, string? by, string? from, string? to, string? format) =>
        {
            if (UsageReport.Parse(by, from, to, out var query) is { } problem)
            {
                return Results.BadRequest(problem);
            }

            var rows = store.Usage(query.By, query.From, query.To, rates, AccessGuard.Of(context)?.Accounts);
            return format == "csv"
                ? Results.Text(UsageReport.Csv(query, rows, rates?.Currency), "text/csv; charset=utf-8")
                : Json(json => UsageReport.WriteJson(json, query, rows, rates?.Currency));
        })
            .WithSummary("Usage of the jobs that ended in [from, to), by account, user, partition or day; format=csv for CSV.");

        app.MapGet("/api/v1/running", (HttpContext context) =>
        {
            var token = AccessGuard.Of(context);
            var jobs = store.Running().Where(j => token is null || token.Sees(j.Account)).ToList();
            return Json(json => RunningReport.Write(json, jobs, time.GetUtcNow()));
        })
            .WithSummary("The running jobs by GPUs held, with their utilization since the start and at the last poll, and idle GPUs.");

        app.MapGet("/healthz", () => "ok\n").WithSummary("ok when the aggregator serves.");
    }

    /// <summary>
    /// The job id in a route's catch-all <paramref name="path"/>: the server leaves an escaped slash (%2F) escaped so
    /// that it cannot make a segment, and no Slurm or Kubernetes id holds a '%'.
    /// </summary>
    public static string JobId(string path) => path.Replace("%2F", "/", StringComparison.OrdinalIgnoreCase);

    /// <summary>Job <paramref name="id"/>'s records, or none when the request's token may not see its account.</summary>
    public static IReadOnlyList<(string Node, NodeJobRecord Record)> VisibleJob(JobStore store, string id, HttpContext context)
    {
        var records = store.Job(id);
        var account = records.Select(r => r.Record.Account ?? r.Record.Namespace).FirstOrDefault(a => a is not null);
        return AccessGuard.Of(context) is { } token && !token.Sees(account) ? [] : records;
    }

    private static IResult Json(Action<Utf8JsonWriter> write) => Json(json =>
    {
        write(json);
        return true;
    }, string.Empty);

    private static IResult Json(Func<Utf8JsonWriter, bool> write, string notFound)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            if (!write(json))
            {
                return Results.NotFound(notFound);
            }
        }

        return Results.Bytes(buffer.ToArray(), "application/json; charset=utf-8");
    }
}
