using Microsoft.ML.OnnxRuntimeGenAI;
using Tests.Support;
using Worker.Runner;

namespace Tests.Runner;

/// <summary>The batched runner against ONNX Runtime GenAI (the reference) and against itself run one row at a time.</summary>
public class BatchRunnerTests
{
    private static readonly string[] Prompts =
    [
        "The river",
        "Once upon a time in a quiet village by the sea there lived",
        "A",
        "Numbers and letters, letters and numbers: the old clerk counted them all day long while",
    ];

    [Fact]
    public void Logits_MatchOnnxRuntimeGenAI_ForThePromptAndEachDecodedToken()
    {
        using var model = LoadedModel.Load(TinyModel.Directory, "cpu", null);
        using var runner = new OnnxBatchRunner(model.Decoder, slots: 1, maxLength: model.MaxModelLength);
        GenAiProcess.EnsureInitialized();
        using var reference = new Model(TinyModel.Directory);
        using var parameters = new GeneratorParams(reference);
        parameters.SetSearchOption("max_length", model.MaxModelLength);
        using var generator = new Generator(reference, parameters);

        var fed = model.Encode(Prompts[1]);
        for (var step = 0; step < 12; step++)
        {
            var ours = runner.Execute([new RunnerRow(0, fed, 1)]);
            generator.AppendTokens(fed);
            using var output = generator.GetOutput("logits");
            var theirs = output.GetData<float>();
            theirs = theirs[^ours.Length..];

            var largest = 0f;
            for (var i = 0; i < ours.Length; i++)
            {
                largest = Math.Max(largest, Math.Abs(ours[i] - theirs[i]));
            }
            Assert.True(largest < 1e-4f, $"step {step}: logits differ by {largest}");
            Assert.Equal(Sampler.ArgMax(theirs), Sampler.ArgMax(ours));
            fed = [Sampler.ArgMax(ours)];
        }
    }

    [Fact]
    public void BatchedDecode_OfPromptsOfDifferentLengths_GivesEachRowItsTokensAlone()
    {
        using var model = LoadedModel.Load(TinyModel.Directory, "cpu", null);
        var alone = Prompts.Select(p => GreedyAlone(model, model.Encode(p), 24)).ToArray();

        using var runner = new OnnxBatchRunner(model.Decoder, slots: Prompts.Length, maxLength: model.MaxModelLength);
        var next = Prompts.Select((p, slot) => Sampler.ArgMax(runner.Execute([new RunnerRow(slot, model.Encode(p), 1)]))).ToArray();
        var together = Prompts.Select(_ => new List<int>()).ToArray();
        for (var step = 0; step < 24; step++)
        {
            var logits = runner.Execute(Enumerable.Range(0, Prompts.Length).Select(slot => new RunnerRow(slot, [next[slot]], 1)).ToArray());
            for (var slot = 0; slot < Prompts.Length; slot++)
            {
                together[slot].Add(next[slot]);
                next[slot] = Sampler.ArgMax(logits.AsSpan(slot * runner.VocabSize, runner.VocabSize));
            }
        }

        for (var slot = 0; slot < Prompts.Length; slot++)
        {
            Assert.Equal(alone[slot], together[slot]);
        }
    }

    [Fact]
    public void RowsWithGapsBetweenTheirSlots_AndRowsOfSeveralTokens_RunInOneStep()
    {
        using var model = LoadedModel.Load(TinyModel.Directory, "cpu", null);
        var prompt = model.Encode(Prompts[3]);
        var alone = GreedyAlone(model, prompt, 6);

        // Slots 0 and 3 feed one token a step (one pass with a gap); slot 2 the same prompt with three known tokens at
        // once (a pass of its own); slot 1 holds a cache the batched pass must not disturb.
        using var runner = new OnnxBatchRunner(model.Decoder, slots: 4, maxLength: model.MaxModelLength);
        runner.Execute([new RunnerRow(1, model.Encode(Prompts[1]), 1)]);
        var heldBefore = runner.Cache.Export(1, 0, runner.Cache.Length(1));
        var first = runner.Execute([new RunnerRow(0, prompt, 1), new RunnerRow(2, prompt, 1), new RunnerRow(3, prompt, 1)]);
        var vocab = runner.VocabSize;
        Assert.All(Enumerable.Range(0, 3), r => Assert.Equal(alone[0], Sampler.ArgMax(first.AsSpan(r * vocab, vocab))));

        var logits = runner.Execute([new RunnerRow(0, [alone[0]], 1), new RunnerRow(2, [alone[0], alone[1], alone[2]], 3), new RunnerRow(3, [alone[0]], 1)]);
        Assert.Equal(alone[1], Sampler.ArgMax(logits.AsSpan(0, vocab)));
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(alone[i + 1], Sampler.ArgMax(logits.AsSpan((1 + i) * vocab, vocab)));
        }
        Assert.Equal(alone[1], Sampler.ArgMax(logits.AsSpan(4 * vocab, vocab)));
        Assert.Equal(heldBefore, runner.Cache.Export(1, 0, runner.Cache.Length(1)));
    }

    [Fact]
    public void APromptFedInChunks_ContinuesExactlyAsOneFedWhole()
    {
        using var model = LoadedModel.Load(TinyModel.Directory, "cpu", null);
        var prompt = model.Encode(Prompts[3] + " " + Prompts[1]);
        var alone = GreedyAlone(model, prompt, 16);

        using var runner = new OnnxBatchRunner(model.Decoder, slots: 1, maxLength: model.MaxModelLength);
        float[] logits = [];
        for (var start = 0; start < prompt.Length; start += 7)
        {
            logits = runner.Execute([new RunnerRow(0, prompt[start..Math.Min(prompt.Length, start + 7)], 1)]);
        }
        Assert.Equal(alone, Continue(runner, 0, Sampler.ArgMax(logits), 16));
    }

    [Fact]
    public void AnExportedRange_ImportedIntoAnotherSlot_ContinuesTheSameWay()
    {
        using var model = LoadedModel.Load(TinyModel.Directory, "cpu", null);
        var prompt = model.Encode(Prompts[1]);
        var alone = GreedyAlone(model, prompt, 12);

        using var runner = new OnnxBatchRunner(model.Decoder, slots: 2, maxLength: model.MaxModelLength);
        runner.Execute([new RunnerRow(0, prompt, 1)]);
        // Moved in two ranges, as a transfer in pieces would move it; the last token is fed again to get its logits.
        var split = prompt.Length / 2;
        runner.Cache.Import(1, 0, runner.Cache.Export(0, 0, split));
        runner.Cache.Import(1, split, runner.Cache.Export(0, split, prompt.Length - 1));
        Assert.Equal(prompt.Length - 1, runner.Cache.Length(1));

        var logits = runner.Execute([new RunnerRow(1, [prompt[^1]], 1)]);
        Assert.Equal(alone, Continue(runner, 1, Sampler.ArgMax(logits), 12));
    }

    private static List<int> GreedyAlone(LoadedModel model, int[] prompt, int count)
    {
        using var runner = new OnnxBatchRunner(model.Decoder, slots: 1, maxLength: model.MaxModelLength);
        return Continue(runner, 0, Sampler.ArgMax(runner.Execute([new RunnerRow(0, prompt, 1)])), count);
    }

    private static List<int> Continue(OnnxBatchRunner runner, int slot, int next, int count)
    {
        var tokens = new List<int>();
        for (var i = 0; i < count; i++)
        {
            tokens.Add(next);
            next = Sampler.ArgMax(runner.Execute([new RunnerRow(slot, [next], 1)]));
        }
        return tokens;
    }
}
