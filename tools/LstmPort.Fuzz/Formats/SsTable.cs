using System.Buffers.Binary;
using System.Text;

namespace LstmPort.Fuzz.Formats;

/// <summary>Where the parts of a table lie: each block (offset, size, type byte, CRC) and the footer.</summary>
public sealed record SsBlock(long Offset, long Size, bool IsIndex);

/// <summary>
/// TensorFlow's sorted string table (LevelDB's format: tensorflow/core/lib/io/table): data blocks of
/// prefix-compressed entries with restart points, each followed by a compression type byte and a
/// masked CRC-32C; an index block of (last key, block handle); a 48-byte footer with the metaindex
/// and index handles and the magic number. <see cref="Read"/> is lenient (no CRC checks) so damaged
/// seeds still map; <see cref="Write"/> writes correct tables, with options to bend the rules.
/// </summary>
public static class SsTable
{
    public const ulong Magic = 0xdb4775248b80fb57UL;

    public sealed record WriteOptions
    {
        public bool Snappy { get; init; }
        public int EntriesPerBlock { get; init; } = 3;
        public int RestartInterval { get; init; } = 4;
        /// <summary>Keep the entries' order as given (false: sort them by key as a table must be).</summary>
        public bool KeepOrder { get; init; }
    }

    /// <summary>The entries, or null when the footer or index cannot be read.</summary>
    public static List<KeyValuePair<string, byte[]>>? Read(byte[] file) => ReadWithLayout(file)?.Entries;

    public static (List<KeyValuePair<string, byte[]>> Entries, List<SsBlock> Blocks, List<(long Offset, string What)> Varints)? ReadWithLayout(byte[] file)
    {
        try
        {
            if (file.Length < 48 || BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(file.Length - 8)) != Magic) return null;
            var varints = new List<(long, string)>();
            int pos = file.Length - 48;
            varints.Add((pos, "footer: metaindex offset"));
            if (!Bytes.TryVarint(file, ref pos, out _)) return null;
            varints.Add((pos, "footer: metaindex size"));
            if (!Bytes.TryVarint(file, ref pos, out _)) return null;
            varints.Add((pos, "footer: index offset"));
            if (!Bytes.TryVarint(file, ref pos, out var indexOffset)) return null;
            varints.Add((pos, "footer: index size"));
            if (!Bytes.TryVarint(file, ref pos, out var indexSize)) return null;
            var blocks = new List<SsBlock> { new((long)indexOffset, (long)indexSize, true) };
            var index = Block(file, (long)indexOffset, (long)indexSize);
            if (index is null) return null;
            var entries = new List<KeyValuePair<string, byte[]>>();
            foreach (var (_, handle) in Entries(index))
            {
                int hp = 0;
                if (!Bytes.TryVarint(handle, ref hp, out var off) || !Bytes.TryVarint(handle, ref hp, out var size)) return null;
                blocks.Add(new SsBlock((long)off, (long)size, false));
                var block = Block(file, (long)off, (long)size);
                if (block is null) return null;
                foreach (var (k, v) in Entries(block)) entries.Add(new(Encoding.UTF8.GetString(k), v));
            }
            return (entries, blocks, varints);
        }
        catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or InvalidDataException or OverflowException) { return null; }
    }

    static byte[]? Block(byte[] file, long offset, long size)
    {
        if (offset < 0 || size < 0 || offset + size + 5 > file.Length) return null;
        var contents = file.AsSpan((int)offset, (int)size);
        return file[offset + size] switch
        {
            0 => contents.ToArray(),
            1 => Snappier.Snappy.DecompressToArray(contents),
            _ => null,
        };
    }

    static List<(byte[] Key, byte[] Value)> Entries(byte[] block)
    {
        var result = new List<(byte[], byte[])>();
        if (block.Length < 4) return result;
        uint restarts = BinaryPrimitives.ReadUInt32LittleEndian(block.AsSpan(block.Length - 4));
        long limit = block.Length - 4 - 4L * restarts;
        var key = Array.Empty<byte>();
        int pos = 0;
        while (pos < limit)
        {
            if (!Bytes.TryVarint(block, ref pos, out var shared) || !Bytes.TryVarint(block, ref pos, out var nonShared)
                || !Bytes.TryVarint(block, ref pos, out var valueLength)) break;
            if (shared > (ulong)key.Length || (ulong)pos + nonShared + valueLength > (ulong)limit) break;
            var next = new byte[(int)shared + (int)nonShared];
            key.AsSpan(0, (int)shared).CopyTo(next);
            block.AsSpan(pos, (int)nonShared).CopyTo(next.AsSpan((int)shared));
            pos += (int)nonShared;
            result.Add((next, block.AsSpan(pos, (int)valueLength).ToArray()));
            pos += (int)valueLength;
            key = next;
        }
        return result;
    }

    public static byte[] Write(IEnumerable<KeyValuePair<string, byte[]>> entries, WriteOptions? options = null)
    {
        options ??= new WriteOptions();
        var list = options.KeepOrder ? entries.ToList() : entries.OrderBy(e => e.Key, StringComparer.Ordinal).ToList();
        var file = new MemoryStream();
        var index = new List<KeyValuePair<string, byte[]>>();
        int per = Math.Max(1, options.EntriesPerBlock);
        for (int i = 0; i < list.Count; i += per)
        {
            var chunk = list.Skip(i).Take(per).ToList();
            var handle = WriteBlock(file, BlockBytes(chunk, options.RestartInterval), options.Snappy);
            index.Add(new(chunk[^1].Key, handle));
        }
        var meta = WriteBlock(file, BlockBytes([], options.RestartInterval), options.Snappy);
        var indexHandle = WriteBlock(file, BlockBytes(index, options.RestartInterval), options.Snappy);
        var footer = new byte[48];
        meta.CopyTo(footer, 0);
        indexHandle.CopyTo(footer, meta.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(footer.AsSpan(40), Magic);
        file.Write(footer);
        return file.ToArray();
    }

    static byte[] WriteBlock(MemoryStream file, byte[] contents, bool snappy)
    {
        long offset = file.Position;
        byte type = 0;
        if (snappy) { contents = Snappier.Snappy.CompressToArray(contents); type = 1; }
        file.Write(contents);
        file.WriteByte(type);
        Span<byte> c = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(c, Checksums.Mask(Checksums.Crc32C([type], Checksums.Crc32C(contents))));
        file.Write(c);
        var ms = new MemoryStream();
        Bytes.Varint(ms, (ulong)offset);
        Bytes.Varint(ms, (ulong)contents.Length);
        return ms.ToArray();
    }

    static byte[] BlockBytes(List<KeyValuePair<string, byte[]>> entries, int restartInterval)
    {
        var ms = new MemoryStream();
        var restarts = new List<uint>();
        byte[] last = [];
        for (int i = 0; i < entries.Count; i++)
        {
            var key = Encoding.UTF8.GetBytes(entries[i].Key);
            int shared = 0;
            if (i % Math.Max(1, restartInterval) == 0) restarts.Add((uint)ms.Position);
            else while (shared < last.Length && shared < key.Length && last[shared] == key[shared]) shared++;
            Bytes.Varint(ms, (ulong)shared); Bytes.Varint(ms, (ulong)(key.Length - shared)); Bytes.Varint(ms, (ulong)entries[i].Value.Length);
            ms.Write(key, shared, key.Length - shared);
            ms.Write(entries[i].Value);
            last = key;
        }
        if (restarts.Count == 0) restarts.Add(0);
        Span<byte> u = stackalloc byte[4];
        foreach (var r in restarts) { BinaryPrimitives.WriteUInt32LittleEndian(u, r); ms.Write(u); }
        BinaryPrimitives.WriteUInt32LittleEndian(u, (uint)restarts.Count); ms.Write(u);
        return ms.ToArray();
    }

    /// <summary>Recomputes the masked CRC-32C trailer of every block the layout lists (after an edit inside one).</summary>
    public static void FixBlockCrcs(byte[] file, IEnumerable<SsBlock> blocks)
    {
        foreach (var b in blocks)
        {
            if (b.Offset < 0 || b.Offset + b.Size + 5 > file.Length) continue;
            var data = file.AsSpan((int)b.Offset, (int)b.Size + 1);
            BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan((int)(b.Offset + b.Size + 1)), Checksums.Mask(Checksums.Crc32C(data)));
        }
    }
}
