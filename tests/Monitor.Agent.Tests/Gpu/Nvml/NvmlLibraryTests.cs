using Monitor.Agent.Gpu.Nvml;

namespace Monitor.Agent.Tests.Gpu.Nvml;

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
    public void OptionalExports_AreEveryBindingBesidesTheRequiredOnes()
    {
        // Every [LibraryImport] of NvmlNative must be required (checked at load) or optional (guarded per call), or a
        // driver without it would throw EntryPointNotFoundException at the first call.
        var bound = typeof(NvmlNative).GetMethods(System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic)
            .Select(m => m.GetCustomAttributes(typeof(System.Runtime.InteropServices.LibraryImportAttribute), false).Cast<System.Runtime.InteropServices.LibraryImportAttribute>().SingleOrDefault())
            .Where(a => a is not null)
            .Select(a => a!.EntryPoint!)
            .ToHashSet(StringComparer.Ordinal);

        Assert.True(bound.Count > 50, $"{bound.Count} bindings found");
        Assert.Equal((int)NvmlExport.Count, NvmlExports.Names.Count);
        Assert.Equal(bound.Order(StringComparer.Ordinal), NvmlLibrary.RequiredExports.Concat(NvmlExports.Names).Order(StringComparer.Ordinal));
        for (var i = 0; i < (int)NvmlExport.Count; i++)
        {
            // The enum member is the binding's method name; the name list is in the same order.
            var method = typeof(NvmlNative).GetMethod(((NvmlExport)i).ToString(), System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic);
            Assert.NotNull(method);
            var attribute = (System.Runtime.InteropServices.LibraryImportAttribute)method.GetCustomAttributes(typeof(System.Runtime.InteropServices.LibraryImportAttribute), false).Single();
            Assert.Equal(NvmlExports.Names[i], attribute.EntryPoint);
        }
    }

    [Fact]
    public void ErrorString_NotLoaded_FallsBackToTheCodeName() =>
        Assert.Equal("GpuIsLost", NvmlLibrary.ErrorString(NvmlReturn.GpuIsLost));
}
