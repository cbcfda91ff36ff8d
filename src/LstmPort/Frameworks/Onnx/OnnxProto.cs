using System.Text;
using LstmPort.Containers;

namespace LstmPort.Frameworks.Onnx;

/// <summary>
/// The few ONNX messages LstmPort reads and writes, decoded by hand from the field numbers of ONNX's
/// official schema, onnx/onnx.proto (https://github.com/onnx/onnx/blob/main/onnx/onnx.proto, proto2,
/// package onnx). Unknown fields are skipped, so newer writers still read.
/// <code>
/// ModelProto         ir_version=1 (int64), producer_name=2, producer_version=3, domain=4, model_version=5,
///                    doc_string=6, graph=7 (GraphProto), opset_import=8 (OperatorSetIdProto), metadata_props=14
/// OperatorSetIdProto domain=1 (string), version=2 (int64)
/// GraphProto         node=1 (NodeProto), name=2, initializer=5 (TensorProto), doc_string=10,
///                    input=11, output=12, value_info=13 (ValueInfoProto), sparse_initializer=15
/// NodeProto          input=1, output=2 (string), name=3, op_type=4, attribute=5 (AttributeProto), doc_string=6, domain=7
/// AttributeProto     name=1, f=2 (float), i=3 (int64), s=4 (bytes), t=5 (TensorProto), g=6 (GraphProto),
///                    floats=7, ints=8, strings=9, tensors=10, graphs=11, type=20 (AttributeType)
///                    AttributeType: FLOAT=1 INT=2 STRING=3 TENSOR=4 GRAPH=5 FLOATS=6 INTS=7 STRINGS=8 TENSORS=9 GRAPHS=10
/// ValueInfoProto     name=1, type=2 (TypeProto)
/// TypeProto          tensor_type=1 (TypeProto.Tensor: elem_type=1 (int32), shape=2 (TensorShapeProto))
/// TensorShapeProto   dim=1 (Dimension: dim_value=1 (int64), dim_param=2 (string))
/// TensorProto        dims=1 (int64), data_type=2 (int32), float_data=4, int32_data=5, string_data=6, int64_data=7,
///                    name=8, raw_data=9 (bytes, little-endian), double_data=10, uint64_data=11, doc_string=12,
///                    external_data=13 (StringStringEntryProto key=1 value=2: location, offset, length), data_location=14 (EXTERNAL=1)
/// TensorProto.DataType FLOAT=1 UINT8=2 INT8=3 UINT16=4 INT16=5 INT32=6 INT64=7 STRING=8 BOOL=9 FLOAT16=10 DOUBLE=11 UINT32=12 UINT64=13 BFLOAT16=16
/// </code>
/// </summary>
internal static class OnnxProto
{
    /// <summary>Graphs nest through If/Loop/Scan attributes; deeper nesting than this is refused (a hostile file could recurse without end).</summary>
    public const int MaxGraphDepth = 16;
    /// <summary>At most this many values in one typed data field (the same bound as the largest tensor LstmPort reads in memory).</summary>
    public const int MaxValues = 1 << 28;

    public static OnnxModel ParseModel(ReadOnlyMemory<byte> bytes)
    {
        var m = new OnnxModel();
        var r = new ProtoReader(bytes);
        while (r.Next())
        {
            switch (r.Field)
            {
                case 1: m.IrVersion = r.Int64(); break;
                case 2: m.ProducerName = r.String(); break;
                case 3: m.ProducerVersion = r.String(); break;
                case 7: m.Graph = ParseGraph(r.Bytes(), 0); break;
                case 8:
                    string domain = ""; long version = 0;
                    var o = new ProtoReader(r.Bytes());
                    while (o.Next())
                    {
                        if (o.Field == 1) domain = o.String();
                        else if (o.Field == 2) version = o.Int64();
                        else o.SkipField();
                    }
                    m.Opsets.Add((domain, version));
                    break;
                default: r.SkipField(); break;
            }
        }
        return m;
    }

    static OnnxGraph ParseGraph(ReadOnlyMemory<byte> bytes, int depth)
    {
        if (depth > MaxGraphDepth) throw new InvalidDataException($"subgraphs nest deeper than {MaxGraphDepth} levels");
        var g = new OnnxGraph();
        var r = new ProtoReader(bytes);
        while (r.Next())
        {
            switch (r.Field)
            {
                case 1: g.Nodes.Add(ParseNode(r.Bytes(), depth)); break;
                case 2: g.Name = r.String(); break;
                case 5: g.Initializers.Add(ParseTensor(r.Bytes())); break;
                case 11: g.Inputs.Add(ParseValueInfo(r.Bytes())); break;
                case 12: g.Outputs.Add(ParseValueInfo(r.Bytes())); break;
                default: r.SkipField(); break;
            }
        }
        return g;
    }

    static OnnxNode ParseNode(ReadOnlyMemory<byte> bytes, int depth)
    {
        var n = new OnnxNode();
        var r = new ProtoReader(bytes);
        while (r.Next())
        {
            switch (r.Field)
            {
                case 1: n.Inputs.Add(r.String()); break;
                case 2: n.Outputs.Add(r.String()); break;
                case 3: n.Name = r.String(); break;
                case 4: n.OpType = r.String(); break;
                case 5: n.Attributes.Add(ParseAttribute(r.Bytes(), depth)); break;
                case 7: n.Domain = r.String(); break;
                default: r.SkipField(); break;
            }
        }
        return n;
    }

    static OnnxAttribute ParseAttribute(ReadOnlyMemory<byte> bytes, int depth)
    {
        var a = new OnnxAttribute();
        var r = new ProtoReader(bytes);
        while (r.Next())
        {
            switch (r.Field)
            {
                case 1: a.Name = r.String(); break;
                case 2: a.F = r.Float(); break;
                case 3: a.I = r.Int64(); break;
                case 4: a.S = Encoding.UTF8.GetString(r.Bytes().Span); break;
                case 5: a.T = ParseTensor(r.Bytes()); break;
                case 6: a.Graphs.Add(ParseGraph(r.Bytes(), depth + 1)); break;
                case 7: r.RepeatedFloat(a.Floats, MaxValues); break;
                case 8: r.RepeatedInt64(a.Ints, MaxValues); break;
                case 9: a.Strings.Add(Encoding.UTF8.GetString(r.Bytes().Span)); break;
                case 11: a.Graphs.Add(ParseGraph(r.Bytes(), depth + 1)); break;
                case 20: a.Type = r.Int32(); break;
                default: r.SkipField(); break;
            }
        }
        return a;
    }

    static OnnxValueInfo ParseValueInfo(ReadOnlyMemory<byte> bytes)
    {
        var v = new OnnxValueInfo();
        var r = new ProtoReader(bytes);
        while (r.Next())
        {
            if (r.Field == 1) { v.Name = r.String(); continue; }
            if (r.Field != 2) { r.SkipField(); continue; }
            var type = new ProtoReader(r.Bytes());
            while (type.Next())
            {
                if (type.Field != 1) { type.SkipField(); continue; }
                var tensor = new ProtoReader(type.Bytes());
                while (tensor.Next())
                {
                    if (tensor.Field == 1) v.ElemType = tensor.Int32();
                    else if (tensor.Field == 2)
                    {
                        v.Shape = [];
                        var shape = new ProtoReader(tensor.Bytes());
                        while (shape.Next())
                        {
                            if (shape.Field != 1) { shape.SkipField(); continue; }
                            long? dim = null;
                            var d = new ProtoReader(shape.Bytes());
                            while (d.Next())
                            {
                                if (d.Field == 1) dim = d.Int64();
                                else d.SkipField();
                            }
                            v.Shape.Add(dim);
                        }
                    }
                    else tensor.SkipField();
                }
            }
        }
        return v;
    }

    public static OnnxTensorProto ParseTensor(ReadOnlyMemory<byte> bytes)
    {
        var t = new OnnxTensorProto();
        var r = new ProtoReader(bytes);
        while (r.Next())
        {
            switch (r.Field)
            {
                case 1: r.RepeatedInt64(t.Dims, 64); break;
                case 2: t.DataType = r.Int32(); break;
                case 4: r.RepeatedFloat(t.FloatData, MaxValues); break;
                case 5: r.RepeatedInt64(t.Int32Data, MaxValues); break;
                case 7: r.RepeatedInt64(t.Int64Data, MaxValues); break;
                case 8: t.Name = r.String(); break;
                case 9: t.Raw = r.Bytes(); break;
                case 10: r.RepeatedDouble(t.DoubleData, MaxValues); break;
                case 13:
                    string key = "", value = "";
                    var e = new ProtoReader(r.Bytes());
                    while (e.Next())
                    {
                        if (e.Field == 1) key = e.String();
                        else if (e.Field == 2) value = e.String();
                        else e.SkipField();
                    }
                    t.External[key] = value;
                    break;
                case 14: t.DataLocation = r.Int32(); break;
                default: r.SkipField(); break;
            }
        }
        return t;
    }

    // ---- writing ----

    public static ProtoWriter Tensor(string name, long[] dims, int dataType, ReadOnlySpan<byte> raw)
    {
        var w = new ProtoWriter().PackedInt64(1, dims).Int64(2, dataType).String(8, name);
        return w.Bytes(9, raw);
    }

    public static ProtoWriter ValueInfo(string name, int elemType, IEnumerable<long?> shape, IReadOnlyList<string>? symbolic = null)
    {
        var dims = new ProtoWriter();
        int i = 0;
        foreach (var d in shape)
        {
            var dim = new ProtoWriter();
            if (d is long v) dim.Int64(1, v);
            else dim.String(2, symbolic is not null && i < symbolic.Count ? symbolic[i] : $"d{i}");
            dims.Message(1, dim);
            i++;
        }
        var tensor = new ProtoWriter().Int64(1, elemType).Message(2, dims);
        var type = new ProtoWriter().Message(1, tensor);
        return new ProtoWriter().String(1, name).Message(2, type);
    }

    public static ProtoWriter IntAttribute(string name, long v) => new ProtoWriter().String(1, name).Int64(3, v).Int64(20, 2);
    public static ProtoWriter FloatAttribute(string name, float v) => new ProtoWriter().String(1, name).Float(2, v).Int64(20, 1);
    public static ProtoWriter StringAttribute(string name, string v) => new ProtoWriter().String(1, name).String(4, v).Int64(20, 3);

    public static ProtoWriter StringsAttribute(string name, IEnumerable<string> v)
    {
        var w = new ProtoWriter().String(1, name);
        foreach (var s in v) w.String(9, s);
        return w.Int64(20, 8);
    }

    public static ProtoWriter FloatsAttribute(string name, IEnumerable<float> v) => new ProtoWriter().String(1, name).PackedFloat(7, v).Int64(20, 6);

    public static ProtoWriter Node(string name, string opType, IEnumerable<string> inputs, IEnumerable<string> outputs, IEnumerable<ProtoWriter> attributes)
    {
        var w = new ProtoWriter();
        foreach (var i in inputs) w.String(1, i);
        foreach (var o in outputs) w.String(2, o);
        w.String(3, name).String(4, opType);
        foreach (var a in attributes) w.Message(5, a);
        return w;
    }

    public static ProtoWriter Model(long irVersion, long opset, string producer, string producerVersion, ProtoWriter graph)
    {
        var opsetImport = new ProtoWriter().String(1, "").Int64(2, opset);
        return new ProtoWriter().Int64(1, irVersion).String(2, producer).String(3, producerVersion).Message(7, graph).Message(8, opsetImport);
    }
}

internal sealed class OnnxModel
{
    public long IrVersion { get; set; }
    public string ProducerName { get; set; } = "";
    public string ProducerVersion { get; set; } = "";
    public List<(string Domain, long Version)> Opsets { get; } = [];
    public OnnxGraph? Graph { get; set; }

    /// <summary>The default domain's opset ("" or "ai.onnx"), or 0.</summary>
    public long Opset => Opsets.Where(o => o.Domain is "" or "ai.onnx").Select(o => o.Version).DefaultIfEmpty(0).Max();
}

internal sealed class OnnxGraph
{
    public string Name { get; set; } = "";
    public List<OnnxNode> Nodes { get; } = [];
    public List<OnnxTensorProto> Initializers { get; } = [];
    public List<OnnxValueInfo> Inputs { get; } = [];
    public List<OnnxValueInfo> Outputs { get; } = [];
}

internal sealed class OnnxNode
{
    public List<string> Inputs { get; } = [];
    public List<string> Outputs { get; } = [];
    public string Name { get; set; } = "";
    public string OpType { get; set; } = "";
    public string Domain { get; set; } = "";
    public List<OnnxAttribute> Attributes { get; } = [];

    public OnnxAttribute? Attribute(string name) => Attributes.FirstOrDefault(a => a.Name == name);

    /// <summary>The input at <paramref name="index"/>, or null when absent or empty (an optional input left out).</summary>
    public string? Input(int index) => index < Inputs.Count && Inputs[index].Length > 0 ? Inputs[index] : null;
}

internal sealed class OnnxAttribute
{
    public string Name { get; set; } = "";
    public int Type { get; set; }
    public float F { get; set; }
    public long I { get; set; }
    public string? S { get; set; }
    public OnnxTensorProto? T { get; set; }
    public List<OnnxGraph> Graphs { get; } = [];
    public List<float> Floats { get; } = [];
    public List<long> Ints { get; } = [];
    public List<string> Strings { get; } = [];
}

internal sealed class OnnxValueInfo
{
    public string Name { get; set; } = "";
    public int ElemType { get; set; }
    /// <summary>Dimensions (null: symbolic or unknown); null when the shape is not given.</summary>
    public List<long?>? Shape { get; set; }
}

internal sealed class OnnxTensorProto
{
    public string Name { get; set; } = "";
    public List<long> Dims { get; } = [];
    public int DataType { get; set; }
    public ReadOnlyMemory<byte>? Raw { get; set; }
    public List<float> FloatData { get; } = [];
    public List<double> DoubleData { get; } = [];
    public List<long> Int32Data { get; } = [];
    public List<long> Int64Data { get; } = [];
    public Dictionary<string, string> External { get; } = new(StringComparer.Ordinal);
    public int DataLocation { get; set; }
    public bool IsExternal => DataLocation == 1;
}

/// <summary>TensorProto.DataType values and their torch types.</summary>
internal static class OnnxDataType
{
    public const int Float = 1, UInt8 = 2, Int8 = 3, Int16 = 5, Int32 = 6, Int64 = 7, Bool = 9, Float16 = 10, Double = 11, BFloat16 = 16;

    public static TorchSharp.torch.ScalarType? Scalar(int t) => t switch
    {
        Float => TorchSharp.torch.ScalarType.Float32,
        Double => TorchSharp.torch.ScalarType.Float64,
        Float16 => TorchSharp.torch.ScalarType.Float16,
        BFloat16 => TorchSharp.torch.ScalarType.BFloat16,
        Int64 => TorchSharp.torch.ScalarType.Int64,
        Int32 => TorchSharp.torch.ScalarType.Int32,
        Int16 => TorchSharp.torch.ScalarType.Int16,
        Int8 => TorchSharp.torch.ScalarType.Int8,
        UInt8 => TorchSharp.torch.ScalarType.Byte,
        Bool => TorchSharp.torch.ScalarType.Bool,
        _ => null,
    };

    public static int Of(TorchSharp.torch.ScalarType s) => s switch
    {
        TorchSharp.torch.ScalarType.Float32 => Float,
        TorchSharp.torch.ScalarType.Float64 => Double,
        TorchSharp.torch.ScalarType.Float16 => Float16,
        TorchSharp.torch.ScalarType.BFloat16 => BFloat16,
        TorchSharp.torch.ScalarType.Int64 => Int64,
        TorchSharp.torch.ScalarType.Int32 => Int32,
        TorchSharp.torch.ScalarType.Int16 => Int16,
        TorchSharp.torch.ScalarType.Int8 => Int8,
        TorchSharp.torch.ScalarType.Byte => UInt8,
        TorchSharp.torch.ScalarType.Bool => Bool,
        _ => throw new LstmPortException(ErrorIds.UnsupportedDType, $"dtype {s} has no ONNX tensor type LstmPort writes."),
    };
}
