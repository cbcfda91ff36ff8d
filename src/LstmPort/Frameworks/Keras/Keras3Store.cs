using System.Text.Json;
using PureHDF;
using LstmPort.Containers;

namespace LstmPort.Frameworks.Keras;

/// <summary>
/// The variable store Keras 3 writes (saving_lib.H5IOStore): what <c>model.save_weights("x.weights.h5")</c>
/// writes and what a <c>.keras</c> archive holds as <c>model.weights.h5</c>. Every object with state
/// gets a group at its attribute path with a <c>vars</c> subgroup of positional datasets <c>0..n</c>:
/// a model's layers under <c>layers/&lt;snake_case class&gt;[_k]</c>, a recurrent layer's weights in
/// <c>cell/vars</c>, a Bidirectional's in <c>forward_layer/</c> and <c>backward_layer/</c>, a nested
/// model's layers in its own <c>layers/</c>, the optimizer's in <c>optimizer/vars</c>. Keras 3.10 and
/// later put the object's name in the <c>name</c> attribute of each <c>vars</c> group; earlier files
/// have no names, and a layer is found by the group the saver derives from the config. tf.keras 2.13
/// to 2.15 wrote the same store with <c>_layer_checkpoint_dependencies</c> for <c>layers</c>.
/// </summary>
internal static class Keras3Store
{
    public const string LayersGroup = "layers";
    public const string TfKerasLayersGroup = "_layer_checkpoint_dependencies";
    const string Vars = "vars";
    /// <summary>Keras nests a few levels per nested model; far deeper means links that loop.</summary>
    const int MaxDepth = 48;
    /// <summary>
    /// Groups and datasets one layer may hold (Keras writes a few; a custom block a few dozen): more
    /// means links that loop and multiply, and only that layer is refused.
    /// </summary>
    const int MaxPerLayer = 5_000;
    /// <summary>Groups and datasets listed in one file before the file is taken for damaged.</summary>
    const int MaxObjects = 200_000;

    static readonly HashSet<string> WeightedClasses = new(StringComparer.Ordinal)
        { "LSTM", "GRU", "SimpleRNN", "Dense", "Embedding", "Bidirectional", "CuDNNLSTM", "CuDNNGRU" };

    /// <param name="AssumedVersion">The Keras version whose defaults apply when nothing records one: 3, or 2.13 for tf.keras's store.</param>
    internal sealed record Result(List<KerasLayers.Layer> Layers, List<string> Warnings, List<string> Notes, List<LstmPortException> Errors, string AssumedVersion);

    /// <summary>Whether the root of an HDF5 file looks like this store (a Keras 1/2 file has layer_names instead).</summary>
    internal static bool IsStore(IH5Group root) =>
        root.LinkExists(LayersGroup) || root.LinkExists(TfKerasLayersGroup) || root.LinkExists(Vars) && !root.AttributeExists("layer_names");

    /// <summary>
    /// Finds the layers of the store and their weights, named as the config says when there is one
    /// (<paramref name="config"/>: the model's <c>{class_name, config}</c>), else by the names the file
    /// records, else by their groups. <paramref name="loader"/> makes the lazy load of a dataset.
    /// </summary>
    public static Result Read(IH5Group h5, string file, JsonElement? config, Func<KerasHdf5Reader.DatasetRef, Func<TorchSharp.torch.Tensor>> loader)
    {
        var total = new Budget(MaxObjects);
        var root = new Node { Name = "", Path = "" };
        var warnings = new List<string>();
        var notes = new List<string>();
        var errors = new List<LstmPortException>();

        // Training state beside the model is counted, never described: left out on purpose, and said so.
        int? optimizer = 0, metrics = 0;
        var optimizerGroups = new List<string>();
        var children = new List<(string Name, IH5Group Group)>();
        List<IH5Object> top;
        try { top = h5.Children().ToList(); }
        catch (Exception e) when (IsDamage(e))
        {
            // The root's own listing is the container: without it there is no layer to read.
            throw new LstmPortException(ErrorIds.CorruptFile, $"'{file}': the root group of the Keras 3 weights file cannot be read: {e.Message}", file, e);
        }
        foreach (var child in top)
        {
            if (child is not IH5Group g) continue;
            if (child.Name.StartsWith("optimizer", StringComparison.Ordinal))
            {
                optimizer = optimizer + Hdf5Data.CountDatasets(g, MaxDepth, MaxObjects);
                optimizerGroups.Add(child.Name + "/");
            }
            else if (IsTrainingState(child.Name)) metrics = metrics + Hdf5Data.CountDatasets(g, MaxDepth, MaxObjects);
            else children.Add((child.Name, g));
        }
        if (optimizerGroups.Count > 0)
            notes.Add(optimizer is int n ? $"left out {n} optimizer variable{(n == 1 ? "" : "s")} ({string.Join(", ", optimizerGroups)})"
                : $"left out the optimizer's variables ({string.Join(", ", optimizerGroups)})");
        if (metrics is not 0) notes.Add($"left out {(metrics is int m ? m.ToString() : "the")} variables of metrics and losses");

        foreach (var (name, g) in children.OrderBy(c => c.Name, NaturalOrder.Instance))
            root.Groups.Add(Build(g, name, name, 1, Budget.For(name, new Budget(MaxPerLayer)), total, file));

        var container = root.Child(LayersGroup) is not null ? LayersGroup : root.Child(TfKerasLayersGroup) is not null ? TfKerasLayersGroup : null;
        string assumed = container == TfKerasLayersGroup ? "2.13" : "3";
        // The layers' container is the file's structure: when it cannot be listed, no layer can be found.
        if (container is not null && root.Child(container)!.Damage is { } broken)
            throw new LstmPortException(ErrorIds.CorruptFile, $"{broken.Message} Expected the list of the model's layers there.", file, broken);
        if (container is null && SafeLinkExists(h5, LayersGroup))
            throw new LstmPortException(ErrorIds.CorruptFile,
                $"'{file}': the root group has a 'layers' link that its listing of links leaves out; the file's group index is damaged. Expected a Keras 3 weights file.", file);

        // What belongs to the model's layers.
        var units = new List<Unit>();
        foreach (var g in root.Groups)
        {
            if (g.Name == container) Collect(g, units, 0);
            else if (g.Name == Vars) { if (g.Datasets.Count > 0) units.Add(new Unit(root, IsModel: false, OwnVarsOnly: true)); }
            else CollectAttribute(g, units); // a subclassed model keeps its layers under their attribute names
        }

        var byName = new Dictionary<string, Unit>(StringComparer.Ordinal);
        foreach (var u in units)
            if (u.RecordedName is string n) byName.TryAdd(n, u);
        var byPath = units.GroupBy(u => u.Node.Path).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);

        var layers = new List<KerasLayers.Layer>();
        var claimed = new HashSet<Unit>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var missing = new List<string>();
        if (config is JsonElement model)
        {
            foreach (var (name, layer, derived, isModel) in KerasConfig.LayersWithPaths(model, container ?? LayersGroup))
            {
                Unit? unit = byName.TryGetValue(name, out var named) ? named
                    : byPath.TryGetValue(derived, out var atPath) && (atPath.RecordedName is null || atPath.RecordedName == name) ? atPath
                    : null;
                if (unit is not null && !claimed.Add(unit)) unit = null;
                if (isModel) continue; // its layers come on their own
                names.Add(name);
                var cls = KerasConfig.ClassName(layer);
                if (unit is null || !unit.HasWeights)
                {
                    if (cls is not null && WeightedClasses.Contains(Unwrapped(layer) ?? cls)) missing.Add($"{name} ({cls})");
                    continue;
                }
                Add(unit, name, layer, null);
            }
        }
        // Groups the config does not explain (or every group, without a config), in the file's order.
        foreach (var unit in units.Where(u => !u.IsModel && u.HasWeights && !claimed.Contains(u)))
        {
            var name = unit.RecordedName ?? (unit.OwnVarsOnly && unit.Node.Path.Length == 0 ? "model" : unit.Node.Name);
            if (!names.Add(name)) { name = unit.PathName.Length > 0 ? unit.PathName : name + "_vars"; names.Add(name); }
            Add(unit, name, null, unit.OwnVarsOnly ? null : KerasConfig.ClassOfGroup(unit.Node.Name));
        }
        if (layers.Count == 0 && errors.Count == 0)
            throw new LstmPortException(ErrorIds.NoTensors,
                $"'{file}' has no layer weights that can be found{(optimizerGroups.Count > 0 ? " (only optimizer state)" : "")}; expected a Keras 3 weights file " +
                "with layers/<layer>/vars/0..n datasets (a damaged group index can hide them: copy the file again).", file);
        if (missing.Count > 0)
            warnings.Add($"the model config lists {string.Join(", ", missing)}, but the file has no weights for {(missing.Count == 1 ? "it" : "them")}; " +
                         "check that the config is this model's.");
        return new Result(layers, warnings, notes, errors, assumed);

        void Add(Unit unit, string name, JsonElement? layerConfig, string? hint)
        {
            try { layers.Add(new KerasLayers.Layer(name, Weights(unit, name, file, loader), layerConfig, hint)); }
            catch (LstmPortException e) { errors.Add(e); }
        }
    }

    /// <summary>The class a wrapper (Bidirectional, TimeDistributed) wraps.</summary>
    static string? Unwrapped(JsonElement layer)
    {
        var current = layer;
        for (int i = 0; i < 8; i++)
        {
            var cls = KerasConfig.ClassName(current);
            if (cls is not ("Bidirectional" or "TimeDistributed")) return cls;
            if (!current.TryGetProperty("config", out var c) || c.ValueKind != JsonValueKind.Object
                || !c.TryGetProperty("layer", out var inner) || inner.ValueKind != JsonValueKind.Object) return cls;
            current = inner;
        }
        return null;
    }

    /// <summary>Trackers Keras keeps beside the layers: compiled metrics and losses (tf.keras stored some).</summary>
    static bool IsTrainingState(string name)
    {
        var n = name.TrimStart('_');
        return n.Contains("metric", StringComparison.OrdinalIgnoreCase) || n.Contains("loss", StringComparison.OrdinalIgnoreCase)
            || n.Contains("tracker", StringComparison.OrdinalIgnoreCase);
    }

    // ---- the file's groups -----------------------------------------------------------------------

    internal sealed class Node
    {
        public required string Name { get; init; }
        public required string Path { get; init; }
        public List<Node> Groups { get; } = [];
        public List<Entry> Datasets { get; } = [];
        /// <summary>The group's own <c>name</c> attribute (Keras 3.10+ writes it on every vars group).</summary>
        public string? NameAttribute { get; set; }
        public LstmPortException? Damage { get; set; }
        public Node? Child(string name) => Groups.FirstOrDefault(g => g.Name == name);
        public int CountDatasets() => Datasets.Count + Groups.Sum(g => g.CountDatasets());
        public bool AnyDatasets() => Datasets.Count > 0 || Groups.Any(g => g.AnyDatasets());
    }

    internal sealed record Entry(string Name, string Path, KerasHdf5Reader.DatasetRef? Ref, LstmPortException? Error);

    /// <summary>Objects a walk may still list; null: no limit of its own (a model's container, whose layers each get one).</summary>
    sealed class Budget(int left)
    {
        public int Left = left;
        /// <summary>A container's children are layers: each gets its own budget, the container none.</summary>
        public static Budget? For(string groupName, Budget budget) => groupName is LayersGroup or TfKerasLayersGroup ? null : budget;
    }

    /// <summary>
    /// Lists the groups and datasets below a group, their metadata only. A branch deeper than any
    /// Keras file nests, or a layer with more objects than <see cref="MaxPerLayer"/>, is marked
    /// damaged (links that loop) and only its layer is refused; past <see cref="MaxObjects"/> the
    /// whole file is.
    /// </summary>
    static Node Build(IH5Group group, string name, string path, int depth, Budget? budget, Budget total, string file)
    {
        var node = new Node { Name = name, Path = path };
        try
        {
            node.NameAttribute = Hdf5Data.StringAttribute(group, "name");
            if (depth > MaxDepth)
            {
                node.Damage = new LstmPortException(ErrorIds.CorruptFile,
                    $"'{file}': group '{Short(path)}' is nested more than {MaxDepth} levels deep; a Keras weights file nests a few levels per model (its links may loop).", file);
                return node;
            }
            var children = new List<IH5Object>();
            foreach (var child in group.Children())
            {
                if (--total.Left < 0)
                    throw new LstmPortException(ErrorIds.CorruptFile,
                        $"'{file}' lists more than {MaxObjects:N0} groups and datasets; expected a Keras weights file's few per layer (its links may loop).", file);
                if (budget is not null && --budget.Left < 0)
                {
                    node.Damage = new LstmPortException(ErrorIds.CorruptFile,
                        $"'{file}': group '{Short(path)}' holds more than {MaxPerLayer:N0} groups and datasets for one layer (its links may loop).", file);
                    return node;
                }
                children.Add(child);
            }
            foreach (var child in children.OrderBy(c => c.Name, NaturalOrder.Instance))
            {
                var childPath = path.Length == 0 ? child.Name : path + "/" + child.Name;
                switch (child)
                {
                    case IH5Group g:
                        var own = budget ?? new Budget(MaxPerLayer);
                        node.Groups.Add(Build(g, child.Name, childPath, depth + 1, Budget.For(child.Name, own), total, file));
                        if (node.Groups[^1].Damage is { } damage && budget is not null && budget.Left < 0) node.Damage ??= damage;
                        break;
                    case IH5Dataset d:
                        try { node.Datasets.Add(new Entry(child.Name, childPath, KerasHdf5Reader.Describe(d, childPath, file), null)); }
                        catch (LstmPortException e) { node.Datasets.Add(new Entry(child.Name, childPath, null, e)); }
                        catch (Exception e) when (IsDamage(e))
                        {
                            node.Datasets.Add(new Entry(child.Name, childPath, null, new LstmPortException(ErrorIds.CorruptFile,
                                $"'{file}': dataset '{childPath}' cannot be read: {e.Message}", file, e)));
                        }
                        break;
                }
            }
        }
        catch (Exception e) when (IsDamage(e))
        {
            node.Damage = new LstmPortException(ErrorIds.CorruptFile, $"'{file}': group '{(path.Length == 0 ? "/" : Short(path))}' cannot be read: {e.Message}", file, e);
        }
        return node;
    }

    /// <summary>A path for a message: a looping one is cut to its start.</summary>
    static string Short(string path) => path.Length <= 100 ? path : path[..100] + "...";

    static bool SafeLinkExists(IH5Group g, string name)
    {
        try { return g.LinkExists(name); }
        catch (Exception e) when (IsDamage(e)) { return false; }
    }

    static bool IsDamage(Exception e) => Hdf5Data.IsDamage(e);

    // ---- layers --------------------------------------------------------------------------------

    /// <param name="OwnVarsOnly">The model's own variables (root <c>vars</c>), not a layer's subtree.</param>
    sealed record Unit(Node Node, bool IsModel, bool OwnVarsOnly = false)
    {
        /// <summary>The object's name as Keras 3.10+ records it on its vars group.</summary>
        public string? RecordedName => Node.Child(Vars)?.NameAttribute;
        public bool HasWeights => OwnVarsOnly ? Node.Child(Vars)?.Datasets.Count > 0 : Node.AnyDatasets() || Node.Damage is not null;
        /// <summary>A name from the group's path when its own is taken: layers/sequential/layers/lstm → sequential/lstm.</summary>
        public string PathName => string.Join('/', Node.Path.Split('/').Where(s => s is not (LayersGroup or TfKerasLayersGroup)));
    }

    /// <summary>The layers of a model's container group: each child is a layer; one with its own container is a nested model.</summary>
    static void Collect(Node containerNode, List<Unit> units, int depth)
    {
        foreach (var layer in containerNode.Groups)
        {
            var inner = layer.Child(LayersGroup) ?? layer.Child(TfKerasLayersGroup);
            if (inner is not null && depth < MaxDepth)
            {
                units.Add(new Unit(layer, IsModel: true));
                if (layer.Child(Vars) is { Datasets.Count: > 0 }) units.Add(new Unit(layer, IsModel: false, OwnVarsOnly: true));
                Collect(inner, units, depth + 1);
            }
            else units.Add(new Unit(layer, IsModel: false));
        }
    }

    /// <summary>A subclassed model's attribute: a layer, or a model with its own container.</summary>
    static void CollectAttribute(Node attribute, List<Unit> units)
    {
        var inner = attribute.Child(LayersGroup) ?? attribute.Child(TfKerasLayersGroup);
        if (inner is null) { units.Add(new Unit(attribute, IsModel: false)); return; }
        units.Add(new Unit(attribute, IsModel: true));
        if (attribute.Child(Vars) is { Datasets.Count: > 0 }) units.Add(new Unit(attribute, IsModel: false, OwnVarsOnly: true));
        Collect(inner, units, 1);
    }

    /// <summary>
    /// A layer's variables in Keras's own order: a Bidirectional's forward_layer's then its
    /// backward_layer's; otherwise its own vars, then those of its parts (a recurrent layer's cell).
    /// </summary>
    static List<KerasLayers.Weight> Weights(Unit unit, string layer, string file, Func<KerasHdf5Reader.DatasetRef, Func<TorchSharp.torch.Tensor>> loader)
    {
        var list = new List<KerasLayers.Weight>();
        void AddVars(Node? vars)
        {
            if (vars is null) return;
            if (vars.Damage is not null) throw Damaged(vars.Damage);
            foreach (var d in vars.Datasets)
            {
                if (d.Error is not null) throw Damaged(d.Error);
                list.Add(new KerasLayers.Weight(d.Path, d.Ref!.Shape, d.Ref.DType, loader(d.Ref)));
            }
        }
        void AddTree(Node? node)
        {
            if (node is null) return;
            if (node.Damage is not null) throw Damaged(node.Damage);
            AddVars(node.Child(Vars));
            foreach (var child in node.Groups)
                if (child.Name != Vars) AddTree(child);
        }
        LstmPortException Damaged(LstmPortException e) =>
            new(e.ErrorId, $"'{file}': layer '{layer}' ({unit.Node.Path}) cannot be read: {Unprefixed(e.Message, file)}", file, e);

        var node = unit.Node;
        if (unit.OwnVarsOnly) AddVars(node.Child(Vars));
        else if (node.Child("forward_layer") is { } fwd && node.Child("backward_layer") is { } bwd)
        {
            AddVars(node.Child(Vars));
            AddTree(fwd);
            AddTree(bwd);
        }
        else AddTree(node);
        return list;
    }

    static string Unprefixed(string message, string file) =>
        message.StartsWith($"'{file}': ", StringComparison.Ordinal) ? message[(file.Length + 4)..] : message;

    /// <summary>Names as Keras numbers them: vars 0, 1, ..., 10 by number; lstm, lstm_1, ..., lstm_10 by their number.</summary>
    internal sealed class NaturalOrder : IComparer<string>
    {
        public static readonly NaturalOrder Instance = new();
        public int Compare(string? x, string? y)
        {
            var (xs, xn) = Split(x ?? "");
            var (ys, yn) = Split(y ?? "");
            int c = string.CompareOrdinal(xs, ys);
            return c != 0 ? c : xn != yn ? xn.CompareTo(yn) : string.CompareOrdinal(x, y);
        }

        static (string Stem, long Number) Split(string s)
        {
            int i = s.Length;
            while (i > 0 && char.IsAsciiDigit(s[i - 1])) i--;
            if (i == s.Length || s.Length - i > 18) return (s, -1);
            var stem = s[..i].TrimEnd('_');
            return (stem, long.Parse(s[i..], System.Globalization.CultureInfo.InvariantCulture));
        }
    }
}
