using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Text;
using System.Threading.RateLimiting;
using Gateway.Proxy;
using Microsoft.Extensions.Options;

namespace Gateway.Access;

/// <summary>
/// Optional API keys on /v1: "Authorization: Bearer KEY", compared in constant time (against SHA-256 digests, so
/// neither a key's bytes nor its length leak through timing); missing or wrong → 401 with OpenAI's invalid_api_key
/// error. Each key has its own per-minute limits on requests and on tokens (a request weighs, before it runs, its prompt's
/// characters ÷ 4 plus the output it may make: max_tokens, or what the worker gives without it: 16 for a completion, the
/// rest of the model's context for a chat), from ASP.NET Core's rate limiters; past either → 429 with Retry-After and
/// OpenAI's rate_limit_exceeded error. Health, metrics and the catalog stay open to the orchestrator and Prometheus.
/// </summary>
internal sealed class ApiKeyGate : IDisposable
{
    /// <summary>OpenAI's (and vLLM's) max_tokens for a completion that sets none; also a chat's when no worker says its context length.</summary>
    private const int CompletionDefaultMaxTokens = 16;

    private readonly FrozenDictionary<string, ApiKey> _keys;
    private readonly PartitionedRateLimiter<ApiKey> _requests;
    private readonly PartitionedRateLimiter<ApiKey> _tokens;

    private readonly FleetModels _fleet;

    public ApiKeyGate(IOptions<AccessOptions> options, FleetModels fleet)
    {
        _fleet = fleet;
        var settings = options.Value;
        var keys = settings.ApiKeys.Concat(ReadFile(settings.ApiKeysFile)).Where(k => k.Key.Length > 0).ToArray();
        foreach (var key in keys)
        {
            key.Name ??= "key-" + Convert.ToHexStringLower(Digest(key.Key))[..8];
            key.RequestsPerMinute ??= settings.RequestsPerMinute;
            key.TokensPerMinute ??= settings.TokensPerMinute;
        }
        _keys = keys.ToFrozenDictionary(k => Convert.ToHexString(Digest(k.Key)));
        _requests = PartitionedRateLimiter.Create<ApiKey, string>(key => key.RequestsPerMinute is { } limit
            ? RateLimitPartition.GetFixedWindowLimiter(key.Name!, _ => Window(limit))
            : RateLimitPartition.GetNoLimiter(key.Name!));
        _tokens = PartitionedRateLimiter.Create<ApiKey, string>(key => key.TokensPerMinute is { } limit
            ? RateLimitPartition.GetFixedWindowLimiter(key.Name!, _ => Window(limit))
            : RateLimitPartition.GetNoLimiter(key.Name!));
    }

    public bool Enabled => _keys.Count > 0;

    public async Task InvokeAsync(HttpContext http, RequestDelegate next)
    {
        if (!Enabled || !http.Request.Path.StartsWithSegments("/v1"))
        {
            await next(http);
            return;
        }
        if (Find(http.Request.Headers.Authorization.ToString()) is not { } key)
        {
            await Refuse(http, 401, "invalid_request_error", "invalid_api_key",
                "Incorrect API key provided. Send it as 'Authorization: Bearer YOUR_KEY'.");
            return;
        }
        using var request = _requests.AttemptAcquire(key);
        if (!request.IsAcquired)
        {
            await TooMany(http, request, "requests", $"Rate limit reached for {key.Name} on requests per minute: limit {key.RequestsPerMinute}.");
            return;
        }
        var weight = await WeightAsync(await ProxiedRequest.BufferAsync(http), http.RequestAborted);
        // A request heavier than the whole limit is refused without taking the window's tokens from the ones that fit.
        var fits = key.TokensPerMinute is not { } most || weight <= most;
        using var tokens = _tokens.AttemptAcquire(key, fits ? weight : 0);
        if (!fits || !tokens.IsAcquired)
        {
            await TooMany(http, tokens, "tokens", $"Rate limit reached for {key.Name} on tokens per minute: limit {key.TokensPerMinute}, requested {weight}.");
            return;
        }
        await next(http);
    }

    /// <summary>The tokens a request may use, at least 1 (a body that says nothing: the worker refuses it with the reason).</summary>
    private async Task<int> WeightAsync(ProxiedRequest request, CancellationToken cancellationToken)
    {
        var output = request.MaxOutputTokens ?? (request.IsChat && await _fleet.MaxModelLengthAsync(request.Model, cancellationToken) is { } contextLength
            ? contextLength - request.PromptTokenEstimate
            : CompletionDefaultMaxTokens);
        return Math.Max(1, request.PromptTokenEstimate + output);
    }

    /// <summary>The key the header names, compared digest to digest in constant time; null when it names none.</summary>
    private ApiKey? Find(string authorization)
    {
        if (!authorization.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            return null;
        }
        var digest = Digest(authorization[7..].Trim());
        ApiKey? found = null;
        foreach (var (known, key) in _keys)
        {
            if (CryptographicOperations.FixedTimeEquals(Convert.FromHexString(known), digest))
            {
                found = key;
            }
        }
        return found;
    }

    private static Task TooMany(HttpContext http, RateLimitLease lease, string type, string message)
    {
        var retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromMinutes(1);
        http.Response.Headers.RetryAfter = ((int)Math.Ceiling(Math.Max(1, retryAfter.TotalSeconds))).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Refuse(http, 429, type, "rate_limit_exceeded", message);
    }

    private static Task Refuse(HttpContext http, int status, string type, string code, string message) =>
        Results.Json(new { error = new { message, type, param = (string?)null, code } }, statusCode: status).ExecuteAsync(http);

    private static FixedWindowRateLimiterOptions Window(int permits) => new()
    {
        PermitLimit = permits,
        Window = TimeSpan.FromMinutes(1),
        QueueLimit = 0,
        AutoReplenishment = true,
    };

    private static byte[] Digest(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    private static IEnumerable<ApiKey> ReadFile(string? path) => path is null ? [] : File.ReadLines(path)
        .Select(line => line.Trim())
        .Where(line => line.Length > 0 && !line.StartsWith('#'))
        .Select(line => line.Split(' ', 2, StringSplitOptions.TrimEntries))
        .Select(parts => new ApiKey { Key = parts[0], Name = parts.Length > 1 ? parts[1] : null });

    public void Dispose()
    {
        _requests.Dispose();
        _tokens.Dispose();
    }
}
