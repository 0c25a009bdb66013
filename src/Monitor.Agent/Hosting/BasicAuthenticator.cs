using System.Collections.Concurrent;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Monitor.Agent.Hosting;

/// <summary>
/// HTTP basic authentication against the bcrypt hashes of <c>basic_auth_users</c>. bcrypt costs tens of milliseconds
/// by design, so a verified <c>Authorization</c> header is remembered (as exporter-toolkit does) and a scraper that
/// sends the same credentials every 15 s pays for bcrypt once.
/// </summary>
internal sealed class BasicAuthenticator
{
    private const int MaxRemembered = 64;
    private readonly IReadOnlyDictionary<string, string> _users;
    private readonly ConcurrentDictionary<string, bool> _verified = new(StringComparer.Ordinal);

    public BasicAuthenticator(IReadOnlyDictionary<string, string> users) => _users = users;

    /// <summary>True when the request carries valid credentials.</summary>
    public bool IsAuthorized(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        if (_verified.ContainsKey(header))
        {
            return true;
        }

        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header[6..].Trim()));
        }
        catch (FormatException)
        {
            return false;
        }

        var colon = decoded.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0 || !_users.TryGetValue(decoded[..colon], out var hash))
        {
            return false;
        }

        bool valid;
        try
        {
            valid = BCrypt.Net.BCrypt.Verify(decoded[(colon + 1)..], hash);
        }
        catch (BCrypt.Net.SaltParseException)
        {
            return false;
        }

        if (valid && _verified.Count < MaxRemembered)
        {
            _verified.TryAdd(header, true);
        }

        return valid;
    }
}
