using System.Buffers.Binary;
using System.Text;

namespace LstmPort.Containers;

/// <summary>
/// The central directory of a zip file (with zip64), read without extracting anything, so a stored
/// entry's data can be read straight from the file at its offset. PyTorch writes its archives
/// uncompressed and 64-byte aligned; deflated entries are still read, through a decompressor.
/// </summary>
public sealed class ZipDirectory
{
    public sealed record Entry(string Name, int Method, long CompressedSize, long Size, long LocalHeaderOffset, uint Crc32);

    public IReadOnlyList<Entry> Entries { get; }
    readonly Dictionary<string, Entry> _byName;
    readonly string _path;

    ZipDirectory(string path, List<Entry> entries)
    {
        _path = path;
        Entries = entries;
        _byName = new(StringComparer.Ordinal);
        foreach (var e in entries) _byName.TryAdd(e.Name, e);
    }

    public Entry? Find(string name) => _byName.GetValueOrDefault(name);

    public static ZipDirectory Read(string path, FileStream f)
    {
        long len = f.Length;
        int tail = (int)Math.Min(len, 22 + 65535);
        var buf = new byte[tail];
        f.Position = len - tail;
        f.ReadExactly(buf);
        int eocd = -1;
        for (int i = tail - 22; i >= 0; i--)
            if (BinaryPrimitives.ReadUInt32LittleEndian(buf.AsSpan(i)) == 0x06054b50) { eocd = i; break; }
        if (eocd < 0)
            throw new LstmPortException(ErrorIds.TruncatedFile,
                $"'{path}' is truncated: the zip archive has no end-of-central-directory record.", path);

        var e = buf.AsSpan(eocd);
        long count = BinaryPrimitives.ReadUInt16LittleEndian(e[10..]);
        long cdSize = BinaryPrimitives.ReadUInt32LittleEndian(e[12..]);
        long cdOffset = BinaryPrimitives.ReadUInt32LittleEndian(e[16..]);
        if (count == 0xFFFF || cdSize == 0xFFFFFFFF || cdOffset == 0xFFFFFFFF)
        {
            // Zip64: the locator sits just before the classic record and points at the zip64 record.
            long locator = len - tail + eocd - 20;
            var loc = ReadAt(f, locator, 20, path);
            if (locator < 0 || BinaryPrimitives.ReadUInt32LittleEndian(loc) != 0x07064b50)
                throw Corrupt(path, "the zip64 locator is missing");
            long rec = Zip64(path, BinaryPrimitives.ReadUInt64LittleEndian(loc.AsSpan(8)), "zip64 end record offset");
            var z = ReadAt(f, rec, 56, path);
            if (BinaryPrimitives.ReadUInt32LittleEndian(z) != 0x06064b50) throw Corrupt(path, "the zip64 end record is missing");
            count = Zip64(path, BinaryPrimitives.ReadUInt64LittleEndian(z.AsSpan(32)), "zip64 entry count");
            cdSize = Zip64(path, BinaryPrimitives.ReadUInt64LittleEndian(z.AsSpan(40)), "zip64 central directory size");
            cdOffset = Zip64(path, BinaryPrimitives.ReadUInt64LittleEndian(z.AsSpan(48)), "zip64 central directory offset");
        }
        // Written as differences, so values near long.MaxValue cannot wrap past the check.
        if (cdSize > len || cdOffset > len - cdSize || cdSize > 1L << 30 || count > cdSize / 46)
            throw new LstmPortException(ErrorIds.TruncatedFile,
                $"'{path}' is truncated or damaged: its zip central directory lies outside the file.", path);

        var cd = ReadAt(f, cdOffset, (int)cdSize, path);
        var entries = new List<Entry>((int)count);
        int p = 0;
        for (long i = 0; i < count; i++)
        {
            if (p + 46 > cd.Length || BinaryPrimitives.ReadUInt32LittleEndian(cd.AsSpan(p)) != 0x02014b50)
                throw Corrupt(path, "the zip central directory is damaged");
            var h = cd.AsSpan(p);
            int method = BinaryPrimitives.ReadUInt16LittleEndian(h[10..]);
            uint crc = BinaryPrimitives.ReadUInt32LittleEndian(h[16..]);
            long comp = BinaryPrimitives.ReadUInt32LittleEndian(h[20..]);
            long size = BinaryPrimitives.ReadUInt32LittleEndian(h[24..]);
            int nameLen = BinaryPrimitives.ReadUInt16LittleEndian(h[28..]);
            int extraLen = BinaryPrimitives.ReadUInt16LittleEndian(h[30..]);
            int commentLen = BinaryPrimitives.ReadUInt16LittleEndian(h[32..]);
            long local = BinaryPrimitives.ReadUInt32LittleEndian(h[42..]);
            if (p + 46 + nameLen + extraLen + commentLen > cd.Length) throw Corrupt(path, "the zip central directory is damaged");
            var name = Encoding.UTF8.GetString(h.Slice(46, nameLen));
            var extra = h.Slice(46 + nameLen, extraLen);
            while (extra.Length >= 4)
            {
                int id = BinaryPrimitives.ReadUInt16LittleEndian(extra);
                int n = Math.Min(BinaryPrimitives.ReadUInt16LittleEndian(extra[2..]), extra.Length - 4);
                if (id == 1)
                {
                    // Zip64 sizes, present only for the fields that overflowed, in this order.
                    var z = extra.Slice(4, n);
                    if (size == 0xFFFFFFFF && z.Length >= 8) { size = Zip64(path, BinaryPrimitives.ReadUInt64LittleEndian(z), $"zip64 size of '{name}'"); z = z[8..]; }
                    if (comp == 0xFFFFFFFF && z.Length >= 8) { comp = Zip64(path, BinaryPrimitives.ReadUInt64LittleEndian(z), $"zip64 compressed size of '{name}'"); z = z[8..]; }
                    if (local == 0xFFFFFFFF && z.Length >= 8) local = Zip64(path, BinaryPrimitives.ReadUInt64LittleEndian(z), $"zip64 local header offset of '{name}'");
                }
                extra = extra[(4 + n)..];
            }
            entries.Add(new Entry(name, method, comp, size, local, crc));
            p += 46 + nameLen + extraLen + commentLen;
        }
        return new ZipDirectory(path, entries);
    }

    /// <summary>Where an entry's (possibly compressed) bytes start in the file; checks they lie inside it.</summary>
    public long DataOffset(FileStream f, Entry e)
    {
        var h = ReadAt(f, e.LocalHeaderOffset, 30, _path);
        if (BinaryPrimitives.ReadUInt32LittleEndian(h) != 0x04034b50) throw Corrupt(_path, $"the local header of '{e.Name}' is damaged");
        // ReadAt checked the header lies inside the file, so start cannot overflow (at most 128 KB past it).
        long start = e.LocalHeaderOffset + 30 + BinaryPrimitives.ReadUInt16LittleEndian(h.AsSpan(26)) + BinaryPrimitives.ReadUInt16LittleEndian(h.AsSpan(28));
        if (e.CompressedSize < 0 || start > f.Length || e.CompressedSize > f.Length - start)
            throw new LstmPortException(ErrorIds.TruncatedFile, $"'{_path}' is truncated: the data of '{e.Name}' ends past the end of the file.", _path);
        if (e.Method != 0 && e.Method != 8)
            throw new LstmPortException(ErrorIds.UnsupportedCompression,
                $"'{_path}': '{e.Name}' uses zip compression method {e.Method}; only stored and deflated entries are read.", _path);
        return start;
    }

    /// <summary>Opens an entry's uncompressed bytes as a forward-only stream over the open file.</summary>
    public Stream Open(FileStream f, Entry e)
    {
        f.Position = DataOffset(f, e);
        return e.Method == 0 ? f : new System.IO.Compression.DeflateStream(f, System.IO.Compression.CompressionMode.Decompress, leaveOpen: true);
    }

    /// <summary>
    /// Whether an entry's uncompressed bytes match the CRC-32 its directory records: streamed through
    /// a small buffer, nothing kept. A file that ends inside the entry fails the check.
    /// </summary>
    public bool Verify(FileStream f, Entry e)
    {
        var s = Open(f, e);
        try
        {
            var crc = new System.IO.Hashing.Crc32();
            var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
            try
            {
                long left = e.Size;
                while (left > 0)
                {
                    int n = s.Read(buffer, 0, (int)Math.Min(left, buffer.Length));
                    if (n == 0) return false;
                    crc.Append(buffer.AsSpan(0, n));
                    left -= n;
                }
            }
            finally { System.Buffers.ArrayPool<byte>.Shared.Return(buffer); }
            return crc.GetCurrentHashAsUInt32() == e.Crc32;
        }
        catch (InvalidDataException) { return false; } // a damaged deflate stream
        finally { if (!ReferenceEquals(s, f)) s.Dispose(); }
    }

    public byte[] ReadAll(FileStream f, Entry e, long max)
    {
        if (e.Size < 0 || e.Size > max) throw Corrupt(_path, $"'{e.Name}' is {e.Size} bytes, more than the {max} expected");
        var s = Open(f, e); // checks the compressed bytes lie inside the file
        // Sized from the directory only once that size fits what is in the file: a stored record's bytes
        // are there as they are, a deflated one expands at most about 1032 times.
        if (e.Method == 0 ? e.Size > e.CompressedSize : e.Size > (e.CompressedSize + 1) * 1032)
        {
            if (!ReferenceEquals(s, f)) s.Dispose();
            throw Corrupt(_path, $"'{e.Name}' claims {e.Size} bytes, more than its {e.CompressedSize} bytes in the file can hold");
        }
        var b = new byte[e.Size];
        try { s.ReadExactly(b); }
        catch (EndOfStreamException) { throw new LstmPortException(ErrorIds.TruncatedFile, $"'{_path}' is truncated inside '{e.Name}'.", _path); }
        catch (InvalidDataException x) { throw new LstmPortException(ErrorIds.CorruptFile, $"'{_path}': the compressed record '{e.Name}' is damaged ({x.Message}).", _path, x); }
        finally { if (!ReferenceEquals(s, f)) s.Dispose(); }
        if (System.IO.Hashing.Crc32.HashToUInt32(b) != e.Crc32)
            throw new LstmPortException(ErrorIds.ChecksumMismatch,
                $"'{_path}': the record '{e.Name}' fails its zip CRC-32 check (the file is damaged).", _path);
        return b;
    }

    static byte[] ReadAt(FileStream f, long offset, int n, string path)
    {
        // offset > length - n, not offset + n > length: an offset near long.MaxValue would wrap.
        if (offset < 0 || n < 0 || n > f.Length || offset > f.Length - n)
            throw new LstmPortException(ErrorIds.TruncatedFile, $"'{path}' is truncated: a zip record lies past the end of the file.", path);
        f.Position = offset;
        var b = new byte[n];
        f.ReadExactly(b);
        return b;
    }

    /// <summary>A zip64 value: stored unsigned, but no file has 2^63 bytes, so a larger one is damage (negative as a long).</summary>
    static long Zip64(string path, ulong value, string what) =>
        value > long.MaxValue ? throw Corrupt(path, $"the {what} is {value}, past any file's size") : (long)value;

    static LstmPortException Corrupt(string path, string what) =>
        new(ErrorIds.CorruptFile, $"'{path}' is not a valid PyTorch file: {what}.", path);
}
