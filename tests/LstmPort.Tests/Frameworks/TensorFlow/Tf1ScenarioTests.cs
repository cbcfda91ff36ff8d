using System.Text.Json.Nodes;

namespace LstmPort.Tests;

/// <summary>
/// The TF1 ports people ask about, end to end through the module: checkpoints written from the
/// published format, converted, loaded by real PyTorch and compared with the TF1 cell equations
/// (numpy, tests/LstmPort.Tests/Python/tf1_check.py) over several steps.
/// </summary>
public sealed class Tf1ScenarioTests(ModuleSession ps) : IClassFixture<ModuleSession>
{
    static float[] Random(int seed, int n)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * 0.5)).ToArray();
    }

    static string Checkpoint(TempDir dir, params TfCheckpointWriter.Variable[] variables)
    {
        var prefix = dir.File("model.ckpt");
        new TfCheckpointWriter().Write(prefix, variables);
        File.WriteAllText(dir.File("checkpoint"), "model_checkpoint_path: \"model.ckpt\"\n");
        return prefix;
    }

    static TfCheckpointWriter.Variable V(string name, long[] shape, int seed) => new(name, shape, Random(seed, (int)shape.Aggregate(1L, (a, b) => a * b)));

    /// <summary>Runs tf1_check.py: the TF1 equations on the exported TF1 variables against the module(s) in the .pth.</summary>
    double Check(TempDir dir, string tf1, string pth, int input, JsonArray cells, JsonObject torch)
    {
        var spec = new JsonObject { ["tf1"] = tf1, ["pth"] = pth, ["input"] = input, ["seq"] = 8, ["batch"] = 3, ["cells"] = cells, ["torch"] = torch };
        File.WriteAllText(dir.File("spec.json"), spec.ToJsonString());
        return Python.Run("tf1_check.py", dir.File("spec.json")).GetProperty("max_abs_error").GetDouble();
    }

    static JsonObject Cell(string scope, string direction = "fw", bool projection = false) => new()
    {
        ["kernel"] = scope + "/kernel", ["bias"] = scope + "/bias", ["projection"] = projection ? scope + "/projection/kernel" : null,
        ["forget_bias"] = 1.0, ["direction"] = direction,
    };

    void Run(string script, params object[] args)
    {
        var r = ps.Run(script, args);
        Assert.True(r.Errors.Count == 0 && r.Terminating is null, string.Join("\n", r.Errors.Select(LstmPort.Host.ScriptRunner.Describe)) + r.Terminating?.Message);
    }

    [SkippableFact]
    public void A_MultiRNNCell_of_LSTMCells_from_a_checkpoint_into_nn_LSTM_and_nn_LSTMCell()
    {
        using var dir = new TempDir();
        var ckpt = Checkpoint(dir,
            V("rnn/multi_rnn_cell/cell_0/lstm_cell/kernel", [4 + 3, 12], 1), V("rnn/multi_rnn_cell/cell_0/lstm_cell/bias", [12], 2),
            V("rnn/multi_rnn_cell/cell_1/lstm_cell/kernel", [3 + 3, 12], 3), V("rnn/multi_rnn_cell/cell_1/lstm_cell/bias", [12], 4),
            V("rnn/multi_rnn_cell/cell_0/lstm_cell/kernel/Adam", [4 + 3, 12], 5));
        string tf1 = dir.File("tf1.safetensors"), stacked = dir.File("stacked.pth"), cells = dir.File("cells.pth");
        Run("$w = Get-LstmWeights $args[0] | Where-Object LayerType -ne Other; $w | Export-LstmWeights $args[1];" +
            "$w | ConvertTo-TorchLayout -StackAs rnn | Export-LstmWeights $args[2]; $w | ConvertTo-TorchLayout -AsCell | Export-LstmWeights $args[3]",
            dir.Path, tf1, stacked, cells);

        var names = ps.Objects<LstmTensor>("Get-LstmWeights $args[0]", cells).Select(t => t.Name).ToList();
        Assert.Equal(["rnn.multi_rnn_cell.cell_0.weight_ih", "rnn.multi_rnn_cell.cell_0.weight_hh", "rnn.multi_rnn_cell.cell_0.bias_ih", "rnn.multi_rnn_cell.cell_0.bias_hh",
                      "rnn.multi_rnn_cell.cell_1.weight_ih", "rnn.multi_rnn_cell.cell_1.weight_hh", "rnn.multi_rnn_cell.cell_1.bias_ih", "rnn.multi_rnn_cell.cell_1.bias_hh"], names);

        var cellSpecs = new JsonArray(Cell("rnn/multi_rnn_cell/cell_0/lstm_cell"), Cell("rnn/multi_rnn_cell/cell_1/lstm_cell"));
        var e1 = Check(dir, tf1, stacked, 4, cellSpecs, new JsonObject { ["mode"] = "stack", ["module"] = "rnn" });
        Assert.True(e1 < 1e-6, $"nn.LSTM(num_layers=2) differs from the TF1 cells by {e1:E2}");
        var e2 = Check(dir, tf1, cells, 4, new JsonArray(Cell("rnn/multi_rnn_cell/cell_0/lstm_cell"), Cell("rnn/multi_rnn_cell/cell_1/lstm_cell")),
            new JsonObject { ["mode"] = "cells", ["modules"] = new JsonArray("rnn.multi_rnn_cell.cell_0", "rnn.multi_rnn_cell.cell_1") });
        Assert.True(e2 < 1e-6, $"nn.LSTMCell differs from the TF1 cells by {e2:E2}");
    }

    [SkippableFact]
    public void A_TF1_bidirectional_LSTM_into_Keras_with_forget_bias_folded_computes_the_same()
    {
        using var dir = new TempDir();
        var ckpt = Checkpoint(dir,
            V("bidirectional_rnn/fw/lstm_cell/kernel", [5 + 4, 16], 11), V("bidirectional_rnn/fw/lstm_cell/bias", [16], 12),
            V("bidirectional_rnn/bw/lstm_cell/kernel", [5 + 4, 16], 13), V("bidirectional_rnn/bw/lstm_cell/bias", [16], 14));
        string tf1 = dir.File("tf1.safetensors"), viaKeras = dir.File("via_keras.pth");
        Run("$w = Get-LstmWeights $args[0]; $w | Export-LstmWeights $args[1]; $w | ConvertTo-KerasLayout | ConvertTo-TorchLayout -StackAs lstm | Export-LstmWeights $args[2]",
            ckpt, tf1, viaKeras);

        // Keras layout: the forget-gate block of the bias carries TF1's bias plus forget_bias (1.0).
        var keras = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] | ConvertTo-KerasLayout", ckpt);
        var bias = keras.Single(t => t.Role == TensorRole.Bias && t.Direction == Direction.Forward).Tensor;
        var stored = Random(12, 16);
        for (int i = 0; i < 4; i++) // Keras f block = TF1 f block (third, IJFO) + 1
            Assert.Equal(stored[8 + i] + 1f, bias[4 + i].item<float>(), 5);
        Assert.Equal(["bidirectional_rnn/forward_lstm/lstm_cell/kernel:0", "bidirectional_rnn/backward_lstm/lstm_cell/kernel:0"],
            keras.Where(t => t.Role == TensorRole.Kernel).Select(t => t.Name));

        // The outputs match: TF1 equations vs the Keras weights run by real PyTorch, and Test-LstmEquivalence agrees.
        var e = Check(dir, tf1, viaKeras, 5, new JsonArray(Cell("bidirectional_rnn/fw/lstm_cell"), Cell("bidirectional_rnn/bw/lstm_cell", "bw")),
            new JsonObject { ["mode"] = "stack", ["module"] = "lstm" });
        Assert.True(e < 1e-6, $"bidirectional: differs from the TF1 cells by {e:E2}");
        var results = ps.Objects<LstmPort.Verification.EquivalenceResult>("$t = Get-LstmWeights $args[0]; Test-LstmEquivalence $t ($t | ConvertTo-KerasLayout)", ckpt);
        Assert.Equal(2, results.Count);
        Assert.All(results, r => Assert.True(r.Passed, $"{r.Direction}: {r.MaxAbsError}"));
    }

    [SkippableFact]
    public void A_TF1_cell_with_num_proj_becomes_nn_LSTM_with_proj_size()
    {
        using var dir = new TempDir();
        var ckpt = Checkpoint(dir,
            V("rnn/lstm_cell/kernel", [4 + 2, 20], 21), V("rnn/lstm_cell/bias", [20], 22), V("rnn/lstm_cell/projection/kernel", [5, 2], 23));
        string tf1 = dir.File("tf1.safetensors"), pth = dir.File("proj.pth");
        Run("$w = Get-LstmWeights $args[0]; $w | Export-LstmWeights $args[1]; $w | ConvertTo-TorchLayout | Export-LstmWeights $args[2]", ckpt, tf1, pth);
        var torchT = ps.Objects<LstmTensor>("Get-LstmWeights $args[0]", pth);
        // The cell's scope (rnn) names the module.
        Assert.Equal(["rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0", "rnn.weight_hr_l0"],
            torchT.Select(t => t.Name));
        Assert.Equal([2, 5], torchT[^1].Shape);
        var e = Check(dir, tf1, pth, 4, new JsonArray(Cell("rnn/lstm_cell", projection: true)), new JsonObject { ["mode"] = "stack", ["module"] = "rnn" });
        Assert.True(e < 1e-6, $"nn.LSTM(proj_size=2) differs from the TF1 cell by {e:E2}");

        // Keras has no projection: refused with the reason.
        var r = ps.Run("Get-LstmWeights $args[0] | ConvertTo-KerasLayout", ckpt);
        Assert.Contains("num_proj", Assert.Single(r.Errors).Exception.Message);
    }

    /// <summary>
    /// The classic TF1 tutorial checkpoint (tf.train.Saver after Adam): fully connected layers made
    /// with tf.get_variable as &lt;scope&gt;/weights and &lt;scope&gt;/biases around a MultiRNNCell of
    /// BasicLSTMCells. Users reported that LstmPort took the dense scope in_hidden [3,36] for a cell and
    /// emitted nothing at all.
    /// </summary>
    static List<TfCheckpointWriter.Variable> Tutorial(int cell1Columns = 64)
    {
        const string cell = "LSTM_cell/rnn/multi_rnn_cell/cell_{0}/basic_lstm_cell/{1}";
        var weights = new List<TfCheckpointWriter.Variable>
        {
            V("in_hidden/weights", [3, 36], 31), V("in_hidden/biases", [36], 32),
            V(string.Format(cell, 0, "kernel"), [36 + 16, 64], 33), V(string.Format(cell, 0, "bias"), [64], 34),
            V(string.Format(cell, 1, "kernel"), [16 + 16, cell1Columns], 35), V(string.Format(cell, 1, "bias"), [64], 36),
            V("out_hidden/weights", [16, 1], 37), V("out_hidden/biases", [1], 38),
        };
        var state = weights.SelectMany(w => new[] { new TfCheckpointWriter.Variable(w.Name + "/Adam", w.Shape, w.Values), new TfCheckpointWriter.Variable(w.Name + "/Adam_1", w.Shape, w.Values) })
            .Append(V("train/beta1_power", [], 39)).Append(V("train/beta2_power", [], 40)).Append(V("global_step", [], 41));
        return [.. weights, .. state];
    }

    [SkippableFact]
    public void The_TF1_tutorial_checkpoint_reads_dense_and_LSTM_layers_and_runs_the_same_in_real_PyTorch()
    {
        using var dir = new TempDir();
        var ckpt = Checkpoint(dir, [.. Tutorial()]);
        var f = LstmPort.Formats.WeightReader.Read(ckpt);
        Assert.Empty(f.Errors);
        Assert.Empty(f.Warnings);
        Assert.Equal("left out 19 variables that hold training state, not weights: 16 optimizer slots (Adam, Adam_1); 2 optimizer variables (beta1_power, beta2_power); 1 step counter (global_step)",
            Assert.Single(f.Notes));
        Assert.Equal(new[]
        {
            ("in_hidden/weights", "in_hidden", LayerType.Dense, TensorRole.Kernel), ("in_hidden/biases", "in_hidden", LayerType.Dense, TensorRole.Bias),
            ("LSTM_cell/rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel", "LSTM_cell/rnn/multi_rnn_cell/cell_0", LayerType.LSTM, TensorRole.FusedKernel),
            ("LSTM_cell/rnn/multi_rnn_cell/cell_0/basic_lstm_cell/bias", "LSTM_cell/rnn/multi_rnn_cell/cell_0", LayerType.LSTM, TensorRole.Bias),
            ("LSTM_cell/rnn/multi_rnn_cell/cell_1/basic_lstm_cell/kernel", "LSTM_cell/rnn/multi_rnn_cell/cell_1", LayerType.LSTM, TensorRole.FusedKernel),
            ("LSTM_cell/rnn/multi_rnn_cell/cell_1/basic_lstm_cell/bias", "LSTM_cell/rnn/multi_rnn_cell/cell_1", LayerType.LSTM, TensorRole.Bias),
            ("out_hidden/weights", "out_hidden", LayerType.Dense, TensorRole.Kernel), ("out_hidden/biases", "out_hidden", LayerType.Dense, TensorRole.Bias),
        }, f.Tensors.Select(t => (t.Name, t.Layer, t.LayerType, t.Role)));
        Assert.Equal([(36, 3), (36, 3), (16, 36), (16, 36), (16, 16), (16, 16), (1, 16), (1, 16)], f.Tensors.Select(t => (t.Units, t.InputSize)));
        foreach (var v in Tutorial().Take(8))
            Assert.Equal(v.Values, f.Tensors.Single(t => t.Name == v.Name).Tensor.flatten().data<float>().ToArray());

        // Into PyTorch: nn.Linear, one nn.LSTM(num_layers=2), nn.Linear; loaded strictly and run on the same input as the TF1 model in numpy.
        string tf1 = dir.File("tf1.safetensors"), pth = dir.File("tutorial.pth");
        Run("$w = Get-LstmWeights $args[0]; $w | Export-LstmWeights $args[1]; $w | ConvertTo-TorchLayout -StackAs rnn | Export-LstmWeights $args[2]", ckpt, tf1, pth);
        const string cell = "LSTM_cell/rnn/multi_rnn_cell/cell_{0}/basic_lstm_cell/{1}";
        JsonObject Lstm(int k) => new() { ["kernel"] = string.Format(cell, k, "kernel"), ["bias"] = string.Format(cell, k, "bias"), ["forget_bias"] = 1.0 };
        var spec = new JsonObject
        {
            ["tf1"] = tf1, ["pth"] = pth, ["input"] = 3, ["seq"] = 7, ["batch"] = 2,
            ["stages"] = new JsonArray(
                new JsonObject { ["dense"] = new JsonObject { ["kernel"] = "in_hidden/weights", ["bias"] = "in_hidden/biases" }, ["module"] = "in_hidden" },
                new JsonObject { ["lstm"] = new JsonArray(Lstm(0), Lstm(1)), ["module"] = "rnn" },
                new JsonObject { ["dense"] = new JsonObject { ["kernel"] = "out_hidden/weights", ["bias"] = "out_hidden/biases" }, ["module"] = "out_hidden" }),
        };
        File.WriteAllText(dir.File("model.json"), spec.ToJsonString());
        var result = Python.Run("tf1_model_check.py", dir.File("model.json"));
        Assert.True(result.GetProperty("max_abs_error").GetDouble() < 1e-5, $"PyTorch differs from the TF1 model by {result.GetProperty("max_abs_error").GetDouble():E2}");
        Assert.Equal(8, result.GetProperty("modules").GetProperty("rnn").GetArrayLength());

        foreach (var convert in new[] { "ConvertTo-TorchLayout -StackAs rnn", "ConvertTo-KerasLayout" })
        {
            var checks = ps.Objects<LstmPort.Verification.EquivalenceResult>($"$t = Get-LstmWeights $args[0]; Test-LstmEquivalence $t ($t | {convert})", ckpt);
            Assert.Equal(4, checks.Count);
            Assert.All(checks, r => Assert.True(r.Passed && r.MaxAbsError < 1e-5, $"{convert}: {r.Layer} {r.MaxAbsError}"));
        }
    }

    [Fact]
    public void A_broken_scope_of_the_tutorial_checkpoint_is_its_own_error_and_every_other_layer_still_comes_out()
    {
        using var dir = new TempDir();
        var ckpt = Checkpoint(dir, [.. Tutorial(cell1Columns: 62)]);
        var r = ps.Run("Get-LstmWeights $args[0]", ckpt);
        var e = Assert.Single(r.Errors);
        Assert.Equal("LayerShapeMismatch", e.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(System.Management.Automation.ErrorCategory.InvalidData, e.CategoryInfo.Category);
        Assert.Equal("TF1 cell LSTM_cell/rnn/multi_rnn_cell/cell_1/basic_lstm_cell: 'LSTM_cell/rnn/multi_rnn_cell/cell_1/basic_lstm_cell/kernel' is [32,62]; " +
                     "an LSTM cell's kernel is [input + units, 4*units] (i, j, f, o).", e.Exception.Message);
        var names = r.Output.Select(o => ((LstmTensor)o.BaseObject).Name).ToList();
        Assert.Equal(["in_hidden/weights", "in_hidden/biases", "LSTM_cell/rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel",
                      "LSTM_cell/rnn/multi_rnn_cell/cell_0/basic_lstm_cell/bias", "out_hidden/weights", "out_hidden/biases"], names);
        // What is left converts and checks as before.
        var checks = ps.Objects<LstmPort.Verification.EquivalenceResult>(
            "$t = Get-LstmWeights $args[0] -ErrorAction SilentlyContinue; Test-LstmEquivalence $t ($t | ConvertTo-TorchLayout)", ckpt);
        Assert.Equal(3, checks.Count);
        Assert.All(checks, c => Assert.True(c.Passed, c.Reason));
    }
}
