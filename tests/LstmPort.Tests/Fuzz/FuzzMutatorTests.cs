using System.IO.Compression;
using System.Security.Cryptography;
using LstmPort.Fuzz;
using LstmPort.Fuzz.Formats;
using LstmPort.Fuzz.Mutators;
using LstmPort.Fuzz.Running;
using PureHDF;

namespace LstmPort.Tests;

/// <summary>
/// The fuzz suite's own promises: the same (seed, index) gives the same bytes, every mutator is
/// deterministic and never throws on any seed, and the format maps it mutates through understand the
/// files the engine and PureHDF write (checksums, round trips), so a crafted mutation hits what it says.
/// </summary>
public sealed class FuzzMutatorTests
{
    static readonly IReadOnlyList<SeedInput> Seeds = GeneratedSeeds.All;

    static string Hash(IReadOnlyDictionary<string, byte[]> files) =>
        Convert.ToHexString(SHA256.HashData(files.OrderBy(f => f.Key, StringComparer.Ordinal)
            .SelectMany(f => System.Text.Encoding.UTF8.GetBytes(f.Key).Concat(f.Value)).ToArray()));

    [Fact]
    public void Same_seed_and_index_give_the_same_mutant()
    {
        var a = new Planner(Seeds, MutatorSet.All, 7);
        var b = new Planner(Seeds, MutatorSet.All, 7);
        var distinct = new HashSet<string>();
        for (long i = 0; i < 400; i++)
        {
            var x = a.Plan(i);
            var y = b.Plan(i);
            Assert.Equal(x.Description, y.Description);
            Assert.Equal(Hash(x.Files), Hash(y.Files));
            Assert.Equal(x.SkipUnsafeObjects, y.SkipUnsafeObjects);
            distinct.Add(Hash(x.Files));
        }
        // Planning in another order (a second worker's share) changes nothing either.
        for (long i = 399; i >= 300; i--) Assert.Equal(Hash(a.Plan(i).Files), Hash(b.Plan(i).Files));
        Assert.True(distinct.Count > 350, $"only {distinct.Count} distinct mutants of 400");
        Assert.True(Planner.MutatorErrors.IsEmpty, "mutators threw: " + string.Join("; ", Planner.MutatorErrors.Select(e => $"{e.Key}: {e.Value.First}")));
    }

    [Fact]
    public void Another_campaign_seed_gives_other_mutants()
    {
        var a = new Planner(Seeds, MutatorSet.All, 1);
        var b = new Planner(Seeds, MutatorSet.All, 2);
        int same = Enumerable.Range(0, 100).Count(i => Hash(a.Plan(i).Files) == Hash(b.Plan(i).Files));
        Assert.True(same < 10, $"{same} of 100 mutants are the same under two seeds");
    }

    [Fact]
    public void Every_mutator_is_deterministic_changes_something_and_never_throws()
    {
        var failures = new List<string>();
        var used = new Dictionary<string, int>();
        foreach (var m in MutatorSet.All)
            foreach (var seed in Seeds.Where(m.AppliesTo))
                for (int k = 0; k < 6; k++)
                {
                    Mutation? x, y;
                    try
                    {
                        x = m.Mutate(seed, new Random(1000 + k));
                        y = m.Mutate(seed, new Random(1000 + k));
                    }
                    catch (Exception e) { failures.Add($"{m.Name} on {seed.Name}: threw {e.GetType().Name}: {e.Message}"); continue; }
                    if (x is null || y is null) { if ((x is null) != (y is null)) failures.Add($"{m.Name} on {seed.Name}: null only once"); continue; }
                    used[m.Name] = used.GetValueOrDefault(m.Name) + 1;
                    if (x.Description != y.Description || x.Changes.Keys.Order().SequenceEqual(y.Changes.Keys.Order()) is false
                        || x.Changes.Any(c => !(c.Value ?? []).AsSpan().SequenceEqual(y.Changes[c.Key] ?? [])))
                        failures.Add($"{m.Name} on {seed.Name}: two runs with one seed differ");
                }
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(30)));
        // Every mutator found something to do on the generated seeds (none is dead in CI).
        var unused = MutatorSet.All.Select(m => m.Name).Where(n => !used.ContainsKey(n)).ToList();
        Assert.True(unused.Count == 0, "mutators that never applied to a generated seed: " + string.Join(", ", unused));
    }

    [Fact]
    public void Every_family_has_generated_seeds_that_read_clean()
    {
        Assert.Equal(Enum.GetValues<Family>().Order(), Seeds.Select(s => s.Family).Distinct().Order());
        using var dir = new TempDir();
        foreach (var seed in Seeds)
        {
            var path = new Mutant(seed, 0, 0, "none", "unchanged", seed.Files, false, false).WriteTo(Path.Combine(dir.Path, seed.Name.Replace(':', '_')));
            var outcome = Reading.Read(path, skipUnsafeObjects: false);
            Assert.True(outcome.Class == OutcomeClass.Clean && outcome.Tensors > 0, $"{seed.Name}: {outcome.Signature} {outcome.Message}");
        }
    }

    [Fact]
    public void The_HDF5_map_reads_what_PureHDF_writes_and_lookup3_matches_its_checksums()
    {
        foreach (var seed in Seeds.Where(s => s.Family == Family.Hdf5))
        {
            var data = seed.Files[seed.MainFile];
            var map = H5Map.Parse(data)!;
            if (map.SuperVersion == 0)
            {
                // h5py-style seeds (the engine's writer and OldStyleHdf5): old-style groups, names in
                // the symbol table's order, no checksums.
                var names = map.Entries.Where(e => e.Group == map.RootHeader).Select(e => e.Name).ToList();
                Assert.NotEmpty(names);
                Assert.Equal(names.Order(StringComparer.Ordinal), names);
                Assert.NotEmpty(map.TreeNodes);
                Assert.NotEmpty(map.Heaps);
                Assert.Empty(map.Chunks);
                continue;
            }
            Assert.True(map.SuperVersion >= 2, seed.Name);
            Assert.NotEmpty(map.Links);
            Assert.Contains(map.Links, l => map.HeaderPaths[l.Group] == "/");
            Assert.NotEmpty(map.Chunks);
            // The superblock and every OHDR/OCHK chunk: PureHDF's stored lookup3 equals ours.
            foreach (var c in map.Chunks)
                Assert.Equal(Bytes.Read(data, c.Start + c.Length, 4), Checksums.Lookup3(data.AsSpan((int)c.Start, (int)c.Length)));
        }
        // Known answers of Bob Jenkins' lookup3 hashlittle (initval 0).
        Assert.Equal(0xdeadbeefu, Checksums.Lookup3([]));
        Assert.Equal(0x17770551u, Checksums.Lookup3("Four score and seven years ago"u8));
    }

    [Fact]
    public void A_crafted_soft_link_is_what_PureHDF_then_sees()
    {
        // A seed PureHDF wrote: new-style groups, whose link messages are rewritten here.
        var seed = Seeds.Single(s => s.Name == "gen:keras-compact-vlen.h5");
        var map = H5Map.Parse(seed.Files[seed.MainFile])!;
        var link = map.Links.Single(l => l.Name == "dense" && map.HeaderPaths[l.Group] == "/");
        var data = map.RewriteV2(link.Message, map.LinkBody("dense", 1, path: "/no/such"), [(6, map.LinkBody("extra", 1, path: "/lstm"))])!;
        using var file = H5File.Open(new MemoryStream(data), leaveOpen: false);
        Assert.True(file.LinkExists("extra"));
        Assert.True(file.Get("extra") is IH5Group);
        Assert.True(file.LinkExists("lstm"));
        Assert.IsAssignableFrom<IH5UnresolvedLink>(file.Get("dense"));
    }

    [Fact]
    public void An_old_style_entry_made_a_soft_link_is_what_PureHDF_then_sees()
    {
        var seed = Seeds.Single(s => s.Name == "gen:keras-h5py-style.h5");
        var map = H5Map.Parse(seed.Files[seed.MainFile])!;
        var dense = map.Entries.Single(e => e.Group == map.RootHeader && e.Name == "dense");
        var heap = map.Heaps.Single(h => h.Data == dense.HeapData);
        var data = (byte[])map.Data.Clone();
        // "/lstm" in the heap's free block, and the entry's cache type 2 (soft link) with that heap offset.
        "/lstm\0"u8.CopyTo(data.AsSpan((int)(heap.Data + heap.FreeHead)));
        Bytes.Write(data, dense.At + 2 * map.O, 4, 2);
        data.AsSpan((int)(dense.At + 2 * map.O + 8), 16).Clear();
        Bytes.Write(data, dense.At + 2 * map.O + 8, 4, (ulong)heap.FreeHead);
        using var file = H5File.Open(new MemoryStream(data), leaveOpen: false);
        var target = Assert.IsAssignableFrom<IH5Group>(file.Get("dense"));
        Assert.True(target.AttributeExists("weight_names"));
        Assert.Equal(3, target.Attribute("weight_names").Read<string[]>().Length);
    }

    [Fact]
    public void Zip_tables_and_protobufs_round_trip()
    {
        foreach (var seed in Seeds.Where(s => s.Family is Family.TorchZip or Family.KerasArchive))
        {
            var bytes = seed.Files[seed.MainFile];
            var items = Zip.Parse(bytes)!;
            var rebuilt = Zip.Build(items);
            using var archive = new ZipArchive(new MemoryStream(rebuilt));
            Assert.Equal(items.Select(i => i.Name), archive.Entries.Select(e => e.FullName));
            Assert.Equal(items.Select(i => Checksums.Crc32(i.Data)), archive.Entries.Select(e => e.Crc32));
            Assert.Equal(items.Select(i => i.Data.Length), Zip.Parse(rebuilt)!.Select(i => i.Data.Length));
            Assert.NotEmpty(Zip.Fields(bytes));
        }
        foreach (var seed in Seeds.Where(s => s.Family is Family.TfCheckpoint or Family.SavedModel))
        {
            var index = seed.Files.Single(f => f.Key.EndsWith(".index", StringComparison.Ordinal));
            var entries = SsTable.Read(index.Value)!;
            Assert.Equal(entries.Select(e => e.Key), SsTable.Read(SsTable.Write(entries))!.Select(e => e.Key));
        }
        foreach (var seed in Seeds.Where(s => s.Family == Family.GraphDef))
        {
            var pb = seed.Files[seed.MainFile];
            Assert.Equal(pb, ProtoMessage.Parse(pb)!.ToBytes());
        }
        foreach (var seed in Seeds.Where(s => s.Family is Family.TorchLegacy))
            Assert.Equal(5, PickleMutator.Regions(seed.Files[seed.MainFile]).Count);
    }

    [Fact]
    public void Rng_is_stable_across_processes()
    {
        // SplitMix64 of (seed, index) and a seeded System.Random: fixed values, whatever the process.
        Assert.Equal(Rng.Seed32(1, 0), Rng.Seed32(1, 0));
        Assert.NotEqual(Rng.Seed32(1, 0), Rng.Seed32(1, 1));
        var first = Rng.For(1, 0).Next();
        Assert.Equal(first, new Random(Rng.Seed32(1, 0)).Next());
    }
}
