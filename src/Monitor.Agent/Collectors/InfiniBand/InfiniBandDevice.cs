using Monitor.Agent.Threading;
namespace Monitor.Agent.Collectors.InfiniBand;

/// <summary>
/// One device under <c>/sys/class/infiniband</c>: every read of its files happens in <see cref="Read"/>, which runs
/// on the device's own <see cref="IsolatedCall"/> thread so that a port whose PMA never answers stalls only this
/// device. The results stay in this object until the collector publishes them.
/// </summary>
/// <remarks>
/// Layout (ports and which counter files exist) is listed on the first read and again after a read found a listed
/// file missing; an ordinary read only opens the attribute files, each with one <c>read</c>.
/// </remarks>
internal sealed class InfiniBandDevice
{
    private readonly TextFileReader _reader = new();
    private readonly string _fwVerPath;
    private readonly string _boardIdPath;
    private readonly string _hcaTypePath;
    private readonly string _nodeGuidPath;
    private bool _layoutStale = true;

    public InfiniBandDevice(string name, string directory)
    {
        Name = name;
        Directory = directory;
        _fwVerPath = Path.Join(directory, "fw_ver");
        _boardIdPath = Path.Join(directory, "board_id");
        _hcaTypePath = Path.Join(directory, "hca_type");
        _nodeGuidPath = Path.Join(directory, "node_guid");
        Call = new IsolatedCall(Read, "infiniband") { Persistent = true };
    }

    /// <summary>The <c>device</c> label.</summary>
    public string Name { get; }

    public string Directory { get; }

    /// <summary>The isolated read of all of this device's files.</summary>
    public IsolatedCall Call { get; }

    /// <summary><c>fw_ver</c>, or null when it could not be read (then there is no info series).</summary>
    public string? FirmwareVersion { get; private set; }

    /// <summary><c>board_id</c>; empty when the driver has none.</summary>
    public string BoardId { get; private set; } = string.Empty;

    /// <summary><c>hca_type</c>; empty when the driver has none.</summary>
    public string HcaType { get; private set; } = string.Empty;

    /// <summary><c>node_guid</c>, for log events; empty when absent.</summary>
    public string NodeGuid { get; private set; } = string.Empty;

    /// <summary>The ports, in port-number order.</summary>
    public List<InfiniBandPort> Ports { get; } = [];

    /// <summary>The first problem of the last read, or null when it had none: the device is failed while set.</summary>
    public string? Problem { get; private set; }

    /// <summary>Whether the device is currently reported as failed (for logging the change once).</summary>
    public bool ReportedFailed { get; set; }

    /// <summary>The update that last listed this device.</summary>
    public long LastSeen { get; set; }

    /// <summary>Reads every file of the device. Runs on the isolated thread; never throws for a bad file.</summary>
    public void Read()
    {
        Problem = null;
        if (_layoutStale)
        {
            Discover();
        }

        FirmwareVersion = ReadText(_fwVerPath, FirmwareVersion, required: true);
        BoardId = ReadText(_boardIdPath, BoardId, required: false) ?? string.Empty;
        HcaType = ReadText(_hcaTypePath, HcaType, required: false) ?? string.Empty;
        foreach (var port in Ports)
        {
            ReadPort(port);
        }
    }

    private void ReadPort(InfiniBandPort port)
    {
        if (TryReadAttribute(port.StatePath, required: true, out var text))
        {
            if (InfiniBandParser.TryParseState(text, out var id, out var name))
            {
                port.StateId = id;
                port.StateName = Reuse(port.StateName, text[name]);
            }
            else
            {
                port.StateId = -1;
                Fail($"{port.StatePath}: '{text}' is not 'ID: NAME'");
            }
        }
        else
        {
            port.StateId = -1;
        }

        if (TryReadAttribute(port.PhysStatePath, required: true, out text))
        {
            if (InfiniBandParser.TryParseState(text, out var id, out var name))
            {
                port.PhysStateId = id;
                port.PhysStateName = Reuse(port.PhysStateName, text[name]);
            }
            else
            {
                port.PhysStateId = -1;
                Fail($"{port.PhysStatePath}: '{text}' is not 'ID: NAME'");
            }
        }
        else
        {
            port.PhysStateId = -1;
        }

        port.Rate = -1;
        if (TryReadAttribute(port.RatePath, required: true, out text))
        {
            if (InfiniBandParser.TryParseRate(text, out var rate))
            {
                port.Rate = rate;
            }
            else
            {
                Fail($"{port.RatePath}: '{text}' is not a rate such as '400 Gb/sec (4X NDR)'");
            }
        }

        port.LinkLayer = TryReadAttribute(port.LinkLayerPath, required: false, out text, listed: false) ? Reuse(port.LinkLayer, text) : string.Empty;

        foreach (var file in port.Counters)
        {
            file.Present = false;
            if (!TryReadAttribute(file.Path, required: false, out text))
            {
                continue;
            }

            switch (InfiniBandParser.ParseCounter(text, out var value))
            {
                case CounterReading.Value:
                    file.Present = true;
                    file.Raw = value;
                    break;
                case CounterReading.NotAvailable:
                    break;
                default:
                    Fail($"{file.Path}: '{text}' is not a counter value");
                    break;
            }
        }
    }

    /// <summary>Lists ports and their counter files. A device or port folder that cannot be listed fails the device.</summary>
    private void Discover()
    {
        _layoutStale = false;
        Ports.Clear();
        NodeGuid = ReadText(_nodeGuidPath, null, required: false) ?? string.Empty;
        var portsDirectory = Path.Join(Directory, "ports");
        string[] portDirectories;
        try
        {
            portDirectories = System.IO.Directory.GetDirectories(portsDirectory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _layoutStale = true;
            Fail($"{portsDirectory}: {ex.Message}");
            return;
        }

        var ports = new List<(ulong Number, InfiniBandPort Port)>();
        foreach (var directory in portDirectories)
        {
            var number = Path.GetFileName(directory);
            if (!InfiniBandParser.TryParseUInt64Base0(number, out var n) || n > uint.MaxValue || number.StartsWith('0'))
            {
                Fail($"{directory}: '{number}' is not a port number");
                continue;
            }

            var counters = new List<CounterFile>();
            foreach (var (source, folder) in new[] { (CounterSource.Counters, "counters"), (CounterSource.CountersExt, "counters_ext"), (CounterSource.HwCounters, "hw_counters") })
            {
                var path = Path.Join(directory, folder);
                if (!System.IO.Directory.Exists(path))
                {
                    continue;
                }

                try
                {
                    foreach (var file in System.IO.Directory.GetFiles(path))
                    {
                        if (InfiniBandCounter.Find(source, Path.GetFileName(file.AsSpan())) is { } counter)
                        {
                            counters.Add(new CounterFile(counter, file));
                        }
                    }
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    Fail($"{path}: {ex.Message}");
                }
            }

            // Table order, so that a port's series come out in the same order on every host.
            counters.Sort((a, b) => IndexOf(a.Counter).CompareTo(IndexOf(b.Counter)));
            ports.Add((n, new InfiniBandPort(number, directory, [.. counters])));
        }

        ports.Sort((a, b) => a.Number.CompareTo(b.Number));
        Ports.AddRange(ports.Select(p => p.Port));
    }

    private static int IndexOf(InfiniBandCounter counter)
    {
        var all = InfiniBandCounter.All;
        for (var i = 0; i < all.Count; i++)
        {
            if (ReferenceEquals(all[i], counter))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>
    /// Reads an attribute. A missing required file fails the device; a missing optional one, or one the kernel
    /// refuses (EACCES, EINVAL, EOPNOTSUPP: the errors procfs skips), is simply absent. A file that disappeared
    /// makes the next read list the layout again.
    /// </summary>
    private bool TryReadAttribute(string path, bool required, out ReadOnlySpan<char> text, bool listed = true)
    {
        try
        {
            text = _reader.ReadAttribute(path);
            return true;
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            // A port or counter file found by the listing is gone: the port was removed or the driver reloaded.
            _layoutStale |= listed;
            if (required)
            {
                Fail($"{path}: missing");
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            if (required)
            {
                Fail($"{path}: {ex.Message}");
            }
        }

        text = default;
        return false;
    }

    private string? ReadText(string path, string? previous, bool required) =>
        TryReadAttribute(path, required, out var text, listed: false) ? Reuse(previous, text) : (required ? null : string.Empty);

    /// <summary>The previous string when the content is unchanged, so a steady read allocates nothing.</summary>
    private static string Reuse(string? previous, ReadOnlySpan<char> text) =>
        previous is not null && text.SequenceEqual(previous) ? previous : text.ToString();

    private void Fail(string problem) => Problem ??= problem;
}
