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
/// storage as an 8-byte element count and its bytes); and, through <see cref="TorchScriptReader"/>,
/// what <c>torch.jit.save</c> writes (the same zip layout plus <c>constants.pkl</c> and <c>code/</c>,
/// which is never run or interpreted). Pickles go through the allow-listed
/// <see cref="TorchPickleResolver"/>; <see cref="TorchCheckpoint"/> finds and names the weights.
/// Every tensor's window is checked against its storage before anything is allocated, and a tensor
/// that cannot be read is an error of its own while the others are still read; data is read on
/// first use, straight from the file into the tensor's memory.
/// </summary>
public sealed class TorchFileReader : IWeightReader
{
    static readonly BigInteger LegacyMagic = BigInteger.Parse("1950a86a20f9469cfc6c", System.Globalization.NumberStyles.HexNumber);
    static readonly string[] Extensions = [".pt", ".pth", ".th", ".bin", ".ckpt", ".tar"];
    const long MaxPickle = 1L << 30;

    public WeightFormat Format => WeightFormat.PyTorch;

    public int Probe(FileProbe file)
    {
        if (file.IsZip)
        {
            // torch.save writes <prefix>/data.pkl (or data.pkl at the root); other zips (.keras archives) are left to their readers.
            if (DataPickle(file.ZipEntries) is not null) return 90;
            return Extensions.Contains(file.Extension) ? 20 : 0;
        }
        // A legacy file is a protocol-2 pickle; any other pickle is read (and refused) the same safe way.
        return file.IsPickle ? 60 : 0;
    }

    /// <summary>The archive's data.pkl: at the root or one folder down (torch names the folder after the file or 'archive').</summary>
    internal static string? DataPickle(IEnumerable<string> entries)
    {
        string? root = null;
        foreach (var e in entries)
        {
            if (e == "data.pkl") root = e;
            else if (e.EndsWith("/data.pkl", StringComparison.Ordinal) && e.IndexOf('/') == e.Length - 9) return e;
        }
        return root;
    }

    /// <summary>A torch.jit.save archive: constants.pkl or code/ beside data.pkl.</summary>
    internal static bool IsTorchScript(IEnumerable<string> entries, string prefix) =>
        entries.Any(e => e == prefix + "constants.pkl" || e.StartsWith(prefix + "code/", StringComparison.Ordinal));

    /// <summary>TorchScript before torch 1.4: model.json and tensors/ instead of pickles.</summary>
    internal static bool IsOldTorchScript(IEnumerable<string> entries) =>
        entries.Any(e => e == "model.json" || e.EndsWith("/model.json", StringComparison.Ordinal) && e.IndexOf('/') == e.Length - 11);

    public WeightFile Read(string path, ReadOptions options)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096);
        Span<byte> sig = stackalloc byte[4];
        f.ReadExactly(sig);
        f.Position = 0;
        return BinaryPrimitives.ReadUInt32LittleEndian(sig) == 0x04034b50 ? ReadZip(path, f, options) : ReadLegacy(path, f, options);
    }

    /// <summary>Where a storage's bytes are (a zip entry or a byte range of a legacy file), or why they cannot be read.</summary>
    sealed record StorageData(long Bytes, ZipDirectory.Entry? Entry, long Offset, bool BigEndian, string? ErrorId = null, string? Problem = null);

    WeightFile ReadZip(string path, FileStream f, ReadOptions options)
    {
        var zip = ZipDirectory.Read(path, f);
        var names = zip.Entries.Select(e => e.Name).ToList();
        var pklName = DataPickle(names);
        if (pklName is null && IsOldTorchScript(names))
            throw new LstmPortException(ErrorIds.UnsupportedVersion,
                $"'{path}' is a TorchScript archive of torch 1.3 or earlier (model.json, no data.pkl), which LstmPort does not read; load it with torch.jit.load and save it again with a current torch.jit.save, or save its state_dict().", path);
        var pkl = pklName is null ? null : zip.Find(pklName);
        if (pkl is null)
            throw new LstmPortException(ErrorIds.CorruptFile,
                $"'{path}' is a zip archive without a data.pkl record, so it is not a PyTorch file.", path);
        var prefix = pkl.Name[..^"data.pkl".Length];
        bool script = IsTorchScript(names, prefix);
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

        var resolver = new TorchPickleResolver(path, script);
        var foreign = new List<string>();
        var root = LoadPickle(() => PickleReader.Load(zip.ReadAll(f, pkl, MaxPickle), resolver, path), resolver, foreign, path, options);

        var notes = new List<string>();
        var warnings = new List<string>();
        int constants = 0;
        if (script && zip.Find(prefix + "constants.pkl") is { } cpkl)
        {
            // The code's tensor constants (constants/<key>) are not state_dict entries: counted for a note, never read.
            var cres = new TorchPickleResolver(path, torchScript: true);
            try
            {
                var tuple = LoadPickle(() => PickleReader.Load(zip.ReadAll(f, cpkl, MaxPickle), cres, path), cres, foreign, path, options);
                constants = tuple is PyTuple t ? t.Items.Count(o => o is TensorRef or UnreadableTensor) : 0;
                if (constants > 0)
                    notes.Add($"left out the {(constants == 1 ? "tensor constant" : $"{constants} tensor constants")} of the scripted code (constants.pkl): not state_dict() entries");
            }
            catch (LstmPortException e) when (e.ErrorId != ErrorIds.UnsafePickleGlobal)
            {
                // Damage there loses no weight: the constants are not state_dict entries. Foreign globals still refuse the file.
                warnings.Add($"constants.pkl (the scripted code's constants, not weights) could not be read: {e.Message}");
            }
        }

        var cache = new Dictionary<string, StorageData>(StringComparer.Ordinal);
        StorageData Storage(StorageRef s)
        {
            if (cache.TryGetValue(s.Key, out var known)) return known;
            var entry = zip.Find($"{prefix}data/{s.Key}");
            StorageData result;
            if (entry is null)
                result = new StorageData(0, null, 0, bigEndian, ErrorIds.CorruptFile, $"its storage '{s.Key}' has no record {prefix}data/{s.Key} in the archive");
            else
            {
                try
                {
                    zip.DataOffset(f, entry); // checks the record lies inside the file
                    // Checked now, streaming: damage found later could only show as $null in PowerShell.
                    result = zip.Verify(f, entry)
                        ? new StorageData(entry.Size, entry, 0, bigEndian)
                        : new StorageData(entry.Size, entry, 0, bigEndian, ErrorIds.ChecksumMismatch,
                            $"its data (record {entry.Name}) fails its zip CRC-32 check (the file is damaged)");
                }
                catch (LstmPortException e) { result = new StorageData(0, entry, 0, bigEndian, e.ErrorId, $"its record {entry.Name}: {e.Message}"); }
            }
            return cache[s.Key] = result;
        }
        return Describe(path, root, script, Storage, zip, foreign, notes, warnings, constants);
    }

    WeightFile ReadLegacy(string path, FileStream f, ReadOptions options)
    {
        long end = f.Length;
        var resolver = new TorchPickleResolver(path);
        var foreign = new List<string>();
        // Every pickle of the file is under the policy: a foreign global in the header refuses it as well.
        object? Next() => LoadPickle(() => new PickleReader(f, end, resolver, path).Load(), resolver, foreign, path, options);

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

        // The storages follow in key order: each an 8-byte element count, then its bytes. A storage
        // that runs past the end leaves it and every later one unreadable; the earlier ones are fine.
        var data = new Dictionary<string, StorageData>(StringComparer.Ordinal);
        Span<byte> count = stackalloc byte[8];
        string? lost = null;
        foreach (var k in keys)
        {
            var key = k as string ?? throw new LstmPortException(ErrorIds.CorruptFile, $"'{path}': a storage key is not a string.", path);
            if (!resolver.Storages.TryGetValue(key, out var s))
                throw new LstmPortException(ErrorIds.CorruptFile, $"'{path}': storage '{key}' is listed but never used.", path);
            if (lost is not null)
            {
                data[key] = new StorageData(0, null, 0, bigEndian, ErrorIds.TruncatedFile, lost);
                continue;
            }
            long numel = -1;
            if (f.ReadAtLeast(count, 8, throwOnEndOfStream: false) == 8)
            {
                numel = BinaryPrimitives.ReadInt64LittleEndian(count);
                if (bigEndian) numel = BinaryPrimitives.ReverseEndianness(numel);
            }
            long bytes = numel >= 0 && numel <= long.MaxValue / s.ElementSize ? numel * s.ElementSize : -1;
            if (bytes < 0 || bytes > end - f.Position)
            {
                lost = $"the file is truncated or damaged at storage '{key}' (its data runs past the end of the file)";
                data[key] = new StorageData(0, null, 0, bigEndian, ErrorIds.TruncatedFile, lost);
                continue;
            }
            data[key] = new StorageData(bytes, null, f.Position, bigEndian);
            f.Position += bytes;
        }
        foreach (var key in resolver.Storages.Keys.Where(k => !data.ContainsKey(k)))
            data[key] = new StorageData(0, null, 0, bigEndian, ErrorIds.CorruptFile, $"its storage '{key}' is not in the file's storage list");
        return Describe(path, root, false, s => data[s.Key], null, foreign, [], [], 0);
    }

    /// <summary>
    /// Loads a pickle and applies the policy on foreign globals: refused (UnsafePickleGlobal, naming
    /// them all) unless -SkipUnsafeObjects; the pickle stays inert either way. A pickle that also
    /// fails to parse is refused for its globals first.
    /// </summary>
    static object? LoadPickle(Func<object?> load, TorchPickleResolver resolver, List<string> foreign, string path, ReadOptions options)
    {
        object? root;
        try { root = load(); }
        catch (LstmPortException) when (resolver.Foreign.Count > 0 && !options.SkipUnsafeObjects)
        {
            throw Unsafe(path, resolver.Foreign);
        }
        foreach (var g in resolver.Foreign) if (!foreign.Contains(g)) foreign.Add(g);
        if (foreign.Count > 0 && !options.SkipUnsafeObjects) throw Unsafe(path, foreign);
        return root;
    }

    static LstmPortException Unsafe(string path, IReadOnlyList<string> globals) =>
        new(ErrorIds.UnsafePickleGlobal,
            $"'{path}' asks to load the Python global{(globals.Count == 1 ? "" : "s")} {Quote(globals)}, which {(globals.Count == 1 ? "is not a tensor or a plain container" : "are not tensors or plain containers")}; " +
            "LstmPort loads only state_dicts (as torch.load(weights_only=True) does) and never runs code from a file. " +
            "Get-LstmWeights -SkipUnsafeObjects reads its tensors and leaves those objects out without constructing them; or save model.state_dict() instead.", path);

    static string Quote(IReadOnlyList<string> globals) =>
        string.Join(", ", globals.Take(12).Select(g => $"'{g}'")) + (globals.Count > 12 ? $" and {globals.Count - 12} more" : "");

    WeightFile Describe(string path, object? root, bool script, Func<StorageRef, StorageData> storage, ZipDirectory? zip,
        List<string> foreign, List<string> notes, List<string> warnings, int constants)
    {
        if (foreign.Count > 0)
            warnings.Insert(0, $"skipped the objects of {foreign.Count} Python global{(foreign.Count == 1 ? "" : "s")} the file names, without constructing or calling them (-SkipUnsafeObjects): {string.Join(", ", foreign)}");
        var walk = TorchCheckpoint.Walk(root, script);
        notes.InsertRange(0, walk.Notes);
        if (walk.Tensors.Count == 0)
        {
            var why = script && constants > 0
                ? $"its module has no parameters or buffers, and its {constants} tensors are constants of the scripted code (a torch.jit.freeze'd module keeps its weights only there, without names); save the module before freezing it, or its state_dict()"
                : $"its pickle is a {PickleReader.TypeName(root)}; expected a state_dict or a checkpoint holding one";
            throw new LstmPortException(ErrorIds.NoTensors,
                $"'{path}' holds no tensors ({why}){(foreign.Count > 0 ? $"; skipped objects of {string.Join(", ", foreign)}" : "")}.", path);
        }

        var raw = new List<TorchNaming.RawTensor>(walk.Tensors.Count);
        var errors = new List<LstmPortException>();
        foreach (var (key, value) in walk.Tensors)
        {
            if (value is UnreadableTensor u)
            {
                errors.Add(new LstmPortException(ErrorIds.UnsupportedDType,
                    $"'{path}': '{key}' is {u.Why}; LstmPort reads dense tensors only. The tensor is left out.", path));
                continue;
            }
            var t = (TensorRef)value;
            try
            {
                var where = storage(t.Storage);
                if (where.ErrorId is not null)
                    throw new LstmPortException(where.ErrorId, $"'{path}': '{key}' cannot be read: {where.Problem}. The tensor is left out.", path);
                var (shape, extent, dtype) = Check(path, key, t, where);
                raw.Add(new TorchNaming.RawTensor(key, shape.Select(d => (int)d).ToArray(), DTypes.Name(dtype),
                    () => Load(path, zip, where, t, dtype, extent)));
            }
            catch (LstmPortException e) { errors.Add(e); }
        }
        return new WeightFile(path, script ? WeightFormat.TorchScript : Format,
            raw.Count == 0 ? [] : TorchNaming.Describe(raw, path), warnings, errors, notes);
    }

    /// <summary>Checks a tensor's window against its storage without allocating; returns shape, elements spanned and type.</summary>
    static (long[] Shape, long Extent, torch.ScalarType DType) Check(string path, string key, TensorRef t, StorageData data)
    {
        var s = t.Storage;
        if (t.ElementType is not { } dtype) throw UnsupportedDType(path, key, t.TypeName);
        if (t.Size.Length != t.Stride.Length)
            throw new LstmPortException(ErrorIds.CorruptFile, $"'{path}': '{key}' has {t.Size.Length} sizes but {t.Stride.Length} strides.", path);
        if (t.Size.Any(d => d < 0) || t.Stride.Any(d => d < 0) || t.Offset < 0)
            throw new LstmPortException(ErrorIds.CorruptFile, $"'{path}': '{key}' has a negative size, stride or offset.", path);
        int size = DTypes.Size(dtype);
        long numel, extent, needBytes, storageBytes;
        try
        {
            numel = t.Size.Aggregate(1L, (a, d) => checked(a * d));
            extent = numel == 0 ? 0 : checked(1 + t.Size.Zip(t.Stride).Aggregate(0L, (a, p) => checked(a + (p.First - 1) * p.Second)));
            needBytes = numel == 0 ? 0 : checked((t.Offset + extent) * size);
            storageBytes = checked(s.Numel * s.ElementSize);
        }
        catch (OverflowException) { throw TooLarge(path, key, t.Size); }
        if (t.Size.Any(d => d > int.MaxValue)) throw TooLarge(path, key, t.Size);
        if (needBytes > storageBytes)
            throw new LstmPortException(ErrorIds.TensorOutOfRange,
                $"'{path}': '{key}' [{string.Join(",", t.Size)}] at offset {t.Offset} needs {needBytes} bytes of its storage '{s.Key}', which holds {storageBytes}.", path);
        long recordBytes;
        try { recordBytes = checked((s.ViewOffset * s.ElementSize) + storageBytes); }
        catch (OverflowException) { throw TooLarge(path, key, t.Size); }
        if (recordBytes > data.Bytes)
            throw new LstmPortException(ErrorIds.TensorOutOfRange,
                $"'{path}': storage '{s.Key}' of '{key}' should hold {recordBytes} bytes, but the file has {data.Bytes}.", path);
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
            long skip = checked(t.Storage.ViewOffset * t.Storage.ElementSize + t.Offset * DTypes.Size(dtype));
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

    static LstmPortException TooLarge(string path, string key, long[] size) =>
        new(ErrorIds.TensorTooLarge, $"'{path}': '{key}' has an absurd shape [{string.Join(",", size)}].", path);

    static LstmPortException UnsupportedDType(string path, string key, string type) =>
        new(ErrorIds.UnsupportedDType,
            $"'{path}': '{key}' is stored as {type}; supported: float32/64/16, bfloat16, int64/32/16/8, uint8, bool.", path);
}

/// <summary>
/// Claims what <c>torch.jit.save</c> writes (a zip whose data.pkl has <c>constants.pkl</c> or
/// <c>code/</c> beside it) and reads it with <see cref="TorchFileReader"/>: the scripted module's
/// parameters and buffers from the archive's pickles, named as its state_dict() names them.
/// </summary>
public sealed class TorchScriptReader : IWeightReader
{
    public WeightFormat Format => WeightFormat.TorchScript;

    public int Probe(FileProbe file)
    {
        if (!file.IsZip) return 0;
        var entries = file.ZipEntries;
        if (TorchFileReader.DataPickle(entries) is { } pkl)
            return TorchFileReader.IsTorchScript(entries, pkl[..^"data.pkl".Length]) ? 95 : 0;
        return TorchFileReader.IsOldTorchScript(entries) && entries.Any(e => e.Contains("code/", StringComparison.Ordinal)) ? 95 : 0;
    }

    public WeightFile Read(string path, ReadOptions options) => new TorchFileReader().Read(path, options);
}
