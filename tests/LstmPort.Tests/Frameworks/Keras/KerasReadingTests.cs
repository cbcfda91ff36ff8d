using System.Text.Json;

namespace LstmPort.Tests;

/// <summary>
/// Get-LstmWeights and Get-LstmLayer on Keras files: every Keras file under ../shared/fixtures,
/// checked against an independent h5py reading (Python/keras_expect.py), files h5py writes in the
/// layouts the fixtures lack (Python/make_keras.py), and bad input.
/// </summary>
public sealed class KerasReadingTests(ModuleSession ps) : IClassFixture<ModuleSession>
{
    static readonly string[] Extensions = [".h5", ".hdf5", ".keras"];

    public static TheoryData<string> KerasFixtures()
    {
        var data = new TheoryData<string>();
        if (!Directory.Exists(Repo.Fixtures)) { data.Add(""); return data; }
        foreach (var f in Directory.GetFiles(Repo.Fixtures, "*", SearchOption.AllDirectories)
                     .Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant())).Order(StringComparer.Ordinal))
            data.Add(Path.GetRelativePath(Repo.Fixtures, f));
        return data;
    }

    static LayerType Expected(string? className) => className switch
    {
        "LSTM" or "CuDNNLSTM" => LayerType.LSTM,
        "GRU" or "CuDNNGRU" => LayerType.GRU,
        "SimpleRNN" => LayerType.SimpleRNN,
        "Dense" => LayerType.Dense,
        "Embedding" => LayerType.Embedding,
        _ => LayerType.Other,
    };

    [SkippableTheory]
    [MemberData(nameof(KerasFixtures))]
    public void Every_Keras_fixture_reads_as_h5py_sees_it(string relative)
    {
        var path = Repo.Fixture(relative.Split('/'));
        var expected = Python.Run("keras_expect.py", path);
        var r = ps.Run("Get-LstmWeights -LiteralPath $args[0] -WarningAction SilentlyContinue", path);
        if (!expected.GetProperty("keras").GetBoolean())
        {
            // Test data stored as HDF5 (inputs and outputs) is not a Keras model: an error, not an empty success.
            Assert.Equal("NotKerasFile", Assert.Single(r.Errors).FullyQualifiedErrorId.Split(',')[0]);
            return;
        }
        Assert.Empty(r.Errors);
        var tensors = r.Output.Select(o => Assert.IsType<LstmTensor>(o.BaseObject)).ToList();
        var layers = expected.GetProperty("layers").EnumerateArray().ToList();
        Assert.Equal(layers.Select(l => l.GetProperty("name").GetString()), tensors.Select(t => t.Layer).Distinct());

        foreach (var layer in layers)
        {
            var name = layer.GetProperty("name").GetString()!;
            var mine = tensors.Where(t => t.Layer == name).ToList();
            var weights = layer.GetProperty("weights").EnumerateArray().ToList();
            Assert.All(mine, t => Assert.Equal((Layout.Keras, path), (t.Layout, t.Source)));
            // Nothing is lost or invented: same number of values, same total.
            Assert.Equal(weights.Sum(w => w.GetProperty("shape").EnumerateArray().Aggregate(1L, (a, d) => a * d.GetInt64())), mine.Sum(t => t.ElementCount));
            double sum = weights.Sum(w => w.GetProperty("sum").GetDouble());
            double mySum = mine.Sum(t => t.Tensor.to_type(TorchSharp.torch.ScalarType.Float64).sum().item<double>());
            Assert.True(Math.Abs(sum - mySum) <= 1e-6 * Math.Max(1, Math.Abs(sum)), $"{name}: sum {mySum} != {sum}");

            var joined = layer.GetProperty("keras1_joined");
            var byName = weights.ToDictionary(w => w.GetProperty("name").GetString()!);
            foreach (var t in mine)
            {
                if (byName.TryGetValue(t.Name, out var w))
                {
                    Assert.Equal(w.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()), t.Shape);
                    Assert.Equal(w.GetProperty("dtype").GetString(), t.DType);
                    if (w.GetProperty("values").ValueKind == JsonValueKind.Array)
                        Assert.Equal(w.GetProperty("values").EnumerateArray().Select(v => (float)v.GetDouble()), t.Tensor.flatten().data<float>().ToArray());
                }
                else
                {
                    // A Keras 1 per-gate concatenation: value by value against numpy's.
                    Assert.True(joined.TryGetProperty(t.Name, out var values), $"{t.Name} is neither stored nor a Keras 1 gate concatenation");
                    Assert.Equal(values.EnumerateArray().Select(v => (float)v.GetDouble()), t.Tensor.flatten().data<float>().ToArray());
                }
            }

            if (layer.GetProperty("config") is { ValueKind: JsonValueKind.Object } cfg)
            {
                var type = Expected(cfg.GetProperty("class_name").GetString());
                Assert.All(mine, t => Assert.Equal(type, t.LayerType));
                if (type == LayerType.Other) continue;
                Assert.Equal(cfg.GetProperty("bidirectional").GetBoolean(), mine.Any(t => t.Direction == Direction.Backward));
                if (cfg.GetProperty("units").ValueKind == JsonValueKind.Number)
                    Assert.All(mine, t => Assert.Equal(cfg.GetProperty("units").GetInt32(), t.Units));
                foreach (var key in new[] { "activation", "recurrent_activation", "go_backwards", "return_sequences", "stateful", "reset_after", "merge_mode" })
                {
                    var v = cfg.GetProperty(key);
                    if (v.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined || !mine[0].Config.ContainsKey(key)) continue;
                    object want = v.ValueKind switch { JsonValueKind.True => true, JsonValueKind.False => false, _ => v.GetString()! };
                    Assert.Equal(want, mine[0].Config[key]);
                }
                if (type is LayerType.LSTM or LayerType.GRU or LayerType.SimpleRNN)
                {
                    int gates = type switch { LayerType.LSTM => 4, LayerType.GRU => 3, _ => 1 };
                    foreach (var dir in mine.GroupBy(t => t.Direction))
                    {
                        var k = dir.Single(t => t.Role == TensorRole.Kernel);
                        var rk = dir.Single(t => t.Role == TensorRole.RecurrentKernel);
                        Assert.Equal([k.InputSize, gates * k.Units], k.Shape);
                        Assert.Equal([k.Units, gates * k.Units], rk.Shape);
                        Assert.Equal(type switch { LayerType.LSTM => GateOrder.IFCO, LayerType.GRU => GateOrder.ZRH, _ => GateOrder.None }, k.GateOrder);
                    }
                }
            }
            else
            {
                // Weights-only: what a config would have said is marked as inferred.
                Assert.All(mine.Where(t => t.LayerType is LayerType.LSTM or LayerType.GRU or LayerType.SimpleRNN),
                    t => Assert.Contains(ConfigKeys.GoBackwards, (string[])t.Config[ConfigKeys.Inferred]!));
            }
        }
    }

    [SkippableFact]
    public void Keras1_per_gate_arrays_become_one_kernel_in_IFCO_order()
    {
        var path = Repo.Fixture("dl4j-keras1-simple-lstm", "simple_lstm_th_keras_1_model.h5");
        var t = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] -Layer lstm_1", path);
        Assert.Equal(["lstm_1_W", "lstm_1_U", "lstm_1_b"], t.Select(x => x.Name));
        Assert.Equal([TensorRole.Kernel, TensorRole.RecurrentKernel, TensorRole.Bias], t.Select(x => x.Role));
        Assert.Equal([[1, 200], [50, 200], [200]], t.Select(x => x.Shape));
        Assert.All(t, x => Assert.Equal((LayerType.LSTM, GateOrder.IFCO, 50, 1, "hard_sigmoid", "keras2"),
            (x.LayerType, x.GateOrder, x.Units, x.InputSize, (string)x.Config["recurrent_activation"]!, (string)x.Config["hard_sigmoid"]!)));
        // The forget gate is the second block of 50 columns: compare with the stored lstm_1_U_f.
        var expected = Python.Run("keras_expect.py", path).GetProperty("layers")[0].GetProperty("weights").EnumerateArray()
            .Single(w => w.GetProperty("name").GetString() == "lstm_1_U_f").GetProperty("values").EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();
        var forget = t[1].Tensor.narrow(1, 50, 50).contiguous().flatten().data<float>().ToArray();
        Assert.Equal(expected, forget);
    }

    [SkippableFact]
    public void Weights_only_files_infer_types_and_say_which_and_name_layers_of_unknown_kinds()
    {
        var path = Repo.Fixture("textgenrnn-cudnnlstm-weights", "textgenrnn_weights_keras215_cudnn.hdf5");
        var r = ps.Run("Get-LstmWeights $args[0] -WarningVariable w -WarningAction SilentlyContinue; $w | ForEach-Object { 'warning: ' + $_.Message }", path);
        Assert.Empty(r.Errors);
        // One warning for the inferred settings, one for the layer of a kind it does not know (attention).
        var warnings = r.Output.Select(o => o.BaseObject).OfType<string>().ToList();
        Assert.Equal(2, warnings.Count);
        Assert.Contains("Config.inferred", warnings[0]);
        Assert.Contains("rnn_1 (cudnn, go_backwards, return_sequences, stateful)", warnings[0]);
        Assert.Contains("attention", warnings[1]);
        Assert.Contains("LayerType Other", warnings[1]);
        var t = r.Output.Select(o => o.BaseObject).OfType<LstmTensor>().ToList();
        var bias = t.Single(x => x.Name == "rnn_1/bias:0");
        Assert.Equal((LayerType.LSTM, TensorRole.Bias, 128, true), (bias.LayerType, bias.Role, bias.Units, (bool)bias.Config[ConfigKeys.Cudnn]!));
        Assert.Equal([1024], bias.Shape);
        Assert.Contains(ConfigKeys.Cudnn, (string[])bias.Config[ConfigKeys.Inferred]!);
        Assert.Equal("sigmoid", bias.Config[ConfigKeys.RecurrentActivation]);
        // A custom layer is listed, not dropped.
        var attention = t.Single(x => x.Layer == "attention");
        Assert.Equal((LayerType.Other, TensorRole.Other), (attention.LayerType, attention.Role));
        Assert.Equal(LayerType.Embedding, t.Single(x => x.Layer == "embedding").LayerType);

        var cntk = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] -WarningAction SilentlyContinue -Layer rnn", Repo.Fixture("textgenrnn-cudnnlstm-weights", "textgenrnn_weights_keras206_cntk.hdf5"));
        Assert.Equal(["rnn/kernel", "rnn/recurrent_kernel", "rnn/bias"], cntk.Select(x => x.Name));
        Assert.All(cntk, x => Assert.Equal(("hard_sigmoid", "cntk"), ((string)x.Config["recurrent_activation"]!, (string)x.Config["backend"]!)));
    }

    [SkippableFact]
    public void Layouts_the_fixtures_lack_gru_reset_after_cudnn_gru_keras3_legacy_chunked_names()
    {
        using var dir = new TempDir();
        LstmTensor One(List<LstmTensor> ts, string name) => ts.Single(t => t.Name == name);

        var gru = dir.File("gru.h5");
        var values = Python.Run("make_keras.py", "gru-reset-after-weights", gru);
        var t = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] -WarningAction SilentlyContinue", gru);
        var b = One(t, "gru/gru_cell/bias:0");
        Assert.Equal((LayerType.GRU, TensorRole.Bias, 4, 3, true, "sigmoid"), (b.LayerType, b.Role, b.Units, b.InputSize, (bool)b.Config[ConfigKeys.ResetAfter]!, (string)b.Config[ConfigKeys.RecurrentActivation]!));
        Assert.Equal([2, 12], b.Shape);
        Assert.Equal(values.GetProperty("gru/gru_cell/bias:0").EnumerateArray().Select(v => (float)v.GetDouble()), b.Tensor.flatten().data<float>().ToArray());

        var cudnn = dir.File("cudnn.h5");
        Python.Run("make_keras.py", "cudnn-gru-weights", cudnn);
        var c = One(ps.Objects<LstmTensor>("Get-LstmWeights $args[0] -WarningAction SilentlyContinue", cudnn), "cu_dnngru_1/bias:0");
        Assert.Equal((LayerType.GRU, 3, true, true), (c.LayerType, c.Units, (bool)c.Config[ConfigKeys.Cudnn]!, (bool)c.Config[ConfigKeys.ResetAfter]!));

        var k3 = dir.File("k3.h5");
        values = Python.Run("make_keras.py", "keras3-legacy", k3);
        t = ps.Objects<LstmTensor>("Get-LstmWeights $args[0]", k3);
        Assert.Equal(["sequential/lstm/lstm_cell/kernel", "sequential/lstm/lstm_cell/recurrent_kernel", "sequential/lstm/lstm_cell/bias", "sequential/dense/kernel", "sequential/dense/bias"], t.Select(x => x.Name));
        Assert.Equal(("lstm", "hard_sigmoid", "keras3", "3.5.0"), (t[0].Layer, (string)t[0].Config["recurrent_activation"]!, (string)t[0].Config["hard_sigmoid"]!, (string)t[0].Config["keras_version"]!));
        Assert.Equal(("softmax", LayerType.Dense, 2, 6), ((string)t[3].Config["activation"]!, t[3].LayerType, t[3].Units, t[3].InputSize));
        Assert.Equal(values.GetProperty("sequential/lstm/lstm_cell/recurrent_kernel").EnumerateArray().Select(v => (float)v.GetDouble()), t[1].Tensor.flatten().data<float>().ToArray());

        var chunked = dir.File("chunked.h5");
        Python.Run("make_keras.py", "chunked-names", chunked);
        Assert.Equal(["lstm", "dense"], ps.Objects<LstmTensor>("Get-LstmWeights $args[0]", chunked).Select(x => x.Layer).Distinct());
    }

    [SkippableFact]
    public void Keras3_archive_with_bidirectional_embedding_and_reset_before_gru()
    {
        using var dir = new TempDir();
        var path = dir.File("model.keras");
        var values = Python.Run("make_keras.py", "archive", path);
        var t = ps.Objects<LstmTensor>("Get-LstmWeights $args[0]", path);
        Assert.Equal(["embedding", "bidirectional", "gru_2", "head"], t.Select(x => x.Layer).Distinct());
        var bi = t.Where(x => x.Layer == "bidirectional").ToList();
        Assert.Equal([Direction.Forward, Direction.Forward, Direction.Forward, Direction.Backward, Direction.Backward, Direction.Backward], bi.Select(x => x.Direction));
        Assert.Equal([[4, 20], [5, 20], [20], [4, 20], [5, 20], [20]], bi.Select(x => x.Shape));
        Assert.All(bi, x => Assert.Equal(("sum", 5, 4), ((string)x.Config["merge_mode"]!, x.Units, x.InputSize)));
        var back = bi[4];
        Assert.Equal("layers/bidirectional/backward_layer/cell/vars/1", back.Name);
        Assert.Equal(values.GetProperty(back.Name).EnumerateArray().Select(v => (float)v.GetDouble()), back.Tensor.flatten().data<float>().ToArray());
        var gru = t.Where(x => x.Layer == "gru_2").ToList();
        Assert.All(gru, x => Assert.Equal((LayerType.GRU, false, true), (x.LayerType, (bool)x.Config["reset_after"]!, (bool)x.Config["go_backwards"]!)));
        Assert.Equal(LayerType.Embedding, t[0].LayerType);
        Assert.Equal(TensorRole.Embeddings, t[0].Role);

        var layers = ps.Objects<LstmLayer>("Get-LstmLayer $args[0]", path);
        Assert.Equal([true, true, false, true], layers.Select(l => l.TorchPortable));
        Assert.Contains("GRU reset_after=False", layers[2].Reason);
        // go_backwards alone no longer blocks PyTorch (weights to l0, the caller reverses the sequence): the layer says so.
        Assert.DoesNotContain("go_backwards", layers[2].Reason);
        Assert.Contains("go_backwards", layers[2].Note);
        Assert.Equal((true, 400L), (layers[1].Bidirectional, layers[1].Parameters));
    }

    [SkippableFact]
    public void Get_LstmLayer_summarises_files_and_piped_tensors()
    {
        var medaka = Repo.Fixture("medaka-keras215-bigru", "medaka_model.hdf5");
        var keras3 = Repo.Fixture("keras3-martinpiz097-lstm-gru", "lstm_model.keras");
        var layers = ps.Objects<LstmLayer>("Get-LstmLayer $args[0], $args[1]", medaka, keras3);
        Assert.Equal(["bidirectional_1", "bidirectional_2", "classify", "lstm", "dense_1"], layers.Select(l => l.Layer));
        var bigru = layers[0];
        Assert.Equal((LayerType.GRU, 128, 10, true, 2L * (10 * 384 + 128 * 384 + 384), false), (bigru.LayerType, bigru.Units, bigru.InputSize, bigru.Bidirectional, bigru.Parameters, bigru.TorchPortable));
        Assert.Contains("hard_sigmoid recurrent activation", bigru.Reason);
        Assert.Contains("GRU reset_after=False", bigru.Reason);
        Assert.Equal((true, null, 66560L), (layers[3].TorchPortable, layers[3].Reason, layers[3].Parameters));

        var piped = ps.Objects<LstmLayer>("Get-LstmWeights $args[0] | Get-LstmLayer", keras3);
        Assert.Equal(["lstm", "dense_1"], piped.Select(l => l.Layer));
        Assert.Equal(3, piped[0].Tensors.Count);

        var filtered = ps.Objects<LstmLayer>("[IO.FileInfo]::new($args[0]) | Get-LstmLayer -Layer bidir*", medaka);
        Assert.Equal(["bidirectional_1", "bidirectional_2"], filtered.Select(l => l.Layer));

        var r = ps.Render("Get-LstmLayer $args[0]", medaka);
        Assert.False(r.Failed, r.ErrorText);
        var plain = System.Text.RegularExpressions.Regex.Replace(r.Text, "\u001b\\[[0-9;]*m", "");
        var lines = plain.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0).ToArray();
        Assert.Equal("Source: " + medaka, lines[0].Trim());
        Assert.Matches(@"^Layer\s+Type\s+Units\s+Input\s+BiDi\s+Params\s+Torch$", lines[1].TrimEnd());
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(lines[3], @"^bidirectional_1\s+GRU\s+128\s+10\s+yes\s+106752\s+no: hard_sigmoid$"), plain);
        Assert.Matches(@"^\s+recurrent activation;$", lines[4]);
        Assert.Matches(@"^\s+GRU reset_after=False$", lines[5]);
        Assert.Matches(@"^classify\s+Dense\s+5\s+256\s+no\s+1285\s+yes$", lines[9]);
        Assert.All(lines, l => Assert.True(l.Length <= 80, $"wider than 80 columns: '{l}'"));
    }

    [SkippableFact]
    public void Layer_wildcards_several_paths_and_file_objects()
    {
        var a = Repo.Fixture("dl4j-tfkeras-rnn", "rnn_125.h5");
        var b = Repo.Fixture("dl4j-keras2-simple-rnn", "simple_rnn_tf_keras_2_model.h5");
        Assert.Equal(["bidirectional_74", "bidirectional_75", "simple_rnn_1"],
            ps.Objects<LstmTensor>("[IO.FileInfo]::new($args[0]), [IO.FileInfo]::new($args[1]) | Get-LstmWeights -Layer BIDI*, simple*", a, b).Select(t => t.Layer).Distinct());
        Assert.Equal(12 + 5, ps.Objects<LstmTensor>("Get-LstmWeights -LiteralPath $args[0], $args[1]", a, b).Count);
        var dir = Path.GetDirectoryName(a)!;
        Assert.Equal(7, ps.Objects<LstmLayer>("Get-LstmLayer \"$($args[0])/rnn_12*.h5\" -Layer *", dir).Select(l => l.Source).Distinct().Count());
    }

    public static TheoryData<string, string> BadFiles => new()
    {
        { "missing", "FileNotFound" },
        { "directory", "PathIsDirectory" },
        { "empty", "EmptyFile" },
        { "random", "UnknownFormat" },
        { "truncated", "TruncatedFile" },
        { "not-keras", "NotKerasFile" },
        { "shape-mismatch", "LayerShapeMismatch" },
        { "bad-zip", "CorruptFile" },
        { "zip-without-weights", "CorruptFile" },
    };

    [SkippableTheory]
    [MemberData(nameof(BadFiles))]
    public void Bad_input_gives_an_error_record_and_the_next_path_is_still_read(string kind, string errorId)
    {
        var good = Repo.Fixture("dl4j-keras2-simple-rnn", "simple_rnn_tf_keras_2_model.h5");
        using var dir = new TempDir();
        var bad = dir.File(kind.StartsWith("bad-zip") || kind.StartsWith("zip") ? "bad.keras" : "bad.h5");
        switch (kind)
        {
            case "missing": break;
            case "directory": Directory.CreateDirectory(bad); break;
            case "empty": File.WriteAllBytes(bad, []); break;
            case "random": File.WriteAllBytes(bad, Enumerable.Range(0, 4096).Select(i => (byte)(i * 7919 % 251)).ToArray()); break;
            case "truncated": File.WriteAllBytes(bad, File.ReadAllBytes(good)[..20000]); break;
            case "not-keras" or "shape-mismatch": Python.Run("make_keras.py", kind, bad); break;
            case "bad-zip": File.WriteAllBytes(bad, [.. "PK\x03\x04"u8.ToArray(), .. new byte[200]]); break;
            case "zip-without-weights":
                using (var z = System.IO.Compression.ZipFile.Open(bad, System.IO.Compression.ZipArchiveMode.Create))
                using (var w = new StreamWriter(z.CreateEntry("config.json").Open())) w.Write("{}");
                break;
        }
        var r = ps.Run("Get-LstmWeights -LiteralPath $args[0], $args[1] -WarningAction SilentlyContinue", bad, good);
        var error = Assert.Single(r.Errors);
        Assert.Equal(errorId, error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(bad, error.TargetObject);
        Assert.Contains(Path.GetFileName(bad), error.Exception.Message);
        if (kind != "missing") Assert.Matches("[Ee]xpected|should", error.Exception.Message);
        // A layer that contradicts its config is that layer's error: the file's other layer (dense) still comes out.
        int fromBad = kind == "shape-mismatch" ? 2 : 0;
        Assert.Equal(5 + fromBad, r.Output.Count);
        Assert.Null(r.Terminating);

        var layer = ps.Run("Get-LstmLayer -LiteralPath $args[0], $args[1]", bad, good);
        Assert.Equal(errorId, Assert.Single(layer.Errors).FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(2 + fromBad / 2, layer.Output.Count);
    }
}
