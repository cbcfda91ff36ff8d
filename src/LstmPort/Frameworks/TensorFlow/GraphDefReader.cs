using Google.Protobuf;
using TorchSharp;
using LstmPort.Formats;
using LstmPort.Runtime;

namespace LstmPort.Frameworks.TensorFlow;

/// <summary>One NodeDef: name = 1, op = 2, input = 3, attr = 5 (map entries key = 1, value = 2).</summary>
internal sealed class TfNode
{
    public string Name = "", Op = "";
    public List<string> Inputs { get; } = [];
    public Dictionary<string, TfAttr> Attrs { get; } = new(StringComparer.Ordinal);
}

/// <summary>
/// The AttrValue cases LstmPort reads: s = 2, i = 3, f = 4, b = 5, type = 6, tensor = 8. A tensor
/// LstmPort cannot decode (a string constant, damaged content) keeps why in <c>TensorError</c>, so
/// one odd constant never fails the whole graph.
/// </summary>
internal sealed record TfAttr(long? I = null, float? F = null, bool? B = null, int? Type = null, TfTensorValue? Tensor = null,
    string? S = null, string? TensorError = null, int? TensorDType = null, bool TensorTooLarge = false);

/// <summary>A GraphDef (graph.proto: node = 1), or the graph_def (field 2) of a MetaGraphDef.</summary>
internal sealed class TfGraph
{
    public List<TfNode> Nodes { get; } = [];
    public Dictionary<string, TfNode> ByName { get; } = new(StringComparer.Ordinal);

    public static TfGraph ParseGraphDef(ReadOnlySpan<byte> bytes)
    {
        var g = new TfGraph();
        TfProto.Fields(bytes, (n, w, s) =>
        {
            if (n != 1) return false;
            var node = ParseNode(TfProto.Bytes(s));
            g.Nodes.Add(node);
            g.ByName[node.Name] = node;
            return true;
        });
        return g;
    }

    public static TfGraph ParseMetaGraph(ReadOnlySpan<byte> bytes)
    {
        TfGraph? g = null;
        TfProto.Fields(bytes, (n, w, s) =>
        {
            if (n != 2) return false;
            g = ParseGraphDef(TfProto.Bytes(s));
            return true;
        });
        return g ?? new TfGraph();
    }

    static TfNode ParseNode(byte[] bytes)
    {
        var node = new TfNode();
        TfProto.Fields(bytes, (n, w, s) =>
        {
            switch (n)
            {
                case 1: node.Name = s.ReadString(); return true;
                case 2: node.Op = s.ReadString(); return true;
                case 3: node.Inputs.Add(s.ReadString()); return true;
                case 5:
                    string key = ""; TfAttr? value = null;
                    TfProto.Fields(TfProto.Bytes(s), (en, ew, es) =>
                    {
                        if (en == 1) { key = es.ReadString(); return true; }
                        if (en == 2) { value = ParseAttr(TfProto.Bytes(es)); return true; }
                        return false;
                    });
                    if (value is not null) node.Attrs[key] = value;
                    return true;
                default: return false;
            }
        });
        return node;
    }

    static TfAttr ParseAttr(byte[] bytes)
    {
        var a = new TfAttr();
        TfProto.Fields(bytes, (n, w, s) =>
        {
            switch (n)
            {
                case 2: a = a with { S = s.ReadString() }; return true;
                case 3: a = a with { I = s.ReadInt64() }; return true;
                case 4: a = a with { F = s.ReadFloat() }; return true;
                case 5: a = a with { B = s.ReadBool() }; return true;
                case 6: a = a with { Type = s.ReadEnum() }; return true;
                case 8:
                    var bytes = TfProto.Bytes(s);
                    try { a = a with { Tensor = TfTensorValue.Parse(new CodedInputStream(Wrap(bytes))) }; }
                    // A shape whose size overflows, or typed values that would expand past the bound: too large, not damaged.
                    catch (Exception e) when (e is TfTensorValue.TooLargeException or OverflowException)
                    { a = a with { TensorError = e.Message, TensorDType = DTypeOf(bytes), TensorTooLarge = true }; }
                    catch (Exception e) when (e is NotSupportedException or InvalidDataException or OverflowException or InvalidProtocolBufferException)
                    { a = a with { TensorError = e.Message, TensorDType = DTypeOf(bytes) }; }
                    return true;
                default: return false;
            }
        });
        return a;
    }

    /// <summary>A message's bytes as one length-delimited field, as TfTensorValue.Parse reads it.</summary>
    static byte[] Wrap(byte[] message)
    {
        var ms = new MemoryStream();
        var o = new CodedOutputStream(ms);
        o.WriteBytes(ByteString.CopyFrom(message));
        o.Flush();
        return ms.ToArray();
    }

    /// <summary>The dtype field (1) of a TensorProto, or null.</summary>
    static int? DTypeOf(byte[] tensorProto)
    {
        int? dtype = null;
        try { TfProto.Fields(tensorProto, (n, w, s) => { if (n != 1) return false; dtype = s.ReadEnum(); return true; }); }
        catch (InvalidProtocolBufferException) { }
        return dtype;
    }

    /// <summary>The node an input string names (<c>^ctrl</c>, <c>name:1</c> and pass-through Identity/Enter/Switch are followed back to the source).</summary>
    public TfNode? Source(string input)
    {
        var name = input.TrimStart('^');
        int colon = name.LastIndexOf(':');
        if (colon > 0 && int.TryParse(name.AsSpan(colon + 1), out _)) name = name[..colon];
        for (int hops = 0; hops < 32 && ByName.TryGetValue(name, out var node); hops++)
        {
            if (node.Op is not ("Identity" or "Enter" or "Switch" or "ReadVariableOp" or "RefIdentity") || node.Inputs.Count == 0) return node;
            name = node.Inputs[0].TrimStart('^');
            colon = name.LastIndexOf(':');
            if (colon > 0 && int.TryParse(name.AsSpan(colon + 1), out _)) name = name[..colon];
        }
        return null;
    }

    static string OutputOf(string input)
    {
        int colon = input.LastIndexOf(':');
        return colon > 0 ? input[(colon + 1)..] : "0";
    }

    /// <summary>
    /// Settings of each LSTM cell, keyed by the name of its kernel variable: LSTMBlockCell/BlockLSTM
    /// carry forget_bias, cell_clip and use_peephole as attributes; LSTMCell/BasicLSTMCell add
    /// forget_bias to the third output of the Split of <c>matmul(kernel) + bias</c>.
    /// </summary>
    public Dictionary<string, CellHints> CellHints()
    {
        var hints = new Dictionary<string, CellHints>(StringComparer.Ordinal);
        foreach (var node in Nodes)
        {
            if (node.Op is "LSTMBlockCell" or "BlockLSTM" or "BlockLSTMV2")
            {
                int w = node.Op == "LSTMBlockCell" ? 3 : 4;
                if (node.Inputs.Count <= w || Source(node.Inputs[w]) is not { } kernel) continue;
                double? clip = node.Attrs.TryGetValue("cell_clip", out var c) && c.F is float cf && cf > 0 ? cf : null;
                double? fb = node.Attrs.TryGetValue("forget_bias", out var f) && f.F is float ff ? ff : node.Op == "BlockLSTMV2" ? 0.0 : null;
                bool? ph = node.Attrs.TryGetValue("use_peephole", out var p) ? p.B ?? false : null;
                hints[kernel.Name] = new CellHints(fb, clip, ph);
                continue;
            }
            if (node.Op is not ("Add" or "AddV2") || node.Inputs.Count != 2) continue;
            for (int k = 0; k < 2; k++)
            {
                if (OutputOf(node.Inputs[k]) != "2" || Source(node.Inputs[k]) is not { Op: "Split" } split || split.Inputs.Count != 2) continue;
                if (Source(node.Inputs[1 - k]) is not { Op: "Const" } constant || constant.Attrs.GetValueOrDefault("value")?.Tensor is not { } value
                    || value.Shape.Length != 0 || value.DType % 100 != TfDataType.Float) continue;
                // Split(axis, value): value = BiasAdd(MatMul(concat, kernel), bias) or MatMul alone.
                var product = Source(split.Inputs[1]);
                if (product is { Op: "BiasAdd" or "Add" or "AddV2" } && product.Inputs.Count > 0) product = Source(product.Inputs[0]);
                if (product is not { Op: "MatMul" } || product.Inputs.Count < 2 || Source(product.Inputs[1]) is not { } kernel) continue;
                hints.TryAdd(kernel.Name, new CellHints(BitConverter.ToSingle(value.Data), null, null));
            }
        }
        return hints;
    }

    /// <summary>Where each variable's node sits in the graph: the order the model created its layers in.</summary>
    public Dictionary<string, int> VariableOrder()
    {
        var order = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < Nodes.Count; i++)
            if (Nodes[i].Op is "VariableV2" or "Variable" or "VarHandleOp") order.TryAdd(Nodes[i].Name, i);
        return order;
    }

    /// <summary>The integer a Const (or a chain of Identity from one) holds, or null.</summary>
    int? Int(string input) =>
        Source(input) is { Op: "Const" } c && c.Attrs.GetValueOrDefault("value")?.Tensor is { Shape.Length: 0 } v
            ? (v.DType % 100) switch
            {
                TfDataType.Int32 => BitConverter.ToInt32(v.Data),
                TfDataType.Int64 when BitConverter.ToInt64(v.Data) is var l && l is >= int.MinValue and <= int.MaxValue => (int)l,
                _ => null,
            }
            : null;

    /// <summary>
    /// The sizes and settings of each tf.contrib.cudnn_rnn layer, keyed by the name of its opaque
    /// parameter variable: CudnnRNNParamsToCanonical reads the variable (its saveable) and
    /// CudnnRNNCanonicalToParams initialises it; both take num_layers, num_units and input_size as
    /// inputs and rnn_mode, input_mode, direction (and num_proj) as attributes.
    /// </summary>
    public Dictionary<string, CudnnHints> CudnnHints()
    {
        var hints = new Dictionary<string, CudnnHints>(StringComparer.Ordinal);
        var assigned = new Dictionary<string, TfNode>(StringComparer.Ordinal);
        foreach (var node in Nodes)
            if (node.Op is "Assign" or "AssignVariableOp" && node.Inputs.Count >= 2 && Source(node.Inputs[1]) is { } value && Source(node.Inputs[0]) is { } target)
                assigned.TryAdd(value.Name, target);
        foreach (var node in Nodes)
        {
            var variable = node.Op switch
            {
                "CudnnRNNParamsToCanonical" or "CudnnRNNParamsToCanonicalV2" => node.Inputs.Count > 3 ? Source(node.Inputs[3]) : null,
                "CudnnRNNCanonicalToParams" or "CudnnRNNCanonicalToParamsV2" => assigned.GetValueOrDefault(node.Name),
                _ => null,
            };
            if (variable is null || node.Inputs.Count < 3) continue;
            if (Int(node.Inputs[0]) is not int layers || Int(node.Inputs[1]) is not int units || Int(node.Inputs[2]) is not int input) continue;
            string Attr(string key, string fallback) => node.Attrs.TryGetValue(key, out var a) && a.S is string s ? s : fallback;
            // The op defaults: rnn_mode lstm, input_mode linear_input, direction unidirectional.
            hints.TryAdd(variable.Name, new CudnnHints(Attr("rnn_mode", "lstm"), layers, units, input,
                Attr("direction", "unidirectional") == "bidirectional", Attr("input_mode", "linear_input"),
                node.Attrs.TryGetValue("num_proj", out var np) && np.I is long p ? (int)Math.Clamp(p, 0, int.MaxValue) : 0));
        }
        return hints;
    }
}

/// <summary>
/// Frozen TF1 graphs (<c>.pb</c> GraphDef): the variables were folded into <c>Const</c> nodes. A
/// Const is a weight when a <c>&lt;name&gt;/read</c> Identity shows it was a variable, or when its
/// name is a TF1 cell variable (<c>.../lstm_cell/kernel</c>); the graph's other constants (axes,
/// shapes, zero states) are not weights and are left out. forget_bias and cell_clip are read
/// from the graph's ops.
/// </summary>
public sealed class FrozenGraphReader : IWeightReader
{
    public WeightFormat Format => WeightFormat.FrozenGraph;

    // A GraphDef starts with its first NodeDef (field 1, length-delimited); a protobuf has no magic, so the extension counts too.
    public int Probe(FileProbe file) =>
        file.Extension == ".pb" && file.Head.Length > 2 && file.Head.Span[0] == 0x0A
        && !file.FileName.Equals("saved_model.pb", StringComparison.OrdinalIgnoreCase) ? 50 : 0;

    public WeightFile Read(string path, ReadOptions options)
    {
        TfGraph graph;
        try { graph = TfGraph.ParseGraphDef(File.ReadAllBytes(path)); }
        catch (InvalidProtocolBufferException e) { throw Corrupt(path, e.Message, e); }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException or OverflowException) { throw Corrupt(path, e.Message, e); }
        if (graph.Nodes.Count == 0) throw Corrupt(path, "the GraphDef has no nodes", null);

        // A variable frozen into a Const keeps its readers: <name>/read (ref variables) or <name>/Read/ReadVariableOp (resource variables).
        var readNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var n in graph.Nodes.Where(n => n.Op == "Identity"))
        {
            if (n.Name.EndsWith("/read", StringComparison.Ordinal)) readNames.Add(n.Name[..^"/read".Length]);
            else if (n.Name.EndsWith("/Read/ReadVariableOp", StringComparison.Ordinal)) readNames.Add(n.Name[..^"/Read/ReadVariableOp".Length]);
        }
        var variables = new List<TfVariable>();
        var errors = new List<LstmPortException>();
        var notWeights = new List<string>();
        foreach (var node in graph.Nodes)
        {
            if (node.Op != "Const" || node.Attrs.GetValueOrDefault("value") is not { } attr) continue;
            bool wasVariable = readNames.Contains(node.Name);
            bool cellName = TrainingState.Kind(node.Name) is null && LooksLikeCellVariable(node.Name);
            if (!wasVariable && !cellName) continue;
            if (attr.Tensor is not { } value)
            {
                // A string variable (a vocabulary, a file name) is no weight; damaged content is this tensor's error only.
                if (attr.TensorDType is int t && t % 100 == TfDataType.String) notWeights.Add(node.Name);
                else if (attr.TensorTooLarge)
                    errors.Add(new LstmPortException(ErrorIds.TensorTooLarge, $"'{path}': constant '{node.Name}' is too large ({attr.TensorError}); it is left out.", path));
                else if (attr.TensorDType is int dt && TfDataType.Scalar(dt) is null)
                    errors.Add(new LstmPortException(ErrorIds.UnsupportedDType, $"'{path}': constant '{node.Name}' has dtype {TfDataType.Name(dt)}; it is left out.", path));
                else
                    errors.Add(new LstmPortException(ErrorIds.CorruptProtobuf, $"'{path}': the value of constant '{node.Name}' is damaged ({attr.TensorError}); it is left out.", path));
                continue;
            }
            if (value.Shape.Any(d => d > int.MaxValue))
            {
                errors.Add(new LstmPortException(ErrorIds.TensorTooLarge,
                    $"'{path}': constant '{node.Name}' has a dimension over 2^31 [{string.Join(",", value.Shape)}]; it is left out.", path));
                continue;
            }
            if (TfDataType.Scalar(value.DType) is not { } scalar)
            {
                errors.Add(new LstmPortException(ErrorIds.UnsupportedDType,
                    $"'{path}': constant '{node.Name}' has dtype {TfDataType.Name(value.DType)} and shape [{string.Join(",", value.Shape)}]; it is left out.", path));
                continue;
            }
            var shape = value.Shape.Select(d => (int)d).ToArray();
            // Typed values are expanded only here, when the data is used.
            variables.Add(new TfVariable(node.Name, shape, DTypes.Name(scalar), () =>
            {
                using var stream = new MemoryStream(value.Data, writable: false);
                return TensorMemory.Read(stream, value.Shape, scalar);
            }));
        }
        if (variables.Count == 0 && errors.Count == 0)
            throw new LstmPortException(ErrorIds.NoTensors, $"'{path}' is a GraphDef without frozen weights (no Const node that was a variable).", path);
        var d = Tf1Scopes.Describe(variables, graph.CellHints(), path, graph.CudnnHints());
        if (notWeights.Count > 0)
            d.Notes.Add($"left out {notWeights.Count} constants that are not numeric tensors: {string.Join(", ", notWeights.Take(5))}{(notWeights.Count > 5 ? ", ..." : "")}");
        return new WeightFile(path, Format, d.Tensors, d.Warnings, [.. errors, .. d.Errors], d.Notes);
    }

    static bool LooksLikeCellVariable(string name)
    {
        var last = name.Split('/')[^1];
        return last is "kernel" or "bias" or "weights" or "biases" or "w_i_diag" or "w_f_diag" or "w_o_diag" or "opaque_kernel" or "recurrent_kernel" or "embeddings";
    }

    static LstmPortException Corrupt(string path, string what, Exception? inner) =>
        new(ErrorIds.CorruptProtobuf, $"'{path}' is not a valid TensorFlow GraphDef: {what}.", path, inner);
}
