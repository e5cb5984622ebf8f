using System.Net;
using System.Net.Http.Headers;
using Tests.Support;

namespace Tests.Gateway;

/// <summary>Optional API keys at the gateway: who may call, how much per minute, and the fleet's models.</summary>
public class GatewayAccessTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private static async Task<HttpResponseMessage> CompleteAsync(ServiceProcess gateway, string? key, int maxTokens = 2)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = new StringContent($$"""{"prompt":"Hello","max_tokens":{{maxTokens}}}""", System.Text.Encoding.UTF8, "application/json"),
        };
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        return await gateway.Client.SendAsync(request, Cancel);
    }

    [Fact]
    public async Task Keys_AreRequired_AndEachHasItsOwnLimits()
    {
        var keysFile = Path.Combine(Directory.CreateDirectory(TestFolders.New("keys")).FullName, "keys.txt");
        await File.WriteAllTextAsync(keysFile, "# one key per line\nsk-from-file team-file\n", Cancel);
        await using var worker = await ServiceProcess.StartWorkerAsync($"--model \"{TinyModel.Directory}\" --served-model-name {WorkerApp.ModelName}");
        await using var gateway = await ServiceProcess.StartGatewayAsync(
            $"--ReverseProxy:Clusters:workers:Destinations:w:Address={worker.Address} " +
            "--Auth:ApiKeys:0:Key=sk-alpha --Auth:ApiKeys:0:RequestsPerMinute=3 " +
            "--Auth:ApiKeys:1:Key=sk-beta --Auth:ApiKeys:1:TokensPerMinute=100 " +
            $"--Auth:ApiKeysFile={keysFile}");

        using var missing = await CompleteAsync(gateway, null);
        using var wrong = await CompleteAsync(gateway, "sk-alphx");
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal("invalid_api_key", (await wrong.JsonAsync()).GetProperty("error").GetProperty("code").GetString());

        for (var i = 0; i < 3; i++)
        {
            using var allowed = await CompleteAsync(gateway, "sk-alpha");
            Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        }
        using var fourth = await CompleteAsync(gateway, "sk-alpha");
        Assert.Equal(HttpStatusCode.TooManyRequests, fourth.StatusCode);
        Assert.True(int.Parse(fourth.Headers.RetryAfter!.ToString(), System.Globalization.CultureInfo.InvariantCulture) is > 0 and <= 60);
        var limited = (await fourth.JsonAsync()).GetProperty("error");
        Assert.Equal(("rate_limit_exceeded", "requests"), (limited.GetProperty("code").GetString(), limited.GetProperty("type").GetString()));

        // Another key is not held back by alpha's limit; beta's own limit is on tokens.
        using var beta = await CompleteAsync(gateway, "sk-beta", maxTokens: 50);
        using var betaTooMuch = await CompleteAsync(gateway, "sk-beta", maxTokens: 60);
        Assert.Equal(HttpStatusCode.OK, beta.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, betaTooMuch.StatusCode);
        Assert.Equal("tokens", (await betaTooMuch.JsonAsync()).GetProperty("error").GetProperty("type").GetString());
        using var fromFile = await CompleteAsync(gateway, "sk-from-file");
        Assert.Equal(HttpStatusCode.OK, fromFile.StatusCode);

        // Health and metrics stay open to orchestrators and Prometheus.
        Assert.Equal(HttpStatusCode.OK, (await gateway.Client.GetAsync("/health", Cancel)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await gateway.Client.GetAsync("/metrics", Cancel)).StatusCode);
    }

    [Fact]
    public async Task AChatWithoutMaxTokens_WeighsTheRestOfTheModelsContext()
    {
        // The worker gives such a chat max_model_len less its prompt; the key's limit must see that, not max_tokens' 16.
        await using var worker = await ServiceProcess.StartWorkerAsync($"--model \"{TinyModel.Directory}\" --served-model-name {WorkerApp.ModelName} --max-model-len 256");
        await using var gateway = await ServiceProcess.StartGatewayAsync(
            $"--ReverseProxy:Clusters:workers:Destinations:w:Address={worker.Address} --Auth:ApiKeys:0:Key=sk-chat --Auth:ApiKeys:0:TokensPerMinute=200");

        async Task<HttpResponseMessage> ChatAsync(string maxTokens)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
            {
                Content = new StringContent($$$"""{"model":"{{{WorkerApp.ModelName}}}","messages":[{"role":"user","content":"Hello"}]{{{maxTokens}}}}""", System.Text.Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "sk-chat");
            return await gateway.Client.SendAsync(request, Cancel);
        }

        using var open = await ChatAsync("");
        Assert.Equal(HttpStatusCode.TooManyRequests, open.StatusCode);
        var refusal = (await open.JsonAsync()).GetProperty("error");
        Assert.Equal("tokens", refusal.GetProperty("type").GetString());
        Assert.Contains("requested 256", refusal.GetProperty("message").GetString()); // the prompt and the rest of the 256-token context
        using var bounded = await ChatAsync(",\"max_tokens\":8");
        Assert.Equal(HttpStatusCode.OK, bounded.StatusCode);
    }

    [Fact]
    public async Task Models_AreTheFleets()
    {
        await using var a = await ServiceProcess.StartWorkerAsync($"--model \"{TinyModel.Directory}\" --served-model-name model-a shared");
        await using var b = await ServiceProcess.StartWorkerAsync($"--model \"{TinyModel.Directory}\" --served-model-name model-b shared");
        await using var gateway = await ServiceProcess.StartGatewayAsync(
            $"--ReverseProxy:Clusters:workers:Destinations:a:Address={a.Address} --ReverseProxy:Clusters:workers:Destinations:b:Address={b.Address}");

        var models = await Eventually.ReadUntilAsync(async () =>
        {
            using var response = await gateway.Client.GetAsync("/v1/models", Cancel);
            return response.IsSuccessStatusCode
                ? (await response.JsonAsync()).GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()!).Order().ToArray()
                : [];
        }, ids => ids.Length == 3, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(200));

        Assert.Equal(["model-a", "model-b", "shared"], models); // each id once, though both workers serve "shared"
    }
}
