using System.Collections.Concurrent;
using LstmPort.Fuzz.Seeds;

namespace LstmPort.Fuzz.Mutators;

/// <summary>Every mutator of the suite, in a fixed order (the order is part of what makes a (seed, index) pair reproducible).</summary>
public static class MutatorSet
{
    public static IReadOnlyList<IMutator> All { get; } = Build();

    static List<IMutator> Build()
    {
        IBytesMutator[] generic = [new BitFlip(), new ByteSet(), new Truncate(), new Chunk(), new IntSet()];
        IBytesMutator[] hdf5 = [new H5FieldSet(), new H5Links(), new H5Loops(), new H5MessageType(), new H5MessageBytes()];
        IBytesMutator[] zip = [new ZipFieldSet(), new ZipZip64(), new ZipEntries()];
        IBytesMutator[] pickle = [new PickleOpcodes(), new PickleValues(), new PickleMemo(), new PickleDeep(), new PickleGlobals(), new PickleHostile()];
        IBytesMutator[] other = [new SafetensorsLength(), new SafetensorsHeader(), new ProtoTree(), new ProtoTensor(), new JsonValues(), new TfTable()];
        var list = new List<IMutator>();
        list.AddRange(generic.Concat(hdf5).Concat(zip).Concat(pickle).Concat(other).Select(m => new OnFile(m)));
        // Inside archives (the .pth's data.pkl, the .keras's weights and config), with the archive repaired around the change.
        list.AddRange(generic.Select(m => new InZip(m, 4)));
        list.AddRange(hdf5.Concat(pickle).Select(m => new InZip(m)));
        list.Add(new InZip(new JsonValues()));
        list.AddRange([new SiblingFile(), new TfEntryField(), new TfKeys(), new TfObjectGraph(), new TfShards()]);
        list.AddRange([new OnFile(new OnnxTensor()), new OnFile(new OnnxGraph()), new OnnxExternal()]);
        return list;
    }

    public static IReadOnlyList<IMutator> Select(IEnumerable<string>? names) =>
        names is null ? All : All.Where(m => names.Any(n => m.Name == n || m.Name.StartsWith(n + "-", StringComparison.Ordinal) || m.Name == "zip>" + n)).ToList();
}

/// <summary>
/// Turns (campaign seed, index) into a mutant, deterministically: the family, then a seed of it,
/// then one or two mutations (a weighted draw among the mutators that apply), all from one
/// System.Random seeded by the pair.
/// </summary>
public sealed class Planner
{
    readonly IReadOnlyList<SeedInput> _seeds;
    readonly IReadOnlyList<IMutator> _mutators;
    readonly long _campaignSeed;
    readonly List<Family> _families;
    readonly ConcurrentDictionary<SeedInput, IReadOnlyList<IMutator>> _applicable = new();

    /// <summary>Mutator exceptions (a mutator bug, not a reader finding): name to count and first message.</summary>
    public static ConcurrentDictionary<string, (int Count, string First)> MutatorErrors { get; } = new();

    public Planner(IReadOnlyList<SeedInput> seeds, IReadOnlyList<IMutator> mutators, long campaignSeed)
    {
        if (seeds.Count == 0) throw new ArgumentException("no seeds", nameof(seeds));
        _seeds = seeds;
        _mutators = mutators;
        _campaignSeed = campaignSeed;
        _families = seeds.Select(s => s.Family).Distinct().Order().ToList();
    }

    public Mutant Plan(long index)
    {
        var rng = Rng.For(_campaignSeed, index);
        // Families get equal shares whatever their number of seeds.
        var family = rng.Pick(_families);
        var seed = rng.Pick(_seeds.Where(s => s.Family == family).ToList());
        var current = seed;
        var names = new List<string>();
        var descriptions = new List<string>();
        bool hostile = false;
        int rounds = rng.Chance(0.2) ? 2 : 1;
        for (int round = 0; round < rounds && !hostile; round++)
        {
            var applicable = round == 0 ? _applicable.GetOrAdd(seed, Applicable) : Applicable(current);
            if (applicable.Count == 0) break;
            for (int attempt = 0; attempt < 8; attempt++)
            {
                var m = Draw(applicable, rng);
                Mutation? mutation;
                try { mutation = m.Mutate(current, rng); }
                catch (Exception e)
                {
                    MutatorErrors.AddOrUpdate(m.Name, (1, e.ToString()), (_, v) => (v.Count + 1, v.First));
                    mutation = null;
                }
                if (mutation is null) continue;
                current = Apply(current, mutation);
                names.Add(m.Name);
                descriptions.Add(mutation.Description);
                hostile |= mutation.Hostile;
                break;
            }
        }
        bool skip = family is Family.TorchZip or Family.TorchLegacy && rng.Chance(0.25);
        return new Mutant(seed, _campaignSeed, index, names.Count == 0 ? "none" : string.Join("+", names),
            descriptions.Count == 0 ? "unchanged" : string.Join(" + ", descriptions), current.Files, hostile, skip);
    }

    IReadOnlyList<IMutator> Applicable(SeedInput s) => _mutators.Where(m =>
    {
        try { return m.AppliesTo(s); }
        catch (Exception e) { MutatorErrors.AddOrUpdate(m.Name + ".AppliesTo", (1, e.ToString()), (_, v) => (v.Count + 1, v.First)); return false; }
    }).ToList();

    static IMutator Draw(IReadOnlyList<IMutator> list, Random rng)
    {
        int total = list.Sum(m => m.Weight);
        int x = rng.Next(total);
        foreach (var m in list)
        {
            if (x < m.Weight) return m;
            x -= m.Weight;
        }
        return list[^1];
    }

    static SeedInput Apply(SeedInput s, Mutation m)
    {
        var files = new Dictionary<string, byte[]>(s.Files, StringComparer.Ordinal);
        foreach (var (name, bytes) in m.Changes)
            if (bytes is null) files.Remove(name);
            else files[name] = bytes;
        return s with { Files = files };
    }
}
