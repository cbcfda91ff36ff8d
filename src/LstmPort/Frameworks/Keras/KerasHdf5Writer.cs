using System.Runtime.InteropServices;
using System.Text;
using PureHDF;
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
/// PureHDF writes fixed-length strings only null-terminated, UTF-8, with one width for the whole
/// file; h5py writes Keras's name lists as NULLPAD ASCII arrays of each list's own width and the two
/// scalars as variable-length strings. Fixed-length strings of one width (the longest string plus a
/// terminator) read back through h5py as the same bytes objects, which every Keras loader decodes;
/// variable-length ones would come back as <c>str</c>, which loaders before tf.keras 2.4 cannot decode.
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

    public void Write(Stream output, IReadOnlyList<LstmTensor> tensors)
    {
        var layers = Plan(tensors, "");
        int width = 1 + new[] { Backend, KerasVersion }
            .Concat(layers.Select(l => l.Name)).Concat(layers.SelectMany(l => l.Weights.Select(w => w.Name)))
            .Max(Encoding.UTF8.GetByteCount);

        var file = new H5File();
        Names(file, "layer_names", layers.Select(l => l.Name).ToArray(), width);
        file.Attributes["backend"] = Backend;
        file.Attributes["keras_version"] = KerasVersion;
        foreach (var layer in layers)
        {
            var group = new H5Group();
            Names(group, "weight_names", layer.Weights.Select(w => w.Name).ToArray(), width);
            foreach (var w in layer.Weights)
            {
                var parts = w.Name.Split('/');
                var parent = group;
                foreach (var part in parts[..^1])
                {
                    if (!parent.TryGetValue(part, out var child)) parent[part] = child = new H5Group();
                    parent = (H5Group)child;
                }
                parent[parts[^1]] = Dataset(w.Tensor);
            }
            file[layer.Name] = group;
        }
        file.Write(output, new H5WriteOptions(DefaultStringLength: width, PreferCompactDatasetLayout: false));
    }

    /// <summary>Like Keras's save_attributes_to_hdf5_group: one attribute, or numbered chunks (numpy array_split) when too large.</summary>
    static void Names(H5Object o, string name, string[] names, int width)
    {
        int chunks = 1;
        while (ChunkSizes(names.Length, chunks).Max() * (long)width > HeaderLimit) chunks++;
        if (chunks == 1) { o.Attributes[name] = names; return; }
        int start = 0, i = 0;
        foreach (var size in ChunkSizes(names.Length, chunks))
        {
            o.Attributes[name + i++] = names[start..(start + size)];
            start += size;
        }
    }

    static IEnumerable<int> ChunkSizes(int count, int chunks) =>
        Enumerable.Range(0, chunks).Select(i => count / chunks + (i < count % chunks ? 1 : 0));

    static H5Dataset Dataset(LstmTensor t)
    {
        long bytes = t.ByteCount;
        if (bytes > Array.MaxLength)
            throw new LstmPortException(ErrorIds.TensorTooLarge, $"'{t.Name}' holds {bytes:N0} bytes; LstmPort writes HDF5 datasets of up to 2 GB.", t.Name);
        var data = new MemoryStream((int)bytes);
        t.WriteData(data);
        var raw = data.GetBuffer().AsSpan(0, (int)data.Length);
        object values = t.DType switch
        {
            "float32" => MemoryMarshal.Cast<byte, float>(raw).ToArray(),
            "float64" => MemoryMarshal.Cast<byte, double>(raw).ToArray(),
            _ => MemoryMarshal.Cast<byte, Half>(raw).ToArray(),
        };
        return new H5Dataset(values, fileDims: t.Shape.Select(d => (ulong)d).ToArray());
    }

    /// <summary>Checks every tensor and groups them into Keras layers in the order the loader needs.</summary>
    internal static List<Layer> Plan(IReadOnlyList<LstmTensor> tensors, string path)
    {
        var layers = new List<(string Name, List<LstmTensor> Tensors)>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in tensors)
        {
            if (t.Layout != Layout.Keras)
                throw new LstmPortException(ErrorIds.NotKerasLayout,
                    $"'{path}': '{t.Name}' is in the {t.Layout} layout, but a Keras weights file holds Keras-layout tensors; convert with ConvertTo-KerasLayout first.", t.Name);
            if (!FloatTypes.Contains(t.DType))
                throw new LstmPortException(ErrorIds.UnsupportedDType,
                    $"'{path}': '{t.Name}' has dtype {t.DType}; Keras weights files hold float32, float64 or float16.", t.Name);
            if (!ValidSegment(t.Layer))
                throw new LstmPortException(ErrorIds.InvalidTensorName,
                    $"'{path}': '{t.Name}' belongs to layer '{t.Layer}'; a Keras layer name must be non-empty and without '/'.", t.Name);
            if (!index.TryGetValue(t.Layer, out var i))
            {
                index[t.Layer] = i = layers.Count;
                layers.Add((t.Layer, []));
            }
            layers[i].Tensors.Add(t);
        }

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
