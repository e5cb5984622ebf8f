using CsCheck;
using Worker.Output;

namespace Tests.Engine;

public class StopStringMatcherTests
{
    [Fact]
    public void Add_StopSplitOverChunks_ReleasesOnlyTheTextBeforeIt()
    {
        var matcher = new StopStringMatcher(StopStrings.For(["STOP"]));

        Assert.Equal("hello ", matcher.Add("hello S"));   // "S" could start the stop string: held back
        Assert.Equal("", matcher.Add("T"));
        Assert.Equal("", matcher.Add("OP and more"));
        Assert.Equal("STOP", matcher.Matched);
    }

    [Fact]
    public void Add_PrefixThatTurnsOutNotToBeAStop_IsReleasedLater()
    {
        var matcher = new StopStringMatcher(StopStrings.For(["STOP"]));

        Assert.Equal("a", matcher.Add("aST"));
        Assert.Equal("STand", matcher.Add("and"));
        Assert.Null(matcher.Matched);
    }

    [Fact]
    public void Add_SeveralStops_TheEarliestInTheTextWins()
    {
        var matcher = new StopStringMatcher(StopStrings.For(["world", "lo"]));

        Assert.Equal("hel", matcher.Add("hello world"));
        Assert.Equal("lo", matcher.Matched);
    }

    [Fact]
    public void Flush_AfterTheSequenceEnds_ReleasesWhatWasHeldBack()
    {
        var matcher = new StopStringMatcher(StopStrings.For(["STOP"]));

        Assert.Equal("x", matcher.Add("xST"));
        Assert.Equal("ST", matcher.Flush());
    }

    [Fact]
    public void Add_WithoutStops_PassesTextThrough()
    {
        var matcher = new StopStringMatcher(StopStrings.For([]));
        Assert.Equal("anything", matcher.Add("anything"));
    }
}

/// <summary>The automaton against the plain definition, on random stop strings and text cut into random chunks.</summary>
public class StopStringMatcherPropertyTests
{
    private static readonly Gen<string> Small = Gen.Char["ab c"].Array[1, 5].Select(chars => new string(chars));

    [Fact]
    public void ReleasedText_IsEverythingBeforeTheFirstStopToComplete_HoweverTheTextIsChunked()
    {
        var cases = from stops in Small.Array[1, 4]
                    from chunks in Gen.Char["ab c"].Array[0, 6].Select(chars => new string(chars)).Array[0, 8]
                    select (stops, chunks);

        Check.Sample(cases, sample =>
        {
            var (stops, chunks) = sample;
            var matcher = new StopStringMatcher(StopStrings.For(stops));
            var released = new System.Text.StringBuilder();
            foreach (var chunk in chunks)
            {
                released.Append(matcher.Add(chunk));
                if (matcher.Matched is not null)
                {
                    break;
                }
            }
            if (matcher.Matched is null)
            {
                released.Append(matcher.Flush());
            }

            var text = string.Concat(chunks);
            var first = stops
                .SelectMany(stop => Enumerable.Range(0, Math.Max(0, text.Length - stop.Length + 1)).Where(at => string.CompareOrdinal(text, at, stop, 0, stop.Length) == 0).Select(at => (Stop: stop, End: at + stop.Length)))
                .OrderBy(m => m.End).ThenByDescending(m => m.Stop.Length)
                .Select(m => ((string Stop, int End)?)m)
                .FirstOrDefault();
            Assert.Equal(first?.Stop, matcher.Matched);
            Assert.Equal(first is { } m ? text[..(m.End - m.Stop.Length)] : text, released.ToString());
        }, iter: 5000);
    }
}
