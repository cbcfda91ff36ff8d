using LstmPort.Formats;
using LstmPort.Frameworks.Onnx;
using LstmPort.Fuzz.Formats;
using static LstmPort.Fuzz.Seeds.OnnxSeeds;

namespace LstmPort.Tests;

/// <summary>
/// Hostile ONNX models found by the fuzz suite's onnx format (issue 17), each built here: weights folded
/// from constants that would explode or loop, operator arguments libtorch refuses, external data whose
/// numbers lie or whose path leads out of the model's folder through a link. Each is the layer's error
/// with a catalogued ErrorId, and the model's other layers are still read.
/// </summary>
public sealed class OnnxHostileFileTests
{
    const int H = 2, In = 3;

    static byte[] Floats(int n) => new byte[n * 4];

    static byte[] Longs(params long[] v)
    {
        var b = new byte[v.Length * 8];
        Buffer.BlockCopy(v, 0, b, 0, b.Length);
        return b;
    }

    /// <summary>
    /// A graph with a healthy LSTM 'good' (W, R initializers) and an LSTM 'bad' whose W is the value
    /// <paramref name="w"/>, computed by <paramref name="nodes"/> from <paramref name="inits"/> and W0 [1,8,3].
    /// </summary>
    static string Write(TempDir dir, string w, ProtoMessage[] nodes, ProtoMessage[]? inits = null, long opset = 14)
    {
        var g = new ProtoMessage();
        foreach (var n in nodes) g.Message(1, n);
        g.Message(1, Node("good", "LSTM", ["X", "W0", "R0"], ["Y0"], IntAttr("hidden_size", H)));
        g.Message(1, Node("bad", "LSTM", ["X", w, "R0"], ["Y1"], IntAttr("hidden_size", H)));
        g.String(2, "g");
        g.Message(5, Tensor("W0", [1, 4 * H, In], 1, Floats(4 * H * In)));
        g.Message(5, Tensor("R0", [1, 4 * H, H], 1, Floats(4 * H * H)));
        foreach (var i in inits ?? []) g.Message(5, i);
        var path = dir.File("m.onnx");
        File.WriteAllBytes(path, Model(g, opset).ToBytes());
        return path;
    }

    /// <summary>The read: the good layer's tensors are there, and the one error is the bad layer's.</summary>
    static LstmPortException BadLayerError(string path)
    {
        var f = WeightReader.Read(path);
        Assert.Equal(["W0", "R0"], f.Tensors.Where(t => t.Layer == "good").Select(t => t.Name));
        foreach (var t in f.Tensors) _ = t.Sum();
        return Assert.Single(f.Errors);
    }

    [Fact]
    public void A_weight_that_is_Concat_of_itself_level_after_level_is_refused_quickly()
    {
        using var dir = new TempDir();
        // 400^4 copies of W0 from a few KB of graph: refused after a bounded number of values read.
        var nodes = new List<ProtoMessage>();
        var prev = "W0";
        for (int l = 0; l < 4; l++) { nodes.Add(Node($"c{l}", "Concat", Enumerable.Repeat(prev, 400).ToArray(), [$"c{l}"], IntAttr("axis", 0))); prev = $"c{l}"; }
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var e = BadLayerError(Write(dir, prev, [.. nodes]));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
        Assert.Equal(ErrorIds.OnnxNotConstant, e.ErrorId);
        Assert.Contains($"folding it reads more than {OnnxScope.MaxFoldOperators} values", e.Message);
    }

    [Fact]
    public void A_weight_computed_from_itself_is_refused()
    {
        using var dir = new TempDir();
        var e = BadLayerError(Write(dir, "loop", [Node("loop", "Concat", ["loop", "loop"], ["loop"], IntAttr("axis", 0))]));
        Assert.Equal(ErrorIds.OnnxNotConstant, e.ErrorId);
        Assert.Contains("the value 'loop' is not a constant LstmPort can read", e.Message);
    }

    [Fact]
    public void Concat_and_Gather_results_over_the_bound_are_TensorTooLarge_before_they_are_allocated()
    {
        using var dir = new TempDir();
        // A 4 MiB initializer concatenated 300 times would be 1.2 GiB.
        var big = Tensor("Big", [1 << 20], 1, Floats(1 << 20));
        var e = BadLayerError(Write(dir, "cat", [Node("cat", "Concat", Enumerable.Repeat("Big", 300).ToArray(), ["cat"], IntAttr("axis", 0))], [big]));
        Assert.Equal(ErrorIds.TensorTooLarge, e.ErrorId);
        Assert.Contains($"results of more than {(OnnxScope.MinFoldBytes + 4 * new FileInfo(dir.File("m.onnx")).Length) >> 20} MiB", e.Message);

        // Gather of the 4 MiB rows with 300 indices, all row 0.
        var rows = Tensor("Rows", [1, 1 << 20], 1, Floats(1 << 20));
        var idx = Tensor("Idx", [300], 7, new byte[300 * 8]);
        e = BadLayerError(Write(dir, "gather", [Node("gather", "Gather", ["Rows", "Idx"], ["gather"], IntAttr("axis", 0))], [rows, idx]));
        Assert.Equal(ErrorIds.TensorTooLarge, e.ErrorId);
    }

    [Fact]
    public void Unsqueeze_to_thousands_of_dimensions_is_CorruptFile()
    {
        using var dir = new TempDir();
        var axes = Tensor("Axes", [10000], 7, Longs(Enumerable.Range(0, 10000).Select(i => (long)i).ToArray()));
        var e = BadLayerError(Write(dir, "u", [Node("u", "Unsqueeze", ["W0", "Axes"], ["u"])], [axes], opset: 13));
        Assert.Equal(ErrorIds.CorruptFile, e.ErrorId);
        Assert.Contains("Unsqueeze node 'u' asks for 10003 dimensions (at most 64)", e.Message);
    }

    [Fact]
    public void Operator_arguments_libtorch_refuses_are_the_layer_s_CorruptFile()
    {
        using var dir = new TempDir();
        // Reshape [1,8,3] to [5,5]: libtorch throws; that is this value's damage, not an unwrapped exception.
        var shape = Tensor("Shape", [2], 7, Longs(5, 5));
        var e = BadLayerError(Write(dir, "r", [Node("r", "Reshape", ["W0", "Shape"], ["r"])], [shape]));
        Assert.Equal(ErrorIds.CorruptFile, e.ErrorId);
        Assert.Contains("the value 'r' cannot be computed from the graph's constants", e.Message);
    }

    static ProtoMessage External(string name, string location, string offset, string length)
    {
        var t = new ProtoMessage();
        foreach (var d in new long[] { 1, 4 * H, In }) t.Varint(1, (ulong)d);
        t.Varint(2, 1).String(8, name);
        t.Message(13, new ProtoMessage().String(1, "location").String(2, location));
        t.Message(13, new ProtoMessage().String(1, "offset").String(2, offset));
        t.Message(13, new ProtoMessage().String(1, "length").String(2, length));
        return t.Varint(14, 1);
    }

    [Fact]
    public void External_data_offsets_that_are_not_numbers_or_wrap_past_long_MaxValue_are_refused()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("w.bin"), new byte[4 * H * In * 4]);
        string bytes = (4 * H * In * 4).ToString();
        foreach (var (offset, id, text) in new[]
                 {
                     ("abc", ErrorIds.CorruptFile, "external data offset 'abc', which is not a whole number of bytes"),
                     ("9223372036854775800", ErrorIds.TensorOutOfRange, "lies at 9223372036854775800, +96 bytes, of 'w.bin', which has 96 bytes"),
                 })
        {
            var e = BadLayerError(Write(dir, "E", [], [External("E", "w.bin", offset, bytes)]));
            Assert.Equal(id, e.ErrorId);
            Assert.Contains(text, e.Message);
        }
    }

    [SkippableFact]
    public void External_data_through_a_linked_folder_that_leads_out_is_refused()
    {
        using var outside = new TempDir();
        using var dir = new TempDir();
        File.WriteAllBytes(outside.File("secret.bin"), new byte[4 * H * In * 4]);
        try { Directory.CreateSymbolicLink(dir.File("sub"), outside.Path); }
        catch (Exception x) when (x is IOException or UnauthorizedAccessException or PlatformNotSupportedException) { Skip.If(true, "cannot create symbolic links here: " + x.Message); }
        var e = BadLayerError(Write(dir, "E", [], [External("E", "sub/secret.bin", "0", (4 * H * In * 4).ToString())]));
        Assert.Equal(ErrorIds.OnnxExternalDataOutside, e.ErrorId);
        Assert.Contains("names external data 'sub/secret.bin', which is not a file inside the model's folder", e.Message);
    }

    [SkippableFact]
    public void External_data_that_is_a_FIFO_is_refused_without_opening_it()
    {
        using var dir = new TempDir();
        Skip.IfNot(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "FIFOs are made with mkfifo");
        using (var p = System.Diagnostics.Process.Start("mkfifo", dir.File("w.bin"))!) p.WaitForExit();
        // Opening a FIFO for reading blocks until a writer comes: the read must end without opening it.
        var read = System.Threading.Tasks.Task.Run(() => BadLayerError(Write(dir, "E", [], [External("E", "w.bin", "0", (4 * H * In * 4).ToString())])));
        Assert.True(read.Wait(TimeSpan.FromSeconds(60)), "the read blocked on the FIFO");
        Assert.Equal(ErrorIds.TensorOutOfRange, read.Result.ErrorId);
        Assert.Contains("of 'w.bin', which has 0 bytes", read.Result.Message);
    }
}
