using System.Buffers.Binary;
using PureHDF;
using PureHDF.VOL.Native;
using TorchSharp;
using LstmPort.Runtime;

namespace LstmPort.Containers;

/// <summary>
/// What the Keras readers need from PureHDF: string attributes of every spelling Keras used,
/// dataset shapes and types checked before anything is read, and a dataset's data as a tensor.
/// </summary>
static class Hdf5Data
{
    public static readonly byte[] Signature = [0x89, (byte)'H', (byte)'D', (byte)'F', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>
    /// What a reader checks before PureHDF opens a file: the HDF5 signature (UnknownFormat, naming
    /// <paramref name="expected"/> when given), a superblock that fits the file, and the metadata
    /// (<see cref="Hdf5Structure"/>: PureHDF follows looping links and trees until the stack overflows).
    /// </summary>
    public static void CheckBeforeOpening(string path, string? expected = null)
    {
        var head = new byte[64];
        long length;
        using (var f = File.OpenRead(path))
        {
            length = f.Length;
            head = head[..f.ReadAtLeast(head, head.Length, throwOnEndOfStream: false)];
        }
        if (!head.AsSpan().StartsWith(Signature))
            throw new LstmPortException(ErrorIds.UnknownFormat,
                $"'{path}' is not an HDF5 file: it does not start with the HDF5 signature{(expected is null ? "" : "; expected " + expected)}.", path);
        CheckNotTruncated(path, head, length);
        Hdf5Structure.Check(path);
    }

    /// <summary>
    /// A file cut short still opens in most HDF5 readers and fails later at some random read; the
    /// superblock records the file's end, so compare that with the real length first.
    /// </summary>
    public static void CheckNotTruncated(string path, ReadOnlySpan<byte> head, long length)
    {
        if (head.Length < 12) throw Truncated(path, "the HDF5 superblock is incomplete");
        int version = head[8];
        int offsetSize, eofAt;
        switch (version)
        {
            case 0: offsetSize = head[13]; eofAt = 24 + 2 * offsetSize; break;
            case 1: offsetSize = head[13]; eofAt = 28 + 2 * offsetSize; break;
            case 2 or 3: offsetSize = head[9]; eofAt = 12 + 2 * offsetSize; break;
            default: throw new LstmPortException(ErrorIds.CorruptFile, $"'{path}' has HDF5 superblock version {version}; expected 0 to 3.", path);
        }
        if (offsetSize is not (4 or 8)) throw new LstmPortException(ErrorIds.CorruptFile, $"'{path}' has an HDF5 superblock with {offsetSize}-byte offsets; expected 4 or 8.", path);
        if (head.Length < eofAt + offsetSize) throw Truncated(path, "the HDF5 superblock is incomplete");
        ulong eof = offsetSize == 8 ? BinaryPrimitives.ReadUInt64LittleEndian(head[eofAt..]) : BinaryPrimitives.ReadUInt32LittleEndian(head[eofAt..]);
        if (eof != ulong.MaxValue && eof > (ulong)length)
            throw Truncated(path, $"its HDF5 superblock says the file is {eof} bytes long, but it has {length}; expected the whole file");
    }

    /// <summary>
    /// An exception PureHDF throws on a damaged file (its structures decoded from garbage): anything
    /// but our own errors and the runtime's resource failures.
    /// </summary>
    public static bool IsDamage(Exception e) =>
        e is EndOfStreamException
        || e is IOException { TargetSite.Name: "Seek" or "SeekCore" } // a seek before the file's start: an address from the file, not the disk
        || e is not (LstmPortException or OutOfMemoryException or InsufficientExecutionStackException or OperationCanceledException
                     or IOException or UnauthorizedAccessException); // the disk's and the system's failures are read errors, not damage

    /// <summary>The whole-file error for HDF5 structures that cannot be decoded.</summary>
    public static LstmPortException Damaged(string path, Exception e) =>
        new(ErrorIds.CorruptFile, $"'{path}' is a damaged HDF5 file: {e.Message} Expected an intact HDF5 file; copy it again.", path, e);

    static LstmPortException Truncated(string path, string what) =>
        new(ErrorIds.TruncatedFile, $"'{path}' is cut short: {what}. Expected a complete HDF5 file.", path);

    public static string? StringAttribute(IH5Object o, string name)
    {
        if (!o.AttributeExists(name)) return null;
        var a = o.Attribute(name);
        if (a.Space.Type == H5DataspaceType.Null || !IsString(a.Type)) return null;
        if (a.Space.Rank == 0) return Clean(a.Read<string>());
        var all = a.Read<string[]>();
        return all.Length > 0 ? Clean(all[0]) : null;
    }

    /// <summary>
    /// A list-of-names attribute (layer_names, weight_names): fixed-width or variable-length strings,
    /// an empty float64 array for an empty list, or split into name0, name1, ... when it outgrew the
    /// 64 KB object header (Keras does that itself for large models).
    /// </summary>
    public static string[]? NamesAttribute(IH5Object o, string name)
    {
        if (o.AttributeExists(name)) return ReadNames(o.Attribute(name));
        if (!o.AttributeExists(name + "0")) return null;
        var names = new List<string>();
        for (int i = 0; o.AttributeExists(name + i); i++) names.AddRange(ReadNames(o.Attribute(name + i)));
        return names.ToArray();
    }

    static string[] ReadNames(IH5Attribute a)
    {
        if (a.Space.Type == H5DataspaceType.Null) return [];
        if (!IsString(a.Type))
        {
            if (a.Space.Dimensions.Aggregate(1UL, (x, d) => x * d) == 0) return [];
            throw new InvalidDataException($"attribute '{a.Name}' holds {a.Type.Class} values; expected a list of names");
        }
        if (a.Space.Rank == 0) return [Clean(a.Read<string>())];
        return a.Read<string[]>().Select(Clean).ToArray();
    }

    static bool IsString(IH5DataType t) =>
        t.Class == H5DataTypeClass.String || t.Class == H5DataTypeClass.VariableLength && t.VariableLength.BaseType.Class == H5DataTypeClass.String
        || t.Class == H5DataTypeClass.VariableLength && t.Size == 16;

    static string Clean(string s) => s.TrimEnd('\0');

    /// <summary>
    /// How many datasets a group holds, all levels down; null when the group is damaged, nests
    /// deeper than <paramref name="maxDepth"/> or lists more than <paramref name="maxObjects"/>
    /// objects (links that loop), so a count never hangs.
    /// </summary>
    public static int? CountDatasets(IH5Group group, int maxDepth = 48, int maxObjects = 200_000)
    {
        int seen = 0;
        int? Count(IH5Group g, int depth)
        {
            if (depth > maxDepth) return null;
            int n = 0;
            foreach (var child in g.Children())
            {
                if (++seen > maxObjects) return null;
                if (child is IH5Dataset) n++;
                else if (child is IH5Group sub)
                {
                    if (Count(sub, depth + 1) is not int m) return null;
                    n += m;
                }
            }
            return n;
        }
        try { return Count(group, 0); }
        catch (Exception e) when (e is not (OutOfMemoryException or InsufficientExecutionStackException)) { return null; }
    }

    public static int[] Shape(IH5Dataset d)
    {
        if (d.Space.Type == H5DataspaceType.Null) return [0];
        return d.Space.Dimensions.Select(x => x > int.MaxValue
            ? throw new LstmPortException(ErrorIds.TensorTooLarge, $"dataset '{d.Name}' has a dimension of {x}")
            : (int)x).ToArray();
    }

    /// <summary>The tensor type of a dataset, or null for data that is not numbers (strings, compounds, references).</summary>
    public static string? DType(IH5Dataset d)
    {
        var t = d.Type;
        return t.Class switch
        {
            H5DataTypeClass.FloatingPoint => t.Size switch { 2 => "float16", 4 => "float32", 8 => "float64", _ => null },
            H5DataTypeClass.FixedPoint => (t.Size, t.FixedPoint.IsSigned) switch
            {
                (1, true) => "int8", (1, false) => "uint8", (2, true) => "int16", (4, true) => "int32", (8, true) => "int64",
                _ => null,
            },
            H5DataTypeClass.BitField when t.Size == 1 => "uint8",
            _ => null,
        };
    }

    /// <summary>
    /// The size a dataset states, checked before anything is allocated: data stored as it is
    /// (contiguous, compact) lies in the file, so it cannot be larger than the file; chunked data may
    /// be compressed, but deflate expands at most 1032 times, so no more than that.
    /// </summary>
    static void CheckStatedSize(NativeDataset d, string dtype, int[] shape, long fileBytes)
    {
        long count = 1;
        foreach (var x in shape)
            if (x > 0 && count > int.MaxValue / x)
                throw new LstmPortException(ErrorIds.TensorTooLarge, $"dataset '{d.Name}' has shape [{string.Join(",", shape)}]; LstmPort reads HDF5 datasets of up to {int.MaxValue:N0} elements.");
            else count *= x;
        long bytes = count * DTypes.Size(DTypes.Parse(dtype));
        bool stored = d.Layout.Class is H5DataLayoutClass.Contiguous or H5DataLayoutClass.Compact;
        long bound = stored ? fileBytes : fileBytes > long.MaxValue / 1032 ? long.MaxValue : fileBytes * 1032;
        if (bytes > bound)
            throw new LstmPortException(ErrorIds.CorruptFile, $"dataset '{d.Name}' states {bytes:N0} bytes of data ([{string.Join(",", shape)}] {dtype}) but the file has {fileBytes:N0}"
                + (stored ? "." : ", and compressed chunks expand at most 1032 times."));
    }

    /// <summary>
    /// Reads a whole dataset (type checked by <see cref="DType"/> beforehand) into a new tensor:
    /// PureHDF decodes straight into the tensor's own memory, so the data is held once.
    /// </summary>
    public static torch.Tensor ReadTensor(NativeDataset d, string dtype, int[] shape, long fileBytes)
    {
        CheckStatedSize(d, dtype, shape, fileBytes);
        TorchRuntime.EnsureLoaded();
        var scalar = dtype switch
        {
            "float32" or "float64" or "float16" or "int64" or "int32" or "int16" or "int8" or "uint8" => DTypes.Parse(dtype),
            _ => throw new LstmPortException(ErrorIds.UnsupportedDType, $"dataset '{d.Name}' has type {dtype}"),
        };
        var t = TensorMemory.Empty(shape.Select(x => (long)x).ToArray(), scalar);
        try
        {
            if (t.numel() == 0) return t;
            switch (dtype)
            {
                case "float32": d.Read(TensorMemory.Span<float>(t)); break;
                case "float64": d.Read(TensorMemory.Span<double>(t)); break;
                case "float16": d.Read(TensorMemory.Span<Half>(t)); break;
                case "int64": d.Read(TensorMemory.Span<long>(t)); break;
                case "int32": d.Read(TensorMemory.Span<int>(t)); break;
                case "int16": d.Read(TensorMemory.Span<short>(t)); break;
                case "int8": d.Read(TensorMemory.Span<sbyte>(t)); break;
                default: d.Read(TensorMemory.Span<byte>(t)); break;
            }
            return t;
        }
        catch { t.Dispose(); throw; }
    }
}
