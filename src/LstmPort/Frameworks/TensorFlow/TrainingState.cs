namespace LstmPort.Frameworks.TensorFlow;

/// <summary>
/// Variables a TensorFlow checkpoint or SavedModel holds for training, not for the model's maths:
/// optimizer slots (<c>&lt;var&gt;/Adam</c>, <c>/Adam_1</c>, <c>/Momentum</c>, <c>/RMSProp</c>, ...,
/// TF2's <c>.OPTIMIZER_SLOT</c>), optimizer variables (<c>beta1_power</c>, <c>optimizer/iter</c>, ...),
/// step counters (<c>global_step</c>, <c>save_counter</c>) and Keras metrics
/// (<c>keras_api/metrics/...</c>). Readers leave them out and say so in one note.
/// </summary>
internal static class TrainingState
{
    public const string Slot = "optimizer slot", Optimizer = "optimizer variable", Counter = "step counter", Metric = "metric variable";

    // The slot names TF1's optimizers give (tf.train.*Optimizer, tf.contrib.opt), plus moving averages of the weights.
    static readonly HashSet<string> SlotNames = new(StringComparer.Ordinal)
    {
        "Adam", "Adam_1", "AdamW", "AdamW_1", "Nadam", "Nadam_1", "LazyAdam", "LazyAdam_1", "Momentum", "RMSProp", "RMSProp_1",
        "Adagrad", "AdagradDA", "AdagradDA_1", "Adadelta", "Adadelta_1", "Ftrl", "Ftrl_1", "ProximalAdagrad", "ProximalGradientDescent",
        "AddSign", "PowerSign", "Adamax", "Adamax_1", "ExponentialMovingAverage",
    };

    // tf.keras optimizers in TF 1.x graph mode: Adam/iterations, Adam/lr, ... and their moments training/Adam/Variable_N.
    static readonly HashSet<string> KerasOptimizers = new(StringComparer.Ordinal)
        { "Adam", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam", "Ftrl", "AdamW" };

    static readonly HashSet<string> KerasOptimizerVariables = new(StringComparer.Ordinal)
        { "iterations", "iter", "lr", "learning_rate", "beta_1", "beta_2", "decay", "momentum", "rho", "epsilon" };

    /// <summary>What kind of training state a variable (its TF1 name or TF2 checkpoint key) is, or null for a weight.</summary>
    public static string? Kind(string name)
    {
        if (name.Contains("/.OPTIMIZER_SLOT/", StringComparison.Ordinal)) return Slot;
        var segments = name.Replace("/.ATTRIBUTES/VARIABLE_VALUE", "", StringComparison.Ordinal).Split('/');
        var last = segments[^1];
        if (segments[0] is "optimizer" or "OptimizeLoss") return Optimizer;
        if (segments.Length > 2 && segments[0] == "training" && KerasOptimizers.Contains(segments[1])) return Slot;
        if (segments.Length == 2 && KerasOptimizers.Contains(segments[0]) && KerasOptimizerVariables.Contains(last)) return Optimizer;
        if (segments[0] == "keras_api" && segments.Contains("metrics")) return Metric;
        if (last is "global_step" or "save_counter") return Counter;
        if (segments.Length > 1 && SlotNames.Contains(last)) return Slot;
        if (segments.Any(s => s.StartsWith("beta", StringComparison.Ordinal) && s.EndsWith("_power", StringComparison.Ordinal))) return Optimizer;
        return null;
    }

    /// <summary>Counts what was left out, by kind, with a few of the names each kind had.</summary>
    public sealed class Tally
    {
        readonly Dictionary<string, (int Count, SortedSet<string> Names)> _kinds = new(StringComparer.Ordinal);

        public int Count => _kinds.Values.Sum(k => k.Count);

        public void Add(string kind, string name)
        {
            if (!_kinds.TryGetValue(kind, out var k)) k = (0, new SortedSet<string>(StringComparer.Ordinal));
            // The slot's or counter's own name (Adam_1, m, global_step), not the weight it belongs to; a list's items by the list.
            var parts = name.Replace("/.ATTRIBUTES/VARIABLE_VALUE", "", StringComparison.Ordinal).Split('/');
            k.Names.Add(parts.Length > 1 && parts[^1].All(char.IsAsciiDigit) ? string.Join('/', parts[..^1]) + "/*" : parts[^1]);
            _kinds[kind] = (k.Count + 1, k.Names);
        }

        /// <summary>One line for WeightFile.Notes, or null when nothing was left out.</summary>
        public string? Note()
        {
            if (Count == 0) return null;
            var parts = new[] { Slot, Optimizer, Counter, Metric }.Where(_kinds.ContainsKey)
                .Select(k => $"{_kinds[k].Count} {k}{(_kinds[k].Count == 1 ? "" : "s")} ({string.Join(", ", _kinds[k].Names.Take(4))}{(_kinds[k].Names.Count > 4 ? ", ..." : "")})");
            return $"left out {Count} variables that hold training state, not weights: {string.Join("; ", parts)}";
        }
    }
}
