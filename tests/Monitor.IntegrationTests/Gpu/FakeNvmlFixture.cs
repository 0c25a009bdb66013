using Monitor.Testing;

namespace Monitor.IntegrationTests.Gpu;

/// <summary>
/// Builds tests/native/fake_nvml.c with gcc into a temporary folder, three times: the current driver, an older one
/// without <c>nvmlDeviceGetMemoryInfo_v2</c>, and one without the GPM API. With <c>-pthread</c>: the fake guards its
/// state with a mutex, because the agent calls it from one sampling thread per GPU and an event thread at once.
/// </summary>
public sealed class FakeNvmlFixture : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("monitor-fake-nvml-").FullName;

    /// <summary>The fake with every symbol.</summary>
    public string Current => Path.Join(_directory, "libnvidia-ml.so.1");

    /// <summary>The fake of a pre-R510 driver: no <c>nvmlDeviceGetMemoryInfo_v2</c>.</summary>
    public string WithoutMemoryV2 => Path.Join(_directory, "old", "libnvidia-ml.so.1");

    /// <summary>
    /// The fake of a driver without the GPM API: no <c>nvmlGpm*</c> symbol. For an out-of-process agent: one process
    /// loads one NVML path.
    /// </summary>
    public string WithoutGpm => Path.Join(_directory, "nogpm", "libnvidia-ml.so.1");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(WithoutMemoryV2)!);
        Directory.CreateDirectory(Path.GetDirectoryName(WithoutGpm)!);
        var gcc = ExternalTool.Require("gcc", "gcc");
        var source = Path.Join(Fixtures.RepositoryRoot, "tests", "native", "fake_nvml.c");
        foreach (var (output, extra) in new[] { (Current, Array.Empty<string>()), (WithoutMemoryV2, ["-DNO_MEMORY_V2"]), (WithoutGpm, ["-DNO_GPM"]) })
        {
            var (code, stdout, stderr) = await ExternalTool.RunAsync(gcc, ["-shared", "-fPIC", "-O2", "-pthread", "-Wall", "-Wextra", "-Werror", .. extra, "-o", output, source]);
            if (code != 0)
            {
                throw new InvalidOperationException($"gcc failed ({code}):\n{stdout}{stderr}");
            }
        }
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_directory, recursive: true);
        return Task.CompletedTask;
    }
}
