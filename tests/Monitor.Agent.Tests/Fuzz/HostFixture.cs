using System.Text;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Fuzz;

/// <summary>The real kernel files under tests/fixtures/host, decoded as the agent decodes them (Latin1), as fuzz seeds.</summary>
internal static class HostFixture
{
    /// <summary>The content of <c>tests/fixtures/host/&lt;relative&gt;</c>.</summary>
    public static string Text(string relative) => Encoding.Latin1.GetString(File.ReadAllBytes(Fixtures.Path("host", relative)));

    /// <summary>The contents of every file under <c>tests/fixtures/host/&lt;folder&gt;</c> whose name matches <paramref name="pattern"/>, in path order.</summary>
    public static string[] Texts(string folder, string pattern) =>
        [.. Directory.EnumerateFiles(Fixtures.Path("host", folder), pattern, SearchOption.AllDirectories)
            .Order(StringComparer.Ordinal)
            .Select(path => Encoding.Latin1.GetString(File.ReadAllBytes(path)))];

    /// <summary>The lines of <c>tests/fixtures/host/&lt;relative&gt;</c> that are not blank.</summary>
    public static string[] Lines(string relative) =>
        [.. Text(relative).Split('\n').Where(line => line.Trim().Length > 0)];
}
