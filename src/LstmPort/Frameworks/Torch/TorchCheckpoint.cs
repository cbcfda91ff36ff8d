using System.Globalization;
using System.Text.RegularExpressions;
using LstmPort.Containers;

namespace LstmPort.Frameworks.Torch;

/// <summary>
/// Finds the weights in what a PyTorch pickle holds and names them. A flat state_dict keeps its keys
/// exactly (buffers such as num_batches_tracked included). A checkpoint (a dict whose entries nest
/// tensors: <c>{'model': sd, 'optimizer': ..., 'epoch': 3}</c>) is looked into: when one entry holds
/// the weights, the names are the paths inside it (<c>encoder.rnn.weight_ih_l0</c>), at any depth;
/// when several do, the paths from that level (<c>model.encoder.rnn.weight_ih_l0</c>,
/// <c>generator.0.weight</c>). Left out, each kind in one note: optimizer and training state
/// (<c>optimizer</c>, <c>scheduler</c>, <c>scaler</c>, ... by name; any dict with <c>state</c> and
/// <c>param_groups</c>; pickled <c>torch.optim</c> objects), entries without tensors (epoch, args,
/// lists of numbers) and, beside entries that hold weights, entries whose only tensors are 0-dim
/// (metrics such as best_acc). A state_dict whose every key starts with <c>module.</c>
/// (DataParallel, DistributedDataParallel) or <c>_orig_mod.</c> (torch.compile) loses that prefix,
/// as the unwrapped model's load_state_dict wants. Modules are named as their state_dict() names
/// them: a TorchScript module object by its tensor attributes and submodules (lists such as
/// nn.LSTM's <c>_flat_weights</c> repeat parameters and are not entries); a pickled nn.Module (read
/// with -SkipUnsafeObjects) by its <c>_parameters</c>, persistent <c>_buffers</c> and <c>_modules</c>.
/// Other inert objects are searched through their attribute dict and items, never their
/// constructor arguments. Nothing here allocates tensor data.
/// </summary>
internal sealed partial class TorchCheckpoint
{
    /// <summary>A tensor found: its name and its <see cref="TensorRef"/> or <see cref="UnreadableTensor"/>.</summary>
    public sealed record Entry(string Name, object Tensor);

    const int MaxDepth = 500;

    readonly bool _torchScript;
    readonly List<Entry> _tensors = [];
    readonly List<string> _training = [];
    readonly List<string> _leftOut = [];
    readonly List<string> _prefixes = [];
    readonly Dictionary<object, Summary> _summaries = new(ReferenceEqualityComparer.Instance);
    readonly HashSet<object> _inProgress = new(ReferenceEqualityComparer.Instance);
    readonly HashSet<object> _modulePath = new(ReferenceEqualityComparer.Instance);
    readonly HashSet<object> _levelPath = new(ReferenceEqualityComparer.Instance);
    readonly Dictionary<object, List<(string Key, object? Value)>> _moduleEntries = new(ReferenceEqualityComparer.Instance);
    bool _tooDeep;

    TorchCheckpoint(bool torchScript) => _torchScript = torchScript;

    public IReadOnlyList<Entry> Tensors => _tensors;

    /// <summary>What was left out on purpose, one line per kind (the cmdlets write them as verbose lines).</summary>
    public IReadOnlyList<string> Notes
    {
        get
        {
            var notes = new List<string>();
            if (_training.Count > 0) notes.Add($"left out the optimizer and training state: {List(_training)}");
            if (_leftOut.Count > 0) notes.Add($"left out {_leftOut.Count} {(_leftOut.Count == 1 ? "entry" : "entries")} without weights: {List(_leftOut)}");
            notes.AddRange(_prefixes);
            if (_tooDeep) notes.Add($"parts nested deeper than {MaxDepth} levels were not searched for tensors");
            return notes;
        }
    }

    public static TorchCheckpoint Walk(object? root, bool torchScript)
    {
        var c = new TorchCheckpoint(torchScript);
        if (IsTensor(root)) c._tensors.Add(new Entry("tensor", root!));
        else if (root is not null) c.Level(root, "", "", collapse: true, depth: 0);
        return c;
    }

    // ---- the naming rule ----

    /// <param name="path">The name prefix of what is found here.</param>
    /// <param name="where">Where this is from the root (what the notes name; longer than path below a wrapper).</param>
    void Level(object node, string path, string where, bool collapse, int depth)
    {
        if (depth > MaxDepth) { _tooDeep = true; return; }
        if (!_levelPath.Add(node)) return; // a container inside itself: its tensors are named where it was entered
        try { LevelOf(node, path, where, collapse, depth); }
        finally { _levelPath.Remove(node); }
    }

    void LevelOf(object node, string path, string where, bool collapse, int depth)
    {
        if (node is PyObject o && IsModule(o)) { FlatStateDict(ModuleEntries(o), path, where); return; }

        var rest = new List<(string Key, object? Value)>();
        foreach (var (key, value) in Children(node))
        {
            if (!IsTensor(value) && IsTrainingState(key, value))
            {
                int n = Summarize(value, depth + 1).Tensors;
                _training.Add(where + key + (n > 0 ? $" ({n} tensor{(n == 1 ? "" : "s")})" : ""));
            }
            else rest.Add((key, value));
        }
        if (!rest.Any(e => !IsTensor(e.Value) && Summarize(e.Value, depth + 1).Tensors > 0))
        {
            FlatStateDict(rest, path, where);
            return;
        }

        // A checkpoint level: the entries that hold weights; 0-dim tensors beside them are metrics.
        var weights = rest.Where(e => IsTensor(e.Value) ? IsWeight(e.Value) : Summarize(e.Value, depth + 1).Weights).ToList();
        if (weights.Count == 0) weights = rest.Where(e => IsTensor(e.Value) || Summarize(e.Value, depth + 1).Tensors > 0).ToList();
        foreach (var e in rest.Except(weights))
            _leftOut.Add(where + e.Key + (IsTensor(e.Value) ? " (a 0-dim tensor)" : Summarize(e.Value, depth + 1).Tensors > 0 ? " (0-dim tensors)" : ""));

        if (collapse && weights.Count == 1 && !IsTensor(weights[0].Value))
            Level(weights[0].Value!, path, where + weights[0].Key + ".", collapse: true, depth + 1);
        else
            foreach (var (key, value) in weights)
                if (IsTensor(value)) _tensors.Add(new Entry(path + key, value!));
                else Level(value!, path + key + ".", where + key + ".", collapse: false, depth + 1);
    }

    /// <summary>A state_dict: its tensors under their keys (a shared wrapper prefix removed), the rest noted.</summary>
    void FlatStateDict(List<(string Key, object? Value)> entries, string path, string where)
    {
        var tensors = entries.Where(e => IsTensor(e.Value)).ToList();
        foreach (var e in entries.Where(e => !IsTensor(e.Value))) _leftOut.Add(where + e.Key);
        if (!_torchScript)
        {
            // DataParallel/DistributedDataParallel (module.) and torch.compile (_orig_mod.) wrap the model;
            // the unwrapped model's load_state_dict wants the names without them. All keys or none.
            foreach (var prefix in (string[])["module.", "_orig_mod."])
            {
                int removed = 0;
                while (tensors.Count > 0 && tensors.All(e => e.Key.StartsWith(prefix, StringComparison.Ordinal) && e.Key.Length > prefix.Length))
                {
                    tensors = tensors.Select(e => (e.Key[prefix.Length..], e.Value)).ToList();
                    removed++;
                }
                if (removed > 0)
                    _prefixes.Add($"removed the wrapper prefix '{string.Concat(Enumerable.Repeat(prefix, removed))}' from the {tensors.Count} names" +
                        $"{(where.Length > 0 ? $" under '{where.TrimEnd('.')}'" : "")} ({(prefix == "module." ? "DataParallel/DistributedDataParallel" : "torch.compile")}), " +
                        "as the unwrapped model's load_state_dict expects them");
            }
        }
        foreach (var (key, value) in tensors) _tensors.Add(new Entry(path + key, value!));
    }

    // ---- what holds what ----

    readonly record struct Summary(int Tensors, bool Weights);

    /// <summary>How many tensors a value holds (through the same view as the naming rule) and whether any has a dimension.</summary>
    Summary Summarize(object? o, int depth)
    {
        if (IsTensor(o)) return new Summary(1, IsWeight(o));
        if (o is null || o is string || o is byte[] || o.GetType().IsPrimitive || o is System.Numerics.BigInteger) return default;
        if (_summaries.TryGetValue(o, out var known)) return known;
        if (depth > MaxDepth) { _tooDeep = true; return default; }
        if (!_inProgress.Add(o)) return default; // a cycle: counted where it started
        int n = 0;
        bool weights = false;
        foreach (var (_, value) in o is PyObject m && IsModule(m) ? ModuleEntries(m) : Children(o))
        {
            var s = Summarize(value, depth + 1);
            n += s.Tensors;
            weights |= s.Weights;
        }
        _inProgress.Remove(o);
        return _summaries[o] = new Summary(n, weights);
    }

    /// <summary>A container's entries: dict items, list and tuple items by index, an inert object's attributes and items.</summary>
    static IEnumerable<(string Key, object? Value)> Children(object node)
    {
        switch (node)
        {
            case PyDict d:
                foreach (var (k, v) in d.Items) yield return (KeyText(k), v);
                break;
            case List<object?> l:
                for (int i = 0; i < l.Count; i++) yield return (Index(i), l[i]);
                break;
            case PyTuple t:
                for (int i = 0; i < t.Count; i++) yield return (Index(i), t[i]);
                break;
            case PyObject o:
                if (Attributes(o) is { } attrs) foreach (var (k, v) in attrs.Items) yield return (KeyText(k), v);
                if (o.Items is { } items) foreach (var (k, v) in items.Items) yield return (KeyText(k), v);
                if (o.List is { } list) for (int i = 0; i < list.Count; i++) yield return (Index(i), list[i]);
                break;
        }
    }

    /// <summary>An inert object's attribute dict: its BUILD state, or the dict half of a (dict, slots) state.</summary>
    static PyDict? Attributes(PyObject o) => o.State switch
    {
        PyDict d => d,
        PyTuple { Count: 2 } t when t[0] is PyDict || t[1] is PyDict => Merge(t[0] as PyDict, t[1] as PyDict),
        _ => null,
    };

    static PyDict Merge(PyDict? a, PyDict? b)
    {
        var d = new PyDict();
        foreach (var src in new[] { a, b })
            if (src is not null) foreach (var (k, v) in src.Items) d.Set(k, v);
        return d;
    }

    // ---- modules ----

    /// <summary>A TorchScript module object (a __torch__ class with a training flag), or a pickled nn.Module.</summary>
    bool IsModule(PyObject o)
    {
        if (Attributes(o) is not { } attrs) return false;
        if (_torchScript && o.Class is { } c && (c.Module == "__torch__" || c.Module.StartsWith("__torch__.", StringComparison.Ordinal)))
            return attrs.TryGet("training", out var t) && t is bool;
        return attrs.TryGet("_parameters", out var p) && p is PyDict && attrs.TryGet("_modules", out var m) && m is PyDict;
    }

    /// <summary>A module's state_dict entries with their dotted names: its own tensors, then each submodule's.</summary>
    List<(string Key, object? Value)> ModuleEntries(PyObject module)
    {
        if (_moduleEntries.TryGetValue(module, out var known)) return known;
        var result = new List<(string, object?)>();
        _moduleEntries[module] = result;
        _modulePath.Add(module);
        AddModule(module, "", result, 0);
        _modulePath.Remove(module);
        return result;
    }

    void AddModule(PyObject module, string prefix, List<(string, object?)> into, int depth)
    {
        if (depth > MaxDepth) { _tooDeep = true; return; }
        var attrs = Attributes(module)!;
        var children = new List<(string Name, PyObject Module)>();
        if (_torchScript && attrs.TryGet("training", out _) && !attrs.TryGet("_parameters", out _))
        {
            // TorchScript: parameters and buffers are the module's tensor attributes; submodules follow them, as in state_dict().
            foreach (var (k, v) in attrs.Items)
                if (IsTensor(v)) into.Add((prefix + KeyText(k), v));
                else if (v is PyObject sub && IsModule(sub)) children.Add((KeyText(k), sub));
        }
        else
        {
            // nn.Module.state_dict(): _parameters, then _buffers not marked non-persistent, then _modules.
            if (attrs.TryGet("_parameters", out var p) && p is PyDict parameters)
                foreach (var (k, v) in parameters.Items) if (IsTensor(v)) into.Add((prefix + KeyText(k), v));
            var transient = attrs.TryGet("_non_persistent_buffers_set", out var np) && np is PySet set
                ? set.Items.Select(KeyText).ToHashSet(StringComparer.Ordinal) : [];
            if (attrs.TryGet("_buffers", out var b) && b is PyDict buffers)
                foreach (var (k, v) in buffers.Items) if (IsTensor(v) && !transient.Contains(KeyText(k))) into.Add((prefix + KeyText(k), v));
            if (attrs.TryGet("_modules", out var m) && m is PyDict modules)
                foreach (var (k, v) in modules.Items) if (v is PyObject sub && IsModule(sub)) children.Add((KeyText(k), sub));
        }
        foreach (var (name, sub) in children)
        {
            if (!_modulePath.Add(sub)) continue; // a module inside itself
            AddModule(sub, prefix + name + ".", into, depth + 1);
            _modulePath.Remove(sub);
        }
    }

    // ---- training state ----

    // Keys that hold optimizer or training state, whatever the prefix or suffix (optimizer_G, lr_scheduler, grad_scaler, ...).
    [GeneratedRegex(@"optimi[sz]er|scheduler|^(optim|optim_state|optim_state_dict|opt_state|amp|scaler|grad_scaler|amp_scaler|callbacks|loops)$", RegexOptions.IgnoreCase)]
    private static partial Regex TrainingStateKey();

    static bool IsTrainingState(string key, object? value)
    {
        if (TrainingStateKey().IsMatch(key)) return true;
        if (value is PyDict d && d.TryGet("state", out _) && d.TryGet("param_groups", out _)) return true;
        return value is PyObject o && o.Class is { } c
            && (c.Module.StartsWith("torch.optim", StringComparison.Ordinal) || c.Module.StartsWith("torch.cuda.amp", StringComparison.Ordinal)
                || c.Module.StartsWith("torch.amp", StringComparison.Ordinal));
    }

    // ---- small things ----

    static bool IsTensor(object? o) => o is TensorRef or UnreadableTensor;

    /// <summary>A tensor with at least one dimension (an unreadable one counts: its error is reported with the weights).</summary>
    static bool IsWeight(object? o) => o is UnreadableTensor || o is TensorRef { Size.Length: > 0 };

    static string Index(int i) => i.ToString(CultureInfo.InvariantCulture);

    /// <summary>A dict key as a name segment: strings as they are, other keys as Python prints them.</summary>
    internal static string KeyText(object? k) => k switch
    {
        string s => s,
        null => "None",
        bool b => b ? "True" : "False",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        PyTuple t => TupleText(t),
        _ => Convert.ToString(k, CultureInfo.InvariantCulture) ?? "",
    };

    const int MaxKeyText = 1024;

    /// <summary>
    /// A tuple key as Python prints it, without recursion and cut at 1 KB: a pickle's tuples may nest
    /// a thousand deep, and sharing one tuple through the memo makes its text exponentially long.
    /// </summary>
    static string TupleText(PyTuple root)
    {
        var sb = new System.Text.StringBuilder();
        var pending = new Stack<(PyTuple Tuple, int Next)>();
        sb.Append('(');
        pending.Push((root, 0));
        while (pending.Count > 0 && sb.Length <= MaxKeyText)
        {
            var (t, i) = pending.Pop();
            if (i == t.Count) { sb.Append(t.Count == 1 ? ",)" : ")"); continue; }
            if (i > 0) sb.Append(", ");
            pending.Push((t, i + 1));
            switch (t[i])
            {
                case PyTuple inner: sb.Append('('); pending.Push((inner, 0)); break;
                case string s: sb.Append('\'').Append(s).Append('\''); break;
                case var o: sb.Append(KeyText(o)); break;
            }
        }
        return sb.Length <= MaxKeyText ? sb.ToString() : sb.ToString(0, MaxKeyText) + "...";
    }

    static string List(List<string> items) => string.Join(", ", items.Take(8)) + (items.Count > 8 ? $", ... ({items.Count} in all)" : "");
}
