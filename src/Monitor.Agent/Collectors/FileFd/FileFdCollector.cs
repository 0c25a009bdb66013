using Monitor.Agent.Collectors.Parsing;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.FileFd;

/// <summary>
/// node_exporter's filefd collector: <c>node_filefd_allocated</c> and <c>node_filefd_maximum</c>, the first and third
/// fields of <c>/proc/sys/fs/file-nr</c> (allocated, unused, maximum). A file without three whole numbers fails it.
/// </summary>
internal sealed class FileFdCollector : ICollector
{
    private readonly TextFileReader _reader = new();
    private readonly string _path;
    private readonly MetricFamily _allocated;
    private readonly MetricFamily _maximum;

    public FileFdCollector(CollectorContext context)
    {
        _path = context.Paths.Proc("sys/fs/file-nr");
        _allocated = context.Group.Gauge("node_filefd_allocated", "File descriptor statistics: allocated.");
        _maximum = context.Group.Gauge("node_filefd_maximum", "File descriptor statistics: maximum.");
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "filefd", "File descriptor statistics from /proc/sys/fs/file-nr.", true, Cadence.OnScrape, TimeSpan.Zero, c => new FileFdCollector(c), []);

    public void Update(CancellationToken cancellationToken)
    {
        var (allocated, maximum) = Parse(_reader.ReadAll(_path)).ValueOrThrow(_path);
        _allocated.Get().Set(allocated);
        _maximum.Get().Set(maximum);
    }

    /// <summary>Parses <c>file-nr</c>: <c>allocated unused maximum</c>, whole numbers separated by whitespace.</summary>
    internal static ParseResult<(double Allocated, double Maximum)> Parse(ReadOnlySpan<char> text)
    {
        var fields = new FieldReader(text.Trim());
        Span<double> values = stackalloc double[3];
        for (var i = 0; i < 3; i++)
        {
            if (!fields.TryNext(out var field) || !Numbers.TryParseUInt64(field, out var value))
            {
                return ParseResult<(double, double)>.Fail($"expected 3 whole numbers (allocated, unused, maximum), field {i + 1} is missing or bad");
            }

            values[i] = value;
        }

        // Later fields, if a kernel ever adds some, are ignored, as node_exporter ignores them.
        return ParseResult<(double, double)>.Ok((values[0], values[2]));
    }
}
