using System.Security.Cryptography;
using System.Text;
using Monitor.Contracts;
using YamlDotNet.RepresentationModel;

namespace Monitor.Aggregator.Access;

/// <summary>One bearer token: its name (for logs), its SHA-256, and the accounts it may see (null: every account).</summary>
internal sealed record Token(string Name, string Sha256, IReadOnlySet<string>? Accounts)
{
    /// <summary>Whether the token sees everything (the cluster's metrics included).</summary>
    public bool IsAdmin => Accounts is null;

    /// <summary>Whether the token may see <paramref name="account"/>'s jobs and usage.</summary>
    public bool Sees(string? account) => Accounts is null || (account is not null && Accounts.Contains(account));
}

/// <summary>
/// <c>--web.tokens-file</c>: the bearer tokens that may read the aggregator (docs/aggregator.md, "Access"). The file
/// holds each token's SHA-256, never the token, so it can be read by more people than the tokens' holders:
/// <code>
/// tokens:
///   - name: grafana                 # every account, and /metrics
///     sha256: 5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8
///   - name: physics-pi
///     sha256: ...                   # printf %s "$TOKEN" | sha256sum
///     accounts: [physics, physics-students]
/// </code>
/// </summary>
internal sealed class TokenFile
{
    private readonly Dictionary<string, Token> _bySha256;

    private TokenFile(Dictionary<string, Token> bySha256) => _bySha256 = bySha256;

    /// <summary>How many tokens.</summary>
    public int Count => _bySha256.Count;

    /// <summary>The token whose SHA-256 is that of <paramref name="presented"/>; null when none.</summary>
    public Token? Find(string presented) => _bySha256.GetValueOrDefault(Sha256(presented));

    /// <summary>The lowercase hex SHA-256 of <paramref name="text"/>'s UTF-8 bytes.</summary>
    public static string Sha256(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    /// <summary>Reads the file; a <see cref="FormatException"/> names what is wrong.</summary>
    public static TokenFile Load(string path) => Parse(SafeYaml.ReadFile(path), path);

    /// <summary>Parses a tokens document; <paramref name="name"/> is used in errors, and no error repeats a hash.</summary>
    public static TokenFile Parse(string text, string name)
    {
        var stream = SafeYaml.Load(text, 8, name);

        if (stream.Documents.Count != 1 || stream.Documents[0].RootNode is not YamlMappingNode root
            || root.Children.Count != 1 || root.Children.Single().Key is not YamlScalarNode { Value: "tokens" }
            || root.Children.Single().Value is not YamlSequenceNode list)
        {
            throw new FormatException($"{name}: expected 'tokens:' and a list of {{name, sha256, accounts}}");
        }

        var tokens = new Dictionary<string, Token>(StringComparer.Ordinal);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (entry, i) in list.Children.Select((e, i) => (e, i + 1)))
        {
            if (entry is not YamlMappingNode fields)
            {
                throw new FormatException($"{name}: token {i} must be a mapping with name, sha256 and optional accounts");
            }

            string? tokenName = null, hash = null;
            HashSet<string>? accounts = null;
            foreach (var (key, value) in fields.Children)
            {
                switch ((key as YamlScalarNode)?.Value)
                {
                    case "name":
                        tokenName = (value as YamlScalarNode)?.Value;
                        break;
                    case "sha256":
                        hash = (value as YamlScalarNode)?.Value?.ToLowerInvariant();
                        break;
                    case "accounts":
                        accounts = value is YamlSequenceNode items && items.Children.All(a => a is YamlScalarNode { Value.Length: > 0 })
                            ? [.. items.Children.Select(a => ((YamlScalarNode)a).Value!)]
                            : throw new FormatException($"{name}: token {i}: accounts must be a list of account names");
                        break;
                    default:
                        throw new FormatException($"{name}: token {i}: unknown field '{(key as YamlScalarNode)?.Value}' (expected name, sha256, accounts)");
                }
            }

            if (string.IsNullOrEmpty(tokenName) || !names.Add(tokenName))
            {
                throw new FormatException($"{name}: token {i} needs a name, different from the others'");
            }

            if (hash is null || hash.Length != 64 || !hash.All(char.IsAsciiHexDigit))
            {
                throw new FormatException($"{name}: token '{tokenName}': sha256 must be 64 hex digits (printf %s \"$TOKEN\" | sha256sum)");
            }

            if (!tokens.TryAdd(hash, new Token(tokenName, hash, accounts)))
            {
                throw new FormatException($"{name}: token '{tokenName}' has the same sha256 as '{tokens[hash].Name}'");
            }
        }

        return new TokenFile(tokens);
    }
}
