using System.Globalization;
using System.Text;
using CsCheck;
using Monitor.Agent.Collectors.Filesystem;
using Monitor.Testing.Fuzz;

namespace Monitor.Agent.Tests.Fuzz;

/// <summary>
/// <see cref="MountInfoParser"/>: any line or file returns a result without throwing; a generated line, its mount
/// point escaped and encoded the way the kernel writes it, gives back the original mount point, source, type and options.
/// </summary>
public sealed class MountInfoParserFuzzTests
{
    private static readonly string[] FileSeeds = [HostFixture.Text("proc/1/mountinfo")];
    private static readonly string[] LineSeeds = HostFixture.Lines("proc/1/mountinfo");

    /// <summary>Path text with the four characters the kernel escapes, and non-ASCII (valid UTF-16 only: paths are UTF-8 bytes).</summary>
    private static readonly Gen<string> PathText = Gen.Frequency(
        (4, Gen.Char['!', '~']), (1, Gen.OneOf(' ', '\t', '\n', '\\')), (1, Gen.Char['\u00a0', '\u07ff']), (1, Gen.Char['\u4e00', '\u9fff']))
        .Array[1, 40].Select(chars => "/" + new string(chars));

    private static readonly Gen<string> Options = Gen.String[Gen.Char["abcdefghijklmnopqrstuvwxyz=0-9"], 1, 8].Array[1, 5].Select(o => string.Join(',', o));

    [Fact]
    public void ParseLine_AnyText_ReturnsResultWithinBounds() =>
        FuzzCheck.Run("MountInfoParser.ParseLine", FuzzGen.Text(LineSeeds, 256), text => text.Length, text => MountInfoParser.ParseLine(text).Success, ciIterations: 2_000);

    [Fact]
    public void Parse_AnyText_ReturnsResultWithinBounds() =>
        FuzzCheck.Run("MountInfoParser.Parse", FuzzGen.Text(FileSeeds), text => text.Length, text => MountInfoParser.Parse(text).Success, ciIterations: 1_000);

    [Fact]
    public void ParseLine_GeneratedLine_ReturnsDecodedFields() =>
        FuzzCheck.Run(
            "MountInfoParser.ParseLine (generated)",
            Gen.Select(PathText, Gen.String[Gen.Char['!', '~'], 1, 20], Gen.String[Gen.Char['a', 'z'], 1, 10], Options, Options, Gen.Int[0, 3]),
            _ => 1,
            t =>
            {
                var (mountPoint, device, fsType, mountOptions, superOptions, optionalFields) = t;
                var optional = string.Concat(Enumerable.Range(0, optionalFields).Select(i => $"shared:{i} "));
                var line = $"36 35 98:0 / {KernelEscape(mountPoint)} {mountOptions} {optional}- {fsType} {device} {superOptions}";

                var result = MountInfoParser.ParseLine(line);

                Assert.True(result.Success, result.Error);
                Assert.Equal(new MountEntry(device, mountPoint, fsType, mountOptions, superOptions), result.Value);
                Assert.Equal(mountOptions.Split(',').Contains("ro") || superOptions.Split(',').Contains("ro"), result.Value.IsReadOnly);
                return true;
            },
            ciIterations: 500,
            FuzzLimits.TimeOnly);

    /// <summary>What fs/proc_namespace.c writes for a path: its UTF-8 bytes, space, tab, newline and backslash as \ooo, read back as Latin1.</summary>
    private static string KernelEscape(string path)
    {
        var sb = new StringBuilder();
        foreach (var b in Encoding.UTF8.GetBytes(path))
        {
            if (b is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\\')
            {
                sb.Append('\\').Append(Convert.ToString(b, 8).PadLeft(3, '0'));
            }
            else
            {
                sb.Append((char)b);
            }
        }

        return sb.ToString();
    }
}
