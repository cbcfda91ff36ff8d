using Google.Protobuf;
using TorchSharp;

namespace LstmPort.Frameworks.TensorFlow;

/// <summary>
/// The few TensorFlow protobuf messages LstmPort needs, parsed by hand from the published field
/// numbers (tensorflow/core/framework/*.proto, core/protobuf/tensor_bundle.proto,
/// trackable_object_graph.proto, keras saved_metadata.proto). Unknown fields are skipped, so newer
/// writers still read.
/// </summary>
internal static class TfProto
{
    /// <summary>Runs <paramref name="field"/> for every field of a message; the callback reads the value or leaves it to be skipped.</summary>
    public static void Fields(ReadOnlySpan<byte> message, FieldReader field) => Fields(new CodedInputStream(message.ToArray()), field);

    public delegate bool FieldReader(int number, int wireType, CodedInputStream input);

    static void Fields(CodedInputStream input, FieldReader field)
    {
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            int number = WireFormat.GetTagFieldNumber(tag);
            int wire = (int)WireFormat.GetTagWireType(tag);
            if (!field(number, wire, input)) input.SkipLastField();
        }
    }

    public static byte[] Bytes(CodedInputStream input) => input.ReadBytes().ToByteArray();

    /// <summary>Reads a repeated numeric field written packed (wire type 2) or one value at a time.</summary>
    public static void Repeated<T>(int wireType, CodedInputStream input, List<T> into, Func<CodedInputStream, T> read)
    {
        if (wireType != (int)WireFormat.WireType.LengthDelimited) { into.Add(read(input)); return; }
        var packed = new CodedInputStream(Bytes(input));
        while (!packed.IsAtEnd) into.Add(read(packed));
    }
}

/// <summary>tensorflow.DataType values (types.proto); the _REF variants are these plus 100.</summary>
internal static class TfDataType
{
    public const int Float = 1, Double = 2, Int32 = 3, UInt8 = 4, Int16 = 5, Int8 = 6, String = 7,
        Int64 = 9, Bool = 10, BFloat16 = 14, Half = 19;

    public static torch.ScalarType? Scalar(int dtype) => (dtype % 100) switch
    {
        Float => torch.ScalarType.Float32, Double => torch.ScalarType.Float64, Int32 => torch.ScalarType.Int32,
        UInt8 => torch.ScalarType.Byte, Int16 => torch.ScalarType.Int16, Int8 => torch.ScalarType.Int8,
        Int64 => torch.ScalarType.Int64, Bool => torch.ScalarType.Bool, BFloat16 => torch.ScalarType.BFloat16,
        Half => torch.ScalarType.Float16, _ => null,
    };

    public static string Name(int dtype) => (dtype % 100) switch
    {
        String => "string",
        var d => Scalar(d) is { } s ? DTypes.Name(s) : $"DT_{d}",
    };
}

/// <summary>TensorShapeProto: dim = 2 (size = 1), unknown_rank = 3.</summary>
internal static class TfShape
{
    public static long[] Parse(CodedInputStream input)
    {
        var dims = new List<long>();
        bool unknownRank = false;
        TfProto.Fields(TfProto.Bytes(input), (n, w, s) =>
        {
            if (n == 2)
            {
                long size = 0;
                TfProto.Fields(TfProto.Bytes(s), (dn, dw, ds) => { if (dn != 1) return false; size = ds.ReadInt64(); return true; });
                dims.Add(size);
                return true;
            }
            if (n == 3) { unknownRank = s.ReadBool(); return true; }
            return false;
        });
        if (unknownRank || dims.Any(d => d < 0))
            throw new InvalidDataException("a tensor shape is unknown or negative");
        return dims.ToArray();
    }
}

/// <summary>BundleEntryProto (tensor_bundle.proto): where one tensor's bytes sit in the data shards.</summary>
internal sealed record BundleEntry(int DType, long[] Shape, int ShardId, long Offset, long Size, uint MaskedCrc32C, bool Sliced)
{
    public static BundleEntry Parse(ReadOnlySpan<byte> bytes)
    {
        int dtype = 0, shard = 0; long offset = 0, size = 0; uint crc = 0; long[] shape = []; bool sliced = false;
        TfProto.Fields(bytes, (n, w, s) =>
        {
            switch (n)
            {
                case 1: dtype = s.ReadEnum(); return true;
                case 2: shape = TfShape.Parse(s); return true;
                case 3: shard = s.ReadInt32(); return true;
                case 4: offset = s.ReadInt64(); return true;
                case 5: size = s.ReadInt64(); return true;
                case 6: crc = s.ReadFixed32(); return true;
                case 7: sliced = true; return false;
                default: return false;
            }
        });
        return new BundleEntry(dtype, shape, shard, offset, size, crc, sliced);
    }
}

/// <summary>BundleHeaderProto: num_shards = 1, endianness = 2 (0 little, 1 big), version = 3.</summary>
internal sealed record BundleHeader(int NumShards, bool BigEndian)
{
    public static BundleHeader Parse(ReadOnlySpan<byte> bytes)
    {
        int shards = 0, endianness = 0;
        TfProto.Fields(bytes, (n, w, s) =>
        {
            if (n == 1) { shards = s.ReadInt32(); return true; }
            if (n == 2) { endianness = s.ReadEnum(); return true; }
            return false;
        });
        return new BundleHeader(shards, endianness == 1);
    }
}

/// <summary>
/// A TensorProto (tensor.proto) decoded to its dtype, shape and little-endian bytes. A tensor given
/// as typed values (float_val, ...) may list fewer values than its shape holds (the last one repeats),
/// so a few bytes of file can describe a huge tensor: its bytes are made only when <see cref="Data"/>
/// is first used (a loader), and such a tensor over <see cref="TypedValueLimit"/> bytes is refused.
/// </summary>
internal sealed class TfTensorValue
{
    /// <summary>The most bytes a tensor written as typed values may expand to (64 MiB); TensorFlow writes weights as tensor_content.</summary>
    public const long TypedValueLimit = 64L << 20;

    readonly byte[] stored;
    readonly long count;
    readonly int size;
    readonly byte[]? data;

    TfTensorValue(int dtype, long[] shape, byte[] stored, long count, int size, bool expanded)
    {
        (DType, Shape, this.stored, this.count, this.size) = (dtype, shape, stored, count, size);
        if (expanded) data = stored;
    }

    public int DType { get; }
    public long[] Shape { get; }

    /// <summary>The tensor's bytes (count × element size); typed values are expanded on each use, never kept.</summary>
    public byte[] Data => data ?? Expand(stored, count, size);

    public static TfTensorValue Parse(CodedInputStream input)
    {
        int dtype = 0; long[] shape = []; byte[]? content = null;
        var floats = new List<float>(); var doubles = new List<double>(); var ints = new List<int>();
        var longs = new List<long>(); var bools = new List<bool>(); var halves = new List<int>();
        TfProto.Fields(TfProto.Bytes(input), (n, w, s) =>
        {
            switch (n)
            {
                case 1: dtype = s.ReadEnum(); return true;
                case 2: shape = TfShape.Parse(s); return true;
                case 4: content = TfProto.Bytes(s); return true;
                case 5: TfProto.Repeated(w, s, floats, c => c.ReadFloat()); return true;
                case 6: TfProto.Repeated(w, s, doubles, c => c.ReadDouble()); return true;
                case 7: TfProto.Repeated(w, s, ints, c => c.ReadInt32()); return true;
                case 10: TfProto.Repeated(w, s, longs, c => c.ReadInt64()); return true;
                case 11: TfProto.Repeated(w, s, bools, c => c.ReadBool()); return true;
                case 13: TfProto.Repeated(w, s, halves, c => c.ReadInt32()); return true;
                default: return false;
            }
        });
        var scalar = TfDataType.Scalar(dtype) ?? throw new NotSupportedException($"dtype {TfDataType.Name(dtype)}");
        int size = DTypes.Size(scalar);
        long count = shape.Aggregate(1L, (a, d) => checked(a * d));
        long bytes = checked(count * size);
        if (content is not null)
        {
            if (content.LongLength != bytes)
                throw new InvalidDataException($"tensor_content has {content.Length} bytes for shape [{string.Join(",", shape)}] {TfDataType.Name(dtype)}");
            return new TfTensorValue(dtype, shape, content, count, size, expanded: true);
        }
        // Typed value lists: a shorter list is padded with its last value (TensorProto's rule); only the listed values are kept here.
        byte[] values = (dtype % 100) switch
        {
            TfDataType.Float => Pack(floats, count, size, (v, b) => BitConverter.TryWriteBytes(b, v)),
            TfDataType.Double => Pack(doubles, count, size, (v, b) => BitConverter.TryWriteBytes(b, v)),
            TfDataType.Int64 => Pack(longs, count, size, (v, b) => BitConverter.TryWriteBytes(b, v)),
            TfDataType.Bool => Pack(bools, count, size, (v, b) => b[0] = v ? (byte)1 : (byte)0),
            TfDataType.Half or TfDataType.BFloat16 => Pack(halves, count, size, (v, b) => BitConverter.TryWriteBytes(b, (ushort)v)),
            TfDataType.Int32 => Pack(ints, count, size, (v, b) => BitConverter.TryWriteBytes(b, v)),
            TfDataType.Int16 => Pack(ints, count, size, (v, b) => BitConverter.TryWriteBytes(b, (short)v)),
            TfDataType.Int8 or TfDataType.UInt8 => Pack(ints, count, size, (v, b) => b[0] = (byte)v),
            _ => throw new NotSupportedException($"dtype {TfDataType.Name(dtype)}"),
        };
        if (bytes > TypedValueLimit && values.Length != bytes)
            throw new TooLargeException($"a [{string.Join(",", shape)}] {TfDataType.Name(dtype)} tensor of {bytes} bytes given by {values.Length / size} typed values is over the {TypedValueLimit >> 20} MiB such a tensor may expand to");
        return new TfTensorValue(dtype, shape, values, count, size, expanded: values.LongLength == bytes);
    }

    /// <summary>A tensor whose typed values would expand past <see cref="TypedValueLimit"/> (TensorTooLarge, not damage).</summary>
    internal sealed class TooLargeException(string message) : Exception(message);

    delegate void Put<T>(T value, Span<byte> into);

    static byte[] Pack<T>(List<T> values, long count, int size, Put<T> put)
    {
        if (values.Count > count) throw new InvalidDataException($"{values.Count} values for {count} elements");
        var bytes = new byte[values.Count * size];
        for (int i = 0; i < values.Count; i++) put(values[i], bytes.AsSpan(i * size, size));
        return bytes;
    }

    // No values at all means zeros; otherwise the last value repeats to the end.
    static byte[] Expand(byte[] values, long count, int size)
    {
        var bytes = new byte[checked(count * size)];
        values.CopyTo(bytes, 0);
        if (values.Length > 0)
            for (long at = values.Length; at < bytes.LongLength; at += size)
                Array.Copy(values, values.Length - size, bytes, at, size);
        return bytes;
    }
}
