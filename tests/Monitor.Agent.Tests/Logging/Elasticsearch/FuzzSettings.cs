using System.Globalization;

namespace Monitor.Agent.Tests.Logging.Elasticsearch;

/// <summary>
/// How many cases the property and fuzz tests of the shipper run. CI runs a bounded count (a few seconds per
/// property); <c>MONITOR_FUZZ_ITERATIONS=1000000</c> makes every property run that many instead (the long run of
/// bench/fuzz-spool.sh). A failure prints CsCheck's seed; <c>CsCheck_Seed=&lt;seed&gt;</c> replays it.
/// </summary>
internal static class FuzzSettings
{
    /// <summary>The environment variable that overrides every property's case count.</summary>
    public const string Variable = "MONITOR_FUZZ_ITERATIONS";

    /// <summary><paramref name="ciDefault"/>, or the count from <see cref="Variable"/>.</summary>
    public static long Iterations(long ciDefault) =>
        long.TryParse(Environment.GetEnvironmentVariable(Variable), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : ciDefault;
}
