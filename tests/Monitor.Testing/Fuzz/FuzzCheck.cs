using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using CsCheck;
using Xunit;

namespace Monitor.Testing.Fuzz;

/// <summary>
/// Runs a parser over generated inputs with CsCheck and checks the fuzzing rule on every case: the parser returns or
/// throws one of its documented exceptions (anything else fails), it allocates no more than
/// <see cref="FuzzLimits.AllowedBytes"/> for the input's size, and it finishes. A failing case is shrunk by CsCheck,
/// which prints the seed that replays it (<c>CsCheck_Seed=&lt;seed&gt; dotnet test --filter &lt;test&gt;</c>, see
/// docs/testing.md). A case that never returns cannot be shrunk; the watchdog fails the test with that input instead.
/// </summary>
/// <remarks>
/// The number of cases is the test's CI count unless <see cref="IterationsVariable"/> is set (the long run in
/// bench/fuzz.sh sets it to 1,000,000). With <see cref="ReportVariable"/> set to a folder, every property writes one
/// line of figures there: cases, accepted share, seconds, the most bytes allocated per input unit, the slowest case.
/// </remarks>
public static class FuzzCheck
{
    /// <summary>Environment variable that overrides every property's case count.</summary>
    public const string IterationsVariable = "MONITOR_FUZZ_ITERATIONS";

    /// <summary>Environment variable naming a folder that receives one <c>&lt;property&gt;.tsv</c> line per property.</summary>
    public const string ReportVariable = "MONITOR_FUZZ_REPORT";

    /// <summary>
    /// The case count: <paramref name="ci"/>, or <paramref name="longRunShare"/> of the value of
    /// <see cref="IterationsVariable"/> when that is set (never fewer than <paramref name="ci"/>).
    /// </summary>
    public static long Iterations(long ci, double longRunShare = 1)
    {
        var text = Environment.GetEnvironmentVariable(IterationsVariable);
        return string.IsNullOrEmpty(text) ? ci : Math.Max(ci, (long)(long.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture) * longRunShare));
    }

    /// <summary>
    /// Checks <paramref name="parse"/> on <see cref="Iterations"/>(<paramref name="ciIterations"/>) inputs from
    /// <paramref name="gen"/>. <paramref name="parse"/> returns whether the input was accepted; an exception whose type
    /// is one of <paramref name="documented"/> (or derives from one) counts as a rejection, any other fails the case.
    /// </summary>
    /// <param name="name">The property's name in failures and in the report.</param>
    /// <param name="gen">The inputs.</param>
    /// <param name="size">The input's size in the units <paramref name="limits"/> counts (chars or bytes).</param>
    /// <param name="parse">The code under test; only this is measured.</param>
    /// <param name="ciIterations">Cases per run in CI.</param>
    /// <param name="limits">Allocation and time bounds; <see cref="FuzzLimits.Default"/> when null.</param>
    /// <param name="print">How a failing input is shown; <see cref="FuzzText.Describe(object?)"/> when null.</param>
    /// <param name="threads">CsCheck threads; 1 for properties that share a folder on disk.</param>
    /// <param name="longRunShare">
    /// The share of the long run's case count this property takes: 1 for parsers; less for properties that write
    /// files and run a whole source or collector per case, whose parsers also have a pure property run in full.
    /// </param>
    /// <param name="documented">The exceptions the parser documents for bad input.</param>
    public static void Run<T>(
        string name,
        Gen<T> gen,
        Func<T, long> size,
        Func<T, bool> parse,
        long ciIterations,
        FuzzLimits? limits = null,
        Func<T, string>? print = null,
        int threads = -1,
        double longRunShare = 1,
        params Type[] documented) =>
        Run(name, gen, size, parse, static (_, accepted) => accepted, ciIterations, limits, print, threads, longRunShare, documented);

    /// <summary>
    /// As <see cref="Run{T}(string, Gen{T}, Func{T, long}, Func{T, bool}, long, FuzzLimits?, Func{T, string}?, int, double, Type[])"/>,
    /// for a property with a model: <paramref name="parse"/> (measured) returns the parser's result, and
    /// <paramref name="check"/> (not measured, so a model may allocate) compares it with the model and returns
    /// whether the input was accepted. A documented exception from <paramref name="parse"/> skips the check.
    /// </summary>
    public static void Run<T, TResult>(
        string name,
        Gen<T> gen,
        Func<T, long> size,
        Func<T, TResult> parse,
        Func<T, TResult, bool> check,
        long ciIterations,
        FuzzLimits? limits = null,
        Func<T, string>? print = null,
        int threads = -1,
        double longRunShare = 1,
        params Type[] documented)
    {
        ArgumentNullException.ThrowIfNull(gen);
        ArgumentNullException.ThrowIfNull(size);
        ArgumentNullException.ThrowIfNull(parse);
        ArgumentNullException.ThrowIfNull(check);
        limits ??= FuzzLimits.Default;
        print ??= input => FuzzText.Describe(input);
        var iterations = Iterations(ciIterations, longRunShare);
        var stats = new Stats();
        var running = new ConcurrentDictionary<int, Running<T>>();

        void Case(T input)
        {
            var slot = running.GetOrAdd(Environment.CurrentManagedThreadId, _ => new Running<T>());
            var units = size(input);
            slot.Input = input;
            slot.StartTimestamp = Stopwatch.GetTimestamp();
            var parsed = false;
            TResult result = default!;
            long allocated;
            var before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                result = parse(input);
                parsed = true;
            }
            catch (Exception e) when (IsDocumented(e, documented))
            {
                // A documented rejection of bad input: what the rule allows.
            }
            finally
            {
                allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                slot.StartTimestamp = 0;
            }

            for (var retry = 0; retry < 3 && allocated > limits.AllowedBytes(units); retry++)
            {
                // The count is not exact: a first call pays for static constructors and pools, and a GC during the
                // call charges the thread for the rest of its allocation context (measured: a call that allocates
                // 28 KB read as up to 820 KB in a quarter of the calls that met a GC). Measure the same input again
                // and keep the least, which is what the input itself makes the parser allocate.
                allocated = Math.Min(allocated, Measure(input, parse, documented));
            }

            var accepted = parsed && check(input, result);
            stats.Record(units, allocated, accepted);
            if (allocated > limits.AllowedBytes(units))
            {
                throw new FuzzRuleException(string.Create(
                    CultureInfo.InvariantCulture,
                    $"{name}: allocated {allocated:N0} B for an input of {units:N0} units; the bound is {limits.AllowedBytes(units):N0} B"));
            }
        }

        void TimedCase(T input)
        {
            var start = Stopwatch.GetTimestamp();
            Case(input);
            var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            stats.RecordTime(seconds);
            if (seconds > limits.SlowCaseSeconds)
            {
                throw new FuzzRuleException(string.Create(
                    CultureInfo.InvariantCulture, $"{name}: one case took {seconds:F1} s (limit {limits.SlowCaseSeconds} s)"));
            }
        }

        var total = Stopwatch.StartNew();
        var sampling = Task.Factory.StartNew(
            () => gen.Sample(TimedCase, iter: iterations, threads: threads, print: print),
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);
        while (!((IAsyncResult)sampling).AsyncWaitHandle.WaitOne(TimeSpan.FromMilliseconds(250)))
        {
            foreach (var slot in running.Values)
            {
                var started = slot.StartTimestamp;
                if (started != 0 && Stopwatch.GetElapsedTime(started).TotalSeconds > limits.HangSeconds)
                {
                    // The case cannot be stopped; its thread keeps running until the test host exits.
                    Assert.Fail($"{name}: a case has not returned after {limits.HangSeconds} s (hang). Input: {print(slot.Input!)}; whole input in {FuzzText.Dump(slot.Input)}");
                }
            }
        }

        total.Stop();
        if (sampling.Exception is { } failed)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failed.InnerException ?? failed).Throw();
        }

        stats.Report(name, iterations, total.Elapsed);
    }

    /// <summary>
    /// The least of <paramref name="tries"/> measurements of what <paramref name="action"/> allocates on this thread:
    /// one measurement can be inflated by first-call costs or by a GC during the call (see <see cref="FuzzLimits"/>).
    /// </summary>
    public static long LeastAllocated(Action action, int tries = 3)
    {
        ArgumentNullException.ThrowIfNull(action);
        var least = long.MaxValue;
        for (var i = 0; i < tries; i++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            action();
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        return least;
    }

    private static long Measure<T, TResult>(T input, Func<T, TResult> parse, Type[] documented)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            _ = parse(input);
        }
        catch (Exception e) when (IsDocumented(e, documented))
        {
            // Rejected again, as the first time.
        }

        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    private static bool IsDocumented(Exception e, Type[] documented)
    {
        foreach (var type in documented)
        {
            if (type.IsInstanceOfType(e))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The case a CsCheck thread is running, for the hang watchdog.</summary>
    private sealed class Running<T>
    {
        private long _start;

        public T? Input { get; set; }

        public long StartTimestamp
        {
            get => Volatile.Read(ref _start);
            set => Volatile.Write(ref _start, value);
        }
    }

    /// <summary>Figures gathered across threads for the report.</summary>
    private sealed class Stats
    {
        private readonly Lock _lock = new();
        private long _cases;
        private long _accepted;
        private double _maxBytesPerUnit;
        private long _maxBytes;
        private long _maxUnits;
        private double _maxSeconds;

        public void Record(long units, long allocated, bool accepted)
        {
            lock (_lock)
            {
                _cases++;
                _accepted += accepted ? 1 : 0;
                _maxBytesPerUnit = Math.Max(_maxBytesPerUnit, allocated / (double)Math.Max(units, 1));
                _maxBytes = Math.Max(_maxBytes, allocated);
                _maxUnits = Math.Max(_maxUnits, units);
            }
        }

        public void RecordTime(double seconds)
        {
            lock (_lock)
            {
                _maxSeconds = Math.Max(_maxSeconds, seconds);
            }
        }

        public void Report(string name, long iterations, TimeSpan elapsed)
        {
            var folder = Environment.GetEnvironmentVariable(ReportVariable);
            if (string.IsNullOrEmpty(folder))
            {
                return;
            }

            Directory.CreateDirectory(folder);
            lock (_lock)
            {
                var line = string.Create(
                    CultureInfo.InvariantCulture,
                    $"{name}\t{_cases}\t{iterations}\t{_accepted}\t{elapsed.TotalSeconds:F1}\t{_maxBytes}\t{_maxBytesPerUnit:F1}\t{_maxUnits}\t{_maxSeconds * 1000:F1}\n");
                File.WriteAllText(Path.Join(folder, FuzzText.FileName(name) + ".tsv"), line);
            }
        }
    }
}
