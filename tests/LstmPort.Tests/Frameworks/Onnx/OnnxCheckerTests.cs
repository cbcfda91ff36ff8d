using System.Globalization;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;
using LstmPort.Conversion;
using LstmPort.Formats;
using LstmPort.Frameworks.Onnx;
using LstmPort.Verification;

namespace LstmPort.Tests;

/// <summary>
/// Written .onnx files against the official ONNX package (python3-onnx, tests/LstmPort.Tests/Python/onnx_check.py):
/// every kind of layer we write passes onnx.checker with full_check (strict shape inference); a model
/// whose initializers the ONNX helpers moved to external data reads back the same; a model the ONNX
/// helpers built with its LSTM inside an If branch or a Loop body and its weights computed by constant operators
/// reads with numpy's values. And a TF1 GRUCell to ONNX (linear_before_reset=0) and back, checked
/// against TensorFlow's stored outputs, the TF1 reference maths and ONNX Runtime.
/// </summary>
public sealed class OnnxCheckerTests(ModuleSession ps, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<ModuleSession>
{
    /// <summary>Runs the checker on the files; every one must pass, with IR 8 and opset 14 or later.</summary>
    void AssertCheckerClean(IReadOnlyList<string> files)
    {
        var r = Python.RunOnnx(["check", .. files]);
        output.WriteLine($"onnx {r.GetProperty("onnx").GetString()}: checked {files.Count} files");
        foreach (var f in files)
        {
            var message = r.GetProperty("results").GetProperty(f);
            Assert.True(message.ValueKind == JsonValueKind.Null, $"onnx.checker rejects {Path.GetFileName(f)}: {message}");
            Assert.Equal(8, r.GetProperty("ir").GetProperty(f).GetInt32());
            Assert.InRange(r.GetProperty("opset").GetProperty(f).GetInt32(), 14, int.MaxValue);
        }
    }

    static OnnxModel Parse(string path) => OnnxProto.ParseModel(File.ReadAllBytes(path));

    [SkippableFact]
    public void Every_kind_of_layer_we_write_passes_the_onnx_checker()
    {
        Python.RequireOnnx();
        using var dir = new TempDir();
        var b = new EquivalenceBuild(9);
        var linear = EquivalenceBuild.Config((ConfigKeys.Activation, "linear"));
        var hard = EquivalenceBuild.Config((ConfigKeys.RecurrentActivation, "hard_sigmoid"), (ConfigKeys.HardSigmoid, "keras2"));
        // Keras: an LSTM with a Dense head (Gemm, transB=0 from a kernel [in,out]).
        var kerasLstm = b.KerasLayer("lstm", LayerType.LSTM, 4, 5)
            .Append(EquivalenceBuild.Keras("dense", LayerType.Dense, TensorRole.Kernel, b.Rand(5, 2), config: linear, units: 2, input: 5))
            .Append(EquivalenceBuild.Keras("dense", LayerType.Dense, TensorRole.Bias, b.Rand(2), config: linear, units: 2, input: 5)).ToList();
        // Keras 2: a bidirectional hard_sigmoid GRU with reset_after=False (linear_before_reset=0), and a reset_after=True one.
        var bigru = b.KerasLayer("bigru", LayerType.GRU, 3, 4, Direction.Forward, resetAfter: false, config: new Dictionary<string, object?>(hard))
            .Concat(b.KerasLayer("bigru", LayerType.GRU, 3, 4, Direction.Backward, resetAfter: false, config: new Dictionary<string, object?>(hard))).ToList();
        var gru = b.KerasLayer("gru", LayerType.GRU, 3, 4, resetAfter: true);
        var rnn = b.KerasLayer("rnn", LayerType.SimpleRNN, 3, 6);
        // PyTorch: a stacked (2 layers) bidirectional LSTM with a Linear head (Gemm, transB=1).
        var torchStack = new List<LstmTensor>();
        foreach (var depth in new[] { 0, 1 })
            foreach (var d in new[] { Direction.Forward, Direction.Backward })
            {
                int input = depth == 0 ? 3 : 8;
                string suffix = $"_l{depth}{(d == Direction.Backward ? "_reverse" : "")}";
                foreach (var (param, role, t) in new[] { ("weight_ih", TensorRole.Kernel, b.Rand(16, input)), ("weight_hh", TensorRole.RecurrentKernel, b.Rand(16, 4)),
                    ("bias_ih", TensorRole.InputBias, b.Rand(16)), ("bias_hh", TensorRole.RecurrentBias, b.Rand(16)) })
                    torchStack.Add(LstmTensor.FromTensor(t, $"lstm.{param}{suffix}", "lstm", LayerType.LSTM, role, Layout.Torch, d, depth, GateOrder.IFGO, units: 4, inputSize: input));
            }
        torchStack.Add(LstmTensor.FromTensor(b.Rand(2, 8), "head.weight", "head", LayerType.Dense, TensorRole.Weight, Layout.Torch, units: 2, inputSize: 8));
        torchStack.Add(LstmTensor.FromTensor(b.Rand(2), "head.bias", "head", LayerType.Dense, TensorRole.Bias, Layout.Torch, units: 2, inputSize: 8));
        // TF1: an LSTMCell (forget_bias folded in).
        var tf1 = b.Tf1Lstm("rnn/lstm_cell", 3, 4, forgetBias: 1.0);
        // ONNX: an LSTM with peepholes, read from a file the test writes, written again.
        var peep = dir.File("peep-source.onnx");
        WriteLstm(peep, b, hidden: 3, input: 2, withPeepholes: true);

        var files = new Dictionary<string, string>();
        foreach (var (name, set) in new (string, List<LstmTensor>)[] { ("keras-lstm-dense", kerasLstm), ("keras-bigru-reset-before", bigru), ("keras-gru", gru), ("keras-rnn", rnn), ("torch-stacked-bilstm", torchStack), ("tf1-lstm", tf1) })
        {
            files[name] = dir.File(name + ".onnx");
            var r = ps.Run("$args[0] | ConvertTo-OnnxLayout | Export-LstmWeights $args[1]", set, files[name]);
            Assert.False(r.Failed, $"{name}: {r.ErrorText}");
        }
        files["onnx-peepholes"] = dir.File("onnx-peepholes.onnx");
        var rp = ps.Run("Get-LstmWeights $args[0] | Export-LstmWeights $args[1]", peep, files["onnx-peepholes"]);
        Assert.False(rp.Failed, rp.ErrorText);

        AssertCheckerClean([.. files.Values]);

        // What was checked is what the names say.
        string Ops(string key) => string.Join(",", Parse(files[key]).Graph!.Nodes.Select(n => n.OpType));
        Assert.Equal("LSTM,Gemm", Ops("keras-lstm-dense"));
        Assert.Equal("LSTM,LSTM,Gemm", Ops("torch-stacked-bilstm"));
        Assert.All(Parse(files["torch-stacked-bilstm"]).Graph!.Nodes.Where(n => n.OpType == "LSTM"), n => Assert.Equal("bidirectional", n.Attribute("direction")!.S));
        var bigruNode = Parse(files["keras-bigru-reset-before"]).Graph!.Nodes.Single();
        Assert.Equal(("GRU", "bidirectional", 0L), (bigruNode.OpType, bigruNode.Attribute("direction")!.S, bigruNode.Attribute("linear_before_reset")!.I));
        Assert.Equal(1L, Parse(files["keras-gru"]).Graph!.Nodes.Single().Attribute("linear_before_reset")!.I);
        Assert.Equal("RNN", Ops("keras-rnn"));
        var peepNode = Parse(files["onnx-peepholes"]).Graph!.Nodes.Single();
        Assert.Equal(8, peepNode.Inputs.Count); // X, W, R, B, sequence_lens, initial_h, initial_c, P
    }

    [SkippableFact]
    public void The_checker_test_catches_a_model_whose_declared_shapes_are_wrong()
    {
        // So a writer that declared outputs the operator does not produce would fail the test above.
        Python.RequireOnnx();
        using var dir = new TempDir();
        var b = new EquivalenceBuild(2);
        WriteLstm(dir.File("bad.onnx"), b, hidden: 3, input: 2, withPeepholes: false, declaredHidden: 5);
        var r = Python.RunOnnx("check", dir.File("bad.onnx"));
        var message = r.GetProperty("results").GetProperty(dir.File("bad.onnx")).GetString();
        Assert.NotNull(message);
        Assert.Contains("ShapeInferenceError", message);
    }

    /// <summary>A one-layer ONNX LSTM model written here from the ONNX schema (W, R, B and optionally P as initializers).</summary>
    static void WriteLstm(string path, EquivalenceBuild b, int hidden, int input, bool withPeepholes, int? declaredHidden = null)
    {
        var graph = new Containers.ProtoWriter();
        void Init(string name, Tensor t)
        {
            using var c = t.contiguous();
            graph.Message(5, OnnxProto.Tensor(name, c.shape, OnnxDataType.Of(ScalarType.Float32), OnnxMaths.Bytes(c)));
        }
        var inputs = new List<string> { "X", "W", "R", "B" };
        if (withPeepholes) inputs.AddRange(["", "", "", "P"]);
        graph.Message(1, OnnxProto.Node("peephole_lstm", "LSTM", inputs, ["Y", "Y_h", "Y_c"], [OnnxProto.IntAttribute("hidden_size", hidden)]));
        Init("W", b.Rand(1, 4 * hidden, input));
        Init("R", b.Rand(1, 4 * hidden, hidden));
        Init("B", b.Rand(1, 8 * hidden));
        if (withPeepholes) Init("P", b.Rand(1, 3 * hidden));
        graph.String(2, "test");
        graph.Message(11, OnnxProto.ValueInfo("X", 1, [null, null, input], ["seq", "batch", ""]));
        int h = declaredHidden ?? hidden;
        graph.Message(12, OnnxProto.ValueInfo("Y", 1, [null, 1, null, h], ["seq", "", "batch", ""]));
        graph.Message(12, OnnxProto.ValueInfo("Y_h", 1, [1, null, h], ["", "batch", ""]));
        graph.Message(12, OnnxProto.ValueInfo("Y_c", 1, [1, null, h], ["", "batch", ""]));
        File.WriteAllBytes(path, OnnxProto.Model(8, 14, "test", "", graph).ToArray());
    }

    public static TheoryData<string, string> FixtureSources() => new()
    {
        { "onnx-bidirectional", "burn-pytorch-exported-onnx-lstm/lstm_bidirectional.onnx" },
        { "onnx-reverse", "burn-pytorch-exported-onnx-lstm/lstm_reverse.onnx" },
        { "onnx-peepholes", "onnx-backend-node-rnn-tests/test_lstm_with_peepholes/model.onnx" },
        { "onnx-gru-reset-before", "onnx-backend-node-rnn-tests/test_gru_defaults/model.onnx" },
        { "onnx-rnn", "onnx-backend-node-rnn-tests/test_simple_rnn_defaults/model.onnx" },
        { "onnx-batchwise", "onnx-backend-node-rnn-tests/test_lstm_batchwise/model.onnx" },
        { "keras-lstm-dense", "dl4j-keras2-simple-lstm/simple_lstm_tf_keras_2_model.h5" },
        { "keras-bigru-stacked", "medaka-keras215-bigru/medaka_model.hdf5" },
        { "keras-rnn", "dl4j-keras2-simple-rnn/simple_rnn_tf_keras_2_model.h5" },
        { "keras3-gru", "keras3-martinpiz097-lstm-gru/gru_model.keras" },
        { "tf1-grucell", "dl4j-tf1-rnn-frozen-graphs/grucell/static_b1_nIn5_nOut3_ts4_tanh_noIS_float/frozen_model.pb" },
        { "tf1-bstack", "dl4j-tf1-rnn-frozen-graphs/bstack/sta_b1_n5-3_ts4_tanh_noIS_f32_n3/frozen_model.pb" },
        { "tf1-basiclstmcell", "dl4j-tf1-rnn-frozen-graphs/basiclstmcell/static_b1_nIn5_nOut3_ts4_tanh_noIS_fb1_float/frozen_model.pb" },
        { "torch-stacked", "chrisprasanna-torch-zip-stacked-lstm/lstm.pt" },
    };

    [SkippableFact]
    public void Models_written_from_the_shared_fixtures_pass_the_onnx_checker()
    {
        Python.RequireOnnx();
        using var dir = new TempDir();
        var files = new List<string>();
        foreach (var (name, fixture) in FixtureSources().Select(row => ((string)row[0], (string)row[1])))
        {
            var target = dir.File(name + ".onnx");
            // Layers ONNX cannot compute (a softmax Dense head) are refused one by one; the rest is written.
            var r = ps.Run("Get-LstmWeights $args[0] -WarningAction SilentlyContinue | ConvertTo-OnnxLayout -ErrorAction SilentlyContinue | Export-LstmWeights $args[1]",
                Repo.Fixture(fixture.Split('/')), target);
            Assert.True(File.Exists(target), $"{name}: nothing written: {r.ErrorText}");
            Assert.NotEmpty(Parse(target).Graph!.Nodes);
            files.Add(target);
        }
        AssertCheckerClean(files);
    }

    [SkippableFact]
    public void Initializers_in_an_external_data_file_beside_the_model_read_back_the_same()
    {
        Python.RequireOnnx();
        using var dir = new TempDir();
        var b = new EquivalenceBuild(4);
        var written = dir.File("inline.onnx");
        var r = ps.Run("$args[0] | ConvertTo-OnnxLayout | Export-LstmWeights $args[1]",
            b.KerasLayer("bilstm", LayerType.LSTM, 3, 4).Concat(b.KerasLayer("bilstm", LayerType.LSTM, 3, 4, Direction.Backward)).ToList(), written);
        Assert.False(r.Failed, r.ErrorText);
        var moved = Python.RunOnnx("external", written, dir.File("external.onnx"));
        Assert.Equal(["bilstm.W", "bilstm.R", "bilstm.B"], moved.GetProperty("external").EnumerateArray().Select(e => e.GetString()));
        Assert.True(File.Exists(dir.File(moved.GetProperty("location").GetString()!)));
        // The model itself no longer holds the weights.
        Assert.True(new FileInfo(dir.File("external.onnx")).Length < new FileInfo(written).Length / 2);

        var inline = WeightReader.Read(written);
        var external = WeightReader.Read(dir.File("external.onnx"));
        Assert.Empty(external.Errors);
        Assert.Equal(inline.Tensors.Select(t => (t.Name, t.Role, string.Join(",", t.Shape))), external.Tensors.Select(t => (t.Name, t.Role, string.Join(",", t.Shape))));
        foreach (var (a, e) in inline.Tensors.Zip(external.Tensors))
            Assert.True(a.Tensor.equal(e.Tensor).all().item<bool>(), $"{a.Name}: external data read differently");
    }

    [SkippableFact]
    public void External_data_outside_the_models_folder_is_refused()
    {
        Python.RequireOnnx();
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("model"));
        var model = dir.File(Path.Combine("model", "outside.onnx"));
        var made = Python.RunOnnx("external-outside", model);
        // The file it names exists, so only the folder rule refuses it.
        Assert.True(File.Exists(made.GetProperty("outside").GetString()));
        var r = ps.Run("Get-LstmWeights $args[0] -ErrorAction SilentlyContinue -ErrorVariable e | ForEach-Object { $_.Tensor.sum() } | Out-Null; $e | ForEach-Object { $_.FullyQualifiedErrorId.Split(',')[0]; $_.Exception.Message }", model);
        var lines = r.Output.Select(o => (string)o.BaseObject).ToList();
        Assert.True(lines.Count >= 2, "no error: " + string.Join(" | ", lines) + r.ErrorText);
        Assert.Equal(ErrorIds.OnnxExternalDataOutside, lines[0]);
        Assert.Contains("'../model-outside.bin'", lines[1]);
        Assert.Contains("not a file inside the model's folder", lines[1]);
    }

    [SkippableTheory]
    [InlineData("if-lstm")]
    [InlineData("loop-lstm")]
    public void An_lstm_inside_a_subgraph_with_folded_weights_reads_the_values_numpy_computes(string kind)
    {
        Python.RequireOnnx();
        using var dir = new TempDir();
        var path = dir.File(kind + ".onnx");
        var expected = Python.RunOnnx(kind, path);
        // A valid model, by the checker's own rules, so what is tested is folding, not tolerance.
        AssertCheckerClean([path]);
        var file = WeightReader.Read(path);
        Assert.Empty(file.Errors);
        var lstm = file.Tensors.Where(t => t.LayerType == LayerType.LSTM).ToList();
        Assert.All(lstm, t => Assert.Equal(("branch_lstm", Layout.Onnx, 3, 2), (t.Layer, t.Layout, t.Units, t.InputSize)));
        foreach (var (key, role) in new[] { ("W", TensorRole.Kernel), ("R", TensorRole.RecurrentKernel), ("B", TensorRole.Bias) })
        {
            var e = expected.GetProperty(key);
            var t = lstm.Single(x => x.Role == role);
            Assert.Equal(e.GetProperty("shape").EnumerateArray().Select(x => x.GetInt32()), t.Shape);
            var want = tensor(e.GetProperty("values").EnumerateArray().Select(x => x.GetDouble()).ToArray());
            var got = t.Tensor.to_type(ScalarType.Float64).flatten();
            Assert.True((got - want).abs().max().item<double>() == 0, $"{key}: folded values differ from numpy's");
        }
    }

    static double[] Csv(string path) => File.ReadAllLines(path).Where(l => l.Trim().Length > 0)
        .SelectMany(l => l.Split(',')).Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();

    [SkippableFact]
    public void A_TF1_GRUCell_goes_to_onnx_with_linear_before_reset_0_and_back_exactly()
    {
        var dir = Repo.Fixture("dl4j-tf1-rnn-frozen-graphs", "grucell", "static_b1_nIn5_nOut3_ts4_tanh_noIS_float");
        using var tmp = new TempDir();
        var onnxPath = tmp.File("grucell.onnx");
        var r = ps.Run("""
            $tf = Get-LstmWeights $args[0] -WarningAction SilentlyContinue | Where-Object LayerType -eq GRU
            $o = $tf | ConvertTo-OnnxLayout
            $o | Export-LstmWeights $args[1]
            $back = Get-LstmWeights $args[1]
            $keras = $back | ConvertTo-KerasLayout
            Test-LstmEquivalence $tf $o
            Test-LstmEquivalence $tf $back
            Test-LstmEquivalence $back $keras
            Test-LstmEquivalence $tf $keras
            """, Path.Combine(dir, "frozen_model.pb"), onnxPath);
        Assert.False(r.Failed, r.ErrorText);
        var results = r.Output.Select(o => o.BaseObject).OfType<EquivalenceResult>().ToList();
        Assert.Equal(4, results.Count);
        Assert.Equal([Layout.TensorFlow, Layout.TensorFlow, Layout.Onnx, Layout.TensorFlow], results.Select(x => x.ReferenceLayout));
        foreach (var x in results)
        {
            output.WriteLine($"{x.ReferenceLayout} vs {x.DifferenceLayout}: {x.MaxAbsError:G3}");
            Assert.True(x.Passed, x.Reason);
            Assert.InRange(x.MaxAbsError!.Value, 0, 1e-5);
        }

        // The written node: a GRU that resets before its recurrent product.
        var node = Parse(onnxPath).Graph!.Nodes.Single();
        Assert.Equal(("GRU", 0L, 3L), (node.OpType, node.Attribute("linear_before_reset")!.I, node.Attribute("hidden_size")!.I));

        // ONNX Runtime on the read-back layer and TensorFlow's own stored outputs for the graph's input in_0 [1,T,in].
        var source = WeightReader.Read(Path.Combine(dir, "frozen_model.pb"));
        var x0 = source.Tensors.Single(t => t.Name == "in_0").Tensor.to_type(ScalarType.Float64)[0].unsqueeze(1);
        var g = LayerGroup.Group(WeightReader.Read(onnxPath).Tensors).Single();
        var run = LayoutMaths.For(g).RunLayer(g, x0);
        double Err(Tensor a, string csv) => (a.flatten() - tensor(Csv(Path.Combine(dir, csv)), float64)).abs().max().item<double>();
        double outErr = Err(run.Output, "concat.prediction.csv"), hErr = Err(run.FinalH!, "concat_1.prediction.csv");
        output.WriteLine($"ONNX Runtime vs TensorFlow's stored outputs: output {outErr:G3}, final h {hErr:G3}");
        Assert.InRange(outErr, 0, 1e-5);
        Assert.InRange(hErr, 0, 1e-5);
    }
}
