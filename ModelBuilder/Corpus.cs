namespace ModelBuilder;

/// <summary>The project's own training text (Models/corpus.txt, embedded): documents separated by end-of-text.</summary>
internal static class Corpus
{
    public static IReadOnlyList<string> Documents { get; } = Load();

    /// <summary>All documents, each followed by the end-of-text token, as the models see them.</summary>
    public static string Text { get; } = string.Concat(Documents.Select(d => d + BpeVocabulary.EndOfText));

    private static string[] Load()
    {
        using var stream = typeof(Corpus).Assembly.GetManifestResourceStream("ModelBuilder.corpus.txt")
            ?? throw new InvalidOperationException("The embedded corpus is missing from the Worker assembly.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd()
            .Split(BpeVocabulary.EndOfText)
            .Select(d => d.Trim())
            .Where(d => d.Length > 0)
            .ToArray();
    }
}
