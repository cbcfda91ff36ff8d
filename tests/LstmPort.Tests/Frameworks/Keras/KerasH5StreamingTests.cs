using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using PureHDF;
using TorchSharp;
using LstmPort.Containers;
using LstmPort.Formats;
using LstmPort.Frameworks.Keras;
using LstmPort.Runtime;

namespace LstmPort.Tests;

/// <summary>
/// The Keras .h5 writer streams (issue 18): <see cref="Hdf5Writer"/> writes every header first and
/// then each tensor's data as it is borrowed. Its file must hold, for h5py and for our reader, what
/// the PureHDF-built file it replaced held; its bytes must be laid out front to back (metadata, then
/// the datasets contiguous in write order, the superblock's end of file the file's length); and a
/// large model must pass through without a managed copy of its data.
/// </summary>
public sealed class KerasH5StreamingTests
{
    static LstmTensor T(string name, string layer, LayerType type, TensorRole role, long[] shape, torch.ScalarType dtype = torch.ScalarType.Float32, Direction dir = Direction.Forward, int seed = 0)
    {
        TorchRuntime.EnsureLoaded();
        long n = shape.Aggregate(1L, (a, d) => a * d);
        var data = (torch.arange(n, torch.ScalarType.Float64) * 0.25 - seed).to_type(dtype).reshape(shape);
        return LstmTensor.FromTensor(data, name, layer, type, role, Layout.Keras, dir);
    }

    /// <summary>A model with every float type, a Bidirectional layer given backward half first, and a name that needs UTF-8.</summary>
    static List<LstmTensor> Model() =>
    [
        T("embedding/embeddings:0", "embedding", LayerType.Embedding, TensorRole.Embeddings, [10, 3], torch.ScalarType.Float64),
        T("bidirectional/backward_lstm/lstm_cell/kernel:0", "bidirectional", LayerType.LSTM, TensorRole.Kernel, [3, 8], dir: Direction.Backward, seed: 1),
        T("bidirectional/forward_lstm/lstm_cell/kernel:0", "bidirectional", LayerType.LSTM, TensorRole.Kernel, [3, 8], seed: 2),
        T("bidirectional/forward_lstm/lstm_cell/recurrent_kernel:0", "bidirectional", LayerType.LSTM, TensorRole.RecurrentKernel, [2, 8], seed: 3),
        T("bidirectional/backward_lstm/lstm_cell/recurrent_kernel:0", "bidirectional", LayerType.LSTM, TensorRole.RecurrentKernel, [2, 8], dir: Direction.Backward, seed: 4),
        T("bidirectional/forward_lstm/lstm_cell/bias:0", "bidirectional", LayerType.LSTM, TensorRole.Bias, [8], seed: 5),
        T("bidirectional/backward_lstm/lstm_cell/bias:0", "bidirectional", LayerType.LSTM, TensorRole.Bias, [8], dir: Direction.Backward, seed: 6),
        T("dichte_ä/kernel:0", "dichte_ä", LayerType.Dense, TensorRole.Kernel, [4, 1], torch.ScalarType.Float16),
        T("dichte_ä/bias:0", "dichte_ä", LayerType.Dense, TensorRole.Bias, [1], torch.ScalarType.Float16),
    ];

    /// <summary>The writer this one replaced, kept here as the reference: the whole file built in PureHDF's object model, then written.</summary>
    static void WriteWithPureHdf(string path, IReadOnlyList<LstmTensor> tensors)
    {
        var layers = KerasHdf5Writer.Plan(tensors, path);
        int width = 1 + new[] { KerasHdf5Writer.Backend, KerasHdf5Writer.KerasVersion }
            .Concat(layers.Select(l => l.Name)).Concat(layers.SelectMany(l => l.Weights.Select(w => w.Name)))
            .Max(Encoding.UTF8.GetByteCount);
        var file = new H5File
        {
            Attributes = { ["layer_names"] = layers.Select(l => l.Name).ToArray(), ["backend"] = KerasHdf5Writer.Backend, ["keras_version"] = KerasHdf5Writer.KerasVersion },
        };
        foreach (var layer in layers)
        {
            var group = new H5Group { Attributes = { ["weight_names"] = layer.Weights.Select(w => w.Name).ToArray() } };
            foreach (var w in layer.Weights)
            {
                var parts = w.Name.Split('/');
                var parent = group;
                foreach (var part in parts[..^1])
                {
                    if (!parent.TryGetValue(part, out var child)) parent[part] = child = new H5Group();
                    parent = (H5Group)child;
                }
                var data = new MemoryStream();
                w.Tensor.WriteData(data);
                var raw = data.ToArray().AsSpan();
                object values = w.Tensor.DType switch
                {
                    "float32" => MemoryMarshal.Cast<byte, float>(raw).ToArray(),
                    "float64" => MemoryMarshal.Cast<byte, double>(raw).ToArray(),
                    _ => MemoryMarshal.Cast<byte, Half>(raw).ToArray(),
                };
                parent[parts[^1]] = new H5Dataset(values, fileDims: w.Tensor.Shape.Select(d => (ulong)d).ToArray());
            }
            file[layer.Name] = group;
        }
        file.Write(path, new H5WriteOptions(DefaultStringLength: width, PreferCompactDatasetLayout: false));
    }

    static string[] Names(JsonElement o) => o.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal).ToArray();

    [SkippableFact]
    public void The_streamed_file_holds_what_the_PureHDF_built_file_held()
    {
        using var dir = new TempDir();
        string streamed = dir.File("streamed.h5"), reference = dir.File("reference.h5");
        WeightWriter.Write(streamed, Model());
        WriteWithPureHdf(reference, Model());

        var a = Python.Run("keras_h5.py", "structure", streamed);
        var b = Python.Run("keras_h5.py", "structure", reference);
        Assert.Equal(Names(b.GetProperty("attributes")), Names(a.GetProperty("attributes")));
        foreach (var attr in b.GetProperty("attributes").EnumerateObject())
            foreach (var field in new[] { "python", "string", "shape", "kind", "value" })
                Assert.Equal(attr.Value.GetProperty(field).GetRawText(), a.GetProperty("attributes").GetProperty(attr.Name).GetProperty(field).GetRawText());
        Assert.Equal(Names(b.GetProperty("groups")), Names(a.GetProperty("groups")));
        foreach (var g in b.GetProperty("groups").EnumerateObject())
        {
            Assert.Equal(Names(g.Value), Names(a.GetProperty("groups").GetProperty(g.Name)));
            foreach (var attr in g.Value.EnumerateObject())
                foreach (var field in new[] { "python", "string", "shape", "kind", "value" })
                    Assert.Equal(attr.Value.GetProperty(field).GetRawText(), a.GetProperty("groups").GetProperty(g.Name).GetProperty(attr.Name).GetProperty(field).GetRawText());
        }
        Assert.Equal(Names(b.GetProperty("datasets")), Names(a.GetProperty("datasets")));
        foreach (var d in b.GetProperty("datasets").EnumerateObject())
            foreach (var field in new[] { "dtype", "shape", "layout", "chunks", "compression", "values" })
                Assert.Equal(d.Value.GetProperty(field).GetRawText(), a.GetProperty("datasets").GetProperty(d.Name).GetProperty(field).GetRawText());
        Assert.Equal("<f2", a.GetProperty("datasets").GetProperty("dichte_ä/dichte_ä/kernel:0").GetProperty("dtype").GetString());

        // Our reader reads both the same.
        var mine = WeightReader.Read(streamed).Tensors;
        var theirs = WeightReader.Read(reference).Tensors;
        Assert.Equal(theirs.Select(t => (t.Name, t.Layer, t.Role, t.Direction, string.Join(",", t.Shape), t.DType)),
                     mine.Select(t => (t.Name, t.Layer, t.Role, t.Direction, string.Join(",", t.Shape), t.DType)));
        for (int i = 0; i < mine.Count; i++) Assert.True(mine[i].Tensor.eq(theirs[i].Tensor).all().item<bool>(), mine[i].Name);
    }

    [SkippableFact]
    public void Headers_come_first_then_the_data_contiguous_in_write_order()
    {
        using var dir = new TempDir();
        var path = dir.File("layout.h5");
        var tensors = Model();
        WeightWriter.Write(path, tensors);
        var bytes = File.ReadAllBytes(path);

        // Superblock version 0 with 8-byte offsets and lengths, HDF5's default K values, end of file = length.
        Assert.Equal(Hdf5Data.Signature, bytes[..8]);
        Assert.Equal(new byte[] { 0, 0, 0, 0, 0, 8, 8, 0 }, bytes[8..16]);
        Assert.Equal((4, 16), (BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(16)), BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(18))));
        Assert.Equal((ulong)bytes.Length, BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(40)));

        // Each dataset's data follows the last, in the order of weight_names (which is the order written),
        // and the last one ends the file: nothing is written after the data, nothing is left as a gap.
        var offsets = Python.Run("keras_h5.py", "offsets", path).GetProperty("datasets").EnumerateArray()
            .Select(d => (Name: d.GetProperty("name").GetString()!, Offset: d.GetProperty("offset").GetInt64(), Size: d.GetProperty("size").GetInt64())).ToList();
        Assert.Equal(tensors.Count, offsets.Count);
        long dataStart = offsets[0].Offset;
        Assert.Equal(bytes.Length, dataStart + offsets.Sum(o => o.Size));
        for (int i = 1; i < offsets.Count; i++) Assert.Equal(offsets[i - 1].Offset + offsets[i - 1].Size, offsets[i].Offset);
        // The first bytes of the data region are the first weight's (the embedding, float64 0, 0.25, ...).
        Assert.Equal(0.25, BinaryPrimitives.ReadDoubleLittleEndian(bytes.AsSpan((int)dataStart + 8)));
        // Every header sits before the data: no HDF5 signature of a node appears after it.
        foreach (var sig in new[] { "TREE"u8.ToArray(), "SNOD"u8.ToArray(), "HEAP"u8.ToArray() })
            Assert.True(bytes.AsSpan((int)dataStart).IndexOf(sig) < 0);
    }

    [SkippableFact]
    public void A_group_of_many_members_is_found_whole_by_h5py_and_our_reader()
    {
        // 300 weights in one group: 38 symbol table nodes under a two-level B-tree.
        TorchRuntime.EnsureLoaded();
        var tensors = Enumerable.Range(0, 300).Reverse().Select(i => LstmTensor.FromTensor(torch.full(2, (float)i), $"many/w{i}", "many", LayerType.Other, TensorRole.Other, Layout.Keras)).ToList();
        using var dir = new TempDir();
        var path = dir.File("many.h5");
        WeightWriter.Write(path, tensors);
        var s = Python.Run("keras_h5.py", "structure", path);
        Assert.Equal(tensors.Select(t => "many/" + t.Name).Order(StringComparer.Ordinal), Names(s.GetProperty("datasets")));
        Assert.Equal([7.0, 7.0], s.GetProperty("datasets").GetProperty("many/many/w7").GetProperty("values").EnumerateArray().Select(v => v.GetDouble()));
        var back = WeightReader.Read(path).Tensors;
        Assert.Equal(tensors.Select(t => t.Name), back.Select(t => t.Name));
        Assert.Equal(123f, back.Single(t => t.Name == "many/w123").Tensor[0].item<float>());
    }

    [Theory]
    [InlineData("big.h5")]
    [InlineData("big.weights.h5")] // Keras 3's store, written by the same Hdf5Writer
    public void A_200_MB_model_is_written_without_a_managed_copy_of_its_data(string file)
    {
        TorchRuntime.EnsureLoaded();
        // Four 50 MB kernels, each computed when the writer borrows it and freed after (as a conversion's are).
        const int rows = 3200, cols = 4096;
        var tensors = Enumerable.Range(0, 4).Select(i => new LstmTensor($"layer{i}/kernel:0", $"layer{i}", LayerType.Dense, TensorRole.Kernel, Layout.Keras,
            [rows, cols], "float32", () => torch.full([rows, cols], (float)i), reloadable: true)).ToList();
        using var dir = new TempDir();
        var path = dir.File(file);
        WeightWriter.Write(path, tensors.Take(1).ToList(), overwrite: true); // first use: JIT and pools

        long before = GC.GetAllocatedBytesForCurrentThread();
        WeightWriter.Write(path, tensors, overwrite: true);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // The PureHDF writer held each tensor twice in managed arrays (over 400 MB here); headers are a few KB.
        Assert.True(allocated < 8 << 20, $"writing 200 MB allocated {allocated:N0} managed bytes");

        Assert.True(new FileInfo(path).Length > 4L * rows * cols * 4);
        // Read back by our reader (a Keras 3 store without a config names tensors by dataset path).
        var back = WeightReader.Read(path).Tensors;
        Assert.Equal(4, back.Count);
        Assert.Equal([0f, 1f, 2f, 3f], back.Select(t => t.Tensor[rows - 1, cols - 1].item<float>()).Order());
    }

    [Theory]
    [InlineData("x.h5")]
    [InlineData("x.weights.h5")]
    public void A_tensor_that_fails_halfway_through_the_data_leaves_no_file(string file)
    {
        // The headers and the first tensor's data are out when the second cannot be read: the pending file is dropped.
        TorchRuntime.EnsureLoaded();
        var good = LstmTensor.FromTensor(torch.ones(64, 64), "a/kernel:0", "a", LayerType.Dense, TensorRole.Kernel, Layout.Keras);
        var bad = new LstmTensor("b/kernel:0", "b", LayerType.Dense, TensorRole.Kernel, Layout.Keras, [64, 64], "float32",
            () => throw new InvalidDataException("the file ends inside a tensor's data"), reloadable: true);
        using var dir = new TempDir();
        var e = Assert.ThrowsAny<LstmPortException>(() => WeightWriter.Write(dir.File(file), [good, bad]));
        Assert.Equal(ErrorIds.CorruptFile, e.ErrorId);
        Assert.Contains("'b/kernel:0': cannot read the data: the file ends inside a tensor's data", e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }
}
