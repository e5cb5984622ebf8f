using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Engine;
using Worker.Engine.Speculation;
using Worker.Hosting;
using Worker.Options;
using Worker.Runner;

namespace Tests.Support;

/// <summary>An engine on the tiny model, driven directly (no HTTP), for scheduler and cache behaviour.</summary>
public sealed class EngineHarness : IDisposable
{
    private readonly LoadedModel _model;

    private readonly LoadedModel? _draft;

    private readonly ConcurrentDictionary<string, ChannelReader<SequenceOutput>> _outputs = new();

    /// <param name="speculativeConfig">--speculative-config JSON; a draft_model without "model" uses the tiny model's draft.</param>
    /// <param name="maxNumBatchedTokens">--max-num-batched-tokens; null for the worker's default.</param>
    public EngineHarness(int maxNumSeqs = 8, int? blocks = null, int blockSize = 16, bool prefixCaching = true,
        int? maxQueuedRequests = null, long? maxQueuedTokens = null, string? speculativeConfig = null, IReadOnlyList<IEngineStatsSink>? statsSinks = null,
        int? maxNumBatchedTokens = null, bool chunkedPrefill = true, int longPrefillTokenThreshold = 0)
    {
        var settings = new ServeOptions
        {
            Model = TinyModel.Directory, MaxNumSeqs = maxNumSeqs, NumGpuBlocksOverride = blocks, BlockSize = blockSize, EnablePrefixCaching = prefixCaching,
            MaxNumQueuedRequests = maxQueuedRequests, MaxNumQueuedTokens = maxQueuedTokens, SpeculativeConfig = speculativeConfig,
            MaxNumBatchedTokens = maxNumBatchedTokens, EnableChunkedPrefill = chunkedPrefill, LongPrefillTokenThreshold = longPrefillTokenThreshold,
        };
        _model = LoadedModel.Load(TinyModel.Directory, "cpu", null);
        var config = speculativeConfig is null ? null : SpeculativeConfig.Parse(speculativeConfig, TinyModel.DraftDirectory);
        _draft = EngineFactory.LoadDraft(config, _model, "cpu");
        var policy = new ServiceDefaults.Metrics.MetricsPolicy();
        Engine = EngineFactory.Create(_model, _draft, config, settings, 64L << 20, policy, statsSinks ?? [], NullLogger<LlmEngine>.Instance);
    }

    public LlmEngine Engine { get; }

    public LoadedModel Model => _model;

    public int[] Encode(string text) => _model.Encode(text);

    /// <param name="stop">Stop strings: the sequence then finishes (and counts) on <see cref="LlmEngine.Checked"/>, which this harness leaves to the test.</param>
    /// <param name="grammar">A structured-output grammar the sequences sample under; they then end at end of sequence (not ignored).</param>
    /// <param name="logprobs">Logprobs for each sampled token with this many top candidates (raw_logprobs).</param>
    /// <param name="promptLogprobs">vLLM's prompt_logprobs: each prompt token's logprob with this many top candidates.</param>
    internal Submitted Submit(string prompt, int maxTokens, int n = 1, double temperature = 0, long? seed = null, IReadOnlyList<string>? stop = null,
        Worker.StructuredOutput.Grammar? grammar = null, int? logprobs = null, int? promptLogprobs = null) =>
        Submit(_model.Encode(prompt), maxTokens, n, temperature, seed, stop, grammar, logprobs, promptLogprobs);

    internal Submitted Submit(int[] prompt, int maxTokens, int n = 1, double temperature = 0, long? seed = null, IReadOnlyList<string>? stop = null,
        Worker.StructuredOutput.Grammar? grammar = null, int? logprobs = null, int? promptLogprobs = null)
    {
        var channel = Channel.CreateUnbounded<SequenceOutput>();
        var request = new EngineRequest(Guid.NewGuid().ToString("N")[..12], prompt,
            new SamplingParams { N = n, MaxTokens = maxTokens, Temperature = temperature, Seed = seed, IgnoreEos = grammar is null, Stop = stop ?? [], Grammar = grammar, Logprobs = logprobs, PromptLogprobs = promptLogprobs },
            RequestArrival.Now(), channel.Writer, firstChoice: 0);
        _outputs[request.Id] = channel.Reader;
        Engine.Submit(request);
        return new Submitted(request, channel.Reader);
    }

    /// <summary>The output channel of a submitted request, by its id.</summary>
    public ChannelReader<SequenceOutput> OutputsOf(string requestId) => _outputs[requestId];

    /// <summary>Waits for a condition on the engine's published counts.</summary>
    public async Task<EngineSnapshot> WaitForAsync(Func<EngineSnapshot, bool> condition, TimeSpan timeout)
    {
        var snapshot = await Eventually.ReadUntilAsync(() => Engine.Snapshot, condition, timeout, TimeSpan.FromMilliseconds(2));
        Assert.True(condition(snapshot), $"timed out waiting; engine: {snapshot}");
        return snapshot;
    }

    public void Dispose()
    {
        Engine.Dispose();
        _model.Dispose();
        _draft?.Dispose();
    }
}

public sealed record Submitted(EngineRequest Request, ChannelReader<SequenceOutput> Outputs)
{
    /// <summary>Reads until every sequence has finished; returns each sequence's output tokens and finish.</summary>
    public async Task<(int[] Tokens, FinishReason Finish)[]> CompletionAsync(TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        var finished = 0;
        while (finished < Request.Sequences.Count)
        {
            var output = await Outputs.ReadAsync(cancel.Token);
            finished += output.Finish is null ? 0 : 1;
        }
        return Request.Sequences.Select(s => (s.OutputTokens.ToArray(), s.Finish!.Value)).ToArray();
    }

    /// <summary>Every output the sequences received, in order, until each has finished.</summary>
    public async Task<List<SequenceOutput>> OutputsUntilFinishedAsync(TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        var outputs = new List<SequenceOutput>();
        while (outputs.Count(o => o.Finish is not null) < Request.Sequences.Count)
        {
            outputs.Add(await Outputs.ReadAsync(cancel.Token));
        }
        return outputs;
    }
}
