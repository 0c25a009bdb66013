using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace Monitor.Agent.Jobs.Ledger;

/// <summary>
/// The ledger's binary records. Every file starts with the magic "MJLG" and the format version (a 32-bit little-endian
/// integer); then come frames: a 32-bit length, the CRC-32 of the payload, and the payload. A frame that is short,
/// too long or fails its CRC ends the readable part of a file (a torn write). Payloads are written with
/// <see cref="BinaryWriter"/>: little-endian numbers, strings with a 7-bit length prefix, UTF-8.
/// </summary>
/// <remarks>
/// Versions: 1, the first. 2 appends to each job record the CPUs of its cpuset and its memory limit, and to each of its
/// GPU records the GPU's total memory and utilization peak (doubles, NaN unknown): 16 bytes a job and 16 a GPU. 3
/// appends the job's CPU energy (a double, NaN unknown). A file of an older version reads with those unknown. A file's records all have its header's version: a log of an older version is rewritten before
/// anything is appended to it.
/// </remarks>
internal static class LedgerFormat
{
    /// <summary>The format this build writes. A file with a higher version is left alone.</summary>
    public const int Version = 3;

    /// <summary>The oldest format this build reads.</summary>
    public const int OldestReadable = 1;

    /// <summary>The largest payload a frame may hold (a checkpoint of 4,096 jobs on 8 GPUs fits).</summary>
    public const int MaxFrame = 16 << 20;

    /// <summary>Bytes before the first frame.</summary>
    public const int HeaderLength = 8;

    private static ReadOnlySpan<byte> Magic => "MJLG"u8;

    /// <summary>Writes the file header.</summary>
    public static void WriteHeader(Stream stream)
    {
        Span<byte> header = stackalloc byte[HeaderLength];
        Magic.CopyTo(header);
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], Version);
        stream.Write(header);
    }

    /// <summary>
    /// Reads the header: the file's format version, or null when it is not a ledger file (wrong magic, too short).
    /// </summary>
    public static int? ReadHeader(ReadOnlySpan<byte> file) =>
        file.Length >= HeaderLength && file[..4].SequenceEqual(Magic) ? BinaryPrimitives.ReadInt32LittleEndian(file[4..]) : null;

    /// <summary>Appends one frame holding <paramref name="payload"/>.</summary>
    public static void WriteFrame(Stream stream, ReadOnlySpan<byte> payload)
    {
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteInt32LittleEndian(prefix, payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(prefix[4..], Crc32.HashToUInt32(payload));
        stream.Write(prefix);
        stream.Write(payload);
    }

    /// <summary>
    /// The next frame's payload at <paramref name="offset"/> of <paramref name="file"/>, advancing the offset; false
    /// at the end or at a torn or corrupt frame (the offset then stays at its start).
    /// </summary>
    public static bool TryReadFrame(ReadOnlySpan<byte> file, ref int offset, out ReadOnlySpan<byte> payload)
    {
        payload = default;
        if (file.Length - offset < 8)
        {
            return false;
        }

        var length = BinaryPrimitives.ReadInt32LittleEndian(file[offset..]);
        var crc = BinaryPrimitives.ReadUInt32LittleEndian(file[(offset + 4)..]);
        if (length < 0 || length > MaxFrame || length > file.Length - offset - 8)
        {
            return false;
        }

        var candidate = file.Slice(offset + 8, length);
        if (Crc32.HashToUInt32(candidate) != crc)
        {
            return false;
        }

        payload = candidate;
        offset += 8 + length;
        return true;
    }

    /// <summary>
    /// Writes the GPU table of <paramref name="jobs"/>: each UUID once, so job records name GPUs by their place in it
    /// (a UUID is 40 bytes; 64 jobs on 8 GPUs would repeat them 512 times). Returns UUID → place.
    /// </summary>
    public static Dictionary<string, int> WriteGpuTable(BinaryWriter w, IEnumerable<TrackedJob> jobs)
    {
        var table = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var job in jobs)
        {
            foreach (var uuid in job.Gpus.Keys)
            {
                table.TryAdd(uuid, table.Count);
            }
        }

        w.Write7BitEncodedInt(table.Count);
        foreach (var uuid in table.Keys)
        {
            w.Write(uuid);
        }

        return table;
    }

    /// <summary>Reads a GPU table written by <see cref="WriteGpuTable"/>.</summary>
    public static string[] ReadGpuTable(BinaryReader r)
    {
        var table = new string[Count(r, 65536)];
        for (var i = 0; i < table.Length; i++)
        {
            table[i] = r.ReadString();
        }

        return table;
    }

    /// <summary>Writes one job record; its GPUs are named by their place in <paramref name="gpus"/>.</summary>
    public static void WriteJob(BinaryWriter w, TrackedJob job, Dictionary<string, int> gpus)
    {
        var i = job.Identity;
        w.Write(i.JobId);
        w.Write(i.Scheduler);
        Optional(w, i.User);
        Optional(w, i.Uid);
        Optional(w, i.Account);
        Optional(w, i.Partition);
        Optional(w, i.ArrayJobId);
        Optional(w, i.ArrayTaskId);
        Optional(w, i.Sluid);
        Optional(w, i.Namespace);
        Optional(w, i.Pod);
        Optional(w, i.PodUid);
        w.Write7BitEncodedInt(i.Containers.Count);
        foreach (var container in i.Containers)
        {
            w.Write(container);
        }

        Time(w, i.ScheduledStart);
        Time(w, i.ScheduledEnd);
        w.Write(job.Start.ToUnixTimeMilliseconds());
        w.Write((byte)job.StartSource);
        Time(w, job.End);
        w.Write((byte)job.EndSource);
        w.Write(job.Revision);
        w.Write(job.UnobservedSeconds);
        w.Write(job.CpuSeconds);
        w.Write(job.MemoryBytes);
        w.Write(job.MemoryPeakBytes);
        w.Write7BitEncodedInt(job.Sources.Count);
        foreach (var source in job.Sources)
        {
            w.Write(source);
        }

        w.Write7BitEncodedInt(job.Gpus.Count);
        foreach (var gpu in job.Gpus.Values)
        {
            w.Write7BitEncodedInt(gpu.Index);
            w.Write7BitEncodedInt(gpus[gpu.Uuid]);
            w.Write(job.HeldGpus.Contains(gpu.Uuid));
            w.Write(gpu.AllocatedSeconds);
            w.Write(gpu.BusySeconds);
            w.Write(gpu.EnergyJoules);
            w.Write(gpu.TensorActiveSeconds);
            w.Write(gpu.SmActiveSeconds);
            w.Write(gpu.MemoryPeakBytes);
            w.Write7BitEncodedInt64(gpu.XidErrors);
            w.Write7BitEncodedInt64(gpu.EccErrors);
            w.Write(gpu.UnobservedSeconds);
            w.Write(gpu.LastTickUnix);
            w.Write(gpu.MemoryTotalBytes); // Version 2.
            w.Write(gpu.UtilizationPeak); // Version 2.
        }

        // Version 2.
        w.Write(job.CpusAllocated);
        w.Write(job.MemoryLimitBytes);

        // Version 3.
        w.Write(job.CpuEnergyJoules);
    }

    /// <summary>
    /// Reads one job record of format <paramref name="version"/>, its GPUs named in <paramref name="gpus"/>; throws
    /// <see cref="InvalidDataException"/> (or <see cref="EndOfStreamException"/>) on a malformed one. Fields a version
    /// does not have stay unknown.
    /// </summary>
    public static TrackedJob ReadJob(BinaryReader r, string[] gpus, int version = Version)
    {
        var identity = new JobIdentity
        {
            JobId = r.ReadString(),
            Scheduler = r.ReadString(),
            User = ReadOptional(r),
            Uid = ReadOptional(r),
            Account = ReadOptional(r),
            Partition = ReadOptional(r),
            ArrayJobId = ReadOptional(r),
            ArrayTaskId = ReadOptional(r),
            Sluid = ReadOptional(r),
            Namespace = ReadOptional(r),
            Pod = ReadOptional(r),
            PodUid = ReadOptional(r),
        };
        var containers = new string[Count(r, 4096)];
        for (var c = 0; c < containers.Length; c++)
        {
            containers[c] = r.ReadString();
        }

        identity = identity with { Containers = containers, ScheduledStart = ReadTime(r), ScheduledEnd = ReadTime(r) };
        var job = new TrackedJob(identity, DateTimeOffset.FromUnixTimeMilliseconds(r.ReadInt64()))
        {
            StartSource = Source(r.ReadByte()),
            End = ReadTime(r),
            EndSource = Source(r.ReadByte()),
            Revision = r.ReadInt64(),
            UnobservedSeconds = r.ReadDouble(),
            CpuSeconds = r.ReadDouble(),
            MemoryBytes = r.ReadDouble(),
            MemoryPeakBytes = r.ReadDouble(),
            Dirty = false,
        };
        for (var s = Count(r, 64); s > 0; s--)
        {
            job.Sources.Add(r.ReadString());
        }

        for (var g = Count(r, 4096); g > 0; g--)
        {
            var index = r.Read7BitEncodedInt();
            var place = r.Read7BitEncodedInt();
            var usage = job.Gpu(index, place >= 0 && place < gpus.Length ? gpus[place] : throw new InvalidDataException($"GPU {place} of a table of {gpus.Length}"));
            if (r.ReadBoolean())
            {
                job.HeldGpus.Add(usage.Uuid);
            }

            usage.AllocatedSeconds = r.ReadDouble();
            usage.BusySeconds = r.ReadDouble();
            usage.EnergyJoules = r.ReadDouble();
            usage.TensorActiveSeconds = r.ReadDouble();
            usage.SmActiveSeconds = r.ReadDouble();
            usage.MemoryPeakBytes = r.ReadDouble();
            usage.XidErrors = r.Read7BitEncodedInt64();
            usage.EccErrors = r.Read7BitEncodedInt64();
            usage.UnobservedSeconds = r.ReadDouble();
            usage.LastTickUnix = r.ReadDouble();
            if (version >= 2)
            {
                usage.MemoryTotalBytes = r.ReadDouble();
                usage.UtilizationPeak = r.ReadDouble();
            }
        }

        if (version >= 2)
        {
            job.CpusAllocated = r.ReadDouble();
            job.MemoryLimitBytes = r.ReadDouble();
        }

        if (version >= 3)
        {
            job.CpuEnergyJoules = r.ReadDouble();
        }

        return job;
    }

    /// <summary>Throws <see cref="InvalidDataException"/> when <paramref name="r"/> has bytes left: a record of another layout than its header says.</summary>
    public static void AtEnd(BinaryReader r)
    {
        var left = r.BaseStream.Length - r.BaseStream.Position;
        if (left != 0)
        {
            throw new InvalidDataException($"{left} bytes after the last field");
        }
    }

    private static int Count(BinaryReader r, int max)
    {
        var count = r.Read7BitEncodedInt();
        return count >= 0 && count <= max ? count : throw new InvalidDataException($"a count of {count} (at most {max})");
    }

    private static JobTimeSource Source(byte value) =>
        value <= (byte)JobTimeSource.Checkpoint ? (JobTimeSource)value : throw new InvalidDataException($"time source {value}");

    private static void Optional(BinaryWriter w, string? value)
    {
        w.Write(value is not null);
        if (value is not null)
        {
            w.Write(value);
        }
    }

    private static string? ReadOptional(BinaryReader r) => r.ReadBoolean() ? r.ReadString() : null;

    private static void Time(BinaryWriter w, DateTimeOffset? time) => w.Write(time?.ToUnixTimeMilliseconds() ?? long.MinValue);

    private static DateTimeOffset? ReadTime(BinaryReader r)
    {
        var ms = r.ReadInt64();
        return ms == long.MinValue ? null
            : ms is >= -62135596800000 and <= 253402300799999 ? DateTimeOffset.FromUnixTimeMilliseconds(ms)
            : throw new InvalidDataException($"time {ms} ms");
    }

    /// <summary>UTF-8 without a byte order mark, for <see cref="BinaryWriter"/> and <see cref="BinaryReader"/>.</summary>
    public static readonly Encoding Utf8 = new UTF8Encoding(false, true);
}
