using System.Text.Json;
using System.Text.Json.Nodes;
using LstmPort.Formats;
using LstmPort.Verification;
using static TorchSharp.torch;

namespace LstmPort.Tests;

/// <summary>
/// Every TF1 cell kind people used, in checkpoints written here from the tensor bundle format:
/// read with the right roles, shapes, types and values, converted through the canonical form to
/// PyTorch and Keras, and checked by Test-LstmEquivalence against the TF1 cell's own equations
/// (max abs error under 1e-5). Layers a target cannot compute are refused with the reason.
/// </summary>
public sealed class Tf1CellKindsTests(ModuleSession ps) : IClassFixture<ModuleSession>
{
    internal static float[] Random(int seed, long n, double scale = 0.5)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, (int)n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale)).ToArray();
    }

    internal static TfCheckpointWriter.Variable V(string name, long[] shape, int seed) =>
        new(name, shape, Random(seed, shape.Aggregate(1L, (a, b) => a * b)));

    internal static string Write(TempDir dir, IEnumerable<TfCheckpointWriter.Variable> variables, byte[]? meta = null, string name = "model.ckpt")
    {
        var prefix = dir.File(name);
        new TfCheckpointWriter().Write(prefix, variables);
        if (meta is not null) File.WriteAllBytes(prefix + ".meta", meta);
        return prefix;
    }

    /// <summary>Test-LstmEquivalence of the file's layers against their conversion; every result must pass under 1e-5.</summary>
    void AssertEquivalent(string path, string convert, int results)
    {
        var r = ps.Objects<EquivalenceResult>(
            $"$t = Get-LstmWeights $args[0] -WarningAction SilentlyContinue | Where-Object LayerType -ne Other; Test-LstmEquivalence $t ($t | {convert})", path);
        Assert.Equal(results, r.Count);
        Assert.All(r, x => Assert.True(x.Passed && x.MaxAbsError < 1e-5, $"{x.Layer} {x.Direction} via {convert}: {x.Status} {x.MaxAbsError} {x.Reason}"));
    }

    static float[] Values(LstmTensor t) => t.Tensor.to_type(ScalarType.Float32).flatten().data<float>().ToArray();

    // ---- LSTM cells ----

    [Theory]
    [InlineData("rnn/basic_lstm_cell/kernel", "rnn/basic_lstm_cell/bias", "rnn")]                   // BasicLSTMCell, TF 1.2+
    [InlineData("rnn/lstm_cell/kernel", "rnn/lstm_cell/bias", "rnn")]                               // LSTMCell, LSTMBlockCell
    [InlineData("lstm_fused_cell/kernel", "lstm_fused_cell/bias", "lstm_fused_cell")]               // LSTMBlockFusedCell
    [InlineData("rnn/basic_lstm_cell/weights", "rnn/basic_lstm_cell/biases", "rnn")]                // TF 1.0 spelling
    [InlineData("RNN/BasicLSTMCell/Linear/Matrix", "RNN/BasicLSTMCell/Linear/Bias", "RNN")]         // TF 0.12
    [InlineData("encoder/rnn/my_lstm/kernel", "encoder/rnn/my_lstm/bias", "encoder/rnn/my_lstm")]   // a cell named by its user, in dynamic_rnn's scope
    public void LSTM_cells_read_with_their_roles_and_values_and_convert_exactly(string kernelName, string biasName, string layer)
    {
        using var dir = new TempDir();
        var kernel = V(kernelName, [5 + 4, 16], 1);
        var bias = V(biasName, [16], 2);
        var prefix = Write(dir, [kernel, bias, V(kernelName + "/Adam", [9, 16], 3), V("global_step", [], 4)]);
        var f = WeightReader.Read(prefix);
        Assert.Empty(f.Errors);
        Assert.Empty(f.Warnings);
        Assert.Equal([kernelName, biasName], f.Tensors.Select(t => t.Name));
        Assert.All(f.Tensors, t => Assert.Equal((layer, LayerType.LSTM, Layout.TensorFlow, GateOrder.IJFO, 4, 5, 0, Direction.Forward),
            (t.Layer, t.LayerType, t.Layout, t.GateOrder, t.Units, t.InputSize, t.StackIndex, t.Direction)));
        Assert.Equal([TensorRole.FusedKernel, TensorRole.Bias], f.Tensors.Select(t => t.Role));
        Assert.Equal([9, 16], f.Tensors[0].Shape);
        Assert.Equal(kernel.Values, Values(f.Tensors[0]));
        Assert.Equal(bias.Values, Values(f.Tensors[1]));
        Assert.Equal(1.0, f.Tensors[0].Config[ConfigKeys.ForgetBias]);
        Assert.Contains(ConfigKeys.ForgetBias, (string[])f.Tensors[0].Config[ConfigKeys.Inferred]!);
        Assert.Contains("2 ", Assert.Single(f.Notes)); // the Adam slot and global_step

        AssertEquivalent(prefix, "ConvertTo-TorchLayout", 1);
        AssertEquivalent(prefix, "ConvertTo-KerasLayout", 1);
    }

    [Fact]
    public void An_LSTMBlockCell_takes_forget_bias_from_the_meta_graph_and_folds_it()
    {
        using var dir = new TempDir();
        // The .meta of a graph that ran tf.contrib.rnn.LSTMBlockCell(forget_bias=0.5): the op carries it.
        var meta = new TfGraphWriter().Variable("rnn/lstm_cell/kernel").Variable("rnn/lstm_cell/bias")
            .Node("rnn/while/lstm_cell/LSTMBlockCell", "LSTMBlockCell",
                ["rnn/while/x", "rnn/while/cs", "rnn/while/h", "rnn/lstm_cell/kernel/read", "w_i", "w_f", "w_o", "rnn/lstm_cell/bias/read"],
                ("forget_bias", TfGraphWriter.AttrF(0.5f)), ("cell_clip", TfGraphWriter.AttrF(-1f)), ("use_peephole", TfGraphWriter.AttrB(false)))
            .Node("save/Const", "Const", [], ("dtype", TfGraphWriter.AttrType(7)), ("value", TfGraphWriter.AttrTensor(TfGraphWriter.StringScalar("model"))))
            .MetaGraph();
        var bias = V("rnn/lstm_cell/bias", [12], 2);
        var prefix = Write(dir, [V("rnn/lstm_cell/kernel", [4 + 3, 12], 1), bias], meta);
        var f = WeightReader.Read(prefix);
        Assert.Empty(f.Warnings); // the string constant of the saver does not spoil the graph
        Assert.Equal(0.5, f.Tensors[0].Config[ConfigKeys.ForgetBias]);
        Assert.DoesNotContain(ConfigKeys.ForgetBias, (string[])f.Tensors[0].Config[ConfigKeys.Inferred]!);

        var torch = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] | ConvertTo-TorchLayout", prefix);
        var biasIh = Values(torch.Single(t => t.Name == "rnn.bias_ih_l0"));
        for (int k = 0; k < 3; k++) // PyTorch's f block (second) = TF1's f block (third) + 0.5
            Assert.Equal(bias.Values[6 + k] + 0.5f, biasIh[3 + k], 5);
        AssertEquivalent(prefix, "ConvertTo-TorchLayout", 1);
        AssertEquivalent(prefix, "ConvertTo-KerasLayout", 1);
    }

    [Fact]
    public void An_LSTMCell_with_num_proj_reads_its_projection_and_Keras_refuses_it()
    {
        using var dir = new TempDir();
        var projection = V("rnn/lstm_cell/projection/kernel", [4, 2], 3);
        var prefix = Write(dir, [V("rnn/lstm_cell/kernel", [5 + 2, 16], 1), V("rnn/lstm_cell/bias", [16], 2), projection]);
        var f = WeightReader.Read(prefix);
        var p = f.Tensors.Single(t => t.Role == TensorRole.ProjectionKernel);
        Assert.Equal((4, 5, 2), (p.Units, p.InputSize, (int)p.Config[ConfigKeys.NumProj]!));
        Assert.Equal(projection.Values, Values(p));
        var torch = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] | ConvertTo-TorchLayout", prefix);
        Assert.Equal([2, 4], torch.Single(t => t.Name == "rnn.weight_hr_l0").Shape);
        Assert.Equal([16, 2], torch.Single(t => t.Name == "rnn.weight_hh_l0").Shape);
        var r = ps.Run("Get-LstmWeights $args[0] | ConvertTo-KerasLayout", prefix);
        Assert.Equal("NotKerasPortable", Assert.Single(r.Errors).FullyQualifiedErrorId.Split(',')[0]);
        Assert.Contains("num_proj", r.Errors[0].Exception.Message);
    }

    [Fact]
    public void An_LSTMCell_with_peepholes_is_refused_for_PyTorch_with_the_reason_unless_Force()
    {
        using var dir = new TempDir();
        var prefix = Write(dir, [V("rnn/lstm_cell/kernel", [5 + 4, 16], 1), V("rnn/lstm_cell/bias", [16], 2),
            V("rnn/lstm_cell/w_i_diag", [4], 3), V("rnn/lstm_cell/w_f_diag", [4], 4), V("rnn/lstm_cell/w_o_diag", [4], 5)]);
        var f = WeightReader.Read(prefix);
        Assert.Equal([TensorRole.FusedKernel, TensorRole.Bias, TensorRole.Peephole, TensorRole.Peephole, TensorRole.Peephole], f.Tensors.Select(t => t.Role));
        Assert.Equal(true, f.Tensors[0].Config[ConfigKeys.UsePeepholes]);

        var refused = ps.Run("Get-LstmWeights $args[0] | ConvertTo-TorchLayout", prefix);
        Assert.Empty(refused.Output);
        Assert.Equal("NotTorchPortable", Assert.Single(refused.Errors).FullyQualifiedErrorId.Split(',')[0]);
        Assert.Contains("peephole", refused.Errors[0].Exception.Message);
        Assert.Contains("NotKerasPortable", ps.Run("Get-LstmWeights $args[0] | ConvertTo-KerasLayout", prefix).Errors.Single().FullyQualifiedErrorId);

        // -Force converts without the peepholes, and the check shows the difference they made.
        var forced = ps.Run("$t = Get-LstmWeights $args[0]; Test-LstmEquivalence $t ($t | ConvertTo-TorchLayout -Force -WarningAction SilentlyContinue)", prefix);
        var result = (EquivalenceResult)Assert.Single(forced.Output).BaseObject;
        Assert.Equal(EquivalenceStatus.Failed, result.Status);
        Assert.True(result.MaxAbsError > 1e-3);
    }

    // ---- GRU and BasicRNN cells ----

    [Theory]
    [InlineData("gates/kernel", "gates/bias", "candidate/kernel", "candidate/bias")]   // GRUCell
    [InlineData("gates/weights", "gates/biases", "candidate/weights", "candidate/biases")] // GRUCell, TF 1.0
    [InlineData("w_ru", "b_ru", "w_c", "b_c")]                                         // tf.contrib.rnn.GRUBlockCell
    public void GRU_cells_read_as_GRU_reset_before_convert_to_Keras_exactly_and_are_refused_for_PyTorch(string gk, string gb, string ck, string cb)
    {
        using var dir = new TempDir();
        var vars = new[] { V($"rnn/gru_cell/{gk}", [5 + 3, 6], 1), V($"rnn/gru_cell/{gb}", [6], 2), V($"rnn/gru_cell/{ck}", [5 + 3, 3], 3), V($"rnn/gru_cell/{cb}", [3], 4) };
        var prefix = Write(dir, vars);
        var f = WeightReader.Read(prefix);
        Assert.Empty(f.Warnings);
        Assert.Equal(vars.Select(v => v.Name), f.Tensors.Select(t => t.Name)); // gates kernel, gates bias, candidate kernel, candidate bias
        Assert.Equal([TensorRole.FusedKernel, TensorRole.Bias, TensorRole.CandidateKernel, TensorRole.CandidateBias], f.Tensors.Select(t => t.Role));
        Assert.Equal([GateOrder.RU, GateOrder.RU, GateOrder.None, GateOrder.None], f.Tensors.Select(t => t.GateOrder));
        Assert.All(f.Tensors, t => Assert.Equal(("rnn", LayerType.GRU, 3, 5, false), (t.Layer, t.LayerType, t.Units, t.InputSize, t.Config[ConfigKeys.ResetAfter])));
        foreach (var v in vars) Assert.Equal(v.Values, Values(f.Tensors.Single(t => t.Name == v.Name)));

        AssertEquivalent(prefix, "ConvertTo-KerasLayout", 1);
        var r = ps.Run("Get-LstmWeights $args[0] | ConvertTo-TorchLayout", prefix);
        Assert.Equal("NotTorchPortable", Assert.Single(r.Errors).FullyQualifiedErrorId.Split(',')[0]);
        Assert.Contains("reset_after", r.Errors[0].Exception.Message);
    }

    [Fact]
    public void A_BasicRNNCell_reads_as_SimpleRNN_and_converts_exactly()
    {
        using var dir = new TempDir();
        var prefix = Write(dir, [V("rnn/basic_rnn_cell/kernel", [5 + 4, 4], 1), V("rnn/basic_rnn_cell/bias", [4], 2)]);
        var f = WeightReader.Read(prefix);
        Assert.All(f.Tensors, t => Assert.Equal(("rnn", LayerType.SimpleRNN, 4, 5), (t.Layer, t.LayerType, t.Units, t.InputSize)));
        Assert.Equal([TensorRole.FusedKernel, TensorRole.Bias], f.Tensors.Select(t => t.Role));
        AssertEquivalent(prefix, "ConvertTo-TorchLayout", 1);
        AssertEquivalent(prefix, "ConvertTo-KerasLayout", 1);
    }

    [Fact]
    public void Bidirectional_dynamic_rnn_fw_and_bw_cells_are_the_two_directions_of_one_layer()
    {
        using var dir = new TempDir();
        var prefix = Write(dir, [
            V("bidirectional_rnn/fw/lstm_cell/kernel", [5 + 4, 16], 1), V("bidirectional_rnn/fw/lstm_cell/bias", [16], 2),
            V("bidirectional_rnn/bw/lstm_cell/kernel", [5 + 4, 16], 3), V("bidirectional_rnn/bw/lstm_cell/bias", [16], 4)]);
        var f = WeightReader.Read(prefix);
        Assert.Equal([Direction.Forward, Direction.Forward, Direction.Backward, Direction.Backward], f.Tensors.Select(t => t.Direction)); // forward first, though the keys sort bw first
        Assert.All(f.Tensors, t => Assert.Equal("bidirectional_rnn", t.Layer));
        var torch = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] | ConvertTo-TorchLayout", prefix);
        Assert.Contains(torch, t => t.Name == "bidirectional_rnn.weight_ih_l0_reverse");
        AssertEquivalent(prefix, "ConvertTo-TorchLayout", 2);
        AssertEquivalent(prefix, "ConvertTo-KerasLayout", 2);
    }

    // ---- tf.contrib.cudnn_rnn ----

    [Fact]
    public void CudnnLSTM_canonical_checkpoints_are_LSTM_cells_with_forget_bias_0()
    {
        using var dir = new TempDir();
        var prefix = Write(dir, [
            V("rnn/multi_rnn_cell/cell_0/cudnn_compatible_lstm_cell/kernel", [5 + 3, 12], 1), V("rnn/multi_rnn_cell/cell_0/cudnn_compatible_lstm_cell/bias", [12], 2),
            V("rnn/multi_rnn_cell/cell_1/cudnn_compatible_lstm_cell/kernel", [3 + 3, 12], 3), V("rnn/multi_rnn_cell/cell_1/cudnn_compatible_lstm_cell/bias", [12], 4)]);
        var f = WeightReader.Read(prefix);
        Assert.Equal([0, 0, 1, 1], f.Tensors.Select(t => t.StackIndex));
        Assert.All(f.Tensors, t =>
        {
            Assert.Equal(0.0, t.Config[ConfigKeys.ForgetBias]); // CudnnCompatibleLSTMCell fixes it
            Assert.DoesNotContain(ConfigKeys.ForgetBias, (string[])t.Config[ConfigKeys.Inferred]!);
        });
        AssertEquivalent(prefix, "ConvertTo-TorchLayout -StackAs rnn", 2);
        AssertEquivalent(prefix, "ConvertTo-KerasLayout", 2);
    }

    [Fact]
    public void CudnnGRU_canonical_checkpoints_are_GRUs_that_reset_after_the_matmul_and_convert_to_PyTorch_exactly()
    {
        using var dir = new TempDir();
        const string cell = "rnn/multi_rnn_cell/cell_0/cudnn_compatible_gru_cell";
        var vars = new[]
        {
            V($"{cell}/gates/kernel", [5 + 3, 6], 1), V($"{cell}/gates/bias", [6], 2),
            V($"{cell}/candidate/input_projection/kernel", [5, 3], 3), V($"{cell}/candidate/input_projection/bias", [3], 4),
            V($"{cell}/candidate/hidden_projection/kernel", [3, 3], 5), V($"{cell}/candidate/hidden_projection/bias", [3], 6),
        };
        var prefix = Write(dir, vars);
        var f = WeightReader.Read(prefix);
        Assert.Empty(f.Warnings);
        Assert.Equal([TensorRole.FusedKernel, TensorRole.Bias, TensorRole.CandidateKernel, TensorRole.CandidateBias, TensorRole.RecurrentKernel, TensorRole.RecurrentBias],
            f.Tensors.Select(t => t.Role));
        Assert.All(f.Tensors, t => Assert.Equal((LayerType.GRU, 3, 5, true), (t.LayerType, t.Units, t.InputSize, t.Config[ConfigKeys.ResetAfter])));
        foreach (var v in vars) Assert.Equal(v.Values, Values(f.Tensors.Single(t => t.Name == v.Name)));

        // b_hn, inside r*(...), is the hidden projection's bias: PyTorch keeps it in bias_hh.
        var torch = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] | ConvertTo-TorchLayout", prefix);
        var biasHh = Values(torch.Single(t => t.Name.EndsWith("bias_hh_l0")));
        Assert.Equal(new float[6].Concat(vars[5].Values), biasHh);
        AssertEquivalent(prefix, "ConvertTo-TorchLayout", 1);
        AssertEquivalent(prefix, "ConvertTo-KerasLayout", 1);
    }

    /// <summary>cuDNN's per-layer parameters: input matrices W [h,in] and recurrent R [h,h] per gate, biases bW and bR [h].</summary>
    sealed record CudnnLayer(Tensor[] W, Tensor[] R, Tensor[] BW, Tensor[] BR);

    static List<CudnnLayer> CudnnLayers(int gates, int layers, int dirs, int input, int h, int seed)
    {
        var g = manual_seed(seed);
        Tensor T(params long[] shape) => (rand(shape, generator: g) - 0.5f) * 0.8f;
        var result = new List<CudnnLayer>();
        for (int l = 0; l < layers; l++)
            for (int d = 0; d < dirs; d++)
            {
                int i = l == 0 ? input : h * dirs;
                result.Add(new CudnnLayer(
                    Enumerable.Range(0, gates).Select(_ => T(h, i)).ToArray(), Enumerable.Range(0, gates).Select(_ => T(h, h)).ToArray(),
                    Enumerable.Range(0, gates).Select(_ => T(h)).ToArray(), Enumerable.Range(0, gates).Select(_ => T(h)).ToArray()));
            }
        return result;
    }

    /// <summary>The opaque buffer: every layer's matrices (W per gate, then R per gate), then every layer's biases (bW, then bR).</summary>
    static float[] Opaque(List<CudnnLayer> layers) =>
        layers.SelectMany(c => c.W.Concat(c.R)).Concat(layers.SelectMany(c => c.BW.Concat(c.BR)))
            .SelectMany(t => t.flatten().data<float>().ToArray()).ToArray();

    static float[] Flat(Tensor t) => t.contiguous().flatten().data<float>().ToArray();

    /// <summary>The .meta graph's CudnnRNNParamsToCanonical, which gives the buffer's sizes and mode.</summary>
    static byte[] CudnnMeta(string variable, string mode, int layers, int units, int input, bool bidirectional) =>
        new TfGraphWriter().Variable(variable)
            .IntConst("cudnn/num_layers", layers).IntConst("cudnn/num_units", units).IntConst("cudnn/input_size", input)
            .Node("cudnn/CudnnRNNParamsToCanonical", "CudnnRNNParamsToCanonical",
                ["cudnn/num_layers", "cudnn/num_units", "cudnn/input_size", variable + "/read"],
                ("rnn_mode", TfGraphWriter.AttrS(mode)), ("direction", TfGraphWriter.AttrS(bidirectional ? "bidirectional" : "unidirectional")),
                ("input_mode", TfGraphWriter.AttrS("linear_input")), ("num_params", TfGraphWriter.AttrI(layers * (bidirectional ? 2 : 1) * (mode == "lstm" ? 8 : 6))))
            .MetaGraph();

    [Fact]
    public void A_CudnnLSTM_opaque_buffer_splits_into_its_layers_and_computes_what_TensorFlows_canonical_copy_computes()
    {
        using var dir = new TempDir();
        int input = 5, h = 3;
        var layers = CudnnLayers(4, 2, 2, input, h, 7);
        var opaque = new TfCheckpointWriter.Variable("encoder/cudnn_lstm/opaque_kernel", [Opaque(layers).Length], Opaque(layers));
        var prefix = Write(dir, [opaque, V("encoder/cudnn_lstm/opaque_kernel/Adam", [opaque.Values.Length], 9), V("dense/kernel", [6, 2], 10), V("dense/bias", [2], 11)],
            CudnnMeta("encoder/cudnn_lstm/opaque_kernel", "lstm", 2, h, input, bidirectional: true));
        var f = WeightReader.Read(prefix);
        Assert.Empty(f.Errors);
        var lstm = f.Tensors.Where(t => t.LayerType == LayerType.LSTM).ToList();
        Assert.Equal(16, lstm.Count);
        Assert.Equal("encoder/cudnn_lstm/opaque_kernel/cell_1/bw/input_weights", lstm[12].Name);
        Assert.All(lstm, t => Assert.Equal(("encoder/cudnn_lstm", GateOrder.IFGO, h, true), (t.Layer, t.GateOrder, t.Units, t.Config[ConfigKeys.Cudnn])));
        Assert.Equal([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1], lstm.Select(t => t.StackIndex));
        Assert.Equal([input, input, input, input, input, input, input, input, 2 * h, 2 * h, 2 * h, 2 * h, 2 * h, 2 * h, 2 * h, 2 * h], lstm.Select(t => t.InputSize));
        for (int k = 0; k < 4; k++)
        {
            var part = lstm.Skip(4 * k).Take(4).ToList();
            Assert.Equal([TensorRole.Kernel, TensorRole.RecurrentKernel, TensorRole.InputBias, TensorRole.RecurrentBias], part.Select(t => t.Role));
            Assert.Equal(k % 2 == 0 ? Direction.Forward : Direction.Backward, part[0].Direction);
            Assert.Equal(Flat(cat(layers[k].W, 0)), Values(part[0]));
            Assert.Equal(Flat(cat(layers[k].R, 0)), Values(part[1]));
            Assert.Equal(Flat(cat(layers[k].BW, 0)), Values(part[2]));
            Assert.Equal(Flat(cat(layers[k].BR, 0)), Values(part[3]));
        }
        Assert.Equal([TensorRole.Kernel, TensorRole.Bias], f.Tensors.Where(t => t.LayerType == LayerType.Dense).Select(t => t.Role));
        Assert.Contains("1 optimizer slot (Adam)", Assert.Single(f.Notes));

        // TensorFlow's CudnnLSTMSaveable writes each layer as a CudnnCompatibleLSTMCell: kernel = [W|R] per gate,
        // gates i,c,f,o, transposed; bias = bW + bR. That cell (an LSTMBlockCell, forget_bias 0) must compute the same.
        var canonical = new List<TfCheckpointWriter.Variable>();
        int[] icfo = [0, 2, 1, 3];
        for (int k = 0; k < 4; k++)
        {
            var c = layers[k];
            var kernel = cat(icfo.Select(gate => cat([c.W[gate], c.R[gate]], 1)).ToArray(), 0).t();
            var bias = cat(icfo.Select(gate => c.BW[gate] + c.BR[gate]).ToArray(), 0);
            var scope = $"stack_bidirectional_rnn/cell_{k / 2}/bidirectional_rnn/{(k % 2 == 0 ? "fw" : "bw")}/cudnn_compatible_lstm_cell";
            canonical.Add(new($"{scope}/kernel", kernel.shape, Flat(kernel)));
            canonical.Add(new($"{scope}/bias", bias.shape, Flat(bias)));
        }
        using var other = new TempDir();
        var canonicalPrefix = Write(other, canonical);
        var same = ps.Objects<EquivalenceResult>("Test-LstmEquivalence (Get-LstmWeights $args[0] -Layer encoder*) (Get-LstmWeights $args[1])", prefix, canonicalPrefix);
        Assert.Equal(4, same.Count);
        Assert.All(same, r => Assert.True(r.Passed && r.MaxAbsError < 1e-5, $"{r.Layer} {r.StackIndex} {r.Direction}: {r.MaxAbsError} {r.Reason}"));

        AssertEquivalent(prefix, "ConvertTo-TorchLayout", 5);
        AssertEquivalent(prefix, "ConvertTo-KerasLayout", 5);

        // Real PyTorch takes the converted buffer as one nn.LSTM(5, 3, num_layers=2, bidirectional=True).
        var pth = dir.File("cudnn.pth");
        ps.Objects<FileInfo>("Get-LstmWeights $args[0] | ConvertTo-TorchLayout | Export-LstmWeights $args[1] -PassThru", prefix, pth);
        var loaded = StrictLoad(dir, pth, new JsonArray(
            new JsonObject { ["module"] = "encoder.cudnn_lstm", ["class"] = "LSTM", ["args"] = new JsonArray(5, 3), ["kwargs"] = new JsonObject { ["num_layers"] = 2, ["bidirectional"] = true } },
            new JsonObject { ["module"] = "dense", ["class"] = "Linear", ["args"] = new JsonArray(6, 2) }));
        Assert.Equal(16, loaded.GetProperty("loaded").GetProperty("encoder.cudnn_lstm").GetArrayLength());
        Assert.Equal(0, loaded.GetProperty("unclaimed").GetArrayLength());
    }

    internal static JsonElement StrictLoad(TempDir dir, string pth, JsonArray spec)
    {
        var path = dir.File("strict.json");
        File.WriteAllText(path, spec.ToJsonString());
        return Python.Run("torch_strict_load.py", pth, path);
    }

    [Fact]
    public void A_CudnnGRU_opaque_buffer_is_a_GRU_that_resets_after_the_matmul()
    {
        using var dir = new TempDir();
        int input = 4, h = 3;
        var layers = CudnnLayers(3, 1, 1, input, h, 8);
        var prefix = Write(dir, [new("cudnn_gru/opaque_kernel", [Opaque(layers).Length], Opaque(layers))],
            CudnnMeta("cudnn_gru/opaque_kernel", "gru", 1, h, input, bidirectional: false));
        var f = WeightReader.Read(prefix);
        Assert.Equal([TensorRole.Kernel, TensorRole.RecurrentKernel, TensorRole.InputBias, TensorRole.RecurrentBias], f.Tensors.Select(t => t.Role));
        Assert.All(f.Tensors, t => Assert.Equal((LayerType.GRU, GateOrder.RZN, "cudnn_gru"), (t.LayerType, t.GateOrder, t.Layer)));
        Assert.Equal(Flat(cat(layers[0].BR, 0)), Values(f.Tensors[3]));

        // TensorFlow's CudnnGRUSaveable: gates/kernel = [W|R] of gates 0 (reset) and 1 (update), transposed;
        // gates/bias = bW + bR of those; the new gate's W, R, bW, bR are the input and hidden projections.
        var c = layers[0];
        const string cell = "rnn/multi_rnn_cell/cell_0/cudnn_compatible_gru_cell";
        var gates = cat([cat([c.W[0], c.R[0]], 1), cat([c.W[1], c.R[1]], 1)], 0).t();
        using var other = new TempDir();
        var canonical = Write(other, [
            new($"{cell}/gates/kernel", gates.shape, Flat(gates)), new($"{cell}/gates/bias", [2 * h], Flat(cat([c.BW[0] + c.BR[0], c.BW[1] + c.BR[1]], 0))),
            new($"{cell}/candidate/input_projection/kernel", [input, h], Flat(c.W[2].t())), new($"{cell}/candidate/input_projection/bias", [h], Flat(c.BW[2])),
            new($"{cell}/candidate/hidden_projection/kernel", [h, h], Flat(c.R[2].t())), new($"{cell}/candidate/hidden_projection/bias", [h], Flat(c.BR[2]))]);
        var same = ps.Objects<EquivalenceResult>("Test-LstmEquivalence (Get-LstmWeights $args[0]) (Get-LstmWeights $args[1])", prefix, canonical);
        Assert.True(Assert.Single(same).Passed, same[0].Reason);
        Assert.True(same[0].MaxAbsError < 1e-5);

        AssertEquivalent(prefix, "ConvertTo-TorchLayout", 1);
        AssertEquivalent(prefix, "ConvertTo-KerasLayout", 1);
    }

    [Fact]
    public void An_opaque_buffer_is_left_out_when_its_canonical_copy_is_there_and_refused_per_layer_without_sizes()
    {
        using var dir = new TempDir();
        var layers = CudnnLayers(4, 1, 1, 5, 3, 9);
        var opaque = new TfCheckpointWriter.Variable("cudnn_lstm/opaque_kernel", [Opaque(layers).Length], Opaque(layers));
        var dense = new[] { V("dense/kernel", [3, 2], 1), V("dense/bias", [2], 2) };

        // Both copies, as tf.train.Saver writes them: the canonical one is read.
        var both = Write(dir, [opaque, V("rnn/multi_rnn_cell/cell_0/cudnn_compatible_lstm_cell/kernel", [8, 12], 3),
            V("rnn/multi_rnn_cell/cell_0/cudnn_compatible_lstm_cell/bias", [12], 4)], name: "both.ckpt");
        var f = WeightReader.Read(both);
        Assert.Equal(["rnn/multi_rnn_cell/cell_0/cudnn_compatible_lstm_cell/kernel", "rnn/multi_rnn_cell/cell_0/cudnn_compatible_lstm_cell/bias"], f.Tensors.Select(t => t.Name));
        Assert.Contains("cuDNN opaque parameter buffer", Assert.Single(f.Notes));

        // No graph beside it: that buffer is one error, the dense layer is still read.
        var bare = Write(dir, [opaque, .. dense], name: "bare.ckpt");
        f = WeightReader.Read(bare);
        var e = Assert.Single(f.Errors);
        Assert.Equal("CudnnSizesUnknown", e.ErrorId);
        Assert.Contains("cudnn_lstm/opaque_kernel", e.Message);
        Assert.Contains(".meta", e.Message);
        Assert.Equal(["dense/kernel", "dense/bias"], f.Tensors.Select(t => t.Name));

        // A graph whose sizes do not add up to the buffer: LayerShapeMismatch naming both counts.
        var wrong = Write(dir, [opaque, .. dense], CudnnMeta("cudnn_lstm/opaque_kernel", "lstm", 1, 4, 5, false), name: "wrong.ckpt");
        e = Assert.Single(WeightReader.Read(wrong).Errors);
        Assert.Equal("LayerShapeMismatch", e.ErrorId);
        Assert.Contains($"holds {opaque.Values.Length} values", e.Message);
    }

    // ---- Dense ----

    [Theory]
    [InlineData("dense/kernel", "dense/bias", "dense")]                                       // tf.layers.dense
    [InlineData("fully_connected/weights", "fully_connected/biases", "fully_connected")]      // tf.contrib.layers.fully_connected
    [InlineData("in_hidden/weights", "in_hidden/biases", "in_hidden")]                        // a tutorial's own scope
    [InlineData("decoder/output_projection/kernel", "decoder/output_projection/bias", "decoder/output_projection")]
    public void Weights_and_biases_that_fit_a_fully_connected_layer_are_Dense_and_become_nn_Linear_and_Keras_Dense(string kernelName, string biasName, string layer)
    {
        using var dir = new TempDir();
        // [3,12]: 12 columns would fit an LSTM of 3 units, but 3 rows leave it no input: a dense layer.
        var kernel = V(kernelName, [3, 12], 1);
        var bias = V(biasName, [12], 2);
        var prefix = Write(dir, [kernel, bias]);
        var f = WeightReader.Read(prefix);
        Assert.Empty(f.Errors);
        Assert.Empty(f.Warnings);
        Assert.Equal([(kernelName, TensorRole.Kernel), (biasName, TensorRole.Bias)], f.Tensors.Select(t => (t.Name, t.Role)));
        Assert.All(f.Tensors, t => Assert.Equal((layer, LayerType.Dense, Layout.TensorFlow, 12, 3), (t.Layer, t.LayerType, t.Layout, t.Units, t.InputSize)));

        var torch = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] | ConvertTo-TorchLayout", prefix);
        var module = layer.Replace('/', '.');
        Assert.Equal([$"{module}.weight", $"{module}.bias"], torch.Select(t => t.Name));
        Assert.Equal([12, 3], torch[0].Shape);
        Assert.Equal(Flat(tensor(kernel.Values).reshape(3, 12).t()), Values(torch[0])); // Linear weight = kernel transposed
        Assert.Equal(bias.Values, Values(torch[1]));
        var keras = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] | ConvertTo-KerasLayout", prefix);
        Assert.Equal([$"{layer.Replace('/', '_')}/kernel:0", $"{layer.Replace('/', '_')}/bias:0"], keras.Select(t => t.Name));
        Assert.Equal(kernel.Values, Values(keras[0]));
        Assert.All(keras, t => Assert.Equal((LayerType.Dense, Layout.Keras), (t.LayerType, t.Layout)));

        AssertEquivalent(prefix, "ConvertTo-TorchLayout", 1);
        AssertEquivalent(prefix, "ConvertTo-KerasLayout", 1);
        var pth = dir.File("dense.pth");
        ps.Objects<FileInfo>("Get-LstmWeights $args[0] | ConvertTo-TorchLayout | Export-LstmWeights $args[1] -PassThru", prefix, pth);
        var loaded = StrictLoad(dir, pth, new JsonArray(new JsonObject { ["module"] = module, ["class"] = "Linear", ["args"] = new JsonArray(3, 12) }));
        Assert.Equal(2, loaded.GetProperty("loaded").GetProperty(module).GetArrayLength());
    }

    // ---- what is not a cell nor a dense layer ----

    [Fact]
    public void Variables_of_unknown_kinds_are_Other_with_one_warning_and_left_out_of_conversions()
    {
        using var dir = new TempDir();
        var prefix = Write(dir, [
            V("conv/weights", [3, 3, 1, 8], 1), V("conv/biases", [8], 2),                                   // tf.contrib.layers.conv2d
            V("rnn/layer_norm_basic_lstm_cell/kernel", [5 + 4, 16], 3), V("rnn/layer_norm_basic_lstm_cell/bias", [16], 4),
            V("rnn/layer_norm_basic_lstm_cell/input/gamma", [4], 5),                                         // LayerNormBasicLSTMCell
            V("embedding", [10, 5], 6),
            V("dense/kernel", [4, 2], 7), V("dense/bias", [2], 8)]);
        var f = WeightReader.Read(prefix);
        Assert.Empty(f.Errors);
        Assert.Equal(["dense/kernel", "dense/bias"], f.Tensors.Where(t => t.LayerType != LayerType.Other).Select(t => t.Name));
        var others = f.Tensors.Where(t => t.LayerType == LayerType.Other).ToList();
        Assert.Equal(6, others.Count);
        Assert.All(others, t => Assert.Equal((TensorRole.Other, t.Name), (t.Role, t.Layer)));
        Assert.Contains("6 variables are not LSTM, GRU or RNN cells or dense layers", Assert.Single(f.Warnings));

        foreach (var convert in new[] { "ConvertTo-TorchLayout", "ConvertTo-KerasLayout" })
        {
            var r = ps.Run($"Get-LstmWeights $args[0] -WarningAction SilentlyContinue | {convert} -WarningVariable w -WarningAction SilentlyContinue; $w", prefix);
            Assert.Empty(r.Errors);
            var tensors = r.Output.Select(o => o.BaseObject).OfType<LstmTensor>().ToList();
            Assert.Equal(2, tensors.Count);
            Assert.Equal(6, r.Output.Select(o => o.BaseObject).OfType<System.Management.Automation.WarningRecord>().Count(w => w.Message.Contains("not converted")));
        }
    }

    [Fact]
    public void A_cell_whose_shapes_contradict_it_is_its_own_error_and_the_other_scopes_are_read()
    {
        using var dir = new TempDir();
        var prefix = Write(dir, [
            V("rnn/multi_rnn_cell/cell_0/lstm_cell/kernel", [5 + 4, 16], 1), V("rnn/multi_rnn_cell/cell_0/lstm_cell/bias", [16], 2),
            V("rnn/multi_rnn_cell/cell_1/lstm_cell/kernel", [4 + 4, 15], 3), V("rnn/multi_rnn_cell/cell_1/lstm_cell/bias", [15], 4),
            V("rnn/multi_rnn_cell/cell_2/gru_cell/gates/kernel", [4 + 4, 8], 5), V("rnn/multi_rnn_cell/cell_2/gru_cell/candidate/kernel", [4 + 4, 3], 6),
            V("rnn/multi_rnn_cell/cell_3/lstm_cell/kernel", [2, 16], 7),
            V("dense/kernel", [4, 2], 8), V("dense/bias", [2], 9)]);
        var f = WeightReader.Read(prefix);
        Assert.Equal(["LayerShapeMismatch", "LayerShapeMismatch", "LayerShapeMismatch"], f.Errors.Select(e => e.ErrorId));
        Assert.Contains("rnn/multi_rnn_cell/cell_1/lstm_cell", f.Errors[0].Message);
        Assert.Contains("[input + units, 4*units]", f.Errors[0].Message);
        Assert.Contains("rnn/multi_rnn_cell/cell_2/gru_cell", f.Errors[1].Message);
        Assert.Contains("leaves no input rows", f.Errors[2].Message);
        Assert.Equal(["dense/kernel", "dense/bias", "rnn/multi_rnn_cell/cell_0/lstm_cell/kernel", "rnn/multi_rnn_cell/cell_0/lstm_cell/bias"], f.Tensors.Select(t => t.Name));

        var r = ps.Run("Get-LstmWeights $args[0]", prefix);
        Assert.Equal(4, r.Output.Count);
        Assert.Equal(3, r.Errors.Count);
        Assert.All(r.Errors, e => Assert.Equal(System.Management.Automation.ErrorCategory.InvalidData, e.CategoryInfo.Category));
    }

    [Fact]
    public void Optimizer_state_of_every_TF1_optimizer_is_left_out_with_one_note()
    {
        using var dir = new TempDir();
        var prefix = Write(dir, [
            V("dense/kernel", [3, 2], 1), V("dense/bias", [2], 2),
            V("dense/kernel/Momentum", [3, 2], 3), V("dense/kernel/RMSProp", [3, 2], 4), V("dense/kernel/RMSProp_1", [3, 2], 5),
            V("dense/kernel/ExponentialMovingAverage", [3, 2], 6), V("dense/bias/Adagrad", [2], 7),
            V("train/beta1_power", [], 8), V("train/beta2_power", [], 9), V("OptimizeLoss/learning_rate", [], 10), V("global_step", [], 11)]);
        var f = WeightReader.Read(prefix);
        Assert.Equal(["dense/kernel", "dense/bias"], f.Tensors.Select(t => t.Name));
        Assert.Empty(f.Warnings);
        Assert.Equal("left out 9 variables that hold training state, not weights: 5 optimizer slots (Adagrad, ExponentialMovingAverage, Momentum, RMSProp, ...); " +
                     "3 optimizer variables (beta1_power, beta2_power, learning_rate); 1 step counter (global_step)", Assert.Single(f.Notes));
    }

    // ---- frozen graphs ----

    [Fact]
    public void A_frozen_graph_reads_per_scope_too()
    {
        using var dir = new TempDir();
        var path = dir.File("frozen_model.pb");
        var kernel = Random(1, 9 * 16);
        File.WriteAllBytes(path, new TfGraphWriter()
            .Node("x", "Placeholder", [], ("dtype", TfGraphWriter.AttrType(1)))
            .FrozenVariable("rnn/lstm_cell/kernel", [9, 16], kernel).FrozenVariable("rnn/lstm_cell/bias", [16], Random(2, 16))
            .FrozenVariable("rnn_1/lstm_cell/kernel", [9, 15], Random(3, 9 * 15)).FrozenVariable("rnn_1/lstm_cell/bias", [15], Random(4, 15))
            .FrozenVariable("dense/kernel", [4, 2], Random(5, 8)).FrozenVariable("dense/bias", [2], Random(6, 2))
            .Node("vocabulary", "Const", [], ("dtype", TfGraphWriter.AttrType(7)), ("value", TfGraphWriter.AttrTensor(TfGraphWriter.StringScalar("a b c"))))
            .Node("vocabulary/read", "Identity", ["vocabulary"])
            .Node("rnn/Const", "Const", [], ("dtype", TfGraphWriter.AttrType(1)), ("value", TfGraphWriter.AttrTensor(TfGraphWriter.FloatScalar(1f))))
            .GraphDef());
        var f = WeightReader.Read(path);
        Assert.Equal(WeightFormat.FrozenGraph, f.Format);
        Assert.Equal("LayerShapeMismatch", Assert.Single(f.Errors).ErrorId);
        Assert.Contains("rnn_1/lstm_cell", f.Errors[0].Message);
        Assert.Equal(["rnn/lstm_cell/kernel", "rnn/lstm_cell/bias", "dense/kernel", "dense/bias"], f.Tensors.Select(t => t.Name));
        Assert.Equal([LayerType.LSTM, LayerType.LSTM, LayerType.Dense, LayerType.Dense], f.Tensors.Select(t => t.LayerType));
        Assert.Equal(kernel, Values(f.Tensors[0]));
        Assert.Contains("vocabulary", Assert.Single(f.Notes));
        var same = ps.Objects<EquivalenceResult>("$t = Get-LstmWeights $args[0] -ErrorAction SilentlyContinue; Test-LstmEquivalence $t ($t | ConvertTo-TorchLayout)", path);
        Assert.Equal(2, same.Count);
        Assert.All(same, r => Assert.True(r.Passed && r.MaxAbsError < 1e-5, $"{r.Layer}: {r.MaxAbsError}"));
    }

    [Fact]
    public void Keras_layers_saved_by_name_in_a_TF1_checkpoint_are_read_as_Keras_layers()
    {
        using var dir = new TempDir();
        // A tf.keras model in TF 1.x graph mode, saved by tf.train.Saver: Keras's weight names under the layer's scope, TF1's optimizer names.
        var prefix = Write(dir, [
            V("embedding/embeddings", [10, 5], 1),
            V("lstm/kernel", [5, 16], 2), V("lstm/recurrent_kernel", [4, 16], 3), V("lstm/bias", [16], 4),
            V("bidirectional/forward_gru/kernel", [4, 9], 5), V("bidirectional/forward_gru/recurrent_kernel", [3, 9], 6), V("bidirectional/forward_gru/bias", [9], 7),
            V("bidirectional/backward_gru/kernel", [4, 9], 8), V("bidirectional/backward_gru/recurrent_kernel", [3, 9], 9), V("bidirectional/backward_gru/bias", [9], 10),
            V("dense/kernel", [6, 2], 11), V("dense/bias", [2], 12),
            V("Adam/iterations", [], 13), V("Adam/lr", [], 14), V("training/Adam/Variable", [5, 16], 15), V("training/Adam/Variable_1", [4, 16], 16)]);
        var f = WeightReader.Read(prefix);
        Assert.Empty(f.Errors);
        Assert.Contains("2 optimizer slots (Variable, Variable_1); 2 optimizer variables (iterations, lr)", Assert.Single(f.Notes));
        var lstm = f.Tensors.Where(t => t.Layer == "lstm").ToList();
        Assert.Equal([TensorRole.Kernel, TensorRole.RecurrentKernel, TensorRole.Bias], lstm.Select(t => t.Role));
        Assert.All(lstm, t => Assert.Equal((LayerType.LSTM, Layout.Keras, GateOrder.IFCO, 4, 5), (t.LayerType, t.Layout, t.GateOrder, t.Units, t.InputSize)));
        // TF 1.x's tf.keras defaulted to hard_sigmoid; the file cannot say, so it is inferred and said.
        Assert.Equal("hard_sigmoid", lstm[0].Config[ConfigKeys.RecurrentActivation]);
        Assert.Contains(ConfigKeys.RecurrentActivation, (string[])lstm[0].Config[ConfigKeys.Inferred]!);
        Assert.Contains("no model config", Assert.Single(f.Warnings));
        var gru = f.Tensors.Where(t => t.Layer == "bidirectional").ToList();
        Assert.Equal([Direction.Forward, Direction.Forward, Direction.Forward, Direction.Backward, Direction.Backward, Direction.Backward], gru.Select(t => t.Direction));
        Assert.All(gru, t => Assert.Equal((LayerType.GRU, 3, 4), (t.LayerType, t.Units, t.InputSize)));
        var embedding = f.Tensors.Single(t => t.Layer == "embedding");
        Assert.Equal((LayerType.Embedding, TensorRole.Embeddings), (embedding.LayerType, embedding.Role));
        Assert.Equal(LayerType.Dense, f.Tensors.Single(t => t.Name == "dense/kernel").LayerType);
        AssertEquivalent(prefix, "ConvertTo-KerasLayout", 4); // lstm, both GRU directions, dense
    }

    // ---- TF2: object-based checkpoints and SavedModels ----

    [Fact]
    public void A_SavedModel_leaves_out_optimizer_slots_metrics_and_counters_and_a_layer_that_contradicts_its_config_is_its_own_error()
    {
        using var dir = new TempDir();
        const string value = "/.ATTRIBUTES/VARIABLE_VALUE";
        var g = new TfObjectGraphWriter();
        int lstm = g.Add(0, "layer_with_weights-0"), cell = g.Add(lstm, "cell");
        int lstmKernel = g.Add(cell, "kernel", "layer_with_weights-0/cell/kernel" + value);
        g.Add(cell, "bias", "layer_with_weights-0/cell/bias" + value); // an LSTM without its recurrent kernel
        int dense = g.Add(0, "layer_with_weights-1");
        int denseKernel = g.Add(dense, "kernel", "layer_with_weights-1/kernel" + value);
        g.Add(dense, "bias", "layer_with_weights-1/bias" + value);
        int optimizer = g.Add(0, "optimizer");
        g.Add(optimizer, "iter", "optimizer/iter" + value);
        g.Slot(optimizer, denseKernel, "m", "layer_with_weights-1/kernel/.OPTIMIZER_SLOT/optimizer/m" + value);
        g.Slot(optimizer, lstmKernel, "m", "layer_with_weights-0/cell/kernel/.OPTIMIZER_SLOT/optimizer/m" + value);
        int metrics = g.Add(g.Add(g.Add(0, "keras_api"), "metrics"), "0");
        g.Add(metrics, "total", "keras_api/metrics/0/total" + value);
        g.Add(0, "save_counter", "save_counter" + value);

        Directory.CreateDirectory(dir.File("variables"));
        var writer = new TfCheckpointWriter();
        writer.Strings["_CHECKPOINTABLE_OBJECT_GRAPH"] = g.Bytes();
        var denseKernelValues = V("layer_with_weights-1/kernel" + value, [4, 2], 3);
        writer.Write(Path.Combine(dir.Path, "variables", "variables"), [
            V("layer_with_weights-0/cell/kernel" + value, [3, 16], 1), V("layer_with_weights-0/cell/bias" + value, [16], 2),
            denseKernelValues, V("layer_with_weights-1/bias" + value, [2], 4),
            V("optimizer/iter" + value, [], 5), V("layer_with_weights-1/kernel/.OPTIMIZER_SLOT/optimizer/m" + value, [4, 2], 6),
            V("layer_with_weights-0/cell/kernel/.OPTIMIZER_SLOT/optimizer/m" + value, [3, 16], 7),
            V("keras_api/metrics/0/total" + value, [], 8), V("save_counter" + value, [], 9)]);
        File.WriteAllBytes(dir.File("keras_metadata.pb"), TfObjectGraphWriter.KerasMetadata(
            ("root", """{"class_name": "Sequential", "keras_version": "2.11.0"}"""),
            ("root.layer_with_weights-0", """{"class_name": "LSTM", "name": "lstm", "config": {"name": "lstm", "units": 4, "activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": true}}"""),
            ("root.layer_with_weights-1", """{"class_name": "Dense", "name": "dense", "config": {"name": "dense", "units": 2, "activation": "linear", "use_bias": true}}""")));
        File.WriteAllBytes(dir.File("saved_model.pb"), []);

        var f = WeightReader.Read(dir.Path);
        Assert.Equal(WeightFormat.SavedModel, f.Format);
        var e = Assert.Single(f.Errors);
        Assert.Equal("LayerShapeMismatch", e.ErrorId);
        Assert.Contains("'lstm'", e.Message);
        Assert.Equal([("dense/kernel", TensorRole.Kernel), ("dense/bias", TensorRole.Bias)], f.Tensors.Select(t => (t.Name, t.Role)));
        Assert.Equal(denseKernelValues.Values, Values(f.Tensors[0]));
        Assert.Equal("left out 5 variables that hold training state, not weights: 2 optimizer slots (m); 1 optimizer variable (iter); 1 step counter (save_counter); 1 metric variable (total)",
            Assert.Single(f.Notes));

        // A damaged keras_metadata.pb costs the names and settings it gives, not the weights.
        File.WriteAllBytes(dir.File("keras_metadata.pb"), [0x0A, 0xFF, 0x01]);
        f = WeightReader.Read(dir.Path);
        Assert.Contains("keras_metadata.pb' is damaged", f.Warnings[0]);
        Assert.Equal(denseKernelValues.Values, Values(f.Tensors.Single(t => t.Name == "layer_with_weights-1/kernel")));
        Assert.Single(f.Notes);
    }

    [Fact]
    public void A_tf_train_Checkpoint_of_Keras_layers_held_by_attribute_name_reads_them_as_Keras_layers()
    {
        using var dir = new TempDir();
        const string value = "/.ATTRIBUTES/VARIABLE_VALUE";
        // tf.train.Checkpoint(model=module), the module holding a Keras LSTM as .encoder and a Dense as .head.
        var g = new TfObjectGraphWriter();
        int model = g.Add(0, "model"), encoder = g.Add(model, "encoder"), cell = g.Add(encoder, "cell");
        g.Add(cell, "kernel", "model/encoder/cell/kernel" + value);
        g.Add(cell, "recurrent_kernel", "model/encoder/cell/recurrent_kernel" + value);
        g.Add(cell, "bias", "model/encoder/cell/bias" + value);
        int head = g.Add(model, "head");
        g.Add(head, "kernel", "model/head/kernel" + value);
        g.Add(head, "bias", "model/head/bias" + value);
        g.Add(0, "save_counter", "save_counter" + value);
        var writer = new TfCheckpointWriter();
        writer.Strings["_CHECKPOINTABLE_OBJECT_GRAPH"] = g.Bytes();
        var prefix = dir.File("ckpt-1");
        writer.Write(prefix, [V("model/encoder/cell/kernel" + value, [5, 16], 1), V("model/encoder/cell/recurrent_kernel" + value, [4, 16], 2),
            V("model/encoder/cell/bias" + value, [16], 3), V("model/head/kernel" + value, [4, 2], 4), V("model/head/bias" + value, [2], 5), V("save_counter" + value, [], 6)]);
        var f = WeightReader.Read(prefix);
        Assert.Empty(f.Errors);
        Assert.Equal([("model/encoder", LayerType.LSTM), ("model/encoder", LayerType.LSTM), ("model/encoder", LayerType.LSTM), ("model/head", LayerType.Dense), ("model/head", LayerType.Dense)],
            f.Tensors.Select(t => (t.Layer, t.LayerType)));
        Assert.Equal([TensorRole.Kernel, TensorRole.RecurrentKernel, TensorRole.Bias, TensorRole.Kernel, TensorRole.Bias], f.Tensors.Select(t => t.Role));
        Assert.Contains("1 step counter (save_counter)", Assert.Single(f.Notes));
        Assert.Contains(ConfigKeys.RecurrentActivation, (string[])f.Tensors[0].Config[ConfigKeys.Inferred]!); // no config in the file: said so
        AssertEquivalent(prefix, "ConvertTo-KerasLayout", 2);
    }
}
