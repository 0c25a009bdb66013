using Monitor.Agent.Gpu.Nvml;
using Monitor.Testing;

namespace Monitor.IntegrationTests.Gpu;

/// <summary>
/// A driver whose NVML lacks one optional function, for every optional function in turn: the fake library is linked
/// once per export with that symbol made local (objcopy), and the real agent loads it. Only the values that need the
/// function may go; the GPUs stay up, everything else is served, and the log names the missing function once.
/// </summary>
[Trait("Category", "AgentProcess")]
public sealed class MissingExportTests : IAsyncLifetime
{
    /// <summary>Series that must survive any one missing export, except the export they come from.</summary>
    private static readonly (string Series, string? Export)[] Sentinels =
    [
        ("gpu_power_watts", "nvmlDeviceGetPowerUsage"),
        ("gpu_temperature_celsius", "nvmlDeviceGetTemperature"),
        ("gpu_utilization_ratio", "nvmlDeviceGetUtilizationRates"),
        ("gpu_memory_used_bytes", null),
        ("gpu_sampling_stalled", null),
    ];

    private readonly string _directory = Directory.CreateTempSubdirectory("monitor-fake-nvml-missing-").FullName;
    private readonly List<string> _exports = [];

    public async Task InitializeAsync()
    {
        var gcc = ExternalTool.Require("gcc", "gcc");
        var source = Path.Join(Fixtures.RepositoryRoot, "tests", "native", "fake_nvml.c");
        var objectFile = Path.Join(_directory, "fake_nvml.o");
        await RunAsync(gcc, "-c", "-fPIC", "-O2", "-pthread", "-Wall", "-Wextra", "-Werror", "-o", objectFile, source);
        var (_, symbols, _) = await ExternalTool.RunAsync("nm", ["-g", "--defined-only", objectFile]);
        var defined = symbols.Split('\n').Select(l => l.Split(' ').Last().Trim()).ToHashSet(StringComparer.Ordinal);

        // Every optional export the binding uses and the fake implements (the fake has no throttle-reasons call, as a
        // current driver).
        _exports.AddRange(NvmlExports.Names.Where(defined.Contains));
        Assert.True(_exports.Count >= 45, string.Join(", ", _exports));
        await Parallel.ForEachAsync(_exports, async (export, _) =>
        {
            var variant = Path.Join(_directory, export);
            Directory.CreateDirectory(variant);
            var stripped = Path.Join(variant, "fake_nvml.o");
            await RunAsync("objcopy", $"--localize-symbol={export}", objectFile, stripped);
            await RunAsync(gcc, "-shared", "-pthread", "-o", Path.Join(variant, "libnvidia-ml.so.1"), stripped);
        });
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_directory, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Agent_LibraryLacksOneOptionalExport_ServesEverythingElseAndLogsItOnce()
    {
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        using var slots = new SemaphoreSlim(Math.Max(2, Environment.ProcessorCount * 2));
        await Task.WhenAll(_exports.Select(async export =>
        {
            await slots.WaitAsync();
            try
            {
                var problem = await CheckAsync(export);
                if (problem is not null)
                {
                    failures.Add($"{export}: {problem}");
                }
            }
            finally
            {
                slots.Release();
            }
        }));

        Assert.True(failures.IsEmpty, string.Join("\n\n", failures));
    }

    /// <summary>Runs the agent on the library without <paramref name="export"/>; null when it behaves, else what is wrong.</summary>
    private async Task<string?> CheckAsync(string export)
    {
        await using var agent = await AgentProcess.StartAsync(
            $"--nvml.library={Path.Join(_directory, export, "libnvidia-ml.so.1")}", "--collector.disable-defaults", "--collector.gpu");
        using var client = new HttpClient();
        // One of a pair of alternatives is not missing while the library has the other.
        var alternative = NvmlExports.Alternatives.Any(p =>
            (NvmlExports.Names[(int)p.Item1] == export && _exports.Contains(NvmlExports.Names[(int)p.Item2])) ||
            (NvmlExports.Names[(int)p.Item2] == export && _exports.Contains(NvmlExports.Names[(int)p.Item1])));
        Dictionary<string, double> samples;
        try
        {
            // Two published updates after the first: time for the slow values and the process list to be read.
            samples = await agent.ScrapeUntilAsync(client, s => Up(s, 0) && Up(s, 1) && s.ContainsKey("gpu_sampling_stalled{gpu=\"1\",uuid=\"GPU-00000000-0000-0000-0000-000000000001\"}"));
        }
        catch (TimeoutException ex)
        {
            return ex.Message;
        }

        foreach (var (series, source) in Sentinels)
        {
            var present = samples.Keys.Any(k => k.StartsWith(series + "{", StringComparison.Ordinal));
            if (source != export && !present)
            {
                return $"{series} is missing";
            }
        }

        var missingSeries = $"gpu_nvml_export_missing{{export=\"{export}\"}}";
        if (!alternative && samples.GetValueOrDefault(missingSeries) != 1)
        {
            return $"{missingSeries} is not 1";
        }

        var log = agent.Log;
        var mentions = log.Split('\n').Count(l => l.Contains(export, StringComparison.Ordinal));
        if (mentions != (alternative ? 0 : 1))
        {
            return $"the log names the export {mentions} times:\n{log}";
        }

        foreach (var forbidden in new[] { "EntryPointNotFound", "sampling failed", "cannot be identified" })
        {
            if (log.Contains(forbidden, StringComparison.Ordinal))
            {
                return $"the log says '{forbidden}':\n{log}";
            }
        }

        return null;
    }

    private static bool Up(Dictionary<string, double> samples, int gpu) =>
        samples.GetValueOrDefault($"gpu_up{{gpu=\"{gpu}\",uuid=\"GPU-00000000-0000-0000-0000-{gpu:D12}\"}}") == 1;

    private static async Task RunAsync(string tool, params string[] args)
    {
        var (code, stdout, stderr) = await ExternalTool.RunAsync(tool, args);
        if (code != 0)
        {
            throw new InvalidOperationException($"{tool} failed ({code}):\n{stdout}{stderr}");
        }
    }
}
