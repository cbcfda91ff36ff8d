using System.Globalization;
using LstmPort.Conversion;
using LstmPort.Frameworks.Keras;
using System.Text.RegularExpressions;
using TorchSharp;

namespace LstmPort.Frameworks.TensorFlow;

/// <summary>One variable as a TF1 checkpoint or frozen graph names it.</summary>
internal sealed record TfVariable(string Name, int[] Shape, string DType, Func<torch.Tensor> Load);

/// <summary>What a graph says about a cell that its variables do not (forget_bias is added at run time, never stored).</summary>
internal sealed record CellHints(double? ForgetBias, double? CellClip, bool? UsePeepholes);

/// <summary>What one TF1 file's variables are: tensors in layer order, and what the user is told.</summary>
internal sealed class TfDescription
{
    public List<LstmTensor> Tensors { get; } = [];
    public List<string> Warnings { get; } = [];
    public List<LstmPortException> Errors { get; } = [];
    public List<string> Notes { get; } = [];
}

/// <summary>
/// Maps TF1 variable names to layers and roles (Layout TensorFlow), scope by scope, by what each
/// scope holds. A cell's variables sit under <c>&lt;scope&gt;/&lt;cell&gt;/</c>, where <c>&lt;cell&gt;</c>
/// is the cell's own scope (<c>lstm_cell</c>, <c>basic_lstm_cell</c>, <c>gru_cell</c>,
/// <c>basic_rnn_cell</c>, <c>lstm_fused_cell</c>, <c>cudnn_compatible_lstm_cell</c>, TF 0.x's
/// <c>BasicLSTMCell</c>, ...): LSTM <c>kernel [in+h,4h]</c> (gates i,j,f,o), <c>bias [4h]</c>,
/// peepholes <c>w_i_diag/w_f_diag/w_o_diag [h]</c>, <c>projection/kernel [h,num_proj]</c>; GRU
/// <c>gates/kernel [in+h,2h]</c> (r,u), <c>gates/bias</c>, <c>candidate/kernel [in+h,h]</c>,
/// <c>candidate/bias</c> (GRUBlockCell: <c>w_ru</c>, <c>b_ru</c>, <c>w_c</c>, <c>b_c</c>;
/// CudnnCompatibleGRUCell: <c>candidate/input_projection</c> <c>[in,h]</c> and
/// <c>candidate/hidden_projection</c> <c>[h,h]</c>, reset after the matmul); BasicRNNCell
/// <c>kernel [in+h,h]</c>. TF before 1.0 spells kernel/bias <c>weights/biases</c> (0.x:
/// <c>Linear/Matrix</c>, <c>Linear/Bias</c>). <c>cell_&lt;k&gt;</c> (MultiRNNCell,
/// stack_bidirectional_rnn) is the depth, <c>fw</c>/<c>bw</c> the direction.
/// <para>
/// A scope is a cell when its cell segment names one or, for a cell named otherwise, when it sits
/// in an RNN's scope (<c>rnn</c>, <c>multi_rnn_cell</c>, <c>fw</c>, ...) and its shapes fit one. A
/// <c>kernel</c>/<c>bias</c> or <c>weights</c>/<c>biases</c> pair that fits a fully connected
/// layer (<c>[in,out]</c>, <c>[out]</c>) and is no cell is Dense (tf.layers.dense,
/// tf.contrib.layers.fully_connected). tf.contrib.cudnn_rnn's opaque buffer
/// (<c>cudnn_lstm/opaque_kernel</c>) is split into its layers (<see cref="CudnnParams"/>).
/// Anything else is <c>Other</c>, with one warning. A scope that cannot be understood (a cell's
/// shapes that contradict each other) is one error naming it and is left out; the other scopes
/// are still read. Training state (<see cref="TrainingState"/>) is left out with one note.
/// </para>
/// </summary>
internal static partial class Tf1Scopes
{
    public const double DefaultForgetBias = 1.0;

    [GeneratedRegex(@"^(?:(?<lstm>lstm_cell|basic_lstm_cell|lstm_block_cell|lstm_fused_cell|lstm_block_fused_cell|cudnn_compatible_lstm_cell|LSTMCell|BasicLSTMCell|LSTMBlockCell)" +
                    @"|(?<gru>gru_cell|gru_block_cell|cudnn_compatible_gru_cell|GRUCell|GRUBlockCell)|(?<rnn>basic_rnn_cell|BasicRNNCell))(?:_\d+)?$")]
    private static partial Regex CellSegment();

    // The scopes TF's RNN functions open around a cell: dynamic_rnn/static_rnn ("rnn", TF 0.x "RNN"),
    // MultiRNNCell (cell_k), bidirectional_dynamic_rnn (fw/bw), stack_bidirectional_rnn.
    [GeneratedRegex(@"^(?:rnn(?:_\d+)?|RNN|multi_rnn_cell|MultiRNNCell|cell_\d+|Cell\d+|fw|bw|FW|BW|BiRNN|bidirectional_rnn|stack_bidirectional_rnn|\w+_rnn)$")]
    private static partial Regex RecurrentScopeSegment();

    // tf.layers.dense, tf.contrib.layers.fully_connected, the wrappers' projections and Keras's Dense.
    [GeneratedRegex(@"^(?:dense|fully_connected|output_projection_wrapper|input_projection_wrapper|attention_layer|memory_layer|query_layer|logits|linear)(?:_\d+)?$")]
    private static partial Regex DenseSegment();

    // tf.keras layers saved by name (tf.train.Saver in graph mode, Estimators): lstm/lstm_cell/kernel, bidirectional/forward_lstm/kernel.
    [GeneratedRegex(@"^(?:lstm|gru|simple_rnn)_cell(?:_\d+)?$")]
    private static partial Regex KerasCellSegment();

    [GeneratedRegex(@"^(?:forward|backward)_\w+$")]
    private static partial Regex KerasDirectionSegment();

    [GeneratedRegex(@"^(?:cell_|Cell)(\d+)$")]
    private static partial Regex StackSegment();

    [GeneratedRegex(@":\d+$")]
    private static partial Regex OutputIndex();

    enum Part
    {
        Kernel, Bias, PeepholeI, PeepholeF, PeepholeO, Projection, GatesKernel, GatesBias, CandidateKernel, CandidateBias,
        InputProjectionKernel, InputProjectionBias, HiddenProjectionKernel, HiddenProjectionBias, Opaque,
        KerasRecurrentKernel, KerasEmbeddings,
    }

    // Longest first, so candidate/input_projection/kernel is not read as candidate/... or kernel.
    static readonly (string Suffix, Part Part)[] Parts =
    [
        ("candidate/input_projection/kernel", Part.InputProjectionKernel), ("candidate/input_projection/bias", Part.InputProjectionBias),
        ("candidate/hidden_projection/kernel", Part.HiddenProjectionKernel), ("candidate/hidden_projection/bias", Part.HiddenProjectionBias),
        ("Gates/Linear/Matrix", Part.GatesKernel), ("Gates/Linear/Bias", Part.GatesBias),
        ("Candidate/Linear/Matrix", Part.CandidateKernel), ("Candidate/Linear/Bias", Part.CandidateBias),
        ("gates/kernel", Part.GatesKernel), ("gates/weights", Part.GatesKernel), ("gates/bias", Part.GatesBias), ("gates/biases", Part.GatesBias),
        ("candidate/kernel", Part.CandidateKernel), ("candidate/weights", Part.CandidateKernel),
        ("candidate/bias", Part.CandidateBias), ("candidate/biases", Part.CandidateBias),
        ("projection/kernel", Part.Projection), ("projection/weights", Part.Projection),
        ("Linear/Matrix", Part.Kernel), ("Linear/Bias", Part.Bias),
        ("w_ru", Part.GatesKernel), ("b_ru", Part.GatesBias), ("w_c", Part.CandidateKernel), ("b_c", Part.CandidateBias),
        ("w_i_diag", Part.PeepholeI), ("w_f_diag", Part.PeepholeF), ("w_o_diag", Part.PeepholeO),
        ("W_I_diag", Part.PeepholeI), ("W_F_diag", Part.PeepholeF), ("W_O_diag", Part.PeepholeO),
        ("opaque_kernel", Part.Opaque),
        ("recurrent_kernel", Part.KerasRecurrentKernel), ("embeddings", Part.KerasEmbeddings),
        ("kernel", Part.Kernel), ("weights", Part.Kernel), ("bias", Part.Bias), ("biases", Part.Bias),
    ];

    static readonly Part[] GruParts =
        [Part.GatesKernel, Part.GatesBias, Part.CandidateKernel, Part.CandidateBias,
         Part.InputProjectionKernel, Part.InputProjectionBias, Part.HiddenProjectionKernel, Part.HiddenProjectionBias];

    sealed record Member(TfVariable Variable, Part Part);

    /// <summary>Which part of a layer a variable is, and the layer's variable scope (the name without the part).</summary>
    static (string Scope, Part Part)? Split(string name)
    {
        foreach (var (suffix, part) in Parts)
        {
            if (name == suffix) return ("", part);
            if (name.Length > suffix.Length && name.EndsWith(suffix, StringComparison.Ordinal) && name[^(suffix.Length + 1)] == '/')
                return (name[..^(suffix.Length + 1)], part);
        }
        return null;
    }

    /// <summary>The scope's last segment when it names a TF cell class: "lstm", "gru", "rnn", or null.</summary>
    static string? CellKind(string scope)
    {
        var m = CellSegment().Match(scope.Split('/')[^1]);
        return !m.Success ? null : m.Groups["lstm"].Success ? "lstm" : m.Groups["gru"].Success ? "gru" : "rnn";
    }

    /// <param name="variables">In the model's order when it is known (a graph's node order), else in any order.</param>
    /// <param name="graphOrder">The position of each variable's node in a graph (a checkpoint's .meta), which orders the layers as the model made them.</param>
    /// <param name="byName">Order by name (digits as numbers, so cell_10 follows cell_9) where no graph gives the order: a checkpoint's keys.</param>
    public static TfDescription Describe(IReadOnlyList<TfVariable> variables, IReadOnlyDictionary<string, CellHints> hints,
        string source, IReadOnlyDictionary<string, CudnnHints>? cudnn = null, IReadOnlyDictionary<string, int>? graphOrder = null, bool byName = false)
    {
        var d = new TfDescription();
        cudnn ??= new Dictionary<string, CudnnHints>();
        if (byName || graphOrder is not null)
            variables = variables.OrderBy(v => graphOrder?.GetValueOrDefault(OutputIndex().Replace(v.Name, ""), int.MaxValue) ?? int.MaxValue)
                .ThenBy(v => v.Name, NaturalOrder.Instance).ToList();
        var training = new TrainingState.Tally();
        var scopes = new Dictionary<string, List<Member>>(StringComparer.Ordinal);
        // Scopes and opaque cuDNN buffers, in the order of their first variable.
        var scopeOrder = new List<string>();
        var items = new List<(string? Scope, TfVariable? Opaque)>();
        var unknown = new List<TfVariable>();
        foreach (var v in variables)
        {
            var name = OutputIndex().Replace(v.Name, "");
            if (TrainingState.Kind(name) is { } kind) { training.Add(kind, name); continue; }
            var split = Split(name);
            if (split?.Part == Part.Opaque || cudnn.ContainsKey(name)) { items.Add((null, v)); continue; }
            if (split is not { } s) { unknown.Add(v); continue; }
            if (!scopes.TryGetValue(s.Scope, out var members))
            {
                scopes[s.Scope] = members = [];
                scopeOrder.Add(s.Scope);
                items.Add((s.Scope, null));
            }
            members.Add(new Member(v, s.Part));
        }
        if (training.Note() is { } note) d.Notes.Add(note);

        // A scope that also holds variables no TF cell or dense layer has (LayerNormBasicLSTMCell's
        // gamma/beta, a fully_connected's BatchNorm) computes something else: its kind is unknown.
        var foreign = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var v in unknown)
        {
            var name = OutputIndex().Replace(v.Name, "");
            foreach (var scope in scopeOrder)
                if (scope.Length > 0 && name.StartsWith(scope + "/", StringComparison.Ordinal))
                {
                    if (!foreign.TryGetValue(scope, out var list)) foreign[scope] = list = [];
                    list.Add(name[(scope.Length + 1)..]);
                }
        }

        var others = new List<TfVariable>(unknown);
        // Scopes of tf.keras layers (a recurrent_kernel, an embeddings table) go to KerasLayers, one Keras layer each.
        var keras = new Dictionary<string, List<KerasLayers.Weight>>(StringComparer.Ordinal);
        foreach (var scope in scopeOrder.Where(sc => !foreign.ContainsKey(sc) && scopes[sc].Any(m => m.Part is Part.KerasRecurrentKernel or Part.KerasEmbeddings)))
        {
            var layer = KerasLayerName(scope);
            if (!keras.TryGetValue(layer, out var weights)) keras[layer] = weights = [];
            weights.AddRange(scopes[scope].Select(m => new KerasLayers.Weight(m.Variable.Name, m.Variable.Shape, m.Variable.DType, m.Variable.Load)));
        }
        bool kerasDone = false;
        foreach (var (scope, opaque) in items)
        {
            try
            {
                if (opaque is not null)
                {
                    var name = OutputIndex().Replace(opaque.Name, "");
                    CudnnParams.Describe(opaque, name, cudnn.GetValueOrDefault(name), scopeOrder, source, d);
                    continue;
                }
                var members = scopes[scope!];
                if (foreign.ContainsKey(scope!)) others.AddRange(members.Select(m => m.Variable));
                else if (keras.ContainsKey(KerasLayerName(scope!)) && members.Any(m => m.Part is Part.KerasRecurrentKernel or Part.KerasEmbeddings))
                {
                    // All Keras layers at once, where the first one is (so the file gets one warning about inferred settings).
                    if (!kerasDone) DescribeKeras(keras, source, d);
                    kerasDone = true;
                }
                else if (DescribeScope(scope!, members, hints, source, d.Warnings) is { } tensors) d.Tensors.AddRange(tensors);
                else others.AddRange(members.Select(m => m.Variable));
            }
            catch (LstmPortException e) { d.Errors.Add(e); }
        }

        // Within a layer, depths in order and the forward direction first (a checkpoint's sorted keys put bw before fw).
        var rank = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in d.Tensors) rank.TryAdd(t.Layer, rank.Count);
        var ordered = d.Tensors.Select((t, i) => (t, i)).OrderBy(x => rank[x.t.Layer]).ThenBy(x => x.t.StackIndex)
            .ThenBy(x => x.t.Direction).ThenBy(x => x.i).Select(x => x.t).ToList();
        d.Tensors.Clear();
        d.Tensors.AddRange(ordered);

        // Unrecognised variables last, in file order, each its own layer.
        if (others.Count > 0)
        {
            var order = variables.Select((v, i) => (v, i)).ToDictionary(p => p.v, p => p.i);
            var sorted = others.OrderBy(o => order[o]).ToList();
            foreach (var v in sorted)
                d.Tensors.Add(new LstmTensor(v.Name, v.Name, LayerType.Other, TensorRole.Other, Layout.TensorFlow, v.Shape, v.DType, v.Load, source: source));
            var shown = sorted.Take(5).Select(v => $"{v.Name} [{string.Join(",", v.Shape)}]");
            d.Warnings.Add($"{others.Count} variables are not LSTM, GRU or RNN cells or dense layers LstmPort knows, so they are listed as LayerType Other " +
                           $"and left out of conversions: {string.Join(", ", shown)}{(others.Count > 5 ? ", ..." : "")}");
        }
        return d;
    }

    /// <summary>The Keras layer a tf.keras scope belongs to: <c>bidirectional/forward_lstm/lstm_cell</c> is <c>bidirectional</c>.</summary>
    static string KerasLayerName(string scope)
    {
        var segments = scope.Split('/').ToList();
        if (segments.Count > 1 && KerasCellSegment().IsMatch(segments[^1])) segments.RemoveAt(segments.Count - 1);
        if (segments.Count > 1 && KerasDirectionSegment().IsMatch(segments[^1])) segments.RemoveAt(segments.Count - 1);
        return string.Join('/', segments);
    }

    /// <summary>
    /// tf.keras layers saved by name: described as Keras describes a weights-only file (types from
    /// the shapes, settings Keras's defaults, listed in Config.inferred); a layer that contradicts
    /// itself is its own error.
    /// </summary>
    static void DescribeKeras(Dictionary<string, List<KerasLayers.Weight>> layers, string source, TfDescription d)
    {
        // TF 1.x's tf.keras says 2.2.4-tf; KerasVersion tells TF 2's graph-mode names apart by their cell segment.
        var origin = new KerasLayers.Origin(source, "2.2.4-tf", "tensorflow");
        var all = layers.Select(l => new KerasLayers.Layer(l.Key, l.Value, null)).ToList();
        var good = new List<KerasLayers.Layer>();
        foreach (var layer in all)
        {
            try { _ = KerasLayers.Describe([layer], origin); good.Add(layer); }
            catch (LstmPortException e) { d.Errors.Add(e); }
        }
        var (tensors, warnings) = KerasLayers.Describe(good, origin);
        d.Tensors.AddRange(tensors);
        d.Warnings.AddRange(warnings);
    }

    /// <summary>Layer, depth and direction from a cell's scope (<c>rnn/multi_rnn_cell/cell_1/lstm_cell</c> is layer <c>rnn/multi_rnn_cell/cell_1</c> at depth 1).</summary>
    internal static (string Layer, int Depth, Direction Direction) Place(string scope)
    {
        var segments = scope.Split('/').ToList();
        if (segments.Count > 1 && CellKind(scope) is not null) segments.RemoveAt(segments.Count - 1);
        var direction = Direction.Forward;
        // fw/bw scopes (bidirectional_dynamic_rnn, stack_bidirectional_rnn): both halves share the layer name.
        int dirIndex = segments.FindLastIndex(s => s is "fw" or "bw" or "FW" or "BW");
        if (dirIndex >= 0 && segments.Count > 1)
        {
            direction = segments[dirIndex] is "bw" or "BW" ? Direction.Backward : Direction.Forward;
            segments.RemoveAt(dirIndex);
        }
        int depth = 0;
        foreach (var s in segments)
            if (StackSegment().Match(s) is { Success: true } m) depth = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        var layer = string.Join('/', segments);
        return (layer.Length == 0 ? scope : layer, depth, direction);
    }

    static bool InRecurrentScope(string scope) => scope.Split('/').SkipLast(1).Any(s => RecurrentScopeSegment().IsMatch(s));

    /// <summary>The scope's tensors, or null when its kind is unknown; throws when its shapes contradict the kind it must be.</summary>
    static IReadOnlyList<LstmTensor>? DescribeScope(string scope, List<Member> members, IReadOnlyDictionary<string, CellHints> hints,
        string source, List<string> warnings)
    {
        string where = scope.Length == 0 ? "(root)" : scope;
        foreach (var same in members.GroupBy(m => m.Part).Where(g => g.Count() > 1))
            throw new LstmPortException(ErrorIds.DuplicateTensor,
                $"TF1 scope {where}: {string.Join(" and ", same.Select(m => $"'{m.Variable.Name}'"))} are both its {same.Key}; expected one.", where);
        Member? Get(Part p) => members.FirstOrDefault(m => m.Part == p);
        var cell = CellKind(scope);

        if (members.Any(m => GruParts.Contains(m.Part)))
        {
            bool gru = Get(Part.GatesKernel) is not null
                       && (Get(Part.CandidateKernel) is not null || (Get(Part.InputProjectionKernel) is not null && Get(Part.HiddenProjectionKernel) is not null));
            if (!gru || members.Any(m => !GruParts.Contains(m.Part))) return null;
            return Gru(scope, members, source);
        }

        var kernel = Get(Part.Kernel);
        var bias = Get(Part.Bias);
        bool lstmOnly = members.Any(m => m.Part is Part.PeepholeI or Part.PeepholeF or Part.PeepholeO or Part.Projection);
        if (kernel is null) return null;
        if (cell == "lstm" || lstmOnly)
        {
            if (cell is "gru" or "rnn")
                throw Mismatch(where, $"a {(cell == "gru" ? "GRUCell" : "BasicRNNCell")} has no peepholes or projection, but the scope holds {string.Join(", ", members.Select(m => m.Variable.Name))}");
            return Lstm(scope, members, hints, source, warnings);
        }
        if (cell == "rnn") return BasicRnn(scope, kernel, bias, source);
        if (cell == "gru") return null; // a GRUCell's kernels are gates/ and candidate/

        int[] k = kernel.Variable.Shape;
        bool biasFits = bias is null || (bias.Variable.Shape is [var n] && k.Length == 2 && n == k[1]);
        if (DenseSegment().IsMatch(scope.Split('/')[^1]))
        {
            if (k.Length != 2 || !biasFits)
                throw new LstmPortException(ErrorIds.LayerShapeMismatch,
                    $"TF1 dense layer {where}: {Shapes(members)}; a fully connected layer stores kernel [in,out] and bias [out].", where);
            return Dense(scope, kernel, bias, source);
        }
        if (k.Length != 2 || !biasFits) return null;
        if (InRecurrentScope(scope))
        {
            // A cell named otherwise inside an RNN's scope: [in+h,4h] is an LSTM, [in+h,h] a BasicRNNCell.
            if (k[1] % 4 == 0 && k[1] > 0 && k[0] > k[1] / 4) return Lstm(scope, members, hints, source, warnings);
            if (k[0] > k[1] && k[1] > 0) return BasicRnn(scope, kernel, bias, source);
        }
        return Dense(scope, kernel, bias, source);
    }

    static IReadOnlyList<LstmTensor> Dense(string scope, Member kernel, Member? bias, string source)
    {
        int input = kernel.Variable.Shape[0], units = kernel.Variable.Shape[1];
        var layer = scope.Length == 0 ? OutputIndex().Replace(kernel.Variable.Name, "") : scope;
        var config = new Dictionary<string, object?> { [ConfigKeys.UseBias] = bias is not null };
        var result = new List<LstmTensor> { Emit(kernel, layer, LayerType.Dense, TensorRole.Kernel, GateOrder.None, Direction.Forward, 0, units, input, config, source) };
        if (bias is not null) result.Add(Emit(bias, layer, LayerType.Dense, TensorRole.Bias, GateOrder.None, Direction.Forward, 0, units, input, config, source));
        return result;
    }

    static IReadOnlyList<LstmTensor> BasicRnn(string scope, Member kernel, Member? bias, string source)
    {
        // BasicRNNCell: kernel [in+h, h].
        string where = scope.Length == 0 ? "(root)" : scope;
        var (layer, depth, direction) = Place(scope);
        if (kernel.Variable.Shape is not [var rows, var h] || h <= 0 || rows <= h)
            throw Mismatch(where, $"'{kernel.Variable.Name}' is [{string.Join(",", kernel.Variable.Shape)}]; a BasicRNNCell's kernel is [input + units, units] with at least one input row");
        if (bias is not null) Check(where, bias.Variable, [h], "bias [units]");
        var config = new Dictionary<string, object?>
        {
            [ConfigKeys.Activation] = "tanh", [ConfigKeys.UseBias] = bias is not null,
            [ConfigKeys.Inferred] = new[] { ConfigKeys.Activation },
        };
        return new[] { kernel, bias }.Where(m => m is not null).Select(m => Emit(m!, layer, LayerType.SimpleRNN,
            m!.Part == Part.Kernel ? TensorRole.FusedKernel : TensorRole.Bias, GateOrder.None, direction, depth, h, rows - h, config, source)).ToList();
    }

    static IReadOnlyList<LstmTensor> Gru(string scope, List<Member> members, string source)
    {
        string where = scope.Length == 0 ? "(root)" : scope;
        Member? Get(Part p) => members.FirstOrDefault(m => m.Part == p);
        var (layer, depth, direction) = Place(scope);
        var gk = Get(Part.GatesKernel)!;
        var config = new Dictionary<string, object?>
        {
            [ConfigKeys.Activation] = "tanh", [ConfigKeys.RecurrentActivation] = "sigmoid",
            [ConfigKeys.Inferred] = new[] { ConfigKeys.Activation },
        };
        int h, input;
        Part[] order;
        if (Get(Part.CandidateKernel) is { } ck)
        {
            // GRUCell, GRUBlockCell: r,u = sigmoid([x,h]·gates + b), c = tanh([x, r*h]·candidate + b): reset before the matmul.
            if (ck.Variable.Shape is not [var rows, var units] || units <= 0 || rows <= units)
                throw Mismatch(where, $"'{ck.Variable.Name}' is [{string.Join(",", ck.Variable.Shape)}]; a GRUCell's candidate kernel is [input + units, units] with at least one input row");
            (h, input) = (units, rows - units);
            if (members.Any(m => m.Part is Part.InputProjectionKernel or Part.InputProjectionBias or Part.HiddenProjectionKernel or Part.HiddenProjectionBias))
                throw Mismatch(where, $"it holds both a GRUCell's candidate kernel and a CudnnCompatibleGRUCell's projections: {string.Join(", ", members.Select(m => m.Variable.Name))}");
            Check(where, gk.Variable, [input + h, 2 * h], "gates kernel [input + units, 2*units]");
            if (Get(Part.CandidateBias) is { } cb) Check(where, cb.Variable, [h], "candidate bias [units]");
            config[ConfigKeys.ResetAfter] = false;
            config[ConfigKeys.UseBias] = Get(Part.GatesBias) is not null;
            order = [Part.GatesKernel, Part.GatesBias, Part.CandidateKernel, Part.CandidateBias];
        }
        else
        {
            // CudnnCompatibleGRUCell: c = tanh(x·Wi + bi + r*(h·Wh + bh)): cuDNN's GRU, which resets after the recurrent matmul.
            var ik = Get(Part.InputProjectionKernel)!;
            var hk = Get(Part.HiddenProjectionKernel)!;
            if (hk.Variable.Shape is not [var hr, var hc] || hr != hc || hr <= 0)
                throw Mismatch(where, $"'{hk.Variable.Name}' is [{string.Join(",", hk.Variable.Shape)}]; a CudnnCompatibleGRUCell's hidden projection is [units, units]");
            h = hr;
            if (ik.Variable.Shape is not [var inRows, var ic] || ic != h || inRows <= 0)
                throw Mismatch(where, $"'{ik.Variable.Name}' is [{string.Join(",", ik.Variable.Shape)}]; expected [input, {h}]");
            input = inRows;
            Check(where, gk.Variable, [input + h, 2 * h], "gates kernel [input + units, 2*units]");
            if (Get(Part.InputProjectionBias) is { } ib) Check(where, ib.Variable, [h], "input projection bias [units]");
            if (Get(Part.HiddenProjectionBias) is { } hb) Check(where, hb.Variable, [h], "hidden projection bias [units]");
            config[ConfigKeys.ResetAfter] = true;
            config[ConfigKeys.UseBias] = Get(Part.GatesBias) is not null;
            order = [Part.GatesKernel, Part.GatesBias, Part.InputProjectionKernel, Part.InputProjectionBias, Part.HiddenProjectionKernel, Part.HiddenProjectionBias];
        }
        if (Get(Part.GatesBias) is { } gb) Check(where, gb.Variable, [2 * h], "gates bias [2*units]");
        return order.Select(Get).Where(m => m is not null).Select(m => Emit(m!, layer, LayerType.GRU, m!.Part switch
        {
            Part.GatesKernel => TensorRole.FusedKernel,
            Part.GatesBias => TensorRole.Bias,
            Part.CandidateKernel or Part.InputProjectionKernel => TensorRole.CandidateKernel,
            Part.CandidateBias or Part.InputProjectionBias => TensorRole.CandidateBias,
            Part.HiddenProjectionKernel => TensorRole.RecurrentKernel,
            _ => TensorRole.RecurrentBias,
        }, m.Part is Part.GatesKernel or Part.GatesBias ? Gates.Tf1Order(LayerType.GRU) : GateOrder.None, direction, depth, h, input, config, source)).ToList();
    }

    static IReadOnlyList<LstmTensor> Lstm(string scope, List<Member> members, IReadOnlyDictionary<string, CellHints> hints, string source, List<string> warnings)
    {
        // LSTMCell / BasicLSTMCell / LSTMBlockCell / LSTMBlockFusedCell / CudnnCompatibleLSTMCell: kernel [in+r, 4h], r = num_proj or h.
        string where = scope.Length == 0 ? "(root)" : scope;
        Member? Get(Part p) => members.FirstOrDefault(m => m.Part == p);
        var (layer, depth, direction) = Place(scope);
        var kernel = Get(Part.Kernel) ?? throw new LstmPortException(ErrorIds.MissingTensor,
            $"TF1 cell {where}: it holds {string.Join(", ", members.Select(m => m.Variable.Name))} but no kernel [input + units, 4*units].", where);
        var bias = Get(Part.Bias);
        if (kernel.Variable.Shape is not [var rows, var cols] || cols <= 0 || cols % 4 != 0)
            throw Mismatch(where, $"'{kernel.Variable.Name}' is [{string.Join(",", kernel.Variable.Shape)}]; an LSTM cell's kernel is [input + units, 4*units] (i, j, f, o)");
        int units = cols / 4, recurrent = units;
        var projection = Get(Part.Projection);
        if (projection is not null)
        {
            if (projection.Variable.Shape is not [var pr, var p] || pr != units || p <= 0)
                throw Mismatch(where, $"'{projection.Variable.Name}' is [{string.Join(",", projection.Variable.Shape)}], expected [{units}, num_proj]");
            recurrent = p;
        }
        int inputSize = rows - recurrent;
        if (inputSize <= 0)
            throw Mismatch(where, $"'{kernel.Variable.Name}' is [{rows},{cols}], which leaves no input rows for {recurrent} recurrent rows; an LSTM cell's kernel is [input + {(projection is null ? "units" : "num_proj")}, 4*units]");
        if (bias is not null) Check(where, bias.Variable, [4 * units], "bias [4*units]");
        var peepholes = members.Where(m => m.Part is Part.PeepholeI or Part.PeepholeF or Part.PeepholeO).ToList();
        foreach (var p in peepholes) Check(where, p.Variable, [units], "peephole vectors [units]");
        if (peepholes.Count is not (0 or 3))
            throw Mismatch(where, $"it has {peepholes.Count} of the 3 peephole vectors w_i_diag, w_f_diag, w_o_diag");

        hints.TryGetValue(kernel.Variable.Name, out var hint);
        // CudnnCompatibleLSTMCell is an LSTMBlockCell with forget_bias 0: the class fixes it.
        double? classForgetBias = scope.Split('/')[^1].StartsWith("cudnn_compatible_lstm_cell", StringComparison.Ordinal) ? 0.0 : null;
        var inferred = new List<string> { ConfigKeys.Activation };
        var lstmConfig = new Dictionary<string, object?>
        {
            [ConfigKeys.Activation] = "tanh", [ConfigKeys.RecurrentActivation] = "sigmoid",
            [ConfigKeys.UseBias] = bias is not null,
            [ConfigKeys.ForgetBias] = hint?.ForgetBias ?? classForgetBias ?? DefaultForgetBias,
            [ConfigKeys.UsePeepholes] = peepholes.Count == 3,
        };
        if (hint?.ForgetBias is null && classForgetBias is null) inferred.Add(ConfigKeys.ForgetBias);
        if (projection is not null) lstmConfig[ConfigKeys.NumProj] = recurrent;
        if (hint?.CellClip is double clip && clip > 0) lstmConfig[ConfigKeys.CellClip] = clip;
        if (hint?.UsePeepholes == true && peepholes.Count == 0)
            warnings.Add($"{where}: the graph says use_peephole but the peephole vectors are not among the variables");
        lstmConfig[ConfigKeys.Inferred] = inferred.ToArray();

        var ordered = new[] { kernel, bias, Get(Part.PeepholeI), Get(Part.PeepholeF), Get(Part.PeepholeO), projection };
        return ordered.Where(m => m is not null).Select(m => Emit(m!, layer, LayerType.LSTM, m!.Part switch
        {
            Part.Kernel => TensorRole.FusedKernel,
            Part.Bias => TensorRole.Bias,
            Part.Projection => TensorRole.ProjectionKernel,
            _ => TensorRole.Peephole,
        }, m.Part is Part.Kernel or Part.Bias ? Gates.Tf1Order(LayerType.LSTM) : GateOrder.None, direction, depth, units, inputSize, lstmConfig, source)).ToList();
    }

    static LstmTensor Emit(Member m, string layer, LayerType type, TensorRole role, GateOrder order, Direction direction, int depth,
        int units, int inputSize, Dictionary<string, object?> config, string source) =>
        new(m.Variable.Name, layer, type, role, Layout.TensorFlow, m.Variable.Shape, m.Variable.DType, m.Variable.Load,
            direction, depth, order, units, inputSize, config, source);

    static string Shapes(List<Member> members) =>
        string.Join(", ", members.Select(m => $"'{m.Variable.Name}' [{string.Join(",", m.Variable.Shape)}]"));

    static void Check(string scope, TfVariable v, int[] expected, string what)
    {
        if (!v.Shape.SequenceEqual(expected))
            throw Mismatch(scope, $"'{v.Name}' is [{string.Join(",", v.Shape)}], expected [{string.Join(",", expected)}] ({what})");
    }

    static LstmPortException Mismatch(string scope, string what) =>
        new(ErrorIds.LayerShapeMismatch, $"TF1 cell {scope}: {what}.", scope);
}

/// <summary>Overrides settings a TF1 checkpoint cannot hold.</summary>
public static class Tf1Settings
{
    /// <summary>
    /// Sets forget_bias on every TF1 LSTM cell's tensors (other tensors pass through, and so do cuDNN
    /// layers, which have no forget_bias); the value is no longer listed as inferred.
    /// </summary>
    public static IReadOnlyList<LstmTensor> WithForgetBias(IReadOnlyList<LstmTensor> tensors, double forgetBias) =>
        tensors.Select(t =>
        {
            if (t.Layout != Layout.TensorFlow || t.LayerType != LayerType.LSTM || t.Config.ContainsKey(ConfigKeys.Cudnn)) return t;
            var config = new Dictionary<string, object?>(t.Config, StringComparer.OrdinalIgnoreCase) { [ConfigKeys.ForgetBias] = forgetBias };
            if (config.TryGetValue(ConfigKeys.Inferred, out var inferred) && inferred is string[] keys)
                config[ConfigKeys.Inferred] = keys.Where(k => k != ConfigKeys.ForgetBias).ToArray();
            var source = t;
            return new LstmTensor(t.Name, t.Layer, t.LayerType, t.Role, t.Layout, t.Shape, t.DType, () => source.Tensor,
                t.Direction, t.StackIndex, t.GateOrder, t.Units, t.InputSize, config, t.Source);
        }).ToList();
}

/// <summary>Orders names with their digit runs as numbers (cell_2 before cell_10) and letters regardless of case (in_hidden, LSTM_cell, out_hidden).</summary>
internal sealed class NaturalOrder : IComparer<string>
{
    public static readonly NaturalOrder Instance = new();

    public int Compare(string? a, string? b)
    {
        if (a is null || b is null) return string.CompareOrdinal(a, b);
        int byCase = Digits(a.ToLowerInvariant(), b.ToLowerInvariant());
        return byCase != 0 ? byCase : Digits(a, b);
    }

    static int Digits(string a, string b)
    {
        int i = 0, j = 0;
        while (i < a.Length && j < b.Length)
        {
            if (char.IsAsciiDigit(a[i]) && char.IsAsciiDigit(b[j]))
            {
                int si = i, sj = j;
                while (i < a.Length && char.IsAsciiDigit(a[i])) i++;
                while (j < b.Length && char.IsAsciiDigit(b[j])) j++;
                var x = a[si..i].TrimStart('0');
                var y = b[sj..j].TrimStart('0');
                int c = x.Length != y.Length ? x.Length.CompareTo(y.Length) : string.CompareOrdinal(x, y);
                if (c != 0) return c;
                continue;
            }
            if (a[i] != b[j]) return a[i].CompareTo(b[j]);
            i++; j++;
        }
        return (a.Length - i).CompareTo(b.Length - j);
    }
}
