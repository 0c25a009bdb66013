using System.Text;
using CsCheck;

namespace Monitor.Testing.Fuzz;

/// <summary>
/// Input generators shared by the fuzz properties: random bytes and text, token soups made from real files, and
/// stacked mutations of real files (bit flips, truncation, duplicated, removed, swapped and repeated lines, extreme
/// numbers, NaN/Inf text, very long fields, NUL and control characters). Everything is built from CsCheck generators
/// of small integers, so a failing input shrinks to fewer and simpler mutations.
/// </summary>
public static class FuzzGen
{
    /// <summary>Inputs are cut to this many chars (or bytes) after each mutation, so one case stays cheap.</summary>
    public const int MaxLength = 1 << 20;

    /// <summary>Kinds of text mutation <see cref="Mutate(string, TextMutation)"/> knows.</summary>
    public const int TextMutationKinds = 13;

    /// <summary>Kinds of byte mutation <see cref="Mutate(byte[], TextMutation)"/> knows.</summary>
    public const int ByteMutationKinds = 8;

    private static readonly string LongDigits = new('9', 20_000);
    private static readonly string LongLetters = new('a', 20_000);
    private static readonly string LongSpaces = new(' ', 5_000);

    /// <summary>
    /// Values that break number and token parsers: limits of each integer type and one past them, signs, floats at
    /// and beyond double's range, NaN and infinities in Go's and .NET's spellings, other bases, digit look-alikes, lone
    /// separators, NUL and other control characters, a lone surrogate, and very long digit, letter and blank runs.
    /// </summary>
    public static IReadOnlyList<string> Interesting { get; } =
    [
        "", "0", "-0", "+0", "00", "-1", "+1", "1", "255", "256", "65535", "65536",
        "2147483647", "2147483648", "-2147483648", "-2147483649", "4294967295", "4294967296",
        "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
        "18446744073709551615", "18446744073709551616", "-18446744073709551616", "340282366920938463463374607431768211456",
        "1e308", "1e309", "-1e309", "1.7976931348623157e308", "2e308", "5e-324", "1e-400", "0.1", "1.5", ".5", "5.", "1.2.3",
        "NaN", "nan", "-NaN", "Inf", "+Inf", "-Inf", "inf", "Infinity", "-Infinity", "∞", "1e", "e5", "--1", "+-1",
        "0x", "0x10", "0XFF", "0xffffffffffffffffff", "0b101", "0o17", "017", "08", "1_000", "1,000", "1 000",
        "٣", "١٢", "１２", "²",
        "\0", "\t", "\r", "\n", "\r\n", "\v", "\f", "\u0085", "\u00a0", "\u2028", "\ufeff", "\uffff", "\ud800", "\udc00",
        " ", ":", "=", "-", "/", ",", ";", "(", ")", "{", "}", "[", "]", "\"", "'", "\\", "#", "%", "*", "?",
        LongDigits, LongLetters, LongSpaces,
    ];

    /// <summary>Random bytes, each as one char (how the agent decodes kernel text: Latin1).</summary>
    public static Gen<string> Latin1(int maxLength) =>
        Gen.Byte.Array[0, maxLength].Select(bytes => Encoding.Latin1.GetString(bytes));

    /// <summary>Random UTF-16 text: mostly printable ASCII, some control characters, any other code unit (lone surrogates included).</summary>
    public static Gen<string> Utf16(int maxLength) =>
        AnyChar.Array[0, maxLength].Select(chars => new string(chars));

    /// <summary>Random bytes.</summary>
    public static Gen<byte[]> Bytes(int maxLength) => Gen.Byte.Array[0, maxLength];

    /// <summary>A char: printable ASCII 3 times in 5, a control character or any code unit otherwise.</summary>
    public static Gen<char> AnyChar { get; } = Gen.Frequency(
        (3, Gen.Char[' ', '~']),
        (1, Gen.Char['\0', '\x1f']),
        (1, Gen.Int[0x7f, 0xffff].Select(i => (char)i)));

    /// <summary>
    /// Text made of tokens: the whitespace-separated fields of <paramref name="seeds"/>, separators and
    /// <see cref="Interesting"/> values, in any order. Near-valid structure with wrong values in wrong places.
    /// </summary>
    public static Gen<string> Tokens(IEnumerable<string> seeds, int maxTokens = 64)
    {
        var pool = seeds
            .SelectMany(s => s.Split([' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries))
            .Distinct(StringComparer.Ordinal)
            .Take(2_000)
            .Concat([" ", " ", " ", "\t", "\n", "\n", "\n", "  ", ": ", "="])
            .Concat(Interesting)
            .ToArray();
        return Gen.Int[0, pool.Length - 1].Array[0, maxTokens].Select(picks =>
        {
            var sb = new StringBuilder();
            foreach (var pick in picks)
            {
                sb.Append(pool[pick]);
                if (sb.Length > MaxLength)
                {
                    break;
                }
            }

            return Cap(sb.ToString());
        });
    }

    /// <summary>One of <paramref name="seeds"/> with 1 to <paramref name="maxMutations"/> mutations applied in turn.</summary>
    public static Gen<string> Mutated(IReadOnlyList<string> seeds, int maxMutations = 6) =>
        Gen.Select(Gen.Int[0, seeds.Count - 1], Mutation(TextMutationKinds).Array[1, maxMutations], (seed, mutations) =>
        {
            var text = seeds[seed];
            foreach (var mutation in mutations)
            {
                text = Mutate(text, mutation);
            }

            return text;
        });

    /// <summary>
    /// The usual mix for a text parser: mutations of its real inputs (most cases), token soups of them, random
    /// Latin1 bytes, random UTF-16 and the real inputs unchanged.
    /// </summary>
    public static Gen<string> Text(IReadOnlyList<string> seeds, int maxRandomLength = 512) => Gen.Frequency(
        (12, Mutated(seeds)),
        (4, Tokens(seeds)),
        (2, Latin1(maxRandomLength)),
        (2, Utf16(maxRandomLength)),
        (1, Gen.OneOf(seeds.ToArray())));

    /// <summary>One of <paramref name="seeds"/> with 1 to <paramref name="maxMutations"/> byte mutations applied in turn.</summary>
    public static Gen<byte[]> MutatedBytes(IReadOnlyList<byte[]> seeds, int maxMutations = 6) =>
        Gen.Select(Gen.Int[0, seeds.Count - 1], Mutation(ByteMutationKinds).Array[1, maxMutations], (seed, mutations) =>
        {
            var bytes = seeds[seed];
            foreach (var mutation in mutations)
            {
                bytes = Mutate(bytes, mutation);
            }

            return bytes;
        });

    /// <summary>A mutation of one of <paramref name="kinds"/> kinds with two random operands.</summary>
    public static Gen<TextMutation> Mutation(int kinds) =>
        Gen.Select(Gen.Int[0, kinds - 1], Gen.Int[0, int.MaxValue], Gen.Int[0, int.MaxValue], (kind, a, b) => new TextMutation(kind, a, b));

    /// <summary>Applies one text mutation (see <see cref="TextMutation"/> for the kinds).</summary>
    public static string Mutate(string text, TextMutation mutation)
    {
        ArgumentNullException.ThrowIfNull(text);
        var (kind, a, b) = mutation;
        var result = kind switch
        {
            // Flip one of the low 8 bits of a char (a bit flip of the kernel's byte) or, rarely, a high one.
            0 when text.Length > 0 => Replace(text, a % text.Length, (char)(text[a % text.Length] ^ (1 << (b % 9 == 8 ? 8 + (b % 8) : b % 8)))),
            1 => text[..(a % (text.Length + 1))],
            2 => EditLines(text, lines => lines.InsertRange(a % lines.Count, Enumerable.Repeat(lines[a % lines.Count], 1 + (b % 3)))),
            3 => EditLines(text, lines => lines.RemoveAt(a % lines.Count)),
            4 => EditLines(text, lines => (lines[a % lines.Count], lines[b % lines.Count]) = (lines[b % lines.Count], lines[a % lines.Count])),
            5 => ReplaceToken(text, a, Interesting[b % Interesting.Count]),
            6 => text.Insert(a % (text.Length + 1), Interesting[b % Interesting.Count]),
            7 => text.Insert(a % (text.Length + 1), ((char)(b % 256)).ToString()),
            8 when text.Length > 0 => text.Remove(a % text.Length, Math.Min(1 + (b % 64), text.Length - (a % text.Length))),
            9 => EditLines(text, lines => lines.InsertRange(a % lines.Count, Enumerable.Repeat(lines[a % lines.Count], Math.Min(b % 4_000, MaxLength / (lines[a % lines.Count].Length + 1))))),
            10 => (b % 3) switch
            {
                0 => text.Replace("\n", "\r\n", StringComparison.Ordinal),
                1 => text.TrimEnd('\n'),
                _ => text + "\n\n",
            },
            11 => ReplaceToken(text, a, ((long)b - (int.MaxValue / 2)).ToString(System.Globalization.CultureInfo.InvariantCulture)),
            12 => text.Insert(a % (text.Length + 1), new string((char)(b % 128), 1 + (b % 70_000))),
            _ => text,
        };
        return Cap(result);
    }

    /// <summary>Applies one byte mutation (see <see cref="TextMutation"/> for the operands).</summary>
    public static byte[] Mutate(byte[] bytes, TextMutation mutation)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        var (kind, a, b) = mutation;
        var list = new List<byte>(bytes);
        switch (kind)
        {
            case 0 when list.Count > 0:
                list[a % list.Count] ^= (byte)(1 << (b % 8));
                break;
            case 1:
                list.RemoveRange(a % (list.Count + 1), list.Count - (a % (list.Count + 1)));
                break;
            case 2:
                list.Insert(a % (list.Count + 1), (byte)b);
                break;
            case 3 when list.Count > 0:
                list.RemoveRange(a % list.Count, Math.Min(1 + (b % 16), list.Count - (a % list.Count)));
                break;
            case 4 when list.Count > 0:
                var start = a % list.Count;
                var length = Math.Min(1 + (b % 64), list.Count - start);
                list.InsertRange(b % (list.Count + 1), list.GetRange(start, length));
                break;
            case 5:
                // A varint where a length or a tag may be: 0, 1, 127, 128, a 5-byte 2^32-1, a 10-byte 2^64-1, an 11-byte overlong one.
                byte[][] varints = [[0], [1], [0x7f], [0x80, 0x01], [0xff, 0xff, 0xff, 0xff, 0x0f], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]];
                list.InsertRange(a % (list.Count + 1), varints[b % varints.Length]);
                break;
            case 6 when list.Count > 0:
                list[a % list.Count] = (byte)b;
                break;
            case 7:
                // A tag of a random field number and wire type (0-7, so the two that do not exist come up too).
                list.Insert(a % (list.Count + 1), (byte)(((b % 16) << 3) | ((b >> 4) % 8)));
                break;
            default:
                break;
        }

        return list.Count > MaxLength ? [.. list.GetRange(0, MaxLength)] : [.. list];
    }

    private static string Cap(string text) => text.Length > MaxLength ? text[..MaxLength] : text;

    private static string Replace(string text, int index, char c) => string.Create(text.Length, (text, index, c), static (span, state) =>
    {
        state.text.AsSpan().CopyTo(span);
        span[state.index] = state.c;
    });

    private static string EditLines(string text, Action<List<string>> edit)
    {
        var lines = new List<string>(text.Split('\n'));
        edit(lines);
        return string.Join('\n', lines);
    }

    private static string ReplaceToken(string text, int which, string replacement)
    {
        // Tokens are runs of non-blank characters; pick one and swap it for the replacement.
        var starts = new List<(int Start, int Length)>();
        var i = 0;
        while (i < text.Length && starts.Count < 100_000)
        {
            while (i < text.Length && char.IsWhiteSpace(text[i]))
            {
                i++;
            }

            var start = i;
            while (i < text.Length && !char.IsWhiteSpace(text[i]))
            {
                i++;
            }

            if (i > start)
            {
                starts.Add((start, i - start));
            }
        }

        if (starts.Count == 0)
        {
            return text + replacement;
        }

        var (s, l) = starts[which % starts.Count];
        return string.Concat(text.AsSpan(0, s), replacement, text.AsSpan(s + l));
    }
}
