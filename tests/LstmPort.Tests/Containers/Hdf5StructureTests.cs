using System.IO.Compression;
using LstmPort.Containers;
using LstmPort.Fuzz;
using LstmPort.Fuzz.Formats;

namespace LstmPort.Tests;

/// <summary>
/// The pre-flight check of HDF5 metadata (issue 16, D1/D2/D3/D5): files whose links or trees loop,
/// hard links back to an ancestor, external links and sizes past the end are refused before PureHDF
/// opens them (its recursion would end the process); valid files of every group style pass.
/// </summary>
public sealed class Hdf5StructureTests
{
    static readonly Lazy<string?> NoH5py = new(() =>
    {
        if (!File.Exists(Python.Interpreter)) return $"{Python.Interpreter} is not installed";
        var (code, _, err) = Python.Exec("-c", "import h5py, numpy");
        return code == 0 ? null : $"{Python.Interpreter} cannot import h5py (apt-get install python3-h5py): {err.Trim()}";
    });

    /// <summary>Runs h5py code with <c>f</c> open for writing at the returned path (<c>np</c> is numpy).</summary>
    static string H5py(TempDir dir, string name, string body, string open = "")
    {
        Skip.If(NoH5py.Value is not null, NoH5py.Value);
        var path = dir.File(name);
        var script = $"import h5py, numpy as np\nwith h5py.File({Quote(path)}, 'w'{open}) as f:\n"
            + string.Join("\n", body.Split('\n').Select(l => "    " + l));
        var (code, _, err) = Python.Exec("-c", script);
        Assert.True(code == 0, $"h5py failed: {err}");
        return path;
    }

    static string Quote(string s) => "'" + s.Replace("\\", "\\\\").Replace("'", "\\'") + "'";

    const string KerasLike = """
        g = f.create_group('model_weights/lstm/lstm/lstm_cell')
        g['kernel:0'] = np.ones((4, 32), 'f4')
        g['recurrent_kernel:0'] = np.ones((8, 32), 'f4')
        g['bias:0'] = np.ones((32,), 'f4')
        f['model_weights/lstm'].attrs['weight_names'] = [b'lstm/lstm_cell/kernel:0', b'lstm/lstm_cell/recurrent_kernel:0', b'lstm/lstm_cell/bias:0']
        f.attrs['layer_names'] = [b'lstm']
        """;

    static LstmPortException Refused(string path, string expectedInMessage)
    {
        var e = Assert.Throws<LstmPortException>(() => Hdf5Structure.Check(path));
        Assert.Equal(ErrorIds.CorruptFile, e.ErrorId);
        Assert.Contains(expectedInMessage, e.Message);
        Assert.Contains(Path.GetFileName(path), e.Message);
        return e;
    }

    public static TheoryData<string> Styles => new() { "", ", libver='latest'", ", libver='latest', track_order=True" };

    [SkippableTheory]
    [MemberData(nameof(Styles))]
    public void Valid_files_of_every_group_style_pass(string open)
    {
        using var dir = new TempDir();
        // Old-style (symbol tables), compact and dense new-style groups (over 8 links), chunked datasets.
        var path = H5py(dir, "valid.h5", KerasLike + """

            for i in range(20): f['model_weights'].attrs[f'a{i}'] = np.arange(i + 1, dtype='f4')
            d = f.create_group('many')
            for i in range(40): d[f'w{i}'] = np.full((3,), i, 'f4')
            d['chunked'] = np.zeros((64, 64), 'f4')
            f.create_dataset('many/deflate', data=np.ones((100, 50), 'f4'), chunks=(10, 10), compression='gzip')
            f['soft'] = h5py.SoftLink('/model_weights/lstm')
            f['many/shared'] = f['many/w1']
            """, open);
        Hdf5Structure.Check(path);
        var s = Hdf5Structure.Describe(File.ReadAllBytes(path));
        Assert.Equal(6, s.Groups);
        Assert.Equal(3 + 40 + 2, s.Datasets); // many/shared is w1 again
        Assert.Equal(3 + 1 + 1 + 1 + 3 + 43, s.Links);
        if (open.Contains("latest")) Assert.Equal(1, s.DenseGroups);
    }

    [SkippableTheory]
    [MemberData(nameof(Styles))]
    public void A_soft_link_to_itself_is_refused(string open)
    {
        using var dir = new TempDir();
        var path = H5py(dir, "self.h5", KerasLike + "\nf['model_weights/lstm/lstm/lstm_cell/loop'] = h5py.SoftLink('/model_weights/lstm/lstm/lstm_cell/loop')", open);
        Refused(path, "soft link '/model_weights/lstm/lstm/lstm_cell/loop' does not resolve within 16 hops");
    }

    [SkippableTheory]
    [MemberData(nameof(Styles))]
    public void Soft_links_that_loop_through_each_other_or_an_ancestor_are_refused(string open)
    {
        using var dir = new TempDir();
        Refused(H5py(dir, "ab.h5", KerasLike + "\nf['a'] = h5py.SoftLink('/b')\nf['b'] = h5py.SoftLink('/a')", open), "does not resolve within 16 hops");
        // The link names a path through itself.
        Refused(H5py(dir, "through.h5", KerasLike + "\nf['x'] = h5py.SoftLink('/x/y')", open), "soft link '/x' does not resolve");
        // A relative link to its own group: resolves, but walking the tree through it never ends.
        Refused(H5py(dir, "up.h5", KerasLike + "\nf['model_weights/lstm/up'] = h5py.SoftLink('/model_weights')", open), "a cycle of groups");
    }

    [SkippableTheory]
    [MemberData(nameof(Styles))]
    public void A_hard_link_back_to_the_root_is_refused(string open)
    {
        using var dir = new TempDir();
        var path = H5py(dir, "root.h5", KerasLike + "\nf['model_weights/lstm/loop'] = f['/']", open);
        Refused(path, "link '/model_weights/lstm/loop' leads back to '/'");
    }

    [SkippableTheory]
    [MemberData(nameof(Styles))]
    public void An_external_link_is_refused(string open)
    {
        using var dir = new TempDir();
        var path = H5py(dir, "ext.h5", KerasLike + "\nf['model_weights/other'] = h5py.ExternalLink('other.h5', '/x')", open);
        var e = Refused(path, "external link '/model_weights/other' to another file (other.h5 /x)");
        Assert.Contains("does not follow links into other files", e.Message);
    }

    [SkippableFact]
    public void A_long_chain_of_soft_links_is_refused_past_16_hops_and_passes_below()
    {
        using var dir = new TempDir();
        Hdf5Structure.Check(H5py(dir, "ok.h5", KerasLike + "\nf['c0'] = h5py.SoftLink('/model_weights')\nfor i in range(1, 15): f[f'c{i}'] = h5py.SoftLink(f'/c{i-1}')"));
        Refused(H5py(dir, "long.h5", KerasLike + "\nf['c0'] = h5py.SoftLink('/model_weights')\nfor i in range(1, 40): f[f'c{i}'] = h5py.SoftLink(f'/c{i-1}')"), "does not resolve within 16 hops");
    }

    /// <summary>The old-style group's B-tree node at level 1 (many entries) made its own child, and its own sibling.</summary>
    [SkippableFact]
    public void A_btree_node_that_is_its_own_child_or_sibling_is_refused()
    {
        using var dir = new TempDir();
        var path = H5py(dir, "tree.h5", "g = f.create_group('g')\nfor i in range(200): g[f'w{i:03}'] = np.zeros((2,), 'f4')");
        Hdf5Structure.Check(path);
        var map = H5Map.Parse(File.ReadAllBytes(path))!;
        var node = map.TreeNodes.First(n => n.Type == 0 && n.Level > 0);
        var child = (byte[])map.Data.Clone();
        Bytes.Write(child, node.ChildFields[0], map.O, (ulong)(node.At - map.Base));
        File.WriteAllBytes(path, child);
        Refused(path, "reached twice (its structure loops)");
        // The same with the group's symbol table message flagged as shared: PureHDF reads it all the same.
        var table = map.Messages.First(m => m.Type == 0x11 && map.HeaderPaths[m.Header] == "/g");
        child[table.At + 4] = 0x02;
        File.WriteAllBytes(path, child);
        Refused(path, "reached twice (its structure loops)");

        var leaf = map.TreeNodes.First(n => n.Type == 0 && n.Level == 0);
        var sibling = (byte[])map.Data.Clone();
        Bytes.Write(sibling, leaf.RightSiblingAt, map.O, (ulong)(leaf.At - map.Base));
        File.WriteAllBytes(path, sibling);
        Refused(path, "is its own sibling");
    }

    [SkippableFact]
    public void A_chunk_btree_node_that_is_its_own_child_is_refused()
    {
        using var dir = new TempDir();
        var path = H5py(dir, "chunks.h5", "f.create_dataset('d', data=np.zeros((400, 400), 'f4'), chunks=(8, 8))");
        Hdf5Structure.Check(path);
        var map = H5Map.Parse(File.ReadAllBytes(path))!;
        var node = map.TreeNodes.First(n => n.Type == 1 && n.Level > 0);
        var data = (byte[])map.Data.Clone();
        // A 2-D dataset's chunk keys: size, filter mask and 3 offsets of 8 bytes; the first child follows the first key.
        long firstChild = node.At + 8 + 2 * map.O + 8 + 8 * 3;
        Bytes.Write(data, firstChild, map.O, (ulong)(node.At - map.Base));
        File.WriteAllBytes(path, data);
        Refused(path, "chunk B-tree node of '/d'");
    }

    [SkippableFact]
    public void A_continuation_into_itself_is_refused()
    {
        using var dir = new TempDir();
        // Attributes added after other objects: the group's header continues in an OCHK block.
        var path = H5py(dir, "cont.h5", "g = f.create_group('g')\nf.create_group('h')\nf['d'] = np.zeros(100)\nfor i in range(6): g.attrs[f'a{i}'] = np.zeros((50,), 'f8')", ", libver='latest'");
        Hdf5Structure.Check(path);
        var map = H5Map.Parse(File.ReadAllBytes(path))!;
        var cont = map.Messages.First(m => m.Type == 0x10);
        var data = (byte[])map.Data.Clone();
        // The continuation's address made the OCHK block it leads to: a second continuation message there pointing back.
        long block = (long)Bytes.Read(data, cont.Body, map.O) + map.Base;
        var inBlock = map.Messages.First(m => m.At > block && m.Type != 0x10 && m.Size >= map.O + map.L);
        data[inBlock.At] = 0x10;
        Bytes.Write(data, inBlock.Body, map.O, (ulong)(block - map.Base));
        Bytes.Write(data, inBlock.Body + map.O, map.L, Bytes.Read(data, cont.Body + map.O, map.L));
        File.WriteAllBytes(path, data);
        Refused(path, "continuation of '/g' at");
    }

    /// <summary>D5: a link name length of 2^31-1 (PureHDF allocated it) and an attribute claiming more data than its message.</summary>
    [SkippableFact]
    public void Sizes_past_their_message_or_the_file_are_refused()
    {
        using var dir = new TempDir();
        var path = H5py(dir, "sizes.h5", KerasLike, ", libver='latest'");
        var map = H5Map.Parse(File.ReadAllBytes(path))!;
        var field = map.Fields.First(f => f.Name.EndsWith(": link name length"));
        var data = (byte[])map.Data.Clone();
        data[field.Offset] = 0xFF; // a 1-byte length: 255, past the message
        File.WriteAllBytes(path, data);
        Refused(path, "has a name of 255 bytes");

        var dim = map.Fields.First(f => f.Name.Contains("@") && f.Name.EndsWith("dataspace dim 0"));
        data = (byte[])map.Data.Clone();
        Bytes.Write(data, dim.Offset, dim.Width, int.MaxValue);
        File.WriteAllBytes(path, data);
        Refused(path, "says it holds");

        var hard = map.Fields.First(f => f.Name.EndsWith(": hard link address"));
        data = (byte[])map.Data.Clone();
        Bytes.Write(data, hard.Offset, hard.Width, (ulong)data.Length * 4);
        File.WriteAllBytes(path, data);
        Refused(path, "past the end of the file");
    }

    /// <summary>A string attribute's global heap object claiming 2^40 bytes: PureHDF allocated it (OutOfMemoryException).</summary>
    [SkippableFact]
    public void A_global_heap_object_larger_than_its_collection_is_refused()
    {
        using var dir = new TempDir();
        var path = H5py(dir, "vlen.h5", "f.attrs['keras_version'] = '2.4.0'\nf.attrs['backend'] = 'tensorflow'");
        Hdf5Structure.Check(path);
        var data = File.ReadAllBytes(path);
        int gcol = data.AsSpan().IndexOf("GCOL"u8);
        Assert.True(gcol > 0, "h5py wrote no global heap");
        // Collection header: signature, version, 3 reserved, size (8); the first object: index, references, reserved, size (8).
        Bytes.Write(data, gcol + 16 + 8, 8, 1UL << 40);
        File.WriteAllBytes(path, data);
        Refused(path, "holds an object of 1099511627776 bytes");
    }

    /// <summary>Damage that is no loop (a group's index overwritten) is left for the reader: it costs that layer only.</summary>
    [SkippableFact]
    public void A_damaged_group_index_is_left_to_the_reader()
    {
        using var dir = new TempDir();
        var path = H5py(dir, "snod.h5", KerasLike);
        var data = File.ReadAllBytes(path);
        int snod = data.AsSpan().LastIndexOf("SNOD"u8);
        "XXXX"u8.CopyTo(data.AsSpan(snod));
        Assert.Equal(1, Hdf5Structure.Describe(data).DamagedObjects);
    }

    [SkippableFact]
    public void Every_h5_and_keras_fixture_passes()
    {
        var root = Repo.Fixtures;
        Skip.IfNot(Directory.Exists(root), "../shared/fixtures is not present next to the repository; the generated files above still run");
        int n = 0;
        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
        {
            var ext = Path.GetExtension(file).ToLowerInvariant();
            if (ext is ".h5" or ".hdf5")
            {
                if (!File.ReadAllBytes(file).AsSpan().StartsWith(Hdf5Data.Signature)) continue;
                Hdf5Structure.Check(file);
                n++;
            }
            else if (ext == ".keras")
            {
                using var zip = ZipFile.OpenRead(file);
                if (zip.GetEntry("model.weights.h5") is not { } entry) continue;
                using var s = entry.Open();
                var bytes = new MemoryStream();
                s.CopyTo(bytes);
                Hdf5Structure.Check(bytes.ToArray(), file);
                n++;
            }
        }
        Assert.True(n > 0, "no HDF5 fixtures found");
    }

    [SkippableFact]
    public void Datasets_whose_data_lives_in_other_files_are_refused()
    {
        using var dir = new TempDir();
        // HDF5 external storage and virtual datasets name other files, which PureHDF would open.
        Refused(H5py(dir, "raw.h5", KerasLike + "\nf.create_dataset('x', (10,), 'f4', external=[('raw.bin', 0, 40)])"),
            "dataset '/x' keeps its data in other files");
        var vds = "layout = h5py.VirtualLayout(shape=(4,), dtype='f4')\nlayout[:] = h5py.VirtualSource('other.h5', 'd', shape=(4,))\nf.create_virtual_dataset('v', layout)";
        Refused(H5py(dir, "vds.h5", KerasLike + "\n" + vds), "dataset '/v' is a virtual dataset");
    }

    [SkippableFact]
    public void A_dataset_stating_more_data_than_the_file_can_hold_is_refused_before_allocation()
    {
        using var dir = new TempDir();
        // A Dense kernel of [2^28, 4] float32 (4 GiB) with no data written: a small file that states 4 GiB.
        string Dense(string name, string chunks) => H5py(dir, name, $"""
            f.attrs['layer_names'] = [b'dense']
            g = f.create_group('dense/dense')
            f['dense'].attrs['weight_names'] = [b'dense/kernel:0', b'dense/bias:0']
            g.create_dataset('kernel:0', shape=(1 << 28, 4), dtype='f4'{chunks})
            g['bias:0'] = np.zeros((4,), 'f4')
            """);
        // Stored as it is: the pre-flight check refuses the file.
        var whole = Assert.ThrowsAny<LstmPortException>(() => Formats.WeightReader.Read(Dense("contiguous.h5", "")));
        Assert.Equal(ErrorIds.CorruptFile, whole.ErrorId);
        Assert.Contains("the data of '/dense/dense/kernel:0' is 4294967296 bytes, more than the whole file", whole.Message);
        // Chunked (it could be compressed): the tensor is refused when used, before its memory is taken.
        var kernel = Formats.WeightReader.Read(Dense("chunked.h5", ", chunks=(4096, 4)")).Tensors.Single(t => t.Name.EndsWith("kernel:0", StringComparison.Ordinal));
        var e = Assert.ThrowsAny<LstmPortException>(() => kernel.ToArray());
        Assert.Equal(ErrorIds.CorruptFile, e.ErrorId);
        Assert.Contains("states 4,294,967,296 bytes of data ([268435456,4] float32)", e.Message);
        Assert.Contains("compressed chunks expand at most 1032 times", e.Message);
    }

    [SkippableFact]
    public void A_file_changed_after_it_was_listed_is_checked_again_before_a_tensor_is_read()
    {
        using var dir = new TempDir();
        const string dense = """
            f.attrs['layer_names'] = [b'dense']
            f['dense'].attrs['weight_names'] = [b'dense/kernel:0', b'dense/bias:0']
            f['dense/dense/kernel:0'] = np.ones((3, 4), 'f4')
            f['dense/dense/bias:0'] = np.zeros((4,), 'f4')
            """;
        var path = H5py(dir, "w.h5", "f.create_group('dense')\n" + dense);
        var tensors = Formats.WeightReader.Read(path).Tensors;
        Assert.Equal(2, tensors.Count);
        // Replaced by a file whose links loop: PureHDF must not see it (its recursion would end the process).
        File.Copy(H5py(dir, "loop.h5", "f.create_group('dense')\n" + dense + "\nf['a'] = h5py.SoftLink('/b')\nf['b'] = h5py.SoftLink('/a')"), path, overwrite: true);
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddMinutes(1));
        var e = Assert.ThrowsAny<LstmPortException>(() => tensors[0].ToArray());
        Assert.Equal(ErrorIds.CorruptFile, e.ErrorId);
        Assert.Contains("does not resolve within 16 hops", e.Message);
    }

    [SkippableFact]
    public void Undefined_addresses_where_an_object_must_be_are_refused()
    {
        using var dir = new TempDir();
        // PureHDF would seek to offset -1 (an IOException, not damage, to .NET).
        var path = H5py(dir, "entry.h5", KerasLike);
        var map = H5Map.Parse(File.ReadAllBytes(path))!;
        var entry = map.Entries.First(e => e.Name == "kernel:0");
        var data = (byte[])map.Data.Clone();
        Bytes.Write(data, entry.At + map.O, map.O, ulong.MaxValue);
        File.WriteAllBytes(path, data);
        Refused(path, "entry 'kernel:0' of group '/model_weights/lstm/lstm/lstm_cell' points at no object");

        path = H5py(dir, "cont.h5", "g = f.create_group('g')\nf.create_group('h')\nf['d'] = np.zeros(100)\nfor i in range(6): g.attrs[f'a{i}'] = np.zeros((50,), 'f8')", ", libver='latest'");
        map = H5Map.Parse(File.ReadAllBytes(path))!;
        data = (byte[])map.Data.Clone();
        Bytes.Write(data, map.Messages.First(m => m.Type == 0x10).Body, map.O, ulong.MaxValue);
        File.WriteAllBytes(path, data);
        Refused(path, "a continuation of '/g' has no address");
    }
}
