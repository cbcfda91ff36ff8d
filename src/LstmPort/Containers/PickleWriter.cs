using System.Buffers.Binary;
using System.Text;

namespace LstmPort.Containers;

/// <summary>
/// Emits pickle protocol 2 opcodes, the protocol torch.save uses. Only what a state_dict needs:
/// ints, bools, None, strings, tuples, globals, REDUCE, persistent ids, dict items.
/// </summary>
public sealed class PickleWriter
{
    readonly MemoryStream _out = new();

    public PickleWriter() => _out.Write([0x80, 2]); // PROTO 2

    public byte[] Finish()
    {
        _out.WriteByte((byte)'.'); // STOP
        return _out.ToArray();
    }

    public PickleWriter Mark() => Op('(');
    public PickleWriter Tuple() => Op('t');
    public PickleWriter EmptyTuple() => Op(')');
    public PickleWriter Reduce() => Op('R');
    public PickleWriter BinPersId() => Op('Q');
    public PickleWriter SetItems() => Op('u');
    public PickleWriter EmptyDict() => Op('}');
    public PickleWriter List() => Op('l');
    public PickleWriter None() => Op('N');
    public PickleWriter Bool(bool b) => Op(b ? 0x88 : 0x89);

    public PickleWriter Global(string module, string name)
    {
        Op('c');
        _out.Write(Encoding.ASCII.GetBytes($"{module}\n{name}\n"));
        return this;
    }

    public PickleWriter Int(long v)
    {
        if (v is >= 0 and < 256) { Op('K'); _out.WriteByte((byte)v); }
        else if (v is >= 0 and < 65536) { Op('M'); Span<byte> b = stackalloc byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)v); _out.Write(b); }
        else if (v is >= int.MinValue and <= int.MaxValue) { Op('J'); Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteInt32LittleEndian(b, (int)v); _out.Write(b); }
        else { Op(0x8a); _out.WriteByte(8); Span<byte> b = stackalloc byte[8]; BinaryPrimitives.WriteInt64LittleEndian(b, v); _out.Write(b); } // LONG1
        return this;
    }

    public PickleWriter String(string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        Op('X'); // BINUNICODE
        Span<byte> n = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(n, (uint)bytes.Length);
        _out.Write(n);
        _out.Write(bytes);
        return this;
    }

    public PickleWriter IntTuple(IEnumerable<long> values)
    {
        Mark();
        foreach (var v in values) Int(v);
        return Tuple();
    }

    PickleWriter Op(int code)
    {
        _out.WriteByte((byte)code);
        return this;
    }
}
