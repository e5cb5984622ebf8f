namespace ModelBuilder;

/// <summary>
/// <c>Worker build-model --out DIR [--size tiny|small] [--lora NAME …]</c>: writes a model folder, its draft in
/// DIR/draft, and each named LoRA adapter in DIR/lora/NAME (the model is then LoRA-ready).
/// </summary>
public static class BuildModelCommand
{
    public const string Name = "build-model";

    public static int Run(string[] args)
    {
        string? output = null;
        var size = ModelSize.Tiny;
        var adapters = new List<string>();
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
                    case "--lora" when i + 1 < args.Length:
                        adapters.Add(AdapterName(args[++i]));
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
            Console.Error.WriteLine("usage: build-model --out DIR [--size tiny|small] [--lora NAME ...]");
            return 2;
        }

        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        ModelFolderBuilder.Build(size, output, adapters);
        var lora = adapters.Count == 0 ? "" : $", LoRA adapters {string.Join(", ", adapters)} in {Path.Combine(output, ModelFolderBuilder.LoraFolderName)}";
        Console.WriteLine($"Built the {size.Name} model in {output} (draft in {Path.Combine(output, ModelFolderBuilder.DraftFolderName)}{lora}) " +
                          $"in {System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds:F1} s.");
        return 0;
    }

    private static string AdapterName(string name) =>
        name.Length > 0 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') && name[0] != '.'
            ? name
            : throw new ArgumentException($"'{name}' is not an adapter name: use letters, digits, '-', '_' and '.'.");
}
