namespace Monitor.Aggregator.Web;

/// <summary><c>GET /</c>: where to go: a job by its id, the usage report, the API and the aggregator's own health.</summary>
internal static class IndexPage
{
    /// <summary>The page.</summary>
    public static string Render()
    {
        var body = new HtmlBuilder();
        body.Append($"<section><h2>A job</h2>{JobForm(string.Empty)}</section>\n");
        body.Append($"<section><h2>Pages</h2><ul><li><a href=\"/usage\">GPU usage</a> by account, user, partition or day, with a CSV export</li>");
        body.Append($"<li><code>/jobs/&lt;id&gt;</code>: one job, with charts</li></ul></section>\n");
        body.Append($"<section><h2>API</h2><ul><li><code>/api/v1/jobs/&lt;id&gt;</code>: one job as JSON</li>");
        body.Append($"<li><code>/api/v1/usage?by=account&amp;from=YYYY-MM-DD&amp;to=YYYY-MM-DD[&amp;format=csv]</code>: usage as JSON or CSV</li>");
        body.Append($"<li><a href=\"/metrics\">/metrics</a>: the aggregator's own metrics and the cluster's usage counters</li><li><a href=\"/healthz\">/healthz</a></li></ul></section>\n");
        return Html.Page("Monitor aggregator", body.ToMarkup());
    }

    /// <summary>A form that opens <c>/jobs/{id}</c> (through <c>/jobs?id=</c>, since a form cannot write a path), filled in with <paramref name="jobId"/>.</summary>
    public static Markup JobForm(string jobId) =>
        new HtmlBuilder().Append($"<form class=\"query\" method=\"get\" action=\"/jobs\"><label>Job id<input name=\"id\" value=\"{jobId}\" required></label><button type=\"submit\">Show</button></form>").ToMarkup();
}
