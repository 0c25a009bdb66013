namespace Monitor.Agent.Collectors;

/// <summary>
/// One source of metrics (node_exporter's <c>Collector</c>). A collector declares its families on its
/// <see cref="Monitor.Core.Exposition.MetricGroup"/> in its constructor and writes current values in
/// <see cref="Update"/>. The runner brackets each update, so series the update does not touch disappear.
/// </summary>
/// <remarks>
/// Throwing from <see cref="Update"/> marks the whole collector failed for this round (success 0, logged once).
/// A collector with several independent devices catches per device instead, so one bad device never hides the rest.
/// </remarks>
internal interface ICollector
{
    /// <summary>Reads the source and sets the collector's series.</summary>
    void Update(CancellationToken cancellationToken);
}
