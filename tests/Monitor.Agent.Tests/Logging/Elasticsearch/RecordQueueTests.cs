using System.Text;
using CsCheck;
using Monitor.Agent.Logging.Elasticsearch;
using Monitor.Testing.Fuzz;

namespace Monitor.Agent.Tests.Logging.Elasticsearch;

public sealed class RecordQueueTests
{
    [Fact]
    public void Enqueue_BeyondMaxBytes_DropsOldestFirstAndCountsThem()
    {
        var queue = new RecordQueue(maxBytes: 100);
        var dropped = 0;
        for (var i = 0; i < 10; i++)
        {
            // Records of 20 bytes ("record-0000000000NN\n"): five fit.
            dropped += queue.Enqueue(Record(i, 20));
        }

        Assert.Equal(5, dropped);
        Assert.Equal(5, queue.Count);
        Assert.Equal(100, queue.Bytes);
        Assert.Equal([5, 6, 7, 8, 9], Numbers(queue.Copy(100, 1000).Bytes));
    }

    [Fact]
    public void Enqueue_LargeRecordAfterSmallOnes_DropsAsManyOldAsItNeeds()
    {
        var queue = new RecordQueue(maxBytes: 100);
        for (var i = 0; i < 5; i++)
        {
            queue.Enqueue(Record(i, 20));
        }

        // 70 bytes need four of the 20-byte records to go; the fifth stays.
        Assert.Equal(4, queue.Enqueue(Record(5, 70)));
        Assert.Equal([4, 5], Numbers(queue.Copy(100, 1000).Bytes));
        Assert.Equal(90, queue.Bytes);
    }

    [Fact]
    public void Enqueue_RecordLargerThanTheBound_Throws()
    {
        var queue = new RecordQueue(maxBytes: 100);
        Assert.Throws<ArgumentException>(() => queue.Enqueue(Record(1, 101)));
        Assert.Throws<ArgumentException>(() => queue.Enqueue("no newline"u8));
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public void PeekChunkAndRemove_AcrossTheRingsEnd_ReturnWholeRecordsInOrder()
    {
        var queue = new RecordQueue(maxBytes: 100);
        for (var i = 0; i < 4; i++)
        {
            queue.Enqueue(Record(i, 20));
        }

        Assert.True(queue.PeekChunk(45, out var first, out var second, out var range));
        Assert.Equal(40, first.Length + second.Length);
        Assert.Equal(2, range.Records);
        Assert.Equal(2, queue.Remove(range));
        // Two more wrap around the end of the 100-byte ring.
        queue.Enqueue(Record(4, 20));
        queue.Enqueue(Record(5, 20));
        queue.Enqueue(Record(6, 20));

        Assert.True(queue.PeekChunk(1000, out first, out second, out range));
        Assert.False(second.IsEmpty);
        Assert.Equal([2, 3, 4, 5, 6], Numbers([.. first.ToArray(), .. second.ToArray()]));
        Assert.Equal(5, range.Records);
    }

    [Fact]
    public void Remove_AfterTheShipperRemovedSome_RemovesOnlyWhatIsLeft()
    {
        var queue = new RecordQueue(maxBytes: 1000);
        for (var i = 0; i < 6; i++)
        {
            queue.Enqueue(Record(i, 20));
        }

        Assert.True(queue.PeekChunk(1000, out _, out _, out var writerRange));
        var (_, shipperRange) = queue.Copy(maxCount: 2, maxBytes: 1000);
        Assert.Equal(2, queue.Remove(shipperRange));

        Assert.Equal(4, queue.Remove(writerRange));
        Assert.Equal(0, queue.Count);
        Assert.Equal(0, queue.Remove(shipperRange));
    }

    [Fact]
    public void TrimIfEmpty_AfterAnOutage_GivesTheBufferBack()
    {
        var queue = new RecordQueue(maxBytes: 1 << 20);
        for (var i = 0; i < 10_000; i++)
        {
            queue.Enqueue(Record(i, 100));
        }

        Assert.Equal(1 << 20, queue.Capacity);
        queue.TrimIfEmpty();
        Assert.Equal(1 << 20, queue.Capacity);
        queue.Clear();
        queue.TrimIfEmpty();
        Assert.Equal(64 << 10, queue.Capacity);
    }

    /// <summary>
    /// Random sequences of enqueue, write-peek-remove and ship-copy-remove against a list model: the queue always holds
    /// the model's records in order, its bytes never exceed the bound, and every drop is the oldest record and counted.
    /// </summary>
    [Fact]
    public void Operations_AgainstAListModel_SameRecordsAndDropCounts()
    {
        var operation = Gen.Frequency(
            (6, Gen.Int[1, 300].Select(n => (Kind: 0, N: n))),
            (1, Gen.Int[1, 400].Select(n => (Kind: 1, N: n))),
            (1, Gen.Int[1, 8].Select(n => (Kind: 2, N: n))));
        var gen = Gen.Select(Gen.Int[300, 2000], operation.List[1, 200]);
        gen.Sample((maxBytes, operations) =>
        {
            var queue = new RecordQueue(maxBytes);
            var model = new List<byte[]>();
            var next = 0;
            long droppedModel = 0;
            long droppedQueue = 0;
            foreach (var (kind, n) in operations)
            {
                switch (kind)
                {
                    case 0 when n + 13 <= maxBytes:
                        var record = Record(next++, n + 13);
                        model.Add(record);
                        while (model.Sum(r => r.Length) > maxBytes)
                        {
                            model.RemoveAt(0);
                            droppedModel++;
                        }

                        droppedQueue += queue.Enqueue(record);
                        break;
                    case 1 when queue.PeekChunk(n, out var first, out var second, out var range):
                        byte[] chunk = [.. first.ToArray(), .. second.ToArray()];
                        var records = model.Take(range.Records).ToList();
                        Assert.Equal(records.SelectMany(r => r).ToArray(), chunk);
                        Assert.True(records.Count == 1 || chunk.Length <= n, "a chunk exceeds its size unless it is one record");
                        queue.Remove(range);
                        model.RemoveRange(0, records.Count);
                        break;
                    case 2:
                        var (bytes, copied) = queue.Copy(n, int.MaxValue);
                        Assert.Equal(model.Take(n).SelectMany(r => r).ToArray(), bytes);
                        queue.Remove(copied);
                        model.RemoveRange(0, copied.Records);
                        break;
                }

                Assert.Equal(model.Count, queue.Count);
                Assert.Equal(model.Sum(r => r.Length), queue.Bytes);
                Assert.InRange(queue.Bytes, 0, maxBytes);
                Assert.Equal(droppedModel, droppedQueue);
            }

            Assert.Equal(model.SelectMany(r => r).ToArray(), queue.Copy(int.MaxValue, int.MaxValue).Bytes);
        }, iter: FuzzCheck.Iterations(300, longRunShare: 0.1), threads: 1);
    }

    /// <summary>A record of exactly <paramref name="length"/> bytes whose first digits number it.</summary>
    private static byte[] Record(int number, int length)
    {
        var text = number.ToString("D12", System.Globalization.CultureInfo.InvariantCulture);
        var bytes = new byte[length];
        bytes.AsSpan().Fill((byte)'x');
        Encoding.ASCII.GetBytes(text.AsSpan(0, Math.Min(text.Length, length - 1)), bytes);
        bytes[^1] = (byte)'\n';
        return bytes;
    }

    private static List<int> Numbers(byte[] bytes) =>
        [.. Encoding.ASCII.GetString(bytes).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => int.Parse(l[..12], System.Globalization.CultureInfo.InvariantCulture))];
}
