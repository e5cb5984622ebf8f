using Worker.Engine;

namespace Tests.Engine;

public class StopStringMatcherTests
{
    [Fact]
    public void Add_StopSplitOverChunks_ReleasesOnlyTheTextBeforeIt()
    {
        var matcher = new StopStringMatcher(["STOP"]);

        Assert.Equal("hello ", matcher.Add("hello S"));   // "S" could start the stop string: held back
        Assert.Equal("", matcher.Add("T"));
        Assert.Equal("", matcher.Add("OP and more"));
        Assert.Equal("STOP", matcher.Matched);
    }

    [Fact]
    public void Add_PrefixThatTurnsOutNotToBeAStop_IsReleasedLater()
    {
        var matcher = new StopStringMatcher(["STOP"]);

        Assert.Equal("a", matcher.Add("aST"));
        Assert.Equal("STand", matcher.Add("and"));
        Assert.Null(matcher.Matched);
    }

    [Fact]
    public void Add_SeveralStops_TheEarliestInTheTextWins()
    {
        var matcher = new StopStringMatcher(["world", "lo"]);

        Assert.Equal("hel", matcher.Add("hello world"));
        Assert.Equal("lo", matcher.Matched);
    }

    [Fact]
    public void Flush_AfterTheSequenceEnds_ReleasesWhatWasHeldBack()
    {
        var matcher = new StopStringMatcher(["STOP"]);

        Assert.Equal("x", matcher.Add("xST"));
        Assert.Equal("ST", matcher.Flush());
    }

    [Fact]
    public void Add_WithoutStops_PassesTextThrough()
    {
        var matcher = new StopStringMatcher([]);
        Assert.Equal("anything", matcher.Add("anything"));
    }
}
