using System.IO.Compression;
using System.Text.Json;

namespace LstmPort.Tests;

/// <summary>
/// Keras 3 weights files for the tests: the model.weights.h5 inside a fixture's .keras archive,
/// extracted at test time (never copied into the project), and files Python/make_keras3.py writes
/// with h5py in the layout of Keras 3's saver.
/// </summary>
static class Keras3Files
{
    public const string Folder = "keras3-martinpiz097-lstm-gru";

    /// <summary>Extracts entries of a fixture archive into <paramref name="dir"/> (default: the weights file alone).</summary>
    public static string Extract(string archive, TempDir dir, string name = "model.weights.h5", params string[] alsoEntries)
    {
        using var zip = ZipFile.OpenRead(Repo.Fixture(Folder, archive));
        var target = dir.File(name);
        zip.GetEntry("model.weights.h5")!.ExtractToFile(target);
        foreach (var e in alsoEntries) zip.GetEntry(e)!.ExtractToFile(dir.File(e));
        return target;
    }

    /// <summary>A generated store: OUT.weights.h5 and OUT.config.json (and OUT.keras with --archive); the values h5py wrote.</summary>
    public static (string Weights, string Config, JsonElement Made) Make(string kind, TempDir dir, string name, params string[] flags)
    {
        var prefix = dir.File(name);
        var made = Python.Run("make_keras3.py", [kind, prefix, .. flags]);
        return (prefix + ".weights.h5", prefix + ".config.json", made);
    }

    public static float[] Values(JsonElement made, string dataset) =>
        made.GetProperty("values").GetProperty(dataset).EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();

    public static float[] Data(LstmTensor t) => t.Tensor.to_type(TorchSharp.torch.ScalarType.Float32).flatten().data<float>().ToArray();

    /// <summary>Same tensors: names, metadata that does not depend on a config, and data bit for bit.</summary>
    public static void AssertSameData(IEnumerable<LstmTensor> expected, IEnumerable<LstmTensor> actual)
    {
        var a = expected.ToDictionary(t => t.Name);
        var b = actual.ToDictionary(t => t.Name);
        Assert.Equal(a.Keys.Order(StringComparer.Ordinal), b.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, t) in a)
        {
            var u = b[name];
            Assert.Equal((t.Layer, t.LayerType, t.Role, t.Direction, t.Units, t.InputSize, t.GateOrder, t.DType, string.Join(",", t.Shape)),
                         (u.Layer, u.LayerType, u.Role, u.Direction, u.Units, u.InputSize, u.GateOrder, u.DType, string.Join(",", u.Shape)));
            Assert.True(t.Tensor.eq(u.Tensor).all().item<bool>(), $"{name}: values differ");
        }
    }
}
