using System.Net;
using System.Text;
using System.Text.Json;
using Tests.Support;

namespace Tests.Api;

/// <summary>
/// Logprobs through the OpenAI API: the completions API's four parallel lists and the chat API's content entries,
/// whole and streamed alike, one entry per counted token, within --max-logprobs; --logprobs-mode changes the values.
/// </summary>
public class LogprobsApiTests(WorkerFixture worker)
{
    private readonly HttpClient _client = worker.CreateClient();

    private async Task<JsonElement> PostOkAsync(string path, object body)
    {
        using var response = await _client.PostJsonAsync(path, body);
        var json = await response.JsonAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, json.ToString());
        return json;
    }

    [Fact]
    public async Task Completions_ListEveryTokenWithItsLogprobTopCandidatesAndTextOffset()
    {
        var body = await PostOkAsync("/v1/completions", new { prompt = "The river ran", max_tokens = 12, logprobs = 3, seed = 1, temperature = 0.9, ignore_eos = true });
        var choice = body.GetProperty("choices")[0];
        var logprobs = choice.GetProperty("logprobs");
        var tokens = logprobs.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()!).ToArray();
        var values = logprobs.GetProperty("token_logprobs").EnumerateArray().Select(v => v.GetSingle()).ToArray();
        var tops = logprobs.GetProperty("top_logprobs").EnumerateArray().ToArray();
        var offsets = logprobs.GetProperty("text_offset").EnumerateArray().Select(o => o.GetInt32()).ToArray();

        Assert.Equal(body.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), tokens.Length);
        if (!tokens.Any(t => t.Contains('\uFFFD'))) // no token is a piece of a character: the tokens spell the text
        {
            Assert.Equal(choice.GetProperty("text").GetString(), string.Concat(tokens));
        }
        Assert.Equal(tokens.Length, values.Length);
        Assert.Equal(tokens.Length, tops.Length);
        Assert.Equal(tokens.Select((t, i) => tokens[..i].Sum(x => x.Length)), offsets);
        for (var i = 0; i < tokens.Length; i++)
        {
            var top = tops[i].EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetSingle());
            Assert.InRange(top.Count, 3, 4); // the top 3, and the chosen token if it is not among them
            Assert.Equal(values[i], top[tokens[i]]);
            Assert.True(values[i] <= 0 && top.Values.Max() <= 0);
        }
    }

    [Fact]
    public async Task Completions_StreamedLogprobs_AreTheWholeOnes()
    {
        object Request(bool stream) => new { prompt = "A good server", max_tokens = 10, logprobs = 2, seed = 4, temperature = 0.8, ignore_eos = true, stream };
        var whole = (await PostOkAsync("/v1/completions", Request(false))).GetProperty("choices")[0].GetProperty("logprobs");
        using var response = await _client.PostJsonAsync("/v1/completions", Request(true));
        var chunks = (await Sse.ReadAllAsync(response, TestContext.Current.CancellationToken)).Where(e => !e.IsDone).Select(e => e.Json.GetProperty("choices")[0].GetProperty("logprobs")).ToArray();

        foreach (var list in new[] { "tokens", "token_logprobs", "text_offset" })
        {
            Assert.Equal(whole.GetProperty(list).EnumerateArray().Select(v => v.ToString()), chunks.SelectMany(c => c.GetProperty(list).EnumerateArray()).Select(v => v.ToString()));
        }
    }

    [Fact]
    public async Task Chat_GivesEachTokenItsBytesAndTheTopCandidates_HighestFirst()
    {
        var body = await PostOkAsync("/v1/chat/completions", new
        {
            messages = new[] { new { role = "user", content = "Tell me about the sea." } }, max_tokens = 16, logprobs = true, top_logprobs = 4, seed = 2, temperature = 1.0,
        });
        var choice = body.GetProperty("choices")[0];
        var content = choice.GetProperty("logprobs").GetProperty("content").EnumerateArray().ToArray();
        Assert.Equal(body.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), content.Length);
        var bytes = content.Where(c => c.GetProperty("token").GetString() != "<|endoftext|>")
            .SelectMany(c => c.GetProperty("bytes").EnumerateArray().Select(b => (byte)b.GetInt32())).ToArray();
        Assert.Equal(choice.GetProperty("message").GetProperty("content").GetString(), Encoding.UTF8.GetString(bytes));
        foreach (var entry in content)
        {
            var top = entry.GetProperty("top_logprobs").EnumerateArray().Select(t => t.GetProperty("logprob").GetSingle()).ToArray();
            Assert.Equal(4, top.Length);
            Assert.Equal(top.OrderDescending(), top);
            Assert.True(entry.GetProperty("logprob").GetSingle() <= top[0]);
        }

        var without = await PostOkAsync("/v1/chat/completions", new { messages = new[] { new { role = "user", content = "Hi" } }, max_tokens = 3, logprobs = true });
        Assert.All(without.GetProperty("choices")[0].GetProperty("logprobs").GetProperty("content").EnumerateArray(),
            entry => Assert.Equal(0, entry.GetProperty("top_logprobs").GetArrayLength()));
        var none = await PostOkAsync("/v1/chat/completions", new { messages = new[] { new { role = "user", content = "Hi" } }, max_tokens = 3 });
        Assert.Equal(JsonValueKind.Null, none.GetProperty("choices")[0].GetProperty("logprobs").ValueKind);
    }

    [Fact]
    public async Task EchoWithMaxTokensZero_ScoresThePrompt_ItsFirstTokenWithoutALogprob()
    {
        const string prompt = "The cat sat by the window";
        var body = await PostOkAsync("/v1/completions", new { prompt, max_tokens = 0, echo = true, logprobs = 2 });
        var choice = body.GetProperty("choices")[0];
        Assert.Equal(prompt, choice.GetProperty("text").GetString());
        var logprobs = choice.GetProperty("logprobs");
        var tokens = logprobs.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()).ToArray();
        Assert.Equal(prompt, string.Concat(tokens));
        Assert.Equal(body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(), tokens.Length);
        var values = logprobs.GetProperty("token_logprobs").EnumerateArray().ToArray();
        Assert.Equal(JsonValueKind.Null, values[0].ValueKind);
        Assert.Equal(JsonValueKind.Null, logprobs.GetProperty("top_logprobs")[0].ValueKind);
        Assert.All(values[1..], v => Assert.True(v.GetSingle() < 0));

        // The same numbers as prompt_logprobs (vLLM's map of token id to logprob, rank and text), first entry null.
        var prompts = choice.GetProperty("prompt_logprobs").EnumerateArray().ToArray();
        Assert.Equal(JsonValueKind.Null, prompts[0].ValueKind);
        var ids = worker.Engine.Model.Encode(prompt);
        for (var i = 1; i < ids.Length; i++)
        {
            var own = prompts[i].GetProperty(ids[i].ToString());
            Assert.Equal(values[i].GetSingle(), own.GetProperty("logprob").GetSingle());
            Assert.Equal(tokens[i], own.GetProperty("decoded_token").GetString());
            Assert.True(own.GetProperty("rank").GetInt32() >= 1);
        }

        // Echo with generation: the prompt's text and tokens first, then the output's.
        var echoed = await PostOkAsync("/v1/completions", new { prompt, max_tokens = 3, echo = true, logprobs = 1, seed = 1, temperature = 0.8, ignore_eos = true });
        var echoedChoice = echoed.GetProperty("choices")[0];
        Assert.StartsWith(prompt, echoedChoice.GetProperty("text").GetString());
        Assert.Equal(ids.Length + 3, echoedChoice.GetProperty("logprobs").GetProperty("tokens").GetArrayLength());
    }

    [Fact]
    public async Task ChatPromptLogprobs_CoverEveryPromptToken()
    {
        var body = await PostOkAsync("/v1/chat/completions", new { messages = new[] { new { role = "user", content = "Tell me about the sea." } }, max_tokens = 2, prompt_logprobs = 1 });
        var entries = body.GetProperty("prompt_logprobs").EnumerateArray().ToArray();
        Assert.Equal(body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(), entries.Length);
        Assert.Equal(JsonValueKind.Null, entries[0].ValueKind);
        Assert.All(entries[1..], entry => Assert.InRange(entry.EnumerateObject().Count(), 1, 2));
    }

    [Fact]
    public async Task ProcessedLogprobs_FollowTheSamplersCut_AndMaxLogprobsIsTheServersSetting()
    {
        await using var processed = await WorkerApp.StartAsync(("Worker:LogprobsMode", "processed_logprobs"), ("Worker:MaxLogprobs", "30"));
        using var client = processed.CreateClient();
        using var response = await client.PostJsonAsync("/v1/completions", new { prompt = "The ship", max_tokens = 6, logprobs = 25, top_k = 2, temperature = 0.7, seed = 5, ignore_eos = true });
        var body = await response.JsonAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        foreach (var top in body.GetProperty("choices")[0].GetProperty("logprobs").GetProperty("top_logprobs").EnumerateArray())
        {
            var values = top.EnumerateObject().Select(p => p.Value.GetSingle()).OrderDescending().ToArray();
            // top_k 2: only two tokens keep a probability; the rest are cut (-infinity, written -9999).
            Assert.Equal(2, values.Count(v => v > -9999f));
            Assert.Equal(1.0, values.Where(v => v > -9999f).Sum(v => Math.Exp(v)), 1e-4);
        }
    }
}
