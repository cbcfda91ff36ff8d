using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;
using LstmPort.Runtime;

namespace LstmPort.Frameworks.Onnx;

/// <summary>
/// The values of an ONNX graph that are known without running it: initializers (in the file or in
/// external data files inside the model's folder), Constant nodes, values supplied from outside
/// (a backend test's test_data_set_0), and what constant operators compute from them (Identity,
/// Cast, Slice, Concat, Split, Unsqueeze, Squeeze, Reshape, Transpose, Gather), folded here with
/// libtorch. A subgraph (If/Loop/Scan body) sees the names of the graphs around it.
/// </summary>
internal sealed class OnnxScope
{
    const int MaxFoldDepth = 256;
    /// <summary>Largest tensor decoded (elements): bigger claims are refused before anything is allocated.</summary>
    public const long MaxElements = 1L << 31;

    readonly OnnxScope? _outer;
    readonly Dictionary<string, OnnxTensorProto> _initializers = new(StringComparer.Ordinal);
    readonly Dictionary<string, (OnnxNode Node, int Output)> _producers = new(StringComparer.Ordinal);
    readonly Dictionary<string, OnnxTensorProto> _supplied;
    readonly OnnxFile _file;
    readonly long _opset;

    public OnnxScope(OnnxGraph graph, OnnxFile file, long opset, OnnxScope? outer, Dictionary<string, OnnxTensorProto>? supplied = null)
    {
        _outer = outer;
        _file = file;
        _opset = opset;
        _supplied = supplied ?? new(StringComparer.Ordinal);
        foreach (var t in graph.Initializers) _initializers.TryAdd(t.Name, t);
        foreach (var n in graph.Nodes)
            for (int i = 0; i < n.Outputs.Count; i++)
                if (n.Outputs[i].Length > 0) _producers.TryAdd(n.Outputs[i], (n, i));
        Graph = graph;
    }

    public OnnxGraph Graph { get; }

    /// <summary>The node that computes this value in this graph or an outer one, or null.</summary>
    public OnnxNode? Producer(string name) => _producers.TryGetValue(name, out var p) ? p.Node : _outer?.Producer(name);

    /// <summary>Whether the value is known without running the model; <paramref name="why"/> says why not.</summary>
    public bool IsConstant(string name, out string? why)
    {
        try
        {
            using var scope = NewDisposeScope();
            _ = Shape(name);
            why = null;
            return true;
        }
        catch (LstmPortException e) when (e.ErrorId == ErrorIds.OnnxNotConstant) { why = e.Message; return false; }
    }

    /// <summary>The value's shape (folding it once when it is computed).</summary>
    public long[] Shape(string name)
    {
        var init = Find(name);
        if (init is not null) return CheckedDims(init);
        using var t = Value(name, 0);
        return t.shape;
    }

    /// <summary>The value as a new tensor (the caller owns it).</summary>
    public Tensor Value(string name) => Value(name, 0);

    /// <summary>
    /// The value's dtype: an initializer's from its proto, checked as <see cref="Decode"/> checks it but
    /// without reading its data (listing a 1 GB model decoded every weight: issue 18); a computed
    /// value's by folding it.
    /// </summary>
    public ScalarType DType(string name)
    {
        if (Find(name) is not { } init)
        {
            using var t = Value(name, 0);
            return t.dtype;
        }
        var (_, dtype, bytes) = Checked(init);
        // External data: its location and size are checked now (opening it reads nothing), as decoding did.
        if (init.IsExternal) using (_file.OpenExternal(init, bytes)) { }
        return dtype;
    }

    OnnxTensorProto? Find(string name) =>
        _supplied.TryGetValue(name, out var s) ? s : _initializers.TryGetValue(name, out var t) ? t : _outer?.Find(name);

    Tensor Value(string name, int depth)
    {
        if (depth > MaxFoldDepth)
            throw NotConstant(name, $"it is computed through more than {MaxFoldDepth} operators");
        if (Find(name) is { } init) return Decode(init, _file);
        var scope = this;
        while (scope is not null && !scope._producers.ContainsKey(name)) scope = scope._outer;
        if (scope is null) throw NotConstant(name, "it is a graph input or a value no node computes (a run-time input)");
        var (node, output) = scope._producers[name];
        return scope.Fold(node, output, depth + 1);
    }

    Tensor Fold(OnnxNode n, int output, int depth)
    {
        using var d = NewDisposeScope();
        Tensor In(int i) => n.Input(i) is { } s ? Value(s, depth) : throw NotConstant(n.Outputs[output], $"{n.OpType} node '{n.Name}' lacks input {i}");
        Tensor? Opt(int i) => n.Input(i) is { } s ? Value(s, depth) : null;
        long[] Longs(Tensor t) => t.to_type(ScalarType.Int64).data<long>().ToArray();
        long[]? AttrInts(string a) => n.Attribute(a) is { } x ? x.Ints.ToArray() : null;
        long AttrInt(string a, long fallback) => n.Attribute(a)?.I ?? fallback;
        Tensor result;
        switch (n.OpType)
        {
            case "Identity":
                result = In(0).clone();
                break;
            case "Constant":
                var v = n.Attribute("value");
                if (v?.T is { } ct) result = Decode(ct, _file);
                else if (n.Attribute("value_float") is { } vf) result = tensor(vf.F);
                else if (n.Attribute("value_floats") is { } vfs) result = tensor(vfs.Floats.ToArray());
                else if (n.Attribute("value_int") is { } vi) result = tensor(vi.I);
                else if (n.Attribute("value_ints") is { } vis) result = tensor(vis.Ints.ToArray());
                else throw NotConstant(n.Outputs[output], $"Constant node '{n.Name}' has no value LstmPort reads");
                break;
            case "Cast":
                var to = OnnxDataType.Scalar((int)AttrInt("to", 0)) ?? throw NotConstant(n.Outputs[output], $"Cast node '{n.Name}' casts to an unsupported type");
                result = In(0).to_type(to);
                break;
            case "Transpose":
                var x = In(0);
                var perm = AttrInts("perm") is { Length: > 0 } p ? p : Enumerable.Range(0, (int)x.dim()).Reverse().Select(i => (long)i).ToArray();
                result = x.permute(perm).contiguous();
                break;
            case "Reshape":
                var data = In(0);
                var shape = Longs(In(1));
                bool allowZero = AttrInt("allowzero", 0) != 0;
                for (int i = 0; i < shape.Length; i++)
                    if (shape[i] == 0 && !allowZero) shape[i] = data.shape[i];
                result = data.reshape(shape).contiguous();
                break;
            case "Unsqueeze":
                var u = In(0);
                var uaxes = (_opset >= 13 ? Longs(In(1)) : AttrInts("axes")) ?? [];
                int rank = (int)u.dim() + uaxes.Length;
                foreach (var a in uaxes.Select(a => a < 0 ? a + rank : a).Order()) u = u.unsqueeze(a);
                result = u.contiguous();
                break;
            case "Squeeze":
                var sq = In(0);
                var saxes = _opset >= 13 ? (Opt(1) is { } sa ? Longs(sa) : null) : AttrInts("axes");
                if (saxes is null || saxes.Length == 0) result = sq.squeeze();
                else
                {
                    foreach (var a in saxes.Select(a => a < 0 ? a + sq.dim() : a).OrderDescending()) sq = sq.squeeze(a);
                    result = sq.contiguous();
                }
                break;
            case "Concat":
                var parts = Enumerable.Range(0, n.Inputs.Count).Where(i => n.Input(i) is not null).Select(In).ToList();
                result = cat(parts, AttrInt("axis", 0));
                break;
            case "Gather":
                var gx = In(0);
                var idx = In(1).to_type(ScalarType.Int64);
                long axis = AttrInt("axis", 0);
                if (axis < 0) axis += gx.dim();
                idx = torch.where(idx < 0, idx + gx.shape[axis], idx);
                result = gx.index_select(axis, idx.flatten()).reshape([.. gx.shape[..(int)axis], .. idx.shape, .. gx.shape[((int)axis + 1)..]]).contiguous();
                break;
            case "Slice":
                var s0 = In(0);
                long[] starts, ends, axes, steps;
                if (_opset >= 10)
                {
                    starts = Longs(In(1)); ends = Longs(In(2));
                    axes = Opt(3) is { } ax ? Longs(ax) : Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
                    steps = Opt(4) is { } st ? Longs(st) : Enumerable.Repeat(1L, starts.Length).ToArray();
                }
                else
                {
                    starts = AttrInts("starts") ?? []; ends = AttrInts("ends") ?? [];
                    axes = AttrInts("axes") ?? Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
                    steps = Enumerable.Repeat(1L, starts.Length).ToArray();
                }
                for (int i = 0; i < starts.Length; i++)
                {
                    long a = axes[i] < 0 ? axes[i] + s0.dim() : axes[i], dim = s0.shape[a];
                    if (steps[i] != 1) throw NotConstant(n.Outputs[output], $"Slice node '{n.Name}' has step {steps[i]} (only 1 is folded)");
                    long b = Math.Clamp(starts[i] < 0 ? starts[i] + dim : starts[i], 0, dim);
                    long e = Math.Clamp(ends[i] < 0 ? ends[i] + dim : ends[i], 0, dim);
                    s0 = s0.narrow(a, b, Math.Max(0, e - b));
                }
                result = s0.contiguous();
                break;
            case "Split":
                var sx = In(0);
                long saxis = AttrInt("axis", 0);
                if (saxis < 0) saxis += sx.dim();
                long[] sizes = (_opset >= 13 ? (Opt(1) is { } sp ? Longs(sp) : null) : AttrInts("split")) ?? [];
                if (sizes.Length == 0)
                {
                    int count = (int)(n.Attribute("num_outputs")?.I ?? n.Outputs.Count);
                    long chunk = (sx.shape[saxis] + count - 1) / count;
                    sizes = Enumerable.Range(0, count).Select(i => Math.Min(chunk, Math.Max(0, sx.shape[saxis] - i * chunk))).ToArray();
                }
                if (output >= sizes.Length) throw NotConstant(n.Outputs[output], $"Split node '{n.Name}' has fewer parts than outputs");
                result = sx.narrow(saxis, sizes.Take(output).Sum(), sizes[output]).contiguous();
                break;
            default:
                throw NotConstant(n.Outputs[output], $"it is computed by a {n.OpType} node ('{n.Name}'), which LstmPort does not fold");
        }
        return result.MoveToOuterDisposeScope();
    }

    static LstmPortException NotConstant(string name, string why) =>
        new(ErrorIds.OnnxNotConstant, $"the value '{name}' is not a constant LstmPort can read: {why}.", name);

    /// <summary>The tensor's dimensions, each checked (not negative, at most <see cref="MaxElements"/> elements in all).</summary>
    public static long[] CheckedDims(OnnxTensorProto t)
    {
        var dims = t.Dims.ToArray();
        long n = 1;
        foreach (var d in dims)
        {
            if (d < 0) throw new LstmPortException(ErrorIds.CorruptFile, $"tensor '{t.Name}' has a negative dimension {d}.", t.Name);
            if (d > 0 && n > MaxElements / d)
                throw new LstmPortException(ErrorIds.TensorTooLarge, $"tensor '{t.Name}' claims [{string.Join(",", dims)}], more than {MaxElements} elements.", t.Name);
            n *= d;
        }
        return dims;
    }

    /// <summary>A TensorProto's values as a new tensor: raw_data, typed data or external data, every size checked before allocation.</summary>
    /// <summary>A TensorProto's dims, dtype and byte size, checked against what it holds (external data is checked when read).</summary>
    static (long[] Dims, ScalarType DType, long Bytes) Checked(OnnxTensorProto t)
    {
        var dims = CheckedDims(t);
        long n = dims.Aggregate(1L, (a, d) => a * d);
        var dtype = OnnxDataType.Scalar(t.DataType)
            ?? throw new LstmPortException(ErrorIds.UnsupportedDType, $"tensor '{t.Name}' has ONNX data type {t.DataType}, which LstmPort does not read.", t.Name);
        long bytes = n * DTypes.Size(dtype);
        if (t.IsExternal) return (dims, dtype, bytes);
        if (t.Raw is { } raw)
        {
            if (raw.Length != bytes)
                throw new LstmPortException(ErrorIds.TensorSizeMismatch, $"tensor '{t.Name}' is [{string.Join(",", dims)}] {DTypes.Name(dtype)} = {bytes} bytes, but its raw_data has {raw.Length}.", t.Name);
            return (dims, dtype, bytes);
        }
        long count = dtype switch
        {
            ScalarType.Float32 => t.FloatData.Count,
            ScalarType.Float64 => t.DoubleData.Count,
            ScalarType.Int64 => t.Int64Data.Count,
            _ => t.Int32Data.Count,
        };
        if (count != n)
            throw new LstmPortException(ErrorIds.TensorSizeMismatch, $"tensor '{t.Name}' is [{string.Join(",", dims)}] ({n} values) but holds {count}.", t.Name);
        return (dims, dtype, bytes);
    }

    public static unsafe Tensor Decode(OnnxTensorProto t, OnnxFile file)
    {
        var (dims, dtype, bytes) = Checked(t);
        if (t.IsExternal)
        {
            using var s = file.OpenExternal(t, bytes);
            return TensorMemory.Read(s, dims, dtype);
        }
        if (t.Raw is { } raw)
        {
            // Read in place: raw_data may be an array or a mapped file (Runtime.MappedFile), never copied first.
            using var pin = raw.Pin();
            using var ms = new UnmanagedMemoryStream((byte*)pin.Pointer, raw.Length);
            return TensorMemory.Read(ms, dims, dtype);
        }
        TorchRuntime.EnsureLoaded();
        switch (dtype)
        {
            case ScalarType.Float32: return tensor(t.FloatData.ToArray()).reshape(dims);
            case ScalarType.Float64: return tensor(t.DoubleData.ToArray()).reshape(dims);
            case ScalarType.Int64: return tensor(t.Int64Data.ToArray()).reshape(dims);
            case ScalarType.Float16 or ScalarType.BFloat16:
                var halves = t.Int32Data.Select(v => (ushort)v).ToArray();
                using (var ms = new MemoryStream(MemoryMarshal.AsBytes(halves.AsSpan()).ToArray()))
                    return TensorMemory.Read(ms, dims, dtype);
            default: return tensor(t.Int32Data.ToArray()).to_type(dtype).reshape(dims);
        }
    }
}

/// <summary>The model file, for its external data: files named relative to the model's folder, and only inside it.</summary>
internal sealed class OnnxFile(string path)
{
    public string Path { get; } = path;
    public string Folder { get; } = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;

    public Stream OpenExternal(OnnxTensorProto t, long bytes)
    {
        var location = t.External.GetValueOrDefault("location") ?? "";
        long offset = t.External.TryGetValue("offset", out var o) && long.TryParse(o, out var ov) ? ov : 0;
        long length = t.External.TryGetValue("length", out var l) && long.TryParse(l, out var lv) ? lv : bytes;
        if (location.Length == 0 || System.IO.Path.IsPathRooted(location) || location.Contains('\0'))
            throw Outside(t, location);
        var full = System.IO.Path.GetFullPath(System.IO.Path.Combine(Folder, location));
        var root = Folder.EndsWith(System.IO.Path.DirectorySeparatorChar) ? Folder : Folder + System.IO.Path.DirectorySeparatorChar;
        if (!full.StartsWith(root, StringComparison.Ordinal)) throw Outside(t, location);
        if (!File.Exists(full))
            throw new LstmPortException(ErrorIds.FileNotFound, $"tensor '{t.Name}' keeps its data in '{location}', which is not beside the model ({Folder}).", full);
        // A link inside the folder that points out of it is refused too.
        if (new FileInfo(full).ResolveLinkTarget(returnFinalTarget: true) is { } target
            && !System.IO.Path.GetFullPath(target.FullName).StartsWith(root, StringComparison.Ordinal))
            throw Outside(t, location);
        if (length != bytes || offset < 0)
            throw new LstmPortException(ErrorIds.TensorSizeMismatch, $"tensor '{t.Name}' needs {bytes} bytes but its external data says offset {offset}, length {length}.", t.Name);
        var f = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        if (offset + length > f.Length)
        {
            f.Dispose();
            throw new LstmPortException(ErrorIds.TensorOutOfRange, $"tensor '{t.Name}' lies at {offset}..{offset + length} of '{location}', which has {f.Length} bytes.", t.Name);
        }
        f.Position = offset;
        return f;
    }

    static LstmPortException Outside(OnnxTensorProto t, string location) => new(ErrorIds.OnnxExternalDataOutside,
        $"tensor '{t.Name}' names external data '{location}', which is not a file inside the model's folder; LstmPort reads external data only there.", t.Name);
}
