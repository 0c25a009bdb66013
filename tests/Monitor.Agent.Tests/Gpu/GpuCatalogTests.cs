using System.Text.RegularExpressions;
using Monitor.Agent.Gpu;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Gpu;

/// <summary>docs/metrics.md against <see cref="GpuCatalog"/>: every value documented with its type and cadence, nothing documented that is not exported.</summary>
public sealed partial class GpuCatalogTests
{
    /// <summary>The gpu collector's families that are not one value per GPU (GpuCatalog's remarks).</summary>
    private static readonly string[] NotValues =
    [
        "gpu_nvml_up", "gpu_nvml_export_missing", "gpu_info", "gpu_up", "gpu_sampling_stalled", "gpu_nvlink_link_up",
        "gpu_process_memory_used_bytes", "gpu_process_utilization_ratio", "gpu_process_memory_utilization_ratio",
        "gpu_mig_memory_total_bytes", "gpu_mig_utilization_ratio", "gpu_mig_", "gpu_xid_errors_total", "gpu_last_xid_timestamp_seconds",
    ];

    private static readonly string Doc = File.ReadAllText(Path.Join(Fixtures.RepositoryRoot, "docs", "metrics.md"));

    private static string NativeSection => Doc[Doc.IndexOf("## Native series", StringComparison.Ordinal)..Doc.IndexOf("## Node events", StringComparison.Ordinal)];

    private static string DcgmSection => Doc[Doc.IndexOf("## dcgm-exporter compatibility", StringComparison.Ordinal)..];

    public static TheoryData<string> Names => [.. GpuCatalog.Metrics.Select(m => m.Name).Distinct()];

    [Theory]
    [MemberData(nameof(Names))]
    public void EveryFamily_IsDocumentedWithItsTypeAndCadence(string name)
    {
        var metric = GpuCatalog.Metrics.First(m => m.Name == name);
        var row = NativeSection.Split('\n').FirstOrDefault(line => line.StartsWith("| ", StringComparison.Ordinal) &&
            (line.Contains($"`{name}`", StringComparison.Ordinal) || line.Contains($"`{name}{{", StringComparison.Ordinal)));
        Assert.True(row is not null, $"docs/metrics.md has no row for {name}");

        var cells = Cells(row);
        Assert.Equal(metric.Counter ? "counter" : "gauge", cells[1]);
        var cadence = cells[4].ToLowerInvariant();
        var expected = metric.Cadence switch
        {
            GpuCadence.Slow => "slow",
            GpuCadence.Gpm or GpuCadence.Derived => "gpm",
            _ => "tick",
        };
        Assert.Contains(expected, cadence, StringComparison.Ordinal);
    }

    public static TheoryData<string> DcgmNames => [.. GpuCatalog.Metrics.Where(m => m.Dcgm is not null).Select(m => m.Dcgm!)];

    [Theory]
    [MemberData(nameof(DcgmNames))]
    public void EveryDcgmSeries_IsDocumented(string name) =>
        Assert.Contains($"`{name}`", DcgmSection, StringComparison.Ordinal);

    [Fact]
    public void EveryDocumentedFamily_IsExported()
    {
        var catalogue = GpuCatalog.Metrics.Select(m => m.Name).ToHashSet();
        var documented = NativeSection.Split('\n')
            .Where(line => line.StartsWith("| `gpu_", StringComparison.Ordinal))
            .SelectMany(line => FamilyName().Matches(Cells(line)[0]).Select(m => m.Groups[1].Value))
            .ToList();

        Assert.NotEmpty(documented);
        Assert.All(documented, name => Assert.True(catalogue.Contains(name) || NotValues.Contains(name), $"{name} is documented but neither in GpuCatalog nor a known non-value family"));
    }

    [Fact]
    public void EverySampleSlot_HasExactlyOneRow()
    {
        var values = GpuCatalog.Metrics.Select(m => (int)m.Value).Order().ToList();
        Assert.Equal(Enumerable.Range(0, (int)GpuValue.Count), values);
    }

    /// <summary>The collector writes at most two labels beyond gpu and uuid without allocating (GpuCollector.WriteValues).</summary>
    [Fact]
    public void EveryRow_HasAtMostTwoExtraLabels_GpmRowsAtMostOne()
    {
        Assert.All(GpuCatalog.Metrics, m => Assert.InRange(m.LabelNames.Length, 0, 2));
        Assert.All(GpuCatalog.Gpm, m => Assert.InRange(m.LabelNames.Length, 0, 1));
    }

    private static string[] Cells(string row) =>
        [.. EscapedBar().Split(row.Trim().Trim('|')).Select(c => c.Trim())];

    [GeneratedRegex(@"(?<!\\)\|")]
    private static partial Regex EscapedBar();

    [GeneratedRegex(@"`(gpu_[a-z_]+)")]
    private static partial Regex FamilyName();
}
