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
    /// <summary>
    /// Values (operator results and initializers) read to fold one value: a value may be used many times (Concat of itself level after
    /// level, a cycle through Concat), so a few bytes of graph could ask for endless work.
    /// </summary>
    public const int MaxFoldOperators = 10_000;
    /// <summary>
    /// Bytes all the operators folded for one value may produce: 256 MiB plus four times the model
    /// file (<see cref="OnnxFile.FoldBytes"/>; what legitimate folding of the file's own data needs).
    /// Concat and Gather can make far more than the file holds, so each result's size is checked
    /// against this before it is allocated.
    /// </summary>
    public const long MinFoldBytes = 256L << 20;
    /// <summary>The most dimensions a folded value may have (ONNX tensors in a file have at most 64 here too).</summary>
    const int MaxRank = 64;
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
    public long[] Shape(string name) => Find(name) is { } init ? CheckedDims(init) : Described(name).Shape;

    // Shape and dtype of each folded value, kept after its first fold: describing a layer asks for both more than once.
    readonly Dictionary<string, (long[] Shape, ScalarType DType)> _described = new(StringComparer.Ordinal);

    (long[] Shape, ScalarType DType) Described(string name)
    {
        if (_described.TryGetValue(name, out var known)) return known;
        using var t = Value(name);
        return _described[name] = (t.shape, t.dtype);
    }

    /// <summary>The value as a new tensor (the caller owns it).</summary>
    public Tensor Value(string name)
    {
        try { return Value(name, 0, new Budget()); }
        catch (LstmPortException) { throw; }
        // Operator arguments from the file that libtorch refuses (an axis out of range, a shape that does not fit): the value's damage.
        catch (Exception e)
        {
            throw new LstmPortException(ErrorIds.CorruptFile, $"the value '{name}' cannot be computed from the graph's constants: {e.Message}", name, e);
        }
    }

    /// <summary>What folding one value has used so far (<see cref="MaxFoldOperators"/>, <see cref="MaxFoldBytes"/>).</summary>
    sealed class Budget
    {
        public int Operators;
        public long Bytes;
    }

    void Charge(Budget budget, string name, long bytes)
    {
        budget.Bytes += bytes;
        if (bytes < 0 || budget.Bytes > _file.FoldBytes)
            throw new LstmPortException(ErrorIds.TensorTooLarge,
                $"the value '{name}' is computed from constants through results of more than {_file.FoldBytes >> 20} MiB; LstmPort does not fold it.", name);
    }

    static long Bytes(Tensor t) => t.numel() * t.element_size();

    /// <summary>
    /// The value's dtype: an initializer's from its proto, checked as <see cref="Decode"/> checks it but
    /// without reading its data (listing a 1 GB model decoded every weight: issue 18); a computed
    /// value's by folding it, once.
    /// </summary>
    public ScalarType DType(string name)
    {
        if (Find(name) is not { } init) return Described(name).DType;
        var (_, dtype, bytes) = Checked(init);
        // External data: its location and size are checked now (opening it reads nothing), as decoding did.
        if (init.IsExternal) using (_file.OpenExternal(init, bytes)) { }
        return dtype;
    }

    OnnxTensorProto? Find(string name) =>
        _supplied.TryGetValue(name, out var s) ? s : _initializers.TryGetValue(name, out var t) ? t : _outer?.Find(name);

    Tensor Value(string name, int depth, Budget budget)
    {
        if (depth > MaxFoldDepth)
            throw NotConstant(name, $"it is computed through more than {MaxFoldDepth} operators");
        if (++budget.Operators > MaxFoldOperators)
            throw NotConstant(name, $"folding it reads more than {MaxFoldOperators} values (a value used again and again, or a cycle)");
        if (Find(name) is { } init)
        {
            // An initializer read for an operator counts against the fold's bytes (a weight read directly does not).
            if (depth > 0) Charge(budget, name, CheckedDims(init).Aggregate(1L, (a, x) => a * x) * (OnnxDataType.Scalar(init.DataType) is { } st ? DTypes.Size(st) : 1));
            return Decode(init, _file);
        }
        var scope = this;
        while (scope is not null && !scope._producers.ContainsKey(name)) scope = scope._outer;
        if (scope is null) throw NotConstant(name, "it is a graph input or a value no node computes (a run-time input)");
        var (node, output) = scope._producers[name];
        return scope.Fold(node, output, depth + 1, budget);
    }

    Tensor Fold(OnnxNode n, int output, int depth, Budget budget)
    {
        using var d = NewDisposeScope();
        var outName = n.Outputs[output];
        Tensor In(int i) => n.Input(i) is { } s ? Value(s, depth, budget) : throw NotConstant(outName, $"{n.OpType} node '{n.Name}' lacks input {i}");
        Tensor? Opt(int i) => n.Input(i) is { } s ? Value(s, depth, budget) : null;
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
                var castFrom = In(0);
                Charge(budget, outName, castFrom.numel() * DTypes.Size(to));
                result = castFrom.to_type(to);
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
                if (u.dim() + uaxes.LongLength > MaxRank)
                    throw new LstmPortException(ErrorIds.CorruptFile, $"Unsqueeze node '{n.Name}' asks for {u.dim() + uaxes.LongLength} dimensions (at most {MaxRank}).", outName);
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
                var parts = new List<Tensor>();
                long catBytes = 0;
                foreach (var i in Enumerable.Range(0, n.Inputs.Count).Where(i => n.Input(i) is not null))
                {
                    var part = In(i);
                    parts.Add(part);
                    catBytes += Bytes(part);
                    if (catBytes > _file.FoldBytes) break;
                }
                Charge(budget, outName, catBytes); // checked before the result is allocated
                result = cat(parts, AttrInt("axis", 0));
                break;
            case "Gather":
                var gx = In(0);
                var idx = In(1);
                long axis = AttrInt("axis", 0);
                if (axis < 0) axis += gx.dim();
                long rowBytes = gx.shape[axis] == 0 ? 0 : Bytes(gx) / gx.shape[axis];
                // Checked before the result (and the index arithmetic) is allocated.
                Charge(budget, outName, idx.numel() * Math.Max(rowBytes, 8));
                idx = idx.to_type(ScalarType.Int64);
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
        if (n.OpType is not ("Cast" or "Concat" or "Gather")) Charge(budget, outName, Bytes(result)); // no larger than its input
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
            // raw_data may be an array or a mapped file (Runtime.MappedFile): copied once into the tensor either way.
            using var s = MappedFile.OpenRead(raw);
            return TensorMemory.Read(s, dims, dtype);
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

    /// <summary>What folding one value may produce: <see cref="OnnxScope.MinFoldBytes"/> plus four times the model file.</summary>
    public long FoldBytes { get; } = OnnxScope.MinFoldBytes + 4 * (File.Exists(path) ? new FileInfo(path).Length : 0);

    public Stream OpenExternal(OnnxTensorProto t, long bytes)
    {
        var location = t.External.GetValueOrDefault("location") ?? "";
        long offset = Number(t, "offset", 0), length = Number(t, "length", bytes);
        if (location.Length == 0 || System.IO.Path.IsPathRooted(location) || location.Contains('\0'))
            throw Outside(t, location);
        var full = System.IO.Path.GetFullPath(System.IO.Path.Combine(Folder, location));
        var root = Folder.EndsWith(System.IO.Path.DirectorySeparatorChar) ? Folder : Folder + System.IO.Path.DirectorySeparatorChar;
        if (!full.StartsWith(root, StringComparison.Ordinal)) throw Outside(t, location);
        if (!File.Exists(full))
            throw new LstmPortException(ErrorIds.FileNotFound, $"tensor '{t.Name}' keeps its data in '{location}', which is not beside the model ({Folder}).", full);
        // A link inside the folder (the file, or a folder on the way to it) that leads out of it is refused too.
        var realRoot = RealPath(Folder);
        realRoot = realRoot.EndsWith(System.IO.Path.DirectorySeparatorChar) ? realRoot : realRoot + System.IO.Path.DirectorySeparatorChar;
        if (RealPath(full) is not { } real || !real.StartsWith(realRoot, StringComparison.Ordinal))
            throw Outside(t, location);
        if (length != bytes || offset < 0)
            throw new LstmPortException(ErrorIds.TensorSizeMismatch, $"tensor '{t.Name}' needs {bytes} bytes but its external data says offset {offset}, length {length}.", t.Name);
        // Sizes are checked before the file is opened: a FIFO or device placed as data says 0 bytes,
        // and opening it could block. Written so that an offset near long.MaxValue cannot wrap the sum.
        long fileLength = new FileInfo(real).Length;
        if (offset > fileLength - length)
            throw new LstmPortException(ErrorIds.TensorOutOfRange, $"tensor '{t.Name}' lies at {offset}, +{length} bytes, of '{location}', which has {fileLength} bytes.", t.Name);
        if (length == 0) return Stream.Null;
        var f = new FileStream(real, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        f.Position = offset;
        return f;
    }

    /// <summary>An external_data entry that is a number (the offset and length are decimal strings), or the default when absent.</summary>
    static long Number(OnnxTensorProto t, string key, long fallback)
    {
        if (!t.External.TryGetValue(key, out var text)) return fallback;
        if (long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var v)) return v;
        throw new LstmPortException(ErrorIds.CorruptFile, $"tensor '{t.Name}' has external data {key} '{text}', which is not a whole number of bytes.", t.Name);
    }

    /// <summary>
    /// The path with every symbolic link on it resolved (each folder on the way and the file), as the
    /// system opens it; null when links lead round more than 40 times.
    /// </summary>
    static string? RealPath(string path)
    {
        int hops = 0;
        string? Resolve(string full)
        {
            var rootPart = System.IO.Path.GetPathRoot(full) ?? "";
            var current = rootPart;
            foreach (var part in full[rootPart.Length..].Split(System.IO.Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
            {
                current = System.IO.Path.Combine(current, part);
                if (new FileInfo(current).LinkTarget is not { } target) continue;
                if (++hops > 40) return null;
                var next = System.IO.Path.GetFullPath(System.IO.Path.IsPathRooted(target) ? target : System.IO.Path.Combine(System.IO.Path.GetDirectoryName(current)!, target));
                if (Resolve(next) is not { } resolved) return null;
                current = resolved;
            }
            return current;
        }
        return Resolve(System.IO.Path.GetFullPath(path));
    }

    static LstmPortException Outside(OnnxTensorProto t, string location) => new(ErrorIds.OnnxExternalDataOutside,
        $"tensor '{t.Name}' names external data '{location}', which is not a file inside the model's folder; LstmPort reads external data only there.", t.Name);
}
