using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Engine;
using Worker.Hosting;
using Worker.Options;
using Worker.Runner;

namespace Bench;

/// <summary>
/// Where a decode step's time goes, in one process: the bare batched loop (<see cref="GenerateBenchmark"/>) against the
/// engine driven directly (scheduler, runner, sampling, update, the publisher's hand-off to per-request readers; no HTTP),
/// on the same prompts, rounds alternated. Each step splits into the time inside ONNX Runtime's run and the rest (rows,
/// binding, logits, sampling, and for the engine its scheduling, updates and hand-off); GC pauses are counted apart.
/// What HTTP adds on top is measured against a live worker by bench/step-breakdown.sh.
/// </summary>
internal static class StepProfileBenchmark
{
    public static async Task<int> RunAsync(BenchArgs args)
    {
        var directory = args.String("model-dir");
        var batch = args.Int("batch", 8);
        var outputLength = args.Int("output-len", 256);
        var rounds = args.Int("rounds", 2);
        using var model = LoadedModel.Load(directory, "cpu", null);
        using var bare = new GenerateBenchmark(model, batch);
        var settings = new ServeOptions { Model = directory, MaxNumSeqs = batch };
        using var engine = EngineFactory.Create(model, null, null, settings, 1L << 30, new ServiceDefaults.Metrics.MetricsPolicy(), [], NullLogger<LlmEngine>.Instance);

        var warmUp = Prompts.Generate(batch, 8, -1);
        bare.Profile(warmUp, 16);
        await ProfileEngineAsync(engine, model, warmUp, 16);
        Console.WriteLine($"batch {batch}, {outputLength} output tokens per prompt, fresh prompts each round, {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")} GC; ms per step:");
        for (var round = 1; round <= rounds; round++)
        {
            var prompts = Prompts.Generate(batch, args.Int("input-words", 32), 2000 + round);
            var sides = round % 2 == 1 ? new[] { "bare", "engine" } : ["engine", "bare"];
            foreach (var side in sides)
            {
                var profile = side == "bare" ? bare.Profile(prompts, outputLength) : await ProfileEngineAsync(engine, model, prompts, outputLength);
                Console.WriteLine($"round {round} {side,-6} {profile}");
            }
        }
        return 0;
    }

    /// <summary>
    /// The prompts through the engine at once, to the full length (greedy, or as <paramref name="sampling"/> says for
    /// prompt i), read as the API's readers would.
    /// </summary>
    internal static async Task<StepProfile> ProfileEngineAsync(LlmEngine engine, LoadedModel model, IReadOnlyList<string> prompts, int outputLength,
        Func<int, SamplingParams>? sampling = null)
    {
        var measure = StepProfile.Start(model.Decoder, engine.StepsRun);
        var readers = prompts.Select((prompt, i) =>
        {
            var outputs = Channel.CreateUnbounded<SequenceOutput>();
            var request = new EngineRequest(Guid.NewGuid().ToString("N")[..12], model.Encode(prompt),
                sampling?.Invoke(i) ?? new SamplingParams { MaxTokens = outputLength, Temperature = 0, IgnoreEos = true }, RequestArrival.Now(), outputs.Writer, firstChoice: 0);
            engine.Submit(request);
            return Task.Run(async () =>
            {
                await foreach (var output in outputs.Reader.ReadAllAsync())
                {
                    if (output.Finish is not null)
                    {
                        return;
                    }
                }
            });
        }).ToArray();
        await Task.WhenAll(readers);
        return measure.Stop(engine.StepsRun);
    }
}

/// <summary>Per step: the whole, the time inside ONNX Runtime's run, the rest; and the GC pauses within the whole.</summary>
internal sealed record StepProfile(long Steps, double WholeMs, double RunMs, double GcPauseMs, int Collections)
{
    public static Measurement Start(OnnxDecoder decoder, long steps) => new(decoder, steps);

    public override string ToString()
    {
        double PerStep(double ms) => ms / Math.Max(1, Steps);
        return $"{PerStep(WholeMs):F3} = onnxruntime run {PerStep(RunMs):F3} + the rest {PerStep(WholeMs - RunMs):F3} " +
            $"(GC pauses {PerStep(GcPauseMs):F3}, {Collections} collections over {Steps} steps)";
    }

    public sealed class Measurement(OnnxDecoder decoder, long steps)
    {
        private readonly long _started = Stopwatch.GetTimestamp();
        private readonly long _runTicks = decoder.RunTicks;
        private readonly TimeSpan _gcPause = GC.GetTotalPauseDuration();
        private readonly int _collections = GC.CollectionCount(0);

        public StepProfile Stop(long stepsNow) => new(stepsNow - steps, Stopwatch.GetElapsedTime(_started).TotalMilliseconds,
            (decoder.RunTicks - _runTicks) * 1000.0 / Stopwatch.Frequency, (GC.GetTotalPauseDuration() - _gcPause).TotalMilliseconds,
            GC.CollectionCount(0) - _collections);
    }
}
