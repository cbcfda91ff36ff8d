using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tensor = TorchSharp.torch.Tensor;
using static TorchSharp.torch;
using static LstmPort.Conversion.LayerSettings;
using LstmPort.Conversion;
using LstmPort.Runtime;

namespace LstmPort.Frameworks.Onnx;

/// <summary>
/// Onnx layout for the equivalence check: each layer and direction runs in ONNX Runtime itself. A
/// one-node model (LSTM/GRU/RNN with the direction's slice of W, R, B, P as initializers and its
/// attributes; Gemm or MatMul+Add for a dense layer) is built in memory and run on the check's
/// input (recurrent layers in float32, the only type ONNX Runtime's CPU kernels have; Gemm in float64).
/// </summary>
internal sealed class OnnxMaths : ILayoutMaths
{
    public Layout Layout => Layout.Onnx;

    public (long In, long Units) Sizes(LayerGroup g)
    {
        if (g.LayerType == LayerType.Dense)
        {
            if (g.Find(TensorRole.Weight) is { Shape: [var o, var i] }) return (i, o);
            var k = g.Require(TensorRole.Kernel);
            return k.Shape is [var ki, var ko] ? (ki, ko) : throw g.ShapeError(k, "[in,units]");
        }
        var w = g.Require(TensorRole.Kernel);
        var r = g.Require(TensorRole.RecurrentKernel);
        if (w.Shape.Length != 3) throw g.ShapeError(w, "[dirs,G*h,in]");
        if (r.Shape.Length != 3) throw g.ShapeError(r, "[dirs,G*h,h]");
        return (w.Shape[2], r.Shape[2]);
    }

    static int Dir(LayerGroup g) => g.Direction == Direction.Backward ? 1 : 0;

    public (Tensor W, Tensor? B)? InputProjection(LayerGroup g, long inputSize)
    {
        if (g.LayerType == LayerType.Dense)
        {
            var w = g.Find(TensorRole.Weight) is { } wt ? Data(wt).t() : Data(g.Require(TensorRole.Kernel));
            return (w, g.Find(TensorRole.Bias) is { } b ? Data(b) : null);
        }
        int d = Dir(g);
        var W = Data(g.Require(TensorRole.Kernel))[d].t();
        Tensor? B = null;
        if (g.Find(TensorRole.Bias) is { } bt)
        {
            var bd = Data(bt)[d];
            long n = bd.shape[0] / 2;
            B = bd.narrow(0, 0, n) + bd.narrow(0, n, n);
        }
        return (W, B);
    }

    public LayerOutputs RunLayer(LayerGroup g, Tensor x)
    {
        OnnxRuntimeNative.EnsureLoaded();
        x = x.to_type(Precision);
        // ONNX Runtime's CPU LSTM, GRU and RNN kernels compute in float32 only ("LSTM operator does
        // not support double yet"): the layer runs in float32 and its outputs come back as float64.
        try
        {
            return Run(g, x, g.LayerType == LayerType.Dense ? OnnxDataType.Double : OnnxDataType.Float);
        }
        catch (OnnxRuntimeException e)
        {
            throw new LstmPortException(ErrorIds.OnnxRunFailed, $"{g.Describe()}: ONNX Runtime could not run the layer: {e.Message}", g.Layer, e);
        }
    }

    LayerOutputs Run(LayerGroup g, Tensor x, int elem)
    {
        var model = g.LayerType == LayerType.Dense ? DenseModel(g, x.shape, elem) : RecurrentModel(g, x.shape, elem, out _);
        using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL };
        using var session = new InferenceSession(model, options);
        var shape = x.shape.Select(d => (int)d).ToArray();
        var input = elem == OnnxDataType.Double
            ? NamedOnnxValue.CreateFromTensor("X", new DenseTensor<double>(x.contiguous().data<double>().ToArray(), shape))
            : NamedOnnxValue.CreateFromTensor("X", new DenseTensor<float>(x.to_type(ScalarType.Float32).contiguous().data<float>().ToArray(), shape));
        using var results = session.Run([input]);
        Tensor Out(string name)
        {
            var v = results.First(r => r.Name == name);
            var dims = elem == OnnxDataType.Double ? v.AsTensor<double>().Dimensions.ToArray() : v.AsTensor<float>().Dimensions.ToArray();
            var t = elem == OnnxDataType.Double ? tensor(v.AsTensor<double>().ToArray()) : tensor(v.AsTensor<float>().ToArray()).to_type(Precision);
            return t.reshape(dims.Select(d => (long)d).ToArray());
        }
        if (g.LayerType == LayerType.Dense) return new LayerOutputs(Out("Y"), null, null);
        // Y [T,1,B,h], Y_h [1,B,h], Y_c [1,B,h]: one direction, already in input time order for reverse.
        var y = Out("Y")[.., 0];
        var yh = Out("Y_h")[0];
        var yc = g.LayerType == LayerType.LSTM ? Out("Y_c")[0] : null;
        return new LayerOutputs(y, yh, yc);
    }

    /// <summary>A one-node model computing direction <see cref="Dir"/> of the layer on X [T,B,in].</summary>
    internal static byte[] RecurrentModel(LayerGroup g, long[] xShape, int elem, out string op)
    {
        op = OnnxOps.OpOf(g.LayerType);
        int d = Dir(g), dirs = OnnxSettings.Directions(g.Config);
        var (input, h) = new OnnxMaths().Sizes(g);
        var graph = new Containers.ProtoWriter();
        var inputs = new List<string> { "X" };
        void Init(string name, TensorRole role)
        {
            var t = g.Find(role);
            if (t is null) { inputs.Add(""); return; }
            if (t.Shape[0] != dirs) throw g.ShapeError(t, $"[{dirs},...] (direction {OnnxSettings.Direction(g.Config)})");
            using var slice = Data(t)[d].unsqueeze(0).to_type(elem == OnnxDataType.Double ? ScalarType.Float64 : ScalarType.Float32).contiguous();
            graph.Message(5, OnnxProto.Tensor(name, slice.shape, elem, Bytes(slice)));
            inputs.Add(name);
        }
        Init("W", TensorRole.Kernel);
        Init("R", TensorRole.RecurrentKernel);
        Init("B", TensorRole.Bias);
        if (g.LayerType == LayerType.LSTM && g.Find(TensorRole.Peephole) is not null)
        {
            inputs.AddRange(["", "", ""]);
            Init("P", TensorRole.Peephole);
        }
        while (inputs[^1].Length == 0) inputs.RemoveAt(inputs.Count - 1);
        string direction = dirs == 2 ? (d == 1 ? "reverse" : "forward") : OnnxSettings.Direction(g.Config);
        var acts = OnnxSettings.Activations(g.LayerType, g.Config, d);
        var attrs = new List<Containers.ProtoWriter>
        {
            OnnxProto.IntAttribute("hidden_size", h),
            OnnxProto.StringAttribute("direction", direction),
            OnnxProto.StringsAttribute("activations", acts.Select(a => a.Name)),
        };
        if (acts.Any(a => a.Alpha is not null)) attrs.Add(OnnxProto.FloatsAttribute("activation_alpha", acts.Where(a => a.Alpha is not null).Select(a => (float)a.Alpha!.Value)));
        if (acts.Any(a => a.Beta is not null)) attrs.Add(OnnxProto.FloatsAttribute("activation_beta", acts.Where(a => a.Beta is not null).Select(a => (float)a.Beta!.Value)));
        if (LayerSettings.Double(g, ConfigKeys.Clip) is double clip) attrs.Add(OnnxProto.FloatAttribute("clip", (float)clip));
        if (g.LayerType == LayerType.LSTM && OnnxSettings.Flag(g.Config, ConfigKeys.InputForget)) attrs.Add(OnnxProto.IntAttribute("input_forget", 1));
        if (g.LayerType == LayerType.GRU) attrs.Add(OnnxProto.IntAttribute("linear_before_reset", OnnxSettings.Flag(g.Config, ConfigKeys.LinearBeforeReset) ? 1 : 0));
        var outputs = g.LayerType == LayerType.LSTM ? new[] { "Y", "Y_h", "Y_c" } : ["Y", "Y_h"];
        graph.Message(1, OnnxProto.Node("layer", op, inputs, outputs, attrs));
        graph.String(2, "lstmport_check");
        graph.Message(11, OnnxProto.ValueInfo("X", elem, xShape.Select(v => (long?)v)));
        graph.Message(12, OnnxProto.ValueInfo("Y", elem, [xShape[0], 1, xShape[1], h]));
        graph.Message(12, OnnxProto.ValueInfo("Y_h", elem, [1, xShape[1], h]));
        if (g.LayerType == LayerType.LSTM) graph.Message(12, OnnxProto.ValueInfo("Y_c", elem, [1, xShape[1], h]));
        return OnnxProto.Model(OnnxWriter.IrVersion, OnnxWriter.Opset, "LstmPort", "check", graph).ToArray();
    }

    static byte[] DenseModel(LayerGroup g, long[] xShape, int elem)
    {
        var graph = new Containers.ProtoWriter();
        var st = elem == OnnxDataType.Double ? ScalarType.Float64 : ScalarType.Float32;
        bool transB = g.Find(TensorRole.Weight) is not null;
        var w = transB ? g.Require(TensorRole.Weight) : g.Require(TensorRole.Kernel);
        using (var wt = Data(w).to_type(st).contiguous()) graph.Message(5, OnnxProto.Tensor("Wd", wt.shape, elem, Bytes(wt)));
        var inputs = new List<string> { "X2", "Wd" };
        if (g.Find(TensorRole.Bias) is { } b)
        {
            using var bt = Data(b).to_type(st).contiguous();
            graph.Message(5, OnnxProto.Tensor("Bd", bt.shape, elem, Bytes(bt)));
            inputs.Add("Bd");
        }
        long units = transB ? w.Shape[0] : w.Shape[1], inputSize = xShape[^1];
        // Gemm takes a matrix: X [T,B,in] → [T*B,in] → Gemm → [T,B,units].
        graph.Message(5, OnnxProto.Tensor("shape_in", [2], OnnxDataType.Int64, Bytes(tensor(new long[] { -1, inputSize }))));
        graph.Message(1, OnnxProto.Node("flatten", "Reshape", ["X", "shape_in"], ["X2"], []));
        graph.Message(1, OnnxProto.Node("dense", "Gemm", inputs, ["Y2"], [OnnxProto.IntAttribute("transB", transB ? 1 : 0)]));
        graph.Message(5, OnnxProto.Tensor("ys", [xShape.Length], OnnxDataType.Int64, Bytes(tensor([.. xShape[..^1], units]))));
        graph.Message(1, OnnxProto.Node("unflatten", "Reshape", ["Y2", "ys"], ["Y"], []));
        graph.String(2, "lstmport_check");
        graph.Message(11, OnnxProto.ValueInfo("X", elem, xShape.Select(d => (long?)d)));
        graph.Message(12, OnnxProto.ValueInfo("Y", elem, [.. xShape[..^1].Select(d => (long?)d), units]));
        return OnnxProto.Model(OnnxWriter.IrVersion, OnnxWriter.Opset, "LstmPort", "check", graph).ToArray();
    }

    internal static byte[] Bytes(Tensor t)
    {
        var ms = new MemoryStream();
        TensorMemory.Write(t.contiguous(), chunk => ms.Write(chunk));
        return ms.ToArray();
    }
}
