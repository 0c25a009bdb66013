using Monitor.Agent.Threading;
namespace Monitor.Agent.Collectors.InfiniBand;

/// <summary>
/// One port of a device: its files (found once, when the port is first seen) and the values of the last read. Read
/// by the device's <see cref="IsolatedCall"/>, published by the collector once the call returned.
/// </summary>
internal sealed class InfiniBandPort
{
    public InfiniBandPort(string number, string directory, CounterFile[] counters)
    {
        Number = number;
        Directory = directory;
        StatePath = Path.Join(directory, "state");
        PhysStatePath = Path.Join(directory, "phys_state");
        RatePath = Path.Join(directory, "rate");
        LinkLayerPath = Path.Join(directory, "link_layer");
        Counters = counters;
    }

    /// <summary>The <c>port</c> label.</summary>
    public string Number { get; }

    public string Directory { get; }

    public string StatePath { get; }

    public string PhysStatePath { get; }

    public string RatePath { get; }

    public string LinkLayerPath { get; }

    /// <summary>The counter files of this port that node_exporter knows, in table order.</summary>
    public CounterFile[] Counters { get; }

    /// <summary><c>state</c> id, or -1 when it could not be read.</summary>
    public long StateId { get; set; } = -1;

    /// <summary><c>state</c> name, e.g. <c>ACTIVE</c>.</summary>
    public string StateName { get; set; } = string.Empty;

    /// <summary><c>phys_state</c> id, or -1 when it could not be read.</summary>
    public long PhysStateId { get; set; } = -1;

    /// <summary><c>phys_state</c> name, e.g. <c>LinkUp</c>.</summary>
    public string PhysStateName { get; set; } = string.Empty;

    /// <summary>Rate in bytes per second, or -1 when it could not be read.</summary>
    public double Rate { get; set; } = -1;

    /// <summary><c>link_layer</c>: <c>InfiniBand</c> or <c>Ethernet</c> (RoCE); empty when absent.</summary>
    public string LinkLayer { get; set; } = string.Empty;

    /// <summary>The previous published sample, for link events; false until one was published.</summary>
    public bool HasPrevious { get; set; }

    public long PreviousStateId { get; set; }

    public string PreviousStateName { get; set; } = string.Empty;

    public long PreviousPhysStateId { get; set; }

    public string PreviousPhysStateName { get; set; } = string.Empty;

    public double PreviousRate { get; set; }

    /// <summary>Previous raw <c>link_downed</c>, or -1 when it was not read.</summary>
    public double PreviousLinkDowned { get; set; } = -1;

    /// <summary>Previous raw <c>link_error_recovery</c>, or -1 when it was not read.</summary>
    public double PreviousLinkErrorRecovery { get; set; } = -1;
}

/// <summary>One counter file of a port and its last reading.</summary>
internal sealed class CounterFile(InfiniBandCounter counter, string path)
{
    public InfiniBandCounter Counter { get; } = counter;

    public string Path { get; } = path;

    /// <summary>True when the last read gave a number.</summary>
    public bool Present { get; set; }

    /// <summary>The raw value of the last read (before the unit conversion).</summary>
    public ulong Raw { get; set; }
}
