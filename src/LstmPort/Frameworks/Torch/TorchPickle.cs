using System.Numerics;
using System.Text;
using TorchSharp;
using LstmPort.Containers;

namespace LstmPort.Frameworks.Torch;

/// <summary>
/// A storage a pickle refers to by persistent id: its key, class, element type (null: one LstmPort
/// does not read), element size in bytes and size in elements.
/// </summary>
public sealed record StorageRef(string Key, string TypeName, torch.ScalarType? DType, long Numel, string Location,
    long ViewOffset = 0, int ElementSize = 1);

/// <summary>
/// A tensor as <c>_rebuild_tensor_v2</c> describes it: a window (offset, size, stride, in elements of
/// the tensor's type) on a storage. <paramref name="DType"/> is set when the tensor says its type
/// itself (<c>_rebuild_tensor_v3</c> on an untyped storage); otherwise it is the storage's.
/// </summary>
public sealed record TensorRef(StorageRef Storage, long Offset, long[] Size, long[] Stride, torch.ScalarType? DType = null, string? DTypeName = null)
{
    public torch.ScalarType? ElementType => DType ?? (DTypeName is null ? Storage.DType : null);
    public string TypeName => DTypeName ?? Storage.TypeName;
}

/// <summary>A tensor the pickle rebuilds in a form LstmPort does not read (quantized, sparse, meta, nested): an error of its own.</summary>
public sealed record UnreadableTensor(string Why);

/// <summary>
/// The allow-list of what a PyTorch pickle may name, the set <c>torch.load(weights_only=True)</c>
/// accepts for a state_dict: <c>collections.OrderedDict</c>, the tensor and parameter rebuild
/// functions, the storage classes, dtypes, <c>torch.Size</c>, <c>torch.device</c>, <c>set</c>,
/// <c>frozenset</c>, <c>bytearray</c> (and <c>_codecs.encode</c>, which protocol 2 uses for bytes); in a TorchScript archive also the
/// <c>__torch__.*</c> classes of the scripted modules and <c>torch.jit._pickle</c>'s list and type
/// tags. The tokens it returns are inert markers: calling one runs C# code of ours that builds a
/// record, nothing else. Every other global becomes an inert <see cref="PyGlobal"/> and is listed in
/// <see cref="Foreign"/>: the reader refuses the file for it (UnsafePickleGlobal) unless told to
/// skip such objects.
/// </summary>
public sealed class TorchPickleResolver(string path, bool torchScript = false) : IPickleResolver
{
    enum Fn
    {
        OrderedDict, RebuildTensorV2, RebuildTensorV3, RebuildTensor, RebuildParameter, RebuildParameterWithState,
        RebuildFromTypeV2, RebuildUnreadable, CodecsEncode, Set, ByteArray, StorageClass, DType, Size, Device, Layout, Inert, TypeTag, BuildList,
    }

    sealed record Token(string FullName, Fn Fn, torch.ScalarType? DType = null, int ElementSize = 0, string? Name = null);

    /// <summary>Storage classes: element type (null: not read) and element size (so a legacy file's later storages can still be found).</summary>
    static readonly Dictionary<string, (torch.ScalarType? DType, int Size)> StorageTypes = new()
    {
        ["FloatStorage"] = (torch.ScalarType.Float32, 4), ["DoubleStorage"] = (torch.ScalarType.Float64, 8),
        ["HalfStorage"] = (torch.ScalarType.Float16, 2), ["BFloat16Storage"] = (torch.ScalarType.BFloat16, 2),
        ["LongStorage"] = (torch.ScalarType.Int64, 8), ["IntStorage"] = (torch.ScalarType.Int32, 4),
        ["ShortStorage"] = (torch.ScalarType.Int16, 2), ["CharStorage"] = (torch.ScalarType.Int8, 1),
        ["ByteStorage"] = (torch.ScalarType.Byte, 1), ["BoolStorage"] = (torch.ScalarType.Bool, 1),
        // Bytes whose type each tensor gives (_rebuild_tensor_v3): read as bytes, reinterpreted per tensor.
        ["UntypedStorage"] = (torch.ScalarType.Byte, 1),
        // Data-only storage classes whose element types LstmPort does not handle: named, then refused per tensor.
        ["ComplexFloatStorage"] = (null, 8), ["ComplexDoubleStorage"] = (null, 16), ["QInt8Storage"] = (null, 1),
        ["QUInt8Storage"] = (null, 1), ["QInt32Storage"] = (null, 4), ["QUInt4x2Storage"] = (null, 1), ["QUInt2x4Storage"] = (null, 1),
    };

    /// <summary>torch dtypes by the names they pickle as (<c>torch.float32</c>); null: a type LstmPort does not read.</summary>
    static readonly Dictionary<string, torch.ScalarType?> DTypeNames = new()
    {
        ["float32"] = torch.ScalarType.Float32, ["float"] = torch.ScalarType.Float32,
        ["float64"] = torch.ScalarType.Float64, ["double"] = torch.ScalarType.Float64,
        ["float16"] = torch.ScalarType.Float16, ["half"] = torch.ScalarType.Float16, ["bfloat16"] = torch.ScalarType.BFloat16,
        ["int64"] = torch.ScalarType.Int64, ["long"] = torch.ScalarType.Int64, ["int32"] = torch.ScalarType.Int32,
        ["int"] = torch.ScalarType.Int32, ["int16"] = torch.ScalarType.Int16, ["short"] = torch.ScalarType.Int16,
        ["int8"] = torch.ScalarType.Int8, ["uint8"] = torch.ScalarType.Byte, ["bool"] = torch.ScalarType.Bool,
        ["uint16"] = null, ["uint32"] = null, ["uint64"] = null, ["complex32"] = null, ["complex64"] = null, ["cfloat"] = null,
        ["complex128"] = null, ["cdouble"] = null, ["float8_e4m3fn"] = null, ["float8_e5m2"] = null, ["float8_e4m3fnuz"] = null,
        ["float8_e5m2fnuz"] = null, ["qint8"] = null, ["quint8"] = null, ["qint32"] = null, ["quint4x2"] = null,
    };

    static readonly HashSet<string> InertTorchNames =
    [
        "per_tensor_affine", "per_channel_affine", "per_tensor_symmetric", "per_channel_symmetric", "per_channel_affine_float_qparams",
        "strided", "sparse_coo", "sparse_csr", "sparse_csc", "sparse_bsr", "sparse_bsc", "_mkldnn",
    ];

    readonly List<string> _foreign = [];
    readonly HashSet<string> _foreignSeen = new(StringComparer.Ordinal);

    /// <summary>Every storage the pickle referred to, by key (a key names one storage, shared by all its views).</summary>
    public Dictionary<string, StorageRef> Storages { get; } = new(StringComparer.Ordinal);

    /// <summary>Globals outside the allow-list the pickle named, in order, each once (left inert).</summary>
    public IReadOnlyList<string> Foreign => _foreign;

    /// <summary>Whether this is a TorchScript archive's pickle, where <c>__torch__.*</c> classes are plain containers.</summary>
    public bool TorchScript => torchScript;

    public object Global(string module, string name)
    {
        var full = $"{module}.{name}";
        switch (full)
        {
            case "collections.OrderedDict": return new Token(full, Fn.OrderedDict);
            case "torch._utils._rebuild_tensor_v2": return new Token(full, Fn.RebuildTensorV2);
            case "torch._utils._rebuild_tensor_v3": return new Token(full, Fn.RebuildTensorV3);
            case "torch._utils._rebuild_tensor": return new Token(full, Fn.RebuildTensor);
            case "torch._utils._rebuild_parameter": return new Token(full, Fn.RebuildParameter);
            case "torch._utils._rebuild_parameter_with_state": return new Token(full, Fn.RebuildParameterWithState);
            case "torch._tensor._rebuild_from_type_v2": return new Token(full, Fn.RebuildFromTypeV2);
            case "torch._utils._rebuild_qtensor": return new Token(full, Fn.RebuildUnreadable, Name: "a quantized tensor");
            case "torch._utils._rebuild_sparse_tensor": return new Token(full, Fn.RebuildUnreadable, Name: "a sparse tensor");
            case "torch._utils._rebuild_sparse_csr": return new Token(full, Fn.RebuildUnreadable, Name: "a sparse tensor");
            case "torch._utils._rebuild_nested_tensor": return new Token(full, Fn.RebuildUnreadable, Name: "a nested tensor");
            case "torch._utils._rebuild_meta_tensor_no_storage": return new Token(full, Fn.RebuildUnreadable, Name: "a meta tensor (no data)");
            case "_codecs.encode": return new Token(full, Fn.CodecsEncode);
            case "builtins.set" or "__builtin__.set" or "builtins.frozenset" or "__builtin__.frozenset": return new Token(full, Fn.Set);
            case "builtins.bytearray" or "__builtin__.bytearray": return new Token(full, Fn.ByteArray);
            case "torch.Size": return new Token(full, Fn.Size);
            case "torch.device": return new Token(full, Fn.Device);
            case "torch.serialization._get_layout": return new Token(full, Fn.Layout);
            case "torch.Tensor" or "torch._tensor.Tensor" or "torch.nn.parameter.Parameter": return new Token(full, Fn.Inert);
        }
        // Storage classes: torch.FloatStorage; torch.cuda.FloatStorage in files saved from the GPU by old torch.
        if (module is "torch" or "torch.cuda" && StorageTypes.TryGetValue(name, out var st))
            return new Token(full, Fn.StorageClass, st.DType, st.Size);
        if (module == "torch" && DTypeNames.TryGetValue(name, out var dt)) return new Token(full, Fn.DType, dt, Name: name);
        if (module == "torch" && InertTorchNames.Contains(name)) return new Token(full, Fn.Inert);
        if (torchScript)
        {
            // TorchScript archives: module classes are plain attribute containers; the list builders and type tags return their data.
            if (module == "__torch__" || module.StartsWith("__torch__.", StringComparison.Ordinal)) return new PyGlobal(module, name);
            switch (full)
            {
                case "torch.jit._pickle.restore_type_tag": return new Token(full, Fn.TypeTag);
                case "torch.jit._pickle.build_tensorlist" or "torch.jit._pickle.build_intlist" or "torch.jit._pickle.build_doublelist"
                    or "torch.jit._pickle.build_boollist": return new Token(full, Fn.BuildList);
            }
        }
        if (_foreignSeen.Add(full)) _foreign.Add(full);
        return new PyGlobal(module, name);
    }

    public object? Call(object callable, PyTuple args)
    {
        if (callable is not Token t)
            throw Corrupt($"the pickle calls a {PickleReader.TypeName(callable)}, which is not callable");
        switch (t.Fn)
        {
            case Fn.OrderedDict:
            {
                var d = new PyDict();
                if (args.Count == 1 && args[0] is List<object?> pairs)
                    foreach (var p in pairs)
                        if (p is PyTuple { Count: 2 } kv) d.Set(kv[0], kv[1]);
                        else if (p is List<object?> { Count: 2 } kl) d.Set(kl[0], kl[1]);
                        else throw Corrupt("OrderedDict is given something other than key-value pairs");
                else if (args.Count != 0) throw Corrupt("OrderedDict is called with unexpected arguments");
                return d;
            }
            case Fn.RebuildTensorV2 when args.Count is >= 4 and <= 7:
            case Fn.RebuildTensor when args.Count == 4:
                return new TensorRef(StorageOf(t, args[0]), Int(args[1], "storage offset"), Ints(args[2], "size"), Ints(args[3], "stride"));
            case Fn.RebuildTensorV3 when args.Count is 7 or 8:
            {
                if (args[6] is not Token { Fn: Fn.DType } dtype) throw Corrupt($"{t.FullName} is given a {PickleReader.TypeName(args[6])}, not a dtype");
                return new TensorRef(StorageOf(t, args[0]), Int(args[1], "storage offset"), Ints(args[2], "size"), Ints(args[3], "stride"),
                    dtype.DType, dtype.DType is null ? dtype.FullName : null);
            }
            case Fn.RebuildParameter when args.Count == 3:
            case Fn.RebuildParameterWithState when args.Count == 4:
                return args[0] is TensorRef or UnreadableTensor ? args[0]
                    : throw Corrupt($"{t.FullName} is given a {PickleReader.TypeName(args[0])}, not a tensor");
            case Fn.RebuildFromTypeV2 when args.Count == 4:
            {
                // (func, new_type, args, state): a tensor subclass or a tensor with Python attributes; the data is func(*args).
                if (args[0] is not Token { Fn: Fn.RebuildTensorV2 or Fn.RebuildTensorV3 or Fn.RebuildTensor or Fn.RebuildParameter
                        or Fn.RebuildParameterWithState or Fn.RebuildUnreadable } inner || args[2] is not PyTuple innerArgs)
                    throw Corrupt($"{t.FullName} is given a {PickleReader.TypeName(args[0])} to rebuild with");
                return Call(inner, innerArgs);
            }
            case Fn.RebuildUnreadable:
                return new UnreadableTensor(t.Name!);
            case Fn.CodecsEncode when args.Count is 1 or 2 && args[0] is string s:
                return Encoding.Latin1.GetBytes(s);
            case Fn.Set when args.Count is 0 or 1:
                return new PySet(args.Count == 0 ? [] : args[0] switch
                {
                    List<object?> l => l,
                    PyTuple p => [.. p.Items],
                    PySet p => p.Items,
                    _ => throw Corrupt($"{t.FullName} is given a {PickleReader.TypeName(args[0])}, not a list"),
                });
            case Fn.ByteArray when args.Count == 0:
                return Array.Empty<byte>();
            case Fn.ByteArray when args.Count is 1 or 2 && args[0] is byte[] or string:
                return args[0] as byte[] ?? Encoding.Latin1.GetBytes((string)args[0]!);
            case Fn.Size when args.Count is 0 or 1:
                return args.Count == 0 ? new PyTuple([]) : args[0] switch
                {
                    PyTuple p => p,
                    List<object?> l => new PyTuple(l.ToArray()),
                    _ => throw Corrupt("torch.Size is given something other than a tuple"),
                };
            case Fn.Device or Fn.Layout:
                return string.Join(":", args.Items.Select(a => Convert.ToString(a, System.Globalization.CultureInfo.InvariantCulture)));
            case Fn.TypeTag when args.Count == 2:
                return args[0];
            case Fn.BuildList when args.Count == 1 && args[0] is List<object?> list:
                return list;
            default:
                throw Corrupt($"{t.FullName} is called with {args.Count} arguments");
        }
    }

    StorageRef StorageOf(Token t, object? o) => o as StorageRef ?? throw Corrupt($"{t.FullName} is given a {PickleReader.TypeName(o)}, not a storage");

    /// <summary>
    /// ('storage', storage class, key, location, numel) in zip files; legacy files add a sixth
    /// element, (view key, offset, view numel) or None, for views on a larger storage.
    /// </summary>
    public object? PersistentLoad(object? pid)
    {
        // Legacy torch.save(model) records each nn.Module class with its source: ('module', class, file, source).
        // The class is what it stands for (inert like any foreign global); the source is never looked at.
        if (pid is PyTuple { Count: 4 } m && m[0] is "module") return m[1];
        if (pid is not PyTuple { Count: 5 or 6 } p || p[0] is not "storage")
            throw Corrupt("a persistent id is not a ('storage', ...) tuple");
        if (p[1] is not Token { Fn: Fn.StorageClass } cls)
            throw Corrupt("a persistent id does not name a storage class");
        var key = p[2] switch { string s => s, long l => l.ToString(System.Globalization.CultureInfo.InvariantCulture), _ => throw Corrupt("a storage key is not a string") };
        var location = p[3] as string ?? "cpu";
        long numel = Int(p[4], "storage size");
        if (numel < 0) throw Corrupt($"storage '{key}' has a negative size");
        var typeName = cls.FullName;
        if (Storages.TryGetValue(key, out var known))
        {
            if (known.TypeName != typeName) throw Corrupt($"storage '{key}' is used as both {known.TypeName} and {typeName}");
        }
        else Storages[key] = known = new StorageRef(key, typeName, cls.DType, numel, location, ElementSize: cls.ElementSize);

        if (p.Count == 6 && p[5] is PyTuple { Count: 3 } view)
        {
            long offset = Int(view[1], "view offset"), viewNumel = Int(view[2], "view size");
            if (offset < 0 || viewNumel < 0 || offset > known.Numel - viewNumel)
                throw new LstmPortException(ErrorIds.TensorOutOfRange,
                    $"'{path}': a storage view [{offset}, +{viewNumel}] lies outside storage '{key}' of {known.Numel} elements.", path);
            return known with { ViewOffset = offset, Numel = viewNumel };
        }
        return known;
    }

    public void Build(object? target, object? state)
    {
        switch (target)
        {
            case PyDict d: d.State = state; break; // OrderedDict._metadata of a state_dict
            case TensorRef or UnreadableTensor: break; // tensor attributes (hooks, requires_grad) do not change the data
            default: throw Corrupt($"the pickle sets the state of a {PickleReader.TypeName(target)}");
        }
    }

    long Int(object? o, string what) => o switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        BigInteger => throw new LstmPortException(ErrorIds.TensorTooLarge, $"'{path}': a tensor's {what} ({o}) is absurdly large.", path),
        _ => throw Corrupt($"a tensor's {what} is a {PickleReader.TypeName(o)}, not an int"),
    };

    long[] Ints(object? o, string what) => o switch
    {
        PyTuple t => t.Items.Select(x => Int(x, what)).ToArray(),
        List<object?> l => l.Select(x => Int(x, what)).ToArray(),
        _ => throw Corrupt($"a tensor's {what} is a {PickleReader.TypeName(o)}, not a tuple"),
    };

    LstmPortException Corrupt(string what) => new(ErrorIds.CorruptFile, $"'{path}' is not a valid PyTorch file: {what}.", path);
}
