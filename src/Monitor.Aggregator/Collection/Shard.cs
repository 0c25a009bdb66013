using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Monitor.Aggregator.Collection;

/// <summary>
/// <c>--shard=i/N</c>: this replica polls the targets whose hash modulo N is i, as Prometheus's <c>hashmod</c>
/// relabeling does (the MD5 of the target, its last 8 bytes as a big-endian number, modulo N). N replicas with
/// shards 0/N … N-1/N and one PostgreSQL store split the targets between them with no coordination; each target is
/// polled by exactly one of them. The default, 0/1, polls every target.
/// </summary>
internal readonly record struct Shard(int Index, int Count)
{
    /// <summary>Every target: one replica.</summary>
    public static Shard All => new(0, 1);

    /// <summary>Parses "i/N" with 0 ≤ i &lt; N; null when it is not one.</summary>
    public static Shard? Parse(string text)
    {
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        return slash > 0
            && int.TryParse(text.AsSpan(0, slash), NumberStyles.None, CultureInfo.InvariantCulture, out var index)
            && int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var count)
            && count is >= 1 and <= 1000 && index < count
                ? new Shard(index, count)
                : null;
    }

    /// <summary>Whether this replica polls <paramref name="target"/> (a base URL; its host:port is hashed, as Prometheus hashes __address__).</summary>
    public bool Owns(string target) => Count == 1 || Of(Address(target), Count) == Index;

    /// <summary>The host:port of a target URL such as http://node1:9420.</summary>
    public static string Address(string target)
    {
        var start = target.IndexOf("://", StringComparison.Ordinal) is var scheme and >= 0 ? scheme + 3 : 0;
        var end = target.IndexOf('/', start);
        return end < 0 ? target[start..] : target[start..end];
    }

    /// <summary>The shard of <paramref name="address"/> among <paramref name="count"/>.</summary>
    public static int Of(string address, int count)
    {
        Span<byte> hash = stackalloc byte[16];
#pragma warning disable CA5351 // Not for security: the same hash as Prometheus's hashmod, so shards match its relabeling.
        MD5.HashData(Encoding.UTF8.GetBytes(address), hash);
#pragma warning restore CA5351
        return (int)(BinaryPrimitives.ReadUInt64BigEndian(hash[8..]) % (ulong)count);
    }

    public override string ToString() => $"{Index}/{Count}";
}
