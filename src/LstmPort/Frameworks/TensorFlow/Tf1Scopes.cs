using LstmPort.Conversion;
using System.Text.RegularExpressions;
using TorchSharp;

namespace LstmPort.Frameworks.TensorFlow;

/// <summary>One variable as a TF1 checkpoint or frozen graph names it.</summary>
internal sealed record TfVariable(string Name, int[] Shape, string DType, Func<torch.Tensor> Load);

/// <summary>What a graph says about a cell that its variables do not (forget_bias is added at run time, never stored).</summary>
internal sealed record CellHints(double? ForgetBias, double? CellClip, bool? UsePeepholes);

/// <summary>
/// Maps TF1 variable names to cells and roles (Layout TensorFlow). A cell's variables sit under
/// <c>&lt;scope&gt;/&lt;cell&gt;/</c>, where <c>&lt;cell&gt;</c> is the cell's own scope
/// (<c>lstm_cell</c>, <c>basic_lstm_cell</c>, <c>gru_cell</c>, <c>basic_rnn_cell</c>,
/// <c>lstm_fused_cell</c>, ...): LSTM <c>kernel [in+h,4h]</c> (gates i,j,f,o), <c>bias [4h]</c>,
/// peepholes <c>w_i_diag/w_f_diag/w_o_diag [h]</c>, <c>projection/kernel [h,num_proj]</c>; GRU
/// <c>gates/kernel [in+h,2h]</c> (r,u), <c>gates/bias</c>, <c>candidate/kernel [in+h,h]</c>,
/// <c>candidate/bias</c>; BasicRNNCell <c>kernel [in+h,h]</c>. TF before 1.0 spells kernel/bias
/// <c>weights/biases</c>. <c>cell_&lt;k&gt;</c> (MultiRNNCell, stack_bidirectional_rnn) is the depth,
/// <c>fw</c>/<c>bw</c> the direction. Optimizer slots, <c>global_step</c> and anything else are
/// listed as <c>Other</c>, one layer each, never mixed into a cell.
/// </summary>
internal static partial class Tf1Scopes
{
    public const double DefaultForgetBias = 1.0;

    static readonly string[] SlotSuffixes =
        ["Adam", "Adam_1", "Momentum", "RMSProp", "RMSProp_1", "Adagrad", "AdagradDA", "Adadelta", "Adadelta_1",
         "Ftrl", "Ftrl_1", "ProximalAdagrad", "ExponentialMovingAverage", "Nadam", "Nadam_1", "AdamW", "AdamW_1"];

    [GeneratedRegex(@"^(?:\w+_)?(?:lstm|gru|rnn)_cell(?:_\d+)?$|^lstm_fused_cell(?:_\d+)?$|^lstm_block_cell(?:_\d+)?$")]
    private static partial Regex CellSegment();

    [GeneratedRegex(@"^cell_(\d+)$")]
    private static partial Regex StackSegment();

    [GeneratedRegex(@":\d+$")]
    private static partial Regex OutputIndex();

    enum Part { Kernel, Bias, PeepholeI, PeepholeF, PeepholeO, Projection, GatesKernel, GatesBias, CandidateKernel, CandidateBias }

    sealed record Member(TfVariable Variable, Part Part);

    /// <summary>True for optimizer slot variables and training counters.</summary>
    public static bool IsTrainingState(string name)
    {
        var segments = name.Split('/');
        var last = segments[^1];
        return SlotSuffixes.Contains(last) || last is "global_step" or "beta1_power" or "beta2_power"
               || segments[0] is "OptimizeLoss" || segments.Any(s => s.EndsWith("_power", StringComparison.Ordinal) && s.StartsWith("beta", StringComparison.Ordinal));
    }

    /// <summary>Which part of a cell a variable is, and the cell's variable scope (the name without the part).</summary>
    static (string Scope, Part Part)? Split(string name)
    {
        (string suffix, Part part)[] parts =
        [
            ("/gates/kernel", Part.GatesKernel), ("/gates/weights", Part.GatesKernel),
            ("/gates/bias", Part.GatesBias), ("/gates/biases", Part.GatesBias),
            ("/candidate/kernel", Part.CandidateKernel), ("/candidate/weights", Part.CandidateKernel),
            ("/candidate/bias", Part.CandidateBias), ("/candidate/biases", Part.CandidateBias),
            ("/projection/kernel", Part.Projection), ("/projection/weights", Part.Projection),
            ("/w_i_diag", Part.PeepholeI), ("/w_f_diag", Part.PeepholeF), ("/w_o_diag", Part.PeepholeO),
            ("/kernel", Part.Kernel), ("/weights", Part.Kernel), ("/bias", Part.Bias), ("/biases", Part.Bias),
        ];
        foreach (var (suffix, part) in parts)
            if (name.EndsWith(suffix, StringComparison.Ordinal) && name.Length > suffix.Length)
                return (name[..^suffix.Length], part);
        if (name is "kernel" or "bias") return ("", name == "kernel" ? Part.Kernel : Part.Bias);
        return null;
    }

    public static IReadOnlyList<LstmTensor> Describe(IReadOnlyList<TfVariable> variables, IReadOnlyDictionary<string, CellHints> hints,
        string source, List<string> warnings)
    {
        var cells = new Dictionary<string, List<Member>>(StringComparer.Ordinal);
        var cellOrder = new List<string>();
        var others = new List<TfVariable>();
        foreach (var v in variables)
        {
            var name = OutputIndex().Replace(v.Name, "");
            if (IsTrainingState(name) || Split(name) is not { } split) { others.Add(v); continue; }
            if (!cells.TryGetValue(split.Scope, out var members))
            {
                cells[split.Scope] = members = [];
                cellOrder.Add(split.Scope);
            }
            members.Add(new Member(v, split.Part));
        }

        var result = new List<LstmTensor>();
        foreach (var scope in cellOrder)
        {
            var members = cells[scope];
            var described = DescribeCell(scope, members, hints, source, warnings);
            if (described is null) others.AddRange(members.Select(m => m.Variable));
            else result.AddRange(described);
        }
        // Training state and unrecognised variables last, in file order, each its own layer.
        var order = variables.Select((v, i) => (v, i)).ToDictionary(p => p.v, p => p.i);
        foreach (var v in others.OrderBy(v => order[v]))
            result.Add(new LstmTensor(v.Name, v.Name, LayerType.Other, TensorRole.Other, Layout.TensorFlow, v.Shape, v.DType, v.Load, source: source));
        return result;
    }

    /// <summary>Layer, depth and direction from a cell's scope (<c>rnn/multi_rnn_cell/cell_1/lstm_cell</c> is layer <c>rnn/multi_rnn_cell/cell_1</c> at depth 1).</summary>
    static (string Layer, int Depth, Direction Direction, string? CellName) Place(string scope)
    {
        var segments = scope.Split('/').ToList();
        string? cellName = null;
        if (segments.Count > 0 && CellSegment().IsMatch(segments[^1]))
        {
            cellName = segments[^1];
            if (segments.Count > 1) segments.RemoveAt(segments.Count - 1);
        }
        var direction = Direction.Forward;
        // fw/bw scopes (bidirectional_dynamic_rnn, stack_bidirectional_rnn): both halves share the layer name.
        int dirIndex = segments.FindLastIndex(s => s is "fw" or "bw");
        if (dirIndex >= 0 && segments.Count > 1)
        {
            direction = segments[dirIndex] == "bw" ? Direction.Backward : Direction.Forward;
            segments.RemoveAt(dirIndex);
        }
        int depth = 0;
        foreach (var s in segments)
            if (StackSegment().Match(s) is { Success: true } m) depth = int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        var layer = segments.Count == 0 ? scope : string.Join('/', segments);
        return (layer.Length == 0 ? scope : layer, depth, direction, cellName);
    }

    static IReadOnlyList<LstmTensor>? DescribeCell(string scope, List<Member> members, IReadOnlyDictionary<string, CellHints> hints,
        string source, List<string> warnings)
    {
        Member? Get(Part p) => members.FirstOrDefault(m => m.Part == p);
        if (members.GroupBy(m => m.Part).Any(g => g.Count() > 1)) return null;
        var (layer, depth, direction, cellName) = Place(scope);
        string where = scope.Length == 0 ? "(root)" : scope;

        if (Get(Part.GatesKernel) is { } gk && Get(Part.CandidateKernel) is { } ck)
        {
            // GRUCell: gates/kernel [in+h, 2h] (r,u), candidate/kernel [in+h, h].
            if (gk.Variable.Shape.Length != 2 || ck.Variable.Shape.Length != 2) return null;
            int h = ck.Variable.Shape[1], inPlusH = ck.Variable.Shape[0], input = inPlusH - h;
            Check(where, gk.Variable, [inPlusH, 2 * h]);
            if (input <= 0) throw Mismatch(where, $"candidate/kernel [{inPlusH},{h}] leaves no input rows");
            if (Get(Part.GatesBias) is { } gb) Check(where, gb.Variable, [2 * h]);
            if (Get(Part.CandidateBias) is { } cb) Check(where, cb.Variable, [h]);
            if (members.Any(m => m.Part is not (Part.GatesKernel or Part.GatesBias or Part.CandidateKernel or Part.CandidateBias))) return null;
            var config = new Dictionary<string, object?>
            {
                [ConfigKeys.Activation] = "tanh", [ConfigKeys.RecurrentActivation] = "sigmoid", [ConfigKeys.ResetAfter] = false,
                [ConfigKeys.UseBias] = Get(Part.GatesBias) is not null,
                [ConfigKeys.Inferred] = new[] { ConfigKeys.Activation },
            };
            var order = new[] { Part.GatesKernel, Part.GatesBias, Part.CandidateKernel, Part.CandidateBias };
            return order.Select(Get).Where(m => m is not null).Select(m => Emit(m!, layer, LayerType.GRU, m!.Part switch
            {
                Part.GatesKernel => TensorRole.FusedKernel,
                Part.GatesBias => TensorRole.Bias,
                Part.CandidateKernel => TensorRole.CandidateKernel,
                _ => TensorRole.CandidateBias,
            }, m.Part is Part.GatesKernel or Part.GatesBias ? Gates.Tf1Order(LayerType.GRU) : GateOrder.None, direction, depth, h, input, config, source)).ToList();
        }

        if (Get(Part.Kernel) is not { } kernel || kernel.Variable.Shape.Length != 2) return null;
        var bias = Get(Part.Bias);
        int rows = kernel.Variable.Shape[0], cols = kernel.Variable.Shape[1];
        bool isRnn = cellName is not null && cellName.Contains("rnn_cell", StringComparison.Ordinal)
                     || (cellName is null && cols % 4 != 0);
        if (isRnn)
        {
            // BasicRNNCell: kernel [in+h, h].
            int h = cols, input = rows - h;
            if (input <= 0 || members.Any(m => m.Part is not (Part.Kernel or Part.Bias))) return null;
            if (bias is not null) Check(where, bias.Variable, [h]);
            var config = new Dictionary<string, object?>
            {
                [ConfigKeys.Activation] = "tanh", [ConfigKeys.UseBias] = bias is not null,
                [ConfigKeys.Inferred] = new[] { ConfigKeys.Activation },
            };
            return new[] { kernel, bias }.Where(m => m is not null).Select(m => Emit(m!, layer, LayerType.SimpleRNN,
                m!.Part == Part.Kernel ? TensorRole.FusedKernel : TensorRole.Bias, GateOrder.None, direction, depth, h, input, config, source)).ToList();
        }

        // LSTMCell / BasicLSTMCell / LSTMBlockCell / LSTMBlockFusedCell: kernel [in+r, 4h], r = num_proj or h.
        if (cols % 4 != 0 || members.Any(m => m.Part is Part.GatesKernel or Part.GatesBias or Part.CandidateKernel or Part.CandidateBias)) return null;
        int units = cols / 4, recurrent = units;
        var projection = Get(Part.Projection);
        if (projection is not null)
        {
            if (projection.Variable.Shape.Length != 2 || projection.Variable.Shape[0] != units)
                throw Mismatch(where, $"projection/kernel is [{string.Join(",", projection.Variable.Shape)}], expected [{units}, num_proj]");
            recurrent = projection.Variable.Shape[1];
        }
        int inputSize = rows - recurrent;
        if (inputSize <= 0) throw Mismatch(where, $"kernel [{rows},{cols}] leaves no input rows for {recurrent} recurrent rows");
        if (bias is not null) Check(where, bias.Variable, [4 * units]);
        var peepholes = members.Where(m => m.Part is Part.PeepholeI or Part.PeepholeF or Part.PeepholeO).ToList();
        foreach (var p in peepholes) Check(where, p.Variable, [units]);
        if (peepholes.Count is not (0 or 3))
            throw Mismatch(where, $"has {peepholes.Count} of the 3 peephole vectors w_i_diag, w_f_diag, w_o_diag");

        hints.TryGetValue(kernel.Variable.Name, out var hint);
        var inferred = new List<string> { ConfigKeys.Activation };
        var lstmConfig = new Dictionary<string, object?>
        {
            [ConfigKeys.Activation] = "tanh", [ConfigKeys.RecurrentActivation] = "sigmoid",
            [ConfigKeys.UseBias] = bias is not null,
            [ConfigKeys.ForgetBias] = hint?.ForgetBias ?? DefaultForgetBias,
            [ConfigKeys.UsePeepholes] = peepholes.Count == 3,
        };
        if (hint?.ForgetBias is null) inferred.Add(ConfigKeys.ForgetBias);
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

    static void Check(string scope, TfVariable v, int[] expected)
    {
        if (!v.Shape.SequenceEqual(expected))
            throw Mismatch(scope, $"'{v.Name}' is [{string.Join(",", v.Shape)}], expected [{string.Join(",", expected)}]");
    }

    static LstmPortException Mismatch(string scope, string what) =>
        new(ErrorIds.LayerShapeMismatch, $"TF1 cell {scope}: {what}.", scope);
}

/// <summary>Overrides settings a TF1 checkpoint cannot hold.</summary>
public static class Tf1Settings
{
    /// <summary>Sets forget_bias on every TF1 LSTM tensor (other tensors pass through); the value is no longer listed as inferred.</summary>
    public static IReadOnlyList<LstmTensor> WithForgetBias(IReadOnlyList<LstmTensor> tensors, double forgetBias) =>
        tensors.Select(t =>
        {
            if (t.Layout != Layout.TensorFlow || t.LayerType != LayerType.LSTM) return t;
            var config = new Dictionary<string, object?>(t.Config, StringComparer.OrdinalIgnoreCase) { [ConfigKeys.ForgetBias] = forgetBias };
            if (config.TryGetValue(ConfigKeys.Inferred, out var inferred) && inferred is string[] keys)
                config[ConfigKeys.Inferred] = keys.Where(k => k != ConfigKeys.ForgetBias).ToArray();
            var source = t;
            return new LstmTensor(t.Name, t.Layer, t.LayerType, t.Role, t.Layout, t.Shape, t.DType, () => source.Tensor,
                t.Direction, t.StackIndex, t.GateOrder, t.Units, t.InputSize, config, t.Source);
        }).ToList();
}
