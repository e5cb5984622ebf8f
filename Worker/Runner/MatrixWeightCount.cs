using Google.Protobuf;

namespace Worker.Runner;

/// <summary>
/// Counts the weights that take part in matrix products in an ONNX decoder graph (the right-hand initializer of
/// MatMul and Gemm, and MatMulNBits' K × N), the parameters that cost 2 FLOPs per fed token. Gathers (embeddings,
/// lookup tables) and norms cost none. Streams the protobuf and skips tensor data, so a model with its weights
/// inline is read without holding it in memory.
/// </summary>
public static class MatrixWeightCount
{
    // Field numbers from onnx.proto: ModelProto.graph; GraphProto.node, .initializer; NodeProto.input, .op_type,
    // .attribute; AttributeProto.name, .i; TensorProto.dims, .name.
    private const int ModelGraph = 7, GraphNode = 1, GraphInitializer = 5;
    private const int NodeInput = 1, NodeOpType = 4, NodeAttribute = 5, AttributeName = 1, AttributeInt = 3;
    private const int TensorDims = 1, TensorName = 8;

    public static long Read(string onnxPath)
    {
        using var file = File.OpenRead(onnxPath);
        using var input = new CodedInputStream(file);
        var initializers = new Dictionary<string, long>(StringComparer.Ordinal);
        var matrixInputs = new List<string>();
        long packedMatrices = 0;
        while (input.ReadTag() is var tag and not 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) != ModelGraph)
            {
                input.SkipLastField();
                continue;
            }
            ReadMessage(input, (graph, end) =>
            {
                while (graph.Position < end)
                {
                    var graphTag = graph.ReadTag();
                    switch (WireFormat.GetTagFieldNumber(graphTag))
                    {
                        case GraphNode:
                            var node = ReadNode(graph);
                            if (node.OpType is "MatMul" or "Gemm" && node.Inputs.Count >= 2)
                            {
                                matrixInputs.Add(node.Inputs[1]);
                            }
                            else if (node.OpType == "MatMulNBits")
                            {
                                packedMatrices += node.Ints.GetValueOrDefault("K") * node.Ints.GetValueOrDefault("N");
                            }
                            break;
                        case GraphInitializer:
                            var (name, elements) = ReadTensorShape(graph);
                            initializers[name] = elements;
                            break;
                        default:
                            graph.SkipLastField();
                            break;
                    }
                }
            });
        }
        return packedMatrices + matrixInputs.Sum(name => initializers.GetValueOrDefault(name));
    }

    private sealed record Node(string OpType, List<string> Inputs, Dictionary<string, long> Ints);

    private static Node ReadNode(CodedInputStream input)
    {
        var opType = "";
        var inputs = new List<string>();
        var ints = new Dictionary<string, long>(StringComparer.Ordinal);
        ReadMessage(input, (node, end) =>
        {
            while (node.Position < end)
            {
                var tag = node.ReadTag();
                switch (WireFormat.GetTagFieldNumber(tag))
                {
                    case NodeInput: inputs.Add(node.ReadString()); break;
                    case NodeOpType: opType = node.ReadString(); break;
                    case NodeAttribute:
                        var (name, value) = ReadIntAttribute(node);
                        if (value is { } i)
                        {
                            ints[name] = i;
                        }
                        break;
                    default: node.SkipLastField(); break;
                }
            }
        });
        return new Node(opType, inputs, ints);
    }

    private static (string Name, long? Value) ReadIntAttribute(CodedInputStream input)
    {
        var name = "";
        long? value = null;
        ReadMessage(input, (attribute, end) =>
        {
            while (attribute.Position < end)
            {
                var tag = attribute.ReadTag();
                switch (WireFormat.GetTagFieldNumber(tag))
                {
                    case AttributeName: name = attribute.ReadString(); break;
                    case AttributeInt: value = attribute.ReadInt64(); break;
                    default: attribute.SkipLastField(); break;
                }
            }
        });
        return (name, value);
    }

    private static (string Name, long Elements) ReadTensorShape(CodedInputStream input)
    {
        var name = "";
        var dims = new List<long>();
        ReadMessage(input, (tensor, end) =>
        {
            while (tensor.Position < end)
            {
                var tag = tensor.ReadTag();
                switch (WireFormat.GetTagFieldNumber(tag), WireFormat.GetTagWireType(tag))
                {
                    case (TensorDims, WireFormat.WireType.Varint): dims.Add(tensor.ReadInt64()); break;
                    case (TensorDims, WireFormat.WireType.LengthDelimited):
                        ReadMessage(tensor, (packed, packedEnd) =>
                        {
                            while (packed.Position < packedEnd)
                            {
                                dims.Add(packed.ReadInt64());
                            }
                        });
                        break;
                    case (TensorName, _): name = tensor.ReadString(); break;
                    default: tensor.SkipLastField(); break;
                }
            }
        });
        return (name, dims.Aggregate(1L, (product, d) => product * d));
    }

    /// <summary>Reads one length-delimited field: the callback reads fields until the stream reaches the given end.</summary>
    private static void ReadMessage(CodedInputStream input, Action<CodedInputStream, long> read)
    {
        var length = input.ReadLength();
        read(input, input.Position + length);
    }
}
