using Monitor.Aggregator.Api;
using Monitor.Aggregator.Storage;
using Monitor.Contracts;

namespace Monitor.Aggregator.Web;

/// <summary>What a page handler answers: the status and the page.</summary>
/// <param name="Status">The HTTP status.</param>
/// <param name="Html">The page.</param>
internal sealed record WebPage(int Status, string Html);

/// <summary>
/// The aggregator's web pages (docs/aggregator.md, "Web pages"): <c>/</c>, <c>/jobs/{id}</c> and <c>/usage</c>.
/// Server-rendered HTML with inline SVG charts, no script, nothing fetched from elsewhere. The pages read the store
/// through delegates, so they do not depend on the store's type.
/// </summary>
internal static class WebPages
{
    /// <summary>Maps the pages on <paramref name="app"/>.</summary>
    /// <param name="app">The aggregator's web application.</param>
    /// <param name="job">Every node's record of a job (none when unknown).</param>
    /// <param name="usage">The usage rows grouped by the first argument, from the first day to the second (excluded).</param>
    /// <param name="time">The clock: a running job's run time, and the usage page's default window.</param>
    public static void Map(
        WebApplication app,
        Func<string, IReadOnlyList<(string Node, NodeJobRecord Record)>> job,
        Func<string, DateOnly, DateOnly, IReadOnlyList<UsageRow>> usage,
        TimeProvider time)
    {
        app.MapGet("/", (HttpContext context) => Send(context, new WebPage(StatusCodes.Status200OK, IndexPage.Render())));
        app.MapGet("/jobs", (HttpContext context) => context.Request.Query["id"].FirstOrDefault()?.Trim() is { Length: > 0 } id
            ? Results.Redirect($"/jobs/{Uri.EscapeDataString(id)}")
            : Send(context, new WebPage(StatusCodes.Status400BadRequest, Html.Problem("Job", "Give a job id.", IndexPage.JobForm(string.Empty)))));

        // A Kubernetes job's id is "namespace/pod": the page takes the rest of the path (ApiEndpoints.JobId).
        app.MapGet("/jobs/{**id}", (string id, HttpContext context) => Send(context, Job(ApiEndpoints.JobId(id), job, time.GetUtcNow())));
        app.MapGet("/usage", (HttpContext context) =>
        {
            var q = context.Request.Query;
            return Send(context, Usage(q["by"].FirstOrDefault(), q["from"].FirstOrDefault(), q["to"].FirstOrDefault(), usage, time.GetUtcNow()));
        });
    }

    /// <summary>The page of job <paramref name="id"/>, or 404 when no node has reported it.</summary>
    public static WebPage Job(string id, Func<string, IReadOnlyList<(string Node, NodeJobRecord Record)>> job, DateTimeOffset now) =>
        JobSummary.Of(id, job(id), now) is { } summary
            ? new WebPage(StatusCodes.Status200OK, JobPage.Render(summary))
            : new WebPage(StatusCodes.Status404NotFound, JobPage.NotFound(id));

    /// <summary>
    /// The usage page for the query as given, or 400 with the reason. A missing (or empty) parameter takes its
    /// default: by account, from the first day of this month to tomorrow (UTC days, so today's ended jobs count); the
    /// rest is <see cref="UsageReport.Parse"/>'s, as for the API.
    /// </summary>
    public static WebPage Usage(string? by, string? from, string? to, Func<string, DateOnly, DateOnly, IReadOnlyList<UsageRow>> usage, DateTimeOffset now)
    {
        var today = DateOnly.FromDateTime(now.UtcDateTime);
        by = string.IsNullOrEmpty(by) ? "account" : by;
        from = string.IsNullOrEmpty(from) ? Html.Day(new DateOnly(today.Year, today.Month, 1)) : from;
        to = string.IsNullOrEmpty(to) ? Html.Day(today.AddDays(1)) : to;
        if (UsageReport.Parse(by, from, to, out var query) is { } problem)
        {
            return new WebPage(StatusCodes.Status400BadRequest, UsagePage.BadRequest(problem, by, from, to));
        }

        return new WebPage(StatusCodes.Status200OK, UsagePage.Render(query, usage(query.By, query.From, query.To)));
    }

    /// <summary>Sends <paramref name="page"/> with headers that keep it inert: no script may run, nothing may be fetched.</summary>
    private static IResult Send(HttpContext context, WebPage page)
    {
        context.Response.Headers.ContentSecurityPolicy = Html.ContentSecurityPolicy;
        context.Response.Headers.XContentTypeOptions = "nosniff";
        context.Response.Headers.CacheControl = "no-cache";
        return Results.Content(page.Html, Html.ContentType, statusCode: page.Status);
    }
}
