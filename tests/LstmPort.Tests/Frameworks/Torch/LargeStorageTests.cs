using System.IO.Hashing;
using LstmPort.Containers;
using LstmPort.Formats;
using LstmPort.Runtime;

namespace LstmPort.Tests;

/// <summary>
/// Storages past 2 GB and 4 GB (an LSTM's flat CUDA storage, a large embedding): offsets, sizes and
/// zip64 records in 64-bit arithmetic. The file is sparse: its zeros are holes, so the test writes
/// a few kilobytes while the archive says 4.4 GB.
/// </summary>
public sealed class LargeStorageTests
{
    /// <summary>Turns writes of zeros into holes (seeks), so a large zip costs no disk.</summary>
    sealed class SparseStream(FileStream file) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => file.Position;
        public override long Position { get => file.Position; set => throw new NotSupportedException(); }
        public override void Flush() => file.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> data)
        {
            if (data.IndexOfAnyExcept((byte)0) < 0) file.Seek(data.Length, SeekOrigin.Current);
            else file.Write(data);
        }
    }

    delegate void Sink(ReadOnlySpan<byte> data);

    const long Numel = 1_100_000_000;            // float32: 4.4 GB, past int and uint offsets
    const long Far = Numel - 1000;               // a [2,3] tensor this many elements in
    static readonly float[] FarValues = [1.5f, -2.5f, 3.25f, 4f, -5.75f, 6.5f];
    static readonly float[] NearValues = [0.25f, 0.5f, 0.75f, 1f];

    static byte[] Pickle(long numel, long far)
    {
        var p = new PickleWriter();
        p.Global("collections", "OrderedDict").EmptyTuple().Reduce().Mark();
        foreach (var (name, offset, size, stride) in new[] { ("near", 0L, new long[] { 4 }, new long[] { 1 }), ("far", far, [2, 3], [3, 1]) })
            p.String(name).Global("torch._utils", "_rebuild_tensor_v2").Mark()
                .Mark().String("storage").Global("torch", "FloatStorage").String("0").String("cpu").Int(numel).Tuple().BinPersId()
                .Int(offset).IntTuple(size).IntTuple(stride).Bool(false)
                .Global("collections", "OrderedDict").EmptyTuple().Reduce().Tuple().Reduce();
        p.SetItems();
        return p.Finish();
    }

    [Fact]
    public void A_tensor_past_4_GB_into_a_zip64_storage_is_read_at_its_offset()
    {
        using var dir = new TempDir();
        var path = dir.File("large.pt");
        long bytes = Numel * 4, farAt = Far * 4;
        var near = NearValues.SelectMany(BitConverter.GetBytes).ToArray();
        var farBytes = FarValues.SelectMany(BitConverter.GetBytes).ToArray();

        // The storage: near at 0, far at farAt, zeros between. Its CRC first, streaming over zeros.
        var crc = new Crc32();
        var zeros = new byte[1 << 22];
        void Zeros(long n, Sink sink) { while (n > 0) { int k = (int)Math.Min(n, zeros.Length); sink(zeros.AsSpan(0, k)); n -= k; } }
        crc.Append(near);
        Zeros(farAt - near.Length, s => crc.Append(s));
        crc.Append(farBytes);
        Zeros(bytes - farAt - farBytes.Length, s => crc.Append(s));

        using (var file = new FileStream(path, FileMode.CreateNew))
        {
            var zip = new ZipWriter(new SparseStream(file));
            zip.Add("large/data.pkl", Pickle(Numel, Far));
            zip.Begin("large/data/0", crc.GetCurrentHashAsUInt32(), bytes);
            zip.Write(near);
            Zeros(farAt - near.Length, s => zip.Write(s));
            zip.Write(farBytes);
            Zeros(bytes - farAt - farBytes.Length, s => zip.Write(s));
            zip.Add("large/version", "3\n"u8.ToArray());
            zip.Finish();
            file.SetLength(file.Position);
        }
        Assert.True(new FileInfo(path).Length > bytes);

        TorchRuntime.EnsureLoaded();
        var file2 = WeightReader.Read(path);
        Assert.Empty(file2.Errors); // the 4.4 GB record passes its CRC-32 check
        var far = file2.Tensors.Single(t => t.Name == "far");
        Assert.Equal([2, 3], far.Shape);
        Assert.Equal(FarValues.Select(v => (double)v), TorchFileTests.Values(far.Tensor));
        Assert.Equal(NearValues.Select(v => (double)v), TorchFileTests.Values(file2.Tensors.Single(t => t.Name == "near").Tensor));
    }

    [Fact]
    public void A_storage_size_in_the_pickle_is_checked_against_its_record_before_anything_is_allocated()
    {
        using var dir = new TempDir();
        var path = dir.File("claims.pt");
        // The pickle claims 3e9 floats (12 GB); the record holds 64 bytes.
        using (var file = new FileStream(path, FileMode.CreateNew))
        {
            var zip = new ZipWriter(file);
            zip.Add("claims/data.pkl", Pickle(3_000_000_000, 2_999_999_000));
            zip.Add("claims/data/0", new byte[64]);
            zip.Finish();
        }
        var read = WeightReader.Read(path);
        Assert.Empty(read.Tensors);
        Assert.Equal(2, read.Errors.Count);
        Assert.All(read.Errors, e => Assert.Equal(ErrorIds.TensorOutOfRange, e.ErrorId));
        Assert.Contains(read.Errors, e => e.Message.Contains("'far'") && e.Message.Contains("12000000000 bytes"));
    }
}
