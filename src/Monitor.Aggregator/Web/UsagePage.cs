using Monitor.Aggregator.Api;
using Monitor.Aggregator.Storage;

namespace Monitor.Aggregator.Web;

/// <summary>
/// <c>GET /usage?by=account&amp;from=2026-11-01&amp;to=2026-12-01</c>: the usage report of <c>/api/v1/usage</c> as a
/// page: a form to change the query, a chart of GPU-hours allocated and busy per group, and the table with its total,
/// with links to the same rows as CSV and JSON.
/// </summary>
internal static class UsagePage
{
    /// <summary>The most groups charted; the table and the CSV list them all (a site can have thousands of users).</summary>
    public const int MaxChartBars = 50;

    /// <summary>The chart's columns: one chart across the 1,100 px column.</summary>
    public static readonly ChartLayout ChartLayout = new(LabelWidth: 150, PlotWidth: 620, ValueWidth: 210);

    /// <summary>The groupings, as the API names them.</summary>
    private static readonly string[] Groupings = ["account", "user", "partition", "day"];

    /// <summary>The page of <paramref name="rows"/>, the answer to <paramref name="query"/>.</summary>
    public static string Render((string By, DateOnly From, DateOnly To) query, IReadOnlyList<UsageRow> rows)
    {
        var from = Html.Day(query.From);
        var to = Html.Day(query.To);
        var api = $"/api/v1/usage?by={Html.UrlPart(query.By)}&from={from}&to={to}";
        var body = new HtmlBuilder();
        body.Append($"<p class=\"sub\">Jobs that ended from {from} to {to} (excluded), days in UTC. Export: <a href=\"{api}&amp;format=csv\">CSV</a> · <a href=\"{api}\">JSON</a>.</p>\n");
        body.Append($"<section>{Form(query.By, from, to)}</section>\n");
        if (rows.Count == 0)
        {
            body.Append($"<section><p>No job ended in this window.</p></section>\n");
        }
        else
        {
            Chart(body, query.By, rows);
            Table(body, query.By, rows);
        }

        return Html.Page($"GPU usage by {query.By}", body.ToMarkup());
    }

    /// <summary>The page for a query that cannot be answered (sent with 400): the reason, and the form as it was filled in.</summary>
    public static string BadRequest(string problem, string? by, string? from, string? to) =>
        Html.Problem("GPU usage", $"Bad query: {problem}.", new HtmlBuilder().Append($"<section>{Form(by ?? "account", from ?? string.Empty, to ?? string.Empty)}</section>\n").ToMarkup());

    /// <summary>The query form, filled in with <paramref name="by"/>, <paramref name="from"/> and <paramref name="to"/>.</summary>
    private static Markup Form(string by, string from, string to)
    {
        var form = new HtmlBuilder();
        form.Append($"<form class=\"query\" method=\"get\" action=\"/usage\"><label>Group by<select name=\"by\">");
        foreach (var grouping in Groupings)
        {
            form.Append($"<option value=\"{grouping}\"{new Markup(grouping == by ? " selected" : string.Empty)}>{grouping}</option>");
        }

        form.Append($"</select></label><label>From (first day)<input type=\"date\" name=\"from\" value=\"{from}\"></label>");
        form.Append($"<label>To (excluded)<input type=\"date\" name=\"to\" value=\"{to}\"></label><button type=\"submit\">Show</button></form>");
        return form.ToMarkup();
    }

    private static void Chart(HtmlBuilder body, string by, IReadOnlyList<UsageRow> rows)
    {
        var charted = rows.Take(MaxChartBars).ToList();
        var max = charted.Max(r => Units.Hours(r.GpuAllocatedSeconds));
        var bars = charted.Select(r => new ChartBar(
            Key(r), Units.Hours(r.GpuAllocatedSeconds), "alloc",
            $"{Html.Number(Units.Hours(r.GpuAllocatedSeconds), "0.00")} / {Html.Number(Units.Hours(r.GpuBusySeconds), "0.00")} GPU-h ({Html.Percent(Utilization(r))})",
            Units.Hours(r.GpuBusySeconds), "busy")).ToList();
        body.Append($"<section><figure><figcaption>GPU-hours by {by}<span class=\"key alloc\"></span><small>allocated</small><span class=\"key busy\"></span><small>busy</small></figcaption>");
        if (charted.Count < rows.Count)
        {
            body.Append($"<p class=\"sub\">The chart shows the first {charted.Count} of {rows.Count} rows; the table and the CSV have every one.</p>");
        }

        body.Append(SvgChart.HorizontalBars($"GPU-hours allocated and busy by {by}", bars, max, ChartLayout, [], max > 0 ? Html.Number(max, "0.00") + " GPU-h" : null));
        body.Append($"</figure></section>\n");
    }

    private static void Table(HtmlBuilder body, string by, IReadOnlyList<UsageRow> rows)
    {
        body.Append($"<section><div class=\"scroll\"><table><thead><tr><th>{by}</th><th class=\"n\">GPU-hours allocated</th><th class=\"n\">GPU-hours busy</th>");
        body.Append($"<th class=\"n\">Utilization</th><th class=\"n\">Energy (kWh)</th><th class=\"n\">CPU-hours</th><th class=\"n\">Jobs</th>");

        // With --cost.file, every row carries its cost.
        var costed = rows.Any(r => r.Cost is not null);
        if (costed)
        {
            body.Append($"<th class=\"n\">Cost</th>");
        }

        body.Append($"</tr></thead><tbody>\n");
        foreach (var row in rows)
        {
            Row(body, Key(row), row, costed);
        }

        body.Append($"</tbody><tfoot>");
        Row(body, "total", UsageReport.Total(rows, "total"), costed);
        body.Append($"</tfoot></table></div></section>\n");
    }

    private static void Row(HtmlBuilder body, string key, UsageRow row, bool costed)
    {
        body.Append($"<tr><td>{key}</td><td class=\"n\">{Units.Hours(row.GpuAllocatedSeconds):0.00}</td><td class=\"n\">{Units.Hours(row.GpuBusySeconds):0.00}</td>");
        body.Append($"<td class=\"n\">{Html.Percent(Utilization(row))}</td><td class=\"n\">{Units.KilowattHours(row.GpuEnergyJoules):0.000}</td>");
        body.Append($"<td class=\"n\">{Units.Hours(row.CpuSeconds):0.00}</td><td class=\"n\">{row.Jobs}</td>");
        if (costed)
        {
            body.Append($"<td class=\"n\">{row.Cost ?? 0:0.00}</td>");
        }

        body.Append($"</tr>\n");
    }

    private static double? Utilization(UsageRow row) => row.GpuAllocatedSeconds > 0 ? row.GpuBusySeconds / row.GpuAllocatedSeconds : null;

    /// <summary>A row's group as shown: jobs with no account (or user, or partition) are "(none)", as in <c>monitor usage</c>.</summary>
    private static string Key(UsageRow row) => row.Key.Length > 0 ? row.Key : "(none)";
}
