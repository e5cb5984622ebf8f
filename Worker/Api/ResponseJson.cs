using System.Text.Json;

namespace Worker.Api;

/// <summary>How every response body is written, streamed or whole: OpenAI's snake_case names as the formats spell them.</summary>
internal static class ResponseJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = null };
}
