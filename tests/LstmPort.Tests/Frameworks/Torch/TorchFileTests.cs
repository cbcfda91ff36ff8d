using System.IO.Compression;
using System.Text.Json;
using TorchSharp;
using LstmPort.Containers;

namespace LstmPort.Tests;

/// <summary>Get-LstmWeights on PyTorch files: written by real torch.save, real fixtures, hostile and broken input.</summary>
public sealed class TorchFileTests(ModuleSession ps) : IClassFixture<ModuleSession>
{
    internal static double[] Values(torch.Tensor t) => t.to_type(torch.ScalarType.Float64).flatten().data<double>().ToArray();

    /// <summary>Compares tensors with what torch_files.py printed: names in order, dtypes, shapes, exact values.</summary>
    internal static void AssertSame(JsonElement expected, IReadOnlyList<LstmTensor> tensors)
    {
        Assert.Equal(expected.EnumerateObject().Select(p => p.Name), tensors.Select(t => t.Name));
        foreach (var t in tensors)
        {
            var e = expected.GetProperty(t.Name);
            Assert.Equal(e.GetProperty("dtype").GetString(), t.DType);
            Assert.Equal(e.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()), t.Shape);
            Assert.Equal(e.GetProperty("values").EnumerateArray().Select(v => v.GetDouble()), Values(t.Tensor));
        }
    }

    [SkippableTheory]
    [InlineData("lstm", false)] [InlineData("lstm", true)]
    [InlineData("gru", false)] [InlineData("gru", true)]
    [InlineData("dtypes", false)] [InlineData("dtypes", true)]
    [InlineData("strided", false)] [InlineData("strided", true)]
    [InlineData("wrapped", false)] [InlineData("wrapped", true)]
    [InlineData("model", false)] [InlineData("model", true)]
    [InlineData("parameters", false)] [InlineData("parameters", true)]
    public void Reads_what_torch_save_writes_with_exact_values(string kind, bool legacy)
    {
        using var dir = new TempDir();
        var path = dir.File(kind + ".pth");
        var expected = legacy ? Python.Run("torch_files.py", "save", path, kind, "legacy") : Python.Run("torch_files.py", "save", path, kind);
        var tensors = ps.Objects<LstmTensor>("Get-LstmWeights $args[0]", path);
        Assert.All(tensors, t => Assert.False(t.IsLoaded));
        AssertSame(expected, tensors);
        Assert.All(tensors, t => Assert.Equal((Layout.Torch, path), (t.Layout, t.Source)));

        if (kind is "lstm" or "wrapped")
        {
            var ih = tensors.Single(t => t.Name == "rnn.weight_ih_l1_reverse");
            Assert.Equal(("rnn", LayerType.LSTM, TensorRole.Kernel, Direction.Backward, 1, GateOrder.IFGO, 4, 8),
                (ih.Layer, ih.LayerType, ih.Role, ih.Direction, ih.StackIndex, ih.GateOrder, ih.Units, ih.InputSize));
            var head = tensors.Single(t => t.Name == "head.weight");
            Assert.Equal((LayerType.Dense, TensorRole.Weight, 3, 8), (head.LayerType, head.Role, head.Units, head.InputSize));
        }
        if (kind is "gru" or "model")
        {
            var hh = tensors.Single(t => t.Name == "rnn.bias_hh_l0");
            Assert.Equal((LayerType.GRU, TensorRole.RecurrentBias, Direction.Forward, 0, GateOrder.RZN, 6, 3),
                (hh.LayerType, hh.Role, hh.Direction, hh.StackIndex, hh.GateOrder, hh.Units, hh.InputSize));
        }
    }

    [SkippableFact]
    public void Wrapped_checkpoint_warns_about_what_it_skips_only_inside_the_state_dict()
    {
        using var dir = new TempDir();
        var path = dir.File("w.pth");
        Python.Run("torch_files.py", "save", path, "wrapped");
        var r = ps.Run("Get-LstmWeights $args[0]", path);
        Assert.False(r.Failed, r.ErrorText);
        Assert.Equal(18, r.Output.Count); // the state_dict entry; epoch and optimizer are the wrapper's
    }

    public static TheoryData<string> Fixtures => new()
    {
        "allennlp-torch-state-dicts-legacy-and-zip/bidaf_lstm_best.th",
        "allennlp-torch-state-dicts-legacy-and-zip/dialog_qa_bigru_best.th",
        "allennlp-torch-state-dicts-legacy-and-zip/esim_bilstm_best.th",
        "allennlp-torch-state-dicts-legacy-and-zip/seq2seq_lstm_lstmcell_best.th",
        "allennlp-torch-state-dicts-legacy-and-zip/simple_tagger_lstm_ZIP_best.th",
        "allennlp-torch-state-dicts-legacy-and-zip/simple_tagger_lstm_legacy_best.th",
        "chrisprasanna-torch-zip-stacked-lstm/lstm.pt",
        "chrisprasanna-torch-zip-stacked-lstm/darnn.pt",
    };

    /// <summary>Every fixture is a plain state_dict (checked with torch: only OrderedDict, _rebuild_tensor_v2 and FloatStorage).</summary>
    [SkippableTheory]
    [MemberData(nameof(Fixtures))]
    public void Reads_the_pytorch_fixtures_as_torch_does(string fixture)
    {
        var path = Repo.Fixture(fixture.Split('/'));
        var expected = Python.Run("torch_files.py", "load", path);
        var tensors = ps.Objects<LstmTensor>("Get-LstmWeights $args[0]", path);
        AssertSame(expected.GetProperty("tensors"), tensors);
    }

    [SkippableFact]
    public void Fixture_layers_get_their_type_depth_direction_and_sizes_from_keys_and_shapes()
    {
        var stacked = ps.Objects<LstmTensor>("Get-LstmWeights $args[0]", Repo.Fixture("chrisprasanna-torch-zip-stacked-lstm", "lstm.pt"));
        var ih1 = stacked.Single(t => t.Name == "lstm.weight_ih_l1");
        Assert.Equal(("lstm", LayerType.LSTM, TensorRole.Kernel, 1, 64, 64), (ih1.Layer, ih1.LayerType, ih1.Role, ih1.StackIndex, ih1.Units, ih1.InputSize));
        Assert.Equal((LayerType.Dense, 1, 64), stacked.Where(t => t.Name == "fc.weight").Select(t => (t.LayerType, t.Units, t.InputSize)).Single());

        var cells = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] -Layer *decoder_lstm", Repo.Fixture("chrisprasanna-torch-zip-stacked-lstm", "darnn.pt"));
        Assert.Equal(4, cells.Count);
        Assert.All(cells, t => Assert.Equal((LayerType.LSTM, 0, 64, 1), (t.LayerType, t.StackIndex, t.Units, t.InputSize)));

        var gru = ps.Objects<LstmTensor>("Get-LstmWeights $args[0] -Layer _phrase_layer._module",
            Repo.Fixture("allennlp-torch-state-dicts-legacy-and-zip", "dialog_qa_bigru_best.th"));
        Assert.Equal(8, gru.Count);
        Assert.Equal(4, gru.Count(t => t.Direction == Direction.Backward));
        Assert.All(gru, t => Assert.Equal((LayerType.GRU, GateOrder.RZN, 5, 20), (t.LayerType, t.GateOrder, t.Units, t.InputSize)));

        var tagger = ps.Objects<LstmTensor>("Get-LstmWeights $args[0]", Repo.Fixture("allennlp-torch-state-dicts-legacy-and-zip", "simple_tagger_lstm_ZIP_best.th"));
        Assert.Equal(LayerType.Embedding, tagger.Single(t => t.Name == "text_field_embedder.token_embedder_tokens.weight").LayerType);
        Assert.Equal(LayerType.Dense, tagger.Single(t => t.Name == "text_field_embedder.token_embedder_tokens._projection.weight").LayerType);
    }

    [SkippableFact]
    public void Hostile_pickles_are_refused_naming_the_global_and_never_run()
    {
        using var dir = new TempDir();
        var marker = dir.File("pwned");
        var made = Python.Run("torch_files.py", "hostile", dir.Path, marker);
        Assert.True(made.GetProperty("live").GetBoolean(), "the payload should be live under plain pickle");
        var good = Safetensors.Write(dir.File("good.safetensors"), ("x.weight", [1, 1], [1f]));
        foreach (var file in made.GetProperty("globals").EnumerateObject())
        {
            var path = dir.File(file.Name);
            var r = ps.Run("Get-LstmWeights -LiteralPath $args[0], $args[1]", path, good);
            var error = Assert.Single(r.Errors);
            Assert.Equal("UnsafePickleGlobal", error.FullyQualifiedErrorId.Split(',')[0]);
            Assert.Equal(System.Management.Automation.ErrorCategory.SecurityError, error.CategoryInfo.Category);
            Assert.Equal(path, error.TargetObject);
            Assert.Contains($"'{file.Value.GetString()}'", error.Exception.Message);
            Assert.Single(r.Output); // the next path is still read
        }
        Assert.False(File.Exists(marker), "a hostile payload ran");
    }

    // ---- hand-made broken files ----

    static byte[] StateDictPickle(string storageClass, long numel, long[] size, long[] stride, long offset = 0)
    {
        var p = new PickleWriter();
        p.Global("collections", "OrderedDict").EmptyTuple().Reduce().Mark();
        p.String("w").Global("torch._utils", "_rebuild_tensor_v2").Mark()
            .Mark().String("storage").Global("torch", storageClass).String("0").String("cpu").Int(numel).Tuple().BinPersId()
            .Int(offset).IntTuple(size).IntTuple(stride).Bool(false)
            .Global("collections", "OrderedDict").EmptyTuple().Reduce().Tuple().Reduce();
        p.SetItems();
        return p.Finish();
    }

    static void Zip(string path, byte[] pickle, params (string Name, byte[] Data)[] records)
    {
        using var z = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (name, data) in records.Prepend(("archive/data.pkl", pickle)))
        {
            using var s = z.CreateEntry(name, CompressionLevel.NoCompression).Open();
            s.Write(data);
        }
    }

    public static TheoryData<string, string> BrokenFiles => new()
    {
        { "unknown-opcode", "UnknownPickleOpcode" },
        { "truncated-zip", "TruncatedFile" },
        { "truncated-pickle", "TruncatedFile" },
        { "truncated-legacy", "TruncatedFile" },
        { "not-torch-pickle", "CorruptFile" },
        { "storage-shorter-than-tensor", "TensorOutOfRange" },
        { "record-shorter-than-storage", "TensorOutOfRange" },
        { "missing-record", "CorruptFile" },
        { "absurd-shape", "TensorTooLarge" },
        { "huge-shape-small-storage", "TensorOutOfRange" },
        { "complex-dtype", "UnsupportedDType" },
        { "no-tensors", "NoTensors" },
        { "ext-opcode", "UnsafePickleGlobal" },
        { "inst-opcode", "UnsafePickleGlobal" },
    };

    [Theory]
    [MemberData(nameof(BrokenFiles))]
    public void Broken_files_give_their_error_record_and_the_next_path_is_still_read(string kind, string errorId)
    {
        using var dir = new TempDir();
        var bad = dir.File("bad.pth");
        var data16 = new byte[64];
        switch (kind)
        {
            case "unknown-opcode": Zip(bad, [0x80, 0x02, 0xff, (byte)'.']); break;
            case "truncated-zip":
                Zip(bad, StateDictPickle("FloatStorage", 16, [4, 4], [4, 1]), ("archive/data/0", data16));
                File.WriteAllBytes(bad, File.ReadAllBytes(bad)[..^40]);
                break;
            case "truncated-pickle": Zip(bad, StateDictPickle("FloatStorage", 16, [4, 4], [4, 1])[..^12], ("archive/data/0", data16)); break;
            case "truncated-legacy":
            {
                var legacy = LegacyFile(StateDictPickle("FloatStorage", 16, [4, 4], [4, 1]), 16, data16);
                File.WriteAllBytes(bad, legacy[..^10]);
                break;
            }
            case "not-torch-pickle": File.WriteAllBytes(bad, new PickleWriter().Int(5).Finish()); break;
            case "storage-shorter-than-tensor": Zip(bad, StateDictPickle("FloatStorage", 4, [4, 4], [4, 1]), ("archive/data/0", data16[..16])); break;
            case "record-shorter-than-storage": Zip(bad, StateDictPickle("FloatStorage", 16, [4, 4], [4, 1]), ("archive/data/0", data16[..32])); break;
            case "missing-record": Zip(bad, StateDictPickle("FloatStorage", 16, [4, 4], [4, 1])); break;
            case "absurd-shape": Zip(bad, StateDictPickle("FloatStorage", 16, [1L << 40, 1L << 40, 1L << 40], [1, 1, 1]), ("archive/data/0", data16)); break;
            case "huge-shape-small-storage": Zip(bad, StateDictPickle("FloatStorage", 16, [1_000_000, 1_000_000], [1_000_000, 1]), ("archive/data/0", data16)); break;
            case "complex-dtype": Zip(bad, StateDictPickle("ComplexFloatStorage", 8, [8], [1]), ("archive/data/0", data16)); break;
            case "no-tensors":
            {
                var p = new PickleWriter().EmptyDict().Mark().String("epoch").Int(3).SetItems();
                Zip(bad, p.Finish());
                break;
            }
            case "ext-opcode": Zip(bad, [0x80, 0x02, 0x82, 0x01, (byte)'.']); break;
            case "inst-opcode": Zip(bad, [0x80, 0x02, (byte)'(', .. "ios\nsystem\n"u8.ToArray(), (byte)'.']); break;
        }
        var good = Safetensors.Write(dir.File("good.safetensors"), ("x.weight", [1, 2], [1f, 2f]));

        var r = ps.Run("Get-LstmWeights -LiteralPath $args[0], $args[1]", bad, good);
        var error = Assert.Single(r.Errors);
        Assert.Equal(errorId, error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(bad, error.TargetObject);
        Assert.Contains("bad.pth", error.Exception.Message);
        Assert.Equal("x.weight", Assert.Single(r.Output).BaseObject is LstmTensor t ? t.Name : null);
        Assert.Null(r.Terminating);
    }

    /// <summary>The pre-1.6 layout: magic, protocol, system info, the object, the keys, then each storage.</summary>
    static byte[] LegacyFile(byte[] pickle, long numel, byte[] data, params string[] keys)
    {
        if (keys.Length == 0) keys = ["0"];
        using var ms = new MemoryStream();
        var magic = new List<byte> { 0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, (byte)'.' };
        ms.Write(magic.ToArray());
        ms.Write(new PickleWriter().Int(1001).Finish());
        ms.Write(new PickleWriter().EmptyDict().Mark().String("little_endian").Bool(true).SetItems().Finish());
        ms.Write(pickle);
        var list = new PickleWriter().Mark();
        foreach (var k in keys) list.String(k);
        ms.Write(list.List().Finish());
        foreach (var _ in keys)
        {
            ms.Write(BitConverter.GetBytes(numel));
            ms.Write(data);
        }
        return ms.ToArray();
    }

    [Fact]
    public void A_hand_made_legacy_file_with_a_view_reads_the_right_window()
    {
        using var dir = new TempDir();
        var path = dir.File("legacy.pt");
        var values = Enumerable.Range(0, 16).Select(i => (float)i).ToArray();
        File.WriteAllBytes(path, LegacyFile(StateDictPickle("FloatStorage", 16, [2, 3], [1, 2], offset: 5), 16,
            values.SelectMany(BitConverter.GetBytes).ToArray()));
        var t = ps.Objects<LstmTensor>("Get-LstmWeights $args[0]", path).Single();
        Assert.Equal([2, 3], t.Shape);
        // as_strided(size=[2,3], stride=[1,2], offset=5) of 0..15
        Assert.Equal([5.0, 7, 9, 6, 8, 10], Values(t.Tensor));
    }

    [Fact]
    public void A_legacy_storage_used_by_a_tensor_but_not_in_the_key_list_is_that_tensors_CorruptFile()
    {
        // The pickle uses storage '0'; the key list names only 'other' (issue 16, D11: was a KeyNotFoundException).
        using var dir = new TempDir();
        var path = dir.File("legacy.pt");
        var w = new PickleWriter();
        w.Global("collections", "OrderedDict").EmptyTuple().Reduce().Mark();
        foreach (var (name, key) in new[] { ("a", "0"), ("b", "other") })
            w.String(name).Global("torch._utils", "_rebuild_tensor_v2").Mark()
                .Mark().String("storage").Global("torch", "FloatStorage").String(key).String("cpu").Int(4).Tuple().BinPersId()
                .Int(0).IntTuple([4]).IntTuple([1]).Bool(false)
                .Global("collections", "OrderedDict").EmptyTuple().Reduce().Tuple().Reduce();
        w.SetItems();
        File.WriteAllBytes(path, LegacyFile(w.Finish(), 4, new byte[16], "other"));
        var file = LstmPort.Formats.WeightReader.Read(path);
        Assert.Equal("b", Assert.Single(file.Tensors).Name);
        var e = Assert.Single(file.Errors);
        Assert.Equal(ErrorIds.CorruptFile, e.ErrorId);
        Assert.Contains("'a' cannot be read: its storage '0' is not in the file's storage list", e.Message);
    }
}
