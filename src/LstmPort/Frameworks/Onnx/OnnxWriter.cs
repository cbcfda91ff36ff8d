using System.Reflection;
using static TorchSharp.torch;
using LstmPort.Containers;
using LstmPort.Conversion;
using LstmPort.Formats;
using LstmPort.Runtime;

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

    // Written front to back: every message's length is known before its data is (an initializer's raw
    // data is numel * element size), so the tensors are borrowed and written one at a time instead of
    // the whole model being built in memory (which held several copies of a 1 GB model: issue 18).
    public bool WritesSequentially => true;

    public void Write(Stream output, IReadOnlyList<LstmTensor> tensors)
    {
        var graph = new GraphParts();
        var inputs = new List<ProtoWriter>();
        var outputs = new List<ProtoWriter>();
        foreach (var layer in Layers(tensors))
        {
            var first = layer[0];
            string name = first.Layer;
            if (first.LayerType == LayerType.Dense) WriteDense(graph, layer, name, inputs, outputs);
            else WriteRecurrent(graph, layer, name, inputs, outputs);
        }
        graph.Bytes.String(2, "lstmport");
        foreach (var i in inputs) graph.Bytes.Message(11, i);
        foreach (var o in outputs) graph.Bytes.Message(12, o);
        graph.Close();
        var version = typeof(OnnxWriter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "";
        // ModelProto: the same fields in the same order as OnnxProto.Model, the graph (7) streamed.
        var head = new ProtoWriter().Int64(1, IrVersion).String(2, "LstmPort").String(3, version.Split('+')[0]).LengthPrefix(7, graph.Length);
        output.Write(head.ToArray());
        foreach (var part in graph.Parts)
        {
            if (part.Bytes is not null) { output.Write(part.Bytes); continue; }
            var (t, dtype, length) = part.Data!.Value;
            using var lease = t.Borrow();
            // Both handles freed here: one left to the finaliser kept its tensor's memory, the whole model by the end.
            using var scope = NewDisposeScope();
            var data = lease.Tensor.to_type(dtype).contiguous();
            long written = 0;
            TensorMemory.Write(data, chunk => { written += chunk.Length; output.Write(chunk); });
            if (written != length)
                throw new InvalidOperationException($"'{t.Name}' gave {written} bytes of data; its shape and dtype promised {length}.");
        }
        output.Write(new ProtoWriter().Message(8, new ProtoWriter().String(1, "").Int64(2, Opset)).ToArray());
    }

    static int Elem(LstmTensor t) => OnnxDataType.Of(DTypes.Parse(t.DType));

    /// <summary>A GraphProto as byte runs and tensors' raw data still to be written, with its total length.</summary>
    sealed class GraphParts
    {
        public readonly List<(byte[]? Bytes, (LstmTensor Tensor, ScalarType DType, long Length)? Data)> Parts = [];
        public ProtoWriter Bytes { get; private set; } = new();
        public long Length { get; private set; }

        /// <summary>An initializer (field 5): its TensorProto's dims, data_type and name now, its raw_data (9) when written.</summary>
        public void Initializer(LstmTensor t, ScalarType dtype)
        {
            long raw = checked(t.Shape.Aggregate(1L, (a, d) => a * d) * DTypes.Size(dtype));
            var header = new ProtoWriter().PackedInt64(1, t.Shape.Select(d => (long)d)).Int64(2, OnnxDataType.Of(dtype)).String(8, t.Name).LengthPrefix(9, raw);
            Bytes.LengthPrefix(5, checked(header.Length + raw)).Raw(header);
            Close();
            Parts.Add((null, (t, dtype, raw)));
            Length += raw;
        }

        public void Close()
        {
            if (Bytes.Length == 0) return;
            var b = Bytes.ToArray();
            Parts.Add((b, null));
            Length += b.Length;
            Bytes = new ProtoWriter();
        }
    }

    static void WriteRecurrent(GraphParts graph, List<LstmTensor> layer, string name, List<ProtoWriter> inputs, List<ProtoWriter> outputs)
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
        foreach (var t in new[] { w, r, b, p }) if (t is not null) graph.Initializer(t, dtype);

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
        graph.Bytes.Message(1, OnnxProto.Node(name, OnnxOps.OpOf(first.LayerType), nodeInputs, outs, attrs));
        string[] seq = ["seq", "batch", ""];
        inputs.Add(OnnxProto.ValueInfo($"{name}.X", elem, [null, null, input], seq));
        outputs.Add(OnnxProto.ValueInfo($"{name}.Y", elem, [null, dirs, null, h], ["seq", "", "batch", ""]));
        foreach (var o in outs.Skip(1)) outputs.Add(OnnxProto.ValueInfo(o, elem, [dirs, null, h], ["", "batch", ""]));
    }

    static void WriteDense(GraphParts graph, List<LstmTensor> layer, string name, List<ProtoWriter> inputs, List<ProtoWriter> outputs)
    {
        var w = layer.Single(t => t.Role is TensorRole.Weight or TensorRole.Kernel);
        var b = layer.FirstOrDefault(t => t.Role == TensorRole.Bias);
        var dtype = DTypes.Parse(w.DType);
        bool transB = w.Role == TensorRole.Weight;
        int units = transB ? w.Shape[0] : w.Shape[1], input = transB ? w.Shape[1] : w.Shape[0];
        graph.Initializer(w, dtype);
        if (b is not null) graph.Initializer(b, dtype);
        var nodeInputs = new List<string> { $"{name}.X", w.Name };
        if (b is not null) nodeInputs.Add(b.Name);
        graph.Bytes.Message(1, OnnxProto.Node(name, "Gemm", nodeInputs, [$"{name}.Y"], [OnnxProto.IntAttribute("transB", transB ? 1 : 0)]));
        inputs.Add(OnnxProto.ValueInfo($"{name}.X", Elem(w), [null, input], ["batch", ""]));
        outputs.Add(OnnxProto.ValueInfo($"{name}.Y", Elem(w), [null, units], ["batch", ""]));
    }
}
