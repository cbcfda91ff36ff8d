using LstmPort.Fuzz.Formats;

namespace LstmPort.Fuzz.Seeds;

/// <summary>The seeds of a campaign: the generated ones, plus real files from a fixtures folder when there is one.</summary>
public static class Corpus
{
    /// <summary>Files larger than this are left out (a mutant is written and read for every index).</summary>
    public const long MaxSeedBytes = 8L << 20;

    /// <summary>
    /// The fixtures folder: --fixtures, else LSTMPORT_TEST_FIXTURES, else ../shared/fixtures beside the
    /// repository (as tests/LstmPort.Tests/Harness/Repo.cs finds it); null when none exists.
    /// </summary>
    public static string? FindFixtures(string? given, string? repoRoot)
    {
        if (given is not null) return Directory.Exists(given) ? Path.GetFullPath(given) : throw new DirectoryNotFoundException($"fixtures folder '{given}' does not exist");
        var env = Environment.GetEnvironmentVariable("LSTMPORT_TEST_FIXTURES");
        if (!string.IsNullOrEmpty(env) && Directory.Exists(env)) return Path.GetFullPath(env);
        if (repoRoot is null) return null;
        var beside = Path.GetFullPath(Path.Combine(repoRoot, "..", "shared", "fixtures"));
        return Directory.Exists(beside) ? beside : null;
    }

    /// <summary>The repository root above <paramref name="from"/> (where LstmPort.PowerShell.sln is), or null.</summary>
    public static string? RepoRoot(string from)
    {
        for (var dir = new DirectoryInfo(from); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "LstmPort.PowerShell.sln"))) return dir.FullName;
        return null;
    }

    /// <summary>Real model files under <paramref name="root"/>, one seed per weight file (a checkpoint with its shards, a SavedModel with its folder).</summary>
    public static List<SeedInput> Fixtures(string root)
    {
        var seeds = new List<SeedInput>();
        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var info = new FileInfo(file);
            if (info.Length == 0 || info.Length > MaxSeedBytes) continue;
            var name = info.Name;
            var rel = Path.GetRelativePath(root, file).Replace('\\', '/');
            var ext = info.Extension.ToLowerInvariant();
            Family? family = ext switch
            {
                ".h5" or ".hdf5" => Family.Hdf5,
                ".keras" => Family.KerasArchive,
                ".safetensors" => Family.Safetensors,
                ".pt" or ".pth" or ".th" => null, // by content below
                _ when name == "frozen_model.pb" => Family.GraphDef,
                _ => null,
            };
            if (ext is ".pt" or ".pth" or ".th")
            {
                var head = new byte[4];
                using (var f = File.OpenRead(file)) f.ReadAtLeast(head, 4, throwOnEndOfStream: false);
                family = head[0] == 'P' && head[1] == 'K' ? Family.TorchZip : Family.TorchLegacy;
            }
            if (family is { } fam)
            {
                seeds.Add(new SeedInput("fixture:" + rel, fam, new Dictionary<string, byte[]>(StringComparer.Ordinal) { [name] = File.ReadAllBytes(file) }, name, "fixture"));
                continue;
            }
            if (ext == ".onnx")
            {
                // The model with what sits beside it: external data files, a backend test's test_data_set_0.
                var dir = info.DirectoryName!;
                var files = new Dictionary<string, byte[]>(StringComparer.Ordinal) { [name] = File.ReadAllBytes(file) };
                foreach (var other in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
                {
                    var r = Path.GetRelativePath(dir, other).Replace('\\', '/');
                    if (r == name || other.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase)) continue;
                    if (r.StartsWith("test_data_set_0/input_", StringComparison.Ordinal) || !r.Contains('/')) files[r] = File.ReadAllBytes(other);
                }
                if (files.Values.Sum(b => (long)b.Length) <= MaxSeedBytes)
                    seeds.Add(new SeedInput("fixture:" + rel, Family.Onnx, files, name, "fixture"));
                continue;
            }
            if (ext == ".index" && Path.GetFileName(Path.GetDirectoryName(file)) != "variables")
            {
                // A checkpoint: the prefix's .index, shards and .meta.
                var prefix = name[..^".index".Length];
                var files = Directory.EnumerateFiles(info.DirectoryName!, prefix + ".*").Order(StringComparer.Ordinal)
                    .ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes, StringComparer.Ordinal);
                if (files.Values.Sum(b => (long)b.Length) <= MaxSeedBytes)
                    seeds.Add(new SeedInput("fixture:" + rel, Family.TfCheckpoint, files, prefix, "fixture"));
            }
            if (name == "saved_model.pb")
            {
                var dir = info.DirectoryName!;
                var files = Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
                    .ToDictionary(f => Path.GetRelativePath(dir, f).Replace('\\', '/'), File.ReadAllBytes, StringComparer.Ordinal);
                if (files.Values.Sum(b => (long)b.Length) <= MaxSeedBytes)
                    seeds.Add(new SeedInput("fixture:" + Path.GetRelativePath(root, dir).Replace('\\', '/'), Family.SavedModel, files, "", "fixture"));
            }
        }
        return seeds;
    }

    public static Family ParseFamily(string s) => s.ToLowerInvariant() switch
    {
        "hdf5" or "h5" or "keras" => Family.Hdf5,
        "keras-archive" or "kerasarchive" or ".keras" => Family.KerasArchive,
        "torch" or "torchzip" or "pth" or "zip" => Family.TorchZip,
        "legacy" or "torchlegacy" or "pickle" => Family.TorchLegacy,
        "safetensors" => Family.Safetensors,
        "tf" or "checkpoint" or "tfcheckpoint" => Family.TfCheckpoint,
        "savedmodel" => Family.SavedModel,
        "graphdef" or "pb" or "frozen" => Family.GraphDef,
        "onnx" => Family.Onnx,
        _ => Enum.Parse<Family>(s, ignoreCase: true),
    };
}
