using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace LstmPort.Containers;

/// <summary>
/// Writes an uncompressed zip archive front to back without ever seeking back: the caller gives
/// each entry's CRC-32 and size before its data, as torch.save's writer does, so the output can be
/// a plain sequential stream. Data starts on a 64-byte boundary (padding in an "FB" extra field,
/// PyTorch's convention) so torch.load can map tensors in place. Zip64 fields are written for the
/// sizes, offsets and counts that need them.
/// </summary>
internal sealed class ZipWriter(Stream output)
{
    const int DataAlignment = 64;
    const ushort Zip64Tag = 0x0001, PaddingTag = 0x4246; // "FB"

    /// <summary>Sizes and offsets from this value on go into zip64 fields (tests lower it to exercise them).</summary>
    internal long Zip64From { get; init; } = uint.MaxValue;

    readonly List<(byte[] Name, uint Crc, long Size, long Offset)> _entries = [];
    readonly (ushort Time, ushort Date) _stamp = DosStamp(DateTime.Now);
    long _position;
    long _expectedEnd = -1;

    public static uint Crc(ReadOnlySpan<byte> data) => Crc32.HashToUInt32(data);

    /// <summary>Adds a small entry held in memory.</summary>
    public void Add(string name, byte[] data)
    {
        Begin(name, Crc(data), data.Length);
        Write(data);
    }

    /// <summary>Writes an entry's local header; exactly <paramref name="size"/> bytes of data follow through <see cref="Write"/>.</summary>
    public void Begin(string name, uint crc, long size)
    {
        CheckPreviousComplete();
        var nameBytes = Encoding.UTF8.GetBytes(name);
        bool zip64 = size >= Zip64From;
        int fixedExtra = (zip64 ? 20 : 0) + 4;
        long dataStart = _position + 30 + nameBytes.Length + fixedExtra;
        int pad = (int)((DataAlignment - dataStart % DataAlignment) % DataAlignment);

        var h = new byte[30 + nameBytes.Length + fixedExtra + pad];
        var s = h.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(s, 0x04034b50);
        BinaryPrimitives.WriteUInt16LittleEndian(s[4..], Version(zip64));
        // flags 0, method 0 (stored)
        SharedFields(s[10..], crc, size, zip64, nameBytes.Length, fixedExtra + pad);
        nameBytes.CopyTo(s[30..]);
        var extra = s[(30 + nameBytes.Length)..];
        if (zip64)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(extra, Zip64Tag);
            BinaryPrimitives.WriteUInt16LittleEndian(extra[2..], 16);
            BinaryPrimitives.WriteInt64LittleEndian(extra[4..], size);
            BinaryPrimitives.WriteInt64LittleEndian(extra[12..], size);
            extra = extra[20..];
        }
        BinaryPrimitives.WriteUInt16LittleEndian(extra, PaddingTag);
        BinaryPrimitives.WriteUInt16LittleEndian(extra[2..], (ushort)pad);
        extra[4..].Fill((byte)'Z');

        _entries.Add((nameBytes, crc, size, _position));
        Write(h);
        _expectedEnd = _position + size;
    }

    public void Write(ReadOnlySpan<byte> data)
    {
        output.Write(data);
        _position += data.Length;
    }

    /// <summary>Writes the central directory and the end records.</summary>
    public void Finish()
    {
        CheckPreviousComplete();
        long cdOffset = _position;
        var cd = new MemoryStream();
        foreach (var (name, crc, size, offset) in _entries)
        {
            bool bigSize = size >= Zip64From, bigOffset = offset >= Zip64From;
            int extraLength = bigSize || bigOffset ? 4 + (bigSize ? 16 : 0) + (bigOffset ? 8 : 0) : 0;
            var h = new byte[46 + name.Length + extraLength];
            var s = h.AsSpan();
            BinaryPrimitives.WriteUInt32LittleEndian(s, 0x02014b50);
            BinaryPrimitives.WriteUInt16LittleEndian(s[4..], Version(extraLength > 0));
            BinaryPrimitives.WriteUInt16LittleEndian(s[6..], Version(extraLength > 0));
            SharedFields(s[12..], crc, size, bigSize, name.Length, extraLength);
            BinaryPrimitives.WriteUInt32LittleEndian(s[42..], bigOffset ? uint.MaxValue : (uint)offset);
            name.CopyTo(s[46..]);
            if (extraLength > 0)
            {
                var e = s[(46 + name.Length)..];
                BinaryPrimitives.WriteUInt16LittleEndian(e, Zip64Tag);
                BinaryPrimitives.WriteUInt16LittleEndian(e[2..], (ushort)(extraLength - 4));
                e = e[4..];
                if (bigSize)
                {
                    BinaryPrimitives.WriteInt64LittleEndian(e, size);
                    BinaryPrimitives.WriteInt64LittleEndian(e[8..], size);
                    e = e[16..];
                }
                if (bigOffset) BinaryPrimitives.WriteInt64LittleEndian(e, offset);
            }
            cd.Write(h);
        }
        long cdSize = cd.Length;
        Write(cd.GetBuffer().AsSpan(0, (int)cdSize));

        long count = _entries.Count;
        bool zip64 = count >= ushort.MaxValue || cdOffset >= Zip64From || cdSize >= Zip64From;
        if (zip64)
        {
            long record = _position;
            var z = new byte[56 + 20];
            var s = z.AsSpan();
            BinaryPrimitives.WriteUInt32LittleEndian(s, 0x06064b50);
            BinaryPrimitives.WriteInt64LittleEndian(s[4..], 44);
            BinaryPrimitives.WriteUInt16LittleEndian(s[12..], 45);
            BinaryPrimitives.WriteUInt16LittleEndian(s[14..], 45);
            BinaryPrimitives.WriteInt64LittleEndian(s[24..], count);
            BinaryPrimitives.WriteInt64LittleEndian(s[32..], count);
            BinaryPrimitives.WriteInt64LittleEndian(s[40..], cdSize);
            BinaryPrimitives.WriteInt64LittleEndian(s[48..], cdOffset);
            // The locator: where the zip64 record is, on disk 0 of 1.
            BinaryPrimitives.WriteUInt32LittleEndian(s[56..], 0x07064b50);
            BinaryPrimitives.WriteInt64LittleEndian(s[64..], record);
            BinaryPrimitives.WriteUInt32LittleEndian(s[72..], 1);
            Write(z);
        }
        var end = new byte[22];
        var t = end.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(t, 0x06054b50);
        BinaryPrimitives.WriteUInt16LittleEndian(t[8..], zip64 ? ushort.MaxValue : (ushort)count);
        BinaryPrimitives.WriteUInt16LittleEndian(t[10..], zip64 ? ushort.MaxValue : (ushort)count);
        BinaryPrimitives.WriteUInt32LittleEndian(t[12..], zip64 ? uint.MaxValue : (uint)cdSize);
        BinaryPrimitives.WriteUInt32LittleEndian(t[16..], zip64 ? uint.MaxValue : (uint)cdOffset);
        Write(end);
    }

    void CheckPreviousComplete()
    {
        if (_expectedEnd >= 0 && _position != _expectedEnd)
            throw new InvalidOperationException($"a zip entry got {_position - (_expectedEnd - _entries[^1].Size)} bytes of data, not the {_entries[^1].Size} its header says");
    }

    /// <summary>The run of fields local and central headers share: time, date, CRC, both sizes (or the zip64 marker), name and extra lengths.</summary>
    void SharedFields(Span<byte> s, uint crc, long size, bool zip64, int nameLength, int extraLength)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(s, _stamp.Time);
        BinaryPrimitives.WriteUInt16LittleEndian(s[2..], _stamp.Date);
        BinaryPrimitives.WriteUInt32LittleEndian(s[4..], crc);
        BinaryPrimitives.WriteUInt32LittleEndian(s[8..], zip64 ? uint.MaxValue : (uint)size);
        BinaryPrimitives.WriteUInt32LittleEndian(s[12..], zip64 ? uint.MaxValue : (uint)size);
        BinaryPrimitives.WriteUInt16LittleEndian(s[16..], (ushort)nameLength);
        BinaryPrimitives.WriteUInt16LittleEndian(s[18..], (ushort)extraLength);
    }

    static ushort Version(bool zip64) => zip64 ? (ushort)45 : (ushort)20;

    static (ushort, ushort) DosStamp(DateTime t) =>
        ((ushort)((t.Hour << 11) | (t.Minute << 5) | (t.Second / 2)),
         (ushort)(((Math.Max(t.Year, 1980) - 1980) << 9) | (t.Month << 5) | t.Day));
}
