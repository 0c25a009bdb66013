using Microsoft.Extensions.Logging;
using Monitor.Agent.Gpu;
using Monitor.Agent.Logging;

namespace Monitor.Agent.Collectors.Gpu;

/// <summary>
/// Node events (events 3009–3016) from the changes between two samples of a healthy GPU. Runs on the gpu
/// collector's thread only; each GPU's last reported state is its <see cref="TrackedGpu.Events"/>.
/// </summary>
internal sealed partial class GpuEventDetector(ILogger logger)
{
    /// <summary>
    /// Reasons whose start and end are node events: hardware slowdown, software and hardware thermal slowdown, power
    /// brake. Idle, application clocks, the software power cap (normal at full load) and sync boost toggle too often
    /// to be events.
    /// </summary>
    private const ulong AlertingReasons = 0x8 | 0x20 | 0x40 | 0x80;

    /// <summary>
    /// Node events for changes between two samples of a healthy GPU: a slowdown reason starting or ending, new ECC
    /// errors, a row remap becoming pending or failing, the driver asking for a recovery action. The first sample only
    /// sets the baseline, except for states that already need attention (pending or failed remap, a recovery action).
    /// </summary>
    public void Report(TrackedGpu gpu, double[] v)
    {
        var device = gpu.Sampler;
        var state = gpu.Events;
        var first = !state.Seen;
        state.Seen = true;

        if (!double.IsNaN(v[(int)GpuValue.ClockEventReasons]))
        {
            var reasons = (ulong)v[(int)GpuValue.ClockEventReasons];
            var changed = first ? reasons & AlertingReasons : (reasons ^ state.Reasons) & AlertingReasons;
            for (var bit = 0; bit < GpuCatalog.ReasonNames.Length; bit++)
            {
                if ((changed & (1UL << bit)) == 0)
                {
                    continue;
                }

                if ((reasons & (1UL << bit)) != 0)
                {
                    LogReasonStarted(logger, device.Index, device.Uuid, GpuCatalog.ReasonNames[bit]);
                }
                else
                {
                    LogReasonEnded(logger, device.Index, device.Uuid, GpuCatalog.ReasonNames[bit]);
                }
            }

            state.Reasons = reasons;
        }

        for (var i = 0; i < 2; i++)
        {
            // Volatile counts: corrected (Ecc + 0) and uncorrected (Ecc + 2).
            var count = v[(int)GpuValue.Ecc + (2 * i)];
            if (double.IsNaN(count))
            {
                continue;
            }

            if (!first && !double.IsNaN(state.Ecc[i]) && count > state.Ecc[i])
            {
                var delta = (long)(count - state.Ecc[i]);
                if (i == 0)
                {
                    LogEccCorrected(logger, device.Index, device.Uuid, delta, (long)count);
                }
                else
                {
                    LogEccUncorrected(logger, device.Index, device.Uuid, delta, (long)count);
                }
            }

            state.Ecc[i] = count;
        }

        if (v[(int)GpuValue.RemapPending] is var pending && !double.IsNaN(pending))
        {
            if (pending == 1 && state.RemapPending != 1)
            {
                LogRemapPending(logger, device.Index, device.Uuid, (long)Zero(v[(int)GpuValue.RemappedCorrectable]), (long)Zero(v[(int)GpuValue.RemappedUncorrectable]));
            }

            state.RemapPending = pending;
        }

        if (v[(int)GpuValue.RemapFailure] is var failure && !double.IsNaN(failure))
        {
            if (failure == 1 && state.RemapFailure != 1)
            {
                LogRemapFailure(logger, device.Index, device.Uuid);
            }

            state.RemapFailure = failure;
        }

        if (v[(int)GpuValue.RecoveryAction] is var action && !double.IsNaN(action))
        {
            if (action != state.RecoveryAction && (action != 0 || !double.IsNaN(state.RecoveryAction)))
            {
                LogRecoveryAction(logger, device.Index, device.Uuid, (int)action, RecoveryActionName((int)action));
            }

            state.RecoveryAction = action;
        }
    }

    private static double Zero(double value) => double.IsNaN(value) ? 0 : value;

    private static string RecoveryActionName(int action) => action switch
    {
        0 => "none",
        1 => "reset the GPU",
        2 => "reboot the node",
        3 => "drain peer-to-peer traffic",
        4 => "drain peer-to-peer traffic and reset the GPU",
        _ => "see NVIDIA's documentation for this action",
    };

    [LoggerMessage(EventId = EventIds.GpuSlowdownStarted, EventName = "gpu_slowdown_started", Level = LogLevel.Warning,
        Message = "GPU {Gpu} ({Uuid}): clocks held down by {Reason}")]
    private static partial void LogReasonStarted(ILogger logger, int gpu, string uuid, string reason);

    [LoggerMessage(EventId = EventIds.GpuSlowdownEnded, EventName = "gpu_slowdown_ended", Level = LogLevel.Information,
        Message = "GPU {Gpu} ({Uuid}): {Reason} no longer holds the clocks down")]
    private static partial void LogReasonEnded(ILogger logger, int gpu, string uuid, string reason);

    [LoggerMessage(EventId = EventIds.GpuEccCorrected, EventName = "gpu_ecc_corrected", Level = LogLevel.Information,
        Message = "GPU {Gpu} ({Uuid}): {Delta} new corrected ECC errors ({Total} since the driver loaded)")]
    private static partial void LogEccCorrected(ILogger logger, int gpu, string uuid, long delta, long total);

    [LoggerMessage(EventId = EventIds.GpuEccUncorrected, EventName = "gpu_ecc_uncorrected", Level = LogLevel.Error,
        Message = "GPU {Gpu} ({Uuid}): {Delta} new uncorrectable ECC errors ({Total} since the driver loaded); drain and reset the GPU, RMA if they recur")]
    private static partial void LogEccUncorrected(ILogger logger, int gpu, string uuid, long delta, long total);

    [LoggerMessage(EventId = EventIds.GpuRemapPending, EventName = "gpu_remap_pending", Level = LogLevel.Warning,
        Message = "GPU {Gpu} ({Uuid}): a memory row remap waits for the next GPU reset ({Correctable} correctable, {Uncorrectable} uncorrectable rows remapped)")]
    private static partial void LogRemapPending(ILogger logger, int gpu, string uuid, long correctable, long uncorrectable);

    [LoggerMessage(EventId = EventIds.GpuRemapFailure, EventName = "gpu_remap_failure", Level = LogLevel.Error,
        Message = "GPU {Gpu} ({Uuid}): row remapping failed, NVIDIA's RMA criterion; drain the node and RMA the GPU")]
    private static partial void LogRemapFailure(ILogger logger, int gpu, string uuid);

    [LoggerMessage(EventId = EventIds.GpuRecoveryAction, EventName = "gpu_recovery_action", Level = LogLevel.Error,
        Message = "GPU {Gpu} ({Uuid}): the driver's recovery action is now {RecoveryAction} ({Action})")]
    private static partial void LogRecoveryAction(ILogger logger, int gpu, string uuid, int recoveryAction, string action);
}

/// <summary>A GPU's last reported state, for the transition events (written on the collector's thread only).</summary>
internal sealed class GpuEventState
{
    /// <summary>Whether a healthy sample has been seen (the first one sets the baseline).</summary>
    public bool Seen { get; set; }

    /// <summary>The last clock event reason mask.</summary>
    public ulong Reasons { get; set; }

    /// <summary>Volatile corrected and uncorrected ECC counts.</summary>
    public double[] Ecc { get; } = [double.NaN, double.NaN];

    /// <summary>The last remap-pending flag.</summary>
    public double RemapPending { get; set; } = double.NaN;

    /// <summary>The last remap-failure flag.</summary>
    public double RemapFailure { get; set; } = double.NaN;

    /// <summary>The last recovery action.</summary>
    public double RecoveryAction { get; set; } = double.NaN;
}
