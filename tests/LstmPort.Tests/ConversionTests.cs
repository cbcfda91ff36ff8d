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

    static JsonObject Spec(IReadOnlyList<LstmTensor> tensors, string kerasOut, string torchOut, string? stackModule)
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
                ["torch"] = new JsonObject { ["module"] = stackModule ?? layer.Key, ["depth"] = stackModule is null ? 0 : layers.Count },
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

    static void AllWithin(JsonElement result, int expectedLayers)
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

    [Fact]
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
    public void StackAs_explains_why_layers_cannot_be_stacked(string problem, string reason)
    {
        var a = Tensors("a", LayerType.LSTM, 3, 4);
        var b = problem switch
        {
            "type" => Tensors("b", LayerType.GRU, 4, 4, resetAfter: true),
            "size" => Tensors("b", LayerType.LSTM, 5, 4),
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

    [Fact]
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
