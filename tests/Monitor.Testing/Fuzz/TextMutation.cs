namespace Monitor.Testing.Fuzz;

/// <summary>
/// One mutation for <see cref="FuzzGen.Mutate(string, TextMutation)"/> or <see cref="FuzzGen.Mutate(byte[], TextMutation)"/>:
/// its kind and two non-negative operands, which each kind reads modulo what it needs (a position, a line, a count, an
/// index into <see cref="FuzzGen.Interesting"/>).
/// </summary>
/// <remarks>
/// Text kinds: 0 bit flip, 1 truncation, 2 duplicated line, 3 removed line, 4 swapped lines, 5 a token replaced by an
/// interesting value, 6 an interesting value inserted, 7 a byte (NUL and control characters included) inserted,
/// 8 a range deleted, 9 a line repeated up to 4,000 times, 10 CRLF endings, no final newline or extra blank lines,
/// 11 a token replaced by a random (possibly negative) number, 12 a run of up to 70,000 copies of one ASCII char.
/// Byte kinds: 0 bit flip, 1 truncation, 2 inserted byte, 3 deleted range, 4 duplicated range, 5 inserted varint
/// (up to overlong), 6 overwritten byte, 7 inserted protobuf tag of any wire type.
/// </remarks>
/// <param name="Kind">Which mutation.</param>
/// <param name="A">First operand.</param>
/// <param name="B">Second operand.</param>
public readonly record struct TextMutation(int Kind, int A, int B);
