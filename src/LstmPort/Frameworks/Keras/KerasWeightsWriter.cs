using System.Text.RegularExpressions;
using LstmPort.Containers;
using LstmPort.Formats;

namespace LstmPort.Frameworks.Keras;

/// <summary>
/// Writes a Keras 3 <c>.weights.h5</c> file, the store <c>model.save_weights("x.weights.h5")</c> writes and
/// <c>model.load_weights</c> of the matching Keras 3 model reads (saving_lib.H5IOStore): each object
/// with state is a group at its attribute path whose <c>vars</c> subgroup holds the variables as
/// datasets <c>0..n</c> and, as Keras 3.10 and later write it, the object's name in a <c>name</c>
/// attribute. The loader finds a layer by its group, <c>layers/&lt;snake_case class&gt;</c> numbered
/// <c>_1</c>, <c>_2</c>, ... per class in the model's layer order, and its variables by position, so:
/// a tensor read from a Keras 3 file (named by its dataset path, <c>layers/lstm/cell/vars/0</c>) goes
/// back to that path; any other goes to the group its layer type and position give
/// (<c>layers/lstm_1/cell/vars/0..2</c> kernel, recurrent kernel, bias; a Bidirectional's halves in
/// <c>layers/bidirectional/forward_layer/cell/vars</c> and <c>backward_layer/cell/vars</c>;
/// <c>layers/dense/vars/0..1</c>; <c>layers/embedding/vars/0</c>), which is where Keras 3 keeps the
/// layers of a Sequential or functional model built in that order. Nothing else is written: no
/// optimizer state, no root attributes (Keras 3 writes none).
/// </summary>
public sealed partial class KerasWeightsWriter : IWeightWriter
{
    /// <summary>The root object's name: the model's own name is not in the tensors.</summary>
    public const string ModelName = "model";

    static readonly string[] Types = ["float32", "float64", "float16", "int8", "int16", "int32", "int64", "uint8"];

    public WeightFormat Format => WeightFormat.KerasWeights;
    public IReadOnlyList<string> Extensions { get; } = [".weights.h5"];

    /// <summary>One dataset: its path below the root, and the tensor.</summary>
    internal sealed record Variable(string Path, LstmTensor Tensor);

    /// <summary>The file: variables in write order, and each object group's name (for its vars group's name attribute).</summary>
    internal sealed record Plan(IReadOnlyList<Variable> Variables, IReadOnlyDictionary<string, string> ObjectNames);

    [GeneratedRegex(@"^(?<group>(?:[^/]+/)*?)vars/(?<index>\d+)$")]
    private static partial Regex VarPath();

    public void Check(IReadOnlyList<LstmTensor> tensors, string path) => _ = MakePlan(tensors, path);

    /// <summary>Headers first, then each tensor's data as it is borrowed (<see cref="Hdf5Writer"/>): the registry gives a sequential stream.</summary>
    public bool WritesSequentially => true;

    public void Write(Stream output, IReadOnlyList<LstmTensor> tensors)
    {
        var plan = MakePlan(tensors, "");
        var file = new Hdf5Writer();
        Hdf5Writer.Group Group(string groupPath)
        {
            var g = file.Root;
            foreach (var part in groupPath.Split('/', StringSplitOptions.RemoveEmptyEntries)) g = g.Subgroup(part);
            return g;
        }
        foreach (var (objectPath, name) in plan.ObjectNames.OrderBy(o => o.Key, StringComparer.Ordinal))
            Group(Join(objectPath, "vars")).VariableString(file, "name", name);
        foreach (var v in plan.Variables)
        {
            int slash = v.Path.LastIndexOf('/');
            file.AddDataset(Group(v.Path[..slash]), v.Path[(slash + 1)..], KerasHdf5Writer.ElementType(v.Tensor.DType), v.Tensor.Shape.Select(d => (long)d).ToArray());
        }
        int next = 0;
        // One tensor at a time: borrowed (read or computed just for this write), written, freed.
        file.Write(output, (_, stream) => plan.Variables[next++].Tensor.WriteData(stream));
    }

    static string Join(string a, string b) => a.Length == 0 ? b : a + "/" + b;

    /// <summary>Checks every tensor and places each at its dataset path, before anything is written.</summary>
    internal static Plan MakePlan(IReadOnlyList<LstmTensor> tensors, string path)
    {
        var layers = KerasHdf5Writer.GroupByLayer(tensors, path, Types, "a Keras 3 weights file holds", t =>
        {
            if (t.Config.TryGetValue(ConfigKeys.Cudnn, out var cudnn) && cudnn is true)
                throw new LstmPortException(ErrorIds.NotKerasLayout,
                    $"'{path}': '{t.Name}' is a CuDNNLSTM/CuDNNGRU weight (doubled bias, CuDNN kernel layout), which Keras 3 has no layer for; " +
                    "ConvertTo-KerasLayout brings it to a plain LSTM/GRU's layout first.", t.Name);
        });

        var variables = new List<Variable>();
        var objectNames = new Dictionary<string, string>(StringComparer.Ordinal) { [""] = ModelName };
        var used = new HashSet<string>(StringComparer.Ordinal);
        // Tensors from a Keras 3 file keep their paths; those take their groups first.
        var kept = layers.Where(l => l.Tensors.All(t => VarPath().IsMatch(t.Name))).Select(l => l.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var (name, list) in layers.Where(l => kept.Contains(l.Name)))
            foreach (var t in list)
            {
                var group = VarPath().Match(t.Name).Groups["group"].Value.TrimEnd('/');
                CheckSegments(t.Name, path, t);
                if (LayerGroupOf(group) is string taken) used.Add(taken);
                variables.Add(new Variable(t.Name, t));
                NameObjects(group, name, t, objectNames);
            }

        var counters = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (name, list) in layers.Where(l => !kept.Contains(l.Name)))
        {
            var first = list[0];
            bool bidirectional = list.Any(t => t.Direction == Direction.Backward);
            var cls = first.LayerType switch
            {
                LayerType.LSTM => "lstm",
                LayerType.GRU => "gru",
                LayerType.SimpleRNN => "simple_rnn",
                LayerType.Dense => "dense",
                LayerType.Embedding => "embedding",
                _ => null,
            };
            if (list.Any(t => t.LayerType != first.LayerType))
                throw new LstmPortException(ErrorIds.LayerMismatch, $"'{path}': layer '{name}' mixes {string.Join(" and ", list.Select(t => t.LayerType).Distinct())} tensors.", name);
            if (cls is null)
            {
                // A layer of another kind: Keras would name its group after its class, which the tensors do not carry.
                var group = "layers/" + Next(KerasConfig.SnakeCase(name).Length > 0 ? KerasConfig.SnakeCase(name) : "layer", counters, used);
                int k = 0;
                foreach (var t in list) variables.Add(new Variable($"{group}/vars/{k++}", t));
                objectNames[group] = name;
                continue;
            }
            var layerGroup = "layers/" + Next(bidirectional ? "bidirectional" : cls, counters, used);
            objectNames[layerGroup] = name;
            bool recurrent = first.LayerType is LayerType.LSTM or LayerType.GRU or LayerType.SimpleRNN;
            foreach (var direction in bidirectional ? [Direction.Forward, Direction.Backward] : new[] { Direction.Forward })
            {
                var half = list.Where(t => t.Direction == direction).ToList();
                var owner = layerGroup;
                if (bidirectional)
                {
                    var side = direction == Direction.Forward ? "forward" : "backward";
                    owner = $"{layerGroup}/{side}_layer";
                    objectNames[owner] = $"{side}_{cls}";
                }
                if (recurrent)
                {
                    objectNames[owner + "/cell"] = cls + "_cell";
                    owner += "/cell";
                }
                int k = 0;
                foreach (var t in Ordered(half, first.LayerType, name, path)) variables.Add(new Variable($"{owner}/vars/{k++}", t));
            }
        }

        var duplicate = variables.GroupBy(v => v.Path, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new LstmPortException(ErrorIds.DuplicateTensorName,
                $"'{path}': {string.Join(" and ", duplicate.Select(v => $"'{v.Tensor.Name}'"))} would both be written to '{duplicate.Key}'.", duplicate.First().Tensor.Name);
        // A dataset cannot also be a group: one tensor's path inside another's, or on an object's group.
        var groupPaths = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in variables.Select(v => v.Path).Concat(objectNames.Keys.Select(o => Join(o, "vars/x"))))
            for (int i = p.IndexOf('/'); i >= 0; i = p.IndexOf('/', i + 1)) groupPaths.Add(p[..i]);
        var clash = variables.FirstOrDefault(v => groupPaths.Contains(v.Path));
        if (clash is not null)
            throw new LstmPortException(ErrorIds.InvalidTensorName,
                $"'{path}': '{clash.Tensor.Name}' would be a dataset at '{clash.Path}', where the file needs a group.", clash.Tensor.Name);
        return new Plan(variables, objectNames);
    }

    /// <summary>A layer's tensors in the order Keras creates its variables: kernel, recurrent kernel, bias, then anything else as it came.</summary>
    static IEnumerable<LstmTensor> Ordered(List<LstmTensor> half, LayerType type, string layer, string path)
    {
        TensorRole[] roles = type switch
        {
            LayerType.Embedding => [TensorRole.Embeddings],
            LayerType.Dense => [TensorRole.Kernel, TensorRole.Bias],
            _ => [TensorRole.Kernel, TensorRole.RecurrentKernel, TensorRole.Bias],
        };
        foreach (var role in roles)
        {
            var found = half.Where(t => t.Role == role).ToList();
            if (found.Count > 1)
                throw new LstmPortException(ErrorIds.DuplicateTensor, $"'{path}': layer '{layer}' has {found.Count} {role} tensors ({string.Join(", ", found.Select(t => t.Name))}).", layer);
            if (found.Count == 0 && role is TensorRole.Kernel or TensorRole.RecurrentKernel or TensorRole.Embeddings)
                throw new LstmPortException(ErrorIds.MissingTensor, $"'{path}': layer '{layer}' ({type}) has no {role} tensor; a Keras 3 {type} layer stores one.", layer);
            if (found.Count == 1) yield return found[0];
        }
        foreach (var t in half.Where(t => !roles.Contains(t.Role))) yield return t;
    }

    static string Next(string cls, Dictionary<string, int> counters, HashSet<string> used)
    {
        while (true)
        {
            int n = counters.TryGetValue(cls, out var c) ? c + 1 : 0;
            counters[cls] = n;
            var name = n == 0 ? cls : $"{cls}_{n}";
            if (used.Add(name)) return name;
        }
    }

    /// <summary>The group a path takes in the model's own layers: layers/lstm_1/cell → lstm_1 (null outside them).</summary>
    static string? LayerGroupOf(string group)
    {
        var parts = group.Split('/');
        return parts.Length >= 2 && parts[0] == "layers" ? parts[1] : null;
    }

    /// <summary>Each object group on a kept path gets a name: the layer's own for its group, Keras's for its parts.</summary>
    static void NameObjects(string group, string layer, LstmTensor t, Dictionary<string, string> names)
    {
        var parts = group.Split('/');
        int layerAt = -1;
        for (int i = 0; i < parts.Length; i++)
            if (parts[i] is "layers" or "_layer_checkpoint_dependencies" && i + 1 < parts.Length) layerAt = i + 1;
        var cls = t.LayerType switch { LayerType.LSTM => "lstm", LayerType.GRU => "gru", LayerType.SimpleRNN => "simple_rnn", _ => null };
        for (int i = 0; i < parts.Length; i++)
        {
            if (parts[i] is "layers" or "_layer_checkpoint_dependencies") continue;
            var objectPath = string.Join('/', parts[..(i + 1)]);
            var name = i == layerAt ? layer
                : i > layerAt && parts[i] == "cell" && cls is not null ? cls + "_cell"
                : i > layerAt && parts[i] is "forward_layer" or "backward_layer" && cls is not null ? parts[i][..parts[i].IndexOf('_')] + "_" + cls
                : parts[i];
            names.TryAdd(objectPath, name);
        }
    }

    static void CheckSegments(string name, string path, LstmTensor t)
    {
        if (name.Split('/').Any(s => s.Length == 0 || s is "." or ".."))
            throw new LstmPortException(ErrorIds.InvalidTensorName,
                $"'{path}': '{t.Name}' cannot name an HDF5 dataset: every '/'-separated part must be non-empty and not '.' or '..'.", t.Name);
    }
}
