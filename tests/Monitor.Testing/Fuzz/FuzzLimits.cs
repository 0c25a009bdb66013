namespace Monitor.Testing.Fuzz;

/// <summary>
/// What one fuzz case may cost before it counts as a failure: managed bytes allocated on the parsing thread (a fixed
/// allowance plus so many per unit of input, so "allocates without bound" means "more than proportional to its
/// input"), and wall time (generous: a case that takes seconds on inputs of at most a few hundred KiB is a
/// super-linear algorithm or a hang, never load on the machine).
/// </summary>
/// <param name="FixedBytes">
/// Bytes any case may allocate whatever its size: result objects and lists' first growth, and the slack of the
/// measurement itself (a GC during a call can add most of an allocation context, up to about 1 MiB, to the count).
/// Unbounded allocation shows up as many megabytes for inputs of a few kilobytes, far above this.
/// </param>
/// <param name="BytesPerUnit">Bytes allowed per unit of input (a char or a byte, as the property measures it).</param>
/// <param name="SlowCaseSeconds">A case that returns after longer than this fails, with its seed.</param>
/// <param name="HangSeconds">A case still running after this long is reported as a hang with its input.</param>
public sealed record FuzzLimits(long FixedBytes = 1 << 20, double BytesPerUnit = 64, double SlowCaseSeconds = 10, double HangSeconds = 120)
{
    /// <summary>Limits for parsers whose results hold a few small objects per line.</summary>
    public static FuzzLimits Default { get; } = new();

    /// <summary>No allocation bound: for properties that compare against a model, whose own work allocates.</summary>
    public static FuzzLimits TimeOnly { get; } = new(long.MaxValue, 0);

    /// <summary>The bytes a case of <paramref name="size"/> units may allocate.</summary>
    public long AllowedBytes(long size) =>
        FixedBytes == long.MaxValue ? long.MaxValue : FixedBytes + (long)(BytesPerUnit * Math.Max(size, 1));
}
