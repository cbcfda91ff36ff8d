using System.Diagnostics;
using System.Text.Json;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;
using LstmPort.Conversion;
using LstmPort.Formats;
using LstmPort.Frameworks.Keras;
using LstmPort.Frameworks.Torch;
using LstmPort.Runtime;
using LstmPort.Verification;

namespace LstmPort.Tests;

/// <summary>The engine's equivalence check: Keras and TF1 references against libtorch's modules, real PyTorch and real Keras outputs, and the classic conversion mistakes.</summary>
public sealed class EquivalenceTests(ITestOutputHelper output)
{
    static readonly EquivalenceOptions Long = new() { SequenceLength = 100, BatchSize = 3, Seed = 5 };

    static List<EquivalenceResult> Check(IEnumerable<LstmTensor> reference, IEnumerable<LstmTensor> difference, EquivalenceOptions? options = null)
    {
        TorchRuntime.EnsureLoaded();
        return EquivalenceChecker.Check(reference.ToList(), difference.ToList(), options ?? Long).ToList();
    }

    void AssertPassed(List<EquivalenceResult> results, int count)
    {
        Assert.Equal(count, results.Count);
        foreach (var r in results)
        {
            output.WriteLine($"{r.Layer}[{r.StackIndex}] {r.Direction} {r.LayerType}: abs {r.MaxAbsError:G3} rel {r.MaxRelError:G3} {string.Join(" ", r.Compared)} saturation {r.Saturation:P1} scale {r.InputScale:G3}");
            Assert.True(r.Passed, r.ToString() + " " + r.Reason);
            Assert.InRange(r.MaxAbsError!.Value, 0, 1e-5);
            Assert.True(r.OutputError > 0 || r.MaxAbsError == 0);
            Assert.Contains(r.Compared, c => c.StartsWith("Output[100,3,"));
            Assert.Contains(r.Compared, c => c.StartsWith("FinalH[3,"));
            Assert.Equal(r.LayerType == LayerType.LSTM, r.Compared.Any(c => c.StartsWith("FinalC")));
        }
    }

    static EquivalenceResult Single(List<EquivalenceResult> results) => Assert.Single(results);

    [Fact]
    public void Keras_lstm_equals_hand_converted_torch_lstm_over_100_steps()
    {
        var b = new EquivalenceBuild();
        var keras = b.KerasLayer("lstm_1", LayerType.LSTM, 5, 8);
        AssertPassed(Check(keras, EquivalenceBuild.ToTorch(keras, "lstm_1")), 1);
    }

    [Fact]
    public void Keras_gru_reset_after_equals_torch_gru()
    {
        var b = new EquivalenceBuild();
        var keras = b.KerasLayer("gru", LayerType.GRU, 6, 9, resetAfter: true);
        AssertPassed(Check(keras, EquivalenceBuild.ToTorch(keras, "gru")), 1);
    }

    [Fact]
    public void Keras_simple_rnn_equals_torch_rnn_for_tanh_and_relu()
    {
        var b = new EquivalenceBuild();
        var tanh = b.KerasLayer("rnn", LayerType.SimpleRNN, 4, 6);
        AssertPassed(Check(tanh, EquivalenceBuild.ToTorch(tanh, "rnn")), 1);
        var relu = b.KerasLayer("rnn", LayerType.SimpleRNN, 4, 6, config: EquivalenceBuild.Config((ConfigKeys.Activation, "relu")));
        var torchRelu = EquivalenceBuild.ToTorch(relu, "rnn").Select(t => LstmTensor.FromTensor(t.Tensor, t.Name, t.Layer, t.LayerType, t.Role, t.Layout,
            t.Direction, t.StackIndex, t.GateOrder, config: EquivalenceBuild.Config((ConfigKeys.Activation, "relu")))).ToList();
        AssertPassed(Check(relu, torchRelu), 1);
        // relu on one side only is a real difference.
        Assert.Equal(EquivalenceStatus.Failed, Single(Check(relu, EquivalenceBuild.ToTorch(relu, "rnn"))).Status);
    }

    [Fact]
    public void Keras_bidirectional_equals_torch_reverse_direction()
    {
        var b = new EquivalenceBuild();
        var keras = b.KerasLayer("bidirectional", LayerType.LSTM, 5, 8).Concat(b.KerasLayer("bidirectional", LayerType.LSTM, 5, 8, Direction.Backward)).ToList();
        var torch = EquivalenceBuild.ToTorch(keras.Take(3).ToList(), "bidirectional").Concat(EquivalenceBuild.ToTorch(keras.Skip(3).ToList(), "bidirectional")).ToList();
        var results = Check(keras, torch);
        AssertPassed(results, 2);
        Assert.Equal([Direction.Forward, Direction.Backward], results.Select(r => r.Direction));

        // A bidirectional GRU, too.
        var gru = b.KerasLayer("bigru", LayerType.GRU, 4, 6).Concat(b.KerasLayer("bigru", LayerType.GRU, 4, 6, Direction.Backward)).ToList();
        AssertPassed(Check(gru, EquivalenceBuild.ToTorch(gru.Take(3).ToList(), "bigru").Concat(EquivalenceBuild.ToTorch(gru.Skip(3).ToList(), "bigru"))), 2);
    }

    [Fact]
    public void Keras_stack_pairs_by_position_with_one_multi_layer_torch_module()
    {
        var b = new EquivalenceBuild();
        var l1 = b.KerasLayer("lstm_1", LayerType.LSTM, 5, 8);
        var l2 = b.KerasLayer("lstm_2", LayerType.LSTM, 8, 8);
        var torch = EquivalenceBuild.ToTorch(l1, "rnn", 0).Concat(EquivalenceBuild.ToTorch(l2, "rnn", 1));
        var results = Check(l1.Concat(l2), torch);
        AssertPassed(results, 2);
        Assert.Equal([("lstm_1", "rnn", 0), ("lstm_2", "rnn", 1)], results.Select(r => (r.Layer, r.DifferenceLayer!, r.DifferenceStackIndex)));
    }

    [Fact]
    public void Keras_go_backwards_equals_torch_reverse_and_differs_from_forward()
    {
        var b = new EquivalenceBuild();
        var keras = b.KerasLayer("back", LayerType.GRU, 4, 5, config: EquivalenceBuild.Config((ConfigKeys.GoBackwards, true)));
        AssertPassed(Check(keras, EquivalenceBuild.ToTorch(keras, "back", swapDirection: true)), 1);
        var forwardOnly = Single(Check(keras, EquivalenceBuild.ToTorch(keras, "back")));
        Assert.Equal(EquivalenceStatus.Failed, forwardOnly.Status);
    }

    [Fact]
    public void Tf1_lstm_cell_equals_torch_after_gate_reorder_and_forget_bias_fold()
    {
        var b = new EquivalenceBuild();
        var tf = b.Tf1Lstm("rnn/multi_rnn_cell/cell_0", 5, 8);
        AssertPassed(Check(tf, EquivalenceBuild.Tf1ToTorch(tf, "rnn.multi_rnn_cell.cell_0", 5)), 1);
        var tf2 = b.Tf1Lstm("cell", 5, 8, forgetBias: 0.5);
        AssertPassed(Check(tf2, EquivalenceBuild.Tf1ToTorch(tf2, "cell", 5, foldForgetBias: 0.5)), 1);
    }

    [Fact]
    public void Tf1_gru_cell_equals_keras_gru_reset_before()
    {
        // A TF1 GRUCell is Keras's reset_after=False GRU with gates r,u over concat(x,h): build one from the other by hand.
        var b = new EquivalenceBuild();
        int input = 4, h = 6;
        var keras = b.KerasLayer("gru", LayerType.GRU, input, h, resetAfter: false);
        var k = keras[0].Tensor; var u = keras[1].Tensor; var bias = keras[2].Tensor;
        Tensor Block(Tensor t, int i) => t[.., (i * h)..((i + 1) * h)];
        // Keras z = update (TF u), r = reset. TF gates kernel columns r then u; candidate = h block.
        var gates = torch.cat([torch.cat([Block(k, 1), Block(k, 0)], 1), torch.cat([Block(u, 1), Block(u, 0)], 1)], 0);
        var candidate = torch.cat([Block(k, 2), Block(u, 2)], 0);
        var gatesBias = torch.cat([bias[h..(2 * h)], bias[..h]], 0);
        // TF1 new h = u*h + (1-u)*c and Keras h = z*h + (1-z)*hh: the same with u = z.
        var tf = new[]
        {
            LstmTensor.FromTensor(gates, "gru/gates/kernel", "gru", LayerType.GRU, TensorRole.FusedKernel, Layout.TensorFlow),
            LstmTensor.FromTensor(gatesBias, "gru/gates/bias", "gru", LayerType.GRU, TensorRole.Bias, Layout.TensorFlow),
            LstmTensor.FromTensor(candidate, "gru/candidate/kernel", "gru", LayerType.GRU, TensorRole.FusedKernel, Layout.TensorFlow),
            LstmTensor.FromTensor(bias[(2 * h)..].contiguous(), "gru/candidate/bias", "gru", LayerType.GRU, TensorRole.Bias, Layout.TensorFlow),
        };
        AssertPassed(Check(keras, tf), 1);
    }

    // ---- the classic mistakes, each built deliberately ----

    [Fact]
    public void Fails_tf1_gate_order_left_unconverted()
    {
        var tf = new EquivalenceBuild().Tf1Lstm("cell", 5, 8);
        var r = Single(Check(tf, EquivalenceBuild.Tf1ToTorch(tf, "cell", 5, reorder: false)));
        Assert.Equal(EquivalenceStatus.Failed, r.Status);
        Assert.True(r.MaxAbsError > 1e-2, $"{r.MaxAbsError}");
    }

    [Fact]
    public void Fails_tf1_forget_bias_not_folded()
    {
        var tf = new EquivalenceBuild().Tf1Lstm("cell", 5, 8);
        var r = Single(Check(tf, EquivalenceBuild.Tf1ToTorch(tf, "cell", 5, foldForgetBias: 0)));
        Assert.Equal(EquivalenceStatus.Failed, r.Status);
        Assert.True(r.MaxAbsError > 1e-2, $"{r.MaxAbsError}");
        Assert.Contains("differ", r.Reason);
    }

    [Fact]
    public void Fails_missing_transpose_when_input_size_equals_hidden_size()
    {
        var b = new EquivalenceBuild();
        var keras = b.KerasLayer("lstm", LayerType.LSTM, 8, 8);
        var good = EquivalenceBuild.ToTorch(keras, "lstm");
        // Split into gate blocks [in,h] and stacked without transposing each: every shape is still right.
        var k = keras[0].Tensor;
        var wrong = torch.cat(k.chunk(4, 1), 0).contiguous();
        Assert.Equal(good[0].Shape, wrong.shape.Select(d => (int)d));
        var bad = good.Select(t => t.Role == TensorRole.Kernel ? EquivalenceBuild.Torch("lstm", "weight_ih", LayerType.LSTM, wrong) : t);
        var r = Single(Check(keras, bad));
        Assert.Equal(EquivalenceStatus.Failed, r.Status);
        Assert.True(r.MaxAbsError > 1e-2, $"{r.MaxAbsError}");
    }

    [Fact]
    public void Fails_directions_swapped_in_a_bidirectional_layer()
    {
        var b = new EquivalenceBuild();
        var fwd = b.KerasLayer("bi", LayerType.LSTM, 5, 8);
        var bwd = b.KerasLayer("bi", LayerType.LSTM, 5, 8, Direction.Backward);
        var swapped = EquivalenceBuild.ToTorch(fwd, "bi", swapDirection: true).Concat(EquivalenceBuild.ToTorch(bwd, "bi", swapDirection: true));
        var results = Check(fwd.Concat(bwd), swapped);
        Assert.Equal(2, results.Count);
        Assert.All(results, r => Assert.Equal(EquivalenceStatus.Failed, r.Status));
    }

    [Fact]
    public void Fails_gru_reset_after_mismatch()
    {
        var b = new EquivalenceBuild();
        // Keras reset_after=False converted as if it were PyTorch's reset-after GRU.
        var before = b.KerasLayer("gru", LayerType.GRU, 5, 8, resetAfter: false);
        var r = Single(Check(before, EquivalenceBuild.ToTorch(before, "gru")));
        Assert.Equal(EquivalenceStatus.Failed, r.Status);
        Assert.True(r.MaxAbsError > 1e-4, $"{r.MaxAbsError}");
        // Keras to Keras with only the flag flipped (the bias as input row, zero recurrent row): the flag alone changes the result.
        var flagged = before.Select(t => EquivalenceBuild.Keras("gru", LayerType.GRU, t.Role,
            t.Role == TensorRole.Bias ? torch.stack([t.Tensor, torch.zeros_like(t.Tensor)]) : t.Tensor,
            config: EquivalenceBuild.Config((ConfigKeys.ResetAfter, true)))).ToList();
        Assert.Equal(EquivalenceStatus.Failed, Single(Check(before, flagged)).Status);
        Assert.Equal(EquivalenceStatus.Passed, Single(Check(flagged, EquivalenceBuild.ToTorch(flagged, "gru"))).Status);
    }

    [Fact]
    public void Fails_biases_split_or_summed_wrongly()
    {
        var b = new EquivalenceBuild();
        // GRU reset_after=True: the recurrent row summed into bias_ih (the new-gate part cannot move).
        var gru = b.KerasLayer("gru", LayerType.GRU, 5, 8, resetAfter: true);
        var bias = gru[2].Tensor;
        var summed = EquivalenceBuild.ToTorch(gru, "gru").Select(t => t.Role switch
        {
            TensorRole.InputBias => EquivalenceBuild.Torch("gru", "bias_ih", LayerType.GRU, EquivalenceBuild.ZrhToRzn(bias[0] + bias[1]).contiguous()),
            TensorRole.RecurrentBias => EquivalenceBuild.Torch("gru", "bias_hh", LayerType.GRU, torch.zeros(24)),
            _ => t,
        });
        Assert.Equal(EquivalenceStatus.Failed, Single(Check(gru, summed)).Status);

        // LSTM: a Keras bias copied into both bias_ih and bias_hh counts it twice.
        var lstm = b.KerasLayer("lstm", LayerType.LSTM, 5, 8);
        var twice = EquivalenceBuild.ToTorch(lstm, "lstm").Select(t => t.Role == TensorRole.RecurrentBias
            ? EquivalenceBuild.Torch("lstm", "bias_hh", LayerType.LSTM, lstm[2].Tensor) : t);
        Assert.Equal(EquivalenceStatus.Failed, Single(Check(lstm, twice)).Status);

        // PyTorch to Keras: the Keras bias must be bias_ih + bias_hh, not bias_ih alone.
        var torch2 = new[]
        {
            EquivalenceBuild.Torch("m", "weight_ih", LayerType.LSTM, b.Rand(32, 5)), EquivalenceBuild.Torch("m", "weight_hh", LayerType.LSTM, b.Rand(32, 8)),
            EquivalenceBuild.Torch("m", "bias_ih", LayerType.LSTM, b.Rand(32)), EquivalenceBuild.Torch("m", "bias_hh", LayerType.LSTM, b.Rand(32)),
        };
        LstmTensor[] ToKeras(Tensor kerasBias) =>
        [
            EquivalenceBuild.Keras("m", LayerType.LSTM, TensorRole.Kernel, torch2[0].Tensor.t().contiguous()),
            EquivalenceBuild.Keras("m", LayerType.LSTM, TensorRole.RecurrentKernel, torch2[1].Tensor.t().contiguous()),
            EquivalenceBuild.Keras("m", LayerType.LSTM, TensorRole.Bias, kerasBias),
        ];
        Assert.Equal(EquivalenceStatus.Failed, Single(Check(torch2, ToKeras(torch2[2].Tensor))).Status);
        Assert.Equal(EquivalenceStatus.Passed, Single(Check(torch2, ToKeras(torch2[2].Tensor + torch2[3].Tensor))).Status);
    }

    // ---- pairing and bad input ----

    [Fact]
    public void Reports_unmatched_and_mismatched_layers_and_still_checks_the_others()
    {
        var b = new EquivalenceBuild();
        var lstm = b.KerasLayer("lstm", LayerType.LSTM, 5, 8);
        var gru = b.KerasLayer("gru", LayerType.GRU, 5, 8);
        var dense = new[]
        {
            EquivalenceBuild.Keras("dense", LayerType.Dense, TensorRole.Kernel, b.Rand(8, 3)),
            EquivalenceBuild.Keras("dense", LayerType.Dense, TensorRole.Bias, b.Rand(3)),
        };
        var torchLstm = EquivalenceBuild.ToTorch(lstm, "lstm");
        var otherGru = EquivalenceBuild.ToTorch(b.KerasLayer("gru", LayerType.GRU, 5, 6), "gru"); // 6 units, not 8
        var results = Check(lstm.Concat(gru).Concat(dense), torchLstm.Concat(otherGru));
        Assert.Equal(3, results.Count);
        Assert.Equal(EquivalenceStatus.Passed, results[0].Status);
        Assert.Equal(EquivalenceStatus.Mismatch, results[1].Status);
        Assert.Contains("units 8", results[1].Reason);
        Assert.Contains("units 6", results[1].Reason);
        Assert.Equal(EquivalenceStatus.Unmatched, results[2].Status);
        Assert.Equal("dense", results[2].Layer);
        Assert.Null(results[2].MaxAbsError);
    }

    [Fact]
    public void A_layer_missing_its_recurrent_kernel_is_an_error_result_and_others_still_run()
    {
        var b = new EquivalenceBuild();
        var broken = b.KerasLayer("a", LayerType.LSTM, 5, 8);
        var fine = b.KerasLayer("b", LayerType.GRU, 5, 8);
        var torch = EquivalenceBuild.ToTorch(broken, "a").Concat(EquivalenceBuild.ToTorch(fine, "b"));
        var results = Check(broken.Where(t => t.Role != TensorRole.RecurrentKernel).Concat(fine), torch);
        Assert.Equal(EquivalenceStatus.Error, results[0].Status);
        Assert.Equal("MissingTensor", results[0].ErrorId);
        Assert.Contains("RecurrentKernel", results[0].Reason);
        Assert.Equal(EquivalenceStatus.Passed, results[1].Status);
    }

    [Fact]
    public void Contradicting_shapes_and_unknown_activations_are_error_results()
    {
        var b = new EquivalenceBuild();
        var keras = b.KerasLayer("l", LayerType.LSTM, 5, 8);
        var torch = EquivalenceBuild.ToTorch(keras, "l");
        var badBias = keras.Take(2).Append(EquivalenceBuild.Keras("l", LayerType.LSTM, TensorRole.Bias, b.Rand(30))).ToList();
        var r = Single(Check(badBias, torch));
        Assert.Equal(("ShapeMismatch", EquivalenceStatus.Error), (r.ErrorId, r.Status));
        var odd = keras.Select(t => EquivalenceBuild.Keras("l", LayerType.LSTM, t.Role, t.Tensor, config: EquivalenceBuild.Config((ConfigKeys.Activation, "gelu_fancy")))).ToList();
        Assert.Equal("UnsupportedActivation", Single(Check(odd, torch)).ErrorId);
    }

    [Fact]
    public void Inputs_are_seeded_and_scaled_below_saturation()
    {
        var b = new EquivalenceBuild();
        var keras = b.KerasLayer("lstm", LayerType.LSTM, 5, 8);
        // Large trained-looking weights: the input scale shrinks so gates stay out of saturation.
        var big = keras.Select(t => EquivalenceBuild.Keras("lstm", LayerType.LSTM, t.Role, t.Role == TensorRole.Kernel ? t.Tensor * 40 : t.Tensor)).ToList();
        var r1 = Single(Check(big, EquivalenceBuild.ToTorch(big, "lstm")));
        var r2 = Single(Check(big, EquivalenceBuild.ToTorch(big, "lstm")));
        Assert.True(r1.Passed);
        Assert.Equal(r1.MaxAbsError, r2.MaxAbsError); // same seed, same numbers
        Assert.InRange(r1.InputScale, 1e-3, 0.2);
        Assert.True(r1.Saturation < 0.01, $"saturation {r1.Saturation}, scale {r1.InputScale}");
        var small = Single(Check(keras, EquivalenceBuild.ToTorch(keras, "lstm")));
        Assert.Equal(1.0, small.InputScale);
    }

    [SkippableFact]
    public void Keras_hard_sigmoid_follows_the_keras_version()
    {
        var b = new EquivalenceBuild();
        var keras2 = b.KerasLayer("l", LayerType.SimpleRNN, 3, 4, config: EquivalenceBuild.Config((ConfigKeys.Activation, "hard_sigmoid"), (ConfigKeys.HardSigmoid, "keras2")));
        TorchRuntime.EnsureLoaded();
        var x = torch.tensor(new float[] { 2f, -1f, 0.5f }).reshape(1, 1, 3);
        var k3 = keras2.Select(t => EquivalenceBuild.Keras("l", LayerType.SimpleRNN, t.Role, t.Tensor,
            config: EquivalenceBuild.Config((ConfigKeys.Activation, "hard_sigmoid"), (ConfigKeys.KerasVersion, "3.3.3")))).ToList();
        var z = (torch.matmul(x[0], keras2[0].Tensor) + keras2[2].Tensor).to_type(torch.ScalarType.Float32).data<float>().ToArray();
        var y2 = KerasReference.Run(LayerGroup.Group(keras2).Single(), x).Output.to_type(torch.ScalarType.Float32).data<float>().ToArray();
        var y3 = KerasReference.Run(LayerGroup.Group(k3).Single(), x).Output.to_type(torch.ScalarType.Float32).data<float>().ToArray();
        for (int i = 0; i < z.Length; i++)
        {
            Assert.Equal(Math.Clamp(0.2f * z[i] + 0.5f, 0, 1), y2[i], 6);
            Assert.Equal(Math.Clamp(z[i] / 6f + 0.5f, 0, 1), y3[i], 6);
        }
    }

    // ---- against the real frameworks ----

    [SkippableTheory]
    [InlineData("lstm")]
    [InlineData("gru")]
    [InlineData("rnn_relu")]
    public void Torch_side_reproduces_real_pytorch_run_in_python(string kind)
    {
        using var dir = new TempDir();
        var path = dir.File("m.safetensors");
        var expected = Python.Run("torch_rnn_outputs.py", path, kind);
        var tensors = WeightReader.Read(path, WeightFormat.Auto).Tensors;
        if (kind == "rnn_relu")
            tensors = tensors.Select(t => LstmTensor.FromTensor(t.Tensor, t.Name, t.Layer, t.LayerType, t.Role, t.Layout, t.Direction, t.StackIndex,
                t.GateOrder, t.Units, t.InputSize, EquivalenceBuild.Config((ConfigKeys.Activation, "relu")))).ToList();
        var groups = LayerGroup.Group(tensors);
        Assert.Equal(4, groups.Count);

        var x = FromJson(expected.GetProperty("input"));
        var finals = new List<Tensor>();
        var finalC = new List<Tensor>();
        for (int depth = 0; depth < 2; depth++)
        {
            var fwd = TorchModules.Run(groups.Single(g => g.StackIndex == depth && g.Direction == Direction.Forward), x);
            var bwd = TorchModules.Run(groups.Single(g => g.StackIndex == depth && g.Direction == Direction.Backward), x);
            x = torch.cat([fwd.Output, bwd.Output], 2);
            finals.AddRange([fwd.FinalH!, bwd.FinalH!]);
            if (fwd.FinalC is not null) finalC.AddRange([fwd.FinalC, bwd.FinalC!]);
        }
        double Err(Tensor a, string key) => (a - FromJson(expected.GetProperty(key))).abs().max().item<double>();
        var errors = new List<double> { Err(x, "output"), Err(torch.stack(finals), "h_n") };
        if (kind == "lstm") errors.Add(Err(torch.stack(finalC), "c_n"));
        output.WriteLine($"{kind}: max abs error vs PyTorch 1.13 = {errors.Max():G3}");
        Assert.All(errors, e => Assert.InRange(e, 0, 1e-5));
    }

    [SkippableTheory]
    [InlineData("dl4j-keras1-simple-lstm", "simple_lstm_tf_keras_1", "lstm_1", LayerType.LSTM)]
    [InlineData("dl4j-keras1-simple-lstm", "simple_lstm_th_keras_1", "lstm_1", LayerType.LSTM)]
    [InlineData("dl4j-keras2-simple-rnn", "simple_rnn_tf_keras_2", "simple_rnn_1", LayerType.SimpleRNN)]
    public void Keras_reference_reproduces_real_keras_outputs(string fixture, string stem, string layer, LayerType type)
    {
        var model = Repo.Fixture(fixture, stem + "_model.h5");
        var vectors = Repo.Fixture(fixture, stem + "_inputs_and_outputs.h5");
        var f = Python.Run("keras_fixture_vectors.py", model, vectors, layer, "dense_1");
        var config = EquivalenceBuild.Config(
            (ConfigKeys.Activation, f.GetProperty("activation").GetString()),
            (ConfigKeys.RecurrentActivation, f.GetProperty("recurrent_activation").GetString()),
            (ConfigKeys.KerasVersion, f.GetProperty("keras_version").GetString()));
        var tensors = new[]
        {
            EquivalenceBuild.Keras(layer, type, TensorRole.Kernel, FromJson(f.GetProperty("kernel")), config: config),
            EquivalenceBuild.Keras(layer, type, TensorRole.RecurrentKernel, FromJson(f.GetProperty("recurrent_kernel")), config: config),
            EquivalenceBuild.Keras(layer, type, TensorRole.Bias, FromJson(f.GetProperty("bias")), config: config),
        };
        var dense = new[]
        {
            EquivalenceBuild.Keras("dense_1", LayerType.Dense, TensorRole.Kernel, FromJson(f.GetProperty("dense_kernel"))),
            EquivalenceBuild.Keras("dense_1", LayerType.Dense, TensorRole.Bias, FromJson(f.GetProperty("dense_bias"))),
        };
        var x = FromJson(f.GetProperty("inputs")).transpose(0, 1); // stored [batch, time, features]; the check is time-major
        var run = KerasReference.Run(LayerGroup.Group(tensors).Single(), x);
        var prediction = KerasReference.Run(LayerGroup.Group(dense).Single(), run.FinalH!.unsqueeze(0)).Output[0];
        double hErr = (run.FinalH! - FromJson(f.GetProperty("activations"))).abs().max().item<double>();
        double pErr = (prediction - FromJson(f.GetProperty("predictions"))).abs().max().item<double>();
        output.WriteLine($"{stem}: max abs error activations {hErr:G3}, predictions {pErr:G3} (batch {x.shape[1]}, {x.shape[0]} step(s))");
        Assert.InRange(hErr, 0, 1e-5);
        Assert.InRange(pErr, 0, 1e-5);
    }

    [Fact]
    public void Two_layer_bidirectional_512_unit_lstm_default_check_is_fast()
    {
        var b = new EquivalenceBuild { Scale = 1 / Math.Sqrt(512) }; // PyTorch's and Keras's usual weight scale for 512 units
        var keras = new List<LstmTensor>();
        var torch = new List<LstmTensor>();
        for (int depth = 0; depth < 2; depth++)
            foreach (var dir in new[] { Direction.Forward, Direction.Backward })
            {
                var layer = b.KerasLayer($"bidirectional_{depth + 1}", LayerType.LSTM, depth == 0 ? 64 : 1024, 512, dir);
                keras.AddRange(layer);
                torch.AddRange(EquivalenceBuild.ToTorch(layer, "lstm", depth));
            }
        TorchRuntime.EnsureLoaded();
        foreach (var t in keras.Concat(torch)) _ = t.Tensor;
        var watch = Stopwatch.StartNew();
        var results = EquivalenceChecker.Check(keras, torch).ToList();
        watch.Stop();
        foreach (var r in results) output.WriteLine($"{r.Layer} {r.Direction}: {r.Elapsed.TotalSeconds:F2} s, max abs error {r.MaxAbsError:G3}, saturation {r.Saturation:P1}");
        output.WriteLine($"2-layer bidirectional LSTM, 512 units, default check ({new EquivalenceOptions().SequenceLength} steps, batch {new EquivalenceOptions().BatchSize}): {watch.Elapsed.TotalSeconds:F2} s; max abs error {results.Max(r => r.MaxAbsError):G3}");
        Assert.Equal(4, results.Count);
        Assert.All(results, r => Assert.True(r.Passed, r.ToString()));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"took {watch.Elapsed}");
    }

    static Tensor FromJson(JsonElement e)
    {
        var shape = e.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
        var values = e.GetProperty("values").EnumerateArray().Select(v => v.GetSingle()).ToArray();
        return torch.tensor(values).reshape(shape);
    }
}

/// <summary>The checks multiply through mm: TorchSharp 0.107's matmul has no error guard, and a libtorch error in it ends the process.</summary>
public sealed class MatMulTests
{
    [Fact]
    public void MatMul_equals_libtorch_matmul_for_inputs_of_rank_one_to_three()
    {
        TorchRuntime.EnsureLoaded();
        using var w = torch.randn(5, 7, dtype: torch.ScalarType.Float64);
        foreach (long[] shape in new[] { new long[] { 5 }, [3, 5], [4, 3, 5] })
        {
            using var x = torch.randn(shape, dtype: torch.ScalarType.Float64);
            using var ours = LstmPort.Conversion.LayerSettings.MatMul(x, w);
            using var expected = torch.matmul(x, w);
            Assert.Equal(expected.shape, ours.shape);
            Assert.True(torch.allclose(ours, expected, rtol: 0, atol: 1e-12), string.Join("x", shape));
        }
    }

    [Fact]
    public void A_libtorch_error_in_MatMul_is_an_exception_and_the_process_goes_on()
    {
        TorchRuntime.EnsureLoaded();
        using var x = torch.ones(2, 3);
        using var wrongShape = torch.ones(2, 3);
        using var wrongType = torch.ones([3, 3], torch.ScalarType.Float64);
        Assert.Contains("mat1 and mat2", Assert.ThrowsAny<Exception>(() => LstmPort.Conversion.LayerSettings.MatMul(x, wrongShape)).Message);
        Assert.Contains("dtype", Assert.ThrowsAny<Exception>(() => LstmPort.Conversion.LayerSettings.MatMul(x, wrongType)).Message);
    }
}
