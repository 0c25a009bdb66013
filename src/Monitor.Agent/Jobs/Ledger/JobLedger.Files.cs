using Microsoft.Extensions.Logging;

namespace Monitor.Agent.Jobs.Ledger;

/// <summary>The ledger's files: reading the checkpoints and the log at load, and writing them (<see cref="LedgerFormat"/>).</summary>
internal sealed partial class JobLedger
{
    private long AppendLog(MemoryStream buffer)
    {
        if (_unlogged.Count == 0)
        {
            return 0;
        }

        var path = Path.Join(_directory, EndedLog);
        buffer.SetLength(0);
        var fresh = !File.Exists(path) || new FileInfo(path).Length < LedgerFormat.HeaderLength;
        if (fresh)
        {
            LedgerFormat.WriteHeader(buffer);
        }

        foreach (var job in _unlogged)
        {
            Frame(buffer, job);
        }

        FaultInjection?.Invoke("append");
        using (var stream = new FileStream(path, fresh ? FileMode.Create : FileMode.Append, FileAccess.Write, FileShare.Read))
        {
            stream.Write(buffer.GetBuffer(), 0, (int)buffer.Length);
            FaultInjection?.Invoke("fsync");
            stream.Flush(flushToDisk: true);
        }

        _logRecords += _unlogged.Count;
        _unlogged.Clear();
        return buffer.Length;
    }

    private long RewriteLog(MemoryStream buffer)
    {
        buffer.SetLength(0);
        LedgerFormat.WriteHeader(buffer);
        foreach (var job in _ended)
        {
            Frame(buffer, job);
        }

        var written = WriteAtomically(buffer, Path.Join(_directory, EndedLog));
        _logRecords = _ended.Count;
        _unlogged.Clear();
        _logNeedsRewrite = false;
        return written;
    }

    private long WriteCheckpoint(MemoryStream buffer, IEnumerable<TrackedJob> running, DateTimeOffset now)
    {
        buffer.SetLength(0);
        LedgerFormat.WriteHeader(buffer);
        var start = buffer.Length;
        buffer.Write(stackalloc byte[8]); // The frame's length and CRC, filled in below.
        _toWrite.Clear();
        _toWrite.AddRange(running);
        _toWrite.AddRange(_unlogged);
        using (var w = new BinaryWriter(buffer, LedgerFormat.Utf8, leaveOpen: true))
        {
            w.Write(Id.ToByteArray());
            w.Write(_sequence + 1);
            w.Write(Revision);
            w.Write(PrunedThrough);
            w.Write(now.ToUnixTimeMilliseconds());
            var gpus = LedgerFormat.WriteGpuTable(w, _toWrite);
            w.Write7BitEncodedInt(_toWrite.Count);
            foreach (var job in _toWrite)
            {
                LedgerFormat.WriteJob(w, job, gpus);
            }
        }

        _toWrite.Clear();

        SealFrame(buffer, start);
        var written = WriteAtomically(buffer, Path.Join(_directory, Slots[_slot]));
        _sequence++;
        _slot = 1 - _slot;
        return written;
    }

    /// <summary>Appends one job's frame to the buffer.</summary>
    private static void Frame(MemoryStream buffer, TrackedJob job)
    {
        var start = buffer.Length;
        buffer.Write(stackalloc byte[8]);
        using (var w = new BinaryWriter(buffer, LedgerFormat.Utf8, leaveOpen: true))
        {
            LedgerFormat.WriteJob(w, job, LedgerFormat.WriteGpuTable(w, [job]));
        }

        SealFrame(buffer, start);
    }

    /// <summary>Fills in the length and CRC of the frame that starts at <paramref name="start"/> and runs to the end.</summary>
    private static void SealFrame(MemoryStream buffer, long start)
    {
        var bytes = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);
        var payload = bytes[((int)start + 8)..];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(bytes[(int)start..], payload.Length);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes[((int)start + 4)..], System.IO.Hashing.Crc32.HashToUInt32(payload));
    }

    /// <summary>The buffer to <paramref name="path"/> by write, fsync, rename and a directory fsync.</summary>
    private long WriteAtomically(MemoryStream buffer, string path)
    {
        var temporary = path + ".tmp";
        FaultInjection?.Invoke("write");
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(buffer.GetBuffer(), 0, (int)buffer.Length);
            FaultInjection?.Invoke("fsync");
            stream.Flush(flushToDisk: true);
        }

        // No fsync of the directory: if a power loss takes the rename back, the other slot still holds the previous
        // checkpoint, which loads. A crash of the agent alone loses nothing (the page cache survives it).
        FaultInjection?.Invoke("rename");
        File.Move(temporary, path, overwrite: true);
        return buffer.Length;
    }

    private CheckpointFile? ReadCheckpoint(string path)
    {
        if (ReadLedgerFile(path) is not { } file)
        {
            return null;
        }

        var version = LedgerFormat.ReadHeader(file)!.Value;
        var offset = LedgerFormat.HeaderLength;
        if (!LedgerFormat.TryReadFrame(file, ref offset, out var payload))
        {
            Corrupt(path, "torn or corrupt (length or CRC)");
            return null;
        }

        try
        {
            using var reader = new BinaryReader(new MemoryStream(payload.ToArray()), LedgerFormat.Utf8);
            var id = new Guid(reader.ReadBytes(16));
            var sequence = reader.ReadInt64();
            var revision = reader.ReadInt64();
            var pruned = reader.ReadInt64();
            var writtenAt = DateTimeOffset.FromUnixTimeMilliseconds(reader.ReadInt64());
            var gpus = LedgerFormat.ReadGpuTable(reader);
            var count = reader.Read7BitEncodedInt();
            var jobs = new List<TrackedJob>();
            for (var i = 0; i < count; i++)
            {
                jobs.Add(LedgerFormat.ReadJob(reader, gpus, version));
            }

            LedgerFormat.AtEnd(reader);
            return new CheckpointFile(id, sequence, revision, pruned, writtenAt, jobs);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or ArgumentException or FormatException)
        {
            Corrupt(path, e.Message);
            return null;
        }
    }

    private List<TrackedJob> ReadLog(string path)
    {
        var jobs = new List<TrackedJob>();
        if (ReadLedgerFile(path, mayBeEmpty: true) is not { } file)
        {
            return jobs;
        }

        var version = LedgerFormat.ReadHeader(file)!.Value;
        var offset = LedgerFormat.HeaderLength;
        while (LedgerFormat.TryReadFrame(file, ref offset, out var payload))
        {
            try
            {
                using var reader = new BinaryReader(new MemoryStream(payload.ToArray()), LedgerFormat.Utf8);
                jobs.Add(LedgerFormat.ReadJob(reader, LedgerFormat.ReadGpuTable(reader), version));
                LedgerFormat.AtEnd(reader);
            }
            catch (Exception e) when (e is InvalidDataException or EndOfStreamException or ArgumentException or FormatException)
            {
                Corrupt(path, e.Message);
                break;
            }
        }

        _logRecords = jobs.Count;
        if (version < LedgerFormat.Version)
        {
            // Appends are in this build's format, and a file's records all have its header's: rewrite it first.
            _logNeedsRewrite = true;
        }

        if (offset != file.Length)
        {
            // A torn append (a crash mid-write): rewrite the log from what was read, so later appends are readable.
            Corrupt(path, $"{file.Length - offset} bytes after the last whole record");
            _logNeedsRewrite = true;
        }

        return jobs;
    }

    /// <summary>False (and the ledger in memory, leaving the file alone) when the file is from a newer format.</summary>
    private bool CheckVersion(string path, byte[] file)
    {
        var version = LedgerFormat.ReadHeader(file);
        if (version is null)
        {
            Corrupt(path, "not a job ledger file (no MJLG header)");
            return false;
        }

        if (version > LedgerFormat.Version)
        {
            Errors["newer_version"]++;
            GoToMemory(null, $"{path} was written by a newer monitor-agent (ledger format {version}; this one reads up to {LedgerFormat.Version}); it is left untouched and accounting runs in memory. Upgrade the agent, or move the directory away to start a new ledger");
            return false;
        }

        return version >= LedgerFormat.OldestReadable || Corrupt(path, $"unknown ledger format {version}");
    }

    /// <summary>
    /// The bytes of a ledger file of this format, or null: absent, empty where <paramref name="mayBeEmpty"/> (a log
    /// whose first append was cut short), unreadable or corrupt (logged and counted), or from a newer agent (left
    /// alone, the ledger in memory).
    /// </summary>
    private byte[]? ReadLedgerFile(string path, bool mayBeEmpty = false)
    {
        byte[] file;
        try
        {
            if (!File.Exists(path))
            {
                return null;
            }

            file = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Corrupt(path, e.Message);
            return null;
        }

        return (file.Length == 0 && mayBeEmpty) || !CheckVersion(path, file) ? null : file;
    }
}
