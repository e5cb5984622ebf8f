using Microsoft.ML.OnnxRuntimeGenAI;
using ModelBuilder;
using Tests.Support;
using Worker.Runner;

namespace Tests.Lora;

/// <summary>The batched runner under LoRA adapters, against ONNX Runtime GenAI's own adapter support and against itself one adapter at a time.</summary>
public class LoraRunnerTests
{
    private const string Prompt = "Once upon a time in a quiet village by the sea there lived";

    private static LoraRequest Lora(string name, int id) => new(name, id, TinyLoraModel.Adapter(name));

    [Fact]
    public void AnAdaptersLogits_MatchOnnxRuntimeGenAI_WithTheSameAdapterActive()
    {
        using var model = LoadedModel.Load(TinyLoraModel.Directory, "cpu", null);
        using var runner = new OnnxBatchRunner(model.Decoder, slots: 1, maxLength: model.MaxModelLength, new LoraWeights(1));
        GenAiProcess.EnsureInitialized();
        using var reference = new Model(TinyLoraModel.Directory);
        using var adapters = new Adapters(reference);
        adapters.LoadAdapter(Path.Combine(TinyLoraModel.Adapter("alpha"), LoraAdapterBuilder.WeightsFile), "alpha");
        using var parameters = new GeneratorParams(reference);
        parameters.SetSearchOption("max_length", model.MaxModelLength);
        using var generator = new Generator(reference, parameters);
        generator.SetActiveAdapter(adapters, "alpha");

        var fed = model.Encode(Prompt);
        for (var step = 0; step < 8; step++)
        {
            var ours = runner.Execute([new RunnerRow(0, fed, 1, Lora("alpha", 1))]);
            generator.AppendTokens(fed);
            using var output = generator.GetOutput("logits");
            var theirs = output.GetData<float>().ToArray()[^ours.Length..];
            var largest = ours.Zip(theirs).Max(pair => Math.Abs(pair.First - pair.Second));
            Assert.True(largest < 1e-4f, $"step {step}: logits differ by {largest}");
            fed = [Sampler.ArgMax(ours)];
        }
    }

    [Fact]
    public void TheLoraReadyModel_WithoutAnAdapter_IsTheBaseModel()
    {
        using var plain = LoadedModel.Load(TinyModel.Directory, "cpu", null);
        using var ready = LoadedModel.Load(TinyLoraModel.Directory, "cpu", null);
        using var plainRunner = new OnnxBatchRunner(plain.Decoder, slots: 1, maxLength: plain.MaxModelLength);
        using var readyRunner = new OnnxBatchRunner(ready.Decoder, slots: 1, maxLength: ready.MaxModelLength, new LoraWeights(1));

        var prompt = plain.Encode(Prompt);
        var expected = plainRunner.Execute([new RunnerRow(0, prompt, 1)]);
        var actual = readyRunner.Execute([new RunnerRow(0, prompt, 1)]);

        Assert.True(expected.Zip(actual).All(pair => Math.Abs(pair.First - pair.Second) < 1e-5f), "the LoRA-ready graph without an adapter changed the logits");
    }

    [Theory]
    [InlineData(null)]
    [InlineData(1234L)]
    public void RowsOfSeveralAdapters_AndTheBase_InOneStep_SampleWhatEachSamplesAlone(long? seed)
    {
        using var model = LoadedModel.Load(TinyLoraModel.Directory, "cpu", null);
        // Slots interleave adapters, so each adapter's pass spans the others' slots.
        LoraRequest?[] rows = [Lora("alpha", 1), null, Lora("beta", 2), Lora("alpha", 1), Lora("gamma", 3), null];
        string[] prompts = ["The river", Prompt, "A", "Numbers and letters, letters and numbers", "Bread needs time.", "The harbour was quiet"];
        var parameters = new SamplingParams { MaxTokens = 16, Temperature = seed is null ? 0 : 0.9, Seed = seed };

        var alone = rows.Select((lora, i) => Generate(model, [(lora, prompts[i])], parameters, steps: 16)[0]).ToArray();
        var together = Generate(model, rows.Select((lora, i) => (lora, prompts[i])).ToArray(), parameters, steps: 16);

        for (var i = 0; i < rows.Length; i++)
        {
            Assert.Equal(alone[i], together[i]);
        }
        Assert.NotEqual(together[1], Generate(model, [(Lora("alpha", 1), prompts[1])], parameters, steps: 16)[0]);
    }

    /// <summary>Each row prefilled then decoded together, one slot each, sampled with its own seeded random source.</summary>
    private static List<int>[] Generate(LoadedModel model, (LoraRequest? Lora, string Prompt)[] rows, SamplingParams parameters, int steps)
    {
        using var runner = new OnnxBatchRunner(model.Decoder, slots: rows.Length, maxLength: model.MaxModelLength, new LoraWeights(3));
        var randoms = rows.Select(_ => new Random((int)(parameters.Seed ?? 0))).ToArray();
        var prefill = runner.Execute(rows.Select((row, slot) => new RunnerRow(slot, model.Encode(row.Prompt), 1, row.Lora)).ToArray());
        var next = rows.Select((_, slot) => Sampler.Sample(prefill.AsSpan(slot * runner.VocabSize, runner.VocabSize), parameters, randoms[slot])).ToArray();
        var tokens = rows.Select(_ => new List<int>()).ToArray();
        for (var step = 0; step < steps; step++)
        {
            var logits = runner.Execute(rows.Select((row, slot) => new RunnerRow(slot, [next[slot]], 1, row.Lora)).ToArray());
            for (var slot = 0; slot < rows.Length; slot++)
            {
                tokens[slot].Add(next[slot]);
                next[slot] = Sampler.Sample(logits.AsSpan(slot * runner.VocabSize, runner.VocabSize), parameters, randoms[slot]);
            }
        }
        return tokens;
    }
}
