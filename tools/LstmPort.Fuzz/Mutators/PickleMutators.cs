using System.Buffers.Binary;
using System.Numerics;
using System.Text;
using LstmPort.Fuzz.Formats;
using LstmPort.Fuzz.Running;

namespace LstmPort.Fuzz.Mutators;

/// <summary>
/// Base of the pickle mutators: finds the pickles in the bytes (data.pkl of a torch zip is one; a
/// legacy torch file is several in a row, then raw storages), picks one (mostly the largest, the
/// state_dict) and splices the mutated pickle back.
/// </summary>
public abstract class PickleMutator : IBytesMutator
{
    public abstract string Name { get; }
    public virtual int Weight => 14;
    public virtual bool Hostile => false;
    public bool Accepts(string name, byte[] data) => data.Length > 2 && data[0] == Pickle.Proto && Regions(data).Count > 0;

    public static List<(int Start, int End)> Regions(byte[] data)
    {
        var list = new List<(int, int)>();
        int p = 0;
        for (int k = 0; k < 8 && p < data.Length && data[p] == Pickle.Proto; k++)
        {
            var (ops, complete) = Pickle.Scan(data, p);
            if (!complete) { if (list.Count == 0 && ops.Count > 1) list.Add((p, ops[^1].End)); break; }
            list.Add((p, ops[^1].End));
            p = ops[^1].End;
        }
        return list;
    }

    public (byte[] Data, string What)? Mutate(string name, byte[] data, Random rng)
    {
        var regions = Regions(data);
        if (regions.Count == 0) return null;
        var (start, end) = rng.Chance(0.7) ? regions.MaxBy(r => r.End - r.Start) : rng.Pick(regions);
        var pickle = data.AsSpan(start, end - start).ToArray();
        var ops = Pickle.Scan(pickle).Ops;
        if (ops.Count == 0) return null;
        var result = Mutate(pickle, ops, rng);
        if (result is null) return null;
        var where = regions.Count > 1 ? $"pickle {regions.IndexOf((start, end))} of {regions.Count}: " : "";
        return (Bytes.Splice(data, start, end - start, result.Value.Pickle), where + result.Value.What);
    }

    protected abstract (byte[] Pickle, string What)? Mutate(byte[] pickle, List<PickleOp> ops, Random rng);

    /// <summary>Where a self-contained snippet (one that leaves the stack as it found it) can go: just after PROTO/FRAME.</summary>
    protected static int AfterProto(List<PickleOp> ops)
    {
        int i = 0;
        while (i < ops.Count && ops[i].Code is Pickle.Proto or Pickle.Frame) i++;
        return i < ops.Count ? ops[i].Pos : ops[^1].Pos;
    }

    /// <summary>The position of the final STOP (snippets that act on the root object go just before it).</summary>
    protected static int BeforeStop(List<PickleOp> ops) => ops[^1].Code == Pickle.Stop ? ops[^1].Pos : ops[^1].End;
}

/// <summary>An opcode replaced by another, a random opcode inserted, or one deleted.</summary>
public sealed class PickleOpcodes : PickleMutator
{
    public override string Name => "pickle-op";

    protected override (byte[] Pickle, string What)? Mutate(byte[] pickle, List<PickleOp> ops, Random rng)
    {
        var op = rng.Pick(ops);
        switch (rng.Next(3))
        {
            case 0:
            {
                byte code = rng.Chance(0.9) ? rng.Pick(Pickle.AllCodes) : (byte)rng.Next(256);
                var d = (byte[])pickle.Clone();
                d[op.Pos] = code;
                return (d, $"opcode 0x{op.Code:x2} at {op.Pos} replaced by 0x{code:x2}");
            }
            case 1:
            {
                byte code = rng.Pick(Pickle.AllCodes);
                var arg = Pickle.Arg(code)!.Value;
                var bytes = new List<byte> { code };
                if (arg.Fixed > 0) { var b = new byte[arg.Fixed]; rng.NextBytes(b); bytes.AddRange(b); }
                else if (arg.Prefix > 0) { bytes.Add(3); bytes.AddRange(new byte[arg.Prefix - 1]); bytes.AddRange("abc"u8.ToArray()); }
                else for (int l = 0; l < arg.Lines; l++) bytes.AddRange("x\n"u8.ToArray());
                return (Bytes.Splice(pickle, op.Pos, 0, bytes.ToArray()), $"opcode 0x{code:x2} inserted at {op.Pos}");
            }
            default:
                return (Bytes.Splice(pickle, op.Pos, op.End - op.Pos, []), $"opcode 0x{op.Code:x2} at {op.Pos} deleted");
        }
    }
}

/// <summary>
/// An argument changed: an integer (sizes, strides, offsets, storage sizes) to an edge value, a
/// string (keys, storage keys, locations) to a hostile one, or a length prefix to a huge value.
/// </summary>
public sealed class PickleValues : PickleMutator
{
    public override string Name => "pickle-value";
    public override int Weight => 18;

    static readonly BigInteger[] Ints = [0, 1, -1, 255, 256, 65535, int.MaxValue, (BigInteger)int.MaxValue + 1, uint.MaxValue, (BigInteger)uint.MaxValue + 1,
        long.MaxValue, long.MinValue, (BigInteger)long.MaxValue + 1, BigInteger.Pow(10, 30), -BigInteger.Pow(2, 70), 1L << 40];

    protected override (byte[] Pickle, string What)? Mutate(byte[] pickle, List<PickleOp> ops, Random rng)
    {
        var ints = ops.Where(o => Pickle.IsInt(o.Code)).ToList();
        var strings = ops.Where(o => Pickle.IsString(o.Code)).ToList();
        var lengths = ops.Where(o => Pickle.Arg(o.Code) is { Prefix: > 0 }).ToList();
        int choice = rng.Next(3);
        if (choice == 0 && ints.Count > 0)
        {
            var op = rng.Pick(ints);
            var v = rng.Chance(0.8) ? rng.Pick(Ints) : new BigInteger(rng.NextInt64(long.MinValue, long.MaxValue));
            var enc = v >= int.MinValue && v <= int.MaxValue
                ? new PickleBuilder().Int((long)v).ToArray()
                : new PickleBuilder().Long(v).ToArray();
            return (Bytes.Splice(pickle, op.Pos, op.End - op.Pos, enc), $"integer at {op.Pos} set to {v}");
        }
        if (choice == 1 && strings.Count > 0)
        {
            var op = rng.Pick(strings);
            var others = strings.Where(s => s != op && s.Code is Pickle.ShortBinUnicode or Pickle.BinUnicode).ToList();
            byte[] enc;
            string what;
            switch (rng.Next(6))
            {
                case 0: enc = new PickleBuilder().Str("").ToArray(); what = "''"; break;
                case 1: enc = new PickleBuilder().StrBytes([0xff, 0xfe, 0xc3, 0x28]).ToArray(); what = "invalid UTF-8"; break;
                case 2: enc = new PickleBuilder().Str(new string('k', rng.Pick(new[] { 256, 70000 }))).ToArray(); what = "a long string"; break;
                case 3 when others.Count > 0:
                {
                    var o = rng.Pick(others);
                    enc = pickle.AsSpan(o.Pos, o.End - o.Pos).ToArray();
                    what = "another string of the pickle";
                    break;
                }
                case 4: enc = new PickleBuilder().Str(rng.Pick(new[] { "../../etc/passwd", "/dev/zero", "data.pkl", "0/../0", "cuda:0", "storage", "state_dict" })).ToArray(); what = "a path-like or keyword string"; break;
                default: enc = new PickleBuilder().Int(rng.Next(-2, 100000)).ToArray(); what = "an integer"; break;
            }
            return (Bytes.Splice(pickle, op.Pos, op.End - op.Pos, enc), $"string at {op.Pos} replaced by {what}");
        }
        if (lengths.Count == 0) return null;
        {
            var op = rng.Pick(lengths);
            int w = Pickle.Arg(op.Code)!.Value.Prefix;
            ulong current = Bytes.Read(pickle, op.ArgPos, w);
            var (value, what) = Interesting.For(rng, w, current, pickle.Length);
            var d = (byte[])pickle.Clone();
            Bytes.Write(d, op.ArgPos, w, value);
            return (d, $"length of opcode 0x{op.Code:x2} at {op.Pos} set from {current} to {value} ({what})");
        }
    }
}

/// <summary>Memo use broken: a GET of an index never PUT, huge PUT indices, all PUTs removed, MEMOIZE mixed in.</summary>
public sealed class PickleMemo : PickleMutator
{
    public override string Name => "pickle-memo";
    public override int Weight => 8;

    protected override (byte[] Pickle, string What)? Mutate(byte[] pickle, List<PickleOp> ops, Random rng)
    {
        var gets = ops.Where(o => o.Code is Pickle.BinGet or Pickle.LongBinGet or (byte)'g').ToList();
        var puts = ops.Where(o => o.Code is Pickle.BinPut or Pickle.LongBinPut or (byte)'p' or Pickle.Memoize).ToList();
        switch (rng.Next(4))
        {
            case 0 when gets.Count > 0:
            {
                var op = rng.Pick(gets);
                uint index = rng.Pick(new[] { 255u, 4096u, uint.MaxValue, 0x80000000u });
                var enc = new byte[5];
                enc[0] = Pickle.LongBinGet;
                BinaryPrimitives.WriteUInt32LittleEndian(enc.AsSpan(1), index);
                return (Bytes.Splice(pickle, op.Pos, op.End - op.Pos, enc), $"memo GET at {op.Pos} reads index {index}");
            }
            case 1 when puts.Count > 0:
            {
                var d = pickle.ToList();
                foreach (var op in puts.OrderByDescending(o => o.Pos)) d.RemoveRange(op.Pos, op.End - op.Pos);
                return (d.ToArray(), $"all {puts.Count} memo PUTs removed");
            }
            case 2 when puts.Count > 0:
            {
                var op = rng.Pick(puts);
                var enc = new byte[5];
                enc[0] = Pickle.LongBinPut;
                BinaryPrimitives.WriteUInt32LittleEndian(enc.AsSpan(1), uint.MaxValue - (uint)rng.Next(2));
                return (Bytes.Splice(pickle, op.Pos, op.End - op.Pos, enc), $"memo PUT at {op.Pos} stores at index 2^32-1");
            }
            default:
            {
                // GET of the root before it is built: pushes a memo entry that refers to an object under construction.
                var at = AfterProto(ops);
                var snippet = new PickleBuilder().EmptyList().Put().Op(Pickle.BinGet).Op(0).Op(Pickle.Append).Pop().ToArray();
                return (Bytes.Splice(pickle, at, 0, snippet), "a list appended to itself through the memo inserted");
            }
        }
    }
}

/// <summary>
/// Deep nesting, the recursion hazard: tens of thousands of nested lists, tuples or dicts (built with
/// MARK so the stack stays shallow), stored in the root dict (where state_dict walkers recurse into
/// it) or used as a dict key (hashing recurses), or a long MARK chain.
/// </summary>
public sealed class PickleDeep : PickleMutator
{
    public override string Name => "pickle-deep";
    public override int Weight => 10;

    protected override (byte[] Pickle, string What)? Mutate(byte[] pickle, List<PickleOp> ops, Random rng)
    {
        int depth = rng.Pick(new[] { 1000, 20000, 100000 });
        var p = new PickleBuilder();
        string kind;
        switch (rng.Next(3))
        {
            case 0: // [[[...]]]
                for (int i = 0; i < depth; i++) p.Mark();
                p.EmptyList();
                for (int i = 0; i < depth; i++) p.Op(Pickle.List);
                kind = "lists";
                break;
            case 1: // ((((),),),)
                p.Tuple(0);
                for (int i = 0; i < depth; i++) p.Op(Pickle.Tuple1);
                kind = "tuples";
                break;
            default: // {0: {0: {...}}}
                for (int i = 0; i < depth; i++) p.Mark().Int(0);
                p.EmptyDict();
                for (int i = 0; i < depth; i++) p.Op(Pickle.Dict);
                kind = "dicts";
                break;
        }
        var nested = p.ToArray();
        switch (rng.Next(4))
        {
            case 0:
            {
                // root["deep"] = nested (the root is the state_dict or its wrapper)
                var snippet = new PickleBuilder().Str(rng.Pick(new[] { "deep", "state_dict", "model" })).Raw(nested).SetItem().ToArray();
                return (Bytes.Splice(pickle, BeforeStop(ops), 0, snippet), $"{depth} nested {kind} stored in the root dict");
            }
            case 1:
            {
                // {nested: None}: the nested object is hashed as a key
                var snippet = new PickleBuilder().EmptyDict().Raw(nested).None().SetItem().Pop().ToArray();
                return (Bytes.Splice(pickle, AfterProto(ops), 0, snippet), $"{depth} nested {kind} used as a dict key");
            }
            case 2:
            {
                // The whole root replaced by the nested object.
                var snippet = new PickleBuilder().Pop().Raw(nested).ToArray();
                return (Bytes.Splice(pickle, BeforeStop(ops), 0, snippet), $"root replaced by {depth} nested {kind}");
            }
            default:
            {
                var marks = new PickleBuilder();
                for (int i = 0; i < depth; i++) marks.Mark();
                for (int i = 0; i < depth; i++) marks.Op(Pickle.PopMark);
                return (Bytes.Splice(pickle, AfterProto(ops), 0, marks.ToArray()), $"{depth} MARKs opened and popped");
            }
        }
    }
}

/// <summary>
/// The allowed globals bent: a storage class swapped for another (the dtype no longer matches the
/// bytes), for a data-only class LstmPort cannot read, a rebuild function swapped for another, an
/// allowed name called with the wrong arguments.
/// </summary>
public sealed class PickleGlobals : PickleMutator
{
    public override string Name => "pickle-global";
    public override int Weight => 10;

    static readonly string[] Replacements =
    [
        "torch\nDoubleStorage\n", "torch\nHalfStorage\n", "torch\nBoolStorage\n", "torch\nComplexFloatStorage\n", "torch\nQInt8Storage\n",
        "torch\nUntypedStorage\n", "torch._utils\n_rebuild_tensor\n", "torch._utils\n_rebuild_parameter\n", "collections\nOrderedDict\n",
        "torch._utils\n_rebuild_tensor_v2\n", "_codecs\nencode\n", "torch\nFloatStorage\n", "torch\nByteStorage\n",
    ];

    protected override (byte[] Pickle, string What)? Mutate(byte[] pickle, List<PickleOp> ops, Random rng)
    {
        var globals = ops.Where(o => o.Code == Pickle.Global).ToList();
        if (globals.Count == 0) return null;
        var op = rng.Pick(globals);
        var replacement = rng.Pick(Replacements);
        var old = Encoding.UTF8.GetString(pickle, op.ArgPos, op.ArgLength).Replace('\n', '.').TrimEnd('.');
        return (Bytes.Splice(pickle, op.ArgPos, op.ArgLength, Encoding.UTF8.GetBytes(replacement)),
            $"global {old} at {op.Pos} replaced by {replacement.Replace('\n', '.').TrimEnd('.')}");
    }
}

/// <summary>
/// Hostile pickles: a global that runs code (os.system, builtins.eval, subprocess.Popen, ...) or
/// builds a foreign object, reached through GLOBAL, STACK_GLOBAL, INST, OBJ, NEWOBJ or EXT, called with
/// arguments that would create <see cref="Reading.PayloadMarker"/> in the reader's folder. A clean
/// read of such a file (without -SkipUnsafeObjects) or the marker appearing breaks the promise.
/// </summary>
public sealed class PickleHostile : PickleMutator
{
    public override string Name => "pickle-hostile";
    public override int Weight => 14;
    public override bool Hostile => true;

    const string M = Reading.PayloadMarker;

    static readonly (string Module, string Name, Func<PickleBuilder, PickleBuilder> Args)[] Globals =
    [
        ("os", "system", p => p.Str($"touch {M}").Tuple(1)),
        ("posix", "system", p => p.Str($"touch {M}").Tuple(1)),
        ("nt", "system", p => p.Str($"type nul > {M}").Tuple(1)),
        ("subprocess", "Popen", p => p.Mark().Str("touch").Str(M).Op(Pickle.List).Tuple(1)),
        ("subprocess", "call", p => p.Str($"touch {M}").Tuple(1)),
        ("subprocess", "check_output", p => p.Mark().Str("touch").Str(M).Op(Pickle.List).Tuple(1)),
        ("builtins", "eval", p => p.Str($"open('{M}','w').close()").Tuple(1)),
        ("builtins", "exec", p => p.Str($"open('{M}','w').close()").Tuple(1)),
        ("__builtin__", "eval", p => p.Str($"open('{M}','w').close()").Tuple(1)),
        ("builtins", "open", p => p.Str(M).Str("w").Tuple(2)),
        ("io", "open", p => p.Str(M).Str("w").Tuple(2)),
        ("builtins", "__import__", p => p.Str("os").Tuple(1)),
        ("builtins", "getattr", p => p.Str("os").Str("system").Tuple(2)),
        ("runpy", "_run_code", p => p.Str($"open('{M}','w').close()").EmptyDict().Tuple(2)),
        ("pickle", "loads", p => p.Op((byte)'C').Op(4).Raw("\x80\x02N."u8).Tuple(1)),
        ("torch", "load", p => p.Str(M).Tuple(1)),
        ("torch.storage", "_load_from_bytes", p => p.Op((byte)'C').Op(1).Raw("."u8).Tuple(1)),
        ("shutil", "rmtree", p => p.Str(M).Tuple(1)),
        ("webbrowser", "open", p => p.Str($"file:///{M}").Tuple(1)),
        ("pty", "spawn", p => p.Str($"touch {M}").Tuple(1)),
        ("operator", "attrgetter", p => p.Str("system").Tuple(1)),
        ("numpy.core.multiarray", "_reconstruct", p => p.Str("x").Tuple(1)),
        ("torch.nn.modules.rnn", "LSTM", p => p.Int(3).Int(2).Tuple(2)),
        ("argparse", "Namespace", p => p.Tuple(0)),
        ("collections", "OrderedDict\r", p => p.Tuple(0)),
        ("collections ", "OrderedDict", p => p.Tuple(0)),
        ("torch._utils", "_rebuild_tensor_v2\x00os.system", p => p.Tuple(0)),
    ];

    protected override (byte[] Pickle, string What)? Mutate(byte[] pickle, List<PickleOp> ops, Random rng)
    {
        var (module, name, args) = rng.Pick(Globals);
        var p = new PickleBuilder();
        string how;
        int at = AfterProto(ops);
        switch (rng.Next(8))
        {
            case 0: p.Global(module, name); args(p).Reduce().Pop(); how = "GLOBAL + REDUCE"; break;
            case 1: p.StackGlobal(module, name); args(p).Reduce().Pop(); how = "STACK_GLOBAL + REDUCE"; break;
            case 2:
                p.Mark().Str($"touch {M}").Op(Pickle.Inst).Raw(Encoding.UTF8.GetBytes($"{module}\n{name}\n")).Pop();
                how = "INST";
                break;
            case 3: p.Mark().Global(module, name).Str($"touch {M}").Op(Pickle.Obj).Pop(); how = "OBJ"; break;
            case 4: p.Global(module, name); args(p).Op(Pickle.NewObj).Pop(); how = "NEWOBJ"; break;
            case 5:
                // As a value of the root dict: the call's result would be kept.
                p.Str("payload").Global(module, name);
                args(p).Reduce().SetItem();
                at = BeforeStop(ops);
                how = "GLOBAL + REDUCE stored in the root dict";
                break;
            case 6:
            {
                // An allowed GLOBAL of the file replaced in place, so the rest of the pickle calls it.
                var globals = ops.Where(o => o.Code == Pickle.Global).ToList();
                if (globals.Count == 0) goto case 0;
                var op = rng.Pick(globals);
                var replaced = Bytes.Splice(pickle, op.ArgPos, op.ArgLength, Encoding.UTF8.GetBytes($"{module}\n{name}\n"));
                return (replaced, $"hostile global {module}.{name} replaces the global at {op.Pos} (called by the rest of the pickle)");
            }
            default:
                p.Op(Pickle.Ext1).Op((byte)rng.Next(1, 256)).Pop();
                return (Bytes.Splice(pickle, at, 0, p.ToArray()), "an EXT1 extension-registry reference inserted");
        }
        return (Bytes.Splice(pickle, at, 0, p.ToArray()), $"hostile global {module}.{name} called through {how}");
    }
}
