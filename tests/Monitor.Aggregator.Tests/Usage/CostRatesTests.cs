using Monitor.Aggregator.Storage;
using Monitor.Aggregator.Usage;

namespace Monitor.Aggregator.Tests.Usage;

/// <summary>The rates file: defaults inherited by partitions, cost computed by hand, every mistake named.</summary>
public sealed class CostRatesTests
{
    [Fact]
    public void Parse_PartitionInheritsWhatItDoesNotName()
    {
        var rates = CostRates.Parse(
            """
            currency: USD
            gpu_hour: 2.5
            kwh: 0.1
            cpu_hour: 0.01
            partitions:
              h100: { gpu_hour: 4 }
              cpu: { gpu_hour: 0, cpu_hour: 0.02 }
            """,
            "rates.yml");

        Assert.Equal("USD", rates.Currency);
        Assert.Equal(new Rate(4, 0.1, 0.01), rates.For("h100"));
        Assert.Equal(new Rate(0, 0.1, 0.02), rates.For("cpu"));
        Assert.Equal(new Rate(2.5, 0.1, 0.01), rates.For("unlisted"));

        // 10 GPU-hours, 36 kWh, 100 CPU-hours on h100: 40 + 3.6 + 1.
        Assert.Equal(44.6, rates.Cost("h100", new UsageRow("x", 36_000, 0, 36 * 3.6e6, 360_000, 1)), 9);
    }

    [Theory]
    [InlineData("gpu_hour: -1", "rates.yml: gpu_hour must be a number of zero or more, not '-1'")]
    [InlineData("gpu_hour: cheap", "rates.yml: gpu_hour must be a number of zero or more, not 'cheap'")]
    [InlineData("gpu_hours: 1", "rates.yml: unknown field gpu_hours (expected currency, gpu_hour, kwh, cpu_hour, partitions)")]
    [InlineData("partitions: { a100: { kwh: x } }", "rates.yml: partitions.a100.kwh must be a number of zero or more, not 'x'")]
    [InlineData("partitions: { a100: 3 }", "rates.yml: partitions.a100 must be a mapping such as { gpu_hour: 2.5 }")]
    [InlineData("partitions: [a100]", "rates.yml: partitions must be a mapping of partition name to rates")]
    [InlineData("currency: [EUR]", "rates.yml: currency must be a plain value (line 1)")]
    [InlineData("- 1", "rates.yml: expected one mapping with currency, gpu_hour, kwh, cpu_hour and partitions")]
    [InlineData("gpu_hour: 1e400", "rates.yml: gpu_hour must be a number of zero or more, not '1e400'")]
    public void Parse_Bad_NamesTheMistake(string text, string message) =>
        Assert.Equal(message, Assert.Throws<FormatException>(() => CostRates.Parse(text, "rates.yml")).Message);

    [Fact]
    public void Parse_DeeplyNested_RefusedWithoutOverflowingTheStack()
    {
        var text = "partitions: " + new string('[', 200_000);
        Assert.Contains("nested deeper than 8 levels", Assert.Throws<FormatException>(() => CostRates.Parse(text, "rates.yml")).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a: {b_\na: {b_\n")]        // YamlDotNet's scanner throws InvalidOperationException here
    [InlineData("a:\n  : x\n  b: c\n")]    // and its loader ArgumentException here
    [InlineData("gpu_hour: [1\n")]
    public void Parse_MalformedYaml_FormatExceptionNotACrash(string text) =>
        Assert.StartsWith("rates.yml: not valid YAML: ", Assert.Throws<FormatException>(() => CostRates.Parse(text, "rates.yml")).Message, StringComparison.Ordinal);

    [Fact]
    public void Load_Missing_NamesThePath() =>
        Assert.StartsWith("cannot read /nonexistent/rates.yml:", Assert.Throws<FormatException>(() => CostRates.Load("/nonexistent/rates.yml")).Message, StringComparison.Ordinal);
}
