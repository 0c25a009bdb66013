using System.Net;
using System.Net.Sockets;

namespace Monitor.Agent.Hosting;

/// <summary>
/// The unit a client is throttled by: its IPv4 address, or the /64 prefix of its IPv6 address (one host commonly
/// holds a whole /64, so per-address state would be free to evade there).
/// </summary>
internal readonly record struct ClientKey(UInt128 Value, bool IsV6Prefix)
{
    /// <summary>The key of <paramref name="address"/> (null, e.g. a Unix socket, maps to one shared key).</summary>
    public static ClientKey From(IPAddress? address)
    {
        if (address is null)
        {
            return default;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        Span<byte> bytes = stackalloc byte[16];
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            _ = address.TryWriteBytes(bytes, out _);
            return new ClientKey(System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes), false);
        }

        _ = address.TryWriteBytes(bytes, out _);
        var prefix = System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(bytes);
        return new ClientKey(new UInt128(prefix, 0), true);
    }

    /// <summary>The address (or prefix) as operators write it, for the summary log line.</summary>
    public override string ToString()
    {
        if (!IsV6Prefix)
        {
            Span<byte> v4 = stackalloc byte[4];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(v4, (uint)Value);
            return new IPAddress(v4).ToString();
        }

        Span<byte> v6 = stackalloc byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(v6, (ulong)(Value >> 64));
        return new IPAddress(v6).ToString() + "/64";
    }
}
