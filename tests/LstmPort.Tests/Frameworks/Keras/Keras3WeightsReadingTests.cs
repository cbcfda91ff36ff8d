using System.Diagnostics;
using System.Text.Json;
using LstmPort.Formats;

namespace LstmPort.Tests;

/// <summary>
/// Keras 3 .weights.h5 files (the store model.save_weights writes, and the model.weights.h5 inside a
/// .keras archive): read without a config (types from the groups and shapes, settings inferred and
/// said so), with -Config (a config.json or the model's .keras) and with a config.json beside the
/// file; values checked against the .keras archive of the same model and against what h5py wrote;
/// one layer's damage is that layer's error; optimizer state is left out with a note.
/// </summary>
public sealed class Keras3WeightsReadingTests(ModuleSession ps) : IClassFixture<ModuleSession>
{
    static string ErrorId(System.Management.Automation.ErrorRecord e) => e.FullyQualifiedErrorId.Split(',')[0];

    [SkippableTheory]
    [InlineData("lstm_model.keras", "lstm", LayerType.LSTM, "dense_1")]
    [InlineData("gru_model.keras", "gru", LayerType.GRU, "dense")]
    public void The_weights_inside_a_fixture_archive_read_as_the_archive_does(string archive, string rnn, LayerType type, string dense)
    {
        using var dir = new TempDir();
        var weights = Keras3Files.Extract(archive, dir, "model.weights.h5");
        var keras = Repo.Fixture(Keras3Files.Folder, archive);
        Assert.Equal(WeightFormat.KerasWeights, WeightReader.DetectFormat(weights));
        var fromArchive = ps.Objects<LstmTensor>("Get-LstmWeights $args[0]", keras);

        // No config: the names the file records (Keras 3.10+), types from the groups, values as in the archive.
        var r = ps.Run("Get-LstmWeights $args[0] -WarningVariable w -WarningAction SilentlyContinue; $w | ForEach-Object { 'warning: ' + $_.Message }", weights);
        Assert.Empty(r.Errors);
        var bare = r.Output.Select(o => o.BaseObject).OfType<LstmTensor>().ToList();
        var warning = Assert.Single(r.Output.Select(o => o.BaseObject).OfType<string>());
        Assert.Contains("no model config", warning);
        Assert.Contains($"{rnn} (activation, recurrent_activation", warning);
        Assert.Contains("Keras 3 defaults", warning);
        Keras3Files.AssertSameData(fromArchive, bare);
        Assert.Equal([dense, rnn], bare.Select(t => t.Layer).Distinct()); // the file's own (alphabetical) order
        var cell = bare.Where(t => t.Layer == rnn).ToList();
        Assert.All(cell, t => Assert.Equal((type, Layout.Keras, 128, 1), (t.LayerType, t.Layout, t.Units, t.InputSize)));
        var inferred = (string[])cell[0].Config[ConfigKeys.Inferred]!;
        Assert.Contains(ConfigKeys.Activation, inferred);
        Assert.Contains(ConfigKeys.RecurrentActivation, inferred);
        Assert.Equal(("tanh", "sigmoid"), ((string)cell[0].Config[ConfigKeys.Activation]!, (string)cell[0].Config[ConfigKeys.RecurrentActivation]!));
        if (type == LayerType.GRU)
        {
            Assert.True((bool)cell[0].Config[ConfigKeys.ResetAfter]!); // the [2,3h] bias says so
            Assert.Contains(ConfigKeys.ResetAfter, inferred);
        }
        Assert.False(cell[0].Config.ContainsKey(ConfigKeys.KerasVersion)); // a weights file records none

        // -Config with the archive: exactly what the archive reader gives, config and order included.
        var given = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] -Config $args[1]", weights, keras);
        AssertSameAsArchive(fromArchive, given);

        // An unzipped .keras: config.json (and metadata.json) beside the weights.
        using var unzipped = new TempDir();
        var inner = Keras3Files.Extract(archive, unzipped, "model.weights.h5", "config.json", "metadata.json");
        var beside = ps.Run("Get-LstmWeights $args[0] -WarningVariable w -WarningAction SilentlyContinue; $w.Count", inner);
        Assert.Equal(0, beside.Output.Last().BaseObject);
        AssertSameAsArchive(fromArchive, beside.Output.Select(o => o.BaseObject).OfType<LstmTensor>());

        // The notes: the optimizer's variables, counted as h5py counts them, and where the config came from.
        var optimizer = Python.Run("keras3_h5.py", "count", weights, "optimizer").GetProperty("count").GetInt32();
        Assert.Equal(12, optimizer);
        Assert.Contains($"left out {optimizer} optimizer variables (optimizer/)", WeightReader.Read(weights).Notes);
        Assert.Contains($"the model config is {unzipped.File("config.json")} (beside the file)", WeightReader.Read(inner).Notes);
        Assert.DoesNotContain(WeightReader.Read(weights).Tensors, t => t.Name.StartsWith("optimizer", StringComparison.Ordinal));
    }

    [SkippableFact]
    public void Get_LstmLayer_says_which_settings_were_inferred()
    {
        using var dir = new TempDir();
        var weights = Keras3Files.Extract("lstm_model.keras", dir, "model.weights.h5");
        var r = ps.Render("Get-LstmLayer $args[0] -WarningAction SilentlyContinue", weights);
        Assert.False(r.Failed, r.ErrorText);
        var lines = System.Text.RegularExpressions.Regex.Replace(r.Text, "\u001b\\[[0-9;]*m", "").Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0).ToArray();
        Assert.Matches(@"^Layer\s+Type\s+Units\s+Input\s+BiDi\s+Params\s+Torch$", lines[1].TrimEnd());
        int row = Array.FindIndex(lines, l => l.StartsWith("lstm "));
        Assert.Matches(@"^lstm\s+LSTM\s+128\s+1\s+no\s+66560\s+yes; inferred:$", lines[row].TrimEnd());
        Assert.Equal("activation, recurrent_activation, go_backwards, return_sequences, stateful",
            string.Join(" ", lines.Skip(row + 1).TakeWhile(l => l.StartsWith(' ')).Select(l => l.Trim())));
        Assert.All(lines, l => Assert.True(l.Length <= 80, l));
        // With the config nothing is inferred, and the column says yes alone.
        var withConfig = ps.Render("Get-LstmLayer $args[0] -Config $args[1]", weights, Repo.Fixture(Keras3Files.Folder, "lstm_model.keras"));
        Assert.Matches(@"(?m)^lstm\s+LSTM\s+128\s+1\s+no\s+66560\s+yes\s*$", System.Text.RegularExpressions.Regex.Replace(withConfig.Text, "\u001b\\[[0-9;]*m", ""));
        Assert.Equal(["activation", "recurrent_activation", "go_backwards", "return_sequences", "stateful"],
            ps.Objects<LstmLayer>("Get-LstmLayer $args[0] -WarningAction SilentlyContinue -Layer lstm", weights).Single().Inferred);
    }

    static void AssertSameAsArchive(IEnumerable<LstmTensor> archive, IEnumerable<LstmTensor> weights)
    {
        var a = archive.ToList();
        var b = weights.ToList();
        Assert.Equal(a.Select(t => t.Name), b.Select(t => t.Name));
        Keras3Files.AssertSameData(a, b);
        for (int i = 0; i < a.Count; i++)
            Assert.Equal(a[i].Config.OrderBy(k => k.Key).Select(k => $"{k.Key}={Show(k.Value)}"), b[i].Config.OrderBy(k => k.Key).Select(k => $"{k.Key}={Show(k.Value)}"));
    }

    static string Show(object? v) => v is string[] a ? string.Join("|", a) : v?.ToString() ?? "null";

    public static TheoryData<string, string[]> Stores => new()
    {
        { "names", [] },                     // Keras 3.10 and later: every vars group has the object's name
        { "no-names", ["--no-names"] },      // Keras 3.0 to 3.9: no names; the config's groups are derived from class names
        { "tf-keras", ["--no-names", "--tf-keras"] }, // tf.keras 2.13-2.15: _layer_checkpoint_dependencies
    };

    [SkippableTheory]
    [MemberData(nameof(Stores))]
    public void Every_layer_type_with_and_without_a_config(string variant, string[] flags)
    {
        using var dir = new TempDir();
        var (weights, config, made) = Keras3Files.Make("sequential", dir, "model", [.. flags, "--optimizer"]);
        var expected = new[] { "embedding", "bidirectional", "lstm", "lstm_1", "gru", "simple_rnn", "dense" };

        var t = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] -Config $args[1]", weights, config);
        Assert.Equal(expected, t.Select(x => x.Layer).Distinct());
        foreach (var x in t) Assert.Equal(Keras3Files.Values(made, x.Name), Keras3Files.Data(x));
        Assert.All(t, x => Assert.False(x.Config.ContainsKey(ConfigKeys.Inferred), x.Name));
        LstmTensor One(string layer, TensorRole role, Direction d = Direction.Forward) => t.Single(x => x.Layer == layer && x.Role == role && x.Direction == d);
        Assert.Equal((LayerType.Embedding, 6, 30), (One("embedding", TensorRole.Embeddings).LayerType, One("embedding", TensorRole.Embeddings).Units, One("embedding", TensorRole.Embeddings).InputSize));
        var back = One("bidirectional", TensorRole.RecurrentKernel, Direction.Backward);
        Assert.Equal((LayerType.LSTM, 5, 6, "concat"), (back.LayerType, back.Units, back.InputSize, (string)back.Config[ConfigKeys.MergeMode]!));
        Assert.StartsWith(variant == "tf-keras" ? "_layer_checkpoint_dependencies/bidirectional/backward_layer/cell/vars/1" : "layers/bidirectional/backward_layer/cell/vars/1", back.Name);
        Assert.Equal((4, 4), (One("lstm_1", TensorRole.Kernel).Units, One("lstm_1", TensorRole.Kernel).InputSize));
        Assert.Equal([2, 9], One("gru", TensorRole.Bias).Shape);
        Assert.Equal("relu", One("simple_rnn", TensorRole.Kernel).Config[ConfigKeys.Activation]);
        Assert.Equal(("tanh", 2, 3), ((string)One("dense", TensorRole.Kernel).Config[ConfigKeys.Activation]!, One("dense", TensorRole.Kernel).Units, One("dense", TensorRole.Kernel).InputSize));

        // Without a config: the same tensors and types; the settings are Keras defaults, said to be inferred.
        var bare = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] -WarningAction SilentlyContinue", weights);
        Assert.Equal(expected.Order(StringComparer.Ordinal), bare.Select(x => x.Layer).Distinct().Order(StringComparer.Ordinal));
        Keras3Files.AssertSameData(t, bare);
        var relu = bare.Single(x => x.Layer == "simple_rnn" && x.Role == TensorRole.Kernel);
        Assert.Equal("tanh", relu.Config[ConfigKeys.Activation]); // a relu SimpleRNN stores the same weights: only a config tells
        Assert.Contains(ConfigKeys.Activation, (string[])relu.Config[ConfigKeys.Inferred]!);
        Assert.Contains(ConfigKeys.MergeMode, (string[])bare.First(x => x.Layer == "bidirectional").Config[ConfigKeys.Inferred]!);

        var layers = ps.Objects<LstmLayer>("Get-LstmLayer $args[0] -WarningAction SilentlyContinue", weights);
        Assert.Equal([ConfigKeys.Activation, ConfigKeys.GoBackwards, ConfigKeys.ReturnSequences, ConfigKeys.Stateful], layers.Single(l => l.Layer == "simple_rnn").Inferred);
        Assert.Empty(layers.Single(l => l.Layer == "embedding").Inferred);
        Assert.Empty(ps.Objects<LstmLayer>("Get-LstmLayer $args[0] -Config $args[1]", weights, config).SelectMany(l => l.Inferred));
    }

    [SkippableFact]
    public void Keras_3_defaults_and_spellings_hard_sigmoid_and_reset_after()
    {
        using var dir = new TempDir();
        // hard_sigmoid in a Keras 3 model is clip(x/6 + 0.5); in a tf.keras 2.13 store's model, clip(0.2x + 0.5).
        foreach (var (flags, variant) in new (string[], string)[] { ([], "keras3"), (["--no-names", "--tf-keras"], "keras2") })
        {
            var (weights, config, _) = Keras3Files.Make("lstm", dir, "hs" + flags.Length, flags);
            File.WriteAllText(config, File.ReadAllText(config).Replace("\"recurrent_activation\": \"sigmoid\"", "\"recurrent_activation\": \"hard_sigmoid\""));
            var lstm = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] -Config $args[1] -Layer lstm", weights, config)[0];
            Assert.Equal(("hard_sigmoid", variant), ((string)lstm.Config[ConfigKeys.RecurrentActivation]!, (string)lstm.Config[ConfigKeys.HardSigmoid]!));
            Assert.Equal([ConfigKeys.HardSigmoid], (string[])lstm.Config[ConfigKeys.Inferred]!); // which one is the version's, and no file records a version
            Assert.Contains("hard_sigmoid", ps.Objects<LstmLayer>("Get-LstmLayer $args[0] -Config $args[1] -Layer lstm", weights, config)[0].Reason);
        }
        // A .keras records its version: then nothing is inferred.
        var (w3, _, _) = Keras3Files.Make("lstm", dir, "versioned", "--archive");
        var fromArchive = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] -Config $args[1] -Layer lstm", w3, dir.File("versioned.keras"))[0];
        Assert.Equal(("sigmoid", "3.8.0"), ((string)fromArchive.Config[ConfigKeys.RecurrentActivation]!, (string)fromArchive.Config[ConfigKeys.KerasVersion]!));
        Assert.False(fromArchive.Config.ContainsKey(ConfigKeys.Inferred));

        // A GRU without biases: Keras 3's default reset_after=True, without a config too (assumed, and said).
        var (gru, gruConfig, _) = Keras3Files.Make("gru-no-bias", dir, "gru");
        var bare = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] -WarningAction SilentlyContinue", gru);
        Assert.Equal(2, bare.Count);
        Assert.All(bare, t => Assert.Equal((LayerType.GRU, true, false), (t.LayerType, (bool)t.Config[ConfigKeys.ResetAfter]!, (bool)t.Config[ConfigKeys.UseBias]!)));
        Assert.Contains(ConfigKeys.ResetAfter, (string[])bare[0].Config[ConfigKeys.Inferred]!);
        var given = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] -Config $args[1]", gru, gruConfig);
        Assert.All(given, t => Assert.True((bool)t.Config[ConfigKeys.ResetAfter]!));
    }

    [SkippableFact]
    public void Nested_models_and_archives_of_files_without_names()
    {
        using var dir = new TempDir();
        var (weights, config, made) = Keras3Files.Make("nested", dir, "nested", "--no-names", "--archive");
        var t = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] -Config $args[1]", weights, config);
        Assert.Equal(["encoder_lstm", "encoder_dense", "decoder_gru", "head"], t.Select(x => x.Layer).Distinct());
        Assert.Equal("layers/sequential/layers/lstm/cell/vars/0", t[0].Name);
        var gru = t.Where(x => x.Layer == "decoder_gru").ToList();
        Assert.All(gru, x => Assert.Equal((LayerType.GRU, false), (x.LayerType, (bool)x.Config[ConfigKeys.ResetAfter]!)));
        foreach (var x in t) Assert.Equal(Keras3Files.Values(made, x.Name), Keras3Files.Data(x));

        // The .keras reader finds the layers of a store without names (Keras before 3.10) by the groups the config gives them.
        var archive = ps.Objects<LstmTensor>("Get-LstmWeights $args[0]", dir.File("nested.keras"));
        Assert.Equal(t.Select(x => x.Name), archive.Select(x => x.Name));
        Keras3Files.AssertSameData(t, archive);

        // A .keras as -Config is read for its config.json.
        Assert.Equal(t.Select(x => x.Layer), ps.Objects<LstmTensor>("Get-LstmWeights $args[0] -Config $args[1]", weights, dir.File("nested.keras")).Select(x => x.Layer));
    }

    [SkippableFact]
    public void One_bad_layer_is_its_own_error_and_the_others_are_read()
    {
        using var dir = new TempDir();
        var (weights, config, made) = Keras3Files.Make("bad", dir, "bad");
        var r = ps.Run("Get-LstmWeights $args[0] -Config $args[1] -WarningVariable w -WarningAction SilentlyContinue; $w | ForEach-Object { 'warning: ' + $_.Message }", weights, config);
        Assert.Null(r.Terminating);
        var errors = r.Errors.OrderBy(e => e.Exception.Message, StringComparer.Ordinal).ToList();
        Assert.Equal(2, errors.Count);
        // gru: a string dataset; lstm_1: its config says use_bias but it stores two variables.
        Assert.Equal("UnsupportedDType", ErrorId(errors.Single(e => e.Exception.Message.Contains("layer 'gru'"))));
        var lstm1 = errors.Single(e => e.Exception.Message.Contains("layer 'lstm_1'"));
        Assert.Equal("LayerShapeMismatch", ErrorId(lstm1));
        Assert.Contains("use_bias=true", lstm1.Exception.Message);
        Assert.All(errors, e => Assert.Equal(weights, e.TargetObject));
        var t = r.Output.Select(o => o.BaseObject).OfType<LstmTensor>().ToList();
        Assert.Equal(["lstm", "batch_normalization", "dense"], t.Select(x => x.Layer).Distinct());
        Assert.All(t.Where(x => x.Layer == "batch_normalization"), x => Assert.Equal((LayerType.Other, TensorRole.Other), (x.LayerType, x.Role)));
        var warning = Assert.Single(r.Output.Select(o => o.BaseObject).OfType<string>());
        Assert.Contains("batch_normalization (BatchNormalization)", warning);
        Assert.Contains("LayerType Other", warning);
        foreach (var x in t) Assert.Equal(Keras3Files.Values(made, x.Name), Keras3Files.Data(x));
    }

    [SkippableTheory]
    [InlineData("layer")]
    [InlineData("branch")]
    [InlineData("container")]
    public void Links_that_loop_are_refused_before_PureHDF_and_never_hang(string mode)
    {
        using var dir = new TempDir();
        var (weights, _, _) = Keras3Files.Make("lstm", dir, "loop");
        Python.Run("keras3_h5.py", "loop", weights, mode);
        var clock = Stopwatch.StartNew();
        var r = ps.Run("Get-LstmWeights $args[0] -WarningAction SilentlyContinue", weights);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");
        // A group that links back to itself or an ancestor is no weights file any Keras writes: the
        // structure check refuses the whole file (issue 16), naming the link; Keras3Store's own bounds
        // stay as the second line of defence.
        var error = Assert.Single(r.Errors);
        Assert.Equal("CorruptFile", ErrorId(error));
        Assert.Contains("a cycle of groups", error.Exception.Message);
        Assert.Contains(mode == "container" ? "'/layers/back'" : "/cell/", error.Exception.Message);
        Assert.Empty(r.Output);
    }

    [SkippableFact]
    public void Damaged_group_indexes_give_errors_with_ids_never_a_crash_and_spare_the_other_layers()
    {
        using var dir = new TempDir();
        var (weights, _, _) = Keras3Files.Make("lstm", dir, "m", "--optimizer");
        var bytes = File.ReadAllBytes(weights);
        // Each symbol-table node ("SNOD": the index of one group's links) in turn is overwritten.
        var nodes = new List<int>();
        for (int i = bytes.AsSpan().IndexOf("SNOD"u8); i >= 0; i = bytes.AsSpan(i + 1).IndexOf("SNOD"u8) is var j and >= 0 ? i + 1 + j : -1) nodes.Add(i);
        Assert.True(nodes.Count >= 5, $"only {nodes.Count} group indexes");
        int spared = 0;
        foreach (var at in nodes)
        {
            var damaged = dir.File($"damaged{at}.weights.h5");
            var copy = (byte[])bytes.Clone();
            "XXXXXXXXXXXXXXXX"u8.CopyTo(copy.AsSpan(at));
            File.WriteAllBytes(damaged, copy);
            WeightFile file;
            try { file = WeightReader.Read(damaged); }
            catch (LstmPortException e)
            {
                Assert.Contains(e.ErrorId, new[] { ErrorIds.CorruptFile, ErrorIds.NoTensors, ErrorIds.NotKerasFile });
                continue;
            }
            foreach (var t in file.Tensors)
            {
                try { _ = t.Sum(); }
                catch (LstmPortException) { }   // a tensor whose data cannot be read says so with its id
            }
            Assert.All(file.Errors, e => Assert.Equal(ErrorIds.CorruptFile, e.ErrorId));
            if (file.Errors.Count > 0 && file.Tensors.Count > 0) spared++;
        }
        Assert.True(spared > 0, "no damaged index cost only its own layer");
    }

    public static TheoryData<string, string> BadConfigs => new()
    {
        { "missing", "FileNotFound" },
        { "directory", "PathIsDirectory" },
        { "not-json", "NotKerasConfig" },
        { "not-keras", "NotKerasConfig" },     // a JSON config of something else (say, a Hugging Face config.json)
        { "subclassed", "NotKerasConfig" },    // a Keras config that lists no layers
        { "zip", "NotKerasConfig" },           // a zip without config.json
    };

    [SkippableTheory]
    [MemberData(nameof(BadConfigs))]
    public void A_Config_that_is_no_Keras_model_config_stops_the_command(string kind, string errorId)
    {
        using var dir = new TempDir();
        var (weights, _, _) = Keras3Files.Make("lstm", dir, "m");
        var config = dir.File("config.json");
        switch (kind)
        {
            case "directory": Directory.CreateDirectory(config); break;
            case "not-json": File.WriteAllText(config, "model = LSTM(4)"); break;
            case "not-keras": File.WriteAllText(config, """{"architectures": ["BertModel"], "hidden_size": 768}"""); break;
            case "subclassed": File.WriteAllText(config, """{"class_name": "MyModel", "config": {"name": "my_model", "units": 4}}"""); break;
            case "zip":
                using (var z = System.IO.Compression.ZipFile.Open(config, System.IO.Compression.ZipArchiveMode.Create))
                using (var w = new StreamWriter(z.CreateEntry("readme.txt").Open())) w.Write("hello");
                break;
        }
        foreach (var cmdlet in new[] { "Get-LstmWeights", "Get-LstmLayer" })
        {
            var r = ps.Run($"{cmdlet} $args[0] -Config $args[1]", weights, config);
            // Statement-terminating: one record, and nothing read.
            var record = Assert.Single(r.Errors.Concat([(r.Terminating as System.Management.Automation.IContainsErrorRecord)?.ErrorRecord]).OfType<System.Management.Automation.ErrorRecord>());
            Assert.Equal(errorId, ErrorId(record));
            Assert.Equal(config, record.TargetObject);
            Assert.Contains("config", record.Exception.Message, StringComparison.OrdinalIgnoreCase);
            if (kind != "missing") Assert.Matches("[Ee]xpected", record.Exception.Message);
            Assert.Empty(r.Output);
        }
    }

    [SkippableFact]
    public void A_config_json_beside_the_file_that_is_not_Keras_is_passed_over_with_a_note()
    {
        using var dir = new TempDir();
        var (weights, _, _) = Keras3Files.Make("lstm", dir, "m");
        File.WriteAllText(dir.File("config.json"), """{"architectures": ["BertModel"]}""");
        var file = WeightReader.Read(weights);
        Assert.Empty(file.Errors);
        Assert.Equal(["dense", "lstm"], file.Tensors.Select(t => t.Layer).Distinct());
        Assert.Contains(file.Notes, n => n.Contains("config.json beside the file was not used") && n.Contains("not a Keras model config"));
        Assert.Contains(file.Warnings, w => w.Contains("no model config"));
    }

    [SkippableFact]
    public void Config_goes_to_the_files_that_take_one_and_is_said_unused_elsewhere()
    {
        // A Keras 2 save_weights file takes a model.to_json() config: the settings come from it, nothing is inferred.
        var weights = Repo.Fixture("dl4j-keras2-simple-lstm", "simple_lstm_tf_keras_2_weights.h5");
        var json = Repo.Fixture("dl4j-keras2-simple-lstm", "simple_lstm_tf_keras_2_config.json");
        var r = ps.Run("Get-LstmWeights $args[0] -Config $args[1] -WarningVariable w; $w.Count", weights, json);
        Assert.False(r.Failed, r.ErrorText);
        Assert.Equal(0, r.Output.Last().BaseObject);
        var t = r.Output.Select(o => o.BaseObject).OfType<LstmTensor>().ToList();
        Assert.All(t, x => Assert.False(x.Config.ContainsKey(ConfigKeys.Inferred)));
        Assert.Equal("hard_sigmoid", t[0].Config[ConfigKeys.RecurrentActivation]); // Keras 2.0.6's LSTM, as its config says

        // A full model, a .keras and a PyTorch file have their own configs or none: -Config is not used, and a warning says so.
        using var dir = new TempDir();
        var (_, config, _) = Keras3Files.Make("lstm", dir, "m");

        // Another model's config names none of this file's layers: said, and their settings are inferred.
        var wrong = ps.Run("Get-LstmWeights $args[0] -Config $args[1] -WarningVariable w -WarningAction SilentlyContinue; $w | ForEach-Object { 'warning: ' + $_.Message }", weights, config);
        Assert.Empty(wrong.Errors);
        var said = wrong.Output.Select(o => o.BaseObject).OfType<string>().ToList();
        Assert.Contains(said, w => w.Contains("has no layer named lstm_1, dense_1"));
        Assert.Contains(said, w => w.Contains("no model config for lstm_1"));
        foreach (var other in new[] { Repo.Fixture("dl4j-keras2-simple-lstm", "simple_lstm_tf_keras_2_model.h5"), Repo.Fixture(Keras3Files.Folder, "lstm_model.keras"),
                     Repo.Fixture("chrisprasanna-torch-zip-stacked-lstm", "lstm.pt") })
        {
            var o = ps.Run("Get-LstmWeights $args[0] -Config $args[1] -WarningVariable w -WarningAction SilentlyContinue; $w | ForEach-Object { 'warning: ' + $_.Message }", other, config);
            Assert.Empty(o.Errors);
            Assert.Contains(o.Output.Select(x => x.BaseObject).OfType<string>(), w => w.Contains("-Config") && w.Contains("is not used"));
            Assert.NotEmpty(o.Output.Select(x => x.BaseObject).OfType<LstmTensor>());
        }
    }

    [SkippableFact]
    public void Keras_2_files_leave_out_optimizer_weights_with_a_note_and_keep_other_layers_when_one_is_missing()
    {
        var model = Repo.Fixture("dl4j-keras2-simple-lstm", "simple_lstm_tf_keras_2_model.h5");
        var count = Python.Run("keras3_h5.py", "count", model, "optimizer_weights").GetProperty("count").GetInt32();
        var file = WeightReader.Read(model);
        Assert.Contains($"left out {count} optimizer weights (optimizer_weights)", file.Notes);
        Assert.DoesNotContain(file.Tensors, t => t.Name.Contains("optimizer", StringComparison.OrdinalIgnoreCase));

        // A layer that layer_names lists but the file lacks is that layer's error; the rest is read.
        using var dir = new TempDir();
        var damaged = dir.File("damaged.h5");
        File.Copy(model, damaged);
        var py = Python.Exec("-c", "import h5py, sys; f = h5py.File(sys.argv[1], 'a'); del f['model_weights/lstm_1']; f.close()", damaged);
        Assert.True(py.Code == 0, py.Err);
        var d = WeightReader.Read(damaged);
        var error = Assert.Single(d.Errors);
        Assert.Equal((ErrorIds.CorruptFile, true), (error.ErrorId, error.Message.Contains("lstm_1")));
        Assert.Equal(["dense_1"], d.Tensors.Select(t => t.Layer).Distinct());
    }

    [SkippableFact]
    public void The_Keras_2_and_Keras_3_readers_refuse_each_others_files_with_the_way_out()
    {
        using var dir = new TempDir();
        var (weights, _, _) = Keras3Files.Make("lstm", dir, "m");
        var k2 = Repo.Fixture("dl4j-keras2-simple-lstm", "simple_lstm_tf_keras_2_weights.h5");
        var asK2 = Assert.Throws<LstmPortException>(() => WeightReader.Read(weights, WeightFormat.KerasHdf5));
        Assert.Equal(ErrorIds.NotKerasFile, asK2.ErrorId);
        Assert.Contains("-Format KerasWeights", asK2.Message);
        var asK3 = Assert.Throws<LstmPortException>(() => WeightReader.Read(k2, WeightFormat.KerasWeights));
        Assert.Equal(ErrorIds.NotKerasFile, asK3.ErrorId);
        Assert.Contains("-Format KerasHdf5", asK3.Message);
        Assert.Equal(5, WeightReader.Read(weights, WeightFormat.KerasWeights, ReadOptions.Default).Tensors.Count);
    }
}
