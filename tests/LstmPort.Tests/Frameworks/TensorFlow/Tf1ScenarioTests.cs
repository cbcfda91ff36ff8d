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
}
