using System.Text;
using LstmPort.Formats;
using LstmPort.Fuzz.Formats;
using PureHDF;
using TorchSharp;

namespace LstmPort.Fuzz.Seeds;

/// <summary>
/// Small, valid seed files of every format, made here so the suite runs without the fixtures (as in
/// CI): through the engine's own writers (WeightWriter: .pth, .safetensors, Keras .h5), PureHDF for
/// the HDF5 variants the engine does not write (Keras 3 layout, compact and chunked datasets,
/// variable-length strings), TfCheckpointWriter for TensorFlow checkpoints and SavedModels, and by
/// hand for pickles (legacy torch files, wrapped and shared-storage state_dicts), zips and GraphDefs.
/// Values come from a seeded Random, so the seeds are the same bytes on every run.
/// </summary>
public static class GeneratedSeeds
{
    static readonly object Gate = new();
    static IReadOnlyList<SeedInput>? _all;

    /// <summary>All generated seeds (made once per process).</summary>
    public static IReadOnlyList<SeedInput> All
    {
        get { lock (Gate) return _all ??= Make(); }
    }

    static List<SeedInput> Make()
    {
        LstmPort.Runtime.TorchRuntime.EnsureLoaded();
        var seeds = new List<SeedInput>();
        var dir = Directory.CreateTempSubdirectory("lstmport-fuzz-seeds-");
        try
        {
            seeds.AddRange(Engine(dir.FullName));
            seeds.AddRange(Hdf5Variants());
            seeds.AddRange(KerasArchives(dir.FullName));
            seeds.AddRange(TorchByHand());
            seeds.AddRange(TensorFlow());
            seeds.AddRange(OnnxSeeds.All());
        }
        finally { try { dir.Delete(recursive: true); } catch (IOException) { } }
        return seeds;
    }

    // ---- values ----

    static float[] Values(int seed, int n)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
    }

    static byte[] FloatBytes(float[] v)
    {
        var b = new byte[v.Length * 4];
        Buffer.BlockCopy(v, 0, b, 0, b.Length);
        return b;
    }

    static LstmTensor T(string name, string layer, LayerType type, TensorRole role, Layout layout, int[] shape, int seed,
        Direction direction = Direction.Forward)
    {
        var n = shape.Aggregate(1, (a, d) => a * d);
        var t = torch.tensor(Values(seed, n), shape.Select(d => (long)d).ToArray());
        return LstmTensor.FromTensor(t, name, layer, type, role, layout, direction);
    }

    // ---- through the engine's writers ----

    static IEnumerable<SeedInput> Engine(string dir)
    {
        int i = 0, h = 2, inp = 3;
        var kerasLstm = new List<LstmTensor>
        {
            T("lstm/lstm/lstm_cell/kernel:0", "lstm", LayerType.LSTM, TensorRole.Kernel, Layout.Keras, [inp, 4 * h], ++i),
            T("lstm/lstm/lstm_cell/recurrent_kernel:0", "lstm", LayerType.LSTM, TensorRole.RecurrentKernel, Layout.Keras, [h, 4 * h], ++i),
            T("lstm/lstm/lstm_cell/bias:0", "lstm", LayerType.LSTM, TensorRole.Bias, Layout.Keras, [4 * h], ++i),
            T("dense/dense/kernel:0", "dense", LayerType.Dense, TensorRole.Kernel, Layout.Keras, [h, 1], ++i),
            T("dense/dense/bias:0", "dense", LayerType.Dense, TensorRole.Bias, Layout.Keras, [1], ++i),
        };
        var kerasBiGru = new List<LstmTensor>();
        foreach (var (half, d) in new[] { ("forward_gru", Direction.Forward), ("backward_gru", Direction.Backward) })
        {
            kerasBiGru.Add(T($"bidirectional/bidirectional/{half}/gru_cell/kernel:0", "bidirectional", LayerType.GRU, TensorRole.Kernel, Layout.Keras, [inp, 3 * h], ++i, d));
            kerasBiGru.Add(T($"bidirectional/bidirectional/{half}/gru_cell/recurrent_kernel:0", "bidirectional", LayerType.GRU, TensorRole.RecurrentKernel, Layout.Keras, [h, 3 * h], ++i, d));
            kerasBiGru.Add(T($"bidirectional/bidirectional/{half}/gru_cell/bias:0", "bidirectional", LayerType.GRU, TensorRole.Bias, Layout.Keras, [2, 3 * h], ++i, d));
        }
        kerasBiGru.Add(T("dense_1/dense_1/kernel:0", "dense_1", LayerType.Dense, TensorRole.Kernel, Layout.Keras, [2 * h, 1], ++i));
        kerasBiGru.Add(T("dense_1/dense_1/bias:0", "dense_1", LayerType.Dense, TensorRole.Bias, Layout.Keras, [1], ++i));

        var torchLstm = new List<LstmTensor>();
        for (int depth = 0; depth < 2; depth++)
            foreach (var (suffix, d) in new[] { ("", Direction.Forward), ("_reverse", Direction.Backward) })
            {
                int input = depth == 0 ? inp : 2 * h;
                torchLstm.Add(T($"lstm.weight_ih_l{depth}{suffix}", "lstm", LayerType.LSTM, TensorRole.Kernel, Layout.Torch, [4 * h, input], ++i, d));
                torchLstm.Add(T($"lstm.weight_hh_l{depth}{suffix}", "lstm", LayerType.LSTM, TensorRole.RecurrentKernel, Layout.Torch, [4 * h, h], ++i, d));
                torchLstm.Add(T($"lstm.bias_ih_l{depth}{suffix}", "lstm", LayerType.LSTM, TensorRole.InputBias, Layout.Torch, [4 * h], ++i, d));
                torchLstm.Add(T($"lstm.bias_hh_l{depth}{suffix}", "lstm", LayerType.LSTM, TensorRole.RecurrentBias, Layout.Torch, [4 * h], ++i, d));
            }
        torchLstm.Add(T("fc.weight", "fc", LayerType.Dense, TensorRole.Weight, Layout.Torch, [1, 2 * h], ++i));
        torchLstm.Add(T("fc.bias", "fc", LayerType.Dense, TensorRole.Bias, Layout.Torch, [1], ++i));
        var torchGru = new List<LstmTensor>
        {
            T("gru.weight_ih_l0", "gru", LayerType.GRU, TensorRole.Kernel, Layout.Torch, [3 * h, inp], ++i),
            T("gru.weight_hh_l0", "gru", LayerType.GRU, TensorRole.RecurrentKernel, Layout.Torch, [3 * h, h], ++i),
            T("gru.bias_ih_l0", "gru", LayerType.GRU, TensorRole.InputBias, Layout.Torch, [3 * h], ++i),
            T("gru.bias_hh_l0", "gru", LayerType.GRU, TensorRole.RecurrentBias, Layout.Torch, [3 * h], ++i),
        };

        SeedInput Write(string name, Family family, IReadOnlyList<LstmTensor> tensors)
        {
            var path = Path.Combine(dir, name);
            WeightWriter.Write(path, tensors, overwrite: true);
            return Single("gen:" + name, family, name, File.ReadAllBytes(path));
        }

        yield return Write("keras-lstm-dense.h5", Family.Hdf5, kerasLstm);
        yield return Write("keras-bigru-dense.h5", Family.Hdf5, kerasBiGru);
        yield return Write("torch-bilstm-2layer.pth", Family.TorchZip, torchLstm);
        yield return Write("torch-gru.pt", Family.TorchZip, torchGru);
        yield return Write("torch-bilstm-2layer.safetensors", Family.Safetensors, torchLstm);
        yield return Write("torch-gru.safetensors", Family.Safetensors, torchGru);
    }

    static SeedInput Single(string name, Family family, string file, byte[] bytes) =>
        new(name, family, new Dictionary<string, byte[]>(StringComparer.Ordinal) { [file] = bytes }, file, "generated");

    // ---- HDF5 through PureHDF: layouts and string kinds the engine's writer does not produce ----

    static H5Dataset Dataset(int[] shape, int seed, bool chunked, bool compact)
    {
        var values = Values(seed, shape.Aggregate(1, (a, d) => a * d));
        var dims = shape.Select(d => (ulong)d).ToArray();
        if (chunked)
            return new H5Dataset(values, fileDims: dims, chunks: shape.Select(d => (uint)Math.Max(1, (d + 1) / 2)).ToArray(),
                datasetCreation: new PureHDF.VOL.Native.H5DatasetCreation(Filters: [new PureHDF.Filters.H5Filter(PureHDF.Filters.DeflateFilter.Id)]));
        return new H5Dataset(values, fileDims: dims);
    }

    /// <summary>A tf.keras 2 weights file written with PureHDF directly: compact or chunked+deflated datasets, fixed or variable-length strings.</summary>
    static byte[] KerasH5(bool chunked, bool compact, int stringLength)
    {
        var file = new H5File();
        file.Attributes["layer_names"] = new[] { "lstm", "dense" };
        file.Attributes["backend"] = "tensorflow";
        file.Attributes["keras_version"] = "2.4.0";
        var lstm = new H5Group();
        lstm.Attributes["weight_names"] = new[] { "lstm/lstm_cell/kernel:0", "lstm/lstm_cell/recurrent_kernel:0", "lstm/lstm_cell/bias:0" };
        lstm["lstm"] = new H5Group
        {
            ["lstm_cell"] = new H5Group
            {
                ["kernel:0"] = Dataset([3, 8], 101, chunked, compact),
                ["recurrent_kernel:0"] = Dataset([2, 8], 102, chunked, compact),
                ["bias:0"] = Dataset([8], 103, chunked, compact),
            },
        };
        var dense = new H5Group();
        dense.Attributes["weight_names"] = new[] { "dense/kernel:0", "dense/bias:0" };
        dense["dense"] = new H5Group { ["kernel:0"] = Dataset([2, 1], 104, chunked, compact), ["bias:0"] = Dataset([1], 105, chunked, compact) };
        file["lstm"] = lstm;
        file["dense"] = dense;
        var ms = new MemoryStream();
        file.Write(ms, new H5WriteOptions(DefaultStringLength: stringLength, PreferCompactDatasetLayout: compact));
        return ms.ToArray();
    }

    /// <summary>A Keras 3 model.weights.h5: layers/&lt;path&gt;/vars/0..n under groups whose vars carry the layer's name.</summary>
    static byte[] Keras3Weights()
    {
        var file = new H5File();
        H5Group Vars(string name, params H5Dataset[] datasets)
        {
            var g = new H5Group();
            g.Attributes["name"] = name;
            for (int k = 0; k < datasets.Length; k++) g[k.ToString()] = datasets[k];
            return g;
        }
        file["layers"] = new H5Group
        {
            ["lstm"] = new H5Group
            {
                ["vars"] = Vars("lstm"),
                ["cell"] = new H5Group { ["vars"] = Vars("lstm_cell", Dataset([3, 8], 201, false, false), Dataset([2, 8], 202, false, false), Dataset([8], 203, false, false)) },
            },
            ["dense"] = new H5Group { ["vars"] = Vars("dense", Dataset([2, 1], 204, false, false), Dataset([1], 205, false, false)) },
        };
        file["optimizer"] = new H5Group { ["vars"] = Vars("adam", Dataset([1], 206, false, false)) };
        file["vars"] = Vars("sequential");
        var ms = new MemoryStream();
        file.Write(ms, new H5WriteOptions(DefaultStringLength: 0));
        return ms.ToArray();
    }

    /// <summary>tf.keras 2 save_weights as h5py writes it by default: old-style groups, version-0 superblock.</summary>
    static byte[] OldStyleKeras()
    {
        OldStyleHdf5.Dataset D(string name, int[] shape, int seed) => new(name, shape, Values(seed, shape.Aggregate(1, (a, d) => a * d)));
        var lstm = new OldStyleHdf5.Group("lstm", new OldStyleHdf5.Group("lstm", new OldStyleHdf5.Group("lstm_cell",
            D("kernel:0", [3, 8], 111), D("recurrent_kernel:0", [2, 8], 112), D("bias:0", [8], 113))));
        lstm.Attributes.Add(("weight_names", new[] { "lstm/lstm_cell/kernel:0", "lstm/lstm_cell/recurrent_kernel:0", "lstm/lstm_cell/bias:0" }));
        var dense = new OldStyleHdf5.Group("dense", new OldStyleHdf5.Group("dense", D("kernel:0", [2, 1], 114), D("bias:0", [1], 115)));
        dense.Attributes.Add(("weight_names", new[] { "dense/kernel:0", "dense/bias:0" }));
        var root = new OldStyleHdf5.Group("", lstm, dense);
        root.Attributes.Add(("layer_names", new[] { "lstm", "dense" }));
        root.Attributes.Add(("backend", "tensorflow"));
        root.Attributes.Add(("keras_version", "2.2.4"));
        return OldStyleHdf5.Write(root);
    }

    static IEnumerable<SeedInput> Hdf5Variants()
    {
        yield return Single("gen:keras-h5py-style.h5", Family.Hdf5, "keras-h5py-style.h5", OldStyleKeras());
        yield return Single("gen:keras-compact-vlen.h5", Family.Hdf5, "keras-compact-vlen.h5", KerasH5(chunked: false, compact: true, stringLength: 0));
        yield return Single("gen:keras-chunked-deflate.h5", Family.Hdf5, "keras-chunked-deflate.h5", KerasH5(chunked: true, compact: false, stringLength: 40));
    }

    // ---- Keras 3 archives ----

    const string Keras3Config = """
        {"module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "layers": [
        {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 5, 3], "dtype": "float32", "name": "input_layer"}},
        {"module": "keras.layers", "class_name": "LSTM", "config": {"name": "lstm", "units": 2, "activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": true, "return_sequences": false, "go_backwards": false}},
        {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense", "units": 1, "activation": "linear", "use_bias": true}}]}}
        """;

    static IEnumerable<SeedInput> KerasArchives(string dir)
    {
        var config = Encoding.UTF8.GetBytes(Keras3Config);
        var metadata = Encoding.UTF8.GetBytes("""{"keras_version": "3.3.3", "date_saved": "2024-05-01@12:00:00"}""");
        byte[] Archive(byte[] weights, int method) => Zip.Build(
        [
            new ZipItem { Name = "metadata.json", Method = method, Data = metadata },
            new ZipItem { Name = "config.json", Method = method, Data = config },
            new ZipItem { Name = "model.weights.h5", Method = 0, Data = weights },
        ]);
        yield return Single("gen:keras3-lstm.keras", Family.KerasArchive, "keras3-lstm.keras", Archive(Keras3Weights(), 8));
        // Keras 3 may also put a legacy-layout weights file in the archive.
        var legacy = KerasH5(chunked: false, compact: false, stringLength: 40);
        yield return Single("gen:keras-legacy-inside.keras", Family.KerasArchive, "keras-legacy-inside.keras", Archive(legacy, 0));
    }

    // ---- torch files by hand ----

    static readonly System.Numerics.BigInteger LegacyMagic = System.Numerics.BigInteger.Parse("1950a86a20f9469cfc6c", System.Globalization.NumberStyles.HexNumber);

    /// <summary>
    /// A checkpoint torch.save would write for {'epoch': 3, 'state_dict': OrderedDict(...), 'optimizer': {}}:
    /// two tensors viewing one storage at different offsets, one of them transposed (non-contiguous).
    /// </summary>
    static byte[] WrappedStateDictPickle(out Dictionary<string, byte[]> storages)
    {
        int h = 2, inp = 3;
        var ih = Values(301, 4 * h * inp);
        var hh = Values(302, 4 * h * h);
        var bias = Values(303, 8 * h);
        storages = new Dictionary<string, byte[]>
        {
            ["0"] = FloatBytes([.. ih, .. hh]),
            ["1"] = FloatBytes(bias),
        };
        var p = new PickleBuilder().Proto(2).EmptyDict().Put().Mark();
        p.Str("epoch").Int(3);
        p.Str("state_dict").Global("collections", "OrderedDict").Tuple(0).Reduce().Put().Mark();
        p.TorchTensor("rnn.weight_ih_l0", "FloatStorage", "0", ih.Length + hh.Length, 0, [4 * h, inp], [inp, 1]);
        // weight_hh_l0 stored transposed: a non-contiguous view.
        p.TorchTensor("rnn.weight_hh_l0", "FloatStorage", "0", ih.Length + hh.Length, ih.Length, [4 * h, h], [1, 4 * h]);
        p.TorchTensor("rnn.bias_ih_l0", "FloatStorage", "1", 8 * h, 0, [4 * h], [1]);
        p.TorchTensor("rnn.bias_hh_l0", "FloatStorage", "1", 8 * h, 4 * h, [4 * h], [1]);
        p.SetItems();
        p.Str("optimizer").EmptyDict();
        p.SetItems().Stop();
        return p.ToArray();
    }

    static IEnumerable<SeedInput> TorchByHand()
    {
        // Zip format with a wrapper dict and shared storages.
        var pkl = WrappedStateDictPickle(out var storages);
        var items = new List<ZipItem>
        {
            new() { Name = "checkpoint/data.pkl", Data = pkl },
            new() { Name = "checkpoint/byteorder", Data = "little"u8.ToArray() },
        };
        foreach (var (key, bytes) in storages.OrderBy(s => s.Key, StringComparer.Ordinal)) items.Add(new ZipItem { Name = $"checkpoint/data/{key}", Data = bytes });
        items.Add(new ZipItem { Name = "checkpoint/version", Data = "3\n"u8.ToArray() });
        yield return Single("gen:torch-wrapped-shared.pth", Family.TorchZip, "torch-wrapped-shared.pth", Zip.Build(items));

        // Legacy format (torch < 1.6): magic, protocol, sys_info, the state_dict pickle, the storage keys, the storages.
        int h = 2, inp = 3;
        var w = Values(401, 4 * h * inp + 4 * h * h);
        var b = Values(402, 8 * h);
        var legacy = new MemoryStream();
        legacy.Write(new PickleBuilder().Proto(2).Long(LegacyMagic).Stop().ToArray());
        legacy.Write(new PickleBuilder().Proto(2).Int(1001).Stop().ToArray());
        legacy.Write(new PickleBuilder().Proto(2).EmptyDict().Put().Mark()
            .Str("protocol_version").Int(1001).Str("little_endian").Bool(true)
            .Str("type_sizes").EmptyDict().Put().Mark().Str("short").Int(2).Str("int").Int(4).Str("long").Int(4).SetItems()
            .SetItems().Stop().ToArray());
        var state = new PickleBuilder().Proto(2).Global("collections", "OrderedDict").Tuple(0).Reduce().Put().Mark();
        state.TorchTensor("lstm.weight_ih_l0", "FloatStorage", "94245", w.Length, 0, [4 * h, inp], [inp, 1], legacyView: true);
        state.TorchTensor("lstm.weight_hh_l0", "FloatStorage", "94245", w.Length, 4 * h * inp, [4 * h, h], [h, 1], legacyView: true);
        state.TorchTensor("lstm.bias_ih_l0", "FloatStorage", "94311", b.Length, 0, [4 * h], [1], legacyView: true);
        state.TorchTensor("lstm.bias_hh_l0", "FloatStorage", "94311", b.Length, 4 * h, [4 * h], [1], legacyView: true);
        legacy.Write(state.SetItems().Stop().ToArray());
        legacy.Write(new PickleBuilder().Proto(2).EmptyList().Put().Mark().Str("94245").Str("94311").Op((byte)'e').Stop().ToArray());
        foreach (var data in new[] { w, b })
        {
            legacy.Write(BitConverter.GetBytes((long)data.Length));
            legacy.Write(FloatBytes(data));
        }
        yield return Single("gen:torch-legacy.pth", Family.TorchLegacy, "torch-legacy.pth", legacy.ToArray());

        // Safetensors by hand: metadata, mixed dtypes.
        var header = """{"__metadata__":{"format":"pt"},"emb.weight":{"dtype":"F16","shape":[4,2],"data_offsets":[0,16]},"step":{"dtype":"I64","shape":[],"data_offsets":[16,24]},"gru.weight_hh_l0":{"dtype":"F32","shape":[6,2],"data_offsets":[24,72]}}""";
        var st = new MemoryStream();
        var half = Values(501, 8).Select(v => (Half)v).ToArray();
        foreach (var x in half) st.Write(BitConverter.GetBytes(x));
        st.Write(BitConverter.GetBytes(1234L));
        st.Write(FloatBytes(Values(502, 12)));
        var hb = Encoding.UTF8.GetBytes(header);
        yield return Single("gen:mixed.safetensors", Family.Safetensors, "mixed.safetensors", Formats.Safetensors.Join(hb, st.ToArray()));
    }

    // ---- TensorFlow ----

    /// <summary>A GraphDef of frozen TF1 LSTM weights: Const nodes with their /read Identity, one as tensor_content, one as float_val.</summary>
    static ProtoMessage FrozenGraph(int inp, int h)
    {
        static ProtoMessage Tensor(long[] shape, float[] values, bool content)
        {
            var t = new ProtoMessage().Varint(1, 1).Message(2, TfCheckpointWriter.Shape(shape));
            if (content) t.Bytes(4, FloatBytes(values));
            else
            {
                var packed = new MemoryStream();
                foreach (var v in values) packed.Write(BitConverter.GetBytes(v));
                t.Bytes(5, packed.ToArray());
            }
            return t;
        }
        static ProtoMessage Attr(string key, ProtoMessage value) => new ProtoMessage().String(1, key).Message(2, value);
        static ProtoMessage Const(string name, ProtoMessage tensor) => new ProtoMessage().String(1, name).String(2, "Const")
            .Message(5, Attr("dtype", new ProtoMessage().Varint(6, 1))).Message(5, Attr("value", new ProtoMessage().Message(8, tensor)));
        static ProtoMessage Identity(string name, string input) => new ProtoMessage().String(1, name).String(2, "Identity").String(3, input)
            .Message(5, Attr("T", new ProtoMessage().Varint(6, 1)));
        var g = new ProtoMessage();
        var scope = "rnn/basic_lstm_cell";
        g.Message(1, Const($"{scope}/kernel", Tensor([inp + h, 4 * h], Values(601, (inp + h) * 4 * h), content: true)));
        g.Message(1, Identity($"{scope}/kernel/read", $"{scope}/kernel"));
        g.Message(1, Const($"{scope}/bias", Tensor([4 * h], Values(602, 4 * h), content: false)));
        g.Message(1, Identity($"{scope}/bias/read", $"{scope}/bias"));
        g.Message(1, Const("rnn/Const", Tensor([], [1f], content: false)));
        g.Message(1, new ProtoMessage().String(1, "rnn/BiasAdd").String(2, "BiasAdd").String(3, $"{scope}/kernel/read").String(3, $"{scope}/bias/read"));
        // versions { producer: 27 }
        g.Message(4, new ProtoMessage().Varint(1, 27));
        return g;
    }

    static IEnumerable<SeedInput> TensorFlow()
    {
        int inp = 3, h = 2;
        yield return Single("gen:frozen_model.pb", Family.GraphDef, "frozen_model.pb", FrozenGraph(inp, h).ToBytes());

        // A TF1 name-based checkpoint of two stacked cells, with a .meta holding the graph.
        TfCheckpointWriter.Variable V(string name, long[] shape, int seed, int shard = 0) =>
            new(name, shape, Values(seed, (int)shape.Aggregate(1L, (a, d) => a * d)), shard);
        var tf1 = new[]
        {
            V("rnn/multi_rnn_cell/cell_0/lstm_cell/kernel", [inp + h, 4 * h], 701),
            V("rnn/multi_rnn_cell/cell_0/lstm_cell/bias", [4 * h], 702),
            V("rnn/multi_rnn_cell/cell_1/lstm_cell/kernel", [2 * h, 4 * h], 703),
            V("rnn/multi_rnn_cell/cell_1/lstm_cell/bias", [4 * h], 704),
            V("dense/kernel", [h, 1], 705),
            V("dense/bias", [1], 706),
        };
        var files = Prefixed("model.ckpt", new TfCheckpointWriter().Files(tf1));
        files["model.ckpt.meta"] = new ProtoMessage().Message(2, FrozenGraph(inp, h)).ToBytes();
        yield return new SeedInput("gen:tf1-ckpt", Family.TfCheckpoint, files, "model.ckpt", "generated");

        // Snappy blocks and two shards; a GRU cell.
        var gru = new[]
        {
            V("rnn/gru_cell/gates/kernel", [inp + h, 2 * h], 711, 0),
            V("rnn/gru_cell/gates/bias", [2 * h], 712, 1),
            V("rnn/gru_cell/candidate/kernel", [inp + h, h], 713, 1),
            V("rnn/gru_cell/candidate/bias", [h], 714, 0),
        };
        yield return new SeedInput("gen:tf1-gru-snappy-2shards", Family.TfCheckpoint,
            Prefixed("gru.ckpt", new TfCheckpointWriter { Snappy = true, Shards = 2, EntriesPerBlock = 2 }.Files(gru)), "gru.ckpt", "generated");

        // TF2 object-based checkpoint (Keras save_weights in TF format) and a SavedModel of the same model.
        var keys = new[] { "kernel", "recurrent_kernel", "bias" };
        var tf2Vars = new List<TfCheckpointWriter.Variable>
        {
            V("layer_with_weights-0/cell/kernel/.ATTRIBUTES/VARIABLE_VALUE", [inp, 4 * h], 721),
            V("layer_with_weights-0/cell/recurrent_kernel/.ATTRIBUTES/VARIABLE_VALUE", [h, 4 * h], 722),
            V("layer_with_weights-0/cell/bias/.ATTRIBUTES/VARIABLE_VALUE", [4 * h], 723),
            V("layer_with_weights-1/kernel/.ATTRIBUTES/VARIABLE_VALUE", [h, 1], 724),
            V("layer_with_weights-1/bias/.ATTRIBUTES/VARIABLE_VALUE", [1], 725),
            V("optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE", [], 726),
        };
        var graph = ObjectGraph();
        var writer = new TfCheckpointWriter();
        writer.Strings["_CHECKPOINTABLE_OBJECT_GRAPH"] = graph.ToBytes();
        yield return new SeedInput("gen:tf2-ckpt", Family.TfCheckpoint, Prefixed("ckpt-1", writer.Files(tf2Vars)), "ckpt-1", "generated");

        var saved = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var (suffix, bytes) in writer.Files(tf2Vars)) saved["variables/variables" + suffix] = bytes;
        // A SavedModel proto with only saved_model_schema_version; the reader looks for the file, not into it.
        saved["saved_model.pb"] = new ProtoMessage().Varint(1, 1).ToBytes();
        saved["keras_metadata.pb"] = KerasMetadata().ToBytes();
        yield return new SeedInput("gen:savedmodel", Family.SavedModel, saved, "", "generated");
    }

    static Dictionary<string, byte[]> Prefixed(string prefix, Dictionary<string, byte[]> files) =>
        files.ToDictionary(f => prefix + f.Key, f => f.Value, StringComparer.Ordinal);

    /// <summary>
    /// TrackableObjectGraph: 0 root -> layer_with_weights-0 (1), layer_with_weights-1 (2), optimizer (3);
    /// 1 -> cell (4); 4 -> kernel (5), recurrent_kernel (6), bias (7); 2 -> kernel (8), bias (9); 3 -> iter (10).
    /// </summary>
    static ProtoMessage ObjectGraph()
    {
        static ProtoMessage Ref(int id, string name) => new ProtoMessage().Varint(1, (ulong)id).String(2, name);
        static ProtoMessage Node(params (int Id, string Name)[] children)
        {
            var n = new ProtoMessage();
            foreach (var (id, name) in children) n.Message(1, Ref(id, name));
            return n;
        }
        static ProtoMessage Variable(string key) => new ProtoMessage()
            .Message(2, new ProtoMessage().String(1, "VARIABLE_VALUE").String(2, key.Split('/')[^3]).String(3, key));
        var g = new ProtoMessage();
        g.Message(1, Node((1, "layer_with_weights-0"), (2, "layer_with_weights-1"), (3, "optimizer")));
        g.Message(1, Node((4, "cell")));
        g.Message(1, Node((8, "kernel"), (9, "bias")));
        g.Message(1, Node((10, "iter")));
        g.Message(1, Node((5, "kernel"), (6, "recurrent_kernel"), (7, "bias")));
        foreach (var k in new[] { "layer_with_weights-0/cell/kernel", "layer_with_weights-0/cell/recurrent_kernel", "layer_with_weights-0/cell/bias",
                     "layer_with_weights-1/kernel", "layer_with_weights-1/bias", "optimizer/iter" })
            g.Message(1, Variable(k + "/.ATTRIBUTES/VARIABLE_VALUE"));
        return g;
    }

    /// <summary>keras_metadata.pb: SavedMetadata { nodes: SavedObject { node_path = 3, metadata = 5 (JSON) } }.</summary>
    static ProtoMessage KerasMetadata()
    {
        var m = new ProtoMessage();
        m.Message(1, new ProtoMessage().String(3, "root").String(5, """{"name": "sequential", "class_name": "Sequential", "keras_version": "2.11.0"}"""));
        m.Message(1, new ProtoMessage().String(3, "root.layer_with_weights-0").String(5,
            """{"name": "lstm", "class_name": "LSTM", "config": {"name": "lstm", "units": 2, "activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": true}}"""));
        m.Message(1, new ProtoMessage().String(3, "root.layer_with_weights-1").String(5,
            """{"name": "dense", "class_name": "Dense", "config": {"name": "dense", "units": 1, "use_bias": true}}"""));
        return m;
    }
}
