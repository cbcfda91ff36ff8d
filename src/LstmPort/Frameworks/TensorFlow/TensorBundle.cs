using Google.Protobuf;
using TorchSharp;
using LstmPort.Containers;
using LstmPort.Runtime;

namespace LstmPort.Frameworks.TensorFlow;

/// <summary>
/// A TensorFlow tensor bundle (the checkpoint format of tf.train.Saver V2, tf.train.Checkpoint and
/// SavedModel variables): <c>&lt;prefix&gt;.index</c> maps each key to a BundleEntryProto (the empty key
/// holds the BundleHeaderProto), whose bytes sit in <c>&lt;prefix&gt;.data-NNNNN-of-NNNNN</c>. Shards,
/// ranges and sizes are checked when the bundle is opened; each tensor's CRC-32C when it is read.
/// </summary>
internal sealed class TensorBundle
{
    public const string ObjectGraphKey = "_CHECKPOINTABLE_OBJECT_GRAPH";

    TensorBundle(string prefix, BundleHeader header, List<(string Key, BundleEntry Entry)> entries)
        => (Prefix, Header, Entries) = (prefix, header, entries);

    public string Prefix { get; }
    public BundleHeader Header { get; }
    public List<(string Key, BundleEntry Entry)> Entries { get; }
    string IndexPath => Prefix + ".index";

    public string ShardPath(int id) => $"{Prefix}.data-{id:D5}-of-{Header.NumShards:D5}";

    /// <summary>
    /// Entries that contradict the data (a sliced tensor, a shard that does not exist, a range outside
    /// its shard, a size that disagrees with the shape, a damaged entry): one error each, naming the
    /// tensor; they are left out of <see cref="Entries"/> and the others are read.
    /// </summary>
    public List<LstmPortException> EntryErrors { get; } = [];

    public static TensorBundle Open(string prefix)
    {
        var index = prefix + ".index";
        if (!File.Exists(index))
            throw new LstmPortException(ErrorIds.FileNotFound, $"Cannot find the checkpoint index '{index}'.", index);
        var table = SsTable.ReadAll(index);
        if (table.Count == 0 || table[0].Key.Length != 0)
            throw Bad(index, ErrorIds.CorruptFile, "the index has no bundle header (the entry with the empty key)");
        BundleHeader header;
        try { header = BundleHeader.Parse(table[0].Value); }
        catch (Exception e) when (e is InvalidProtocolBufferException or InvalidDataException)
        { throw new LstmPortException(ErrorIds.CorruptProtobuf, $"'{index}' holds a damaged BundleHeaderProto: {e.Message}.", index, e); }
        if (header.NumShards <= 0)
            throw Bad(index, ErrorIds.CorruptFile, $"the bundle header says {header.NumShards} data shards");

        var entries = new List<(string, BundleEntry)>();
        var bundle = new TensorBundle(prefix, header, entries);
        var shardLengths = new Dictionary<int, long>();
        foreach (var (key, value) in table.Skip(1))
        {
            BundleEntry e;
            try { e = BundleEntry.Parse(value); }
            catch (Exception x) when (x is InvalidProtocolBufferException or InvalidDataException)
            {
                bundle.EntryErrors.Add(new LstmPortException(ErrorIds.CorruptProtobuf,
                    $"'{index}': the BundleEntryProto of '{key}' is damaged ({x.Message}); the tensor is left out.", index, x));
                continue;
            }
            if (bundle.Check(index, key, e, shardLengths) is { } error) bundle.EntryErrors.Add(error);
            else entries.Add((key, e));
        }
        return bundle;
    }

    /// <summary>Why one entry cannot be read, or null when its shard, range and size agree with the files.</summary>
    LstmPortException? Check(string index, string key, BundleEntry e, Dictionary<int, long> shardLengths)
    {
        if (e.Sliced)
            return new LstmPortException(ErrorIds.UnsupportedSlicedTensor,
                $"'{index}': '{key}' is stored as partitioned slices; LstmPort reads whole tensors only, so it is left out.", index);
        if (e.ShardId < 0 || e.ShardId >= Header.NumShards)
            return Bad(index, ErrorIds.CorruptFile, $"'{key}' names shard {e.ShardId} of {Header.NumShards}; the tensor is left out");
        if (!shardLengths.TryGetValue(e.ShardId, out var length))
        {
            var shard = ShardPath(e.ShardId);
            // A missing shard is the bundle's damage, not one tensor's.
            if (!File.Exists(shard))
                throw new LstmPortException(ErrorIds.ShardNotFound,
                    $"'{index}' keeps '{key}' in the data shard '{shard}', which does not exist.", shard);
            shardLengths[e.ShardId] = length = new FileInfo(shard).Length;
        }
        if (e.Offset < 0 || e.Size < 0 || e.Offset > length - e.Size)
            return new LstmPortException(ErrorIds.TensorOutOfRange,
                $"'{index}': '{key}' spans bytes [{e.Offset}, +{e.Size}] of a {length}-byte shard '{ShardPath(e.ShardId)}'; the tensor is left out.", index);
        if (TfDataType.Scalar(e.DType) is { } scalar)
        {
            long bytes;
            try { bytes = checked(e.Shape.Aggregate(1L, (a, d) => checked(a * d)) * DTypes.Size(scalar)); }
            catch (OverflowException) { return Bad(index, ErrorIds.TensorTooLarge, $"'{key}' has an absurd shape [{string.Join(",", e.Shape)}]; the tensor is left out"); }
            if (bytes != e.Size)
                return new LstmPortException(ErrorIds.TensorSizeMismatch,
                    $"'{index}': '{key}' is [{string.Join(",", e.Shape)}] {TfDataType.Name(e.DType)} = {bytes} bytes, but its entry says {e.Size}; the tensor is left out.", index);
            if (e.Shape.Any(d => d > int.MaxValue))
                return Bad(index, ErrorIds.TensorTooLarge, $"'{key}' has a dimension over 2^31 [{string.Join(",", e.Shape)}]; the tensor is left out");
        }
        return null;
    }

    /// <summary>
    /// Checks every numeric tensor's CRC-32C, streaming through a small buffer, and takes the
    /// damaged ones out of <see cref="Entries"/>: one error each, naming the tensor.
    /// </summary>
    public List<LstmPortException> RemoveDamaged()
    {
        var errors = new List<LstmPortException>();
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            Entries.RemoveAll(item =>
            {
                var (key, e) = item;
                if (TfDataType.Scalar(e.DType) is null) return false;
                var shard = ShardPath(e.ShardId);
                using var file = new FileStream(shard, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
                file.Position = e.Offset;
                uint crc = 0;
                for (long left = e.Size; left > 0;)
                {
                    int n = file.Read(buffer, 0, (int)Math.Min(left, buffer.Length));
                    if (n == 0) break; // the shard shrank since it was opened: the sum below fails
                    crc = Crc32C.Extend(crc, buffer.AsSpan(0, n));
                    left -= n;
                }
                if (crc == Crc32C.Unmask(e.MaskedCrc32C)) return false;
                errors.Add(new LstmPortException(ErrorIds.ChecksumMismatch,
                    $"'{shard}': the data of '{key}' fails its CRC-32C check (the file is damaged); the tensor is left out.", shard));
                return true;
            });
        }
        finally { System.Buffers.ArrayPool<byte>.Shared.Return(buffer); }
        return errors;
    }

    /// <summary>A loader that reads the tensor straight into tensor memory and checks its CRC-32C.</summary>
    public Func<torch.Tensor> Loader(string key, BundleEntry e)
    {
        var scalar = TfDataType.Scalar(e.DType) ?? throw new InvalidOperationException($"{key} is not numeric");
        var shard = ShardPath(e.ShardId);
        return () =>
        {
            using var file = new FileStream(shard, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
            file.Position = e.Offset;
            var crc = new Crc32CStream(file);
            var t = TensorMemory.Read(crc, e.Shape, scalar);
            if (crc.Crc != Crc32C.Unmask(e.MaskedCrc32C))
            {
                t.Dispose();
                throw new LstmPortException(ErrorIds.ChecksumMismatch,
                    $"'{shard}': the data of '{key}' fails its CRC-32C check (the file is damaged).", shard);
            }
            if (Header.BigEndian && DTypes.Size(scalar) > 1) TensorMemory.SwapBytes(t);
            return t;
        };
    }

    /// <summary>The value of a scalar string tensor (the object graph): varint length, 4-byte length checksum, bytes.</summary>
    public byte[] ReadScalarString(string key, BundleEntry e)
    {
        var shard = ShardPath(e.ShardId);
        var bytes = new byte[e.Size];
        using (var file = File.OpenRead(shard))
        {
            file.Position = e.Offset;
            file.ReadExactly(bytes);
        }
        var input = new CodedInputStream(bytes);
        ulong length = input.ReadUInt64();
        int lengthsEnd = (int)input.Position, start = lengthsEnd + 4;
        if (e.Shape.Length != 0 || (ulong)start + length != (ulong)bytes.Length)
            throw Bad(IndexPath, ErrorIds.CorruptFile, $"'{key}' is not a scalar string of {bytes.Length} bytes");
        // The checksum covers each length as a fixed uint32 (uint64 past 4 GB), not as the varint written.
        Span<byte> fixedLength = stackalloc byte[8];
        int fixedSize = length <= uint.MaxValue ? 4 : 8;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(fixedLength, length);
        uint crc = Crc32C.Extend(Crc32C.Value(fixedLength[..fixedSize]), bytes.AsSpan(lengthsEnd));
        if (crc != Crc32C.Unmask(e.MaskedCrc32C))
            throw new LstmPortException(ErrorIds.ChecksumMismatch,
                $"'{shard}': the data of '{key}' fails its CRC-32C check (the file is damaged).", shard);
        return bytes.AsSpan(start, (int)length).ToArray();
    }

    static LstmPortException Bad(string path, string id, string what) =>
        new(id, $"'{path}' is not a valid TensorFlow checkpoint: {what}.", path);
}
