namespace Monitor.Agent.Logging.Elasticsearch;

/// <summary>The disk operations of the spool that can fail, each counted and logged on its own (<c>operation</c> label).</summary>
internal enum SpoolOperation
{
    /// <summary>Appending records to the current segment.</summary>
    Write,

    /// <summary>fsync of a segment.</summary>
    Sync,

    /// <summary>Creating a new segment file.</summary>
    Create,

    /// <summary>Deleting a shipped or dropped segment file.</summary>
    Delete,

    /// <summary>Persisting the cursor file.</summary>
    Cursor,

    /// <summary>Reading a segment (the shipper).</summary>
    Read,

    /// <summary>Appending to the dead-letter file.</summary>
    DeadLetter,
}
