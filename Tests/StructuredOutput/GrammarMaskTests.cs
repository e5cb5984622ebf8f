using System.Text;
using Worker.StructuredOutput;

namespace Tests.StructuredOutput;

/// <summary>
/// The token mask, found by walking the vocabulary in byte order with shared prefixes and skipped subtrees, allows
/// exactly the tokens whose bytes the grammar takes from the state, and end of sequence exactly where the value is complete.
/// </summary>
public class GrammarMaskTests
{
    [Theory]
    [InlineData("""{"type":"object","properties":{"name":{"type":"string","maxLength":4},"tags":{"type":"array","items":{"enum":["a b","c"]}}},"required":["name"],"additionalProperties":false}""",
        """{"name":"Ab c","tags":["a b","c"]}""")]
    [InlineData("""{"type":"number","minimum":-3,"maximum":250}""", "-2.75")]
    public void TheMask_AllowsExactlyTheTokensTheGrammarTakes_AtEveryPointOfAValidOutput(string schema, string output)
    {
        var grammar = Grammars.Schema(schema);
        var vocabulary = grammar.Vocabulary;
        var bytes = Encoding.UTF8.GetBytes(output);
        for (var at = 0; at <= bytes.Length; at++)
        {
            var state = grammar.Advance(grammar.Start, bytes.AsSpan(0, at));
            var mask = grammar.MaskOf(state);
            for (var token = 0; token < vocabulary.Size; token++)
            {
                var tokenBytes = vocabulary.BytesOf(token);
                var expected = vocabulary.EndOfSequence.Contains(token)
                    ? state.IsComplete
                    : tokenBytes.Length > 0 && !grammar.Advance(state, tokenBytes).IsDead;
                var allowed = (mask[token >> 6] & 1UL << token) != 0;
                Assert.True(expected == allowed, $"after '{output[..Encoding.UTF8.GetCharCount(bytes, 0, at)]}', token {token} ('{Encoding.UTF8.GetString(tokenBytes)}'): expected {expected}");
            }
        }
    }

    [Fact]
    public void EndOfSequence_IsAllowedOnlyOnceTheValueIsComplete()
    {
        var grammar = Grammars.Regex("[0-9]{2,3}");
        var eos = grammar.Vocabulary.EndOfSequence[0];
        bool EosAllowed(string text) => (grammar.MaskOf(grammar.After(text))[eos >> 6] & 1UL << eos) != 0;
        Assert.False(EosAllowed(""));
        Assert.False(EosAllowed("1"));
        Assert.True(EosAllowed("12"));
        Assert.True(EosAllowed("123"));
        // Complete with nothing more allowed: end of sequence is the only token.
        Assert.Equal([eos], Grammars.Allowed(grammar.MaskOf(grammar.After("123")), grammar.Vocabulary.Size));
    }

    [Fact]
    public void MaskingLogits_LeavesOnlyAllowedTokensSampleable()
    {
        var grammar = Grammars.Compile(new StructuredOutputRequest(StructuredOutputType.Choice, """["yes","no"]""", "guided_choice"));
        var matcher = new GrammarMatcher(grammar);
        var logits = new float[grammar.Vocabulary.Size];
        Array.Fill(logits, 1f);
        matcher.Mask(matcher.State, logits);
        var open = Enumerable.Range(0, logits.Length).Where(i => !float.IsNegativeInfinity(logits[i])).ToArray();
        Assert.NotEmpty(open);
        Assert.All(open, token => Assert.True("yes".StartsWith(Decode(grammar, token), StringComparison.Ordinal) || "no".StartsWith(Decode(grammar, token), StringComparison.Ordinal)));
    }

    [Fact]
    public void TheSameSchema_IsCompiledOnce_AndTheLeastRecentlyUsedGrammarIsDropped()
    {
        var compiler = new GrammarCompiler(Grammars.Vocabulary, capacity: 2);
        StructuredOutputRequest Choice(string text) => new(StructuredOutputType.Choice, $"[\"{text}\"]", "guided_choice");
        var first = compiler.Compile(Choice("a"));
        Assert.False(first.CacheHit);
        Assert.True(compiler.Compile(Choice("a") with { Parameter = "structured_outputs.choice" }).CacheHit);
        Assert.Same(first.Grammar, compiler.Compile(Choice("a")).Grammar);
        compiler.Compile(Choice("b"));
        compiler.Compile(Choice("a")); // a is now the most recent
        compiler.Compile(Choice("c")); // drops b
        Assert.Equal(2, compiler.Count);
        Assert.True(compiler.Compile(Choice("a")).CacheHit);
        Assert.False(compiler.Compile(Choice("b")).CacheHit);
    }

    private static string Decode(Grammar grammar, int token) => Encoding.UTF8.GetString(grammar.Vocabulary.BytesOf(token));
}
