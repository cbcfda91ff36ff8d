using System.Text.Json;
using TorchSharp;
using LstmPort.Containers;
using LstmPort.Formats;
using LstmPort.Frameworks.Keras;
using LstmPort.Runtime;

namespace LstmPort.Tests;

/// <summary>
/// Export-LstmWeights to Keras .h5: the file h5py sees has the structure of a real save_weights file,
/// real Keras files survive Get-LstmWeights | Export-LstmWeights with names and values intact, a mock
/// of tf.keras's load_weights_from_hdf5_group (Python/keras_h5.py) loads what we write, and bad input
/// is refused before anything is written.
/// </summary>
public sealed class KerasH5WriterTests(ModuleSession ps) : IClassFixture<ModuleSession>
{
    static string ErrorId(Host.RunResult r) =>
        (r.Errors.FirstOrDefault()?.FullyQualifiedErrorId ?? (r.Terminating as System.Management.Automation.IContainsErrorRecord)?.ErrorRecord?.FullyQualifiedErrorId ?? "").Split(',')[0];

    static string[] Strings(JsonElement attribute) => attribute.GetProperty("value").EnumerateArray().Select(v => v.GetString()!).ToArray();

    string Export(string source, TempDir dir, string name = "out.h5")
    {
        var target = dir.File(name);
        var r = ps.Run("Get-LstmWeights -LiteralPath $args[0] -WarningAction SilentlyContinue | Export-LstmWeights $args[1]", source, target);
        Assert.False(r.Failed, r.ErrorText);
        return target;
    }

    [SkippableFact]
    public void Written_file_has_the_structure_of_a_real_save_weights_file()
    {
        var real = Repo.Fixture("dl4j-keras2-simple-lstm", "simple_lstm_tf_keras_2_weights.h5");
        using var dir = new TempDir();
        var ours = Python.Run("keras_h5.py", "structure", Export(real, dir));
        var theirs = Python.Run("keras_h5.py", "structure", real);

        Assert.Equal("/", ours.GetProperty("root").GetString());
        Assert.Equal(Names(theirs.GetProperty("attributes")), Names(ours.GetProperty("attributes")));
        var layerNames = ours.GetProperty("attributes").GetProperty("layer_names");
        // h5py reads the name lists as numpy arrays of fixed-length byte strings, as in the real file.
        Assert.Equal(("fixed", "S"), (layerNames.GetProperty("string").GetString(), layerNames.GetProperty("kind").GetString()));
        Assert.Equal(Strings(theirs.GetProperty("attributes").GetProperty("layer_names")), Strings(layerNames));
        Assert.Equal(["tensorflow"], Strings(ours.GetProperty("attributes").GetProperty("backend")));
        Assert.Equal([KerasHdf5Writer.KerasVersion], Strings(ours.GetProperty("attributes").GetProperty("keras_version")));

        Assert.Equal(Names(theirs.GetProperty("groups")), Names(ours.GetProperty("groups")));
        foreach (var g in theirs.GetProperty("groups").EnumerateObject())
        {
            var mine = ours.GetProperty("groups").GetProperty(g.Name);
            Assert.Equal(Names(g.Value), Names(mine));
            if (!g.Value.TryGetProperty("weight_names", out var wn)) continue;
            Assert.Equal(("fixed", "S"), (mine.GetProperty("weight_names").GetProperty("string").GetString(), mine.GetProperty("weight_names").GetProperty("kind").GetString()));
            Assert.Equal(Strings(wn), Strings(mine.GetProperty("weight_names")));
        }

        Assert.Equal(Names(theirs.GetProperty("datasets")), Names(ours.GetProperty("datasets")));
        foreach (var d in theirs.GetProperty("datasets").EnumerateObject())
        {
            var mine = ours.GetProperty("datasets").GetProperty(d.Name);
            foreach (var field in new[] { "dtype", "shape", "layout", "chunks", "compression", "values" })
                Assert.Equal(d.Value.GetProperty(field).GetRawText(), mine.GetProperty(field).GetRawText());
        }
        Assert.Equal("contiguous", ours.GetProperty("datasets").GetProperty("lstm_1/lstm_1/kernel:0").GetProperty("layout").GetString());
    }

    static string[] Names(JsonElement o) => o.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal).ToArray();

    [SkippableTheory]
    [InlineData("dl4j-keras2-simple-lstm", "simple_lstm_tf_keras_2_weights.h5")]
    [InlineData("dl4j-keras2-simple-lstm", "simple_lstm_tf_keras_2_model.h5")]
    [InlineData("dl4j-tfkeras-rnn", "rnn_125.h5")]
    [InlineData("dl4j-tfkeras-rnn", "rnn_123.h5")]
    [InlineData("dl4j-tfkeras-rnn", "rnn_122.h5")]
    [InlineData("dl4j-keras-bidirectional-lstm", "bidirectional_lstm_tensorflow_2.h5")]
    [InlineData("dl4j-keras-bidirectional-lstm", "bidirectional_lstm_theano_2.h5")]
    [InlineData("dl4j-keras-bidirectional-lstm", "embedding_lstm_tensorflow_2.h5")]
    [InlineData("dl4j-keras-bidirectional-lstm", "simple_rnn_tensorflow_2.h5")]
    [InlineData("dl4j-keras2-simple-rnn", "simple_rnn_tf_keras_2_model.h5")]
    public void Real_Keras_files_round_trip_with_the_same_names_and_values(string folder, string file)
    {
        var real = Repo.Fixture(folder, file);
        using var dir = new TempDir();
        var target = Export(real, dir);
        var ours = Python.Run("keras_h5.py", "structure", target);
        var theirs = Python.Run("keras_h5.py", "structure", real);

        // Layers without weights (InputLayer, Activation) are not on the pipeline; the loader skips them too.
        var layers = Strings(theirs.GetProperty("attributes").GetProperty("layer_names"))
            .Where(l => theirs.GetProperty("groups").GetProperty(l).TryGetProperty("weight_names", out var w) && w.GetProperty("value").GetArrayLength() > 0).ToArray();
        Assert.Equal(layers, Strings(ours.GetProperty("attributes").GetProperty("layer_names")));
        foreach (var layer in layers)
        {
            var names = Strings(theirs.GetProperty("groups").GetProperty(layer).GetProperty("weight_names"));
            Assert.Equal(names, Strings(ours.GetProperty("groups").GetProperty(layer).GetProperty("weight_names")));
            foreach (var w in names)
            {
                var a = theirs.GetProperty("datasets").GetProperty(layer + "/" + w);
                var b = ours.GetProperty("datasets").GetProperty(layer + "/" + w);
                Assert.Equal(a.GetProperty("dtype").GetRawText(), b.GetProperty("dtype").GetRawText());
                Assert.Equal(a.GetProperty("shape").GetRawText(), b.GetProperty("shape").GetRawText());
                Assert.Equal(a.GetProperty("values").GetRawText(), b.GetProperty("values").GetRawText());
            }
        }

        // tf.keras's loader, given the model the real file was saved from, loads our file to the same arrays.
        var load = Python.Run("keras_h5.py", "load", target, real);
        Assert.Equal(layers, load.GetProperty("layers").EnumerateArray().Select(l => l.GetString()));
        Assert.Equal(0.0, load.GetProperty("max_abs_diff").GetDouble());
        Assert.True(load.GetProperty("same_dtypes").GetBoolean());
        Assert.Equal(("2.4.0", "tensorflow"), (load.GetProperty("keras_version").GetString(), load.GetProperty("backend").GetString()));

        // And our own reader reads back what it read from the real file.
        AssertSameTensors(ps.Objects<LstmTensor>("Get-LstmWeights -LiteralPath $args[0] -WarningAction SilentlyContinue", real),
                          ps.Objects<LstmTensor>("Get-LstmWeights -LiteralPath $args[0] -WarningAction SilentlyContinue", target));
    }

    [SkippableFact]
    public void A_Keras_1_file_is_written_with_the_joined_Keras_2_arrays_our_reader_gave()
    {
        var real = Repo.Fixture("dl4j-keras-bidirectional-lstm", "bidirectional_lstm_tensorflow_1.h5");
        using var dir = new TempDir();
        var target = Export(real, dir);
        var ours = Python.Run("keras_h5.py", "structure", target);
        Assert.Equal(["forward_lstm_1_W:0", "forward_lstm_1_U:0", "forward_lstm_1_b:0", "backward_lstm_1_W:0", "backward_lstm_1_U:0", "backward_lstm_1_b:0"],
            Strings(ours.GetProperty("groups").GetProperty("bidirectional_1").GetProperty("weight_names")));
        // Version 2.x, so a Keras 2 loader does not convert these (already Keras 2) arrays again as Keras 1 gates.
        Assert.Equal([KerasHdf5Writer.KerasVersion], Strings(ours.GetProperty("attributes").GetProperty("keras_version")));
        Assert.Equal([10, 40], ours.GetProperty("datasets").GetProperty("bidirectional_1/forward_lstm_1_W:0").GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()));
        // tf.keras's loader puts them into the Keras 2 model of the same architecture (the Keras 2 fixture's).
        var load = Python.Run("keras_h5.py", "load", target, Repo.Fixture("dl4j-keras-bidirectional-lstm", "bidirectional_lstm_tensorflow_2.h5"));
        Assert.Equal(6, load.GetProperty("weights").GetInt32());

        // Names, shapes and values come back; without a model config the reader cannot tell these Keras 1
        // names' roles, so only the data is compared.
        var before = ps.Objects<LstmTensor>("Get-LstmWeights -LiteralPath $args[0] -WarningAction SilentlyContinue", real);
        var after = ps.Objects<LstmTensor>("Get-LstmWeights -LiteralPath $args[0] -WarningAction SilentlyContinue", target);
        Assert.Equal(before.Select(t => (t.Name, t.Layer, string.Join(",", t.Shape))), after.Select(t => (t.Name, t.Layer, string.Join(",", t.Shape))));
        Assert.All(before.Zip(after), p => Assert.True(p.First.Tensor.eq(p.Second.Tensor).all().item<bool>(), p.First.Name));
    }

    static void AssertSameTensors(List<LstmTensor> expected, List<LstmTensor> actual)
    {
        Assert.Equal(expected.Select(t => (t.Name, t.Layer, t.LayerType, t.Role, t.Direction, string.Join(",", t.Shape), t.DType)),
                     actual.Select(t => (t.Name, t.Layer, t.LayerType, t.Role, t.Direction, string.Join(",", t.Shape), t.DType)));
        for (int i = 0; i < expected.Count; i++)
            Assert.True(expected[i].Tensor.eq(actual[i].Tensor).all().item<bool>(), $"{expected[i].Name} differs");
    }

    /// <summary>Tensors as ConvertTo-KerasLayout makes them: tf.keras 2.x weight names, the backward half of a Bidirectional marked Backward.</summary>
    const string TfKeras2Tensors = """
        [LstmPort.Runtime.TorchRuntime]::EnsureLoaded()
        function T($name, $layer, $type, $role, $shape, $dir = 'Forward') {
            $n = 1; foreach ($d in $shape) { $n *= $d }
            $data = [TorchSharp.torch]::arange($n, [TorchSharp.torch+ScalarType]::Float32).reshape([long[]]$shape)
            [LstmPort.LstmTensor]::FromTensor($data, $name, $layer, $type, $role, 'Keras', $dir)
        }
        & {
        T 'embedding/embeddings:0' 'embedding' Embedding Embeddings @(10, 3)
        T 'lstm/lstm_cell/kernel:0' 'lstm' LSTM Kernel @(3, 8)
        T 'lstm/lstm_cell/recurrent_kernel:0' 'lstm' LSTM RecurrentKernel @(2, 8)
        T 'lstm/lstm_cell/bias:0' 'lstm' LSTM Bias @(8)
        # Backward half first and interleaved: the file still lists forward, then backward.
        T 'bidirectional/backward_lstm/lstm_cell/kernel:0' 'bidirectional' LSTM Kernel @(2, 4) Backward
        T 'bidirectional/forward_lstm/lstm_cell/kernel:0' 'bidirectional' LSTM Kernel @(2, 4)
        T 'bidirectional/backward_lstm/lstm_cell/recurrent_kernel:0' 'bidirectional' LSTM RecurrentKernel @(1, 4) Backward
        T 'bidirectional/forward_lstm/lstm_cell/recurrent_kernel:0' 'bidirectional' LSTM RecurrentKernel @(1, 4)
        T 'bidirectional/backward_lstm/lstm_cell/bias:0' 'bidirectional' LSTM Bias @(4) Backward
        T 'bidirectional/forward_lstm/lstm_cell/bias:0' 'bidirectional' LSTM Bias @(4)
        T 'dense/kernel:0' 'dense' Dense Kernel @(2, 1)
        T 'dense/bias:0' 'dense' Dense Bias @(1)
        }
        """;

    [SkippableFact]
    public void Tensors_with_tf_keras_2_names_land_where_save_weights_puts_them()
    {
        using var dir = new TempDir();
        var target = dir.File("tfkeras.hdf5");
        var r = ps.Run(TfKeras2Tensors + " | Export-LstmWeights $args[0]", target);
        Assert.False(r.Failed, r.ErrorText);
        var s = Python.Run("keras_h5.py", "structure", target);

        Assert.Equal(["embedding", "lstm", "bidirectional", "dense"], Strings(s.GetProperty("attributes").GetProperty("layer_names")));
        Assert.Equal(["lstm/lstm_cell/kernel:0", "lstm/lstm_cell/recurrent_kernel:0", "lstm/lstm_cell/bias:0"],
            Strings(s.GetProperty("groups").GetProperty("lstm").GetProperty("weight_names")));
        Assert.Equal(["bidirectional/forward_lstm/lstm_cell/kernel:0", "bidirectional/forward_lstm/lstm_cell/recurrent_kernel:0", "bidirectional/forward_lstm/lstm_cell/bias:0",
                      "bidirectional/backward_lstm/lstm_cell/kernel:0", "bidirectional/backward_lstm/lstm_cell/recurrent_kernel:0", "bidirectional/backward_lstm/lstm_cell/bias:0"],
            Strings(s.GetProperty("groups").GetProperty("bidirectional").GetProperty("weight_names")));
        Assert.Equal(
            ["bidirectional/bidirectional/backward_lstm/lstm_cell/bias:0", "bidirectional/bidirectional/backward_lstm/lstm_cell/kernel:0",
             "bidirectional/bidirectional/backward_lstm/lstm_cell/recurrent_kernel:0", "bidirectional/bidirectional/forward_lstm/lstm_cell/bias:0",
             "bidirectional/bidirectional/forward_lstm/lstm_cell/kernel:0", "bidirectional/bidirectional/forward_lstm/lstm_cell/recurrent_kernel:0",
             "dense/dense/bias:0", "dense/dense/kernel:0", "embedding/embedding/embeddings:0",
             "lstm/lstm/lstm_cell/bias:0", "lstm/lstm/lstm_cell/kernel:0", "lstm/lstm/lstm_cell/recurrent_kernel:0"],
            Names(s.GetProperty("datasets")));
        var kernel = s.GetProperty("datasets").GetProperty("lstm/lstm/lstm_cell/kernel:0");
        Assert.Equal(("<f4", "3,8", "contiguous"), (kernel.GetProperty("dtype").GetString(), string.Join(",", kernel.GetProperty("shape").EnumerateArray()), kernel.GetProperty("layout").GetString()));
        Assert.Equal(Enumerable.Range(0, 24).Select(i => (double)i), kernel.GetProperty("values").EnumerateArray().Select(v => v.GetDouble()));

        // Our reader sees the tf.keras 2 structure it wrote: a Bidirectional LSTM with both halves.
        var back = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] -WarningAction SilentlyContinue", target);
        Assert.Equal(12, back.Count);
        Assert.Equal([Direction.Forward, Direction.Forward, Direction.Forward, Direction.Backward, Direction.Backward, Direction.Backward],
            back.Where(t => t.Layer == "bidirectional").Select(t => t.Direction));
    }

    [SkippableTheory]
    [InlineData("Get-LstmWeights $args[0] | Export-LstmWeights $args[1]", "NotKerasLayout")]
    [InlineData("@(T 'lstm_1/lstm_1/kernel:0' 'lstm_1' LSTM Kernel @(2, 4); T 'lstm_1/kernel:0' 'lstm_1' LSTM Kernel @(2, 4)) | Export-LstmWeights $args[1]", "DuplicateTensorName")]
    [InlineData("$k = T 'lstm/kernel:0' 'lstm' LSTM Kernel @(2, 4); $k, $k | Export-LstmWeights $args[1]", "DuplicateTensorName")]
    [InlineData("@(T 'a/b' 'x' Other Other @(1); T 'a/b/c' 'x' Other Other @(1)) | Export-LstmWeights $args[1]", "InvalidTensorName")]
    [InlineData("T 'k' 'a/b' Dense Kernel @(1) | Export-LstmWeights $args[1]", "InvalidTensorName")]
    [InlineData("T 'lstm//kernel:0' 'lstm' LSTM Kernel @(2) | Export-LstmWeights $args[1]", "InvalidTensorName")]
    [InlineData("T 'ids:0' 'x' Other Other @(3) Int64 | Export-LstmWeights $args[1]", "UnsupportedDType")]
    public void Bad_input_is_refused_and_nothing_is_written(string script, string errorId)
    {
        using var dir = new TempDir();
        var source = Safetensors.Write(dir.File("a.safetensors"), ("lstm.weight_ih_l0", [4, 2], new float[8]));
        var r = ps.Run("""
            [LstmPort.Runtime.TorchRuntime]::EnsureLoaded()
            function T($name, $layer, $type, $role, $shape, $dtype = 'Float32') {
                $n = 1; foreach ($d in $shape) { $n *= $d }
                $data = [TorchSharp.torch]::zeros([long[]]$shape, [TorchSharp.torch+ScalarType]::$dtype)
                [LstmPort.LstmTensor]::FromTensor($data, $name, $layer, $type, $role, 'Keras')
            }
            """ + "\n" + script, source, dir.File("out.h5"));
        Assert.Equal(errorId, ErrorId(r));
        Assert.Equal(["a.safetensors"], Directory.GetFiles(dir.Path).Select(Path.GetFileName).ToArray());
        if (errorId == "NotKerasLayout") Assert.Contains("ConvertTo-KerasLayout", r.ErrorText + r.Terminating?.Message);
    }

    [SkippableFact]
    public void Format_KerasHdf5_writes_any_file_name()
    {
        var real = Repo.Fixture("dl4j-keras-bidirectional-lstm", "lstm_tensorflow_2.h5");
        using var dir = new TempDir();
        var target = dir.File("weights.bin");
        var r = ps.Run("Get-LstmWeights $args[0] -WarningAction SilentlyContinue | Export-LstmWeights $args[1] -Format KerasHdf5 -PassThru", real, target);
        Assert.False(r.Failed, r.ErrorText);
        Assert.Equal(target, Assert.IsType<FileInfo>(Assert.Single(r.Output).BaseObject).FullName);
        Assert.Equal(Hdf5Data.Signature, File.ReadAllBytes(target)[..8]);
        Assert.Equal(3, ps.Objects<LstmTensor>("Get-LstmWeights $args[0] -Format KerasHdf5 -WarningAction SilentlyContinue", target).Count);
    }

    [SkippableFact]
    public void Long_name_lists_are_split_into_numbered_attributes_as_Keras_does()
    {
        // 1,500 weights with 50-byte names: 76 KB of weight_names, past HDF5's 64 KB object header limit.
        TorchRuntime.EnsureLoaded();
        var tensors = Enumerable.Range(0, 1500).Select(i => LstmTensor.FromTensor(torch.full(1, (float)i), $"big/{i:D4}".PadRight(50, 'x'), "big", LayerType.Other, TensorRole.Other, Layout.Keras)).ToList();
        using var dir = new TempDir();
        var target = dir.File("big.h5");
        WeightWriter.Write(target, tensors);

        var s = Python.Run("keras_h5.py", "structure", target);
        var group = s.GetProperty("groups").GetProperty("big");
        Assert.False(group.TryGetProperty("weight_names", out _));
        Assert.Equal(tensors.Select(t => t.Name), Strings(group.GetProperty("weight_names0")).Concat(Strings(group.GetProperty("weight_names1"))));
        var back = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] -WarningAction SilentlyContinue", target);
        Assert.Equal(tensors.Select(t => t.Name), back.Select(t => t.Name));
        Assert.Equal(1499f, back[^1].Tensor.item<float>());
    }
}
