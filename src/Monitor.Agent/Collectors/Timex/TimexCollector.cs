using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Timex;

/// <summary>
/// node_exporter's timex collector: the kernel clock discipline state from adjtimex(2) with <c>modes = 0</c> (read
/// only): <c>node_timex_sync_status</c> (0 when the call returns TIME_ERROR), offsets, errors, PLL and PPS values,
/// converted exactly as node_exporter 1.5.0 converts them. As node_exporter, it reads this machine, not
/// <c>--path.*</c>; EPERM gives no series (node_exporter: ErrNoData; we report success), another error fails.
/// </summary>
internal sealed partial class TimexCollector : ICollector
{
    private const int TimeError = 5;
    private const long StaNano = 0x2000;
    private const double MicroSeconds = 1_000_000;
    private const double NanoSeconds = 1_000_000_000;
    private const double Ppm16Frac = 1000000.0 * 65536.0;
    private const int Eperm = 1;

    // struct timex on 64-bit Linux (x86_64, aarch64): field offsets in bytes; 208 bytes in all.
    private const int OffsetAt = 8, FreqAt = 16, MaxErrorAt = 24, EstErrorAt = 32, StatusAt = 40, ConstantAt = 48, TickAt = 88,
        PpsFreqAt = 96, JitterAt = 104, ShiftAt = 112, StabilAt = 120, JitCntAt = 128, CalCntAt = 136, ErrCntAt = 144, StbCntAt = 152, TaiAt = 160;

    private const int BufferLength = 256;

    private readonly ILogger _logger;
    private readonly MetricFamily _syncStatus, _offset, _freq, _maxError, _estError, _status, _constant, _tick, _ppsFreq, _jitter, _shift,
        _stabil, _jitCnt, _calCnt, _errCnt, _stbCnt, _tai;

    private bool _loggedDenied;

    public TimexCollector(CollectorContext context)
    {
        _logger = context.Logger;
        var g = context.Group;
        _offset = g.Gauge("node_timex_offset_seconds", "Time offset in between local system and reference clock.");
        _freq = g.Gauge("node_timex_frequency_adjustment_ratio", "Local clock frequency adjustment.");
        _maxError = g.Gauge("node_timex_maxerror_seconds", "Maximum error in seconds.");
        _estError = g.Gauge("node_timex_estimated_error_seconds", "Estimated error in seconds.");
        _status = g.Gauge("node_timex_status", "Value of the status array bits.");
        _constant = g.Gauge("node_timex_loop_time_constant", "Phase-locked loop time constant.");
        _tick = g.Gauge("node_timex_tick_seconds", "Seconds between clock ticks.");
        _ppsFreq = g.Gauge("node_timex_pps_frequency_hertz", "Pulse per second frequency.");
        _jitter = g.Gauge("node_timex_pps_jitter_seconds", "Pulse per second jitter.");
        _shift = g.Gauge("node_timex_pps_shift_seconds", "Pulse per second interval duration.");
        _stabil = g.Gauge("node_timex_pps_stability_hertz", "Pulse per second stability, average of recent frequency changes.");
        _jitCnt = g.Counter("node_timex_pps_jitter_total", "Pulse per second count of jitter limit exceeded events.");
        _calCnt = g.Counter("node_timex_pps_calibration_total", "Pulse per second count of calibration intervals.");
        _errCnt = g.Counter("node_timex_pps_error_total", "Pulse per second count of calibration errors.");
        _stbCnt = g.Counter("node_timex_pps_stability_exceeded_total", "Pulse per second count of stability limit exceeded events.");
        _tai = g.Gauge("node_timex_tai_offset_seconds", "International Atomic Time (TAI) offset.");
        _syncStatus = g.Gauge("node_timex_sync_status", "Is clock synchronized to a reliable server (1 = yes, 0 = no).");
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "timex", "Kernel clock synchronisation state from the adjtimex system call.", true, Cadence.OnScrape, TimeSpan.Zero, c => new TimexCollector(c), []);

    public void Update(CancellationToken cancellationToken)
    {
        Span<byte> buffer = stackalloc byte[BufferLength];
        buffer.Clear();
        var state = AdjTimex(ref MemoryMarshal.GetReference(buffer));
        if (state < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno == Eperm)
            {
                SourceLog.MissingOnce(_logger, ref _loggedDenied, "timex", "adjtimex(2)", "not permitted (EPERM)");
                return;
            }

            throw new IOException($"failed to retrieve adjtimex stats: errno {errno}");
        }

        var status = (long)MemoryMarshal.Read<int>(buffer[StatusAt..]);
        var divisor = (status & StaNano) != 0 ? NanoSeconds : MicroSeconds;
        _syncStatus.Get().Set(state == TimeError ? 0 : 1);
        _offset.Get().Set(Long(buffer, OffsetAt) / divisor);
        _freq.Get().Set(1 + (Long(buffer, FreqAt) / Ppm16Frac));
        _maxError.Get().Set(Long(buffer, MaxErrorAt) / MicroSeconds);
        _estError.Get().Set(Long(buffer, EstErrorAt) / MicroSeconds);
        _status.Get().Set(status);
        _constant.Get().Set(Long(buffer, ConstantAt));
        _tick.Get().Set(Long(buffer, TickAt) / MicroSeconds);
        _ppsFreq.Get().Set(Long(buffer, PpsFreqAt) / Ppm16Frac);
        _jitter.Get().Set(Long(buffer, JitterAt) / divisor);
        _shift.Get().Set(MemoryMarshal.Read<int>(buffer[ShiftAt..]));
        _stabil.Get().Set(Long(buffer, StabilAt) / Ppm16Frac);
        _jitCnt.Get().Set(Long(buffer, JitCntAt));
        _calCnt.Get().Set(Long(buffer, CalCntAt));
        _errCnt.Get().Set(Long(buffer, ErrCntAt));
        _stbCnt.Get().Set(Long(buffer, StbCntAt));
        _tai.Get().Set(MemoryMarshal.Read<int>(buffer[TaiAt..]));
    }

    private static double Long(ReadOnlySpan<byte> buffer, int at) => MemoryMarshal.Read<long>(buffer[at..]);

    [LibraryImport("libc", EntryPoint = "adjtimex", SetLastError = true)]
    private static partial int AdjTimex(ref byte timex);
}
