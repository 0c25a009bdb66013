using Monitor.Agent.Collectors.Parsing;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Entropy;

/// <summary>
/// node_exporter's entropy collector: <c>node_entropy_available_bits</c> from <c>/proc/sys/kernel/random/entropy_avail</c>
/// and <c>node_entropy_pool_size_bits</c> from <c>poolsize</c> beside it. As node_exporter 1.5.0: a missing or bad
/// entropy_avail fails the collector; a missing poolsize only drops its series.
/// </summary>
internal sealed class EntropyCollector : ICollector
{
    private readonly TextFileReader _reader = new();
    private readonly string _available;
    private readonly string _poolSize;
    private readonly MetricFamily _availableBits;
    private readonly MetricFamily _poolSizeBits;

    public EntropyCollector(CollectorContext context)
    {
        _available = context.Paths.Proc("sys/kernel/random/entropy_avail");
        _poolSize = context.Paths.Proc("sys/kernel/random/poolsize");
        _availableBits = context.Group.Gauge("node_entropy_available_bits", "Bits of available entropy.");
        _poolSizeBits = context.Group.Gauge("node_entropy_pool_size_bits", "Bits of entropy pool.");
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "entropy", "Available entropy from /proc/sys/kernel/random.", true, Cadence.OnScrape, TimeSpan.Zero, c => new EntropyCollector(c), []);

    public void Update(CancellationToken cancellationToken)
    {
        _availableBits.Get().Set(Number(_reader.ReadAll(_available)).ValueOrThrow(_available));
        if (_reader.TryReadAll(_poolSize, out var poolSize) && Number(poolSize) is { Success: true } pool)
        {
            _poolSizeBits.Get().Set(pool.Value);
        }
    }

    /// <summary>A file holding one whole number and a newline.</summary>
    internal static ParseResult<double> Number(ReadOnlySpan<char> text) =>
        Numbers.TryParseUInt64(text.Trim(), out var value) ? ParseResult<double>.Ok(value) : ParseResult<double>.Fail($"not a whole number: '{text.Trim()}'");
}
