using LstmPort.Fuzz.Formats;
using LstmPort.Fuzz.Seeds;

namespace LstmPort.Fuzz.Mutators;

/// <summary>A checkpoint of the input: its .index (parsed entries) and its data shards.</summary>
sealed record TfBundleView(string IndexFile, string Prefix, List<KeyValuePair<string, byte[]>> Entries)
{
    public static TfBundleView? Of(SeedInput seed)
    {
        var index = seed.FileNames.FirstOrDefault(f => f.EndsWith(".index", StringComparison.Ordinal));
        if (index is null || SsTable.Read(seed.Files[index]) is not { Count: > 0 } entries) return null;
        return new TfBundleView(index, index[..^".index".Length], entries);
    }

    public string Shard(int id, int count) => $"{Prefix}.data-{id:D5}-of-{count:D5}";

    public static SsTable.WriteOptions Options(Random rng) =>
        new() { Snappy = rng.Chance(0.3), EntriesPerBlock = rng.Pick(new[] { 1, 3, 16, 1000 }), RestartInterval = rng.Pick(new[] { 1, 4, 16 }) };
}

/// <summary>
/// One BundleEntryProto (or the BundleHeaderProto) changed, and the .index written again with correct
/// block CRCs so the damage reaches the bundle reader: dtype, shape dims, shard id, offset, size, the
/// data's CRC-32C, the slices field, unknown or duplicated fields, a value that is not a message.
/// </summary>
public sealed class TfEntryField : IMutator
{
    public string Name => "tf-entry";
    public int Weight => 24;
    public bool AppliesTo(SeedInput seed) => TfBundleView.Of(seed) is not null;

    static readonly ulong[] Huge = [1UL << 31, 1UL << 32, (1UL << 40) + 3, long.MaxValue, ulong.MaxValue /* -1 */, ulong.MaxValue - 7];

    public Mutation? Mutate(SeedInput seed, Random rng)
    {
        var b = TfBundleView.Of(seed)!;
        var entries = b.Entries.ToList();
        bool header = rng.Chance(0.15);
        int k = header ? entries.FindIndex(e => e.Key.Length == 0) : rng.Pick(Enumerable.Range(0, entries.Count).Where(i => entries[i].Key.Length > 0).DefaultIfEmpty(-1).ToList());
        if (k < 0) return null;
        var key = entries[k].Key;
        var msg = ProtoMessage.Parse(entries[k].Value);
        string what;
        byte[] value;
        if (msg is null || rng.Chance(0.08))
        {
            value = entries[k].Value.AsSpan(0, rng.Skewed(Math.Max(1, entries[k].Value.Length))).ToArray();
            what = "value cut short";
        }
        else
        {
            ProtoField? Field(int n) => msg.Fields.FirstOrDefault(f => f.Number == n);
            void Set(int n, ulong v)
            {
                if (Field(n) is { } f) { f.Wire = 0; f.Value = v; }
                else msg.Fields.Add(new ProtoField { Number = n, Wire = 0, Value = v });
            }
            if (header)
            {
                switch (rng.Next(3))
                {
                    case 0: { var v = rng.Pick(new ulong[] { 0, ulong.MaxValue, 2, 100000, int.MaxValue }); Set(1, v); what = $"num_shards set to {(long)v}"; break; }
                    case 1: { var v = rng.Pick(new ulong[] { 1, 2, ulong.MaxValue }); Set(2, v); what = $"endianness set to {(long)v}"; break; }
                    default: msg.Fields.Clear(); what = "header emptied"; break;
                }
            }
            else
            {
                switch (rng.Next(9))
                {
                    case 0: { var v = rng.Pick(new ulong[] { 0, 2, 3, 7, 9, 10, 14, 19, 101, 999, ulong.MaxValue }); Set(1, v); what = $"dtype set to {(long)v}"; break; }
                    case 1:
                    {
                        var shape = Field(2)?.Child ?? new ProtoMessage();
                        var dims = shape.Fields.Where(f => f.Number == 2).ToList();
                        switch (rng.Next(5))
                        {
                            case 0 when dims.Count > 0:
                            {
                                var d = rng.Pick(dims);
                                var v = rng.Pick(Huge.Append(0UL).ToArray());
                                d.Child = new ProtoMessage().Varint(1, v);
                                what = $"a dim set to {(long)v}";
                                break;
                            }
                            case 1: shape.Message(2, new ProtoMessage().Varint(1, rng.Pick(Huge))); what = "a huge dim added"; break;
                            case 2: shape.Fields.RemoveAll(f => f.Number == 2); what = "dims removed (a scalar)"; break;
                            case 3: shape.Varint(3, 1); what = "unknown_rank set"; break;
                            default:
                                for (int i = 0; i < 40; i++) shape.Message(2, new ProtoMessage().Varint(1, 1));
                                what = "40 dims of 1 added";
                                break;
                        }
                        if (Field(2) is { } sf) { sf.Child = shape; sf.Wire = 2; } else msg.Message(2, shape);
                        break;
                    }
                    case 2: { var v = rng.Pick(new ulong[] { 1, 2, ulong.MaxValue, int.MaxValue, 1UL << 33 }); Set(3, v); what = $"shard_id set to {(long)v}"; break; }
                    case 3: { var v = rng.Pick(Huge.Concat(new ulong[] { 1, 3 }).ToArray()); Set(4, v); what = $"offset set to {(long)v}"; break; }
                    case 4:
                    {
                        ulong size = Field(5)?.Value ?? 0;
                        var v = rng.Pick(Huge.Concat(new[] { 0UL, size + 1, size - 1, size * 2 }).ToArray());
                        Set(5, v);
                        what = $"size set to {(long)v}";
                        break;
                    }
                    case 5:
                        if (Field(6) is { } crc) crc.Value ^= 1u << rng.Next(32);
                        what = "crc32c made wrong";
                        break;
                    case 6: msg.Message(7, new ProtoMessage().Message(1, new ProtoMessage().Varint(1, 0).Varint(2, 1))); what = "a slices field added"; break;
                    case 7:
                    {
                        var f = rng.Pick(msg.Fields);
                        msg.Fields.Add(f.Clone());
                        what = $"field {f.Number} repeated";
                        break;
                    }
                    default:
                    {
                        var f = rng.Pick(msg.Fields);
                        f.Wire = f.Wire == 2 ? 0 : 2;
                        f.Bytes = f.Wire == 2 ? [1, 2, 3] : [];
                        f.Child = null;
                        what = $"field {f.Number} given another wire type";
                        break;
                    }
                }
            }
            value = msg.ToBytes();
        }
        entries[k] = new(key, value);
        return new Mutation(new Dictionary<string, byte[]?> { [b.IndexFile] = SsTable.Write(entries, TfBundleView.Options(rng)) },
            $"{b.IndexFile}: entry '{key}' {what} (table rewritten)");
    }
}

/// <summary>The table's keys: duplicated, out of order, the header removed or not first, odd or huge keys, entries dropped.</summary>
public sealed class TfKeys : IMutator
{
    public string Name => "tf-keys";
    public int Weight => 14;
    public bool AppliesTo(SeedInput seed) => TfBundleView.Of(seed) is not null;

    public Mutation? Mutate(SeedInput seed, Random rng)
    {
        var b = TfBundleView.Of(seed)!;
        var entries = b.Entries.ToList();
        var options = TfBundleView.Options(rng) with { KeepOrder = true };
        entries.Sort((x, y) => string.CompareOrdinal(x.Key, y.Key));
        int k = rng.Next(entries.Count);
        string what;
        switch (rng.Next(7))
        {
            case 0: entries.Insert(k + 1, entries[k]); what = $"entry '{entries[k].Key}' listed twice"; break;
            case 1:
            {
                var other = entries[rng.Next(entries.Count)];
                entries.Insert(k + 1, new(entries[k].Key, other.Value));
                what = $"entry '{entries[k].Key}' listed twice, the second with the value of '{other.Key}'";
                break;
            }
            case 2: entries.Reverse(); what = "entries in reverse order"; break;
            case 3: entries.RemoveAll(e => e.Key.Length == 0); what = "header entry removed"; break;
            case 4:
            {
                var key = rng.Pick(new[] { "_CHECKPOINTABLE_OBJECT_GRAPH", "\u0001\u00ff", new string('k', 100000), "a/../../b", "layer_with_weights-0/cell/kernel/.ATTRIBUTES/VARIABLE_VALUE" });
                entries.Add(new(key, entries[k].Value));
                entries.Sort((x, y) => string.CompareOrdinal(x.Key, y.Key));
                what = $"an entry '{(key.Length > 60 ? key[..20] + "..." : key)}' added with the value of '{entries[k].Key}'";
                break;
            }
            case 5:
                if (entries[k].Key.Length == 0) goto case 3;
                what = $"entry '{entries[k].Key}' removed";
                entries.RemoveAt(k);
                break;
            default:
            {
                int n = rng.Pick(new[] { 1000, 5000 });
                var v = entries[k].Value;
                for (int i = 0; i < n; i++) entries.Add(new($"zz/filler_{i:D6}", v));
                what = $"{n} entries added sharing the data of '{entries[k].Key}'";
                break;
            }
        }
        return new Mutation(new Dictionary<string, byte[]?> { [b.IndexFile] = SsTable.Write(entries, options) }, $"{b.IndexFile}: {what} (table rewritten)");
    }
}

/// <summary>
/// The table's own structure: bytes inside a block changed with the block CRC redone (restart arrays,
/// shared-prefix lengths, value lengths), a block's compression type changed, the footer's handles.
/// </summary>
public sealed class TfTable : IBytesMutator
{
    public string Name => "tf-table";
    public int Weight => 14;
    public bool Accepts(string name, byte[] data) => name.EndsWith(".index", StringComparison.Ordinal) && SsTable.ReadWithLayout(data) is not null;

    public (byte[] Data, string What)? Mutate(string name, byte[] data, Random rng)
    {
        var (_, blocks, varints) = SsTable.ReadWithLayout(data)!.Value;
        var d = (byte[])data.Clone();
        var block = rng.Pick(blocks);
        switch (rng.Next(5))
        {
            case 0 when block.Size >= 4 && data[block.Offset + block.Size] == 0:
            {
                // The restart count (last 4 bytes of the block), CRC redone.
                long at = block.Offset + block.Size - 4;
                var (v, what) = Interesting.For(rng, 4, Bytes.Read(d, at, 4), block.Size);
                Bytes.Write(d, at, 4, v);
                SsTable.FixBlockCrcs(d, [block]);
                return (d, $"restart count of the {(block.IsIndex ? "index" : "data")} block at {block.Offset} set to {v} ({what}), CRC redone");
            }
            case 1 when block.Size > 0 && data[block.Offset + block.Size] == 0:
            {
                int n = 1 + rng.Next(4);
                for (int i = 0; i < n; i++) d[block.Offset + rng.Next((int)block.Size)] = (byte)rng.Pick(new[] { 0, 0x7f, 0x80, 0xff, rng.Next(256) });
                SsTable.FixBlockCrcs(d, [block]);
                return (d, $"{n} bytes changed in the {(block.IsIndex ? "index" : "data")} block at {block.Offset}, CRC redone");
            }
            case 2:
            {
                byte type = (byte)rng.Pick(new[] { 1, 2, 0xff });
                d[block.Offset + block.Size] = type;
                SsTable.FixBlockCrcs(d, [block]);
                return (d, $"compression type of the block at {block.Offset} set to {type}, CRC redone");
            }
            case 3:
            {
                var (at, what) = rng.Pick(varints);
                var enc = Bytes.Varint(rng.Pick(new ulong[] { 0UL, (ulong)data.Length, (ulong)data.Length + 100, uint.MaxValue, long.MaxValue, ulong.MaxValue }));
                int old = 0, p = (int)at;
                if (!Bytes.TryVarint(d, ref p, out _)) return null;
                old = p - (int)at;
                var result = Bytes.Splice(d, at, old, enc);
                // The footer is fixed at 48 bytes: keep its magic at the end.
                if (result.Length != d.Length) result = Bytes.Splice(result, result.Length - 48 - (result.Length - d.Length), result.Length - d.Length, []);
                return (result, $"{what} set to another varint");
            }
            default:
                // A real snappy block whose contents are not snappy: the CRC passes, decompression must fail cleanly.
                if (block.Size == 0) return null;
                d[block.Offset + block.Size] = 1;
                SsTable.FixBlockCrcs(d, [block]);
                return (d, $"block at {block.Offset} marked snappy-compressed (it is not), CRC redone");
        }
    }
}

/// <summary>
/// The object graph of a TF2 checkpoint changed and stored again with a correct CRC: edges to the root
/// or to the node itself (cycles), to nodes that do not exist, thousands of nodes, a long chain, a
/// checkpoint key pointing elsewhere.
/// </summary>
public sealed class TfObjectGraph : IMutator
{
    public string Name => "tf-objgraph";
    public int Weight => 16;
    const string Key = "_CHECKPOINTABLE_OBJECT_GRAPH";

    public bool AppliesTo(SeedInput seed) => TfBundleView.Of(seed) is { } b && b.Entries.Any(e => e.Key == Key);

    public Mutation? Mutate(SeedInput seed, Random rng)
    {
        var b = TfBundleView.Of(seed)!;
        var entries = b.Entries.ToList();
        int k = entries.FindIndex(e => e.Key == Key);
        var entry = ProtoMessage.Parse(entries[k].Value);
        var header = ProtoMessage.Parse(entries.FirstOrDefault(e => e.Key.Length == 0).Value ?? []);
        if (entry is null || header is null) return null;
        int shards = (int)(header.Fields.FirstOrDefault(f => f.Number == 1)?.Value ?? 1);
        ulong shardId = entry.Fields.FirstOrDefault(f => f.Number == 3)?.Value ?? 0;
        ulong offset = entry.Fields.FirstOrDefault(f => f.Number == 4)?.Value ?? 0, size = entry.Fields.FirstOrDefault(f => f.Number == 5)?.Value ?? 0;
        var shardName = b.Shard((int)shardId, shards);
        if (!seed.Files.TryGetValue(shardName, out var shard) || offset + size > (ulong)shard.Length) return null;
        // The scalar string: varint length, 4-byte masked CRC, the bytes.
        var stored = shard.AsSpan((int)offset, (int)size);
        int p = 0;
        if (!Bytes.TryVarint(stored, ref p, out var len) || p + 4 + (long)len > stored.Length) return null;
        var graph = ProtoMessage.Parse(stored.Slice(p + 4, (int)len));
        if (graph is null) return null;
        var nodes = graph.Fields.Where(f => f.Number == 1 && f.Child is not null).ToList();
        if (nodes.Count == 0) return null;
        string what;
        int n = rng.Next(nodes.Count);
        var node = nodes[n].Child!;
        var refs = node.Fields.Where(f => f.Number == 1 && f.Child is not null).ToList();
        switch (rng.Next(6))
        {
            case 0 when refs.Count > 0:
            {
                var r = rng.Pick(refs).Child!;
                long target = rng.Pick(new long[] { 0, n, -1, nodes.Count, int.MaxValue });
                r.Fields.RemoveAll(f => f.Number == 1);
                r.Fields.Insert(0, new ProtoField { Number = 1, Wire = 0, Value = (ulong)target });
                what = $"an edge of node {n} pointed at node {target}";
                break;
            }
            case 1:
                node.Message(1, new ProtoMessage().Varint(1, 0).String(2, rng.Pick(new[] { "loop", "layer_with_weights-0", "" })));
                what = $"node {n} given an edge back to the root";
                break;
            case 2:
            {
                // A chain of new nodes, each the child of the previous, ending at a variable node.
                int count = rng.Pick(new[] { 100, 2000 });
                int first = nodes.Count;
                node.Message(1, new ProtoMessage().Varint(1, (ulong)first).String(2, "chain"));
                for (int i = 0; i < count; i++)
                    graph.Message(1, new ProtoMessage().Message(1, new ProtoMessage().Varint(1, (ulong)(i + 1 < count ? first + i + 1 : Math.Max(0, nodes.Count - 1))).String(2, $"c{i}")));
                what = $"a chain of {count} nodes added below node {n}";
                break;
            }
            case 3:
            {
                var attrs = node.Fields.Where(f => f.Number == 2 && f.Child is not null).ToList();
                if (attrs.Count == 0) goto case 1;
                var a = rng.Pick(attrs).Child!;
                a.Fields.RemoveAll(f => f.Number == 3);
                var other = rng.Pick(entries).Key;
                a.String(3, rng.Chance(0.5) ? other : "no/such/key");
                what = $"node {n}'s checkpoint key changed";
                break;
            }
            case 4:
                for (int i = 0; i < nodes.Count; i++)
                    nodes[i].Child!.Message(1, new ProtoMessage().Varint(1, (ulong)((i + 1) % nodes.Count)).String(2, $"ring{i}"));
                what = "every node linked to the next in a ring";
                break;
            default:
                graph.Fields.RemoveAll(f => f.Number == 1 && f != nodes[0]);
                what = "every node but the root removed";
                break;
        }
        var (data, crc) = TfCheckpointWriter.ScalarString(graph.ToBytes());
        var newShard = (byte[])[.. shard, .. data];
        foreach (var f in entry.Fields.Where(f => f.Number is 4 or 5 or 6).ToList()) entry.Fields.Remove(f);
        entry.Varint(4, (ulong)shard.Length).Varint(5, (ulong)data.Length).Fixed32(6, crc);
        entries[k] = new(Key, entry.ToBytes());
        return new Mutation(new Dictionary<string, byte[]?>
        {
            [b.IndexFile] = SsTable.Write(entries, TfBundleView.Options(rng)),
            [shardName] = newShard,
        }, $"object graph: {what} (stored again with its CRC)");
    }
}

/// <summary>A data shard cut inside a tensor, grown, renamed to another shard count, or a stray shard added.</summary>
public sealed class TfShards : IMutator
{
    public string Name => "tf-shard";
    public int Weight => 8;
    public bool AppliesTo(SeedInput seed) => TfBundleView.Of(seed) is not null && seed.FileNames.Any(f => f.Contains(".data-", StringComparison.Ordinal));

    public Mutation? Mutate(SeedInput seed, Random rng)
    {
        var shards = seed.FileNames.Where(f => f.Contains(".data-", StringComparison.Ordinal)).ToList();
        var s = rng.Pick(shards);
        var data = seed.Files[s];
        switch (rng.Next(4))
        {
            case 0:
            {
                int at = rng.Skewed(Math.Max(1, data.Length));
                return new Mutation(new Dictionary<string, byte[]?> { [s] = data.AsSpan(0, at).ToArray() }, $"{s}: cut to {at} of {data.Length} bytes");
            }
            case 1:
                return new Mutation(new Dictionary<string, byte[]?> { [s] = [.. data, .. new byte[1 + rng.Next(4096)]] }, $"{s}: grown");
            case 2:
            {
                var renamed = System.Text.RegularExpressions.Regex.Replace(s, @"of-\d{5}$", "of-00002");
                if (renamed == s) renamed = s + "x";
                return new Mutation(new Dictionary<string, byte[]?> { [s] = null, [renamed] = data }, $"{s}: renamed to {renamed}");
            }
            default:
            {
                var extra = System.Text.RegularExpressions.Regex.Replace(s, @"data-\d{5}", "data-00007");
                return new Mutation(new Dictionary<string, byte[]?> { [extra] = data }, $"a stray shard {extra} added");
            }
        }
    }
}
