using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;
using LstmPort.Conversion;
using LstmPort.Formats;
using LstmPort.Frameworks.TensorFlow;

namespace LstmPort.Tests;

/// <summary>
/// TensorFlow reading (frozen TF1 graphs, checkpoints written here from the published format,
/// SavedModels) and the TF1-to-Keras layout, proved against real TensorFlow outputs and against a
/// TF1 cell computed from its own equations.
/// </summary>
public sealed class TensorFlowTests(Xunit.Abstractions.ITestOutputHelper output)
{
    const string Tf1 = "dl4j-tf1-rnn-frozen-graphs";

    static string Case(string cell, string dir, string file) => Repo.Fixture(Tf1, cell, dir, file);

    static double[] Csv(string path) => File.ReadAllLines(path).Where(l => l.Trim().Length > 0)
        .SelectMany(l => l.Split(',')).Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();

    static Tensor F64(LstmTensor t) => t.Tensor.to_type(ScalarType.Float64);

    // ---- Keras equations (what Keras computes for its own weights), in float64 ----

    /// <summary>Runs one Keras-layout layer over x [T, in]; returns outputs [T, h] and the final (h, c).</summary>
    static (Tensor Out, Tensor H, Tensor C) KerasRun(IReadOnlyList<LstmTensor> layer, Tensor x)
    {
        var k = F64(layer.Single(t => t.Role == TensorRole.Kernel));
        var r = F64(layer.Single(t => t.Role == TensorRole.RecurrentKernel));
        var b = F64(layer.Single(t => t.Role == TensorRole.Bias));
        var type = layer[0].LayerType;
        // The backward half of a bidirectional layer reads the sequence reversed, like a go_backwards layer.
        bool backwards = layer[0].Direction == Direction.Backward || (layer[0].Config.TryGetValue(ConfigKeys.GoBackwards, out var gb) && gb is true);
        int h = (int)r.shape[0];
        var hs = zeros(1, h, float64); var cs = zeros(1, h, float64);
        var steps = Enumerable.Range(0, (int)x.shape[0]).ToList();
        if (backwards) steps.Reverse();
        var outs = new Tensor[steps.Count];
        foreach (var t in steps)
        {
            var xt = x[t].unsqueeze(0);
            if (type == LayerType.LSTM)
            {
                var z = xt.matmul(k) + hs.matmul(r) + b;
                var g = z.chunk(4, 1); // i, f, c, o
                cs = sigmoid(g[1]) * cs + sigmoid(g[0]) * tanh(g[2]);
                hs = sigmoid(g[3]) * tanh(cs);
            }
            else if (type == LayerType.GRU)
            {
                var kz = k.chunk(3, 1); var rz = r.chunk(3, 1); var bz = b.chunk(3, 0);
                var zg = sigmoid(xt.matmul(kz[0]) + hs.matmul(rz[0]) + bz[0]);
                var rg = sigmoid(xt.matmul(kz[1]) + hs.matmul(rz[1]) + bz[1]);
                var hh = tanh(xt.matmul(kz[2]) + (rg * hs).matmul(rz[2]) + bz[2]); // reset_after=False
                hs = zg * hs + (1 - zg) * hh;
            }
            else hs = tanh(xt.matmul(k) + hs.matmul(r) + b);
            outs[t] = hs;
        }
        return (cat(outs, 0), hs, cs);
    }

    static List<IReadOnlyList<LstmTensor>> ToKeras(WeightFile f) =>
        LayerGroup.Group(f.Tensors).Where(g => g.IsRecurrent).Select(ToKeras).ToList();

    /// <summary>One TF1 cell through the canonical form to the Keras layout; a refusal is thrown with its ErrorId.</summary>
    static IReadOnlyList<LstmTensor> ToKeras(LayerGroup g)
    {
        var r = LayoutConverter.Convert(g.Tensors, Layout.Keras, ConversionOptions.Default);
        if (r.Refused.Count > 0) throw new LstmPortException(r.Refused[0].ErrorId, r.Refused[0].Reason, g.Layer);
        return r.Tensors;
    }

    static Tensor Input(WeightFile f) => F64(f.Tensors.Single(t => t.Name == "in_0"));

    double MaxAbs(Tensor a, double[] expected)
    {
        var e = (a.flatten() - tensor(expected, float64)).abs().max().item<double>();
        output.WriteLine($"max abs error against TensorFlow: {e:G3}");
        return e;
    }

    [SkippableFact]
    public void BasicLstmCell_frozen_graph_reads_and_its_Keras_weights_reproduce_TensorFlow()
    {
        var f = WeightReader.Read(Case("basiclstmcell", "static_b1_nIn5_nOut3_ts4_tanh_noIS_fb1_float", "frozen_model.pb"));
        Assert.Equal(WeightFormat.FrozenGraph, f.Format);
        var kernel = f.Tensors.Single(t => t.Name == "rnn/basic_lstm_cell/kernel");
        Assert.Equal(("rnn", LayerType.LSTM, TensorRole.FusedKernel, Layout.TensorFlow, GateOrder.IJFO, 3, 5),
            (kernel.Layer, kernel.LayerType, kernel.Role, kernel.Layout, kernel.GateOrder, kernel.Units, kernel.InputSize));
        Assert.Equal([8, 12], kernel.Shape);
        Assert.Equal(1.0, kernel.Config[ConfigKeys.ForgetBias]);
        Assert.DoesNotContain(ConfigKeys.ForgetBias, (string[])kernel.Config[ConfigKeys.Inferred]!); // read from the graph's Add
        Assert.Equal(TensorRole.Bias, f.Tensors.Single(t => t.Name == "rnn/basic_lstm_cell/bias").Role);
        Assert.Equal(PbtxtValues(Case("basiclstmcell", "static_b1_nIn5_nOut3_ts4_tanh_noIS_fb1_float", "frozen_graph.pbtxt"), "rnn/basic_lstm_cell/kernel"),
            kernel.Tensor.flatten().data<float>().ToArray());

        var keras = ToKeras(f).Single();
        var (outs, h, c) = KerasRun(keras, Input(f)[0]);
        var dir = Path.GetDirectoryName(kernel.Source)!;
        Assert.True(MaxAbs(outs, Csv(Path.Combine(dir, "concat.prediction.csv"))) < 1e-6);
        Assert.True(MaxAbs(cat([c, h], 0), Csv(Path.Combine(dir, "concat_1.prediction.csv"))) < 1e-6);
    }

    [SkippableFact]
    public void LstmBlockCell_and_fused_cell_frozen_graphs_reproduce_TensorFlow()
    {
        var block = WeightReader.Read(Case("lstmblockcell", "dynamic_b1_n5-3_ts4_noPH_noClip_fB1_noIS_noTM", "frozen_model.pb"));
        var bk = block.Tensors.Single(t => t.Role == TensorRole.FusedKernel);
        Assert.Equal(("rnn/lstm_cell/kernel", "rnn", LayerType.LSTM, 1.0), (bk.Name, bk.Layer, bk.LayerType, bk.Config[ConfigKeys.ForgetBias]));
        var (outs, h, c) = KerasRun(ToKeras(block).Single(), Input(block)[0]);
        var dir = Path.GetDirectoryName(bk.Source)!;
        Assert.True(MaxAbs(outs, Csv(Path.Combine(dir, "concat.prediction.csv"))) < 1e-6);
        Assert.True(MaxAbs(cat([c, h], 0), Csv(Path.Combine(dir, "concat_1.prediction.csv"))) < 1e-6);

        var fused = WeightReader.Read(Case("lstmblockfusedcell", "batch1_n5-3_tsLength4_noPH_noClip_fBias1_noIS", "frozen_model.pb"));
        var fk = fused.Tensors.Single(t => t.Role == TensorRole.FusedKernel);
        Assert.Equal(("lstm_fused_cell/kernel", "lstm_fused_cell", 3, 4), (fk.Name, fk.Layer, fk.Units, fk.InputSize));
        Assert.Equal([7, 12], fk.Shape);
        var x = Input(fused)[.., 0]; // time-major [T, 1, in]
        (outs, h, c) = KerasRun(ToKeras(fused).Single(), x);
        dir = Path.GetDirectoryName(fk.Source)!;
        Assert.True(MaxAbs(outs, Csv(Path.Combine(dir, "lstm_fused_cell", "BlockLSTM.6.prediction.csv"))) < 1e-6);
        Assert.True(MaxAbs(cat([c, h], 0), Csv(Path.Combine(dir, "concat.prediction.csv"))) < 1e-6);
    }

    [SkippableFact]
    public void GruCell_frozen_graph_reads_and_converts_to_Keras_GRU_reset_before()
    {
        var f = WeightReader.Read(Case("grucell", "static_b1_nIn5_nOut3_ts4_tanh_noIS_float", "frozen_model.pb"));
        var roles = f.Tensors.Where(t => t.LayerType == LayerType.GRU).Select(t => (t.Name, t.Role, t.GateOrder)).ToList();
        Assert.Equal(new[]
        {
            ("rnn/gru_cell/gates/kernel", TensorRole.FusedKernel, GateOrder.RU), ("rnn/gru_cell/gates/bias", TensorRole.Bias, GateOrder.RU),
            ("rnn/gru_cell/candidate/kernel", TensorRole.CandidateKernel, GateOrder.None), ("rnn/gru_cell/candidate/bias", TensorRole.CandidateBias, GateOrder.None),
        }, roles);
        var keras = ToKeras(f).Single();
        Assert.Equal(false, keras[0].Config[ConfigKeys.ResetAfter]);
        Assert.Equal(GateOrder.ZRH, keras[0].GateOrder);
        var (outs, h, _) = KerasRun(keras, Input(f)[0]);
        var dir = Path.GetDirectoryName(f.Tensors[0].Source)!;
        Assert.True(MaxAbs(outs, Csv(Path.Combine(dir, "concat.prediction.csv"))) < 1e-6);
        Assert.True(MaxAbs(h, Csv(Path.Combine(dir, "concat_1.prediction.csv"))) < 1e-6);
    }

    [SkippableFact]
    public void Stacked_bidirectional_rnn_reads_depths_and_directions_and_reproduces_TensorFlow()
    {
        var f = WeightReader.Read(Case("bstack", "sta_b1_n5-3_ts4_tanh_noIS_f32_n3", "frozen_model.pb"));
        var groups = LayerGroup.Group(f.Tensors).Where(g => g.IsRecurrent).ToList();
        Assert.Equal(6, groups.Count);
        Assert.Equal(new[] { 0, 0, 1, 1, 2, 2 }, groups.Select(g => g.StackIndex));
        Assert.Equal(new[] { Direction.Forward, Direction.Backward }, groups.Take(2).Select(g => g.Direction));
        Assert.All(groups, g => Assert.Equal(LayerType.SimpleRNN, g.LayerType));
        Assert.Equal(new[] { 5, 5, 6, 6, 6, 6 }, groups.Select(g => g.InputSize));

        var x = Input(f)[0];
        var fwFinal = new List<Tensor>(); var bwFinal = new List<Tensor>();
        for (int depth = 0; depth < 3; depth++)
        {
            var (fo, fh, _) = KerasRun(ToKeras(groups[2 * depth]), x);
            var (bo, bh, _) = KerasRun(ToKeras(groups[2 * depth + 1]), x);
            fwFinal.Add(fh); bwFinal.Add(bh);
            x = cat([fo, bo], 1);
        }
        var dir = Path.GetDirectoryName(f.Tensors[0].Source)!;
        Assert.True(MaxAbs(x, Csv(Path.Combine(dir, "concat.prediction.csv"))) < 1e-6);
        Assert.True(MaxAbs(cat(fwFinal, 0), Csv(Path.Combine(dir, "concat_1.prediction.csv"))) < 1e-6);
        Assert.True(MaxAbs(cat(bwFinal, 0), Csv(Path.Combine(dir, "concat_2.prediction.csv"))) < 1e-6);
    }

    /// <summary>The values of a Const in a .pbtxt, decoded from its C-escaped tensor_content (an independent reading of the same graph).</summary>
    static float[] PbtxtValues(string path, string node)
    {
        var text = File.ReadAllText(path);
        int at = text.IndexOf($"name: \"{node}\"\n", StringComparison.Ordinal);
        int content = text.IndexOf("tensor_content: \"", at, StringComparison.Ordinal) + "tensor_content: \"".Length;
        var bytes = new List<byte>();
        for (int i = content; text[i] != '"'; i++)
        {
            if (text[i] != '\\') { bytes.Add((byte)text[i]); continue; }
            char e = text[++i];
            if (e >= '0' && e <= '7') { bytes.Add(System.Convert.ToByte(text.Substring(i, 3), 8)); i += 2; }
            else bytes.Add(e switch { 'n' => 10, 'r' => 13, 't' => 9, _ => (byte)e });
        }
        var arr = bytes.ToArray();
        return Enumerable.Range(0, arr.Length / 4).Select(k => BitConverter.ToSingle(arr, 4 * k)).ToArray();
    }

    // ---- TF1 equations for random weights: the conversion in general, not just zero-bias fixtures ----

    static float[] Random(Generator g, params long[] shape) => (rand(shape, generator: g, dtype: float32) * 2 - 1).data<float>().ToArray();

    [Theory]
    [InlineData(1.0, true)]
    [InlineData(0.3, true)]
    [InlineData(0.0, false)]
    public void Tf1_lstm_cell_equals_the_converted_Keras_lstm_over_several_steps(double forgetBias, bool withBias)
    {
        int input = 4, h = 3, steps = 6;
        var g = manual_seed(7);
        var kernel = tensor(Random(g, input + h, 4 * h)).reshape(input + h, 4 * h);
        var bias = withBias ? tensor(Random(g, 4 * h)) : null;
        var x = tensor(Random(g, steps, input)).reshape(steps, input).to_type(float64);
        var config = new Dictionary<string, object?> { [ConfigKeys.ForgetBias] = forgetBias, [ConfigKeys.UsePeepholes] = false };
        var tf1 = new List<LstmTensor> { LstmTensor.FromTensor(kernel, "cell/lstm_cell/kernel", "cell", LayerType.LSTM, TensorRole.FusedKernel, Layout.TensorFlow, gateOrder: GateOrder.IJFO, units: h, inputSize: input, config: config) };
        if (bias is not null) tf1.Add(LstmTensor.FromTensor(bias, "cell/lstm_cell/bias", "cell", LayerType.LSTM, TensorRole.Bias, Layout.TensorFlow, gateOrder: GateOrder.IJFO, units: h, inputSize: input, config: config));

        // TF1 LSTMCell: i,j,f,o = split([x,h]·W + b); c = σ(f + forget_bias)·c + σ(i)·tanh(j); h = σ(o)·tanh(c).
        var W = kernel.to_type(float64); var B = bias?.to_type(float64) ?? zeros(4 * h, float64);
        var hs = zeros(1, h, float64); var cs = zeros(1, h, float64); var expected = new List<Tensor>();
        for (int t = 0; t < steps; t++)
        {
            var parts = (cat([x[t].unsqueeze(0), hs], 1).matmul(W) + B).chunk(4, 1);
            cs = sigmoid(parts[2] + forgetBias) * cs + sigmoid(parts[0]) * tanh(parts[1]);
            hs = sigmoid(parts[3]) * tanh(cs);
            expected.Add(hs);
        }
        var keras = ToKeras(LayerGroup.Group(tf1).Single());
        Assert.Equal(new[] { TensorRole.Kernel, TensorRole.RecurrentKernel, TensorRole.Bias }, keras.Select(t => t.Role));
        Assert.Equal(new[] { input, 4 * h }, keras[0].Shape);
        Assert.Equal(new[] { h, 4 * h }, keras[1].Shape);
        var (outs, _, _) = KerasRun(keras, x);
        Assert.True((outs - cat(expected, 0)).abs().max().item<double>() < 1e-6);
        // forget_bias really is in the f block: without it the result differs.
        if (forgetBias != 0) Assert.True((keras[2].Tensor.narrow(0, h, h).to_type(float64) - B.chunk(4)[2]).sub(forgetBias).abs().max().item<double>() < 1e-6);
    }

    [Fact]
    public void Tf1_gru_cell_equals_the_converted_Keras_gru()
    {
        int input = 5, h = 4, steps = 5;
        var g = manual_seed(11);
        var gates = tensor(Random(g, input + h, 2 * h)).reshape(input + h, 2 * h);
        var gatesBias = tensor(Random(g, 2 * h));
        var cand = tensor(Random(g, input + h, h)).reshape(input + h, h);
        var candBias = tensor(Random(g, h));
        var x = tensor(Random(g, steps, input)).reshape(steps, input).to_type(float64);
        LstmTensor T(Tensor v, string n, TensorRole r, GateOrder o) => LstmTensor.FromTensor(v, n, "rnn", LayerType.GRU, r, Layout.TensorFlow, gateOrder: o, units: h, inputSize: input);
        var tf1 = new[] { T(gates, "g", TensorRole.FusedKernel, GateOrder.RU), T(gatesBias, "gb", TensorRole.Bias, GateOrder.RU), T(cand, "c", TensorRole.CandidateKernel, GateOrder.None), T(candBias, "cb", TensorRole.CandidateBias, GateOrder.None) };

        // TF1 GRUCell (rnn_cell_impl): r,u = σ([x,h]·Wg + bg); c = tanh([x, r·h]·Wc + bc); h = u·h + (1-u)·c.
        var hs = zeros(1, h, float64); var expected = new List<Tensor>();
        for (int t = 0; t < steps; t++)
        {
            var xt = x[t].unsqueeze(0);
            var ru = sigmoid(cat([xt, hs], 1).matmul(gates.to_type(float64)) + gatesBias.to_type(float64)).chunk(2, 1);
            var c = tanh(cat([xt, ru[0] * hs], 1).matmul(cand.to_type(float64)) + candBias.to_type(float64));
            hs = ru[1] * hs + (1 - ru[1]) * c;
            expected.Add(hs);
        }
        var (outs, _, _) = KerasRun(ToKeras(LayerGroup.Group(tf1).Single()), x);
        Assert.True((outs - cat(expected, 0)).abs().max().item<double>() < 1e-6);
    }

    [Fact]
    public void Peepholes_projection_and_cell_clip_are_refused_for_Keras_with_the_reason()
    {
        var k = zeros(7, 12); var p = zeros(3);
        LstmTensor K(Dictionary<string, object?> c) => LstmTensor.FromTensor(k, "l/lstm_cell/kernel", "l", LayerType.LSTM, TensorRole.FusedKernel, Layout.TensorFlow, gateOrder: GateOrder.IJFO, units: 3, inputSize: 4, config: c);
        var peep = new[] { K(new() { [ConfigKeys.UsePeepholes] = true }), LstmTensor.FromTensor(p, "l/lstm_cell/w_f_diag", "l", LayerType.LSTM, TensorRole.Peephole, Layout.TensorFlow, units: 3, inputSize: 4) };
        var e = Assert.Throws<LstmPortException>(() => ToKeras(LayerGroup.Group(peep).Single()));
        Assert.Equal("NotKerasPortable", e.ErrorId);
        Assert.Contains("peephole", e.Message);
        e = Assert.Throws<LstmPortException>(() => ToKeras(LayerGroup.Group([K(new() { [ConfigKeys.CellClip] = 3.0 })]).Single()));
        Assert.Contains("cell_clip", e.Message);
        e = Assert.Throws<LstmPortException>(() => ToKeras(LayerGroup.Group([K(new() { [ConfigKeys.NumProj] = 2 })]).Single()));
        Assert.Contains("num_proj", e.Message);
    }

    // ---- Checkpoints written here from the published format ----

    static float[] Seq(int n, float scale) => Enumerable.Range(0, n).Select(i => (i - n / 2f) * scale).ToArray();

    static List<TfCheckpointWriter.Variable> Tf1Model(int shards = 1) =>
    [
        new("rnn/multi_rnn_cell/cell_0/lstm_cell/kernel", [7, 12], Seq(84, 0.01f)),
        new("rnn/multi_rnn_cell/cell_0/lstm_cell/bias", [12], Seq(12, 0.1f)),
        new("rnn/multi_rnn_cell/cell_0/lstm_cell/kernel/Adam", [7, 12], Seq(84, 0.001f)),
        new("rnn/multi_rnn_cell/cell_0/lstm_cell/kernel/Adam_1", [7, 12], Seq(84, 0.002f)),
        new("rnn/multi_rnn_cell/cell_1/lstm_cell/kernel", [5, 8], Seq(40, 0.02f), shards - 1),
        new("rnn/multi_rnn_cell/cell_1/lstm_cell/bias", [8], Seq(8, 0.2f), shards - 1),
        new("rnn/multi_rnn_cell/cell_1/lstm_cell/w_i_diag", [2], [1, 2]),
        new("rnn/multi_rnn_cell/cell_1/lstm_cell/w_f_diag", [2], [3, 4]),
        new("rnn/multi_rnn_cell/cell_1/lstm_cell/w_o_diag", [2], [5, 6]),
        new("rnn/multi_rnn_cell/cell_1/lstm_cell/projection/kernel", [2, 3], Seq(6, 0.5f)),
        new("bidirectional_rnn/fw/gru_cell/gates/kernel", [5, 4], Seq(20, 0.05f)),
        new("bidirectional_rnn/fw/gru_cell/gates/bias", [4], [1, 1, 1, 1]),
        new("bidirectional_rnn/fw/gru_cell/candidate/kernel", [5, 2], Seq(10, 0.05f)),
        new("bidirectional_rnn/fw/gru_cell/candidate/bias", [2], [0, 0]),
        new("global_step", [], [1000]),
        new("beta1_power", [], [0.5f]),
    ];

    [Theory]
    [InlineData(false, 1, "model.ckpt")]
    [InlineData(true, 1, "model.ckpt.index")]
    [InlineData(false, 2, "")]
    public void Tf1_checkpoint_reads_cells_roles_slots_and_exact_values(bool snappy, int shards, string given)
    {
        using var dir = new TempDir();
        var prefix = dir.File("model.ckpt");
        var model = Tf1Model(shards);
        new TfCheckpointWriter { Snappy = snappy, Shards = shards }.Write(prefix, model);
        File.WriteAllText(dir.File("checkpoint"), "model_checkpoint_path: \"model.ckpt\"\nall_model_checkpoint_paths: \"model.ckpt\"\n");
        var f = WeightReader.Read(given.Length == 0 ? dir.Path : dir.File(given));
        Assert.Equal(WeightFormat.TensorFlowCheckpoint, f.Format);
        // Optimizer slots and counters are left out, with one note saying so.
        string[] training = ["rnn/multi_rnn_cell/cell_0/lstm_cell/kernel/Adam", "rnn/multi_rnn_cell/cell_0/lstm_cell/kernel/Adam_1", "global_step", "beta1_power"];
        var weights = model.Where(m => !training.Contains(m.Name)).ToList();
        Assert.Equal(weights.Select(m => m.Name).Order(), f.Tensors.Select(t => t.Name).Order());
        foreach (var m in weights)
            Assert.Equal(m.Values, f.Tensors.Single(t => t.Name == m.Name).Tensor.flatten().data<float>().ToArray());
        Assert.Equal("left out 4 variables that hold training state, not weights: 2 optimizer slots (Adam, Adam_1); 1 optimizer variable (beta1_power); 1 step counter (global_step)",
            Assert.Single(f.Notes));
        Assert.Empty(f.Errors);
        Assert.Empty(f.Warnings);

        var k0 = f.Tensors.Single(t => t.Name == "rnn/multi_rnn_cell/cell_0/lstm_cell/kernel");
        Assert.Equal(("rnn/multi_rnn_cell/cell_0", LayerType.LSTM, TensorRole.FusedKernel, 0, 3, 4, GateOrder.IJFO),
            (k0.Layer, k0.LayerType, k0.Role, k0.StackIndex, k0.Units, k0.InputSize, k0.GateOrder));
        Assert.Equal(1.0, k0.Config[ConfigKeys.ForgetBias]);
        Assert.Contains(ConfigKeys.ForgetBias, (string[])k0.Config[ConfigKeys.Inferred]!);
        var k1 = f.Tensors.Single(t => t.Name == "rnn/multi_rnn_cell/cell_1/lstm_cell/kernel");
        Assert.Equal((1, 2, 2, true, 3), (k1.StackIndex, k1.Units, k1.InputSize, k1.Config[ConfigKeys.UsePeepholes], k1.Config[ConfigKeys.NumProj]));
        Assert.Equal(TensorRole.Peephole, f.Tensors.Single(t => t.Name.EndsWith("w_f_diag")).Role);
        Assert.Equal(TensorRole.ProjectionKernel, f.Tensors.Single(t => t.Name.EndsWith("projection/kernel")).Role);
        var gru = f.Tensors.Where(t => t.LayerType == LayerType.GRU).ToList();
        Assert.Equal(4, gru.Count);
        Assert.All(gru, t => Assert.Equal(("bidirectional_rnn", Direction.Forward, 2, 3), (t.Layer, t.Direction, t.Units, t.InputSize)));
        // The peephole/projection layer is refused for Keras; the plain one converts.
        var groups = LayerGroup.Group(f.Tensors).Where(g => g.IsRecurrent).ToDictionary(g => g.Layer);
        Assert.Equal(3, ToKeras(groups["rnn/multi_rnn_cell/cell_0"]).Count);
        Assert.Equal("NotKerasPortable", Assert.Throws<LstmPortException>(() => ToKeras(groups["rnn/multi_rnn_cell/cell_1"])).ErrorId);
    }

    static string WriteSmall(TempDir dir, Action<TfCheckpointWriter>? setup = null)
    {
        var prefix = dir.File("m.ckpt");
        var w = new TfCheckpointWriter();
        setup?.Invoke(w);
        w.Write(prefix, [new("cell/lstm_cell/kernel", [5, 8], Seq(40, 0.1f)), new("cell/lstm_cell/bias", [8], Seq(8, 0.1f))]);
        return prefix;
    }

    static string ErrorId(Action a) => Assert.Throws<LstmPortException>(a).ErrorId;

    [Fact]
    public void Damaged_checkpoints_give_stable_error_ids()
    {
        using var dir = new TempDir();
        var prefix = WriteSmall(dir);
        var index = File.ReadAllBytes(prefix + ".index");

        File.WriteAllBytes(prefix + ".index", index[..20]);
        Assert.Equal("TruncatedFile", ErrorId(() => WeightReader.Read(prefix)));

        File.WriteAllBytes(prefix + ".index", index[..^3]);
        Assert.Equal("NotTensorBundle", ErrorId(() => WeightReader.Read(prefix)));

        var badMagic = (byte[])index.Clone(); badMagic[^1] ^= 0xff;
        File.WriteAllBytes(prefix + ".index", badMagic);
        Assert.Equal("NotTensorBundle", ErrorId(() => WeightReader.Read(prefix)));

        var badBlock = (byte[])index.Clone(); badBlock[3] ^= 0x40;
        File.WriteAllBytes(prefix + ".index", badBlock);
        Assert.Equal("ChecksumMismatch", ErrorId(() => WeightReader.Read(prefix)));

        File.WriteAllBytes(prefix + ".index", index);
        var data = File.ReadAllBytes(prefix + ".data-00000-of-00001");
        var flipped = (byte[])data.Clone(); flipped[9] ^= 1;
        File.WriteAllBytes(prefix + ".data-00000-of-00001", flipped);
        var f = WeightReader.Read(prefix); // checked while reading: the damaged tensor is left out, with its error
        Assert.Equal("ChecksumMismatch", Assert.Single(f.Errors).ErrorId);
        Assert.DoesNotContain(f.Tensors, t => t.Role == TensorRole.FusedKernel);
        Assert.All(f.Tensors, t => Assert.NotNull(t.Tensor));

        File.Delete(prefix + ".data-00000-of-00001");
        Assert.Equal("ShardNotFound", ErrorId(() => WeightReader.Read(prefix)));

        Assert.Equal("FileNotFound", ErrorId(() => WeightReader.Read(dir.File("nothing.ckpt"))));
        Assert.Equal("PathIsDirectory", ErrorId(() => WeightReader.Read(Directory.CreateDirectory(dir.File("empty")).FullName)));
    }

    [Fact]
    public void Entries_that_contradict_the_data_are_left_out_with_stable_error_ids_and_the_rest_is_read()
    {
        using var dir = new TempDir();
        // One damaged entry is that tensor's error, not the file's: the cell beside it is still read.
        foreach (var (entry, id) in new (byte[], string)[]
                 {
                     (TfCheckpointWriter.Entry(1, [4, 4], 0, 0, 60, 0), "TensorSizeMismatch"),
                     (TfCheckpointWriter.Entry(1, [400], 0, 0, 1600, 0), "TensorOutOfRange"),
                     ([0x12, 0xff, 0x01], "CorruptProtobuf"),
                     (TfCheckpointWriter.Entry(1, [2], 3, 0, 8, 0), "CorruptFile"),
                 })
        {
            var prefix = WriteSmall(dir, w => w.RawEntries["zz/w"] = entry);
            var f = WeightReader.Read(prefix);
            var e = Assert.Single(f.Errors);
            Assert.Equal(id, e.ErrorId);
            Assert.Contains("'zz/w'", e.Message);
            Assert.Equal(["cell/lstm_cell/kernel", "cell/lstm_cell/bias"], f.Tensors.Select(t => t.Name));
            Assert.Equal(Seq(40, 0.1f), f.Tensors[0].Tensor.flatten().data<float>().ToArray());
        }
    }

    [SkippableFact]
    public void A_corrupt_frozen_graph_gives_CorruptProtobuf()
    {
        using var dir = new TempDir();
        var path = dir.File("frozen.pb");
        File.WriteAllBytes(path, [0x0A, 0x40, 0x0A, 0x03, (byte)'a']);
        Assert.Equal("CorruptProtobuf", ErrorId(() => WeightReader.Read(path)));
    }

    // ---- SavedModel ----

    [SkippableFact]
    public void SavedModel_maps_object_graph_variables_back_to_Keras_layers_and_roles()
    {
        var dir = Repo.Fixture("tfnet-tf2-savedmodel-lstm", "lstm_from_sequential");
        var f = WeightReader.Read(dir);
        Assert.Equal(WeightFormat.SavedModel, f.Format);
        var lstm = f.Tensors.Where(t => t.LayerType == LayerType.LSTM).ToList();
        Assert.Equal(new[] { ("lstm/cell/kernel", TensorRole.Kernel, "3,128"), ("lstm/cell/recurrent_kernel", TensorRole.RecurrentKernel, "32,128"), ("lstm/cell/bias", TensorRole.Bias, "128") },
            lstm.Select(t => (t.Name, t.Role, string.Join(",", t.Shape))));
        Assert.All(lstm, t => Assert.Equal(("lstm", Layout.Keras, GateOrder.IFCO, 32, 3, "sigmoid"), (t.Layer, t.Layout, t.GateOrder, t.Units, t.InputSize, t.Config[ConfigKeys.RecurrentActivation])));
        var dense = f.Tensors.Where(t => t.LayerType == LayerType.Dense).ToList();
        Assert.Equal(new[] { ("dense", TensorRole.Kernel), ("dense", TensorRole.Bias) }, dense.Select(t => (t.Layer, t.Role)));
        // The optimizer's variables (iterations, learning rate, 10 Adam slots) and 4 metric variables are left out, with one note.
        Assert.Equal(3 + 2, f.Tensors.Count);
        Assert.Equal("left out 16 variables that hold training state, not weights: 12 optimizer variables (_iterations, _learning_rate, optimizer/_variables/*); 4 metric variables (count, total)",
            Assert.Single(f.Notes));
        Assert.Empty(f.Errors);

        // The checkpoint inside, read on its own: same values, layers named by object path and types inferred.
        var ckpt = WeightReader.Read(Path.Combine(dir, "variables", "variables.index"));
        Assert.Equal(WeightFormat.TensorFlowCheckpoint, ckpt.Format);
        var kernel = ckpt.Tensors.Single(t => t.Name == "layer_with_weights-0/cell/kernel");
        Assert.Equal((LayerType.LSTM, TensorRole.Kernel, 32), (kernel.LayerType, kernel.Role, kernel.Units));
        Assert.True(kernel.Tensor.eq(lstm[0].Tensor).all().item<bool>());
        Assert.NotEmpty(ckpt.Warnings); // settings inferred without keras_metadata
    }
}

/// <summary>TensorFlow files through the module: -ForgetBias, and checkpoints given as a prefix.</summary>
public sealed class TensorFlowCmdletTests(ModuleSession ps) : IClassFixture<ModuleSession>
{
    [Fact]
    public void ForgetBias_sets_the_TF1_lstm_config_and_leaves_other_tensors_alone()
    {
        using var dir = new TempDir();
        var prefix = dir.File("model.ckpt");
        new TfCheckpointWriter().Write(prefix,
        [
            new("rnn/lstm_cell/kernel", [5, 8], new float[40]), new("rnn/lstm_cell/bias", [8], new float[8]), new("global_step", [], [3]),
        ]);
        var plain = ps.Objects<LstmTensor>("Get-LstmWeights $args[0]", prefix);
        Assert.Equal(1.0, plain[0].Config[ConfigKeys.ForgetBias]);
        var set = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] -ForgetBias 0.25", prefix);
        Assert.Equal(2, set.Count); // global_step is a training counter: left out
        Assert.All(set, t =>
        {
            Assert.Equal(0.25, t.Config[ConfigKeys.ForgetBias]);
            Assert.DoesNotContain(ConfigKeys.ForgetBias, (string[])t.Config[ConfigKeys.Inferred]!);
        });

        var r = ps.Run("Get-LstmWeights $args[0], $args[1]", dir.File("missing.ckpt"), prefix);
        Assert.Equal("FileNotFound", r.Errors.Single().FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(2, r.Output.Count);
    }
}
