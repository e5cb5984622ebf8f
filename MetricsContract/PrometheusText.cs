using System.Globalization;
using System.Text;

namespace MetricsContract;

public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value, string? Exemplar);

public sealed record Family(string Name, string Type, string? Help, List<Sample> Samples)
{
    public Sample Single(params (string Key, string Value)[] labels) =>
        Samples.Single(s => s.Name == Name && labels.All(l => s.Labels.GetValueOrDefault(l.Key) == l.Value));

    public double Value(params (string Key, string Value)[] labels) => Single(labels).Value;

    /// <summary>A histogram's _sum or _count for the given labels.</summary>
    public double Of(string suffix, params (string Key, string Value)[] labels) =>
        Samples.Single(s => s.Name == Name + suffix && labels.All(l => s.Labels.GetValueOrDefault(l.Key) == l.Value)).Value;

    public double[] BucketBounds() => Samples.Where(s => s.Name == Name + "_bucket").Select(s => s.Labels["le"]).Distinct()
        .Select(le => le == "+Inf" ? double.PositiveInfinity : double.Parse(le, CultureInfo.InvariantCulture)).ToArray();
}

/// <summary>A parser for the Prometheus text and OpenMetrics formats, enough to check what /metrics says.</summary>
public static class PrometheusText
{
    public static Dictionary<string, Family> Parse(string text)
    {
        var families = new Dictionary<string, Family>(StringComparer.Ordinal);
        Family? current = null;
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line == "# EOF")
            {
                continue;
            }
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var parts = line.Split(' ');
                current = Get(families, parts[2]);
                families[parts[2]] = current with { Type = parts[3] };
                current = families[parts[2]];
                continue;
            }
            if (line.StartsWith("# HELP ", StringComparison.Ordinal))
            {
                var name = line.Split(' ')[2];
                families[name] = Get(families, name) with { Help = line[(8 + name.Length)..] };
                current = families[name];
                continue;
            }
            if (line.StartsWith('#'))
            {
                continue;
            }
            var sample = ParseSample(line);
            (current is not null && sample.Name.StartsWith(current.Name, StringComparison.Ordinal) ? current : Get(families, sample.Name)).Samples.Add(sample);
        }
        return families;
    }

    private static Family Get(Dictionary<string, Family> families, string name)
    {
        if (!families.TryGetValue(name, out var family))
        {
            family = new Family(name, "untyped", null, []);
            families[name] = family;
        }
        return family;
    }

    private static Sample ParseSample(string line)
    {
        var i = line.IndexOfAny(['{', ' ']);
        var name = line[..i];
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (line[i] == '{')
        {
            i++;
            while (line[i] != '}')
            {
                var equals = line.IndexOf('=', i);
                var key = line[i..equals].TrimStart(',');
                var value = new StringBuilder();
                var j = equals + 2;
                for (; line[j] != '"'; j++)
                {
                    if (line[j] == '\\')
                    {
                        j++;
                        value.Append(line[j] == 'n' ? '\n' : line[j]);
                    }
                    else
                    {
                        value.Append(line[j]);
                    }
                }
                labels[key] = value.ToString();
                i = j + 1;
                if (line[i] == ',')
                {
                    i++;
                }
            }
            i++;
        }
        var rest = line[(i + 1)..];
        var exemplarAt = rest.IndexOf(" # ", StringComparison.Ordinal);
        var exemplar = exemplarAt >= 0 ? rest[(exemplarAt + 3)..] : null;
        var valueText = (exemplarAt >= 0 ? rest[..exemplarAt] : rest).Split(' ')[0];
        var number = valueText switch
        {
            "+Inf" => double.PositiveInfinity,
            "-Inf" => double.NegativeInfinity,
            "NaN" => double.NaN,
            _ => double.Parse(valueText, CultureInfo.InvariantCulture),
        };
        return new Sample(name, labels, number, exemplar);
    }
}
