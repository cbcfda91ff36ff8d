using LstmPort.Fuzz.Formats;
using LstmPort.Fuzz.Seeds;

namespace LstmPort.Fuzz.Mutators;

/// <summary>
/// What a mutation did: files replaced (bytes) or removed (null), a one-line description, and whether
/// it planted a hostile pickle global (then a clean read breaks the promise that such a file is refused).
/// </summary>
public sealed record Mutation(IReadOnlyDictionary<string, byte[]?> Changes, string Description, bool Hostile = false);

/// <summary>
/// A deterministic mutator: everything it decides comes from the Random it is given, and it reads
/// dictionaries in sorted order, so a (seed, index) pair always gives the same bytes.
/// </summary>
public interface IMutator
{
    /// <summary>A short stable name (reports, --mutators).</summary>
    string Name { get; }
    /// <summary>Relative weight when a seed's mutator is drawn (format-aware ones weigh more).</summary>
    int Weight { get; }
    bool AppliesTo(SeedInput seed);
    /// <summary>The mutation, or null when this seed offers nothing for it (another mutator is drawn).</summary>
    Mutation? Mutate(SeedInput seed, Random rng);
}

/// <summary>A mutator of one file's bytes, whatever holds the file (the input itself, or a zip entry of it).</summary>
public interface IBytesMutator
{
    string Name { get; }
    int Weight { get; }
    /// <summary>Whether these bytes (named <paramref name="name"/>) are something this mutator understands.</summary>
    bool Accepts(string name, byte[] data);
    (byte[] Data, string What)? Mutate(string name, byte[] data, Random rng);
    bool Hostile => false;
}

/// <summary>Runs a bytes mutator on one file of the input: mostly the main file, sometimes a sibling.</summary>
public sealed class OnFile(IBytesMutator inner) : IMutator
{
    public string Name => inner.Name;
    public int Weight => inner.Weight;
    public bool AppliesTo(SeedInput seed) => seed.FileNames.Any(f => inner.Accepts(f, seed.Files[f]));

    public Mutation? Mutate(SeedInput seed, Random rng)
    {
        var files = seed.FileNames.Where(f => inner.Accepts(f, seed.Files[f])).ToList();
        if (files.Count == 0) return null;
        var file = files.Contains(seed.MainFile) && (files.Count == 1 || rng.Chance(0.75)) ? seed.MainFile : rng.Pick(files);
        var result = inner.Mutate(file, seed.Files[file], rng);
        if (result is null) return null;
        return new Mutation(new Dictionary<string, byte[]?> { [file] = result.Value.Data }, $"{file}: {result.Value.What}", inner.Hostile);
    }
}

/// <summary>
/// Runs a bytes mutator on an entry inside a zip (data.pkl of a .pth, model.weights.h5 of a .keras,
/// config.json, a storage) and writes the archive again with correct CRCs and sizes, so the damage
/// reaches the reader of the entry instead of stopping at the zip checksum.
/// </summary>
public sealed class InZip(IBytesMutator inner, int? weight = null) : IMutator
{
    public string Name => "zip>" + inner.Name;
    public int Weight => weight ?? inner.Weight;
    public bool AppliesTo(SeedInput seed) => seed.FileNames.Any(f => Entries(seed.Files[f]) is { } items && items.Any(i => inner.Accepts(i.Name, i.Data)));

    static List<ZipItem>? Entries(byte[] data) => Zip.LooksLikeZip(data) ? Cache.Zip(data) : null;

    public Mutation? Mutate(SeedInput seed, Random rng)
    {
        var file = seed.FileNames.FirstOrDefault(f => Entries(seed.Files[f]) is not null);
        if (file is null) return null;
        var items = Entries(seed.Files[file])!;
        var candidates = Enumerable.Range(0, items.Count).Where(i => inner.Accepts(items[i].Name, items[i].Data)).ToList();
        if (candidates.Count == 0) return null;
        int k = rng.Pick(candidates);
        var result = inner.Mutate(items[k].Name, items[k].Data, rng);
        if (result is null) return null;
        var copy = items.Select(i => i == items[k] ? Clone(i, result.Value.Data) : i).ToList();
        return new Mutation(new Dictionary<string, byte[]?> { [file] = Zip.Build(copy) },
            $"{file} entry {items[k].Name}: {result.Value.What} (zip rewritten)", inner.Hostile);
    }

    static ZipItem Clone(ZipItem i, byte[] data) => new()
    {
        Name = i.Name, Method = i.Method, Data = data, LocalExtra = i.LocalExtra, CentralExtra = i.CentralExtra,
        Flags = i.Flags, Time = i.Time, Date = i.Date, VersionMadeBy = i.VersionMadeBy, VersionNeeded = i.VersionNeeded,
    };
}

/// <summary>Parsed structures of seed files, kept per byte array (seeds are shared, so each is parsed once).</summary>
public static class Cache
{
    static readonly System.Runtime.CompilerServices.ConditionalWeakTable<byte[], object> Zips = new(), Maps = new();

    public static List<ZipItem>? Zip(byte[] data) =>
        (Zips.GetValue(data, d => (object?)Formats.Zip.Parse(d) ?? Missing) as List<ZipItem>);

    public static H5Map? H5(byte[] data) =>
        H5Map.IsHdf5(data) ? Maps.GetValue(data, d => (object?)H5Map.Parse(d) ?? Missing) as H5Map : null;

    static readonly object Missing = new();
}
