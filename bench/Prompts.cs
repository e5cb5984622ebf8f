namespace Bench;

/// <summary>vLLM's "random" dataset in words: seeded prompts of a fixed length from a plain vocabulary.</summary>
internal static class Prompts
{
    private static readonly string[] Words =
    [
        "the", "cat", "sat", "by", "window", "and", "watched", "rain", "it", "was", "a", "slow", "afternoon", "house",
        "quiet", "good", "server", "answers", "every", "request", "reads", "prompt", "finds", "room", "bread", "needs",
        "time", "river", "ran", "through", "valley", "old", "mill", "spring", "water", "high", "fast", "summer", "low",
        "measure", "system", "questions", "people", "ask", "how", "long", "until", "first", "word", "appears", "letter",
        "train", "late", "bridge", "closed", "station", "memory", "budget", "blocks", "cache", "market", "apples",
        "fish", "cheese", "flowers", "map", "land", "roads", "north", "clock", "snow", "garden", "kettle", "ship",
    ];

    /// <param name="dataset">random: words drawn at random; repeat: a random phrase of a quarter of the words said four
    /// times over, the kind of prompt (code edits, quoted documents) that n-gram prompt lookup speeds up.</param>
    public static string[] Generate(int count, int words, int seed, string dataset = "random")
    {
        var random = new Random(seed);
        string Phrase(int length) => string.Join(' ', Enumerable.Range(0, length).Select(_ => Words[random.Next(Words.Length)]));
        return dataset switch
        {
            "random" => Enumerable.Range(0, count).Select(_ => Phrase(words)).ToArray(),
            "repeat" => Enumerable.Range(0, count).Select(_ => string.Join(' ', Enumerable.Repeat(Phrase(Math.Max(1, words / 4)), 4))).ToArray(),
            _ => throw new ArgumentException($"--dataset must be random or repeat; got '{dataset}'."),
        };
    }
}
