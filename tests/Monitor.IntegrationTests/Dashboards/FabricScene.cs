using System.Diagnostics;
using System.Globalization;
using Monitor.Testing;

namespace Monitor.IntegrationTests.Dashboards;

/// <summary>
/// A copy of the fixture's <c>sys/class/infiniband</c> (docs/host-collectors.md: an NDR mlx5 with a down second port,
/// a RoCE port, a VF without counters, an mlx4 with saturated counters, a qedr) whose counters move, for the
/// dashboards' fabric panels. From the start, port mlx5_0/1 receives <see cref="ReceiveBytesPerSecond"/> and sends
/// <see cref="TransmitBytesPerSecond"/> (its data counters count 4-octet words). <see cref="BeginTrouble"/> then raises
/// its error counters and <c>link_downed</c>, takes it DOWN for <see cref="DownFor"/> and back to ACTIVE, and drops the
/// rate of mlx5_1/1 from 100 to 50 Gb/s. Every file is replaced by a rename, as sysfs never shows a half-written value.
/// </summary>
internal sealed class FabricScene : IAsyncDisposable
{
    /// <summary>mlx5_0/1's receive rate: 2 % of its 400 Gb/s (5e10 bytes/s).</summary>
    public const double ReceiveBytesPerSecond = 1e9;

    /// <summary>mlx5_0/1's transmit rate.</summary>
    public const double TransmitBytesPerSecond = 5e8;

    /// <summary>How long mlx5_0/1 stays DOWN: several of the agent's 1 s reads and Prometheus's 1 s scrapes.</summary>
    public static readonly TimeSpan DownFor = TimeSpan.FromSeconds(4);

    private const string Port = "class/infiniband/mlx5_0/ports/1";
    private readonly string _root;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<string, ulong> _base = [];
    private readonly Task _writer;
    private int _temp;
    private TimeSpan? _troubleAt;

    /// <summary>Copies the fixture under <paramref name="sysfs"/> (the agent's <c>--path.sysfs</c>) and starts moving it.</summary>
    public FabricScene(string sysfs)
    {
        _root = sysfs;
        var source = Fixtures.Path("host", "sys", "class", "infiniband");
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var target = Path.Join(sysfs, "class", "infiniband", Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }

        foreach (var counter in new[] { "port_rcv_data", "port_xmit_data", "port_rcv_packets", "port_xmit_packets" })
        {
            _base[counter] = ulong.Parse(File.ReadAllText(Path.Join(sysfs, Port, "counters", counter)).Trim(), CultureInfo.InvariantCulture);
        }

        Update();
        _writer = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(250, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                Update();
            }
        });
    }

    /// <summary>Starts the errors, the link flap and the rate drop (call it once Prometheus has seen the ports healthy).</summary>
    public void BeginTrouble()
    {
        lock (_base)
        {
            _troubleAt = _clock.Elapsed;
        }

        Update();
    }

    private void Update()
    {
        lock (_base)
        {
            var seconds = _clock.Elapsed.TotalSeconds;
            Write("counters/port_rcv_data", _base["port_rcv_data"] + (ulong)(seconds * ReceiveBytesPerSecond / 4));
            Write("counters/port_xmit_data", _base["port_xmit_data"] + (ulong)(seconds * TransmitBytesPerSecond / 4));
            Write("counters/port_rcv_packets", _base["port_rcv_packets"] + (ulong)(seconds * 250_000));
            Write("counters/port_xmit_packets", _base["port_xmit_packets"] + (ulong)(seconds * 125_000));
            if (_troubleAt is not { } at)
            {
                return;
            }

            // The fixture has symbol_error 3, link_error_recovery 2 and link_downed 1 on this port, the others 0.
            Write("counters/symbol_error", 5);
            Write("counters/link_error_recovery", 3);
            Write("counters/link_downed", 2);
            Write("counters/port_rcv_errors", 1);
            Write("counters/port_xmit_discards", 2);
            var down = _clock.Elapsed - at < DownFor;
            WriteText(Path.Join(Port, "state"), down ? "1: DOWN\n" : "4: ACTIVE\n");
            WriteText(Path.Join(Port, "phys_state"), down ? "3: Disabled\n" : "5: LinkUp\n");
            WriteText("class/infiniband/mlx5_1/ports/1/rate", "50 Gb/sec (2X EDR)\n");
        }
    }

    private void Write(string file, ulong value) => WriteText(Path.Join(Port, file), value.ToString(CultureInfo.InvariantCulture) + "\n");

    private void WriteText(string relative, string content)
    {
        var temp = Path.Join(_root, $".fabric-{_temp++}.tmp");
        File.WriteAllText(temp, content);
        File.Move(temp, Path.Join(_root, relative), overwrite: true);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _writer;
        _stop.Dispose();
    }
}
