using Tests.Support;
using Worker.Runner;

namespace Tests.Runner;

/// <summary>
/// Logprobs are computed in the runner beside sampling, from the logits the sampler read: raw_logprobs are the
/// log-softmax of the model's logits (ONNX Runtime GenAI's, for the same tokens), with the chosen token's rank and the
/// top candidates; speculation changes none of them.
/// </summary>
public class LogprobsTests
{
    private const string Prompt = "Once upon a time in a quiet village by the sea there lived";

    [Fact]
    public async Task RawLogprobs_AreTheLogSoftmaxOfOnnxRuntimeGenAIsLogits_ForEveryToken()
    {
        using var harness = new EngineHarness();
        var submitted = harness.Submit(Prompt, maxTokens: 10, temperature: 0.9, seed: 3, logprobs: 5);
        var entries = (await submitted.OutputsUntilFinishedAsync()).SelectMany(o => o.Logprobs ?? []).ToArray();
        Assert.Equal(10, entries.Length);

        using var reference = new GenAiReference(TinyModel.Directory, harness.Model.MaxModelLength);
        var fed = harness.Encode(Prompt);
        foreach (var entry in entries)
        {
            var logits = reference.Append(fed)[^harness.Model.Folder.VocabSize..];
            var logprobs = LogSoftmax(logits);
            var expectedTop = Enumerable.Range(0, logits.Length).OrderByDescending(i => logprobs[i]).ThenBy(i => i).Take(5).ToArray();

            Assert.Equal(logprobs[entry.Token], entry.Logprob, 1e-4);
            Assert.Equal(1 + logprobs.Count(l => l > logprobs[entry.Token]), entry.Rank);
            Assert.Equal(expectedTop, entry.Top.Select(t => t.Token));
            Assert.All(entry.Top, t => Assert.Equal(logprobs[t.Token], t.Logprob, 1e-4));
            fed = [entry.Token];
        }
    }

    [Fact]
    public async Task PromptLogprobs_AreGenAIsForEveryPromptToken_WhateverTheChunksAndTheCache()
    {
        const string prompt = "Numbers and letters, letters and numbers: the old clerk counted them all day long while the river ran";
        async Task<TokenLogprobs[]> RunAsync(EngineHarness harness)
        {
            var outputs = await harness.Submit(prompt, maxTokens: 2, promptLogprobs: 3).OutputsUntilFinishedAsync();
            return outputs.Select(o => o.PromptLogprobs).Single(p => p is not null)!.ToArray();
        }
        using var whole = new EngineHarness();
        var first = await RunAsync(whole);
        var again = await RunAsync(whole); // its prompt is in the prefix pool now: computed whole all the same
        using var chunked = new EngineHarness(maxNumBatchedTokens: 8);
        var inChunks = await RunAsync(chunked);

        using var reference = new GenAiReference(TinyModel.Directory, whole.Model.MaxModelLength);
        var tokens = whole.Encode(prompt);
        var vocab = whole.Model.Folder.VocabSize;
        var all = reference.Append(tokens);
        Assert.Equal(tokens.Length * vocab, all.Length);

        Assert.Equal(tokens.Length - 1, first.Length);
        for (var i = 0; i < first.Length; i++)
        {
            var logprobs = LogSoftmax(all[(i * vocab)..((i + 1) * vocab)]);
            Assert.Equal(tokens[i + 1], first[i].Token);
            Assert.Equal(logprobs[tokens[i + 1]], first[i].Logprob, 1e-4);
            Assert.Equal(Enumerable.Range(0, vocab).OrderByDescending(t => logprobs[t]).ThenBy(t => t).Take(3), first[i].Top.Select(t => t.Token));
        }
        foreach (var other in new[] { again, inChunks })
        {
            Assert.Equal(first.Select(e => (e.Token, e.Rank)), other.Select(e => (e.Token, e.Rank)));
            Assert.Equal(first.Select(e => e.Logprob), other.Select(e => e.Logprob), (a, b) => Math.Abs(a - b) < 1e-4);
        }
    }

    [Theory]
    [InlineData("""{"method": "ngram", "num_speculative_tokens": 3, "disable_by_batch_size": 8}""")]
    [InlineData("""{"method": "draft_model", "num_speculative_tokens": 4, "disable_by_batch_size": 8}""")]
    public async Task Logprobs_AreTheSameWithSpeculation(string config)
    {
        async Task<TokenLogprobs[]> RunAsync(string? speculative)
        {
            using var harness = new EngineHarness(speculativeConfig: speculative);
            var outputs = await harness.Submit(Prompt, maxTokens: 24, temperature: 0.8, seed: 9, logprobs: 3).OutputsUntilFinishedAsync();
            return outputs.SelectMany(o => o.Logprobs ?? []).ToArray();
        }
        var plain = await RunAsync(null);
        var speculative = await RunAsync(config);

        Assert.Equal(plain.Select(e => (e.Token, e.Rank)), speculative.Select(e => (e.Token, e.Rank)));
        Assert.Equal(plain.Select(e => e.Logprob), speculative.Select(e => e.Logprob), (a, b) => Math.Abs(a - b) < 1e-4);
        Assert.Equal(plain.Select(e => e.Top.Select(t => t.Token).ToArray()), speculative.Select(e => e.Top.Select(t => t.Token).ToArray()));
    }

    [Fact]
    public void ProcessedModes_ReadTheLogitsAsTheSamplerDoes_AfterTemperatureTopKAndTopP()
    {
        float[] logits = [2f, 1f, 0.5f, -1f, 3f];
        var parameters = new SamplingParams { MaxTokens = 1, Temperature = 0.5, TopK = 3 };

        var raw = LogprobsCalculator.Compute(logits, token: 1, top: 2, parameters with { LogprobsMode = LogprobsMode.RawLogprobs });
        Assert.Equal(LogSoftmax(logits)[1], raw.Logprob, 1e-5);
        Assert.Equal(3, raw.Rank);
        Assert.Equal([4, 0], raw.Top.Select(t => t.Token));

        var rawLogits = LogprobsCalculator.Compute(logits, token: 1, top: 1, parameters with { LogprobsMode = LogprobsMode.RawLogits });
        Assert.Equal(1f, rawLogits.Logprob);

        // Processed: logits / 0.5, and top-k 3 keeps tokens 4, 0, 1 only.
        var processed = LogprobsCalculator.Compute(logits, token: 1, top: 4, parameters with { LogprobsMode = LogprobsMode.ProcessedLogprobs });
        var kept = LogSoftmax([6f, 4f, 2f]);
        Assert.Equal(kept[2], processed.Logprob, 1e-5);
        Assert.Equal([4, 0, 1, 2], processed.Top.Select(t => t.Token));
        Assert.Equal(float.NegativeInfinity, processed.Top[3].Logprob);

        var processedLogits = LogprobsCalculator.Compute(logits, token: 4, top: 0, parameters with { LogprobsMode = LogprobsMode.ProcessedLogits });
        Assert.Equal(6f, processedLogits.Logprob, 1e-5);
        Assert.Equal(1, processedLogits.Rank);
        Assert.Empty(processedLogits.Top);
    }

    private static float[] LogSoftmax(float[] logits)
    {
        var max = logits.Max();
        var normalizer = max + Math.Log(logits.Sum(l => Math.Exp(l - max)));
        return logits.Select(l => (float)(l - normalizer)).ToArray();
    }
}
