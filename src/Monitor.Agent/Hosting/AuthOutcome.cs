namespace Monitor.Agent.Hosting;

/// <summary>What <see cref="BasicAuthenticator"/> decided about a request.</summary>
internal enum AuthOutcome
{
    /// <summary>Valid credentials (verified now or remembered): serve the request.</summary>
    Success,

    /// <summary>No basic-auth credentials: 401 with the challenge.</summary>
    Missing,

    /// <summary>Wrong or malformed credentials: 401.</summary>
    Failed,

    /// <summary>Every bcrypt worker was busy and the credentials were not remembered: 429 at once.</summary>
    Busy,

    /// <summary>As <see cref="Busy"/>, from an address that failed since its last success: 429, held back like <see cref="BackedOff"/>.</summary>
    BusyAfterFailures,

    /// <summary>The client's address is backing off after repeated failures: 429 at once, nothing verified.</summary>
    BackedOff,
}
