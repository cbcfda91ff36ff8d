using System.Text;

namespace LstmPort.Fuzz.Formats;

/// <summary>
/// A protobuf message as a tree of fields, decoded from the wire format alone (no schema): a
/// length-delimited field that itself parses as a message is kept as a child message (it may also be
/// a string; both readings are kept). Serialising gives the same bytes back for an unchanged tree,
/// and correct lengths after a change deep inside.
/// </summary>
public sealed class ProtoField
{
    public int Number;
    public int Wire; // 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32
    public ulong Value; // varint or fixed
    public byte[] Bytes = [];
    public ProtoMessage? Child;
    /// <summary>Set to claim another length than the bytes have (a deliberately wrong prefix).</summary>
    public ulong? ClaimedLength;

    public ProtoField Clone() => new()
    {
        Number = Number, Wire = Wire, Value = Value, Bytes = Bytes, Child = Child?.Clone(), ClaimedLength = ClaimedLength,
    };
}

public sealed class ProtoMessage
{
    public List<ProtoField> Fields { get; } = [];

    public ProtoMessage Clone()
    {
        var m = new ProtoMessage();
        m.Fields.AddRange(Fields.Select(f => f.Clone()));
        return m;
    }

    /// <summary>Parses bytes as a message; null when they are not one (then they are a string or raw bytes).</summary>
    public static ProtoMessage? Parse(ReadOnlySpan<byte> data, int depth = 0)
    {
        if (depth > 24) return null;
        var m = new ProtoMessage();
        int pos = 0;
        while (pos < data.Length)
        {
            if (!Formats.Bytes.TryVarint(data, ref pos, out var tag)) return null;
            int number = (int)(tag >> 3), wire = (int)(tag & 7);
            if (number <= 0 || number > 536870911) return null;
            var f = new ProtoField { Number = number, Wire = wire };
            switch (wire)
            {
                case 0: if (!Formats.Bytes.TryVarint(data, ref pos, out f.Value)) return null; break;
                case 1: if (pos + 8 > data.Length) return null; f.Value = Formats.Bytes.Read(data, pos, 8); pos += 8; break;
                case 5: if (pos + 4 > data.Length) return null; f.Value = Formats.Bytes.Read(data, pos, 4); pos += 4; break;
                case 2:
                    if (!Formats.Bytes.TryVarint(data, ref pos, out var len) || len > (ulong)(data.Length - pos)) return null;
                    f.Bytes = data.Slice(pos, (int)len).ToArray();
                    pos += (int)len;
                    // A short printable run is a string more often than a message; keep both readings only when it parses.
                    if (f.Bytes.Length > 0 && !LooksLikeText(f.Bytes))
                    {
                        f.Child = Parse(f.Bytes, depth + 1);
                        // Only a canonical reading is kept, so an untouched tree writes the same bytes back.
                        if (f.Child is not null && !f.Child.ToBytes().AsSpan().SequenceEqual(f.Bytes)) f.Child = null;
                    }
                    break;
                default: return null;
            }
            m.Fields.Add(f);
        }
        return m;
    }

    static bool LooksLikeText(byte[] b) => b.Length <= 256 && b.All(x => x is >= 0x20 and < 0x7f);

    public byte[] ToBytes()
    {
        var ms = new MemoryStream();
        Write(ms);
        return ms.ToArray();
    }

    void Write(Stream s)
    {
        foreach (var f in Fields)
        {
            Formats.Bytes.Varint(s, ((ulong)f.Number << 3) | (uint)f.Wire);
            switch (f.Wire)
            {
                case 0: Formats.Bytes.Varint(s, f.Value); break;
                case 1: { var b = new byte[8]; Formats.Bytes.Write(b, 0, 8, f.Value); s.Write(b); break; }
                case 5: { var b = new byte[4]; Formats.Bytes.Write(b, 0, 4, f.Value); s.Write(b); break; }
                default:
                {
                    var body = f.Child?.ToBytes() ?? f.Bytes;
                    Formats.Bytes.Varint(s, f.ClaimedLength ?? (ulong)body.Length);
                    s.Write(body);
                    break;
                }
            }
        }
    }

    /// <summary>Every field of the tree with its path of field numbers (for picking a target).</summary>
    public IEnumerable<(ProtoMessage Owner, ProtoField Field, string Path)> Walk(string path = "")
    {
        foreach (var f in Fields)
        {
            var p = path.Length == 0 ? f.Number.ToString() : $"{path}.{f.Number}";
            yield return (this, f, p);
            if (f.Child is not null)
                foreach (var x in f.Child.Walk(p)) yield return x;
        }
    }

    // ---- building ----

    public ProtoMessage Varint(int number, ulong v) { Fields.Add(new ProtoField { Number = number, Wire = 0, Value = v }); return this; }
    public ProtoMessage Fixed32(int number, uint v) { Fields.Add(new ProtoField { Number = number, Wire = 5, Value = v }); return this; }
    public ProtoMessage Bytes(int number, byte[] b) { Fields.Add(new ProtoField { Number = number, Wire = 2, Bytes = b }); return this; }
    public ProtoMessage String(int number, string s) => Bytes(number, Encoding.UTF8.GetBytes(s));
    public ProtoMessage Message(int number, ProtoMessage m) { Fields.Add(new ProtoField { Number = number, Wire = 2, Bytes = m.ToBytes(), Child = m }); return this; }
}
