using System.Runtime.InteropServices;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Time;

/// <summary>
/// node_exporter's time collector: <c>node_time_seconds</c> (the wall clock), <c>node_time_zone_offset_seconds{time_zone}</c>
/// (the local zone's abbreviation and UTC offset now, from glibc's <c>localtime_r</c>, which reads <c>TZ</c> or
/// <c>/etc/localtime</c> as Go does), and <c>node_time_clocksource_{available,current}_info{device,clocksource}</c> from
/// <c>/sys/devices/system/clocksource/clocksource[0-9]*</c>.
/// </summary>
/// <remarks>
/// As node_exporter 1.5.0 with procfs v0.8.0: <c>device</c> is the clocksource's position in the sorted list of
/// directories (not its number); a clocksource directory without both files fails the collector; no clocksource
/// directory gives no clocksource series.
/// </remarks>
internal sealed partial class TimeCollector : ICollector
{
    private readonly TextFileReader _reader = new();
    private readonly TimeProvider _time;
    private readonly string _clocksourceRoot;
    private readonly MetricFamily _now;
    private readonly MetricFamily _zone;
    private readonly MetricFamily _available;
    private readonly MetricFamily _current;
    private readonly List<string> _deviceLabels = [];
    private readonly Dictionary<string, string> _names = new(StringComparer.Ordinal);
    private string[] _sources = [];
    private (string Available, string Current)[] _sourceFiles = [];
    private string _zoneName = "";
    private byte[] _zoneRaw = [];

    public TimeCollector(CollectorContext context)
    {
        _time = context.Time;
        _clocksourceRoot = context.Paths.Sys("devices/system/clocksource");
        var g = context.Group;
        _now = g.Gauge("node_time_seconds", "System time in seconds since epoch (1970).");
        _zone = g.Gauge("node_time_zone_offset_seconds", "System time zone offset in seconds.", "time_zone");
        _available = g.Gauge("node_time_clocksource_available_info", "Available clocksources read from '/sys/devices/system/clocksource'.", "device", "clocksource");
        _current = g.Gauge("node_time_clocksource_current_info", "Current clocksource read from '/sys/devices/system/clocksource'.", "device", "clocksource");
        TzSet();
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "time", "The system clock, time zone and clocksources from /sys/devices/system/clocksource.", true, Cadence.OnScrape, TimeSpan.Zero,
        c => new TimeCollector(c), []);

    public void Update(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        // node_exporter: float64(now.UnixNano()) / 1e9.
        var unixNanos = (now.UtcTicks - DateTime.UnixEpoch.Ticks) * 100;
        _now.Get().Set(unixNanos / 1e9);
        var offset = LocalZone(now.ToUnixTimeSeconds());
        _zone.Get(_zoneName).Set(offset);

        // The directory list is read again each scrape (cheap): clocksources are rarely added, but the current one can change.
        if (_sources.Length == 0 || !Directory.Exists(_sources[0]))
        {
            _sources = Directory.Exists(_clocksourceRoot)
                ? Directory.GetDirectories(_clocksourceRoot, "clocksource*").Where(IsNumbered).Order(StringComparer.Ordinal).ToArray()
                : [];
            _sourceFiles = _sources.Select(d => (Path.Join(d, "available_clocksource"), Path.Join(d, "current_clocksource"))).ToArray();
        }

        for (var i = 0; i < _sources.Length; i++)
        {
            if (i == _deviceLabels.Count)
            {
                _deviceLabels.Add(i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            var device = _deviceLabels[i];
            var (availablePath, currentPath) = _sourceFiles[i];
            var available = _reader.ReadAttribute(availablePath);
            var fields = new Parsing.FieldReader(available.Trim());
            while (fields.TryNext(out var name))
            {
                _available.Get(device, Name(name)).Set(1);
            }

            _current.Get(device, Name(_reader.ReadAttribute(currentPath).Trim())).Set(1);
        }

        static bool IsNumbered(string path)
        {
            var name = Path.GetFileName(path.AsSpan());
            return name.Length > "clocksource".Length && char.IsAsciiDigit(name["clocksource".Length]);
        }
    }

    private string Name(ReadOnlySpan<char> name)
    {
        var lookup = _names.GetAlternateLookup<ReadOnlySpan<char>>();
        if (!lookup.TryGetValue(name, out var cached))
        {
            cached = name.ToString();
            _names[cached] = cached;
        }

        return cached;
    }

    /// <summary>The local zone's offset from UTC at <paramref name="unixSeconds"/>; sets <see cref="_zoneName"/> to its abbreviation.</summary>
    private unsafe long LocalZone(long unixSeconds)
    {
        Span<byte> tm = stackalloc byte[TmSize];
        tm.Clear();
        if (LocalTime(in unixSeconds, ref MemoryMarshal.GetReference(tm)) == 0)
        {
            throw new IOException($"localtime_r failed: errno {Marshal.GetLastPInvokeError()}");
        }

        var gmtOffset = MemoryMarshal.Read<long>(tm[GmtOffsetAt..]);
        var zonePointer = MemoryMarshal.Read<nint>(tm[ZoneAt..]);
        var zone = zonePointer == 0 ? ReadOnlySpan<byte>.Empty : MemoryMarshal.CreateReadOnlySpanFromNullTerminated((byte*)zonePointer);
        if (!zone.SequenceEqual(_zoneRaw))
        {
            _zoneRaw = zone.ToArray();
            _zoneName = System.Text.Encoding.UTF8.GetString(zone);
        }

        return gmtOffset;
    }

    // glibc's struct tm on 64-bit Linux: nine ints, then long tm_gmtoff at 40 and const char *tm_zone at 48.
    private const int TmSize = 56;
    private const int GmtOffsetAt = 40;
    private const int ZoneAt = 48;

    [LibraryImport("libc", EntryPoint = "localtime_r", SetLastError = true)]
    private static partial nint LocalTime(in long time, ref byte tm);

    [LibraryImport("libc", EntryPoint = "tzset")]
    private static partial void TzSet();
}
