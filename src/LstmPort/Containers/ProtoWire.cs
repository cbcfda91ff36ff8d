using System.Buffers.Binary;
using System.Text;

namespace LstmPort.Containers;

/// <summary>
/// The protocol buffers wire format (https://protobuf.dev/programming-guides/encoding/), byte level
/// and knowing no schema: a reader over a message's bytes that yields each field's number, wire type
/// and value, every length checked against the bytes that remain before anything is sliced or
/// allocated (nested messages and bytes fields are slices of the input, never copies); and a writer.
/// A damaged message is an <see cref="InvalidDataException"/>.
/// </summary>
public ref struct ProtoReader
{
    public const int Varint = 0, Fixed64 = 1, LengthDelimited = 2, Fixed32 = 5;

    readonly ReadOnlyMemory<byte> _data;
    int _pos;

    public ProtoReader(ReadOnlyMemory<byte> data) { _data = data; _pos = 0; }

    public int Field { get; private set; }
    public int WireType { get; private set; }

    /// <summary>Moves to the next field; false at the end of the message.</summary>
    public bool Next()
    {
        if (_pos >= _data.Length) return false;
        ulong tag = ReadVarint();
        Field = (int)(tag >> 3);
        WireType = (int)(tag & 7);
        if (Field <= 0 || tag >> 3 > int.MaxValue) throw new InvalidDataException($"protobuf field number {tag >> 3} at byte {_pos}");
        return true;
    }

    public ulong ReadVarint()
    {
        ulong value = 0;
        var span = _data.Span;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (_pos >= span.Length) throw new InvalidDataException("protobuf varint runs past the end of its message");
            byte b = span[_pos++];
            value |= (ulong)(b & 0x7f) << shift;
            if ((b & 0x80) == 0) return value;
        }
        throw new InvalidDataException("protobuf varint longer than 10 bytes");
    }

    public long Int64() => WireType == Varint ? (long)ReadVarint() : throw Wire("varint");
    public int Int32() => (int)Int64();

    public float Float() => WireType == Fixed32 ? BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadInt32LittleEndian(Take(4).Span)) : throw Wire("fixed32");

    public double Double() => WireType == Fixed64 ? BitConverter.Int64BitsToDouble(BinaryPrimitives.ReadInt64LittleEndian(Take(8).Span)) : throw Wire("fixed64");

    /// <summary>A length-delimited field's bytes: a slice of the input, length checked first.</summary>
    public ReadOnlyMemory<byte> Bytes()
    {
        if (WireType != LengthDelimited) throw Wire("length-delimited");
        ulong n = ReadVarint();
        if (n > (ulong)(_data.Length - _pos)) throw new InvalidDataException($"protobuf field {Field} claims {n} bytes but its message has {_data.Length - _pos} left");
        return Take((int)n);
    }

    public string String() => Encoding.UTF8.GetString(Bytes().Span);

    /// <summary>A repeated int64/int32 field, packed or one value per field; at most <paramref name="maxCount"/> values.</summary>
    public void RepeatedInt64(List<long> into, int maxCount)
    {
        if (WireType != LengthDelimited) { Add(into, Int64(), maxCount); return; }
        var r = new ProtoReader(Bytes()) { WireType = Varint };
        while (r._pos < r._data.Length) Add(into, (long)r.ReadVarint(), maxCount);
    }

    /// <summary>A repeated float field, packed or one value per field.</summary>
    public void RepeatedFloat(List<float> into, int maxCount)
    {
        if (WireType != LengthDelimited) { Add(into, Float(), maxCount); return; }
        var r = new ProtoReader(Bytes()) { WireType = Fixed32 };
        while (r._pos < r._data.Length) Add(into, r.Float(), maxCount);
    }

    /// <summary>A repeated double field, packed or one value per field.</summary>
    public void RepeatedDouble(List<double> into, int maxCount)
    {
        if (WireType != LengthDelimited) { Add(into, Double(), maxCount); return; }
        var r = new ProtoReader(Bytes()) { WireType = Fixed64 };
        while (r._pos < r._data.Length) Add(into, r.Double(), maxCount);
    }

    static void Add<T>(List<T> into, T value, int maxCount)
    {
        if (into.Count >= maxCount) throw new InvalidDataException($"a repeated protobuf field has more values than its tensor's shape allows ({maxCount})");
        into.Add(value);
    }

    /// <summary>Skips the current field's value (for fields the schema does not use).</summary>
    public void SkipField()
    {
        switch (WireType)
        {
            case Varint: ReadVarint(); break;
            case Fixed64: Take(8); break;
            case Fixed32: Take(4); break;
            case LengthDelimited: Bytes(); break;
            default: throw new InvalidDataException($"protobuf wire type {WireType} is not supported");
        }
    }


    ReadOnlyMemory<byte> Take(int n)
    {
        if (n > _data.Length - _pos) throw new InvalidDataException("protobuf value runs past the end of its message");
        var slice = _data.Slice(_pos, n);
        _pos += n;
        return slice;
    }

    InvalidDataException Wire(string expected) => new($"protobuf field {Field} has wire type {WireType}, expected {expected}");
}

/// <summary>Writes protobuf wire format; nested messages are written into their own writer and added with <see cref="Message"/>.</summary>
public sealed class ProtoWriter
{
    readonly MemoryStream _out = new();

    public byte[] ToArray() => _out.ToArray();
    public long Length => _out.Length;

    void Tag(int field, int wire) => VarintRaw(((ulong)field << 3) | (uint)wire);

    void VarintRaw(ulong v)
    {
        while (v >= 0x80) { _out.WriteByte((byte)(v | 0x80)); v >>= 7; }
        _out.WriteByte((byte)v);
    }

    public ProtoWriter Int64(int field, long v) { Tag(field, ProtoReader.Varint); VarintRaw((ulong)v); return this; }

    public ProtoWriter Float(int field, float v)
    {
        Tag(field, ProtoReader.Fixed32);
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(b, v);
        _out.Write(b);
        return this;
    }

    public ProtoWriter Bytes(int field, ReadOnlySpan<byte> bytes)
    {
        Tag(field, ProtoReader.LengthDelimited);
        VarintRaw((ulong)bytes.Length);
        _out.Write(bytes);
        return this;
    }

    public ProtoWriter String(int field, string s) => Bytes(field, Encoding.UTF8.GetBytes(s));

    public ProtoWriter Message(int field, ProtoWriter message) => Bytes(field, message._out.GetBuffer().AsSpan(0, (int)message._out.Length));

    /// <summary>A length-delimited field's tag and length only: its <paramref name="length"/> bytes are written after (streamed).</summary>
    public ProtoWriter LengthPrefix(int field, long length)
    {
        Tag(field, ProtoReader.LengthDelimited);
        VarintRaw((ulong)length);
        return this;
    }

    /// <summary>Another writer's bytes as they are (the rest of a message begun with <see cref="LengthPrefix"/>).</summary>
    public ProtoWriter Raw(ProtoWriter other)
    {
        _out.Write(other._out.GetBuffer().AsSpan(0, (int)other._out.Length));
        return this;
    }

    /// <summary>A packed repeated int64 field.</summary>
    public ProtoWriter PackedInt64(int field, IEnumerable<long> values)
    {
        var inner = new ProtoWriter();
        foreach (var v in values) inner.VarintRaw((ulong)v);
        return Bytes(field, inner._out.GetBuffer().AsSpan(0, (int)inner._out.Length));
    }

    /// <summary>A packed repeated float field.</summary>
    public ProtoWriter PackedFloat(int field, IEnumerable<float> values)
    {
        var inner = new ProtoWriter();
        Span<byte> b = stackalloc byte[4];
        foreach (var v in values) { BinaryPrimitives.WriteSingleLittleEndian(b, v); inner._out.Write(b); }
        return Bytes(field, inner._out.GetBuffer().AsSpan(0, (int)inner._out.Length));
    }
}
