using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace LstmPort.Fuzz.Formats;

/// <summary>One opcode of a pickle: where it starts, its code, where its argument lies.</summary>
public sealed record PickleOp(int Pos, byte Code, int ArgPos, int ArgLength)
{
    public int End => ArgPos + ArgLength;
}

/// <summary>
/// The pickle opcode stream (Python's pickletools table, protocols 0 to 5): <see cref="Scan"/> splits
/// a pickle into opcodes without running it; <see cref="PickleBuilder"/> writes one.
/// </summary>
public static class Pickle
{
    public const byte Proto = 0x80, Stop = (byte)'.', Global = (byte)'c', StackGlobal = 0x93, Reduce = (byte)'R', Pop = (byte)'0',
        Mark = (byte)'(', BinPersId = (byte)'Q', BinPut = (byte)'q', LongBinPut = (byte)'r', BinGet = (byte)'h', LongBinGet = (byte)'j',
        BinInt = (byte)'J', BinInt1 = (byte)'K', BinInt2 = (byte)'M', Long1 = 0x8a, Long4 = 0x8b, BinUnicode = (byte)'X', ShortBinUnicode = 0x8c,
        SetItem = (byte)'s', SetItems = (byte)'u', EmptyDict = (byte)'}', EmptyTuple = (byte)')', Tuple1 = 0x85, Tuple2 = 0x86, Tuple3 = 0x87,
        Tuple = (byte)'t', EmptyList = (byte)']', List = (byte)'l', Dict = (byte)'d', Append = (byte)'a', Memoize = 0x94, Frame = 0x95,
        NewObj = 0x81, Inst = (byte)'i', Obj = (byte)'o', Build = (byte)'b', Ext1 = 0x82, None = (byte)'N', PopMark = (byte)'1';

    /// <summary>Argument shape of an opcode: fixed bytes, a length prefix of n bytes, one or two text lines; null for unknown.</summary>
    public static (int Fixed, int Prefix, int Lines)? Arg(byte code) => code switch
    {
        (byte)'(' or (byte)'0' or (byte)'1' or (byte)'2' or (byte)'N' or 0x88 or 0x89 or (byte)')' or (byte)'t' or 0x85 or 0x86 or 0x87
            or (byte)']' or (byte)'l' or (byte)'a' or (byte)'e' or (byte)'}' or (byte)'d' or (byte)'s' or (byte)'u' or 0x8f or 0x90 or 0x91
            or 0x94 or (byte)'R' or 0x81 or 0x92 or (byte)'o' or (byte)'b' or (byte)'Q' or (byte)'.' or 0x93 or 0x97 or 0x98 => (0, 0, 0),
        0x80 or (byte)'K' or (byte)'q' or (byte)'h' or 0x82 => (1, 0, 0),
        (byte)'M' or 0x83 => (2, 0, 0),
        (byte)'J' or (byte)'r' or (byte)'j' or 0x84 => (4, 0, 0),
        (byte)'G' or 0x95 => (8, 0, 0),
        (byte)'U' or (byte)'C' or 0x8a or 0x8c => (0, 1, 0),
        (byte)'T' or (byte)'X' or (byte)'B' or 0x8b => (0, 4, 0),
        0x8d or 0x8e or 0x96 => (0, 8, 0),
        (byte)'I' or (byte)'L' or (byte)'F' or (byte)'V' or (byte)'S' or (byte)'P' or (byte)'p' or (byte)'g' => (0, 0, 1),
        (byte)'c' or (byte)'i' => (0, 0, 2),
        _ => null,
    };

    /// <summary>Every opcode known to the protocol (for opcode replacement).</summary>
    public static readonly byte[] AllCodes = Enumerable.Range(0, 256).Select(i => (byte)i).Where(c => Arg(c) is not null).ToArray();

    /// <summary>
    /// The opcodes of the pickle starting at <paramref name="start"/>, through its STOP. Stops early
    /// (and says so) at an unknown opcode or an argument that runs past the data.
    /// </summary>
    public static (List<PickleOp> Ops, bool Complete) Scan(ReadOnlySpan<byte> data, int start = 0)
    {
        var ops = new List<PickleOp>();
        int p = start;
        while (p < data.Length)
        {
            byte code = data[p];
            if (Arg(code) is not { } arg) return (ops, false);
            int argPos = p + 1, len;
            if (arg.Fixed > 0) len = arg.Fixed;
            else if (arg.Prefix > 0)
            {
                if (argPos + arg.Prefix > data.Length) return (ops, false);
                ulong n = arg.Prefix switch
                {
                    1 => data[argPos],
                    4 => BinaryPrimitives.ReadUInt32LittleEndian(data[argPos..]),
                    _ => BinaryPrimitives.ReadUInt64LittleEndian(data[argPos..]),
                };
                if (n > (ulong)(data.Length - argPos - arg.Prefix)) return (ops, false);
                len = arg.Prefix + (int)n;
            }
            else if (arg.Lines > 0)
            {
                int q = argPos;
                for (int line = 0; line < arg.Lines; line++)
                {
                    int nl = data[q..].IndexOf((byte)'\n');
                    if (nl < 0) return (ops, false);
                    q += nl + 1;
                }
                len = q - argPos;
            }
            else len = 0;
            if (argPos + len > data.Length) return (ops, false);
            ops.Add(new PickleOp(p, code, argPos, len));
            p = argPos + len;
            if (code == Stop) return (ops, true);
        }
        return (ops, false);
    }

    /// <summary>Strings the pickle pushes (BINUNICODE, SHORT_BINUNICODE, ...), with their opcodes.</summary>
    public static bool IsString(byte code) => code is (byte)'X' or 0x8c or 0x8d or (byte)'U' or (byte)'T' or (byte)'V' or (byte)'S';
    public static bool IsInt(byte code) => code is (byte)'J' or (byte)'K' or (byte)'M' or 0x8a or 0x8b or (byte)'I' or (byte)'L';
}

/// <summary>Writes pickles opcode by opcode (protocol 2 style, as torch.save writes them).</summary>
public sealed class PickleBuilder
{
    readonly MemoryStream _s = new();
    int _memo;

    public byte[] ToArray() => _s.ToArray();
    public PickleBuilder Op(byte code) { _s.WriteByte(code); return this; }
    public PickleBuilder Raw(ReadOnlySpan<byte> bytes) { _s.Write(bytes); return this; }
    public PickleBuilder Proto(int version = 2) => Op(Pickle.Proto).Op((byte)version);
    public PickleBuilder Stop() => Op(Pickle.Stop);
    public PickleBuilder Mark() => Op(Pickle.Mark);
    public PickleBuilder None() => Op(Pickle.None);
    public PickleBuilder Bool(bool b) => Op(b ? (byte)0x88 : (byte)0x89);

    public PickleBuilder Int(long v)
    {
        if (v is >= 0 and < 256) return Op(Pickle.BinInt1).Op((byte)v);
        if (v is >= 0 and < 65536) { Op(Pickle.BinInt2); Span<byte> b = stackalloc byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)v); return Raw(b); }
        if (v is >= int.MinValue and <= int.MaxValue) { Op(Pickle.BinInt); Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteInt32LittleEndian(b, (int)v); return Raw(b); }
        return Long(v);
    }

    /// <summary>LONG1: any integer, little-endian two's complement.</summary>
    public PickleBuilder Long(BigInteger v)
    {
        var bytes = v.IsZero ? [] : v.ToByteArray(isUnsigned: false, isBigEndian: false);
        return Op(Pickle.Long1).Op((byte)bytes.Length).Raw(bytes);
    }

    public PickleBuilder Str(string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        if (b.Length < 256) return Op(Pickle.ShortBinUnicode).Op((byte)b.Length).Raw(b);
        Op(Pickle.BinUnicode);
        Span<byte> n = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(n, (uint)b.Length);
        return Raw(n).Raw(b);
    }

    /// <summary>BINUNICODE with exactly these bytes (may be invalid UTF-8).</summary>
    public PickleBuilder StrBytes(ReadOnlySpan<byte> b)
    {
        Op(Pickle.BinUnicode);
        Span<byte> n = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(n, (uint)b.Length);
        return Raw(n).Raw(b);
    }

    public PickleBuilder Global(string module, string name) => Op(Pickle.Global).Raw(Encoding.UTF8.GetBytes($"{module}\n{name}\n"));
    public PickleBuilder StackGlobal(string module, string name) => Str(module).Str(name).Op(Pickle.StackGlobal);
    public PickleBuilder Put() => _memo < 256 ? Op(Pickle.BinPut).Op((byte)_memo++) : LongPut(_memo++);
    PickleBuilder LongPut(int i) { Op(Pickle.LongBinPut); Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteInt32LittleEndian(b, i); return Raw(b); }
    public PickleBuilder Tuple(int n) => n switch { 0 => Op(Pickle.EmptyTuple), 1 => Op(Pickle.Tuple1), 2 => Op(Pickle.Tuple2), 3 => Op(Pickle.Tuple3), _ => throw new ArgumentOutOfRangeException(nameof(n)) };
    public PickleBuilder TupleFromMark() => Op(Pickle.Tuple);
    public PickleBuilder Reduce() => Op(Pickle.Reduce);
    public PickleBuilder EmptyDict() => Op(Pickle.EmptyDict);
    public PickleBuilder EmptyList() => Op(Pickle.EmptyList);
    public PickleBuilder SetItem() => Op(Pickle.SetItem);
    public PickleBuilder SetItems() => Op(Pickle.SetItems);
    public PickleBuilder Pop() => Op(Pickle.Pop);
    public PickleBuilder BinPersId() => Op(Pickle.BinPersId);

    /// <summary>
    /// A state_dict entry the way torch.save pickles a tensor: key, then
    /// _rebuild_tensor_v2((('storage', torch.XStorage, key, 'cpu', numel[, view])), offset, size, stride, False, OrderedDict()).
    /// </summary>
    public PickleBuilder TorchTensor(string key, string storageClass, string storageKey, long numel, long offset, long[] size, long[] stride, bool legacyView = false)
    {
        Str(key);
        Global("torch._utils", "_rebuild_tensor_v2");
        Mark();
        Mark().Str("storage").Global("torch", storageClass).Str(storageKey).Str("cpu").Int(numel);
        if (legacyView) None();
        TupleFromMark().BinPersId();
        Int(offset);
        Mark(); foreach (var d in size) Int(d); TupleFromMark();
        Mark(); foreach (var d in stride) Int(d); TupleFromMark();
        Bool(false);
        Global("collections", "OrderedDict").Tuple(0).Reduce();
        TupleFromMark().Reduce();
        return this;
    }
}
