using System.Reflection;
using System.Reflection.Emit;

namespace Tests.Architecture;

/// <summary>
/// Which of an assembly's parts (the second segment of <c>Worker.X…</c>, and the ModelBuilder assembly) use which,
/// read from the compiled code: every type's base, interfaces, fields, properties, method signatures, locals, and the
/// types and members its method bodies name (the IL's token operands, lambdas and state machines included).
/// </summary>
internal static class NamespaceDependencies
{
    private static readonly OpCode[] OneByte = new OpCode[0x100];
    private static readonly OpCode[] TwoByte = new OpCode[0x100];

    static NamespaceDependencies()
    {
        foreach (var field in typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            var code = (OpCode)field.GetValue(null)!;
            var value = (ushort)code.Value;
            if (value < 0x100)
            {
                OneByte[value] = code;
            }
            else if ((value & 0xff00) == 0xfe00)
            {
                TwoByte[value & 0xff] = code;
            }
        }
    }

    /// <summary>Part → the other parts it uses.</summary>
    public static Dictionary<string, HashSet<string>> Of(Assembly assembly)
    {
        var graph = new Dictionary<string, HashSet<string>>();
        foreach (var type in assembly.GetTypes())
        {
            if (PartOf(type) is not { } part)
            {
                continue;
            }
            var uses = graph.TryGetValue(part, out var set) ? set : graph[part] = [];
            foreach (var used in TypesUsedBy(type).SelectMany(Expand).Select(PartOf).OfType<string>())
            {
                if (used != part)
                {
                    uses.Add(used);
                }
            }
        }
        return graph;
    }

    /// <summary>A cycle as the parts along it (first repeated last), or null when the graph has none.</summary>
    public static IReadOnlyList<string>? FindCycle(Dictionary<string, HashSet<string>> graph)
    {
        var done = new HashSet<string>();
        var path = new List<string>();
        List<string>? Visit(string part)
        {
            if (path.IndexOf(part) is var at and >= 0)
            {
                return [.. path[at..], part];
            }
            if (!done.Add(part))
            {
                return null;
            }
            path.Add(part);
            foreach (var next in graph.GetValueOrDefault(part, []).Order())
            {
                if (Visit(next) is { } cycle)
                {
                    return cycle;
                }
            }
            path.RemoveAt(path.Count - 1);
            return null;
        }
        return graph.Keys.Order().Select(Visit).FirstOrDefault(cycle => cycle is not null);
    }

    private static string? PartOf(Type type)
    {
        var ns = type.Namespace;
        if (ns is null)
        {
            return null;
        }
        if (ns.StartsWith("Worker.", StringComparison.Ordinal))
        {
            return ns.Split('.')[1];
        }
        return ns == "ModelBuilder" || ns.StartsWith("ModelBuilder.", StringComparison.Ordinal) ? "ModelBuilder" : null;
    }

    /// <summary>A type and what it is built of: array and by-ref elements, generic arguments.</summary>
    private static IEnumerable<Type> Expand(Type type)
    {
        while (type.HasElementType)
        {
            type = type.GetElementType()!;
        }
        if (type.IsGenericParameter)
        {
            yield break;
        }
        yield return type;
        if (type.IsGenericType && !type.IsGenericTypeDefinition)
        {
            foreach (var argument in type.GetGenericArguments().SelectMany(Expand))
            {
                yield return argument;
            }
        }
    }

    private static IEnumerable<Type> TypesUsedBy(Type type)
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        if (type.BaseType is { } baseType)
        {
            yield return baseType;
        }
        foreach (var implemented in type.GetInterfaces())
        {
            yield return implemented;
        }
        foreach (var field in type.GetFields(all))
        {
            yield return field.FieldType;
        }
        foreach (var property in type.GetProperties(all))
        {
            yield return property.PropertyType;
        }
        foreach (var method in type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)))
        {
            if (method is MethodInfo { ReturnType: var returned })
            {
                yield return returned;
            }
            foreach (var parameter in method.GetParameters())
            {
                yield return parameter.ParameterType;
            }
            if (method.GetMethodBody() is not { } body)
            {
                continue;
            }
            foreach (var local in body.LocalVariables)
            {
                yield return local.LocalType;
            }
            foreach (var used in TypesNamedIn(method, body.GetILAsByteArray() ?? []))
            {
                yield return used;
            }
        }
    }

    /// <summary>The types that the method body's field, method, type and token operands belong to.</summary>
    private static IEnumerable<Type> TypesNamedIn(MethodBase method, byte[] il)
    {
        var typeArguments = method.DeclaringType is { IsGenericType: true } declaring ? declaring.GetGenericArguments() : null;
        var methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : null;
        for (var at = 0; at < il.Length;)
        {
            var code = il[at] == 0xfe ? TwoByte[il[++at]] : OneByte[il[at]];
            at++;
            switch (code.OperandType)
            {
                case OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineTok or OperandType.InlineType:
                    var member = method.Module.ResolveMember(BitConverter.ToInt32(il, at), typeArguments, methodArguments);
                    if (member is Type named)
                    {
                        yield return named;
                    }
                    else if (member?.DeclaringType is { } owner)
                    {
                        yield return owner;
                    }
                    if (member is MethodInfo { IsGenericMethod: true } generic)
                    {
                        foreach (var argument in generic.GetGenericArguments())
                        {
                            yield return argument;
                        }
                    }
                    at += 4;
                    break;
                case OperandType.InlineSwitch:
                    at += 4 + 4 * BitConverter.ToInt32(il, at);
                    break;
                default:
                    at += OperandSize(code.OperandType);
                    break;
            }
        }
    }

    private static int OperandSize(OperandType type) => type switch
    {
        OperandType.InlineNone => 0,
        OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
        OperandType.InlineVar => 2,
        OperandType.InlineI8 or OperandType.InlineR => 8,
        _ => 4,
    };
}
