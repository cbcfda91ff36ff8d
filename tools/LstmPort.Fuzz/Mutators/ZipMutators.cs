using LstmPort.Fuzz.Formats;

namespace LstmPort.Fuzz.Mutators;

/// <summary>One header field of a zip (local header, central entry, end records, zip64 values) set to an interesting value.</summary>
public sealed class ZipFieldSet : IBytesMutator
{
    public string Name => "zip-field";
    public int Weight => 20;
    public bool Accepts(string name, byte[] data) => Zip.LooksLikeZip(data);

    public (byte[] Data, string What)? Mutate(string name, byte[] data, Random rng)
    {
        var fields = Zip.Fields(data);
        if (fields.Count == 0) return null;
        var f = rng.Pick(fields);
        ulong current = Bytes.Read(data, f.Offset, f.Width);
        var candidates = fields.Where(x => x.Name.EndsWith("offset", StringComparison.Ordinal)).Select(x => Bytes.Read(data, x.Offset, x.Width)).Distinct().Order().ToList();
        var (value, what) = Interesting.For(rng, f.Width, current, data.Length, candidates);
        var d = (byte[])data.Clone();
        Bytes.Write(d, f.Offset, f.Width, value);
        return (d, $"zip {f.Name} (at {f.Offset}) set from {current} to {value} ({what})");
    }
}

/// <summary>
/// The archive written again with zip64 records that claim sizes, offsets or entry counts past 4 GB
/// (or past what a long holds), as a hostile file would.
/// </summary>
public sealed class ZipZip64 : IBytesMutator
{
    public string Name => "zip-zip64";
    public int Weight => 12;
    public bool Accepts(string name, byte[] data) => Zip.LooksLikeZip(data) && Cache.Zip(data) is not null;

    static readonly ulong[] Huge = [(1UL << 32) + 1, (1UL << 32) + 4096, 1UL << 40, (1UL << 62) + 7, long.MaxValue, ulong.MaxValue, ulong.MaxValue - 8];

    public (byte[] Data, string What)? Mutate(string name, byte[] data, Random rng)
    {
        var items = Cache.Zip(data)!;
        int k = rng.Next(items.Count);
        ulong? size = null, comp = null, offset = null;
        string what;
        switch (rng.Next(5))
        {
            case 0: size = rng.Pick(Huge); what = $"size {size}"; break;
            case 1: comp = rng.Pick(Huge); what = $"compressed size {comp}"; break;
            case 2: size = comp = rng.Pick(Huge); what = $"both sizes {size}"; break;
            case 3: offset = rng.Pick(Huge); what = $"local header offset {offset}"; break;
            default:
                var count = rng.Pick(Huge);
                return (Zip.Build(items, new Zip.BuildOptions { Zip64End = true, Zip64EndCount = count }),
                    $"zip64 end record claims {count} entries");
        }
        var options = new Zip.BuildOptions { Zip64 = new() { [k] = (size, comp, offset) }, Zip64End = rng.Chance(0.5) };
        return (Zip.Build(items, options), $"entry {items[k].Name} given a zip64 extra field claiming {what}");
    }
}

/// <summary>
/// The archive's entries changed and written again consistently: one dropped, duplicated under its
/// name, renamed (path tricks, another prefix), a CRC made wrong, an unknown compression method, a
/// thousand extra entries, a wrong entry count in the end record.
/// </summary>
public sealed class ZipEntries : IBytesMutator
{
    public string Name => "zip-entries";
    public int Weight => 14;
    public bool Accepts(string name, byte[] data) => Zip.LooksLikeZip(data) && Cache.Zip(data) is not null;

    public (byte[] Data, string What)? Mutate(string name, byte[] data, Random rng)
    {
        var items = Cache.Zip(data)!.ToList();
        int k = rng.Next(items.Count);
        var it = items[k];
        ZipItem With(Action<ZipItem> change)
        {
            var c = new ZipItem
            {
                Name = it.Name, Method = it.Method, Data = it.Data, LocalExtra = it.LocalExtra, CentralExtra = it.CentralExtra,
                Flags = it.Flags, Time = it.Time, Date = it.Date, VersionMadeBy = it.VersionMadeBy, VersionNeeded = it.VersionNeeded, Crc = it.Crc,
            };
            change(c);
            return c;
        }
        switch (rng.Next(9))
        {
            case 0:
                items.RemoveAt(k);
                if (items.Count == 0) return null;
                return (Zip.Build(items), $"entry {it.Name} removed");
            case 1:
            {
                var other = items[rng.Next(items.Count)];
                items.Insert(rng.Next(items.Count + 1), With(c => c.Data = other.Data));
                return (Zip.Build(items), $"entry {it.Name} duplicated (same name, the data of {other.Name})");
            }
            case 2:
            {
                string prefix = it.Name.Contains('/') ? it.Name[..(it.Name.IndexOf('/') + 1)] : "";
                string[] names = ["../" + it.Name, "/" + it.Name, "", it.Name + "\0hidden", it.Name.ToUpperInvariant(), "other/" + it.Name[prefix.Length..],
                    it.Name[prefix.Length..], new string('a', 300) + "/" + it.Name, it.Name.Replace('/', '\\'), prefix + "data.pkl", prefix + "data/0"];
                var newName = rng.Pick(names);
                items[k] = With(c => c.Name = newName);
                return (Zip.Build(items), $"entry {it.Name} renamed to '{newName}'");
            }
            case 3:
                items[k] = With(c => c.Crc = Checksums.Crc32(it.Data) ^ (1u << rng.Next(32)));
                return (Zip.Build(items), $"entry {it.Name} given a wrong CRC-32");
            case 4:
            {
                int method = rng.Pick(new[] { 1, 6, 9, 12, 14, 93, 99, 0xFFFF });
                items[k] = With(c => c.Method = method);
                return (Zip.Build(items), $"entry {it.Name} declared with compression method {method}");
            }
            case 5:
            {
                int n = rng.Pick(new[] { 100, 1000, 5000 });
                for (int i = 0; i < n; i++) items.Add(new ZipItem { Name = $"filler/{i}" });
                return (Zip.Build(items), $"{n} empty entries added");
            }
            case 6:
            {
                int claimed = rng.Pick(new[] { 0, 1, items.Count - 1, items.Count + 1, 0xFFFF });
                return (Zip.Build(items, new Zip.BuildOptions { EndCount = claimed }), $"end record claims {claimed} entries of {items.Count}");
            }
            case 7:
                items.Reverse();
                return (Zip.Build(items, new Zip.BuildOptions { KeepMethods = rng.Chance(0.5) }), "entries in reverse order");
            default:
            {
                // The entry's data cut or grown (sizes consistent), as a writer that lost or padded bytes would leave it.
                var cut = rng.Chance(0.5) ? it.Data.AsSpan(0, rng.Skewed(Math.Max(1, it.Data.Length))).ToArray() : [.. it.Data, .. new byte[1 + rng.Next(64)]];
                items[k] = With(c => c.Data = cut);
                return (Zip.Build(items), $"entry {it.Name} resized from {it.Data.Length} to {cut.Length} bytes");
            }
        }
    }
}
