using System.Globalization;
using System.Text;
using MetricsContract;

namespace ServiceDefaults.Metrics;

/// <summary>
/// Edits a rendered scrape (classic text or OpenMetrics) family by family: keeps only the families a client
/// asked for with name[] (as prometheus_client does: a family matches by its name or any of its sample names),
/// adds the eager histogram series OpenTelemetry has not created yet, at zero, and drops empty exemplars
/// (<c># {}</c>: measurements made outside any request, which exemplars cannot point anywhere from).
/// </summary>
public static class Exposition
{
    public static string Rewrite(string scrape, bool openMetrics, IReadOnlyList<EagerHistogramSeries> eager, IReadOnlySet<string>? names)
    {
        // The common case, a full scrape once every histogram has been observed, leaves the page as it is.
        var emptyExemplars = openMetrics && scrape.Contains(EmptyExemplar, StringComparison.Ordinal);
        if (names is null && !emptyExemplars && eager.All(series => scrape.Contains(CountSample(series), StringComparison.Ordinal)))
        {
            return scrape;
        }
        var (blocks, eof) = Split(scrape);
        AddMissingZeroSeries(blocks, eager, openMetrics);
        var output = new StringBuilder(scrape.Length + 1024);
        foreach (var block in blocks)
        {
            if (names is null || names.Contains(block.Family) || block.SampleNames().Any(names.Contains))
            {
                foreach (var line in block.Lines)
                {
                    var exemplarAt = emptyExemplars ? line.IndexOf(EmptyExemplar, StringComparison.Ordinal) : -1;
                    output.Append(exemplarAt < 0 ? line : line[..exemplarAt]).Append('\n');
                }
            }
        }
        if (eof)
        {
            output.Append("# EOF\n");
        }
        return output.ToString();
    }

    private const string EmptyExemplar = " # {} ";

    private sealed class Block(string family)
    {
        public string Family { get; } = family;

        public List<string> Lines { get; } = [];

        public IEnumerable<string> SampleNames() => Lines.Where(l => !l.StartsWith('#')).Select(l => l[..l.IndexOfAny(['{', ' '])]);
    }

    private static (List<Block> Blocks, bool Eof) Split(string scrape)
    {
        var blocks = new List<Block>();
        var eof = false;
        foreach (var line in scrape.Split('\n'))
        {
            if (line.Length == 0)
            {
                continue;
            }
            if (line == "# EOF")
            {
                eof = true;
                continue;
            }
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal) || line.StartsWith("# HELP ", StringComparison.Ordinal) || line.StartsWith("# UNIT ", StringComparison.Ordinal))
            {
                var family = line.Split(' ')[2];
                if (blocks.Count == 0 || blocks[^1].Family != family)
                {
                    blocks.Add(new Block(family));
                }
            }
            else if (blocks.Count == 0)
            {
                blocks.Add(new Block(line[..line.IndexOfAny(['{', ' '])]));
            }
            blocks[^1].Lines.Add(line);
        }
        return (blocks, eof);
    }

    private static void AddMissingZeroSeries(List<Block> blocks, IReadOnlyList<EagerHistogramSeries> eager, bool openMetrics)
    {
        foreach (var series in eager)
        {
            var name = series.Family.Name;
            var labels = Labels(series.Labels, le: null);
            var countSample = CountSample(series);
            var block = blocks.FirstOrDefault(b => b.Family == name);
            if (block is null)
            {
                block = new Block(name);
                block.Lines.Add($"# TYPE {name} histogram");
                block.Lines.Add($"# HELP {name} {EscapeHelp(series.Family.Description)}");
                blocks.Add(block);
            }
            else if (block.Lines.Any(l => l.StartsWith(countSample, StringComparison.Ordinal)))
            {
                continue;
            }
            foreach (var bound in series.Bounds)
            {
                block.Lines.Add($"{name}_bucket{Labels(series.Labels, FormatBound(bound, openMetrics))} 0");
            }
            block.Lines.Add($"{name}_bucket{Labels(series.Labels, "+Inf")} 0");
            block.Lines.Add($"{name}_sum{labels} 0");
            block.Lines.Add($"{name}_count{labels} 0");
        }
    }

    private static string CountSample(EagerHistogramSeries series) => $"{series.Family.Name}_count{Labels(series.Labels, le: null)} ";

    /// <summary>Labels sorted by name with le last, as OpenTelemetry's exporter writes them.</summary>
    private static string Labels(IReadOnlyDictionary<string, string> labels, string? le)
    {
        var pairs = labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}=\"{EscapeLabel(l.Value)}\"").ToList();
        if (le is not null)
        {
            pairs.Add($"le=\"{le}\"");
        }
        return pairs.Count == 0 ? "" : "{" + string.Join(',', pairs) + "}";
    }

    /// <summary>OpenMetrics writes bounds canonically (1.0, 2560.0); the classic format as the shortest number (1, 2560).</summary>
    private static string FormatBound(double bound, bool openMetrics)
    {
        var text = bound.ToString("R", CultureInfo.InvariantCulture);
        return openMetrics && !text.Contains('.') && !text.Contains('E') ? text + ".0" : text;
    }

    private static string EscapeLabel(string value) => value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");

    private static string EscapeHelp(string value) => value.Replace("\\", "\\\\").Replace("\n", "\\n");
}
