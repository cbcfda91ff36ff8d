using System.IO.Compression;
using LstmPort.Formats;

namespace LstmPort.Tests;

/// <summary>
/// Format detection probes the opened container: which reader claims each real file and each
/// generated one, whatever its name says.
/// </summary>
public sealed class DetectionTests(ModuleSession ps) : IClassFixture<ModuleSession>
{
    /// <summary>Every fixture file matching a pattern (relative path, '*' within a name) must be detected as the format given; null: no reader claims it.</summary>
    static readonly (string Pattern, WeightFormat? Format)[] FixtureTable =
    [
        ("*.safetensors", WeightFormat.SafeTensors),
        ("*.keras", WeightFormat.KerasArchive),    // their model.weights.h5, extracted: KerasWeights (Content_decides_not_the_file_name)
        ("*.h5", WeightFormat.KerasHdf5),          // data files too: claimed weakly, then refused as NotKerasFile
        ("*.hdf5", WeightFormat.KerasHdf5),
        ("*.pt", WeightFormat.PyTorch),
        ("*.pth", WeightFormat.PyTorch),
        ("*.th", WeightFormat.PyTorch),
        ("frozen_model.pb", WeightFormat.FrozenGraph),
        ("*.index", WeightFormat.TensorFlowCheckpoint),
        ("*.onnx", WeightFormat.Onnx),
    ];

    [SkippableFact]
    public void Every_fixture_is_claimed_by_the_reader_of_its_format()
    {
        var root = Path.GetDirectoryName(Repo.Fixture("dl4j-keras2-simple-lstm"))!;
        var checkedFiles = 0;
        var wrong = new List<string>();
        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
        {
            var name = Path.GetFileName(file);
            var rule = FixtureTable.FirstOrDefault(r => System.IO.Enumeration.FileSystemName.MatchesSimpleExpression(r.Pattern, name));
            if (rule.Pattern is null) continue;
            checkedFiles++;
            var got = WeightReader.DetectFormat(file);
            if (got != rule.Format) wrong.Add($"{Path.GetRelativePath(root, file)}: detected {got?.ToString() ?? "nothing"}, expected {rule.Format?.ToString() ?? "nothing"}");
        }
        Assert.True(checkedFiles > 20, $"only {checkedFiles} fixture files matched the table");
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    /// <summary>Every kind of PyTorch file torch_checkpoints.py makes, and the reader that must claim it.</summary>
    public static TheoryData<string, bool, WeightFormat> GeneratedTorchKinds => new()
    {
        { "checkpoint", false, WeightFormat.PyTorch }, { "checkpoint", true, WeightFormat.PyTorch },
        { "state_dict", false, WeightFormat.PyTorch }, { "net", true, WeightFormat.PyTorch },
        { "deep", false, WeightFormat.PyTorch }, { "several", false, WeightFormat.PyTorch },
        { "dataparallel", false, WeightFormat.PyTorch }, { "compiled", false, WeightFormat.PyTorch },
        { "flat_views", false, WeightFormat.PyTorch }, { "flat_views", true, WeightFormat.PyTorch },
        { "half", false, WeightFormat.PyTorch }, { "bfloat16", true, WeightFormat.PyTorch },
        { "namespace", false, WeightFormat.PyTorch }, { "namespace", true, WeightFormat.PyTorch },
        { "whole_model", false, WeightFormat.PyTorch }, { "whole_model", true, WeightFormat.PyTorch },
        { "lightning", false, WeightFormat.PyTorch }, { "fairseq", false, WeightFormat.PyTorch },
        { "opennmt", false, WeightFormat.PyTorch }, { "sparse", false, WeightFormat.PyTorch },
        { "hostile_tensors", false, WeightFormat.PyTorch },
        { "script", false, WeightFormat.TorchScript }, { "trace", false, WeightFormat.TorchScript },
        { "frozen", false, WeightFormat.TorchScript }, { "script_attribute", false, WeightFormat.TorchScript },
        { "modules", false, WeightFormat.PyTorch }, { "modules_script", false, WeightFormat.TorchScript },
        { "modules_trace", false, WeightFormat.TorchScript },
    };

    [SkippableTheory]
    [MemberData(nameof(GeneratedTorchKinds))]
    public void Every_generated_PyTorch_kind_is_claimed_by_its_reader_whatever_its_name(string kind, bool legacy, WeightFormat format)
    {
        using var dir = new TempDir();
        var path = dir.File(kind + ".pt");
        Python.Run("torch_checkpoints.py", legacy ? ["make", path, kind, "legacy"] : ["make", path, kind]);
        Assert.Equal(format, WeightReader.DetectFormat(path));
        var renamed = dir.File("weights.keras");
        File.Copy(path, renamed);
        Assert.Equal(format, WeightReader.DetectFormat(renamed));
    }

    /// <summary>Keras 3 stores of every kind the tests make, the Keras 1/2 files they make, and plain HDF5: each and its reader.</summary>
    [SkippableFact]
    public void Generated_Keras_files_are_claimed_by_the_reader_of_their_layout()
    {
        using var dir = new TempDir();
        var table = new List<(string File, WeightFormat? Format)>();
        foreach (var (kind, flags) in new (string, string[])[] { ("sequential", []), ("sequential", ["--no-names"]), ("sequential", ["--no-names", "--tf-keras"]),
                     ("nested", ["--optimizer", "--archive"]), ("bad", []) })
        {
            var name = $"{kind}{string.Concat(flags)}".Replace("--", "-");
            var (weights, config, _) = Keras3Files.Make(kind, dir, name, flags);
            table.Add((weights, WeightFormat.KerasWeights));
            table.Add((config, null)); // JSON: no reader's
            if (flags.Contains("--archive")) table.Add((dir.File(name + ".keras"), WeightFormat.KerasArchive));
        }
        var written = dir.File("written.weights.h5");
        var r = ps.Run("Get-LstmWeights $args[0] -WarningAction SilentlyContinue | Export-LstmWeights $args[1]", table[0].File, written);
        Assert.False(r.Failed, r.ErrorText);
        table.Add((written, WeightFormat.KerasWeights));
        foreach (var kind in new[] { "gru-reset-after-weights", "keras3-legacy", "not-keras" })
        {
            var path = dir.File(kind + ".h5");
            Python.Run("make_keras.py", kind, path);
            table.Add((path, WeightFormat.KerasHdf5)); // not-keras too: claimed weakly, then refused as NotKerasFile
        }
        var archive = dir.File("archive.keras");
        Python.Run("make_keras.py", "archive", archive);
        table.Add((archive, WeightFormat.KerasArchive));

        var wrong = table.Select(t => (t.File, t.Format, Got: WeightReader.DetectFormat(t.File))).Where(t => t.Got != t.Format)
            .Select(t => $"{Path.GetFileName(t.File)}: detected {t.Got?.ToString() ?? "nothing"}, expected {t.Format?.ToString() ?? "nothing"}").ToList();
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    [SkippableFact]
    public void Content_decides_not_the_file_name()
    {
        using var dir = new TempDir();
        string Copy(string source, string name) { var p = dir.File(name); File.Copy(source, p); return p; }
        var keras = Repo.Fixture("keras3-martinpiz097-lstm-gru", "lstm_model.keras");
        var h5 = Repo.Fixture("dl4j-keras2-simple-lstm", "simple_lstm_tf_keras_2_model.h5");
        var pth = Repo.Fixture("chrisprasanna-torch-zip-stacked-lstm", "lstm.pt");
        var st = Safetensors.Write(dir.File("w.safetensors"), ("x.weight", [1, 2], [1f, 2f]));

        Assert.Equal(WeightFormat.KerasArchive, WeightReader.DetectFormat(Copy(keras, "model.zip")));
        Assert.Equal(WeightFormat.KerasArchive, WeightReader.DetectFormat(Copy(keras, "model.pt"))); // a .keras named like torch
        Assert.Equal(WeightFormat.KerasHdf5, WeightReader.DetectFormat(Copy(h5, "weights.dat")));
        Assert.Equal(WeightFormat.PyTorch, WeightReader.DetectFormat(Copy(pth, "model.weights")));
        Assert.Equal(WeightFormat.PyTorch, WeightReader.DetectFormat(Copy(pth, "model.keras"))); // a torch zip named like Keras
        Assert.Equal(WeightFormat.SafeTensors, WeightReader.DetectFormat(Copy(st, "w.bin")));

        // Zips that are neither: nothing claims a plain archive; one with a torch extension is claimed (and refused) by the torch reader.
        var plain = dir.File("plain.zip");
        using (var z = ZipFile.Open(plain, ZipArchiveMode.Create)) using (var w = new StreamWriter(z.CreateEntry("readme.txt").Open())) w.Write("hello");
        Assert.Null(WeightReader.DetectFormat(plain));
        Assert.Equal(WeightFormat.PyTorch, WeightReader.DetectFormat(Copy(plain, "plain.pth")));
        File.WriteAllText(dir.File("notes.txt"), "not a weight file");
        Assert.Null(WeightReader.DetectFormat(dir.File("notes.txt")));

        // A Keras 3 weights file is the Keras 3 reader's whatever its name; a Keras 2 one stays the Keras 2 reader's.
        using (var k3 = new TempDir())
        {
            var inner = Keras3Files.Extract("lstm_model.keras", k3, "model.weights.h5");
            Assert.Equal(WeightFormat.KerasWeights, WeightReader.DetectFormat(Copy(inner, "weights.h5")));
            Assert.Equal(WeightFormat.KerasWeights, WeightReader.DetectFormat(Copy(inner, "weights.keras")));
            Assert.Equal(WeightFormat.KerasHdf5, WeightReader.DetectFormat(Copy(h5, "model.weights.h5")));
        }

        var prefix = dir.File("model.ckpt");
        new TfCheckpointWriter().Write(prefix, [new("dense/kernel", [1, 1], [1f])]);
        Assert.Equal(WeightFormat.TensorFlowCheckpoint, WeightReader.DetectFormat(prefix));
    }
}
