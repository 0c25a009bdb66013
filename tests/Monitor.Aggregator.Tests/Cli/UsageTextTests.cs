using System.Text.Json;
using Monitor.Aggregator.Api;
using Monitor.Aggregator.Storage;
using Monitor.Cli;
using Monitor.Testing;

namespace Monitor.Aggregator.Tests.Cli;

/// <summary><c>monitor usage</c>'s table and the API's CSV, byte for byte (tests/fixtures/cli/).</summary>
public sealed class UsageTextTests
{
    private static readonly (string By, DateOnly From, DateOnly To) Query = ("account", new DateOnly(2026, 11, 1), new DateOnly(2026, 12, 1));

    // physics: 4 GPU-hours at 25 %, 1.4 kWh, 10 CPU-hours, 2 jobs; chemistry: 1 GPU-hour at 90 %, 0.35 kWh; a job with no account.
    private static readonly UsageRow[] Rows =
    [
        new("chemistry", 3600, 3240, 1_260_000, 0, 1),
        new("physics", 14400, 3600, 5_040_000, 36000, 2),
        new("", 0, 0, 0, 7200, 1),
    ];

    [Fact]
    public void Table_MatchesGolden() => Goldens.Check("usage-by-account.txt", UsageText.Format(Document()));

    [Fact]
    public void Csv_MatchesGoldenAndQuotesWhatASpreadsheetWouldRun()
    {
        Goldens.Check("usage-by-account.csv", UsageReport.Csv(Query, Rows));
        Assert.Contains("\"=cmd()\",", UsageReport.Csv(Query, [new UsageRow("=cmd()", 0, 0, 0, 0, 0)]), StringComparison.Ordinal);
    }

    [Fact]
    public void TableAndCsv_WithRates_CostColumnMatchesGolden()
    {
        UsageRow[] costed = [.. Rows.Select((r, i) => r with { Cost = (i + 1) * 10.005 })];
        Goldens.Check("usage-by-account-cost.txt", UsageText.Format(Document(costed, "EUR")));
        Goldens.Check("usage-by-account-cost.csv", UsageReport.Csv(Query, costed, "EUR"));
    }

    [Theory]
    [InlineData("colour", "2026-11-01", "2026-12-01", "by must be account, user, partition or day, not 'colour'")]
    [InlineData("account", "2026-11", "2026-12-01", "from and to are days such as 2026-11-01 (to is excluded)")]
    [InlineData("account", "2026-12-01", "2026-11-01", "to must be after from")]
    public void Query_Bad_Refused(string by, string from, string to, string problem) => Assert.Equal(problem, UsageReport.Parse(by, from, to, out _));

    private static JsonElement Document(UsageRow[]? rows = null, string? currency = null)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            UsageReport.WriteJson(json, Query, rows ?? Rows, currency);
        }

        return JsonDocument.Parse(buffer.ToArray()).RootElement.Clone();
    }
}
