namespace Monitor.Agent.Logging.Elasticsearch;

/// <summary>A run of records taken from the head of a <see cref="RecordQueue"/>.</summary>
/// <param name="Start">Sequence number of the first record.</param>
/// <param name="Records">Number of records.</param>
/// <param name="Bytes">Their bytes, newlines included.</param>
internal readonly record struct QueuedRange(long Start, int Records, int Bytes);
