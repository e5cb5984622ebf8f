using Microsoft.Extensions.Options;
using Worker.Engine.Speculation;
using Worker.KvTransfer;
using Worker.Options;

namespace Worker.Hosting;

public static class EngineServiceExtensions
{
    /// <summary>Binds the serving options and runs the engine host, whose readiness gates /health.</summary>
    public static WebApplicationBuilder AddEngine(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<ServeOptions>()
            .Bind(builder.Configuration.GetSection(ServeOptions.Section))
            .Validate(o => o.MaxNumSeqs >= 1, "--max-num-seqs must be at least 1.")
            .Validate(o => o.Device is "cpu" or "cuda", "--device must be cpu or cuda.")
            .Validate(o => o.MaxNumBatchedTokens is null || o.MaxNumBatchedTokens >= o.MaxNumSeqs,
                "--max-num-batched-tokens must be at least --max-num-seqs: every running sequence decodes a token each step.")
            .Validate(o => o.LongPrefillTokenThreshold >= 0, "--long-prefill-token-threshold must not be negative.")
            .Validate(o => o.BlockSize is >= 1 and <= 1024, "--block-size must be between 1 and 1024.")
            .Validate(o => o.GpuMemoryUtilization is > 0 and <= 1, "--gpu-memory-utilization must be in (0, 1].")
            .Validate(o => o.KvCacheMemoryBytes is null or > 0, "--kv-cache-memory-bytes must be positive.")
            .Validate(o => o.NumGpuBlocksOverride is null or > 0, "--num-gpu-blocks-override must be positive.")
            .Validate(o => o.MaxNumQueuedRequests is null or >= 0, "--max-num-queued-requests must not be negative.")
            .Validate(o => o.MaxNumQueuedTokens is null or >= 0, "--max-num-queued-tokens must not be negative.")
            .Validate(o => o.RequestTimeout is null or > 0, "--request-timeout must be positive.")
            .Validate(o => o.MaxSequencesPerRequest >= 1, "--max-sequences-per-request must be at least 1.")
            .Validate(o => o.MaxStopSequences >= 0, "--max-stop-sequences must not be negative.")
            .Validate(o => o.MaxStopSequenceLength >= 1, "--max-stop-sequence-length must be at least 1.")
            .Validate(o => o.MaxStopTokenIds >= 0, "--max-stop-token-ids must not be negative.")
            .Validate(o => o.MaxLogprobs >= -1, "--max-logprobs must be -1 (the whole vocabulary) or more.")
            .Validate(o => LogprobsModes.TryParse(o.LogprobsMode, out _), $"--logprobs-mode must be one of {string.Join(", ", LogprobsModes.Names)}.")
            .Validate(o => o.IntraOpThreads is null or > 0, "--intra-op-threads must be positive.")
            .Validate(o => o.MaxLoras >= 1, "--max-loras must be at least 1.")
            .Validate(o => LoraModules.PossibleMaxRanks.Contains(o.MaxLoraRank),
                $"--max-lora-rank must be one of {string.Join(", ", LoraModules.PossibleMaxRanks)} (vLLM's choices).")
            .Validate(o => o.MaxCpuLoras is null || o.MaxCpuLoras >= o.MaxLoras, "--max-cpu-loras must be at least --max-loras.")
            .Validate(o => o.EnableLora || o.LoraModules.Count == 0, "--lora-modules needs --enable-lora.")
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<ServeOptions>, JsonSettingsValidation>();
        builder.Services.AddSingleton<EngineHost>();
        builder.Services.AddSingleton<Metrics.ApiMetrics>();
        builder.Services.AddSingleton(sp => new Metrics.StructuredOutputMetrics(sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(),
            sp.GetRequiredService<ServiceDefaults.Metrics.MetricsPolicy>(), sp.GetRequiredService<EngineHost>().ServedModelNames[0]));
        builder.Services.AddHostedService(sp => sp.GetRequiredService<EngineHost>());
        builder.Services.AddHealthChecks().AddCheck<EngineHost>("model");
        return builder;
    }
}

/// <summary>
/// The JSON settings (--speculative-config, --kv-transfer-config, --lora-modules) are read when the options are, so a malformed one
/// stops the worker before anything loads, with what is wrong in it.
/// </summary>
internal sealed class JsonSettingsValidation : IValidateOptions<ServeOptions>
{
    private static readonly (Func<ServeOptions, string?> Setting, Action<string> Parse)[] Settings =
    [
        (options => options.SpeculativeConfig, json => SpeculativeConfig.Parse(json)),
        (options => options.KvTransferConfig, json => KvTransferConfig.Parse(json)),
        (options => options.StructuredOutputsConfig, json => StructuredOutputsConfig.Parse(json)),
    ];

    public ValidateOptionsResult Validate(string? name, ServeOptions options)
    {
        var failures = new List<string>();
        foreach (var entry in options.LoraModules)
        {
            try
            {
                LoraModulePath.Parse(entry);
            }
            catch (InvalidOperationException e)
            {
                failures.Add(e.Message);
            }
        }
        foreach (var (setting, parse) in Settings)
        {
            if (setting(options) is { } json && !string.IsNullOrWhiteSpace(json))
            {
                try
                {
                    parse(json);
                }
                catch (InvalidOperationException e)
                {
                    failures.Add(e.Message);
                }
            }
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
