using System.Buffers.Binary;
using System.Text.Json;
using TorchSharp;
using LstmPort.Formats;
using LstmPort.Runtime;

namespace LstmPort.Frameworks.Torch;

/// <summary>
/// Reads the safetensors format: an 8-byte little-endian header length, a JSON header mapping each
/// name to {dtype, shape, data_offsets} (offsets relative to the end of the header), optional
/// "__metadata__", then the raw little-endian data. Every offset, size and overlap is checked before
/// anything is allocated.
/// </summary>
public sealed class SafetensorsReader : IWeightReader
{
    const long MaxHeader = 100L << 20;

    public WeightFormat Format => WeightFormat.SafeTensors;

    // An 8-byte header length, then the JSON header.
    public int Probe(FileProbe file) =>
        file.Head.Length >= 9 && file.Head.Span[8] == (byte)'{' && file.LeadingUInt64 < MaxHeader ? 90 : 0;

    internal static readonly Dictionary<string, torch.ScalarType> DTypes = new()
    {
        ["F64"] = torch.ScalarType.Float64, ["F32"] = torch.ScalarType.Float32,
        ["F16"] = torch.ScalarType.Float16, ["BF16"] = torch.ScalarType.BFloat16,
        ["I64"] = torch.ScalarType.Int64, ["I32"] = torch.ScalarType.Int32,
        ["I16"] = torch.ScalarType.Int16, ["I8"] = torch.ScalarType.Int8,
        ["U8"] = torch.ScalarType.Byte, ["BOOL"] = torch.ScalarType.Bool,
    };

    sealed record Entry(string Name, torch.ScalarType DType, long[] Shape, long Begin, long End);

    public WeightFile Read(string path, ReadOptions options)
    {
        long fileLength = new FileInfo(path).Length;
        byte[] header;
        using (var f = File.OpenRead(path))
        {
            Span<byte> len = stackalloc byte[8];
            if (f.ReadAtLeast(len, 8, throwOnEndOfStream: false) < 8)
                throw Bad(path, ErrorIds.TruncatedFile, "the file is shorter than the 8-byte header length");
            ulong n = BinaryPrimitives.ReadUInt64LittleEndian(len);
            if (n > (ulong)MaxHeader || (long)n > fileLength - 8)
                throw Bad(path, ErrorIds.TruncatedFile, $"the header claims {n} bytes but the file has {fileLength - 8} after the length");
            header = new byte[n];
            f.ReadExactly(header);
        }
        long dataStart = 8 + header.LongLength, dataLength = fileLength - dataStart;

        // System.Text.Json accepts strings that are not UTF-8 and throws only when one is read
        // (InvalidOperationException from GetString or a property's Name): checked here once.
        if (!System.Text.Unicode.Utf8.IsValid(header))
            throw Bad(path, ErrorIds.CorruptFile, "the JSON header is not valid UTF-8 text");
        var entries = new List<Entry>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        JsonDocument doc;
        try { doc = JsonDocument.Parse(header); }
        catch (JsonException e) { throw new LstmPortException(ErrorIds.CorruptFile, $"'{path}' is not a valid safetensors file: its header is not JSON ({e.Message}).", path, e); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw Bad(path, ErrorIds.CorruptFile, "the header is not a JSON object");
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                var name = Text(path, () => p.Name, "a tensor name")!;
                if (name == "__metadata__") continue;
                if (!names.Add(name)) throw Bad(path, ErrorIds.CorruptFile, $"the header names '{name}' twice");
                entries.Add(ParseEntry(path, name, p.Value, dataLength));
            }
        }

        // Offsets must not overlap (shared storage is not allowed by the format).
        entries.Sort((a, b) => a.Begin.CompareTo(b.Begin));
        for (int i = 1; i < entries.Count; i++)
            if (entries[i].Begin < entries[i - 1].End && entries[i].End > entries[i].Begin)
                throw Bad(path, ErrorIds.OverlappingTensorData, $"'{entries[i].Name}' overlaps '{entries[i - 1].Name}' in the data section");

        var raw = entries.Select(e => new TorchNaming.RawTensor(
            e.Name, e.Shape.Select(d => (int)d).ToArray(), LstmPort.DTypes.Name(e.DType),
            () => ReadData(path, dataStart + e.Begin, e.Shape, e.DType))).ToList();
        return new WeightFile(path, Format, TorchNaming.Describe(raw, path));
    }

    static Entry ParseEntry(string path, string name, JsonElement e, long dataLength)
    {
        if (e.ValueKind != JsonValueKind.Object
            || !e.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String
            || !e.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array
            || !e.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw Bad(path, ErrorIds.CorruptFile, $"header entry '{name}' needs dtype, shape and two data_offsets");
        var dtName = Text(path, dt.GetString, $"the dtype of '{name}'")!;
        if (!DTypes.TryGetValue(dtName, out var dtype))
            throw Bad(path, ErrorIds.UnsupportedDType, $"'{name}' has dtype {dtName}; supported: {string.Join(", ", DTypes.Keys)}");

        // Every element must be a JSON number (TryGetInt64 throws on a string or an array) that is a whole, non-negative int64.
        var shape = new long[sh.GetArrayLength()];
        int i = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out var v) || v < 0)
                throw Bad(path, ErrorIds.CorruptFile, $"'{name}' has shape element {i} = {Json(d)}, not a non-negative integer");
            shape[i++] = v;
        }
        if (shape.Any(d => d > int.MaxValue))
            throw Bad(path, ErrorIds.TensorTooLarge, $"'{name}' has an absurd shape [{string.Join(",", shape)}] (a dimension past 2^31-1)");
        for (int k = 0; k < 2; k++)
            if (off[k].ValueKind != JsonValueKind.Number || !off[k].TryGetInt64(out _))
                throw Bad(path, ErrorIds.CorruptFile, $"'{name}' has data_offsets element {k} = {Json(off[k])}, not an integer");
        long begin = off[0].GetInt64(), end = off[1].GetInt64();
        if (begin < 0 || end < begin || end > dataLength)
            throw Bad(path, ErrorIds.TensorOutOfRange, $"'{name}' has data_offsets [{begin},{end}] outside the {dataLength}-byte data section");
        long bytes;
        try { bytes = checked(shape.Aggregate(1L, (a, d) => checked(a * d)) * LstmPort.DTypes.Size(dtype)); }
        catch (OverflowException) { throw Bad(path, ErrorIds.TensorTooLarge, $"'{name}' has an absurd shape [{string.Join(",", shape)}]"); }
        if (bytes != end - begin)
            throw Bad(path, ErrorIds.TensorSizeMismatch, $"'{name}' is [{string.Join(",", shape)}] {dtName} = {bytes} bytes, but its data_offsets span {end - begin}");
        return new Entry(name, dtype, shape, begin, end);
    }

    /// <summary>A JSON string of the header; escaped lone surrogates pass the UTF-8 check and throw only here.</summary>
    static string? Text(string path, Func<string?> read, string what)
    {
        try { return read(); }
        catch (InvalidOperationException e) { throw new LstmPortException(ErrorIds.CorruptFile, $"'{path}' is not a valid safetensors file: {what} is not valid Unicode text.", path, e); }
    }

    /// <summary>A header value as it is written, shortened, for messages.</summary>
    static string Json(JsonElement e)
    {
        var raw = e.GetRawText();
        return raw.Length > 40 ? raw[..40] + "..." : raw;
    }

    static torch.Tensor ReadData(string path, long offset, long[] shape, torch.ScalarType dtype)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        f.Position = offset;
        return TensorMemory.Read(f, shape, dtype);
    }

    static LstmPortException Bad(string path, string id, string what) =>
        new(id, $"'{path}' is not a valid safetensors file: {what}.", path);
}
