using System.Text;
using LstmPort.Containers;
using LstmPort.Formats;

namespace LstmPort.Frameworks.Keras;

/// <summary>
/// Writes a Keras weights file in the layout of tf.keras 2.x <c>model.save_weights('x.h5')</c>, which
/// <c>model.load_weights</c> of the matching model reads: root attributes <c>layer_names</c>,
/// <c>backend</c>, <c>keras_version</c>; one group per layer with a <c>weight_names</c> attribute; each
/// weight a dataset at its weight name under the layer group (<c>/lstm/lstm/lstm_cell/kernel:0</c>).
/// The loader matches layers by position among the model's layers that have weights and weights by
/// position within a layer, so the order written here is what counts: layers in pipeline order, and
/// within a layer forward before backward, then kernel, recurrent kernel, bias.
/// </summary>
/// <remarks>
/// The file is written by <see cref="Hdf5Writer"/> front to back (headers first, then each tensor's
/// data as it is borrowed), so a model larger than memory passes through one tensor at a time. Name
/// lists are NULLPAD fixed-length arrays of each list's own width, as h5py writes them; the two
/// scalars are fixed-length too (h5py writes them variable-length): they read back through h5py as
/// bytes, which every Keras loader decodes, while <c>str</c> breaks loaders before tf.keras 2.4.
/// </remarks>
public sealed class KerasHdf5Writer : IWeightWriter
{
    /// <summary>What tf.keras in TensorFlow 2.4 writes; loaders only tell "1" (convert Keras 1 weights) from anything else.</summary>
    public const string KerasVersion = "2.4.0";
    public const string Backend = "tensorflow";

    /// <summary>Keras splits a name list into name0, name1, ... above this many bytes (HDF5's object header limit).</summary>
    internal const int HeaderLimit = 64512;

    static readonly string[] FloatTypes = ["float32", "float64", "float16"];

    public WeightFormat Format => WeightFormat.KerasHdf5;
    public IReadOnlyList<string> Extensions { get; } = [".h5", ".hdf5"];

    internal sealed record Weight(string Name, LstmTensor Tensor);
    internal sealed record Layer(string Name, IReadOnlyList<Weight> Weights);

    public void Check(IReadOnlyList<LstmTensor> tensors, string path) => _ = Plan(tensors, path);

    /// <summary>Metadata first, then each tensor's data as it is borrowed: the registry gives a sequential <see cref="Runtime.DirectFileStream"/>.</summary>
    public bool WritesSequentially => true;

    public void Write(Stream output, IReadOnlyList<LstmTensor> tensors)
    {
        var layers = Plan(tensors, "");
        var file = new Hdf5Writer();
        Names(file.Root, "layer_names", layers.Select(l => l.Name).ToArray());
        file.Root.String("backend", Backend);
        file.Root.String("keras_version", KerasVersion);
        var order = new List<LstmTensor>();
        foreach (var layer in layers)
        {
            var group = file.Root.Subgroup(layer.Name);
            Names(group, "weight_names", layer.Weights.Select(w => w.Name).ToArray());
            foreach (var w in layer.Weights)
            {
                var parts = w.Name.Split('/');
                var parent = group;
                foreach (var part in parts[..^1]) parent = parent.Subgroup(part);
                file.AddDataset(parent, parts[^1], ElementType(w.Tensor.DType), w.Tensor.Shape.Select(d => (long)d).ToArray());
                order.Add(w.Tensor);
            }
        }
        int next = 0;
        // One tensor at a time: borrowed (read or computed just for this write), written, freed.
        file.Write(output, (_, stream) => order[next++].WriteData(stream));
    }

    internal static Hdf5Writer.ElementType ElementType(string dtype) => dtype switch
    {
        "float32" => Hdf5Writer.ElementType.Float32,
        "float64" => Hdf5Writer.ElementType.Float64,
        "float16" => Hdf5Writer.ElementType.Float16,
        "int8" => Hdf5Writer.ElementType.Int8,
        "int16" => Hdf5Writer.ElementType.Int16,
        "int32" => Hdf5Writer.ElementType.Int32,
        "int64" => Hdf5Writer.ElementType.Int64,
        "uint8" => Hdf5Writer.ElementType.UInt8,
        _ => throw new ArgumentException($"no HDF5 type for {dtype}", nameof(dtype)),
    };

    /// <summary>Like Keras's save_attributes_to_hdf5_group: one attribute, or numbered chunks (numpy array_split) when too large.</summary>
    static void Names(Hdf5Writer.Node o, string name, string[] names)
    {
        // h5py stores a list of str as a numpy 'S' array: one width, the longest name's bytes.
        int width = Math.Max(1, names.Max(Encoding.UTF8.GetByteCount));
        int chunks = 1;
        while (ChunkSizes(names.Length, chunks).Max() * (long)width > HeaderLimit) chunks++;
        if (chunks == 1) { o.StringArray(name, names); return; }
        int start = 0, i = 0;
        foreach (var size in ChunkSizes(names.Length, chunks))
        {
            o.StringArray(name + i++, names[start..(start + size)]);
            start += size;
        }
    }

    static IEnumerable<int> ChunkSizes(int count, int chunks) =>
        Enumerable.Range(0, chunks).Select(i => count / chunks + (i < count % chunks ? 1 : 0));

    /// <summary>
    /// What both Keras writers check first: Keras layout, a dtype the file holds (<paramref name="holds"/>
    /// names the file in the message), the writer's own <paramref name="check"/>; then the tensors by
    /// layer, layers in first-seen order.
    /// </summary>
    internal static List<(string Name, List<LstmTensor> Tensors)> GroupByLayer(
        IReadOnlyList<LstmTensor> tensors, string path, string[] dtypes, string holds, Action<LstmTensor> check)
    {
        var layers = new List<(string Name, List<LstmTensor> Tensors)>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in tensors)
        {
            if (t.Layout != Layout.Keras)
                throw new LstmPortException(ErrorIds.NotKerasLayout,
                    $"'{path}': '{t.Name}' is in the {t.Layout} layout, but a Keras weights file holds Keras-layout tensors; convert with ConvertTo-KerasLayout first.", t.Name);
            if (!dtypes.Contains(t.DType))
                throw new LstmPortException(ErrorIds.UnsupportedDType,
                    $"'{path}': '{t.Name}' has dtype {t.DType}; {holds} {string.Join(", ", dtypes)}.", t.Name);
            check(t);
            if (!index.TryGetValue(t.Layer, out var i))
            {
                index[t.Layer] = i = layers.Count;
                layers.Add((t.Layer, []));
            }
            layers[i].Tensors.Add(t);
        }
        return layers;
    }

    /// <summary>Checks every tensor and groups them into Keras layers in the order the loader needs.</summary>
    internal static List<Layer> Plan(IReadOnlyList<LstmTensor> tensors, string path)
    {
        var layers = GroupByLayer(tensors, path, FloatTypes, "Keras weights files hold", t =>
        {
            if (!ValidSegment(t.Layer))
                throw new LstmPortException(ErrorIds.InvalidTensorName,
                    $"'{path}': '{t.Name}' belongs to layer '{t.Layer}'; a Keras layer name must be non-empty and without '/'.", t.Name);
        });

        var result = new List<Layer>();
        foreach (var (name, list) in layers)
        {
            // Stable sorts: a Bidirectional layer lists its forward weights first, each half kernel, recurrent kernel, bias.
            var ordered = list.OrderBy(t => t.Direction).ThenBy(Rank).ToList();
            var weights = new List<Weight>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var t in ordered)
            {
                var weight = WeightName(t);
                if (weight.Split('/').Any(s => !ValidSegment(s)))
                    throw new LstmPortException(ErrorIds.InvalidTensorName,
                        $"'{path}': '{t.Name}' cannot name an HDF5 dataset: every '/'-separated part must be non-empty and not '.' or '..'.", t.Name);
                if (!seen.Add(weight))
                    throw new LstmPortException(ErrorIds.DuplicateTensorName,
                        $"'{path}': layer '{name}' has two weights named '{weight}'; every weight of a layer needs its own name.", t.Name);
                weights.Add(new Weight(weight, t));
            }
            foreach (var w in weights)
            {
                var clash = weights.FirstOrDefault(o => o.Name.StartsWith(w.Name + "/", StringComparison.Ordinal));
                if (clash is not null)
                    throw new LstmPortException(ErrorIds.InvalidTensorName,
                        $"'{path}': in layer '{name}', '{w.Name}' would be both a dataset and the group holding '{clash.Name}'.", w.Tensor.Name);
            }
            result.Add(new Layer(name, weights));
        }
        return result;
    }

    /// <summary>
    /// The weight name Keras lists in weight_names. A name that is a full dataset path repeats the layer's
    /// group (<c>lstm_1/lstm_1/kernel:0</c> is weight <c>lstm_1/kernel:0</c> of layer <c>lstm_1</c>); drop the repeat.
    /// </summary>
    internal static string WeightName(LstmTensor t)
    {
        var prefix = t.Layer + "/";
        return t.Name.StartsWith(prefix + prefix, StringComparison.Ordinal) ? t.Name[prefix.Length..] : t.Name;
    }

    static int Rank(LstmTensor t) => t.LayerType == LayerType.Other ? 0 : t.Role switch
    {
        TensorRole.Kernel or TensorRole.Embeddings => 0,
        TensorRole.RecurrentKernel => 1,
        TensorRole.Bias => 2,
        _ => 3,
    };

    static bool ValidSegment(string s) => s.Length > 0 && s != "." && s != ".." && !s.Contains('/');
}
