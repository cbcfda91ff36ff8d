using LstmPort.Fuzz.Formats;

namespace LstmPort.Fuzz.Seeds;

/// <summary>
/// Small ONNX models written here from onnx.proto's field numbers (ModelProto ir_version = 1, graph = 7,
/// opset_import = 8; GraphProto node = 1, initializer = 5, input = 11, output = 12; NodeProto input = 1,
/// output = 2, name = 3, op_type = 4, attribute = 5; AttributeProto name = 1, f = 2, i = 3, s = 4, t = 5,
/// g = 6, ints = 8, type = 20; TensorProto dims = 1, data_type = 2, float_data = 4, int64_data = 7,
/// name = 8, raw_data = 9, external_data = 13, data_location = 14), so each seed exercises one way the
/// reader finds weights: initializers as raw_data and as float_data, external data beside the model,
/// constants folded through Slice/Concat/Reshape/Unsqueeze/Gather, a Constant node, If subgraphs,
/// Gemm and MatMul+Add dense layers.
/// </summary>
public static class OnnxSeeds
{
    static float[] Values(int seed, int n)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
    }

    static byte[] Floats(float[] v)
    {
        var b = new byte[v.Length * 4];
        Buffer.BlockCopy(v, 0, b, 0, b.Length);
        return b;
    }

    static byte[] Longs(long[] v)
    {
        var b = new byte[v.Length * 8];
        Buffer.BlockCopy(v, 0, b, 0, b.Length);
        return b;
    }

    public static ProtoMessage Tensor(string name, long[] dims, int dataType, byte[] raw)
    {
        var t = new ProtoMessage();
        foreach (var d in dims) t.Varint(1, (ulong)d);
        return t.Varint(2, (ulong)dataType).String(8, name).Bytes(9, raw);
    }

    static ProtoMessage FloatData(string name, long[] dims, float[] values)
    {
        var t = new ProtoMessage();
        foreach (var d in dims) t.Varint(1, (ulong)d);
        t.Varint(2, 1).String(8, name);
        return t.Bytes(4, Floats(values));
    }

    static ProtoMessage External(string name, long[] dims, string location, long offset, long length)
    {
        var t = new ProtoMessage();
        foreach (var d in dims) t.Varint(1, (ulong)d);
        t.Varint(2, 1).String(8, name);
        t.Message(13, new ProtoMessage().String(1, "location").String(2, location));
        t.Message(13, new ProtoMessage().String(1, "offset").String(2, offset.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        t.Message(13, new ProtoMessage().String(1, "length").String(2, length.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        return t.Varint(14, 1);
    }

    public static ProtoMessage Node(string name, string op, string[] inputs, string[] outputs, params ProtoMessage[] attributes)
    {
        var n = new ProtoMessage();
        foreach (var i in inputs) n.String(1, i);
        foreach (var o in outputs) n.String(2, o);
        n.String(3, name).String(4, op);
        foreach (var a in attributes) n.Message(5, a);
        return n;
    }

    public static ProtoMessage IntAttr(string name, long v) => new ProtoMessage().String(1, name).Varint(3, (ulong)v).Varint(20, 2);
    public static ProtoMessage StringAttr(string name, string v) => new ProtoMessage().String(1, name).String(4, v).Varint(20, 3);
    public static ProtoMessage TensorAttr(string name, ProtoMessage t) => new ProtoMessage().String(1, name).Message(5, t).Varint(20, 4);
    public static ProtoMessage GraphAttr(string name, ProtoMessage g) => new ProtoMessage().String(1, name).Message(6, g).Varint(20, 5);

    static ProtoMessage ValueInfo(string name, params long[] dims)
    {
        var shape = new ProtoMessage();
        foreach (var d in dims) shape.Message(1, new ProtoMessage().Varint(1, (ulong)d));
        return new ProtoMessage().String(1, name).Message(2, new ProtoMessage().Message(1, new ProtoMessage().Varint(1, 1).Message(2, shape)));
    }

    public static ProtoMessage Model(ProtoMessage graph, long opset = 14) =>
        new ProtoMessage().Varint(1, 8).String(2, "lstmport-fuzz").String(3, "1").Message(7, graph)
            .Message(8, new ProtoMessage().String(1, "").Varint(2, (ulong)opset));

    static ProtoMessage Graph(string name, IEnumerable<ProtoMessage> nodes, IEnumerable<ProtoMessage> initializers, string input, string output)
    {
        var g = new ProtoMessage();
        foreach (var n in nodes) g.Message(1, n);
        g.String(2, name);
        foreach (var i in initializers) g.Message(5, i);
        g.Message(11, ValueInfo(input, 2, 1, 3));
        g.Message(12, ValueInfo(output));
        return g;
    }

    static SeedInput One(string name, string file, ProtoMessage model, Dictionary<string, byte[]>? more = null)
    {
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal) { [file] = model.ToBytes() };
        foreach (var (k, v) in more ?? []) files[k] = v;
        return new SeedInput(name, Family.Onnx, files, file, "generated");
    }

    public static IEnumerable<SeedInput> All()
    {
        int inp = 3, h = 2;
        // An LSTM with W, R, B and P as raw_data initializers, then a MatMul+Add dense layer.
        yield return One("gen:lstm.onnx", "lstm.onnx", Model(Graph("lstm",
            [
                Node("lstm", "LSTM", ["X", "W", "R", "B", "", "", "", "P"], ["Y", "Y_h"], IntAttr("hidden_size", h)),
                Node("dense", "MatMul", ["Y_h", "D"], ["Z"]),
                Node("dense_add", "Add", ["Z", "Db"], ["out"]),
            ],
            [
                Tensor("W", [1, 4 * h, inp], 1, Floats(Values(801, 4 * h * inp))),
                Tensor("R", [1, 4 * h, h], 1, Floats(Values(802, 4 * h * h))),
                Tensor("B", [1, 8 * h], 1, Floats(Values(803, 8 * h))),
                Tensor("P", [1, 3 * h], 1, Floats(Values(804, 3 * h))),
                Tensor("D", [h, 1], 1, Floats(Values(805, h))),
                Tensor("Db", [1], 1, Floats(Values(806, 1))),
            ], "X", "out")));

        // A bidirectional GRU: W as float_data, R raw, B from a Constant node; a Gemm dense layer.
        yield return One("gen:gru-bidirectional.onnx", "gru.onnx", Model(Graph("gru",
            [
                Node("b_const", "Constant", [], ["B"], TensorAttr("value", Tensor("", [2, 6 * h], 1, Floats(Values(813, 12 * h))))),
                Node("gru", "GRU", ["X", "W", "R", "B"], ["Y", "Y_h"], IntAttr("hidden_size", h), StringAttr("direction", "bidirectional"), IntAttr("linear_before_reset", 1)),
                Node("gemm", "Gemm", ["Y_h", "G", "Gc"], ["out"], IntAttr("transB", 1)),
            ],
            [
                FloatData("W", [2, 3 * h, inp], Values(811, 6 * h * inp)),
                Tensor("R", [2, 3 * h, h], 1, Floats(Values(812, 6 * h * h))),
                Tensor("G", [1, h], 1, Floats(Values(814, h))),
                Tensor("Gc", [1], 1, Floats(Values(815, 1))),
            ], "X", "out")));

        // An RNN whose weights are folded: W = Concat(Slice(all), Slice(all)), R = Reshape(flat), B = Unsqueeze(Gather(rows)).
        yield return One("gen:rnn-folded.onnx", "rnn.onnx", Model(Graph("rnn",
            [
                Node("s0", "Slice", ["All", "st0", "en0", "ax1"], ["W0"]),
                Node("s1", "Slice", ["All", "st1", "en1", "ax1"], ["W1"]),
                Node("cat", "Concat", ["W0", "W1"], ["W"], IntAttr("axis", 1)),
                Node("reshape", "Reshape", ["Rflat", "Rshape"], ["R"]),
                Node("gather", "Gather", ["Brows", "idx"], ["B2"], IntAttr("axis", 0)),
                Node("unsq", "Unsqueeze", ["B2", "ax0"], ["B"]),
                Node("rnn", "RNN", ["X", "W", "R", "B"], ["Y", "out"], IntAttr("hidden_size", h)),
            ],
            [
                Tensor("All", [1, 2 * h, inp], 1, Floats(Values(821, 2 * h * inp))),
                Tensor("st0", [1], 7, Longs([0])), Tensor("en0", [1], 7, Longs([1])),
                Tensor("st1", [1], 7, Longs([2])), Tensor("en1", [1], 7, Longs([3])),
                Tensor("ax1", [1], 7, Longs([1])), Tensor("ax0", [1], 7, Longs([0])),
                Tensor("Rflat", [h * h], 1, Floats(Values(822, h * h))),
                Tensor("Rshape", [3], 7, Longs([1, h, h])),
                Tensor("Brows", [3, 2 * h], 1, Floats(Values(823, 6 * h))),
                Tensor("idx", [], 7, Longs([1])),
            ], "X", "out"), opset: 13));

        // An LSTM whose W and R are external data in weights.bin beside the model.
        var w = Floats(Values(831, 4 * h * inp));
        var r = Floats(Values(832, 4 * h * h));
        yield return One("gen:lstm-external.onnx", "model.onnx", Model(Graph("ext",
            [Node("lstm", "LSTM", ["X", "W", "R"], ["Y", "out"], IntAttr("hidden_size", h))],
            [
                External("W", [1, 4 * h, inp], "weights.bin", 0, w.Length),
                External("R", [1, 4 * h, h], "weights.bin", w.Length, r.Length),
            ], "X", "out")),
            new Dictionary<string, byte[]>(StringComparer.Ordinal) { ["weights.bin"] = [.. w, .. r] });

        // An If whose branches hold an LSTM and a GRU reading the outer graph's initializers.
        ProtoMessage Branch(string name, ProtoMessage node) =>
            new ProtoMessage().Message(1, node).String(2, name).Message(12, ValueInfo("y_" + name));
        yield return One("gen:if-subgraphs.onnx", "if.onnx", Model(Graph("if",
            [
                Node("cond", "If", ["C"], ["out"],
                    GraphAttr("then_branch", Branch("then", Node("lstm_then", "LSTM", ["X", "LW", "LR"], ["", "y_then"], IntAttr("hidden_size", h)))),
                    GraphAttr("else_branch", Branch("else", Node("gru_else", "GRU", ["X", "GW", "GR"], ["", "y_else"], IntAttr("hidden_size", h))))),
            ],
            [
                Tensor("C", [], 9, [1]),
                Tensor("LW", [1, 4 * h, inp], 1, Floats(Values(841, 4 * h * inp))),
                Tensor("LR", [1, 4 * h, h], 1, Floats(Values(842, 4 * h * h))),
                Tensor("GW", [1, 3 * h, inp], 1, Floats(Values(843, 3 * h * inp))),
                Tensor("GR", [1, 3 * h, h], 1, Floats(Values(844, 3 * h * h))),
            ], "X", "out")));
    }
}
