using Google.Protobuf;
using LstmPort.Formats;
using LstmPort.Frameworks.TensorFlow;

namespace LstmPort.Tests;

/// <summary>
/// Hostile TensorFlow files found by the fuzz suite (issue 16, D10 and D12), each built here from the
/// published format: every one ends in a catalogued ErrorId, never an unwrapped exception or a huge allocation.
/// </summary>
public sealed class TfHostileFileTests
{
    static float[] Seq(int n) => Enumerable.Range(0, n).Select(i => i * 0.1f).ToArray();

    static string WriteSmall(TempDir dir, Action<TfCheckpointWriter>? setup = null)
    {
        var prefix = dir.File("m.ckpt");
        var w = new TfCheckpointWriter();
        setup?.Invoke(w);
        w.Write(prefix, [new("cell/lstm_cell/kernel", [5, 8], Seq(40)), new("cell/lstm_cell/bias", [8], Seq(8))]);
        return prefix;
    }

    [Fact]
    public void A_key_listed_twice_in_the_index_is_CorruptFile()
    {
        using var dir = new TempDir();
        var prefix = WriteSmall(dir);
        var entries = Fuzz.Formats.SsTable.Read(File.ReadAllBytes(prefix + ".index"))!;
        // The bias entry repeated right after itself (the object graph's ToDictionary threw on this).
        var bias = entries.Single(e => e.Key == "cell/lstm_cell/bias");
        entries.Insert(entries.IndexOf(bias) + 1, bias);
        File.WriteAllBytes(prefix + ".index", Fuzz.Formats.SsTable.Write(entries, new() { KeepOrder = true, EntriesPerBlock = 2 }));

        var e = Assert.Throws<LstmPortException>(() => WeightReader.Read(prefix));
        Assert.Equal(ErrorIds.CorruptFile, e.ErrorId);
        Assert.Contains("the key 'cell/lstm_cell/bias' does not come after the key before it", e.Message);
    }

    [Fact]
    public void Keys_out_of_order_are_CorruptFile()
    {
        using var dir = new TempDir();
        var prefix = WriteSmall(dir);
        var entries = Fuzz.Formats.SsTable.Read(File.ReadAllBytes(prefix + ".index"))!;
        entries.Reverse(1, entries.Count - 1); // the header (empty key) stays first
        File.WriteAllBytes(prefix + ".index", Fuzz.Formats.SsTable.Write(entries, new() { KeepOrder = true }));
        var e = Assert.Throws<LstmPortException>(() => WeightReader.Read(prefix));
        Assert.Equal(ErrorIds.CorruptFile, e.ErrorId);
        Assert.Contains("keys must be unique and sorted", e.Message);
    }

    [Fact]
    public void Offsets_and_sizes_near_long_MaxValue_and_dims_over_2_31_are_the_entry_s_error()
    {
        using var dir = new TempDir();
        foreach (var (entry, id, text) in new (byte[], string, string)[]
                 {
                     // offset + size wraps past long.MaxValue: must not pass the range check
                     (TfCheckpointWriter.Entry(1, [2], 0, long.MaxValue - 4, 8, 0), ErrorIds.TensorOutOfRange, "spans bytes"),
                     (TfCheckpointWriter.Entry(7, [], 0, 8, long.MaxValue, 0), ErrorIds.TensorOutOfRange, "spans bytes"),
                     // [2^32, 0] holds no bytes, so its size agrees; the dimension still does not fit an int
                     (TfCheckpointWriter.Entry(1, [1L << 32, 0], 0, 0, 0, 0), ErrorIds.TensorTooLarge, "a dimension over 2^31"),
                 })
        {
            var prefix = WriteSmall(dir, w => w.RawEntries["zz/w"] = entry);
            var f = WeightReader.Read(prefix);
            var e = Assert.Single(f.Errors);
            Assert.Equal(id, e.ErrorId);
            Assert.Contains("'zz/w'", e.Message);
            Assert.Contains(text, e.Message);
            Assert.Equal(["cell/lstm_cell/kernel", "cell/lstm_cell/bias"], f.Tensors.Select(t => t.Name));
            Assert.Equal(Seq(8), f.Tensors[1].ToArray().Cast<float>().ToArray());
        }
    }

    // ---- frozen graphs (D12) ----

    /// <summary>A float TensorProto given by float_val (typed values) instead of tensor_content.</summary>
    static byte[] FloatValues(long[] shape, float[] values)
    {
        var ms = new MemoryStream();
        var o = new CodedOutputStream(ms);
        o.WriteTag(1, WireFormat.WireType.Varint); o.WriteEnum(1);
        var dims = new MemoryStream();
        var od = new CodedOutputStream(dims);
        foreach (var d in shape)
        {
            var dim = new MemoryStream();
            var odim = new CodedOutputStream(dim);
            odim.WriteTag(1, WireFormat.WireType.Varint); odim.WriteInt64(d); odim.Flush();
            od.WriteTag(2, WireFormat.WireType.LengthDelimited); od.WriteBytes(ByteString.CopyFrom(dim.ToArray()));
        }
        od.Flush();
        o.WriteTag(2, WireFormat.WireType.LengthDelimited); o.WriteBytes(ByteString.CopyFrom(dims.ToArray()));
        foreach (var v in values) { o.WriteTag(5, WireFormat.WireType.Fixed32); o.WriteFloat(v); }
        o.Flush();
        return ms.ToArray();
    }

    static string Frozen(TempDir dir, byte[] tensor)
    {
        var path = dir.File("frozen.pb");
        File.WriteAllBytes(path, new TfGraphWriter()
            .FrozenVariable("rnn/lstm_cell/kernel", [5, 8], Seq(40))
            .Node("zz/w", "Const", [], ("dtype", TfGraphWriter.AttrType(1)), ("value", TfGraphWriter.AttrTensor(tensor)))
            .Node("zz/w/read", "Identity", ["zz/w"], ("T", TfGraphWriter.AttrType(1)))
            .GraphDef());
        return path;
    }

    [Fact]
    public void A_frozen_constant_with_a_dimension_over_2_31_is_TensorTooLarge()
    {
        using var dir = new TempDir();
        var f = WeightReader.Read(Frozen(dir, TfGraphWriter.FloatTensor([0, 1L << 40], [])));
        var e = Assert.Single(f.Errors);
        Assert.Equal(ErrorIds.TensorTooLarge, e.ErrorId);
        Assert.Contains("constant 'zz/w' has a dimension over 2^31 [0,1099511627776]", e.Message);
        Assert.Contains(f.Tensors, t => t.Name == "rnn/lstm_cell/kernel");
    }

    [Fact]
    public void A_frozen_constant_whose_typed_values_would_expand_past_the_bound_is_TensorTooLarge_and_costs_no_memory()
    {
        using var dir = new TempDir();
        foreach (var values in new[] { Array.Empty<float>(), [1.5f] })
        {
            // 500M floats (2 GB) in a few hundred bytes of file.
            var before = GC.GetAllocatedBytesForCurrentThread();
            var f = WeightReader.Read(Frozen(dir, FloatValues([500_000_000], values)));
            Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 << 20, "reading must not expand the values");
            var e = Assert.Single(f.Errors);
            Assert.Equal(ErrorIds.TensorTooLarge, e.ErrorId);
            Assert.Contains("constant 'zz/w' is too large", e.Message);
            Assert.Contains($"over the {TfTensorValue.TypedValueLimit >> 20} MiB", e.Message);
        }
    }

    [Fact]
    public void A_frozen_constant_given_by_fewer_typed_values_repeats_the_last_one_when_loaded()
    {
        using var dir = new TempDir();
        var f = WeightReader.Read(Frozen(dir, FloatValues([2, 3], [1f, 2f])));
        Assert.Empty(f.Errors);
        var t = f.Tensors.Single(t => t.Name == "zz/w");
        Assert.Equal([1f, 2f, 2f, 2f, 2f, 2f], t.ToArray().Cast<float>().ToArray());
        f = WeightReader.Read(Frozen(dir, FloatValues([4], [])));
        Assert.Equal(new float[4], f.Tensors.Single(t => t.Name == "zz/w").ToArray().Cast<float>().ToArray());
    }
}
