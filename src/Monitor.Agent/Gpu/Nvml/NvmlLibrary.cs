using System.Reflection;
using System.Runtime.InteropServices;

namespace Monitor.Agent.Gpu.Nvml;

/// <summary>
/// Loads <c>libnvidia-ml.so.1</c> (or the path given by the operator) once per process and routes the binding's
/// <c>[LibraryImport("nvml")]</c> declarations to it. Optional symbols are checked with <see cref="HasExport"/>, so an
/// older driver without, say, <c>nvmlDeviceGetMemoryInfo_v2</c> degrades per metric instead of throwing
/// <see cref="EntryPointNotFoundException"/> on first call.
/// </summary>
internal static class NvmlLibrary
{
    /// <summary>The name the <c>[LibraryImport]</c> declarations use; resolved to the loaded handle.</summary>
    public const string ImportName = "nvml";

    /// <summary>The exact soname: the unversioned link exists only where driver development files are installed.</summary>
    public const string DefaultPath = "libnvidia-ml.so.1";

    /// <summary>Exports every version of NVML we support has (11.0+); without them the library is not usable.</summary>
    internal static readonly string[] RequiredExports =
    [
        "nvmlInit_v2", "nvmlShutdown", "nvmlErrorString", "nvmlDeviceGetCount_v2", "nvmlDeviceGetHandleByIndex_v2",
        "nvmlDeviceGetUUID", "nvmlDeviceGetName",
    ];

    private static readonly Lock Gate = new();
    private static nint _handle;
    private static string? _path;
    private static bool _resolverSet;

    /// <summary>
    /// Loads the library at <paramref name="path"/> (a soname or a file path). Returns false with a reason an operator
    /// can act on when it is missing or is not NVML. Loading again after success is a no-op; a different path
    /// after success is refused, because the import resolver is process-wide.
    /// </summary>
    public static bool TryLoad(string path, out string? problem)
    {
        lock (Gate)
        {
            if (_handle != 0)
            {
                if (string.Equals(path, _path, StringComparison.Ordinal))
                {
                    problem = null;
                    return true;
                }

                problem = $"NVML is already loaded from {_path}; cannot also load {path} (the import resolver is process-wide)";
                return false;
            }

            if (!TryOpen(path, out var handle, out problem))
            {
                return false;
            }

            if (!_resolverSet)
            {
                NativeLibrary.SetDllImportResolver(typeof(NvmlLibrary).Assembly, Resolve);
                _resolverSet = true;
            }

            _handle = handle;
            _path = path;
            problem = null;
            return true;
        }
    }

    /// <summary>True when the loaded library exports <paramref name="name"/>.</summary>
    public static bool HasExport(string name) => _handle != 0 && NativeLibrary.TryGetExport(_handle, name, out _);

    /// <summary>
    /// Opens <paramref name="path"/> and checks it exports what every NVML version has, without making it the
    /// process's NVML. <see cref="TryLoad"/> builds on it; tests use it to inspect several libraries in one process.
    /// </summary>
    public static bool TryOpen(string path, out nint handle, out string? problem)
    {
        if (!NativeLibrary.TryLoad(path, out handle))
        {
            problem = $"cannot load {path}: the NVIDIA driver is not installed or its library is not on the loader path (set --nvml.library)";
            return false;
        }

        var loaded = handle;
        var missing = RequiredExports.Where(name => !NativeLibrary.TryGetExport(loaded, name, out _)).ToList();
        if (missing.Count > 0)
        {
            NativeLibrary.Free(handle);
            handle = 0;
            problem = $"{path} is not a usable NVML library: it lacks {string.Join(", ", missing)}";
            return false;
        }

        problem = null;
        return true;
    }

    /// <summary>NVML's static description of <paramref name="code"/>.</summary>
    public static string ErrorString(NvmlReturn code)
    {
        if (_handle == 0)
        {
            return code.ToString();
        }

        // nvmlErrorString returns a pointer to a static string: it must never be freed, so it is read, not marshalled.
        var text = Marshal.PtrToStringUTF8(NvmlNative.ErrorString(code));
        return string.IsNullOrEmpty(text) ? code.ToString() : text;
    }

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath) =>
        libraryName == ImportName ? _handle : 0;
}
