namespace Monitor.IntegrationTests.Agent;

/// <summary>
/// The listener tests that load the machine (a 200-connection flood, 200 held connections under a descriptor limit)
/// run one after the other, so that neither's deadlines measure the other's load.
/// </summary>
[CollectionDefinition(Name)]
public sealed class ListenerLoadGroup
{
    public const string Name = "listener load";
}
