using System.Runtime.InteropServices;
using System.Text;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Uname;

/// <summary>
/// node_exporter's uname collector: <c>node_uname_info{sysname,release,version,machine,nodename,domainname} 1</c>, from
/// the uname(2) system call, as node_exporter reads it (not from <c>--path.procfs</c>: the values are this machine's).
/// Grafana's "Node Exporter Full" builds its job, nodename and node variables from this series.
/// </summary>
internal sealed partial class UnameCollector : ICollector
{
    /// <summary>Linux's <c>struct utsname</c>: six NUL-terminated fields of 65 bytes.</summary>
    private const int FieldLength = 65;

    private readonly MetricFamily _info;
    private byte[] _raw = [];
    private string[] _labels = [];

    public UnameCollector(CollectorContext context) =>
        _info = context.Group.Gauge("node_uname_info", "Labeled system information as provided by the uname system call.", "domainname", "machine", "nodename", "release", "sysname", "version");

    public static CollectorDescriptor Descriptor { get; } = new(
        "uname", "System information from the uname system call.", true, Cadence.OnScrape, TimeSpan.Zero, c => new UnameCollector(c), []);

    public void Update(CancellationToken cancellationToken)
    {
        // The call costs about a microsecond; the labels are decoded again only when an answer changes (a new host name).
        Span<byte> buffer = stackalloc byte[BufferLength];
        Call(buffer);
        if (!buffer.SequenceEqual(_raw))
        {
            _raw = buffer.ToArray();
            _labels = [Field(buffer, 5), Field(buffer, 4), Field(buffer, 1), Field(buffer, 2), Field(buffer, 0), Field(buffer, 3)];
        }

        _info.Get(_labels).Set(1);
    }

    /// <summary>The six fields of uname(2); throws when the call fails.</summary>
    internal static (string Sysname, string Nodename, string Release, string Version, string Machine, string Domainname) Read()
    {
        Span<byte> buffer = stackalloc byte[BufferLength];
        Call(buffer);
        return (Field(buffer, 0), Field(buffer, 1), Field(buffer, 2), Field(buffer, 3), Field(buffer, 4), Field(buffer, 5));
    }

    /// <summary>Room for glibc's struct utsname (6 × 65 bytes), with slack.</summary>
    private const int BufferLength = (6 * FieldLength) + 64;

    private static void Call(Span<byte> buffer)
    {
        // Zeroed first, so every field ends in a NUL.
        buffer.Clear();
        if (UnameCall(ref MemoryMarshal.GetReference(buffer)) != 0)
        {
            throw new IOException($"uname failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    private static string Field(ReadOnlySpan<byte> buffer, int index)
    {
        var field = buffer.Slice(index * FieldLength, FieldLength);
        var end = field.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? field : field[..end]);
    }

    [LibraryImport("libc", EntryPoint = "uname", SetLastError = true)]
    private static partial int UnameCall(ref byte buffer);
}
