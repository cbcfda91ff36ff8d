using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;

namespace LstmPort.Tests;

/// <summary>
/// ConvertTo-TorchLayout proven with real PyTorch: the converted .pth is loaded into nn.LSTM / nn.GRU /
/// nn.RNN (/usr/bin/python3) and their outputs are compared with a numpy implementation of the
/// Keras equations run on the weights as read, over several time steps.
/// </summary>
public sealed class ConversionTests(ModuleSession ps) : IClassFixture<ModuleSession>
{
    const double Tolerance = 1e-5;

    /// <summary>Reads a Keras file, converts it, writes both sides and runs the independent check.</summary>
    JsonElement ConvertAndCompare(string kerasFile, TempDir dir, string convertArgs = "", string? stackModule = null)
    {
        string kerasOut = dir.File("keras.safetensors"), torchOut = dir.File("torch.pth");
        var r = ps.Run($"$k = Get-LstmWeights $args[0]; $k | Export-LstmWeights $args[1]; $k | ConvertTo-TorchLayout {convertArgs} | Export-LstmWeights $args[2]",
            kerasFile, kerasOut, torchOut);
        Assert.True(r.Errors.Count == 0 && r.Terminating is null, string.Join("\n", r.Errors.Select(LstmPort.Host.ScriptRunner.Describe)) + r.Terminating?.Message);
        var tensors = ps.Objects<LstmTensor>("Get-LstmWeights $args[0]", kerasFile);
        var spec = Spec(tensors, kerasOut, torchOut, stackModule);
        var specPath = dir.File("spec.json");
        File.WriteAllText(specPath, spec.ToJsonString());
        return Python.Run("conversion_check.py", "compare", specPath);
    }

    internal static JsonObject Spec(IReadOnlyList<LstmTensor> tensors, string kerasOut, string torchOut, string? stackModule,
        Func<string, (string Module, int Depth)>? torchName = null)
    {
        var layers = new JsonArray();
        JsonObject? dense = null;
        foreach (var layer in tensors.GroupBy(t => t.Layer))
        {
            var first = layer.First();
            if (first.LayerType == LayerType.Dense && stackModule is not null)
                dense = new JsonObject { ["kernel"] = layer.Single(t => t.Role == TensorRole.Kernel).Name, ["bias"] = layer.Single(t => t.Role == TensorRole.Bias).Name, ["module"] = first.Layer };
            if (first.LayerType is not (LayerType.LSTM or LayerType.GRU or LayerType.SimpleRNN)) continue;
            var directions = new JsonArray();
            foreach (var d in new[] { Direction.Forward, Direction.Backward })
            {
                var half = layer.Where(t => t.Direction == d).ToList();
                if (half.Count == 0) continue;
                directions.Add(new JsonObject
                {
                    ["kernel"] = half.Single(t => t.Role == TensorRole.Kernel).Name,
                    ["recurrent"] = half.Single(t => t.Role == TensorRole.RecurrentKernel).Name,
                    ["bias"] = half.SingleOrDefault(t => t.Role == TensorRole.Bias)?.Name,
                });
            }
            string? Get(string key) => first.Config.TryGetValue(key, out var v) ? v?.ToString() : null;
            layers.Add(new JsonObject
            {
                ["name"] = layer.Key, ["type"] = first.LayerType.ToString(), ["units"] = first.Units, ["input"] = first.InputSize,
                ["activation"] = Get(ConfigKeys.Activation), ["recurrent_activation"] = Get(ConfigKeys.RecurrentActivation),
                ["hard_sigmoid"] = Get(ConfigKeys.HardSigmoid), ["reset_after"] = Get(ConfigKeys.ResetAfter) == "True",
                ["cudnn"] = Get(ConfigKeys.Cudnn) == "True", ["directions"] = directions,
                ["torch"] = torchName is not null
                    ? new JsonObject { ["module"] = torchName(layer.Key).Module, ["depth"] = torchName(layer.Key).Depth }
                    : new JsonObject { ["module"] = stackModule ?? layer.Key, ["depth"] = stackModule is null ? 0 : layers.Count },
            });
        }
        var spec = new JsonObject { ["keras_weights"] = kerasOut, ["torch_weights"] = torchOut, ["layers"] = layers, ["seq"] = 9, ["batch"] = 3 };
        if (stackModule is not null)
            spec["stack"] = new JsonObject
            {
                ["module"] = stackModule,
                ["layers"] = new JsonArray(layers.Select(l => (JsonNode)JsonValue.Create(l!["name"]!.GetValue<string>())!).ToArray()),
                ["dense"] = dense,
            };
        return spec;
    }

    internal static void AllWithin(JsonElement result, int expectedLayers)
    {
        var layers = result.GetProperty("layers").EnumerateObject().ToList();
        Assert.Equal(expectedLayers, layers.Count);
        foreach (var l in layers)
            Assert.True(l.Value.GetDouble() < Tolerance, $"{l.Name}: PyTorch differs from the Keras equations by {l.Value.GetDouble():E2}");
    }

    string Make(string kind, TempDir dir)
    {
        var path = dir.File(kind + ".h5");
        Python.Run("conversion_check.py", "make", kind, path);
        return path;
    }

    [SkippableTheory]
    [InlineData("bilstm", 1)]
    [InlineData("gru", 1)]
    [InlineData("simplernn-relu", 1)]
    public void Keras_layers_convert_exactly(string kind, int layers)
    {
        using var dir = new TempDir();
        AllWithin(ConvertAndCompare(Make(kind, dir), dir), layers);
    }

    [SkippableFact]
    public void Stacked_Keras_LSTM_and_Dense_become_one_four_layer_nn_LSTM_and_a_Linear()
    {
        using var dir = new TempDir();
        var file = Make("stacked4", dir);
        var result = ConvertAndCompare(file, dir, "-StackAs rnn", stackModule: "rnn");
        Assert.True(result.GetProperty("stack").GetDouble() < Tolerance, $"stack differs by {result.GetProperty("stack")}");
        Assert.True(result.GetProperty("dense").GetDouble() < Tolerance, $"dense head differs by {result.GetProperty("dense")}");
        var keys = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] | ConvertTo-TorchLayout -StackAs rnn", file).Select(t => t.Name).ToList();
        Assert.Equal(["rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0"], keys.Take(4));
        Assert.Contains("rnn.weight_hh_l3", keys);
        Assert.Equal(["dense.weight", "dense.bias"], keys.TakeLast(2));
    }

    [SkippableTheory]
    [InlineData("dl4j-tfkeras-rnn")]
    [InlineData("keras3-martinpiz097-lstm-gru")]
    [InlineData("textgenrnn-cudnnlstm-weights")]
    [InlineData("dl4j-keras-bidirectional-lstm")]
    public void Every_fixture_layer_that_converts_exactly_matches_real_PyTorch(string fixture)
    {
        var folder = Repo.Fixture(fixture);
        int checkedLayers = 0;
        foreach (var file in Directory.GetFiles(folder).Where(f => f.EndsWith(".h5") || f.EndsWith(".hdf5") || f.EndsWith(".keras")))
        {
            var layers = ps.Objects<LstmLayer>("Get-LstmLayer $args[0]", file)
                .Where(l => l.LayerType is LayerType.LSTM or LayerType.GRU or LayerType.SimpleRNN).ToList();
            if (layers.Count == 0 || layers.Any(l => !l.TorchPortable)) continue; // the refusals are tested below
            using var dir = new TempDir();
            AllWithin(ConvertAndCompare(file, dir), layers.Count);
            checkedLayers += layers.Count;
        }
        Assert.True(checkedLayers > 0, $"no layer of {fixture} converts exactly");
    }

    [SkippableFact]
    public void Layers_without_an_exact_PyTorch_equivalent_are_refused_with_the_reason_and_converted_under_Force()
    {
        var file = Repo.Fixture("dl4j-keras2-simple-lstm", "simple_lstm_tf_keras_2_model.h5");
        var r = ps.Run("Get-LstmWeights $args[0] | ConvertTo-TorchLayout", file);
        var error = Assert.Single(r.Errors);
        Assert.Equal("NotTorchPortable", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Contains("hard_sigmoid recurrent activation", error.Exception.Message);
        Assert.Equal("lstm_1", error.TargetObject);
        Assert.Equal(["dense_1.weight", "dense_1.bias"], r.Output.Select(o => ((LstmTensor)o.BaseObject).Name));

        var forced = ps.Run("Get-LstmWeights $args[0] | ConvertTo-TorchLayout -Force -WarningVariable w; $w", file);
        Assert.Empty(forced.Errors);
        Assert.Contains(forced.Output, o => o.BaseObject is System.Management.Automation.WarningRecord w && w.Message.Contains("hard_sigmoid"));
        Assert.Equal(6, forced.Output.Count(o => o.BaseObject is LstmTensor));
    }

    [SkippableFact]
    public void GRU_reset_before_is_refused_and_hard_sigmoid_LSTM_converts_only_under_Force()
    {
        using var dir = new TempDir();
        var gru = ps.Run("Get-LstmWeights $args[0] | ConvertTo-TorchLayout", Make("gru-reset-before", dir));
        Assert.Contains("GRU reset_after=False", Assert.Single(gru.Errors).Exception.Message);
        Assert.Empty(gru.Output);
        var lstm = ps.Run("Get-LstmWeights $args[0] | ConvertTo-TorchLayout -Force", Make("lstm-hard-sigmoid", dir));
        Assert.Empty(lstm.Errors);
        Assert.Equal(4, lstm.Output.Count);
    }

    [Theory]
    [InlineData("type", "b is GRU but a is LSTM")]
    [InlineData("size", "b takes 5 inputs but a gives 4")]
    [InlineData("directions", "b has 2 direction(s) but a has 1")]
    [InlineData("units", "b has 5 units but a has 4; one PyTorch module has one hidden size")]
    public void StackAs_explains_why_layers_cannot_be_stacked(string problem, string reason)
    {
        var a = Tensors("a", LayerType.LSTM, 3, 4);
        var b = problem switch
        {
            "type" => Tensors("b", LayerType.GRU, 4, 4, resetAfter: true),
            "size" => Tensors("b", LayerType.LSTM, 5, 4),
            "units" => Tensors("b", LayerType.LSTM, 4, 5),
            _ => Tensors("b", LayerType.LSTM, 4, 4).Concat(Tensors("b", LayerType.LSTM, 4, 4, Direction.Backward)),
        };
        var r = ps.Run("$args[0] | ConvertTo-TorchLayout -StackAs rnn", (object)a.Concat(b).ToArray());
        // A statement-terminating error: the whole call stops, nothing is emitted.
        var e = Assert.Single(r.Errors);
        Assert.Equal("CannotStack", e.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Contains(reason, e.Exception.Message);
        Assert.Empty(r.Output);
    }

    [Fact]
    public void AsCell_names_one_cell_module_per_depth_and_direction()
    {
        var t = Tensors("enc", LayerType.LSTM, 3, 4)
            .Concat(Tensors("enc", LayerType.LSTM, 3, 4, Direction.Backward)).ToArray();
        var names = ps.Objects<LstmTensor>("$args[0] | ConvertTo-TorchLayout -AsCell", (object)t).Select(x => x.Name).ToList();
        Assert.Equal(["enc.weight_ih", "enc.weight_hh", "enc.bias_ih", "enc.bias_hh",
                      "enc_reverse.weight_ih", "enc_reverse.weight_hh", "enc_reverse.bias_ih", "enc_reverse.bias_hh"], names);
    }

    [Fact]
    public void Verbose_says_what_was_done_per_layer()
    {
        var t = Tensors("lstm_1", LayerType.LSTM, 3, 4).ToArray();
        var r = ps.Run("$args[0] | ConvertTo-TorchLayout -Verbose 4>&1", (object)t);
        var verbose = r.Output.Select(o => o.BaseObject).OfType<System.Management.Automation.VerboseRecord>().Single().Message;
        Assert.Equal("lstm_1 → lstm_1 (l0): transposed, gates IFCO→IFGO, bias → bias_ih, bias_hh = 0", verbose);
    }

    [SkippableFact]
    public void Metadata_of_converted_tensors_is_right()
    {
        var t = Tensors("gru", LayerType.GRU, 3, 4, resetAfter: true).ToArray();
        var torchT = ps.Objects<LstmTensor>("$args[0] | ConvertTo-TorchLayout", (object)t);
        Assert.All(torchT, x => Assert.Equal((Layout.Torch, GateOrder.RZN, 4, 3, "gru"), (x.Layout, x.GateOrder, x.Units, x.InputSize, x.Layer)));
        Assert.Equal([TensorRole.Kernel, TensorRole.RecurrentKernel, TensorRole.InputBias, TensorRole.RecurrentBias], torchT.Select(x => x.Role));
        // z,r,h → r,z,n: the first block of weight_ih is Keras's second block, transposed.
        var kernel = t.Single(x => x.Role == TensorRole.Kernel).Tensor;
        Assert.True(torchT[0].Tensor.narrow(0, 0, 4).equal(kernel.narrow(1, 4, 4).t()).all().item<bool>());
        // The [2,3h] rows stay input/recurrent halves.
        var bias = t.Single(x => x.Role == TensorRole.Bias).Tensor;
        Assert.True(torchT[3].Tensor.narrow(0, 4, 4).equal(bias[1].narrow(0, 0, 4)).all().item<bool>());
    }

    string MakeTorch(string kind, TempDir dir)
    {
        var path = dir.File(kind + ".pth");
        Python.Run("conversion_check.py", "make-torch", kind, path);
        return path;
    }

    /// <summary>Keras layer names for a multi-layer PyTorch module M: M, M_1, M_2, ...</summary>
    static (string, int) TorchDepth(string kerasLayer)
    {
        var m = System.Text.RegularExpressions.Regex.Match(kerasLayer, @"^(.*)_(\d+)$");
        return m.Success ? (m.Groups[1].Value, int.Parse(m.Groups[2].Value)) : (kerasLayer, 0);
    }

    [SkippableTheory]
    [InlineData("bilstm2", 2)]
    [InlineData("gru2", 2)]
    [InlineData("rnn", 1)]
    public void PyTorch_modules_go_to_Keras_layers_that_compute_the_same(string kind, int kerasLayers)
    {
        using var dir = new TempDir();
        var pth = MakeTorch(kind, dir);
        var keras = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] | ConvertTo-KerasLayout", pth);
        Assert.All(keras, t => Assert.Equal(Layout.Keras, t.Layout));
        var kerasOut = dir.File("keras.safetensors");
        ps.Objects<object>("$args[0] | Export-LstmWeights $args[1]", keras.ToArray(), kerasOut);
        var spec = Spec(keras, kerasOut, pth, null, TorchDepth);
        File.WriteAllText(dir.File("spec.json"), spec.ToJsonString());
        AllWithin(Python.Run("conversion_check.py", "compare", dir.File("spec.json")), kerasLayers);
    }

    [SkippableFact]
    public void PyTorch_LSTM_to_Keras_sums_the_two_biases_and_names_layers_as_tf_keras_does()
    {
        using var dir = new TempDir();
        var pth = MakeTorch("bilstm2", dir);
        var source = ps.Objects<LstmTensor>("Get-LstmWeights $args[0]", pth);
        var keras = ps.Objects<LstmTensor>("$args[0] | ConvertTo-KerasLayout", (object)source.ToArray());
        Assert.Equal(["lstm/forward_lstm/lstm_cell/kernel:0", "lstm/forward_lstm/lstm_cell/recurrent_kernel:0", "lstm/forward_lstm/lstm_cell/bias:0",
                      "lstm/backward_lstm/lstm_cell/kernel:0", "lstm/backward_lstm/lstm_cell/recurrent_kernel:0", "lstm/backward_lstm/lstm_cell/bias:0",
                      "lstm_1/forward_lstm/lstm_cell/kernel:0", "lstm_1/forward_lstm/lstm_cell/recurrent_kernel:0", "lstm_1/forward_lstm/lstm_cell/bias:0",
                      "lstm_1/backward_lstm/lstm_cell/kernel:0", "lstm_1/backward_lstm/lstm_cell/recurrent_kernel:0", "lstm_1/backward_lstm/lstm_cell/bias:0",
                      "head/kernel:0", "head/bias:0"], keras.Select(t => t.Name));
        var bias = keras.Single(t => t.Name == "lstm_1/backward_lstm/lstm_cell/bias:0").Tensor;
        var sum = source.Single(t => t.Name == "lstm.bias_ih_l1_reverse").Tensor + source.Single(t => t.Name == "lstm.bias_hh_l1_reverse").Tensor;
        Assert.True(bias.allclose(sum, 0, 0));
        Assert.Equal(Direction.Backward, keras.Single(t => t.Name == "lstm_1/backward_lstm/lstm_cell/bias:0").Direction);
        Assert.Equal("concat", keras[0].Config[ConfigKeys.MergeMode]);
    }

    [SkippableTheory]
    [InlineData("bilstm2", "lstm")]
    [InlineData("gru2", "gru")]
    public void PyTorch_to_Keras_and_back_is_bit_identical_up_to_the_bias_split(string kind, string module)
    {
        using var dir = new TempDir();
        var pth = MakeTorch(kind, dir);
        var source = ps.Objects<LstmTensor>("Get-LstmWeights $args[0]", pth);
        // The module's depths become Keras layers lstm, lstm_1; -StackAs makes them one module again.
        var back = ps.Objects<LstmTensor>("$args[0] | ConvertTo-KerasLayout | ConvertTo-TorchLayout -StackAs $args[1]", source.ToArray(), module);
        Assert.Equal(source.Select(t => t.Name), back.Select(t => t.Name));
        foreach (var (a, b) in source.Zip(back))
        {
            Assert.Equal(a.Shape, b.Shape);
            if (a.Role is TensorRole.InputBias or TensorRole.RecurrentBias && a.LayerType == LayerType.LSTM) continue;
            Assert.True(a.Tensor.equal(b.Tensor).all().item<bool>(), $"{a.Name} changed");
        }
        // An LSTM's biases come back summed into bias_ih.
        foreach (var ih in source.Where(t => t.Role == TensorRole.InputBias && t.LayerType == LayerType.LSTM))
        {
            var hh = source.Single(t => t.Name == ih.Name.Replace("bias_ih", "bias_hh"));
            Assert.True(back.Single(t => t.Name == ih.Name).Tensor.allclose(ih.Tensor + hh.Tensor, 0, 0));
            Assert.Equal(0f, back.Single(t => t.Name == hh.Name).Tensor.abs().sum().item<float>());
        }
    }

    [SkippableFact]
    public void PyTorch_fixtures_go_to_Keras_and_back()
    {
        foreach (var file in Directory.GetFiles(Repo.Fixture("allennlp-torch-state-dicts-legacy-and-zip"), "*.th")
                     .Concat(Directory.GetFiles(Repo.Fixture("chrisprasanna-torch-zip-stacked-lstm"), "*.pt")))
        {
            var source = ps.Objects<LstmTensor>("Get-LstmWeights $args[0]", file)
                .Where(t => t.LayerType is LayerType.LSTM or LayerType.GRU && t.Role != TensorRole.ProjectionKernel).ToList();
            if (source.Count == 0) continue;
            var r = ps.Run("$args[0] | ConvertTo-KerasLayout | ConvertTo-TorchLayout", (object)source.ToArray());
            Assert.True(r.Errors.Count == 0, Path.GetFileName(file) + ": " + string.Join("; ", r.Errors.Select(LstmPort.Host.ScriptRunner.Describe)));
            // Several modules and cells in one file come back as separate modules, in the same order.
            var back = r.Output.Select(o => (LstmTensor)o.BaseObject).ToList();
            Assert.Equal(source.Select(t => (t.Role, t.Direction, string.Join(",", t.Shape))), back.Select(t => (t.Role, t.Direction, string.Join(",", t.Shape))));
            foreach (var (t, b) in source.Zip(back).Where(p => p.First.Role is TensorRole.Kernel or TensorRole.RecurrentKernel || p.First.LayerType == LayerType.GRU))
                Assert.True(b.Tensor.equal(t.Tensor).all().item<bool>(), $"{Path.GetFileName(file)}: {t.Name} changed");
        }
    }

    [SkippableFact]
    public void CuDNN_to_Keras_gives_plain_LSTM_weights_that_compute_what_the_PyTorch_conversion_computes()
    {
        var file = Repo.Fixture("textgenrnn-cudnnlstm-weights", "textgenrnn_weights_keras215_cudnn.hdf5");
        using var dir = new TempDir();
        var keras = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] -Layer rnn_* | ConvertTo-KerasLayout", file);
        Assert.All(keras, t => Assert.False(t.Config.ContainsKey(ConfigKeys.Cudnn)));
        Assert.Equal([512], keras.Single(t => t.Name == "rnn_1/lstm_cell/bias:0").Shape);
        string kerasOut = dir.File("k.safetensors"), torchOut = dir.File("t.pth");
        ps.Objects<object>("$args[0] | Export-LstmWeights $args[1]; Get-LstmWeights $args[2] -Layer rnn_* | ConvertTo-TorchLayout | Export-LstmWeights $args[3]",
            keras.ToArray(), kerasOut, file, torchOut);
        File.WriteAllText(dir.File("spec.json"), Spec(keras, kerasOut, torchOut, null).ToJsonString());
        AllWithin(Python.Run("conversion_check.py", "compare", dir.File("spec.json")), 2);
    }

    /// <summary>Keras-layout tensors for one layer, with seeded values.</summary>
    internal static IEnumerable<LstmTensor> Tensors(string layer, LayerType type, int input, int units,
        Direction direction = Direction.Forward, bool resetAfter = false)
    {
        int gates = type switch { LayerType.LSTM => 4, LayerType.GRU => 3, _ => 1 };
        var gen = new torch.Generator((ulong)(42 + input * 7 + units + (int)direction));
        var config = new Dictionary<string, object?> { [ConfigKeys.Activation] = "tanh", [ConfigKeys.RecurrentActivation] = "sigmoid", [ConfigKeys.ResetAfter] = resetAfter };
        var order = type == LayerType.GRU ? GateOrder.ZRH : type == LayerType.LSTM ? GateOrder.IFCO : GateOrder.None;
        LstmTensor T(torch.Tensor x, string name, TensorRole role) =>
            LstmTensor.FromTensor(x, $"{layer}/{name}:0", layer, type, role, Layout.Keras, direction, 0, order, units, input, config);
        yield return T(torch.randn([input, gates * units], generator: gen), "kernel", TensorRole.Kernel);
        yield return T(torch.randn([units, gates * units], generator: gen), "recurrent_kernel", TensorRole.RecurrentKernel);
        yield return T(resetAfter ? torch.randn([2, gates * units], generator: gen) : torch.randn([gates * units], generator: gen), "bias", TensorRole.Bias);
    }
}

/// <summary>TF1 cells converted to PyTorch reproduce the outputs real TensorFlow stored beside its frozen graphs.</summary>
public sealed class Tf1ConversionTests(ModuleSession ps) : IClassFixture<ModuleSession>
{
    static string Graph(string cell) => Directory.GetDirectories(Repo.Fixture("dl4j-tf1-rnn-frozen-graphs", cell)).Single();

    [SkippableTheory]
    [InlineData("basiclstmcell", "", "rnn", "LSTM", 1, false)]
    [InlineData("lstmblockcell", "", "rnn", "LSTM", 1, false)]
    [InlineData("bstack", "-StackAs rnn", "rnn", "SimpleRNN", 3, true)]
    public void TF1_cells_through_real_PyTorch_match_the_stored_TensorFlow_outputs(string cell, string options, string module, string type, int layers, bool bidirectional)
    {
        var dir = Graph(cell);
        using var tmp = new TempDir();
        string input = tmp.File("in.safetensors"), pth = tmp.File("t.pth");
        var r = ps.Run($"$w = Get-LstmWeights $args[0]; $w | Where-Object Name -eq 'in_0' | Export-LstmWeights $args[1]; $w | ConvertTo-TorchLayout {options} -WarningAction SilentlyContinue | Export-LstmWeights $args[2]",
            Path.Combine(dir, "frozen_model.pb"), input, pth);
        Assert.True(r.Errors.Count == 0, string.Join("\n", r.Errors.Select(LstmPort.Host.ScriptRunner.Describe)));
        var keys = ps.Objects<LstmTensor>("Get-LstmWeights $args[0]", pth);
        var ih = keys.First(k => k.Role == TensorRole.Kernel);
        var spec = new System.Text.Json.Nodes.JsonObject
        {
            ["pth"] = pth, ["input"] = input, ["expected_csv"] = Path.Combine(dir, "concat.prediction.csv"),
            ["expected_shape"] = new System.Text.Json.Nodes.JsonArray(File.ReadAllText(Path.Combine(dir, "concat.prediction.shape"))
                .Split((char[])[' ', '\n', ','], StringSplitOptions.RemoveEmptyEntries).Select(d => (System.Text.Json.Nodes.JsonNode)int.Parse(d)).ToArray()),
            ["module"] = cell == "bstack" ? module : ih.Layer, ["type"] = type, ["layers"] = layers, ["bidirectional"] = bidirectional,
            ["input_size"] = ih.InputSize, ["units"] = ih.Units,
        };
        File.WriteAllText(tmp.File("spec.json"), spec.ToJsonString());
        var error = Python.Run("tf1_torch_check.py", tmp.File("spec.json")).GetProperty("max_abs_error").GetDouble();
        Assert.True(error < 1e-5, $"{cell}: PyTorch differs from TensorFlow's stored outputs by {error:E2}");
    }

    [SkippableFact]
    public void A_TF1_GRUCell_is_refused_for_PyTorch_and_converts_exactly_to_Keras()
    {
        var graph = Path.Combine(Graph("grucell"), "frozen_model.pb");
        var r = ps.Run("Get-LstmWeights $args[0] | ConvertTo-TorchLayout -WarningAction SilentlyContinue", graph);
        var e = Assert.Single(r.Errors);
        Assert.Equal("NotTorchPortable", e.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Contains("reset_after=False", e.Exception.Message);
        var keras = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] | Where-Object LayerType -eq GRU | ConvertTo-KerasLayout", graph);
        Assert.Equal(3, keras.Count);
        Assert.All(keras, t => Assert.Equal((Layout.Keras, GateOrder.ZRH, false), (t.Layout, t.GateOrder, (bool)t.Config[ConfigKeys.ResetAfter]!)));
    }

    [SkippableFact]
    public void ForgetBias_is_folded_into_the_forget_gate_bias_and_can_be_overridden()
    {
        var graph = Path.Combine(Graph("basiclstmcell"), "frozen_model.pb");
        float ForgetBlockMean(string opts) => ps.Objects<LstmTensor>($"Get-LstmWeights $args[0] | ConvertTo-TorchLayout {opts} -WarningAction SilentlyContinue", graph)
            .Single(t => t.Role == TensorRole.InputBias).Tensor.narrow(0, 3, 3).mean().item<float>(); // i,f,g,o blocks of 3: f is the second
        var tf1Bias = ps.Objects<LstmTensor>("Get-LstmWeights $args[0]", graph).Single(t => t.Role == TensorRole.Bias).Tensor;
        // IJFO: f is the third block of the TF1 bias.
        float stored = tf1Bias.narrow(0, 6, 3).mean().item<float>();
        Assert.Equal(stored + 1.0f, ForgetBlockMean(""), 5);
        Assert.Equal(stored + 0.25f, ForgetBlockMean("-ForgetBias 0.25"), 5);
        var verbose = ps.Run("Get-LstmWeights $args[0] | ConvertTo-TorchLayout -Verbose -WarningAction SilentlyContinue 4>&1", graph)
            .Output.Select(o => o.BaseObject).OfType<System.Management.Automation.VerboseRecord>().Select(v => v.Message).ToList();
        Assert.Contains(verbose, v => v.Contains("forget_bias 1 folded into the forget-gate bias, gates IJFO→IFGO"));
    }
}

/// <summary>Test-LstmEquivalence agrees with the conversions, on real files.</summary>
public sealed class ConversionEquivalenceTests(ModuleSession ps) : IClassFixture<ModuleSession>
{
    List<LstmPort.Verification.EquivalenceResult> Check(string script, params object[] args)
    {
        var r = ps.Run(script, args);
        Assert.True(r.Errors.Count == 0, string.Join("\n", r.Errors.Select(LstmPort.Host.ScriptRunner.Describe)));
        return r.Output.Select(o => o.BaseObject).OfType<LstmPort.Verification.EquivalenceResult>().ToList();
    }

    [SkippableTheory]
    [InlineData("dl4j-tfkeras-rnn", "rnn_122.h5")]
    [InlineData("keras3-martinpiz097-lstm-gru", "lstm_model.keras")]
    [InlineData("keras3-martinpiz097-lstm-gru", "gru_model.keras")]
    [InlineData("textgenrnn-cudnnlstm-weights", "textgenrnn_weights_keras215_cudnn.hdf5")]
    [InlineData("dl4j-tfkeras-rnn", "rnn_123.h5")]
    public void Keras_fixtures_and_their_PyTorch_conversion_are_equivalent(string fixture, string file)
    {
        var path = Repo.Fixture(fixture, file);
        var portable = ps.Objects<LstmLayer>("Get-LstmLayer $args[0]", path).Where(l => l.LayerType is LayerType.LSTM or LayerType.GRU or LayerType.SimpleRNN).ToList();
        Skip.If(portable.Any(l => !l.TorchPortable), $"{file} has layers that do not convert exactly: {string.Join("; ", portable.Where(l => !l.TorchPortable).Select(l => l.Reason))}");
        var results = Check("$k = Get-LstmWeights $args[0] | Where-Object LayerType -ne Other; Test-LstmEquivalence $k ($k | ConvertTo-TorchLayout)", path);
        Assert.NotEmpty(results);
        Assert.All(results, r => Assert.True(r.Passed, $"{r.Layer} {r.Direction}: {r.Status} {r.MaxAbsError} {r.Reason}"));
        Assert.Equal(portable.Sum(l => l.Bidirectional ? 2 : 1), results.Count(r => r.LayerType != LayerType.Dense && r.LayerType != LayerType.Embedding));
    }

    [SkippableFact]
    public void A_TF1_bidirectional_stack_goes_to_Keras_and_PyTorch_equivalently()
    {
        var graph = Directory.GetFiles(Repo.Fixture("dl4j-tf1-rnn-frozen-graphs", "bstack"), "frozen_model.pb", SearchOption.AllDirectories).Single();
        var keras = Check("$t = Get-LstmWeights $args[0] | Where-Object LayerType -ne Other; Test-LstmEquivalence $t ($t | ConvertTo-KerasLayout)", graph);
        Assert.Equal(6, keras.Count);
        Assert.All(keras, r => Assert.True(r.Passed, $"{r.Layer} {r.Direction}: {r.Status} {r.MaxAbsError} {r.Reason}"));
        var torch = Check("$t = Get-LstmWeights $args[0] | Where-Object LayerType -ne Other; Test-LstmEquivalence $t ($t | ConvertTo-TorchLayout)", graph);
        Assert.Equal(6, torch.Count);
        Assert.All(torch, r => Assert.True(r.Passed, $"{r.Layer} {r.Direction}: {r.Status} {r.MaxAbsError} {r.Reason}"));
    }

    [SkippableFact]
    public void Forgetting_the_TF1_forget_bias_is_caught()
    {
        var graph = Directory.GetFiles(Repo.Fixture("dl4j-tf1-rnn-frozen-graphs", "basiclstmcell"), "frozen_model.pb", SearchOption.AllDirectories).Single();
        var r = ps.Run("$t = Get-LstmWeights $args[0] | Where-Object LayerType -ne Other; Test-LstmEquivalence $t ($t | ConvertTo-TorchLayout -ForgetBias 0)", graph);
        var result = r.Output.Select(o => o.BaseObject).OfType<LstmPort.Verification.EquivalenceResult>().Single();
        Assert.False(result.Passed);
        Assert.True(result.MaxAbsError > 1e-3, $"error {result.MaxAbsError}");
        Assert.NotEmpty(r.Errors); // $? is false
    }
}
