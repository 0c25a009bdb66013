using System.Runtime.InteropServices;

namespace Monitor.Agent.Collectors.Hwmon;

/// <summary>
/// <c>realpath(3)</c>, the equivalent of Go's <c>filepath.EvalSymlinks</c> that node_exporter uses to name chips.
/// A managed join of link targets is not enough in sysfs: <c>class/hwmon/hwmon0/device</c> is
/// <c>../../../coretemp.0</c> relative to the physical directory the <c>hwmon0</c> link points into, so every
/// component has to be resolved by the kernel.
/// </summary>
internal static partial class RealPath
{
    /// <summary>The canonical absolute path, or null when it does not exist or cannot be resolved.</summary>
    public static unsafe string? Resolve(string path)
    {
        var resolved = NativeMethods.RealPath(path, 0);
        if (resolved == 0)
        {
            return null;
        }

        try
        {
            return Marshal.PtrToStringUTF8(resolved);
        }
        finally
        {
            // realpath(path, NULL) returns malloc'd memory; NativeMemory.Free is free(3) on Unix.
            NativeMemory.Free((void*)resolved);
        }
    }

    private static partial class NativeMethods
    {
        [LibraryImport("libc", EntryPoint = "realpath", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial nint RealPath(string path, nint resolved);
    }
}
