using Monitor.Aggregator.Api;
using Monitor.Aggregator.Usage;

namespace Monitor.Aggregator.Web;

/// <summary>
/// <c>GET /jobs/{id}</c>: the job report of <c>monitor jobstats</c> as a page, from the same <see cref="JobSummary"/>
/// that the JSON document is written from: the job, its totals, the efficiency notes, a chart of each GPU's
/// utilization with the rules' thresholds and one of its energy, and a table per node and per GPU.
/// </summary>
internal static class JobPage
{
    /// <summary>
    /// The most GPUs charted; the tables list them all. Beyond it a chart would be taller than it is useful (256 rows
    /// are 4,600 px), and the page's size stays bounded by the tables alone.
    /// </summary>
    public const int MaxChartBars = 256;

    /// <summary>The columns of both charts: side by side they fit the 1,100 px column.</summary>
    public static readonly ChartLayout ChartLayout = new(LabelWidth: 118, PlotWidth: 290, ValueWidth: 82);

    /// <summary>The page of <paramref name="job"/>.</summary>
    public static string Render(JobSummary job)
    {
        var body = new HtmlBuilder();
        var id = Html.UrlPart(job.JobId);
        body.Append($"<p class=\"sub\">The same report as <code>monitor jobstats {job.JobId}</code>. As JSON: <a href=\"/api/v1/jobs/{id}\">/api/v1/jobs/{id}</a>.</p>\n");
        Header(body, job);
        Totals(body, job);
        Notes(body, job);
        Charts(body, job);
        Nodes(body, job);
        Gpus(body, job);
        var heading = new HtmlBuilder().Append($"Job {job.JobId}<span class=\"badge {State(job)}\">{State(job)}</span>").ToMarkup();
        return Html.Page($"Job {job.JobId}", body.ToMarkup(), heading);
    }

    /// <summary>The page for a job no node has reported (sent with 404).</summary>
    public static string NotFound(string jobId)
    {
        var next = new HtmlBuilder();
        next.Append($"<section><h2>Another job</h2>{IndexPage.JobForm(jobId)}</section>\n");
        return Html.Problem("Unknown job", $"No node has reported job {jobId}. A job appears once an agent's jobs feed lists it and the aggregator has polled that agent.", next.ToMarkup());
    }

    private static string State(JobSummary job) => job.State;

    private static void Header(HtmlBuilder body, JobSummary job)
    {
        body.Append($"<section><h2>Job</h2><dl class=\"facts\">");
        Fact(body, "User", job.User ?? "–");
        Fact(body, "Account", job.Account ?? "–");
        Fact(body, "Partition", job.Partition ?? "–");
        Fact(body, "State", State(job));
        Fact(body, "Start (UTC)", Html.Time(job.Start));
        Fact(body, "End (UTC)", job.End is { } end ? Html.Time(end) : "running");
        Fact(body, "Run time", Html.Duration(job.RuntimeSeconds));
        Fact(body, "Nodes", Html.Number(job.Nodes, "0"));
        Fact(body, "GPUs", Html.Number(job.Gpus.Count, "0"));
        body.Append($"</dl></section>\n");
    }

    private static void Fact(HtmlBuilder body, string name, string value) => body.Append($"<div><dt>{name}</dt><dd>{value}</dd></div>");

    private static void Totals(HtmlBuilder body, JobSummary job)
    {
        body.Append($"<section><h2>Totals</h2><dl class=\"facts totals\">");
        Fact(body, "GPU-hours", Html.Number(Units.Hours(job.GpuAllocatedSeconds), "0.00"));
        Fact(body, "Busy GPU-hours", Html.Number(Units.Hours(job.GpuBusySeconds), "0.00"));
        Fact(body, "Mean utilization", Html.Percent(job.GpuBusyFraction));
        Fact(body, "Tensor active", Html.Percent(job.GpuTensorFraction));
        Fact(body, "Energy", Html.Number(Units.KilowattHours(job.GpuEnergyJoules), "0.000") + " kWh");
        Fact(body, "kWh per GPU-hour", job.KilowattHoursPerGpuHour is { } perHour ? Html.Number(perHour, "0.000") : "–");
        Fact(body, "GPU memory peak", Html.Gigabytes(job.GpuMemoryPeakBytes));
        Fact(body, "CPU-hours", Html.Number(Units.Hours(job.CpuSeconds), "0.00"));
        Fact(body, "CPUs", job.CpusAllocated is { } cpus ? Html.Number(cpus, "0") : "–");
        Fact(body, "CPU efficiency", Html.Percent(job.CpuEfficiency));
        Fact(body, "Memory peak", job.MemoryPeakBytes is { } peak ? Html.Gigabytes(peak) : "–");
        Fact(body, "Memory limit", job.MemoryLimitBytes is { } limit ? Html.Gigabytes(limit) : "–");
        Fact(body, "XID errors", Html.Number(job.XidErrors, "0"));
        Fact(body, "ECC errors", Html.Number(job.EccErrors, "0"));
        if (job.UnobservedSeconds > 0)
        {
            // Only when there is some, as jobstats does: the unobserved note says the same in words.
            Fact(body, "Not measured", Html.Number(job.UnobservedSeconds, "0.#") + " s");
        }

        body.Append($"</dl></section>\n");
    }

    private static void Notes(HtmlBuilder body, JobSummary job)
    {
        body.Append($"<section><h2>Notes</h2>");
        if (job.Notes.Count == 0)
        {
            body.Append($"<p>None: no efficiency rule applies to this job.</p>");
        }
        else
        {
            body.Append($"<ul class=\"notes\">");
            foreach (var note in job.Notes)
            {
                body.Append($"<li class=\"{note.Severity}\"><span class=\"sev\">{note.Severity}</span>{note.Message} <small>({note.Rule})</small></li>");
            }

            body.Append($"</ul>");
        }

        body.Append($"</section>\n");
    }

    private static void Charts(HtmlBuilder body, JobSummary job)
    {
        if (job.Gpus.Count == 0)
        {
            return;
        }

        var charted = job.Gpus.Take(MaxChartBars).ToList();
        var utilization = charted.Select(g => new ChartBar(Label(g), g.BusyFraction ?? 0, Severity(g.BusyFraction), Html.Percent(g.BusyFraction))).ToList();
        var maxKwh = charted.Max(g => Units.KilowattHours(g.Counters.EnergyJoules));
        var energy = charted.Select(g => new ChartBar(Label(g), Units.KilowattHours(g.Counters.EnergyJoules), "energy", Html.Number(Units.KilowattHours(g.Counters.EnergyJoules), "0.000") + " kWh")).ToList();
        ChartMark[] marks =
        [
            new(EfficiencyRules.LowUtilization, Threshold(EfficiencyRules.LowUtilization), "critical", "end"),
            new(EfficiencyRules.FairUtilization, Threshold(EfficiencyRules.FairUtilization), "warning", "start"),
        ];
        body.Append($"<section><h2>Per GPU</h2>");
        if (charted.Count < job.Gpus.Count)
        {
            body.Append($"<p class=\"sub\">The charts show the first {charted.Count} of {job.Gpus.Count} GPUs; the table below lists every one.</p>");
        }

        body.Append($"<div class=\"charts\"><figure><figcaption>Utilization (busy / allocated) <small>dashed: the efficiency rules' thresholds</small></figcaption>");
        body.Append(SvgChart.HorizontalBars(
            "GPU utilization per GPU", utilization, 1, ChartLayout, marks, "100 %"));
        body.Append($"</figure><figure><figcaption>Energy <small>kWh per GPU, the job's share</small></figcaption>");
        body.Append(SvgChart.HorizontalBars("GPU energy per GPU", energy, maxKwh, ChartLayout, [], maxKwh > 0 ? Html.Number(maxKwh, "0.000") + " kWh" : null));
        body.Append($"</figure></div></section>\n");
    }

    /// <summary>A threshold's label: whole percent, short enough that two close lines' labels do not meet.</summary>
    private static string Threshold(double ratio) => Html.Number(ratio * 100, "0.#") + " %";

    /// <summary>The colour of a GPU's utilization bar: the severity the job-wide rules would give that figure.</summary>
    private static string Severity(double? utilization) => utilization switch
    {
        null => "none",
        < EfficiencyRules.LowUtilization => "critical",
        < EfficiencyRules.FairUtilization => "warning",
        _ => "ok",
    };

    private static string Label(JobGpu gpu) => $"{gpu.Node} GPU {gpu.Counters.Index.ToString(System.Globalization.CultureInfo.InvariantCulture)}";

    private static void Nodes(HtmlBuilder body, JobSummary job)
    {
        body.Append($"<section><h2>Per node</h2><div class=\"scroll\"><table><thead><tr><th>Node</th><th>State</th><th>Start (UTC)</th><th>End (UTC)</th>");
        body.Append($"<th class=\"n\">GPUs</th><th class=\"n\">CPU-hours</th><th class=\"n\">Memory peak</th><th class=\"n\">Not measured</th></tr></thead><tbody>");
        foreach (var (node, record) in job.Records)
        {
            // Where each time came from (scheduler, agent, checkpoint), small: it matters when the times look wrong.
            var end = record.End is { } e ? new HtmlBuilder().Append($"{Html.Time(e)} <small>{record.EndSource}</small>").ToMarkup() : new Markup("running");
            body.Append($"<tr><td>{node}</td><td>{record.State}</td><td>{Html.Time(record.Start)} <small>{record.StartSource}</small></td><td>{end}</td>");
            body.Append($"<td class=\"n\">{record.Gpus.Count}</td><td class=\"n\">{(record.CpuSeconds is { } cpu ? Html.Number(Units.Hours(cpu), "0.00") : "–")}</td>");
            body.Append($"<td class=\"n\">{(record.MemoryPeakBytes is { } memory ? Html.Gigabytes(memory) : "–")}</td><td class=\"n\">{record.UnobservedSeconds:0.#} s</td></tr>");
        }

        body.Append($"</tbody></table></div></section>\n");
    }

    private static void Gpus(HtmlBuilder body, JobSummary job)
    {
        if (job.Gpus.Count == 0)
        {
            return;
        }

        body.Append($"<section><h2>GPUs</h2><div class=\"scroll\"><table><thead><tr><th>Node</th><th class=\"n\">GPU</th><th class=\"n\">GPU-hours</th>");
        body.Append($"<th class=\"n\">Utilization</th><th class=\"n\">Tensor</th><th class=\"n\">Memory peak</th><th class=\"n\">Energy</th>");
        body.Append($"<th class=\"n\">XID</th><th class=\"n\">ECC</th><th>UUID</th></tr></thead><tbody>");
        foreach (var gpu in job.Gpus)
        {
            var c = gpu.Counters;
            body.Append($"<tr><td>{gpu.Node}</td><td class=\"n\">{c.Index}</td><td class=\"n\">{Units.Hours(c.AllocatedSeconds):0.00}</td>");
            body.Append($"<td class=\"n\">{Html.Percent(gpu.BusyFraction)}</td><td class=\"n\">{Html.Percent(gpu.TensorFraction)}</td>");
            body.Append($"<td class=\"n\">{Html.Gigabytes(c.MemoryPeakBytes)}</td><td class=\"n\">{Units.KilowattHours(c.EnergyJoules):0.000} kWh</td>");
            body.Append($"<td class=\"n\">{c.XidErrors}</td><td class=\"n\">{c.EccErrors}</td><td><small>{c.Uuid}</small></td></tr>");
        }

        body.Append($"</tbody></table></div></section>\n");
    }
}
