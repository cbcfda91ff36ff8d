namespace LstmPort.Fuzz.Seeds;

/// <summary>The container formats the suite mutates; each seed belongs to one.</summary>
public enum Family { Hdf5, KerasArchive, TorchZip, TorchLegacy, Safetensors, TfCheckpoint, SavedModel, GraphDef, Onnx }

/// <summary>
/// One input as a user would hand it to Get-LstmWeights: its files (relative path to bytes; a TF
/// checkpoint is a prefix with an .index and shards, a SavedModel a folder) and the path to read,
/// relative to the folder the files are written into ("" for the folder itself).
/// </summary>
public sealed record SeedInput(string Name, Family Family, IReadOnlyDictionary<string, byte[]> Files, string ReadPath, string Origin)
{
    /// <summary>The file most mutations target: the read path itself when it is a file, else the file that holds the structure.</summary>
    public string MainFile => Files.ContainsKey(ReadPath) ? ReadPath
        : Files.Keys.Where(k => k.EndsWith(".index", StringComparison.Ordinal)).OrderBy(k => k, StringComparer.Ordinal).FirstOrDefault()
          ?? Files.Keys.OrderBy(k => k, StringComparer.Ordinal).First();

    public long TotalBytes => Files.Values.Sum(b => (long)b.Length);

    /// <summary>File names in a stable order (decisions never depend on dictionary order).</summary>
    public IReadOnlyList<string> FileNames => Files.Keys.OrderBy(k => k, StringComparer.Ordinal).ToList();
}

/// <summary>A mutated input: the seed's files with some replaced or removed, and what was done, in one line.</summary>
public sealed record Mutant(SeedInput Seed, long CampaignSeed, long Index, string Mutators, string Description,
    IReadOnlyDictionary<string, byte[]> Files, bool Hostile, bool SkipUnsafeObjects)
{
    public string ReadPath => Seed.ReadPath;
    public long TotalBytes => Files.Values.Sum(b => (long)b.Length);

    /// <summary>Writes the files under <paramref name="dir"/> (emptied first); returns the path to read.</summary>
    public string WriteTo(string dir)
    {
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
        foreach (var (name, bytes) in Files.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            var path = Path.Combine(dir, name);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, bytes);
        }
        return ReadPath.Length == 0 ? dir : Path.Combine(dir, ReadPath);
    }
}
