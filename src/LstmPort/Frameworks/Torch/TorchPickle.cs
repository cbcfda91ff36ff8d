using System.Numerics;
using System.Text;
using TorchSharp;
using LstmPort.Containers;

namespace LstmPort.Frameworks.Torch;

/// <summary>A storage a pickle refers to by persistent id: its key, element type and size in elements.</summary>
public sealed record StorageRef(string Key, string TypeName, torch.ScalarType? DType, long Numel, string Location, long ViewOffset = 0);

/// <summary>A tensor as <c>_rebuild_tensor_v2</c> describes it: a window (offset, size, stride) on a storage.</summary>
public sealed record TensorRef(StorageRef Storage, long Offset, long[] Size, long[] Stride);

/// <summary>
/// The allow-list of what a PyTorch pickle may name, the same set <c>torch.load(weights_only=True)</c>
/// accepts for a state_dict: <c>collections.OrderedDict</c>, the tensor rebuild functions, the storage
/// classes (and <c>_codecs.encode</c>, which protocol 2 uses for bytes). Anything else is refused with
/// <c>UnsafePickleGlobal</c> at the GLOBAL opcode, before any argument is even read. The tokens it
/// returns are inert markers: calling one runs C# code of ours that builds a record, nothing else.
/// </summary>
public sealed class TorchPickleResolver(string path) : IPickleResolver
{
    enum Fn { OrderedDict, RebuildTensorV2, RebuildTensor, RebuildParameter, RebuildParameterWithState, CodecsEncode, StorageClass }

    sealed record Token(string FullName, Fn Fn, torch.ScalarType? DType = null);

    static readonly Dictionary<string, torch.ScalarType?> StorageTypes = new()
    {
        ["FloatStorage"] = torch.ScalarType.Float32, ["DoubleStorage"] = torch.ScalarType.Float64,
        ["HalfStorage"] = torch.ScalarType.Float16, ["BFloat16Storage"] = torch.ScalarType.BFloat16,
        ["LongStorage"] = torch.ScalarType.Int64, ["IntStorage"] = torch.ScalarType.Int32,
        ["ShortStorage"] = torch.ScalarType.Int16, ["CharStorage"] = torch.ScalarType.Int8,
        ["ByteStorage"] = torch.ScalarType.Byte, ["BoolStorage"] = torch.ScalarType.Bool,
        // Data-only storage classes whose element types LstmPort does not handle: named, then refused as a dtype.
        ["ComplexFloatStorage"] = null, ["ComplexDoubleStorage"] = null, ["QInt8Storage"] = null,
        ["QUInt8Storage"] = null, ["QInt32Storage"] = null, ["QUInt4x2Storage"] = null, ["QUInt2x4Storage"] = null,
    };

    /// <summary>Every storage the pickle referred to, by key (a key names one storage, shared by all its views).</summary>
    public Dictionary<string, StorageRef> Storages { get; } = new(StringComparer.Ordinal);

    public object Global(string module, string name)
    {
        var full = $"{module}.{name}";
        return full switch
        {
            "collections.OrderedDict" => new Token(full, Fn.OrderedDict),
            "torch._utils._rebuild_tensor_v2" => new Token(full, Fn.RebuildTensorV2),
            "torch._utils._rebuild_tensor" => new Token(full, Fn.RebuildTensor),
            "torch._utils._rebuild_parameter" => new Token(full, Fn.RebuildParameter),
            "torch._utils._rebuild_parameter_with_state" => new Token(full, Fn.RebuildParameterWithState),
            "_codecs.encode" => new Token(full, Fn.CodecsEncode),
            _ when module == "torch" && StorageTypes.TryGetValue(name, out var dt) => new Token(full, Fn.StorageClass, dt),
            _ => throw new LstmPortException(ErrorIds.UnsafePickleGlobal,
                $"'{path}' asks to load the Python global '{full}', which is not a tensor or a plain container; " +
                "LstmPort loads only state_dicts (as torch.load(weights_only=True) does) and never runs code from a file. " +
                "If the file pickles a whole model, save model.state_dict() instead.", path),
        };
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
            {
                var storage = args[0] as StorageRef ?? throw Corrupt($"{t.FullName} is given a {PickleReader.TypeName(args[0])}, not a storage");
                return new TensorRef(storage, Int(args[1], "storage offset"), Ints(args[2], "size"), Ints(args[3], "stride"));
            }
            case Fn.RebuildParameter when args.Count == 3:
            case Fn.RebuildParameterWithState when args.Count == 4:
                return args[0] as TensorRef ?? throw Corrupt($"{t.FullName} is given a {PickleReader.TypeName(args[0])}, not a tensor");
            case Fn.CodecsEncode when args.Count is 1 or 2 && args[0] is string s:
                return Encoding.Latin1.GetBytes(s);
            default:
                throw Corrupt($"{t.FullName} is called with {args.Count} arguments");
        }
    }

    /// <summary>
    /// ('storage', storage class, key, location, numel) in zip files; legacy files add a sixth
    /// element, (view key, offset, view numel) or None, for views on a larger storage.
    /// </summary>
    public object? PersistentLoad(object? pid)
    {
        if (pid is not PyTuple { Count: 5 or 6 } p || p[0] is not "storage")
            throw Corrupt("a persistent id is not a ('storage', ...) tuple");
        if (p[1] is not Token { Fn: Fn.StorageClass } cls)
            throw Corrupt("a persistent id does not name a storage class");
        var key = p[2] switch { string s => s, long l => l.ToString(System.Globalization.CultureInfo.InvariantCulture), _ => throw Corrupt("a storage key is not a string") };
        var location = p[3] as string ?? "cpu";
        long numel = Int(p[4], "storage size");
        var typeName = cls.FullName;
        if (Storages.TryGetValue(key, out var known))
        {
            if (known.TypeName != typeName) throw Corrupt($"storage '{key}' is used as both {known.TypeName} and {typeName}");
        }
        else Storages[key] = known = new StorageRef(key, typeName, cls.DType, numel, location);

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
            case TensorRef: break; // tensor attributes (hooks, requires_grad) do not change the data
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
