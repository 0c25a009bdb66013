using Google.Protobuf;

namespace Monitor.Agent.Jobs.Kubernetes;

/// <summary>
/// A <see cref="CodedInputStream"/> over a slice of one buffer that opens an embedded message as a reader of its own.
/// Google.Protobuf keeps <c>PushLimit</c>/<c>PopLimit</c> internal (generated code reaches them through
/// <c>IBufferMessage</c>), so an embedded message is read by noting where its length prefix starts, skipping the field
/// (which checks the length against the end of the input) and reading that slice of the same buffer: no copy, one
/// small reader per embedded message.
/// </summary>
internal readonly struct WireReader
{
    private readonly byte[] _buffer;

    /// <summary>The buffer index of <see cref="Stream"/>'s position 0, whatever base the stream counts from.</summary>
    private readonly int _origin;

    /// <summary>A reader over <paramref name="length"/> bytes of <paramref name="buffer"/> from <paramref name="offset"/>.</summary>
    public WireReader(byte[] buffer, int offset, int length)
    {
        _buffer = buffer;
        Stream = new CodedInputStream(buffer, offset, length);
        _origin = offset - (int)Stream.Position;
    }

    /// <summary>The underlying stream: read tags and scalars from it.</summary>
    public CodedInputStream Stream { get; }

    /// <summary>
    /// Skips the field whose <paramref name="tag"/> was just read: an unknown field, or a known one with another wire type. Wire types 6
    /// and 7 do not exist; <see cref="CodedInputStream.SkipLastField"/> would skip nothing for them and read the
    /// field's payload as tags, so they throw <see cref="InvalidDataException"/> here.
    /// </summary>
    public void SkipField(uint tag)
    {
        var wireType = WireFormat.GetTagWireType(tag);
        if ((int)wireType > 5)
        {
            throw new InvalidDataException(
                $"field {WireFormat.GetTagFieldNumber(tag)} has wire type {(int)wireType}, which does not exist");
        }

        Stream.SkipLastField();
    }

    /// <summary>
    /// A reader over the embedded message whose tag (wire type length-delimited) was just read; this reader moves past
    /// it. Throws <see cref="InvalidProtocolBufferException"/> when the length runs past the input.
    /// </summary>
    public WireReader Nested()
    {
        var start = _origin + (int)Stream.Position;
        Stream.SkipLastField();
        var end = _origin + (int)Stream.Position;
        var nested = new WireReader(_buffer, start, end - start);
        nested.Stream.ReadLength();
        return nested;
    }
}
