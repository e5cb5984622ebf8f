using Google.FlatBuffers;

namespace ModelBuilder;

/// <summary>
/// ONNX Runtime's LoRA adapter file (<c>.onnx_adapter</c>): a FlatBuffer with identifier "TORT" whose root table is
/// <c>Adapter { format_version, adapter_version, model_version, parameters: [Parameter { name, dims, data_type,
/// raw_data }] }</c> (onnxruntime/lora/adapter_format/adapter_schema.fbs). Each parameter is named after the graph input
/// it feeds. Written here for the models this project builds; read by the worker to check an adapter against its
/// base before ONNX Runtime's own LoRA API (<c>OrtLoraAdapter</c>) loads it.
/// </summary>
public static class OnnxAdapterFile
{
    public const string Extension = ".onnx_adapter";

    /// <summary>The schema's format_version ONNX Runtime reads.</summary>
    public const int FormatVersion = 1;

    private const string Identifier = "TORT";
    private const int FloatType = 1; // TensorDataType.FLOAT

    /// <summary>One float32 parameter: the graph input it feeds, its shape, its values.</summary>
    public sealed record Parameter(string Name, long[] Dims, float[] Values);

    /// <param name="modelVersion">The base model's ModelProto.model_version: an adapter for another base is told apart.</param>
    public static byte[] Write(IReadOnlyList<Parameter> parameters, int modelVersion, int adapterVersion = 1)
    {
        var builder = new FlatBufferBuilder(1 << 16);
        var offsets = parameters.Select(p => WriteParameter(builder, p)).ToArray();
        builder.StartVector(4, offsets.Length, 4);
        for (var i = offsets.Length - 1; i >= 0; i--)
        {
            builder.AddOffset(offsets[i].Value);
        }
        var vector = builder.EndVector();
        builder.StartTable(4);
        builder.AddInt(0, FormatVersion, 0);
        builder.AddInt(1, adapterVersion, 0);
        builder.AddInt(2, modelVersion, 0);
        builder.AddOffset(3, vector.Value, 0);
        builder.Finish(builder.EndTable(), Identifier);
        return builder.SizedByteArray();
    }

    /// <summary>The adapter's model_version and its parameters' names, shapes and types (not their values).</summary>
    /// <exception cref="FormatException">Not an ONNX Runtime adapter file.</exception>
    public static (int ModelVersion, IReadOnlyList<(string Name, long[] Dims, int DataType)> Parameters) ReadHeader(byte[] bytes)
    {
        var buffer = new ByteBuffer(bytes);
        if (bytes.Length < 8 || !Table.__has_identifier(buffer, Identifier))
        {
            throw new FormatException("it is not an ONNX Runtime adapter file (no \"TORT\" identifier)");
        }
        var root = new Table(buffer.GetInt(0), buffer);
        if (Int(root, 0) != FormatVersion)
        {
            throw new FormatException($"its format_version is {Int(root, 0)}; ONNX Runtime reads {FormatVersion}");
        }
        var parameters = new List<(string, long[], int)>();
        var vectorField = root.__offset(10);
        for (var i = 0; vectorField != 0 && i < root.__vector_len(vectorField); i++)
        {
            var parameter = new Table(root.__indirect(root.__vector(vectorField) + i * 4), buffer);
            var name = parameter.__offset(4) != 0 ? parameter.__string(parameter.__offset(4) + parameter.bb_pos) : "";
            var dimsField = parameter.__offset(6);
            var dims = new long[dimsField == 0 ? 0 : parameter.__vector_len(dimsField)];
            for (var d = 0; d < dims.Length; d++)
            {
                dims[d] = buffer.GetLong(parameter.__vector(dimsField) + d * 8);
            }
            parameters.Add((name, dims, Int(parameter, 2)));
        }
        return (Int(root, 2), parameters);

        static int Int(Table table, int field) => table.__offset(4 + field * 2) is var o and not 0 ? table.bb.GetInt(o + table.bb_pos) : 0;
    }

    private static Offset<Table> WriteParameter(FlatBufferBuilder builder, Parameter parameter)
    {
        var name = builder.CreateString(parameter.Name);
        builder.StartVector(8, parameter.Dims.Length, 8);
        for (var i = parameter.Dims.Length - 1; i >= 0; i--)
        {
            builder.AddLong(parameter.Dims[i]);
        }
        var dims = builder.EndVector();
        var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(parameter.Values.AsSpan());
        builder.StartVector(1, bytes.Length, 8); // raw_data is force_align 8
        for (var i = bytes.Length - 1; i >= 0; i--)
        {
            builder.AddByte(bytes[i]);
        }
        var data = builder.EndVector();
        builder.StartTable(4);
        builder.AddOffset(0, name.Value, 0);
        builder.AddOffset(1, dims.Value, 0);
        builder.AddInt(2, FloatType, 0);
        builder.AddOffset(3, data.Value, 0);
        return new Offset<Table>(builder.EndTable());
    }
}
