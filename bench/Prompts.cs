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

    public static string[] Generate(int count, int words, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count)
            .Select(_ => string.Join(' ', Enumerable.Range(0, words).Select(_ => Words[random.Next(Words.Length)])))
            .ToArray();
    }
}
