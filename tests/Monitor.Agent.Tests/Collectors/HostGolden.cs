using Monitor.Agent.Collectors;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Collectors;

/// <summary>
/// Compares one collector's scrape of <c>tests/fixtures/host</c> with the golden file node_exporter 1.5.0 produced
/// from the same tree (<c>tests/fixtures/host/regenerate-golden.sh</c>): same series and values, same HELP and TYPE.
/// </summary>
internal static class HostGolden
{
    /// <summary>Path of the golden file for <paramref name="collector"/>.</summary>
    public static string PathOf(string collector) => Fixtures.Path("host", "golden", collector + ".prom");

    /// <summary>Scrapes the fixture tree once with <paramref name="descriptor"/> and asserts it matches its golden file.</summary>
    /// <remarks>
    /// <paramref name="beyondPeer"/> names the families we export on purpose and node_exporter 1.5.0 does not; they are
    /// dropped from our output before the comparison (docs/host-collectors.md says why each exists).
    /// </remarks>
    public static void AssertMatches(CollectorDescriptor descriptor, IDictionary<string, string?>? settings = null, IReadOnlyCollection<string>? beyondPeer = null)
    {
        var expected = File.ReadAllText(PathOf(descriptor.Name)).Replace("@FIXTURE_ROOT@", Fixtures.Path("host"), StringComparison.Ordinal);
        var harness = CollectorHarness.ForTree(descriptor, Fixtures.Path("host"), settings);

        // Twice: the second scrape exercises the cached paths (families, devices, filters) the first one built.
        harness.Scrape();
        var actual = WithoutFamilies(harness.Scrape(), beyondPeer ?? []);

        PromSamples.AssertEquivalent(PromSamples.Parse(expected), PromSamples.Parse(actual));
        PromMetadata.AssertSame(expected, actual);
    }

    /// <summary>Drops the HELP, TYPE and sample lines of <paramref name="families"/> from Prometheus text.</summary>
    public static string WithoutFamilies(string text, IReadOnlyCollection<string> families)
    {
        if (families.Count == 0)
        {
            return text;
        }

        var kept = text.Split('\n').Where(line =>
        {
            var name = line.StartsWith("# ", StringComparison.Ordinal) ? line.Split(' ')[2] : line.Split('{', ' ')[0];
            return line.Length == 0 || !families.Contains(name);
        });
        return string.Join('\n', kept);
    }
}
