using Google.Protobuf;

namespace LstmPort.Tests;

/// <summary>
/// Writes TensorFlow GraphDefs (frozen graphs) and MetaGraphDefs (a checkpoint's .meta) from the
/// published protos (graph.proto: node = 1; node_def.proto: name = 1, op = 2, input = 3, attr = 5;
/// attr_value.proto: s = 2, i = 3, f = 4, b = 5, type = 6, tensor = 8; tensor.proto: dtype = 1,
/// tensor_shape = 2, tensor_content = 4, float_val = 5, int_val = 7, string_val = 8;
/// meta_graph.proto: graph_def = 2), as TensorFlow's own writers lay them out.
/// </summary>
public sealed class TfGraphWriter
{
    readonly List<byte[]> _nodes = [];

    public TfGraphWriter Node(string name, string op, string[] inputs, params (string Key, byte[] Value)[] attrs)
    {
        _nodes.Add(Message(o =>
        {
            o.WriteTag(1, WireFormat.WireType.LengthDelimited); o.WriteString(name);
            o.WriteTag(2, WireFormat.WireType.LengthDelimited); o.WriteString(op);
            foreach (var i in inputs) { o.WriteTag(3, WireFormat.WireType.LengthDelimited); o.WriteString(i); }
            foreach (var (key, value) in attrs)
            {
                var entry = Message(e =>
                {
                    e.WriteTag(1, WireFormat.WireType.LengthDelimited); e.WriteString(key);
                    e.WriteTag(2, WireFormat.WireType.LengthDelimited); e.WriteBytes(ByteString.CopyFrom(value));
                });
                o.WriteTag(5, WireFormat.WireType.LengthDelimited); o.WriteBytes(ByteString.CopyFrom(entry));
            }
        }));
        return this;
    }

    /// <summary>A float32 Const as freeze_graph leaves a variable, with its <c>&lt;name&gt;/read</c> Identity.</summary>
    public TfGraphWriter FrozenVariable(string name, long[] shape, float[] values) =>
        Node(name, "Const", [], ("dtype", AttrType(1)), ("value", AttrTensor(FloatTensor(shape, values))))
            .Node(name + "/read", "Identity", [name], ("T", AttrType(1)));

    /// <summary>A graph-mode variable (VariableV2) with its <c>/read</c> Identity, as in a .meta graph.</summary>
    public TfGraphWriter Variable(string name) =>
        Node(name, "VariableV2", [], ("dtype", AttrType(1))).Node(name + "/read", "Identity", [name], ("T", AttrType(1)));

    public TfGraphWriter IntConst(string name, int value) =>
        Node(name, "Const", [], ("dtype", AttrType(3)), ("value", AttrTensor(IntScalar(value))));

    public byte[] GraphDef() => Message(o =>
    {
        foreach (var n in _nodes) { o.WriteTag(1, WireFormat.WireType.LengthDelimited); o.WriteBytes(ByteString.CopyFrom(n)); }
    });

    public byte[] MetaGraph()
    {
        var graph = GraphDef();
        return Message(o => { o.WriteTag(2, WireFormat.WireType.LengthDelimited); o.WriteBytes(ByteString.CopyFrom(graph)); });
    }

    public static byte[] AttrS(string s) => Message(o => { o.WriteTag(2, WireFormat.WireType.LengthDelimited); o.WriteString(s); });
    public static byte[] AttrI(long i) => Message(o => { o.WriteTag(3, WireFormat.WireType.Varint); o.WriteInt64(i); });
    public static byte[] AttrF(float f) => Message(o => { o.WriteTag(4, WireFormat.WireType.Fixed32); o.WriteFloat(f); });
    public static byte[] AttrB(bool b) => Message(o => { o.WriteTag(5, WireFormat.WireType.Varint); o.WriteBool(b); });
    public static byte[] AttrType(int dtype) => Message(o => { o.WriteTag(6, WireFormat.WireType.Varint); o.WriteEnum(dtype); });
    public static byte[] AttrTensor(byte[] tensor) => Message(o => { o.WriteTag(8, WireFormat.WireType.LengthDelimited); o.WriteBytes(ByteString.CopyFrom(tensor)); });

    public static byte[] FloatTensor(long[] shape, float[] values) => Message(o =>
    {
        o.WriteTag(1, WireFormat.WireType.Varint); o.WriteEnum(1);
        o.WriteTag(2, WireFormat.WireType.LengthDelimited); o.WriteBytes(ByteString.CopyFrom(Shape(shape)));
        var bytes = new byte[values.Length * 4];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        o.WriteTag(4, WireFormat.WireType.LengthDelimited); o.WriteBytes(ByteString.CopyFrom(bytes));
    });

    /// <summary>A float scalar written as float_val, as TF writes small constants.</summary>
    public static byte[] FloatScalar(float value) => Message(o =>
    {
        o.WriteTag(1, WireFormat.WireType.Varint); o.WriteEnum(1);
        o.WriteTag(2, WireFormat.WireType.LengthDelimited); o.WriteBytes(ByteString.CopyFrom(Shape([])));
        o.WriteTag(5, WireFormat.WireType.Fixed32); o.WriteFloat(value);
    });

    public static byte[] IntScalar(int value) => Message(o =>
    {
        o.WriteTag(1, WireFormat.WireType.Varint); o.WriteEnum(3);
        o.WriteTag(2, WireFormat.WireType.LengthDelimited); o.WriteBytes(ByteString.CopyFrom(Shape([])));
        o.WriteTag(7, WireFormat.WireType.Varint); o.WriteInt32(value);
    });

    public static byte[] StringScalar(string value) => Message(o =>
    {
        o.WriteTag(1, WireFormat.WireType.Varint); o.WriteEnum(7);
        o.WriteTag(2, WireFormat.WireType.LengthDelimited); o.WriteBytes(ByteString.CopyFrom(Shape([])));
        o.WriteTag(8, WireFormat.WireType.LengthDelimited); o.WriteString(value);
    });

    static byte[] Shape(long[] dims) => Message(o =>
    {
        foreach (var d in dims)
        {
            var dim = Message(od => { od.WriteTag(1, WireFormat.WireType.Varint); od.WriteInt64(d); });
            o.WriteTag(2, WireFormat.WireType.LengthDelimited); o.WriteBytes(ByteString.CopyFrom(dim));
        }
    });

    static byte[] Message(Action<CodedOutputStream> write)
    {
        var ms = new MemoryStream();
        var o = new CodedOutputStream(ms);
        write(o);
        o.Flush();
        return ms.ToArray();
    }
}

/// <summary>
/// Writes a TrackableObjectGraph (trackable_object_graph.proto: nodes = 1; TrackableObject: children = 1
/// (node_id = 1, local_name = 2), attributes = 2 (name = 1, full_name = 2, checkpoint_key = 3),
/// slot_variables = 3 (original_variable_node_id = 1, slot_name = 2, slot_variable_node_id = 3)) and
/// Keras's SavedMetadata (saved_metadata.proto: nodes = 1; SavedObject: node_path = 3, metadata = 5).
/// </summary>
public sealed class TfObjectGraphWriter
{
    readonly List<(List<(int, string)> Children, string? Key, List<(int, string, int)> Slots)> _nodes = [([], null, [])];

    /// <summary>Adds a child of <paramref name="parent"/>, a variable when it has a checkpoint key; returns its id.</summary>
    public int Add(int parent, string name, string? key = null)
    {
        _nodes.Add(([], key, []));
        _nodes[parent].Children.Add((_nodes.Count - 1, name));
        return _nodes.Count - 1;
    }

    /// <summary>A slot variable of the optimizer node for the variable <paramref name="original"/>; returns its id.</summary>
    public int Slot(int optimizer, int original, string slot, string key)
    {
        _nodes.Add(([], key, []));
        _nodes[optimizer].Slots.Add((original, slot, _nodes.Count - 1));
        return _nodes.Count - 1;
    }

    public byte[] Bytes() => Message(o =>
    {
        foreach (var (children, key, slots) in _nodes)
        {
            var node = Message(n =>
            {
                foreach (var (id, name) in children)
                    Field(n, 1, Message(r => { r.WriteTag(1, WireFormat.WireType.Varint); r.WriteInt32(id); r.WriteTag(2, WireFormat.WireType.LengthDelimited); r.WriteString(name); }));
                if (key is not null)
                    Field(n, 2, Message(a => { a.WriteTag(1, WireFormat.WireType.LengthDelimited); a.WriteString("VARIABLE_VALUE"); a.WriteTag(3, WireFormat.WireType.LengthDelimited); a.WriteString(key); }));
                foreach (var (original, slot, id) in slots)
                    Field(n, 3, Message(s =>
                    {
                        s.WriteTag(1, WireFormat.WireType.Varint); s.WriteInt32(original);
                        s.WriteTag(2, WireFormat.WireType.LengthDelimited); s.WriteString(slot);
                        s.WriteTag(3, WireFormat.WireType.Varint); s.WriteInt32(id);
                    }));
            });
            Field(o, 1, node);
        }
    });

    /// <summary>keras_metadata.pb: (node_path, JSON metadata) per object.</summary>
    public static byte[] KerasMetadata(params (string NodePath, string Json)[] objects) => Message(o =>
    {
        foreach (var (path, json) in objects)
            Field(o, 1, Message(n => { n.WriteTag(3, WireFormat.WireType.LengthDelimited); n.WriteString(path); n.WriteTag(5, WireFormat.WireType.LengthDelimited); n.WriteString(json); }));
    });

    static void Field(CodedOutputStream o, int number, byte[] message)
    {
        o.WriteTag(number, WireFormat.WireType.LengthDelimited);
        o.WriteBytes(ByteString.CopyFrom(message));
    }

    static byte[] Message(Action<CodedOutputStream> write)
    {
        var ms = new MemoryStream();
        var o = new CodedOutputStream(ms);
        write(o);
        o.Flush();
        return ms.ToArray();
    }
}
