using System.Reflection;
using static TorchSharp.torch;
using LstmPort.Containers;
using LstmPort.Conversion;
using LstmPort.Formats;

namespace LstmPort.Frameworks.Onnx;

/// <summary>
/// Writes Onnx-layout tensors as an ONNX model (IR version 8, default-domain opset 14): one
/// LSTM/GRU/RNN node per layer (its W, R, B, P as initializers named like the tensors, its
/// attributes from Config), a Gemm per dense layer, and every layer's input and outputs as graph
/// inputs and outputs (<c>&lt;layer&gt;.X</c> <c>[seq,batch,in]</c>; <c>&lt;layer&gt;.Y</c>,
/// <c>.Y_h</c>, <c>.Y_c</c>), so each layer can be run on its own. Layers are not chained: the file
/// carries weights, and a model's wiring (merge modes, dense heads) stays the caller's.
/// </summary>
public sealed class OnnxWriter : IWeightWriter
{
    public const long IrVersion = 8, Opset = 14;

    public WeightFormat Format => WeightFormat.Onnx;
    public IReadOnlyList<string> Extensions { get; } = [".onnx"];

    public void Check(IReadOnlyList<LstmTensor> tensors, string path)
    {
        var other = tensors.FirstOrDefault(t => t.Layout != Layout.Onnx);
        if (other is not null)
            throw new LstmPortException(ErrorIds.NotOnnxLayout,
                $"'{path}': an .onnx file holds Onnx-layout tensors, but '{other.Name}' is in the {other.Layout} layout; run ConvertTo-OnnxLayout first.", other.Name);
        foreach (var layer in Layers(tensors))
        {
            var first = layer[0];
            if (first.LayerType is LayerType.LSTM or LayerType.GRU or LayerType.SimpleRNN)
            {
                foreach (var role in new[] { TensorRole.Kernel, TensorRole.RecurrentKernel })
                    if (layer.Count(t => t.Role == role) != 1)
                        throw new LstmPortException(ErrorIds.MissingTensor, $"'{path}': layer {first.Layer} needs one {role} tensor (W or R); it has {layer.Count(t => t.Role == role)}.", first.Layer);
            }
            else if (first.LayerType == LayerType.Dense)
            {
                if (layer.Count(t => t.Role is TensorRole.Weight or TensorRole.Kernel) != 1)
                    throw new LstmPortException(ErrorIds.MissingTensor, $"'{path}': dense layer {first.Layer} needs one Weight or Kernel tensor.", first.Layer);
            }
            else throw new LstmPortException(ErrorIds.UnsupportedLayerType, $"'{path}': layer {first.Layer} is {first.LayerType}; an .onnx file from LstmPort holds recurrent and dense layers.", first.Layer);
            foreach (var t in layer)
                _ = OnnxDataType.Of(DTypes.Parse(t.DType));
        }
    }

    static List<List<LstmTensor>> Layers(IReadOnlyList<LstmTensor> tensors) =>
        tensors.GroupBy(t => t.Layer, StringComparer.Ordinal).Select(g => g.ToList()).ToList();

    public void Write(Stream output, IReadOnlyList<LstmTensor> tensors)
    {
        var graph = new ProtoWriter();
        var inputs = new List<ProtoWriter>();
        var outputs = new List<ProtoWriter>();
        foreach (var layer in Layers(tensors))
        {
            var first = layer[0];
            string name = first.Layer;
            if (first.LayerType == LayerType.Dense) WriteDense(graph, layer, name, inputs, outputs);
            else WriteRecurrent(graph, layer, name, inputs, outputs);
        }
        graph.String(2, "lstmport");
        foreach (var i in inputs) graph.Message(11, i);
        foreach (var o in outputs) graph.Message(12, o);
        var version = typeof(OnnxWriter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "";
        var model = OnnxProto.Model(IrVersion, Opset, "LstmPort", version.Split('+')[0], graph);
        var bytes = model.ToArray();
        output.Write(bytes);
    }

    static int Elem(LstmTensor t) => OnnxDataType.Of(DTypes.Parse(t.DType));

    static void Initializer(ProtoWriter graph, LstmTensor t, ScalarType dtype)
    {
        using var lease = t.Borrow();
        using var data = lease.Tensor.to_type(dtype).contiguous();
        graph.Message(5, OnnxProto.Tensor(t.Name, data.shape, OnnxDataType.Of(dtype), OnnxMaths.Bytes(data)));
    }

    static void WriteRecurrent(ProtoWriter graph, List<LstmTensor> layer, string name, List<ProtoWriter> inputs, List<ProtoWriter> outputs)
    {
        var first = layer[0];
        var w = layer.Single(t => t.Role == TensorRole.Kernel);
        var r = layer.Single(t => t.Role == TensorRole.RecurrentKernel);
        var b = layer.FirstOrDefault(t => t.Role == TensorRole.Bias);
        var p = first.LayerType == LayerType.LSTM ? layer.FirstOrDefault(t => t.Role == TensorRole.Peephole) : null;
        var dtype = DTypes.Parse(w.DType);
        int elem = Elem(w);
        var nodeInputs = new List<string> { $"{name}.X", w.Name, r.Name, b?.Name ?? "" };
        if (p is not null) nodeInputs.AddRange(["", "", "", p.Name]);
        while (nodeInputs[^1].Length == 0) nodeInputs.RemoveAt(nodeInputs.Count - 1);
        foreach (var t in new[] { w, r, b, p }) if (t is not null) Initializer(graph, t, dtype);

        var config = first.Config;
        int dirs = OnnxSettings.Directions(config), h = r.Shape.Length == 3 ? r.Shape[2] : first.Units, input = w.Shape.Length == 3 ? w.Shape[2] : first.InputSize;
        var acts = Enumerable.Range(0, dirs).SelectMany(d => OnnxSettings.Activations(first.LayerType, config, d)).ToList();
        var attrs = new List<ProtoWriter>
        {
            OnnxProto.IntAttribute("hidden_size", h),
            OnnxProto.StringAttribute("direction", OnnxSettings.Direction(config)),
            OnnxProto.StringsAttribute("activations", acts.Select(a => a.Name)),
        };
        if (acts.Any(a => a.Alpha is not null)) attrs.Add(OnnxProto.FloatsAttribute("activation_alpha", acts.Where(a => a.Alpha is not null).Select(a => (float)a.Alpha!.Value)));
        if (acts.Any(a => a.Beta is not null)) attrs.Add(OnnxProto.FloatsAttribute("activation_beta", acts.Where(a => a.Beta is not null).Select(a => (float)a.Beta!.Value)));
        if (LayerGroup.TextOf(config, ConfigKeys.Clip) is string clip) attrs.Add(OnnxProto.FloatAttribute("clip", float.Parse(clip, System.Globalization.CultureInfo.InvariantCulture)));
        if (first.LayerType == LayerType.LSTM && OnnxSettings.Flag(config, ConfigKeys.InputForget)) attrs.Add(OnnxProto.IntAttribute("input_forget", 1));
        if (first.LayerType == LayerType.GRU) attrs.Add(OnnxProto.IntAttribute("linear_before_reset", OnnxSettings.Flag(config, ConfigKeys.LinearBeforeReset) ? 1 : 0));
        var outs = first.LayerType == LayerType.LSTM ? new[] { $"{name}.Y", $"{name}.Y_h", $"{name}.Y_c" } : [$"{name}.Y", $"{name}.Y_h"];
        graph.Message(1, OnnxProto.Node(name, OnnxOps.OpOf(first.LayerType), nodeInputs, outs, attrs));
        string[] seq = ["seq", "batch", ""];
        inputs.Add(OnnxProto.ValueInfo($"{name}.X", elem, [null, null, input], seq));
        outputs.Add(OnnxProto.ValueInfo($"{name}.Y", elem, [null, dirs, null, h], ["seq", "", "batch", ""]));
        foreach (var o in outs.Skip(1)) outputs.Add(OnnxProto.ValueInfo(o, elem, [dirs, null, h], ["", "batch", ""]));
    }

    static void WriteDense(ProtoWriter graph, List<LstmTensor> layer, string name, List<ProtoWriter> inputs, List<ProtoWriter> outputs)
    {
        var w = layer.Single(t => t.Role is TensorRole.Weight or TensorRole.Kernel);
        var b = layer.FirstOrDefault(t => t.Role == TensorRole.Bias);
        var dtype = DTypes.Parse(w.DType);
        bool transB = w.Role == TensorRole.Weight;
        int units = transB ? w.Shape[0] : w.Shape[1], input = transB ? w.Shape[1] : w.Shape[0];
        Initializer(graph, w, dtype);
        if (b is not null) Initializer(graph, b, dtype);
        var nodeInputs = new List<string> { $"{name}.X", w.Name };
        if (b is not null) nodeInputs.Add(b.Name);
        graph.Message(1, OnnxProto.Node(name, "Gemm", nodeInputs, [$"{name}.Y"], [OnnxProto.IntAttribute("transB", transB ? 1 : 0)]));
        inputs.Add(OnnxProto.ValueInfo($"{name}.X", Elem(w), [null, input], ["batch", ""]));
        outputs.Add(OnnxProto.ValueInfo($"{name}.Y", Elem(w), [null, units], ["batch", ""]));
    }
}
