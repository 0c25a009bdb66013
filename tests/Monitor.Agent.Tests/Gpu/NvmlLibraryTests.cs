using Monitor.Agent.Gpu.Nvml;

namespace Monitor.Agent.Tests.Gpu;

/// <summary>Loading without a GPU: the driver's absence, or a library that is not NVML, gives a reason, never a throw.</summary>
public sealed class NvmlLibraryTests
{
    [Fact]
    public void TryLoad_MissingLibrary_ExplainsWhatToDo()
    {
        Assert.False(NvmlLibrary.TryLoad("/nonexistent/libnvidia-ml.so.1", out var problem));

        Assert.Contains("cannot load /nonexistent/libnvidia-ml.so.1", problem, StringComparison.Ordinal);
        Assert.Contains("--nvml.library", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void TryLoad_LibraryThatIsNotNvml_NamesMissingExports()
    {
        Assert.False(NvmlLibrary.TryLoad("libc.so.6", out var problem));

        Assert.Contains("libc.so.6 is not a usable NVML library: it lacks nvmlInit_v2", problem, StringComparison.Ordinal);
        Assert.False(NvmlLibrary.HasExport("nvmlInit_v2"));
    }

    [Fact]
    public void ErrorString_NotLoaded_FallsBackToTheCodeName() =>
        Assert.Equal("GpuIsLost", NvmlLibrary.ErrorString(NvmlReturn.GpuIsLost));
}
