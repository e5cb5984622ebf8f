using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Tests.Support;

public static class JsonHttp
{
    public static Task<HttpResponseMessage> PostJsonAsync(this HttpClient client, string path, object body, string? requestId = null) =>
        client.PostRawAsync(path, JsonSerializer.Serialize(body), requestId);

    public static Task<HttpResponseMessage> PostRawAsync(this HttpClient client, string path, string body, string? requestId = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (requestId is not null)
        {
            request.Headers.Add("X-Request-Id", requestId);
        }
        return client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, TestContext.Current.CancellationToken);
    }

    public static async Task<JsonElement> JsonAsync(this HttpResponseMessage response) =>
        await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
}
