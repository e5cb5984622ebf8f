namespace Gateway.Access;

/// <summary>
/// API keys (configuration section "Auth"): off unless keys are configured, inline (Auth:ApiKeys:0:Key, with optional
/// Name, RequestsPerMinute, TokensPerMinute) or in a file (Auth:ApiKeysFile: one key per line, "key [name]", # comments).
/// </summary>
public sealed class AccessOptions
{
    public const string Section = "Auth";

    public List<ApiKey> ApiKeys { get; set; } = [];

    public string? ApiKeysFile { get; set; }

    /// <summary>Limits for keys that set none (file keys, inline keys without their own); null: unlimited.</summary>
    public int? RequestsPerMinute { get; set; }

    public int? TokensPerMinute { get; set; }
}

/// <summary>One client's key, its name (for logs and limits) and its limits per minute.</summary>
public sealed class ApiKey
{
    public string Key { get; set; } = "";

    public string? Name { get; set; }

    public int? RequestsPerMinute { get; set; }

    public int? TokensPerMinute { get; set; }
}
