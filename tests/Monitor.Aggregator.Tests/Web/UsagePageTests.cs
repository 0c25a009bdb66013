using Monitor.Aggregator.Storage;
using Monitor.Aggregator.Web;
using Monitor.Testing;

namespace Monitor.Aggregator.Tests.Web;

/// <summary>
/// <c>/usage</c> rendered from hand-built rows: the default window, the table and its total, the chart's bars, the
/// CSV link, escaping, and a 400 page with the reason for a bad query.
/// </summary>
public sealed class UsagePageTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 15, 10, 30, 0, TimeSpan.Zero);

    /// <summary>Three accounts: 4 GPU-hours at 25 %, 1 at 90 %, and CPU-only jobs of no account.</summary>
    private static readonly UsageRow[] Rows =
    [
        new("chemistry", 3600, 3240, 1.26e6, 0, 1),
        new("physics", 4 * 3600, 3600, 5.04e6, 36_000, 2),
        new(string.Empty, 0, 0, 0, 7200, 1),
    ];

    [Fact]
    public void Usage_NoParameters_AccountFromTheFirstOfTheMonthToTomorrow()
    {
        (string By, DateOnly From, DateOnly To)? asked = null;

        var page = WebPages.Usage(null, null, "", (by, from, to) => { asked = (by, from, to); return Rows; }, Now);

        Assert.Equal(200, page.Status);
        Assert.Equal(("account", new DateOnly(2026, 12, 1), new DateOnly(2026, 12, 16)), asked);
        Assert.Contains("<input type=\"date\" name=\"from\" value=\"2026-12-01\">", page.Html, StringComparison.Ordinal);
        Assert.Contains("<option value=\"account\" selected>", page.Html, StringComparison.Ordinal);
    }

    [Fact]
    public void Usage_Rows_TableWithTotalsAndCsvLink()
    {
        var html = WebPages.Usage("account", "2026-11-01", "2026-12-01", (_, _, _) => Rows, Now).Html;

        Assert.Contains("<tr><td>chemistry</td><td class=\"n\">1.00</td><td class=\"n\">0.90</td><td class=\"n\">90.0 %</td><td class=\"n\">0.350</td><td class=\"n\">0.00</td><td class=\"n\">1</td></tr>", html, StringComparison.Ordinal);
        Assert.Contains("<tr><td>physics</td><td class=\"n\">4.00</td><td class=\"n\">1.00</td><td class=\"n\">25.0 %</td><td class=\"n\">1.400</td><td class=\"n\">10.00</td><td class=\"n\">2</td></tr>", html, StringComparison.Ordinal);
        Assert.Contains("<tr><td>(none)</td><td class=\"n\">0.00</td><td class=\"n\">0.00</td><td class=\"n\">–</td><td class=\"n\">0.000</td><td class=\"n\">2.00</td><td class=\"n\">1</td></tr>", html, StringComparison.Ordinal);

        // The total: 5 GPU-hours, 1.9 busy (38 %), 1.75 kWh, 12 CPU-hours, 4 jobs.
        Assert.Contains("<tfoot><tr><td>total</td><td class=\"n\">5.00</td><td class=\"n\">1.90</td><td class=\"n\">38.0 %</td><td class=\"n\">1.750</td><td class=\"n\">12.00</td><td class=\"n\">4</td></tr>", html, StringComparison.Ordinal);
        Assert.Contains("<a href=\"/api/v1/usage?by=account&amp;from=2026-11-01&amp;to=2026-12-01&amp;format=csv\">CSV</a>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.Empty(PageMarkup.ExternalReferences(html));
    }

    [Fact]
    public void Usage_WithCosts_CostColumnAndItsTotal()
    {
        UsageRow[] costed = [.. Rows.Select((r, i) => r with { Cost = (i + 1) * 12.5 })];
        var html = WebPages.Usage("account", "2026-11-01", "2026-12-01", (_, _, _) => costed, Now).Html;

        Assert.Contains("<th class=\"n\">Jobs</th><th class=\"n\">Cost</th></tr>", html, StringComparison.Ordinal);
        Assert.Contains("<td class=\"n\">1</td><td class=\"n\">12.50</td></tr>", html, StringComparison.Ordinal);
        Assert.Contains("<td class=\"n\">4</td><td class=\"n\">75.00</td></tr>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("Cost", WebPages.Usage("account", "2026-11-01", "2026-12-01", (_, _, _) => Rows, Now).Html, StringComparison.Ordinal);
    }

    [Fact]
    public void Usage_Chart_AllocatedAndBusyBarsProportionalToTheLargest()
    {
        var bars = PageMarkup.Bars(WebPages.Usage("account", "2026-11-01", "2026-12-01", (_, _, _) => Rows, Now).Html);

        // Per row: allocated, then busy over it; physics' 4 GPU-hours are the full scale.
        var plot = UsagePage.ChartLayout.PlotWidth;
        double[] hours = [1, 0.9, 4, 1, 0, 0];
        Assert.Equal(["alloc", "busy", "alloc", "busy", "alloc", "busy"], bars.Select(b => b.Class));
        for (var i = 0; i < hours.Length; i++)
        {
            Assert.Equal(plot * hours[i] / 4, bars[i].Width, 0.01);
        }
    }

    [Fact]
    public void Usage_KeyWithMarkup_Escaped()
    {
        UsageRow[] rows = [new("<script>alert(1)</script>", 3600, 1800, 0, 0, 1)];

        var html = WebPages.Usage("user", "2026-11-01", "2026-12-01", (_, _, _) => rows, Now).Html;

        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>", html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("bogus", "2026-11-01", "2026-12-01", "by must be account, user, partition or day, not &#39;bogus&#39;")]
    [InlineData("user", "2026-13-01", "2026-12-01", "from and to are days such as 2026-11-01 (to is excluded)")]
    [InlineData("day", "2026-12-01", "2026-12-01", "to must be after from")]
    public void Usage_BadQuery_400WithTheReasonAndTheFormAsFilledIn(string by, string from, string to, string reason)
    {
        var page = WebPages.Usage(by, from, to, (_, _, _) => throw new InvalidOperationException("not asked"), Now);

        Assert.Equal(400, page.Status);
        Assert.Contains($"Bad query: {reason}.", page.Html, StringComparison.Ordinal);
        Assert.Contains($"name=\"from\" value=\"{from}\"", page.Html, StringComparison.Ordinal);
    }

    [Fact]
    public void Usage_MoreRowsThanTheChartHolds_ChartCutTableComplete()
    {
        UsageRow[] rows = [.. Enumerable.Range(0, 60).Select(u => new UsageRow($"user{u:D2}", 3600, 1800, 0, 0, 1))];

        var html = WebPages.Usage("user", "2026-11-01", "2026-12-01", (_, _, _) => rows, Now).Html;

        Assert.Equal(2 * UsagePage.MaxChartBars, PageMarkup.Bars(html).Count);
        Assert.Contains("The chart shows the first 50 of 60 rows; the table and the CSV have every one.", html, StringComparison.Ordinal);
        Assert.Contains("<tr><td>user59</td>", html, StringComparison.Ordinal);
        Assert.Contains("<tfoot><tr><td>total</td><td class=\"n\">60.00</td><td class=\"n\">30.00</td>", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Usage_NoRows_SaysSo()
    {
        var html = WebPages.Usage("day", "2026-11-01", "2026-12-01", (_, _, _) => [], Now).Html;

        Assert.Contains("No job ended in this window.", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<svg", html, StringComparison.Ordinal);
    }
}
