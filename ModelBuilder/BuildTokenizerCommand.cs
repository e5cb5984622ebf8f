namespace ModelBuilder;

/// <summary>
/// <c>Worker build-tokenizer --out DIR --vocab-size N --corpus FILE [FILE …]</c>: trains a byte-level BPE tokenizer of
/// about N tokens on the files' text and writes it as Hugging Face tokenizer files (tokenizer.json,
/// tokenizer_config.json): a vocabulary of a real model's size for benchmarks (structured output's masks walk it).
/// </summary>
public static class BuildTokenizerCommand
{
    public const string Name = "build-tokenizer";

    public static int Run(string[] args)
    {
        string? output = null;
        var vocabSize = 0;
        var corpus = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--out" when i + 1 < args.Length:
                    output = args[++i];
                    break;
                case "--vocab-size" when i + 1 < args.Length && int.TryParse(args[i + 1], out var size) && size > 258:
                    vocabSize = size;
                    i++;
                    break;
                case "--corpus":
                    while (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
                    {
                        corpus.Add(args[++i]);
                    }
                    break;
                default:
                    Console.Error.WriteLine($"Unexpected argument '{args[i]}'.");
                    return Usage();
            }
        }
        if (output is null || vocabSize == 0 || corpus.Count == 0)
        {
            return Usage();
        }

        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        // Paragraphs as documents; merges of pairs seen once too, so that a small corpus still reaches the size.
        var documents = corpus.SelectMany(file => File.ReadAllText(file).Split("\n\n")).Concat(Corpus.Documents).ToList();
        var vocabulary = BpeTrainer.Train(documents, vocabSize - 258, minPairCount: 1);
        Directory.CreateDirectory(output);
        TokenizerFiles.Write(vocabulary, output);
        Console.WriteLine($"Trained a {vocabulary.Count}-token BPE tokenizer on {documents.Sum(d => d.Length):N0} characters into {output} " +
                          $"in {System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds:F1} s.");
        return 0;
    }

    private static int Usage()
    {
        Console.Error.WriteLine("usage: build-tokenizer --out DIR --vocab-size N --corpus FILE [FILE ...]");
        return 2;
    }
}
