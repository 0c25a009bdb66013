using System.Text.RegularExpressions;
using Monitor.Aggregator.Api;
using Monitor.Aggregator.Web;
using Monitor.Contracts;
using Monitor.Testing;

namespace Monitor.Aggregator.Tests.Web;

/// <summary>
/// <c>/jobs/{id}</c> rendered from hand-built records: the figures worked out by hand appear, every string from an
/// agent is escaped, the bars are as long as the figures say, and an unknown job is a 404 page.
/// </summary>
public sealed class JobPageTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 1, 8, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Job_FourGpusAtNinePercentOnTwoNodes_ShowsTheFiguresAndTheCriticalNote()
    {
        // An hour on 2 nodes × 2 GPUs, each busy 9 % of the time at 350 W: 4 GPU-hours, 0.36 busy, 1.4 kWh, 0.35 kWh a GPU-hour.
        (string, NodeJobRecord)[] records =
        [
            ("gpu17", SomeJob.Record("12345", Start, Start.AddHours(1), SomeJob.Gpu(0, 0.09), SomeJob.Gpu(1, 0.09))),
            ("gpu18", SomeJob.Record("12345", Start.AddSeconds(2), Start.AddHours(1), SomeJob.Gpu(0, 0.09), SomeJob.Gpu(1, 0.09, memory: 31e9))),
        ];

        var page = Render(records, Start.AddHours(2));

        Assert.Equal(200, page.Status);
        var html = page.Html;
        foreach (var expected in new[]
        {
            "<dt>User</dt><dd>alice</dd>", "<dt>Account</dt><dd>physics</dd>", "<dt>Partition</dt><dd>gpu</dd>", "<dt>State</dt><dd>ended</dd>",
            "<dt>Start (UTC)</dt><dd>2026-12-01 08:00:00</dd>", "<dt>End (UTC)</dt><dd>2026-12-01 09:00:00</dd>", "<dt>Run time</dt><dd>1:00:00</dd>",
            "<dt>Nodes</dt><dd>2</dd>", "<dt>GPUs</dt><dd>4</dd>",
            "<dt>GPU-hours</dt><dd>4.00</dd>", "<dt>Busy GPU-hours</dt><dd>0.36</dd>", "<dt>Mean utilization</dt><dd>9.0 %</dd>",
            "<dt>Energy</dt><dd>1.400 kWh</dd>", "<dt>kWh per GPU-hour</dt><dd>0.350</dd>", "<dt>GPU memory peak</dt><dd>31.0 GB</dd>",
            "<dt>XID errors</dt><dd>0</dd>",
            "<li class=\"critical\"><span class=\"sev\">critical</span>This job used 9 % of its 4 GPUs on average: 1 GPU would have done the same work (request 1).",
            "<a href=\"/api/v1/jobs/12345\">",
        })
        {
            Assert.Contains(expected, html, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("<dt>Not measured</dt>", html, StringComparison.Ordinal);

        // One row per GPU: gpu17's two, then gpu18's.
        Assert.Equal(4, Regex.Count(html, "<tr><td>gpu1[78]</td><td class=\"n\">[01]</td><td class=\"n\">1.00</td><td class=\"n\">9.0 %</td>"));
    }

    [Fact]
    public void Job_ScriptInUserAndNodeAndId_IsEscapedEverywhere()
    {
        const string id = "1\"><script>alert('id')</script>";
        var record = SomeJob.Record(id, Start, Start.AddHours(1), SomeJob.Gpu(0, 0.5)) with { User = "<script>alert(1)</script>", Account = "a&b" };
        (string, NodeJobRecord)[] records = [("<img src=x onerror=alert(2)>", record)];

        var html = Render(records, Start.AddHours(2), id).Html;

        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<img", html, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("<dd>&lt;script&gt;alert(1)&lt;/script&gt;</dd>", html, StringComparison.Ordinal);
        Assert.Contains("<dd>a&amp;b</dd>", html, StringComparison.Ordinal);
        Assert.Contains("<td>&lt;img src=x onerror=alert(2)&gt;</td>", html, StringComparison.Ordinal);
        Assert.Contains("<title>Job 1&quot;&gt;&lt;script&gt;alert(&#39;id&#39;)&lt;/script&gt; · Monitor</title>", html, StringComparison.Ordinal);

        // In the JSON link the id is a URL part first: nothing in it can end the attribute.
        Assert.Contains("href=\"/api/v1/jobs/1%22%3E%3Cscript%3Ealert%28%27id%27%29%3C%2Fscript%3E\"", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Job_Bars_AsLongAsEachGpusUtilizationAndEnergy()
    {
        // Four GPUs, each at its own utilization and power, for an hour.
        double[] utilization = [0.05, 0.20, 0.50, 0.95];
        double[] watts = [100, 200, 400, 700];
        var gpus = utilization.Select((u, i) => SomeJob.Gpu(i, u, watts: watts[i])).ToArray();
        (string, NodeJobRecord)[] records = [("gpu17", SomeJob.Record("7", Start, Start.AddHours(1), gpus))];

        var bars = PageMarkup.Bars(Render(records, Start.AddHours(2)).Html);

        // The utilization chart first (0 to 100 %), coloured by the rules' thresholds; then energy, the largest GPU full length.
        var plot = JobPage.ChartLayout.PlotWidth;
        Assert.Equal(8, bars.Count);
        string[] colours = ["critical", "warning", "ok", "ok"];
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(colours[i], bars[i].Class);
            Assert.Equal(plot * utilization[i], bars[i].Width, 0.01);
            Assert.Equal("energy", bars[4 + i].Class);
            Assert.Equal(plot * watts[i] / 700, bars[4 + i].Width, 0.01);
        }
    }

    [Fact]
    public void Job_UtilizationChart_ThresholdLinesAtFifteenAndTwentyFivePercent()
    {
        (string, NodeJobRecord)[] records = [("gpu17", SomeJob.Record("7", Start, Start.AddHours(1), SomeJob.Gpu(0, 0.5)))];

        var html = Render(records, Start.AddHours(2)).Html;

        var layout = JobPage.ChartLayout;
        var low = (layout.LabelWidth + (layout.PlotWidth * 0.15)).ToString("0.##", System.Globalization.CultureInfo.InvariantCulture);
        var fair = (layout.LabelWidth + (layout.PlotWidth * 0.25)).ToString("0.##", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains($"<line class=\"mark critical\" x1=\"{low}\"", html, StringComparison.Ordinal);
        Assert.Contains($"<line class=\"mark warning\" x1=\"{fair}\"", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Job_Running_RunTimeToNowAndNoEnd()
    {
        (string, NodeJobRecord)[] records = [("gpu3", SomeJob.Record("8", Start, null, SomeJob.Gpu(5, 0.3, xids: 2, hours: 0.5)) with { UnobservedSeconds = 42 })];

        var html = Render(records, Start.AddMinutes(30).AddSeconds(5)).Html;

        Assert.Contains("<span class=\"badge running\">running</span>", html, StringComparison.Ordinal);
        Assert.Contains("<dt>End (UTC)</dt><dd>running</dd>", html, StringComparison.Ordinal);
        Assert.Contains("<dt>Run time</dt><dd>0:30:05</dd>", html, StringComparison.Ordinal);
        Assert.Contains("<dt>Not measured</dt><dd>42 s</dd>", html, StringComparison.Ordinal);
        Assert.Contains("<li class=\"critical\"><span class=\"sev\">critical</span>GPU 5 on node gpu3 reported 2 XID errors", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Job_Page_NoScriptAndNothingFromElsewhere()
    {
        (string, NodeJobRecord)[] records = [("gpu17", SomeJob.Record("7", Start, Start.AddHours(1), SomeJob.Gpu(0, 0.5), SomeJob.Gpu(1, 0.1)))];

        var html = Render(records, Start.AddHours(2)).Html;

        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("http://", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("https://", html, StringComparison.OrdinalIgnoreCase);
        Assert.Empty(PageMarkup.ExternalReferences(html));
        Assert.Equal(2, Regex.Count(html, "<svg "));
    }

    [Fact]
    public void Job_Unknown_404PageNamingIt()
    {
        var page = WebPages.Job("nope<b>", _ => [], Start);

        Assert.Equal(404, page.Status);
        Assert.Contains("No node has reported job nope&lt;b&gt;.", page.Html, StringComparison.Ordinal);
        Assert.Contains("<form class=\"query\" method=\"get\" action=\"/jobs\">", page.Html, StringComparison.Ordinal);
    }

    [Fact]
    public void Job_SixtyFourGpus_PageUnder100KB()
    {
        // 8 nodes × 8 GPUs: both charts carry every GPU, and the page stays small enough for a slow link.
        (string, NodeJobRecord)[] records =
            [.. Enumerable.Range(0, 8).Select(n => ($"gpu{n:D2}", SomeJob.Record("64", Start, Start.AddHours(10), [.. Enumerable.Range(0, 8).Select(g => SomeJob.Gpu(g, g / 8.0, hours: 10))])))];

        var html = Render(records, Start.AddHours(11)).Html;

        Assert.Equal(128, PageMarkup.Bars(html).Count);
        Assert.InRange(System.Text.Encoding.UTF8.GetByteCount(html), 10_000, 100_000);
    }

    [Fact]
    public void Job_MoreGpusThanTheChartsHold_ChartsCutTablesComplete()
    {
        // 40 nodes × 8 GPUs = 320 GPUs: the charts stop at 256 and say so; the GPU table has all 320 rows.
        (string, NodeJobRecord)[] records =
            [.. Enumerable.Range(0, 40).Select(n => ($"gpu{n:D2}", SomeJob.Record("320", Start, Start.AddHours(1), [.. Enumerable.Range(0, 8).Select(g => SomeJob.Gpu(g, 0.5))])))];

        var html = Render(records, Start.AddHours(2)).Html;

        Assert.Equal(2 * JobPage.MaxChartBars, PageMarkup.Bars(html).Count);
        Assert.Contains("The charts show the first 256 of 320 GPUs; the table below lists every one.", html, StringComparison.Ordinal);
        Assert.Equal(320, Regex.Count(html, "<tr><td>gpu[0-9]{2}</td><td class=\"n\">[0-7]</td>"));
    }

    [Fact]
    public void Job_CpusAndMemory_EfficiencyAndPeakAgainstTheLimit()
    {
        // An hour on 8 CPUs with 2 CPU-hours used: 25 %; memory peak 20 GB of a 64 GB limit.
        (string, NodeJobRecord)[] records =
            [("gpu17", SomeJob.Record("12345", Start, Start.AddHours(1), SomeJob.Gpu(0, 0.5)) with { CpusAllocated = 8, CpuSeconds = 7200, MemoryPeakBytes = 20e9, MemoryLimitBytes = 64e9 })];

        var html = Render(records, Start.AddHours(2)).Html;

        Assert.Contains("<dt>CPUs</dt><dd>8</dd>", html, StringComparison.Ordinal);
        Assert.Contains("<dt>CPU efficiency</dt><dd>25.0 %</dd>", html, StringComparison.Ordinal);
        Assert.Contains("<dt>Memory peak</dt><dd>20.0 GB</dd>", html, StringComparison.Ordinal);
        Assert.Contains("<dt>Memory limit</dt><dd>64.0 GB</dd>", html, StringComparison.Ordinal);
    }

    private static WebPage Render((string Node, NodeJobRecord Record)[] records, DateTimeOffset now, string id = "12345") =>
        WebPages.Job(id, asked => asked == id ? records : [], now);
}
