using System.Text.Json;
using LstmPort.Containers;
using LstmPort.Formats;

namespace LstmPort.Tests;

/// <summary>
/// Export-LstmWeights to Keras 3 .weights.h5. Without Keras to load it, the file is proven by: h5py
/// seeing the groups, datasets and attributes the real Keras 3 files in the fixtures have for the same
/// layers, byte-equal data after a round trip, the checks Keras 3's load_weights makes per layer
/// (Python/keras3_h5.py load), our reader reading back the same values, and the numbers: Test-LstmEquivalence
/// and real PyTorch running the conversion of what was read back.
/// </summary>
public sealed class Keras3WeightsWriterTests(ModuleSession ps) : IClassFixture<ModuleSession>
{
    static string ErrorId(Host.RunResult r) =>
        (r.Errors.FirstOrDefault()?.FullyQualifiedErrorId ?? (r.Terminating as System.Management.Automation.IContainsErrorRecord)?.ErrorRecord?.FullyQualifiedErrorId ?? "").Split(',')[0];

    void Run(string script, params object[] args)
    {
        var r = ps.Run(script, args);
        Assert.False(r.Failed, string.Join("\n", r.Errors.Select(Host.ScriptRunner.Describe)) + r.Terminating?.Message);
    }

    /// <summary>
    /// What we write must equal what Keras wrote, minus what we leave out on purpose: the optimizer,
    /// and the groups of layers without weights (Dropout, InputLayer), which the tensors do not carry.
    /// The root object's name is the model's own, which the tensors do not carry either.
    /// </summary>
    static void AssertSameStore(JsonElement theirs, JsonElement ours)
    {
        Assert.Empty(theirs.GetProperty("attributes").EnumerateObject());
        Assert.Empty(ours.GetProperty("attributes").EnumerateObject());
        var datasets = theirs.GetProperty("datasets").EnumerateObject().Where(d => !d.Name.StartsWith("optimizer/", StringComparison.Ordinal)).ToList();
        Assert.Equal(datasets.Select(d => d.Name).Order(StringComparer.Ordinal), ours.GetProperty("datasets").EnumerateObject().Select(d => d.Name).Order(StringComparer.Ordinal));
        foreach (var d in datasets)
        {
            var mine = ours.GetProperty("datasets").GetProperty(d.Name);
            foreach (var field in new[] { "dtype", "shape", "layout", "chunks", "compression", "sha256" })
                Assert.True(d.Value.GetProperty(field).GetRawText() == mine.GetProperty(field).GetRawText(),
                    $"{d.Name} {field}: {mine.GetProperty(field).GetRawText()}, Keras wrote {d.Value.GetProperty(field).GetRawText()}");
        }
        // Groups: every ancestor of a dataset, and the vars group (with the object's name) of each.
        var ancestors = new HashSet<string>(StringComparer.Ordinal) { "" };
        foreach (var d in datasets)
            for (int i = d.Name.IndexOf('/'); i >= 0; i = d.Name.IndexOf('/', i + 1)) ancestors.Add(d.Name[..i]);
        var expected = theirs.GetProperty("groups").EnumerateObject()
            .Where(g => ancestors.Contains(g.Name) || g.Name.EndsWith("vars", StringComparison.Ordinal) && ancestors.Contains(g.Name.Length == 4 ? "" : g.Name[..^5])).ToList();
        Assert.Equal(expected.Select(g => g.Name).Order(StringComparer.Ordinal), ours.GetProperty("groups").EnumerateObject().Select(g => g.Name).Order(StringComparer.Ordinal));
        foreach (var g in expected)
        {
            var mine = ours.GetProperty("groups").GetProperty(g.Name);
            Assert.Equal(g.Value.EnumerateObject().Select(a => a.Name), mine.EnumerateObject().Select(a => a.Name));
            if (!g.Value.TryGetProperty("name", out var name)) continue;
            // h5py reads the name as Keras wrote it: a scalar variable-length UTF-8 str.
            foreach (var field in new[] { "python", "shape", "string", "utf8" })
                Assert.Equal(name.GetProperty(field).GetRawText(), mine.GetProperty("name").GetProperty(field).GetRawText());
            if (g.Name != "vars") Assert.Equal(name.GetProperty("value").GetString(), mine.GetProperty("name").GetProperty("value").GetString());
        }
    }

    [SkippableTheory]
    [InlineData("lstm_model.keras")]
    [InlineData("gru_model.keras")]
    public void The_fixture_weights_go_back_byte_for_byte_in_the_structure_Keras_3_wrote(string archive)
    {
        using var dir = new TempDir();
        var inner = Keras3Files.Extract(archive, dir, "inner.weights.h5");
        var keras = Repo.Fixture(Keras3Files.Folder, archive);
        string withConfig = dir.File("with-config.weights.h5"), bare = dir.File("bare.weights.h5");
        Run("Get-LstmWeights $args[0] -Config $args[1] | Export-LstmWeights $args[2]; Get-LstmWeights $args[0] -WarningAction SilentlyContinue | Export-LstmWeights $args[3]",
            inner, keras, withConfig, bare);

        var theirs = Python.Run("keras3_h5.py", "structure", inner);
        AssertSameStore(theirs, Python.Run("keras3_h5.py", "structure", withConfig));
        AssertSameStore(theirs, Python.Run("keras3_h5.py", "structure", bare));

        // What Keras 3's load_weights checks per layer (count, shapes, dtypes), against the real file.
        var load = Python.Run("keras3_h5.py", "load", withConfig, inner);
        Assert.Equal(2, load.GetProperty("groups").GetArrayLength());
        Assert.Equal(0.0, load.GetProperty("max_abs_diff").GetDouble());

        // Our reader reads back what it read, and Test-LstmEquivalence agrees.
        Assert.Equal(WeightFormat.KerasWeights, WeightReader.DetectFormat(withConfig));
        var before = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] -Config $args[1]", inner, keras);
        var after = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] -Config $args[1]", withConfig, keras);
        Assert.Equal(before.Select(t => t.Name), after.Select(t => t.Name));
        Keras3Files.AssertSameData(before, after);
        var check = ps.Objects<Verification.EquivalenceResult>("Test-LstmEquivalence (Get-LstmWeights $args[0] -Config $args[2]) (Get-LstmWeights $args[1] -Config $args[2])", inner, withConfig, keras);
        Assert.Equal(2, check.Count);
        Assert.All(check, c => Assert.True(c.Passed && c.MaxAbsError == 0, $"{c.Layer}: {c.Status} {c.MaxAbsError}"));
    }

    [SkippableTheory]
    [InlineData("names")]
    [InlineData("no-names")]
    public void Every_layer_type_lands_where_Keras_3_puts_it_from_its_own_paths_and_from_tf_keras_names(string variant)
    {
        using var dir = new TempDir();
        var (weights, config, _) = Keras3Files.Make("sequential", dir, "model", variant == "names" ? ["--optimizer"] : ["--optimizer", "--no-names"]);
        string kept = dir.File("kept.weights.h5"), renamed = dir.File("renamed.weights.h5");
        // ConvertTo-KerasLayout gives tf.keras 2.x names (lstm_1/lstm_cell/kernel:0): the writer places them by type and order.
        Run("$k = Get-LstmWeights $args[0] -Config $args[1]; $k | Export-LstmWeights $args[2]; $k | ConvertTo-KerasLayout | Export-LstmWeights $args[3]",
            weights, config, kept, renamed);
        Assert.Contains("bidirectional/forward_lstm/lstm_cell/kernel:0",
            ps.Objects<LstmTensor>("Get-LstmWeights $args[0] -Config $args[1] | ConvertTo-KerasLayout", weights, config).Select(t => t.Name));

        var theirs = Python.Run("keras3_h5.py", "structure", weights);
        if (variant == "names")
        {
            AssertSameStore(theirs, Python.Run("keras3_h5.py", "structure", kept));
            AssertSameStore(theirs, Python.Run("keras3_h5.py", "structure", renamed));
        }
        foreach (var file in new[] { kept, renamed })
        {
            var load = Python.Run("keras3_h5.py", "load", file, weights);
            Assert.Equal(8, load.GetProperty("groups").GetArrayLength()); // embedding, 2 bidirectional cells, lstm, lstm_1, gru, simple_rnn, dense
            Assert.Equal(0.0, load.GetProperty("max_abs_diff").GetDouble());
        }
        var results = ps.Objects<Verification.EquivalenceResult>("Test-LstmEquivalence (Get-LstmWeights $args[0] -Config $args[2]) (Get-LstmWeights $args[1] -Config $args[2])", weights, renamed, config);
        Assert.Equal(7, results.Count); // the Bidirectional's 2 directions, 4 more recurrent layers, the Dense (an Embedding has no maths to run)
        Assert.All(results, c => Assert.True(c.Passed, $"{c.Layer} {c.Direction}: {c.Status} {c.MaxAbsError} {c.Reason}"));
    }

    [SkippableFact]
    public void Tensors_from_a_tf_keras_file_and_from_PyTorch_land_where_Keras_3_puts_them()
    {
        using var dir = new TempDir();
        var tfKeras = Repo.Fixture("dl4j-keras-bidirectional-lstm", "embedding_lstm_tensorflow_2.h5");
        var out1 = dir.File("from-tf-keras.weights.h5");
        Run("Get-LstmWeights $args[0] | Export-LstmWeights $args[1]", tfKeras, out1);
        var s = Python.Run("keras3_h5.py", "structure", out1);
        Assert.Equal(["layers/embedding/vars/0", "layers/lstm/cell/vars/0", "layers/lstm/cell/vars/1", "layers/lstm/cell/vars/2"],
            s.GetProperty("datasets").EnumerateObject().Select(d => d.Name).Order(StringComparer.Ordinal));
        Assert.Equal(["lstm_cell", "lstm_1", "embedding_1"],
            new[] { "layers/lstm/cell/vars", "layers/lstm/vars", "layers/embedding/vars" }.Select(g => s.GetProperty("groups").GetProperty(g).GetProperty("name").GetProperty("value").GetString()));
        var source = ps.Objects<LstmTensor>("Get-LstmWeights $args[0]", tfKeras);
        var kernel = source.Single(t => t.Name == "lstm_1/kernel:0");
        Assert.Equal(Keras3Files.Data(kernel).Select(v => (double)v), s.GetProperty("datasets").GetProperty("layers/lstm/cell/vars/0").GetProperty("values").EnumerateArray().Select(v => v.GetDouble()));
        // Read back: the same layers, roles and data (the settings are this file's config's, which a weights file does not keep).
        var back = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] -WarningAction SilentlyContinue", out1);
        Assert.Equal(["embedding_1", "lstm_1"], back.Select(t => t.Layer).Distinct());
        Assert.Equal(source.Select(t => (t.Layer, t.LayerType, t.Role, string.Join(",", t.Shape))), back.OrderBy(t => t.Layer == "lstm_1").Select(t => (t.Layer, t.LayerType, t.Role, string.Join(",", t.Shape))));
        foreach (var t in source)
            Assert.Equal(Keras3Files.Data(t), Keras3Files.Data(back.Single(b => b.Layer == t.Layer && b.Role == t.Role)));

        // A 2-layer bidirectional PyTorch LSTM becomes two Keras Bidirectional layers: bidirectional, bidirectional_1.
        var torch = dir.File("torch.safetensors");
        Python.Run("torch_rnn_outputs.py", torch, "lstm");
        var out2 = dir.File("from-torch.weights.h5");
        Run("Get-LstmWeights $args[0] | ConvertTo-KerasLayout | Export-LstmWeights $args[1]", torch, out2);
        var fromTorch = Python.Run("keras3_h5.py", "structure", out2);
        Assert.Equal(12, fromTorch.GetProperty("datasets").EnumerateObject().Count());
        Assert.True(fromTorch.GetProperty("datasets").TryGetProperty("layers/bidirectional_1/backward_layer/cell/vars/2", out var bias));
        Assert.Equal("[28]", bias.GetProperty("shape").GetRawText());
        Assert.Equal("rnn_1", fromTorch.GetProperty("groups").GetProperty("layers/bidirectional_1/vars").GetProperty("name").GetProperty("value").GetString());
        var torchCheck = ps.Objects<Verification.EquivalenceResult>("Test-LstmEquivalence (Get-LstmWeights $args[0]) (Get-LstmWeights $args[1] -WarningAction SilentlyContinue)", torch, out2);
        Assert.Equal(4, torchCheck.Count);
        Assert.All(torchCheck, c => Assert.True(c.Passed, $"{c.Layer} {c.Direction}: {c.Status} {c.MaxAbsError}"));
    }

    [SkippableFact]
    public void Keras_3_weights_convert_to_a_pth_that_real_PyTorch_runs_as_Keras_would()
    {
        using var dir = new TempDir();
        var (weights, config, _) = Keras3Files.Make("sequential", dir, "model");
        // Through our own writer first: what is read back from it is what converts.
        var written = dir.File("written.weights.h5");
        Run("Get-LstmWeights $args[0] -Config $args[1] | Export-LstmWeights $args[2]", weights, config, written);
        string kerasOut = dir.File("keras.safetensors"), torchOut = dir.File("torch.pth");
        Run("$k = Get-LstmWeights $args[0] -Config $args[1]; $k | Export-LstmWeights $args[2]; $k | ConvertTo-TorchLayout | Export-LstmWeights $args[3]",
            written, config, kerasOut, torchOut);
        var tensors = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] -Config $args[1]", written, config);
        var spec = ConversionTests.Spec(tensors, kerasOut, torchOut, null);
        File.WriteAllText(dir.File("spec.json"), spec.ToJsonString());
        // Real nn.LSTM / nn.GRU / nn.RNN (relu) load the .pth strictly and compute what the Keras equations compute.
        ConversionTests.AllWithin(Python.Run("conversion_check.py", "compare", dir.File("spec.json")), 5);
        var check = ps.Objects<Verification.EquivalenceResult>("$k = Get-LstmWeights $args[0] -Config $args[1]; Test-LstmEquivalence $k ($k | ConvertTo-TorchLayout)", written, config);
        Assert.All(check, c => Assert.True(c.Passed, $"{c.Layer} {c.Direction}: {c.Status} {c.MaxAbsError} {c.Reason}"));
        Assert.Equal(7, check.Count);
    }

    [SkippableTheory]
    [InlineData("torch", "NotKerasLayout")]
    [InlineData("cudnn", "NotKerasLayout")]
    [InlineData("two-kernels", "DuplicateTensor")]
    [InlineData("no-recurrent-kernel", "MissingTensor")]
    [InlineData("same-path", "DuplicateTensorName")]
    [InlineData("dataset-as-group", "InvalidTensorName")]
    public void Bad_input_is_refused_and_nothing_is_written(string kind, string errorId)
    {
        using var dir = new TempDir();
        var source = Safetensors.Write(dir.File("a.safetensors"), ("lstm.weight_ih_l0", [4, 2], new float[8]));
        var script = kind switch
        {
            "torch" => "Get-LstmWeights $source",
            "cudnn" => $"Get-LstmWeights '{Repo.Fixture("textgenrnn-cudnnlstm-weights", "textgenrnn_weights_keras215_cudnn.hdf5")}' -Layer rnn_1 -WarningAction SilentlyContinue",
            "two-kernels" => "T 'lstm/kernel:0' lstm LSTM Kernel @(2, 8); T 'lstm/kernel_1:0' lstm LSTM Kernel @(2, 8); T 'lstm/recurrent_kernel:0' lstm LSTM RecurrentKernel @(2, 8)",
            "no-recurrent-kernel" => "T 'gru/kernel:0' gru GRU Kernel @(2, 6)",
            "same-path" => "T 'layers/dense/vars/0' dense Dense Kernel @(2, 1); T 'layers/dense/vars/0' head Dense Kernel @(2, 1)",
            _ => "T 'layers/x/vars/0' x Other Other @(1); T 'layers/x/vars/0/vars/1' x Other Other @(1)",
        };
        var r = ps.Run("""
            [LstmPort.Runtime.TorchRuntime]::EnsureLoaded()
            function T($name, $layer, $type, $role, $shape) {
                $data = [TorchSharp.torch]::zeros([long[]]$shape, [TorchSharp.torch+ScalarType]::Float32)
                [LstmPort.LstmTensor]::FromTensor($data, $name, $layer, $type, $role, 'Keras')
            }
            $source = $args[0]
            """ + "\n& { " + script + " } | Export-LstmWeights $args[1]", source, dir.File("out.weights.h5"));
        Assert.Equal(errorId, ErrorId(r));
        Assert.Equal(["a.safetensors"], Directory.GetFiles(dir.Path).Select(Path.GetFileName).ToArray());
        if (errorId == "NotKerasLayout") Assert.Contains("ConvertTo-KerasLayout", r.ErrorText + r.Terminating?.Message + string.Join("", r.Errors.Select(e => e.Exception.Message)));
    }

    [SkippableFact]
    public void The_name_or_Format_chooses_Keras_3_or_tf_keras_2()
    {
        using var dir = new TempDir();
        var (weights, _, _) = Keras3Files.Make("lstm", dir, "m");
        string k3 = dir.File("out.weights.h5"), k2 = dir.File("out.h5"), other = dir.File("weights.bin");
        Run("$k = Get-LstmWeights $args[0] -WarningAction SilentlyContinue; $k | Export-LstmWeights $args[1]; $k | Export-LstmWeights $args[2]; $k | Export-LstmWeights $args[3] -Format KerasWeights",
            weights, k3, k2, other);
        Assert.Equal(WeightFormat.KerasWeights, WeightReader.DetectFormat(k3));
        Assert.Equal(WeightFormat.KerasHdf5, WeightReader.DetectFormat(k2));   // layer_names: what tf.keras 2.x's load_weights reads
        Assert.Equal(WeightFormat.KerasWeights, WeightReader.DetectFormat(other));
        Assert.Equal(Hdf5Data.Signature, File.ReadAllBytes(other)[..8]);
        Assert.Equal(File.ReadAllBytes(k3), File.ReadAllBytes(other));
        Assert.Equal(5, WeightReader.Read(other).Tensors.Count);
    }
}
