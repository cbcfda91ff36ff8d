using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace LstmPort.Fuzz.Formats;

/// <summary>One entry of a zip: its name, method, uncompressed bytes and the extra fields it carried.</summary>
public sealed class ZipItem
{
    public string Name = "";
    public int Method;
    public byte[] Data = [];
    public byte[] LocalExtra = [];
    public byte[] CentralExtra = [];
    public ushort Flags, Time, Date;
    public ushort VersionMadeBy = 20, VersionNeeded = 20;
    /// <summary>Set to keep a wrong CRC (a deliberate mismatch); null: the CRC of <see cref="Data"/>.</summary>
    public uint? Crc;
}

/// <summary>Where each field of a zip lies: local headers, central directory entries, end records.</summary>
public sealed record ZipField(long Offset, int Width, string Name);

/// <summary>
/// Zip archives from the specification (APPNOTE 4.3/4.4): <see cref="Parse"/> reads a well-formed
/// archive into items, <see cref="Build"/> writes items back with correct CRCs, sizes and offsets
/// (optionally with zip64 records), and <see cref="Fields"/> maps a file's header fields for mutators.
/// </summary>
public static class Zip
{
    public const uint LocalSig = 0x04034b50, CentralSig = 0x02014b50, EndSig = 0x06054b50, End64Sig = 0x06064b50, Locator64Sig = 0x07064b50;

    public static bool LooksLikeZip(byte[] b) => b.Length >= 4 && BinaryPrimitives.ReadUInt32LittleEndian(b) == LocalSig;

    /// <summary>The items of a well-formed archive, or null when it cannot be read.</summary>
    public static List<ZipItem>? Parse(byte[] file)
    {
        try
        {
            var (count, cdOffset, _, _) = FindDirectory(file) ?? (0, 0, 0, 0);
            if (count == 0) return null;
            var items = new List<ZipItem>();
            long p = cdOffset;
            for (long i = 0; i < count; i++)
            {
                if (BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan((int)p)) != CentralSig) return null;
                var h = file.AsSpan((int)p);
                var item = new ZipItem
                {
                    VersionMadeBy = BinaryPrimitives.ReadUInt16LittleEndian(h[4..]),
                    VersionNeeded = BinaryPrimitives.ReadUInt16LittleEndian(h[6..]),
                    Flags = BinaryPrimitives.ReadUInt16LittleEndian(h[8..]),
                    Method = BinaryPrimitives.ReadUInt16LittleEndian(h[10..]),
                    Time = BinaryPrimitives.ReadUInt16LittleEndian(h[12..]),
                    Date = BinaryPrimitives.ReadUInt16LittleEndian(h[14..]),
                };
                long comp = BinaryPrimitives.ReadUInt32LittleEndian(h[20..]);
                long size = BinaryPrimitives.ReadUInt32LittleEndian(h[24..]);
                int nameLen = BinaryPrimitives.ReadUInt16LittleEndian(h[28..]);
                int extraLen = BinaryPrimitives.ReadUInt16LittleEndian(h[30..]);
                int commentLen = BinaryPrimitives.ReadUInt16LittleEndian(h[32..]);
                long local = BinaryPrimitives.ReadUInt32LittleEndian(h[42..]);
                item.Name = Encoding.UTF8.GetString(h.Slice(46, nameLen));
                item.CentralExtra = h.Slice(46 + nameLen, extraLen).ToArray();
                ReadZip64(item.CentralExtra, ref size, ref comp, ref local);
                var lh = file.AsSpan((int)local);
                if (BinaryPrimitives.ReadUInt32LittleEndian(lh) != LocalSig) return null;
                int lNameLen = BinaryPrimitives.ReadUInt16LittleEndian(lh[26..]);
                int lExtraLen = BinaryPrimitives.ReadUInt16LittleEndian(lh[28..]);
                item.LocalExtra = lh.Slice(30 + lNameLen, lExtraLen).ToArray();
                var raw = lh.Slice(30 + lNameLen + lExtraLen, (int)comp);
                item.Data = item.Method switch
                {
                    0 => raw.ToArray(),
                    8 => Inflate(raw.ToArray(), size),
                    _ => throw new InvalidDataException($"method {item.Method}"),
                };
                items.Add(item);
                p += 46 + nameLen + extraLen + commentLen;
            }
            return items;
        }
        catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or InvalidDataException or OverflowException or EndOfStreamException)
        {
            return null;
        }
    }

    static byte[] Inflate(byte[] raw, long size)
    {
        using var d = new DeflateStream(new MemoryStream(raw), CompressionMode.Decompress);
        var result = new byte[size];
        d.ReadExactly(result);
        return result;
    }

    static void ReadZip64(ReadOnlySpan<byte> extra, ref long size, ref long comp, ref long local)
    {
        while (extra.Length >= 4)
        {
            int id = BinaryPrimitives.ReadUInt16LittleEndian(extra);
            int n = Math.Min(BinaryPrimitives.ReadUInt16LittleEndian(extra[2..]), extra.Length - 4);
            if (id == 1)
            {
                var z = extra.Slice(4, n);
                if (size == 0xFFFFFFFF && z.Length >= 8) { size = (long)BinaryPrimitives.ReadUInt64LittleEndian(z); z = z[8..]; }
                if (comp == 0xFFFFFFFF && z.Length >= 8) { comp = (long)BinaryPrimitives.ReadUInt64LittleEndian(z); z = z[8..]; }
                if (local == 0xFFFFFFFF && z.Length >= 8) local = (long)BinaryPrimitives.ReadUInt64LittleEndian(z);
            }
            extra = extra[(4 + n)..];
        }
    }

    /// <summary>(entry count, central directory offset, its size, end record offset), or null.</summary>
    static (long Count, long CdOffset, long CdSize, long Eocd)? FindDirectory(byte[] file)
    {
        for (long i = file.Length - 22; i >= Math.Max(0, file.Length - 22 - 65535); i--)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan((int)i)) != EndSig) continue;
            var e = file.AsSpan((int)i);
            long count = BinaryPrimitives.ReadUInt16LittleEndian(e[10..]);
            long cdSize = BinaryPrimitives.ReadUInt32LittleEndian(e[12..]);
            long cdOffset = BinaryPrimitives.ReadUInt32LittleEndian(e[16..]);
            if ((count == 0xFFFF || cdSize == 0xFFFFFFFF || cdOffset == 0xFFFFFFFF) && i >= 20
                && BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan((int)i - 20)) == Locator64Sig)
            {
                long rec = (long)BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan((int)i - 12));
                var z = file.AsSpan((int)rec);
                count = (long)BinaryPrimitives.ReadUInt64LittleEndian(z[32..]);
                cdSize = (long)BinaryPrimitives.ReadUInt64LittleEndian(z[40..]);
                cdOffset = (long)BinaryPrimitives.ReadUInt64LittleEndian(z[48..]);
            }
            return (count, cdOffset, cdSize, i);
        }
        return null;
    }

    /// <summary>How <see cref="Build"/> bends the rules on purpose.</summary>
    public sealed record BuildOptions
    {
        /// <summary>Items (by index) whose sizes and offset go into a zip64 extra field, with these values claimed instead of the real ones (null: real).</summary>
        public Dictionary<int, (ulong? Size, ulong? Compressed, ulong? Offset)> Zip64 { get; init; } = [];
        /// <summary>Write the zip64 end record and locator (with this entry count claimed, null: real).</summary>
        public bool Zip64End { get; init; }
        public ulong? Zip64EndCount { get; init; }
        /// <summary>Entry count claimed in the end record (null: real).</summary>
        public int? EndCount { get; init; }
        /// <summary>Recompress deflated items (false: store every item).</summary>
        public bool KeepMethods { get; init; } = true;
    }

    public static byte[] Build(IReadOnlyList<ZipItem> items, BuildOptions? options = null)
    {
        options ??= new BuildOptions();
        var ms = new MemoryStream();
        var w = new BinaryWriter(ms);
        var offsets = new long[items.Count];
        var comps = new byte[items.Count][];
        for (int i = 0; i < items.Count; i++)
        {
            var it = items[i];
            int method = options.KeepMethods ? it.Method : 0;
            comps[i] = method == 8 ? Deflate(it.Data) : it.Data;
            offsets[i] = ms.Position;
            var name = Encoding.UTF8.GetBytes(it.Name);
            uint crc = it.Crc ?? Checksums.Crc32(it.Data);
            bool z64 = options.Zip64.TryGetValue(i, out var claim);
            var extra = z64 ? Zip64Extra(claim.Size ?? (ulong)it.Data.Length, claim.Compressed ?? (ulong)comps[i].Length, null) : it.LocalExtra;
            w.Write(LocalSig); w.Write(it.VersionNeeded); w.Write((ushort)(it.Flags & ~8)); w.Write((ushort)method);
            w.Write(it.Time); w.Write(it.Date); w.Write(crc);
            w.Write(z64 ? 0xFFFFFFFFu : (uint)comps[i].Length); w.Write(z64 ? 0xFFFFFFFFu : (uint)it.Data.Length);
            w.Write((ushort)name.Length); w.Write((ushort)extra.Length); w.Write(name); w.Write(extra);
            w.Write(comps[i]);
        }
        long cdStart = ms.Position;
        for (int i = 0; i < items.Count; i++)
        {
            var it = items[i];
            int method = options.KeepMethods ? it.Method : 0;
            var name = Encoding.UTF8.GetBytes(it.Name);
            uint crc = it.Crc ?? Checksums.Crc32(it.Data);
            bool z64 = options.Zip64.TryGetValue(i, out var claim);
            var extra = z64 ? Zip64Extra(claim.Size ?? (ulong)it.Data.Length, claim.Compressed ?? (ulong)comps[i].Length, claim.Offset ?? (ulong)offsets[i])
                : StripZip64(it.CentralExtra);
            w.Write(CentralSig); w.Write(it.VersionMadeBy); w.Write(it.VersionNeeded); w.Write((ushort)(it.Flags & ~8)); w.Write((ushort)method);
            w.Write(it.Time); w.Write(it.Date); w.Write(crc);
            w.Write(z64 ? 0xFFFFFFFFu : (uint)comps[i].Length); w.Write(z64 ? 0xFFFFFFFFu : (uint)it.Data.Length);
            w.Write((ushort)name.Length); w.Write((ushort)extra.Length); w.Write((ushort)0);
            w.Write((ushort)0); w.Write((ushort)0); w.Write(0u);
            w.Write(z64 ? 0xFFFFFFFFu : (uint)offsets[i]);
            w.Write(name); w.Write(extra);
        }
        long cdSize = ms.Position - cdStart;
        if (options.Zip64End)
        {
            long rec = ms.Position;
            w.Write(End64Sig); w.Write(44UL); w.Write((ushort)45); w.Write((ushort)45); w.Write(0u); w.Write(0u);
            ulong n = options.Zip64EndCount ?? (ulong)items.Count;
            w.Write(n); w.Write(n); w.Write((ulong)cdSize); w.Write((ulong)cdStart);
            w.Write(Locator64Sig); w.Write(0u); w.Write((ulong)rec); w.Write(1u);
        }
        int count = options.EndCount ?? items.Count;
        w.Write(EndSig); w.Write((ushort)0); w.Write((ushort)0);
        w.Write(options.Zip64End ? (ushort)0xFFFF : (ushort)count); w.Write(options.Zip64End ? (ushort)0xFFFF : (ushort)count);
        w.Write(options.Zip64End ? 0xFFFFFFFFu : (uint)cdSize); w.Write(options.Zip64End ? 0xFFFFFFFFu : (uint)cdStart);
        w.Write((ushort)0);
        return ms.ToArray();
    }

    static byte[] Deflate(byte[] data)
    {
        var ms = new MemoryStream();
        using (var d = new DeflateStream(ms, CompressionLevel.Fastest, leaveOpen: true)) d.Write(data);
        return ms.ToArray();
    }

    static byte[] Zip64Extra(ulong size, ulong comp, ulong? offset)
    {
        var ms = new MemoryStream();
        var w = new BinaryWriter(ms);
        w.Write((ushort)1); w.Write((ushort)(offset is null ? 16 : 24)); w.Write(size); w.Write(comp);
        if (offset is { } o) w.Write(o);
        return ms.ToArray();
    }

    static byte[] StripZip64(byte[] extra)
    {
        var ms = new MemoryStream();
        var e = extra.AsSpan();
        while (e.Length >= 4)
        {
            int id = BinaryPrimitives.ReadUInt16LittleEndian(e);
            int n = Math.Min(BinaryPrimitives.ReadUInt16LittleEndian(e[2..]), e.Length - 4);
            if (id != 1) ms.Write(e[..(4 + n)]);
            e = e[(4 + n)..];
        }
        return ms.ToArray();
    }

    /// <summary>Every header field of the archive (for field mutations); empty when it is not a readable zip.</summary>
    public static List<ZipField> Fields(byte[] file)
    {
        var fields = new List<ZipField>();
        try
        {
            var dir = FindDirectory(file);
            if (dir is null) return fields;
            var (count, cdOffset, _, eocd) = dir.Value;
            string[] endNames = ["end: disk", "end: cd disk", "end: entries on disk", "end: entries", "end: cd size", "end: cd offset", "end: comment length"];
            int[] endWidths = [2, 2, 2, 2, 4, 4, 2];
            long at = eocd + 4;
            for (int i = 0; i < endNames.Length; i++) { fields.Add(new ZipField(at, endWidths[i], endNames[i])); at += endWidths[i]; }
            if (eocd >= 20 && BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan((int)eocd - 20)) == Locator64Sig)
            {
                fields.Add(new ZipField(eocd - 12, 8, "zip64 locator: end record offset"));
                long rec = (long)BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan((int)eocd - 12));
                if (rec >= 0 && rec + 56 <= file.Length)
                {
                    fields.Add(new ZipField(rec + 4, 8, "zip64 end: record size"));
                    fields.Add(new ZipField(rec + 24, 8, "zip64 end: entries on disk"));
                    fields.Add(new ZipField(rec + 32, 8, "zip64 end: entries"));
                    fields.Add(new ZipField(rec + 40, 8, "zip64 end: cd size"));
                    fields.Add(new ZipField(rec + 48, 8, "zip64 end: cd offset"));
                }
            }
            long p = cdOffset;
            for (long i = 0; i < count && p + 46 <= file.Length; i++)
            {
                if (BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan((int)p)) != CentralSig) break;
                var h = file.AsSpan((int)p);
                int nameLen = BinaryPrimitives.ReadUInt16LittleEndian(h[28..]);
                int extraLen = BinaryPrimitives.ReadUInt16LittleEndian(h[30..]);
                int commentLen = BinaryPrimitives.ReadUInt16LittleEndian(h[32..]);
                string name = Encoding.UTF8.GetString(h.Slice(46, Math.Min(nameLen, h.Length - 46)));
                (int Off, int W, string N)[] cf = [(6, 2, "version needed"), (8, 2, "flags"), (10, 2, "method"), (16, 4, "crc"), (20, 4, "compressed size"),
                    (24, 4, "size"), (28, 2, "name length"), (30, 2, "extra length"), (32, 2, "comment length"), (34, 2, "disk"), (42, 4, "local header offset")];
                foreach (var (off, w, n) in cf) fields.Add(new ZipField(p + off, w, $"central '{name}': {n}"));
                AddZip64Fields(fields, file, p + 46 + nameLen, extraLen, $"central '{name}'");
                long local = BinaryPrimitives.ReadUInt32LittleEndian(h[42..]);
                if (local + 30 <= file.Length && BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan((int)local)) == LocalSig)
                {
                    (int Off, int W, string N)[] lf = [(4, 2, "version needed"), (6, 2, "flags"), (8, 2, "method"), (14, 4, "crc"), (18, 4, "compressed size"),
                        (22, 4, "size"), (26, 2, "name length"), (28, 2, "extra length")];
                    foreach (var (off, w, n) in lf) fields.Add(new ZipField(local + off, w, $"local '{name}': {n}"));
                    int ln = BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan((int)local + 26));
                    int le = BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan((int)local + 28));
                    AddZip64Fields(fields, file, local + 30 + ln, le, $"local '{name}'");
                }
                p += 46 + nameLen + extraLen + commentLen;
            }
        }
        catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or OverflowException) { }
        return fields;
    }

    static void AddZip64Fields(List<ZipField> fields, byte[] file, long at, int length, string owner)
    {
        long end = Math.Min(at + length, file.Length);
        while (at + 4 <= end)
        {
            int id = BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan((int)at));
            int n = BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan((int)at + 2));
            fields.Add(new ZipField(at + 2, 2, $"{owner}: extra 0x{id:x4} length"));
            if (id == 1)
                for (int k = 0; k + 8 <= n && at + 4 + k + 8 <= end; k += 8)
                    fields.Add(new ZipField(at + 4 + k, 8, $"{owner}: zip64 value {k / 8}"));
            at += 4 + n;
        }
    }
}
