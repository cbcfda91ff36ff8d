using System.Text;
using LstmPort.Fuzz.Formats;

namespace LstmPort.Fuzz.Mutators;

/// <summary>Base of the HDF5 mutators: they work on the file's map and repair checksums after an edit (mostly).</summary>
public abstract class H5Mutator : IBytesMutator
{
    public abstract string Name { get; }
    public virtual int Weight => 14;
    public bool Accepts(string name, byte[] data) => Cache.H5(data) is not null;

    public (byte[] Data, string What)? Mutate(string name, byte[] data, Random rng)
    {
        var map = Cache.H5(data);
        return map is null ? null : Mutate(name, map, rng);
    }

    protected abstract (byte[] Data, string What)? Mutate(string name, H5Map map, Random rng);

    /// <summary>Redoes the checksum of the chunk an edit at <paramref name="offset"/> fell in (9 times in 10: the tenth tests the checksum check).</summary>
    protected static string Checksum(byte[] data, H5Map map, long offset, Random rng)
    {
        if (map.ChunkAt(offset) is not { } chunk) return "";
        if (rng.Chance(0.1)) return " (checksum left stale)";
        H5Map.FixChecksums(data, [chunk]);
        return "";
    }
}

/// <summary>
/// One mapped field (superblock, object header and message headers, dataspace dims, datatype size,
/// layout, B-tree, heap, symbol entries, link addresses) set to a value of its kind: addresses to
/// other structures, the structure itself, undefined, past the end; dims and sizes to huge values.
/// </summary>
public sealed class H5FieldSet : H5Mutator
{
    public override string Name => "h5-field";
    public override int Weight => 20;

    protected override (byte[] Data, string What)? Mutate(string name, H5Map map, Random rng)
    {
        if (map.Fields.Count == 0) return null;
        var f = rng.Pick(map.Fields);
        var data = (byte[])map.Data.Clone();
        ulong current = Bytes.Read(data, f.Offset, f.Width);
        ulong max = Interesting.Max(f.Width);
        (ulong value, string what) = f.Kind switch
        {
            H5Kind.Address => rng.Next(8) switch
            {
                0 => ((ulong)(f.Owner - map.Base), "the structure holding it (a self loop)"),
                1 => ((ulong)(map.RootHeader - map.Base), "the root group's header"),
                2 => (H5Map.Undefined(f.Width), "undefined"),
                3 when map.Headers.Count > 0 => ((ulong)(rng.Pick(map.Headers.Keys.Order().ToList()) - map.Base), "another object header"),
                4 => ((ulong)(map.Data.Length - map.Base) + (ulong)rng.Next(0, 64), "at or past the end of the file"),
                5 => ((ulong)rng.NextInt64(map.Data.Length), "a random offset in the file"),
                _ => Interesting.For(rng, f.Width, current, map.Data.Length),
            },
            H5Kind.Dimension => rng.Next(7) switch
            {
                0 => (0UL, "0"),
                1 => ((ulong)int.MaxValue + (ulong)rng.Next(0, 3), "about 2^31"),
                2 => (1UL << (32 + rng.Next(0, 31)), "a power of two past 2^32"),
                3 => (max, "max"),
                4 => (current * (ulong)(1000 + rng.Next(100000)), "thousands of times larger"),
                5 => (current + 1, "+1"),
                _ => (current - 1, "-1"),
            },
            _ => Interesting.For(rng, f.Width, current, map.Data.Length),
        };
        value &= max;
        Bytes.Write(data, f.Offset, f.Width, value);
        return (data, $"HDF5 {f.Name} (at {f.Offset}) set from {current} to {value} ({what}){Checksum(data, map, f.Offset, rng)}");
    }
}

/// <summary>
/// Links that loop or lead astray, crafted in the group structure itself: a soft link to itself, two
/// soft links to each other (a -> b -> a), soft links to "/", ".", "..", to an empty path, to a long
/// chain of links; hard links back to the root or to the group that holds them; external links to the
/// file itself or to a system file. Old-style groups are edited in their symbol table entries (in place);
/// new-style groups get their link message rewritten through a continuation block.
/// </summary>
public sealed class H5Links : H5Mutator
{
    public override string Name => "h5-links";
    public override int Weight => 24;

    protected override (byte[] Data, string What)? Mutate(string name, H5Map map, Random rng)
    {
        bool old = map.Entries.Count > 0, links = map.Links.Count > 0;
        if (!old && !links) return null;
        return old && (!links || rng.Chance(0.5)) ? OldStyle(map, rng) : NewStyle(name, map, rng);
    }

    static (byte[] Data, string What)? OldStyle(H5Map map, Random rng)
    {
        var e = rng.Pick(map.Entries);
        var data = (byte[])map.Data.Clone();
        int O = map.O;
        long cacheAt = e.At + 2 * O, scratch = cacheAt + 8;
        void Soft(long valueOffset)
        {
            Bytes.Write(data, cacheAt, 4, 2);
            data.AsSpan((int)scratch, 16).Clear();
            Bytes.Write(data, scratch, 4, (ulong)valueOffset);
        }
        void Hard(long address)
        {
            Bytes.Write(data, e.At + O, O, (ulong)(address - map.Base));
            Bytes.Write(data, cacheAt, 4, 0);
            data.AsSpan((int)scratch, 16).Clear();
        }
        switch (rng.Next(7))
        {
            case 0:
                Soft(e.NameOffset);
                return (data, $"old-style entry '{e.Name}' made a soft link to itself");
            case 1:
            {
                var others = map.Entries.Where(x => x.Group == e.Group && x.At != e.At).ToList();
                if (others.Count == 0) goto case 0;
                var o = rng.Pick(others);
                Soft(o.NameOffset);
                Bytes.Write(data, o.At + 2 * O, 4, 2);
                data.AsSpan((int)(o.At + 2 * O + 8), 16).Clear();
                Bytes.Write(data, o.At + 2 * O + 8, 4, (ulong)e.NameOffset);
                return (data, $"old-style entries '{e.Name}' and '{o.Name}' made soft links to each other (a loop)");
            }
            case 2:
            {
                // Any NUL byte of the heap is an empty path: the group the link sits in.
                if (e.HeapData < 0) goto case 0;
                long empty = -1;
                for (long i = 0; i < e.HeapSize && e.HeapData + i < data.Length; i++)
                    if (data[e.HeapData + i] == 0) { empty = i; break; }
                if (empty < 0) goto case 0;
                Soft(empty);
                return (data, $"old-style entry '{e.Name}' made a soft link with an empty path (its own group)");
            }
            case 3:
                Hard(map.RootHeader);
                return (data, $"old-style entry '{e.Name}' made a hard link to the root group (a cycle)");
            case 4:
                Hard(e.Group);
                return (data, $"old-style entry '{e.Name}' made a hard link to the group holding it (a cycle)");
            case 5:
            {
                // A path written into the heap's free space, then linked to.
                var heap = map.Heaps.FirstOrDefault(h => h.Data == e.HeapData);
                if (heap.Data < 0 || heap.FreeHead < 0 || heap.FreeHead >= heap.Size) goto case 3;
                string[] paths = ["/", ".", "..", "/" + e.Name, e.Name + "/" + e.Name, "//", "/x/../"];
                var path = rng.Pick(paths);
                var bytes = Encoding.UTF8.GetBytes(path + "\0");
                if (heap.FreeHead + bytes.Length > heap.Size || heap.Data + heap.FreeHead + bytes.Length > data.Length) goto case 3;
                bytes.CopyTo(data, heap.Data + heap.FreeHead);
                Soft(heap.FreeHead);
                return (data, $"old-style entry '{e.Name}' made a soft link to '{path}' (written into the heap's free space)");
            }
            default:
            {
                var others = map.Entries.Where(x => x.At != e.At).ToList();
                if (others.Count == 0) goto case 3;
                var o = rng.Pick(others);
                Hard(Bytes.Read(map.Data, o.At + O, O) is var a && a != H5Map.Undefined(O) ? (long)a + map.Base : map.RootHeader);
                return (data, $"old-style entry '{e.Name}' made a hard link to the object of '{o.Name}' (shared object)");
            }
        }
    }

    static (byte[] Data, string What)? NewStyle(string fileName, H5Map map, Random rng)
    {
        var link = rng.Pick(map.Links);
        string group = map.HeaderPaths.GetValueOrDefault(link.Group, "?");
        string self = (group == "/" ? "" : group) + "/" + link.Name;
        byte[] Soft(string n, string path) => map.LinkBody(n, 1, path: path);
        switch (rng.Next(10))
        {
            case 0:
                return Rewrite(map, link, Soft(link.Name, link.Name), [], $"link '{self}' made a soft link to itself");
            case 1:
                return Rewrite(map, link, Soft(link.Name, "__loop_b"), [(6, Soft("__loop_b", link.Name))],
                    $"link '{self}' made a soft link to a new '__loop_b', which links back (a loop)");
            case 2:
            {
                var path = rng.Pick(new[] { "/", ".", "..", "", group, self, "//" + link.Name + "//", "./" + link.Name });
                return Rewrite(map, link, Soft(link.Name, path), [], $"link '{self}' made a soft link to '{path}'");
            }
            case 3:
            {
                int n = rng.Pick(new[] { 16, 200, 2000 });
                var extra = new List<(int, byte[])>();
                for (int i = 1; i < n; i++) extra.Add((6, Soft($"__chain{i}", $"__chain{i + 1}")));
                extra.Add((6, link.LinkType == 0 && link.AddressAt >= 0
                    ? map.LinkBody($"__chain{n}", 0, address: (long)Bytes.Read(map.Data, link.AddressAt, map.O))
                    : Soft($"__chain{n}", "/")));
                return Rewrite(map, link, Soft(link.Name, "__chain1"), extra, $"link '{self}' reached through a chain of {n} soft links");
            }
            case 4 or 5:
            {
                if (link.LinkType != 0 || link.AddressAt < 0) goto case 1;
                var data = (byte[])map.Data.Clone();
                bool root = rng.Chance(0.5);
                Bytes.Write(data, link.AddressAt, map.O, (ulong)((root ? map.RootHeader : link.Group) - map.Base));
                var stale = Checksum(data, map, link.AddressAt, rng);
                return (data, $"hard link '{self}' pointed at {(root ? "the root group" : "the group holding it")} (a cycle){stale}");
            }
            case 6:
            {
                var target = rng.Chance(0.5) ? (fileName, "/") : ("/etc/passwd", "/");
                return Rewrite(map, link, map.LinkBody(link.Name, 64, file: target.Item1, path: target.Item2), [],
                    $"link '{self}' made an external link to '{target.Item1}:{target.Item2}'");
            }
            case 7:
                return Rewrite(map, link, Soft(link.Name, "/no/such/object/" + new string('x', rng.Next(1, 300))), [], $"link '{self}' made a dangling soft link");
            case 8:
            {
                // The group gets many more links, all to the root (a wide fan of cycles).
                var extra = Enumerable.Range(0, rng.Pick(new[] { 8, 64, 512 }))
                    .Select(i => (6, map.LinkBody($"__root{i}", 0, address: map.RootHeader - map.Base))).ToList();
                return Rewrite(map, link, null, extra, $"group '{group}' given {extra.Count} extra hard links to the root");
            }
            default:
            {
                // A duplicate of the link's name pointing elsewhere.
                var dup = link.LinkType == 0 ? map.LinkBody(link.Name, 0, address: map.RootHeader - map.Base) : Soft(link.Name, "/");
                return Rewrite(map, link, null, [(6, dup)], $"group '{group}' given a second link named '{link.Name}'");
            }
        }
    }

    static (byte[] Data, string What)? Rewrite(H5Map map, H5Link link, byte[]? body, List<(int, byte[])> extra, string what)
    {
        if (link.Message.Version == 2)
            return map.RewriteV2(link.Message, body, extra) is { } data ? (data, what + " (object header continued in a new block)") : null;
        // A link message in a version-1 header: rewrite in place when the new body fits its slot.
        if (body is null || body.Length > link.Message.Size) return null;
        var d = (byte[])map.Data.Clone();
        d.AsSpan((int)link.Message.Body, link.Message.Size).Clear();
        body.CopyTo(d, link.Message.Body);
        return (d, what + " (in place)");
    }
}

/// <summary>
/// Structures that point back at themselves: a B-tree node whose child or sibling is itself, a huge
/// entry count, an object header continuation to its own header or block, a new continuation block
/// that continues into itself.
/// </summary>
public sealed class H5Loops : H5Mutator
{
    public override string Name => "h5-loops";

    protected override (byte[] Data, string What)? Mutate(string name, H5Map map, Random rng)
    {
        var data = (byte[])map.Data.Clone();
        int choice = rng.Next(4);
        if (choice == 0 && map.TreeNodes.Count > 0)
        {
            var node = rng.Pick(map.TreeNodes);
            if (node.ChildFields.Count > 0 && rng.Chance(0.6))
            {
                var at = rng.Pick(node.ChildFields);
                Bytes.Write(data, at, map.O, (ulong)(node.At - map.Base));
                if (node.Level == 0) data[node.At + 5] = 1;
                return (data, $"B-tree node at {node.At}: a child points at the node itself (level {Math.Max(1, node.Level)})");
            }
            Bytes.Write(data, node.RightSiblingAt, map.O, (ulong)(node.At - map.Base));
            return (data, $"B-tree node at {node.At}: its right sibling is itself");
        }
        var conts = map.Messages.Where(m => m.Type == 0x10).ToList();
        if (choice == 1 && conts.Count > 0)
        {
            var m = rng.Pick(conts);
            bool toHeader = rng.Chance(0.5);
            long target = toHeader ? m.Header : m.At - (m.Version == 2 ? 4 : 0);
            if (m.Version == 1 && !toHeader) target = m.At; // a v1 block has no signature: continue at the message itself
            Bytes.Write(data, m.Body, map.O, (ulong)(target - map.Base));
            return (data, $"continuation at {m.At} points back at {(toHeader ? "its own object header" : "itself")}{Checksum(data, map, m.Body, rng)}");
        }
        if (choice == 2)
        {
            var v2 = map.Messages.Where(m => m.Version == 2 && m.Type != 0x10).ToList();
            if (v2.Count > 0)
            {
                var m = rng.Pick(v2);
                var result = map.RewriteV2(m, null, [], blockAt =>
                {
                    var body = new byte[map.O + map.L];
                    Bytes.Write(body, 0, map.O, (ulong)blockAt);
                    Bytes.Write(body, map.O, map.L, 64);
                    return [(0x10, body)];
                });
                if (result is not null) return (result, $"object header {map.HeaderPaths.GetValueOrDefault(m.Header, "?")} continued in a new block that continues into itself");
            }
        }
        // Message counts and entry counts far beyond what is there.
        var counts = map.Fields.Where(f => f.Kind == H5Kind.Count).ToList();
        if (counts.Count == 0) return null;
        var c = rng.Pick(counts);
        Bytes.Write(data, c.Offset, c.Width, Interesting.Max(c.Width) - (ulong)rng.Next(3));
        return (data, $"{c.Name} (at {c.Offset}) set near its maximum{Checksum(data, map, c.Offset, rng)}");
    }
}

/// <summary>A message's type changed to another known type (or an unknown one), or its shared/constant flags set.</summary>
public sealed class H5MessageType : H5Mutator
{
    public override string Name => "h5-msgtype";
    public override int Weight => 10;
    static readonly int[] Types = [0x00, 0x01, 0x02, 0x03, 0x05, 0x06, 0x08, 0x0A, 0x0B, 0x0C, 0x10, 0x11, 0x12, 0x15, 0x16, 0x18, 0x7F, 0xFF];

    protected override (byte[] Data, string What)? Mutate(string name, H5Map map, Random rng)
    {
        if (map.Messages.Count == 0) return null;
        var m = rng.Pick(map.Messages);
        var data = (byte[])map.Data.Clone();
        if (rng.Chance(0.7))
        {
            int type = rng.Pick(Types);
            Bytes.Write(data, m.At, m.Version == 1 ? 2 : 1, (ulong)type);
            return (data, $"message at {m.At} changed from type 0x{m.Type:x2} to 0x{type:x2}{Checksum(data, map, m.At, rng)}");
        }
        long flagsAt = m.At + (m.Version == 1 ? 4 : 3);
        byte flags = (byte)rng.Pick(new[] { 0x02, 0x01, 0x04, 0x08, 0xFF });
        data[flagsAt] |= flags;
        return (data, $"message at {m.At} (type 0x{m.Type:x2}) given flags 0x{flags:x2}{Checksum(data, map, flagsAt, rng)}");
    }
}

/// <summary>Random bytes of one message body changed, then the checksum redone, so the damage reaches the message's parser.</summary>
public sealed class H5MessageBytes : H5Mutator
{
    public override string Name => "h5-msgbytes";
    public override int Weight => 10;

    protected override (byte[] Data, string What)? Mutate(string name, H5Map map, Random rng)
    {
        var bodies = map.Messages.Where(m => m.Size > 0).ToList();
        if (bodies.Count == 0) return null;
        var m = rng.Pick(bodies);
        var data = (byte[])map.Data.Clone();
        int n = 1 + rng.Next(4);
        for (int i = 0; i < n; i++)
        {
            long at = m.Body + rng.Next(m.Size);
            data[at] = rng.Chance(0.5) ? (byte)rng.Next(256) : (byte)(data[at] ^ (1 << rng.Next(8)));
        }
        return (data, $"{n} bytes changed in message type 0x{m.Type:x2} at {m.At}{Checksum(data, map, m.Body, rng)}");
    }
}
