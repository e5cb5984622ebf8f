namespace ModelBuilder;

/// <summary><c>Worker build-model --out DIR [--size tiny|small]</c>: writes a model folder (and its draft in DIR/draft).</summary>
public static class BuildModelCommand
{
    public const string Name = "build-model";

    public static int Run(string[] args)
    {
        string? output = null;
        var size = ModelSize.Tiny;
        try
        {
            for (var i = 0; i < args.Length; i++)
            {
                switch (args[i])
                {
                    case "--out" when i + 1 < args.Length:
                        output = args[++i];
                        break;
                    case "--size" when i + 1 < args.Length:
                        size = ModelSize.Parse(args[++i]);
                        break;
                    default:
                        throw new ArgumentException($"Unexpected argument '{args[i]}'.");
                }
            }
            if (output is null)
            {
                throw new ArgumentException("--out DIR is required.");
            }
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine("usage: build-model --out DIR [--size tiny|small]");
            return 2;
        }

        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        ModelFolderBuilder.Build(size, output);
        Console.WriteLine($"Built the {size.Name} model in {output} (draft in {Path.Combine(output, ModelFolderBuilder.DraftFolderName)}) " +
                          $"in {System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds:F1} s.");
        return 0;
    }
}
