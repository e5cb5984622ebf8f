using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace ModelBuilder;

/// <summary>A thin layer over ONNX protobuf types: nodes with generated names, typed inputs and initializers.</summary>
internal sealed class OnnxGraphBuilder
{
    private readonly GraphProto _graph = new() { Name = "decoder" };
    private int _nextId;

    public string Input(string name, TensorProto.Types.DataType type, params string[] dims)
    {
        _graph.Input.Add(ValueInfo(name, type, dims));
        return name;
    }

    /// <summary>An input that an initializer of the same name backs when a run does not feed it (here: empty tensors).</summary>
    public string InputWithDefault(string name, TensorProto.Types.DataType type, string[] dims, long[] defaultDims)
    {
        Input(name, type, dims);
        var tensor = new TensorProto { Name = name, DataType = (int)type };
        tensor.Dims.AddRange(defaultDims);
        tensor.RawData = ByteString.Empty;
        _graph.Initializer.Add(tensor);
        return name;
    }

    public void Output(string name, TensorProto.Types.DataType type, params string[] dims) =>
        _graph.Output.Add(ValueInfo(name, type, dims));

    public string Weights(string name, float[] values, params long[] dims)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.AddRange(dims);
        tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
        _graph.Initializer.Add(tensor);
        return name;
    }

    public string Int64s(string name, params long[] values)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.Add(values.Length);
        tensor.Int64Data.AddRange(values);
        _graph.Initializer.Add(tensor);
        return name;
    }

    public string ScalarInt64(string name, long value)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Int64Data.Add(value);
        _graph.Initializer.Add(tensor);
        return name;
    }

    /// <summary>Adds a node with one output named after its op; returns that output.</summary>
    public string Node(string op, string[] inputs, params (string Name, object Value)[] attributes) =>
        NodeWithOutputs(op, inputs, [$"{op.ToLowerInvariant()}_{_nextId}"], "", attributes)[0];

    public string[] NodeWithOutputs(string op, string[] inputs, string[] outputs, string domain, params (string Name, object Value)[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = $"{op}_{_nextId++}", Domain = domain };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        foreach (var (name, value) in attributes)
        {
            node.Attribute.Add(value switch
            {
                long i => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = i },
                float f => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = f },
                long[] ints => IntsAttribute(name, ints),
                _ => throw new ArgumentException($"Unsupported attribute type for {name}"),
            });
        }
        _graph.Node.Add(node);
        return outputs;
    }

    public ModelProto ToModel() => new()
    {
        IrVersion = 8,
        ProducerName = "Worker.Models",
        Graph = _graph,
        OpsetImport =
        {
            new OperatorSetIdProto { Domain = "", Version = 17 },
            new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 },
        },
    };

    private static AttributeProto IntsAttribute(string name, long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    private static ValueInfoProto ValueInfo(string name, TensorProto.Types.DataType type, string[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var dim in dims)
        {
            shape.Dim.Add(long.TryParse(dim, out var value)
                ? new TensorShapeProto.Types.Dimension { DimValue = value }
                : new TensorShapeProto.Types.Dimension { DimParam = dim });
        }
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }
}
