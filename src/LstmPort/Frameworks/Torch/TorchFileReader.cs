using System.Buffers.Binary;
using System.Numerics;
using System.Text;
using TorchSharp;
using LstmPort.Containers;
using LstmPort.Formats;
using LstmPort.Runtime;

namespace LstmPort.Frameworks.Torch;

/// <summary>
/// Reads what <c>torch.save</c> writes: the zip format of torch 1.6 and later (<c>&lt;prefix&gt;/data.pkl</c>,
/// <c>&lt;prefix&gt;/data/&lt;key&gt;</c> storages, optional <c>byteorder</c>) and the legacy format before
/// 1.6 (magic number, protocol and system-info pickles, the object pickle, the storage keys, then each
/// storage as an 8-byte element count and its bytes). Pickles go through the allow-listed
/// <see cref="TorchPickleResolver"/>; a state_dict may be wrapped as <c>{'state_dict': ...}</c> or
/// <c>{'model': ...}</c>. Every tensor's window is checked against its storage before anything is
/// allocated; data is read on first use, straight from the file into the tensor's memory.
/// </summary>
public sealed class TorchFileReader : IWeightReader
{
    static readonly BigInteger LegacyMagic = BigInteger.Parse("1950a86a20f9469cfc6c", System.Globalization.NumberStyles.HexNumber);
    static readonly string[] Extensions = [".pt", ".pth", ".th", ".bin", ".ckpt", ".tar"];
    static readonly string[] Wrappers = ["state_dict", "model_state_dict", "model", "net", "module", "network"];
    const long MaxPickle = 1L << 30;

    public WeightFormat Format => WeightFormat.PyTorch;

    public int Probe(FileProbe file)
    {
        if (file.IsZip)
        {
            // torch.save writes <prefix>/data.pkl (or data.pkl at the root); other zips (.keras archives) are left to their readers.
            if (file.ZipEntries.Any(IsDataPickle)) return 90;
            return Extensions.Contains(file.Extension) ? 20 : 0;
        }
        // A legacy file is a protocol-2 pickle; any other pickle is read (and refused) the same safe way.
        return file.IsPickle ? 60 : 0;
    }

    static bool IsDataPickle(string entry) =>
        entry == "data.pkl" || entry.EndsWith("/data.pkl", StringComparison.Ordinal) && entry.IndexOf('/') == entry.Length - 9;

    public WeightFile Read(string path, ReadOptions options)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096);
        Span<byte> sig = stackalloc byte[4];
        f.ReadExactly(sig);
        f.Position = 0;
        return BinaryPrimitives.ReadUInt32LittleEndian(sig) == 0x04034b50 ? ReadZip(path, f) : ReadLegacy(path, f);
    }

    /// <summary>Where a storage's bytes are: a zip entry or a byte range of a legacy file.</summary>
    sealed record StorageData(long Bytes, ZipDirectory.Entry? Entry, long Offset, bool BigEndian, bool Damaged = false);

    WeightFile ReadZip(string path, FileStream f)
    {
        var zip = ZipDirectory.Read(path, f);
        var pkl = zip.Entries.FirstOrDefault(e => e.Name != "data.pkl" && IsDataPickle(e.Name))
                  ?? zip.Find("data.pkl")
                  ?? throw new LstmPortException(ErrorIds.CorruptFile,
                      $"'{path}' is a zip archive without a data.pkl record, so it is not a PyTorch file.", path);
        var prefix = pkl.Name[..^"data.pkl".Length];
        bool bigEndian = false;
        if (zip.Find(prefix + "byteorder") is { } bo)
        {
            var order = Encoding.ASCII.GetString(zip.ReadAll(f, bo, 16)).Trim();
            bigEndian = order switch
            {
                "little" => false,
                "big" => true,
                _ => throw new LstmPortException(ErrorIds.CorruptFile, $"'{path}' has an unknown byteorder record '{order}'.", path),
            };
        }

        var resolver = new TorchPickleResolver(path);
        var root = PickleReader.Load(zip.ReadAll(f, pkl, MaxPickle), resolver, path);
        var data = new Dictionary<string, StorageData>(StringComparer.Ordinal);
        foreach (var s in resolver.Storages.Values)
        {
            var entry = zip.Find($"{prefix}data/{s.Key}")
                        ?? throw new LstmPortException(ErrorIds.CorruptFile,
                            $"'{path}' is not a valid PyTorch file: storage '{s.Key}' has no record {prefix}data/{s.Key}.", path);
            zip.DataOffset(f, entry); // checks the record lies inside the file
            // Checked now, streaming: damage found later could only show as $null in PowerShell.
            data[s.Key] = new StorageData(entry.Size, entry, 0, bigEndian, Damaged: !zip.Verify(f, entry));
        }
        return Describe(path, root, data, zip);
    }

    WeightFile ReadLegacy(string path, FileStream f)
    {
        long end = f.Length;
        var resolver = new TorchPickleResolver(path);
        object? Next() => new PickleReader(f, end, resolver, path).Load();

        var magic = Next();
        if (!(magic is BigInteger m && m == LegacyMagic))
            throw new LstmPortException(ErrorIds.CorruptFile,
                $"'{path}' is a pickle but not a PyTorch file: it does not start with torch.save's magic number.", path);
        if (Next() is not long protocol || protocol != 1001)
            throw new LstmPortException(ErrorIds.UnsupportedVersion, $"'{path}' uses a legacy PyTorch protocol other than 1001.", path);
        bool bigEndian = Next() is PyDict sys && sys.TryGet("little_endian", out var le) && le is false;
        var root = Next();
        if (Next() is not List<object?> keys)
            throw new LstmPortException(ErrorIds.CorruptFile, $"'{path}' is not a valid PyTorch file: the storage key list is missing.", path);

        // The storages follow in key order: each an 8-byte element count, then its bytes.
        var data = new Dictionary<string, StorageData>(StringComparer.Ordinal);
        Span<byte> count = stackalloc byte[8];
        foreach (var k in keys)
        {
            var key = k as string ?? throw new LstmPortException(ErrorIds.CorruptFile, $"'{path}': a storage key is not a string.", path);
            if (!resolver.Storages.TryGetValue(key, out var s))
                throw new LstmPortException(ErrorIds.CorruptFile, $"'{path}': storage '{key}' is listed but never used.", path);
            if (f.ReadAtLeast(count, 8, throwOnEndOfStream: false) < 8) throw Truncated(path, key);
            long numel = BinaryPrimitives.ReadInt64LittleEndian(count);
            if (bigEndian) numel = BinaryPrimitives.ReverseEndianness(numel);
            if (s.DType is not { } dt) throw UnsupportedDType(path, key, s.TypeName);
            long bytes = SafeBytes(path, key, numel, DTypes.Size(dt));
            if (bytes > end - f.Position) throw Truncated(path, key);
            data[key] = new StorageData(bytes, null, f.Position, bigEndian);
            f.Position += bytes;
        }
        return Describe(path, root, data, null);
    }

    WeightFile Describe(string path, object? root, Dictionary<string, StorageData> data, ZipDirectory? zip)
    {
        var warnings = new List<string>();
        var found = new List<(string Key, TensorRef T)>();
        Collect(StateDict(root), "", found, warnings);
        if (found.Count == 0)
            throw new LstmPortException(ErrorIds.NoTensors,
                $"'{path}' holds no tensors (its pickle is a {PickleReader.TypeName(root)}); expected a state_dict.", path);

        var raw = new List<TorchNaming.RawTensor>(found.Count);
        var errors = new List<LstmPortException>();
        foreach (var (key, t) in found)
        {
            var (shape, extent, dtype) = Check(path, key, t, data);
            var where = data[t.Storage.Key];
            if (where.Damaged)
            {
                errors.Add(new LstmPortException(ErrorIds.ChecksumMismatch,
                    $"'{path}': the data of '{key}' (record {where.Entry!.Name}) fails its zip CRC-32 check (the file is damaged); the tensor is left out.", path));
                continue;
            }
            raw.Add(new TorchNaming.RawTensor(key, shape.Select(d => (int)d).ToArray(), DTypes.Name(dtype),
                () => Load(path, zip, where, t, dtype, extent)));
        }
        return new WeightFile(path, Format, raw.Count == 0 ? [] : TorchNaming.Describe(raw, path), warnings, errors);
    }

    /// <summary>Unwraps {'state_dict': {...}} and the like; otherwise the root is the state_dict.</summary>
    static object? StateDict(object? root)
    {
        if (root is not PyDict d) return root;
        foreach (var w in Wrappers)
            if (d.TryGet(w, out var inner) && inner is PyDict id && HasTensors(id)) return inner;
        return root;
    }

    static bool HasTensors(object? o) => o switch
    {
        TensorRef => true,
        PyDict d => d.Items.Any(kv => HasTensors(kv.Value)),
        _ => false,
    };

    /// <summary>Tensors of a (possibly nested) dict; nested keys are joined with '.'.</summary>
    static void Collect(object? o, string prefix, List<(string, TensorRef)> found, List<string> warnings)
    {
        if (o is TensorRef t) { found.Add((prefix, t)); return; }
        if (o is not PyDict d) return;
        var skipped = new List<string>();
        foreach (var (k, v) in d.Items)
        {
            var key = prefix.Length == 0 ? Convert.ToString(k, System.Globalization.CultureInfo.InvariantCulture) ?? "None"
                : $"{prefix}.{Convert.ToString(k, System.Globalization.CultureInfo.InvariantCulture)}";
            if (v is TensorRef || v is PyDict pd && HasTensors(pd)) Collect(v, key, found, warnings);
            else skipped.Add(key);
        }
        if (skipped.Count > 0 && found.Count > 0)
            warnings.Add($"skipped {skipped.Count} entries that are not tensors: {string.Join(", ", skipped.Take(5))}{(skipped.Count > 5 ? ", ..." : "")}");
    }

    /// <summary>Checks a tensor's window against its storage without allocating; returns shape, elements spanned and type.</summary>
    static (long[] Shape, long Extent, torch.ScalarType DType) Check(string path, string key, TensorRef t, Dictionary<string, StorageData> data)
    {
        var s = t.Storage;
        if (s.DType is not { } dtype) throw UnsupportedDType(path, key, s.TypeName);
        if (t.Size.Length != t.Stride.Length)
            throw new LstmPortException(ErrorIds.CorruptFile, $"'{path}': '{key}' has {t.Size.Length} sizes but {t.Stride.Length} strides.", path);
        if (t.Size.Any(d => d < 0) || t.Stride.Any(d => d < 0) || t.Offset < 0)
            throw new LstmPortException(ErrorIds.CorruptFile, $"'{path}': '{key}' has a negative size, stride or offset.", path);
        long numel, extent;
        try
        {
            numel = t.Size.Aggregate(1L, (a, d) => checked(a * d));
            extent = numel == 0 ? 0 : checked(1 + t.Size.Zip(t.Stride).Aggregate(0L, (a, p) => checked(a + (p.First - 1) * p.Second)));
            _ = checked(extent * DTypes.Size(dtype));
        }
        catch (OverflowException) { throw TooLarge(path, key, t.Size); }
        if (t.Size.Any(d => d > int.MaxValue)) throw TooLarge(path, key, t.Size);
        if (numel > 0 && (t.Offset > s.Numel - extent))
            throw new LstmPortException(ErrorIds.TensorOutOfRange,
                $"'{path}': '{key}' [{string.Join(",", t.Size)}] at offset {t.Offset} needs {checked(t.Offset + extent)} elements, but its storage holds {s.Numel}.", path);
        long storageBytes = SafeBytes(path, key, checked(s.ViewOffset + s.Numel), DTypes.Size(dtype));
        if (storageBytes > data[s.Key].Bytes)
            throw new LstmPortException(ErrorIds.TensorOutOfRange,
                $"'{path}': storage '{s.Key}' of '{key}' should hold {storageBytes} bytes, but the file has {data[s.Key].Bytes}.", path);
        return (t.Size, extent, dtype);
    }

    static torch.Tensor Load(string path, ZipDirectory? zip, StorageData where, TensorRef t, torch.ScalarType dtype, long extent)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        Stream s;
        if (zip is not null) s = zip.Open(f, where.Entry!);
        else { f.Position = where.Offset; s = f; }
        try
        {
            long skip = checked((t.Storage.ViewOffset + t.Offset) * DTypes.Size(dtype));
            if (s.CanSeek) s.Position += skip;
            else SkipForward(s, skip);

            torch.Tensor result;
            if (IsContiguous(t.Size, t.Stride))
                result = TensorMemory.Read(s, t.Size, dtype);
            else
            {
                // Read the span the view covers, then lay it out densely.
                using var span = TensorMemory.Read(s, [extent], dtype);
                result = span.as_strided(t.Size, t.Stride).contiguous();
            }
            if (where.BigEndian && DTypes.Size(dtype) > 1) TensorMemory.SwapBytes(result);
            return result;
        }
        finally { if (!ReferenceEquals(s, f)) s.Dispose(); }
    }

    static void SkipForward(Stream s, long n)
    {
        var buf = new byte[(int)Math.Min(n, 1 << 20)];
        while (n > 0)
        {
            int got = s.Read(buf, 0, (int)Math.Min(n, buf.Length));
            if (got == 0) throw new LstmPortException(ErrorIds.TruncatedFile, "the file ends inside a storage");
            n -= got;
        }
    }

    static bool IsContiguous(long[] size, long[] stride)
    {
        long expected = 1;
        for (int i = size.Length - 1; i >= 0; i--)
        {
            if (size[i] != 1 && stride[i] != expected) return false;
            expected *= size[i];
        }
        return true;
    }

    static long SafeBytes(string path, string key, long numel, int size)
    {
        if (numel < 0) throw new LstmPortException(ErrorIds.CorruptFile, $"'{path}': storage of '{key}' has a negative size.", path);
        try { return checked(numel * size); }
        catch (OverflowException) { throw new LstmPortException(ErrorIds.TensorTooLarge, $"'{path}': storage of '{key}' claims {numel} elements.", path); }
    }

    static LstmPortException TooLarge(string path, string key, long[] size) =>
        new(ErrorIds.TensorTooLarge, $"'{path}': '{key}' has an absurd shape [{string.Join(",", size)}].", path);

    static LstmPortException UnsupportedDType(string path, string key, string type) =>
        new(ErrorIds.UnsupportedDType,
            $"'{path}': '{key}' is stored as {type}; supported: float32/64/16, bfloat16, int64/32/16/8, uint8, bool.", path);

    static LstmPortException Truncated(string path, string key) =>
        new(ErrorIds.TruncatedFile, $"'{path}' is truncated: the data of storage '{key}' ends past the end of the file.", path);
}
