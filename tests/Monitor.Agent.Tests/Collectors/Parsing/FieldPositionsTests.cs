using CsCheck;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Tests.Collectors.Parsing;

public sealed class FieldPositionsTests
{
    [Fact]
    public void At_SameNamesInTheSameOrder_DecidesEachOnce()
    {
        var group = new MetricGroup("g");
        var decided = new List<string>();
        var positions = new FieldPositions(name =>
        {
            decided.Add(name);
            return name.StartsWith("pg", StringComparison.Ordinal) ? group.Untyped("node_vmstat_" + name, "H.") : null;
        });

        for (var read = 0; read < 3; read++)
        {
            Assert.Null(positions.At(0, "nr_free_pages"));
            Assert.Equal("node_vmstat_pgfault", positions.At(1, "pgfault")?.Name);
        }

        Assert.Equal(["nr_free_pages", "pgfault"], decided);
    }

    [Fact]
    public void At_ANameThatMoved_IsTheSameFamilyInItsNewPlace_DecidedOnce()
    {
        var decided = new List<string>();
        var group = new MetricGroup("g");
        var positions = new FieldPositions(name =>
        {
            decided.Add(name);
            return group.Untyped("m_" + name, "H.");
        });

        var a = positions.At(0, "a");
        var b = positions.At(1, "b");

        // A new kernel inserts a field before b: b is now at position 2, and is the same family there, not declared
        // again (a second declaration of m_b would throw).
        Assert.Same(a, positions.At(0, "a"));
        Assert.Equal("m_new", positions.At(1, "new")?.Name);
        Assert.Same(b, positions.At(2, "b"));
        Assert.Equal(["a", "b", "new"], decided);
    }

    [Fact]
    public void IsDouble_AgreesWithTryParseDouble()
    {
        foreach (var text in new[] { "0", "-1", "+5", "", "-", "+", "1e5", "1.5", "12345678901234567890", "123456789012345678901234567890", "abc", "NaN", "Infinity", "1 2", new string('9', 400) })
        {
            Assert.Equal(Numbers.TryParseDouble(text, out _), Numbers.IsDouble(text));
        }

        Gen.String[Gen.Char["0123456789-+.eE x"], 0, 30].Sample(text => Numbers.IsDouble(text) == Numbers.TryParseDouble(text, out _));
    }
}
